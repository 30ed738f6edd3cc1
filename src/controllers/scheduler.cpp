// The scheduler: binds pods that have no spec.nodeName (and ask for the
// default scheduler) to a Node. Filters as kube-scheduler's default plugins do
// (unschedulable, readiness, taints, node selector and required affinity,
// resource fit against allocatable minus the pods already bound), scores the
// fitting nodes by least allocated cpu and memory, and writes spec.nodeName
// (allowed once by pod update validation, guarded by resourceVersion so a
// concurrent binding conflicts) and the PodScheduled condition.
//
// It works in passes over all pending pods rather than per pod key, so one
// listing of nodes and pods serves every pending pod and each bind is
// accounted for before the next pod is placed.
#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/node_fit.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr char kPass[] = "pass";
constexpr char kSchedulerName[] = "default-scheduler";

bool OursAndUnbound(const Json& pod) {
  const Json& spec = Field(pod, "spec");
  std::string sched = spec.value("schedulerName", "");
  if (!sched.empty() && sched != kSchedulerName) return false;
  if (!spec.value("nodeName", "").empty() || Deleting(pod)) return false;
  std::string phase = PodPhase(pod);
  return phase != "Succeeded" && phase != "Failed";
}

class Scheduler : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "scheduler"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group.empty() && (k.resource == "pods" || k.resource == "nodes");
  }

  // Pods and nodes coming and going change where pending pods fit, so any
  // change triggers a pass while something is pending.
  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    std::lock_guard<std::mutex> l(mu_);
    if (k.resource == "pods") {
      std::string key = KeyOf(obj);
      if (type != "DELETED" && OursAndUnbound(obj))
        pending_.insert(key);
      else
        pending_.erase(key);
    }
    if (!pending_.empty()) queue().Push(kPass);
  }

  void Resync() override {
    // Retries unschedulable pods now and then even without events (k8s
    // flushes its unschedulable queue periodically too).
    if (MonotonicNanos() - last_retry_ < 10LL * 1000000000) return;
    last_retry_ = MonotonicNanos();
    std::lock_guard<std::mutex> l(mu_);
    if (!pending_.empty()) queue().Push(kPass);
  }

  Status Reconcile(const std::string&) override {
    auto podk = KindOf(os_, "", "pods");
    auto nodek = KindOf(os_, "", "nodes");
    auto nodes = os_->List(*nodek, {});
    if (!nodes.ok()) return nodes.status();
    auto pods = os_->List(*podk, {});
    if (!pods.ok()) return pods.status();

    std::map<std::string, Resources> used;
    std::vector<Json*> pending;
    for (auto& p : pods->items) {
      std::string node = Field(p, "spec", "nodeName").is_string() ? p["spec"]["nodeName"].get<std::string>() : "";
      std::string phase = PodPhase(p);
      if (!node.empty()) {
        if (phase != "Succeeded" && phase != "Failed") used[node] += PodRequests(p["spec"]);
      } else if (OursAndUnbound(p)) {
        const Json& gates = Field(p, "spec", "schedulingGates");
        if (gates.is_array() && !gates.empty()) continue;
        pending.push_back(&p);
      }
    }
    // Higher priority first, then oldest first (the active queue's order).
    std::stable_sort(pending.begin(), pending.end(), [](const Json* a, const Json* b) {
      int64_t pa = IntField(*a, "spec", "priority", 0), pb = IntField(*b, "spec", "priority", 0);
      if (pa != pb) return pa > pb;
      return (*a)["metadata"].value("creationTimestamp", "") < (*b)["metadata"].value("creationTimestamp", "");
    });

    Status result;
    for (Json* pod : pending) {
      Status s = ScheduleOne(*podk, *pod, nodes->items, used);
      if (!s.ok()) result = s;
    }
    return result;
  }

 private:
  Status ScheduleOne(const api::KindInfo& podk, const Json& pod, const std::vector<Json>& nodes,
                     std::map<std::string, Resources>& used) {
    const Json& spec = pod["spec"];
    const Resources req = PodRequests(spec);
    std::vector<std::vector<std::string>> failures;
    const Json* best = nullptr;
    double best_score = -1;
    for (const auto& n : nodes) {
      const std::string nn = n["metadata"].value("name", "");
      auto f = FitFailures(spec, req, n, used[nn]);
      if (!f.empty()) {
        failures.push_back(std::move(f));
        continue;
      }
      double score = LeastAllocated(req, used[nn], NodeAllocatable(n));
      if (score > best_score) best = &n, best_score = score;
    }
    const std::string ns = pod["metadata"].value("namespace", ""), name = pod["metadata"].value("name", "");
    const std::string now = FormatRFC3339(NowSeconds());
    if (!best) {
      std::string msg = nodes.empty() ? "no nodes available to schedule pods"
                                      : FailedSchedulingMessage(nodes.size(), failures);
      bool changed = false;
      auto r = os_->Mutate(podk, ns, name, [&](Json& o) {
        if (!OursAndUnbound(o)) return Status(Code::kConflict, "pod changed");
        changed = SetCondition(o["status"]["conditions"], "PodScheduled", "False", "Unschedulable", msg, now);
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!r.ok()) return r.status().code() == Code::kConflict ? Status::Ok() : r.status();
      // One event per distinct reason rather than one per retry.
      if (changed) RecordEvent(os_, podk, pod, "Warning", "FailedScheduling", msg, "default-scheduler");
      return Status::Ok();
    }
    const std::string node = (*best)["metadata"].value("name", "");
    Json bound = pod;
    bound["spec"]["nodeName"] = node;
    // The listed resourceVersion makes this a compare-and-swap: a pod bound
    // or changed meanwhile conflicts and is looked at again next pass.
    auto u = os_->Update(podk, ns, name, bound, api::WriteOptions{});
    if (!u.ok()) return u.status().code() == Code::kNotFound ? Status::Ok() : u.status();
    used[node] += req;
    auto r = os_->Mutate(podk, ns, name, [&](Json& o) {
      SetCondition(o["status"]["conditions"], "PodScheduled", "True", "", "", now);
      return Status::Ok();
    }, api::Subresource::kStatus);
    RecordEvent(os_, podk, *u, "Normal", "Scheduled", "Successfully assigned " + ns + "/" + name + " to " + node,
                "default-scheduler");
    return r.ok() || r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  }

  // NodeResourcesLeastAllocated: the mean over cpu and memory of the share
  // left free after placing the pod.
  static double LeastAllocated(const Resources& req, const Resources& used, const Resources& alloc) {
    auto share = [](int64_t want, int64_t cap) {
      return cap <= 0 ? 0.0 : static_cast<double>(cap - want) * 100.0 / static_cast<double>(cap);
    };
    return (share(used.milli_cpu + req.milli_cpu, alloc.milli_cpu) + share(used.memory + req.memory, alloc.memory)) /
           2.0;
  }

  std::mutex mu_;
  std::set<std::string> pending_;  // guarded by mu_ (feeder and worker)
  int64_t last_retry_ = 0;         // worker thread only
};

}  // namespace

std::unique_ptr<Controller> NewScheduler(api::ObjectStore* os) { return std::make_unique<Scheduler>(os); }

}  // namespace berth::controllers
