// A `berth server` child process for benchmarks: start, readiness, stop, and
// what /proc says about it (RSS, CPU time, threads).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "net/client.h"

namespace bench {

using Clock = std::chrono::steady_clock;
inline double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
using berth::net::ClientOptions;
using berth::net::HttpsClient;

struct Server {
  std::string berth;                    // the binary
  std::vector<std::string> extra_args;  // after the standard flags
  std::string data_dir;
  std::string log_path;
  int port = 0;
  pid_t pid = -1;
  Clock::time_point exec_at;

  ClientOptions Opts() const {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.ca_file = data_dir + "/pki/ca.crt";
    o.cert_file = data_dir + "/pki/admin.crt";
    o.key_file = data_dir + "/pki/admin.key";
    return o;
  }

  bool Spawn() {
    exec_at = Clock::now();
    pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      std::vector<std::string> args = {berth, "server", "--data-dir", data_dir, "--port", std::to_string(port),
                                       "--bind", "127.0.0.1", "--log-level", "warn"};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(berth.c_str(), argv.data());
      _exit(127);
    }
    return true;
  }

  bool Alive() {
    if (pid <= 0) return false;
    int st;
    return waitpid(pid, &st, WNOHANG) == 0;
  }

  // Polls /readyz until 200; returns seconds since exec, or a negative value.
  double WaitReady(double timeout_s) {
    auto deadline = exec_at + std::chrono::duration<double>(timeout_s);
    // The client loads the CA and admin cert at construction; on a first
    // start they appear only once the server has made its PKI.
    while (!std::filesystem::exists(data_dir + "/pki/admin.key") ||
           !std::filesystem::exists(data_dir + "/pki/ca.crt")) {
      if (Clock::now() > deadline || !Alive()) return -1;
      usleep(200);
    }
    std::optional<HttpsClient> c;
    c.emplace(Opts());
    while (Clock::now() < deadline) {
      auto r = c->Do("GET", "/readyz");
      if (r.ok() && r->status == 200) return Secs(Clock::now() - exec_at);
      if (!r.ok() && !Alive()) return -1;
      if (r.ok()) c->Close();
      // The certs may have been half there when the client loaded them.
      if (!r.ok() && r.status().message().find("client TLS setup") != std::string::npos) c.emplace(Opts());
      usleep(200);
    }
    return -1;
  }

  // SIGTERM and wait; returns seconds to exit.
  double Stop() {
    if (pid <= 0) return 0;
    auto t0 = Clock::now();
    kill(pid, SIGTERM);
    for (int i = 0; i < 10000; ++i) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return Secs(Clock::now() - t0);
      }
      usleep(1000);
    }
    std::fprintf(stderr, "server did not stop in 10 s; killing it\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
    return -1;
  }

  // VmRSS in KiB.
  long RssKb() const {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
  }
  // Open file descriptors on the state database (the writer plus each pooled
  // reader connection; each holds its own page cache).
  int DbHandles() const {
    int n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
      auto target = std::filesystem::read_symlink(e.path(), ec);
      if (!ec && target.filename() == "state.db") ++n;
    }
    return n;
  }
  // CPU seconds (user + system) the server has used so far.
  double CpuSeconds() const {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t at = stat.rfind(')');
    if (at == std::string::npos) return 0;
    std::istringstream in(stat.substr(at + 2));
    std::string field;
    double ticks = 0;
    // Fields after the command: state is #3; utime and stime are #14 and #15.
    for (int i = 3; i <= 15 && in >> field; ++i)
      if (i >= 14) ticks += std::atof(field.c_str());
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  long ThreadCount() const {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("Threads:", 0) == 0) return std::atol(line.c_str() + 8);
    }
    return -1;
  }
};

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}


}  // namespace bench
