// Private to the registry module: the state its parts share.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/jwt.h"
#include "registry/blob_store.h"
#include "registry/digest.h"
#include "registry/metadata.h"
#include "registry/registry.h"
#include "registry/webhook.h"

namespace berth::registry {

// Who is asking, as the token service established it.
struct Principal {
  std::string name;  // empty: anonymous
  std::vector<std::string> groups;
  bool robot = false;
  std::vector<std::pair<std::string, std::set<std::string>>> robot_permissions;  // project, actions
  bool anonymous() const { return name.empty(); }
};

// One granted scope of a registry token.
struct Grant {
  std::string type;  // "repository" or "registry"
  std::string name;
  std::set<std::string> actions;
};

// An upload in progress: its running hash, valid while `hashed` equals the
// upload file's size (a restart or an out-of-band write makes it stale).
struct UploadSession {
  std::mutex mu;
  std::unique_ptr<Hasher> sha256;
  int64_t hashed = 0;
};

struct Registry::Impl {
  Options opts;
  api::ObjectStore* os = nullptr;
  net::TokenAuthenticator authenticate;
  std::unique_ptr<JwtSigner> signer;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Metadata> meta;
  api::KindPtr project_kind, robot_kind, secret_kind;

  std::mutex sessions_mu;
  std::map<std::string, std::shared_ptr<UploadSession>> sessions;

  // auth.cpp
  void ServeToken(net::Request& r, net::ResponseWriter& w);
  // The principal of a token request: client certificate or API bearer token
  // (already in r.identity), Basic with an API token as password, or
  // robot$NAME with its secret. Unauthorized for bad credentials; anonymous
  // when none were given.
  Result<Principal> Login(const net::Request& r);
  // The actions (pull, push, delete) `p` may perform on `repo`.
  std::set<std::string> Allowed(const Principal& p, const std::string& repo);
  std::string IssueToken(const Principal& p, const std::vector<Grant>& grants, int64_t* expires_in);
  // The grants of a registry token; Unauthorized if it is not a valid one.
  // `subject` (optional) receives the user the token was issued to.
  Result<std::vector<Grant>> VerifyToken(const std::string& token, std::string* subject = nullptr);
  // Forbidden "quota exceeded: ..." if adding `bytes` to the project would
  // pass its spec.storageLimit.
  Status QuotaAllows(const std::string& project, int64_t bytes);
  // The project object, or NotFound.
  Result<Json> GetProject(const std::string& name);
  // Whether the project's immutableTags patterns cover `tag`.
  static bool TagImmutable(const Json& project, const std::string& tag);

  // Records a manifest and stores its bytes as one step: the bytes are made
  // durable and moved into place inside the metadata transaction, so a
  // refused manifest leaves nothing behind and a recorded one always has its
  // bytes. Errors as Metadata::PutManifest.
  Status StoreManifest(const ManifestRecord& rec, const ManifestRefs& refs, const std::string& tag, bool immutable,
                       std::string_view bytes);

  // distribution.cpp
  void ServeV2(net::Request& r, net::ResponseWriter& w);
  // A push or delete: a core/v1 Event on the project and the project's webhooks.
  struct ArtifactEvent {
    bool push = true;  // PUSH_ARTIFACT, else DELETE_ARTIFACT
    std::string repo, tag, digest, actor, host, note;
  };
  void RecordArtifactEvent(const ArtifactEvent& e);
  std::unique_ptr<WebhookSender> webhooks;
};

// The Replication controller (replication.cpp).
std::unique_ptr<controllers::Controller> NewReplicationController(api::ObjectStore* os, Registry::Impl* reg);

// The project of a repository name (its first component), or "" if the name
// has a single component.
std::string ProjectOf(const std::string& repo);
// Whether `name` is a valid repository name (distribution's grammar, at most
// 255 characters, at least two components).
bool ValidRepositoryName(const std::string& name);
// Writes an OCI error document: {"errors":[{"code","message","detail"}]}.
void ReplyError(net::ResponseWriter& w, int status, const std::string& code, const std::string& message,
                const Json* detail = nullptr, net::Headers extra = {});

}  // namespace berth::registry
