#include "node/runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "node/process.h"

namespace berth::node {
namespace {

// Docker's and containerd's default capability set.
const char* const kDefaultCaps[] = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                                    "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                                    "AUDIT_WRITE"};
const char* const kAllCaps[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE"};

// The RuntimeDefault seccomp profile: allow by default, refuse the system calls
// that reach beyond a container (module loading, kexec, mounts, namespaces of
// the host, keyrings, clocks, tracing of other processes...). A deny list keeps
// it correct on any architecture the runtime supports.
const char* const kDeniedSyscalls[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
    "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
    "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "personality", "pivot_root", "process_vm_readv",
    "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
    "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "syslog", "_sysctl",
    "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old"};

Json Caps(const ContainerConfig& c) {
  std::vector<std::string> caps;
  if (c.privileged) {
    caps.assign(std::begin(kAllCaps), std::end(kAllCaps));
  } else {
    bool drop_all = false;
    for (const auto& d : c.cap_drop) drop_all |= (d == "ALL");
    if (!drop_all) caps.assign(std::begin(kDefaultCaps), std::end(kDefaultCaps));
    for (const auto& d : c.cap_drop) caps.erase(std::remove(caps.begin(), caps.end(), d), caps.end());
    for (const auto& a : c.cap_add) {
      if (a == "ALL") {
        caps.assign(std::begin(kAllCaps), std::end(kAllCaps));
        break;
      }
      if (std::find(caps.begin(), caps.end(), a) == caps.end()) caps.push_back(a);
    }
  }
  Json list = Json::array();
  for (const auto& cap : caps) list.push_back("CAP_" + cap);
  // Effective and permitted only for root: a non-root process keeps none
  // unless it execs a file with capabilities (ambient stays empty).
  Json j = {{"bounding", list}, {"permitted", list}, {"effective", list}};
  if (c.uid != 0) {
    j["permitted"] = Json::array();
    j["effective"] = Json::array();
  }
  return j;
}

Json OciConfig(const ContainerConfig& c) {
  Json mounts = Json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
  for (const auto& m : c.mounts) {
    Json opts = Json::array();
    if (m.type == "bind") {
      opts = {"rbind", m.read_only ? "ro" : "rw", "nosuid", "nodev"};
    } else {
      opts = {"nosuid", "nodev", m.read_only ? "ro" : "rw"};
    }
    for (const auto& o : m.options) opts.push_back(o);
    mounts.push_back({{"destination", m.destination},
                      {"type", m.type},
                      {"source", m.type == "bind" ? m.source : m.type},
                      {"options", opts}});
  }
  Json env = c.env;
  Json user = {{"uid", c.uid}, {"gid", c.gid}};
  if (!c.supplementary_gids.empty()) user["additionalGids"] = c.supplementary_gids;
  Json process = {{"terminal", false},
                  {"user", user},
                  {"args", c.args},
                  {"env", env},
                  {"cwd", c.cwd.empty() ? "/" : c.cwd},
                  {"capabilities", Caps(c)},
                  {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1048576 > 20000 ? 20000 : 1048576}, {"soft", 20000}}}},
                  {"noNewPrivileges", c.no_new_privileges && !c.privileged},
                  {"oomScoreAdj", c.oom_score_adj}};
  Json ns = Json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}, {{"type", "cgroup"}}});
  if (c.netns_path.empty()) ns.push_back({{"type", "network"}});
  else ns.push_back({{"type", "network"}, {"path", c.netns_path}});
  Json resources = Json::object();
  resources["devices"] = {{{"allow", false}, {"access", "rwm"}}};
  if (c.memory_limit > 0) resources["memory"] = {{"limit", c.memory_limit}, {"swap", c.memory_limit}};
  Json cpu = Json::object();
  if (c.cpu_shares > 0) cpu["shares"] = c.cpu_shares;
  if (c.cpu_quota_us > 0) {
    cpu["quota"] = c.cpu_quota_us;
    cpu["period"] = c.cpu_period_us;
  }
  if (!cpu.empty()) resources["cpu"] = cpu;
  if (c.pids_limit > 0) resources["pids"] = {{"limit", c.pids_limit}};
  Json linux_ = {{"namespaces", ns},
                 {"resources", resources},
                 {"cgroupsPath", c.cgroup_parent + "/" + c.id}};
  if (!c.privileged) {
    linux_["maskedPaths"] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                             "/proc/scsi", "/sys/devices/virtual/powercap"};
    linux_["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    if (c.seccomp_default) {
      Json names = Json::array();
      for (const char* s : kDeniedSyscalls) names.push_back(s);
      linux_["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                           {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                           {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
    }
  }
  return {{"ociVersion", "1.0.2"},
          {"process", process},
          {"root", {{"path", c.rootfs}, {"readonly", c.read_only_rootfs}}},
          {"hostname", c.hostname},
          {"mounts", mounts},
          {"linux", linux_}};
}

