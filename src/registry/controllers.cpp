// The registry's controllers: robot accounts get their secret, projects their
// usage, GarbageCollection and ArtifactCopy objects are carried out once each
// and record the outcome in status.
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "core/time.h"
#include "registry/internal.h"

namespace berth::registry {
namespace {

constexpr const char* kSystemNamespace = "berth-system";

Json Condition(const std::string& type, bool ok, const std::string& reason, const std::string& message) {
  return {{"type", type},
          {"status", ok ? "True" : "False"},
          {"reason", reason},
          {"message", message},
          {"lastTransitionTime", FormatRFC3339(NowSeconds())}};
}

// Writes status when it differs from what the object has (conditions'
// transition times aside).
Status WriteStatus(api::ObjectStore* os, const api::KindInfo& k, const std::string& name, Json status) {
  auto r = os->Mutate(k, "", name, [&](Json& o) {
    Json old = o.value("status", Json::object());
    if (old.contains("conditions") && status.contains("conditions")) {
      // Keep a condition's lastTransitionTime while its status is unchanged.
      for (Json& c : status["conditions"])
        for (const Json& oc : old["conditions"])
          if (oc.value("type", "") == c.value("type", "") && oc.value("status", "") == c.value("status", ""))
            c["lastTransitionTime"] = oc.value("lastTransitionTime", c["lastTransitionTime"]);
    }
    o["status"] = status;
    return Status::Ok();
  }, api::Subresource::kStatus);
  return r.status();
}

class RobotController : public controllers::Controller {
 public:
  RobotController(api::ObjectStore* os, Registry::Impl* reg) : Controller(os), reg_(reg) {}
  const char* name() const override { return "registry-robot"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "registry.berth.dev" && k.resource == "robotaccounts";
  }
  Status Reconcile(const std::string& name) override {
    auto robot = os_->Get(*reg_->robot_kind, "", name);
    if (!robot.ok()) return robot.status();
    if (!(*robot)["metadata"].value("deletionTimestamp", "").empty()) return Status::Ok();
    std::string secret_name = "registry-robot-" + name;
    auto secret = os_->Get(*reg_->secret_kind, kSystemNamespace, secret_name);
    if (!secret.ok()) {
      if (secret.status().code() != Code::kNotFound) return secret.status();
      EnsureNamespace();
      Json obj = {{"apiVersion", "v1"},
                  {"kind", "Secret"},
                  {"type", "Opaque"},
                  {"metadata",
                   {{"name", secret_name},
                    {"namespace", kSystemNamespace},
                    {"labels", {{"registry.berth.dev/robot", name}}},
                    {"ownerReferences", Json::array({controllers::OwnerRef(*reg_->robot_kind, *robot, true)})}}},
                  {"data", {{"secret", Base64Encode(HexEncode(RandomBytes(20)))}, {"username", Base64Encode("robot$" + name)}}}};
      auto c = os_->Create(*reg_->secret_kind, kSystemNamespace, obj, api::WriteOptions{});
      if (!c.ok() && c.status().code() != Code::kAlreadyExists) return c.status();
    }
    Json status = {{"username", "robot$" + name},
                   {"secretRef", {{"namespace", kSystemNamespace}, {"name", secret_name}}},
                   {"conditions", Json::array({Condition("Ready", true, "SecretCreated",
                                                         "log in as robot$" + name + " with the secret's \"secret\" key")})}};
    const Json old = robot->value("status", Json::object());
    if (old.value("username", "") == status["username"] && old.value("secretRef", Json()) == status["secretRef"])
      return Status::Ok();
    return WriteStatus(os_, *reg_->robot_kind, name, status);
  }

 private:
  void EnsureNamespace() {
    auto nsk = os_->kinds()->Find("", "v1", "namespaces");
    if (!nsk || os_->Get(*nsk, "", kSystemNamespace).ok()) return;
    Json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kSystemNamespace}}}};
    (void)os_->Create(*nsk, "", ns, api::WriteOptions{});
  }
  Registry::Impl* reg_;
};

