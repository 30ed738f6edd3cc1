// HttpsServer: a poll()-driven acceptor thread hands each TCP connection to its
// own thread, which runs synchronous Beast on a TLS stream. Synchronous code
// keeps handlers simple (a watch is a loop that writes chunks); the cost is a
// thread per open connection, which is fine at control-plane scale.
//
// Stopping: every blocking socket call in a connection thread is broken by
// shutdown(2) on its fd (never close(2): the fd number could be reused while
// the thread still holds it). The acceptor sleeps in poll() on the listener and
// an eventfd, so Stop() wakes it instantly.
//
// Websockets need full duplex (exec reads stdin while writing stdout from two
// threads), which a synchronous TLS stream cannot give safely. After the
// upgrade a session therefore switches to Beast's async operations, run by one
// shared I/O thread; the blocking SendBinary/Receive API just waits for them.
#include "net/server.h"

#include "core/ids.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "core/fd.h"
#include "core/log.h"
#include "core/metrics.h"

namespace berth::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using TlsStream = beast::ssl_stream<tcp::socket>;
using ErrorCode = boost::system::error_code;
using BeastRequest = http::request<http::string_body>;

namespace {

constexpr const char* kOpenConnections = "berth_http_open_connections";
constexpr const char* kConnectionsTotal = "berth_http_connections_total";
constexpr const char* kHandshakeErrors = "berth_http_tls_handshake_errors_total";
constexpr int kHandshakeTimeoutSeconds = 10;
constexpr size_t kMaxWebSocketMessage = 64 << 20;
// After a 413 we read (and discard) this much of the unread body before
// closing: closing with unread input makes the kernel send RST, which can
// destroy the 413 response before the client reads it.
constexpr size_t kMaxDrainBytes = 8 << 20;

void DescribeMetrics() {
  static std::once_flag once;
  std::call_once(once, [] {
    metrics::Describe(kOpenConnections, metrics::Type::kGauge, "Open HTTPS connections.");
    metrics::Describe(kConnectionsTotal, metrics::Type::kCounter, "Accepted TCP connections.");
    metrics::Describe(kHandshakeErrors, metrics::Type::kCounter, "Failed TLS handshakes.");
  });
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void NameThread(const char* name) { pthread_setname_np(pthread_self(), name); }

using UniqueFd = berth::Fd;

std::string FormatAddr(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

// Header values from handlers must not be able to split the response.
std::string SanitizeHeaderValue(const std::string& v) {
  if (v.find_first_of("\r\n") == std::string::npos) return v;
  std::string out = v;
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

bool IsHttpParseError(const ErrorCode& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::body_limit && ec != http::error::header_limit;
}

std::string Base64UrlDecode(std::string_view in) {
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '-' || c == '+')
      d = 62;
    else if (c == '_' || c == '/')
      d = 63;
    else
      break;  // '=' padding or garbage ends the value
    val = (val << 6) | d;
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// The password of `Authorization: Basic` (the user name is not checked: the
// token alone identifies the caller), or "".
std::string BasicPassword(const Request& r) {
  std::string auth = r.Header("Authorization");
  if (auth.size() <= 6 || ::strncasecmp(auth.c_str(), "Basic ", 6) != 0) return "";
  auto decoded = Base64Decode(std::string_view(auth).substr(6));
  if (!decoded) return "";
  size_t colon = decoded->find(':');
  return colon == std::string::npos ? "" : decoded->substr(colon + 1);
}

// The bearer token of a request: the Authorization header, or for browser
// websockets (which cannot set headers) the Kubernetes convention of a
// `base64url.bearer.authorization.k8s.io.<token>` subprotocol.
std::string BearerToken(const Request& r) {
  std::string auth = r.Header("Authorization");
  if (auth.size() > 7 && ::strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
    size_t b = auth.find_first_not_of(' ', 7);
    size_t e = auth.find_last_not_of(' ');
    if (b != std::string::npos) return auth.substr(b, e - b + 1);
  }
  static constexpr std::string_view kWsPrefix = "base64url.bearer.authorization.k8s.io.";
  std::string protos = r.Header("Sec-WebSocket-Protocol");
  size_t pos = 0;
  while (pos < protos.size()) {
    size_t comma = protos.find(',', pos);
    std::string_view p(protos.data() + pos,
                       (comma == std::string::npos ? protos.size() : comma) - pos);
    while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
    while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
    if (p.substr(0, kWsPrefix.size()) == kWsPrefix) {
      return Base64UrlDecode(p.substr(kWsPrefix.size()));
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return "";
}

// The verified client certificate's identity, or an empty one.
Identity CertIdentity(SSL* ssl) {
  Identity id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return id;
  std::unique_ptr<X509, decltype(&X509_free)> guard(cert, X509_free);
  // The handshake accepts any certificate (so a bad one can still fall back to
  // a bearer token); only a chain that verified against client_ca_file counts.
  if (SSL_get_verify_result(ssl) != X509_V_OK) return id;
  X509_NAME* subject = X509_get_subject_name(cert);
  auto entry_text = [&](int idx) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, data);
    std::string s = n > 0 ? std::string(reinterpret_cast<char*>(utf8), n) : std::string();
    OPENSSL_free(utf8);
    return s;
  };
  int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) id.user = entry_text(cn);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;) {
    id.groups.push_back(entry_text(i));
  }
  return id;
}

int AlpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  // Only HTTP/1.1 is served; choosing it explicitly keeps h2-first clients
  // (Go, curl) from guessing.
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string SslErrorText(const std::string& what) {
  std::string msg = what;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += std::string(": ") + buf;
  }
  return msg;
}

}  // namespace

