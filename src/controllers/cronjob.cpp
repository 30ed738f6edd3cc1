// CronJob controller: at each schedule time creates a Job named
// `<cronjob>-<scheduled unix minutes>` (so a time is never run twice, even
// across restarts), honouring suspend, concurrencyPolicy Allow / Forbid /
// Replace and startingDeadlineSeconds; keeps the newest finished Jobs up to the
// history limits; reports status.active, lastScheduleTime and
// lastSuccessfulTime. Time comes from an injectable clock.
//
// Schedules are evaluated in UTC: the cron parser has no time zone database,
// so a CronJob with another spec.timeZone gets a Warning event and runs on UTC.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/kinds.h"
#include "controllers/workload_util.h"
#include "core/time.h"
#include "kinds/cron.h"

namespace berth::controllers {
namespace {

constexpr char kScheduledAnnotation[] = "batch.kubernetes.io/cronjob-scheduled-timestamp";
constexpr int kMaxMissedScan = 100000;  // bounds the walk over missed times

// "Complete", "Failed" or "" (still running).
std::string JobFinish(const Json& job) {
  for (const char* t : {"Complete", "Failed"}) {
    const Json* c = FindCondition(Field(job, "status", "conditions"), t);
    if (c && c->value("status", "") == "True") return t;
  }
  return "";
}

class CronJobController : public Controller {
 public:
  CronJobController(api::ObjectStore* os, Clock clock) : Controller(os), clock_(std::move(clock)) {}
  const char* name() const override { return "cronjob"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "batch" && (k.resource == "cronjobs" || k.resource == "jobs");
  }
  void Observe(const api::KindInfo& k, const std::string&, const Json& obj) override {
    if (k.resource == "cronjobs") queue().Push(KeyOf(obj));
    else if (auto key = ControllerKey(obj, "CronJob"); !key.empty()) queue().Push(key);
  }
  void Resync() override {
    const int64_t now = clock_();
    for (const auto& [k, t] : next_)
      if (t <= now) queue().Push(k);
  }

  Status Reconcile(const std::string& key) override {
    std::string ns, name;
    SplitKey(key, &ns, &name);
    cjk_ = KindOf(os_, "batch", "cronjobs");
    jobk_ = KindOf(os_, "batch", "jobs");
    auto cj = os_->Get(*cjk_, ns, name);
    if (!cj.ok()) {
      next_.erase(key);
      return cj.status();
    }
    if (Deleting(*cj)) {
      next_.erase(key);
      return Status::Ok();
    }
    const Json& spec = (*cj)["spec"];
    const std::string uid = (*cj)["metadata"].value("uid", "");
    api::ListParams lp;
    lp.ns = ns;
    auto list = os_->List(*jobk_, lp);
    if (!list.ok()) return list.status();
    std::vector<Json> active, complete, failed;
    for (auto& j : list->items) {
      if (ControllerUid(j) != uid) continue;
      std::string f = JobFinish(j);
      (f.empty() ? active : f == "Complete" ? complete : failed).push_back(std::move(j));
    }

    const Json old_status = cj->value("status", Json::object());
    Json st = old_status;
    ReportFinished(*cj, old_status, complete, failed);
    int64_t last_success = 0;
    for (const auto& j : complete)
      if (auto t = ParseRFC3339(Field(j, "status", "completionTime").is_string()
                                    ? j["status"]["completionTime"].get<std::string>() : ""))
        last_success = std::max(last_success, *t);
    if (last_success > 0) st["lastSuccessfulTime"] = FormatRFC3339(last_success);
    CleanupHistory(*cj, complete, spec.value("successfulJobsHistoryLimit", int64_t{3}));
    CleanupHistory(*cj, failed, spec.value("failedJobsHistoryLimit", int64_t{1}));

    Status result = Schedule(key, *cj, active, st);
    Json refs = Json::array();
    for (const auto& j : active) refs.push_back(Ref(j));
    if (refs.empty()) st.erase("active");
    else st["active"] = refs;
    if (Normalize(st) != Normalize(old_status)) {
      auto u = os_->Mutate(*cjk_, ns, name, [&](Json& o) {
        o["status"] = st;
        return Status::Ok();
      }, api::Subresource::kStatus);
      if (!u.ok()) return u.status();
    }
    return result;
  }

