#include "node/images/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "core/ids.h"

namespace berth::images {
namespace {

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Owns a libarchive reader or writer.
struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadDeleter>;
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

Status ErrnoStatus(const std::string& what) {
  return Internal(what + ": " + std::strerror(errno));
}

Status ArchiveError(archive* a, const std::string& what) {
  const char* m = archive_error_string(a);
  return Invalid(what + ": " + (m ? m : "archive error"));
}

std::string ProcFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

// ---- digests ----------------------------------------------------------------

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr); }
Sha256::~Sha256() = default;
void Sha256::Update(std::string_view data) { EVP_DigestUpdate(ctx_->md, data.data(), data.size()); }
std::string Sha256::Digest() {
  unsigned char out[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &n);
  return "sha256:" + HexEncode(std::string_view(reinterpret_cast<char*>(out), n));
}

std::string DigestOf(std::string_view data) { return "sha256:" + Sha256Hex(data); }

Result<std::string> UncompressedDigest(const std::string& path) {
  // The raw format hands over the decompressed stream as one entry.
  ArchiveReader a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "open " + path);
  }
  Sha256 h;
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  if (r == ARCHIVE_EOF) return h.Digest();
  if (r != ARCHIVE_OK) return ArchiveError(a.get(), "read " + path);
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
    if (n < 0) return ArchiveError(a.get(), "decompress " + path);
    if (n == 0) break;
    h.Update(std::string_view(buf, static_cast<size_t>(n)));
  }
  return h.Digest();
}

Result<std::string> DetectCompression(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("no such file: " + path);
    return ErrnoStatus("open " + path);
  }
  unsigned char m[6] = {};
  ssize_t n = ::read(fd.get(), m, sizeof m);
  if (n < 0) return ErrnoStatus("read " + path);
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return std::string("gzip");
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return std::string("zstd");
  if (n >= 6 && m[0] == 0xfd && std::memcmp(m + 1, "7zXZ", 4) == 0) return std::string("xz");
  if (n >= 3 && std::memcmp(m, "BZh", 3) == 0) return std::string("bzip2");
  return std::string();
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Internal("remove " + path + ": " + ec.message());
  return Status::Ok();
}

// ---- unpacking ----------------------------------------------------------------

namespace {

// Splits an entry path into components, refusing anything that could leave
// the layer: absolute paths and "..". "." and empty components vanish, so
// "./etc//passwd" is {"etc","passwd"} and "./" is {} (the layer root).
Result<std::vector<std::string>> SplitEntryPath(const char* raw, const char* what) {
  if (raw == nullptr) return Invalid(std::string(what) + " without a path");
  std::string_view p(raw);
  if (!p.empty() && p.front() == '/') {
    return Invalid(std::string(what) + " \"" + std::string(p) + "\" is an absolute path");
  }
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t s = p.find('/', start);
    std::string_view c = p.substr(start, s == std::string_view::npos ? s : s - start);
    if (c == "..") {
      return Invalid(std::string(what) + " \"" + std::string(p) + "\" escapes the layer (\"..\")");
    }
    if (!c.empty() && c != ".") out.emplace_back(c);
    if (s == std::string_view::npos) break;
    start = s + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& comps, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < comps.size(); ++i) {
    if (i) s += '/';
    s += comps[i];
  }
  return s;
}

// Removes `name` in `dirfd` whatever it is; absent is fine.
Status RemoveAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("stat " + name);
  }
  if (S_ISDIR(st.st_mode)) return RemoveAll(ProcFdPath(dirfd) + "/" + name);
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return ErrnoStatus("unlink " + name);
  return Status::Ok();
}

// xattrs a layer may carry. trusted.* (overlayfs' own redirect, metacopy and
// opaque markers among them) would let a layer steer the overlay mount, so
// only the whiteout conversion sets those.
bool AllowedXattr(std::string_view name) {
  return name.rfind("user.", 0) == 0 || name == "security.capability";
}

class Extractor {
 public:
  Extractor(int root, const UnpackOptions& opts) : root_(root), opts_(opts) {}

  Status Add(archive* a, archive_entry* e);
  // Directory times last, as adding children changed them.
  void Finish();

