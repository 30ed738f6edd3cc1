// Pulling images from an OCI distribution / Docker registry v2 into an
// ImageStore.
//
// The manifest is fetched by tag or digest (OCI and Docker media types; an
// index or manifest list resolves to linux/amd64), then the config and every
// layer blob the store lacks, each verified against its digest before it is
// stored (nothing of a failed pull becomes visible). Authentication follows
// the registry's 401 challenge: Basic with the given credentials, or the
// Bearer token flow (GET the realm with service and scope, Basic credentials
// if any, use token/access_token). Blob redirects to other hosts are followed
// without forwarding credentials. TLS verifies against the system roots or
// `ca_file`; `insecure` registries are spoken to in plain HTTP.
//
// Errors: unknown manifest/repository -> kNotFound "image not found: REF";
// 401 -> kUnauthorized; 403 -> kForbidden; 429 -> kTooManyRequests;
// connection failures -> kUnavailable "registry unreachable: ..."; digest or
// size mismatches -> kInvalid.
#pragma once

#include <string>

#include "core/status.h"
#include "node/images/store.h"

namespace berth::images {

struct RegistryAuth {
  std::string username;
  std::string password;
  // A bearer token to send as is (docker config's "registrytoken").
  std::string registry_token;
  bool empty() const { return username.empty() && registry_token.empty(); }
};

struct PullOptions {
  RegistryAuth auth;
  bool insecure = false;  // plain HTTP
  std::string ca_file;    // PEM bundle for the registry's TLS; empty = system roots
  ProgressFn progress;
};

// Pulls `ref` (normalised as ParseReference does) and tags it in the store
// under its normalised form.
Result<ImageInfo> PullImage(ImageStore& store, const std::string& ref, const PullOptions& opts);

// The credentials for `registry_host` (a reference's domain, e.g. "docker.io"
// or "localhost:5000") in a docker config.json (`{"auths":{HOST:{...}}}`) or a
// legacy .dockercfg (`{HOST:{...}}`), as imagePullSecrets carry them. An entry
// has "auth" (base64 of "user:password") or "username"/"password", or
// "registrytoken". Keys may be URLs ("https://index.docker.io/v1/"); the
// Docker Hub aliases all match "docker.io". kNotFound if there is no entry for
// the host, kBadRequest if the JSON or an entry is malformed.
Result<RegistryAuth> AuthFromDockerConfig(const std::string& json, const std::string& registry_host);

}  // namespace berth::images
