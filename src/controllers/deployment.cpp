// Deployment controller: one ReplicaSet per pod template, rolled with the
// RollingUpdate arithmetic (maxSurge / maxUnavailable) or Recreate; revision
// annotations for history and undo; old ReplicaSets kept at zero up to
// revisionHistoryLimit; status counts summed from the ReplicaSets; Available
// and Progressing conditions (with progressDeadlineSeconds).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

const char* kRevision = "deployment.kubernetes.io/revision";
const char* kRevisionHistory = "deployment.kubernetes.io/revision-history";
const char* kDesired = "deployment.kubernetes.io/desired-replicas";
const char* kMaxReplicas = "deployment.kubernetes.io/max-replicas";
const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

int64_t SpecReplicas(const Json& rs) { return IntField(rs, "spec", "replicas", 0); }
int64_t Available(const Json& rs) { return IntField(rs, "status", "availableReplicas", 0); }

// Annotations a Deployment passes to its ReplicaSets (k8s skips these).
bool Copyable(const std::string& k) {
  return k != kLastApplied && k != kRevision && k != kRevisionHistory && k != kDesired && k != kMaxReplicas;
}

Json Condition(const std::string& type, const std::string& status, const std::string& reason,
               const std::string& message, const std::string& now) {
  return {{"type", type}, {"status", status}, {"lastUpdateTime", now}, {"lastTransitionTime", now},
          {"reason", reason}, {"message", message}};
}