 private:
  // Opens the directory holding comps' last component, walking from the root
  // with O_NOFOLLOW so no symlink (planted by this layer) is ever crossed.
  Result<Fd> OpenParent(const std::vector<std::string>& comps, bool create, const std::string& shown);
  Status WriteData(archive* a, int fd, const std::string& shown);
  void SetXattrs(archive_entry* e, int fd);
  void Chown(int dirfd, const char* name, archive_entry* e, int flags);

  int root_;
  UnpackOptions opts_;
  struct DirTimes {
    std::vector<std::string> comps;
    timespec times[2];
  };
  std::vector<DirTimes> dirs_;
};

Result<Fd> Extractor::OpenParent(const std::vector<std::string>& comps, bool create,
                                 const std::string& shown) {
  Fd cur(::dup(root_));
  if (!cur.valid()) return ErrnoStatus("dup");
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    const char* c = comps[i].c_str();
    int fd = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c, 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir " + Join(comps, i + 1));
      }
      fd = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return Invalid(shown + " goes through \"" + Join(comps, i + 1) +
                       "\", which is a symlink or not a directory");
      }
      if (errno == ENOENT) return Invalid(shown + ": \"" + Join(comps, i + 1) + "\" does not exist");
      return ErrnoStatus("open " + Join(comps, i + 1));
    }
    cur = Fd(fd);
  }
  return cur;
}

Status Extractor::WriteData(archive* a, int fd, const std::string& shown) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return Status::Ok();
    if (r != ARCHIVE_OK) return ArchiveError(a, "read " + shown);
    const char* p = static_cast<const char*>(buf);
    // pwrite at the block's offset keeps sparse files sparse.
    while (size > 0) {
      ssize_t n = ::pwrite(fd, p, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write " + shown);
      }
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
}

void Extractor::SetXattrs(archive_entry* e, int fd) {
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (name && AllowedXattr(name)) ::fsetxattr(fd, name, value, size, 0);  // best effort
  }
}

void Extractor::Chown(int dirfd, const char* name, archive_entry* e, int flags) {
  if (!opts_.keep_owners) return;
  // Best effort like tar: a user namespace may not map every id.
  (void)::fchownat(dirfd, name, static_cast<uid_t>(archive_entry_uid(e)),
                   static_cast<gid_t>(archive_entry_gid(e)), flags);
}

