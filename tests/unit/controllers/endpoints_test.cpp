// Endpoints and EndpointSlices follow pod readiness, resolve named target
// ports, and go away with their Service.
#include "fixture.h"

namespace berth::controllers::testing {
namespace {

class EndpointsTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    StartWith(NewEndpointsController, NewGarbageCollector);
  }
  static Json Service(const std::string& name, Json selector, Json target_port) {
    Json s = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", name}, {"labels", {{"tier", "front"}}}}},
              {"spec", {{"ports", Json::array({{{"name", "web"}, {"port", 80}, {"targetPort", target_port}}})}}}};
    if (!selector.is_null()) s["spec"]["selector"] = selector;
    return s;
  }
  static Json WebPod(const std::string& name) {
    Json p = Pod(name, {{"app", "web"}});
    p["spec"]["containers"][0]["ports"] = Json::parse(R"([{"name":"http","containerPort":8080}])");
    p["spec"]["nodeName"] = "n1";
    return p;
  }
  Json Endpoints(const std::string& name) { return Get("", "endpoints", "default", name); }
  std::vector<Json> Slices(const std::string& svc) {
    return List("discovery.k8s.io", "endpointslices", "default", "kubernetes.io/service-name=" + svc);
  }
  static std::vector<std::string> Ips(const Json& ep, const char* field) {
    std::vector<std::string> out;
    if (!ep.is_object()) return out;
    for (const auto& ss : ep.value("subsets", Json::array()))
      for (const auto& a : ss.value(field, Json::array())) out.push_back(a.value("ip", ""));
    return out;
  }
};

