#include "net/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include <arpa/inet.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <pthread.h>

namespace berth::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using ErrorCode = boost::system::error_code;

namespace {

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status IoError(const std::string& what, const ErrorCode& ec) {
  return Status(Code::kUnavailable, what + ": " + ec.message());
}

template <class Message>
void CopyHeaders(const Message& m, Headers* out) {
  for (const auto& f : m) {
    auto [it, inserted] = out->emplace(std::string(f.name_string()), std::string(f.value()));
    if (!inserted) it->second += ", " + std::string(f.value());
  }
}

// An upgraded client connection. Full duplex over one TLS stream needs async
// operations on a single thread, so the stream runs the client's I/O context
// on its own thread ("berth-upgrade") for as long as it lives.
template <class S>
class ClientRawStream : public DuplexStream {
 public:
  ClientRawStream(asio::io_context& ioc, std::unique_ptr<S> s, std::string leftover)
      : ioc_(ioc), s_(std::move(s)), leftover_(std::move(leftover)), work_(asio::make_work_guard(ioc)) {
    fd_ = beast::get_lowest_layer(*s_).native_handle();
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "berth-upgrade");
      ioc_.run();
    });
  }
  ~ClientRawStream() override {
    Shutdown();
    {
      std::unique_lock<std::mutex> l(ops_mu_);
      ops_cv_.wait(l, [&] { return ops_in_flight_ == 0; });
    }
    work_.reset();
    ioc_.stop();
    thread_.join();
    ErrorCode ec;
    beast::get_lowest_layer(*s_).close(ec);
    s_.reset();
    ioc_.restart();  // the client may connect again
  }

  bool Read(std::string* data) override {
    std::lock_guard<std::mutex> l(recv_mu_);
    if (!leftover_.empty()) {
      *data = std::move(leftover_);
      leftover_.clear();
      return true;
    }
    data->resize(64 << 10);
    size_t got = 0;
    ErrorCode ec = Run([&](auto done) {
      s_->async_read_some(asio::buffer(data->data(), data->size()), [&got, done](ErrorCode ec, size_t n) {
        got = n;
        done(ec);
      });
    });
    data->resize(got);
    return !ec || got > 0;
  }

  bool Write(std::string_view data) override {
    std::lock_guard<std::mutex> l(send_mu_);
    ErrorCode ec = Run([&](auto done) {
      asio::async_write(*s_, asio::buffer(data.data(), data.size()), [done](ErrorCode ec, size_t) { done(ec); });
    });
    return !ec;
  }

  void Shutdown() override { ::shutdown(fd_, SHUT_RDWR); }

 private:
  template <class Start>
  ErrorCode Run(Start start) {
    {
      std::lock_guard<std::mutex> l(ops_mu_);
      ++ops_in_flight_;
    }
    std::promise<ErrorCode> done;
    auto fut = done.get_future();
    asio::post(ioc_, [&] {
      start([&](ErrorCode ec) {
        {
          std::lock_guard<std::mutex> l(ops_mu_);
          --ops_in_flight_;
          ops_cv_.notify_all();
        }
        done.set_value(ec);
      });
    });
    return fut.get();
  }

  asio::io_context& ioc_;
  std::unique_ptr<S> s_;
  std::string leftover_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  int fd_ = -1;
  std::thread thread_;
  std::mutex send_mu_, recv_mu_, ops_mu_;
  std::condition_variable ops_cv_;
  int ops_in_flight_ = 0;
};

}  // namespace

struct HttpsClient::Impl {
  ClientOptions opts;
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  Status tls_status;
  std::unique_ptr<beast::ssl_stream<tcp::socket>> stream;
  std::unique_ptr<tcp::socket> plain;  // the connection when opts.plain_http
  beast::flat_buffer buf;
  bool reused = false;  // the current connection already carried a request
  int opened = 0;
  std::atomic<int> fd{-1};  // the connection's socket, for Interrupt()

