// A compact text notation for API types, compiled to OpenAPI v3 schemas
// (components.schemas entries) at start-up.
//
// Grammar (one declaration per line, '#' starts a comment):
//   package io.k8s.api.apps.v1            sets the prefix of following type names
//   Name [type-flags] : description       a type (column 0)
//     field type [field-flags] : desc     a property (indented)
// Field types: string int32 int64 integer boolean number double bytes object
//   any, a type name, []T (array), map[T] (string-keyed map).
// Type names resolve in the current package first, then to the only type of
//   that short name anywhere; a dotted name is taken as fully qualified.
// Type flags: gvk=group/version (adds apiVersion/kind and the GVK extension;
//   "v1" for the core group), list (also emits <Name>List), scalar=string|
//   intorstring, format=F, preserve (x-kubernetes-preserve-unknown-fields),
//   atomic (x-kubernetes-map-type: atomic).
// Field flags: req, merge=K (patch strategy merge, merge key K), mergeretain=K
//   ("merge,retainKeys"), mergeset (merge without a key), retain, map=K1,K2
//   (list-type map with keys), set, atomic, preserve, enum=A|B|C.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth::kinds {

// Compiles the given DSL sources (each may switch packages) into schemas keyed
// by fully qualified name. References are resolved across all sources, so
// types may be used before or in a different source than they are declared.
Result<std::map<std::string, Json>> CompileSchemas(const std::vector<std::string_view>& sources);

}  // namespace berth::kinds
