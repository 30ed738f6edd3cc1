// berth-shim: one small process per container, like conmon. It creates and
// starts the container through the OCI runtime, is its parent (a subreaper),
// turns its stdout/stderr into a CRI-format log, and records how it ended in
// exit.json. The agent can restart or crash meanwhile; the shim goes on.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

// A separate, small, statically linked program (no Berth libraries): one runs
// per container for the container's whole life, so its memory counts per pod.
// The agent talks to it only through files in the container's directory and
// the start report on fd 3 (see node/runtime.h).
namespace {

// The whole file, or nothing (ok=false).
bool ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

constexpr size_t kMaxLine = 16 * 1024;           // longer lines become partial (P) records
constexpr off_t kRotateBytes = 10 * 1024 * 1024;  // rotate the log at this size, keep one

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Rfc3339Nano(int64_t nanos) {
  time_t s = nanos / 1000000000;
  tm t;
  gmtime_r(&s, &t);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
           t.tm_hour, t.tm_min, t.tm_sec, static_cast<long long>(nanos % 1000000000));
  return buf;
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += n;
  }
}

void WriteFileNow(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  // No fsync: after a machine crash the container is gone with the record.
  WriteAll(fd, data);
  close(fd);
  rename(tmp.c_str(), path.c_str());
}