  void SetupTls();
  Status Connect();
  bool connected() const { return stream || plain; }
  // Calls f with the connected stream, TLS or plain; Beast's read and write
  // templates take either.
  template <class F>
  decltype(auto) WithStream(F&& f) {
    if (plain) return f(*plain);
    return f(*stream);
  }
  void Drop() {
    fd = -1;
    if (stream) {
      ErrorCode ec;
      stream->next_layer().shutdown(tcp::socket::shutdown_both, ec);
      stream->next_layer().close(ec);
    }
    if (plain) {
      ErrorCode ec;
      plain->shutdown(tcp::socket::shutdown_both, ec);
      plain->close(ec);
    }
    stream.reset();
    plain.reset();
    buf.clear();
    reused = false;
  }
  http::request<http::string_body> BuildRequest(const std::string& method,
                                                const std::string& target, const Headers& headers,
                                                const std::string& body) const;
};

void HttpsClient::Impl::SetupTls() {
  try {
    tls.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    if (opts.insecure_skip_verify) {
      tls->set_verify_mode(ssl::verify_none);
    } else {
      if (opts.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        if (opts.system_roots_too) tls->set_default_verify_paths();
        tls->load_verify_file(opts.ca_file);
      }
      tls->set_verify_mode(ssl::verify_peer);
    }
    if (!opts.cert_file.empty()) {
      tls->use_certificate_chain_file(opts.cert_file);
      tls->use_private_key_file(opts.key_file, ssl::context::pem);
    }
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(tls->native_handle(), kAlpn, sizeof kAlpn - 1);
  } catch (const boost::system::system_error& e) {
    tls_status = Internal(std::string("client TLS setup: ") + e.what());
  }
}

namespace {

// A blocking connect bounded by timeout_ms: non-blocking connect(), poll(),
// then the socket is handed to asio in blocking mode.
ErrorCode ConnectWithTimeout(tcp::socket& sock, const tcp::resolver::results_type& endpoints,
                             int timeout_ms) {
  ErrorCode ec = asio::error::host_not_found;
  for (const auto& ep : endpoints) {
    const auto& addr = ep.endpoint();
    int fd = ::socket(addr.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ec = ErrorCode(errno, boost::system::system_category());
      continue;
    }
    int rc = ::connect(fd, addr.data(), static_cast<socklen_t>(addr.size()));
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      rc = ::poll(&pfd, 1, timeout_ms);
      if (rc == 0) {
        ::close(fd);
        ec = asio::error::timed_out;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      ec = ErrorCode(errno, boost::system::system_category());
      ::close(fd);
      continue;
    }
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    sock.assign(addr.protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      continue;
    }
    return {};
  }
  return ec;
}

}  // namespace

Status HttpsClient::Impl::Connect() {
  if (!opts.plain_http) BERTH_RETURN_IF_ERROR(tls_status);
  Drop();
  ErrorCode ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(opts.host, std::to_string(opts.port), ec);
  if (ec) return IoError("resolve " + opts.host, ec);
  if (opts.plain_http) {
    auto p = std::make_unique<tcp::socket>(ioc);
    if (opts.connect_timeout_ms > 0) {
      ec = ConnectWithTimeout(*p, endpoints, opts.connect_timeout_ms);
    } else {
      asio::connect(*p, endpoints, ec);
    }
    if (ec) return IoError("connect " + opts.host + ":" + std::to_string(opts.port), ec);
    p->set_option(tcp::no_delay(true), ec);
    plain = std::move(p);
    fd = plain->native_handle();
    ++opened;
    return Status::Ok();
  }
  auto s = std::make_unique<beast::ssl_stream<tcp::socket>>(ioc, *tls);
  if (opts.connect_timeout_ms > 0) {
    ec = ConnectWithTimeout(s->next_layer(), endpoints, opts.connect_timeout_ms);
  } else {
    asio::connect(s->next_layer(), endpoints, ec);
  }
  if (ec) return IoError("connect " + opts.host + ":" + std::to_string(opts.port), ec);
  s->next_layer().set_option(tcp::no_delay(true), ec);
  fd = s->next_layer().native_handle();  // Interrupt() may cut a stalled handshake
  const std::string& name = opts.server_name.empty() ? opts.host : opts.server_name;
  if (!IsIpLiteral(name)) SSL_set_tlsext_host_name(s->native_handle(), name.c_str());
  if (!opts.insecure_skip_verify) s->set_verify_callback(ssl::host_name_verification(name));
  s->handshake(ssl::stream_base::client, ec);
  if (ec) {
    fd = -1;
    return IoError("TLS handshake with " + opts.host, ec);
  }
  stream = std::move(s);
  fd = stream->next_layer().native_handle();
  ++opened;
  return Status::Ok();
}

