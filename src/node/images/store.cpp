#include "node/images/store.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "node/images/layer.h"
#include "node/images/reference.h"

namespace berth::images {

namespace fs = std::filesystem;

namespace media {
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

Status ErrnoStatus(const std::string& what) { return Internal(what + ": " + std::strerror(errno)); }

std::string Hex(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

bool AllHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// An flock(2) held for the object's lifetime. Each instance opens the lock
// file itself, so two threads of one process exclude each other too.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::string& path, int op) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("open " + path);
    while (::flock(fd, op) != 0) {
      if (errno == EINTR) continue;
      Status st = ErrnoStatus("flock " + path);
      ::close(fd);
      return st;
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// A blob being written: a temp file under tmp/ that becomes
// blobs/sha256/<hex> only once its digest (and size, if known) check out.
class BlobWriter {
 public:
  BlobWriter(std::string tmp_dir, std::string blobs_dir)
      : tmp_dir_(std::move(tmp_dir)), blobs_dir_(std::move(blobs_dir)) {}
  ~BlobWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }
  Status Open() {
    tmp_ = tmp_dir_ + "/blob.XXXXXX";
    fd_ = ::mkostemp(tmp_.data(), O_CLOEXEC);
    if (fd_ < 0) {
      Status st = ErrnoStatus("create temp blob in " + tmp_dir_);
      tmp_.clear();
      return st;
    }
    ::fchmod(fd_, 0644);
    return Status::Ok();
  }
  Status Write(std::string_view data) {
    hash_.Update(data);
    written_ += static_cast<int64_t>(data.size());
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("write " + tmp_);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  int64_t written() const { return written_; }
  // Verifies and renames into place; returns the digest. `want` and
  // `want_size` may be empty / -1 when the content defines the digest.
  Result<std::string> Commit(const std::string& want, int64_t want_size) {
    std::string got = hash_.Digest();
    if (want_size >= 0 && want_size != written_) {
      return Invalid("blob " + want + ": size mismatch: expected " + std::to_string(want_size) +
                     " bytes, got " + std::to_string(written_));
    }
    if (!want.empty() && want != got) {
      return Invalid("blob digest mismatch: expected " + want + ", content hashes to " + got);
    }
    if (::fsync(fd_) != 0) return ErrnoStatus("fsync " + tmp_);
    ::close(fd_);
    fd_ = -1;
    std::string dst = blobs_dir_ + "/" + Hex(got);
    if (::rename(tmp_.c_str(), dst.c_str()) != 0) return ErrnoStatus("rename blob to " + dst);
    tmp_.clear();
    return got;
  }

 private:
  std::string tmp_dir_, blobs_dir_, tmp_;
  int fd_ = -1;
  Sha256 hash_;
  int64_t written_ = 0;
};

// --- the index ---------------------------------------------------------------

struct ManifestEntry {
  std::string config;                   // image id
  std::vector<Descriptor> layers;
  std::vector<std::string> diff_ids;
  int64_t size = 0;
  int64_t created = 0;
};

struct Index {
  std::map<std::string, std::string> refs;  // reference -> manifest digest
  std::map<std::string, ManifestEntry> manifests;
};

Json ToJson(const Index& idx) {
  Json j = {{"version", 1}, {"refs", Json::object()}, {"manifests", Json::object()}};
  for (const auto& [r, d] : idx.refs) j["refs"][r] = d;
  for (const auto& [d, m] : idx.manifests) {
    Json layers = Json::array();
    for (const auto& l : m.layers) {
      layers.push_back({{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}});
    }
    j["manifests"][d] = {{"config", m.config}, {"layers", layers}, {"diffIDs", m.diff_ids},
                         {"size", m.size}, {"created", m.created}};
  }
  return j;
}

Result<Index> ParseIndex(const std::string& text, const std::string& path) {
  Index idx;
  try {
    Json j = Json::parse(text);
    for (auto it = j.at("refs").begin(); it != j.at("refs").end(); ++it) {
      idx.refs[it.key()] = it->get<std::string>();
    }
    for (auto it = j.at("manifests").begin(); it != j.at("manifests").end(); ++it) {
      ManifestEntry m;
      m.config = it->at("config").get<std::string>();
      for (const auto& l : it->at("layers")) {
        m.layers.push_back({l.at("mediaType").get<std::string>(), l.at("digest").get<std::string>(),
                            l.at("size").get<int64_t>()});
      }
      m.diff_ids = it->at("diffIDs").get<std::vector<std::string>>();
      m.size = it->value("size", int64_t{0});
      m.created = it->value("created", int64_t{0});
      idx.manifests[it.key()] = std::move(m);
    }
  } catch (const Json::exception& e) {
    return Internal("image index " + path + " is corrupt: " + e.what());
  }
  return idx;
}

std::vector<std::string> StringList(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A parsed image manifest (OCI or Docker schema 2).
struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

Result<Descriptor> ParseDescriptor(const Json& j, const char* what) {
  if (!j.is_object()) return BadRequest(std::string("manifest: ") + what + " is not an object");
  Descriptor d;
  d.media_type = StringField(j, "mediaType");
  d.digest = StringField(j, "digest");
  auto s = j.find("size");
  if (s != j.end() && s->is_number_integer()) d.size = s->get<int64_t>();
  if (!IsValidDigest(d.digest)) {
    return BadRequest(std::string("manifest: ") + what + " has an unsupported digest \"" + d.digest + "\"");
  }
  return d;
}

Result<Manifest> ParseManifest(const std::string& bytes) {
  auto j = Json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return BadRequest("manifest is not a JSON object");
  std::string mt = StringField(j, "mediaType");
  if (mt == media::kOciIndex || mt == media::kDockerList || j.contains("manifests")) {
    return BadRequest("expected an image manifest, got an index; resolve the platform first");
  }
  if (!mt.empty() && mt != media::kOciManifest && mt != media::kDockerManifest) {
    return BadRequest("unsupported manifest media type " + mt);
  }
  if (!j.contains("config") || !j.contains("layers") || !j["layers"].is_array()) {
    return BadRequest("manifest lacks config or layers");
  }
  Manifest m;
  BERTH_ASSIGN_OR_RETURN(m.config, ParseDescriptor(j["config"], "config"));
  for (const auto& l : j["layers"]) {
    BERTH_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(l, "layer"));
    if (d.media_type.find("tar") == std::string::npos) {
      return BadRequest("unsupported layer media type \"" + d.media_type + "\"");
    }
    m.layers.push_back(std::move(d));
  }
  return m;
}

// Picks the linux/amd64 entry of an OCI index or Docker manifest list.
Result<Descriptor> PickPlatform(const Json& index) {
  auto it = index.find("manifests");
  if (it == index.end() || !it->is_array()) return BadRequest("index has no manifests");
  std::vector<std::string> seen;
  for (const auto& m : *it) {
    const Json p = m.value("platform", Json::object());
    std::string os = p.value("os", ""), arch = p.value("architecture", "");
    if (os == "linux" && arch == "amd64") return ParseDescriptor(m, "index entry");
    seen.push_back(os + "/" + arch);
  }
  std::string list;
  for (const auto& s : seen) list += (list.empty() ? "" : ", ") + s;
  return NotFound("image has no linux/amd64 variant (it has: " + list + ")");
}

// Blobs read from a directory of `<alg>/<hex>` files (an OCI layout's blobs/).
class DirBlobSource : public BlobSource {
 public:
  explicit DirBlobSource(std::string blobs_dir) : dir_(std::move(blobs_dir)) {}
  Status Fetch(const Descriptor& d, const Sink& sink) override {
    std::string path = dir_ + "/sha256/" + Hex(d.digest);
    return CopyFile(path, sink);
  }
  static Status CopyFile(const std::string& path, const Sink& sink) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("blob missing: " + path);
      return ErrnoStatus("open " + path);
    }
    char buf[1 << 16];
    Status st;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = ErrnoStatus("read " + path);
        break;
      }
      if (n == 0) break;
      st = sink(std::string_view(buf, static_cast<size_t>(n)));
      if (!st.ok()) break;
    }
    ::close(fd);
    return st;
  }

