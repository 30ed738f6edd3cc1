// OpenAPI v3 documents: an index of group-versions and one document per
// group-version with its paths and the schemas reachable from its kinds.
// kubectl needs a PATCH operation per kind carrying x-kubernetes-group-version-kind
// and a fieldValidation parameter before it will send fieldValidation=Strict;
// kubectl explain reads the schemas.
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "api/internal.h"
#include "core/ids.h"

namespace berth::api::internal {
namespace {

std::string GvPath(const KindInfo& k) {
  return k.group.empty() ? "api/" + k.version : "apis/" + k.group + "/" + k.version;
}

void CollectRefs(const Json& j, std::set<std::string>& out, std::vector<std::string>& todo) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "$ref" && it->is_string()) {
        std::string ref = *it;
        auto p = ref.rfind('/');
        std::string name = p == std::string::npos ? ref : ref.substr(p + 1);
        if (out.insert(name).second) todo.push_back(name);
      } else {
        CollectRefs(*it, out, todo);
      }
    }
  } else if (j.is_array()) {
    for (const auto& e : j) CollectRefs(e, out, todo);
  }
}

Json Param(const std::string& name, const std::string& in) {
  Json p = {{"name", name}, {"in", in}, {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
  if (in == "path") p["required"] = true;
  return p;
}

Json Operation(const KindInfo& k, const std::string& action, bool with_body) {
  std::string ref = "#/components/schemas/" + k.schema_ref;
  Json op = {{"operationId", action + k.kind},
             {"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind", {{"group", k.group}, {"version", k.version}, {"kind", k.kind}}},
             {"responses", {{"200", {{"description", "OK"}}}}}};
  if (!k.schema_ref.empty())
    op["responses"]["200"]["content"] = {{"application/json", {{"schema", {{"$ref", ref}}}}}};
  Json params = Json::array();
  if (with_body) {
    params.push_back(Param("dryRun", "query"));
    params.push_back(Param("fieldManager", "query"));
    params.push_back(Param("fieldValidation", "query"));
  }
  op["parameters"] = params;
  return op;
}

struct Cache {
  std::mutex mu;
  uint64_t kinds_gen = ~0ull, schemas_gen = ~0ull;
  std::string index;
  std::map<std::string, std::string> docs;
};

Cache& GetCache() {
  static Cache c;
  return c;
}

void Rebuild(const KindRegistry& kinds, const SchemaRegistry& schemas, Cache& c) {
  std::map<std::string, std::vector<KindPtr>> by_gv;
  for (const auto& k : kinds.All()) by_gv[GvPath(*k)].push_back(k);
  c.docs.clear();
  Json index_paths = Json::object();
  for (const auto& [gv, ks] : by_gv) {
    Json paths = Json::object();
    std::set<std::string> names;
    std::vector<std::string> todo;
    for (const auto& k : ks) {
      std::string base = "/" + gv + "/";
      std::string coll = k->namespaced ? base + "namespaces/{namespace}/" + k->resource : base + k->resource;
      std::string item = coll + "/{name}";
      paths[coll] = {{"get", Operation(*k, "list", false)}, {"post", Operation(*k, "post", true)}};
      Json item_ops = {{"get", Operation(*k, "get", false)},
                       {"put", Operation(*k, "put", true)},
                       {"patch", Operation(*k, "patch", true)},
                       {"delete", Operation(*k, "delete", false)}};
      item_ops["patch"]["requestBody"] = {
          {"content",
           {{"application/json-patch+json", {{"schema", Json::object()}}},
            {"application/merge-patch+json", {{"schema", Json::object()}}},
            {"application/strategic-merge-patch+json", {{"schema", Json::object()}}},
            {"application/apply-patch+yaml", {{"schema", Json::object()}}}}}};
      // Custom resources do not take strategic merge patches (415); kubectl
      // reads this list to choose between SMP and a JSON merge patch.
      if (k->from_crd) item_ops["patch"]["requestBody"]["content"].erase("application/strategic-merge-patch+json");
      Json pp = Json::array({Param("name", "path")});
      if (k->namespaced) pp.push_back(Param("namespace", "path"));
      item_ops["parameters"] = pp;
      paths[item] = item_ops;
      if (k->status_subresource) {
        // Same patch types as the main resource: kubectl checks whichever
        // PATCH of the kind it meets first.
        paths[item + "/status"] = {{"patch", Operation(*k, "patch", true)}};
        paths[item + "/status"]["patch"]["requestBody"] = item_ops["patch"]["requestBody"];
      }
      if (!k->schema_ref.empty() && names.insert(k->schema_ref).second) todo.push_back(k->schema_ref);
    }
    Json comps = Json::object();
    while (!todo.empty()) {
      std::string n = todo.back();
      todo.pop_back();
      auto s = schemas.Get(n);
      if (!s) continue;
      comps[n] = *s;
      CollectRefs(*s, names, todo);
    }
    Json doc = {{"openapi", "3.0.0"},
                {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                {"paths", paths},
                {"components", {{"schemas", comps}}}};
    std::string body = doc.dump();
    std::string hash = Sha256Hex(body).substr(0, 32);
    c.docs[gv] = std::move(body);
    index_paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash}};
  }
  c.index = Json{{"paths", index_paths}}.dump();
}

void Ensure(const KindRegistry& kinds, const SchemaRegistry& schemas, Cache& c) {
  uint64_t kg = kinds.generation(), sg = schemas.generation();
  if (kg != c.kinds_gen || sg != c.schemas_gen) {
    Rebuild(kinds, schemas, c);
    c.kinds_gen = kg;
    c.schemas_gen = sg;
  }
}

}  // namespace

std::string OpenApiIndex(const KindRegistry& kinds, const SchemaRegistry& schemas) {
  Cache& c = GetCache();
  std::lock_guard<std::mutex> l(c.mu);
  Ensure(kinds, schemas, c);
  return c.index;
}

std::string OpenApiGroupVersion(const KindRegistry& kinds, const SchemaRegistry& schemas,
                                const std::string& gv_path) {
  Cache& c = GetCache();
  std::lock_guard<std::mutex> l(c.mu);
  Ensure(kinds, schemas, c);
  auto it = c.docs.find(gv_path);
  return it == c.docs.end() ? std::string() : it->second;
}

}  // namespace berth::api::internal
