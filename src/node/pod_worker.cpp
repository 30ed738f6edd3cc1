#include "node/pod_worker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/log.h"
#include "core/quantity.h"
#include "node/json_util.h"
#include "core/time.h"
#include "node/pod_setup.h"

namespace berth::node {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSecond = 1000000000;
// The safety tick of an idle worker; exits and updates wake it at once.
constexpr int64_t kIdleTick = 10 * kSecond;

int64_t Now() { return MonotonicNanos(); }
int64_t WallNanos() { return NowMicros() * 1000; }

std::string TimeString(int64_t unix_nanos) { return FormatRFC3339(unix_nanos / kSecond); }


struct ProbeState {
  Json spec;  // null = no probe
  int successes = 0, failures = 0;
  int64_t next_due = 0;
  bool ok = false;
  bool Has() const { return spec.is_object(); }
};

struct Ctr {
  std::string name;
  bool init = false;
  Json spec;
  int attempt = -1;  // -1: never started
  std::string id, dir, log;
  ContainerState st;
  int64_t backoff_until = 0;  // monotonic
  std::string waiting_reason, waiting_message;
  Json last_terminated;  // state.terminated of the previous attempt
  ProbeState liveness, readiness, startup;
  bool started_ok = false;  // the startup probe passed (or there is none)
  bool ready = false;
  std::string image_id;
  bool killing = false;
  int64_t kill_deadline = 0;  // monotonic, SIGKILL after it
  int restarts() const { return std::max(attempt, 0); }
  bool running() const { return st.phase == ContainerState::kRunning; }
  bool exited() const { return st.phase == ContainerState::kExited; }
};

std::string IdFor(const std::string& uid, const std::string& name, int attempt) {
  std::string u;
  for (char c : uid)
    if (c != '-' && u.size() < 12) u += c;
  return "k" + u + "-" + name + "-" + std::to_string(attempt);
}

int HighestAttempt(const std::string& dir) {
  int best = -1;
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    best = std::max(best, atoi(e->d_name));
  }
  closedir(d);
  return best;
}

void UnmountTree(const std::string& path) {
  // Deepest first: bind mounts of volumes below the rootfs, then the rootfs.
  std::vector<std::string> mounts;
  auto text = ReadFile("/proc/self/mountinfo");
  if (text.ok()) {
    size_t i = 0;
    while (i < text->size()) {
      size_t j = text->find('\n', i);
      if (j == std::string::npos) j = text->size();
      std::string line = text->substr(i, j - i);
      i = j + 1;
      // fields: id parent major:minor root mountpoint ...
      size_t p = 0;
      for (int f = 0; f < 4 && p != std::string::npos; ++f) p = line.find(' ', p + 1);
      if (p == std::string::npos) continue;
      size_t q = line.find(' ', p + 1);
      std::string mp = line.substr(p + 1, q - p - 1);
      if (mp == path || mp.rfind(path + "/", 0) == 0) mounts.push_back(mp);
    }
  }
  std::sort(mounts.begin(), mounts.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& m : mounts) umount2(m.c_str(), MNT_DETACH);
}

void RemoveCgroupDir(const std::string& base) {
  // Children first (a container cgroup the runtime did not remove).
  DIR* c = opendir(base.c_str());
  if (!c) return;
  while (dirent* ce = readdir(c)) {
    if (ce->d_type == DT_DIR && ce->d_name[0] != '.') rmdir((base + "/" + ce->d_name).c_str());
  }
  closedir(c);
  rmdir(base.c_str());
}

// The pod's cgroup in every hierarchy: /sys/fs/cgroup/<controller><cgroup>
// with v1 controllers (hybrid), /sys/fs/cgroup<cgroup> with cgroup v2 alone.
void RemoveCgroups(const std::string& cgroup) {
  RemoveCgroupDir("/sys/fs/cgroup" + cgroup);
  DIR* d = opendir("/sys/fs/cgroup");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    RemoveCgroupDir(std::string("/sys/fs/cgroup/") + e->d_name + cgroup);
  }
  closedir(d);
}

