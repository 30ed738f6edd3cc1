// PersistentVolumeClaim binding and the local provisioner (the single-node
// default until the storage module adds shared backends): a pending claim is
// bound to the smallest Available volume that satisfies its class, access
// modes and size; a claim of the default class ("" or "local") that nothing
// satisfies gets a new hostPath volume in its own directory. Volumes the
// provisioner made are deleted with their claim (reclaimPolicy Delete); their
// directory under volume_dir stays until an operator removes it (no data is
// destroyed behind anyone's back; noted in docs/node.md).
#include <nlohmann/json.hpp>

#include "controllers/base.h"
#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/quantity.h"

namespace berth::controllers {
namespace {

constexpr char kProvisionedBy[] = "pv.kubernetes.io/provisioned-by";
constexpr char kProvisioner[] = "berth.io/local";

int64_t Bytes(const Json& q) {
  if (!q.is_string()) return 0;
  auto v = Quantity::Parse(q.get<std::string>());
  return v.ok() ? v->Value() : 0;
}

bool ModesCover(const Json& have, const Json& want) {
  if (!want.is_array()) return true;
  for (const auto& m : want) {
    bool found = false;
    for (const auto& h : have) found |= h == m;
    if (!found) return false;
  }
  return true;
}

class VolumeBinder : public Controller {
 public:
  VolumeBinder(api::ObjectStore* os, std::string dir) : Controller(os), dir_(std::move(dir)) {}
  const char* name() const override { return "volume-binder"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group.empty() && (k.resource == "persistentvolumeclaims" || k.resource == "persistentvolumes");
  }
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    if (k.resource == "persistentvolumeclaims") {
      queue().Push(KeyOf(obj));
      // Its volume may now need releasing or deleting.
      const Json& vol = Field(obj, "spec", "volumeName");
      if (type == "DELETED" && vol.is_string()) queue().Push("pv:" + vol.get<std::string>());
      return;
    }
    // A volume released or added may satisfy a pending claim; one whose
    // claim is gone may need deleting.
    const Json& ref = Field(obj, "spec", "claimRef");
    if (ref.is_object()) queue().Push(ref.value("namespace", "") + "/" + ref.value("name", ""));
    if (type != "DELETED") queue().Push("pv:" + KeyOf(obj));
  }

  Status Reconcile(const std::string& key) override {
    if (key.rfind("pv:", 0) == 0) return ReconcileVolume(key.substr(3));
    std::string ns, name;
    SplitKey(key, &ns, &name);
    auto pvck = KindOf(os_, "", "persistentvolumeclaims");
    auto pvk = KindOf(os_, "", "persistentvolumes");
    auto pvc = os_->Get(*pvck, ns, name);
    if (!pvc.ok()) return pvc.status().code() == Code::kNotFound ? Status::Ok() : pvc.status();
    if (Deleting(*pvc)) return Status::Ok();
    std::string uid = (*pvc)["metadata"].value("uid", "");
    std::string bound = Field(*pvc, "spec", "volumeName").is_string() ? (*pvc)["spec"]["volumeName"].get<std::string>() : "";
    if (!bound.empty()) {
      if (Field(*pvc, "status", "phase") == Json("Bound")) return Status::Ok();
      return MarkBound(*pvck, ns, name, bound);
    }
    const Json& spec = (*pvc)["spec"];
    std::string cls = spec.value("storageClassName", "");
    int64_t want = Bytes(Field(*pvc, "spec", "resources", "requests").is_object()
                             ? spec["resources"]["requests"].value("storage", Json())
                             : Json());
    // The smallest Available volume that fits.
    auto pvs = os_->List(*pvk, api::ListParams{});
    if (!pvs.ok()) return pvs.status();
    const Json* best = nullptr;
    for (const auto& pv : pvs->items) {
      const Json& ps = pv["spec"];
      if (ps.contains("claimRef") || Field(pv, "status", "phase") != Json("Available")) continue;
      if (ps.value("storageClassName", "") != cls) continue;
      if (!ModesCover(ps.value("accessModes", Json::array()), spec.value("accessModes", Json::array()))) continue;
      int64_t cap = Bytes(Field(pv, "spec", "capacity").is_object() ? ps["capacity"].value("storage", Json()) : Json());
      if (cap < want) continue;
      if (!best || cap < Bytes((*best)["spec"]["capacity"].value("storage", Json()))) best = &pv;
    }
    std::string pv_name;
    if (best) {
      pv_name = (*best)["metadata"].value("name", "");
    } else if (cls.empty() || cls == "local") {
      pv_name = "pvc-" + uid;
      std::string storage = want > 0 ? spec["resources"]["requests"].value("storage", "1Gi") : "1Gi";
      Json pv = {{"apiVersion", "v1"},
                 {"kind", "PersistentVolume"},
                 {"metadata", {{"name", pv_name}, {"annotations", {{kProvisionedBy, kProvisioner}}}}},
                 {"spec",
                  {{"capacity", {{"storage", storage}}},
                   {"accessModes", spec.value("accessModes", Json::array({"ReadWriteOnce"}))},
                   {"persistentVolumeReclaimPolicy", "Delete"},
                   {"storageClassName", cls},
                   {"hostPath", {{"path", dir_ + "/" + ns + "_" + name + "_" + uid}, {"type", "DirectoryOrCreate"}}}}}};
      auto c = os_->Create(*pvk, "", pv, api::WriteOptions{});
      if (!c.ok() && c.status().code() != Code::kAlreadyExists) return c.status();
    } else {
      return Status::Ok();  // another provisioner's class: wait for a volume
    }
    // Claim the volume first (a volume is bound to one claim), then the claim.
    auto claimed = os_->Mutate(*pvk, "", pv_name, [&](Json& pv) -> Status {
      const Json& ref = Field(pv, "spec", "claimRef");
      if (ref.is_object() && ref.value("uid", "") != uid) return Conflict("volume " + pv_name + " is taken");
      pv["spec"]["claimRef"] = {{"kind", "PersistentVolumeClaim"}, {"apiVersion", "v1"}, {"namespace", ns},
                                {"name", name}, {"uid", uid}};
      return Status::Ok();
    });
    if (!claimed.ok()) return claimed.status();
    os_->Mutate(*pvk, "", pv_name, [](Json& pv) -> Status {
      pv["status"]["phase"] = "Bound";
      return Status::Ok();
    }, api::Subresource::kStatus);
    auto upd = os_->Mutate(*pvck, ns, name, [&](Json& c) -> Status {
      c["spec"]["volumeName"] = pv_name;
      return Status::Ok();
    });
    if (!upd.ok()) return upd.status();
    return MarkBound(*pvck, ns, name, pv_name);
  }