 private:
  std::string dir_;
};

// Blobs given as explicit files (a `docker save` archive, a rootfs tarball).
class FileMapSource : public BlobSource {
 public:
  std::map<std::string, std::string> files;  // digest -> path
  std::map<std::string, std::string> inline_blobs;  // digest -> content
  Status Fetch(const Descriptor& d, const Sink& sink) override {
    if (auto it = inline_blobs.find(d.digest); it != inline_blobs.end()) return sink(it->second);
    auto it = files.find(d.digest);
    if (it == files.end()) return NotFound("no source for blob " + d.digest);
    return DirBlobSource::CopyFile(it->second, sink);
  }
};

// A temp directory removed with everything in it unless released.
class TempDir {
 public:
  static Result<TempDir> Make(const std::string& parent, const std::string& prefix) {
    std::string t = parent + "/" + prefix + ".XXXXXX";
    if (::mkdtemp(t.data()) == nullptr) return ErrnoStatus("mkdtemp in " + parent);
    return TempDir(t);
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  const std::string& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

Json ConfigJson(const ImageConfigOverrides& o, const std::vector<std::string>& diff_ids,
                const std::string& comment) {
  Json cfg = Json::object();
  cfg["Env"] = o.env ? *o.env : std::vector<std::string>{kDefaultPath};
  if (o.entrypoint) cfg["Entrypoint"] = *o.entrypoint;
  if (o.cmd) cfg["Cmd"] = *o.cmd;
  if (o.working_dir) cfg["WorkingDir"] = *o.working_dir;
  if (o.user) cfg["User"] = *o.user;
  if (!o.exposed_ports.empty()) {
    Json ports = Json::object();
    for (const auto& p : o.exposed_ports) ports[p.find('/') == std::string::npos ? p + "/tcp" : p] = Json::object();
    cfg["ExposedPorts"] = ports;
  }
  std::string created = FormatRFC3339(NowSeconds());
  return {{"created", created},
          {"architecture", "amd64"},
          {"os", "linux"},
          {"config", cfg},
          {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
          {"history", Json::array({{{"created", created}, {"created_by", comment}}})}};
}

std::string ManifestJson(const std::string& config_digest, int64_t config_size,
                         const std::vector<Descriptor>& layers) {
  Json ls = Json::array();
  for (const auto& l : layers) ls.push_back({{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}});
  Json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", {{"mediaType", media::kOciConfig}, {"digest", config_digest}, {"size", config_size}}},
            {"layers", ls}};
  return m.dump();
}

}  // namespace

// --- ImageStore ---------------------------------------------------------------

struct StorePaths {
  std::string blobs, layers, tmp, index, index_lock, gc_lock;
  explicit StorePaths(const std::string& root)
      : blobs(root + "/blobs/sha256"),
        layers(root + "/layers"),
        tmp(root + "/tmp"),
        index(root + "/index.json"),
        index_lock(root + "/index.lock"),
        gc_lock(root + "/gc.lock") {}
};

namespace {

Result<Index> LoadIndex(const StorePaths& p) {
  auto text = ReadFile(p.index);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return Index{};
    return text.status();
  }
  return ParseIndex(*text, p.index);
}

// Read-modify-write of the index under its lock.
template <class F>
Status UpdateIndex(const StorePaths& p, F&& f) {
  BERTH_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(p.index_lock, LOCK_EX));
  BERTH_ASSIGN_OR_RETURN(Index idx, LoadIndex(p));
  BERTH_RETURN_IF_ERROR(f(idx));
  return WriteFileAtomic(p.index, ToJson(idx).dump(2) + "\n");
}