// One probe attempt. Returns ok, and a failure message.
bool RunProbe(NodeContext* ctx, const Json& probe, const Ctr& c, const std::string& pod_ip, std::string* why) {
  int timeout_ms = static_cast<int>(Int(probe, "timeoutSeconds", 1)) * 1000;
  auto port_of = [&](const Json& p) -> int {
    const Json& port = At(p, "port");
    if (port.is_number_integer()) return port.get<int>();
    if (port.is_string()) {
      for (const auto& cp : At(c.spec, "ports"))
        if (Str(cp, "name") == port.get<std::string>()) return static_cast<int>(Int(cp, "containerPort", 0));
      std::string s = port.get<std::string>();
      if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return atoi(s.c_str());
    }
    return 0;
  };
  if (At(probe, "exec").is_object()) {
    std::vector<std::string> cmd;
    for (const auto& a : At(At(probe, "exec"), "command")) cmd.push_back(a.get<std::string>());
    auto r = ctx->runtime->Exec(c.id, cmd, timeout_ms);
    if (!r.ok()) {
      *why = r.status().message();
      return false;
    }
    if (r->timed_out) {
      *why = "command timed out";
      return false;
    }
    if (r->exit_code != 0) {
      *why = "command exited with " + std::to_string(r->exit_code) + (r->output.empty() ? "" : ": " + r->output);
      return false;
    }
    return true;
  }
  const Json& http = At(probe, "httpGet");
  const Json& tcp = At(probe, "tcpSocket");
  if (!http.is_object() && !tcp.is_object()) return true;  // grpc: not supported, treated as passing
  std::string host = Str(http.is_object() ? http : tcp, "host", pod_ip);
  int port = port_of(http.is_object() ? http : tcp);
  if (host.empty() || port <= 0) {
    *why = "no address to probe";
    return false;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    close(fd);
    *why = "bad probe host " + host;
    return false;
  }
  const int64_t deadline = Now() + int64_t(timeout_ms) * 1000000;
  auto wait = [&](short ev) {
    for (;;) {
      int left = static_cast<int>((deadline - Now()) / 1000000);
      if (left <= 0) return false;
      pollfd p{fd, ev, 0};
      int r = poll(&p, 1, left);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  };
  std::string target = host + ":" + std::to_string(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    *why = "dial tcp " + target + ": connect: " + strerror(errno);
    close(fd);
    return false;
  }
  if (!wait(POLLOUT)) {
    *why = "dial tcp " + target + ": i/o timeout";
    close(fd);
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    *why = "dial tcp " + target + ": connect: " + strerror(err);
    close(fd);
    return false;
  }
  if (!http.is_object()) {
    close(fd);
    return true;
  }
  std::string path = Str(http, "path", "/");
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + target +
                    "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n";
  for (const auto& h : At(http, "httpHeaders")) req += Str(h, "name") + ": " + Str(h, "value") + "\r\n";
  req += "\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    *why = "write to " + target + " failed";
    close(fd);
    return false;
  }
  std::string resp;
  char buf[1024];
  while (resp.find("\r\n") == std::string::npos && wait(POLLIN)) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, n);
  }
  close(fd);
  int code = 0;
  if (resp.rfind("HTTP/1.", 0) == 0 && resp.size() >= 12) code = atoi(resp.c_str() + 9);
  if (code >= 200 && code < 400) return true;
  *why = code ? "HTTP probe failed with statuscode: " + std::to_string(code)
              : "Get \"http://" + target + path + "\": no HTTP response";
  return false;
}

}  // namespace

struct PodWorker::Impl {
  NodeContext* ctx;
  std::string uid, ns, name, dir;
  mutable std::mutex mu;
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // Update/Removed/Stop
  std::map<pid_t, int> shim_fds;  // pidfds of running containers' shims (worker thread)
  Json pod;             // latest object (guarded by mu)
  bool dirty = true;    // a new pod version arrived
  bool removed = false;
  bool stop = false;
  std::atomic<bool> done{false};
  std::thread thread;

  // Worker-thread state.
  std::vector<Ctr> inits, ctrs;
  bool sandbox_ready = false;
  bool terminal_cleaned = false;
  std::string pod_ip;
  std::string sandbox_error;
  PodFiles files;  // volumes and /etc files, prepared once
  bool files_ready = false;
  Json last_status;
  bool status_retry = false;  // the last status write failed
  int64_t start_time_wall = 0;
  std::map<std::string, std::string> cond_times;  // condition type+status → lastTransitionTime
  std::mutex ip_mu;
  std::string ip_copy;

  Json Pod() {
    std::lock_guard<std::mutex> l(mu);
    return pod;
  }

  std::string CtrDir(const std::string& cname, int attempt) const {
    return ContainerStateRoot(dir) + "/" + cname + "/" + std::to_string(attempt);
  }
  // The container's writable layer, on disk.
  std::string LayerDir(const std::string& cname, int attempt) const {
    return dir + "/overlay/" + cname + "-" + std::to_string(attempt);
  }
  std::string LogFile(const std::string& cname, int attempt) const {
    return dir + "/logs/" + cname + "/" + std::to_string(attempt) + ".log";
  }

  void InitContainers(const Json& p) {
    const Json& spec = At(p, "spec");
    for (const auto& c : At(spec, "initContainers")) {
      Ctr x;
      x.name = Str(c, "name");
      x.init = true;
      x.spec = c;
      inits.push_back(std::move(x));
    }
    for (const auto& c : At(spec, "containers")) {
      Ctr x;
      x.name = Str(c, "name");
      x.spec = c;
      x.liveness.spec = At(c, "livenessProbe");
      x.readiness.spec = At(c, "readinessProbe");
      x.startup.spec = At(c, "startupProbe");
      ctrs.push_back(std::move(x));
    }
    // Adopt what a previous agent process started.
    for (auto* list : {&inits, &ctrs}) {
      for (auto& c : *list) {
        int a = HighestAttempt(ContainerStateRoot(dir) + "/" + c.name);
        if (a < 0) continue;
        c.attempt = a;
        c.id = IdFor(uid, c.name, a);
        c.dir = CtrDir(c.name, a);
        c.log = LogFile(c.name, a);
        c.st = ctx->runtime->State(c.dir);
        if (c.st.phase == ContainerState::kUnknown || c.st.phase == ContainerState::kCreated) {
          // Started but never reported running: treat as a failed start.
          c.st.phase = ContainerState::kExited;
          c.st.exit_code = 128;
          c.st.reason = "Unknown";
        }
        if (a > 0) {
          ContainerState prev = ctx->runtime->State(CtrDir(c.name, a - 1));
          if (prev.phase == ContainerState::kExited) c.last_terminated = TerminatedJson(prev, CtrIdUrl(c.name, a - 1));
        }
        if (c.running()) c.started_ok = !c.startup.Has();
        if (c.running() && !c.readiness.Has()) c.ready = c.started_ok;
      }
    }
  }

  std::string CtrIdUrl(const std::string& cname, int attempt) const {
    return ctx->runtime->name() + "://" + IdFor(uid, cname, attempt);
  }

