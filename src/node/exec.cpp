#include "node/exec.h"
#include "node/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/file.h"
#include "core/log.h"
#include "node/fd.h"

extern char** environ;

namespace berth::node {

namespace channel {

std::string Frame(uint8_t ch, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(static_cast<char>(ch));
  out.append(data);
  return out;
}

std::string ExitStatus(int exit_code, const std::vector<std::string>& command) {
  if (exit_code == 0) return R"({"metadata":{},"status":"Success"})";
  std::string cmd;
  for (const auto& c : command) cmd += (cmd.empty() ? "" : " ") + c;
  nlohmann::json st = {
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", "command terminated with non-zero exit code: error executing command [" + cmd +
                      "], exit code " + std::to_string(exit_code)},
      {"reason", "NonZeroExitCode"},
      {"details",
       {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}}}};
  return st.dump();
}

std::string ErrorStatus(std::string_view message) {
  nlohmann::json st = {{"metadata", nlohmann::json::object()},
                       {"status", "Failure"},
                       {"message", std::string(message)},
                       {"reason", "InternalError"},
                       {"code", 500}};
  return st.dump();
}

bool ParseResize(std::string_view json, uint16_t* width, uint16_t* height) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return false;
  auto get = [&](const char* k) -> int64_t {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
  };
  int64_t w = get("Width"), h = get("Height");
  if (w < 0 || h < 0 || w > 65535 || h > 65535) return false;
  *width = static_cast<uint16_t>(w);
  *height = static_cast<uint16_t>(h);
  return true;
}

std::string Negotiate(std::string_view offered) {
  bool v4 = false;
  size_t pos = 0;
  while (pos <= offered.size()) {
    size_t comma = offered.find(',', pos);
    if (comma == std::string_view::npos) comma = offered.size();
    std::string_view p = offered.substr(pos, comma - pos);
    while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
    while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
    if (p == "v5.channel.k8s.io") return std::string(p);
    if (p == "v4.channel.k8s.io") v4 = true;
    pos = comma + 1;
  }
  return v4 ? "v4.channel.k8s.io" : "";
}

}  // namespace channel

namespace {

// Starts argv with the given stdio through a small reaper process (a forked
// copy of us that only waits). The server is a child subreaper, so without
// it the runtime's short-lived helper processes would be re-parented to the
// server when `crun exec` exits early (e.g. the command does not exist) and
// stay zombies; one of them lives in the container's PID namespace, and a
// namespace's init cannot finish dying until every member is reaped, so the
// pod could never terminate. The reaper is itself a subreaper, reaps
// everything under it and exits with the runtime's status. Between fork and
// exec only async-signal-safe calls are made.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char** envp = environ;
  auto lock = SpawnLock();  // see node/process.h: the orphan reaper leaves it alone
  pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) {
    TrackChild(pid);
    return pid;
  }
  // The reaper.
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
  ::syscall(SYS_close_range, 3u, ~0u, 0u);  // nothing else of the server leaks in
  ::setsid();  // its own process group, so a session end can kill it whole
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, &dfl, nullptr);  // the server ignores SIGPIPE
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t child = ::fork();
  if (child < 0) ::_exit(126);
  if (child == 0) {
    ::execve(args[0], args.data(), envp);
    ::_exit(127);
  }
  // The session sees EOF when the command's side closes, not when we do.
  ::close(0);
  ::close(1);
  ::close(2);
  int code = 126;
  for (;;) {
    int st;
    pid_t w = ::waitpid(-1, &st, 0);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: everything under us is reaped
    }
    if (w == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ::_exit(code);
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

bool Pipe(Fd* r, Fd* w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return false;
  r->Reset(p[0]);
  w->Reset(p[1]);
  return true;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// A listening unix socket the runtime connects to, to hand over the pty
// master. Removed on destruction.
class ConsoleSocket {
 public:
  ~ConsoleSocket() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  Status Listen(const std::string& dir) {
    BERTH_RETURN_IF_ERROR(MakeDirs(dir, 0700));
    std::mt19937_64 rng(std::random_device{}());
    char name[32];
    std::snprintf(name, sizeof name, "/c%016llx.sock", static_cast<unsigned long long>(rng()));
    path_ = dir + name;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
      return Internal("console socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_.ok()) return Internal(std::string("socket: ") + std::strerror(errno));
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_.get(), 1) != 0)
      return Internal("console socket " + path_ + ": " + std::strerror(errno));
    return Status::Ok();
  }
  const std::string& path() const { return path_; }
  // Waits for the runtime to send the master; gives up when `pid` exits
  // (the runtime failed before creating the terminal).
  Result<Fd> ReceiveMaster(pid_t pid, int* wstatus, bool* exited) {
    *exited = false;
    for (;;) {
      pollfd p{fd_.get(), POLLIN, 0};
      int n = ::poll(&p, 1, 100);
      if (n > 0) break;
      if (::waitpid(pid, wstatus, WNOHANG) == pid) {
        UntrackChild(pid);
        *exited = true;
        return Internal("the runtime exited before creating the terminal");
      }
    }
    Fd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.ok()) return Internal(std::string("accept console socket: ") + std::strerror(errno));
    char buf[512];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t r;
    do {
      r = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    cmsghdr* c = r >= 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
    if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      return Internal("the runtime sent no terminal");
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return Fd(fd);
  }

 private:
  std::string path_;
  Fd fd_;
};

void SetWindow(int master, uint16_t w, uint16_t h) {
  winsize ws{};
  ws.ws_col = w;
  ws.ws_row = h;
  ::ioctl(master, TIOCSWINSZ, &ws);
}

void Finish(net::ResponseWriter::WebSocket* ws, const std::string& status) {
  ws->SendBinary(channel::Frame(channel::kError, status));
  ws->Close();
}

}  // namespace