Status WriteSmallFile(const std::string& path, const std::string& data) {
  // Bundle files are rewritten on every start and live with the container: no
  // fsync (a crash loses the container anyway), but never half-written.
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("open " + tmp + ": " + strerror(errno));
  ssize_t n = ::write(fd, data.data(), data.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) return Internal("write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("rename " + tmp + ": " + strerror(errno));
  return Status::Ok();
}

bool ProcessAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// The shim of `dir` is alive: the pid exists and is still that shim (pids are
// reused after a reboot or a long time).
bool ShimAlive(pid_t pid, const std::string& dir) {
  if (!ProcessAlive(pid)) return false;
  auto cmd = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmd.ok()) return false;
  std::replace(cmd->begin(), cmd->end(), '\0', ' ');
  return cmd->find(" --dir " + dir + " ") != std::string::npos;
}

pid_t ReadPid(const std::string& path) {
  auto s = ReadFile(path);
  if (!s.ok()) return 0;
  return static_cast<pid_t>(atol(s->c_str()));
}

// Starts the shim: stdin /dev/null (or `stdin_fd`), stdout+stderr into a
// pipe, and `extra_fd` as its fd 3 (the start report). posix_spawn (vfork
// semantics) rather than fork: copying the page tables of the whole server
// for every container cost several milliseconds of pod start.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int* out_fd, int extra_fd = -1, int stdin_fd = -1) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + strerror(errno));
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (stdin_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  if (extra_fd >= 0) posix_spawn_file_actions_adddup2(&fa, extra_fd, 3);  // the copy is not close-on-exec
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);  // the server ignores it; the shim must not inherit that
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc;
  {
    auto lock = SpawnLock();
    rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
    if (rc == 0) TrackChild(pid);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return Internal("spawn " + argv[0] + ": " + strerror(rc));
  }
  *out_fd = p[0];
  return pid;
}

}  // namespace

Result<std::string> FixHybridCgroups() {
  auto ctrls = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  if (!ctrls.ok()) return std::string();  // not hybrid (pure v1 or pure v2)
  std::string c = *ctrls;
  while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.pop_back();
  if (c.empty()) return std::string();
  // Each controller still in v2 gets its own v1 hierarchy, which takes it out of v2.
  std::string done;
  size_t i = 0;
  while (i < c.size()) {
    size_t j = c.find(' ', i);
    if (j == std::string::npos) j = c.size();
    std::string ctrl = c.substr(i, j - i);
    i = j + 1;
    std::string dir = "/sys/fs/cgroup/" + ctrl;
    BERTH_RETURN_IF_ERROR(MakeDirs(dir, 0755));
    if (::mount("cgroup", dir.c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, ctrl.c_str()) != 0 && errno != EBUSY)
      return Internal("mount cgroup v1 " + ctrl + ": " + strerror(errno));
    done += (done.empty() ? "" : ",") + ctrl;
  }
  return "moved " + done + " from the cgroup v2 tree to v1 hierarchies (hybrid cgroups)";
}

