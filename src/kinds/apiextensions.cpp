// apiextensions.k8s.io/v1 CustomResourceDefinition: discovery data, defaults
// (SetDefaults_CustomResourceDefinitionSpec) and the checks users hit most
// (pkg/apiserver/validation of apiextensions-apiserver). Structural schema
// validation belongs to the CRD machinery in api/.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "api/validation.h"
#include "kinds/groups.h"
#include "kinds/util.h"

namespace berth::kinds {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

void ValidateNames(const Json& names, const std::string& path, std::vector<Cause>& causes) {
  std::string plural = Str(names, {"plural"}), singular = Str(names, {"singular"});
  std::string kind = Str(names, {"kind"}), list_kind = Str(names, {"listKind"});
  if (plural.empty())
    causes.push_back(api::Required(path + ".plural"));
  else if (auto e = api::IsDNS1035Label(plural); !e.empty())
    causes.push_back(api::InvalidValue(path + ".plural", plural, Join(e)));
  if (!singular.empty())
    if (auto e = api::IsDNS1035Label(singular); !e.empty())
      causes.push_back(api::InvalidValue(path + ".singular", singular, Join(e)));
  if (kind.empty()) {
    causes.push_back(api::Required(path + ".kind"));
  } else {
    std::string lower = kind;
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (auto e = api::IsDNS1035Label(lower); !e.empty())
      causes.push_back(api::InvalidValue(
          path + ".kind", kind, "may have mixed case, but should otherwise match: " + Join(e)));
  }
  if (list_kind.empty())
    causes.push_back(api::Required(path + ".listKind"));
  else if (list_kind == kind)
    causes.push_back(
        api::InvalidValue(path + ".listKind", list_kind, "kind and listKind may not be the same"));
  if (const Json* sn = At(names, {"shortNames"}); sn && sn->is_array())
    for (size_t i = 0; i < sn->size(); ++i) {
      std::string s = (*sn)[i].is_string() ? (*sn)[i].get<std::string>() : "";
      if (auto e = api::IsDNS1035Label(s); !e.empty())
        causes.push_back(api::InvalidValue(Idx(path + ".shortNames", i), s, Join(e)));
    }
}

void ValidateCRD(const Json& o, const Json* old, std::vector<Cause>& causes) {
  const Json* spec = At(o, {"spec"});
  if (!spec) {
    causes.push_back(api::Required("spec"));
    return;
  }
  std::string group = Str(*spec, {"group"});
  if (group.empty()) {
    causes.push_back(api::Required("spec.group"));
  } else if (auto e = api::IsDNS1123Subdomain(group); !e.empty()) {
    causes.push_back(api::InvalidValue("spec.group", group, Join(e)));
  } else if (group.find('.') == std::string::npos) {
    causes.push_back(
        api::InvalidValue("spec.group", group, "should be a domain with at least one dot"));
  }
  std::string plural = Str(*spec, {"names", "plural"});
  std::string name = Str(o, {"metadata", "name"});
  if (name != plural + "." + group)
    causes.push_back(
        api::InvalidValue("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
  const Json* names = At(*spec, {"names"});
  ValidateNames(names ? *names : Json::object(), "spec.names", causes);
  std::string scope = Str(*spec, {"scope"});
  if (scope.empty())
    causes.push_back(api::Required("spec.scope"));
  else if (scope != "Cluster" && scope != "Namespaced")
    causes.push_back(api::NotSupported("spec.scope", scope, {"Cluster", "Namespaced"}));

  const Json* versions = At(*spec, {"versions"});
  if (!versions || !versions->is_array() || versions->empty()) {
    causes.push_back(api::Required("spec.versions", "must have at least one version"));
  } else {
    int storage = 0;
    std::set<std::string> seen;
    for (size_t i = 0; i < versions->size(); ++i) {
      const Json& v = (*versions)[i];
      std::string p = Idx("spec.versions", i);
      std::string vn = Str(v, {"name"});
      if (vn.empty())
        causes.push_back(api::Required(p + ".name"));
      else if (auto e = api::IsDNS1035Label(vn); !e.empty())
        causes.push_back(api::InvalidValue(p + ".name", vn, Join(e)));
      else if (!seen.insert(vn).second)
        causes.push_back(api::InvalidValue(p + ".name", vn, "must be unique"));
      if (Bool(v, {"storage"})) ++storage;
      const Json* schema = At(v, {"schema", "openAPIV3Schema"});
      if (!schema) {
        causes.push_back(api::Required(p + ".schema.openAPIV3Schema", "schemas are required"));
      } else {
        std::string type = Str(*schema, {"type"});
        if (type.empty())
          causes.push_back(
              api::Required(p + ".schema.openAPIV3Schema.type", "must not be empty at the root"));
        else if (type != "object")
          causes.push_back(api::NotSupported(p + ".schema.openAPIV3Schema.type", type, {"object"}));
      }
      if (const Json* sc = At(v, {"subresources", "scale"})) {
        for (const char* f : {"specReplicasPath", "statusReplicasPath"}) {
          std::string jp = Str(*sc, {f});
          std::string fp = p + ".subresources.scale." + f;
          if (jp.empty())
            causes.push_back(api::Required(fp));
          else if (!jp.starts_with(std::string(".") + (f[1] == 'p' ? "spec" : "status")))
            causes.push_back(api::InvalidValue(
                fp, jp,
                std::string("should be a json path under .") + (f[1] == 'p' ? "spec" : "status")));
        }
      }
      if (const Json* cols = At(v, {"additionalPrinterColumns"}); cols && cols->is_array())
        for (size_t j = 0; j < cols->size(); ++j) {
          std::string cp = Idx(p + ".additionalPrinterColumns", j);
          const Json& c = (*cols)[j];
          if (Str(c, {"name"}).empty()) causes.push_back(api::Required(cp + ".name"));
          if (Str(c, {"jsonPath"}).empty()) causes.push_back(api::Required(cp + ".jsonPath"));
          std::string t = Str(c, {"type"});
          static const std::vector<std::string> kTypes = {"boolean", "date", "integer", "number",
                                                          "string"};
          if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end())
            causes.push_back(api::NotSupported(cp + ".type", t, kTypes));
        }
    }
    if (storage != 1)
      causes.push_back(
          Cause{"FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
                "spec.versions"});
  }
  if (Bool(*spec, {"preserveUnknownFields"}))
    causes.push_back(
        api::InvalidValue("spec.preserveUnknownFields", true,
                          "cannot set to true, set x-kubernetes-preserve-unknown-fields "
                          "to true in spec.versions[*].schema instead"));
  std::string strategy = Str(*spec, {"conversion", "strategy"}, "None");
  if (strategy != "None" && strategy != "Webhook")
    causes.push_back(api::NotSupported("spec.conversion.strategy", strategy, {"None", "Webhook"}));
  if (old) {
    if (Str(*old, {"spec", "scope"}) != scope)
      causes.push_back(api::InvalidValue("spec.scope", scope, "field is immutable"));
    if (Str(*old, {"spec", "group"}) != group)
      causes.push_back(api::InvalidValue("spec.group", group, "field is immutable"));
  }
}

}  // namespace

void RegisterApiExtensionsV1(api::KindRegistry& reg) {
  auto k = MakeKind({"apiextensions.k8s.io",
                     "v1",
                     "CustomResourceDefinition",
                     "customresourcedefinitions",
                     "customresourcedefinition",
                     false,
                     {"crd", "crds"},
                     {"api-extensions"},
                     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"});
  k.status_subresource = true;
  k.track_generation = true;
  k.columns = {Column(
      "Created At",
      [](const Json& o) -> Json {
        return Str(o, {"metadata", "creationTimestamp"});
      },
      0, "date", "Time when the CustomResourceDefinition was created.")};
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    Json& names = Obj(spec, {"names"});
    std::string kind = Str(names, {"kind"});
    if (Str(names, {"singular"}).empty() && !kind.empty()) {
      std::string lower = kind;
      for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      names["singular"] = lower;
    }
    if (Str(names, {"listKind"}).empty() && !kind.empty()) names["listKind"] = kind + "List";
    if (!Has(spec, {"conversion"})) spec["conversion"] = {{"strategy", "None"}};
  };
  k.hooks.validate = ValidateCRD;
  reg.Register(std::move(k));
}

}  // namespace berth::kinds