  static Json TerminatedJson(const ContainerState& s, const std::string& cid) {
    std::string reason = s.reason;
    if (reason.empty()) reason = s.oom_killed ? "OOMKilled" : (s.exit_code == 0 ? "Completed" : "Error");
    Json t = {{"exitCode", s.exit_code}, {"reason", reason}, {"containerID", cid}};
    if (s.signal) t["signal"] = s.signal;
    if (s.started_unix_nanos) t["startedAt"] = TimeString(s.started_unix_nanos);
    if (s.finished_unix_nanos) t["finishedAt"] = TimeString(s.finished_unix_nanos);
    return t;
  }

  // ---- sandbox ----

  bool EnsureSandbox(const Json& p) {
    if (sandbox_ready) return true;
    MakeDirs(dir, 0700);
    std::string netns;
    if (ctx->network) {
      network::PodNetRequest req;
      req.uid = uid;
      req.ns = ns;
      req.name = name;
      for (const auto& c : At(At(p, "spec"), "containers"))
        for (const auto& port : At(c, "ports"))
          if (Int(port, "hostPort", 0) > 0) {
            network::HostPort hp;
            hp.host_port = static_cast<int>(Int(port, "hostPort", 0));
            hp.container_port = static_cast<int>(Int(port, "containerPort", 0));
            hp.protocol = Str(port, "protocol", "TCP");
            hp.host_ip = Str(port, "hostIP");
            req.host_ports.push_back(hp);
          }
      int64_t t0 = Now();
      auto r = ctx->network->SetUp(req);
      log::Debug("pod sandbox", log::Fields()("pod", ns + "/" + name)("ms", (Now() - t0) / 1000000));
      if (!r.ok()) {
        std::string msg = "Failed to create pod sandbox: " + r.status().message();
        if (msg != sandbox_error) ctx->Event(p, "Warning", "FailedCreatePodSandBox", msg);
        sandbox_error = msg;
        return false;
      }
      netns = r->netns_path;
      pod_ip = r->ip;
    }
    sandbox_error.clear();
    files.netns_path = netns;
    {
      std::lock_guard<std::mutex> l(ip_mu);
      ip_copy = pod_ip;
    }
    sandbox_ready = true;
    return true;
  }

  // ---- containers ----

  // Starts the next attempt of `c`. False with waiting_reason set on failure.
  bool StartContainer(const Json& p, Ctr& c) {
    const Json& spec = c.spec;
    std::string image = Str(spec, "image");
    std::string policy = Str(spec, "imagePullPolicy", "IfNotPresent");
    auto img = ctx->images->Get(image);
    if (policy == "Always" || (!img.ok() && policy != "Never")) {
      if (!img.ok() || policy == "Always") {
        ctx->Event(p, "Normal", "Pulling", "Pulling image \"" + image + "\"");
        int64_t t0 = Now();
        std::vector<PullSecret> secrets = PullSecrets(ctx, p);
        auto pulled = ctx->pull ? ctx->pull(image, secrets) : Result<images::ImageInfo>(img.status());
        if (!pulled.ok()) {
          if (img.ok() && policy == "Always") {
            // Kubelet fails here too; keep it strict so a broken registry is visible.
          }
          c.waiting_reason = c.waiting_reason == "ErrImagePull" || c.waiting_reason == "ImagePullBackOff"
                                 ? "ImagePullBackOff"
                                 : "ErrImagePull";
          c.waiting_message = "failed to pull image \"" + image + "\": " + pulled.status().message();
          ctx->Event(p, "Warning", "Failed", "Failed to pull image \"" + image + "\": " + pulled.status().message());
          ctx->Event(p, "Warning", "Failed", "Error: " + c.waiting_reason);
          c.backoff_until = Now() + BackoffFor(c.restarts() + 1);
          return false;
        }
        img = std::move(pulled);
        ctx->Event(p, "Normal", "Pulled",
                   "Successfully pulled image \"" + image + "\" in " + std::to_string((Now() - t0) / 1000000) + "ms");
      }
    } else if (!img.ok()) {
      c.waiting_reason = "ErrImageNeverPull";
      c.waiting_message = "Container image \"" + image + "\" is not present with pull policy of Never";
      ctx->Event(p, "Warning", "ErrImageNeverPull", c.waiting_message);
      return false;
    } else if (c.attempt < 0) {
      ctx->Event(p, "Normal", "Pulled", "Container image \"" + image + "\" already present on machine");
    }
    c.image_id = img->id;
    int64_t t_prep = Now();

    int attempt = c.attempt + 1;
    ContainerConfig cfg;
    cfg.id = IdFor(uid, c.name, attempt);
    cfg.dir = CtrDir(c.name, attempt);
    cfg.log_path = LogFile(c.name, attempt);
    cfg.cgroup_parent = "/berth/pod" + uid;
    Status s = BuildContainerConfig(ctx, p, spec, *img, files, &cfg);
    if (s.ok()) s = MakeDirs(cfg.dir, 0700);
    if (s.ok()) s = MakeDirs(dir + "/logs/" + c.name, 0755);
    if (s.ok()) s = PrepareRootfs(*img, cfg.dir, LayerDir(c.name, attempt), &cfg.rootfs);
    if (s.ok()) s = MountVolumes(files, spec, cfg.rootfs, &cfg);
    if (!s.ok()) {
      c.waiting_reason = "CreateContainerConfigError";
      c.waiting_message = s.message();
      ctx->Event(p, "Warning", "Failed", "Error: " + s.message());
      UnmountTree(cfg.dir + "/rootfs");
      return false;
    }
    c.attempt = attempt;
    c.id = cfg.id;
    c.dir = cfg.dir;
    c.log = cfg.log_path;
    ctx->Event(p, "Normal", "Created", "Created container " + c.name);
    int64_t t0 = Now();
    s = ctx->runtime->Start(cfg);
    log::Debug("container start", log::Fields()("pod", ns + "/" + name)("container", c.name)(
                                      "prepare_ms", (t0 - t_prep) / 1000000)("start_ms", (Now() - t0) / 1000000));
    if (!s.ok()) {
      c.st = ContainerState{};
      c.st.phase = ContainerState::kExited;
      c.st.exit_code = 128;
      c.st.reason = "StartError";
      c.waiting_reason = "CreateContainerError";
      c.waiting_message = s.message();
      ctx->Event(p, "Warning", "Failed", "Error: " + s.message());
      c.backoff_until = Now() + BackoffFor(c.restarts());
      return false;
    }
    c.st = ctx->runtime->State(c.dir);
    c.waiting_reason.clear();
    c.waiting_message.clear();
    c.started_ok = !c.startup.Has();
    c.ready = !c.readiness.Has() && c.started_ok;
    for (ProbeState* pr : {&c.liveness, &c.readiness, &c.startup}) {
      pr->successes = pr->failures = 0;
      pr->ok = false;
      pr->next_due = Now() + Int(pr->spec, "initialDelaySeconds", 0) * kSecond;
    }
    ctx->Event(p, "Normal", "Started", "Started container " + c.name);
    return true;
  }

