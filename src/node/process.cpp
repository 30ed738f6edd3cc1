#include "node/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <mutex>
#include <set>
#include <thread>

extern char** environ;

namespace berth::node {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { CloseAll(); }
  void Close(int i) {
    if (fd[i] >= 0) close(fd[i]);
    fd[i] = -1;
  }
  void CloseAll() { Close(0), Close(1); }
};

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, const std::string& input,
                                 int timeout_ms) {
  if (argv.empty()) return Internal("RunProcess: empty argv");
  Pipe in, out, err;
  if (pipe2(in.fd, O_CLOEXEC) || pipe2(out.fd, O_CLOEXEC) || pipe2(err.fd, O_CLOEXEC))
    return Internal(std::string("pipe: ") + strerror(errno));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  // Descriptors opened by other threads without O_CLOEXEC must not leak into
  // plugins (a leaked listening socket or lock would outlive us in them).
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_t pid = -1;
  int rc;
  {
    auto lock = SpawnLock();
    rc = posix_spawn(&pid, argv[0].c_str(), &fa, &attr, cargv.data(), cenv.data());
    if (rc == 0) TrackChild(pid);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Internal("spawn " + argv[0] + ": " + strerror(rc));
  in.Close(0), out.Close(1), err.Close(1);

  // A plugin that exits without reading stdin must not kill us with SIGPIPE:
  // block it on this thread and swallow any instance raised by our writes.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ProcessResult res;
  size_t written = 0;
  if (input.empty()) in.Close(1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    pollfd p[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in.fd[1] >= 0) idx_in = n, p[n++] = {in.fd[1], POLLOUT, 0};
    if (out.fd[0] >= 0) idx_out = n, p[n++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) idx_err = n, p[n++] = {err.fd[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int pr = poll(p, n, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    if (idx_in >= 0 && p[idx_in].revents) {
      ssize_t w = write(in.fd[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) in.Close(1);
      if (written == input.size()) in.Close(1);
    }
    auto drain = [](Pipe& pp, short revents, std::string* sink) {
      if (!revents) return;
      char buf[8192];
      ssize_t r = read(pp.fd[0], buf, sizeof buf);
      if (r > 0)
        sink->append(buf, static_cast<size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN))
        pp.Close(0);
    };
    if (idx_out >= 0) drain(out, p[idx_out].revents, &res.out);
    if (idx_err >= 0) drain(err, p[idx_err].revents, &res.err);
  }
  in.Close(1);
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (timed_out) kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  UntrackChild(pid);
  if (timed_out)
    return Internal(argv[0] + " timed out after " + std::to_string(timeout_ms) + " ms");
  res.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return res;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& input, int timeout_ms) {
  return RunProcess(argv, CurrentEnvironment(), input, timeout_ms);
}

namespace {
std::mutex& SpawnMutex() {
  static std::mutex mu;
  return mu;
}
std::set<pid_t>& Tracked() {  // guarded by SpawnMutex()
  static std::set<pid_t> pids;
  return pids;
}
}  // namespace

std::unique_lock<std::mutex> SpawnLock() { return std::unique_lock<std::mutex>(SpawnMutex()); }

void TrackChild(pid_t pid) { Tracked().insert(pid); }  // caller holds SpawnLock()

void UntrackChild(pid_t pid) {
  std::lock_guard<std::mutex> l(SpawnMutex());
  Tracked().erase(pid);
}

void StartOrphanReaper() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::thread([] {
      pthread_setname_np(pthread_self(), "orphan-reaper");
      const pid_t self = getpid();
      // Woken by SIGCHLD when the process blocks it in every thread (berth
      // server does); otherwise, and as a safety net, every few seconds.
      sigset_t chld;
      sigemptyset(&chld);
      sigaddset(&chld, SIGCHLD);
      sigset_t blocked;
      pthread_sigmask(SIG_BLOCK, nullptr, &blocked);
      int sfd = sigismember(&blocked, SIGCHLD) == 1 ? signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK) : -1;
      for (;;) {
        // Zombie children (state Z, parent us) that no spawner waits for.
        std::vector<pid_t> zombies;
        if (DIR* d = opendir("/proc")) {
          while (dirent* e = readdir(d)) {
            pid_t pid = static_cast<pid_t>(atoi(e->d_name));
            if (pid <= 0) continue;
            char path[64], buf[512];
            snprintf(path, sizeof path, "/proc/%d/stat", pid);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n <= 0) continue;
            buf[n] = 0;
            const char* rp = strrchr(buf, ')');
            if (!rp || rp[1] == 0 || rp[2] != 'Z') continue;
            if (static_cast<pid_t>(atoi(rp + 4)) == self) zombies.push_back(pid);
          }
          closedir(d);
        }
        if (!zombies.empty()) {
          std::lock_guard<std::mutex> l(SpawnMutex());
          for (pid_t pid : zombies)
            if (!Tracked().count(pid)) waitpid(pid, nullptr, WNOHANG);
        }
        if (sfd < 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        pollfd p{sfd, POLLIN, 0};
        poll(&p, 1, 5000);
        signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        }
      }
    }).detach();
  });
}

Status RunChecked(const std::vector<std::string>& argv, const std::string& input) {
  auto r = RunProcess(argv, CurrentEnvironment(), input);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return Internal(cmd + ": exit " + std::to_string(r->exit_code) + ": " + r->err);
  }
  return Status::Ok();
}

}  // namespace berth::node
