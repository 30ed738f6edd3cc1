#include "api/metrics_api.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/kubelet_proxy.h"

namespace berth::api {
namespace {

constexpr const char* kGroup = "metrics.k8s.io";
constexpr const char* kVersion = "v1beta1";
constexpr const char* kApiVersion = "metrics.k8s.io/v1beta1";

std::string Cpu(const Json& v) {
  return std::to_string(v.is_number() ? v.get<int64_t>() : 0) + "n";
}
std::string Memory(const Json& v) {
  return std::to_string((v.is_number() ? v.get<int64_t>() : 0) / 1024) + "Ki";
}
std::string Window(const Json& summary) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", summary.value("windowSeconds", 0.0));
  return buf;
}

// The kubelet's summary of one node; Unavailable if it cannot be had.
Result<Json> Summary(const Json& node, const net::ClientOptions& base) {
  BERTH_ASSIGN_OR_RETURN(net::ClientOptions c, KubeletEndpoint(node, base));
  net::HttpsClient client(c);
  BERTH_ASSIGN_OR_RETURN(net::ClientResponse resp, client.Do("GET", "/stats/summary"));
  if (resp.status != 200)
    return Status(Code::kUnavailable, "kubelet stats: HTTP " + std::to_string(resp.status));
  Json j = Json::parse(resp.body, nullptr, false);
  if (!j.is_object()) return Status(Code::kUnavailable, "kubelet stats: not JSON");
  return j;
}

void ReplyJsonBody(net::ResponseWriter& w, const Json& body) {
  w.Reply(200, {{"Content-Type", "application/json"}}, body.dump());
}

Json ListOf(const char* kind, Json items) {
  return {{"kind", kind},
          {"apiVersion", kApiVersion},
          {"metadata", Json::object()},
          {"items", std::move(items)}};
}

void ServeNodes(net::Request& r, net::ResponseWriter& w, ObjectStore* os,
                const net::ClientOptions& base, const std::string& name) {
  auto nodes = os->kinds()->Find("", "v1", "nodes");
  ListParams lp;
  lp.label_selector = r.Query("labelSelector");
  auto list = os->List(*nodes, lp);
  if (!list.ok()) return ReplyStatus(w, list.status());
  Json items = Json::array();
  for (const auto& n : list->items) {
    std::string nn = n["metadata"].value("name", "");
    if (!name.empty() && nn != name) continue;
    auto s = Summary(n, base);
    if (!s.ok() || !s->contains("node")) continue;  // kubectl top shows what it gets
    const Json& ns = (*s)["node"];
    Json meta = {{"name", nn}, {"creationTimestamp", ns.value("time", "")}};
    if (n["metadata"].contains("labels")) meta["labels"] = n["metadata"]["labels"];
    items.push_back({{"metadata", meta},
                     {"timestamp", ns.value("time", "")},
                     {"window", Window(*s)},
                     {"usage",
                      {{"cpu", Cpu(ns.value("usageNanoCores", Json()))},
                       {"memory", Memory(ns.value("workingSetBytes", Json()))}}}});
  }
  if (name.empty()) return ReplyJsonBody(w, ListOf("NodeMetricsList", std::move(items)));
  if (items.empty())
    return ReplyStatus(w, NotFound("nodemetrics.metrics.k8s.io \"" + name + "\" not found"), kGroup,
                       "nodes", name);
  Json one = items[0];
  one["kind"] = "NodeMetrics";
  one["apiVersion"] = kApiVersion;
  ReplyJsonBody(w, one);
}

void ServePods(net::Request& r, net::ResponseWriter& w, ObjectStore* os,
               const net::ClientOptions& base, const std::string& ns, const std::string& name) {
  auto pods = os->kinds()->Find("", "v1", "pods");
  auto nodes = os->kinds()->Find("", "v1", "nodes");
  ListParams lp;
  lp.ns = ns;
  lp.label_selector = r.Query("labelSelector");
  auto list = os->List(*pods, lp);
  if (!list.ok()) return ReplyStatus(w, list.status());
  // The pods asked for, by node; each node is asked once.
  std::map<std::string, std::map<std::string, const Json*>> wanted;  // node -> "ns/name" -> pod
  for (const auto& p : list->items) {
    const Json& m = p["metadata"];
    if (!name.empty() && m.value("name", "") != name) continue;
    std::string node = p.contains("spec") ? p["spec"].value("nodeName", "") : "";
    if (!node.empty()) wanted[node][m.value("namespace", "") + "/" + m.value("name", "")] = &p;
  }
  Json items = Json::array();
  for (const auto& [node, by_key] : wanted) {
    auto n = os->Get(*nodes, "", node);
    if (!n.ok()) continue;
    auto s = Summary(*n, base);
    if (!s.ok()) continue;
    for (const auto& ps : s->value("pods", Json::array())) {
      const Json& ref = ps.value("podRef", Json::object());
      auto it = by_key.find(ref.value("namespace", "") + "/" + ref.value("name", ""));
      if (it == by_key.end()) continue;
      Json containers = Json::array();
      for (const auto& c : ps.value("containers", Json::array()))
        containers.push_back({{"name", c.value("name", "")},
                              {"usage",
                               {{"cpu", Cpu(c.value("usageNanoCores", Json()))},
                                {"memory", Memory(c.value("workingSetBytes", Json()))}}}});
      if (containers.empty()) continue;
      const Json& pm = it->second->at("metadata");
      Json meta = {{"name", pm.value("name", "")},
                   {"namespace", pm.value("namespace", "")},
                   {"creationTimestamp", ps.value("time", "")}};
      if (pm.contains("labels")) meta["labels"] = pm["labels"];
      items.push_back({{"metadata", meta},
                       {"timestamp", ps.value("time", "")},
                       {"window", Window(*s)},
                       {"containers", containers}});
    }
  }
  if (name.empty()) return ReplyJsonBody(w, ListOf("PodMetricsList", std::move(items)));
  if (items.empty())
    return ReplyStatus(w, NotFound("podmetrics.metrics.k8s.io \"" + name + "\" not found"), kGroup,
                       "pods", name);
  Json one = items[0];
  one["kind"] = "PodMetrics";
  one["apiVersion"] = kApiVersion;
  ReplyJsonBody(w, one);
}

}  // namespace

void InstallMetricsApi(ApiServer* api, ObjectStore* os, const net::ClientOptions& kubelet_client) {
  for (bool pods : {true, false}) {
    KindInfo k;
    k.group = kGroup;
    k.version = kVersion;
    k.kind = pods ? "PodMetrics" : "NodeMetrics";
    k.resource = pods ? "pods" : "nodes";
    k.singular = pods ? "podmetrics" : "nodemetrics";
    k.list_kind = k.kind + "List";
    k.namespaced = pods;
    k.verbs = {"get", "list"};
    os->kinds()->Register(k);
  }
  api->HandleResource(kGroup, kVersion, "pods",
                      [os, kubelet_client](net::Request& r, net::ResponseWriter& w,
                                           const std::string& ns, const std::string& name) {
                        ServePods(r, w, os, kubelet_client, ns, name);
                      });
  api->HandleResource(kGroup, kVersion, "nodes",
                      [os, kubelet_client](net::Request& r, net::ResponseWriter& w,
                                           const std::string&, const std::string& name) {
                        ServeNodes(r, w, os, kubelet_client, name);
                      });
}

}  // namespace berth::api