  static int64_t BackoffFor(int restarts) {
    // Kubelet's crash-loop back-off: the first restart is immediate, then
    // 10 s doubling up to 5 minutes.
    if (restarts <= 0) return 0;
    int64_t d = 10 * kSecond;
    for (int i = 1; i < restarts && d < 300 * kSecond; ++i) d *= 2;
    return std::min<int64_t>(d, 300 * kSecond);
  }

  // Retires a finished attempt: its state becomes lastState, the runtime's
  // record and the rootfs mount go (the directory stays for `logs --previous`).
  void Retire(Ctr& c) {
    c.last_terminated = TerminatedJson(c.st, CtrIdUrl(c.name, c.attempt));
    ctx->runtime->Delete(c.id);
    UnmountTree(c.dir + "/rootfs");
    // Keep only the previous attempt's files.
    if (c.attempt >= 1) {
      std::error_code ec;
      fs::remove_all(CtrDir(c.name, c.attempt - 1), ec);
      fs::remove_all(LayerDir(c.name, c.attempt - 1), ec);
      ::unlink(LogFile(c.name, c.attempt - 1).c_str());
    }
  }

  bool ShouldRestart(const Json& p, const Ctr& c) const {
    std::string policy = Str(At(p, "spec"), "restartPolicy", "Always");
    if (c.init) return c.st.exit_code != 0 && policy != "Never";
    if (policy == "Always") return true;
    if (policy == "OnFailure") return c.st.exit_code != 0;
    return false;
  }

  void KillContainer(const Json& p, Ctr& c, int64_t grace_s, const std::string& why) {
    if (!c.running() || c.killing) return;
    c.killing = true;
    c.kill_deadline = Now() + grace_s * kSecond;
    ctx->Event(p, "Normal", "Killing", why);
    const Json& pre = At(At(At(c.spec, "lifecycle"), "preStop"), "exec");
    if (pre.is_object()) {
      std::vector<std::string> cmd;
      for (const auto& a : At(pre, "command")) cmd.push_back(a.get<std::string>());
      auto r = ctx->runtime->Exec(c.id, cmd, static_cast<int>(std::max<int64_t>(grace_s, 1) * 1000));
      if (!r.ok() || r->exit_code != 0)
        ctx->Event(p, "Warning", "FailedPreStopHook", "PreStopHook failed for container " + c.name);
    }
    ctx->runtime->Kill(c.id, c.dir, SIGTERM);
  }

  // Runs due probes of a running container; returns the next due time.
  int64_t Probe(const Json& p, Ctr& c) {
    int64_t next = INT64_MAX;
    auto run = [&](ProbeState& pr, const char* kind) -> bool {
      if (!pr.Has()) return false;
      if (Now() < pr.next_due) {
        next = std::min(next, pr.next_due);
        return false;
      }
      std::string why;
      bool ok = RunProbe(ctx, pr.spec, c, pod_ip, &why);
      pr.next_due = Now() + Int(pr.spec, "periodSeconds", 10) * kSecond;
      next = std::min(next, pr.next_due);
      if (ok) {
        pr.failures = 0;
        if (++pr.successes >= Int(pr.spec, "successThreshold", 1)) pr.ok = true;
      } else {
        pr.successes = 0;
        ++pr.failures;
        ctx->Event(p, "Warning", "Unhealthy", std::string(kind) + " probe failed: " + why);
        if (pr.failures >= Int(pr.spec, "failureThreshold", 3)) pr.ok = false;
      }
      return true;
    };
    if (!c.started_ok) {
      if (run(c.startup, "Startup")) {
        if (c.startup.ok) {
          c.started_ok = true;
          for (ProbeState* pr : {&c.liveness, &c.readiness})
            pr->next_due = Now() + Int(pr->spec, "initialDelaySeconds", 0) * kSecond;
        } else if (c.startup.failures >= Int(c.startup.spec, "failureThreshold", 3)) {
          KillContainer(p, c, Grace(p), "Container " + c.name + " failed startup probe, will be restarted");
        }
      }
      return next;
    }
    if (run(c.liveness, "Liveness") && !c.liveness.ok &&
        c.liveness.failures >= Int(c.liveness.spec, "failureThreshold", 3)) {
      int64_t g = Int(c.liveness.spec, "terminationGracePeriodSeconds", Grace(p));
      KillContainer(p, c, g, "Container " + c.name + " failed liveness probe, will be restarted");
    }
    if (run(c.readiness, "Readiness")) c.ready = c.readiness.ok;
    if (!c.readiness.Has()) c.ready = true;
    return next;
  }

