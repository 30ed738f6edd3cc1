// batch/v1 kinds: Job and CronJob. Defaults from pkg/apis/batch/v1/defaults.go,
// the Job selector generation of the Job registry strategy, checks from
// pkg/apis/batch/validation, columns from kubectl's printers.go.
#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "core/time.h"
#include "kinds/cron.h"
#include "kinds/groups.h"
#include "kinds/pod_spec.h"
#include "kinds/util.h"
#include "kinds/workload.h"

namespace berth::kinds {
namespace {

using api::InvalidValue;
using api::NotSupported;

constexpr char kBatch[] = "io.k8s.api.batch.v1";

bool HasCondition(const Json& o, const char* type) {
  const Json* cs = At(o, {"status", "conditions"});
  if (!cs || !cs->is_array()) return false;
  for (const auto& c : *cs)
    if (Str(c, {"type"}) == type && Str(c, {"status"}) == "True") return true;
  return false;
}

std::string JobStatus(const Json& o) {
  if (HasCondition(o, "Complete")) return "Complete";
  if (HasCondition(o, "Failed")) return "Failed";
  if (Has(o, {"metadata", "deletionTimestamp"})) return "Terminating";
  if (HasCondition(o, "Suspended")) return "Suspended";
  if (HasCondition(o, "FailureTarget")) return "FailureTarget";
  if (HasCondition(o, "SuccessCriteriaMet")) return "SuccessCriteriaMet";
  return "Running";
}

std::string JobCompletions(const Json& o) {
  int64_t ok = Int(o, {"status", "succeeded"});
  if (Has(o, {"spec", "completions"})) return Ratio(ok, Int(o, {"spec", "completions"}));
  if (!Has(o, {"spec", "parallelism"})) return Ratio(ok, 1);
  int64_t par = Int(o, {"spec", "parallelism"});
  return par > 1 ? Ratio(ok, 1) + " of " + std::to_string(par) : Ratio(ok, 1);
}

std::string JobDuration(const Json& o) {
  auto start = ParseRFC3339(Str(o, {"status", "startTime"}));
  if (!start) return "";
  auto done = ParseRFC3339(Str(o, {"status", "completionTime"}));
  return HumanDuration((done ? *done : NowSeconds()) - *start);
}

// The Job registry's generateSelector: pods carry the job's uid and name, and
// the selector picks the uid.
void GenerateJobSelector(Json& o) {
  if (Bool(o, {"spec", "manualSelector"})) return;
  std::string uid = Str(o, {"metadata", "uid"}), name = Str(o, {"metadata", "name"});
  if (uid.empty()) return;
  Json& labels = Obj(o, {"spec", "template", "metadata", "labels"});
  for (const char* k : {"job-name", "batch.kubernetes.io/job-name"}) SetDefault(labels, k, name);
  for (const char* k : {"controller-uid", "batch.kubernetes.io/controller-uid"})
    SetDefault(labels, k, uid);
  Json& ml = Obj(o, {"spec", "selector", "matchLabels"});
  SetDefault(ml, "batch.kubernetes.io/controller-uid", uid);
  Json& meta = Obj(o, {"metadata"});
  if (!Has(meta, {"labels"}) || meta["labels"].empty()) meta["labels"] = labels;
}

void DefaultJobSpec(Json& spec) {
  if (!Has(spec, {"completions"}) && !Has(spec, {"parallelism"})) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  SetDefault(spec, "parallelism", 1);
  SetDefault(spec, "backoffLimit", Has(spec, {"backoffLimitPerIndex"}) ? 2147483647 : 6);
  SetDefault(spec, "completionMode", "NonIndexed");
  SetDefault(spec, "suspend", false);
  SetDefault(spec, "podReplacementPolicy",
             Has(spec, {"podFailurePolicy"}) ? "Failed" : "TerminatingOrFailed");
  if (Json* pfp = const_cast<Json*>(At(spec, {"podFailurePolicy"})))
    ForEach(*pfp, "rules", [](Json& r) {
      ForEach(r, "onPodConditions", [](Json& p) { SetDefault(p, "status", "True"); });
    });
}

void ValidateJobSpec(const Json& spec, const std::string& path, std::vector<Cause>& causes) {
  for (const char* f : {"parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"})
    ValidateNonNegative(spec, f, path + "." + f, causes);
  if (const Json* ads = At(spec, {"activeDeadlineSeconds"});
      ads && ads->is_number() && ads->get<int64_t>() <= 0)
    causes.push_back(
        InvalidValue(path + ".activeDeadlineSeconds", *ads, "must be greater than or equal to 0"));
  std::string mode = Str(spec, {"completionMode"}, "NonIndexed");
  if (mode != "NonIndexed" && mode != "Indexed")
    causes.push_back(NotSupported(path + ".completionMode", mode, {"NonIndexed", "Indexed"}));
  if (mode == "Indexed" && !Has(spec, {"completions"}))
    causes.push_back(api::Required(path + ".completions", "when completion mode is Indexed"));
  const Json* tmpl = At(spec, {"template"});
  if (!tmpl) {
    causes.push_back(api::Required(path + ".template"));
    return;
  }
  ValidatePodTemplate(*tmpl, path + ".template", causes);
  std::string rp = Str(*tmpl, {"spec", "restartPolicy"}, "Always");
  if (rp != "OnFailure" && rp != "Never")
    causes.push_back(
        NotSupported(path + ".template.spec.restartPolicy", rp, {"OnFailure", "Never"}));
  std::string pol = Str(spec, {"podReplacementPolicy"});
  if (!pol.empty() && pol != "TerminatingOrFailed" && pol != "Failed")
    causes.push_back(
        NotSupported(path + ".podReplacementPolicy", pol, {"Failed", "TerminatingOrFailed"}));
}

api::KindInfo Job() {
  auto k = MakeKind({"batch", "v1", "Job", "jobs", "job", true, {}, {"all"}, kBatch});
  k.status_subresource = true;
  k.track_generation = true;
  k.columns = {
      Column(
          "Status", [](const Json& o) -> Json { return JobStatus(o); }, 0, "string",
          "Status of the job."),
      Column(
          "Completions", [](const Json& o) -> Json { return JobCompletions(o); }, 0, "string",
          "The desired number of successfully finished pods the job should be run with."),
      Column(
          "Duration", [](const Json& o) -> Json { return JobDuration(o); }, 0, "string",
          "Time required to complete the job."),
      AgeColumn(),
      Column(
          "Containers",
          [](const Json& o) -> Json {
            return ContainerNames(At(o, {"spec", "template", "spec"}));
          },
          1, "string", "Names of each container in the template."),
      Column(
          "Images",
          [](const Json& o) -> Json {
            return ContainerImages(At(o, {"spec", "template", "spec"}));
          },
          1, "string", "Images referenced by each container in the template."),
      Column(
          "Selector",
          [](const Json& o) -> Json {
            return FormatSelector(At(o, {"spec", "selector"}));
          },
          1, "string", "Selector that selects the pods of the job."),
  };
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    DefaultJobSpec(spec);
    if (Json* t = const_cast<Json*>(At(spec, {"template"}))) DefaultPodTemplate(*t);
    // Job labels default to the template's (SetDefaults_Job).
    const Json* tl = At(o, {"spec", "template", "metadata", "labels"});
    const Json* ml = At(o, {"metadata", "labels"});
    if (tl && tl->is_object() && !tl->empty() && (!ml || ml->empty()))
      Obj(o, {"metadata"})["labels"] = *tl;
  };
  k.hooks.prepare_create = [](Json& o) {
    GenerateJobSelector(o);
    return Status::Ok();
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    const Json* spec = At(o, {"spec"});
    if (!spec) {
      causes.push_back(api::Required("spec"));
      return;
    }
    // Without manualSelector the selector is generated at creation.
    ValidateSelectorMatchesTemplate(o, "job", Bool(*spec, {"manualSelector"}), causes);
    ValidateJobSpec(*spec, "spec", causes);
    if (old) {
      ValidateSelectorImmutable(o, *old, causes);
      for (const char* f : {"completionMode"})
        if (Str(*spec, {f}) != Str(*old, {"spec", f}))
          causes.push_back(api::Immutable(std::string("spec.") + f));
      if (Int(*spec, {"completions"}, -1) != Int(*old, {"spec", "completions"}, -1) &&
          Str(*spec, {"completionMode"}) != "Indexed")
        causes.push_back(api::Immutable("spec.completions"));
      const Json* t = At(*spec, {"template"});
      const Json* ot = At(*old, {"spec", "template"});
      if (!Bool(*old, {"spec", "suspend"}) && (t ? *t : Json()) != (ot ? *ot : Json()))
        causes.push_back(api::Immutable("spec.template"));
    }
  };
  k.hooks.field = [](const Json& o, const std::string& f) -> std::optional<std::string> {
    if (f == "status.successful") return std::to_string(Int(o, {"status", "succeeded"}));
    return std::nullopt;
  };
  return k;
}

api::KindInfo CronJob() {
  auto k =
      MakeKind({"batch", "v1", "CronJob", "cronjobs", "cronjob", true, {"cj"}, {"all"}, kBatch});
  k.status_subresource = true;
  k.track_generation = true;
  auto tmpl_spec = [](const Json& o) {
    return At(o, {"spec", "jobTemplate", "spec", "template", "spec"});
  };
  k.columns = {
      StrColumn("Schedule", {"spec", "schedule"}, 0,
                "The schedule in Cron format."),
      Column(
          "Timezone",
          [](const Json& o) -> Json {
            const Json* tz = At(o, {"spec", "timeZone"});
            return tz && tz->is_string() ? tz->get<std::string>() : "<none>";
          },
          0, "string", "The time zone of the schedule."),
      Column(
          "Suspend",
          [](const Json& o) -> Json {
            const Json* s = At(o, {"spec", "suspend"});
            if (!s || !s->is_boolean()) return "<unset>";
            return s->get<bool>() ? "True" : "False";
          },
          0, "boolean", "Whether subsequent runs are suspended."),
      Column(
          "Active",
          [](const Json& o) -> Json {
            const Json* a = At(o, {"status", "active"});
            return static_cast<int64_t>(a && a->is_array() ? a->size() : 0);
          },
          0, "integer", "Number of running jobs."),
      Column(
          "Last Schedule",
          [](const Json& o) -> Json {
            return Has(o, {"status", "lastScheduleTime"}) ? AgeOf(o, {"status", "lastScheduleTime"})
                                                          : "<none>";
          },
          0, "string", "Time since the last job was scheduled."),
      AgeColumn(),
      Column(
          "Containers", [tmpl_spec](const Json& o) -> Json { return ContainerNames(tmpl_spec(o)); },
          1, "string", "Names of each container in the template."),
      Column(
          "Images", [tmpl_spec](const Json& o) -> Json { return ContainerImages(tmpl_spec(o)); }, 1,
          "string", "Images referenced by each container in the template."),
      Column(
          "Selector",
          [](const Json& o) -> Json {
            return FormatSelector(At(o, {"spec", "jobTemplate", "spec", "selector"}));
          },
          1, "string", "Selector that selects the pods of the jobs."),
  };
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    SetDefault(spec, "concurrencyPolicy", "Allow");
    SetDefault(spec, "suspend", false);
    SetDefault(spec, "successfulJobsHistoryLimit", 3);
    SetDefault(spec, "failedJobsHistoryLimit", 1);
    if (Json* t = const_cast<Json*>(At(spec, {"jobTemplate", "spec", "template"})))
      DefaultPodTemplate(*t);
  };
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    std::string name = Str(o, {"metadata", "name"});
    if (name.size() > 52)
      causes.push_back(InvalidValue("metadata.name", name, "must be no more than 52 characters"));
    const Json* spec = At(o, {"spec"});
    if (!spec) {
      causes.push_back(api::Required("spec"));
      return;
    }
    std::string sched = Str(*spec, {"schedule"});
    if (sched.empty()) {
      causes.push_back(api::Required("spec.schedule"));
    } else {
      auto parsed = CronSchedule::Parse(sched);
      if (!parsed.ok())
        causes.push_back(InvalidValue("spec.schedule", sched, parsed.status().message()));
      if (sched.find("TZ") != std::string::npos)
        causes.push_back(
            InvalidValue("spec.schedule", sched,
                         "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
    }
    if (const Json* tz = At(*spec, {"timeZone"}); tz && tz->is_string()) {
      std::string z = tz->get<std::string>();
      bool ok = !z.empty() && z != "Local" && z.find("..") == std::string::npos && z.front() != '/';
      for (char c : z)
        ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
                    c == '+');
      if (!ok) causes.push_back(InvalidValue("spec.timeZone", z, "unknown time zone " + z));
    }
    std::string cp = Str(*spec, {"concurrencyPolicy"}, "Allow");
    if (cp != "Allow" && cp != "Forbid" && cp != "Replace")
      causes.push_back(NotSupported("spec.concurrencyPolicy", cp, {"Allow", "Forbid", "Replace"}));
    for (const char* f :
         {"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"})
      ValidateNonNegative(*spec, f, std::string("spec.") + f, causes);
    const Json* js = At(*spec, {"jobTemplate", "spec"});
    if (!js) {
      causes.push_back(api::Required("spec.jobTemplate"));
      return;
    }
    if (Bool(*js, {"manualSelector"}) && !Has(*js, {"selector"}))
      causes.push_back(api::Required("spec.jobTemplate.spec.selector"));
    ValidateJobSpec(*js, "spec.jobTemplate.spec", causes);
  };
  return k;
}

}  // namespace

void RegisterBatchV1(api::KindRegistry& reg) {
  reg.Register(Job());
  reg.Register(CronJob());
}

}  // namespace berth::kinds