Status EnsureTmpfs(const std::string& dir, const std::string& opts) {
  BERTH_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  struct statfs sf;
  if (statfs(dir.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == TMPFS_MAGIC) return Status::Ok();
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
    return Internal("mount tmpfs at " + dir + ": " + strerror(errno));
  return Status::Ok();
}

void RemoveTmpfsIfEmpty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  bool empty = true;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = false;
  closedir(d);
  if (!empty) return;
  struct statfs sf;
  if (statfs(dir.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == TMPFS_MAGIC)
    umount2(dir.c_str(), MNT_DETACH);  // ours, or /run's (then EINVAL: not a mount point)
  rmdir(dir.c_str());
}

Result<std::unique_ptr<Runtime>> Runtime::Open(const RuntimeOptions& opts) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->opts_ = opts;
  // The runtime's state is small and per boot; on disk it would cost inode
  // allocations on every container start.
  BERTH_RETURN_IF_ERROR(EnsureTmpfs(opts.state_root, "mode=0700,size=32m"));
  auto fix = FixHybridCgroups();
  if (!fix.ok()) log::Warn("cannot adjust hybrid cgroups", log::Fields()("err", fix.status().ToString()));
  else if (!fix->empty()) log::Info("cgroups", log::Fields()("note", *fix));
  if (rt->opts_.shim.empty()) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
    dir = dir.substr(0, dir.rfind('/'));
    rt->opts_.shim = access((dir + "/berth-shim").c_str(), X_OK) == 0 ? dir + "/berth-shim" : "berth-shim";
  }
  std::vector<std::string> order = {opts.preferred, opts.preferred == "crun" ? "runc" : "crun"};
  for (const auto& name : order) {
    for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/"}) {
      std::string bin = std::string(dir) + name;
      if (access(bin.c_str(), X_OK) != 0) continue;
      rt->name_ = name;
      rt->binary_ = bin;
      return rt;
    }
  }
  return Status(Code::kUnavailable, "no OCI runtime found (install crun or runc)");
}

std::vector<std::string> Runtime::Base() const {
  std::vector<std::string> v = {binary_, "--root", opts_.state_root};
  if (name_ == "crun") v.push_back("--cgroup-manager=cgroupfs");
  return v;
}

Status Runtime::Start(const ContainerConfig& c) {
  BERTH_RETURN_IF_ERROR(MakeDirs(c.dir, 0700));
  for (const char* f : {"/exit.json", "/started", "/container.pid", "/shim.pid"}) ::unlink((c.dir + f).c_str());
  BERTH_RETURN_IF_ERROR(WriteSmallFile(c.dir + "/config.json", OciConfig(c).dump()));
  // The shim reports "ok\n" or "error <message>\n" on fd 3 once the container
  // started or failed, then closes it.
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) return Internal("pipe");
  std::vector<std::string> argv = {opts_.shim, "--id", c.id, "--dir", c.dir, "--log", c.log_path,
                                   "--runtime", binary_, "--root", opts_.state_root,
                                   "--cgroup", c.cgroup_parent + "/" + c.id};
  if (name_ == "crun") argv.push_back("--crun");
  int out = -1;
  auto pid = Spawn(argv, &out, sync[1]);
  close(sync[1]);
  if (!pid.ok()) {
    close(sync[0]);
    return pid.status();
  }
  close(out);  // the shim's own stdout/stderr: it reports on fd 3 instead
  {
    std::lock_guard<std::mutex> l(mu_);
    shims_.insert(*pid);
  }
  WriteSmallFile(c.dir + "/shim.pid", std::to_string(*pid));
  std::string msg;
  char buf[4096];
  for (;;) {
    pollfd pfd{sync[0], POLLIN, 0};
    int pr = poll(&pfd, 1, 60000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;
    ssize_t n = read(sync[0], buf, sizeof buf);
    if (n <= 0) break;
    msg.append(buf, n);
  }
  close(sync[0]);
  if (msg.rfind("ok", 0) == 0) return Status::Ok();
  if (msg.rfind("error ", 0) == 0) {
    msg = msg.substr(6);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status(Code::kInternal, msg);
  }
  return Internal("the container shim exited without starting the container");
}

