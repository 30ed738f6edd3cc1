#include "node/network/service_model.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace berth::node::network {
namespace {

std::string Str(const Json& o, const char* k) {
  if (!o.is_object()) return "";
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

int Int(const Json& o, const char* k) {
  if (!o.is_object()) return 0;
  auto it = o.find(k);
  return it != o.end() && it->is_number_integer() ? it->get<int>() : 0;
}

const Json& Field(const Json& o, const char* k) {
  static const Json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(k);
  return it == o.end() ? kNull : *it;
}

struct RawEndpoint {
  std::string ip, hostname;
  bool ready;
};

// One group of addresses sharing a port list (a slice or an Endpoints subset).
struct Group {
  std::vector<RawEndpoint> eps;
  std::vector<std::tuple<std::string, std::string, int>> ports;  // name, protocol, port
};

void Finish(ServiceModel* m, const std::vector<Group>& groups) {
  std::map<std::string, ServiceEndpoint> addrs;
  for (const auto& g : groups)
    for (const auto& e : g.eps)
      if (e.ready && !addrs.count(e.ip)) addrs[e.ip] = {e.ip, 0, e.hostname, true};
  for (auto& [ip, e] : addrs) m->addresses.push_back(e);
  for (auto& p : m->ports) {
    std::set<std::pair<std::string, int>> seen;
    for (const auto& g : groups) {
      for (const auto& [name, proto, port] : g.ports) {
        if (name != p.name || proto != p.protocol || port <= 0 || port > 65535) continue;
        for (const auto& e : g.eps)
          if (e.ready && seen.insert({e.ip, port}).second)
            p.endpoints.push_back({e.ip, port, e.hostname, true});
      }
    }
    std::sort(p.endpoints.begin(), p.endpoints.end(), [](const auto& a, const auto& b) {
      return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
    });
  }
}

}  // namespace

std::vector<ServiceModel> BuildServiceModels(const std::vector<Json>& services,
                                             const std::vector<Json>& endpoint_slices,
                                             const std::vector<Json>& endpoints) {
  // ns/service -> groups from slices
  std::map<std::string, std::vector<Group>> from_slices;
  for (const auto& s : endpoint_slices) {
    const Json& md = Field(s, "metadata");
    std::string svc = Str(Field(md, "labels"), "kubernetes.io/service-name");
    if (svc.empty()) continue;
    if (!Str(s, "addressType").empty() && Str(s, "addressType") != "IPv4") continue;
    Group g;
    const Json& ports = Field(s, "ports");
    if (ports.is_array())
      for (const auto& p : ports) {
        std::string proto = Str(p, "protocol");
        g.ports.emplace_back(Str(p, "name"), proto.empty() ? "TCP" : proto, Int(p, "port"));
      }
    const Json& eps = Field(s, "endpoints");
    if (eps.is_array())
      for (const auto& e : eps) {
        const Json& cond = Field(e, "conditions");
        // EndpointSlice: a missing `ready` means ready.
        const Json& r = Field(cond, "ready");
        bool ready = !r.is_boolean() || r.get<bool>();
        const Json& addrs = Field(e, "addresses");
        if (!addrs.is_array()) continue;
        for (const auto& a : addrs)
          if (a.is_string()) g.eps.push_back({a.get<std::string>(), Str(e, "hostname"), ready});
      }
    from_slices[Str(md, "namespace") + "/" + svc].push_back(std::move(g));
  }
  std::map<std::string, std::vector<Group>> from_endpoints;
  for (const auto& ep : endpoints) {
    const Json& md = Field(ep, "metadata");
    auto& groups = from_endpoints[Str(md, "namespace") + "/" + Str(md, "name")];
    const Json& subsets = Field(ep, "subsets");
    if (!subsets.is_array()) continue;
    for (const auto& ss : subsets) {
      Group g;
      const Json& ports = Field(ss, "ports");
      if (ports.is_array())
        for (const auto& p : ports) {
          std::string proto = Str(p, "protocol");
          g.ports.emplace_back(Str(p, "name"), proto.empty() ? "TCP" : proto, Int(p, "port"));
        }
      for (const char* key : {"addresses", "notReadyAddresses"}) {
        const Json& addrs = Field(ss, key);
        if (!addrs.is_array()) continue;
        for (const auto& a : addrs)
          g.eps.push_back({Str(a, "ip"), Str(a, "hostname"), std::string(key) == "addresses"});
      }
      groups.push_back(std::move(g));
    }
  }

  std::vector<ServiceModel> out;
  for (const auto& s : services) {
    const Json& md = Field(s, "metadata");
    const Json& spec = Field(s, "spec");
    ServiceModel m;
    m.ns = Str(md, "namespace");
    m.name = Str(md, "name");
    if (m.name.empty()) continue;
    m.type = Str(spec, "type");
    if (m.type.empty()) m.type = "ClusterIP";
    std::string cip = Str(spec, "clusterIP");
    m.external_name = Str(spec, "externalName");
    if (m.type == "ExternalName") {
      cip.clear();
    } else if (cip == "None") {
      m.headless = true;
      cip.clear();
    }
    m.cluster_ip = cip;
    const Json& ports = Field(spec, "ports");
    if (ports.is_array())
      for (const auto& p : ports) {
        ServicePortModel pm;
        pm.name = Str(p, "name");
        pm.protocol = Str(p, "protocol");
        if (pm.protocol.empty()) pm.protocol = "TCP";
        pm.port = Int(p, "port");
        pm.node_port = m.type == "NodePort" || m.type == "LoadBalancer" ? Int(p, "nodePort") : 0;
        if (pm.port <= 0 || pm.port > 65535) continue;
        m.ports.push_back(std::move(pm));
      }
    std::string key = m.ns + "/" + m.name;
    auto it = from_slices.find(key);
    if (it != from_slices.end()) {
      Finish(&m, it->second);
    } else {
      auto e = from_endpoints.find(key);
      Finish(&m, e != from_endpoints.end() ? e->second : std::vector<Group>{});
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return out;
}

}  // namespace berth::node::network