TEST_F(EndpointsTest, FollowsReadinessWithNamedTargetPort) {
  Create("", "pods", "default", WebPod("a"));
  Create("", "pods", "default", WebPod("b"));
  Create("", "pods", "default", Pod("other", {{"app", "db"}}));
  Json svc = Create("", "services", "default", Service("web", {{"app", "web"}}, "http"));
  // Pods without an IP are not endpoints yet.
  ASSERT_TRUE(WaitFor([&] { return !Endpoints("web").is_null(); }));
  EXPECT_TRUE(Ips(Endpoints("web"), "addresses").empty());

  RunPod("default", "a", "10.1.0.5");
  RunPod("default", "b", "10.1.0.4", /*ready=*/false);
  RunPod("default", "other", "10.1.0.9");
  ASSERT_TRUE(WaitFor([&] {
    Json ep = Endpoints("web");
    return Ips(ep, "addresses") == std::vector<std::string>{"10.1.0.5"} &&
           Ips(ep, "notReadyAddresses") == std::vector<std::string>{"10.1.0.4"};
  }));
  Json ep = Endpoints("web");
  ASSERT_EQ(ep["subsets"].size(), 1u);
  const Json& ss = ep["subsets"][0];
  EXPECT_EQ(ss["ports"], Json::parse(R"([{"name":"web","port":8080,"protocol":"TCP"}])"));
  EXPECT_EQ(ss["addresses"][0]["nodeName"], "n1");
  EXPECT_EQ(ss["addresses"][0]["targetRef"]["kind"], "Pod");
  EXPECT_EQ(ss["addresses"][0]["targetRef"]["name"], "a");

  // The EndpointSlice says the same with conditions.
  ASSERT_TRUE(WaitFor([&] {
    auto s = Slices("web");
    return s.size() == 1 && s[0].value("endpoints", Json::array()).size() == 2;
  }));
  Json slice = Slices("web")[0];
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(Name(slice).rfind("web-", 0), 0u);
  EXPECT_EQ(slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
  EXPECT_EQ(slice["metadata"]["labels"]["tier"], "front");
  EXPECT_EQ(slice["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"]);
  EXPECT_EQ(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
  EXPECT_EQ(slice["ports"], Json::parse(R"([{"name":"web","port":8080,"protocol":"TCP"}])"));
  for (const auto& e : slice["endpoints"]) {
    bool is_a = e["targetRef"]["name"] == "a";
    EXPECT_EQ(e["addresses"][0], is_a ? "10.1.0.5" : "10.1.0.4");
    EXPECT_EQ(e["conditions"]["ready"], is_a);
    EXPECT_EQ(e["conditions"]["serving"], is_a);
    EXPECT_EQ(e["conditions"]["terminating"], false);
    EXPECT_EQ(e["nodeName"], "n1");
  }

  // Ready flips: a becomes not ready, b ready.
  RunPod("default", "a", "10.1.0.5", false);
  RunPod("default", "b", "10.1.0.4", true);
  ASSERT_TRUE(WaitFor([&] {
    Json ep = Endpoints("web");
    return Ips(ep, "addresses") == std::vector<std::string>{"10.1.0.4"} &&
           Ips(ep, "notReadyAddresses") == std::vector<std::string>{"10.1.0.5"};
  }));
  // A terminating pod is not ready: it leaves Endpoints and is marked in the slice.
  Delete("", "pods", "default", "b");
  ASSERT_TRUE(WaitFor([&] { return Ips(Endpoints("web"), "addresses").empty(); }));
  ASSERT_TRUE(WaitFor([&] {
    auto s = Slices("web");
    if (s.size() != 1) return false;
    for (const auto& e : s[0].value("endpoints", Json::array()))
      if (e["targetRef"]["name"] == "b")
        return e["conditions"]["terminating"] == true && e["conditions"]["ready"] == false &&
               e["conditions"]["serving"] == true;
    return false;
  }));
}

TEST_F(EndpointsTest, NoWritesWhenNothingChanged) {
  Create("", "pods", "default", WebPod("a"));
  RunPod("default", "a", "10.1.0.5");
  Create("", "services", "default", Service("web", {{"app", "web"}}, 8080));
  ASSERT_TRUE(WaitFor([&] { return Ips(Endpoints("web"), "addresses").size() == 1 && Slices("web").size() == 1; }));
  const Json ep_rv = Endpoints("web")["metadata"]["resourceVersion"];
  const Json slice_rv = Slices("web")[0]["metadata"]["resourceVersion"];
  // An unrelated change to a selected pod makes the controller look again;
  // a service created afterwards is reconciled after that (one worker, FIFO),
  // so once its Endpoints exist the first look is done.
  Mutate("", "pods", "default", "a", [](Json& o) { o["metadata"]["annotations"]["x"] = "y"; });
  Create("", "services", "default", Service("marker", {{"app", "none"}}, 80));
  ASSERT_TRUE(WaitFor([&] { return !Endpoints("marker").is_null(); }));
  EXPECT_EQ(Endpoints("web")["metadata"]["resourceVersion"], ep_rv);
  EXPECT_EQ(Slices("web")[0]["metadata"]["resourceVersion"], slice_rv);
}

TEST_F(EndpointsTest, SliceAndEndpointsGoWithTheService) {
  Create("", "pods", "default", WebPod("a"));
  RunPod("default", "a", "10.1.0.5");
  Create("", "services", "default", Service("web", {{"app", "web"}}, "http"));
  ASSERT_TRUE(WaitFor([&] { return Slices("web").size() == 1 && !Endpoints("web").is_null(); }));
  Delete("", "services", "default", "web");
  ASSERT_TRUE(WaitFor([&] { return Slices("web").empty() && Endpoints("web").is_null(); }));
}

TEST_F(EndpointsTest, ServicesWithoutSelectorAreLeftAlone) {
  Json manual = {{"apiVersion", "v1"}, {"kind", "Endpoints"}, {"metadata", {{"name", "ext"}}},
                 {"subsets", Json::parse(R"([{"addresses":[{"ip":"192.0.2.1"}],"ports":[{"port":443}]}])")}};
  Create("", "endpoints", "default", manual);
  Create("", "services", "default", Service("ext", nullptr, 443));
  // A selector service created after it proves the controller has run.
  Create("", "services", "default", Service("web", {{"app", "web"}}, 80));
  ASSERT_TRUE(WaitFor([&] { return !Endpoints("web").is_null(); }));
  EXPECT_EQ(Ips(Endpoints("ext"), "addresses"), std::vector<std::string>{"192.0.2.1"});
  EXPECT_TRUE(Slices("ext").empty());
}

TEST_F(EndpointsTest, PublishNotReadyAddresses) {
  Create("", "pods", "default", WebPod("a"));
  RunPod("default", "a", "10.1.0.5", false);
  Json svc = Service("web", {{"app", "web"}}, "http");
  svc["spec"]["publishNotReadyAddresses"] = true;
  Create("", "services", "default", svc);
  ASSERT_TRUE(WaitFor([&] { return Ips(Endpoints("web"), "addresses") == std::vector<std::string>{"10.1.0.5"}; }));
}

}  // namespace
}  // namespace berth::controllers::testing
