// Layer archives: packing a directory tree into a tar, unpacking a layer tar
// into overlayfs form, and the digests both need. Internal to node/images
// (the store and its tests use it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth::images {

// Incremental SHA-256; Digest() returns "sha256:<hex>".
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  std::string Digest();  // finalises; call once

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// "sha256:<hex>" of a string.
std::string DigestOf(std::string_view data);

// sha256 of the uncompressed stream of a (possibly gzip/zstd compressed)
// archive file: a layer's diffID.
Result<std::string> UncompressedDigest(const std::string& path);

// Compression of an archive file judged by its magic bytes: "gzip", "zstd",
// "" for none, or another name ("xz", "bzip2") Berth does not store as-is.
Result<std::string> DetectCompression(const std::string& path);

struct UnpackOptions {
  // Convert OCI whiteouts to overlayfs form: `.wh.NAME` becomes a 0/0
  // character device NAME, `.wh..wh..opq` sets trusted.overlay.opaque=y on
  // its directory. Off when merely extracting an archive's files.
  bool overlay_whiteouts = true;
  // Keep the entries' owners (off: everything belongs to the caller).
  bool keep_owners = true;
};

// Unpacks a tar (plain, gzip or zstd) into the existing directory `dest`.
// Every entry's path is resolved component by component below `dest` without
// following symlinks, so entries with absolute paths, `..`, or a path (or
// hardlink target) through a symlink are refused with kInvalid. Owners, modes,
// times, symlinks, hardlinks, FIFOs and user./security.capability xattrs are
// kept; device nodes and sockets are skipped. On error `dest` holds a partial
// tree that the caller removes.
Status UnpackTar(const std::string& archive_path, const std::string& dest, const UnpackOptions& opts,
                 const std::function<void(int64_t bytes_done)>& progress = nullptr);

// Writes the tree under `dir` as a gzip-compressed tar to `sink`, entries in
// name order with numeric owners, modes, mtimes, symlinks and hardlinks (no
// device nodes or sockets), so the same tree always gives the same bytes.
// Returns the diffID (digest of the uncompressed tar).
Result<std::string> PackDirectory(const std::string& dir,
                                  const std::function<Status(std::string_view)>& sink);

// Removes a path recursively without following symlinks; absent is OK.
Status RemoveAll(const std::string& path);

}  // namespace berth::images