// Finds the manifest digest `key` names: a reference, a manifest digest, an
// image id, or a unique id prefix of at least 12 hex digits.
Result<std::string> Resolve(const Index& idx, const std::string& key, std::string* ref_out) {
  std::string k = key;
  if (k.rfind("sha256:", 0) == 0 && AllHex(k.substr(7))) k = k.substr(7);
  if (AllHex(k) && k.size() >= 12) {
    std::string found;
    int matches = 0;
    for (const auto& [d, m] : idx.manifests) {
      bool hit = Hex(m.config).rfind(k, 0) == 0 || (k.size() == 64 && Hex(d) == k);
      if (hit && found != d) {
        found = d;
        ++matches;
      }
    }
    if (matches == 1) return found;
    if (matches > 1) return BadRequest("image id prefix \"" + key + "\" is ambiguous");
  }
  auto ref = ParseReference(key);
  if (!ref.ok()) {
    if (AllHex(k)) return NotFound("image not found: " + key);
    return ref.status();
  }
  std::string s = ref->String();
  if (auto it = idx.refs.find(s); it != idx.refs.end()) {
    if (ref_out) *ref_out = s;
    return it->second;
  }
  // name@digest finds the manifest whatever name it was stored under.
  if (!ref->digest.empty() && idx.manifests.count(ref->digest)) return ref->digest;
  return NotFound("image not found: " + s);
}

}  // namespace

ImageStore::~ImageStore() = default;

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root) {
  std::error_code ec;
  fs::path abs = fs::absolute(root, ec);
  if (ec) return Internal("image store " + root + ": " + ec.message());
  std::string r = abs.lexically_normal().string();
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  StorePaths p(r);
  for (const auto& d : {p.blobs, p.layers, p.tmp}) BERTH_RETURN_IF_ERROR(MakeDirs(d, 0700));
  ::chmod(r.c_str(), 0700);
  return std::unique_ptr<ImageStore>(new ImageStore(r));
}

std::string ImageStore::BlobPath(const std::string& digest) const {
  return StorePaths(root_).blobs + "/" + Hex(digest);
}

std::string ImageStore::LayerDir(const std::string& diff_id) const {
  return StorePaths(root_).layers + "/" + Hex(diff_id);
}

bool ImageStore::HasBlob(const std::string& digest) const {
  return IsValidDigest(digest) && FileExists(BlobPath(digest));
}