void RunExecSession(net::ResponseWriter::WebSocket* ws, const ExecOptions& opts, bool v5) {
  std::vector<std::string> argv = opts.argv;
  ConsoleSocket console;
  Fd in_r, in_w, out_r, out_w, err_r, err_w, devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (opts.tty) {
    if (Status st = console.Listen(opts.socket_dir); !st.ok())
      return Finish(ws, channel::ErrorStatus(st.message()));
    // `--console-socket` belongs to the exec subcommand: right after --tty.
    for (size_t i = 0; i < argv.size(); ++i)
      if (argv[i] == "--tty") {
        argv.insert(argv.begin() + static_cast<long>(i) + 1, "--console-socket=" + console.path());
        break;
      }
  } else {
    if ((opts.want_stdin && !Pipe(&in_r, &in_w)) || !Pipe(&out_r, &out_w) ||
        (opts.want_stderr && !Pipe(&err_r, &err_w)))
      return Finish(ws, channel::ErrorStatus("pipe: " + std::string(std::strerror(errno))));
  }
  int child_in = in_r.ok() ? in_r.get() : devnull.get();
  int child_out = out_w.ok() ? out_w.get() : devnull.get();
  int child_err = err_w.ok() ? err_w.get() : devnull.get();
  if (!opts.want_stdout && out_w.ok()) child_out = devnull.get();
  auto pid = Spawn(argv, child_in, child_out, child_err);
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  if (!pid.ok()) return Finish(ws, channel::ErrorStatus(pid.status().message()));

  int wstatus = 0;
  bool reaped = false;
  Fd master;
  if (opts.tty) {
    // The runtime's own stdio is not the terminal: it gets /dev/null and
    // reports failures with its exit status (its stderr goes nowhere then).
    auto m = console.ReceiveMaster(*pid, &wstatus, &reaped);
    if (!m.ok()) {
      if (!reaped) {
        ::kill(-*pid, SIGKILL);
        ::waitpid(*pid, &wstatus, 0);
        UntrackChild(*pid);
      }
      return Finish(
          ws, channel::ErrorStatus("cannot start a terminal session: " + m.status().message()));
    }
    master = std::move(m).value();
  }

  // stdin, resize and close messages from the client, on their own thread.
  std::atomic<bool> done{false}, client_gone{false};
  int in_fd = opts.tty ? master.get() : in_w.get();
  std::thread input([&] {
    pthread_setname_np(pthread_self(), "berth-exec-in");
    std::string msg;
    while (ws->Receive(&msg)) {
      if (msg.empty()) continue;
      uint8_t ch = static_cast<uint8_t>(msg[0]);
      std::string_view data(msg.data() + 1, msg.size() - 1);
      if (ch == channel::kStdin) {
        if (in_fd >= 0 && !data.empty() && !WriteAll(in_fd, data) && !opts.tty) {
          in_w.Reset();
          in_fd = -1;
        }
      } else if (ch == channel::kResize && opts.tty) {
        uint16_t w, h;
        if (channel::ParseResize(data, &w, &h)) SetWindow(master.get(), w, h);
      } else if (ch == channel::kClose && v5 && !data.empty() && data[0] == channel::kStdin) {
        // stdin EOF: the process sees end of input. A terminal has no EOF
        // of its own; the client sends ^D through it instead.
        if (!opts.tty) {
          in_w.Reset();
          in_fd = -1;
        }
      }
    }
    if (!opts.tty) in_w.Reset();
    if (!done) client_gone = true;
  });

  // Output until every writer has closed (or the terminal hung up).
  std::vector<std::pair<int, uint8_t>> outs;
  if (opts.tty) {
    outs.push_back({master.get(), channel::kStdout});
  } else {
    outs.push_back({out_r.get(), channel::kStdout});
    if (err_r.ok()) outs.push_back({err_r.get(), channel::kStderr});
  }
  std::string buf(32 << 10, '\0');
  bool killed = false;
  while (!outs.empty()) {
    if (client_gone && !killed) {
      // Nobody reads the output any more; the command goes with the session.
      ::kill(-*pid, SIGKILL);
      killed = true;
      break;
    }
    std::vector<pollfd> pfds;
    for (auto& [fd, ch] : outs) pfds.push_back({fd, POLLIN, 0});
    int n = ::poll(pfds.data(), pfds.size(), 200);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (size_t i = pfds.size(); i-- > 0;) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(pfds[i].fd, buf.data(), buf.size());
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {  // EOF, or EIO from a terminal whose last user left
        outs.erase(outs.begin() + static_cast<long>(i));
        continue;
      }
      if (!ws->SendBinary(
              channel::Frame(outs[i].second, std::string_view(buf.data(), static_cast<size_t>(r)))))
        client_gone = true;
    }
  }
  if (!reaped) ::waitpid(*pid, &wstatus, 0);
  UntrackChild(*pid);
  done = true;
  if (killed) {
    ws->Close();
  } else {
    Finish(ws, channel::ExitStatus(ExitCodeOf(wstatus), opts.command));
  }
  input.join();
}

}  // namespace berth::node
