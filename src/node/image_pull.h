// How the agent gets a pod's image: registry credentials from the pod's
// imagePullSecrets, plain HTTP for registries marked insecure, then a pull
// into the node's image store.
#pragma once

#include <string>
#include <vector>

#include "node/context.h"

namespace berth::node {

Result<images::ImageInfo> PullImage(images::ImageStore* store, const std::string& ref,
                                    const std::vector<PullSecret>& secrets,
                                    const std::vector<std::string>& insecure_registries, const std::string& ca_file);

}  // namespace berth::node
