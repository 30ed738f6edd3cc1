// Manifest parsing: the media types the registry stores and what each one
// references (the blobs and manifests that must be present before it is).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "registry/metadata.h"

namespace berth::registry {

inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr size_t kMaxManifestBytes = 4 << 20;

struct ParsedManifest {
  std::string media_type;
  // artifactType, or for an image manifest without one its config's mediaType
  // (what the referrers API reports).
  std::string artifact_type;
  std::string subject;      // the subject descriptor's digest, if any
  std::string annotations;  // the annotations object as JSON text, if any
  ManifestRefs refs;
  bool is_index = false;
};

// Invalid with a message naming what is wrong (MANIFEST_INVALID);
// BadRequest for a digest that does not parse (DIGEST_INVALID).
// `content_type` is the request's Content-Type (may be empty).
Result<ParsedManifest> ParseManifest(std::string_view body, std::string_view content_type);

}  // namespace berth::registry