namespace {

Result<ImageInfo> BuildInfo(const ImageStore& s, const Index& idx, const std::string& manifest_digest,
                            const std::string& ref) {
  auto mit = idx.manifests.find(manifest_digest);
  if (mit == idx.manifests.end()) return NotFound("image not found: " + manifest_digest);
  const ManifestEntry& m = mit->second;
  ImageInfo info;
  info.ref = ref;
  for (const auto& [r, d] : idx.refs)
    if (d == manifest_digest) info.refs.push_back(r);
  info.id = m.config;
  info.manifest_digest = manifest_digest;
  for (const auto& d : m.diff_ids) info.layer_dirs.push_back(s.LayerDir(d));
  info.size_bytes = m.size;
  info.created_unix = m.created;
  BERTH_ASSIGN_OR_RETURN(std::string cfg_text, ReadFile(s.BlobPath(m.config)));
  Json cfg = Json::parse(cfg_text, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) return Internal("image config " + m.config + " is not JSON");
  info.os = StringField(cfg, "os");
  info.architecture = StringField(cfg, "architecture");
  auto c = cfg.find("config");
  if (c != cfg.end() && c->is_object()) {
    info.entrypoint = StringList(*c, "Entrypoint");
    info.cmd = StringList(*c, "Cmd");
    info.env = StringList(*c, "Env");
    info.working_dir = StringField(*c, "WorkingDir");
    info.user = StringField(*c, "User");
    auto ports = c->find("ExposedPorts");
    if (ports != c->end() && ports->is_object()) {
      for (auto it = ports->begin(); it != ports->end(); ++it) info.exposed_ports.push_back(it.key());
    }
  }
  return info;
}

}  // namespace

Result<ImageInfo> ImageStore::Get(const std::string& ref) const {
  StorePaths p(root_);
  BERTH_ASSIGN_OR_RETURN(Index idx, LoadIndex(p));
  std::string matched_ref;
  BERTH_ASSIGN_OR_RETURN(std::string digest, Resolve(idx, ref, &matched_ref));
  auto info = BuildInfo(*this, idx, digest, matched_ref);
  if (info.ok() && info->ref.empty() && !info->refs.empty()) info->ref = info->refs.front();
  return info;
}

std::vector<ImageInfo> ImageStore::List() const {
  std::vector<ImageInfo> out;
  StorePaths p(root_);
  auto idx = LoadIndex(p);
  if (!idx.ok()) {
    log::Warn("image index unreadable", log::Fields()("error", idx.status().message()));
    return out;
  }
  for (const auto& [r, d] : idx->refs) {
    auto info = BuildInfo(*this, *idx, d, r);
    if (info.ok()) out.push_back(std::move(*info));
  }
  return out;
}

