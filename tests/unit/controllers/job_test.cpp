// Jobs and CronJobs: completions and parallelism, backoffLimit, deadlines,
// Indexed mode; CronJob schedules with a fake clock, Forbid, history limits.
#include "fixture.h"

namespace berth::controllers::testing {
namespace {

Json MakeJob(const std::string& name, Json spec_extra = Json::object()) {
  Json j = {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", name}}},
            {"spec", {{"template", {{"spec", {{"restartPolicy", "Never"},
                                              {"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  for (auto it = spec_extra.begin(); it != spec_extra.end(); ++it) j["spec"][it.key()] = *it;
  return j;
}

class JobTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    std::vector<std::unique_ptr<Controller>> cs;
    cs.push_back(NewJobController(os_.get(), FakeClock()));
    Start(std::move(cs));
  }
  std::vector<Json> JobPods(const std::string& job, bool active_only = true) {
    std::vector<Json> out;
    for (auto& p : List("", "pods", "default", "job-name=" + job)) {
      std::string phase = p["status"].value("phase", "");
      if (active_only && (phase == "Succeeded" || phase == "Failed" || p["metadata"].contains("deletionTimestamp")))
        continue;
      out.push_back(p);
    }
    return out;
  }
  Json JobObj(const std::string& name) { return Get("batch", "jobs", "default", name); }
  int64_t StatusInt(const std::string& job, const char* f) { return St(JobObj(job)).value(f, int64_t{0}); }
};

TEST_F(JobTest, CompletionsWithParallelism) {
  Json job = Create("batch", "jobs", "default", MakeJob("pi", {{"completions", 3}, {"parallelism", 2}}));
  ASSERT_TRUE(WaitFor([&] { return JobPods("pi").size() == 2 && StatusInt("pi", "active") == 2; }));
  Json p = JobPods("pi")[0];
  const std::string uid = job["metadata"]["uid"];
  EXPECT_EQ(p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid);
  EXPECT_EQ(p["metadata"]["labels"]["controller-uid"], uid);
  EXPECT_EQ(p["metadata"]["labels"]["batch.kubernetes.io/job-name"], "pi");
  EXPECT_EQ(p["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ(p["spec"]["restartPolicy"], "Never");
  EXPECT_TRUE(JobObj("pi")["status"].contains("startTime"));

  // Completing pods one at a time never runs more than parallelism, nor
  // more than the completions still missing.
  for (int done = 1; done <= 3; ++done) {
    auto active = JobPods("pi");
    ASSERT_FALSE(active.empty());
    RunPod("default", Name(active[0]), "10.1.0.1");
    FinishPod("default", Name(active[0]), true);
    ASSERT_TRUE(WaitFor([&] { return StatusInt("pi", "succeeded") == done; })) << done;
    ASSERT_TRUE(WaitFor([&] { return static_cast<int>(JobPods("pi").size()) == std::min(2, 3 - done); })) << done;
  }
  ASSERT_TRUE(WaitFor([&] { return CondStatus(JobObj("pi"), "Complete") == "True"; }));
  Json st = St(JobObj("pi"));
  EXPECT_TRUE(st.contains("completionTime"));
  EXPECT_EQ(CondStatus(JobObj("pi"), "SuccessCriteriaMet"), "True");
  EXPECT_EQ(st.value("active", 0), 0);
  EXPECT_EQ(JobPods("pi", false).size(), 3u);
  EXPECT_FALSE(Events("default", "pi", "Completed").empty());
}

TEST_F(JobTest, BackoffLimitExceeded) {
  Create("batch", "jobs", "default", MakeJob("fail", {{"backoffLimit", 1}, {"parallelism", 1}, {"completions", 2}}));
  for (int failures = 1; failures <= 2; ++failures) {
    ASSERT_TRUE(WaitFor([&] { return JobPods("fail").size() == 1; }));
    FinishPod("default", Name(JobPods("fail")[0]), false);
    ASSERT_TRUE(WaitFor([&] { return StatusInt("fail", "failed") == failures; }));
  }
  ASSERT_TRUE(WaitFor([&] { return CondStatus(JobObj("fail"), "Failed") == "True"; }));
  EXPECT_EQ(Cond(JobObj("fail"), "Failed")->value("reason", ""), "BackoffLimitExceeded");
  EXPECT_TRUE(JobPods("fail").empty());
  EXPECT_EQ(JobPods("fail", false).size(), 2u);  // no third try
}

TEST_F(JobTest, ActiveDeadlineFailsAndDeletesPods) {
  Create("batch", "jobs", "default", MakeJob("slow", {{"activeDeadlineSeconds", 30}, {"parallelism", 2}, {"completions", 4}}));
  ASSERT_TRUE(WaitFor([&] { return JobPods("slow").size() == 2; }));
  Advance(31);
  ASSERT_TRUE(WaitFor([&] { return CondStatus(JobObj("slow"), "Failed") == "True"; }));
  EXPECT_EQ(Cond(JobObj("slow"), "Failed")->value("reason", ""), "DeadlineExceeded");
  ASSERT_TRUE(WaitFor([&] { return JobPods("slow").empty(); }));
}

TEST_F(JobTest, IndexedAnnotatesPods) {
  Create("batch", "jobs", "default",
         MakeJob("idx", {{"completions", 3}, {"parallelism", 2}, {"completionMode", "Indexed"}}));
  ASSERT_TRUE(WaitFor([&] { return JobPods("idx").size() == 2; }));
  std::set<std::string> idx;
  for (const auto& p : JobPods("idx")) idx.insert(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]);
  EXPECT_EQ(idx, (std::set<std::string>{"0", "1"}));
  for (const auto& p : JobPods("idx"))
    if (p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1") FinishPod("default", Name(p), true);
  ASSERT_TRUE(WaitFor([&] {
    std::set<std::string> now;
    for (const auto& p : JobPods("idx")) now.insert(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]);
    return now == std::set<std::string>{"0", "2"};
  }));
  EXPECT_EQ(JobObj("idx")["status"]["completedIndexes"], "1");
}

TEST_F(JobTest, SuspendStopsPodsAndResumeStartsThem) {
  Create("batch", "jobs", "default", MakeJob("s", {{"parallelism", 2}, {"completions", 2}}));
  ASSERT_TRUE(WaitFor([&] { return JobPods("s").size() == 2; }));
  Mutate("batch", "jobs", "default", "s", [](Json& o) { o["spec"]["suspend"] = true; });
  ASSERT_TRUE(WaitFor([&] { return JobPods("s").empty() && CondStatus(JobObj("s"), "Suspended") == "True"; }));
  Mutate("batch", "jobs", "default", "s", [](Json& o) { o["spec"]["suspend"] = false; });
  ASSERT_TRUE(WaitFor([&] { return JobPods("s").size() == 2 && CondStatus(JobObj("s"), "Suspended") == "False"; }));
}

TEST_F(JobTest, TtlAfterFinishedDeletesTheJob) {
  Create("batch", "jobs", "default", MakeJob("ttl", {{"ttlSecondsAfterFinished", 100}}));
  ASSERT_TRUE(WaitFor([&] { return JobPods("ttl").size() == 1; }));
  FinishPod("default", Name(JobPods("ttl")[0]), true);
  ASSERT_TRUE(WaitFor([&] { return CondStatus(JobObj("ttl"), "Complete") == "True"; }));
  Advance(101);
  ASSERT_TRUE(WaitFor([&] { return JobObj("ttl").is_null(); }));
}

// ---- CronJob ----

class CronJobTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    std::vector<std::unique_ptr<Controller>> cs;
    cs.push_back(NewCronJobController(os_.get(), FakeClock()));
    Start(std::move(cs));
  }
  Json MakeCronJob(const std::string& name, Json spec_extra = Json::object()) {
    Json cj = {{"apiVersion", "batch/v1"}, {"kind", "CronJob"}, {"metadata", {{"name", name}}},
               {"spec", {{"schedule", "*/1 * * * *"}, {"jobTemplate", {{"metadata", {{"labels", {{"from", "cron"}}}}},
                                                                       {"spec", MakeJob("x")["spec"]}}}}}};
    for (auto it = spec_extra.begin(); it != spec_extra.end(); ++it) cj["spec"][it.key()] = *it;
    return cj;
  }
  std::vector<Json> Jobs() { return List("batch", "jobs", "default"); }
  // The node's and the Job controller's part: the job finished.
  void CompleteJob(const std::string& name, bool ok = true) {
    Mutate("batch", "jobs", "default", name, [&](Json& o) {
      std::string t = FormatRFC3339(now_.load());
      o["status"]["startTime"] = t;
      if (ok) o["status"]["completionTime"] = t;
      o["status"]["conditions"] = Json::array({{{"type", ok ? "Complete" : "Failed"}, {"status", "True"},
                                                {"lastTransitionTime", t}}});
    }, api::Subresource::kStatus);
  }
  // Moves the clock to the next minute boundary plus a second (past the
  // real time too, which stamped the CronJob's creationTimestamp).
  void NextMinute() { now_ = (std::max(now_.load(), NowSeconds()) / 60 + 1) * 60 + 1; }
};

TEST_F(CronJobTest, FiresAtScheduleTimes) {
  Create("batch", "cronjobs", "default", MakeCronJob("tick"));
  // Nothing before the first boundary; the cron job is created "now".
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 1; }));
  Json job = Jobs()[0];
  int64_t minute = (now_.load() - 1) / 60;
  EXPECT_EQ(Name(job), "tick-" + std::to_string(minute));
  EXPECT_EQ(job["metadata"]["labels"]["from"], "cron");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
  EXPECT_EQ(job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"], FormatRFC3339(minute * 60));
  ASSERT_TRUE(WaitFor([&] {
    Json cj = Get("batch", "cronjobs", "default", "tick");
    return St(cj).value("lastScheduleTime", "") == FormatRFC3339(minute * 60) &&
           St(cj).value("active", Json::array()).size() == 1;
  }));
  // Allow: a second run starts while the first is active.
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 2; }));
  CompleteJob(Name(Jobs()[0]));
  ASSERT_TRUE(WaitFor([&] {
    Json cj = Get("batch", "cronjobs", "default", "tick");
    return St(cj).value("active", Json::array()).size() == 1 && St(cj).contains("lastSuccessfulTime");
  }));
}

TEST_F(CronJobTest, ForbidSkipsWhileActive) {
  Create("batch", "cronjobs", "default", MakeCronJob("once", {{"concurrencyPolicy", "Forbid"}}));
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 1; }));
  const std::string first = Name(Jobs()[0]);
  NextMinute();
  // The controller looks again every resync (1 s); the run must wait.
  EXPECT_FALSE(WaitFor([&] { return Jobs().size() > 1; }, 3));
  CompleteJob(first);
  // The waiting run starts once the active one is done.
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 2; }));
}

