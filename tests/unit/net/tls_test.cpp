#include "net/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/file.h"
#include "test_util.h"

namespace berth::net {
namespace {

using testing::RunCommand;
using testing::TempDir;

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(File, AtomicWriteReadAndMode) {
  TempDir dir;
  std::string p = dir.path() + "/a/b/c.txt";
  ASSERT_TRUE(MakeDirs(dir.path() + "/a/b", 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "one", 0600).ok());
  EXPECT_EQ(Mode(p), 0600u);
  ASSERT_TRUE(WriteFileAtomic(p, std::string("two\0three", 9), 0640).ok());
  auto got = ReadFile(p);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::string("two\0three", 9));
  EXPECT_EQ(Mode(p), 0640u);
  // No temp files are left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path() + "/a/b"))
    files += !e.is_directory();
  EXPECT_EQ(files, 1);
  EXPECT_EQ(ReadFile(dir.path() + "/missing").status().code(), Code::kNotFound);
  EXPECT_FALSE(WriteFileAtomic(dir.path() + "/nodir/x", "x").ok());
}

TEST(Pki, EnsureCreatesThenReuses) {
  TempDir dir;
  PkiOptions opts;
  opts.extra_dns = {"berth.example"};
  opts.extra_ips = {"10.1.2.3"};
  ASSERT_TRUE(EnsurePki(dir.path(), opts).ok());
  PkiPaths p = PkiPathsFor(dir.path());
  EXPECT_EQ(Mode(p.dir), 0700u);
  for (const auto& key : {p.ca_key, p.server_key, p.admin_key}) EXPECT_EQ(Mode(key), 0600u);

  auto server = LoadCertKey(p.server_cert, p.server_key);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_TRUE(CertCovers(server->cert_pem,
                         {"localhost", "kubernetes", "kubernetes.default.svc", "berth.example"},
                         {"127.0.0.1", "::1", "10.1.2.3"}, 365));
  EXPECT_FALSE(CertCovers(server->cert_pem, {"other.example"}, {}, 0));
  EXPECT_FALSE(CertCovers(server->cert_pem, {}, {"10.9.9.9"}, 0));
  EXPECT_FALSE(CertCovers(server->cert_pem, {}, {}, 3650));  // expires before then

  // A second start changes nothing.
  auto before = ReadFile(p.server_cert), ca_before = ReadFile(p.ca_cert),
       admin_before = ReadFile(p.admin_cert);
  ASSERT_TRUE(EnsurePki(dir.path(), opts).ok());
  EXPECT_EQ(*ReadFile(p.server_cert), *before);
  EXPECT_EQ(*ReadFile(p.ca_cert), *ca_before);
  EXPECT_EQ(*ReadFile(p.admin_cert), *admin_before);

  // A new SAN re-issues only the serving certificate, from the same CA.
  opts.extra_dns.push_back("new.example");
  ASSERT_TRUE(EnsurePki(dir.path(), opts).ok());
  EXPECT_NE(*ReadFile(p.server_cert), *before);
  EXPECT_EQ(*ReadFile(p.ca_cert), *ca_before);
  EXPECT_EQ(*ReadFile(p.admin_cert), *admin_before);
  EXPECT_TRUE(CertCovers(*ReadFile(p.server_cert), {"new.example", "berth.example"}, {}, 1));

  // The real openssl tool agrees on chain, purpose and subject.
  int rc = -1;
  std::string out = RunCommand(
      "openssl verify -purpose sslserver -CAfile " + p.ca_cert + " " + p.server_cert + " 2>&1",
      &rc);
  EXPECT_EQ(rc, 0) << out;
  out = RunCommand(
      "openssl verify -purpose sslclient -CAfile " + p.ca_cert + " " + p.admin_cert + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = RunCommand("openssl x509 -noout -subject -nameopt RFC2253 -in " + p.admin_cert, &rc);
  EXPECT_NE(out.find("CN=admin,O=system:masters"), std::string::npos) << out;
}

TEST(Pki, IncompleteCaIsAnError) {
  TempDir dir;
  PkiPaths p = PkiPathsFor(dir.path());
  ASSERT_TRUE(MakeDirs(p.dir, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(p.ca_cert, "x").ok());
  EXPECT_FALSE(EnsurePki(dir.path(), {}).ok());
}

TEST(Pki, LoadRejectsMismatchedKey) {
  TempDir dir;
  auto ca = CreateCa("test-ca", 10);
  ASSERT_TRUE(ca.ok());
  auto a = IssueClientCert(*ca, "a", {"g1", "g2"}, 10);
  auto b = IssueClientCert(*ca, "b", {}, 10);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(
      WriteCertKey({a->cert_pem, b->key_pem}, dir.path() + "/x.crt", dir.path() + "/x.key").ok());
  EXPECT_FALSE(LoadCertKey(dir.path() + "/x.crt", dir.path() + "/x.key").ok());
  EXPECT_FALSE(IssueServingCert(*ca, "s", {}, {"not-an-ip"}).ok());
}

}  // namespace
}  // namespace berth::net