class DeploymentController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "deployment"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "apps" && (k.resource == "deployments" || k.resource == "replicasets");
  }

  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    if (k.resource == "deployments") {
      queue().Push(KeyOf(obj));
      return;
    }
    const Json& refs = Field(obj, "metadata", "ownerReferences");
    if (!refs.is_array()) return;
    for (const auto& r : refs)
      if (r.value("controller", false) && r.value("kind", "") == "Deployment")
        queue().Push(obj["metadata"].value("namespace", "") + "/" + r.value("name", ""));
  }

  void Resync() override {
    // Deadlines (progressDeadlineSeconds) pass without any event.
    if (MonotonicNanos() - last_deadline_scan_ < 5LL * 1000000000) return;
    last_deadline_scan_ = MonotonicNanos();
    for (const auto& k : progressing_) queue().Push(k);
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    dk_ = KindOf(os_, "apps", "deployments");
    rsk_ = KindOf(os_, "apps", "replicasets");
    auto d = os_->Get(*dk_, ns, name);
    if (!d.ok()) {
      progressing_.erase(key);
      return d.status();
    }
    if (!Field(*d, "metadata", "deletionTimestamp").is_null()) return Status::Ok();
    const std::string uid = (*d)["metadata"].value("uid", "");
    api::ListParams lp;
    lp.ns = ns;
    auto list = os_->List(*rsk_, lp);
    if (!list.ok()) return list.status();
    std::vector<Json> owned;
    for (auto& rs : list->items)
      if (ControllerUid(rs) == uid && Field(rs, "metadata", "deletionTimestamp").is_null()) owned.push_back(std::move(rs));

    const Json& spec = (*d)["spec"];
    const Json tmpl = spec.value("template", Json::object());
    const Json want = TemplateForCompare(tmpl);
    const int64_t replicas = IntField(*d, "spec", "replicas", 1);
    const bool paused = spec.value("paused", false);
    int64_t max_rev = 0;
    int new_idx = -1;
    for (size_t i = 0; i < owned.size(); ++i) {
      max_rev = std::max(max_rev, Revision(owned[i]));
      if (new_idx < 0 && TemplateForCompare(Field(owned[i], "spec", "template")) == want) new_idx = static_cast<int>(i);
    }
    bool progressed = false;
    if (new_idx < 0 && !paused) {
      auto created = CreateNewRS(*d, owned, max_rev);
      if (!created.ok()) return created.status();
      owned.push_back(std::move(created).value());
      new_idx = static_cast<int>(owned.size() - 1);
      progressed = true;
    } else if (new_idx >= 0 && !paused && Revision(owned[new_idx]) < max_rev) {
      // An old template came back (rollout undo): it becomes the newest revision.
      Json& rs = owned[new_idx];
      std::string old_rev = std::to_string(Revision(rs));
      auto r = os_->Mutate(*rsk_, ns, rs["metadata"].value("name", ""), [&](Json& o) {
        Json& a = o["metadata"]["annotations"];
        std::string hist = a.value(kRevisionHistory, "");
        a[kRevisionHistory] = hist.empty() ? old_rev : hist + "," + old_rev;
        a[kRevision] = std::to_string(max_rev + 1);
        CopyAnnotations(*d, o);
        return Status::Ok();
      });
      if (!r.ok()) return r.status();
      rs = std::move(r).value();
      progressed = true;
    }
    Json* new_rs = new_idx >= 0 ? &owned[new_idx] : nullptr;
    std::vector<Json*> olds;
    for (size_t i = 0; i < owned.size(); ++i)
      if (static_cast<int>(i) != new_idx) olds.push_back(&owned[i]);
    std::sort(olds.begin(), olds.end(), [](const Json* a, const Json* b) {
      return (*a)["metadata"].value("creationTimestamp", "") < (*b)["metadata"].value("creationTimestamp", "");
    });

    const std::string strategy = Field(spec, "strategy", "type").is_string() ? spec["strategy"]["type"].get<std::string>() : "RollingUpdate";
    const Json ru = Field(spec, "strategy", "rollingUpdate");
    int64_t surge = ScaledValue(ru.is_object() ? ru.value("maxSurge", Json("25%")) : Json("25%"), replicas, true, 1);
    int64_t unavail = ScaledValue(ru.is_object() ? ru.value("maxUnavailable", Json("25%")) : Json("25%"), replicas, false, 0);
    if (strategy == "Recreate") surge = 0, unavail = replicas;
    if (surge == 0 && unavail == 0) unavail = 1;

    if (new_rs && !paused) {
      BERTH_ASSIGN_OR_RETURN(bool changed, Rollout(*d, strategy, replicas, surge, unavail, *new_rs, olds));
      progressed |= changed;
    } else if (paused) {
      // Paused: keep proportions, only follow replica changes on the newest set.
      if (new_rs && olds.empty() && SpecReplicas(*new_rs) != replicas) {
        BERTH_RETURN_IF_ERROR(ScaleRS(*d, *new_rs, replicas));
        progressed = true;
      }
    }
    BERTH_RETURN_IF_ERROR(CleanupHistory(*d, olds));
    return WriteStatus(key, *d, new_rs, owned, replicas, unavail, paused, progressed, max_rev);
  }

 private:
  void CopyAnnotations(const Json& d, Json& rs) {
    const Json& da = Field(d, "metadata", "annotations");
    if (!da.is_object()) return;
    for (auto it = da.begin(); it != da.end(); ++it)
      if (Copyable(it.key())) rs["metadata"]["annotations"][it.key()] = *it;
  }

  Result<Json> CreateNewRS(const Json& d, const std::vector<Json>& owned, int64_t max_rev) {
    const std::string ns = d["metadata"].value("namespace", "");
    int64_t collisions = IntField(d, "status", "collisionCount", 0);
    bool old_active = false;
    for (const auto& rs : owned) old_active |= SpecReplicas(rs) > 0;
    const int64_t replicas = IntField(d, "spec", "replicas", 1);
    for (int attempt = 0; attempt < 8; ++attempt) {
      Json tmpl = d["spec"]["template"];
      std::string hash = TemplateHash(tmpl, collisions);
      tmpl["metadata"]["labels"]["pod-template-hash"] = hash;
      Json selector = d["spec"].value("selector", Json::object());
      selector["matchLabels"]["pod-template-hash"] = hash;
      Json rs = {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"},
                 {"metadata", {{"name", d["metadata"].value("name", "") + "-" + hash}, {"namespace", ns},
                               {"labels", tmpl["metadata"]["labels"]},
                               {"annotations", {{kRevision, std::to_string(max_rev + 1)},
                                                {kDesired, std::to_string(replicas)},
                                                {kMaxReplicas, std::to_string(replicas + ScaledValue(Field(d, "spec", "strategy", "rollingUpdate").is_object() ? d["spec"]["strategy"]["rollingUpdate"].value("maxSurge", Json("25%")) : Json("25%"), replicas, true, 1))}}},
                               {"ownerReferences", Json::array({OwnerRef(*dk_, d, true)})}}},
                 {"spec", {{"replicas", old_active ? 0 : replicas}, {"selector", selector}, {"template", tmpl}}}};
      if (d["spec"].contains("minReadySeconds")) rs["spec"]["minReadySeconds"] = d["spec"]["minReadySeconds"];
      CopyAnnotations(d, rs);
      auto c = os_->Create(*rsk_, ns, rs, api::WriteOptions{});
      if (c.ok()) {
        RecordEvent(os_, *dk_, d, "Normal", "ScalingReplicaSet",
                    "Scaled up replica set " + rs["metadata"]["name"].get<std::string>() + " from 0 to " +
                        std::to_string(SpecReplicas(rs)),
                    "deployment-controller");
        return c;
      }
      if (c.status().code() != Code::kAlreadyExists) return c.status();
      // A ReplicaSet of that name exists with another template: hash collision.
      ++collisions;
      auto u = os_->Mutate(*dk_, ns, d["metadata"].value("name", ""), [&](Json& o) {
        o["status"]["collisionCount"] = collisions;
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
    }
    return Internal("too many pod-template-hash collisions");
  }

  Status ScaleRS(const Json& d, Json& rs, int64_t to) {
    int64_t from = SpecReplicas(rs);
    if (from == to) return Status::Ok();
    const std::string ns = rs["metadata"].value("namespace", "");
    auto r = os_->Mutate(*rsk_, ns, rs["metadata"].value("name", ""), [&](Json& o) {
      o["spec"]["replicas"] = to;
      o["metadata"]["annotations"][kDesired] = std::to_string(IntField(d, "spec", "replicas", 1));
      return Status::Ok();
    });
    if (!r.ok()) return r.status();
    rs = std::move(r).value();
    RecordEvent(os_, *dk_, d, "Normal", "ScalingReplicaSet",
                std::string("Scaled ") + (to > from ? "up" : "down") + " replica set " +
                    rs["metadata"].value("name", "") + " from " + std::to_string(from) + " to " + std::to_string(to),
                "deployment-controller");
    return Status::Ok();
  }

  Result<bool> Rollout(const Json& d, const std::string& strategy, int64_t replicas, int64_t surge,
                       int64_t unavail, Json& new_rs, std::vector<Json*>& olds) {
    bool changed = false;
    auto scale = [&](Json& rs, int64_t to) -> Status {
      if (SpecReplicas(rs) == to) return Status::Ok();
      changed = true;
      return ScaleRS(d, rs, to);
    };
    bool old_active = false;
    for (Json* o : olds) old_active |= SpecReplicas(*o) > 0 || IntField(*o, "status", "replicas", 0) > 0;
    if (strategy == "Recreate") {
      for (Json* o : olds) BERTH_RETURN_IF_ERROR(scale(*o, 0));
      bool old_pods = false;
      for (Json* o : olds) old_pods |= IntField(*o, "status", "replicas", 0) > 0;
      if (!old_pods) BERTH_RETURN_IF_ERROR(scale(new_rs, replicas));
      return changed;
    }
    if (!old_active) {
      BERTH_RETURN_IF_ERROR(scale(new_rs, replicas));
      return changed;
    }
    // Scale the new set up within maxSurge.
    int64_t all = SpecReplicas(new_rs);
    for (Json* o : olds) all += SpecReplicas(*o);
    int64_t max_total = replicas + surge;
    if (SpecReplicas(new_rs) > replicas) {
      BERTH_RETURN_IF_ERROR(scale(new_rs, replicas));
    } else if (all < max_total) {
      BERTH_RETURN_IF_ERROR(scale(new_rs, std::min(SpecReplicas(new_rs) + max_total - all, replicas)));
    }
    // Scale old sets down without going below minAvailable.
    all = SpecReplicas(new_rs);
    for (Json* o : olds) all += SpecReplicas(*o);
    int64_t min_available = replicas - unavail;
    int64_t new_unavailable = SpecReplicas(new_rs) - Available(new_rs);
    int64_t budget = all - min_available - new_unavailable;
    if (budget <= 0) return changed;
    // First the unhealthy old replicas: removing them costs no availability.
    for (Json* o : olds) {
      if (budget <= 0) break;
      int64_t unhealthy = SpecReplicas(*o) - Available(*o);
      if (unhealthy <= 0) continue;
      int64_t n = std::min(unhealthy, budget);
      BERTH_RETURN_IF_ERROR(scale(*o, SpecReplicas(*o) - n));
      budget -= n;
    }
    int64_t available = Available(new_rs);
    for (Json* o : olds) available += Available(*o);
    int64_t down = std::min(budget, available - min_available);
    for (Json* o : olds) {
      if (down <= 0) break;
      int64_t n = std::min(SpecReplicas(*o), down);
      if (n <= 0) continue;
      BERTH_RETURN_IF_ERROR(scale(*o, SpecReplicas(*o) - n));
      down -= n;
    }
    return changed;
  }

  Status CleanupHistory(const Json& d, std::vector<Json*>& olds) {
    int64_t limit = IntField(d, "spec", "revisionHistoryLimit", 10);
    std::vector<Json*> idle;
    for (Json* o : olds)
      if (SpecReplicas(*o) == 0 && IntField(*o, "status", "replicas", 0) == 0) idle.push_back(o);
    int64_t extra = static_cast<int64_t>(idle.size()) - limit;
    for (int64_t i = 0; i < extra; ++i) {
      const Json& rs = *idle[static_cast<size_t>(i)];
      api::DeleteParams dp;
      auto r = os_->Delete(*rsk_, rs["metadata"].value("namespace", ""), rs["metadata"].value("name", ""), dp, api::WriteOptions{});
      if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    }
    return Status::Ok();
  }

  Status WriteStatus(const std::string& key, const Json& d, const Json* new_rs, const std::vector<Json>& owned,
                     int64_t replicas, int64_t unavail, bool paused, bool progressed, int64_t max_rev) {
    int64_t total = 0, ready = 0, available = 0;
    for (const auto& rs : owned) {
      total += IntField(rs, "status", "replicas", 0);
      ready += IntField(rs, "status", "readyReplicas", 0);
      available += Available(rs);
    }
    int64_t updated = new_rs ? IntField(*new_rs, "status", "replicas", 0) : 0;
    const Json old_status = d.value("status", Json::object());
    Json st = old_status;
    st["observedGeneration"] = IntField(d, "metadata", "generation", 1);
    st["replicas"] = total;
    st["updatedReplicas"] = updated;
    st["readyReplicas"] = ready;
    st["availableReplicas"] = available;
    st["unavailableReplicas"] = std::max<int64_t>(0, replicas - available);
    for (const char* f : {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"})
      if (st[f] == 0) st.erase(f);
    if (old_status.value("updatedReplicas", int64_t{0}) != updated ||
        old_status.value("availableReplicas", int64_t{0}) != available ||
        old_status.value("readyReplicas", int64_t{0}) != ready || old_status.value("replicas", int64_t{0}) != total)
      progressed = true;

    const std::string now = FormatRFC3339(NowSeconds());
    const std::string rs_name = new_rs ? (*new_rs)["metadata"].value("name", "") : "";
    Json conds = old_status.value("conditions", Json::array());
    auto set = [&](Json c, bool refresh_update_time) {
      for (auto& old : conds) {
        if (old.value("type", "") != c["type"]) continue;
        if (old.value("status", "") == c["status"]) {
          c["lastTransitionTime"] = old.value("lastTransitionTime", now);
          if (!refresh_update_time && old.value("reason", "") == c["reason"]) c["lastUpdateTime"] = old.value("lastUpdateTime", now);
        }
        old = c;
        return;
      }
      conds.push_back(c);
    };
    if (available >= replicas - unavail)
      set(Condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now), false);
    else
      set(Condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now), false);

    bool complete = new_rs && updated == replicas && available == replicas && total == replicas &&
                    SpecReplicas(*new_rs) == replicas;
    for (const auto& rs : owned) if (&rs != new_rs && SpecReplicas(rs) > 0) complete = false;
    int64_t deadline = IntField(d, "spec", "progressDeadlineSeconds", 600);
    if (paused) {
      set(Condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now), false);
    } else if (complete) {
      set(Condition("Progressing", "True", "NewReplicaSetAvailable",
                    "ReplicaSet \"" + rs_name + "\" has successfully progressed.", now), false);
    } else if (progressed) {
      set(Condition("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"" + rs_name + "\" is progressing.", now), true);
    } else {
      for (const auto& c : conds) {
        if (c.value("type", "") != "Progressing" || c.value("status", "") != "True") continue;
        auto t = ParseRFC3339(c.value("lastUpdateTime", ""));
        if (t && NowSeconds() - *t > deadline)
          set(Condition("Progressing", "False", "ProgressDeadlineExceeded",
                        "ReplicaSet \"" + rs_name + "\" has timed out progressing.", now), true);
      }
    }
    st["conditions"] = conds;
    if (complete || paused) progressing_.erase(key);
    else progressing_.insert(key);

    if (st != old_status) {
      Json next = d;
      next["status"] = st;
      auto u = os_->Update(*dk_, d["metadata"].value("namespace", ""), d["metadata"].value("name", ""), next,
                           api::WriteOptions{}, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
    }
    // The Deployment carries the revision of its newest ReplicaSet.
    if (new_rs) {
      std::string rev = std::to_string(Revision(*new_rs));
      if (Field(d, "metadata", "annotations", kRevision) != Json(rev)) {
        auto u = os_->Mutate(*dk_, d["metadata"].value("namespace", ""), d["metadata"].value("name", ""), [&](Json& o) {
          o["metadata"]["annotations"][kRevision] = rev;
          return Status::Ok();
        });
        if (!u.ok()) return u.status();
      }
    }
    (void)max_rev;
    return Status::Ok();
  }

  api::KindPtr dk_, rsk_;
  std::set<std::string> progressing_;  // worker thread only
  int64_t last_deadline_scan_ = 0;
};

}  // namespace

std::unique_ptr<Controller> NewDeploymentController(api::ObjectStore* os) {
  return std::make_unique<DeploymentController>(os);
}

}  // namespace berth::controllers
