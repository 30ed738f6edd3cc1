#include "node/portforward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "node/fd.h"
#include "node/spdy.h"

namespace berth::node {

namespace {

constexpr const char* kWebSocketProtocol = "SPDY/3.1+portforward.k8s.io";

// A websocket seen as a byte stream: the SPDY bytes travel in binary
// messages with no other framing.
class WebSocketBytes : public net::DuplexStream {
 public:
  explicit WebSocketBytes(net::ResponseWriter::WebSocket* ws) : ws_(ws) {}
  bool Read(std::string* data) override { return ws_->Receive(data); }
  bool Write(std::string_view data) override { return ws_->SendBinary(data); }
  void Shutdown() override { ws_->Close(); }

 private:
  net::ResponseWriter::WebSocket* ws_;
};

// Opens a TCP connection to 127.0.0.1:port in the network namespace at
// `netns` (or to ip:port from here), on a short-lived thread of its own:
// setns() switches only the calling thread, and that thread ends with it.
Result<Fd> ConnectInPod(const PortForwardTarget& t, int port) {
  Result<Fd> out = Internal("not connected");
  std::thread th([&] {
    pthread_setname_np(pthread_self(), "berth-pf-dial");
    std::string host = "127.0.0.1";
    if (t.netns_path.empty()) {
      host = t.pod_ip;
    } else {
      Fd ns(::open(t.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.ok() || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        out = Internal("enter the network namespace of the pod: " +
                       std::string(std::strerror(errno)));
        return;
      }
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
      out = Internal("the pod has no IP address");
      return;
    }
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s.ok() || ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      out = Status(Code::kUnavailable, "dial tcp4 " + host + ":" + std::to_string(port) +
                                           ": connect: " + std::strerror(errno));
      return;
    }
    int one = 1;
    ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    out = std::move(s);
  });
  th.join();
  return out;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

class Session {
 public:
  Session(net::DuplexStream* conn, PortForwardTarget target)
      : conn_(conn), target_(std::move(target)) {}

  void Run() {
    std::string buf;
    spdy::Frame f;
    while (conn_->Read(&buf)) {
      framer_.Feed(buf);
      for (;;) {
        auto more = framer_.Next(&f);
        if (!more.ok()) {
          log::Debug("port-forward: bad frame",
                     log::Fields()("pod", target_.pod)("err", more.status().message()));
          Send(spdy::GoAway(last_stream_, spdy::kProtocolError));
          return End();
        }
        if (!*more) break;
        if (!Handle(f)) return End();
      }
    }
    End();
  }

 private:
  // One forwarded connection: its two streams and the pod-side socket.
  struct Pair {
    uint32_t error_id = 0, data_id = 0;
    int port = 0;
    std::mutex mu;
    Fd sock;
    bool closed = false;  // the socket was shut down (RST or session end)
    std::string pending;  // client data that arrived before the connection
    bool client_fin_before_connect = false;
    std::atomic<bool> done{false};  // Forward() returned; th may be joined
    std::thread th;
  };

  bool Send(const spdy::Frame& f) {
    std::lock_guard<std::mutex> l(send_mu_);  // compression state follows wire order
    auto bytes = framer_out_.Encode(f);
    return bytes.ok() && conn_->Write(*bytes);
  }

  bool Handle(const spdy::Frame& f) {
    if (!f.control) {
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return true;  // a stream we already dropped
      std::shared_ptr<Pair> p = it->second;
      if (f.stream_id == p->data_id) {
        std::lock_guard<std::mutex> l(p->mu);
        if (!p->sock.ok() && !p->closed) {
          // Not connected yet: the client may send its request at once.
          p->pending += f.data;
          if (f.flags & spdy::kFlagFin) p->client_fin_before_connect = true;
        } else if (p->sock.ok() && !p->closed) {
          // Blocking: a pod that does not read holds back this session,
          // which is the back-pressure TCP would give.
          SendAll(p->sock.get(), f.data);
          if (f.flags & spdy::kFlagFin) ::shutdown(p->sock.get(), SHUT_WR);
        }
      }
      return true;
    }
    switch (f.type) {
      case spdy::kSynStream:
        return OnSynStream(f);
      case spdy::kRstStream: {
        auto it = streams_.find(f.stream_id);
        if (it != streams_.end()) Close(*it->second);
        return true;
      }
      case spdy::kPing:
        return Send(spdy::Ping(f.ping_id));
      case spdy::kGoAway:
        return false;
      default:  // SETTINGS, WINDOW_UPDATE, HEADERS, unknown: nothing to do
        return true;
    }
  }

  bool OnSynStream(const spdy::Frame& f) {
    last_stream_ = std::max(last_stream_, f.stream_id);
    std::string type = f.Header("streamtype");
    std::string port_s = f.Header("port");
    std::string req = f.Header("requestid");
    int port = atoi(port_s.c_str());
    if ((type != "error" && type != "data") || port <= 0 || port > 65535) {
      return Send(spdy::RstStream(f.stream_id, spdy::kProtocolError));
    }
    // Clients before requestid paired an error stream with the data stream
    // two ids later.
    if (req.empty()) req = std::to_string(type == "error" ? f.stream_id : f.stream_id - 2);
    auto& p = pairs_[req];
    if (!p) p = std::make_shared<Pair>();
    (type == "error" ? p->error_id : p->data_id) = f.stream_id;
    p->port = port;
    streams_[f.stream_id] = p;
    if (!Send(spdy::SynReply(f.stream_id))) return false;
    Prune();
    if (p->error_id != 0 && p->data_id != 0 && !p->th.joinable()) {
      std::shared_ptr<Pair> pair = p;
      pair->th = std::thread([this, pair] { Forward(pair); });
    }
    return true;
  }

  // Pod → client for one pair, after connecting.
  void Forward(std::shared_ptr<Pair> p) {
    pthread_setname_np(pthread_self(), "berth-pf-conn");
    ForwardPair(*p);
    p->done = true;
  }

  void ForwardPair(Pair& pr) {
    Pair* p = &pr;
    auto sock = ConnectInPod(target_, p->port);
    if (!sock.ok()) {
      std::string msg = "error forwarding port " + std::to_string(p->port) + " to pod " +
                        target_.pod + ": " + sock.status().message();
      Send(spdy::Data(p->error_id, msg));
      Send(spdy::Data(p->data_id, "", spdy::kFlagFin));
      Send(spdy::Data(p->error_id, "", spdy::kFlagFin));
      return;
    }
    int fd;
    {
      std::lock_guard<std::mutex> l(p->mu);
      if (p->closed) return;
      p->sock = std::move(sock).value();
      fd = p->sock.get();
      if (!p->pending.empty()) {
        SendAll(fd, p->pending);
        p->pending.clear();
      }
      if (p->client_fin_before_connect) ::shutdown(fd, SHUT_WR);
    }
    std::string buf(32 << 10, '\0');
    for (;;) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!Send(spdy::Data(p->data_id, buf.substr(0, static_cast<size_t>(n))))) break;
    }
    Send(spdy::Data(p->data_id, "", spdy::kFlagFin));
    Send(spdy::Data(p->error_id, "", spdy::kFlagFin));
  }

