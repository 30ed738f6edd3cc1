#include "api/crd.h"

#include <nlohmann/json.hpp>

#include "api/internal.h"
#include "core/log.h"
#include "core/time.h"

namespace berth::api {
namespace {

std::string SchemaName(const std::string& group, const std::string& version, const std::string& kind) {
  // Reverse-DNS like the apiserver's published names for custom resources.
  std::string g = group;
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= g.size()) {
    size_t j = g.find('.', i);
    if (j == std::string::npos) j = g.size();
    parts.insert(parts.begin(), g.substr(i, j - i));
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += p + ".";
  return out + version + "." + kind;
}

Json AgeFromObject(const Json& obj) {
  auto t = obj.contains("metadata") ? obj["metadata"].value("creationTimestamp", "") : "";
  auto s = ParseRFC3339(t);
  return s ? Json(HumanDuration(NowSeconds() - *s)) : Json("<unknown>");
}

std::string CellString(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

std::vector<KindInfo> KindsFromCrd(const Json& crd, SchemaRegistry* schemas) {
  std::vector<KindInfo> out;
  const Json& spec = crd.value("spec", Json::object());
  const Json& names = spec.value("names", Json::object());
  for (const auto& v : spec.value("versions", Json::array())) {
    if (!v.value("served", false)) continue;
    KindInfo k;
    k.group = spec.value("group", "");
    k.version = v.value("name", "");
    k.kind = names.value("kind", "");
    k.resource = names.value("plural", "");
    k.singular = names.value("singular", "");
    if (k.singular.empty()) {
      k.singular = k.kind;
      for (auto& c : k.singular) c = static_cast<char>(tolower(c));
    }
    k.list_kind = names.value("listKind", k.kind + "List");
    if (names.contains("shortNames")) k.short_names = names["shortNames"].get<std::vector<std::string>>();
    if (names.contains("categories")) k.categories = names["categories"].get<std::vector<std::string>>();
    k.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    k.track_generation = true;
    k.from_crd = true;
    k.verbs = {"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"};
    const Json& subs = v.value("subresources", Json::object());
    k.status_subresource = subs.contains("status");
    if (subs.contains("scale") && subs["scale"].is_object()) {
      ScaleInfo si;
      auto ptr = [](std::string p) {
        for (auto& c : p) if (c == '.') c = '/';
        return p;
      };
      si.spec_replicas_path = ptr(subs["scale"].value("specReplicasPath", ".spec.replicas"));
      si.status_replicas_path = ptr(subs["scale"].value("statusReplicasPath", ".status.replicas"));
      si.label_selector_path = ptr(subs["scale"].value("labelSelectorPath", ".status.selector"));
      k.scale = si;
    }
    if (v.contains("schema") && v["schema"].is_object() && v["schema"].contains("openAPIV3Schema")) {
      Json schema = v["schema"]["openAPIV3Schema"];
      // Expose metadata as ObjectMeta and apiVersion/kind like the apiserver's
      // published CR schemas, so explain and strict validation see them.
      if (!schema.contains("properties")) schema["properties"] = Json::object();
      schema["properties"]["metadata"] = {{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}};
      schema["properties"]["apiVersion"] = {{"type", "string"}, {"description", "APIVersion of this object."}};
      schema["properties"]["kind"] = {{"type", "string"}, {"description", "Kind of this object."}};
      schema["x-kubernetes-group-version-kind"] = Json::array({{{"group", k.group}, {"version", k.version}, {"kind", k.kind}}});
      k.schema_ref = SchemaName(k.group, k.version, k.kind);
      if (schemas) schemas->Add(k.schema_ref, schema);
    }
    bool has_age = false;
    for (const auto& col : v.value("additionalPrinterColumns", Json::array())) {
      TableColumn c;
      c.name = col.value("name", "");
      c.type = col.value("type", "string");
      c.format = col.value("format", "");
      c.description = col.value("description", "");
      c.priority = col.value("priority", 0);
      std::string path = col.value("jsonPath", "");
      if (c.type == "date") {
        c.type = "string";
        c.cell = [path](const Json& obj) -> Json {
          Json v = internal::EvalSimpleJsonPath(obj, path);
          auto s = v.is_string() ? ParseRFC3339(v.get<std::string>()) : std::nullopt;
          return s ? Json(HumanDuration(NowSeconds() - *s)) : Json("<unknown>");
        };
        if (path == ".metadata.creationTimestamp") has_age = true;
      } else if (c.type == "integer" || c.type == "number") {
        c.cell = [path](const Json& obj) { return internal::EvalSimpleJsonPath(obj, path); };
      } else {
        c.cell = [path](const Json& obj) -> Json {
          Json v = internal::EvalSimpleJsonPath(obj, path);
          return v.is_null() ? Json(nullptr) : Json(CellString(v));
        };
      }
      k.columns.push_back(std::move(c));
    }
    if (!has_age) {
      TableColumn age;
      age.name = "Age";
      age.type = "date";
      age.cell = AgeFromObject;
      k.columns.push_back(std::move(age));
    }
    out.push_back(std::move(k));
  }
  return out;
}

namespace {

void Register(ObjectStore* os, const Json& crd) {
  for (auto& k : KindsFromCrd(crd, os->schemas())) os->kinds()->Register(std::move(k));
}

void Unregister(ObjectStore* os, const Json& crd, bool delete_data) {
  const Json& spec = crd.value("spec", Json::object());
  std::string group = spec.value("group", "");
  std::string plural = spec.value("names", Json::object()).value("plural", "");
  std::string kind = spec.value("names", Json::object()).value("kind", "");
  KindPtr any;
  for (const auto& v : spec.value("versions", Json::array())) {
    std::string ver = v.value("name", "");
    if (auto k = os->kinds()->Find(group, ver, plural)) {
      any = k;
      os->kinds()->Unregister(group, ver, plural);
      os->schemas()->Remove(SchemaName(group, ver, kind));
    }
  }
  if (!delete_data || !any) return;
  // Remove the custom objects (the apiserver's customresourcecleanup).
  auto list = os->raw()->List({os->Key(*any, "", ""), "", 0, 0});
  if (!list.ok()) return;
  for (const auto& kv : list->items) os->raw()->Delete(kv.key, 0);
}

}  // namespace

Status InstallCustomResources(ObjectStore* os) {
  KindPtr crd = os->kinds()->Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!crd) return Internal("CustomResourceDefinition kind is not registered");
  KindInfo k = *crd;
  auto prev = k.hooks.after_write;
  k.hooks.after_write = [os, prev](const std::string& verb, const Json& obj) {
    if (prev) prev(verb, obj);
    if (verb == "delete") {
      Unregister(os, obj, true);
      return;
    }
    // Re-register: versions may have been added or removed.
    Unregister(os, obj, false);
    if (!obj["metadata"].contains("deletionTimestamp")) Register(os, obj);
  };
  os->kinds()->Register(k);
  auto list = os->List(k, ListParams{});
  if (!list.ok()) return list.status();
  for (const auto& item : list->items) Register(os, item);
  log::Info("custom resources installed", log::Fields()("crds", list->items.size()));
  return Status::Ok();
}

}  // namespace berth::api
