// The node's local image store: content-addressed blobs, layers unpacked once
// and shared, and an index of references. One directory (the server passes
// DATA/images) holds it:
//
//   blobs/sha256/<hex>     manifests, configs and layer archives, verified
//                          against their digest before they appear
//   layers/<diffID hex>/   a layer's unpacked tree in overlayfs form (whiteouts
//                          are 0/0 character devices, opaque directories carry
//                          trusted.overlay.opaque=y); usable as a lowerdir
//   index.json             references -> manifest digest, and per manifest its
//                          config and layers (written atomically)
//   tmp/                   work space; everything appears by rename from here
//
// Nothing half-written is ever visible: a blob or layer exists completely or
// not at all, and a reference is added only after all its blobs and layers
// exist. Several processes (the `berth image` CLI and a running server) and
// threads may use one store at once: index updates are serialised with
// flock(2) on index.lock, and garbage collection takes gc.lock exclusively
// while imports hold it shared, so GC never removes what an import is about
// to reference.
//
// Every call needs the privileges to create device nodes, chown and set
// trusted.* xattrs (root), as unpacking layers does all three.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::images {

struct ImageInfo {
  std::string ref;              // normalised reference; empty for an untagged image
  std::vector<std::string> refs;  // every reference pointing at this manifest
  std::string id;               // config digest ("sha256:...")
  std::string manifest_digest;  // "sha256:..."
  std::vector<std::string> layer_dirs;  // absolute, lowest layer first
  // From the image config.
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::string os, architecture;
  int64_t size_bytes = 0;    // config plus layer archives, as stored
  int64_t created_unix = 0;  // the config's `created`; 0 if absent
};

// Image config fields for ImportRootfsDir and rootfs tarballs; unset fields get
// defaults (Env = a standard PATH, everything else empty).
struct ImageConfigOverrides {
  std::optional<std::vector<std::string>> entrypoint, cmd, env;
  std::optional<std::string> working_dir, user;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
};

// Progress of a long operation. `phase` is "copy", "fetch" or "unpack";
// `total` is -1 when unknown. Called from the importing thread.
struct Progress {
  std::string phase;
  std::string digest;  // the blob or layer concerned, if any
  int64_t done = 0;
  int64_t total = -1;
};
using ProgressFn = std::function<void(const Progress&)>;

// A content descriptor from a manifest.
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
};

// Where the blobs of an image being imported come from (an OCI layout on disk,
// a registry). Fetch writes the blob's bytes to `sink` in order; the store
// checks size and digest and discards the blob on any mismatch.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  using Sink = std::function<Status(std::string_view)>;
  virtual Status Fetch(const Descriptor& d, const Sink& sink) = 0;
};

struct GcStats {
  int images_kept = 0;
  int manifests_removed = 0;
  int blobs_removed = 0;
  int layers_removed = 0;
  int64_t bytes_freed = 0;
};

class ImageStore {
 public:
  // Creates the directory layout under `root` if needed.
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& root);
  ~ImageStore();
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  const std::string& root() const { return root_; }

  // Looks an image up by reference (normalised first: "busybox" finds
  // docker.io/library/busybox:latest), by image id ("sha256:<hex>", the hex
  // alone, or a unique prefix of at least 12 hex digits) or by manifest
  // digest. NotFound if absent.
  Result<ImageInfo> Get(const std::string& ref) const;
  // Every tagged image, one entry per reference, sorted by reference.
  std::vector<ImageInfo> List() const;

  // Packs a directory tree into a one-layer OCI image (a gzip layer, a config,
  // a manifest) and tags it `ref`. Deterministic in the tree's content, so
  // importing the same tree twice shares the layer blob and layer dir.
  Result<ImageInfo> ImportRootfsDir(const std::string& dir, const std::string& ref,
                                    const ImageConfigOverrides& config = {},
                                    const ProgressFn& progress = nullptr);
  // Imports a tarball: a `docker save` archive (manifest.json), an OCI image
  // archive (oci-layout + index.json), or else a root file system tarball
  // (plain, gzip or zstd) which becomes a one-layer image. `ref` may be empty
  // for archives that name their image.
  Result<ImageInfo> ImportTarball(const std::string& path, const std::string& ref,
                                  const ImageConfigOverrides& config = {},
                                  const ProgressFn& progress = nullptr);
  // Imports from an OCI image layout directory. With several manifests, `ref`
  // (or its tag) selects the one whose org.opencontainers.image.ref.name
  // annotation matches; an empty `ref` takes the image name from the
  // annotations (io.containerd.image.name or a full ref.name). An index is
  // resolved to its linux/amd64 manifest.
  Result<ImageInfo> ImportOciLayout(const std::string& dir, const std::string& ref,
                                    const ProgressFn& progress = nullptr);
  // The common path of every import and of pulls: stores the manifest's
  // config and layers (fetching absent blobs from `source`), unpacks absent
  // layers, writes the manifest blob and tags it `ref` (none if empty).
  // `manifest` is an OCI image manifest or a Docker v2 schema 2 manifest.
  Result<ImageInfo> ImportManifest(const std::string& manifest, const std::string& ref,
                                   BlobSource& source, const ProgressFn& progress = nullptr);

  // Removes the reference (or, given an id or digest, every reference to that
  // image). Blobs and layers stay until GarbageCollect. NotFound if absent.
  Status Remove(const std::string& ref);

  // Deletes every manifest that no reference points at and whose image id is
  // not in `in_use_image_ids` (ids of images that running containers use),
  // then every blob and layer dir no kept manifest needs, and stale temp files.
  Result<GcStats> GarbageCollect(const std::set<std::string>& in_use_image_ids = {});

  // True if the blob is present (tests, pulls that skip what they have).
  bool HasBlob(const std::string& digest) const;
  std::string BlobPath(const std::string& digest) const;
  std::string LayerDir(const std::string& diff_id) const;

 private:
  explicit ImageStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::images
