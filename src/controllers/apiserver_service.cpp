// The `kubernetes` Service in the default namespace, as kube-apiserver's
// endpoint reconciler keeps it: ClusterIP 10.43.0.1 (the first address of the
// service range, when free), port 443 "https" → the API server's port, no
// selector, and an Endpoints object and EndpointSlice naming the address
// pods reach the API server at. Without such an address (the server listens
// on loopback only) the Service exists without endpoints and connections to
// it are refused. Recreated or put back when deleted or changed.
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"

namespace berth::controllers {
namespace {

constexpr char kNs[] = "default";
constexpr char kName[] = "kubernetes";
constexpr char kSliceName[] = "kubernetes";
constexpr char kClusterIP[] = "10.43.0.1";

class ApiServerServiceController : public Controller {
 public:
  ApiServerServiceController(api::ObjectStore* os, std::string ip, int port)
      : Controller(os), ip_(std::move(ip)), port_(port) {}
  const char* name() const override { return "apiserver-service"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group.empty() && (k.resource == "services" || k.resource == "endpoints" || k.resource == "namespaces")) ||
           (k.group == "discovery.k8s.io" && k.resource == "endpointslices");
  }
  void Observe(const api::KindInfo& k, const std::string&, const Json& obj) override {
    const Json& md = Field(obj, "metadata");
    if (k.resource == "namespaces" ? md.value("name", "") == kNs
                                   : md.value("namespace", "") == kNs && md.value("name", "") == kName)
      queue().Push(kName);
  }

  Status Reconcile(const std::string&) override {
    auto nsk = KindOf(os_, "", "namespaces");
    if (!os_->Get(*nsk, "", kNs).ok()) return Status::Ok();
    BERTH_RETURN_IF_ERROR(EnsureService());
    BERTH_RETURN_IF_ERROR(EnsureEndpoints());
    return EnsureSlice();
  }

 private:
  Json Ports() const { return Json::array({{{"name", "https"}, {"port", port_}, {"protocol", "TCP"}}}); }
  Json Addresses() const {
    return ip_.empty() ? Json::array() : Json::array({{{"ip", ip_}}});
  }

  Status EnsureService() {
    auto k = KindOf(os_, "", "services");
    Json ports = Json::array({{{"name", "https"}, {"port", 443}, {"protocol", "TCP"}, {"targetPort", port_}}});
    auto cur = os_->Get(*k, kNs, kName);
    if (cur.ok()) {
      if (Field(*cur, "spec", "ports") == ports) return Status::Ok();
      auto r = os_->Mutate(*k, kNs, kName, [&](Json& o) {
        o["spec"]["ports"] = ports;
        return Status::Ok();
      });
      return r.ok() ? Status::Ok() : r.status();
    }
    if (cur.status().code() != Code::kNotFound) return cur.status();
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", kName}, {"namespace", kNs}, {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec", {{"type", "ClusterIP"}, {"clusterIP", kClusterIP}, {"ports", ports}, {"sessionAffinity", "None"}}}};
    auto r = os_->Create(*k, kNs, svc, api::WriteOptions{});
    if (!r.ok() && r.status().code() != Code::kAlreadyExists) {
      // 10.43.0.1 taken by another Service (a data dir from before): any address.
      svc["spec"].erase("clusterIP");
      r = os_->Create(*k, kNs, svc, api::WriteOptions{});
    }
    return r.ok() || r.status().code() == Code::kAlreadyExists ? Status::Ok() : r.status();
  }

  Status EnsureEndpoints() {
    auto k = KindOf(os_, "", "endpoints");
    Json subsets = ip_.empty() ? Json::array() : Json::array({{{"addresses", Addresses()}, {"ports", Ports()}}});
    auto cur = os_->Get(*k, kNs, kName);
    if (cur.ok()) {
      const Json& have = Field(*cur, "subsets");
      if (have == subsets || (subsets.empty() && have.is_null())) return Status::Ok();
      auto r = os_->Mutate(*k, kNs, kName, [&](Json& o) {
        o["subsets"] = subsets;
        return Status::Ok();
      });
      return r.ok() ? Status::Ok() : r.status();
    }
    if (cur.status().code() != Code::kNotFound) return cur.status();
    Json ep = {{"apiVersion", "v1"}, {"kind", "Endpoints"}, {"metadata", {{"name", kName}, {"namespace", kNs}}},
               {"subsets", subsets}};
    auto r = os_->Create(*k, kNs, ep, api::WriteOptions{});
    return r.ok() || r.status().code() == Code::kAlreadyExists ? Status::Ok() : r.status();
  }

  Status EnsureSlice() {
    auto k = KindOf(os_, "discovery.k8s.io", "endpointslices");
    Json endpoints = ip_.empty() ? Json::array()
                                 : Json::array({{{"addresses", Json::array({ip_})}, {"conditions", {{"ready", true}}}}});
    auto cur = os_->Get(*k, kNs, kSliceName);
    if (cur.ok()) {
      if (Field(*cur, "endpoints") == endpoints && Field(*cur, "ports") == Ports()) return Status::Ok();
      auto r = os_->Mutate(*k, kNs, kSliceName, [&](Json& o) {
        o["endpoints"] = endpoints;
        o["ports"] = Ports();
        return Status::Ok();
      });
      return r.ok() ? Status::Ok() : r.status();
    }
    if (cur.status().code() != Code::kNotFound) return cur.status();
    Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata",
                   {{"name", kSliceName},
                    {"namespace", kNs},
                    {"labels",
                     {{"kubernetes.io/service-name", kName},
                      {"endpointslice.kubernetes.io/managed-by", "berth-apiserver"}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", endpoints},
                  {"ports", Ports()}};
    auto r = os_->Create(*k, kNs, slice, api::WriteOptions{});
    return r.ok() || r.status().code() == Code::kAlreadyExists ? Status::Ok() : r.status();
  }

  std::string ip_;
  int port_;
};

}  // namespace

std::unique_ptr<Controller> NewApiServerServiceController(api::ObjectStore* os, const std::string& endpoint_ip,
                                                          int port) {
  return std::make_unique<ApiServerServiceController>(os, endpoint_ip, port);
}

}  // namespace berth::controllers
