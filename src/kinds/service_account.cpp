#include "kinds/service_account.h"

#include <nlohmann/json.hpp>

#include "core/ids.h"

namespace berth::kinds {
namespace {

bool OptsOut(const Json& obj) {
  return obj.is_object() && obj.contains("automountServiceAccountToken") &&
         obj["automountServiceAccountToken"].is_boolean() && !obj["automountServiceAccountToken"].get<bool>();
}

// Adds the volume and its mounts; the service account is looked up by the caller.
void AddApiAccessVolume(Json& spec) {
  if (!spec.is_object()) return;
  Json& volumes = spec["volumes"];
  if (!volumes.is_array()) volumes = Json::array();
  for (const auto& v : volumes)
    if (v.is_object() && v.value("name", "").rfind("kube-api-access-", 0) == 0) return;
  std::string name = "kube-api-access-" + RandomSuffix(5);
  Json token = {{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}};
  Json ca = {{"configMap", {{"name", "kube-root-ca.crt"}, {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}};
  Json ns = {{"downwardAPI",
              {{"items",
                {{{"path", "namespace"}, {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}}};
  volumes.push_back({{"name", name}, {"projected", {{"defaultMode", 420}, {"sources", {token, ca, ns}}}}});
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& c : spec[list]) {
      if (!c.is_object()) continue;
      Json& mounts = c["volumeMounts"];
      if (!mounts.is_array()) mounts = Json::array();
      bool taken = false;
      for (const auto& m : mounts) taken = taken || (m.is_object() && m.value("mountPath", "") == kServiceAccountMountPath);
      if (!taken) mounts.push_back({{"name", name}, {"readOnly", true}, {"mountPath", kServiceAccountMountPath}});
    }
  }
}

}  // namespace

void InstallServiceAccountAdmission(api::ObjectStore* os) {
  auto k = os->kinds()->Find("", "v1", "pods");
  if (!k) return;
  api::KindInfo info = *k;
  auto prev = info.hooks.prepare_create;
  info.hooks.prepare_create = [os, prev](Json& obj) -> Status {
    if (prev) BERTH_RETURN_IF_ERROR(prev(obj));
    if (!obj.contains("spec") || !obj["spec"].is_object()) return Status::Ok();
    Json& spec = obj["spec"];
    if (OptsOut(spec)) return Status::Ok();
    // The pod's own setting wins; otherwise the service account's.
    if (!spec.contains("automountServiceAccountToken")) {
      auto sak = os->kinds()->Find("", "v1", "serviceaccounts");
      std::string ns = obj.contains("metadata") ? obj["metadata"].value("namespace", "") : "";
      auto sa = os->Get(*sak, ns, spec.value("serviceAccountName", "default"));
      if (sa.ok() && OptsOut(*sa)) return Status::Ok();
    }
    AddApiAccessVolume(spec);
    return Status::Ok();
  };
  os->kinds()->Register(std::move(info));
}

}  // namespace berth::kinds
