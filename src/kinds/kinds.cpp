// Entry point of the kinds module: compiles the schemas and registers each
// API group's kinds.
#include "kinds/kinds.h"

#include <cstdio>
#include <cstdlib>

#include "kinds/groups.h"
#include "kinds/schemas/schemas.h"

namespace berth::kinds {

api::KindInfo MakeKind(const KindSpec& s) {
  api::KindInfo k;
  k.group = s.group;
  k.version = s.version;
  k.kind = s.kind;
  k.resource = s.resource;
  k.singular = s.singular;
  k.list_kind = s.kind + "List";
  k.short_names = s.short_names;
  k.categories = s.categories;
  k.namespaced = s.namespaced;
  k.schema_ref = s.schema_package + "." + s.kind;
  return k;
}

void RegisterBuiltins(api::KindRegistry& kinds, api::SchemaRegistry& schemas) {
  Status st = schemas::RegisterBuiltinSchemas(schemas);
  if (!st.ok()) {
    fprintf(stderr, "berth: built-in schemas are broken: %s\n", st.message().c_str());
    abort();
  }
  RegisterCoreV1(kinds);
  RegisterAppsV1(kinds);
  RegisterBatchV1(kinds);
  RegisterCoordinationV1(kinds);
  RegisterDiscoveryV1(kinds);
  RegisterApiExtensionsV1(kinds);
  RegisterRegistryV1(kinds);
}

}  // namespace berth::kinds
