#include "node/images/reference.h"

#include <gtest/gtest.h>

namespace berth::images {
namespace {

struct Case {
  const char* in;
  const char* domain;
  const char* repository;
  const char* tag;
  const char* digest;
  const char* canonical;
};

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ReferenceTest, NormalisesLikeDocker) {
  const std::string d = kDigest;
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
      {"foo/bar:1", "docker.io", "foo/bar", "1", "", "docker.io/foo/bar:1"},
      {"docker.io/library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"index.docker.io/nginx", "docker.io", "library/nginx", "latest", "", "docker.io/library/nginx:latest"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000/x", "localhost:5000", "x", "latest", "", "localhost:5000/x:latest"},
      {"localhost:5000/x:v2", "localhost:5000", "x", "v2", "", "localhost:5000/x:v2"},
      {"127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", "", "127.0.0.1:5000/a/b/c:t"},
      {"quay.io/coreos/etcd:v3.5.0", "quay.io", "coreos/etcd", "v3.5.0", "", "quay.io/coreos/etcd:v3.5.0"},
      {"a-b_c__d/e.f", "docker.io", "a-b_c__d/e.f", "latest", "", "docker.io/a-b_c__d/e.f:latest"},
      {"my--repo/x_y.z", "docker.io", "my--repo/x_y.z", "latest", "", "docker.io/my--repo/x_y.z:latest"},
      {"[::1]:5000/img", "[::1]:5000", "img", "latest", "", "[::1]:5000/img:latest"},
      {"Host.Example/a", "Host.Example", "a", "latest", "", "Host.Example/a:latest"},
      {"TAG_OK:V_1.0-rc", nullptr, nullptr, nullptr, nullptr, nullptr},  // upper-case repo: error
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    auto r = ParseReference(c.in);
    if (c.domain == nullptr) {
      EXPECT_FALSE(r.ok());
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->repository, c.repository);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->String(), c.canonical);
    // Normalising is idempotent.
    auto again = ParseReference(r->String());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->String(), r->String());
  }
}

TEST(ReferenceTest, Digests) {
  auto r = ParseReference("host.example/a/b@" + kDigest);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->domain, "host.example");
  EXPECT_EQ(r->repository, "a/b");
  EXPECT_EQ(r->tag, "");  // a digest implies no tag
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->TagOrDigest(), kDigest);
  EXPECT_EQ(r->String(), "host.example/a/b@" + kDigest);

  auto both = ParseReference("busybox:1.36@" + kDigest);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->tag, "1.36");
  EXPECT_EQ(both->digest, kDigest);
  EXPECT_EQ(both->TagOrDigest(), kDigest);
  EXPECT_EQ(both->String(), "docker.io/library/busybox:1.36@" + kDigest);

  auto port_digest = ParseReference("localhost:5000/x@" + kDigest);
  ASSERT_TRUE(port_digest.ok());
  EXPECT_EQ(port_digest->domain, "localhost:5000");
  EXPECT_EQ(port_digest->tag, "");
}

TEST(ReferenceTest, Familiar) {
  EXPECT_EQ(ParseReference("busybox")->Familiar(), "busybox:latest");
  EXPECT_EQ(ParseReference("foo/bar:1")->Familiar(), "foo/bar:1");
  EXPECT_EQ(ParseReference("localhost:5000/x")->Familiar(), "localhost:5000/x:latest");
}

TEST(ReferenceTest, Errors) {
  struct Bad {
    std::string in;
    const char* message_part;
  };
  const Bad bad[] = {
      {"", "empty"},
      {"Busybox", "lower case"},
      {"foo/Bar:1", "lower case"},
      {"busybox:", "tag"},
      {"busybox:-x", "tag"},
      {"busybox:a/b", "invalid registry host"},  // a ":" before "/" makes a host
      {"busybox:t@sha256:abc", "digest"},
      {"busybox@sha256:" + std::string(64, 'A'), "digest"},
      {"busybox@md5:" + std::string(32, 'a'), "digest"},
      {"busybox:" + std::string(129, 'a'), "tag"},
      {"a//b", "empty path component"},
      {"-abc", "invalid repository component"},
      {"abc-", "invalid repository component"},
      {"a..b", "invalid repository component"},
      {"host.example:99x/a", "invalid registry host"},
      {"host.example/", "missing repository"},
      {":tag", "missing repository"},
      {"a b", "invalid repository component"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.in);
    auto r = ParseReference(b.in);
    ASSERT_FALSE(r.ok()) << r->String();
    EXPECT_EQ(r.status().code(), Code::kInvalid);
    EXPECT_NE(r.status().message().find(b.message_part), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(IsValidDigest(kDigest));
  EXPECT_FALSE(IsValidDigest("sha256:abc"));
}

}  // namespace
}  // namespace berth::images