// State shared between a connection thread and the acceptor/Stop().
struct ConnSlot {
  uint64_t id = 0;
  int fd = -1;  // valid while the slot is in HttpsServerState::live
  // Steady-clock ms after which the acceptor shuts the socket down; 0 = none.
  // Set while waiting on the client (handshake, next request, body), cleared
  // while a handler runs because watches legitimately last for hours.
  std::atomic<int64_t> deadline_ms{0};
};

// Everything a connection needs from its server. HttpsServer::Impl is private,
// so the shared state lives in this .cpp-local type.
struct HttpsServerState {
  ServerOptions opts;
  Router router;
  TokenAuthenticator tokens;

  std::unique_ptr<ssl::context> tls;
  // Sockets are bound to this context. Synchronous I/O never runs it; the
  // websocket thread runs it for upgraded sessions.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread io_thread;

  UniqueFd listen_fd;
  UniqueFd wake_fd;
  int bound_port = 0;
  std::thread acceptor;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};

  std::mutex mu;
  bool started = false;
  uint64_t next_id = 1;
  std::map<uint64_t, std::shared_ptr<ConnSlot>> live;
  std::map<uint64_t, std::thread> threads;
  std::vector<uint64_t> finished;

  Status SetupTls();
  Status Listen();
  void AcceptLoop();
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd.get(), &one, sizeof one);
  }
  void ReapFinished();
  void EnforceDeadlines();
  void RunConnection(std::shared_ptr<ConnSlot> slot, UniqueFd fd, int family, std::string remote);
  bool IsAnonymous(const std::string& path) const;
};

struct HttpsServer::Impl : HttpsServerState {};

// ---------------------------------------------------------------------------
// One connection.

namespace {

class Connection;

// Blocking calls for an upgraded connection: each runs one async operation on
// the server's I/O thread, so one thread can read while another writes the
// same TLS stream; Drain() waits, when the session ends, for operations still
// in flight (forcing them to complete by shutting the socket down).
class IoOps {
 public:
  // Runs `start(done)` on the I/O thread and blocks until `done` is called.
  template <class Start>
  ErrorCode Run(Connection* conn, Start start);
  void Drain(Connection* conn);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
};

class ServerWebSocket : public ResponseWriter::WebSocket {
 public:
  ServerWebSocket(Connection* conn, TlsStream& stream) : conn_(conn), ws_(stream) {}
  ~ServerWebSocket() override;

  bool Accept(const BeastRequest& req, const std::string& protocol);
  bool SendBinary(std::string_view data) override;
  bool Receive(std::string* data) override;
  void Close() override;

 private:
  template <class Start>
  ErrorCode RunOnIo(Start start) {
    return ops_.Run(conn_, start);
  }

  Connection* conn_;
  websocket::stream<TlsStream&> ws_;
  std::mutex send_mu_, recv_mu_;  // one write and one read in flight at most
  IoOps ops_;
  beast::flat_buffer rbuf_;
};

// An upgraded connection relayed as bytes. Like ServerWebSocket, its reads
// and writes run as async operations on the shared I/O thread so that one
// thread can read while another writes the same TLS stream.
class ServerRawStream : public DuplexStream {
 public:
  ServerRawStream(Connection* conn, TlsStream& stream, std::string leftover)
      : conn_(conn), stream_(stream), leftover_(std::move(leftover)) {}
  ~ServerRawStream() override;
  bool Read(std::string* data) override;
  bool Write(std::string_view data) override;
  void Shutdown() override;

 private:
  template <class Start>
  ErrorCode RunOnIo(Start start) {
    return ops_.Run(conn_, start);
  }

  Connection* conn_;
  TlsStream& stream_;
  std::string leftover_;
  std::mutex send_mu_, recv_mu_;
  IoOps ops_;
};

class Connection : public ResponseWriter {
 public:
  Connection(HttpsServerState* srv, ConnSlot* slot, TlsStream& stream, std::string remote)
      : srv_(srv), slot_(slot), stream_(stream), remote_(std::move(remote)) {}

