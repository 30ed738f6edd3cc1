// registry.berth.dev/v1: Project, RobotAccount, GarbageCollection and
// ArtifactCopy, the registry's configuration as API objects (the registry
// module serves the images and runs their controllers).
#include <set>

#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "core/strings.h"
#include "kinds/groups.h"
#include "kinds/quantity.h"
#include "kinds/util.h"

namespace berth::kinds {
namespace {

constexpr const char* kPackage = "dev.berth.registry.v1";
constexpr const char* kRepositoriesFinalizer = "registry.berth.dev/repositories";

void ValidateProjectPolicies(const Json& spec, std::vector<Cause>& causes) {
  if (const Json* tags = At(spec, {"immutableTags"}); tags && tags->is_array()) {
    for (size_t i = 0; i < tags->size(); ++i)
      if (!(*tags)[i].is_string() || (*tags)[i].get<std::string>().empty())
        causes.push_back(api::Required("spec.immutableTags[" + std::to_string(i) + "]", "a tag pattern"));
  }
  if (const Json* rules = At(spec, {"retention", "rules"}); rules && rules->is_array()) {
    for (size_t i = 0; i < rules->size(); ++i) {
      const Json& r = (*rules)[i];
      std::string f = "spec.retention.rules[" + std::to_string(i) + "]";
      if (!Has(r, {"keepLast"}) && !Has(r, {"keepNewerThanSeconds"}))
        causes.push_back(api::Required(f, "a rule keeps by keepLast, keepNewerThanSeconds or both"));
      for (const char* k : {"keepLast", "keepNewerThanSeconds"})
        if (Int(r, {k}) < 0) causes.push_back(api::InvalidValue(f + "." + k, r[k], "must be greater than or equal to 0"));
    }
  }
  if (Int(spec, {"retention", "intervalSeconds"}) < 0)
    causes.push_back(api::InvalidValue("spec.retention.intervalSeconds", spec["retention"]["intervalSeconds"],
                                       "must be greater than or equal to 0"));
  if (const Json* hooks = At(spec, {"webhooks"}); hooks && hooks->is_array()) {
    for (size_t i = 0; i < hooks->size(); ++i) {
      const Json& h = (*hooks)[i];
      std::string f = "spec.webhooks[" + std::to_string(i) + "]";
      std::string url = Str(h, {"url"});
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        causes.push_back(api::InvalidValue(f + ".url", url, "must be an http:// or https:// URL"));
      if (const Json* ev = At(h, {"events"}); ev && ev->is_array()) {
        for (size_t j = 0; j < ev->size(); ++j) {
          std::string e = (*ev)[j].is_string() ? (*ev)[j].get<std::string>() : "";
          if (e != "PUSH_ARTIFACT" && e != "DELETE_ARTIFACT")
            causes.push_back(api::NotSupported(f + ".events[" + std::to_string(j) + "]", (*ev)[j],
                                               {"PUSH_ARTIFACT", "DELETE_ARTIFACT"}));
        }
      }
    }
  }
}

void ValidateProject(const Json& o, const Json*, std::vector<Cause>& causes) {
  std::string name = Str(o, {"metadata", "name"});
  if (!name.empty() && !IsOciPathComponent(name))
    causes.push_back(api::InvalidValue("metadata.name", name,
                                       "a project name must be lower-case letters and digits, separated by "
                                       "'.', '_', '__' or '-' (the first component of a repository name)"));
  const Json* spec = At(o, {"spec"});
  if (!spec) return;
  ValidateProjectPolicies(*spec, causes);
  if (const Json* q = At(*spec, {"storageLimit"}); q && !q->is_null()) {
    auto parsed = Quantity::Parse(q->is_string() ? q->get<std::string>() : q->dump());
    if (!parsed.ok() || parsed->IsNegative())
      causes.push_back(api::InvalidValue("spec.storageLimit", *q, "must be a non-negative quantity"));
  }
  if (const Json* m = At(*spec, {"members"}); m && m->is_array()) {
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t i = 0; i < m->size(); ++i) {
      const Json& e = (*m)[i];
      std::string f = "spec.members[" + std::to_string(i) + "]";
      std::string kind = Str(e, {"kind"}), who = Str(e, {"name"}), role = Str(e, {"role"});
      if (kind != "User" && kind != "Group") causes.push_back(api::NotSupported(f + ".kind", kind, {"User", "Group"}));
      if (who.empty()) causes.push_back(api::Required(f + ".name"));
      if (role != "admin" && role != "maintainer" && role != "developer" && role != "guest")
        causes.push_back(api::NotSupported(f + ".role", role, {"admin", "maintainer", "developer", "guest"}));
      if (!seen.insert({kind, who}).second) causes.push_back(api::Duplicate(f, kind + " " + who));
    }
  }
}

void ValidateRobot(const Json& o, const Json*, std::vector<Cause>& causes) {
  std::string name = Str(o, {"metadata", "name"});
  if (!name.empty() && !IsOciPathComponent(name))
    causes.push_back(api::InvalidValue("metadata.name", name, "a robot name must be lower-case letters and digits, "
                                                              "separated by '.', '_' or '-'"));
  const Json* perms = At(o, {"spec", "permissions"});
  if (!perms || !perms->is_array() || perms->empty()) {
    causes.push_back(api::Required("spec.permissions", "a robot needs at least one permission"));
    return;
  }
  for (size_t i = 0; i < perms->size(); ++i) {
    const Json& p = (*perms)[i];
    std::string f = "spec.permissions[" + std::to_string(i) + "]";
    if (Str(p, {"project"}).empty()) causes.push_back(api::Required(f + ".project"));
    const Json* actions = At(p, {"actions"});
    if (!actions || !actions->is_array() || actions->empty()) {
      causes.push_back(api::Required(f + ".actions"));
      continue;
    }
    for (size_t j = 0; j < actions->size(); ++j) {
      std::string a = (*actions)[j].is_string() ? (*actions)[j].get<std::string>() : "";
      if (a != "pull" && a != "push" && a != "delete")
        causes.push_back(api::NotSupported(f + ".actions[" + std::to_string(j) + "]", (*actions)[j],
                                           {"pull", "push", "delete"}));
    }
  }
}

void ValidateGc(const Json& o, const Json* old, std::vector<Cause>& causes) {
  for (const char* f : {"keepRecentSeconds", "uploadExpirySeconds"})
    if (const Json* k = At(o, {"spec", f}); k && k->is_number() && k->get<int64_t>() < 0)
      causes.push_back(api::InvalidValue(std::string("spec.") + f, *k, "must be greater than or equal to 0"));
  if (old && At(o, {"spec"}) && At(*old, {"spec"}) && *At(o, {"spec"}) != *At(*old, {"spec"}))
    causes.push_back(api::Immutable("spec"));
}

void ValidateCopy(const Json& o, const Json* old, std::vector<Cause>& causes) {
  for (const char* f : {"from", "to"}) {
    std::string v = Str(o, {"spec", f});
    if (v.empty()) causes.push_back(api::Required(std::string("spec.") + f));
  }
  std::string from = Str(o, {"spec", "from"});
  if (!from.empty() && from.find('@') == std::string::npos && from.find(':') == std::string::npos)
    causes.push_back(api::InvalidValue("spec.from", from, "must name a tag (REPOSITORY:TAG) or a digest (REPOSITORY@DIGEST)"));
  if (old && At(o, {"spec"}) && At(*old, {"spec"}) && *At(o, {"spec"}) != *At(*old, {"spec"}))
    causes.push_back(api::Immutable("spec"));
}

void ValidateReplication(const Json& o, const Json*, std::vector<Cause>& causes) {
  std::string dir = Str(o, {"spec", "direction"});
  if (dir != "Push" && dir != "Pull") causes.push_back(api::NotSupported("spec.direction", dir, {"Push", "Pull"}));
  std::string url = Str(o, {"spec", "remote", "url"});
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    causes.push_back(api::InvalidValue("spec.remote.url", url, "must be an https:// or http:// URL"));
  const Json* repos = At(o, {"spec", "repositories"});
  if (!repos || !repos->is_array() || repos->empty()) causes.push_back(api::Required("spec.repositories"));
  if (dir == "Pull" && !IsOciPathComponent(Str(o, {"spec", "destination"})))
    causes.push_back(api::Required("spec.destination", "a Pull replication names the local project to put images in"));
  if (Int(o, {"spec", "intervalSeconds"}) < 0)
    causes.push_back(api::InvalidValue("spec.intervalSeconds", o["spec"]["intervalSeconds"], "must be greater than or equal to 0"));
}

api::KindInfo Cluster(const std::string& kind, const std::string& resource, const std::string& singular,
                      std::vector<std::string> short_names) {
  auto k = MakeKind({"registry.berth.dev", "v1", kind, resource, singular, false, std::move(short_names), {"berth"},
                     kPackage});
  k.status_subresource = true;
  k.track_generation = true;
  return k;
}

}  // namespace

