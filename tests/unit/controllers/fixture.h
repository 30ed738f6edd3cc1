// A real ObjectStore over a temporary SQLite store, the controllers under
// test in a Manager, and helpers that play the node's part: binding pods,
// writing pod status (Running + Ready + podIP, Succeeded/Failed).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/objects.h"
#include "controllers/base.h"
#include "controllers/controllers.h"
#include "controllers/kinds.h"
#include "core/time.h"
#include "kinds/kinds.h"
#include "testing/temp_store.h"

namespace berth::controllers::testing {

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.get());
    kinds::RegisterBuiltins(kinds_, schemas_);
    os_ = std::make_unique<api::ObjectStore>(store_.get(), &kinds_, &schemas_, nullptr);
    for (const char* ns : {"default", "kube-node-lease"})
      ASSERT_TRUE(os_->Create(*K("", "namespaces"), "", {{"metadata", {{"name", ns}}}}, {}).ok());
  }
  void TearDown() override {
    if (mgr_) mgr_->Stop();
  }

  void Start(std::vector<std::unique_ptr<Controller>> cs) {
    mgr_ = std::make_unique<Manager>(os_.get(), std::move(cs));
    mgr_->Start();
  }
  template <typename... F>
  void StartWith(F... makers) {
    std::vector<std::unique_ptr<Controller>> cs;
    (cs.push_back(makers(os_.get())), ...);
    Start(std::move(cs));
  }
  // A clock the test moves by hand.
  Clock FakeClock() {
    return [this] { return now_.load(); };
  }
  void Advance(int64_t seconds) { now_ += seconds; }

  api::KindPtr K(const std::string& g, const std::string& r) {
    for (const auto& k : kinds_.All())
      if (k->group == g && k->resource == r) return k;
    return nullptr;
  }
  Json Create(const std::string& g, const std::string& r, const std::string& ns, const Json& obj) {
    auto c = os_->Create(*K(g, r), ns, obj, {});
    EXPECT_TRUE(c.ok()) << c.status().ToString() << " " << obj.dump();
    return c.ok() ? *c : Json();
  }
  Json Get(const std::string& g, const std::string& r, const std::string& ns, const std::string& name) {
    auto o = os_->Get(*K(g, r), ns, name);
    return o.ok() ? *o : Json();
  }
  std::vector<Json> List(const std::string& g, const std::string& r, const std::string& ns,
                         const std::string& selector = "") {
    api::ListParams lp;
    lp.ns = ns;
    lp.label_selector = selector;
    auto l = os_->List(*K(g, r), lp);
    return l.ok() ? l->items : std::vector<Json>{};
  }
  void Mutate(const std::string& g, const std::string& r, const std::string& ns, const std::string& name,
              const std::function<void(Json&)>& fn, api::Subresource sub = api::Subresource::kMain) {
    auto u = os_->Mutate(*K(g, r), ns, name, [&](Json& o) {
      fn(o);
      return Status::Ok();
    }, sub);
    EXPECT_TRUE(u.ok()) << u.status().ToString();
  }
  void Delete(const std::string& g, const std::string& r, const std::string& ns, const std::string& name,
              std::optional<int64_t> grace = std::nullopt) {
    api::DeleteParams dp;
    dp.grace_period_seconds = grace;
    auto d = os_->Delete(*K(g, r), ns, name, dp, {});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
  }

  // Polls `pred` until it holds or `seconds` pass.
  bool WaitFor(const std::function<bool()>& pred, int seconds = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }

  // ---- objects ----
  static Json Node(const std::string& name, Json labels = Json::object(), Json taints = nullptr) {
    Json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}, {"labels", labels}}},
              {"spec", Json::object()}};
    if (!taints.is_null()) n["spec"]["taints"] = taints;
    return n;
  }
  // Creates a node and writes its status as the agent would.
  Json AddNode(const std::string& name, const std::string& cpu = "4", const std::string& memory = "8Gi",
               Json labels = Json::object(), Json taints = nullptr, bool ready = true) {
    Json n = Create("", "nodes", "", Node(name, labels, taints));
    Mutate("", "nodes", "", name, [&](Json& o) {
      Json res = {{"cpu", cpu}, {"memory", memory}, {"pods", "110"}};
      o["status"]["capacity"] = res;
      o["status"]["allocatable"] = res;
      o["status"]["conditions"] = Json::array(
          {{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"reason", "KubeletReady"},
            {"lastHeartbeatTime", FormatRFC3339(now_.load())}, {"lastTransitionTime", FormatRFC3339(now_.load())}}});
    }, api::Subresource::kStatus);
    return n;
  }
  static Json Pod(const std::string& name, Json labels = {{"app", "web"}}, const std::string& cpu = "",
                  const std::string& memory = "") {
    Json c = {{"name", "c"}, {"image", "nginx"}};
    if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
    if (!memory.empty()) c["resources"]["requests"]["memory"] = memory;
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"labels", labels}}},
            {"spec", {{"containers", Json::array({c})}}}};
  }
  // The agent's part: phase Running, Ready condition, pod IP.
  void RunPod(const std::string& ns, const std::string& name, const std::string& ip, bool ready = true,
              int64_t ready_since = 0) {
    Mutate("", "pods", ns, name, [&](Json& o) {
      std::string t = FormatRFC3339(ready_since ? ready_since : NowSeconds());
      o["status"]["phase"] = "Running";
      o["status"]["podIP"] = ip;
      o["status"]["podIPs"] = Json::array({{{"ip", ip}}});
      o["status"]["conditions"] = Json::array(
          {{{"type", "Initialized"}, {"status", "True"}, {"lastTransitionTime", t}},
           {{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", t}},
           {{"type", "ContainersReady"}, {"status", ready ? "True" : "False"}, {"lastTransitionTime", t}},
           {{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", t}}});
    }, api::Subresource::kStatus);
  }
  void FinishPod(const std::string& ns, const std::string& name, bool success) {
    Mutate("", "pods", ns, name, [&](Json& o) {
      o["status"]["phase"] = success ? "Succeeded" : "Failed";
      o["status"]["containerStatuses"] = Json::array(
          {{{"name", "c"}, {"ready", false}, {"restartCount", 0},
            {"state", {{"terminated", {{"exitCode", success ? 0 : 1}, {"reason", success ? "Completed" : "Error"}}}}}}});
    }, api::Subresource::kStatus);
  }
  void Bind(const std::string& ns, const std::string& name, const std::string& node) {
    Mutate("", "pods", ns, name, [&](Json& o) { o["spec"]["nodeName"] = node; });
  }

  static std::string Name(const Json& o) { return o["metadata"].value("name", ""); }
  // The status object, or {} before the first status write.
  static Json St(const Json& o) {
    return o.is_object() && o.contains("status") && o["status"].is_object() ? o["status"] : Json::object();
  }
  static std::string CondStatus(const Json& o, const std::string& type) {
    for (const auto& c : o.value("status", Json::object()).value("conditions", Json::array()))
      if (c.value("type", "") == type) return c.value("status", "");
    return "";
  }
  static const Json* Cond(const Json& o, const std::string& type) {
    if (!o.contains("status") || !o["status"].contains("conditions")) return nullptr;
    for (const auto& c : o["status"]["conditions"])
      if (c.value("type", "") == type) return &c;
    return nullptr;
  }
  // Events about `name` with `reason`.
  std::vector<Json> Events(const std::string& ns, const std::string& name, const std::string& reason) {
    std::vector<Json> out;
    for (auto& e : List("", "events", ns))
      if (e["involvedObject"].value("name", "") == name && e.value("reason", "") == reason) out.push_back(e);
    return out;
  }

  ::berth::testing::TempStore store_;
  api::KindRegistry kinds_;
  api::SchemaRegistry schemas_;
  std::unique_ptr<api::ObjectStore> os_;
  std::atomic<int64_t> now_{NowSeconds()};
  std::unique_ptr<Manager> mgr_;  // last: stopped before the store goes
};

}  // namespace berth::controllers::testing