  static int64_t Grace(const Json& p) {
    const Json& md = At(p, "metadata");
    if (At(md, "deletionGracePeriodSeconds").is_number_integer()) return Int(md, "deletionGracePeriodSeconds", 30);
    return Int(At(p, "spec"), "terminationGracePeriodSeconds", 30);
  }

  // ---- the sync loop ----

  // One pass; returns the monotonic time of the next needed pass.
  int64_t Sync() {
    Json p = Pod();
    // Nothing to wait for: the next pass comes from a pod update or a shim's
    // exit (pidfds, see Run), or from this slow safety tick.
    int64_t next = Now() + kIdleTick;
    const Json& md = At(p, "metadata");
    for (auto* list : {&inits, &ctrs})
      for (auto& c : *list)
        if (c.attempt >= 0 && c.st.phase != ContainerState::kExited) {
          ContainerState before = c.st;
          c.st = ctx->runtime->State(c.dir);
          if (c.st.phase == ContainerState::kExited && before.phase != ContainerState::kExited) {
            c.killing = false;
            c.ready = false;
            // Exits wake the worker through the shim's pidfd; a late notice
            // means that path missed one (the idle tick caught it).
            int64_t lag_ms = c.st.finished_unix_nanos ? (WallNanos() - c.st.finished_unix_nanos) / 1000000 : 0;
            if (lag_ms > 2000)
              log::Warn("container exit noticed late",
                        log::Fields()("pod", ns + "/" + name)("container", c.name)("lag_ms", lag_ms));
            if (c.st.oom_killed) ctx->Event(p, "Warning", "OOMKilled", "Container " + c.name + " was OOM-killed");
          }
        }
    ctx->runtime->ReapShims();

    if (At(md, "deletionTimestamp").is_string() || removed) return Terminate(p);

    std::string phase = Str(At(p, "status"), "phase");
    bool terminal_policy_done = false;
    if (!EnsureSandbox(p)) {
      WriteStatus(p);
      return Now() + 2 * kSecond;
    }
    if (!files_ready) {
      int64_t t0 = Now();
      Status s = PreparePodFiles(ctx, p, dir, pod_ip, &files);
      int64_t t1 = Now();
      if (s.ok()) s = WriteServiceAccountTokens(ctx, p, &files);
      log::Debug("pod files", log::Fields()("pod", ns + "/" + name)("volumes_ms", (t1 - t0) / 1000000)(
                                  "tokens_ms", (Now() - t1) / 1000000));
      if (!s.ok()) {
        for (auto& c : ctrs) {
          c.waiting_reason = "CreateContainerConfigError";
          c.waiting_message = s.message();
        }
        ctx->Event(p, "Warning", "FailedMount", s.message());
        WriteStatus(p);
        return Now() + 2 * kSecond;
      }
      files_ready = true;
    } else if (files.tokens_refresh_at > 0 && WallNanos() / kSecond >= files.tokens_refresh_at) {
      if (Status s = WriteServiceAccountTokens(ctx, p, &files); !s.ok()) {
        log::Warn("cannot refresh service-account tokens", log::Fields()("pod", ns + "/" + name)("err", s.message()));
        files.tokens_refresh_at = WallNanos() / kSecond + 10;
      }
    }
    if (files.tokens_refresh_at > 0)
      next = std::min(next, Now() + std::max<int64_t>(0, files.tokens_refresh_at - WallNanos() / kSecond) * kSecond);

    // Init containers, one at a time, each to success.
    bool inits_done = true;
    for (auto& c : inits) {
      if (c.attempt >= 0 && c.exited() && c.st.exit_code == 0) continue;
      inits_done = false;
      if (c.attempt >= 0 && c.running()) break;
      if (c.attempt >= 0 && c.exited()) {
        if (!ShouldRestart(p, c)) {
          terminal_policy_done = true;
          break;
        }
        if (c.backoff_until == 0) {
          c.backoff_until = Now() + BackoffFor(c.restarts() + 1);
          if (c.backoff_until > Now())
            ctx->Event(p, "Warning", "BackOff", "Back-off restarting failed container " + c.name + " in pod " + name);
        }
        if (Now() < c.backoff_until) {
          c.waiting_reason = "CrashLoopBackOff";
          next = std::min(next, c.backoff_until);
          break;
        }
        Retire(c);
        c.backoff_until = 0;
      }
      if (Now() < c.backoff_until) {
        next = std::min(next, c.backoff_until);
        break;
      }
      StartContainer(p, c);
      next = std::min(next, Now() + 200 * 1000000);
      break;
    }

    if (inits_done && !terminal_policy_done) {
      for (auto& c : ctrs) {
        if (c.attempt >= 0 && c.running()) {
          next = std::min(next, Probe(p, c));
          if (c.killing && Now() >= c.kill_deadline) ctx->runtime->Kill(c.id, c.dir, SIGKILL);
          if (c.killing) next = std::min(next, Now() + 100 * 1000000);
          continue;
        }
        if (c.attempt >= 0 && c.exited()) {
          if (!ShouldRestart(p, c)) continue;
          if (c.backoff_until == 0) {
            c.backoff_until = Now() + BackoffFor(c.restarts());
            if (c.backoff_until > Now())
              ctx->Event(p, "Warning", "BackOff", "Back-off restarting failed container " + c.name + " in pod " + name);
          }
          if (Now() < c.backoff_until) {
            c.waiting_reason = "CrashLoopBackOff";
            c.waiting_message = "back-off " + std::to_string((BackoffFor(c.restarts())) / kSecond) +
                                "s restarting failed container=" + c.name + " pod=" + name + "_" + ns + "(" + uid + ")";
            next = std::min(next, c.backoff_until);
            continue;
          }
          Retire(c);
          c.backoff_until = 0;
        }
        if (Now() < c.backoff_until) {
          next = std::min(next, c.backoff_until);
          continue;
        }
        if (StartContainer(p, c)) next = std::min(next, Now() + 50 * 1000000);
      }
    }
    std::string new_phase = WriteStatus(p);
    if ((new_phase == "Succeeded" || new_phase == "Failed") && !terminal_cleaned) {
      // A finished pod keeps its logs but gives back its IP and mounts.
      for (auto* list : {&inits, &ctrs})
        for (auto& c : *list)
          if (c.attempt >= 0) {
            ctx->runtime->Delete(c.id);
            UnmountTree(c.dir + "/rootfs");
          }
      if (ctx->network) ctx->network->TearDown(uid);
      terminal_cleaned = true;
    }
    return next;
  }