Result<ImageInfo> ImageStore::ImportManifest(const std::string& manifest_bytes, const std::string& ref,
                                             BlobSource& source, const ProgressFn& progress) {
  StorePaths p(root_);
  std::string norm_ref;
  if (!ref.empty()) {
    BERTH_ASSIGN_OR_RETURN(Reference r, ParseReference(ref));
    norm_ref = r.String();
  }
  BERTH_ASSIGN_OR_RETURN(Manifest m, ParseManifest(manifest_bytes));
  // Shared: imports run side by side, but never during a GC.
  BERTH_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(p.gc_lock, LOCK_SH));

  // New blobs are staged and verified in a temp dir and move into blobs/
  // only once the whole image checked out, so a failed import stores nothing.
  BERTH_ASSIGN_OR_RETURN(TempDir staging, TempDir::Make(p.tmp, "import"));
  std::vector<std::string> staged;  // hex digests
  auto path_of = [&](const std::string& digest) {
    for (const auto& h : staged)
      if (h == Hex(digest)) return staging.path() + "/" + h;
    return BlobPath(digest);
  };
  auto fetch = [&](const Descriptor& d) -> Status {
    if (HasBlob(d.digest)) return Status::Ok();
    for (const auto& h : staged)
      if (h == Hex(d.digest)) return Status::Ok();
    BlobWriter w(p.tmp, staging.path());
    BERTH_RETURN_IF_ERROR(w.Open());
    int64_t last = 0;
    Status st = source.Fetch(d, [&](std::string_view chunk) -> Status {
      if (d.size >= 0 && w.written() + static_cast<int64_t>(chunk.size()) > d.size) {
        return Invalid("blob " + d.digest + " is larger than its descriptor's " + std::to_string(d.size) +
                       " bytes");
      }
      BERTH_RETURN_IF_ERROR(w.Write(chunk));
      if (progress && (w.written() - last >= (1 << 20) || w.written() == d.size)) {
        last = w.written();
        progress({"fetch", d.digest, w.written(), d.size});
      }
      return Status::Ok();
    });
    BERTH_RETURN_IF_ERROR(st);
    auto committed = w.Commit(d.digest, d.size);
    if (committed.ok()) staged.push_back(Hex(d.digest));
    return committed.status();
  };

  BERTH_RETURN_IF_ERROR(fetch(m.config));
  BERTH_ASSIGN_OR_RETURN(std::string cfg_text, ReadFile(path_of(m.config.digest)));
  Json cfg = Json::parse(cfg_text, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) return BadRequest("image config " + m.config.digest + " is not JSON");
  std::vector<std::string> diff_ids;
  if (auto rf = cfg.find("rootfs"); rf != cfg.end() && rf->is_object()) diff_ids = StringList(*rf, "diff_ids");
  if (diff_ids.size() != m.layers.size()) {
    return BadRequest("image config lists " + std::to_string(diff_ids.size()) + " diff_ids for " +
                      std::to_string(m.layers.size()) + " layers");
  }
  for (const auto& d : diff_ids) {
    if (!IsValidDigest(d)) return BadRequest("image config has an unsupported diff_id \"" + d + "\"");
  }

  int64_t size = m.config.size >= 0 ? m.config.size : static_cast<int64_t>(cfg_text.size());
  for (const Descriptor& l : m.layers) BERTH_RETURN_IF_ERROR(fetch(l));
  std::vector<std::unique_ptr<TempDir>> unpacked;  // layer dirs to move into place
  std::vector<std::string> unpacked_dest;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Descriptor& l = m.layers[i];
    size += l.size >= 0 ? l.size : 0;
    std::string dir = LayerDir(diff_ids[i]);
    if (FileExists(dir) || std::count(unpacked_dest.begin(), unpacked_dest.end(), dir)) continue;
    // The diffID names the unpacked dir that every image with this layer
    // shares, so it must be what the archive really holds.
    BERTH_ASSIGN_OR_RETURN(std::string actual, UncompressedDigest(path_of(l.digest)));
    if (actual != diff_ids[i]) {
      return Invalid("layer " + l.digest + ": uncompressed content hashes to " + actual +
                     " but the image config says " + diff_ids[i]);
    }
    BERTH_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(p.tmp, "layer"));
    ::chmod(tmp.path().c_str(), 0755);
    int64_t total = l.size;
    Status st = UnpackTar(path_of(l.digest), tmp.path(), UnpackOptions{},
                          [&](int64_t done) {
                            if (progress) progress({"unpack", l.digest, done, total});
                          });
    if (!st.ok()) return Status(st.code(), "layer " + l.digest + ": " + st.message());
    unpacked.push_back(std::make_unique<TempDir>(std::move(tmp)));
    unpacked_dest.push_back(dir);
  }

  // Everything checked out: blobs, then layers, then the manifest, then the
  // reference, so each step only ever points at what already exists.
  for (const auto& h : staged) {
    std::string src = staging.path() + "/" + h, dst = p.blobs + "/" + h;
    if (::rename(src.c_str(), dst.c_str()) != 0) return ErrnoStatus("rename blob to " + dst);
  }
  for (size_t i = 0; i < unpacked.size(); ++i) {
    if (::rename(unpacked[i]->path().c_str(), unpacked_dest[i].c_str()) != 0) {
      // Another import unpacked the same layer first; theirs is as good.
      if (errno != EEXIST && errno != ENOTEMPTY) return ErrnoStatus("rename layer to " + unpacked_dest[i]);
    } else {
      unpacked[i]->Release();
    }
  }

  // The manifest blob last: its presence means the image is complete.
  BlobWriter mw(p.tmp, p.blobs);
  BERTH_RETURN_IF_ERROR(mw.Open());
  BERTH_RETURN_IF_ERROR(mw.Write(manifest_bytes));
  BERTH_ASSIGN_OR_RETURN(std::string manifest_digest, mw.Commit("", -1));

  ManifestEntry entry;
  entry.config = m.config.digest;
  entry.layers = m.layers;
  entry.diff_ids = diff_ids;
  entry.size = size;
  entry.created = ParseRFC3339(StringField(cfg, "created")).value_or(0);
  Index after;
  BERTH_RETURN_IF_ERROR(UpdateIndex(p, [&](Index& idx) {
    idx.manifests[manifest_digest] = entry;
    if (!norm_ref.empty()) idx.refs[norm_ref] = manifest_digest;
    after = idx;
    return Status::Ok();
  }));
  auto info = BuildInfo(*this, after, manifest_digest, norm_ref);
  if (info.ok()) {
    log::Info("image imported", log::Fields()("ref", norm_ref)("id", info->id)("layers", info->layer_dirs.size()));
  }
  return info;
}

