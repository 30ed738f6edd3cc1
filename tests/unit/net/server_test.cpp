// End-to-end tests of the HTTPS server and client over real TLS sockets, with
// PKI generated into a temp directory. Ordering between client and server is
// always enforced with condition variables, never with sleeps.
#include "net/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/metrics.h"
#include "net/client.h"
#include "net/tls.h"
#include "test_util.h"

namespace berth::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using testing::RunCommand;
using testing::TempDir;
using namespace std::chrono_literals;

// A one-shot event for ordering two threads.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> l(mu_);
    set_ = true;
    cv_.notify_all();
  }
  // False if it did not happen within `timeout` (a failing test, not a hang).
  bool Wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return set_; });
  }
  bool IsSet() {
    std::lock_guard<std::mutex> l(mu_);
    return set_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ASSERT_TRUE(EnsurePki(dir_->path(), {}).ok());
    pki_ = PkiPathsFor(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Starts a server with /whoami plus the test's own routes.
  void StartServer(Router router = {}, ServerOptions opts = {}) {
    router.Handle("/whoami", [](Request& r, ResponseWriter& w) {
      w.Reply(200, {{"Content-Type", "text/plain"}},
              r.identity.user + "|" + Join(r.identity.groups));
    });
    opts.bind = "127.0.0.1";
    opts.port = 0;
    opts.cert_file = pki_.server_cert;
    opts.key_file = pki_.server_key;
    opts.client_ca_file = pki_.ca_cert;
    server_ =
        std::make_unique<HttpsServer>(std::move(opts), std::move(router),
                                      [](const std::string& token) -> std::optional<Identity> {
                                        if (token == "good-token")
                                          return Identity{"alice", {"devs", "qa"}};
                                        return std::nullopt;
                                      });
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_GT(server_->port(), 0);
  }

  ClientOptions Opts(bool cert, std::string token = "") {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.ca_file = pki_.ca_cert;
    if (cert) {
      o.cert_file = pki_.admin_cert;
      o.key_file = pki_.admin_key;
    }
    o.bearer_token = std::move(token);
    return o;
  }

  static void ExpectUnauthorizedStatus(const ClientResponse& res) {
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(res.Header("Content-Type"), "application/json");
    EXPECT_EQ(nlohmann::json::parse(res.body), nlohmann::json::parse(R"({"kind":"Status",
        "apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized",
        "reason":"Unauthorized","code":401})"));
  }

  static TempDir* dir_;
  static PkiPaths pki_;
  std::unique_ptr<HttpsServer> server_;
};
TempDir* ServerTest::dir_ = nullptr;
PkiPaths ServerTest::pki_;

TEST_F(ServerTest, ClientCertificateGivesIdentity) {
  StartServer();
  HttpsClient c(Opts(true));
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "admin|system:masters");
}

TEST_F(ServerTest, MultipleOrganizationsBecomeGroups) {
  StartServer();
  auto ca = LoadCertKey(pki_.ca_cert, pki_.ca_key);
  ASSERT_TRUE(ca.ok());
  auto bob = IssueClientCert(*ca, "bob", {"team-a", "team-b"}, 1);
  ASSERT_TRUE(bob.ok());
  TempDir d;
  ASSERT_TRUE(WriteCertKey(*bob, d.path() + "/bob.crt", d.path() + "/bob.key").ok());
  ClientOptions o = Opts(false);
  o.cert_file = d.path() + "/bob.crt";
  o.key_file = d.path() + "/bob.key";
  HttpsClient c(o);
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->body, "bob|team-a,team-b");
}

TEST_F(ServerTest, BearerToken) {
  StartServer();
  HttpsClient c(Opts(false, "good-token"));
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "alice|devs,qa");
}

TEST_F(ServerTest, AnonymousGets401StatusJson) {
  StartServer();
  HttpsClient c(Opts(false));
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ExpectUnauthorizedStatus(*res);
  // Unknown paths are not revealed to anonymous clients either.
  res = c.Do("GET", "/no/such/path");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 401);
}

TEST_F(ServerTest, WrongTokenGets401) {
  StartServer();
  HttpsClient c(Opts(false, "bad-token"));
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ExpectUnauthorizedStatus(*res);
}