  // Forgets the connections that are over (a long session sees many).
  void Prune() {
    for (auto it = pairs_.begin(); it != pairs_.end();) {
      std::shared_ptr<Pair> p = it->second;
      if (!p->done) {
        ++it;
        continue;
      }
      p->th.join();
      streams_.erase(p->error_id);
      streams_.erase(p->data_id);
      it = pairs_.erase(it);
    }
  }

  void Close(Pair& p) {
    std::lock_guard<std::mutex> l(p.mu);
    p.closed = true;
    if (p.sock.ok()) ::shutdown(p.sock.get(), SHUT_RDWR);
  }

  void End() {
    for (auto& [req, p] : pairs_) Close(*p);
    for (auto& [req, p] : pairs_)
      if (p->th.joinable()) p->th.join();
    pairs_.clear();
    streams_.clear();
  }

  net::DuplexStream* conn_;
  PortForwardTarget target_;
  spdy::Framer framer_;      // the reader's (decompression) side
  spdy::Framer framer_out_;  // the writers' (compression) side
  std::mutex send_mu_;
  uint32_t last_stream_ = 0;
  std::map<std::string, std::shared_ptr<Pair>> pairs_;  // by request id
  std::map<uint32_t, std::shared_ptr<Pair>> streams_;   // by stream id
};

}  // namespace

void RunPortForwardSession(net::DuplexStream* conn, const PortForwardTarget& target) {
  Session(conn, target).Run();
}

void ServePortForward(net::Request& r, net::ResponseWriter& w, const PortForwardTarget& target) {
  std::string protos = r.Header("Sec-WebSocket-Protocol");
  if (protos.find(kWebSocketProtocol) != std::string::npos) {
    auto ws = w.UpgradeWebSocket(kWebSocketProtocol);
    if (!ws) return;
    WebSocketBytes bytes(ws.get());
    RunPortForwardSession(&bytes, target);
    ws->Close();
    return;
  }
  std::string upgrade = r.Header("Upgrade");
  if (strcasecmp(upgrade.c_str(), "SPDY/3.1") == 0) {
    std::string versions = r.Header("X-Stream-Protocol-Version");
    if (!versions.empty() && versions.find("portforward.k8s.io") == std::string::npos) {
      w.Reply(403, {{"Content-Type", "application/json"}},
              net::StatusJson(
                  Status(Code::kForbidden, "unsupported port-forward protocol: " + versions)));
      return;
    }
    auto conn = w.UpgradeRaw(101, {{"Connection", "Upgrade"},
                                   {"Upgrade", "SPDY/3.1"},
                                   {"X-Stream-Protocol-Version", "portforward.k8s.io"}});
    if (!conn) return;
    RunPortForwardSession(conn.get(), target);
    conn->Shutdown();
    return;
  }
  w.Reply(
      400, {{"Content-Type", "application/json"}},
      net::StatusJson(BadRequest("port-forward needs a websocket upgrade with subprotocol " +
                                 std::string(kWebSocketProtocol) + " or an Upgrade: SPDY/3.1")));
}

}  // namespace berth::node
