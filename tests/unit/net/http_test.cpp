#include "net/http.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::net {
namespace {

// Routing tests only need to know which handler ran.
struct NullWriter : ResponseWriter {
  void Reply(int, const Headers&, std::string) override {}
  bool Start(int, const Headers&) override { return false; }
  bool Write(std::string_view) override { return false; }
  void End() override {}
  bool PeerClosed() override { return true; }
  std::unique_ptr<WebSocket> UpgradeWebSocket(const std::string&) override { return nullptr; }
};

Handler Tag(std::string* out, std::string tag) {
  return [out, tag](Request&, ResponseWriter&) { *out = tag; };
}

TEST(Router, ExactAndLongestPrefix) {
  std::string hit;
  Router r;
  r.Handle("/api", Tag(&hit, "api-exact"));
  r.Handle("/api/*", Tag(&hit, "api-prefix"));
  r.Handle("/api/v1/namespaces/*", Tag(&hit, "ns-prefix"));
  r.Handle("/v2/*", Tag(&hit, "registry"));
  r.Handle("/version", Tag(&hit, "version"));

  auto match = [&](const std::string& path) {
    hit = "<none>";
    const Handler* h = r.Match(path);
    if (h == nullptr) return std::string("<none>");
    Request req;
    NullWriter w;
    (*h)(req, w);
    return hit;
  };
  EXPECT_EQ(match("/api"), "api-exact");
  EXPECT_EQ(match("/api/v1"), "api-prefix");
  EXPECT_EQ(match("/api/v1/namespaces/default/pods"), "ns-prefix");
  EXPECT_EQ(match("/api/v1/namespaces/"), "ns-prefix");
  EXPECT_EQ(match("/api/v1/namespaces"), "api-prefix");  // the prefix needs its slash
  EXPECT_EQ(match("/v2/"), "registry");
  EXPECT_EQ(match("/v2"), "<none>");
  EXPECT_EQ(match("/version"), "version");
  EXPECT_EQ(match("/version/x"), "<none>");
  EXPECT_EQ(match("/apis"), "<none>");
}

TEST(Router, ReRegisteringReplaces) {
  std::string hit;
  Router r;
  r.Handle("/x/*", Tag(&hit, "old"));
  r.Handle("/x/*", Tag(&hit, "new"));
  const Handler* h = r.Match("/x/y");
  ASSERT_NE(h, nullptr);
  Request req;
  NullWriter w;
  (*h)(req, w);
  EXPECT_EQ(hit, "new");
}

TEST(Router, CatchAll) {
  Router r;
  r.Handle("*", [](Request&, ResponseWriter&) {});
  EXPECT_NE(r.Match("/anything/at/all"), nullptr);
}

TEST(Percent, Decode) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%e2%9C%93", false), "\xe2\x9c\x93");
  // Malformed escapes stay literal.
  EXPECT_EQ(PercentDecode("100%", false), "100%");
  EXPECT_EQ(PercentDecode("%zz%4", false), "%zz%4");
  EXPECT_EQ(PercentDecode("%41%", false), "A%");
}

TEST(Percent, EncodeRoundTrip) {
  std::string raw = "metadata.name=web app/ü&x";
  std::string enc = PercentEncode(raw);
  EXPECT_EQ(enc, "metadata.name%3Dweb%20app%2F%C3%BC%26x");
  EXPECT_EQ(PercentDecode(enc, true), raw);
  EXPECT_EQ(PercentEncode("AZaz09-_.~"), "AZaz09-_.~");
}

TEST(Query, Parse) {
  auto q = ParseQuery(
      "command=ls&command=%2F&container=c&watch=true&fieldSelector=metadata.name%3Dweb&"
      "empty=&flag&&labelSelector=app+in+(a,b)");
  EXPECT_EQ(q.count("command"), 2u);
  auto range = q.equal_range("command");
  std::vector<std::string> cmds;
  for (auto it = range.first; it != range.second; ++it) cmds.push_back(it->second);
  EXPECT_EQ(cmds, (std::vector<std::string>{"ls", "/"}));  // order preserved
  EXPECT_EQ(q.find("fieldSelector")->second, "metadata.name=web");
  EXPECT_EQ(q.find("empty")->second, "");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("labelSelector")->second, "app in (a,b)");
  EXPECT_EQ(q.count(""), 0u);

  Request r;
  r.query = q;
  EXPECT_EQ(r.Query("watch"), "true");
  EXPECT_EQ(r.Query("missing", "dflt"), "dflt");
  EXPECT_TRUE(r.HasQuery("flag"));
}

TEST(Headers, CaseInsensitive) {
  Request r;
  r.headers["Content-Type"] = "application/json";
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(r.Header("Accept"), "");
  CaseInsensitiveLess less;
  EXPECT_FALSE(less("abc", "ABC"));
  EXPECT_FALSE(less("ABC", "abc"));
  EXPECT_TRUE(less("abc", "abd"));
}

TEST(StatusJson, MatchesKubernetesShape) {
  auto j = nlohmann::json::parse(StatusJson(NotFound("pods \"x\" not found")));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},
      "status":"Failure","message":"pods \"x\" not found","reason":"NotFound","code":404})"));
  Status inv = Invalid("bad").AddCause({"FieldValueRequired", "Required value", "metadata.name"});
  auto k = nlohmann::json::parse(StatusJson(inv));
  EXPECT_EQ(k["code"], 422);
  EXPECT_EQ(k["details"]["causes"][0]["field"], "metadata.name");
}

}  // namespace
}  // namespace berth::net