http::request<http::string_body> HttpsClient::Impl::BuildRequest(const std::string& method,
                                                                 const std::string& target,
                                                                 const Headers& headers,
                                                                 const std::string& body) const {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, opts.host + ":" + std::to_string(opts.port));
  req.set(http::field::user_agent, "berth-client");
  if (!opts.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + opts.bearer_token);
  }
  req.keep_alive(true);  // before the caller's headers, so "Connection: close" wins
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.prepare_payload();
  }
  return req;
}

HttpsClient::HttpsClient(ClientOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  if (!impl_->opts.plain_http) impl_->SetupTls();
}

HttpsClient::~HttpsClient() { impl_->Drop(); }

void HttpsClient::Close() { impl_->Drop(); }

void HttpsClient::Interrupt() {
  int f = impl_->fd.load();
  if (f >= 0) ::shutdown(f, SHUT_RDWR);
}

int HttpsClient::connections_opened() const { return impl_->opened; }

Result<ClientResponse> HttpsClient::Do(const std::string& method, const std::string& target,
                                       const Headers& headers, const std::string& body) {
  Impl& c = *impl_;
  auto req = c.BuildRequest(method, target, headers, body);
  for (int attempt = 0;; ++attempt) {
    if (!c.connected()) BERTH_RETURN_IF_ERROR(c.Connect());
    bool reused = c.reused;
    c.reused = true;
    ErrorCode ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(c.opts.max_body_bytes);
    if (method == "HEAD") parser.skip(true);
    c.WithStream([&](auto& s) {
      http::write(s, req, ec);
      if (!ec) http::read(s, c.buf, parser, ec);
    });
    if (ec) {
      // The server may close an idle keep-alive connection just as we reuse
      // it; then nothing of a response arrived and one retry is safe.
      bool nothing_read = !parser.got_some();
      c.Drop();
      if (reused && nothing_read && attempt == 0) continue;
      return IoError(method + " " + target, ec);
    }
    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    CopyHeaders(res, &out.headers);
    out.body = std::move(res.body());
    if (!res.keep_alive()) c.Drop();
    return out;
  }
}

