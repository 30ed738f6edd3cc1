#include "node/image_pull.h"

#include <algorithm>

#include "node/images/puller.h"
#include "node/images/reference.h"

namespace berth::node {

Result<images::ImageInfo> PullImage(images::ImageStore* store, const std::string& ref,
                                    const std::vector<PullSecret>& secrets,
                                    const std::vector<std::string>& insecure_registries, const std::string& ca_file) {
  BERTH_ASSIGN_OR_RETURN(auto parsed, images::ParseReference(ref));
  images::PullOptions opts;
  opts.ca_file = ca_file;
  opts.insecure = std::find(insecure_registries.begin(), insecure_registries.end(), parsed.domain) !=
                  insecure_registries.end();
  // The first pull secret with an entry for the registry wins, as in kubelet.
  for (const auto& s : secrets) {
    auto auth = images::AuthFromDockerConfig(s.docker_config_json, parsed.domain);
    if (auth.ok()) {
      opts.auth = *auth;
      break;
    }
  }
  return images::PullImage(*store, parsed.String(), opts);
}

}  // namespace berth::node
