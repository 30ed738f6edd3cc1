// Namespace lifecycle: a namespace being deleted (phase Terminating) has its
// contents deleted, kind by kind; once nothing is left its "kubernetes"
// finalizer is removed and the store drops it.
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"

namespace berth::controllers {
namespace {

class NamespaceController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "namespace"; }
  bool Interested(const api::KindInfo& k) const override { return k.group.empty() && k.resource == "namespaces"; }

  Status Reconcile(const std::string& key) override {
    auto nsk = KindOf(os_, "", "namespaces");
    auto ns = os_->Get(*nsk, "", key);
    if (!ns.ok()) return ns.status();
    if (Field(*ns, "metadata", "deletionTimestamp").is_null()) return Status::Ok();
    size_t remaining = 0;
    for (const auto& k : os_->kinds()->All()) {
      if (!k->namespaced) continue;
      api::ListParams lp;
      lp.ns = key;
      auto list = os_->List(*k, lp);
      if (!list.ok()) return list.status();
      for (const auto& item : list->items) {
        ++remaining;
        if (!Field(item, "metadata", "deletionTimestamp").is_null()) continue;
        api::DeleteParams dp;
        dp.propagation = "Background";
        os_->Delete(*k, key, item["metadata"].value("name", ""), dp, api::WriteOptions{});
      }
    }
    if (remaining > 0) {
      // Not done: contents with finalizers or graceful deletion still exist.
      return Status(Code::kUnavailable, "namespace " + key + " still has " + std::to_string(remaining) + " objects");
    }
    Json next = *ns;
    if (next.contains("spec")) next["spec"].erase("finalizers");
    auto r = os_->Update(*nsk, "", key, next, api::WriteOptions{}, api::Subresource::kFinalize);
    return r.ok() ? Status::Ok() : r.status();
  }
};

}  // namespace

std::unique_ptr<Controller> NewNamespaceController(api::ObjectStore* os) {
  return std::make_unique<NamespaceController>(os);
}

api::KindPtr KindOf(api::ObjectStore* os, const std::string& group, const std::string& resource) {
  for (const auto& k : os->kinds()->All())
    if (k->group == group && k->resource == resource) return k;
  return nullptr;
}

std::vector<std::unique_ptr<Controller>> NewControllers(api::ObjectStore* os) {
  std::vector<std::unique_ptr<Controller>> v;
  v.push_back(NewNamespaceController(os));
  v.push_back(NewGarbageCollector(os));
  v.push_back(NewCrdStatusController(os));
  v.push_back(NewReplicaSetController(os));
  v.push_back(NewDeploymentController(os));
  v.push_back(NewScheduler(os));
  v.push_back(NewEndpointsController(os));
  v.push_back(NewJobController(os));
  v.push_back(NewCronJobController(os));
  v.push_back(NewStatefulSetController(os));
  v.push_back(NewDaemonSetController(os));
  v.push_back(NewNodeLifecycleController(os));
  return v;
}

}  // namespace berth::controllers
