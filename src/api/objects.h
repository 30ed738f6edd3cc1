// ObjectStore: the generic semantics of Kubernetes objects on top of the
// revisioned key-value store. Every write path of the API (REST handlers,
// in-process controllers, the CRD machinery) goes through here, so metadata
// rules (uid, resourceVersion, generation, finalizers, graceful deletion,
// status/spec separation, validation, dry-run, encryption at rest) hold
// everywhere.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/kind.h"
#include "core/json.h"
#include "core/status.h"
#include "store/store.h"

namespace berth::api {

class Encryptor;

struct WriteOptions {
  bool dry_run = false;
  std::string field_manager;
  std::string field_validation;  // "Strict", "Warn", "Ignore" ("" = Warn)
  std::string user;
};

struct ListParams {
  std::string ns;              // "" = all namespaces (or cluster-scoped)
  std::string label_selector;  // string form
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;  // "" / "0" = any; otherwise a revision
};

struct ObjectList {
  std::vector<Json> items;
  int64_t revision = 0;
  std::string continue_token;
  int64_t remaining = -1;  // remainingItemCount when known
};

struct DeleteParams {
  std::string propagation;  // "Background" (default), "Foreground", "Orphan"
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_rv;
};

enum class Subresource { kMain, kStatus, kFinalize };
enum class PatchType { kJson, kMerge, kStrategic, kApply };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::shared_ptr<const Json> object;
  // The object serialised, shared by every watcher of the same change (may be
  // null for synthetic initial events; serialise `object` then).
  std::shared_ptr<const std::string> json;
  int64_t revision = 0;
};

// A filtered stream of object events for one kind (and namespace).
class ObjectWatch {
 public:
  virtual ~ObjectWatch() = default;
  // Blocks up to timeout_ms; an empty vector means nothing happened.
  // Gone when the watch fell behind or started too far in the past.
  virtual Result<std::vector<WatchEvent>> Next(int timeout_ms) = 0;
  virtual int64_t LastRevision() const = 0;
  virtual void Close() = 0;
};

class ObjectStore {
 public:
  ObjectStore(store::Store* store, KindRegistry* kinds, SchemaRegistry* schemas, Encryptor* enc);

  std::string Key(const KindInfo& k, const std::string& ns, const std::string& name) const;

  Result<Json> Get(const KindInfo& k, const std::string& ns, const std::string& name);
  Result<ObjectList> List(const KindInfo& k, const ListParams& p);
  Result<Json> Create(const KindInfo& k, const std::string& ns, Json obj, const WriteOptions& o);
  Result<Json> Update(const KindInfo& k, const std::string& ns, const std::string& name, Json obj,
                      const WriteOptions& o, Subresource sub = Subresource::kMain);
  // Applies a patch of the given type. kApply creates the object when absent
  // (the bool in the result says whether it was created).
  Result<std::pair<Json, bool>> Patch(const KindInfo& k, const std::string& ns,
                                      const std::string& name, PatchType type,
                                      const std::string& body, const WriteOptions& o,
                                      Subresource sub = Subresource::kMain);
  // Deletes or starts a graceful deletion. Returns the object as it now is
  // (with deletionTimestamp) or as it was when removed; `removed` tells which.
  Result<Json> Delete(const KindInfo& k, const std::string& ns, const std::string& name,
                      const DeleteParams& p, const WriteOptions& o, bool* removed = nullptr);
  // Read-modify-write with conflict retries; `fn` edits the object in place.
  Result<Json> Mutate(const KindInfo& k, const std::string& ns, const std::string& name,
                      const std::function<Status(Json&)>& fn, Subresource sub = Subresource::kMain);
  Result<std::unique_ptr<ObjectWatch>> Watch(const KindInfo& k, const ListParams& p);

  // Field value for field selectors (metadata.* plus the kind's hook).
  std::optional<std::string> FieldValue(const KindInfo& k, const Json& obj, const std::string& field) const;

  // Decodes a stored value (for watch streams).
  Result<Json> DecodeForWatch(const KindInfo& k, const store::KeyValue& kv) const;
  // The same, decoded and serialised once per change however many watchers
  // ask (a small cache keyed by key and revision).
  struct Decoded;  // {Json object; std::string json;}, defined in objects.cpp
  std::shared_ptr<const Decoded> DecodeShared(const KindInfo& k, const store::KeyValue& kv);

  KindRegistry* kinds() const { return kinds_; }
  SchemaRegistry* schemas() const { return schemas_; }
  store::Store* raw() const { return store_; }

 private:
  Result<Json> Decode(const KindInfo& k, const store::KeyValue& kv) const;
  Result<std::string> Encode(const KindInfo& k, const Json& obj) const;
  Status CheckNamespace(const KindInfo& k, const std::string& ns, const std::string& name);
  Status ValidateAll(const KindInfo& k, const Json& obj, const Json* old);
  Status CheckUnknownFields(const KindInfo& k, Json& obj, const WriteOptions& o);
  // Writes `next` over `old` (mod revision `rev`), or removes the object when
  // it is being deleted and no finalizers remain.
  Result<Json> Commit(const KindInfo& k, const Json& old, Json next, int64_t rev, bool dry_run);
  Result<Json> UpdateOnce(const KindInfo& k, const std::string& ns, const std::string& name,
                          Json obj, const WriteOptions& o, Subresource sub, bool* conflict_retryable);

  struct DecodeCache;
  std::shared_ptr<DecodeCache> decode_cache_;
  store::Store* store_;
  KindRegistry* kinds_;
  SchemaRegistry* schemas_;
  Encryptor* enc_;
};

// Errors with the apiserver's wording.
Status NotFoundError(const KindInfo& k, const std::string& name);
Status AlreadyExistsError(const KindInfo& k, const std::string& name);
Status ConflictError(const KindInfo& k, const std::string& name);

}  // namespace berth::api
