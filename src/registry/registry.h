// Berth's OCI image registry: the OCI Distribution Specification v1.1 under
// /v2/ and the Docker token service under /service/token, on the server's one
// HTTPS port, with Harbor's model on top (projects, members and roles, robot
// accounts, quotas, promotion by copy, garbage collection). Projects and the
// rest of its configuration are API objects (registry.berth.dev/v1); blobs
// are in a BlobStore and their metadata in the registry's own SQLite file.
// See docs/registry.md.
#pragma once

#include <memory>
#include <string>

#include "api/objects.h"
#include "controllers/base.h"
#include "core/status.h"
#include "net/http.h"
#include "net/server.h"

namespace berth::registry {

struct Options {
  std::string dir;             // DATA/registry
  std::string token_key_path;  // the P-256 key that signs registry tokens
  std::string service = "berth";
  int64_t token_seconds = 1800;
  // Upload sessions untouched for this long are abandoned and removed.
  int64_t upload_expiry_seconds = 24 * 3600;
};

struct GcOptions {
  bool delete_untagged = false;
  int64_t cutoff_ms = 0;  // keep blobs used at or after this time
  bool dry_run = false;
  int64_t upload_expiry_seconds = -1;  // -1: Options::upload_expiry_seconds
};

struct RetentionResult {
  int64_t tags_deleted = 0, manifests_deleted = 0;
};

struct GcResult {
  int64_t blobs_deleted = 0, manifests_deleted = 0, uploads_deleted = 0, bytes_freed = 0;
};

class Registry {
 public:
  // `authenticate` is the API server's bearer-token chain: registry clients
  // log in with an API token as their password (or as robot$NAME).
  static Result<std::unique_ptr<Registry>> Open(const Options& opts, api::ObjectStore* os,
                                                net::TokenAuthenticator authenticate);
  ~Registry();

  // Routes /v2/* (streaming bodies) and /service/token.
  void Mount(net::Router& router);
  // The paths the HTTPS server must let through unauthenticated: the registry
  // answers them itself (401 challenges, anonymous pulls of public projects).
  static std::vector<std::string> AnonymousPaths();

  Result<GcResult> CollectGarbage(const GcOptions& o);
  // Runs the project's retention rules once (spec.retention): untags what the
  // rules select and do not keep; manifests left without tags are deleted.
  Result<RetentionResult> ApplyRetention(const std::string& project);
  // Copies REPO:TAG or REPO@DIGEST to REPO[:TAG]; returns the manifest digest.
  Result<std::string> Copy(const std::string& from, const std::string& to);

  // The registry's controllers: robot secrets, project status, garbage
  // collections, artifact copies.
  std::vector<std::unique_ptr<controllers::Controller>> NewControllers();

  struct Impl;  // the module's shared state (registry/internal.h)

 private:
  Registry();
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
