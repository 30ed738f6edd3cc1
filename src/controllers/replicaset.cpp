// ReplicaSet controller: keeps spec.replicas active pods owned by each
// ReplicaSet, and reports replicas/ready/available counts in status. Pods stay
// Pending until a node runs them.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/selector.h"
#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr int64_t kBurst = 500;  // pods created or deleted per reconcile

class ReplicaSetController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "replicaset"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group == "apps" && k.resource == "replicasets") || (k.group.empty() && k.resource == "pods");
  }

  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    if (k.resource == "replicasets") {
      queue().Push(KeyOf(obj));
      return;
    }
    const Json& refs = Field(obj, "metadata", "ownerReferences");
    if (!refs.is_array()) return;
    for (const auto& r : refs)
      if (r.value("controller", false) && r.value("kind", "") == "ReplicaSet")
        queue().Push(obj["metadata"].value("namespace", "") + "/" + r.value("name", ""));
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    auto rsk = KindOf(os_, "apps", "replicasets");
    auto podk = KindOf(os_, "", "pods");
    auto rs = os_->Get(*rsk, ns, name);
    if (!rs.ok()) return rs.status();
    const std::string uid = (*rs)["metadata"].value("uid", "");
    api::ListParams lp;
    lp.ns = ns;
    auto pods = os_->List(*podk, lp);
    if (!pods.ok()) return pods.status();
    std::vector<Json> active;
    for (auto& p : pods->items)
      if (ControllerUid(p) == uid && PodActive(p)) active.push_back(std::move(p));

    bool deleting = !Field(*rs, "metadata", "deletionTimestamp").is_null();
    int64_t want = IntField(*rs, "spec", "replicas", 1);
    int64_t diff = deleting ? 0 : want - static_cast<int64_t>(active.size());
    Status err;
    if (diff > 0) {
      const Json& tmpl = Field(*rs, "spec", "template");
      for (int64_t i = 0; i < std::min(diff, kBurst); ++i) {
        Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"},
                    {"metadata", {{"generateName", name + "-"}, {"namespace", ns},
                                  {"ownerReferences", Json::array({OwnerRef(*rsk, *rs, true)})}}},
                    {"spec", tmpl.value("spec", Json::object())}};
        const Json& tm = tmpl.value("metadata", Json::object());
        if (tm.contains("labels")) pod["metadata"]["labels"] = tm["labels"];
        if (tm.contains("annotations")) pod["metadata"]["annotations"] = tm["annotations"];
        auto c = os_->Create(*podk, ns, pod, api::WriteOptions{});
        if (!c.ok()) {
          RecordEvent(os_, *rsk, *rs, "Warning", "FailedCreate", "Error creating: " + c.status().message(),
                      "replicaset-controller");
          err = c.status();
          break;
        }
        RecordEvent(os_, *rsk, *rs, "Normal", "SuccessfulCreate",
                    "Created pod: " + (*c)["metadata"].value("name", ""), "replicaset-controller");
        active.push_back(std::move(c).value());
      }
    } else if (diff < 0) {
      // Prefer pods not yet on a node, then not ready, then the newest.
      std::sort(active.begin(), active.end(), [](const Json& a, const Json& b) {
        bool an = Field(a, "spec", "nodeName").is_string(), bn = Field(b, "spec", "nodeName").is_string();
        if (an != bn) return !an;
        bool ar = PodReady(a), br = PodReady(b);
        if (ar != br) return !ar;
        return a["metadata"].value("creationTimestamp", "") > b["metadata"].value("creationTimestamp", "");
      });
      int64_t n = std::min(-diff, kBurst);
      for (int64_t i = 0; i < n; ++i) {
        const Json& p = active[static_cast<size_t>(i)];
        api::DeleteParams dp;
        auto d = os_->Delete(*podk, ns, p["metadata"].value("name", ""), dp, api::WriteOptions{});
        if (d.ok())
          RecordEvent(os_, *rsk, *rs, "Normal", "SuccessfulDelete",
                      "Deleted pod: " + p["metadata"].value("name", ""), "replicaset-controller");
      }
      active.erase(active.begin(), active.begin() + n);
    }

    int64_t ready = 0, available = 0;
    int64_t min_ready = IntField(*rs, "spec", "minReadySeconds", 0);
    for (const auto& p : active) {
      if (!PodReady(p)) continue;
      ++ready;
      bool avail = true;
      if (min_ready > 0) {
        avail = false;
        for (const auto& c : Field(p, "status", "conditions"))
          if (c.value("type", "") == "Ready") {
            auto t = ParseRFC3339(c.value("lastTransitionTime", ""));
            avail = t && NowSeconds() - *t >= min_ready;
          }
      }
      if (avail) ++available;
    }
    Json status = {{"replicas", static_cast<int64_t>(active.size())},
                   {"fullyLabeledReplicas", static_cast<int64_t>(active.size())},
                   {"readyReplicas", ready},
                   {"availableReplicas", available},
                   {"observedGeneration", IntField(*rs, "metadata", "generation", 1)}};
    if (rs->value("status", Json::object()) != status) {
      Json next = *rs;
      next["status"] = status;
      auto u = os_->Update(*rsk, ns, name, next, api::WriteOptions{}, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
    }
    if (ready > available) pending_.insert(key);  // re-check once minReadySeconds pass
    else pending_.erase(key);
    return err;
  }

  void Resync() override {
    for (const auto& k : pending_) queue().Push(k);
  }

 private:
  std::set<std::string> pending_;  // worker thread only
};

}  // namespace

std::unique_ptr<Controller> NewReplicaSetController(api::ObjectStore* os) {
  return std::make_unique<ReplicaSetController>(os);
}

}  // namespace berth::controllers
