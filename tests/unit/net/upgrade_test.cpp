// The raw upgrade path: ResponseWriter::UpgradeRaw on the server and
// HttpsClient::Upgrade on the client, as the API server uses them to relay
// exec and port-forward sessions to a kubelet. Real TLS sockets; ordering by
// blocking reads, never sleeps.
#include <gtest/gtest.h>

#include <thread>

#include "net/client.h"
#include "net/server.h"
#include "net/tls.h"
#include "test_util.h"

namespace berth::net {
namespace {

class UpgradeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
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
  void Start(Router router) {
    ServerOptions o;
    o.bind = "127.0.0.1";
    o.port = 0;
    o.cert_file = pki_.server_cert;
    o.key_file = pki_.server_key;
    o.client_ca_file = pki_.ca_cert;
    server_ = std::make_unique<HttpsServer>(o, std::move(router), nullptr);
    ASSERT_TRUE(server_->Start().ok());
  }
  ClientOptions Opts() {
    ClientOptions o;
    o.port = server_->port();
    o.ca_file = pki_.ca_cert;
    o.cert_file = pki_.admin_cert;
    o.key_file = pki_.admin_key;
    return o;
  }
  static testing::TempDir* dir_;
  static PkiPaths pki_;
  std::unique_ptr<HttpsServer> server_;
};
testing::TempDir* UpgradeTest::dir_ = nullptr;
PkiPaths UpgradeTest::pki_;

// Reads from `s` until `n` bytes arrived.
std::string ReadN(DuplexStream* s, size_t n) {
  std::string out, piece;
  while (out.size() < n && s->Read(&piece)) out += piece;
  return out;
}

TEST_F(UpgradeTest, RawUpgradeIsFullDuplex) {
  Router r;
  r.Handle("/up", [](Request& req, ResponseWriter& w) {
    if (req.Header("Upgrade") != "test/1") {
      w.Reply(400, {{"Content-Type", "text/plain"}}, "no upgrade");
      return;
    }
    auto s =
        w.UpgradeRaw(101, {{"Connection", "Upgrade"}, {"Upgrade", "test/1"}, {"X-Extra", "yes"}});
    ASSERT_NE(s, nullptr);
    // A writer thread talks while this thread is blocked reading.
    std::thread writer([&] { s->Write("hello from server"); });
    std::string got = ReadN(s.get(), 5);
    writer.join();
    s->Write("echo:" + got);
    // Read until the client is gone.
    std::string more;
    while (s->Read(&more)) {
    }
  });
  Start(std::move(r));

  HttpsClient client(Opts());
  auto refused = client.Upgrade("GET", "/up", {});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->response.status, 400);
  EXPECT_EQ(refused->response.body, "no upgrade");
  EXPECT_EQ(refused->stream, nullptr);

  auto up = client.Upgrade("GET", "/up", {{"Connection", "Upgrade"}, {"Upgrade", "test/1"}});
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  ASSERT_EQ(up->response.status, 101);
  EXPECT_EQ(up->response.Header("X-Extra"), "yes");
  ASSERT_NE(up->stream, nullptr);
  EXPECT_EQ(ReadN(up->stream.get(), 17), "hello from server");
  ASSERT_TRUE(up->stream->Write("12345"));
  EXPECT_EQ(ReadN(up->stream.get(), 10), "echo:12345");
  up->stream.reset();  // closes; the handler's Read ends
}

TEST_F(UpgradeTest, ShutdownBreaksABlockedRead) {
  Router r;
  r.Handle("/up", [](Request&, ResponseWriter& w) {
    auto s = w.UpgradeRaw(101, {{"Connection", "Upgrade"}, {"Upgrade", "test/1"}});
    std::string buf;
    while (s && s->Read(&buf)) {
    }
  });
  Start(std::move(r));
  HttpsClient client(Opts());
  auto up = client.Upgrade("GET", "/up", {{"Connection", "Upgrade"}, {"Upgrade", "test/1"}});
  ASSERT_TRUE(up.ok());
  ASSERT_NE(up->stream, nullptr);
  DuplexStream* s = up->stream.get();
  std::thread reader([s] {
    std::string buf;
    EXPECT_FALSE(s->Read(&buf));
  });
  s->Shutdown();
  reader.join();
  EXPECT_FALSE(s->Write("late"));
}

}  // namespace
}  // namespace berth::net
