// Containers through an OCI runtime (crun; runc as fallback), as a CRI runtime
// would run them: an OCI bundle (config.json) generated from a ContainerConfig,
// a per-container shim process (berth-shim, src/shim/, like conmon) that owns the
// container's stdio, writes its log in the CRI format and records its exit, so
// containers outlive a restart of the agent and are adopted afterwards.
//
// On disk, per container, under `dir`: config.json, shim.pid, container.pid,
// started (the start time, once started), exit.json (once exited), and the log
// at `log_path`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::node {

struct RuntimeOptions {
  std::string state_root = "/run/berth/runtime";  // the OCI runtime's --root
  std::string preferred = "crun";                 // "crun" or "runc"
  std::string shim;  // the berth-shim program; default: next to this binary, else on PATH
};

struct BindMount {
  std::string source, destination;
  bool read_only = false;
  std::string type = "bind";           // "bind" or "tmpfs"
  std::vector<std::string> options;    // extra options (e.g. "size=64m" for tmpfs)
};

struct ContainerConfig {
  std::string id;          // unique on the node, [a-z0-9-]
  std::string dir;         // bundle dir (created)
  std::string rootfs;      // prepared root (an overlay mount point)
  std::string log_path;    // CRI-format log file
  std::vector<std::string> args, env;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> supplementary_gids;
  std::string hostname;
  std::string netns_path;  // joined; empty = a fresh network namespace
  bool read_only_rootfs = false;
  bool privileged = false;
  bool no_new_privileges = true;
  std::vector<std::string> cap_add, cap_drop;  // names without CAP_, or "ALL"
  std::vector<BindMount> mounts;
  std::string cgroup_parent;  // e.g. "/berth/pod<uid>"; the container gets <parent>/<id>
  int64_t memory_limit = 0;   // bytes, 0 = none
  int64_t cpu_quota_us = 0, cpu_period_us = 100000, cpu_shares = 0;
  int64_t pids_limit = 0;
  bool seccomp_default = true;  // the default deny-list profile (RuntimeDefault)
  int oom_score_adj = 0;
};

struct ContainerState {
  enum Phase { kUnknown, kCreated, kRunning, kExited } phase = kUnknown;
  pid_t pid = 0;       // the container's init process (host pid)
  pid_t shim_pid = 0;  // its shim; exits after recording the exit
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;
  std::string reason;  // for create failures: why
  int64_t started_unix_nanos = 0, finished_unix_nanos = 0;
};

class Runtime {
 public:
  // Finds crun or runc, and makes the host's cgroups usable by it (see
  // FixHybridCgroups). Fails if neither runtime works.
  static Result<std::unique_ptr<Runtime>> Open(const RuntimeOptions& opts);

  const std::string& name() const { return name_; }
  const std::string& binary() const { return binary_; }

  // Writes the bundle and starts the container through a shim; returns once
  // the container runs (or with the runtime's error if it could not start).
  Status Start(const ContainerConfig& c);
  // Reads the state from the container's dir (no runtime call).
  ContainerState State(const std::string& dir) const;
  // Signals the container's init process.
  Status Kill(const std::string& id, const std::string& dir, int signal);
  // Removes the runtime's record and the cgroup (the container must be gone).
  Status Delete(const std::string& id);
  // Reaps exited shims that are our children (call now and then).
  void ReapShims();
  // argv to exec a process in a running container, for exec and probes.
  std::vector<std::string> ExecArgv(const std::string& id, const std::vector<std::string>& cmd, bool tty) const;
  // Runs a command in the container, collecting output; kills it after timeout.
  struct ExecResult {
    int exit_code = -1;
    std::string output;
    bool timed_out = false;
  };
  Result<ExecResult> Exec(const std::string& id, const std::vector<std::string>& cmd, int timeout_ms) const;

  // Ids the runtime knows (for orphan cleanup after a crash).
  std::vector<std::string> ListIds() const;

 private:
  Runtime() = default;
  std::vector<std::string> Base() const;
  RuntimeOptions opts_;
  std::string name_, binary_;
  std::mutex mu_;
  std::set<pid_t> shims_;  // started by this process and not yet reaped
};

// crun refuses hybrid cgroups while the v2 hierarchy holds a controller
// (here: hugetlb). Mounting a v1 hugetlb hierarchy moves the controller out of
// v2. Returns a note of what was done ("" if nothing was needed).
Result<std::string> FixHybridCgroups();

// Makes `dir` a tmpfs mount (mount options `opts`) unless it is on one
// already, as it is when it lies under a tmpfs /run. Creates it first.
Status EnsureTmpfs(const std::string& dir, const std::string& opts);
// Unmounts the tmpfs EnsureTmpfs put at `dir` and removes `dir`, if it holds
// nothing (the runtime's state directory once its containers are gone).
void RemoveTmpfsIfEmpty(const std::string& dir);

}  // namespace berth::node
