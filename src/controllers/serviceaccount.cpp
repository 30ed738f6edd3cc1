// Per-namespace defaults, as kube-controller-manager's serviceaccount and
// root-ca-cert-publisher controllers keep them: every active namespace has a
// ServiceAccount "default" and a ConfigMap "kube-root-ca.crt" holding the
// cluster CA (ca.crt), which the kube-api-access volume of pods projects.
// Both are recreated when deleted and the ConfigMap is put back when edited.
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"

namespace berth::controllers {
namespace {

constexpr const char* kRootCa = "kube-root-ca.crt";

class ServiceAccountController : public Controller {
 public:
  ServiceAccountController(api::ObjectStore* os, std::string ca_pem) : Controller(os), ca_pem_(std::move(ca_pem)) {}
  const char* name() const override { return "serviceaccount"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group.empty() && (k.resource == "namespaces" || k.resource == "serviceaccounts" ||
                               k.resource == "configmaps");
  }
  // Keys are namespace names.
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    const Json& md = Field(obj, "metadata");
    if (k.resource == "namespaces") {
      if (type != "DELETED") queue().Push(md.value("name", ""));
      return;
    }
    std::string n = md.value("name", "");
    if (k.resource == "serviceaccounts" && n == "default" && type == "DELETED") queue().Push(md.value("namespace", ""));
    if (k.resource == "configmaps" && n == kRootCa && type != "ADDED") queue().Push(md.value("namespace", ""));
  }

  Status Reconcile(const std::string& ns) override {
    auto nsk = KindOf(os_, "", "namespaces");
    auto nsobj = os_->Get(*nsk, "", ns);
    if (!nsobj.ok()) return nsobj.status().code() == Code::kNotFound ? Status::Ok() : nsobj.status();
    // Nothing is created in a namespace being deleted (the store refuses it too).
    if (!Field(*nsobj, "metadata", "deletionTimestamp").is_null()) return Status::Ok();
    auto sak = KindOf(os_, "", "serviceaccounts");
    if (auto sa = os_->Get(*sak, ns, "default"); !sa.ok()) {
      if (sa.status().code() != Code::kNotFound) return sa.status();
      Json obj = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}, {"namespace", ns}}}};
      auto r = os_->Create(*sak, ns, obj, api::WriteOptions{});
      if (!r.ok() && r.status().code() != Code::kAlreadyExists) return r.status();
    }
    if (ca_pem_.empty()) return Status::Ok();
    auto cmk = KindOf(os_, "", "configmaps");
    auto cm = os_->Get(*cmk, ns, kRootCa);
    if (!cm.ok()) {
      if (cm.status().code() != Code::kNotFound) return cm.status();
      Json obj = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata",
                   {{"name", kRootCa},
                    {"namespace", ns},
                    {"annotations", {{"kubernetes.io/description",
                                      "Contains a CA bundle that can be used to verify the kube-apiserver when "
                                      "using internal endpoints such as the internal service IP or "
                                      "kubernetes.default.svc. No other usage is guaranteed across distributions "
                                      "of Kubernetes clusters."}}}}},
                  {"data", {{"ca.crt", ca_pem_}}}};
      auto r = os_->Create(*cmk, ns, obj, api::WriteOptions{});
      return r.ok() || r.status().code() == Code::kAlreadyExists ? Status::Ok() : r.status();
    }
    const Json& data = Field(*cm, "data");
    if (data.is_object() && data.size() == 1 && data.value("ca.crt", "") == ca_pem_) return Status::Ok();
    Json next = *cm;
    next["data"] = {{"ca.crt", ca_pem_}};
    next.erase("binaryData");
    auto r = os_->Update(*cmk, ns, kRootCa, next, api::WriteOptions{});
    return r.ok() ? Status::Ok() : r.status();
  }

 private:
  std::string ca_pem_;
};

}  // namespace

std::unique_ptr<Controller> NewServiceAccountController(api::ObjectStore* os, const std::string& ca_pem) {
  return std::make_unique<ServiceAccountController>(os, ca_pem);
}

}  // namespace berth::controllers
