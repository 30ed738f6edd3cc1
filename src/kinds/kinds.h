// The built-in Kubernetes kinds Berth serves: discovery data, OpenAPI schemas,
// table columns, defaults, validation and field selectors for core/v1, apps/v1,
// batch/v1, coordination.k8s.io/v1, discovery.k8s.io/v1 and
// apiextensions.k8s.io/v1 (plus the autoscaling/v1 Scale schema).
#pragma once

#include "api/kind.h"

namespace berth::kinds {

// Registers every built-in kind and its schema graph. Aborts on a broken
// built-in schema source, which is a programming error caught by unit tests.
void RegisterBuiltins(api::KindRegistry& kinds, api::SchemaRegistry& schemas);

}  // namespace berth::kinds