  void Serve();

  // ResponseWriter.
  void Reply(int code, const Headers& headers, std::string body) override;
  bool Start(int code, const Headers& headers) override;
  bool Write(std::string_view chunk) override;
  void End() override;
  bool PeerClosed() override;
  std::unique_ptr<WebSocket> UpgradeWebSocket(const std::string& protocol) override;
  std::unique_ptr<DuplexStream> UpgradeRaw(int code, const Headers& headers) override;

  HttpsServerState* server() { return srv_; }
  bool stopping() const { return srv_->stopping.load(); }
  void SetDeadline(int seconds) {
    slot_->deadline_ms = seconds > 0 ? NowMs() + int64_t{seconds} * 1000 : 0;
  }
  void ShutdownSocket() { ::shutdown(slot_->fd, SHUT_RDWR); }
  TlsStream& stream() { return stream_; }
  bool SendContinue();

 private:
  enum class State { kIdle, kReplied, kStreaming, kEnded, kUpgraded };

  // Handles one parsed request (its body in `breq` or, for streaming routes,
  // behind `body`); returns whether the connection may be reused.
  bool Dispatch(BeastRequest& breq, BodyReader* body);
  void SendStatus(int code, const char* reason, const std::string& message, bool keep_alive);
  void Drain();
  bool WriteRaw(std::string_view data);
  template <class Fields>
  void ApplyHeaders(Fields& f, const Headers& headers);

  HttpsServerState* srv_;
  ConnSlot* slot_;
  TlsStream& stream_;
  std::string remote_;
  Identity cert_identity_;
  beast::flat_buffer* rbuf_ = nullptr;  // Serve()'s read buffer: bytes read past a request

  // Per-request state.
  BeastRequest* breq_ = nullptr;
  bool head_ = false;
  bool keep_alive_ = true;
  State state_ = State::kIdle;
  bool failed_ = false;
  bool raw_body_ = false;  // a streamed body with a Content-Length, not chunked
  uint64_t raw_left_ = 0;  // bytes of that body still to write
};

// The body of a streaming route, read from the connection as the handler asks.
// A client that sent "Expect: 100-continue" gets its 100 only when the handler
// first reads, so a request refused before that (401, 404) never uploads.
class StreamingBody : public BodyReader {
 public:
  StreamingBody(Connection* conn, http::request_parser<http::buffer_body>& parser,
                beast::flat_buffer& buf, bool expect_continue)
      : conn_(conn), parser_(parser), buf_(buf), expect_continue_(expect_continue) {}

  Result<size_t> Read(char* out, size_t n) override {
    if (failed_) return Status(Code::kBadRequest, "the request body could not be read");
    if (parser_.is_done() || n == 0) return size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      if (!conn_->SendContinue()) return Fail("the client went away");
    }
    parser_.get().body().data = out;
    parser_.get().body().size = n;
    parser_.get().body().more = true;
    ErrorCode ec;
    conn_->SetDeadline(conn_->server()->opts.idle_timeout_seconds);
    http::read(conn_->stream(), buf_, parser_, ec);
    conn_->SetDeadline(0);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Fail("the request body is incomplete: " + ec.message());
    return n - parser_.get().body().size;
  }

  int64_t declared_length() const override {
    auto len = parser_.content_length();
    return len ? static_cast<int64_t>(*len) : -1;
  }

  // Reads and drops what the handler left, up to `limit` bytes; false when
  // the connection cannot be reused. A client still waiting for a 100
  // Continue never sent its body, so there is nothing to skip.
  bool Discard(size_t limit) {
    if (failed_) return false;
    if (parser_.is_done()) return true;
    if (expect_continue_) return false;
    char scratch[16384];
    size_t total = 0;
    while (!parser_.is_done()) {
      auto n = Read(scratch, sizeof scratch);
      if (!n.ok()) return false;
      total += *n;
      if (total > limit) return false;
    }
    return true;
  }

 private:
  Status Fail(const std::string& why) {
    failed_ = true;
    return Status(Code::kBadRequest, why);
  }

  Connection* conn_;
  http::request_parser<http::buffer_body>& parser_;
  beast::flat_buffer& buf_;
  bool expect_continue_;
  bool failed_ = false;
};