  // Graceful termination: preStop, SIGTERM, SIGKILL at the deadline; then
  // cleanup and the final delete.
  int64_t Terminate(const Json& p) {
    int64_t grace = removed ? 0 : Grace(p);
    bool all_down = true;
    for (auto* list : {&inits, &ctrs}) {
      for (auto& c : *list) {
        if (c.attempt < 0 || !c.running()) continue;
        all_down = false;
        if (!c.killing) KillContainer(p, c, grace, "Stopping container " + c.name);
        if (Now() >= c.kill_deadline) ctx->runtime->Kill(c.id, c.dir, SIGKILL);
      }
    }
    if (!all_down) return Now() + 50 * 1000000;
    CleanupAll();
    if (!removed) {
      std::string path = "/api/v1/namespaces/" + ns + "/pods/" + name;
      Json opts = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"gracePeriodSeconds", 0},
                   {"preconditions", {{"uid", uid}}}};
      auto r = ctx->api->Raw("DELETE", path, opts.dump(), "application/json");
      if (!r.ok()) return Now() + kSecond;  // the API is away: retry
      if (r->status >= 300 && r->status != 404 && r->status != 409) return Now() + kSecond;
    }
    done = true;
    return INT64_MAX;
  }

  void CleanupAll() {
    for (auto* list : {&inits, &ctrs})
      for (auto& c : *list) {
        if (c.attempt < 0) continue;
        for (int a = std::max(c.attempt - 1, 0); a <= c.attempt; ++a) {
          ctx->runtime->Delete(IdFor(uid, c.name, a));
          UnmountTree(CtrDir(c.name, a) + "/rootfs");
        }
      }
    ReleasePodFiles(&files, dir);
    if (ctx->network) ctx->network->TearDown(uid);
    RemoveCgroups("/berth/pod" + uid);
    UnmountTree(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // ---- status ----

  std::string Transition(const std::string& type, bool status) {
    std::string key = type + (status ? "=True" : "=False");
    auto it = cond_times.find(key);
    if (it != cond_times.end()) return it->second;
    cond_times.erase(type + (status ? "=False" : "=True"));
    return cond_times[key] = FormatRFC3339(NowSeconds());
  }

  Json CtrStatus(const Ctr& c) const {
    Json s = {{"name", c.name},
              {"image", Str(c.spec, "image")},
              {"imageID", c.image_id},
              {"ready", c.ready && c.running()},
              {"restartCount", c.restarts()},
              {"started", c.running() && c.started_ok}};
    if (c.attempt >= 0) s["containerID"] = CtrIdUrl(c.name, c.attempt);
    if (c.attempt >= 0 && c.running() && c.waiting_reason.empty()) {
      s["state"] = {{"running", {{"startedAt", TimeString(c.st.started_unix_nanos)}}}};
    } else if (c.attempt >= 0 && c.exited() && c.waiting_reason.empty()) {
      s["state"] = {{"terminated", TerminatedJson(c.st, CtrIdUrl(c.name, c.attempt))}};
    } else {
      Json w = {{"reason", c.waiting_reason.empty() ? (c.init ? "PodInitializing" : "ContainerCreating")
                                                    : c.waiting_reason}};
      if (!c.waiting_message.empty()) w["message"] = c.waiting_message;
      s["state"] = {{"waiting", w}};
      if (c.attempt >= 0 && c.exited()) s["lastState"] = {{"terminated", TerminatedJson(c.st, CtrIdUrl(c.name, c.attempt))}};
    }
    if (!s.contains("lastState")) {
      if (c.last_terminated.is_object()) s["lastState"] = {{"terminated", c.last_terminated}};
      else s["lastState"] = Json::object();
    }
    return s;
  }

  // Builds the status, writes it if it changed, returns the phase.
  std::string WriteStatus(const Json& p) {
    const Json& spec = At(p, "spec");
    std::string policy = Str(spec, "restartPolicy", "Always");
    bool inits_done = std::all_of(inits.begin(), inits.end(),
                                  [](const Ctr& c) { return c.attempt >= 0 && c.exited() && c.st.exit_code == 0; });
    bool init_failed = std::any_of(inits.begin(), inits.end(), [&](const Ctr& c) {
      return c.attempt >= 0 && c.exited() && c.st.exit_code != 0 && policy == "Never";
    });
    int running = 0, exited = 0, failed = 0;
    for (const auto& c : ctrs) {
      if (c.attempt < 0) continue;
      if (c.running()) ++running;
      if (c.exited()) {
        ++exited;
        if (c.st.exit_code != 0) ++failed;
      }
    }
    std::string phase = "Pending";
    if (init_failed) phase = "Failed";
    else if (inits_done && exited == static_cast<int>(ctrs.size()) && !ctrs.empty() && policy != "Always" &&
             (policy == "Never" || failed == 0))
      phase = failed ? "Failed" : "Succeeded";
    else if (inits_done && (running > 0 || exited > 0)) phase = "Running";
    std::string old_phase = Str(At(p, "status"), "phase");
    if (old_phase == "Succeeded" || old_phase == "Failed") phase = old_phase;  // terminal phases stick

    bool all_ready = !ctrs.empty() && std::all_of(ctrs.begin(), ctrs.end(), [](const Ctr& c) {
      return c.running() && c.ready;
    });
    if (phase == "Succeeded" || phase == "Failed") all_ready = false;
    Json conds = Json::array();
    auto cond = [&](const std::string& type, bool status, const std::string& reason = "") {
      Json c = {{"type", type}, {"status", status ? "True" : "False"}, {"lastProbeTime", nullptr},
                {"lastTransitionTime", Transition(type, status)}};
      if (!status && !reason.empty()) c["reason"] = reason;
      conds.push_back(c);
    };
    cond("PodReadyToStartContainers", sandbox_ready && !terminal_cleaned);
    cond("Initialized", inits_done, "ContainersNotInitialized");
    cond("Ready", all_ready, phase == "Succeeded" || phase == "Failed" ? "PodCompleted" : "ContainersNotReady");
    cond("ContainersReady", all_ready, phase == "Succeeded" || phase == "Failed" ? "PodCompleted" : "ContainersNotReady");
    cond("PodScheduled", true);

    Json st = {{"phase", phase}, {"conditions", conds}, {"hostIP", ctx->node_ip},
               {"hostIPs", {{{"ip", ctx->node_ip}}}}, {"qosClass", QosClass(spec)}};
    if (!pod_ip.empty()) {
      st["podIP"] = pod_ip;
      st["podIPs"] = {{{"ip", pod_ip}}};
    }
    if (!start_time_wall) {
      const Json& old = At(At(p, "status"), "startTime");
      start_time_wall = old.is_string() ? ParseRFC3339(old.get<std::string>()).value_or(NowSeconds()) : NowSeconds();
    }
    st["startTime"] = FormatRFC3339(start_time_wall);
    Json cs = Json::array(), ics = Json::array();
    for (const auto& c : ctrs) cs.push_back(CtrStatus(c));
    for (const auto& c : inits) ics.push_back(CtrStatus(c));
    st["containerStatuses"] = cs;
    if (!inits.empty()) st["initContainerStatuses"] = ics;
    if (!sandbox_error.empty()) st["message"] = sandbox_error;
    if (st == last_status) return phase;
    auto r = ctx->api->MergePatch("/api/v1/namespaces/" + ns + "/pods/" + name + "/status", {{"status", st}});
    log::Debug("pod status written", log::Fields()("pod", ns + "/" + name)("phase", phase)("ready", all_ready));
    if (r.ok()) last_status = st;
    else status_retry = true;
    if (!r.ok()) log::Debug("pod status write failed", log::Fields()("pod", ns + "/" + name)("err", r.status().ToString()));
    return phase;
  }

  static std::string QosClass(const Json& spec) {
    bool any = false, guaranteed = true;
    for (const auto& c : At(spec, "containers")) {
      const Json& res = At(c, "resources");
      const Json& lim = At(res, "limits");
      const Json& req = At(res, "requests");
      if (lim.is_object() && !lim.empty()) any = true;
      if (req.is_object() && !req.empty()) any = true;
      for (const char* r : {"cpu", "memory"}) {
        if (!At(lim, r).is_string() && !At(lim, r).is_number()) guaranteed = false;
        else if (At(req, r).is_string() && At(req, r) != At(lim, r)) guaranteed = false;
      }
    }
    if (!any) return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
  }

  void Run() {
    pthread_setname_np(pthread_self(), "pod-worker");
    {
      Json p = Pod();
      InitContainers(p);
    }
    while (!done) {
      int64_t next;
      try {
        next = Sync();
      } catch (const std::exception& e) {
        // A malformed object must not take the node down: log, retry later.
        log::Error("pod sync failed", log::Fields()("pod", ns + "/" + name)("err", e.what()));
        next = Now() + 5 * kSecond;
      }
      if (done) break;
      if (status_retry) {
        status_retry = false;
        next = std::min(next, Now() + kSecond);
      }
      if (!Wait(next)) return;
    }
  }

  // Blocks until `deadline`, a wake-up (Update/Removed/Stop) or the exit of a
  // running container's shim. False when the worker must stop.
  bool Wait(int64_t deadline) {
    std::set<pid_t> live;
    for (auto* list : {&inits, &ctrs})
      for (auto& c : *list)
        if (c.attempt >= 0 && c.running() && c.st.shim_pid > 0) live.insert(c.st.shim_pid);
    for (auto it = shim_fds.begin(); it != shim_fds.end();) {
      if (live.count(it->first)) {
        ++it;
        continue;
      }
      close(it->second);
      it = shim_fds.erase(it);
    }
    std::vector<pollfd> fds = {{wake_fd, POLLIN, 0}};
    for (pid_t pid : live) {
      if (!shim_fds.count(pid)) {
        int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) {
          deadline = std::min(deadline, Now() + kSecond);  // cannot watch it: poll
          continue;
        }
        shim_fds[pid] = fd;
      }
      fds.push_back({shim_fds[pid], POLLIN, 0});
    }
    {
      std::lock_guard<std::mutex> l(mu);
      if (stop) return false;
      if (dirty || removed) {
        dirty = false;
        return true;
      }
    }
    int64_t wait_ms = std::max<int64_t>(0, (deadline - Now() + 999999) / 1000000);
    int r = poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(wait_ms, 3600000)));
    (void)r;
    uint64_t v;
    while (read(wake_fd, &v, sizeof v) > 0) {
    }
    std::lock_guard<std::mutex> l(mu);
    dirty = false;
    return !stop;
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t n = write(wake_fd, &one, sizeof one);
    (void)n;
  }

  ~Impl() {
    for (auto& [pid, fd] : shim_fds) close(fd);
    if (wake_fd >= 0) close(wake_fd);
  }
};

