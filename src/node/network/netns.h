// Named network namespaces, made the way `ip netns add` makes them: a thread
// unshares CLONE_NEWNET and its /proc/self/task/TID/ns/net is bind-mounted on a
// file in a directory that is a shared mount point (so containers' private
// mount namespaces see the unmount and do not pin the namespace).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::node::network {

inline constexpr const char* kDefaultNetnsDir = "/run/berth/netns";

// Creates <dir>/<name> holding a fresh network namespace whose loopback is
// down. AlreadyExists if a namespace is mounted there already.
Result<std::string> CreateNetns(const std::string& dir, const std::string& name);
// Unmounts and removes a namespace file. OK if it does not exist.
Status DeleteNetns(const std::string& path);
// Names of the entries of `dir` (empty if the directory does not exist).
std::vector<std::string> ListNetns(const std::string& dir);
// True if `path` is a mounted network namespace (nsfs), not just a file.
bool IsNetnsMounted(const std::string& path);

// Runs `fn` on a short-lived thread inside the namespace at `path` and
// returns its Status: sockets it opens (netlink, ioctl) act in that
// namespace, and no other thread of the process changes namespace.
Status InNetns(const std::string& path, const std::function<Status()>& fn);

// Sets `lo` up inside the namespace at `path` (what the CNI loopback plugin
// does, without exec'ing a Go binary on the pod start path).
Status SetLoopbackUp(const std::string& path);

// Owns a named namespace: deletes it on destruction unless released.
class Netns {
 public:
  Netns() = default;
  static Result<Netns> Create(const std::string& dir, const std::string& name);
  ~Netns();
  Netns(Netns&& o) noexcept;
  Netns& operator=(Netns&& o) noexcept;
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& path() const { return path_; }
  std::string Release();  // keeps the namespace, returns its path
  Status Delete();

 private:
  std::string path_;
};

// Moves the calling thread into a namespace for the object's lifetime and back
// on destruction. Only the calling thread changes namespace; use it on a
// dedicated thread (a test server, a probe) rather than a shared pool thread.
class ScopedNetnsEnter {
 public:
  explicit ScopedNetnsEnter(const std::string& path);
  ~ScopedNetnsEnter();
  ScopedNetnsEnter(const ScopedNetnsEnter&) = delete;
  ScopedNetnsEnter& operator=(const ScopedNetnsEnter&) = delete;
  const Status& status() const { return status_; }

 private:
  int saved_fd_ = -1;
  Status status_;
};

}  // namespace berth::node::network