void Connection::Serve() {
  ErrorCode ec;
  SetDeadline(kHandshakeTimeoutSeconds);
  stream_.handshake(ssl::stream_base::server, ec);
  if (ec) {
    metrics::Add(kHandshakeErrors, "");
    // A plain-HTTP client gets a readable answer instead of a reset, as Go does.
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(ec.value()) == SSL_R_HTTP_REQUEST) {
      static constexpr std::string_view kMsg =
          "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
          "Client sent an HTTP request to an HTTPS server.\n";
      ErrorCode wec;
      asio::write(stream_.next_layer(), asio::buffer(kMsg.data(), kMsg.size()), wec);
    }
    log::Debug("tls handshake failed", log::Fields()("remote", remote_)("err", ec.message()));
    return;
  }
  cert_identity_ = CertIdentity(stream_.native_handle());

  beast::flat_buffer buf;
  rbuf_ = &buf;
  const ServerOptions& opts = srv_->opts;
  while (!stopping()) {
    SetDeadline(opts.idle_timeout_seconds);
    http::request_parser<http::empty_body> hp;
    hp.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
    hp.body_limit(boost::none);  // each body reader below sets its own
    http::read_header(stream_, buf, hp, ec);
    if (ec == http::error::header_limit) {
      SendStatus(431, "RequestHeaderFieldsTooLarge", "request headers too large", false);
      return;
    }
    if (ec) {
      if (IsHttpParseError(ec)) {
        SendStatus(400, "BadRequest", "malformed HTTP request: " + ec.message(), false);
      }
      return;  // EOF, reset, timeout or Stop()
    }
    bool expect_continue = beast::iequals(hp.get()[http::field::expect], "100-continue");
    std::string_view target(hp.get().target().data(), hp.get().target().size());
    const Route* route =
        srv_->router.MatchRoute(PercentDecode(target.substr(0, target.find('?')), false));

    if (route != nullptr && route->stream_body) {
      http::request_parser<http::buffer_body> bp{std::move(hp)};
      bp.body_limit(boost::none);
      BeastRequest breq{bp.get().base()};
      StreamingBody body(this, bp, buf, expect_continue);
      bool reuse = Dispatch(breq, &body);
      // A body the handler did not finish is discarded when small; otherwise
      // the connection closes (its unread bytes cannot be skipped cheaply).
      if (!reuse || !body.Discard(kMaxDrainBytes)) return;
      continue;
    }

    http::request_parser<http::string_body> parser{std::move(hp)};
    parser.body_limit(opts.max_body_bytes);
    if (auto len = parser.content_length(); len && *len > opts.max_body_bytes) {
      SendStatus(413, "RequestEntityTooLarge",
                 "the request body exceeds " + std::to_string(opts.max_body_bytes) + " bytes",
                 false);
      if (!expect_continue) Drain();
      return;
    }
    if (expect_continue && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      http::write(stream_, cont, ec);
    }
    // Reset the clock: the idle timeout bounds waiting, not a whole upload.
    SetDeadline(opts.idle_timeout_seconds);
    if (!ec && !parser.is_done()) http::read(stream_, buf, parser, ec);
    if (ec == http::error::body_limit) {
      SendStatus(413, "RequestEntityTooLarge",
                 "the request body exceeds " + std::to_string(opts.max_body_bytes) + " bytes",
                 false);
      if (!expect_continue) Drain();
      return;
    }
    if (ec) {
      if (IsHttpParseError(ec)) {
        SendStatus(400, "BadRequest", "malformed HTTP request: " + ec.message(), false);
      }
      return;  // EOF, reset, timeout or Stop()
    }
    SetDeadline(0);
    BeastRequest breq = parser.release();
    if (!Dispatch(breq, nullptr)) return;
  }
}

bool Connection::SendContinue() {
  http::response<http::empty_body> cont{http::status::continue_, 11};
  ErrorCode ec;
  http::write(stream_, cont, ec);
  if (ec) failed_ = true;
  return !ec;
}