void RegisterRegistryV1(api::KindRegistry& reg) {
  auto project = Cluster("Project", "projects", "project", {"proj"});
  project.columns = {
      Column("Public", [](const Json& o) { return Json(Bool(o, {"spec", "public"}) ? "true" : "false"); }),
      Column("Repositories", [](const Json& o) { return Json(Int(o, {"status", "repositoryCount"})); }),
      Column("Used", [](const Json& o) { return Json(Quantity::FromInt(Int(o, {"status", "usedBytes"}), Quantity::Format::kBinarySI).ToString()); }),
      Column("Limit", [](const Json& o) { return Json(Str(o, {"spec", "storageLimit"}, "<none>")); }),
      AgeColumn()};
  project.hooks.validate = ValidateProject;
  // The registry removes a deleted project's repositories before the object
  // goes (the finalizer is the registry's to remove).
  project.hooks.prepare_create = [](Json& o) {
    Json& fin = Obj(o, {"metadata"})["finalizers"];
    if (!fin.is_array()) fin = Json::array();
    bool present = false;
    for (const Json& f : fin) present = present || f == kRepositoriesFinalizer;
    if (!present) fin.push_back(kRepositoriesFinalizer);
    return Status::Ok();
  };
  reg.Register(std::move(project));

  auto robot = Cluster("RobotAccount", "robotaccounts", "robotaccount", {"robot"});
  robot.columns = {StrColumn("Username", {"status", "username"}, 0, "The user name for docker login."),
                   StrColumn("Expires", {"spec", "expiresAt"}, 0, "When it stops working."),
                   Column("Disabled", [](const Json& o) { return Json(Bool(o, {"spec", "disabled"}) ? "true" : "false"); }),
                   AgeColumn()};
  robot.hooks.validate = ValidateRobot;
  reg.Register(std::move(robot));

  auto gc = Cluster("GarbageCollection", "garbagecollections", "garbagecollection", {"gc"});
  gc.columns = {StrColumn("Phase", {"status", "phase"}, 0, "Pending, Running, Succeeded or Failed."),
                IntColumn("Blobs", {"status", "blobsDeleted"}, 0, "Blobs removed."),
                IntColumn("Manifests", {"status", "manifestsDeleted"}, 0, "Manifests removed."),
                IntColumn("Freed", {"status", "bytesFreed"}, 0, "Bytes freed."),
                AgeColumn()};
  gc.hooks.validate = ValidateGc;
  reg.Register(std::move(gc));

  auto copy = Cluster("ArtifactCopy", "artifactcopies", "artifactcopy", {"acopy"});
  copy.columns = {StrColumn("From", {"spec", "from"}, 0, "Source."),
                  StrColumn("To", {"spec", "to"}, 0, "Destination."),
                  StrColumn("Phase", {"status", "phase"}, 0, "Pending, Succeeded or Failed."),
                  StrColumn("Digest", {"status", "digest"}, 1, "The copied manifest."),
                  AgeColumn()};
  copy.hooks.validate = ValidateCopy;
  reg.Register(std::move(copy));

  auto repl = Cluster("Replication", "replications", "replication", {"repl"});
  repl.columns = {StrColumn("Direction", {"spec", "direction"}, 0, "Push or Pull."),
                  StrColumn("Remote", {"spec", "remote", "url"}, 0, "The other registry."),
                  StrColumn("Phase", {"status", "phase"}, 0, "Running, Succeeded or Failed."),
                  IntColumn("Copied", {"status", "copied"}, 0, "Artifacts copied by the last run."),
                  IntColumn("Skipped", {"status", "skipped"}, 1, "Artifacts already in place."),
                  AgeColumn()};
  repl.hooks.validate = ValidateReplication;
  reg.Register(std::move(repl));
}

}  // namespace berth::kinds
