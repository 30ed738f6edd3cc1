#include "controllers/workload_util.h"

#include <nlohmann/json.hpp>

#include "controllers/base.h"
#include "core/ids.h"

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

int64_t Revision(const Json& rs) {
  const Json& a = Field(rs, "metadata", "annotations", "deployment.kubernetes.io/revision");
  return a.is_string() ? std::atoll(a.get<std::string>().c_str()) : 0;
}

}  // namespace berth::controllers
