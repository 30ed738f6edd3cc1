// StatefulSet controller: pods `<name>-<ordinal>` with stable hostnames
// (spec.hostname = pod name, spec.subdomain = serviceName) and one PVC per
// volumeClaimTemplate and ordinal (`<template>-<name>-<ordinal>`, created
// before the pod, kept on scale down: retention Retain). OrderedReady creates
// ordinal i+1 only once 0..i are Running and Ready and removes the highest
// ordinal first, one at a time; Parallel does both at once. RollingUpdate
// replaces pods whose controller-revision-hash differs, highest ordinal first,
// down to the partition.
//
// Berth has no ControllerRevision kind yet: the revision is the template hash
// (`<name>-<hash>`, in the pod label and status.updateRevision), and a pod
// below the partition that is recreated gets the current template.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr char kHashLabel[] = "controller-revision-hash";
constexpr char kPodNameLabel[] = "statefulset.kubernetes.io/pod-name";
constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";

// The ordinal of a pod named `<set>-<n>`, or -1.
int64_t Ordinal(const std::string& set, const Json& pod) {
  const std::string n = pod["metadata"].value("name", "");
  if (n.size() <= set.size() + 1 || n.compare(0, set.size() + 1, set + "-") != 0) return -1;
  std::string tail = n.substr(set.size() + 1);
  if (tail.empty() || !std::all_of(tail.begin(), tail.end(), ::isdigit) || (tail.size() > 1 && tail[0] == '0'))
    return -1;
  return std::atoll(tail.c_str());
}

