// The state store: a revisioned key-value map shaped like etcd's v3 API, so an
// etcd backend fits behind the same interface.
//
// Contract:
//  - One global revision, bumped by every successful write (create, update,
//    delete); it is the Kubernetes resourceVersion. Revisions start at 1.
//  - Writes return only once durable (a write acknowledged survives kill -9).
//  - Update and Delete are compare-and-swap on the key's mod_revision when
//    `expected` is non-zero; a mismatch is Conflict, a missing key NotFound.
//  - List reads a consistent snapshot, at the current revision or at an older
//    one not yet compacted (older: Gone).
//  - Watch delivers every change to keys under a prefix with revision > from,
//    in revision order; `from` older than the compacted revision is Gone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

struct ListOptions {
  std::string prefix;       // keys starting with prefix
  std::string start_after;  // exclusive lower bound for pagination ("" = start)
  int64_t limit = 0;        // 0 = no limit
  int64_t revision = 0;     // 0 = current
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  int64_t revision = 0;         // the snapshot's revision
  bool more = false;            // more keys follow the last returned one
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;        // for kDelete: key and the last value; mod_revision = deletion revision
  bool is_create = false;  // kPut that created the key
  std::optional<KeyValue> prev;  // value before this event, when known
};

// A live subscription. Next() blocks until events arrive, the timeout passes
// (returns an empty vector) or the watch is closed (returns Status Unavailable).
class Watch {
 public:
  virtual ~Watch() = default;
  virtual Result<std::vector<Event>> Next(int timeout_ms) = 0;
  virtual void Close() = 0;
};

struct WriteResult {
  int64_t revision = 0;   // the revision of this write
  KeyValue prev;          // for updates and deletes: the value replaced
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<KeyValue> Get(const std::string& key) = 0;
  virtual Result<ListResult> List(const ListOptions& opts) = 0;
  virtual Result<int64_t> Count(const std::string& prefix) = 0;

  // Fails AlreadyExists if the key exists.
  virtual Result<WriteResult> Create(const std::string& key, const std::string& value) = 0;
  virtual Result<WriteResult> Update(const std::string& key, const std::string& value,
                                     int64_t expected_mod_revision) = 0;
  virtual Result<WriteResult> Delete(const std::string& key, int64_t expected_mod_revision) = 0;

  virtual Result<std::unique_ptr<Watch>> WatchPrefix(const std::string& prefix,
                                                     int64_t from_revision) = 0;

  virtual int64_t CurrentRevision() = 0;
  virtual int64_t CompactedRevision() = 0;
  // Drops history at or below `revision` (keeps the latest value of every key).
  virtual Status Compact(int64_t revision) = 0;
  // Bytes of storage used (for /metrics).
  virtual int64_t SizeBytes() = 0;
  virtual void Close() = 0;
};

struct SqliteOptions {
  std::string path;               // database file
  int64_t history_window = 10000;  // revisions kept in memory for watch replay
};

Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& opts);

}  // namespace berth::store