Status Extractor::Add(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  std::string shown = std::string("entry \"") + (raw ? raw : "") + "\"";
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> comps, SplitEntryPath(raw, "entry"));
  mode_t type = archive_entry_filetype(e);
  const char* hardlink = archive_entry_hardlink(e);
  if (comps.empty()) return Status::Ok();  // the layer root itself

  BERTH_ASSIGN_OR_RETURN(Fd parent, OpenParent(comps, true, shown));
  const std::string& leaf = comps.back();
  mode_t perm = archive_entry_perm(e) & 07777;
  timespec times[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                       {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
  if (!archive_entry_atime_is_set(e)) times[0] = times[1];

  if (opts_.overlay_whiteouts && leaf.rfind(".wh.", 0) == 0) {
    if (leaf == ".wh..wh..opq") {
      if (::fsetxattr(parent.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
        return ErrnoStatus("set trusted.overlay.opaque on \"" + Join(comps, comps.size() - 1) + "\"");
      }
      return Status::Ok();
    }
    std::string name = leaf.substr(4);
    if (name.empty() || name == "." || name == "..") return Invalid(shown + " is a malformed whiteout");
    BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), name));
    if (::mknodat(parent.get(), name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return ErrnoStatus("whiteout " + shown);
    }
    return Status::Ok();
  }

  if (hardlink != nullptr) {
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> target, SplitEntryPath(hardlink, "hardlink target"));
    std::string tshown = "hardlink " + shown + " -> \"" + hardlink + "\"";
    if (target.empty()) return Invalid(tshown + " points at the layer root");
    BERTH_ASSIGN_OR_RETURN(Fd tparent, OpenParent(target, false, tshown));
    struct stat st;
    if (::fstatat(tparent.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Invalid(tshown + ": target does not exist in the layer");
    }
    if (S_ISDIR(st.st_mode)) return Invalid(tshown + ": target is a directory");
    if (target == comps) return Status::Ok();
    BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), leaf));
    if (::linkat(tparent.get(), target.back().c_str(), parent.get(), leaf.c_str(), 0) != 0) {
      return ErrnoStatus("link " + shown);
    }
    return Status::Ok();
  }

  switch (type) {
    case AE_IFDIR: {
      struct stat st;
      if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
        BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), leaf));
      }
      if (::mkdirat(parent.get(), leaf.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus("mkdir " + shown);
      }
      Fd d(::openat(parent.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d.valid()) return ErrnoStatus("open " + shown);
      Chown(d.get(), "", e, AT_EMPTY_PATH);
      ::fchmod(d.get(), perm);
      SetXattrs(e, d.get());
      dirs_.push_back({comps, {times[0], times[1]}});
      return Status::Ok();
    }
    case AE_IFREG: {
      BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), leaf));
      Fd f(::openat(parent.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f.valid()) return ErrnoStatus("create " + shown);
      BERTH_RETURN_IF_ERROR(WriteData(a, f.get(), shown));
      if (::ftruncate(f.get(), archive_entry_size(e)) != 0) return ErrnoStatus("truncate " + shown);
      Chown(f.get(), "", e, AT_EMPTY_PATH);
      ::fchmod(f.get(), perm);  // after chown, which clears set-id bits
      SetXattrs(e, f.get());
      ::futimens(f.get(), times);
      return Status::Ok();
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr) return Invalid(shown + " is a symlink without a target");
      BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), leaf));
      // The target is stored as is: it is only ever resolved inside the
      // container's root, and the unpacker never follows it.
      if (::symlinkat(target, parent.get(), leaf.c_str()) != 0) return ErrnoStatus("symlink " + shown);
      Chown(parent.get(), leaf.c_str(), e, AT_SYMLINK_NOFOLLOW);
      ::utimensat(parent.get(), leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return Status::Ok();
    }
    case AE_IFIFO: {
      BERTH_RETURN_IF_ERROR(RemoveAt(parent.get(), leaf));
      if (::mknodat(parent.get(), leaf.c_str(), S_IFIFO | perm, 0) != 0) return ErrnoStatus("mkfifo " + shown);
      Chown(parent.get(), leaf.c_str(), e, AT_SYMLINK_NOFOLLOW);
      ::fchmodat(parent.get(), leaf.c_str(), perm, 0);
      ::utimensat(parent.get(), leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return Status::Ok();
    }
    default:
      // Device nodes come from the runtime's /dev, never from an image;
      // sockets cannot be archived meaningfully.
      return Status::Ok();
  }
}

void Extractor::Finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    std::vector<std::string> with_leaf = it->comps;
    with_leaf.push_back(".");  // OpenParent opens every component but the last
    auto d = OpenParent(with_leaf, false, "");
    if (d.ok()) ::futimens(d->get(), it->times);
  }
}

}  // namespace

Status UnpackTar(const std::string& archive_path, const std::string& dest, const UnpackOptions& opts,
                 const std::function<void(int64_t)>& progress) {
  Fd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus("open " + dest);
  ArchiveReader a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "open " + archive_path);
  }
  Extractor x(root.get(), opts);
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ArchiveError(a.get(), "read " + archive_path);
    BERTH_RETURN_IF_ERROR(x.Add(a.get(), e));
    if (progress) progress(archive_filter_bytes(a.get(), -1));
  }
  x.Finish();
  return Status::Ok();
}

// ---- packing ------------------------------------------------------------------

namespace {

// Feeds the same entries to two archive writers: the gzip one produces the
// blob, the uncompressed one only its digest (the diffID).
class TwinWriter {
 public:
  TwinWriter(const std::function<Status(std::string_view)>& sink) : sink_(sink) {}

