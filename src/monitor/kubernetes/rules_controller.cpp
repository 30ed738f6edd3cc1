#include <nlohmann/json.hpp>
#include <set>

#include "api/kind.h"
#include "api/objects.h"
#include "controllers/base.h"
#include "monitor/kubernetes/discovery.h"
#include "monitor/rules/manager.h"

namespace berth::monitor::kubernetes {
namespace {

class RuleController : public controllers::Controller {
 public:
  RuleController(api::ObjectStore* os, rules::RuleManager* rules) : Controller(os), rules_(rules) {}
  const char* name() const override { return "monitoring-rules"; }

  bool Interested(const api::KindInfo& k) const override {
    return k.group == "monitoring.coreos.com" && k.resource == "prometheusrules";
  }

  Status Reconcile(const std::string& key) override {
    auto kind = os_->kinds()->Find("monitoring.coreos.com", "v1", "prometheusrules");
    if (!kind) return Status::Ok();
    std::string ns, name;
    controllers::SplitKey(key, &ns, &name);
    std::string source = "prometheusrule/" + ns + "/" + name;
    auto obj = os_->Get(*kind, ns, name);
    if (!obj.ok()) {
      if (obj.status().code() != Code::kNotFound) return obj.status();
      rules_->RemoveSource(source);
      return Status::Ok();
    }
    auto groups = rules::ParseRuleGroupsJson(controllers::Field(*obj, "spec"));
    Status st = groups.ok() ? rules_->SetGroups(source, *groups) : groups.status();
    if (!st.ok()) {
      // Not retried: the object must change to become valid.
      controllers::RecordEvent(os_, *kind, *obj, "Warning", "InvalidRules", st.message(),
                               "berth-monitoring");
      return Status::Ok();
    }
    controllers::RecordEvent(os_, *kind, *obj, "Normal", "Loaded",
                             "loaded " + std::to_string(groups->size()) + " rule group(s)",
                             "berth-monitoring");
    return Status::Ok();
  }

 private:
  rules::RuleManager* rules_;
};

}  // namespace

std::unique_ptr<controllers::Controller> NewRuleController(api::ObjectStore* os,
                                                           rules::RuleManager* rules) {
  return std::make_unique<RuleController>(os, rules);
}

}  // namespace berth::monitor::kubernetes
