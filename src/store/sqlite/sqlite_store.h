// SqliteStore: the default Store backend (private to src/store; use OpenSqlite).
//
// Layout (MVCC like kine/etcd):
//   kv(revision PK, key, value, create_revision, prev_revision, deleted)
//      one row per write; revision is the global revision. A delete appends a
//      tombstone (value NULL). prev_revision links a row to the key's previous
//      live row, which is what lets compaction work incrementally.
//   current(key PK, revision, create_revision)   WITHOUT ROWID
//      the live rows, maintained in the same transaction, so Get/List/Count at
//      the current revision never scan history.
//   meta(name PK, value): schema_version, compacted, revision (the latter
//      written by compaction only; the live revision is max(kv.revision)).
//
// Writes: one writer thread owns the write connection and does group commit:
// it takes every queued request, applies them in one transaction (each with
// its own revision and CAS outcome), commits once (WAL, synchronous=FULL, so
// the commit is durable), publishes the events, then releases the callers.
// Compaction and WAL checkpoints run on that thread after callers are released.
//
// Reads use a pool of read-only connections; WAL gives each read a snapshot
// without blocking the writer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace berth::store {

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& opts);
  ~SqliteStore() override;

  Result<KeyValue> Get(const std::string& key) override;
  Result<ListResult> List(const ListOptions& opts) override;
  Result<int64_t> Count(const std::string& prefix) override;
  Result<WriteResult> Create(const std::string& key, const std::string& value) override;
  Result<WriteResult> Update(const std::string& key, const std::string& value,
                             int64_t expected_mod_revision) override;
  Result<WriteResult> Delete(const std::string& key, int64_t expected_mod_revision) override;
  Result<std::unique_ptr<Watch>> WatchPrefix(const std::string& prefix,
                                             int64_t from_revision) override;
  int64_t CurrentRevision() override { return committed_rev_.load(); }
  int64_t CompactedRevision() override { return compacted_rev_.load(); }
  Status Compact(int64_t revision) override;
  int64_t SizeBytes() override;
  void Close() override;

 private:
  struct WriteRequest {
    enum class Op { kCreate, kUpdate, kDelete, kCompact };
    Op op = Op::kCreate;
    const std::string* key = nullptr;    // the caller blocks until done, so
    const std::string* value = nullptr;  // borrowing its strings is safe
    int64_t expected = 0;                // CAS revision, or compaction target
    std::promise<Result<WriteResult>> done;
  };

  // Returns a read connection to the pool when it goes out of scope.
  class ReadLease {
   public:
    ReadLease(SqliteStore* s, std::unique_ptr<sqlite::Db> db) : s_(s), db_(std::move(db)) {}
    ~ReadLease() { s_->ReleaseReader(std::move(db_)); }
    ReadLease(ReadLease&&) = delete;
    sqlite::Db* operator->() const { return db_.get(); }
    sqlite::Db& operator*() const { return *db_; }

   private:
    SqliteStore* s_;
    std::unique_ptr<sqlite::Db> db_;
  };

  explicit SqliteStore(const SqliteOptions& opts);
  Status Init();

  Result<WriteResult> Submit(WriteRequest::Op op, const std::string* key, const std::string* value,
                             int64_t expected);
  void WriterLoop();
  void ExecuteWrites(WriteRequest* const* reqs, size_t n);
  Status ApplyWrite(WriteRequest& r, int64_t rev, std::optional<Result<WriteResult>>* out,
                    EventPtr* event);
  Status CompactTo(int64_t target);
  void MaybeAutoCompact();
  void MaybeCheckpoint();
  static int WalHook(void* self, sqlite3* db, const char* name, int pages);

  Result<std::unique_ptr<sqlite::Db>> AcquireReader();
  void ReleaseReader(std::unique_ptr<sqlite::Db> db);
  // Reads history events in (from, snapshot] under `prefix`; returns the
  // snapshot revision. Gone if from is older than the compacted revision.
  Result<int64_t> ReadHistoryEvents(const std::string& prefix, int64_t from,
                                    std::vector<EventPtr>* out);

  const SqliteOptions opts_;
  int lock_fd_ = -1;

  // Writer side; wdb_ is touched only by the writer thread after Init.
  std::unique_ptr<sqlite::Db> wdb_;
  std::thread writer_;
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<WriteRequest*> queue_;
  bool stopping_ = false;
  int wal_pages_ = 0;      // WAL size after the last commit (from the WAL hook)
  int checkpoint_at_ = 0;  // WAL size that triggers the next checkpoint

  std::atomic<int64_t> committed_rev_{0};
  std::atomic<int64_t> compacted_rev_{0};
  std::atomic<bool> closed_{false};

  WatchHub hub_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<sqlite::Db>> readers_;
  bool pool_closed_ = false;
};

}  // namespace berth::store
