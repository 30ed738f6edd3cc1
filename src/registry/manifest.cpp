#include "registry/manifest.h"

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "registry/digest.h"

namespace berth::registry {
namespace {

std::string_view BaseType(std::string_view ct) {
  size_t semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

bool ForeignLayer(const Json& d) {
  std::string mt = d.value("mediaType", "");
  return d.contains("urls") || mt.find("foreign") != std::string::npos ||
         mt.find("nondistributable") != std::string::npos;
}

// A descriptor: digest (valid), size (>= 0), mediaType (a string, when given).
Status CheckDescriptor(const Json& d, const std::string& where, std::string* digest, int64_t* size) {
  if (!d.is_object()) return Invalid(where + " must be a descriptor object");
  if (!d.contains("digest") || !d["digest"].is_string()) return Invalid(where + ".digest is required");
  if (!d.contains("size") || !d["size"].is_number_integer() || d["size"].get<int64_t>() < 0)
    return Invalid(where + ".size must be a non-negative integer");
  if (d.contains("mediaType") && !d["mediaType"].is_string()) return Invalid(where + ".mediaType must be a string");
  auto parsed = ParseDigest(d["digest"].get<std::string>());
  if (!parsed.ok()) return BadRequest(where + ".digest: " + parsed.status().message());
  *digest = parsed->str();
  *size = d["size"].get<int64_t>();
  return Status::Ok();
}

}  // namespace

Result<ParsedManifest> ParseManifest(std::string_view body, std::string_view content_type) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Invalid("manifest is not a JSON object");
  ParsedManifest p;
  std::string declared = j.contains("mediaType") && j["mediaType"].is_string() ? j["mediaType"].get<std::string>() : "";
  std::string ct(BaseType(content_type));
  if (!declared.empty() && !ct.empty() && ct != declared)
    return Invalid("mediaType " + declared + " does not match the Content-Type " + ct);
  p.media_type = !declared.empty() ? declared : ct;
  if (p.media_type.empty()) {
    // An OCI manifest may leave mediaType out; its shape says which it is.
    p.media_type = j.contains("manifests") ? kOciIndex : kOciManifest;
  }
  if (p.media_type != kOciManifest && p.media_type != kOciIndex && p.media_type != kDockerManifest &&
      p.media_type != kDockerManifestList)
    return Invalid("unsupported manifest media type \"" + p.media_type + "\"");
  if (!j.contains("schemaVersion") || !j["schemaVersion"].is_number_integer() || j["schemaVersion"].get<int>() != 2)
    return Invalid("schemaVersion must be 2");
  p.is_index = p.media_type == kOciIndex || p.media_type == kDockerManifestList;
  if (j.contains("artifactType")) {
    if (!j["artifactType"].is_string()) return Invalid("artifactType must be a string");
    p.artifact_type = j["artifactType"].get<std::string>();
  }
  if (j.contains("annotations")) {
    if (!j["annotations"].is_object()) return Invalid("annotations must be an object");
    for (const auto& [k, v] : j["annotations"].items())
      if (!v.is_string()) return Invalid("annotation " + k + " must be a string");
    p.annotations = j["annotations"].dump();
  }
  if (j.contains("subject")) {
    std::string d;
    int64_t n = 0;
    BERTH_RETURN_IF_ERROR(CheckDescriptor(j["subject"], "subject", &d, &n));
    p.subject = d;
  }
  if (p.is_index) {
    if (!j.contains("manifests") || !j["manifests"].is_array()) return Invalid("manifests must be an array");
    size_t i = 0;
    for (const Json& m : j["manifests"]) {
      std::string d;
      int64_t n = 0;
      BERTH_RETURN_IF_ERROR(CheckDescriptor(m, "manifests[" + std::to_string(i++) + "]", &d, &n));
      p.refs.manifests.push_back(d);
    }
    return p;
  }
  if (!j.contains("config")) return Invalid("config is required");
  std::string d;
  int64_t n = 0;
  BERTH_RETURN_IF_ERROR(CheckDescriptor(j["config"], "config", &d, &n));
  p.refs.blobs.emplace_back(d, n);
  if (p.artifact_type.empty()) p.artifact_type = j["config"].value("mediaType", "");
  if (j.contains("layers")) {
    if (!j["layers"].is_array()) return Invalid("layers must be an array");
    size_t i = 0;
    for (const Json& l : j["layers"]) {
      BERTH_RETURN_IF_ERROR(CheckDescriptor(l, "layers[" + std::to_string(i++) + "]", &d, &n));
      if (!ForeignLayer(l)) p.refs.blobs.emplace_back(d, n);
    }
  } else if (p.media_type == kDockerManifest) {
    return Invalid("layers is required");
  }
  return p;
}

}  // namespace berth::registry