Result<ImageInfo> ImageStore::ImportRootfsDir(const std::string& dir, const std::string& ref,
                                              const ImageConfigOverrides& config, const ProgressFn& progress) {
  StorePaths p(root_);
  if (ref.empty()) return BadRequest("importing a directory needs an image name");
  BERTH_RETURN_IF_ERROR(ParseReference(ref).status());
  Descriptor layer;
  std::string diff_id;
  // Packing writes the layer blob straight into blobs/; holding the GC lock
  // (shared, like ImportManifest's own) until the manifest is indexed keeps a
  // concurrent GC from collecting it in between.
  BERTH_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(p.gc_lock, LOCK_SH));
  {
    BlobWriter w(p.tmp, p.blobs);
    BERTH_RETURN_IF_ERROR(w.Open());
    int64_t last = 0;
    BERTH_ASSIGN_OR_RETURN(diff_id, PackDirectory(dir, [&](std::string_view chunk) {
                             BERTH_RETURN_IF_ERROR(w.Write(chunk));
                             if (progress && w.written() - last >= (1 << 20)) {
                               last = w.written();
                               progress({"copy", "", w.written(), -1});
                             }
                             return Status::Ok();
                           }));
    layer.size = w.written();
    BERTH_ASSIGN_OR_RETURN(layer.digest, w.Commit("", -1));
    layer.media_type = media::kOciLayerGzip;
  }
  std::string cfg = ConfigJson(config, {diff_id}, "berth image import " + dir).dump();
  std::string cfg_digest = DigestOf(cfg);
  FileMapSource src;
  src.inline_blobs[cfg_digest] = cfg;
  return ImportManifest(ManifestJson(cfg_digest, static_cast<int64_t>(cfg.size()), {layer}), ref, src, progress);
}

namespace {

// Top-level names of an archive's entries ("./x" counts as "x").
Result<std::set<std::string>> ArchiveTopNames(const std::string& path);

}  // namespace

Result<ImageInfo> ImageStore::ImportOciLayout(const std::string& dir, const std::string& ref,
                                              const ProgressFn& progress) {
  auto layout = ReadFile(dir + "/oci-layout");
  if (!layout.ok()) {
    return layout.status().code() == Code::kNotFound
               ? NotFound(dir + " is not an OCI image layout (no oci-layout file)")
               : layout.status();
  }
  Json lj = Json::parse(*layout, nullptr, false);
  if (lj.is_discarded() || lj.value("imageLayoutVersion", "") != "1.0.0") {
    return BadRequest(dir + "/oci-layout: unsupported imageLayoutVersion");
  }
  BERTH_ASSIGN_OR_RETURN(std::string index_text, ReadFile(dir + "/index.json"));
  Json index = Json::parse(index_text, nullptr, false);
  if (index.is_discarded() || !index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
      index["manifests"].empty()) {
    return BadRequest(dir + "/index.json lists no manifests");
  }
  std::optional<Reference> want;
  if (!ref.empty()) {
    BERTH_ASSIGN_OR_RETURN(want, ParseReference(ref));
  }
  const Json* chosen = nullptr;
  const Json& ms = index["manifests"];
  auto annotation = [](const Json& m, const char* key) {
    auto a = m.find("annotations");
    return a != m.end() && a->is_object() ? StringField(*a, key) : std::string();
  };
  if (want) {
    for (const auto& m : ms) {
      std::string rn = annotation(m, "org.opencontainers.image.ref.name");
      std::string cn = annotation(m, "io.containerd.image.name");
      auto parsed = cn.empty() ? ParseReference(rn) : ParseReference(cn);
      if (rn == want->tag || (parsed.ok() && parsed->String() == want->String())) {
        chosen = &m;
        break;
      }
    }
  }
  if (chosen == nullptr) {
    if (ms.size() != 1) {
      return BadRequest(dir + " holds " + std::to_string(ms.size()) +
                        " images; name one with its org.opencontainers.image.ref.name");
    }
    chosen = &ms[0];
  }
  std::string name = ref;
  if (name.empty()) {
    std::string cn = annotation(*chosen, "io.containerd.image.name");
    std::string rn = annotation(*chosen, "org.opencontainers.image.ref.name");
    if (!cn.empty()) name = cn;
    else if (rn.find('/') != std::string::npos) name = rn;
    else return BadRequest(dir + ": the layout does not name its image; give a name");
  }
  BERTH_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(*chosen, "index entry"));
  std::string blobs = dir + "/blobs";
  auto read_blob = [&](const Descriptor& desc) -> Result<std::string> {
    BERTH_ASSIGN_OR_RETURN(std::string text, ReadFile(blobs + "/sha256/" + Hex(desc.digest)));
    if (DigestOf(text) != desc.digest) return Invalid("blob " + desc.digest + " in " + dir + " is corrupt");
    return text;
  };
  BERTH_ASSIGN_OR_RETURN(std::string manifest, read_blob(d));
  for (int depth = 0; depth < 2; ++depth) {
    Json mj = Json::parse(manifest, nullptr, false);
    if (mj.is_discarded() || !mj.is_object() || !mj.contains("manifests")) break;
    BERTH_ASSIGN_OR_RETURN(d, PickPlatform(mj));
    BERTH_ASSIGN_OR_RETURN(manifest, read_blob(d));
  }
  DirBlobSource src(blobs);
  return ImportManifest(manifest, name, src, progress);
}