bool Connection::Dispatch(BeastRequest& breq, BodyReader* body) {
  breq_ = &breq;
  head_ = breq.method() == http::verb::head;
  keep_alive_ = breq.keep_alive();
  state_ = State::kIdle;
  failed_ = false;
  raw_body_ = false;

  Request r;
  r.method = std::string(breq.method_string());
  r.target = std::string(breq.target());
  size_t q = r.target.find('?');
  r.path = PercentDecode(std::string_view(r.target).substr(0, q), false);
  if (q != std::string::npos) r.query = ParseQuery(std::string_view(r.target).substr(q + 1));
  for (const auto& f : breq) {
    std::string name(f.name_string());
    auto [it, inserted] = r.headers.emplace(name, std::string(f.value()));
    // Repeated headers fold into one comma-separated value (RFC 9110 5.3).
    if (!inserted) it->second += ", " + std::string(f.value());
  }
  r.body = std::move(breq.body());
  r.body_reader = body;
  r.remote_addr = remote_;

  if (r.path.empty() || r.path[0] != '/') {
    SendStatus(400, "BadRequest", "request target must be an absolute path", keep_alive_);
    return keep_alive_ && !failed_;
  }

  // Authentication happens before routing so that unauthenticated clients
  // learn nothing about which paths exist.
  r.identity = cert_identity_;
  if (!r.identity.authenticated() && srv_->tokens) {
    std::string token = BearerToken(r);
    // Clients that only speak Basic authentication (promtool, Go programs
    // given a https://user:token@host URL) send the API token as password.
    if (token.empty()) token = BasicPassword(r);
    if (!token.empty()) {
      if (auto id = srv_->tokens(token); id && id->authenticated()) r.identity = *id;
    }
  }
  if (!r.identity.authenticated() && !srv_->IsAnonymous(r.path)) {
    SendStatus(401, "Unauthorized", "Unauthorized", keep_alive_);
    return keep_alive_ && !failed_;
  }

  const Handler* h = srv_->router.Match(r.path);
  if (h == nullptr) {
    SendStatus(404, "NotFound", "the server could not find the requested resource", keep_alive_);
    return keep_alive_ && !failed_;
  }

  try {
    (*h)(r, *this);
  } catch (const std::exception& e) {
    log::Error("http handler threw",
               log::Fields()("method", r.method)("path", r.path)("err", e.what()));
    if (state_ == State::kIdle) {
      SendStatus(500, "InternalError", "internal error", false);
    }
    failed_ = true;
  }
  switch (state_) {
    case State::kIdle:
      log::Error("http handler sent no response", log::Fields()("path", r.path));
      SendStatus(500, "InternalError", "handler sent no response", false);
      return false;
    case State::kStreaming:
      if (!failed_) End();
      break;
    case State::kUpgraded:
      return false;  // the websocket owned the connection; nothing follows it
    default:
      break;
  }
  breq_ = nullptr;
  return keep_alive_ && !failed_ && !stopping();
}

template <class Fields>
void Connection::ApplyHeaders(Fields& f, const Headers& headers) {
  for (const auto& [k, v] : headers) f.set(k, SanitizeHeaderValue(v));
}

void Connection::SendStatus(int code, const char* reason, const std::string& message,
                            bool keep_alive) {
  http::response<http::string_body> res;
  res.version(11);
  res.result(code);
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = StatusJson(code, reason, message);
  if (head_) res.body().clear();
  res.prepare_payload();
  ErrorCode ec;
  http::write(stream_, res, ec);
  state_ = State::kReplied;
  if (ec) failed_ = true;
}

void Connection::Drain() {
  SetDeadline(2);
  char scratch[16384];
  size_t total = 0;
  ErrorCode ec;
  while (total < kMaxDrainBytes && !stopping()) {
    size_t n = stream_.read_some(asio::buffer(scratch), ec);
    if (ec) break;
    total += n;
  }
}

bool Connection::WriteRaw(std::string_view data) {
  if (failed_ || stopping()) return false;
  ErrorCode ec;
  asio::write(stream_, asio::buffer(data.data(), data.size()), ec);
  if (ec) failed_ = true;
  return !ec;
}

void Connection::Reply(int code, const Headers& headers, std::string body) {
  if (state_ != State::kIdle) return;
  state_ = State::kReplied;
  if (failed_ || stopping()) {
    failed_ = true;
    return;
  }
  http::response<http::string_body> res;
  res.version(11);
  res.result(code);
  ApplyHeaders(res, headers);
  res.keep_alive(keep_alive_);
  ErrorCode ec;
  if (head_) {
    // A HEAD reply carries the length of the body a GET would return; a
    // handler may set Content-Length itself (e.g. a blob it did not read).
    if (res.find(http::field::content_length) == res.end()) res.content_length(body.size());
    http::response_serializer<http::string_body> sr{res};
    http::write_header(stream_, sr, ec);
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
    http::write(stream_, res, ec);
  }
  if (ec) failed_ = true;
}

bool Connection::Start(int code, const Headers& headers) {
  if (state_ != State::kIdle) return false;
  state_ = State::kStreaming;
  if (failed_ || stopping()) {
    failed_ = true;
    return false;
  }
  http::response<http::empty_body> res;
  res.version(11);
  res.result(code);
  ApplyHeaders(res, headers);
  res.keep_alive(keep_alive_);
  raw_body_ = res.find(http::field::content_length) != res.end();
  if (raw_body_) {
    raw_left_ = std::strtoull(std::string(res[http::field::content_length]).c_str(), nullptr, 10);
  } else {
    res.chunked(true);
  }
  http::response_serializer<http::empty_body> sr{res};
  ErrorCode ec;
  http::write_header(stream_, sr, ec);
  if (ec) failed_ = true;
  return !ec;
}

