// Node lifecycle: a node whose agent stopped heartbeating (its Lease in
// kube-node-lease not renewed, and no fresher Ready heartbeat, for 40 s) gets
// its conditions set to Unknown (reason NodeStatusUnknown) and the
// node.kubernetes.io/unreachable:NoSchedule taint, so the scheduler stops
// placing pods there. The taint goes when the node reports again. Pods are
// not evicted (Kubernetes' NoExecute eviction is not implemented).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr int64_t kGracePeriod = 40;  // node-monitor-grace-period
constexpr char kLeaseNamespace[] = "kube-node-lease";
constexpr char kUnreachable[] = "node.kubernetes.io/unreachable";

class NodeLifecycleController : public Controller {
 public:
  NodeLifecycleController(api::ObjectStore* os, Clock clock) : Controller(os), clock_(std::move(clock)) {}
  const char* name() const override { return "node-lifecycle"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group.empty() && k.resource == "nodes") || (k.group == "coordination.k8s.io" && k.resource == "leases");
  }
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    if (k.resource == "leases") {
      if (obj["metadata"].value("namespace", "") == kLeaseNamespace) queue().Push(obj["metadata"].value("name", ""));
      return;
    }
    std::lock_guard<std::mutex> l(mu_);
    if (type == "DELETED") nodes_.erase(KeyOf(obj));
    else nodes_.insert(KeyOf(obj));
    queue().Push(KeyOf(obj));
  }
  void Resync() override {
    // Staleness is the absence of events: look at every node now and then.
    if (MonotonicNanos() - last_scan_ < 2LL * 1000000000) return;
    last_scan_ = MonotonicNanos();
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& n : nodes_) queue().Push(n);
  }

  Status Reconcile(const std::string& name) override {
    auto nodek = KindOf(os_, "", "nodes");
    auto node = os_->Get(*nodek, "", name);
    if (!node.ok()) return node.status();
    const int64_t now = clock_();
    // The latest sign of life: lease renewal, Ready heartbeat, or creation.
    int64_t seen = ParseRFC3339(Field(*node, "metadata", "creationTimestamp").is_string()
                                    ? (*node)["metadata"]["creationTimestamp"].get<std::string>() : "").value_or(now);
    if (auto lk = KindOf(os_, "coordination.k8s.io", "leases")) {
      auto lease = os_->Get(*lk, kLeaseNamespace, name);
      const Json& rt = lease.ok() ? Field(*lease, "spec", "renewTime") : Field(Json(), "x");
      if (rt.is_string())
        if (auto t = ParseRFC3339(rt.get<std::string>())) seen = std::max(seen, *t);
    }
    const Json* ready = FindCondition(Field(*node, "status", "conditions"), "Ready");
    if (ready)
      if (auto t = ParseRFC3339(ready->value("lastHeartbeatTime", ""))) seen = std::max(seen, *t);
    const bool stale = now - seen > kGracePeriod;
    const bool unknown = ready && ready->value("status", "") == "Unknown";
    const std::string now_s = FormatRFC3339(now);

    if (stale && !unknown) {
      auto r = os_->Mutate(*nodek, "", name, [&](Json& o) {
        Json& conds = o["status"]["conditions"];
        if (!FindCondition(conds, "Ready")) SetCondition(conds, "Ready", "Unknown", "", "", now_s);
        for (auto& c : conds) {
          if (c.value("status", "") == "Unknown" && c.value("reason", "") == "NodeStatusUnknown") continue;
          SetCondition(conds, c.value("type", ""), "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", now_s);
        }
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!r.ok()) return r.status();
      RecordEvent(os_, *nodek, *node, "Normal", "NodeNotReady", "Node " + name + " status is now: NodeNotReady",
                  "node-controller");
    }
    // The taint follows the Ready condition: on while Unknown, off once the
    // agent reports Ready again.
    const bool want_taint = stale || unknown;
    const Json& taints = Field(*node, "spec", "taints");
    bool has_taint = false;
    if (taints.is_array())
      for (const auto& t : taints) has_taint |= t.value("key", "") == kUnreachable && t.value("effect", "") == "NoSchedule";
    if (want_taint == has_taint) return Status::Ok();
    auto r = os_->Mutate(*nodek, "", name, [&](Json& o) {
      Json& ts = o["spec"]["taints"];
      if (!ts.is_array()) ts = Json::array();
      Json kept = Json::array();
      for (const auto& t : ts)
        if (!(t.value("key", "") == kUnreachable && t.value("effect", "") == "NoSchedule")) kept.push_back(t);
      if (want_taint) kept.push_back({{"key", kUnreachable}, {"effect", "NoSchedule"}, {"timeAdded", now_s}});
      if (kept.empty()) o["spec"].erase("taints");
      else ts = kept;
      return Status::Ok();
    });
    return r.ok() ? Status::Ok() : r.status();
  }

 private:
  Clock clock_;
  std::mutex mu_;
  std::set<std::string> nodes_;  // guarded by mu_: node names seen by the feeder
  int64_t last_scan_ = 0;        // worker thread only
};

}  // namespace

std::unique_ptr<Controller> NewNodeLifecycleController(api::ObjectStore* os, Clock clock) {
  return std::make_unique<NodeLifecycleController>(os, clock ? std::move(clock) : RealClock());
}

}  // namespace berth::controllers