 private:
  Status MarkBound(const api::KindInfo& pvck, const std::string& ns, const std::string& name, const std::string& pv) {
    auto pvk = KindOf(os_, "", "persistentvolumes");
    auto vol = os_->Get(*pvk, "", pv);
    Json cap = vol.ok() && Field(*vol, "spec", "capacity").is_object() ? (*vol)["spec"]["capacity"] : Json::object();
    Json modes = vol.ok() ? (*vol)["spec"].value("accessModes", Json::array()) : Json::array();
    auto r = os_->Mutate(pvck, ns, name, [&](Json& c) -> Status {
      c["status"]["phase"] = "Bound";
      c["status"]["capacity"] = cap;
      c["status"]["accessModes"] = modes;
      return Status::Ok();
    }, api::Subresource::kStatus);
    return r.ok() ? Status::Ok() : r.status();
  }

  // A bound volume whose claim is gone: provisioned ones are deleted, others
  // become Released (as reclaimPolicy Retain says).
  Status ReconcileVolume(const std::string& pv_name) {
    auto pvk = KindOf(os_, "", "persistentvolumes");
    auto pvck = KindOf(os_, "", "persistentvolumeclaims");
    auto pv = os_->Get(*pvk, "", pv_name);
    if (!pv.ok()) return Status::Ok();
    const Json& ref = Field(*pv, "spec", "claimRef");
    if (!ref.is_object()) {
      if (!Field(*pv, "status", "phase").is_string())
        os_->Mutate(*pvk, "", pv_name, [](Json& v) -> Status {
          v["status"]["phase"] = "Available";
          return Status::Ok();
        }, api::Subresource::kStatus);
      return Status::Ok();
    }
    auto claim = os_->Get(*pvck, ref.value("namespace", ""), ref.value("name", ""));
    if (claim.ok() && (*claim)["metadata"].value("uid", "") == ref.value("uid", "")) return Status::Ok();
    if (!claim.ok() && claim.status().code() != Code::kNotFound) return claim.status();
    if ((*pv)["spec"].value("persistentVolumeReclaimPolicy", "Retain") == "Delete") {
      auto d = os_->Delete(*pvk, "", pv_name, api::DeleteParams{}, api::WriteOptions{});
      return d.ok() || d.status().code() == Code::kNotFound ? Status::Ok() : d.status();
    }
    auto r = os_->Mutate(*pvk, "", pv_name, [](Json& v) -> Status {
      v["status"]["phase"] = "Released";
      return Status::Ok();
    }, api::Subresource::kStatus);
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string dir_;
};

}  // namespace

std::unique_ptr<Controller> NewVolumeBinder(api::ObjectStore* os, const std::string& volume_dir) {
  return std::make_unique<VolumeBinder>(os, volume_dir);
}

}  // namespace berth::controllers