Result<ClientResponse> HttpsClient::Stream(const std::string& method, const std::string& target,
                                           const Headers& headers, const std::string& body,
                                           const ChunkCallback& on_chunk) {
  Impl& c = *impl_;
  auto req = c.BuildRequest(method, target, headers, body);
  // A stream may last for hours, so it always gets a fresh connection rather
  // than risk a retry after part of it was delivered.
  BERTH_RETURN_IF_ERROR(c.Connect());
  c.reused = true;
  ErrorCode ec;
  c.WithStream([&](auto& s) { http::write(s, req, ec); });
  if (ec) {
    c.Drop();
    return IoError(method + " " + target, ec);
  }
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  c.WithStream([&](auto& s) { http::read_header(s, c.buf, parser, ec); });
  if (ec) {
    c.Drop();
    return IoError(method + " " + target, ec);
  }
  ClientResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  CopyHeaders(parser.get(), &out.headers);
  bool deliver = out.status >= 200 && out.status < 300;
  bool stopped = false;
  auto emit = [&](std::string_view piece) {
    if (piece.empty() || stopped) return;
    if (!deliver) {
      if (out.body.size() + piece.size() > c.opts.max_body_bytes) return;
      out.body.append(piece);
      return;
    }
    if (!on_chunk(piece)) stopped = true;
  };

  if (parser.chunked()) {
    std::string chunk;
    // The parser keeps a reference to the callback, so it must outlive the reads.
    auto on_body = [&](std::uint64_t remain, beast::string_view data, ErrorCode& cec) {
      // Pieces of one chunk are gathered so the callback sees whole chunks.
      if (remain == data.size()) cec = http::error::end_of_chunk;
      chunk.append(data.data(), data.size());
      return data.size();
    };
    parser.on_chunk_body(on_body);
    while (!parser.is_done() && !stopped) {
      c.WithStream([&](auto& s) { http::read(s, c.buf, parser, ec); });
      if (ec == http::error::end_of_chunk) {
        ec = {};
        emit(chunk);
        chunk.clear();
        continue;
      }
      if (ec) break;
    }
  } else {
    char tmp[65536];
    while (!parser.is_done() && !stopped) {
      parser.get().body().data = tmp;
      parser.get().body().size = sizeof tmp;
      c.WithStream([&](auto& s) { http::read(s, c.buf, parser, ec); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      emit(std::string_view(tmp, sizeof tmp - parser.get().body().size));
    }
  }
  if (stopped || ec || !parser.get().keep_alive()) c.Drop();
  if (ec && !stopped) return IoError(method + " " + target + " (stream)", ec);
  return out;
}

Result<HttpsClient::Upgraded> HttpsClient::Upgrade(const std::string& method, const std::string& target,
                                                  const Headers& headers) {
  Impl& c = *impl_;
  auto req = c.BuildRequest(method, target, headers, "");
  BERTH_RETURN_IF_ERROR(c.Connect());
  c.reused = true;
  ErrorCode ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(c.opts.max_body_bytes);
  c.WithStream([&](auto& s) {
    http::write(s, req, ec);
    if (!ec) http::read_header(s, c.buf, parser, ec);
  });
  if (ec) {
    c.Drop();
    return IoError(method + " " + target, ec);
  }
  Upgraded out;
  out.response.status = static_cast<int>(parser.get().result_int());
  CopyHeaders(parser.get(), &out.response.headers);
  if (out.response.status != 101) {
    if (!parser.is_done()) c.WithStream([&](auto& s) { http::read(s, c.buf, parser, ec); });
    out.response.body = std::move(parser.get().body());
    c.Drop();
    return out;
  }
  std::string leftover = beast::buffers_to_string(c.buf.data());
  c.buf.clear();
  c.fd = -1;
  c.reused = false;
  if (c.plain) {
    out.stream = std::make_unique<ClientRawStream<tcp::socket>>(c.ioc, std::move(c.plain), std::move(leftover));
  } else {
    out.stream = std::make_unique<ClientRawStream<beast::ssl_stream<tcp::socket>>>(c.ioc, std::move(c.stream),
                                                                                    std::move(leftover));
  }
  return out;
}

Result<ClientResponse> HttpsClient::StreamLines(const std::string& method,
                                                const std::string& target, const Headers& headers,
                                                const ChunkCallback& on_line) {
  std::string pending;
  bool stopped = false;
  auto res = Stream(method, target, headers, "", [&](std::string_view piece) {
    pending.append(piece);
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      if (!on_line(std::string_view(pending).substr(start, nl - start))) {
        stopped = true;
        return false;
      }
      start = nl + 1;
    }
    pending.erase(0, start);
    return true;
  });
  if (res.ok() && !stopped && !pending.empty()) on_line(pending);
  return res;
}

}  // namespace berth::net
