#include "node/images/puller.h"

#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "net/client.h"
#include "net/registry_client.h"
#include "node/images/layer.h"
#include "node/images/reference.h"

namespace berth::images {
namespace {

constexpr const char* kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string NormalizeHost(std::string h) {
  for (const char* scheme : {"https://", "http://"}) {
    if (h.rfind(scheme, 0) == 0) h = h.substr(std::string(scheme).size());
  }
  h = h.substr(0, h.find('/'));
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (h == "index.docker.io" || h == "registry-1.docker.io" || h == "registry.hub.docker.com") h = "docker.io";
  return h;
}

// One pull's conversation with a registry: a RegistryClient for its host,
// asking for pull access to the one repository.
class Registry {
 public:
  Registry(const Reference& ref, const PullOptions& opts) : ref_(ref), opts_(opts) {
    std::string domain = ref.domain == "docker.io" ? "registry-1.docker.io" : ref.domain;
    net::RegistryClientOptions o;
    o.url = (opts.insecure ? "http://" : "https://") + domain;
    o.auth.username = opts.auth.username;
    o.auth.password = opts.auth.password;
    o.auth.token = opts.auth.registry_token;
    o.ca_file = opts.ca_file;
    auto c = net::RegistryClient::Create(o);
    if (c.ok()) client_ = std::move(*c);
    else init_error_ = c.status();
    scope_ = "repository:" + ref.repository + ":pull";
  }

  // GETs a registry path (below /v2/<repo>/), answering auth challenges.
  Result<net::ClientResponse> Get(const std::string& path, const net::Headers& headers) {
    BERTH_RETURN_IF_ERROR(init_error_);
    return Denied(client_->Do("GET", "/v2/" + ref_.repository + path, scope_, headers));
  }

  Status StreamBlob(const Descriptor& d, const BlobSource::Sink& sink) {
    BERTH_RETURN_IF_ERROR(init_error_);
    Status sink_status;
    auto on_chunk = [&](std::string_view piece) {
      sink_status = sink(piece);
      return sink_status.ok();
    };
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse res,
                           Denied(client_->Stream("/v2/" + ref_.repository + "/blobs/" + d.digest, scope_, on_chunk)));
    BERTH_RETURN_IF_ERROR(sink_status);
    if (res.status == 200) return Status::Ok();
    return MapError(res, "blob " + d.digest);
  }

  // Turns a non-2xx registry answer into a Status.
  Status MapError(const net::ClientResponse& res, const std::string& what) const {
    std::string code;
    std::string msg = net::RegistryErrorMessage(res.body, &code);
    std::string detail = msg.empty() ? "" : ": " + msg;
    switch (res.status) {
      case 401:
        return Status(Code::kUnauthorized, "pull access denied for " + ref_.String() +
                                               (opts_.auth.empty() ? ": authentication required"
                                                                   : ": authentication failed") + detail);
      case 403:
        return Status(Code::kForbidden, "pull access denied for " + ref_.String() + ": forbidden" + detail);
      case 404:
        return NotFound("image not found: " + ref_.String() + (msg.empty() ? "" : " (" + msg + ")"));
      case 429:
        return Status(Code::kTooManyRequests, "registry rate limit for " + ref_.String() + detail);
      default:
        return Status(Code::kUnavailable,
                      what + ": registry answered HTTP " + std::to_string(res.status) + detail);
    }
  }

 private:
  // Names the image in a failure at the token service.
  Result<net::ClientResponse> Denied(Result<net::ClientResponse> r) const {
    if (!r.ok() && r.status().code() == Code::kUnauthorized)
      return Status(Code::kUnauthorized, "pull access denied for " + ref_.String() + ": " + r.status().message());
    return r;
  }

