// Discovery documents built from the KindRegistry (what kubectl reads to map
// kinds and short names to resources).
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/internal.h"

namespace berth::api::internal {
namespace {

Json ResourceEntry(const KindInfo& k) {
  Json r = {{"resource", k.resource},
            {"responseKind", {{"group", k.group}, {"version", k.version}, {"kind", k.kind}}},
            {"scope", k.namespaced ? "Namespaced" : "Cluster"},
            {"singularResource", k.singular},
            {"verbs", k.verbs}};
  if (!k.short_names.empty()) r["shortNames"] = k.short_names;
  if (!k.categories.empty()) r["categories"] = k.categories;
  Json subs = Json::array();
  if (k.status_subresource)
    subs.push_back({{"subresource", "status"},
                    {"responseKind", {{"group", k.group}, {"version", k.version}, {"kind", k.kind}}},
                    {"verbs", {"get", "patch", "update"}}});
  if (k.scale)
    subs.push_back({{"subresource", "scale"},
                    {"responseKind", {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
                    {"verbs", {"get", "patch", "update"}}});
  if (k.group.empty() && k.resource == "namespaces")
    subs.push_back({{"subresource", "finalize"},
                    {"responseKind", {{"group", ""}, {"version", "v1"}, {"kind", "Namespace"}}},
                    {"verbs", {"update"}}});
  if (!subs.empty()) r["subresources"] = subs;
  return r;
}

// Group order: core first, then groups in registration order would be nicer,
// but sorted is deterministic and kubectl does not depend on it.
std::map<std::string, std::map<std::string, std::vector<KindPtr>>> ByGroup(const KindRegistry& kinds) {
  std::map<std::string, std::map<std::string, std::vector<KindPtr>>> g;
  for (const auto& k : kinds.All()) g[k->group][k->version].push_back(k);
  return g;
}

// Preferred version: the highest by Kubernetes version ordering (v1 > v1beta1 > v1alpha1).
int VersionRank(const std::string& v) {
  int major = 0, minor = 0;
  char stage[16] = {0};
  int n = std::sscanf(v.c_str(), "v%d%15[a-z]%d", &major, stage, &minor);
  int stage_rank = 3;
  if (n >= 2) stage_rank = std::string(stage) == "beta" ? 2 : std::string(stage) == "alpha" ? 1 : 0;
  return stage_rank * 100000 + major * 100 + minor;
}

std::vector<std::string> SortedVersions(const std::map<std::string, std::vector<KindPtr>>& m) {
  std::vector<std::string> vs;
  for (const auto& [v, _] : m) vs.push_back(v);
  std::sort(vs.begin(), vs.end(), [](const std::string& a, const std::string& b) { return VersionRank(a) > VersionRank(b); });
  return vs;
}

}  // namespace

Json AggregatedDiscovery(const KindRegistry& kinds, bool core) {
  Json items = Json::array();
  for (const auto& [group, versions] : ByGroup(kinds)) {
    if (core != group.empty()) continue;
    Json vlist = Json::array();
    for (const auto& v : SortedVersions(versions)) {
      Json res = Json::array();
      for (const auto& k : versions.at(v)) res.push_back(ResourceEntry(*k));
      vlist.push_back({{"version", v}, {"resources", res}, {"freshness", "Current"}});
    }
    Json meta = core ? Json::object() : Json{{"name", group}, {"creationTimestamp", nullptr}};
    items.push_back({{"metadata", meta}, {"versions", vlist}});
  }
  return {{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", Json::object()}, {"items", items}};
}

Json LegacyApiVersions() {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}};
}

Json LegacyGroup(const KindRegistry& kinds, const std::string& group) {
  auto all = ByGroup(kinds);
  auto it = all.find(group);
  if (group.empty() || it == all.end()) return nullptr;
  Json vs = Json::array();
  auto sorted = SortedVersions(it->second);
  for (const auto& v : sorted) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", group}, {"versions", vs},
          {"preferredVersion", {{"groupVersion", group + "/" + sorted.front()}, {"version", sorted.front()}}}};
}

Json LegacyGroupList(const KindRegistry& kinds) {
  Json groups = Json::array();
  for (const auto& [group, versions] : ByGroup(kinds)) {
    if (group.empty()) continue;
    Json g = LegacyGroup(kinds, group);
    g.erase("kind");
    g.erase("apiVersion");
    groups.push_back(g);
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

Json LegacyResourceList(const KindRegistry& kinds, const std::string& group, const std::string& version) {
  Json res = Json::array();
  bool any = false;
  for (const auto& k : kinds.All()) {
    if (k->group != group || k->version != version) continue;
    any = true;
    Json r = {{"name", k->resource}, {"singularName", k->singular}, {"namespaced", k->namespaced},
              {"kind", k->kind}, {"verbs", k->verbs}};
    if (!k->short_names.empty()) r["shortNames"] = k->short_names;
    if (!k->categories.empty()) r["categories"] = k->categories;
    res.push_back(r);
    if (k->status_subresource)
      res.push_back({{"name", k->resource + "/status"}, {"singularName", ""}, {"namespaced", k->namespaced},
                     {"kind", k->kind}, {"verbs", {"get", "patch", "update"}}});
    if (k->scale)
      res.push_back({{"name", k->resource + "/scale"}, {"singularName", ""}, {"namespaced", k->namespaced},
                     {"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"},
                     {"verbs", {"get", "patch", "update"}}});
  }
  if (!any) return nullptr;
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version}, {"resources", res}};
}

}  // namespace berth::api::internal