bool Connection::Write(std::string_view chunk) {
  if (state_ != State::kStreaming) return false;
  if (head_) return !failed_ && !stopping();
  if (raw_body_) {
    if (chunk.size() > raw_left_) {
      failed_ = true;  // more than the declared length would corrupt the stream
      return false;
    }
    raw_left_ -= chunk.size();
    return WriteRaw(chunk);
  }
  if (chunk.empty()) return !failed_ && !stopping();  // an empty chunk would end the body
  // One buffer, hence one TLS record and one send(): the client sees the whole
  // chunk at once and nothing waits in a user-space buffer.
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  std::string frame;
  frame.reserve(n + chunk.size() + 2);
  frame.append(size, n);
  frame.append(chunk);
  frame.append("\r\n");
  return WriteRaw(frame);
}

void Connection::End() {
  if (state_ != State::kStreaming) return;
  state_ = State::kEnded;
  if (raw_body_) {
    // A body shorter than its Content-Length: only closing tells the client.
    if (raw_left_ != 0 && !head_) failed_ = true;
    return;
  }
  if (!head_) WriteRaw("0\r\n\r\n");
}

bool Connection::PeerClosed() {
  if (failed_ || stopping()) return true;
  pollfd p{slot_->fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return true;
  // POLLIN alone may be a pipelined request or TLS record, not a close.
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

std::unique_ptr<ResponseWriter::WebSocket> Connection::UpgradeWebSocket(
    const std::string& protocol) {
  if (state_ != State::kIdle || breq_ == nullptr || !websocket::is_upgrade(*breq_)) {
    return nullptr;
  }
  auto ws = std::make_unique<ServerWebSocket>(this, stream_);
  state_ = State::kUpgraded;
  if (stopping() || !ws->Accept(*breq_, protocol)) {
    failed_ = true;
    return nullptr;
  }
  return ws;
}

std::unique_ptr<DuplexStream> Connection::UpgradeRaw(int code, const Headers& headers) {
  if (state_ != State::kIdle || breq_ == nullptr) return nullptr;
  state_ = State::kUpgraded;
  if (failed_ || stopping()) {
    failed_ = true;
    return nullptr;
  }
  http::response<http::empty_body> res;
  res.version(11);
  res.result(code);
  ApplyHeaders(res, headers);
  ErrorCode ec;
  http::write(stream_, res, ec);
  if (ec) {
    failed_ = true;
    return nullptr;
  }
  std::string leftover;
  if (rbuf_ != nullptr) {
    leftover = beast::buffers_to_string(rbuf_->data());
    rbuf_->consume(rbuf_->size());
  }
  return std::make_unique<ServerRawStream>(this, stream_, std::move(leftover));
}

// ---------------------------------------------------------------------------
// Raw upgraded stream.

ServerRawStream::~ServerRawStream() { ops_.Drain(conn_); }

template <class Start>
ErrorCode IoOps::Run(Connection* conn, Start start) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (conn->stopping()) return asio::error::operation_aborted;
    ++in_flight_;
  }
  std::promise<ErrorCode> done;
  auto fut = done.get_future();
  asio::post(conn->server()->ioc, [&] {
    start([&](ErrorCode ec) {
      {
        std::lock_guard<std::mutex> l(mu_);
        --in_flight_;
        cv_.notify_all();
      }
      done.set_value(ec);
    });
  });
  return fut.get();
}

void IoOps::Drain(Connection* conn) {
  std::unique_lock<std::mutex> l(mu_);
  if (in_flight_ > 0) {
    // An operation still references the stream; force it to complete.
    conn->ShutdownSocket();
    cv_.wait(l, [&] { return in_flight_ == 0; });
  }
}

bool ServerRawStream::Read(std::string* data) {
  std::lock_guard<std::mutex> l(recv_mu_);
  if (!leftover_.empty()) {
    *data = std::move(leftover_);
    leftover_.clear();
    return true;
  }
  data->resize(64 << 10);
  size_t got = 0;
  ErrorCode ec = RunOnIo([&](auto done) {
    stream_.async_read_some(asio::buffer(data->data(), data->size()), [&got, done](ErrorCode ec, size_t n) {
      got = n;
      done(ec);
    });
  });
  data->resize(got);
  return !ec || got > 0;
}

bool ServerRawStream::Write(std::string_view data) {
  std::lock_guard<std::mutex> l(send_mu_);
  ErrorCode ec = RunOnIo([&](auto done) {
    asio::async_write(stream_, asio::buffer(data.data(), data.size()),
                      [done](ErrorCode ec, size_t) { done(ec); });
  });
  return !ec;
}

void ServerRawStream::Shutdown() { conn_->ShutdownSocket(); }

// ---------------------------------------------------------------------------
// WebSocket session.

ServerWebSocket::~ServerWebSocket() { ops_.Drain(conn_); }

bool ServerWebSocket::Accept(const BeastRequest& req, const std::string& protocol) {
  ws_.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
    if (!protocol.empty()) res.set(http::field::sec_websocket_protocol, protocol);
  }));
  ws_.read_message_max(kMaxWebSocketMessage);
  conn_->SetDeadline(kHandshakeTimeoutSeconds);
  ErrorCode ec;
  ws_.accept(req, ec);
  conn_->SetDeadline(0);
  if (ec) {
    log::Debug("websocket accept failed", log::Fields()("err", ec.message()));
    return false;
  }
  ws_.binary(true);
  return true;
}