// Keeps status.usedBytes and repositoryCount of every project current; pushes
// do not write the API store, so this polls the registry's metadata.
class ProjectStatusController : public controllers::Controller {
 public:
  ProjectStatusController(api::ObjectStore* os, Registry* registry, Registry::Impl* reg)
      : Controller(os), registry_(registry), reg_(reg) {}
  const char* name() const override { return "registry-project"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "registry.berth.dev" && k.resource == "projects";
  }
  void Resync() override {
    if (++ticks_ % 5 != 0) return;
    auto list = os_->List(*reg_->project_kind, api::ListParams{});
    if (!list.ok()) return;
    for (const Json& p : list->items) queue().Push(p["metadata"].value("name", ""));
  }
  Status Reconcile(const std::string& name) override {
    auto proj = os_->Get(*reg_->project_kind, "", name);
    if (!proj.ok()) return proj.status();
    if (!(*proj)["metadata"].value("deletionTimestamp", "").empty()) return Finalize(name);
    BERTH_ASSIGN_OR_RETURN(int64_t used, reg_->meta->ProjectUsage(name));
    BERTH_ASSIGN_OR_RETURN(int64_t repos, reg_->meta->ProjectRepositoryCount(name));
    Json old = proj->value("status", Json::object());
    Json status = old;
    status["usedBytes"] = used;
    status["repositoryCount"] = repos;
    status["conditions"] = Json::array({Condition("Ready", true, "Serving", "")});
    // Retention: whenever the policy changed, and then every intervalSeconds.
    const Json retention = proj->value("spec", Json::object()).value("retention", Json::object());
    int64_t generation = (*proj)["metadata"].value("generation", int64_t{0});
    if (!retention.value("rules", Json::array()).empty()) {
      int64_t interval = retention.value("intervalSeconds", int64_t{3600});
      auto last = ParseRFC3339(old.value("lastRetentionTime", ""));
      if (old.value("retentionGeneration", int64_t{0}) != generation || !last || NowSeconds() - *last >= interval) {
        auto res = registry_->ApplyRetention(name);
        if (!res.ok()) return res.status();
        status["lastRetentionTime"] = FormatRFC3339(NowSeconds());
        status["retentionGeneration"] = generation;
        status["retentionDeletedTags"] = res->tags_deleted;
        BERTH_ASSIGN_OR_RETURN(used, reg_->meta->ProjectUsage(name));
        BERTH_ASSIGN_OR_RETURN(repos, reg_->meta->ProjectRepositoryCount(name));
        status["usedBytes"] = used;
        status["repositoryCount"] = repos;
      }
    }
    if (Strip(status) == Strip(old)) return Status::Ok();
    return WriteStatus(os_, *reg_->project_kind, name, status);
  }

 private:
  // A deleted project: forget its repositories, then release the object.
  Status Finalize(const std::string& name) {
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> repos, reg_->meta->ProjectRepositories(name));
    for (const std::string& repo : repos) BERTH_RETURN_IF_ERROR(reg_->meta->DeleteRepository(repo));
    if (!repos.empty()) log::Info("project deleted", log::Fields()("project", name)("repositories", repos.size()));
    auto r = os_->Mutate(*reg_->project_kind, "", name, [](Json& o) {
      Json& fin = o["metadata"]["finalizers"];
      if (!fin.is_array()) return Status::Ok();
      Json keep = Json::array();
      for (const Json& f : fin)
        if (f != "registry.berth.dev/repositories") keep.push_back(f);
      fin = keep;
      return Status::Ok();
    });
    return r.ok() || r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  }

  // Status without the conditions' times, to compare.
  static Json Strip(Json s) {
    if (s.contains("conditions"))
      for (Json& c : s["conditions"]) c.erase("lastTransitionTime");
    return s;
  }
  Registry* registry_;
  Registry::Impl* reg_;
  int ticks_ = 0;
};