TEST_F(CronJobTest, ReplaceDeletesTheActiveJob) {
  Create("batch", "cronjobs", "default", MakeCronJob("rep", {{"concurrencyPolicy", "Replace"}}));
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 1; }));
  const std::string first = Name(Jobs()[0]);
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 1 && Name(Jobs()[0]) != first; }));
}

TEST_F(CronJobTest, HistoryLimits) {
  Create("batch", "cronjobs", "default",
         MakeCronJob("hist", {{"successfulJobsHistoryLimit", 2}, {"failedJobsHistoryLimit", 1}}));
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    NextMinute();
    ASSERT_TRUE(WaitFor([&] {
      for (const auto& j : Jobs())
        if (Name(j) == "hist-" + std::to_string(now_.load() / 60)) return true;
      return false;
    })) << i;
    names.push_back("hist-" + std::to_string(now_.load() / 60));
    CompleteJob(names.back(), /*ok=*/i != 1 && i != 2);  // runs 1 and 2 fail
  }
  // Kept: the newest two successes (3, 4) and the newest failure (2).
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 3; }));
  std::set<std::string> left;
  for (const auto& j : Jobs()) left.insert(Name(j));
  EXPECT_EQ(left, (std::set<std::string>{names[2], names[3], names[4]}));
}

TEST_F(CronJobTest, SuspendAndStartingDeadline) {
  Create("batch", "cronjobs", "default", MakeCronJob("sus", {{"suspend", true}}));
  Create("batch", "cronjobs", "default", MakeCronJob("late", {{"startingDeadlineSeconds", 10}}));
  // The boundary passed 30 s ago: too late for "late"; suspended "sus" never runs.
  now_ = (std::max(now_.load(), NowSeconds()) / 60 + 1) * 60 + 30;
  EXPECT_FALSE(WaitFor([&] { return !Jobs().empty(); }, 3));
  NextMinute();
  ASSERT_TRUE(WaitFor([&] { return Jobs().size() == 1; }));
  EXPECT_EQ(Name(Jobs()[0]).rfind("late-", 0), 0u);
}

}  // namespace
}  // namespace berth::controllers::testing