PodWorker::PodWorker(NodeContext* ctx, const Json& pod) : impl_(std::make_unique<Impl>()) {
  const Json& md = At(pod, "metadata");
  uid_ = Str(md, "uid");
  impl_->ctx = ctx;
  impl_->uid = uid_;
  impl_->ns = Str(md, "namespace");
  impl_->name = Str(md, "name");
  impl_->dir = ctx->root + "/pods/" + uid_;
  impl_->pod = pod;
  impl_->last_status = At(pod, "status");
  impl_->thread = std::thread([this] { impl_->Run(); });
}

PodWorker::~PodWorker() { Stop(); }

void PodWorker::Update(const Json& pod) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->pod = pod;
  impl_->dirty = true;
  impl_->Wake();
}

void PodWorker::Removed() {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->removed = true;
  impl_->Wake();
}

bool PodWorker::Done() const { return impl_->done; }

void PodWorker::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
    impl_->Wake();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::string> PodWorker::LogPath(const std::string& container, bool previous) const {
  int a = HighestAttempt(ContainerStateRoot(impl_->dir) + "/" + container);
  if (previous) --a;
  if (a < 0) {
    if (previous) return Status(Code::kBadRequest, "previous terminated container \"" + container + "\" in pod \"" +
                                                       impl_->name + "\" not found");
    return Status(Code::kBadRequest, "container \"" + container + "\" in pod \"" + impl_->name +
                                         "\" is waiting to start: ContainerCreating");
  }
  return impl_->LogFile(container, a);
}

