// A client of one OCI distribution registry (Docker Hub, Harbor, Berth's own,
// docker-registry...): requests below /v2/ with the registry's 401 challenge
// answered (Basic, or the Bearer token flow for the scope each request names;
// tokens are cached per scope), one HTTPS client per origin, and blob GETs
// that follow redirects, without credentials to other origins (pre-signed
// storage URLs carry their own). Used by the node agent's image puller and the
// registry's replication.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "net/client.h"

namespace berth::net {

struct Url {
  bool https = true;
  std::string host;
  int port = 443;
  std::string target = "/";  // path and query
  std::string Origin() const;
};
// http(s)://host[:port][/path][?query]; BadRequest otherwise.
Result<Url> ParseUrl(const std::string& s);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& s);
// `Bearer realm="x",service="y",scope="z"` → scheme (lower case) and params.
void ParseChallenge(const std::string& header, std::string* scheme, std::map<std::string, std::string>* params);
// The message (and code) of a registry's JSON error body, if it has one.
std::string RegistryErrorMessage(const std::string& body, std::string* code = nullptr);

struct RegistryCredentials {
  std::string username, password;
  std::string token;  // a bearer token to send as is
  bool empty() const { return username.empty() && token.empty(); }
};

struct RegistryClientOptions {
  std::string url;      // https://host[:port] or http://host[:port] (plain HTTP)
  RegistryCredentials auth;
  std::string ca_file;  // trusted for the registry's own host, besides the system roots
  size_t max_body_bytes = 16 << 20;  // for non-streamed bodies (manifests, errors)
};

class RegistryClient {
 public:
  static Result<std::unique_ptr<RegistryClient>> Create(const RegistryClientOptions& opts);
  ~RegistryClient();

  // One request. `target` is a path ("/v2/...") or an absolute URL (an upload
  // Location); `scope` names what a token must grant ("repository:NAME:pull").
  // Transport failures are Unavailable "registry unreachable: ..."; an answer,
  // whatever its status, is returned. Auth failures at the token service are
  // Unauthorized.
  Result<ClientResponse> Do(const std::string& method, const std::string& target, const std::string& scope,
                            const Headers& headers = {}, const std::string& body = "");
  // A streamed GET (a blob), following up to five redirects.
  Result<ClientResponse> Stream(const std::string& target, const std::string& scope,
                                const HttpsClient::ChunkCallback& on_chunk);
  const Url& base() const;
  const RegistryClientOptions& options() const;

 private:
  RegistryClient();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::net
