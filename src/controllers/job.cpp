// Job controller: runs pods from the template until `completions` of them
// succeed (NonIndexed) or every index 0..completions-1 has succeeded
// (Indexed), at most `parallelism` at a time. Failed pods (and container
// restarts under restartPolicy OnFailure) count against backoffLimit;
// activeDeadlineSeconds bounds the run; suspend removes the running pods.
// Finished jobs get Complete or Failed (after SuccessCriteriaMet /
// FailureTarget, as Kubernetes 1.31 writes them) and, with
// ttlSecondsAfterFinished, are deleted once that has passed.
//
// Counts come from the pods that exist; status.succeeded/failed never go
// down, so pods deleted by hand do not make a finished index run again.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"

namespace berth::controllers {
namespace {

constexpr char kIndexAnnotation[] = "batch.kubernetes.io/job-completion-index";

bool Finished(const Json& job, std::string* type = nullptr) {
  for (const char* t : {"Complete", "Failed"}) {
    const Json* c = FindCondition(Field(job, "status", "conditions"), t);
    if (c && c->value("status", "") == "True") {
      if (type) *type = t;
      return true;
    }
  }
  return false;
}

int64_t PodIndex(const Json& pod) {
  const Json& a = Field(pod, "metadata", "annotations", kIndexAnnotation);
  if (!a.is_string()) return -1;
  char* end = nullptr;
  long long v = std::strtoll(a.get<std::string>().c_str(), &end, 10);
  return *end ? -1 : v;
}

int64_t Restarts(const Json& pod) {
  int64_t n = 0;
  for (const char* f : {"containerStatuses", "initContainerStatuses"}) {
    const Json& cs = Field(pod, "status", f);
    if (cs.is_array())
      for (const auto& c : cs) n += c.value("restartCount", int64_t{0});
  }
  return n;
}

class JobController : public Controller {
 public:
  JobController(api::ObjectStore* os, Clock clock) : Controller(os), clock_(std::move(clock)) {}
  const char* name() const override { return "job"; }
  bool Interested(const api::KindInfo& k) const override {
    return (k.group == "batch" && k.resource == "jobs") || (k.group.empty() && k.resource == "pods");
  }
  void Observe(const api::KindInfo& k, const std::string&, const Json& obj) override {
    if (k.resource == "jobs") {
      queue().Push(KeyOf(obj));
    } else if (auto key = ControllerKey(obj, "Job"); !key.empty()) {
      queue().Push(key);
    }
  }
  void Resync() override {
    // activeDeadlineSeconds and ttlSecondsAfterFinished pass without events.
    for (const auto& k : timed_) queue().Push(k);
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    jobk_ = KindOf(os_, "batch", "jobs");
    podk_ = KindOf(os_, "", "pods");
    auto job = os_->Get(*jobk_, ns, name);
    timed_.erase(key);
    if (!job.ok()) return job.status();
    if (Deleting(*job)) return Status::Ok();
    const int64_t now = clock_();
    const std::string now_s = FormatRFC3339(now);
    const std::string uid = (*job)["metadata"].value("uid", "");
    api::ListParams lp;
    lp.ns = ns;
    auto pods = os_->List(*podk_, lp);
    if (!pods.ok()) return pods.status();
    std::vector<Json> active, succeeded, failed;
    int64_t terminating = 0;
    for (auto& p : pods->items) {
      if (ControllerUid(p) != uid) continue;
      std::string phase = PodPhase(p);
      if (phase == "Succeeded") succeeded.push_back(std::move(p));
      else if (phase == "Failed") failed.push_back(std::move(p));
      else if (Deleting(p)) ++terminating;
      else active.push_back(std::move(p));
    }

    const Json& spec = (*job)["spec"];
    const Json old_status = job->value("status", Json::object());
    Json st = old_status;
    const bool indexed = spec.value("completionMode", "NonIndexed") == "Indexed";
    const bool has_completions = spec.contains("completions") && spec["completions"].is_number_integer();
    const int64_t completions = has_completions ? spec["completions"].get<int64_t>() : -1;
    const int64_t parallelism = spec.value("parallelism", int64_t{1});
    const int64_t backoff_limit = spec.value("backoffLimit", int64_t{6});
    const bool suspended = spec.value("suspend", false);

    std::set<int64_t> done_indexes;
    for (const auto& p : succeeded)
      if (int64_t i = PodIndex(p); i >= 0 && i < completions) done_indexes.insert(i);
    int64_t n_succeeded = indexed ? static_cast<int64_t>(done_indexes.size()) : static_cast<int64_t>(succeeded.size());
    n_succeeded = std::max(n_succeeded, old_status.value("succeeded", int64_t{0}));
    int64_t n_failed = std::max<int64_t>(static_cast<int64_t>(failed.size()), old_status.value("failed", int64_t{0}));
    if (indexed) st["completedIndexes"] = IndexRanges(done_indexes);

    std::string finished_type;
    if (!Finished(*job, &finished_type)) {
      if (!suspended && !st.contains("startTime")) st["startTime"] = now_s;
      // Why the job ends now, if it does.
      std::string fail_reason, fail_message;
      int64_t restarts = 0;
      if (Field(spec, "template", "spec", "restartPolicy") == Json("OnFailure"))
        for (const auto& p : active) restarts += Restarts(p);
      auto start = ParseRFC3339(st.value("startTime", ""));
      if (n_failed + restarts > backoff_limit) {
        fail_reason = "BackoffLimitExceeded";
        fail_message = "Job has reached the specified backoff limit";
      } else if (spec.contains("activeDeadlineSeconds") && !suspended && start &&
                 now - *start >= spec["activeDeadlineSeconds"].get<int64_t>()) {
        fail_reason = "DeadlineExceeded";
        fail_message = "Job was active longer than specified deadline";
      }
      bool complete = false;
      if (fail_reason.empty()) {
        if (indexed) complete = static_cast<int64_t>(done_indexes.size()) >= completions;
        else if (has_completions) complete = n_succeeded >= completions;
        else complete = n_succeeded > 0 && active.empty();  // a work queue: one success and the rest done
      }
      Json conds = st.value("conditions", Json::array());
      if (!fail_reason.empty()) {
        DeletePods(*job, active);
        active.clear();
        SetCondition(conds, "FailureTarget", "True", fail_reason, fail_message, now_s);
        SetCondition(conds, "Failed", "True", fail_reason, fail_message, now_s);
        RecordEvent(os_, *jobk_, *job, "Warning", fail_reason, fail_message, "job-controller");
      } else if (complete) {
        DeletePods(*job, active);
        active.clear();
        SetCondition(conds, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now_s);
        SetCondition(conds, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", now_s);
        st["completionTime"] = now_s;
        RecordEvent(os_, *jobk_, *job, "Normal", "Completed", "Job completed", "job-controller");
      } else if (suspended) {
        DeletePods(*job, active);
        active.clear();
        if (SetCondition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now_s))
          RecordEvent(os_, *jobk_, *job, "Normal", "Suspended", "Job suspended", "job-controller");
      } else {
        if (FindCondition(conds, "Suspended") &&
            SetCondition(conds, "Suspended", "False", "JobResumed", "Job resumed", now_s)) {
          st["startTime"] = now_s;  // the deadline counts from the resume, as upstream
          RecordEvent(os_, *jobk_, *job, "Normal", "Resumed", "Job resumed", "job-controller");
        }
        BERTH_RETURN_IF_ERROR(ManagePods(*job, indexed, completions, parallelism, n_succeeded, done_indexes, active));
        if (spec.contains("activeDeadlineSeconds")) timed_.insert(key);
      }
      if (conds.empty()) st.erase("conditions");
      else st["conditions"] = conds;
    }

    int64_t ready = 0;
    for (const auto& p : active) ready += PodReady(p) ? 1 : 0;
    st["active"] = static_cast<int64_t>(active.size());
    st["succeeded"] = n_succeeded;
    st["failed"] = n_failed;
    st["ready"] = ready;
    st["terminating"] = terminating;
    st["uncountedTerminatedPods"] = Json::object();
    for (const char* f : {"active", "succeeded", "failed", "terminating"})
      if (st[f] == 0) st.erase(f);
    if (Normalize(st) != Normalize(old_status)) {
      auto u = os_->Mutate(*jobk_, ns, name, [&](Json& o) {
        o["status"] = st;
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
      job = std::move(u);
    }
    return MaybeExpire(key, *job, now);
  }

 private:
  // Creates pods up to parallelism (and the completions still missing);
  // deletes the surplus when parallelism went down.
  Status ManagePods(const Json& job, bool indexed, int64_t completions, int64_t parallelism, int64_t n_succeeded,
                    const std::set<int64_t>& done_indexes, std::vector<Json>& active) {
    int64_t want = parallelism;
    if (!indexed && completions >= 0) want = std::min(want, completions - n_succeeded);
    if (!indexed && completions < 0 && n_succeeded > 0) want = 0;  // work queue: a success means draining
    std::vector<int64_t> indexes;  // Indexed: the lowest indexes neither done nor running
    if (indexed) {
      std::set<int64_t> running;
      for (const auto& p : active) running.insert(PodIndex(p));
      for (int64_t i = 0; i < completions && static_cast<int64_t>(indexes.size() + running.size()) < want; ++i)
        if (!done_indexes.count(i) && !running.count(i)) indexes.push_back(i);
      want = std::min<int64_t>(want, static_cast<int64_t>(running.size() + indexes.size()));
    }
    const int64_t have = static_cast<int64_t>(active.size());
    if (have > want) {
      // Fewest-progressed first: pods not yet on a node, then not ready.
      std::sort(active.begin(), active.end(), [](const Json& a, const Json& b) {
        bool an = Field(a, "spec", "nodeName").is_string(), bn = Field(b, "spec", "nodeName").is_string();
        if (an != bn) return !an;
        return !PodReady(a) && PodReady(b);
      });
      std::vector<Json> extra(active.begin(), active.begin() + (have - want));
      active.erase(active.begin(), active.begin() + (have - want));
      DeletePods(job, extra);
      return Status::Ok();
    }
    const std::string ns = job["metadata"].value("namespace", ""), name = job["metadata"].value("name", "");
    const Json& tmpl = job["spec"]["template"];
    for (int64_t i = 0; i < want - have; ++i) {
      Json pod = PodFromTemplate(tmpl, ns, OwnerRef(*jobk_, job, true));
      if (indexed) {
        std::string idx = std::to_string(indexes[static_cast<size_t>(i)]);
        pod["metadata"]["generateName"] = name + "-" + idx + "-";
        pod["metadata"]["annotations"][kIndexAnnotation] = idx;
        pod["metadata"]["labels"][kIndexAnnotation] = idx;
      } else {
        pod["metadata"]["generateName"] = name + "-";
      }
      auto c = os_->Create(*podk_, ns, pod, api::WriteOptions{});
      if (!c.ok()) {
        RecordEvent(os_, *jobk_, job, "Warning", "FailedCreate", "Error creating: " + c.status().message(),
                    "job-controller");
        return c.status();
      }
      RecordEvent(os_, *jobk_, job, "Normal", "SuccessfulCreate", "Created pod: " + (*c)["metadata"].value("name", ""),
                  "job-controller");
      active.push_back(std::move(c).value());
    }
    return Status::Ok();
  }

  void DeletePods(const Json& job, const std::vector<Json>& pods) {
    for (const auto& p : pods) {
      api::DeleteParams dp;
      auto d = os_->Delete(*podk_, p["metadata"].value("namespace", ""), p["metadata"].value("name", ""), dp,
                           api::WriteOptions{});
      if (d.ok())
        RecordEvent(os_, *jobk_, job, "Normal", "SuccessfulDelete", "Deleted pod: " + p["metadata"].value("name", ""),
                    "job-controller");
    }
  }

  // ttlSecondsAfterFinished: the finished job (and, by GC, its pods) goes.
  Status MaybeExpire(const std::string& key, const Json& job, int64_t now) {
    std::string type;
    if (!Finished(job, &type) || !job["spec"].contains("ttlSecondsAfterFinished")) return Status::Ok();
    const Json* c = FindCondition(job["status"]["conditions"], type);
    auto t = ParseRFC3339(Field(job, "status", "completionTime").is_string()
                              ? job["status"]["completionTime"].get<std::string>()
                              : c->value("lastTransitionTime", ""));
    if (!t || now - *t < job["spec"]["ttlSecondsAfterFinished"].get<int64_t>()) {
      timed_.insert(key);
      return Status::Ok();
    }
    api::DeleteParams dp;
    dp.propagation = "Background";
    dp.precondition_uid = job["metadata"].value("uid", "");
    auto d = os_->Delete(*jobk_, job["metadata"].value("namespace", ""), job["metadata"].value("name", ""), dp,
                         api::WriteOptions{});
    return d.ok() || d.status().code() == Code::kNotFound ? Status::Ok() : d.status();
  }

  // "0-2,5" as status.completedIndexes.
  static std::string IndexRanges(const std::set<int64_t>& s) {
    std::string out;
    for (auto it = s.begin(); it != s.end();) {
      int64_t lo = *it, hi = lo;
      while (++it != s.end() && *it == hi + 1) ++hi;
      out += (out.empty() ? "" : ",") + std::to_string(lo) + (hi > lo ? "-" + std::to_string(hi) : "");
    }
    return out;
  }

  Clock clock_;
  api::KindPtr jobk_, podk_;
  std::set<std::string> timed_;  // worker thread only: jobs with a deadline or TTL ahead
};

}  // namespace

std::unique_ptr<Controller> NewJobController(api::ObjectStore* os, Clock clock) {
  return std::make_unique<JobController>(os, clock ? std::move(clock) : RealClock());
}

}  // namespace berth::controllers
