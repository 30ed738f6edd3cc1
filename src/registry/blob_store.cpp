#include "registry/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fd.h"
#include "core/file.h"

namespace berth::registry {
namespace {

Status Errno(const std::string& what) { return Internal(what + ": " + std::strerror(errno)); }

class FsReader : public BlobReader {
 public:
  FsReader(int fd, int64_t size) : fd_(fd), size_(size) {}
  int64_t size() const override { return size_; }
  Result<size_t> ReadAt(int64_t offset, char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::pread(fd_.get(), buf, n, offset);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return Errno("read blob");
    }
  }

 private:
  Fd fd_;
  int64_t size_;
};

// Appends to an upload. Every kWriteback bytes it asks the kernel to start
// writing them out, so that the fdatasync before the upload is acknowledged
// finds little left to do instead of a whole layer.
class FsWriter : public UploadWriter {
 public:
  explicit FsWriter(int fd) : fd_(fd) {
    struct stat st {};
    if (::fstat(fd, &st) == 0) synced_ = written_ = st.st_size;
  }
  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write upload");
      }
      data.remove_prefix(static_cast<size_t>(n));
      written_ += n;
    }
    if (written_ - synced_ >= kWriteback) {
      ::sync_file_range(fd_.get(), synced_, written_ - synced_, SYNC_FILE_RANGE_WRITE);
      synced_ = written_;
    }
    return Status::Ok();
  }
  Result<int64_t> Flush() override {
    if (::fdatasync(fd_.get()) != 0) return Errno("sync upload");
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return Errno("stat upload");
    return static_cast<int64_t>(st.st_size);
  }

 private:
  static constexpr off_t kWriteback = 8 << 20;
  Fd fd_;
  off_t written_ = 0, synced_ = 0;
};

bool SafeId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

class FsBlobStore : public BlobStore {
 public:
  explicit FsBlobStore(std::string root) : root_(std::move(root)) {}

  Result<int64_t> Stat(const Digest& d) override {
    struct stat st {};
    if (::stat(BlobPath(d).c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("blob " + d.str() + " not found");
      return Errno("stat blob");
    }
    return static_cast<int64_t>(st.st_size);
  }

  Result<std::unique_ptr<BlobReader>> Open(const Digest& d) override {
    int fd = ::open(BlobPath(d).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("blob " + d.str() + " not found");
      return Errno("open blob");
    }
    struct stat st {};
    ::fstat(fd, &st);
    return std::unique_ptr<BlobReader>(new FsReader(fd, st.st_size));
  }

  Result<int64_t> Delete(const Digest& d) override {
    std::string path = BlobPath(d);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return int64_t{0};
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove blob");
    return static_cast<int64_t>(st.st_size);
  }

  Result<std::vector<Entry>> List() override {
    std::vector<Entry> out;
    for (const char* alg : {"sha256", "sha512"}) {
      std::string base = root_ + "/blobs/" + alg;
      for (const std::string& prefix : Entries(base)) {
        for (const std::string& hex : Entries(base + "/" + prefix)) {
          if (hex.find('.') != std::string::npos) continue;  // a temp file of Put
          struct stat st {};
          if (::stat((base + "/" + prefix + "/" + hex).c_str(), &st) != 0) continue;
          out.push_back(Entry{Digest{alg, hex}, int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000});
        }
      }
    }
    return out;
  }

  Status CreateUpload(const std::string& id) override {
    if (!SafeId(id)) return BadRequest("invalid upload id");
    BERTH_RETURN_IF_ERROR(MakeDirs(root_ + "/uploads", 0700));
    int fd = ::open(UploadPath(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create upload");
    ::close(fd);
    return Status::Ok();
  }

  Result<int64_t> UploadSize(const std::string& id) override {
    struct stat st {};
    if (!SafeId(id) || ::stat(UploadPath(id).c_str(), &st) != 0) return NotFound("upload not found");
    return static_cast<int64_t>(st.st_size);
  }

  Result<std::unique_ptr<UploadWriter>> AppendUpload(const std::string& id) override {
    if (!SafeId(id)) return NotFound("upload not found");
    int fd = ::open(UploadPath(id).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("upload not found");
      return Errno("open upload");
    }
    return std::unique_ptr<UploadWriter>(new FsWriter(fd));
  }

  Status TruncateUpload(const std::string& id, int64_t size) override {
    if (!SafeId(id)) return NotFound("upload not found");
    if (::truncate(UploadPath(id).c_str(), size) != 0) return Errno("truncate upload");
    return Status::Ok();
  }

  Result<std::string> HashUpload(const std::string& id, std::string_view algorithm) override {
    if (!SafeId(id)) return NotFound("upload not found");
    int raw = ::open(UploadPath(id).c_str(), O_RDONLY | O_CLOEXEC);
    if (raw < 0) return NotFound("upload not found");
    Fd fd(raw);
    Hasher h(algorithm);
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read upload");
      if (n == 0) break;
      h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    return h.Finish();
  }

  Status CommitUpload(const std::string& id, const Digest& d) override {
    if (!SafeId(id)) return NotFound("upload not found");
    std::string path = BlobPath(d);
    std::string dir = path.substr(0, path.rfind('/'));
    BERTH_RETURN_IF_ERROR(MakeDirs(dir, 0700));
    if (::rename(UploadPath(id).c_str(), path.c_str()) != 0) return Errno("commit upload");
    // The rename is durable once its directory is.
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  }

  Status DeleteUpload(const std::string& id) override {
    if (!SafeId(id)) return NotFound("upload not found");
    if (::unlink(UploadPath(id).c_str()) != 0) {
      if (errno == ENOENT) return NotFound("upload not found");
      return Errno("remove upload");
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListUploads() override { return Entries(root_ + "/uploads"); }

 private:
  std::string BlobPath(const Digest& d) const {
    return root_ + "/blobs/" + d.algorithm + "/" + d.hex.substr(0, 2) + "/" + d.hex;
  }
  std::string UploadPath(const std::string& id) const { return root_ + "/uploads/" + id; }

  static std::vector<std::string> Entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      out.emplace_back(e->d_name);
    }
    ::closedir(d);
    return out;
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<BlobStore> NewFsBlobStore(const std::string& root) {
  return std::make_unique<FsBlobStore>(root);
}

}  // namespace berth::registry
