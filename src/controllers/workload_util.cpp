#include "controllers/workload_util.h"

#include <nlohmann/json.hpp>

#include "controllers/base.h"
#include "core/ids.h"
#include "core/time.h"

namespace berth::controllers {

Json Normalize(const Json& j) {
  if (j.is_object()) {
    Json o = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      Json v = Normalize(*it);
      if (v.is_null() || ((v.is_object() || v.is_array()) && v.empty())) continue;
      o[it.key()] = std::move(v);
    }
    return o;
  }
  if (j.is_array()) {
    Json a = Json::array();
    for (const auto& e : j) a.push_back(Normalize(e));
    return a;
  }
  return j;
}

Json TemplateForCompare(const Json& tmpl) {
  Json t = tmpl;
  if (t.contains("metadata") && t["metadata"].contains("labels") && t["metadata"]["labels"].is_object())
    t["metadata"]["labels"].erase("pod-template-hash");
  return Normalize(t);
}

std::string TemplateHash(const Json& tmpl, int64_t collision_count) {
  std::string s = TemplateForCompare(tmpl).dump();
  if (collision_count > 0) s += "/" + std::to_string(collision_count);
  return SafeEncode(Fnv32a(s));
}

int64_t ScaledValue(const Json& v, int64_t total, bool round_up, int64_t def) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      double pct = std::atof(s.substr(0, s.size() - 1).c_str());
      double x = pct * static_cast<double>(total) / 100.0;
      return static_cast<int64_t>(round_up ? std::ceil(x) : std::floor(x));
    }
    return std::atoll(s.c_str());
  }
  return def;
}

bool PodReady(const Json& pod) {
  const Json& conds = Field(pod, "status", "conditions");
  if (!conds.is_array()) return false;
  for (const auto& c : conds)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

bool PodActive(const Json& pod) {
  if (!Field(pod, "metadata", "deletionTimestamp").is_null()) return false;
  std::string phase = Field(pod, "status", "phase").is_string() ? pod["status"]["phase"].get<std::string>() : "";
  return phase != "Succeeded" && phase != "Failed";
}

bool PodAvailable(const Json& pod, int64_t min_ready_seconds, int64_t now) {
  if (!PodReady(pod)) return false;
  if (min_ready_seconds <= 0) return true;
  const Json* c = FindCondition(Field(pod, "status", "conditions"), "Ready");
  if (!c) return false;
  auto t = ParseRFC3339(c->value("lastTransitionTime", ""));
  return t && now - *t >= min_ready_seconds;
}

bool PodRunningAndReady(const Json& pod) { return PodPhase(pod) == "Running" && PodReady(pod); }

std::string PodPhase(const Json& pod) {
  const Json& p = Field(pod, "status", "phase");
  return p.is_string() ? p.get<std::string>() : "";
}

bool Deleting(const Json& obj) { return !Field(obj, "metadata", "deletionTimestamp").is_null(); }

const Json* FindCondition(const Json& conds, const std::string& type) {
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds)
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

bool SetCondition(Json& conds, const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!conds.is_array()) conds = Json::array();
  Json c = {{"type", type}, {"status", status}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  for (auto& old : conds) {
    if (old.value("type", "") != type) continue;
    if (old.value("status", "") == status) c["lastTransitionTime"] = old.value("lastTransitionTime", now);
    for (const char* keep : {"lastProbeTime", "lastHeartbeatTime", "lastUpdateTime"})
      if (old.contains(keep)) c[keep] = old[keep];
    bool changed = old.value("status", "") != status || old.value("reason", "") != reason ||
                   old.value("message", "") != message;
    old = std::move(c);
    return changed;
  }
  conds.push_back(std::move(c));
  return true;
}

Json PodFromTemplate(const Json& tmpl, const std::string& ns, const Json& owner_ref) {
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"},
              {"metadata", {{"namespace", ns}, {"ownerReferences", Json::array({owner_ref})}}},
              {"spec", Field(tmpl, "spec").is_object() ? tmpl["spec"] : Json::object()}};
  const Json& tm = Field(tmpl, "metadata");
  for (const char* f : {"labels", "annotations", "finalizers"})
    if (Field(tm, f).is_object() || Field(tm, f).is_array()) pod["metadata"][f] = tm[f];
  return pod;
}

std::string ControllerKey(const Json& obj, const std::string& kind) {
  const Json& refs = Field(obj, "metadata", "ownerReferences");
  if (!refs.is_array()) return "";
  for (const auto& r : refs)
    if (r.value("controller", false) && r.value("kind", "") == kind)
      return obj["metadata"].value("namespace", "") + "/" + r.value("name", "");
  return "";
}

int64_t Revision(const Json& rs) {
  const Json& a = Field(rs, "metadata", "annotations", "deployment.kubernetes.io/revision");
  return a.is_string() ? std::atoll(a.get<std::string>().c_str()) : 0;
}

}  // namespace berth::controllers
