// Marks CustomResourceDefinitions NamesAccepted and Established once their
// kinds are served (the CRD's after-write hook registers them synchronously).
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

class CrdStatusController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "crd-status"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "apiextensions.k8s.io" && k.resource == "customresourcedefinitions";
  }

  Status Reconcile(const std::string& key) override {
    auto k = KindOf(os_, "apiextensions.k8s.io", "customresourcedefinitions");
    auto crd = os_->Get(*k, "", key);
    if (!crd.ok()) return crd.status();
    if (!Field(*crd, "metadata", "deletionTimestamp").is_null()) return Status::Ok();
    Json status = crd->value("status", Json::object());
    Json want = status;
    const Json& spec = (*crd)["spec"];
    want["acceptedNames"] = spec.value("names", Json::object());
    Json stored = Json::array();
    for (const auto& v : spec.value("versions", Json::array()))
      if (v.value("storage", false)) stored.push_back(v.value("name", ""));
    want["storedVersions"] = stored;
    std::string now = FormatRFC3339(NowSeconds());
    Json conds = Json::array();
    for (const char* type : {"NamesAccepted", "Established"}) {
      Json c = {{"type", type}, {"status", "True"},
                {"reason", std::string(type) == "Established" ? "InitialNamesAccepted" : "NoConflicts"},
                {"message", std::string(type) == "Established" ? "the initial names have been accepted"
                                                                : "no conflicts found"},
                {"lastTransitionTime", now}};
      for (const auto& old : status.value("conditions", Json::array()))
        if (old.value("type", "") == type && old.value("status", "") == "True") c["lastTransitionTime"] = old["lastTransitionTime"];
      conds.push_back(c);
    }
    want["conditions"] = conds;
    if (want == status) return Status::Ok();
    Json next = *crd;
    next["status"] = want;
    auto r = os_->Update(*k, "", key, next, api::WriteOptions{}, api::Subresource::kStatus);
    return r.ok() ? Status::Ok() : r.status();
  }
};

}  // namespace

std::unique_ptr<Controller> NewCrdStatusController(api::ObjectStore* os) {
  return std::make_unique<CrdStatusController>(os);
}

}  // namespace berth::controllers
