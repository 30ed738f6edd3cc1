#include "node/images/puller.h"

#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "net/client.h"
#include "node/images/layer.h"
#include "node/images/reference.h"

namespace berth::images {
namespace {

constexpr const char* kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct Url {
  bool https = true;
  std::string host;
  int port = 443;
  std::string target = "/";  // path and query
  std::string Origin() const { return (https ? "https://" : "http://") + host + ":" + std::to_string(port); }
};

Result<Url> ParseUrl(const std::string& s) {
  Url u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    u.https = false;
    u.port = 80;
    rest = s.substr(7);
  } else {
    return BadRequest("not an http(s) URL: \"" + s + "\"");
  }
  auto slash = rest.find_first_of("/?");
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return BadRequest("bad URL host in \"" + s + "\"");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') u.port = std::atoi(hostport.c_str() + close + 2);
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = std::atoi(hostport.c_str() + colon + 1);
  }
  if (u.host.empty() || u.port <= 0 || u.port > 65535) return BadRequest("bad URL host in \"" + s + "\"");
  return u;
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Parses `Bearer realm="x",service="y",scope="z"` into scheme and params.
void ParseChallenge(const std::string& h, std::string* scheme, std::map<std::string, std::string>* params) {
  size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t sp = h.find(' ', i);
  *scheme = h.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
  for (auto& c : *scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (sp == std::string::npos) return;
  i = sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    size_t eq = h.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = h.substr(i, eq - i);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      ++i;
    } else {
      size_t end = h.find(',', i);
      value = h.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? h.size() : end;
    }
    (*params)[key] = value;
  }
}

// The message of a registry's JSON error body, if it has one.
std::string RegistryErrorMessage(const std::string& body, std::string* code = nullptr) {
  auto j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) {
    return "";
  }
  const Json& e = j["errors"][0];
  if (code && e.contains("code") && e["code"].is_string()) *code = e["code"].get<std::string>();
  return e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
}

std::string NormalizeHost(std::string h) {
  for (const char* scheme : {"https://", "http://"}) {
    if (h.rfind(scheme, 0) == 0) h = h.substr(std::string(scheme).size());
  }
  h = h.substr(0, h.find('/'));
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (h == "index.docker.io" || h == "registry-1.docker.io" || h == "registry.hub.docker.com") h = "docker.io";
  return h;
}

// One pull's conversation with a registry: clients per origin, the current
// credentials, and the challenge handling around every request.
class Registry {
 public:
  Registry(const Reference& ref, const PullOptions& opts) : ref_(ref), opts_(opts) {
    std::string domain = ref.domain == "docker.io" ? "registry-1.docker.io" : ref.domain;
    base_ = *ParseUrl((opts.insecure ? "http://" : "https://") + domain);
    if (!opts.auth.registry_token.empty()) auth_header_ = "Bearer " + opts.auth.registry_token;
  }

  // GETs a registry path (below /v2/<repo>/), answering auth challenges.
  Result<net::ClientResponse> Get(const std::string& path, const net::Headers& headers) {
    Url u = base_;
    u.target = "/v2/" + ref_.repository + path;
    return WithAuth(u, headers, nullptr);
  }