 private:
  // Starts the most recent missed run, if any and if allowed. Records the
  // next schedule time for Resync.
  Status Schedule(const std::string& key, const Json& cj, std::vector<Json>& active, Json& st) {
    const Json& spec = cj["spec"];
    next_.erase(key);
    if (spec.value("suspend", false)) return Status::Ok();
    auto sched = kinds::CronSchedule::Parse(spec.value("schedule", ""));
    if (!sched.ok()) {
      RecordEvent(os_, *cjk_, cj, "Warning", "InvalidSchedule",
                  "invalid schedule: " + spec.value("schedule", "") + " : " + sched.status().message(),
                  "cronjob-controller");
      return Status::Ok();
    }
    std::string tz = spec.value("timeZone", "");
    if (!tz.empty() && tz != "UTC" && tz != "Etc/UTC" && warned_tz_.insert(key).second)
      RecordEvent(os_, *cjk_, cj, "Warning", "UnsupportedTimeZone",
                  "time zone " + tz + " is not supported; the schedule runs in UTC", "cronjob-controller");

    const int64_t now = clock_();
    auto earliest = ParseRFC3339(st.value("lastScheduleTime", ""));
    if (!earliest) earliest = ParseRFC3339(cj["metadata"].value("creationTimestamp", ""));
    int64_t from = earliest.value_or(now);
    if (spec.contains("startingDeadlineSeconds")) from = std::max(from, now - spec["startingDeadlineSeconds"].get<int64_t>());
    int64_t missed = -1, t = sched->Next(from), scanned = 0;
    while (t >= 0 && t <= now && scanned++ < kMaxMissedScan) {
      missed = t;
      t = sched->Next(t);
    }
    if (t >= 0) next_[key] = t;
    if (missed < 0) return Status::Ok();
    if (scanned > 100)
      RecordEvent(os_, *cjk_, cj, "Warning", "TooManyMissedTimes",
                  "too many missed start times: " + std::to_string(scanned) +
                      ". Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                  "cronjob-controller");
    std::string policy = spec.value("concurrencyPolicy", "Allow");
    if (policy == "Forbid" && !active.empty()) {
      // The run waits for the active one (within startingDeadlineSeconds),
      // as upstream: keep looking every resync.
      next_[key] = now;
      return Status::Ok();
    }
    const std::string ns = cj["metadata"].value("namespace", "");
    if (policy == "Replace") {
      for (const auto& j : active) {
        api::DeleteParams dp;
        dp.propagation = "Background";
        auto d = os_->Delete(*jobk_, ns, j["metadata"].value("name", ""), dp, api::WriteOptions{});
        if (!d.ok() && d.status().code() != Code::kNotFound) return d.status();
        RecordEvent(os_, *cjk_, cj, "Normal", "SuccessfulDelete", "Deleted job " + j["metadata"].value("name", ""),
                    "cronjob-controller");
      }
      active.clear();
    }
    const Json& jt = Field(spec, "jobTemplate");
    const std::string job_name = cj["metadata"].value("name", "") + "-" + std::to_string(missed / 60);
    Json job = {{"apiVersion", "batch/v1"}, {"kind", "Job"},
                {"metadata", {{"name", job_name}, {"namespace", ns},
                              {"ownerReferences", Json::array({OwnerRef(*cjk_, cj, true)})}}},
                {"spec", Field(jt, "spec").is_object() ? jt["spec"] : Json::object()}};
    for (const char* f : {"labels", "annotations"})
      if (Field(jt, "metadata", f).is_object()) job["metadata"][f] = jt["metadata"][f];
    job["metadata"]["annotations"][kScheduledAnnotation] = FormatRFC3339(missed);
    auto c = os_->Create(*jobk_, ns, job, api::WriteOptions{});
    if (!c.ok() && c.status().code() != Code::kAlreadyExists) {
      RecordEvent(os_, *cjk_, cj, "Warning", "FailedCreate", "Error creating job: " + c.status().message(),
                  "cronjob-controller");
      return c.status();
    }
    if (c.ok()) {
      RecordEvent(os_, *cjk_, cj, "Normal", "SuccessfulCreate", "Created job " + job_name, "cronjob-controller");
      active.push_back(std::move(c).value());
    }
    st["lastScheduleTime"] = FormatRFC3339(missed);
    return Status::Ok();
  }

  // "SawCompletedJob" for jobs that were active at the last status write.
  void ReportFinished(const Json& cj, const Json& old_status, const std::vector<Json>& complete,
                      const std::vector<Json>& failed) {
    std::set<std::string> was_active;
    for (const auto& r : old_status.value("active", Json::array())) was_active.insert(r.value("uid", ""));
    for (const auto* set : {&complete, &failed})
      for (const auto& j : *set)
        if (was_active.count(j["metadata"].value("uid", "")))
          RecordEvent(os_, *cjk_, cj, "Normal", "SawCompletedJob",
                      "Saw completed job: " + j["metadata"].value("name", "") + ", status: " + JobFinish(j),
                      "cronjob-controller");
  }

  void CleanupHistory(const Json& cj, std::vector<Json>& jobs, int64_t limit) {
    if (static_cast<int64_t>(jobs.size()) <= limit) return;
    std::sort(jobs.begin(), jobs.end(), [](const Json& a, const Json& b) {
      auto ka = Field(a, "status", "startTime").is_string() ? a["status"]["startTime"].get<std::string>()
                                                            : a["metadata"].value("creationTimestamp", "");
      auto kb = Field(b, "status", "startTime").is_string() ? b["status"]["startTime"].get<std::string>()
                                                            : b["metadata"].value("creationTimestamp", "");
      return ka != kb ? ka < kb : a["metadata"].value("name", "") < b["metadata"].value("name", "");
    });
    for (size_t i = 0; i + static_cast<size_t>(limit) < jobs.size(); ++i) {
      api::DeleteParams dp;
      dp.propagation = "Background";
      const std::string jn = jobs[i]["metadata"].value("name", "");
      auto d = os_->Delete(*jobk_, jobs[i]["metadata"].value("namespace", ""), jn, dp, api::WriteOptions{});
      if (d.ok())
        RecordEvent(os_, *cjk_, cj, "Normal", "SuccessfulDelete", "Deleted job " + jn, "cronjob-controller");
    }
  }

  static Json Ref(const Json& job) {
    return {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", job["metadata"].value("name", "")},
            {"namespace", job["metadata"].value("namespace", "")}, {"uid", job["metadata"].value("uid", "")}};
  }

  Clock clock_;
  api::KindPtr cjk_, jobk_;
  std::map<std::string, int64_t> next_;  // worker thread only: next schedule time per key
  std::set<std::string> warned_tz_;      // worker thread only
};

}  // namespace

std::unique_ptr<Controller> NewCronJobController(api::ObjectStore* os, Clock clock) {
  return std::make_unique<CronJobController>(os, clock ? std::move(clock) : RealClock());
}

}  // namespace berth::controllers