TEST_F(ServerTest, CertificateFromForeignCaIsIgnored) {
  StartServer();
  auto other_ca = CreateCa("other", 1);
  ASSERT_TRUE(other_ca.ok());
  auto mallory = IssueClientCert(*other_ca, "admin", {"system:masters"}, 1);
  ASSERT_TRUE(mallory.ok());
  TempDir d;
  ASSERT_TRUE(WriteCertKey(*mallory, d.path() + "/m.crt", d.path() + "/m.key").ok());
  ClientOptions o = Opts(false);
  o.cert_file = d.path() + "/m.crt";
  o.key_file = d.path() + "/m.key";
  {
    HttpsClient c(o);
    auto res = c.Do("GET", "/whoami");
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    ExpectUnauthorizedStatus(*res);
  }
  // The same connection can still authenticate with a token.
  o.bearer_token = "good-token";
  HttpsClient c(o);
  auto res = c.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "alice|devs,qa");
}

TEST_F(ServerTest, AnonymousPathsNeedNoCredentials) {
  Router r;
  r.Handle("/healthz", [](Request& req, ResponseWriter& w) {
    w.Reply(200, {}, req.identity.authenticated() ? "ok:" + req.identity.user : "ok");
  });
  r.Handle("/ui/*", [](Request& req, ResponseWriter& w) { w.Reply(200, {}, req.path); });
  ServerOptions opts;
  opts.anonymous_paths = {"/healthz", "/ui/*"};
  StartServer(std::move(r), opts);
  HttpsClient anon(Opts(false));
  auto res = anon.Do("GET", "/healthz");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
  res = anon.Do("GET", "/ui/app.js");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "/ui/app.js");
  res = anon.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 401);
  // Credentials on an anonymous path still identify the caller.
  HttpsClient admin(Opts(true));
  res = admin.Do("GET", "/healthz");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "ok:admin");
}

TEST_F(ServerTest, UnknownRouteIs404StatusJson) {
  StartServer();
  HttpsClient c(Opts(true));
  auto res = c.Do("GET", "/nope");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 404);
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["kind"], "Status");
  EXPECT_EQ(j["reason"], "NotFound");
  EXPECT_EQ(j["code"], 404);
}

TEST_F(ServerTest, RequestIsParsed) {
  Router r;
  r.Handle("/echo/*", [](Request& req, ResponseWriter& w) {
    nlohmann::json j = {{"method", req.method},      {"path", req.path},
                        {"target", req.target},      {"q", req.Query("fieldSelector")},
                        {"n", req.query.count("a")}, {"ct", req.Header("content-type")},
                        {"body", req.body},          {"remote", req.remote_addr}};
    w.Reply(201, {{"Content-Type", "application/json"}, {"X-Test", "yes\r\nInjected: 1"}},
            j.dump());
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  auto res = c.Do("POST", "/echo/a%20b?fieldSelector=metadata.name%3Dweb&a=1&a=2",
                  {{"Content-Type", "application/json"}}, R"({"x":1})");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 201);
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/echo/a b");
  EXPECT_EQ(j["target"], "/echo/a%20b?fieldSelector=metadata.name%3Dweb&a=1&a=2");
  EXPECT_EQ(j["q"], "metadata.name=web");
  EXPECT_EQ(j["n"], 2);
  EXPECT_EQ(j["ct"], "application/json");
  EXPECT_EQ(j["body"], R"({"x":1})");
  EXPECT_EQ(j["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  // A handler cannot split the response with a header value.
  EXPECT_EQ(res->Header("X-Test"), "yes  Injected: 1");
  EXPECT_EQ(res->Header("Injected"), "");
}

TEST_F(ServerTest, HeadKeepsContentLengthWithoutBody) {
  Router r;
  r.Handle("/blob", [](Request& req, ResponseWriter& w) { w.Reply(200, {}, "0123456789"); });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  auto res = c.Do("HEAD", "/blob");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Length"), "10");
  EXPECT_EQ(res->body, "");
  res = c.Do("GET", "/blob");  // the connection is still in sync
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "0123456789");
  EXPECT_EQ(c.connections_opened(), 1);
}

TEST_F(ServerTest, HandlerFailuresBecome500) {
  Router r;
  r.Handle("/throw", [](Request&, ResponseWriter&) { throw std::runtime_error("boom"); });
  r.Handle("/silent", [](Request&, ResponseWriter&) {});
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  auto res = c.Do("GET", "/throw");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 500);
  res = c.Do("GET", "/silent");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 500);
  res = c.Do("GET", "/whoami");  // the server is still fine
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  Router r;
  r.Handle("/upload", [](Request& req, ResponseWriter& w) {
    w.Reply(200, {}, std::to_string(req.body.size()));
  });
  ServerOptions opts;
  opts.max_body_bytes = 1024;
  StartServer(std::move(r), opts);
  HttpsClient c(Opts(true));
  auto res = c.Do("POST", "/upload", {}, std::string(1024, 'x'));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "1024");
  res = c.Do("POST", "/upload", {}, std::string(256 * 1024, 'x'));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 413);
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(j["code"], 413);
}