class StatefulSetController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "statefulset"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group == "apps" && k.resource == "statefulsets") || (k.group.empty() && k.resource == "pods");
  }
  void Observe(const api::KindInfo& k, const std::string&, const Json& obj) override {
    if (k.resource == "statefulsets") queue().Push(KeyOf(obj));
    else if (auto key = ControllerKey(obj, "StatefulSet"); !key.empty()) queue().Push(key);
  }
  void Resync() override {
    for (const auto& k : pending_) queue().Push(k);  // minReadySeconds
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    stsk_ = KindOf(os_, "apps", "statefulsets");
    podk_ = KindOf(os_, "", "pods");
    pvck_ = KindOf(os_, "", "persistentvolumeclaims");
    pending_.erase(key);
    auto sts = os_->Get(*stsk_, ns, name);
    if (!sts.ok()) return sts.status();
    if (Deleting(*sts)) return Status::Ok();
    const std::string uid = (*sts)["metadata"].value("uid", "");
    api::ListParams lp;
    lp.ns = ns;
    auto pods = os_->List(*podk_, lp);
    if (!pods.ok()) return pods.status();
    std::map<int64_t, Json> by_ord;
    for (auto& p : pods->items)
      if (ControllerUid(p) == uid)
        if (int64_t o = Ordinal(name, p); o >= 0) by_ord[o] = std::move(p);

    const Json& spec = (*sts)["spec"];
    const int64_t replicas = spec.value("replicas", int64_t{1});
    const bool parallel = spec.value("podManagementPolicy", "OrderedReady") == "Parallel";
    const std::string update_rev = name + "-" + TemplateHash(spec["template"], IntField(*sts, "status", "collisionCount", 0));
    auto healthy = [](const Json& p) { return PodRunningAndReady(p) && !Deleting(p); };

    Status result;
    // Create or replace pods for 0..replicas-1 in order.
    for (int64_t i = 0; i < replicas; ++i) {
      auto it = by_ord.find(i);
      if (it != by_ord.end()) {
        Json& p = it->second;
        std::string phase = PodPhase(p);
        if ((phase == "Failed" || phase == "Succeeded") && !Deleting(p)) {
          DeletePod(*sts, p);  // recreated on the pass after it is gone
          if (!parallel) break;
          continue;
        }
        if (!parallel && !healthy(p)) break;  // wait for it before going on
        continue;
      }
      Status s = CreatePod(*sts, i, update_rev);
      if (!s.ok()) {
        result = s;
        break;
      }
      if (!parallel) break;  // the next ordinal waits for this one
    }

    // Scale down, highest ordinal first.
    std::vector<int64_t> condemned;
    for (auto it = by_ord.rbegin(); it != by_ord.rend(); ++it)
      if (it->first >= replicas) condemned.push_back(it->first);
    bool all_healthy = true;
    for (const auto& [o, p] : by_ord)
      if (o < replicas && !healthy(p)) all_healthy = false;
    for (int64_t o : condemned) {
      Json& p = by_ord[o];
      if (Deleting(p)) {
        if (!parallel) break;  // one at a time
        continue;
      }
      if (!parallel && !all_healthy) break;
      DeletePod(*sts, p);
      if (!parallel) break;
    }

    // Rolling update: one pod at a time, highest ordinal first, while every
    // pod is healthy; stops at the partition.
    const Json& us = Field(spec, "updateStrategy");
    if (us.value("type", "RollingUpdate") == "RollingUpdate" && condemned.empty()) {
      int64_t partition = IntField(us, "rollingUpdate", "partition", 0);
      bool complete = true;
      for (int64_t i = 0; i < replicas; ++i)
        if (!by_ord.count(i) || !healthy(by_ord[i])) complete = false;
      for (int64_t i = replicas - 1; complete && i >= partition; --i) {
        Json& p = by_ord[i];
        if (Field(p, "metadata", "labels", kHashLabel) == Json(update_rev)) continue;
        DeletePod(*sts, p);
        break;
      }
    }
    BERTH_RETURN_IF_ERROR(WriteStatus(key, *sts, by_ord, update_rev));
    return result;
  }

 private:
  Status CreatePod(const Json& sts, int64_t ordinal, const std::string& rev) {
    const std::string ns = sts["metadata"].value("namespace", ""), set = sts["metadata"].value("name", "");
    const std::string pod_name = set + "-" + std::to_string(ordinal);
    Json pod = PodFromTemplate(sts["spec"]["template"], ns, OwnerRef(*stsk_, sts, true));
    pod["metadata"]["name"] = pod_name;
    Json& labels = pod["metadata"]["labels"];
    labels[kPodNameLabel] = pod_name;
    labels[kPodIndexLabel] = std::to_string(ordinal);
    labels[kHashLabel] = rev;
    pod["spec"]["hostname"] = pod_name;
    if (sts["spec"].contains("serviceName")) pod["spec"]["subdomain"] = sts["spec"]["serviceName"];
    // Claims first: the pod refers to them by name.
    for (const auto& t : sts["spec"].value("volumeClaimTemplates", Json::array())) {
      const std::string tn = Field(t, "metadata", "name").is_string() ? t["metadata"]["name"].get<std::string>() : "";
      const std::string claim = tn + "-" + pod_name;
      BERTH_RETURN_IF_ERROR(EnsureClaim(sts, t, claim, pod_name));
      Json& vols = pod["spec"]["volumes"];
      if (!vols.is_array()) vols = Json::array();
      Json v = {{"name", tn}, {"persistentVolumeClaim", {{"claimName", claim}}}};
      auto it = std::find_if(vols.begin(), vols.end(), [&](const Json& x) { return x.value("name", "") == tn; });
      if (it != vols.end()) *it = v;
      else vols.push_back(v);
    }
    auto c = os_->Create(*podk_, ns, pod, api::WriteOptions{});
    if (!c.ok()) {
      if (c.status().code() == Code::kAlreadyExists) return Status::Ok();  // a terminating namesake
      RecordEvent(os_, *stsk_, sts, "Warning", "FailedCreate",
                  "create Pod " + pod_name + " in StatefulSet " + set + " failed error: " + c.status().message(),
                  "statefulset-controller");
      return c.status();
    }
    RecordEvent(os_, *stsk_, sts, "Normal", "SuccessfulCreate",
                "create Pod " + pod_name + " in StatefulSet " + set + " successful", "statefulset-controller");
    return Status::Ok();
  }

  Status EnsureClaim(const Json& sts, const Json& tmpl, const std::string& claim, const std::string& pod_name) {
    const std::string ns = sts["metadata"].value("namespace", ""), set = sts["metadata"].value("name", "");
    auto cur = os_->Get(*pvck_, ns, claim);
    if (cur.ok()) return Status::Ok();
    if (cur.status().code() != Code::kNotFound) return cur.status();
    Json pvc = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", claim}, {"namespace", ns}}},
                {"spec", Field(tmpl, "spec").is_object() ? tmpl["spec"] : Json::object()}};
    // Labels: the template's, plus the set's selector so claims can be found.
    Json labels = Field(tmpl, "metadata", "labels").is_object() ? tmpl["metadata"]["labels"] : Json::object();
    const Json& ml = Field(sts, "spec", "selector", "matchLabels");
    if (ml.is_object())
      for (auto it = ml.begin(); it != ml.end(); ++it) labels[it.key()] = *it;
    if (!labels.empty()) pvc["metadata"]["labels"] = labels;
    if (Field(tmpl, "metadata", "annotations").is_object()) pvc["metadata"]["annotations"] = tmpl["metadata"]["annotations"];
    if (Field(sts, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted") == Json("Delete"))
      pvc["metadata"]["ownerReferences"] = Json::array({OwnerRef(*stsk_, sts, false)});
    auto c = os_->Create(*pvck_, ns, pvc, api::WriteOptions{});
    if (!c.ok() && c.status().code() != Code::kAlreadyExists) {
      RecordEvent(os_, *stsk_, sts, "Warning", "FailedCreate",
                  "create Claim " + claim + " for Pod " + pod_name + " in StatefulSet " + set +
                      " failed error: " + c.status().message(),
                  "statefulset-controller");
      return c.status();
    }
    if (c.ok())
      RecordEvent(os_, *stsk_, sts, "Normal", "SuccessfulCreate",
                  "create Claim " + claim + " Pod " + pod_name + " in StatefulSet " + set + " success",
                  "statefulset-controller");
    return Status::Ok();
  }

  void DeletePod(const Json& sts, const Json& pod) {
    api::DeleteParams dp;
    dp.precondition_uid = pod["metadata"].value("uid", "");
    const std::string pn = pod["metadata"].value("name", "");
    auto d = os_->Delete(*podk_, pod["metadata"].value("namespace", ""), pn, dp, api::WriteOptions{});
    if (d.ok())
      RecordEvent(os_, *stsk_, sts, "Normal", "SuccessfulDelete",
                  "delete Pod " + pn + " in StatefulSet " + sts["metadata"].value("name", "") + " successful",
                  "statefulset-controller");
  }

  Status WriteStatus(const std::string& key, const Json& sts, std::map<int64_t, Json>& by_ord,
                     const std::string& update_rev) {
    const Json old_status = sts.value("status", Json::object());
    std::string current_rev = old_status.value("currentRevision", "");
    if (current_rev.empty()) current_rev = update_rev;
    const int64_t replicas = IntField(sts, "spec", "replicas", 1);
    const int64_t min_ready = IntField(sts, "spec", "minReadySeconds", 0);
    const int64_t now = NowSeconds();
    int64_t count = 0, ready = 0, available = 0, current = 0, updated = 0;
    for (const auto& [o, p] : by_ord) {
      if (Deleting(p)) continue;
      ++count;
      if (PodReady(p)) ++ready;
      if (PodAvailable(p, min_ready, now)) ++available;
      else if (PodReady(p)) pending_.insert(key);
      std::string rev = Field(p, "metadata", "labels", kHashLabel).is_string()
                            ? p["metadata"]["labels"][kHashLabel].get<std::string>() : "";
      if (rev == current_rev) ++current;
      if (rev == update_rev) ++updated;
    }
    // The rollout is done: the update revision becomes the current one.
    if (updated == replicas && ready == replicas && count == replicas) {
      current_rev = update_rev;
      current = updated;
    }
    Json st = old_status;
    st["observedGeneration"] = IntField(sts, "metadata", "generation", 1);
    st["replicas"] = count;
    st["readyReplicas"] = ready;
    st["availableReplicas"] = available;
    st["currentReplicas"] = current;
    st["updatedReplicas"] = updated;
    st["currentRevision"] = current_rev;
    st["updateRevision"] = update_rev;
    st["collisionCount"] = IntField(sts, "status", "collisionCount", 0);
    for (const char* f : {"readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"})
      if (st[f] == 0) st.erase(f);
    if (st == old_status) return Status::Ok();
    auto u = os_->Mutate(*stsk_, sts["metadata"].value("namespace", ""), sts["metadata"].value("name", ""),
                         [&](Json& o) {
                           o["status"] = st;
                           return Status::Ok();
                         },
                         api::Subresource::kStatus);
    return u.ok() ? Status::Ok() : u.status();
  }

  api::KindPtr stsk_, podk_, pvck_;
  std::set<std::string> pending_;  // worker thread only: waiting for minReadySeconds
};

}  // namespace

std::unique_ptr<Controller> NewStatefulSetController(api::ObjectStore* os) {
  return std::make_unique<StatefulSetController>(os);
}

}  // namespace berth::controllers
