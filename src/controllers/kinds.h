// The set of controllers the server runs, and helpers to find kinds.
#pragma once

#include <memory>
#include <vector>

#include "controllers/base.h"

namespace berth::controllers {

std::vector<std::unique_ptr<Controller>> NewControllers(api::ObjectStore* os);

std::unique_ptr<Controller> NewNamespaceController(api::ObjectStore* os);
std::unique_ptr<Controller> NewGarbageCollector(api::ObjectStore* os);
std::unique_ptr<Controller> NewCrdStatusController(api::ObjectStore* os);
std::unique_ptr<Controller> NewReplicaSetController(api::ObjectStore* os);
std::unique_ptr<Controller> NewDeploymentController(api::ObjectStore* os);

// Kind lookups by well-known resource.
api::KindPtr KindOf(api::ObjectStore* os, const std::string& group, const std::string& resource);

}  // namespace berth::controllers
