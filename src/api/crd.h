// CustomResourceDefinitions: a stored CRD becomes a served kind (discovery,
// CRUD, watch, merge/JSON patch, schema validation, printer columns) as soon as
// it is written, and stops being served when it is deleted.
#pragma once

#include "api/objects.h"

namespace berth::api {

// Hooks the CRD kind so that writes (un)register kinds, and registers every
// CRD already stored. Call once at start-up after built-in kinds exist.
Status InstallCustomResources(ObjectStore* os);

// The KindInfo (one per served version) that a CRD object defines.
std::vector<KindInfo> KindsFromCrd(const Json& crd, SchemaRegistry* schemas);

}  // namespace berth::api