Result<ImageInfo> ImageStore::ImportTarball(const std::string& path, const std::string& ref,
                                            const ImageConfigOverrides& config, const ProgressFn& progress) {
  StorePaths p(root_);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("no such file: " + path);
    return ErrnoStatus("stat " + path);
  }
  if (!S_ISREG(st.st_mode)) return BadRequest(path + " is not a regular file");
  if (!ref.empty()) BERTH_RETURN_IF_ERROR(ParseReference(ref).status());
  BERTH_ASSIGN_OR_RETURN(std::set<std::string> top, ArchiveTopNames(path));

  if (top.count("oci-layout") || top.count("manifest.json")) {
    // An image archive: unpack its files (no whiteout conversion, owned by
    // us) and read it as a layout or a `docker save` directory.
    BERTH_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(p.tmp, "archive"));
    UnpackOptions o;
    o.overlay_whiteouts = false;
    o.keep_owners = false;
    BERTH_RETURN_IF_ERROR(UnpackTar(path, tmp.path(), o, [&](int64_t done) {
      if (progress) progress({"copy", "", done, st.st_size});
    }));
    if (top.count("oci-layout") && top.count("index.json")) return ImportOciLayout(tmp.path(), ref, progress);

    BERTH_ASSIGN_OR_RETURN(std::string mtext, ReadFile(tmp.path() + "/manifest.json"));
    Json mj = Json::parse(mtext, nullptr, false);
    if (mj.is_discarded() || !mj.is_array() || mj.empty()) return BadRequest(path + ": manifest.json is not a list");
    const Json* chosen = &mj[0];
    std::string want = ref.empty() ? "" : ParseReference(ref)->String();
    if (!want.empty()) {
      for (const auto& e : mj) {
        for (const auto& t : StringList(e, "RepoTags")) {
          auto r = ParseReference(t);
          if (r.ok() && r->String() == want) chosen = &e;
        }
      }
    }
    std::string name = ref;
    if (name.empty()) {
      auto tags = StringList(*chosen, "RepoTags");
      if (tags.empty()) return BadRequest(path + ": the archive does not name its image; give a name");
      name = tags[0];
    }
    FileMapSource src;
    auto inside = [&](const std::string& rel) -> Result<std::string> {
      if (rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos) {
        return BadRequest(path + ": manifest.json names an unsafe path \"" + rel + "\"");
      }
      return tmp.path() + "/" + rel;
    };
    BERTH_ASSIGN_OR_RETURN(std::string cfg_path, inside(StringField(*chosen, "Config")));
    BERTH_ASSIGN_OR_RETURN(std::string cfg, ReadFile(cfg_path));
    std::string cfg_digest = DigestOf(cfg);
    src.inline_blobs[cfg_digest] = cfg;
    std::vector<Descriptor> layers;
    for (const auto& rel : StringList(*chosen, "Layers")) {
      BERTH_ASSIGN_OR_RETURN(std::string lp, inside(rel));
      Descriptor d;
      d.size = 0;
      Sha256 h;
      BERTH_RETURN_IF_ERROR(DirBlobSource::CopyFile(lp, [&](std::string_view c) {
        h.Update(c);
        d.size += static_cast<int64_t>(c.size());
        return Status::Ok();
      }));
      d.digest = h.Digest();
      BERTH_ASSIGN_OR_RETURN(std::string comp, DetectCompression(lp));
      d.media_type = comp == "gzip" ? media::kOciLayerGzip : comp == "zstd" ? media::kOciLayerZstd : media::kOciLayerTar;
      src.files[d.digest] = lp;
      layers.push_back(d);
    }
    return ImportManifest(ManifestJson(cfg_digest, static_cast<int64_t>(cfg.size()), layers), name, src, progress);
  }

  // A root file system tarball becomes the single layer as it is.
  if (ref.empty()) return BadRequest("importing a root file system tarball needs an image name");
  BERTH_ASSIGN_OR_RETURN(std::string comp, DetectCompression(path));
  if (!comp.empty() && comp != "gzip" && comp != "zstd") {
    return BadRequest(path + ": " + comp + " compression is not supported for layers; use gzip, zstd or none");
  }
  BERTH_ASSIGN_OR_RETURN(std::string diff_id, UncompressedDigest(path));
  Descriptor layer;
  layer.media_type = comp == "gzip" ? media::kOciLayerGzip : comp == "zstd" ? media::kOciLayerZstd : media::kOciLayerTar;
  layer.size = st.st_size;
  {
    Sha256 h;
    BERTH_RETURN_IF_ERROR(DirBlobSource::CopyFile(path, [&](std::string_view c) {
      h.Update(c);
      return Status::Ok();
    }));
    layer.digest = h.Digest();
  }
  std::string cfg = ConfigJson(config, {diff_id}, "berth image import " + path).dump();
  std::string cfg_digest = DigestOf(cfg);
  FileMapSource src;
  src.inline_blobs[cfg_digest] = cfg;
  src.files[layer.digest] = path;
  return ImportManifest(ManifestJson(cfg_digest, static_cast<int64_t>(cfg.size()), {layer}), ref, src, progress);
}