TEST_F(ServerTest, StreamingRouteReadsBodiesBeyondTheLimit) {
  Router r;
  // Reads the body in small pieces and answers its length and a checksum;
  // another route of the same server keeps the buffered limit.
  r.HandleStreaming("/stream/*", [](Request& req, ResponseWriter& w) {
    ASSERT_NE(req.body_reader, nullptr);
    EXPECT_TRUE(req.body.empty());
    char buf[1000];
    size_t total = 0;
    uint64_t sum = 0;
    for (;;) {
      auto n = req.body_reader->Read(buf, sizeof buf);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) break;
      for (size_t i = 0; i < *n; ++i) sum = sum * 31 + static_cast<unsigned char>(buf[i]);
      total += *n;
    }
    w.Reply(200, {}, std::to_string(total) + " " + std::to_string(sum) + " " +
                         std::to_string(req.body_reader->declared_length()));
  });
  r.HandleStreaming("/ignore", [](Request&, ResponseWriter& w) { w.Reply(204, {}, ""); });
  r.Handle("/buffered", [](Request& req, ResponseWriter& w) {
    EXPECT_EQ(req.body_reader, nullptr);
    w.Reply(200, {}, std::to_string(req.body.size()));
  });
  ServerOptions opts;
  opts.max_body_bytes = 4096;
  StartServer(std::move(r), opts);
  HttpsClient c(Opts(true));
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 1000);
  uint64_t sum = 0;
  for (char ch : big) sum = sum * 31 + static_cast<unsigned char>(ch);
  auto res = c.Do("PUT", "/stream/x", {}, big);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, std::to_string(big.size()) + " " + std::to_string(sum) + " " + std::to_string(big.size()));
  // A body the handler leaves unread is skipped and the connection reused.
  res = c.Do("PUT", "/ignore", {}, std::string(100000, 'y'));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 204);
  res = c.Do("POST", "/buffered", {}, std::string(5000, 'x'));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 413);
  HttpsClient c2(Opts(true));
  res = c2.Do("PUT", "/stream/empty", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "0 0 0");
  res = c2.Do("GET", "/whoami");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(c2.connections_opened(), 1);
}

TEST_F(ServerTest, StreamedReplyWithContentLengthIsNotChunked) {
  Router r;
  r.Handle("/file", [](Request&, ResponseWriter& w) {
    if (!w.Start(206, {{"Content-Length", "10"}, {"Content-Range", "bytes 0-9/20"}})) return;
    w.Write("01234");
    w.Write("56789");
    w.End();
  });
  r.Handle("/short", [](Request&, ResponseWriter& w) {
    if (!w.Start(200, {{"Content-Length", "10"}})) return;
    w.Write("0123");
    w.End();  // fewer bytes than promised: the connection must close
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  auto res = c.Do("GET", "/file");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 206);
  EXPECT_EQ(res->body, "0123456789");
  EXPECT_EQ(res->Header("Transfer-Encoding"), "");
  EXPECT_EQ(res->Header("Content-Length"), "10");
  res = c.Do("GET", "/short");
  EXPECT_TRUE(!res.ok() || res->body.size() != 10) << "a short body must not look complete";
  res = c.Do("GET", "/file");  // a fresh connection works
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->body, "0123456789");
}

// A raw TLS connection for sending bytes no well-behaved client would send.
class RawTls {
 public:
  RawTls(int port, const std::string& ca) : ctx_(asio::ssl::context::tls_client), s_(ioc_, ctx_) {
    ctx_.load_verify_file(ca);
    s_.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    s_.handshake(asio::ssl::stream_base::client);
  }
  void Send(const std::string& data) { asio::write(s_, asio::buffer(data)); }
  std::string ReadAll() {
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      size_t n = s_.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }

 private:
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  beast::ssl_stream<tcp::socket> s_;
};

