// Internal to kinds/: one registration function per API group file, and the
// helper that fills a KindInfo's discovery data in one line.
#pragma once

#include <string>
#include <vector>

#include "api/kind.h"

namespace berth::kinds {

struct KindSpec {
  std::string group, version, kind, resource, singular;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::string schema_package;  // "io.k8s.api.apps.v1"
};

api::KindInfo MakeKind(const KindSpec& s);

void RegisterCoreV1(api::KindRegistry& reg);
void RegisterAppsV1(api::KindRegistry& reg);
void RegisterBatchV1(api::KindRegistry& reg);
void RegisterCoordinationV1(api::KindRegistry& reg);
void RegisterDiscoveryV1(api::KindRegistry& reg);
void RegisterApiExtensionsV1(api::KindRegistry& reg);
void RegisterRegistryV1(api::KindRegistry& reg);

}  // namespace berth::kinds
