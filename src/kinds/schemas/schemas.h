// The built-in type graph, written in the notation of kinds/schema_dsl.h, one
// source per API group (the pod types, being the largest, have their own).
#pragma once

#include <string_view>

#include "api/kind.h"
#include "core/status.h"

namespace berth::kinds::schemas {

extern const std::string_view kMeta;
extern const std::string_view kCorePod;
extern const std::string_view kCore;
extern const std::string_view kApps;
extern const std::string_view kBatch;
extern const std::string_view kMisc;  // coordination, discovery, autoscaling
extern const std::string_view kApiExtensions;
extern const std::string_view kRegistry;  // registry.berth.dev

// Compiles every source above and adds the schemas to `reg`. Fails only on a
// mistake in the sources (unknown or ambiguous type name).
Status RegisterBuiltinSchemas(api::SchemaRegistry& reg);

}  // namespace berth::kinds::schemas