  Status Open() {
    gz_.reset(archive_write_new());
    raw_.reset(archive_write_new());
    for (archive* a : {gz_.get(), raw_.get()}) {
      archive_write_set_format_pax_restricted(a);
      // No padding beyond the tar end blocks, so the diffID is what
      // `tar c | sha256sum` of the same entries gives.
      archive_write_set_bytes_in_last_block(a, 1);
    }
    archive_write_add_filter_gzip(gz_.get());
    // A gzip header carries a timestamp by default; without it the blob is
    // the same for the same tree.
    archive_write_set_filter_option(gz_.get(), "gzip", "timestamp", nullptr);
    if (archive_write_open(gz_.get(), this, nullptr, &TwinWriter::GzWrite, nullptr) != ARCHIVE_OK) {
      return ArchiveError(gz_.get(), "tar writer");
    }
    if (archive_write_open(raw_.get(), this, nullptr, &TwinWriter::RawWrite, nullptr) != ARCHIVE_OK) {
      return ArchiveError(raw_.get(), "tar writer");
    }
    return Status::Ok();
  }
  Status Header(archive_entry* e) {
    for (archive* a : {gz_.get(), raw_.get()}) {
      if (archive_write_header(a, e) != ARCHIVE_OK) return Failed(a, "write header");
    }
    return Status::Ok();
  }
  Status Data(const char* p, size_t n) {
    for (archive* a : {gz_.get(), raw_.get()}) {
      if (archive_write_data(a, p, n) < 0) return Failed(a, "write data");
    }
    return Status::Ok();
  }
  Result<std::string> Close() {
    for (archive* a : {gz_.get(), raw_.get()}) {
      if (archive_write_close(a) != ARCHIVE_OK) return Failed(a, "close");
    }
    return diff_.Digest();
  }

 private:
  Status Failed(archive* a, const std::string& what) {
    if (!sink_status_.ok()) return sink_status_;
    return ArchiveError(a, what);
  }
  static la_ssize_t GzWrite(archive*, void* self, const void* buf, size_t n) {
    auto* t = static_cast<TwinWriter*>(self);
    Status st = t->sink_(std::string_view(static_cast<const char*>(buf), n));
    if (!st.ok()) {
      t->sink_status_ = st;
      return -1;
    }
    return static_cast<la_ssize_t>(n);
  }
  static la_ssize_t RawWrite(archive*, void* self, const void* buf, size_t n) {
    static_cast<TwinWriter*>(self)->diff_.Update(std::string_view(static_cast<const char*>(buf), n));
    return static_cast<la_ssize_t>(n);
  }

  const std::function<Status(std::string_view)>& sink_;
  Status sink_status_;
  Sha256 diff_;
  ArchiveWriter gz_, raw_;
};

struct PackState {
  TwinWriter* w;
  std::map<std::pair<dev_t, ino_t>, std::string> links;  // first path of each multiply-linked file
};

Status PackTree(PackState& s, const std::string& abs, const std::string& rel) {
  std::vector<std::string> names;
  {
    DIR* d = ::opendir(abs.c_str());
    if (d == nullptr) return ErrnoStatus("open directory " + abs);
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string path = abs + "/" + n;
    std::string name = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("stat " + path);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      continue;  // devices and sockets
    }
    Entry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtime, 0);
    bool data = false;
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = ::readlink(path.c_str(), target.data(), target.size());
      if (len < 0) return ErrnoStatus("readlink " + path);
      target.resize(static_cast<size_t>(len));
      archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISREG(st.st_mode)) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto it = st.st_nlink > 1 ? s.links.find(key) : s.links.end();
      if (it != s.links.end()) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
      } else {
        if (st.st_nlink > 1) s.links.emplace(key, name);
        archive_entry_set_size(e.get(), st.st_size);
        data = true;
      }
    }
    BERTH_RETURN_IF_ERROR(s.w->Header(e.get()));
    if (data) {
      Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!f.valid()) return ErrnoStatus("open " + path);
      char buf[1 << 16];
      int64_t left = st.st_size;
      while (left > 0) {
        ssize_t n = ::read(f.get(), buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus("read " + path);
        if (n == 0) return Internal(path + " shrank while it was being packed");
        BERTH_RETURN_IF_ERROR(s.w->Data(buf, static_cast<size_t>(n)));
        left -= n;
      }
    }
    if (S_ISDIR(st.st_mode)) BERTH_RETURN_IF_ERROR(PackTree(s, path, name));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> PackDirectory(const std::string& dir,
                                  const std::function<Status(std::string_view)>& sink) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("no such directory: " + dir);
    return ErrnoStatus("stat " + dir);
  }
  if (!S_ISDIR(st.st_mode)) return BadRequest(dir + " is not a directory");
  TwinWriter w(sink);
  BERTH_RETURN_IF_ERROR(w.Open());
  PackState s{&w, {}};
  BERTH_RETURN_IF_ERROR(PackTree(s, dir, ""));
  return w.Close();
}

}  // namespace berth::images