Result<std::string> PodWorker::RunningContainerId(const std::string& container) const {
  int a = HighestAttempt(ContainerStateRoot(impl_->dir) + "/" + container);
  if (a < 0) return Status(Code::kBadRequest, "container " + container + " not found in pod " + impl_->name);
  auto st = impl_->ctx->runtime->State(impl_->CtrDir(container, a));
  if (st.phase != ContainerState::kRunning)
    return Status(Code::kBadRequest, "container " + container + " is not running");
  return IdFor(uid_, container, a);
}

std::vector<std::string> PodWorker::ImageRefs() const {
  std::vector<std::string> out;
  Json p = impl_->Pod();
  for (const char* list : {"initContainers", "containers"})
    for (const auto& c : At(At(p, "spec"), list)) out.push_back(Str(c, "image"));
  return out;
}

std::string PodWorker::PodIP() const {
  std::lock_guard<std::mutex> l(impl_->ip_mu);
  return impl_->ip_copy;
}

std::vector<std::pair<std::string, std::string>> PodWorker::RunningCgroups() const {
  std::vector<std::pair<std::string, std::string>> out;
  DIR* d = opendir(ContainerStateRoot(impl_->dir).c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string cname = e->d_name;
    int a = HighestAttempt(ContainerStateRoot(impl_->dir) + "/" + cname);
    if (a < 0) continue;
    auto st = impl_->ctx->runtime->State(impl_->CtrDir(cname, a));
    if (st.phase != ContainerState::kRunning) continue;
    std::string id = IdFor(uid_, cname, a);
    out.emplace_back(cname, pod_cgroup() + "/" + id);
  }
  closedir(d);
  return out;
}

void CleanupOrphanPod(NodeContext* ctx, const std::string& uid) {
  std::string dir = ctx->root + "/pods/" + uid;
  const std::string state = ContainerStateRoot(dir);
  DIR* d = opendir(state.c_str());
  if (d) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string cname = e->d_name;
      int a = HighestAttempt(state + "/" + cname);
      for (int i = std::max(0, a - 1); i <= a; ++i) {
        std::string cdir = state + "/" + cname + "/" + std::to_string(i);
        auto st = ctx->runtime->State(cdir);
        if (st.phase == ContainerState::kRunning) ctx->runtime->Kill(IdFor(uid, cname, i), cdir, SIGKILL);
        ctx->runtime->Delete(IdFor(uid, cname, i));
      }
    }
    closedir(d);
  }
  if (ctx->network) ctx->network->TearDown(uid);
  RemoveCgroups("/berth/pod" + uid);
  UnmountTree(dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace berth::node
