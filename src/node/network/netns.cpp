#include "node/network/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/file.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

namespace berth::node::network {
namespace {

std::string Errno(const std::string& what) { return what + ": " + strerror(errno); }

// Makes `dir` a shared mount point, bind-mounting it on itself first if it is
// not a mount point yet (what `ip netns add` does for /run/netns).
Status EnsureSharedDir(const std::string& dir) {
  static std::mutex mu;
  static std::set<std::string> done;
  std::lock_guard<std::mutex> l(mu);
  if (done.count(dir)) return Status::Ok();
  BERTH_RETURN_IF_ERROR(MakeDirs(dir, 0755));
  BERTH_ASSIGN_OR_RETURN(std::string mi, ReadFile("/proc/self/mountinfo"));
  bool is_mount = false;
  std::istringstream lines(mi);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string id, parent, devno, root, mnt;
    f >> id >> parent >> devno >> root >> mnt;
    if (mnt == dir) is_mount = true;
  }
  if (!is_mount && mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
    return Internal(Errno("bind " + dir));
  if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0)
    return Internal(Errno("make-shared " + dir));
  done.insert(dir);
  return Status::Ok();
}

}  // namespace

bool IsNetnsMounted(const std::string& path) {
  struct statfs sf;
  if (statfs(path.c_str(), &sf) != 0) return false;
  return static_cast<unsigned long>(sf.f_type) == NSFS_MAGIC;
}

Result<std::string> CreateNetns(const std::string& dir, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return BadRequest("invalid netns name: " + name);
  BERTH_RETURN_IF_ERROR(EnsureSharedDir(dir));
  std::string path = dir + "/" + name;
  if (IsNetnsMounted(path)) return AlreadyExists("netns exists: " + path);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) return Internal(Errno("create " + path));
  close(fd);

  // unshare(CLONE_NEWNET) changes only the calling thread's namespace, so a
  // short-lived thread does it and the process's other threads never notice.
  Status st;
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      st = Internal(Errno("unshare(CLONE_NEWNET)"));
      return;
    }
    std::string self = "/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/ns/net";
    if (mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0)
      st = Internal(Errno("bind " + self + " on " + path));
  });
  t.join();
  if (!st.ok()) {
    unlink(path.c_str());
    return st;
  }
  return path;
}

Status DeleteNetns(const std::string& path) {
  // Detach: a plugin or probe may still hold the namespace; the kernel frees
  // it when the last user goes.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return Internal(Errno("umount " + path));
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Internal(Errno("unlink " + path));
  return Status::Ok();
}

std::vector<std::string> ListNetns(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

Status InNetns(const std::string& path, const std::function<Status()>& fn) {
  Status st;
  std::thread t([&] {
    ScopedNetnsEnter enter(path);
    st = enter.status().ok() ? fn() : enter.status();
  });
  t.join();
  return st;
}

Status SetLoopbackUp(const std::string& path) {
  return InNetns(path, [] {
    // The socket belongs to the namespace it was created in; the ioctl acts there.
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Internal(Errno("socket"));
    Status st;
    ifreq ifr{};
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
      st = Internal(Errno("SIOCGIFFLAGS lo"));
    } else if (!(ifr.ifr_flags & IFF_UP)) {
      ifr.ifr_flags |= IFF_UP;
      if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) st = Internal(Errno("SIOCSIFFLAGS lo"));
    }
    close(fd);
    return st;
  });
}

Result<Netns> Netns::Create(const std::string& dir, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(std::string p, CreateNetns(dir, name));
  Netns n;
  n.path_ = std::move(p);
  return n;
}

Netns::~Netns() { (void)Delete(); }
Netns::Netns(Netns&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    (void)Delete();
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

std::string Netns::Release() {
  std::string p = std::move(path_);
  path_.clear();
  return p;
}

Status Netns::Delete() {
  if (path_.empty()) return Status::Ok();
  Status st = DeleteNetns(path_);
  path_.clear();
  return st;
}

ScopedNetnsEnter::ScopedNetnsEnter(const std::string& path) {
  saved_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_fd_ < 0) {
    status_ = Internal(Errno("open own netns"));
    return;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    status_ = Internal(Errno("open " + path));
    return;
  }
  if (setns(fd, CLONE_NEWNET) != 0) status_ = Internal(Errno("setns " + path));
  close(fd);
}

ScopedNetnsEnter::~ScopedNetnsEnter() {
  if (saved_fd_ >= 0) {
    (void)setns(saved_fd_, CLONE_NEWNET);
    close(saved_fd_);
  }
}

}  // namespace berth::node::network
