// Service cluster IP and node port allocation against a real store.
#include "kinds/service_alloc.h"

#include <gtest/gtest.h>

#include "testing/temp_store.h"

#include <nlohmann/json.hpp>
#include <set>

#include "kinds/kinds.h"

namespace berth::kinds {
namespace {

class ServiceAllocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.get());
    db_ = store_.get();
    RegisterBuiltins(kinds_, schemas_);
    os_ = std::make_unique<api::ObjectStore>(db_, &kinds_, &schemas_, nullptr);
    InstallServiceAllocator(os_.get());
    Json ns = {{"metadata", {{"name", "default"}}}};
    ASSERT_TRUE(os_->Create(*kinds_.Find("", "v1", "namespaces"), "", ns, {}).ok());
    svc_ = kinds_.Find("", "v1", "services");
  }
  Result<Json> Create(const std::string& name, const std::string& type = "ClusterIP", Json extra = Json::object()) {
    Json s = {{"metadata", {{"name", name}}},
              {"spec", {{"type", type}, {"selector", {{"app", name}}}, {"ports", {{{"port", 80}}}}}}};
    s["spec"].update(extra);
    return os_->Create(*svc_, "default", s, {});
  }

  testing::TempStore store_;
  store::Store* db_ = nullptr;
  api::KindRegistry kinds_;
  api::SchemaRegistry schemas_;
  std::unique_ptr<api::ObjectStore> os_;
  api::KindPtr svc_;
};

TEST_F(ServiceAllocTest, ClusterIPsAreUniqueAndInTheServiceCidr) {
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    auto r = Create("s" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string ip = (*r)["spec"]["clusterIP"];
    EXPECT_EQ(ip.rfind("10.43.", 0), 0u) << ip;
    EXPECT_TRUE(seen.insert(ip).second) << "duplicate " << ip;
  }
}

TEST_F(ServiceAllocTest, RequestedIPsAreCheckedAndNodePortsAllocated) {
  auto a = Create("a", "ClusterIP", {{"clusterIP", "10.43.7.7"}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto dup = Create("b", "ClusterIP", {{"clusterIP", "10.43.7.7"}});
  ASSERT_EQ(dup.status().code(), Code::kInvalid);
  EXPECT_NE(dup.status().message().find("already allocated"), std::string::npos);
  auto out = Create("c", "ClusterIP", {{"clusterIP", "192.168.1.1"}});
  EXPECT_EQ(out.status().code(), Code::kInvalid);
  auto np = Create("n", "NodePort");
  ASSERT_TRUE(np.ok()) << np.status().ToString();
  int64_t port = (*np)["spec"]["ports"][0]["nodePort"];
  EXPECT_GE(port, 30000);
  EXPECT_LE(port, 32767);
  // A PUT that leaves clusterIP and nodePort out keeps them.
  Json put = *np;
  put["spec"].erase("clusterIP");
  put["spec"].erase("clusterIPs");
  put["spec"]["ports"][0].erase("nodePort");
  auto u = os_->Update(*svc_, "default", "n", put, {});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ((*u)["spec"]["clusterIP"], (*np)["spec"]["clusterIP"]);
  EXPECT_EQ((*u)["spec"]["ports"][0]["nodePort"], port);
}

}  // namespace
}  // namespace berth::kinds
