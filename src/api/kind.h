// A kind of API object, described as data.
//
// Every resource the API serves (built-in kinds, CRD-defined kinds, Berth's own
// kinds) is one KindInfo registered in the KindRegistry. The generic REST
// machinery (api/rest.cpp), discovery, OpenAPI, tables, validation and watch
// all read it; nothing in api/ knows a kind by name except through hooks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth::api {

// One column of the server-side Table (kubectl get). `cell` renders the value
// from the full object; return a string or a number as JSON.
struct TableColumn {
  std::string name;         // "Ready"
  std::string type = "string";  // "string", "integer", "date", "number"
  std::string format;       // "name" for the first column
  std::string description;
  int priority = 0;         // 1 = shown only with -o wide
  std::function<Json(const Json& obj)> cell;
};

// Per-kind behaviour beyond the data. Every hook is optional.
struct KindHooks {
  // Fills defaulted fields, as the apiserver's defaulting does, on create and
  // update (before validation).
  std::function<void(Json& obj)> defaults;
  // Validates an object; `old` is null on create. Appends field causes
  // (reason "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported",
  // "FieldValueForbidden", "FieldValueDuplicate", "FieldValueTooLong"...),
  // field paths like "spec.template.spec.containers[0].image".
  std::function<void(const Json& obj, const Json* old, std::vector<Cause>& causes)> validate;
  // Prepares an object before it is first stored (e.g. a Pod's status.phase =
  // Pending, a Service's clusterIP). May fail the request.
  std::function<Status(Json& obj)> prepare_create;
  // Carries over server-assigned values the client left out on an update
  // (a Service's clusterIP, node ports). Runs before defaults.
  std::function<void(Json& obj, const Json& old)> prepare_update;
  // Extra field-selector fields: returns the value of `field` or nullopt if the
  // field is not supported for this kind (metadata.name and metadata.namespace
  // are always supported).
  std::function<std::optional<std::string>(const Json& obj, const std::string& field)> field;
  // Called after a successful create/update/delete (not for dry runs).
  std::function<void(const std::string& verb, const Json& obj)> after_write;
};

struct ScaleInfo {
  std::string spec_replicas_path = "/spec/replicas";      // JSON pointer
  std::string status_replicas_path = "/status/replicas";
  std::string label_selector_path = "/spec/selector";     // a metav1.LabelSelector
};

struct KindInfo {
  std::string group;      // "" for the core group
  std::string version;    // "v1"
  std::string kind;       // "Deployment"
  std::string resource;   // "deployments" (plural, lower case)
  std::string singular;   // "deployment"
  std::string list_kind;  // "DeploymentList"
  std::vector<std::string> short_names;
  std::vector<std::string> categories;  // "all"
  bool namespaced = true;
  // Verbs served (discovery); the REST layer refuses others with 405.
  std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get",
                                    "list",   "patch",  "update",           "watch"};
  bool status_subresource = false;  // main PUT/PATCH ignore status; /status ignores the rest
  std::optional<ScaleInfo> scale;   // serves /scale as autoscaling/v1 Scale
  bool track_generation = false;    // metadata.generation: 1, +1 per spec change
  bool encrypt_at_rest = false;     // values stored encrypted (Secrets)
  // Name rule: "subdomain" (DNS-1123 subdomain, 253), "label" (DNS-1123 label,
  // 63), "path" (only no '/' '%' '.' '..'), as the apiserver applies per kind.
  std::string name_rule = "subdomain";
  // OpenAPI v3 schema name of the top-level type in components.schemas, e.g.
  // "io.k8s.api.apps.v1.Deployment". Used for discovery, explain, strict
  // field validation (unknown fields) and CRD structural validation.
  std::string schema_ref;
  std::vector<TableColumn> columns;  // after the implied "Name" column
  // False for kinds whose table has no leading Name column (Events print
  // LAST SEEN first and show the name only as a wide column).
  bool table_name_column = true;
  KindHooks hooks;
  bool from_crd = false;  // defined by a CustomResourceDefinition

  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string ApiVersion() const { return GroupVersion(); }
  // "deployments.apps" / "pods": the qualified resource used in error messages.
  std::string QualifiedResource() const { return group.empty() ? resource : resource + "." + group; }
};

using KindPtr = std::shared_ptr<const KindInfo>;

// Thread-safe registry of served kinds. CRDs add and remove kinds at run time,
// so lookups return shared pointers that stay valid while held.
class KindRegistry {
 public:
  void Register(KindInfo info);
  void Unregister(const std::string& group, const std::string& version, const std::string& resource);
  KindPtr Find(const std::string& group, const std::string& version, const std::string& resource) const;
  KindPtr FindByKind(const std::string& group, const std::string& version, const std::string& kind) const;
  // Every served kind, ordered by group then version then resource.
  std::vector<KindPtr> All() const;
  // Monotonic counter bumped on every change (lets caches of discovery and
  // OpenAPI documents know when to rebuild).
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, KindPtr> by_resource_;  // "group/version/resource"
  uint64_t generation_ = 0;
};

// Schemas (OpenAPI v3, as in /openapi/v3 components.schemas) keyed by name.
// Built-in kinds register their type graph once; CRDs add theirs.
class SchemaRegistry {
 public:
  void Add(const std::string& name, const Json& schema);
  void Remove(const std::string& name);
  // Returns a copy-free pointer valid while the registry lives and the entry
  // is not replaced; nullptr if absent.
  std::shared_ptr<const Json> Get(const std::string& name) const;
  std::vector<std::string> Names() const;
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Json>> schemas_;
  uint64_t generation_ = 0;
};

}  // namespace berth::api