bool ServerWebSocket::SendBinary(std::string_view data) {
  std::lock_guard<std::mutex> l(send_mu_);
  ErrorCode ec = RunOnIo([&](auto done) {
    ws_.async_write(asio::buffer(data.data(), data.size()),
                    [done](ErrorCode ec, size_t) { done(ec); });
  });
  return !ec;
}

bool ServerWebSocket::Receive(std::string* data) {
  std::lock_guard<std::mutex> l(recv_mu_);
  rbuf_.clear();
  ErrorCode ec = RunOnIo(
      [&](auto done) { ws_.async_read(rbuf_, [done](ErrorCode ec, size_t) { done(ec); }); });
  if (ec) return false;
  *data = beast::buffers_to_string(rbuf_.data());
  return true;
}

void ServerWebSocket::Close() {
  std::lock_guard<std::mutex> l(send_mu_);
  // The closing handshake waits for the peer's close frame; a peer that never
  // answers is cut off by the connection deadline.
  conn_->SetDeadline(5);
  RunOnIo([&](auto done) {
    if (!ws_.is_open()) {
      done(ErrorCode());
      return;
    }
    ws_.async_close(websocket::close_code::normal, [done](ErrorCode ec) { done(ec); });
  });
}

}  // namespace

// ---------------------------------------------------------------------------
// Server lifecycle.

bool HttpsServerState::IsAnonymous(const std::string& path) const {
  for (const std::string& p : opts.anonymous_paths) {
    if (!p.empty() && p.back() == '*') {
      if (path.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) return true;
    } else if (path == p) {
      return true;
    }
  }
  return false;
}

Status HttpsServerState::SetupTls() {
  try {
    tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX* ctx = tls->native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    tls->use_certificate_chain_file(opts.cert_file);
    tls->use_private_key_file(opts.key_file, ssl::context::pem);
    if (!opts.client_ca_file.empty()) {
      tls->load_verify_file(opts.client_ca_file);
      // Advertise the CA so that clients such as Go's pick their certificate.
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(opts.client_ca_file.c_str());
      if (names == nullptr) return Internal(SslErrorText("load " + opts.client_ca_file));
      SSL_CTX_set_client_CA_list(ctx, names);
      SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
      // Request but do not require a certificate, and never fail the handshake
      // on a bad one: CertIdentity() ignores unverified chains, and the request
      // may still carry a valid bearer token.
      tls->set_verify_mode(ssl::verify_peer);
      tls->set_verify_callback([](bool, ssl::verify_context&) { return true; });
    }
    static const unsigned char kSidCtx[] = "berth";
    SSL_CTX_set_session_id_context(ctx, kSidCtx, sizeof kSidCtx - 1);
    SSL_CTX_set_alpn_select_cb(ctx, AlpnSelect, nullptr);
  } catch (const boost::system::system_error& e) {
    return Internal(std::string("TLS setup: ") + e.what() + " (cert " + opts.cert_file + ", key " +
                    opts.key_file + ", client CA " + opts.client_ca_file + ")");
  }
  return Status::Ok();
}

Status HttpsServerState::Listen() {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  std::string host = opts.bind.empty() ? "0.0.0.0" : opts.bind;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(opts.port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(opts.port));
    len = sizeof *v6;
  } else {
    return BadRequest("bind address is not an IP literal: " + opts.bind);
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    int zero = 0;  // "::" also accepts IPv4, as Go's net.Listen does
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Status(Code::kUnavailable, "bind " + opts.bind + ":" + std::to_string(opts.port) + ": " +
                                          std::strerror(errno));
  }
  if (::listen(fd.get(), 1024) != 0)
    return Internal(std::string("listen: ") + std::strerror(errno));
  sockaddr_storage actual{};
  socklen_t alen = sizeof actual;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&actual), &alen);
  bound_port =
      ntohs(actual.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&actual)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&actual)->sin_port);
  listen_fd = std::move(fd);
  return Status::Ok();
}

void HttpsServerState::ReapFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> l(mu);
    for (uint64_t id : finished) {
      auto it = threads.find(id);
      if (it == threads.end()) continue;
      done.push_back(std::move(it->second));
      threads.erase(it);
    }
    finished.clear();
  }
  for (auto& t : done) t.join();
}

void HttpsServerState::EnforceDeadlines() {
  int64_t now = NowMs();
  std::lock_guard<std::mutex> l(mu);
  for (auto& [id, slot] : live) {
    int64_t d = slot->deadline_ms.load();
    if (d != 0 && now >= d) {
      slot->deadline_ms = 0;
      ::shutdown(slot->fd, SHUT_RDWR);
    }
  }
}