  Status StreamBlob(const Descriptor& d, const BlobSource::Sink& sink) {
    Url u = base_;
    u.target = "/v2/" + ref_.repository + "/blobs/" + d.digest;
    Status sink_status;
    auto on_chunk = [&](std::string_view piece) {
      sink_status = sink(piece);
      return sink_status.ok();
    };
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse res, WithAuth(u, {}, on_chunk));
    for (int hops = 0; res.status >= 300 && res.status < 400 && res.status != 304; ++hops) {
      std::string loc = res.Header("Location");
      if (loc.empty() || hops >= 5) return Unavailable("blob " + d.digest + ": bad redirect (HTTP " + std::to_string(res.status) + ")");
      Url next;
      if (loc[0] == '/') {
        next = u;
        next.target = loc;
      } else {
        BERTH_ASSIGN_OR_RETURN(next, ParseUrl(loc));
      }
      // Credentials are for the registry, not for whatever storage it
      // redirects to (pre-signed URLs carry their own authorisation).
      bool same_origin = next.Origin() == base_.Origin();
      BERTH_ASSIGN_OR_RETURN(res, Send(next, same_origin ? AuthHeaders({}) : net::Headers{}, on_chunk));
      u = next;
    }
    BERTH_RETURN_IF_ERROR(sink_status);
    if (res.status == 200) return Status::Ok();
    return MapError(res, "blob " + d.digest);
  }

  // Turns a non-2xx registry answer into a Status.
  Status MapError(const net::ClientResponse& res, const std::string& what) const {
    std::string code;
    std::string msg = RegistryErrorMessage(res.body, &code);
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
  static Status Unavailable(const std::string& m) { return Status(Code::kUnavailable, m); }

  net::Headers AuthHeaders(net::Headers h) const {
    if (!auth_header_.empty()) h["Authorization"] = auth_header_;
    return h;
  }

  Result<net::ClientResponse> WithAuth(const Url& u, const net::Headers& headers,
                                       const net::HttpsClient::ChunkCallback& on_chunk) {
    for (int attempt = 0;; ++attempt) {
      BERTH_ASSIGN_OR_RETURN(net::ClientResponse res, Send(u, AuthHeaders(headers), on_chunk));
      if (res.status != 401 || attempt > 0) return res;
      std::string challenge = res.Header("WWW-Authenticate");
      if (challenge.empty()) return res;
      std::string before = auth_header_;
      BERTH_RETURN_IF_ERROR(Authenticate(challenge));
      if (auth_header_ == before) return res;  // nothing new to try
    }
  }

  Status Authenticate(const std::string& challenge) {
    std::string scheme;
    std::map<std::string, std::string> params;
    ParseChallenge(challenge, &scheme, &params);
    const RegistryAuth& a = opts_.auth;
    std::string basic = a.username.empty() ? "" : "Basic " + Base64Encode(a.username + ":" + a.password);
    if (scheme == "basic") {
      auth_header_ = basic;
      return Status::Ok();
    }
    if (scheme != "bearer") return Status(Code::kUnauthorized, "registry asks for unsupported authentication \"" + scheme + "\"");
    auto realm = params.find("realm");
    if (realm == params.end()) return Status(Code::kUnauthorized, "registry's Bearer challenge has no realm");
    BERTH_ASSIGN_OR_RETURN(Url tu, ParseUrl(realm->second));
    std::string scope = params.count("scope") ? params["scope"] : "repository:" + ref_.repository + ":pull";
    std::string query;
    if (params.count("service")) query += "service=" + UrlEncode(params["service"]);
    query += std::string(query.empty() ? "" : "&") + "scope=" + UrlEncode(scope);
    tu.target += (tu.target.find('?') == std::string::npos ? "?" : "&") + query;
    net::Headers h;
    if (!basic.empty()) h["Authorization"] = basic;
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse res, Send(tu, h, nullptr));
    if (res.status == 401 || res.status == 403) {
      std::string msg = RegistryErrorMessage(res.body);
      return Status(Code::kUnauthorized, "pull access denied for " + ref_.String() +
                                             (basic.empty() ? ": the token service requires credentials"
                                                            : ": the token service rejected the credentials for " +
                                                                  a.username) +
                                             (msg.empty() ? "" : ": " + msg));
    }
    if (res.status != 200) {
      return Unavailable("token service " + tu.Origin() + " answered HTTP " + std::to_string(res.status));
    }
    auto j = Json::parse(res.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      for (const char* k : {"token", "access_token"}) {
        if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()) {
          token = j[k].get<std::string>();
          break;
        }
      }
    }
    if (token.empty()) return Unavailable("token service " + tu.Origin() + " returned no token");
    auth_header_ = "Bearer " + token;
    return Status::Ok();
  }

  net::HttpsClient& ClientFor(const Url& u) {
    auto& c = clients_[u.Origin()];
    if (!c) {
      net::ClientOptions o;
      o.host = u.host;
      o.port = u.port;
      o.plain_http = !u.https;
      // The configured CA is added for the registry's host (a private
      // registry such as Berth's own); other hosts (token services, blob
      // storage) use the system roots only.
      if (u.host == base_.host) o.ca_file = opts_.ca_file;
      o.system_roots_too = true;
      o.max_body_bytes = 16 << 20;  // manifests, tokens and error bodies
      c = std::make_unique<net::HttpsClient>(o);
    }
    return *c;
  }

  Result<net::ClientResponse> Send(const Url& u, net::Headers h, const net::HttpsClient::ChunkCallback& on_chunk) {
    // Omit the default port from Host: pre-signed storage URLs sign it.
    if ((u.https && u.port == 443) || (!u.https && u.port == 80)) h["Host"] = u.host;
    net::HttpsClient& c = ClientFor(u);
    auto res = on_chunk ? c.Stream("GET", u.target, h, "", on_chunk) : c.Do("GET", u.target, h);
    if (!res.ok()) {
      return Status(Code::kUnavailable, "registry unreachable: " + u.Origin() + ": " + res.status().message());
    }
    return res;
  }

  Reference ref_;
  const PullOptions& opts_;
  Url base_;
  std::string auth_header_;
  std::map<std::string, std::unique_ptr<net::HttpsClient>> clients_;
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