TEST_F(ServerTest, MalformedHttpIs400) {
  StartServer();
  RawTls raw(server_->port(), pki_.ca_cert);
  raw.Send("GET /whoami HTTP/1.1\r\nHost x\r\n\r\n");  // header line without a colon
  std::string out = raw.ReadAll();
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST_F(ServerTest, PlainHttpToTlsPortFails) {
  int calls = 0;
  Router r;
  r.Handle("/count", [&](Request&, ResponseWriter& w) {
    ++calls;
    w.Reply(200, {}, "");
  });
  StartServer(std::move(r));
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server_->port())});
  asio::write(s, asio::buffer(std::string("GET /count HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string out;
  boost::system::error_code ec;
  char buf[1024];
  while (!ec) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  EXPECT_EQ(out.rfind("HTTP/1.0 400", 0), 0u) << out;
  EXPECT_NE(out.find("HTTP request to an HTTPS server"), std::string::npos);
  EXPECT_EQ(calls, 0);
  // curl agrees: no 200 over plain HTTP.
  int rc = -1;
  std::string code =
      RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:" +
                     std::to_string(server_->port()) + "/count",
                 &rc);
  EXPECT_EQ(code, "400");
  EXPECT_EQ(calls, 0);
}

TEST_F(ServerTest, KeepAliveReusesConnection) {
  std::vector<std::string> remotes;
  std::mutex mu;
  Router r;
  r.Handle("/peer", [&](Request& req, ResponseWriter& w) {
    std::lock_guard<std::mutex> l(mu);
    remotes.push_back(req.remote_addr);
    w.Reply(200, {}, "ok");
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  for (int i = 0; i < 5; ++i) {
    auto res = c.Do("GET", "/peer");
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(c.connections_opened(), 1);
  ASSERT_EQ(remotes.size(), 5u);
  for (const auto& rem : remotes) EXPECT_EQ(rem, remotes[0]);
  EXPECT_EQ(server_->open_connections(), 1u);
  EXPECT_NE(metrics::Render().find("berth_http_open_connections"), std::string::npos);

  // "Connection: close" from the client ends the connection; the next request opens another.
  auto res = c.Do("GET", "/peer", {{"Connection", "close"}});
  ASSERT_TRUE(res.ok());
  res = c.Do("GET", "/peer");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(c.connections_opened(), 2);
}

TEST_F(ServerTest, ChunksArriveOneByOne) {
  Event client_got_first;
  bool server_saw_ack = false;
  Router r;
  r.Handle("/watch", [&](Request&, ResponseWriter& w) {
    ASSERT_TRUE(w.Start(200, {{"Content-Type", "application/json"}}));
    ASSERT_TRUE(w.Write("{\"type\":\"ADDED\"}\n"));
    // The second event is written only after the client has seen the first:
    // if the first were buffered anywhere, this would time out.
    server_saw_ack = client_got_first.Wait();
    ASSERT_TRUE(w.Write("{\"type\":\"MODIFIED\"}\n"));
    w.End();
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  std::vector<std::string> chunks;
  auto res = c.Stream("GET", "/watch?watch=true", {}, "", [&](std::string_view chunk) {
    chunks.emplace_back(chunk);
    if (chunks.size() == 1) client_got_first.Notify();
    return true;
  });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Transfer-Encoding"), "chunked");
  EXPECT_TRUE(server_saw_ack);
  EXPECT_EQ(chunks,
            (std::vector<std::string>{"{\"type\":\"ADDED\"}\n", "{\"type\":\"MODIFIED\"}\n"}));

  // The connection is reusable after a stream that ended cleanly.
  auto again = c.Do("GET", "/whoami");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, "admin|system:masters");

  // Line splitting for watch clients.
  std::vector<std::string> lines;
  // (the route's wait is already satisfied, so both lines may come together)
  res = c.StreamLines("GET", "/watch", {}, [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"type\":\"ADDED\"}", "{\"type\":\"MODIFIED\"}"}));
}

TEST_F(ServerTest, ClientStoppingAStreamIsSeenByTheHandler) {
  Event handler_done;
  Router r;
  r.Handle("/stream", [&](Request&, ResponseWriter& w) {
    w.Start(200, {});
    w.Write("first\n");
    // Like a watch waiting for events: wake up periodically to check the peer.
    std::mutex mu;
    std::condition_variable cv;
    std::unique_lock<std::mutex> l(mu);
    while (!w.PeerClosed()) cv.wait_for(l, 5ms);
    handler_done.Notify();
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  auto res = c.Stream("GET", "/stream", {}, "", [](std::string_view) { return false; });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  // PeerClosed() notices the client going away without any write attempt.
  ASSERT_TRUE(handler_done.Wait());
}

TEST_F(ServerTest, StopWithOpenStreamIsPrompt) {
  Event streaming, handler_exited;
  std::atomic<bool> write_after_stop{true}, peer_closed_after_stop{false};
  Router r;
  r.Handle("/watch", [&](Request&, ResponseWriter& w) {
    w.Start(200, {});
    w.Write("first\n");
    streaming.Notify();
    std::mutex mu;
    std::condition_variable cv;
    std::unique_lock<std::mutex> l(mu);
    while (!w.PeerClosed()) cv.wait_for(l, 10ms);
    peer_closed_after_stop = w.PeerClosed();
    write_after_stop = w.Write("after\n");
    handler_exited.Notify();
  });
  StartServer(std::move(r));
  HttpsClient c(Opts(true));
  Event client_done;
  std::thread client([&] {
    auto res = c.Stream("GET", "/watch", {}, "", [](std::string_view) { return true; });
    client_done.Notify();
  });
  ASSERT_TRUE(streaming.Wait());
  EXPECT_EQ(server_->open_connections(), 1u);
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1s);
  EXPECT_TRUE(handler_exited.IsSet());
  EXPECT_TRUE(peer_closed_after_stop);
  EXPECT_FALSE(write_after_stop);
  EXPECT_EQ(server_->open_connections(), 0u);
  EXPECT_TRUE(client_done.Wait());
  client.join();
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnections) {
  StartServer();
  HttpsClient c(Opts(true));
  ASSERT_TRUE(c.Do("GET", "/whoami").ok());
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(server_->open_connections(), 0u);
  EXPECT_FALSE(c.Do("GET", "/whoami").ok());
}

// A websocket client over TLS, as kubectl exec connects.
class WsClient {
 public:
  WsClient(int port, const std::string& ca, const std::string& token, const std::string& proto,
           const std::string& target)
      : ctx_(asio::ssl::context::tls_client), ws_(ioc_, ctx_) {
    ctx_.load_verify_file(ca);
    auto& tls = beast::get_lowest_layer(ws_);
    tls.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    ws_.next_layer().set_verify_mode(asio::ssl::verify_peer);
    ws_.next_layer().handshake(asio::ssl::stream_base::client);
    ws_.set_option(websocket::stream_base::decorator([token, proto](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + token);
      req.set(http::field::sec_websocket_protocol, proto);
    }));
    ws_.handshake(response_, "127.0.0.1", target, ec_);
    ws_.binary(true);
  }
  boost::system::error_code ec() const { return ec_; }
  const websocket::response_type& response() const { return response_; }
  void Send(const std::string& s) { ws_.write(asio::buffer(s)); }
  std::string Read() {
    beast::flat_buffer b;
    ws_.read(b);
    EXPECT_TRUE(ws_.got_binary());
    return beast::buffers_to_string(b.data());
  }
  void Close() { ws_.close(websocket::close_code::normal); }

 private:
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  websocket::stream<beast::ssl_stream<tcp::socket>> ws_;
  websocket::response_type response_;
  boost::system::error_code ec_;
};

TEST_F(ServerTest, WebSocketEchoRoundTrip) {
  Event handler_done;
  Router r;
  r.Handle("/exec", [&](Request& req, ResponseWriter& w) {
    auto ws = w.UpgradeWebSocket("v5.channel.k8s.io");
    if (!ws) {
      w.Reply(400, {}, "not an upgrade");
      return;
    }
    std::string msg;
    while (ws->Receive(&msg)) {
      if (!ws->SendBinary(msg)) break;
    }
    handler_done.Notify();
  });
  StartServer(std::move(r));

  // A plain GET on the same route is refused by the handler.
  HttpsClient plain(Opts(false, "good-token"));
  auto res = plain.Do("GET", "/exec");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400);

  WsClient ws(server_->port(), pki_.ca_cert, "good-token", "v5.channel.k8s.io", "/exec?command=ls");
  ASSERT_FALSE(ws.ec()) << ws.ec().message();
  EXPECT_EQ(ws.response().result_int(), 101u);
  EXPECT_EQ(ws.response()[http::field::sec_websocket_protocol], "v5.channel.k8s.io");
  std::string payload("\x01hello\x00\xff", 8);
  ws.Send(payload);
  EXPECT_EQ(ws.Read(), payload);
  std::string big(100000, 'z');
  ws.Send(big);
  EXPECT_EQ(ws.Read(), big);
  ws.Close();
  EXPECT_TRUE(handler_done.Wait());
}

TEST_F(ServerTest, WebSocketIsFullDuplex) {
  Router r;
  r.Handle("/exec", [&](Request&, ResponseWriter& w) {
    auto ws = w.UpgradeWebSocket("v5.channel.k8s.io");
    ASSERT_NE(ws, nullptr);
    // A writer thread sends while this thread is blocked in Receive, as exec
    // streams stdout while waiting for stdin.
    Event sent;
    std::thread writer([&] {
      ws->SendBinary(std::string("\x01tick", 5));
      sent.Notify();
    });
    std::string msg;
    bool got = ws->Receive(&msg);
    writer.join();
    EXPECT_TRUE(got);
    EXPECT_EQ(msg, std::string("\x00stdin", 6));
    ws->SendBinary(std::string("\x03{\"status\":\"Success\"}"));
    ws->Close();
  });
  StartServer(std::move(r));
  WsClient ws(server_->port(), pki_.ca_cert, "good-token", "v5.channel.k8s.io", "/exec");
  ASSERT_FALSE(ws.ec()) << ws.ec().message();
  // The server's Receive is pending; the tick arrives anyway.
  EXPECT_EQ(ws.Read(), std::string("\x01tick", 5));
  ws.Send(std::string("\x00stdin", 6));
  EXPECT_EQ(ws.Read(), std::string("\x03{\"status\":\"Success\"}"));
}

TEST_F(ServerTest, WebSocketNeedsAuthentication) {
  Router r;
  r.Handle("/exec", [](Request&, ResponseWriter& w) { w.UpgradeWebSocket("x"); });
  StartServer(std::move(r));
  WsClient ws(server_->port(), pki_.ca_cert, "bad-token", "v5.channel.k8s.io", "/exec");
  EXPECT_TRUE(ws.ec());
  EXPECT_EQ(ws.response().result_int(), 401u);
}

TEST_F(ServerTest, CurlInterop) {
  Router r;
  r.Handle("/stream", [](Request&, ResponseWriter& w) {
    w.Start(200, {{"Content-Type", "application/json"}});
    for (int i = 0; i < 3; ++i) w.Write("{\"n\":" + std::to_string(i) + "}\n");
    w.End();
  });
  StartServer(std::move(r));
  std::string port = std::to_string(server_->port());
  std::string base = "curl -sS --max-time 10 --cacert " + pki_.ca_cert + " ";
  int rc = -1;
  std::string out = RunCommand(base + "--cert " + pki_.admin_cert + " --key " + pki_.admin_key +
                                   " https://127.0.0.1:" + port + "/whoami",
                               &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "admin|system:masters");
  // The DNS SANs verify too (curl resolves "kubernetes" to us).
  out = RunCommand(
      base + "--resolve kubernetes:" + port +
          ":127.0.0.1 -H 'Authorization: Bearer good-token' https://kubernetes:" + port + "/whoami",
      &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "alice|devs,qa");
  out = RunCommand(base + "-w ' %{http_code}' https://127.0.0.1:" + port + "/whoami", &rc);
  EXPECT_NE(out.find("\"reason\":\"Unauthorized\""), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 4), " 401");
  out = RunCommand(
      base + "-N -H 'Authorization: Bearer good-token' https://127.0.0.1:" + port + "/stream", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  // curl refuses TLS 1.1, which the server does not speak.
  RunCommand(base + "--tlsv1.1 --tls-max 1.1 https://127.0.0.1:" + port + "/whoami 2>/dev/null",
             &rc);
  EXPECT_NE(rc, 0);
  // A large upload with Expect: 100-continue.
  out = RunCommand("head -c 2000000 /dev/zero | " + base +
                       "-H 'Authorization: Bearer good-token' -H 'Expect: 100-continue' "
                       "--data-binary @- -o /dev/null -w '%{http_code}' https://127.0.0.1:" +
                       port + "/whoami",
                   &rc);
  EXPECT_EQ(out, "200");
}

}  // namespace
}  // namespace berth::net