  Reference ref_;
  const PullOptions& opts_;
  std::unique_ptr<net::RegistryClient> client_;
  Status init_error_;
  std::string scope_;
};

class RegistryBlobSource : public BlobSource {
 public:
  explicit RegistryBlobSource(Registry& r) : r_(r) {}
  Status Fetch(const Descriptor& d, const Sink& sink) override { return r_.StreamBlob(d, sink); }

 private:
  Registry& r_;
};

// Fetches a manifest by tag or digest, checking a digest reference.
Result<std::string> FetchManifest(Registry& reg, const std::string& tag_or_digest, std::string* media_type) {
  BERTH_ASSIGN_OR_RETURN(net::ClientResponse res, reg.Get("/manifests/" + tag_or_digest, {{"Accept", kAcceptManifests}}));
  if (res.status != 200) return reg.MapError(res, "manifest " + tag_or_digest);
  if (tag_or_digest.rfind("sha256:", 0) == 0 && DigestOf(res.body) != tag_or_digest) {
    return Invalid("manifest " + tag_or_digest + " from the registry hashes to " + DigestOf(res.body));
  }
  *media_type = res.Header("Content-Type");
  return std::move(res.body);
}

}  // namespace

Result<ImageInfo> PullImage(ImageStore& store, const std::string& ref_text, const PullOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(Reference ref, ParseReference(ref_text));
  Registry reg(ref, opts);
  std::string media_type;
  BERTH_ASSIGN_OR_RETURN(std::string manifest, FetchManifest(reg, ref.TagOrDigest(), &media_type));
  Json mj = Json::parse(manifest, nullptr, false);
  if (mj.is_discarded() || !mj.is_object()) return Invalid("manifest of " + ref.String() + " is not JSON");
  if (mj.contains("manifests")) {
    // An index / manifest list: take the linux/amd64 image.
    std::string digest;
    for (const auto& m : mj["manifests"]) {
      const Json p = m.value("platform", Json::object());
      if (p.value("os", "") == "linux" && p.value("architecture", "") == "amd64" && m.contains("digest") &&
          m["digest"].is_string()) {
        digest = m["digest"].get<std::string>();
        break;
      }
    }
    if (!IsValidDigest(digest)) return NotFound("image " + ref.String() + " has no linux/amd64 variant");
    BERTH_ASSIGN_OR_RETURN(manifest, FetchManifest(reg, digest, &media_type));
  }
  RegistryBlobSource src(reg);
  auto info = store.ImportManifest(manifest, ref.String(), src, opts.progress);
  if (!info.ok()) return Status(info.status().code(), "pull " + ref.String() + ": " + info.status().message());
  return info;
}

Result<RegistryAuth> AuthFromDockerConfig(const std::string& json, const std::string& registry_host) {
  auto j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return BadRequest("docker config is not a JSON object");
  const Json& auths = j.contains("auths") && j["auths"].is_object() ? j["auths"] : j;
  std::string want = NormalizeHost(registry_host);
  for (auto it = auths.begin(); it != auths.end(); ++it) {
    if (NormalizeHost(it.key()) != want || !it->is_object()) continue;
    const Json& e = *it;
    RegistryAuth a;
    auto str = [&](const char* k) { return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : std::string(); };
    a.username = str("username");
    a.password = str("password");
    a.registry_token = str("registrytoken");
    std::string b64 = str("auth");
    if (!b64.empty()) {
      auto decoded = Base64Decode(b64);
      if (!decoded) return BadRequest("docker config entry for " + it.key() + ": \"auth\" is not base64");
      auto colon = decoded->find(':');
      if (colon == std::string::npos) {
        return BadRequest("docker config entry for " + it.key() + ": \"auth\" is not base64(user:password)");
      }
      a.username = decoded->substr(0, colon);
      a.password = decoded->substr(colon + 1);
    }
    if (a.empty()) return BadRequest("docker config entry for " + it.key() + " has no credentials");
    return a;
  }
  return NotFound("no credentials for registry " + registry_host + " in the docker config");
}

}  // namespace berth::images
