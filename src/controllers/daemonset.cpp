// DaemonSet controller: one pod per eligible node, created with spec.nodeName
// set (Berth binds daemon pods itself rather than through the scheduler).
// A node is eligible when the template's nodeSelector and required node
// affinity match it and its NoSchedule/NoExecute taints are tolerated; the
// standard daemon tolerations (not-ready, unreachable, pressure,
// unschedulable) are added to every pod, so daemons also run on nodes that
// are not ready or cordoned. A pod already running stays unless a NoExecute
// taint it does not tolerate appears. RollingUpdate replaces pods of an older
// template (controller-revision-hash label) at most maxUnavailable at a time.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/node_fit.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr char kHashLabel[] = "controller-revision-hash";

Json DaemonTolerations(const Json& tolerations) {
  Json out = tolerations.is_array() ? tolerations : Json::array();
  auto add = [&](const char* key, const char* effect) {
    Json t = {{"key", key}, {"operator", "Exists"}, {"effect", effect}};
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  add("node.kubernetes.io/not-ready", "NoExecute");
  add("node.kubernetes.io/unreachable", "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  return out;
}

class DaemonSetController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "daemonset"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group == "apps" && k.resource == "daemonsets") ||
           (k.group.empty() && (k.resource == "pods" || k.resource == "nodes"));
  }
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    if (k.resource == "daemonsets") {
      std::lock_guard<std::mutex> l(mu_);
      if (type == "DELETED") known_.erase(KeyOf(obj));
      else known_.insert(KeyOf(obj));
      queue().Push(KeyOf(obj));
    } else if (k.resource == "nodes") {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& key : known_) queue().Push(key);
    } else if (auto key = ControllerKey(obj, "DaemonSet"); !key.empty()) {
      queue().Push(key);
    }
  }
  void Resync() override {
    for (const auto& k : pending_) queue().Push(k);  // minReadySeconds
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    dsk_ = KindOf(os_, "apps", "daemonsets");
    podk_ = KindOf(os_, "", "pods");
    pending_.erase(key);
    delete_failed_ = Status::Ok();
    auto ds = os_->Get(*dsk_, ns, name);
    if (!ds.ok()) return ds.status();
    if (Deleting(*ds)) return Status::Ok();
    auto nodes = os_->List(*KindOf(os_, "", "nodes"), {});
    if (!nodes.ok()) return nodes.status();
    api::ListParams lp;
    lp.ns = ns;
    auto pods = os_->List(*podk_, lp);
    if (!pods.ok()) return pods.status();
    const std::string uid = (*ds)["metadata"].value("uid", "");
    std::map<std::string, std::vector<Json>> by_node;  // active daemon pods per node
    for (auto& p : pods->items) {
      if (ControllerUid(p) != uid) continue;
      std::string node = Field(p, "spec", "nodeName").is_string() ? p["spec"]["nodeName"].get<std::string>() : "";
      if (PodPhase(p) == "Failed") {
        // A failed daemon pod is replaced (upstream does the same, with backoff).
        Delete(*ds, p);
        continue;
      }
      if (Deleting(p) || PodPhase(p) == "Succeeded") continue;
      by_node[node].push_back(std::move(p));
    }

    const Json tmpl = (*ds)["spec"]["template"];
    const std::string hash = TemplateHash(tmpl, IntField(*ds, "status", "collisionCount", 0));
    Json pod_spec = Field(tmpl, "spec").is_object() ? tmpl["spec"] : Json::object();
    pod_spec["tolerations"] = DaemonTolerations(Field(pod_spec, "tolerations"));
    const int64_t min_ready = IntField(*ds, "spec", "minReadySeconds", 0);
    const int64_t now = NowSeconds();

    int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    std::vector<std::string> to_create;
    std::vector<Json*> old_pods;  // on nodes that should run the daemon, older template
    int64_t unavailable = 0;
    std::set<std::string> seen;
    for (const auto& n : nodes->items) {
      const std::string nn = n["metadata"].value("name", "");
      seen.insert(nn);
      bool should_run = MatchesNodeSelectorAndAffinity(pod_spec, n) &&
                        !UntoleratedTaint(pod_spec, n, {"NoSchedule", "NoExecute"});
      bool may_stay = MatchesNodeSelectorAndAffinity(pod_spec, n) && !UntoleratedTaint(pod_spec, n, {"NoExecute"});
      auto it = by_node.find(nn);
      std::vector<Json>* running = it == by_node.end() ? nullptr : &it->second;
      if (running && !running->empty() && !may_stay) {
        ++misscheduled;
        for (auto& p : *running) Delete(*ds, p);
        continue;
      }
      if (!should_run && !(running && !running->empty())) continue;
      ++desired;
      if (!running || running->empty()) {
        to_create.push_back(nn);
        ++unavailable;
        continue;
      }
      // Extra pods on one node: keep the oldest.
      std::sort(running->begin(), running->end(), [](const Json& a, const Json& b) {
        return a["metadata"].value("creationTimestamp", "") < b["metadata"].value("creationTimestamp", "");
      });
      for (size_t i = 1; i < running->size(); ++i) Delete(*ds, (*running)[i]);
      Json& p = (*running)[0];
      ++current;
      bool is_ready = PodReady(p), is_avail = PodAvailable(p, min_ready, now);
      ready += is_ready;
      available += is_avail;
      if (is_ready && !is_avail) pending_.insert(key);
      if (!is_avail) ++unavailable;
      if (Field(p, "metadata", "labels", kHashLabel) == Json(hash)) ++updated;
      else old_pods.push_back(&p);
    }
    // Daemon pods on nodes that no longer exist.
    for (auto& [nn, ps] : by_node)
      if (!seen.count(nn))
        for (auto& p : ps) Delete(*ds, p);

    Status result;
    for (const auto& nn : to_create) {
      Json pod = PodFromTemplate(tmpl, ns, OwnerRef(*dsk_, *ds, true));
      pod["metadata"]["generateName"] = name + "-";
      pod["metadata"]["labels"][kHashLabel] = hash;
      pod["metadata"]["labels"]["pod-template-generation"] = std::to_string(IntField(*ds, "metadata", "generation", 1));
      pod["spec"] = pod_spec;
      pod["spec"]["nodeName"] = nn;
      auto c = os_->Create(*podk_, ns, pod, api::WriteOptions{});
      if (!c.ok()) {
        RecordEvent(os_, *dsk_, *ds, "Warning", "FailedCreate", "Error creating: " + c.status().message(),
                    "daemonset-controller");
        result = c.status();
        break;
      }
      RecordEvent(os_, *dsk_, *ds, "Normal", "SuccessfulCreate", "Created pod: " + (*c)["metadata"].value("name", ""),
                  "daemonset-controller");
    }
    RollingUpdate(*ds, desired, unavailable, old_pods);

    Json st = ds->value("status", Json::object());
    const Json old_status = st;
    st["desiredNumberScheduled"] = desired;
    st["currentNumberScheduled"] = current;
    st["numberMisscheduled"] = misscheduled;
    st["numberReady"] = ready;
    st["numberAvailable"] = available;
    st["numberUnavailable"] = std::max<int64_t>(0, desired - available);
    st["updatedNumberScheduled"] = updated;
    st["observedGeneration"] = IntField(*ds, "metadata", "generation", 1);
    for (const char* f : {"numberAvailable", "numberUnavailable"})
      if (st[f] == 0) st.erase(f);
    if (st != old_status) {
      auto u = os_->Mutate(*dsk_, ns, name, [&](Json& o) {
        o["status"] = st;
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
    }
    if (result.ok() && !delete_failed_.ok()) return delete_failed_;
    return result;
  }

 private:
  // Deletes old-template pods: the unavailable ones freely, the available
  // ones only while fewer than maxUnavailable nodes are without a ready
  // daemon. The next pass creates their replacements.
  void RollingUpdate(const Json& ds, int64_t desired, int64_t unavailable, std::vector<Json*>& old_pods) {
    const Json& us = Field(ds, "spec", "updateStrategy");
    if (us.value("type", "RollingUpdate") != "RollingUpdate" || old_pods.empty()) return;
    const Json ru = us.value("rollingUpdate", Json::object());
    int64_t max_unavail = ScaledValue(ru.value("maxUnavailable", Json(1)), desired, true, 1);
    if (max_unavail < 1) max_unavail = 1;
    const int64_t now = NowSeconds(), min_ready = IntField(ds, "spec", "minReadySeconds", 0);
    for (Json* p : old_pods)
      if (!PodAvailable(*p, min_ready, now)) Delete(ds, *p);
    for (Json* p : old_pods) {
      if (!PodAvailable(*p, min_ready, now)) continue;
      if (unavailable >= max_unavail) break;
      Delete(ds, *p);
      ++unavailable;
    }
  }

  // A failed delete (a conflicting write, say) is retried with the key: the
  // pass that wanted it may have been the last event for a while.
  void Delete(const Json& ds, const Json& pod) {
    api::DeleteParams dp;
    auto d = os_->Delete(*podk_, pod["metadata"].value("namespace", ""), pod["metadata"].value("name", ""), dp,
                         api::WriteOptions{});
    if (!d.ok() && d.status().code() != Code::kNotFound) delete_failed_ = d.status();
    if (d.ok())
      RecordEvent(os_, *dsk_, ds, "Normal", "SuccessfulDelete", "Deleted pod: " + pod["metadata"].value("name", ""),
                  "daemonset-controller");
  }

  api::KindPtr dsk_, podk_;
  std::mutex mu_;
  std::set<std::string> known_;    // guarded by mu_: DaemonSet keys, re-synced on node changes
  std::set<std::string> pending_;  // worker thread only: waiting for minReadySeconds
  Status delete_failed_;            // worker thread only: a Delete of this pass failed
};

}  // namespace

std::unique_ptr<Controller> NewDaemonSetController(api::ObjectStore* os) {
  return std::make_unique<DaemonSetController>(os);
}

}  // namespace berth::controllers