void HttpsServerState::AcceptLoop() {
  NameThread("berth-http-acc");
  while (!stopping) {
    pollfd fds[2] = {{listen_fd.get(), POLLIN, 0}, {wake_fd.get(), POLLIN, 0}};
    // The timeout is the granularity of connection deadlines.
    int n = ::poll(fds, 2, 500);
    if (stopping) break;
    if (n > 0 && (fds[1].revents & POLLIN)) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(wake_fd.get(), &v, sizeof v);
    }
    ReapFinished();
    EnforceDeadlines();
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    for (;;) {  // drain the backlog
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      UniqueFd fd(::accept4(listen_fd.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
      if (fd.get() < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          log::Warn("accept failed", log::Fields()("err", std::strerror(errno)));
        }
        break;
      }
      int one = 1;
      // Watch events and exec frames are small and must leave at once.
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto slot = std::make_shared<ConnSlot>();
      slot->fd = fd.get();
      std::lock_guard<std::mutex> l(mu);
      if (stopping) break;
      slot->id = next_id++;
      live[slot->id] = slot;
      open++;
      metrics::Add(kOpenConnections, "", 1);
      metrics::Add(kConnectionsTotal, "", 1);
      threads[slot->id] = std::thread(&HttpsServerState::RunConnection, this, slot, std::move(fd),
                                      static_cast<int>(ss.ss_family), FormatAddr(ss));
    }
  }
}

void HttpsServerState::RunConnection(std::shared_ptr<ConnSlot> slot, UniqueFd fd, int family,
                                     std::string remote) {
  NameThread("berth-http-conn");
  {
    ErrorCode ec;
    tcp::socket sock(ioc);
    sock.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.get(), ec);
    if (!ec) {
      fd.release();  // the socket owns it now
      TlsStream stream(std::move(sock), *tls);
      Connection conn(this, slot.get(), stream, remote);
      try {
        conn.Serve();
      } catch (const std::exception& e) {
        log::Error("http connection failed", log::Fields()("remote", remote)("err", e.what()));
      }
      {
        // Out of `live` before the fd is closed, so nobody shuts down a
        // reused descriptor number.
        std::lock_guard<std::mutex> l(mu);
        live.erase(slot->id);
      }
      stream.next_layer().close(ec);
    } else {
      std::lock_guard<std::mutex> l(mu);
      live.erase(slot->id);
    }
  }
  open--;
  metrics::Add(kOpenConnections, "", -1);
  {
    std::lock_guard<std::mutex> l(mu);
    finished.push_back(slot->id);
  }
  Wake();
}

HttpsServer::HttpsServer(ServerOptions opts, Router router, TokenAuthenticator tokens)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  impl_->router = std::move(router);
  impl_->tokens = std::move(tokens);
  DescribeMetrics();
}

HttpsServer::~HttpsServer() { Stop(); }

Status HttpsServer::Start() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (s.started) return Status(Code::kConflict, "server already started");
  }
  BERTH_RETURN_IF_ERROR(s.SetupTls());
  BERTH_RETURN_IF_ERROR(s.Listen());
  s.wake_fd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (s.wake_fd.get() < 0) return Internal(std::string("eventfd: ") + std::strerror(errno));
  s.work.emplace(asio::make_work_guard(s.ioc));
  s.io_thread = std::thread([&s] {
    NameThread("berth-http-ws");
    s.ioc.run();
  });
  s.acceptor = std::thread(&HttpsServerState::AcceptLoop, &s);
  {
    std::lock_guard<std::mutex> l(s.mu);
    s.started = true;
  }
  log::Info("https server listening", log::Fields()("bind", s.opts.bind)("port", s.bound_port));
  return Status::Ok();
}

void HttpsServer::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (!s.started || s.stopping) return;
    s.stopping = true;
    // Breaks every blocking read and write; handlers then see Write() fail.
    for (auto& [id, slot] : s.live) ::shutdown(slot->fd, SHUT_RDWR);
  }
  s.Wake();
  if (s.acceptor.joinable()) s.acceptor.join();
  s.listen_fd.Reset();
  std::map<uint64_t, std::thread> threads;
  {
    std::lock_guard<std::mutex> l(s.mu);
    threads.swap(s.threads);
    // A connection accepted just before `stopping` was seen.
    for (auto& [id, slot] : s.live) ::shutdown(slot->fd, SHUT_RDWR);
  }
  for (auto& [id, t] : threads) t.join();
  s.work.reset();
  s.ioc.stop();
  if (s.io_thread.joinable()) s.io_thread.join();
  s.finished.clear();
}

int HttpsServer::port() const { return impl_->bound_port; }

size_t HttpsServer::open_connections() const { return impl_->open.load(); }

}  // namespace berth::net
