// apps/v1 kinds: Deployment, ReplicaSet, StatefulSet, DaemonSet. Defaults from
// pkg/apis/apps/v1/defaults.go, checks from pkg/apis/apps/validation, columns
// from kubectl's printers.go.
#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "kinds/groups.h"
#include "kinds/pod_spec.h"
#include "kinds/util.h"
#include "kinds/workload.h"

namespace berth::kinds {
namespace {

using api::InvalidValue;
using api::NotSupported;

constexpr char kApps[] = "io.k8s.api.apps.v1";

std::vector<api::TableColumn> WideTemplateColumns(bool selector) {
  std::vector<api::TableColumn> cols = {
      Column(
          "Containers",
          [](const Json& o) -> Json {
            return ContainerNames(At(o, {"spec", "template", "spec"}));
          },
          1, "string", "Names of each container in the template."),
      Column(
          "Images",
          [](const Json& o) -> Json {
            return ContainerImages(At(o, {"spec", "template", "spec"}));
          },
          1, "string", "Images referenced by each container in the template."),
  };
  if (selector)
    cols.push_back(Column(
        "Selector",
        [](const Json& o) -> Json {
          return FormatSelector(At(o, {"spec", "selector"}));
        },
        1, "string", "Label selector of the pods."));
  return cols;
}

void DefaultTemplate(Json& o) {
  if (Json* t = const_cast<Json*>(At(o, {"spec", "template"}))) DefaultPodTemplate(*t);
}

// Checks shared by the four kinds: replicas, selector/template, template
// restartPolicy (controllers only run Always pods), immutable selector.
void ValidateWorkload(const Json& o, const Json* old, const std::string& kind_lower,
                      bool has_replicas, std::vector<Cause>& causes) {
  const Json* spec = At(o, {"spec"});
  if (!spec) {
    causes.push_back(api::Required("spec"));
    return;
  }
  if (has_replicas) ValidateNonNegative(*spec, "replicas", "spec.replicas", causes);
  ValidateNonNegative(*spec, "minReadySeconds", "spec.minReadySeconds", causes);
  ValidateNonNegative(*spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", causes);
  ValidateSelectorMatchesTemplate(o, kind_lower, true, causes);
  const Json* tmpl = At(*spec, {"template"});
  if (!tmpl) {
    causes.push_back(api::Required("spec.template"));
  } else {
    ValidatePodTemplate(*tmpl, "spec.template", causes);
    std::string rp = Str(*tmpl, {"spec", "restartPolicy"}, "Always");
    if (rp != "Always")
      causes.push_back(NotSupported("spec.template.spec.restartPolicy", rp, {"Always"}));
    if (Has(*tmpl, {"spec", "activeDeadlineSeconds"}))
      causes.push_back(api::Forbidden("spec.template.spec.activeDeadlineSeconds",
                                      "activeDeadlineSeconds in ReplicaSet is not Supported"));
  }
  if (old) ValidateSelectorImmutable(o, *old, causes);
}

api::KindInfo Deployment() {
  auto k = MakeKind(
      {"apps", "v1", "Deployment", "deployments", "deployment", true, {"deploy"}, {"all"}, kApps});
  k.status_subresource = true;
  k.scale = api::ScaleInfo{};
  k.track_generation = true;
  k.columns = {
      Column(
          "Ready",
          [](const Json& o) -> Json {
            return Ratio(Int(o, {"status", "readyReplicas"}), Int(o, {"spec", "replicas"}));
          },
          0, "string", "Number of the pod with ready state"),
      IntColumn("Up-to-date", {"status", "updatedReplicas"}, 0,
                "Total number of non-terminated pods targeted by this deployment that have the desired "
          "template spec."),
      IntColumn("Available", {"status", "availableReplicas"}, 0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this "
          "deployment."),
      AgeColumn(),
  };
  for (auto& c : WideTemplateColumns(true)) k.columns.push_back(std::move(c));
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    SetDefault(spec, "replicas", 1);
    Json& strategy = Obj(spec, {"strategy"});
    SetDefault(strategy, "type", "RollingUpdate");
    if (Str(strategy, {"type"}) == "RollingUpdate") {
      Json& ru = Obj(strategy, {"rollingUpdate"});
      SetDefault(ru, "maxUnavailable", "25%");
      SetDefault(ru, "maxSurge", "25%");
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    SetDefault(spec, "progressDeadlineSeconds", 600);
    DefaultTemplate(o);
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    ValidateWorkload(o, old, "deployment", true, causes);
    const Json* st = At(o, {"spec", "strategy"});
    if (st) {
      std::string type = Str(*st, {"type"}, "RollingUpdate");
      if (type != "Recreate" && type != "RollingUpdate")
        causes.push_back(NotSupported("spec.strategy.type", type, {"Recreate", "RollingUpdate"}));
      const Json* ru = At(*st, {"rollingUpdate"});
      if (type == "Recreate" && ru)
        causes.push_back(api::Forbidden("spec.strategy.rollingUpdate",
                                        "may not be specified when strategy `type` is 'Recreate'"));
      if (type == "RollingUpdate" && ru) {
        const std::string p = "spec.strategy.rollingUpdate";
        int64_t mu =
            ValidateIntOrPercent(*ru, "maxUnavailable", p + ".maxUnavailable", true, causes);
        int64_t ms = ValidateIntOrPercent(*ru, "maxSurge", p + ".maxSurge", false, causes);
        if (mu == 0 && ms == 0)
          causes.push_back(InvalidValue(p + ".maxUnavailable", *At(*ru, {"maxUnavailable"}),
                                        "may not be 0 when `maxSurge` is 0"));
      }
    }
    const Json* spec = At(o, {"spec"});
    if (spec) {
      ValidateNonNegative(*spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", causes);
      int64_t pds = Int(*spec, {"progressDeadlineSeconds"}, -1),
              mrs = Int(*spec, {"minReadySeconds"}, 0);
      if (pds >= 0 && pds <= mrs)
        causes.push_back(InvalidValue("spec.progressDeadlineSeconds", pds,
                                      "must be greater than minReadySeconds"));
    }
  };
  return k;
}

api::KindInfo ReplicaSet() {
  auto k = MakeKind(
      {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, {"rs"}, {"all"}, kApps});
  k.status_subresource = true;
  k.scale = api::ScaleInfo{};
  k.track_generation = true;
  k.columns = {
      IntColumn("Desired", {"spec", "replicas"}, 0, "Number of desired pods."),
      IntColumn("Current", {"status", "replicas"}, 0, "Number of actual pods."),
      IntColumn("Ready", {"status", "readyReplicas"}, 0, "Number of ready pods."),
      AgeColumn(),
  };
  for (auto& c : WideTemplateColumns(true)) k.columns.push_back(std::move(c));
  k.hooks.defaults = [](Json& o) {
    SetDefault(Obj(o, {"spec"}), "replicas", 1);
    DefaultTemplate(o);
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    ValidateWorkload(o, old, "replicaset", true, causes);
  };
  k.hooks.field = [](const Json& o, const std::string& f) -> std::optional<std::string> {
    if (f == "status.replicas") return std::to_string(Int(o, {"status", "replicas"}));
    return std::nullopt;
  };
  return k;
}

api::KindInfo StatefulSet() {
  auto k = MakeKind(
      {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, {"sts"}, {"all"}, kApps});
  k.status_subresource = true;
  k.scale = api::ScaleInfo{};
  k.track_generation = true;
  k.columns = {
      Column(
          "Ready",
          [](const Json& o) -> Json {
            return Ratio(Int(o, {"status", "readyReplicas"}), Int(o, {"spec", "replicas"}));
          },
          0, "string", "Number of the pod with ready state"),
      AgeColumn(),
  };
  for (auto& c : WideTemplateColumns(false)) k.columns.push_back(std::move(c));
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    SetDefault(spec, "replicas", 1);
    SetDefault(spec, "podManagementPolicy", "OrderedReady");
    Json& us = Obj(spec, {"updateStrategy"});
    SetDefault(us, "type", "RollingUpdate");
    if (Str(us, {"type"}) == "RollingUpdate")
      SetDefault(Obj(us, {"rollingUpdate"}), "partition", 0);
    SetDefault(spec, "revisionHistoryLimit", 10);
    Json& ret = Obj(spec, {"persistentVolumeClaimRetentionPolicy"});
    SetDefault(ret, "whenDeleted", "Retain");
    SetDefault(ret, "whenScaled", "Retain");
    ForEach(spec, "volumeClaimTemplates", [](Json& pvc) {
      SetDefault(pvc, "apiVersion", "v1");
      SetDefault(pvc, "kind", "PersistentVolumeClaim");
      SetDefault(Obj(pvc, {"spec"}), "volumeMode", "Filesystem");
      SetDefault(Obj(pvc, {"status"}), "phase", "Pending");
    });
    DefaultTemplate(o);
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    // Containers mount the claims of volumeClaimTemplates by template name;
    // the controller adds those volumes to each pod, so the template is
    // checked with them in place (Kubernetes skips pod spec checks here).
    Json with_claims = o;
    if (const Json* vcts = At(o, {"spec", "volumeClaimTemplates"}); vcts && vcts->is_array()) {
      Json* vols = nullptr;
      for (const auto& t : *vcts) {
        std::string n = Str(t, {"metadata", "name"});
        if (n.empty()) continue;
        if (!vols) {
          Json& spec = Obj(with_claims, {"spec", "template", "spec"});
          if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = Json::array();
          vols = &spec["volumes"];
        }
        bool present = false;
        for (const auto& v : *vols) present = present || Str(v, {"name"}) == n;
        if (!present) vols->push_back({{"name", n}, {"persistentVolumeClaim", {{"claimName", n}}}});
      }
    }
    ValidateWorkload(with_claims, old, "statefulset", true, causes);
    std::string pmp = Str(o, {"spec", "podManagementPolicy"}, "OrderedReady");
    if (pmp != "OrderedReady" && pmp != "Parallel")
      causes.push_back(NotSupported("spec.podManagementPolicy", pmp, {"OrderedReady", "Parallel"}));
    std::string ust = Str(o, {"spec", "updateStrategy", "type"}, "RollingUpdate");
    if (ust != "RollingUpdate" && ust != "OnDelete")
      causes.push_back(
          NotSupported("spec.updateStrategy.type", ust, {"OnDelete", "RollingUpdate"}));
    if (const Json* ru = At(o, {"spec", "updateStrategy", "rollingUpdate"}))
      ValidateNonNegative(*ru, "partition", "spec.updateStrategy.rollingUpdate.partition", causes);
    if (const Json* vcts = At(o, {"spec", "volumeClaimTemplates"}); vcts && vcts->is_array())
      for (size_t i = 0; i < vcts->size(); ++i)
        if (Str((*vcts)[i], {"metadata", "name"}).empty())
          causes.push_back(api::Required(Idx("spec.volumeClaimTemplates", i) + ".metadata.name"));
    if (old) {
      // Only these spec fields may change after creation.
      Json a = o.value("spec", Json::object()), b = old->value("spec", Json::object());
      for (Json* s : {&a, &b})
        for (const char* f :
             {"replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
              "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "selector"})
          s->erase(f);
      if (a != b)
        causes.push_back(api::Forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'revisionHistoryLimit', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
    }
  };
  return k;
}

api::KindInfo DaemonSet() {
  auto k = MakeKind(
      {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, {"ds"}, {"all"}, kApps});
  k.status_subresource = true;
  k.track_generation = true;
  k.columns = {
      IntColumn("Desired", {"status", "desiredNumberScheduled"}, 0, "The total number of nodes that should be running the daemon pod."),
      IntColumn("Current", {"status", "currentNumberScheduled"}, 0, "The number of nodes running at least one daemon pod that should."),
      IntColumn("Ready", {"status", "numberReady"}, 0, "The number of nodes whose daemon pod is ready."),
      IntColumn("Up-to-date", {"status", "updatedNumberScheduled"}, 0, "The number of nodes running the updated daemon pod."),
      IntColumn("Available", {"status", "numberAvailable"}, 0, "The number of nodes whose daemon pod is available."),
      Column(
          "Node Selector",
          [](const Json& o) -> Json {
            return FormatLabels(At(o, {"spec", "template", "spec", "nodeSelector"}));
          },
          0, "string", "Node selector of the daemon pods."),
      AgeColumn(),
  };
  for (auto& c : WideTemplateColumns(true)) k.columns.push_back(std::move(c));
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    Json& us = Obj(spec, {"updateStrategy"});
    SetDefault(us, "type", "RollingUpdate");
    if (Str(us, {"type"}) == "RollingUpdate") {
      Json& ru = Obj(us, {"rollingUpdate"});
      SetDefault(ru, "maxUnavailable", 1);
      SetDefault(ru, "maxSurge", 0);
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    DefaultTemplate(o);
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    ValidateWorkload(o, old, "daemonset", false, causes);
    std::string ust = Str(o, {"spec", "updateStrategy", "type"}, "RollingUpdate");
    if (ust != "RollingUpdate" && ust != "OnDelete")
      causes.push_back(
          NotSupported("spec.updateStrategy.type", ust, {"OnDelete", "RollingUpdate"}));
    if (const Json* ru = At(o, {"spec", "updateStrategy", "rollingUpdate"})) {
      const std::string p = "spec.updateStrategy.rollingUpdate";
      int64_t mu = ValidateIntOrPercent(*ru, "maxUnavailable", p + ".maxUnavailable", true, causes);
      int64_t ms = ValidateIntOrPercent(*ru, "maxSurge", p + ".maxSurge", true, causes);
      if (mu == 0 && ms == 0)
        causes.push_back(InvalidValue(p + ".maxUnavailable", *At(*ru, {"maxUnavailable"}),
                                      "may not be 0 when `maxSurge` is 0"));
    }
  };
  return k;
}

}  // namespace

void RegisterAppsV1(api::KindRegistry& reg) {
  for (auto make : {Deployment, ReplicaSet, StatefulSet, DaemonSet}) reg.Register(make());
}

}  // namespace berth::kinds