// An object that asks for one action (a garbage collection, a copy): run once,
// record the outcome in status.phase (Succeeded or Failed) and never again.
class OneShotController : public controllers::Controller {
 public:
  OneShotController(api::ObjectStore* os, Registry* reg, const char* name, const char* resource)
      : Controller(os), reg_(reg), name_(name), resource_(resource) {
    kind_ = os->kinds()->Find("registry.berth.dev", "v1", resource);
  }
  const char* name() const override { return name_; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "registry.berth.dev" && k.resource == resource_;
  }
  Status Reconcile(const std::string& name) override {
    auto obj = os_->Get(*kind_, "", name);
    if (!obj.ok()) return obj.status();
    std::string phase = obj->value("status", Json::object()).value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") return Status::Ok();
    Json status = {{"startTime", FormatRFC3339(NowSeconds())}};
    BERTH_RETURN_IF_ERROR(WriteStatus(os_, *kind_, name, {{"phase", "Running"}, {"startTime", status["startTime"]}}));
    Status st = Run(obj->value("spec", Json::object()), status);
    status["completionTime"] = FormatRFC3339(NowSeconds());
    status["phase"] = st.ok() ? "Succeeded" : "Failed";
    if (!st.ok()) status["message"] = st.message();
    return WriteStatus(os_, *kind_, name, status);
  }

 protected:
  // Carries out the action; adds its figures to `status`.
  virtual Status Run(const Json& spec, Json& status) = 0;
  Registry* reg_;

 private:
  const char* name_;
  const char* resource_;
  api::KindPtr kind_;
};

class GcController : public OneShotController {
 public:
  GcController(api::ObjectStore* os, Registry* reg) : OneShotController(os, reg, "registry-gc", "garbagecollections") {}

 protected:
  Status Run(const Json& spec, Json& status) override {
    GcOptions o;
    o.delete_untagged = spec.value("deleteUntagged", false);
    o.dry_run = spec.value("dryRun", false);
    o.cutoff_ms = NowMicros() / 1000 - spec.value("keepRecentSeconds", int64_t{3600}) * 1000;
    o.upload_expiry_seconds = spec.value("uploadExpirySeconds", int64_t{-1});
    if (std::string before = spec.value("unreferencedBefore", ""); !before.empty()) {
      if (auto t = ParseRFC3339(before)) o.cutoff_ms = *t * 1000;
    }
    BERTH_ASSIGN_OR_RETURN(GcResult res, reg_->CollectGarbage(o));
    status["blobsDeleted"] = res.blobs_deleted;
    status["manifestsDeleted"] = res.manifests_deleted;
    status["uploadsDeleted"] = res.uploads_deleted;
    status["bytesFreed"] = res.bytes_freed;
    return Status::Ok();
  }
};

class CopyController : public OneShotController {
 public:
  CopyController(api::ObjectStore* os, Registry* reg) : OneShotController(os, reg, "registry-copy", "artifactcopies") {}

 protected:
  Status Run(const Json& spec, Json& status) override {
    BERTH_ASSIGN_OR_RETURN(std::string digest, reg_->Copy(spec.value("from", ""), spec.value("to", "")));
    status["digest"] = digest;
    return Status::Ok();
  }
};

}  // namespace

std::vector<std::unique_ptr<controllers::Controller>> Registry::NewControllers() {
  std::vector<std::unique_ptr<controllers::Controller>> out;
  out.push_back(std::make_unique<RobotController>(impl_->os, impl_.get()));
  out.push_back(std::make_unique<ProjectStatusController>(impl_->os, this, impl_.get()));
  out.push_back(std::make_unique<GcController>(impl_->os, this));
  out.push_back(std::make_unique<CopyController>(impl_->os, this));
  out.push_back(NewReplicationController(impl_->os, impl_.get()));
  return out;
}

}  // namespace berth::registry
