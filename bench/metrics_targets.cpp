// Scrape targets for bench/bench_monitor.sh: one plain-HTTP listener on
// 127.0.0.1 that serves GET /metrics/<i> for i in 0..N-1, each the 1,000
// series of bench/monitor_series.h at the current second. A thread per
// connection, keep-alive, so a scraper's connection per target is reused as
// it would be with real exporters.
//
//   metrics_targets --targets N --port-file FILE [--base UNIX_SECONDS]
//
// The chosen port is written to FILE once listening. Counters count from
// --base (default: now). Runs until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

#include "bench/monitor_series.h"

namespace {

int g_targets = 0;
int64_t g_base = 0;

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void Reply(int fd, int code, const char* reason, const std::string& body, bool close) {
  char head[256];
  int n = std::snprintf(
      head, sizeof head,
      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n%s\r\n",
      code, reason, body.size(), close ? "Connection: close\r\n" : "");
  if (WriteAll(fd, head, static_cast<size_t>(n))) WriteAll(fd, body.data(), body.size());
}

void Serve(int fd) {
  std::string buf, body;
  char tmp[8192];
  for (;;) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
      if (r <= 0 || buf.size() > 65536) {
        ::close(fd);
        return;
      }
      buf.append(tmp, static_cast<size_t>(r));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);  // scrapes are GETs without a body
    bool close = head.find("Connection: close") != std::string::npos ||
                 head.find("connection: close") != std::string::npos;
    int target = -1;
    if (head.rfind("GET /metrics/", 0) == 0) {
      const char* p = head.c_str() + 13;
      char* e = nullptr;
      long i = std::strtol(p, &e, 10);
      if (e != p && (*e == ' ' || *e == '?') && i >= 0 && i < g_targets)
        target = static_cast<int>(i);
    }
    if (target < 0) {
      Reply(fd, 404, "Not Found", "not found\n", close);
    } else {
      body.clear();
      bench::monseries::RenderTarget(&body, target, std::time(nullptr), g_base);
      Reply(fd, 200, "OK", body, close);
    }
    if (close) {
      ::close(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file;
  g_base = std::time(nullptr);
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--targets")
      g_targets = std::atoi(argv[i + 1]);
    else if (a == "--port-file")
      port_file = argv[i + 1];
    else if (a == "--base")
      g_base = std::atoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (g_targets <= 0 || port_file.empty()) {
    std::fprintf(stderr,
                 "usage: metrics_targets --targets N --port-file FILE [--base UNIX_SECONDS]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 1024) != 0 ||
      ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << ntohs(addr.sin_port) << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  for (;;) {
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(Serve, fd).detach();
  }
}
