// The state store: a revisioned key-value map shaped like etcd's v3 API, so an
// etcd backend fits behind the same interface.
//
// Contract:
//  - One global revision, bumped by every successful write (create, update,
//    delete); it is the Kubernetes resourceVersion. Revisions start at 1 and are
//    contiguous: a failed write (conflict, error) consumes no revision.
//  - Writes return only once durable (a write acknowledged survives kill -9).
//  - Update and Delete are compare-and-swap on the key's mod_revision when
//    `expected` is non-zero; a mismatch is Conflict, a missing key NotFound.
//    Create on an existing key is AlreadyExists. Keys must be non-empty.
//  - List reads a consistent snapshot, at the current revision or at an older
//    one not yet compacted (older: Gone; newer than current: Timeout, as the
//    apiserver's "Too large resource version").
//  - Watch delivers every change to keys under a prefix with revision > from,
//    in revision order; `from` older than the compacted revision is Gone.
//    from == 0 means "changes after the current revision" (no replay).
//  - Every method is thread-safe. After Close() every call fails Unavailable.
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
  KeyValue kv;             // for kDelete: key and the last value; mod_revision = deletion revision
  bool is_create = false;  // kPut that created the key
  std::optional<KeyValue> prev;  // value before this event, when known
};

// A live subscription. Next() blocks until events arrive, the timeout passes
// (returns an empty vector) or the watch ends. timeout_ms < 0 waits without
// limit; 0 polls.
//
// How a watch ends (Next returns the Status once queued events are drained):
//  - Close() on this watch, or the store closing: Unavailable. Close() wakes a
//    blocked Next() and drops undelivered events.
//  - The watcher fell behind: writers never wait for watchers, so each watch
//    has a bounded queue; when it overflows the watch is closed with Gone and
//    its queue dropped. The client must re-list and watch from the new
//    revision, exactly as after a "410 Expired" from the Kubernetes API.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual Result<std::vector<Event>> Next(int timeout_ms) = 0;
  virtual void Close() = 0;
};

struct WriteResult {
  int64_t revision = 0;  // the revision of this write
  KeyValue prev;         // for updates and deletes: the value replaced
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
  // A revision at or below the compacted one is a no-op; above current is
  // BadRequest.
  virtual Status Compact(int64_t revision) = 0;
  // Bytes of storage used (for /metrics).
  virtual int64_t SizeBytes() = 0;
  // Finishes queued writes, ends every watch (Unavailable) and releases files.
  virtual void Close() = 0;
};

struct SqliteOptions {
  std::string path;                // database file; its directory must exist
  int64_t history_window = 10000;  // revisions kept in memory for watch replay, and
                                   // in the database when auto_compact is on
  // Events a watcher may have queued before it is closed with Gone (on top
  // of its initial replay).
  int64_t watch_queue_limit = 10000;
  // Compacts to CurrentRevision() - history_window in the background (on the
  // writer thread after callers are released, in bounded steps).
  bool auto_compact = true;
  // Upper bound on writes grouped into one transaction (one fsync).
  int max_batch = 1024;
};

// Opens (creating if needed) the database. One process owns a database at a
// time (an flock on `<path>.lock`); a second open fails Unavailable. Opening
// does not read values, so it is fast whatever the number of keys.
Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& opts);

}  // namespace berth::store