class CriLog {
 public:
  explicit CriLog(std::string path) : path_(std::move(path)) { Open(); }
  ~CriLog() {
    if (fd_ >= 0) close(fd_);
  }
  void Append(const char* stream, std::string* pending, const char* data, size_t n, bool eof) {
    pending->append(data, n);
    size_t start = 0;
    for (;;) {
      size_t nl = pending->find('\n', start);
      if (nl == std::string::npos) break;
      Emit(stream, 'F', std::string_view(*pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending->erase(0, start);
    while (pending->size() >= kMaxLine) {
      Emit(stream, 'P', std::string_view(*pending).substr(0, kMaxLine));
      pending->erase(0, kMaxLine);
    }
    if (eof && !pending->empty()) {
      Emit(stream, 'F', *pending);
      pending->clear();
    }
  }

 private:
  void Open() {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st;
    size_ = (fd_ >= 0 && fstat(fd_, &st) == 0) ? st.st_size : 0;
  }
  void Emit(const char* stream, char tag, std::string_view line) {
    std::string rec = Rfc3339Nano(NowNanos());
    rec += ' ';
    rec += stream;
    rec += ' ';
    rec += tag;
    rec += ' ';
    rec.append(line);
    rec += '\n';
    if (fd_ < 0) return;
    if (size_ + static_cast<off_t>(rec.size()) > kRotateBytes) {
      close(fd_);
      rename(path_.c_str(), (path_ + ".1").c_str());
      Open();
    }
    WriteAll(fd_, rec);
    size_ += rec.size();
  }
  std::string path_;
  int fd_ = -1;
  off_t size_ = 0;
};

// fork+exec with the given stdio; returns the pid.
pid_t Launch(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> c;
  for (const auto& a : argv) c.push_back(const_cast<char*>(a.c_str()));
  c.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Ignored signals stay ignored across exec: the runtime and the
    // container must not inherit what the shim ignores.
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(c[0], c.data());
    _exit(127);
  }
  return pid;
}

int WaitFor(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string Tail(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  size_t nl = t.rfind('\n');
  if (nl != std::string::npos) t = t.substr(nl + 1);
  // crun's log lines are JSON ({"msg":"...","level":"error",...}) or
  // "level=error msg=..." depending on the version: take the message.
  size_t m = t.find("\"msg\":\"");
  if (m == std::string::npos) return t;
  std::string msg;
  for (size_t i = m + 7; i < t.size() && t[i] != '"'; ++i) {
    if (t[i] == '\\' && i + 1 < t.size()) ++i;
    msg += t[i];
  }
  return msg;
}

bool OomKilled(const std::string& cgroup) {
  for (const std::string& f : {"/sys/fs/cgroup/memory" + cgroup + "/memory.oom_control",
                               "/sys/fs/cgroup/unified" + cgroup + "/memory.events",
                               "/sys/fs/cgroup" + cgroup + "/memory.events"}) {
    std::string s;
    if (!ReadFile(f, &s)) continue;
    size_t p = s.find("oom_kill ");
    if (p != std::string::npos && atol(s.c_str() + p + 9) > 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  --argc;
  ++argv;
  std::map<std::string, std::string> a;
  bool crun = false;
  for (int i = 0; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--crun") crun = true;
    else if (k.rfind("--", 0) == 0 && i + 1 < argc) a[k.substr(2)] = argv[++i];
  }
  const std::string id = a["id"], dir = a["dir"], runtime = a["runtime"], root = a["root"];
  const int report = 3;
  auto fail = [&](const std::string& msg) {
    WriteAll(report, "error " + msg + "\n");
    close(report);
    return 1;
  };
  // Without the report descriptor nobody would learn the outcome, and fd 3
  // would be taken by the next descriptor we open: refuse to run at all.
  if (fcntl(report, F_GETFD) < 0) {
    fprintf(stderr, "berth-shim: fd 3 (the start report) is not open\n");
    return 2;
  }
  if (id.empty() || dir.empty() || runtime.empty()) return fail("shim: missing --id, --dir or --runtime");
  setsid();
  prctl(PR_SET_NAME, "berth-shim");
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigaddset(&chld, SIGTERM);
  sigaddset(&chld, SIGINT);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return fail("shim: pipe failed");
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::string rtlog = dir + "/runtime.log";
  unlink(rtlog.c_str());
  std::vector<std::string> base = {runtime, "--root", root, "--log", rtlog};
  if (crun) base.push_back("--cgroup-manager=cgroupfs");

  // crun: `run --detach`, one exec. Its helper process exits once the
  // container runs without reaping it, so the container's init (or, if it
  // ended at once, its zombie) is re-parented to us, a subreaper: we, and
  // only we, see its exit status. Checked with containers that exit
  // immediately, hundreds of times under CPU contention (crun 1.8).
  // Other runtimes: create, then start, which has the same property by
  // construction (the init waits for `start` before running any code) and
  // costs a second exec of the runtime.
  auto create = base;
  if (crun) create.insert(create.end(), {"run", "--detach", "--bundle", dir, "--pid-file", dir + "/container.pid", id});
  else create.insert(create.end(), {"create", "--bundle", dir, "--pid-file", dir + "/container.pid", id});
  // The runtime's own messages go to its log; the container inherits out/err.
  int64_t started = NowNanos();
  int rc = WaitFor(Launch(create, devnull, out[1], err[1]));
  auto why = [&] {
    std::string l;
    std::string t = ReadFile(rtlog, &l) ? Tail(l) : "";
    return t.empty() ? "the OCI runtime failed (exit " + std::to_string(rc) + ")" : t;
  };
  if (rc != 0) return fail(why());
  auto start = base;
  start.insert(start.end(), {"start", id});
  if (!crun) {
    started = NowNanos();
    rc = WaitFor(Launch(start, devnull, devnull, devnull));
  }
  if (rc != 0) {
    std::string msg = why();
    auto del = base;
    del.insert(del.end(), {"delete", "--force", id});
    WaitFor(Launch(del, devnull, devnull, devnull));
    return fail(msg);
  }
  close(out[1]);
  close(err[1]);
  std::string pidtext;
  pid_t cpid = ReadFile(dir + "/container.pid", &pidtext) ? static_cast<pid_t>(atol(pidtext.c_str())) : 0;
  WriteFileNow(dir + "/started", std::to_string(started));
  WriteAll(report, "ok\n");
  close(report);

  CriLog log(a["log"]);
  std::string pend_out, pend_err;
  bool out_open = true, err_open = true, exited = false;
  int exit_code = 0, exit_signal = 0;
  int64_t exited_at = 0;
  char buf[65536];
  while (out_open || err_open || !exited) {
    pollfd p[3] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}, {sfd, POLLIN, 0}};
    // After the container's init exits, its stdio may still be held by a
    // process that escaped it; stop waiting for EOF after a second.
    // Otherwise wake now and then to make sure the container still exists:
    // a SIGCHLD we never got must not leave us waiting forever.
    int timeout = exited ? 1000 : 5000;
    int n = poll(p, 3, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && exited) break;
    if (n == 0 && cpid > 0 && kill(cpid, 0) != 0 && errno == ESRCH) {
      // Gone without our reaping it (zombies still answer kill 0): the
      // status is lost; record the exit as unknown rather than hang.
      exited = true;
      exit_code = 255;
      exited_at = NowNanos();
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
      ssize_t r = read(p[i].fd, buf, sizeof buf);
      bool eof = r <= 0;
      if (eof) (i == 0 ? out_open : err_open) = false;
      log.Append(i == 0 ? "stdout" : "stderr", i == 0 ? &pend_out : &pend_err, buf, eof ? 0 : r, eof);
    }
    if (p[2].revents & POLLIN) {
      signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          if (cpid > 0) kill(cpid, SIGTERM);
        }
      }
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        if (w != cpid) continue;  // reparented descendants, reaped as a subreaper
        exited = true;
        exited_at = NowNanos();
        if (WIFEXITED(st)) exit_code = WEXITSTATUS(st);
        else if (WIFSIGNALED(st)) {
          exit_signal = WTERMSIG(st);
          exit_code = 128 + exit_signal;
        }
      }
    }
  }
  log.Append("stdout", &pend_out, "", 0, true);
  log.Append("stderr", &pend_err, "", 0, true);
  bool oom = exit_signal == SIGKILL && !a["cgroup"].empty() && OomKilled(a["cgroup"]);
  char j[256];
  snprintf(j, sizeof j,
           "{\"exitCode\":%d,\"signal\":%d,\"startedAt\":%lld,\"finishedAt\":%lld,\"oomKilled\":%s%s}",
           exit_code, exit_signal, static_cast<long long>(started),
           static_cast<long long>(exited_at ? exited_at : NowNanos()), oom ? "true" : "false",
           oom ? ",\"reason\":\"OOMKilled\"" : "");
  WriteFileNow(dir + "/exit.json", j);
  return 0;
}