Status ImageStore::Remove(const std::string& ref) {
  StorePaths p(root_);
  return UpdateIndex(p, [&](Index& idx) -> Status {
    std::string matched;
    BERTH_ASSIGN_OR_RETURN(std::string digest, Resolve(idx, ref, &matched));
    if (!matched.empty()) {
      idx.refs.erase(matched);
    } else {
      for (auto it = idx.refs.begin(); it != idx.refs.end();) {
        it = it->second == digest ? idx.refs.erase(it) : std::next(it);
      }
    }
    return Status::Ok();
  });
}

Result<GcStats> ImageStore::GarbageCollect(const std::set<std::string>& in_use_image_ids) {
  StorePaths p(root_);
  BERTH_ASSIGN_OR_RETURN(FileLock gc_lock, FileLock::Acquire(p.gc_lock, LOCK_EX));
  GcStats stats;
  std::set<std::string> keep_blobs, keep_layers;
  BERTH_RETURN_IF_ERROR(UpdateIndex(p, [&](Index& idx) {
    std::set<std::string> referenced;
    for (const auto& [r, d] : idx.refs) referenced.insert(d);
    for (auto it = idx.manifests.begin(); it != idx.manifests.end();) {
      const ManifestEntry& m = it->second;
      if (!referenced.count(it->first) && !in_use_image_ids.count(m.config)) {
        ++stats.manifests_removed;
        it = idx.manifests.erase(it);
        continue;
      }
      ++stats.images_kept;
      keep_blobs.insert(Hex(it->first));
      keep_blobs.insert(Hex(m.config));
      for (const auto& l : m.layers) keep_blobs.insert(Hex(l.digest));
      for (const auto& d : m.diff_ids) keep_layers.insert(Hex(d));
      ++it;
    }
    return Status::Ok();
  }));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.blobs, ec)) {
    std::string name = e.path().filename().string();
    if (keep_blobs.count(name)) continue;
    std::error_code sec;
    auto sz = fs::file_size(e.path(), sec);
    if (fs::remove(e.path(), sec)) {
      ++stats.blobs_removed;
      stats.bytes_freed += sec ? 0 : static_cast<int64_t>(sz);
    }
  }
  for (const auto& e : fs::directory_iterator(p.layers, ec)) {
    std::string name = e.path().filename().string();
    if (keep_layers.count(name)) continue;
    std::error_code sec;
    for (const auto& f : fs::recursive_directory_iterator(e.path(), sec)) {
      std::error_code fec;
      if (f.is_regular_file(fec) && !f.is_symlink(fec)) stats.bytes_freed += static_cast<int64_t>(f.file_size(fec));
    }
    BERTH_RETURN_IF_ERROR(RemoveAll(e.path().string()));
    ++stats.layers_removed;
  }
  // No import runs while we hold the lock exclusively, so anything in tmp/
  // is left over from a crash.
  for (const auto& e : fs::directory_iterator(p.tmp, ec)) (void)RemoveAll(e.path().string());
  log::Info("image gc", log::Fields()("kept", stats.images_kept)("blobs_removed", stats.blobs_removed)(
                            "layers_removed", stats.layers_removed)("bytes_freed", stats.bytes_freed));
  return stats;
}

namespace {

Result<std::set<std::string>> ArchiveTopNames(const std::string& path) {
  std::set<std::string> out;
  archive* a = archive_read_new();
  struct Free {
    archive* a;
    ~Free() { archive_read_free(a); }
  } guard{a};
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return BadRequest(path + " is not a tar archive: " + (archive_error_string(a) ? archive_error_string(a) : "?"));
  }
  archive_entry* e;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return BadRequest(path + " is not a readable tar archive: " +
                        (archive_error_string(a) ? archive_error_string(a) : "?"));
    }
    std::string n = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (n.rfind("./", 0) == 0) n = n.substr(2);
    if (!n.empty() && n.find('/') == std::string::npos) out.insert(n);
    archive_read_data_skip(a);
  }
  return out;
}

}  // namespace

}  // namespace berth::images
