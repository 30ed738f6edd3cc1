// Endpoints and EndpointSlice controllers in one loop: for each Service with a
// selector, the selected pods that have an IP become addresses (ready or not
// ready) under the service's ports, resolved per pod from targetPort (a
// number, or a container port name). The Endpoints object has the service's
// name; the EndpointSlices (one per distinct port set) are owned by the
// Service, so the garbage collector removes them with it. Objects are written
// only when their content changes.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"

namespace berth::controllers {
namespace {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
constexpr char kManagedBy[] = "endpointslice-controller.k8s.io";
// Marks the Endpoints objects this controller wrote (as Kubernetes 1.33
// does), so hand-made Endpoints of a service not yet created are left alone.
constexpr char kEndpointsManagedByLabel[] = "endpoints.kubernetes.io/managed-by";
constexpr char kEndpointsManagedBy[] = "endpoint-controller";

bool SelectorMatches(const Json& sel, const Json& labels) {
  if (!sel.is_object() || sel.empty()) return false;
  for (auto it = sel.begin(); it != sel.end(); ++it) {
    const Json& v = Field(labels, it.key().c_str());
    if (!v.is_string() || v != *it) return false;
  }
  return true;
}

std::string PodIP(const Json& pod) {
  const Json& ips = Field(pod, "status", "podIPs");
  if (ips.is_array() && !ips.empty() && ips[0].is_object()) return ips[0].value("ip", "");
  const Json& ip = Field(pod, "status", "podIP");
  return ip.is_string() ? ip.get<std::string>() : "";
}

// The port a service port reaches on this pod, or -1 when a named
// targetPort has no matching container port.
int64_t ResolvePort(const Json& svc_port, const Json& pod) {
  const Json& tp = Field(svc_port, "targetPort");
  if (tp.is_number_integer()) return tp.get<int64_t>();
  if (!tp.is_string()) return svc_port.value("port", int64_t{0});
  const std::string name = tp.get<std::string>();
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::atoll(name.c_str());
  const std::string proto = svc_port.value("protocol", "TCP");
  const Json& cs = Field(pod, "spec", "containers");
  if (cs.is_array())
    for (const auto& c : cs)
      for (const auto& p : c.value("ports", Json::array()))
        if (p.value("name", "") == name && p.value("protocol", "TCP") == proto)
          return p.value("containerPort", int64_t{-1});
  return -1;
}

struct PodEndpoint {
  const Json* pod;
  std::string ip;
  bool ready, serving, terminating;
  Json ports;  // EndpointPorts, in service port order
};

class EndpointsController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "endpoints"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group.empty() && (k.resource == "services" || k.resource == "pods" || k.resource == "endpoints")) ||
           (k.group == "discovery.k8s.io" && k.resource == "endpointslices");
  }

  // Feeder thread only: which services select which pods.
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    const std::string ns = obj["metadata"].value("namespace", "");
    if (k.resource == "services") {
      const std::string key = KeyOf(obj);
      if (type == "DELETED") selectors_[ns].erase(key);
      else selectors_[ns][key] = Field(obj, "spec", "selector");
      queue().Push(key);
      return;
    }
    if (k.resource == "endpoints") {
      queue().Push(KeyOf(obj));  // repairs edits to a managed Endpoints
      return;
    }
    if (k.resource == "endpointslices") {
      const Json& svc = Field(obj, "metadata", "labels", kServiceNameLabel);
      if (svc.is_string() && Field(obj, "metadata", "labels", kManagedByLabel) == Json(kManagedBy))
        queue().Push(ns + "/" + svc.get<std::string>());
      return;
    }
    // A pod: the services selecting it now, and those that selected it
    // before (its labels may have changed).
    const std::string pkey = KeyOf(obj);
    std::set<std::string> now;
    if (type != "DELETED")
      for (const auto& [skey, sel] : selectors_[ns])
        if (SelectorMatches(sel, Field(obj, "metadata", "labels"))) now.insert(skey);
    for (const auto& s : now) queue().Push(s);
    auto it = pod_services_.find(pkey);
    if (it != pod_services_.end())
      for (const auto& s : it->second)
        if (!now.count(s)) queue().Push(s);
    if (now.empty()) pod_services_.erase(pkey);
    else pod_services_[pkey] = std::move(now);
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    auto svck = KindOf(os_, "", "services");
    auto epk = KindOf(os_, "", "endpoints");
    auto svc = os_->Get(*svck, ns, name);
    if (!svc.ok()) {
      if (svc.status().code() != Code::kNotFound) return svc.status();
      // The service is gone: so is the Endpoints we wrote for it (slices go
      // by GC).
      auto ep = os_->Get(*epk, ns, name);
      if (!ep.ok() || Field(*ep, "metadata", "labels", kEndpointsManagedByLabel) != Json(kEndpointsManagedBy))
        return Status::Ok();
      api::DeleteParams dp;
      dp.precondition_uid = (*ep)["metadata"].value("uid", "");
      auto d = os_->Delete(*epk, ns, name, dp, api::WriteOptions{});
      return d.ok() || d.status().code() == Code::kNotFound ? Status::Ok() : d.status();
    }
    const Json& sel = Field(*svc, "spec", "selector");
    if (!sel.is_object() || sel.empty() || Deleting(*svc)) return Status::Ok();
    const bool publish_not_ready = Field(*svc, "spec", "publishNotReadyAddresses") == Json(true);

    auto podk = KindOf(os_, "", "pods");
    api::ListParams lp;
    lp.ns = ns;
    auto pods = os_->List(*podk, lp);
    if (!pods.ok()) return pods.status();
    std::vector<PodEndpoint> eps;
    for (const auto& p : pods->items) {
      if (!SelectorMatches(sel, Field(p, "metadata", "labels"))) continue;
      std::string phase = PodPhase(p), ip = PodIP(p);
      if (ip.empty() || phase == "Succeeded" || phase == "Failed") continue;
      PodEndpoint e{&p, ip, false, false, Deleting(p), Json::array()};
      e.serving = publish_not_ready || PodReady(p);
      e.ready = e.serving && !e.terminating;
      for (const auto& sp : Field(*svc, "spec", "ports")) {
        int64_t port = ResolvePort(sp, p);
        if (port <= 0) continue;
        Json ep = {{"port", port}, {"protocol", sp.value("protocol", "TCP")}};
        ep["name"] = sp.value("name", "");
        if (sp.contains("appProtocol")) ep["appProtocol"] = sp["appProtocol"];
        e.ports.push_back(std::move(ep));
      }
      eps.push_back(std::move(e));
    }
    std::sort(eps.begin(), eps.end(), [](const PodEndpoint& a, const PodEndpoint& b) { return a.ip < b.ip; });
    BERTH_RETURN_IF_ERROR(SyncEndpoints(*epk, *svc, eps, publish_not_ready));
    return SyncSlices(*svck, *svc, eps);
  }

 private:
  static Json Address(const PodEndpoint& e) {
    const Json& p = *e.pod;
    Json a = {{"ip", e.ip},
              {"targetRef", {{"kind", "Pod"}, {"namespace", p["metadata"].value("namespace", "")},
                             {"name", p["metadata"].value("name", "")}, {"uid", p["metadata"].value("uid", "")}}}};
    std::string node = Field(p, "spec", "nodeName").is_string() ? p["spec"]["nodeName"].get<std::string>() : "";
    if (!node.empty()) a["nodeName"] = node;
    return a;
  }

  // A pod's DNS hostname under a headless service (StatefulSet pods).
  static std::string Hostname(const Json& svc, const Json& pod) {
    const Json& h = Field(pod, "spec", "hostname");
    if (!h.is_string() || Field(pod, "spec", "subdomain") != svc["metadata"]["name"]) return "";
    return h.get<std::string>();
  }

  Status SyncEndpoints(const api::KindInfo& epk, const Json& svc, const std::vector<PodEndpoint>& eps,
                       bool publish_not_ready) {
    const std::string ns = svc["metadata"].value("namespace", ""), name = svc["metadata"].value("name", "");
    // Pods with the same resolved ports share a subset, as RepackSubsets does.
    std::map<std::string, Json> subsets;
    for (const auto& e : eps) {
      if (e.terminating && !publish_not_ready) continue;
      Json& ss = subsets[e.ports.dump()];
      if (ss.is_null()) ss = {{"ports", e.ports}};
      Json a = Address(e);
      if (auto h = Hostname(svc, *e.pod); !h.empty()) a["hostname"] = h;
      ss[e.ready || publish_not_ready ? "addresses" : "notReadyAddresses"].push_back(std::move(a));
    }
    Json want_subsets = Json::array();
    for (auto& [k, ss] : subsets) {
      if (ss["ports"].empty()) ss.erase("ports");
      want_subsets.push_back(std::move(ss));
    }
    Json labels = Field(svc, "metadata", "labels").is_object() ? svc["metadata"]["labels"] : Json::object();
    if (Field(svc, "spec", "clusterIP") == Json("None")) labels["service.kubernetes.io/headless"] = "";
    labels[kEndpointsManagedByLabel] = kEndpointsManagedBy;
    auto cur = os_->Get(epk, ns, name);
    if (!cur.ok() && cur.status().code() != Code::kNotFound) return cur.status();
    if (!cur.ok()) {
      Json ep = {{"apiVersion", "v1"}, {"kind", "Endpoints"},
                 {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}}, {"subsets", want_subsets}};
      auto c = os_->Create(epk, ns, ep, api::WriteOptions{});
      return c.ok() || c.status().code() == Code::kAlreadyExists ? Status::Ok() : c.status();
    }
    Json next = *cur;
    next["subsets"] = want_subsets;
    next["metadata"]["labels"] = labels;
    if (Normalize(next) == Normalize(*cur)) return Status::Ok();
    auto u = os_->Update(epk, ns, name, next, api::WriteOptions{});
    return u.ok() ? Status::Ok() : u.status();
  }

  Status SyncSlices(const api::KindInfo& svck, const Json& svc, const std::vector<PodEndpoint>& eps) {
    auto sk = KindOf(os_, "discovery.k8s.io", "endpointslices");
    if (!sk) return Status::Ok();
    const std::string ns = svc["metadata"].value("namespace", ""), name = svc["metadata"].value("name", "");
    // Desired slices keyed by port set (a placeholder with no ports and no
    // endpoints when nothing is selected, as upstream keeps).
    std::map<std::string, std::pair<Json, Json>> groups;  // ports dump → (ports, endpoints)
    for (const auto& e : eps) {
      auto& g = groups[e.ports.dump()];
      if (g.first.is_null()) g = {e.ports, Json::array()};
      Json ep = {{"addresses", Json::array({e.ip})},
                 {"conditions", {{"ready", e.ready}, {"serving", e.serving}, {"terminating", e.terminating}}}};
      Json a = Address(e);
      ep["targetRef"] = a["targetRef"];
      if (a.contains("nodeName")) ep["nodeName"] = a["nodeName"];
      if (auto h = Hostname(svc, *e.pod); !h.empty()) ep["hostname"] = h;
      g.second.push_back(std::move(ep));
    }
    if (groups.empty()) groups["[]"] = {Json::array(), Json::array()};

    api::ListParams lp;
    lp.ns = ns;
    lp.label_selector = std::string(kServiceNameLabel) + "=" + name + "," + kManagedByLabel + "=" + kManagedBy;
    auto list = os_->List(*sk, lp);
    if (!list.ok()) return list.status();
    const std::string uid = svc["metadata"].value("uid", "");
    std::vector<Json> existing;
    for (auto& s : list->items) {
      // A slice left by an older service of the same name is not ours.
      if (ControllerUid(s) != uid) {
        api::DeleteParams dp;
        os_->Delete(*sk, ns, s["metadata"].value("name", ""), dp, api::WriteOptions{});
        continue;
      }
      existing.push_back(std::move(s));
    }
    Json labels = Field(svc, "metadata", "labels").is_object() ? svc["metadata"]["labels"] : Json::object();
    labels[kServiceNameLabel] = name;
    labels[kManagedByLabel] = kManagedBy;
    if (Field(svc, "spec", "clusterIP") == Json("None")) labels["service.kubernetes.io/headless"] = "";

    // Reuse a slice with the same ports first, then any spare one, so pods
    // coming and going update slices in place rather than replacing them.
    std::vector<bool> used(existing.size(), false);
    std::vector<std::pair<const std::pair<Json, Json>*, int>> plan;
    for (const auto& [k, g] : groups) {
      int match = -1;
      for (size_t i = 0; i < existing.size() && match < 0; ++i)
        if (!used[i] && Normalize(existing[i].value("ports", Json::array())) == Normalize(g.first))
          match = static_cast<int>(i), used[i] = true;
      plan.push_back({&g, match});
    }
    for (auto& [g, match] : plan)
      for (size_t i = 0; i < existing.size() && match < 0; ++i)
        if (!used[i]) match = static_cast<int>(i), used[i] = true;

    Status result;
    for (const auto& [g, match] : plan) {
      Json slice = match >= 0 ? existing[static_cast<size_t>(match)]
                              : Json{{"apiVersion", "discovery.k8s.io/v1"}, {"kind", "EndpointSlice"},
                                     {"metadata", {{"generateName", name + "-"}, {"namespace", ns}}}};
      Json before = slice;
      slice["metadata"]["labels"] = labels;
      slice["metadata"]["ownerReferences"] = Json::array({OwnerRef(svck, svc, true)});
      slice["addressType"] = "IPv4";
      slice["ports"] = g->first;
      slice["endpoints"] = g->second;
      if (match >= 0 && Normalize(slice) == Normalize(before)) continue;
      auto r = match >= 0 ? os_->Update(*sk, ns, slice["metadata"].value("name", ""), slice, api::WriteOptions{})
                          : os_->Create(*sk, ns, slice, api::WriteOptions{});
      if (!r.ok()) result = r.status();
    }
    for (size_t i = 0; i < existing.size(); ++i)
      if (!used[i]) {
        api::DeleteParams dp;
        os_->Delete(*sk, ns, existing[i]["metadata"].value("name", ""), dp, api::WriteOptions{});
      }
    return result;
  }

  std::map<std::string, std::map<std::string, Json>> selectors_;  // ns → service key → selector
  std::map<std::string, std::set<std::string>> pod_services_;     // pod key → service keys
};

}  // namespace

std::unique_ptr<Controller> NewEndpointsController(api::ObjectStore* os) {
  return std::make_unique<EndpointsController>(os);
}

}  // namespace berth::controllers