ContainerState Runtime::State(const std::string& dir) const {
  ContainerState st;
  auto exit = ReadFile(dir + "/exit.json");
  if (exit.ok()) {
    auto j = ParseJson(*exit);
    if (j.ok()) {
      st.phase = ContainerState::kExited;
      st.exit_code = j->value("exitCode", -1);
      st.signal = j->value("signal", 0);
      st.reason = j->value("reason", "");
      st.oom_killed = j->value("oomKilled", false);
      st.started_unix_nanos = j->value("startedAt", int64_t{0});
      st.finished_unix_nanos = j->value("finishedAt", int64_t{0});
      return st;
    }
  }
  auto started = ReadFile(dir + "/started");
  pid_t shim = ReadPid(dir + "/shim.pid");
  if (started.ok()) {
    st.started_unix_nanos = atoll(started->c_str());
    st.pid = ReadPid(dir + "/container.pid");
    if (ShimAlive(shim, dir)) {
      st.phase = ContainerState::kRunning;
      st.shim_pid = shim;
      return st;
    }
    // The shim died without recording an exit (killed with the node): the
    // container died with it or is unobservable; report it exited.
    st.phase = ContainerState::kExited;
    st.exit_code = ProcessAlive(st.pid) ? -1 : 255;
    st.reason = "Unknown";
    return st;
  }
  st.phase = ShimAlive(shim, dir) ? ContainerState::kCreated : ContainerState::kUnknown;
  return st;
}

Status Runtime::Kill(const std::string& id, const std::string& dir, int signal) {
  pid_t pid = ReadPid(dir + "/container.pid");
  if (pid <= 0) return NotFound("container " + id + " has no process");
  if (::kill(pid, signal) != 0 && errno != ESRCH) return Internal(std::string("kill: ") + strerror(errno));
  return Status::Ok();
}

Status Runtime::Delete(const std::string& id) {
  auto argv = Base();
  argv.insert(argv.end(), {"delete", "--force", id});
  auto r = RunProcess(argv, "", 10000);
  if (!r.ok()) return r.status();
  std::string out = r->out + r->err;
  if (r->exit_code != 0 && out.find("does not exist") == std::string::npos && out.find("not found") == std::string::npos)
    return Internal(name_ + " delete " + id + ": " + out);
  return Status::Ok();
}

void Runtime::ReapShims() {
  // Only the shims this process started are its children; waitpid(-1) would
  // steal exit statuses from RunProcess callers.
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = shims_.begin(); it != shims_.end();) {
    int st;
    if (waitpid(*it, &st, WNOHANG) != 0) {
      UntrackChild(*it);
      it = shims_.erase(it);
    }
    else ++it;
  }
}

std::vector<std::string> Runtime::ExecArgv(const std::string& id, const std::vector<std::string>& cmd, bool tty) const {
  auto argv = Base();
  argv.push_back("exec");
  if (tty) argv.push_back("--tty");
  argv.push_back(id);
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

Result<Runtime::ExecResult> Runtime::Exec(const std::string& id, const std::vector<std::string>& cmd,
                                          int timeout_ms) const {
  auto r = RunProcess(ExecArgv(id, cmd, false), "", timeout_ms);
  ExecResult out;
  if (!r.ok()) {
    // RunProcess fails only to start or on the timeout (the child is killed).
    if (r.status().message().find("timed out") != std::string::npos) {
      out.timed_out = true;
      return out;
    }
    return r.status();
  }
  out.exit_code = r->exit_code;
  out.output = r->out + r->err;
  return out;
}

std::vector<std::string> Runtime::ListIds() const {
  std::vector<std::string> ids;
  DIR* d = opendir(opts_.state_root.c_str());
  if (!d) return ids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ids.push_back(e->d_name);
  }
  closedir(d);
  return ids;
}

}  // namespace berth::node
