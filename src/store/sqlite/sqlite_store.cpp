#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/log.h"

namespace berth::store {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtScope;

namespace {

constexpr int64_t kSchemaVersion = 1;

// Far above any Kubernetes object (etcd caps values at 1.5 MiB) and far below
// SQLite's 1 GB string limit: a value SQLite would refuse must be refused
// here, because a statement failing inside a group commit voids the batch.
constexpr size_t kMaxValueBytes = 128u << 20;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  value BLOB,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv(key, revision);
CREATE TABLE IF NOT EXISTS current (
  key TEXT PRIMARY KEY,
  revision INTEGER NOT NULL,
  create_revision INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES
  ('schema_version', 1), ('compacted', 0), ('revision', 0);
)sql";

// The snapshot's revision and compaction point. The live revision is the
// newest kv row; meta.revision covers the case where compaction removed a
// trailing tombstone.
constexpr const char* kSnapshotSql =
    "SELECT max((SELECT value FROM meta WHERE name = 'revision'),"
    "           coalesce((SELECT max(revision) FROM kv), 0)),"
    "       (SELECT value FROM meta WHERE name = 'compacted')";

constexpr const char* kExistsSql = "SELECT revision, create_revision FROM current WHERE key = ?1";
// CROSS JOIN pins `current` as the outer loop: a key lookup, then a rowid fetch.
constexpr const char* kGetSql =
    "SELECT c.revision, c.create_revision, k.value FROM current c CROSS JOIN kv k "
    "ON k.revision = c.revision WHERE c.key = ?1";
constexpr const char* kInsertKvSql =
    "INSERT INTO kv(revision, key, value, create_revision, prev_revision, deleted) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kInsertCurrentSql =
    "INSERT INTO current(key, revision, create_revision) VALUES (?1, ?2, ?3)";
constexpr const char* kUpdateCurrentSql = "UPDATE current SET revision = ?2 WHERE key = ?1";
constexpr const char* kDeleteCurrentSql = "DELETE FROM current WHERE key = ?1";

// Compaction of (?1, ?2]: a row is superseded at or below ?2 exactly when its
// successor (the row whose prev_revision names it) is at or below ?2; every
// row has at most one successor, so walking the range's prev_revision links
// finds all superseded rows without scanning older history. Tombstones in
// the range go too (the key did not exist at ?2).
constexpr const char* kCompactSupersededSql =
    "DELETE FROM kv WHERE revision IN (SELECT prev_revision FROM kv "
    "WHERE revision > ?1 AND revision <= ?2 AND prev_revision > 0)";
constexpr const char* kCompactTombstonesSql =
    "DELETE FROM kv WHERE revision > ?1 AND revision <= ?2 AND deleted = 1";
constexpr const char* kSetMetaSql = "UPDATE meta SET value = ?2 WHERE name = ?1";

// Key range predicates: ?1 = prefix (inclusive), ?2 = start_after
// (exclusive), ?3 = end of the prefix range (exclusive) when there is one.
std::string RangeWhere(const char* col, bool has_end) {
  std::string w = std::string(col) + " >= ?1 AND " + col + " > ?2";
  if (has_end) w += std::string(" AND ") + col + " < ?3";
  return w;
}

std::string ListCurrentSql(bool has_end) {
  return "SELECT c.key, k.value, c.create_revision, c.revision FROM current c CROSS JOIN kv k "
         "ON k.revision = c.revision WHERE " +
         RangeWhere("c.key", has_end) + " ORDER BY c.key LIMIT ?4";
}

// The newest row of each key at or below ?5; with max() SQLite takes the bare
// columns from the max row. Keys whose newest row is a tombstone did not
// exist at that revision.
std::string ListHistorySql(bool has_end) {
  return "SELECT key, value, create_revision, rev FROM ("
         "SELECT key, value, create_revision, max(revision) AS rev, deleted FROM kv WHERE " +
         RangeWhere("key", has_end) +
         " AND revision <= ?5 GROUP BY key) WHERE deleted = 0 ORDER BY key LIMIT ?4";
}

std::string CountSql(bool has_end) {
  return std::string("SELECT count(*) FROM current WHERE key >= ?1") +
         (has_end ? " AND key < ?2" : "");
}

// History for watch replay, in revision order. The unary + keeps SQLite off
// the key index: a rowid range scan is the right plan here.
std::string HistoryEventsSql(bool has_end) {
  return std::string(
             "SELECT k.revision, k.key, k.value, k.create_revision, k.prev_revision, k.deleted, "
             "p.value, p.create_revision FROM kv k LEFT JOIN kv p ON p.revision = k.prev_revision "
             "WHERE k.revision > ?1 AND k.revision <= ?2 AND +k.key >= ?3") +
         (has_end ? " AND +k.key < ?4" : "") + " ORDER BY k.revision";
}

// The smallest string above every string that starts with p; none when p is
// empty or all 0xff bytes.
std::optional<std::string> PrefixEnd(std::string p) {
  while (!p.empty()) {
    auto c = static_cast<unsigned char>(p.back());
    if (c != 0xff) {
      p.back() = static_cast<char>(c + 1);
      return p;
    }
    p.pop_back();
  }
  return std::nullopt;
}

Status StoreClosed() { return Status(Code::kUnavailable, "store closed"); }

// Ends a read transaction on every path; read transactions have nothing to
// roll back, ROLLBACK just releases the snapshot.
class ReadTxn {
 public:
  explicit ReadTxn(Db* db) : db_(db) {}
  Status Begin() {
    Status st = db_->Exec("BEGIN");
    active_ = st.ok();
    return st;
  }
  ~ReadTxn() {
    if (active_) db_->Exec("ROLLBACK");
  }

 private:
  Db* db_;
  bool active_ = false;
};

struct Snapshot {
  int64_t revision = 0;
  int64_t compacted = 0;
};

Result<Snapshot> ReadSnapshot(Db* db) {
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db->Prepare(kSnapshotSql));
  StmtScope sc(s);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return Internal("store snapshot: no row");
  return Snapshot{s->Int(0), s->Int(1)};
}

}  // namespace

SqliteStore::SqliteStore(const SqliteOptions& opts)
    : opts_(opts),
      hub_(static_cast<size_t>(std::max<int64_t>(opts.history_window, 1)),
           static_cast<size_t>(std::max<int64_t>(opts.watch_queue_limit, 1))) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& opts) {
  if (opts.path.empty()) return BadRequest("sqlite store: empty path");
  if (opts.history_window <= 0) return BadRequest("sqlite store: history_window must be > 0");
  std::unique_ptr<SqliteStore> s(new SqliteStore(opts));
  Status st = s->Init();
  if (!st.ok()) {
    s->Close();
    return Status(st.code(), "open store " + opts.path + ": " + st.message());
  }
  return s;
}

Status SqliteStore::Init() {
  // Two processes each running a writer would hand out the same revisions;
  // an advisory lock makes the second one fail instead.
  std::string lock_path = opts_.path + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return Internal("cannot open lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) return Status(Code::kUnavailable, "database in use by another store");
    return Internal("cannot lock " + lock_path + ": " + std::strerror(e));
  }

  BERTH_ASSIGN_OR_RETURN(wdb_, Db::Open(opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  if (sqlite3_db_readonly(wdb_->raw(), "main") == 1) return Internal("database is read-only");
  // The first statement reads the header: a file that is not a database
  // fails here with a clear message.
  BERTH_ASSIGN_OR_RETURN(std::string mode, wdb_->QueryText("PRAGMA journal_mode=WAL"));
  if (mode != "wal") return Internal("cannot enable WAL (journal_mode=" + mode + ")");
  // FULL makes every WAL commit an fsync: an acknowledged write survives a
  // crash or power loss, which NORMAL would not guarantee.
  BERTH_RETURN_IF_ERROR(wdb_->Exec("PRAGMA synchronous=FULL"));
  BERTH_RETURN_IF_ERROR(wdb_->Exec("PRAGMA journal_size_limit=67108864"));
  BERTH_RETURN_IF_ERROR(wdb_->Exec("PRAGMA cache_size=-16384"));
  BERTH_RETURN_IF_ERROR(wdb_->Exec("BEGIN IMMEDIATE"));
  Status st = wdb_->Exec(kSchema);
  if (!st.ok()) {
    wdb_->Exec("ROLLBACK");
    return st;
  }
  BERTH_RETURN_IF_ERROR(wdb_->Exec("COMMIT"));
  BERTH_ASSIGN_OR_RETURN(int64_t version,
                         wdb_->QueryInt("SELECT value FROM meta WHERE name = 'schema_version'"));
  if (version != kSchemaVersion) {
    return Internal("unsupported schema version " + std::to_string(version));
  }
  BERTH_ASSIGN_OR_RETURN(Snapshot snap, ReadSnapshot(wdb_.get()));
  committed_rev_ = snap.revision;
  compacted_rev_ = snap.compacted;
  hub_.Reset(snap.revision);

  // Our hook replaces SQLite's auto-checkpoint, which would run inside the
  // commit of whichever unlucky batch crossed the threshold; we checkpoint
  // after releasing the callers instead.
  sqlite3_wal_hook(wdb_->raw(), &SqliteStore::WalHook, this);
  checkpoint_at_ = 1000;

  writer_ = std::thread([this] { WriterLoop(); });
  log::Debug("store opened", log::Fields()("path", opts_.path)("revision", snap.revision)(
                                 "compacted", snap.compacted));
  return Status::Ok();
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> l(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (writer_.joinable()) writer_.join();  // drains queued writes first
  hub_.CloseAll(StoreClosed());
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    pool_closed_ = true;
    readers_.clear();
  }
  // Closed last, so that (with no reader left) SQLite checkpoints and removes
  // the WAL, making the next open's recovery trivial.
  wdb_.reset();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

// ---------------------------------------------------------------------------
// Writes

Result<WriteResult> SqliteStore::Create(const std::string& key, const std::string& value) {
  return Submit(WriteRequest::Op::kCreate, &key, &value, 0);
}

Result<WriteResult> SqliteStore::Update(const std::string& key, const std::string& value,
                                        int64_t expected_mod_revision) {
  return Submit(WriteRequest::Op::kUpdate, &key, &value, expected_mod_revision);
}

Result<WriteResult> SqliteStore::Delete(const std::string& key, int64_t expected_mod_revision) {
  return Submit(WriteRequest::Op::kDelete, &key, nullptr, expected_mod_revision);
}

Status SqliteStore::Compact(int64_t revision) {
  auto r = Submit(WriteRequest::Op::kCompact, nullptr, nullptr, revision);
  return r.status();
}

Result<WriteResult> SqliteStore::Submit(WriteRequest::Op op, const std::string* key,
                                        const std::string* value, int64_t expected) {
  if (key && key->empty()) return BadRequest("empty key");
  if (value && value->size() > kMaxValueBytes) {
    return Status(Code::kRequestTooLarge,
                  "value of " + std::to_string(value->size()) + " bytes exceeds the store limit");
  }
  if (expected < 0) return BadRequest("negative revision");
  WriteRequest req;
  req.op = op;
  req.key = key;
  req.value = value;
  req.expected = expected;
  auto fut = req.done.get_future();
  {
    std::lock_guard<std::mutex> l(q_mu_);
    if (stopping_) return StoreClosed();
    queue_.push_back(&req);
  }
  q_cv_.notify_one();
  return fut.get();
}

void SqliteStore::WriterLoop() {
  pthread_setname_np(pthread_self(), "store-writer");
  std::vector<WriteRequest*> batch;
  const size_t max_batch = static_cast<size_t>(std::max(opts_.max_batch, 1));
  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> l(q_mu_);
      q_cv_.wait(l, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and every request answered
      // Everything that queued up during the previous commit goes into this
      // one: that is the group commit.
      while (!queue_.empty() && batch.size() < max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    // Runs of writes share a transaction; a compaction request is its own
    // transaction, in arrival order.
    size_t i = 0;
    while (i < batch.size()) {
      if (batch[i]->op == WriteRequest::Op::kCompact) {
        WriteRequest* r = batch[i++];
        int64_t target = r->expected;
        Status st;
        if (target > committed_rev_.load()) {
          st = BadRequest("compact revision " + std::to_string(target) +
                          " is newer than the current revision " +
                          std::to_string(committed_rev_.load()));
        } else {
          st = CompactTo(target);
        }
        r->done.set_value(st.ok() ? Result<WriteResult>(WriteResult{}) : Result<WriteResult>(st));
        continue;
      }
      size_t j = i;
      while (j < batch.size() && batch[j]->op != WriteRequest::Op::kCompact) ++j;
      ExecuteWrites(batch.data() + i, j - i);
      i = j;
    }
    MaybeAutoCompact();
    MaybeCheckpoint();
  }
}

void SqliteStore::ExecuteWrites(WriteRequest* const* reqs, size_t n) {
  std::vector<std::optional<Result<WriteResult>>> outcomes(n);
  std::vector<EventPtr> events;
  events.reserve(n);
  int64_t rev = committed_rev_.load();

  Status st = wdb_->Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; st.ok() && i < n; ++i) {
    EventPtr ev;
    st = ApplyWrite(*reqs[i], rev + 1, &outcomes[i], &ev);
    if (st.ok() && ev) {
      ++rev;
      events.push_back(std::move(ev));
    }
  }
  if (st.ok()) st = wdb_->Exec("COMMIT");
  if (!st.ok()) {
    // A storage error voids the whole batch: later CAS checks in it saw the
    // earlier writes, so none of its outcomes can be trusted.
    if (!sqlite3_get_autocommit(wdb_->raw())) wdb_->Exec("ROLLBACK");
    log::Error("store write failed", log::Fields()("batch", n)("error", st.ToString()));
    for (size_t i = 0; i < n; ++i) reqs[i]->done.set_value(st);
    return;
  }
  committed_rev_ = rev;
  // Watchers see the events before any caller returns, so a client that
  // watches from the revision it just wrote never misses what followed.
  hub_.Publish(events);
  for (size_t i = 0; i < n; ++i) reqs[i]->done.set_value(std::move(*outcomes[i]));
}

Status SqliteStore::ApplyWrite(WriteRequest& r, int64_t rev,
                               std::optional<Result<WriteResult>>* out, EventPtr* event) {
  using Op = WriteRequest::Op;
  const std::string& key = *r.key;
  bool exists = false;
  KeyValue cur;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, wdb_->Prepare(r.op == Op::kCreate ? kExistsSql : kGetSql));
    StmtScope sc(s);
    s->BindText(1, key);
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) {
      exists = true;
      cur.key = key;
      cur.mod_revision = s->Int(0);
      cur.create_revision = s->Int(1);
      if (r.op != Op::kCreate) cur.value = s->Bytes(2);
    }
  }

  if (r.op == Op::kCreate && exists) {
    *out = AlreadyExists("key " + key + " already exists");
    return Status::Ok();
  }
  if (r.op != Op::kCreate) {
    if (!exists) {
      *out = NotFound("key " + key + " not found");
      return Status::Ok();
    }
    if (r.expected != 0 && r.expected != cur.mod_revision) {
      *out = Conflict("key " + key + " was modified: expected revision " +
                      std::to_string(r.expected) + ", current " + std::to_string(cur.mod_revision));
      return Status::Ok();
    }
  }

  const bool is_delete = r.op == Op::kDelete;
  const int64_t create_rev = r.op == Op::kCreate ? rev : cur.create_revision;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, wdb_->Prepare(kInsertKvSql));
    StmtScope sc(s);
    s->Bind(1, rev).BindText(2, key);
    if (is_delete) {
      s->BindNull(3);
    } else {
      s->BindBlob(3, *r.value);
    }
    s->Bind(4, create_rev).Bind(5, exists ? cur.mod_revision : 0).Bind(6, is_delete ? 1 : 0);
    BERTH_RETURN_IF_ERROR(s->Run());
  }
  {
    const char* sql = r.op == Op::kCreate   ? kInsertCurrentSql
                      : r.op == Op::kUpdate ? kUpdateCurrentSql
                                            : kDeleteCurrentSql;
    BERTH_ASSIGN_OR_RETURN(Stmt * s, wdb_->Prepare(sql));
    StmtScope sc(s);
    s->BindText(1, key);
    if (r.op != Op::kDelete) s->Bind(2, rev);
    if (r.op == Op::kCreate) s->Bind(3, rev);
    BERTH_RETURN_IF_ERROR(s->Run());
  }

  auto ev = std::make_shared<Event>();
  ev->type = is_delete ? Event::Type::kDelete : Event::Type::kPut;
  ev->is_create = r.op == Op::kCreate;
  ev->kv.key = key;
  ev->kv.value = is_delete ? cur.value : *r.value;
  ev->kv.create_revision = create_rev;
  ev->kv.mod_revision = rev;
  if (exists) ev->prev = cur;

  WriteResult wr;
  wr.revision = rev;
  if (exists) wr.prev = std::move(cur);
  *out = std::move(wr);
  *event = std::move(ev);
  return Status::Ok();
}

Status SqliteStore::CompactTo(int64_t target) {
  int64_t from = compacted_rev_.load();
  if (target <= from) return Status::Ok();
  BERTH_RETURN_IF_ERROR(wdb_->Exec("BEGIN IMMEDIATE"));
  auto run = [&]() -> Status {
    for (const char* sql : {kCompactSupersededSql, kCompactTombstonesSql}) {
      BERTH_ASSIGN_OR_RETURN(Stmt * s, wdb_->Prepare(sql));
      StmtScope sc(s);
      s->Bind(1, from).Bind(2, target);
      BERTH_RETURN_IF_ERROR(s->Run());
    }
    const std::pair<const char*, int64_t> meta[] = {{"compacted", target},
                                                    {"revision", committed_rev_.load()}};
    for (const auto& [name, value] : meta) {
      BERTH_ASSIGN_OR_RETURN(Stmt * s, wdb_->Prepare(kSetMetaSql));
      StmtScope sc(s);
      s->BindText(1, name).Bind(2, value);
      BERTH_RETURN_IF_ERROR(s->Run());
    }
    return wdb_->Exec("COMMIT");
  };
  Status st = run();
  if (!st.ok()) {
    if (!sqlite3_get_autocommit(wdb_->raw())) wdb_->Exec("ROLLBACK");
    log::Error("store compaction failed", log::Fields()("target", target)("error", st.ToString()));
    return st;
  }
  compacted_rev_ = target;
  return Status::Ok();
}

void SqliteStore::MaybeAutoCompact() {
  if (!opts_.auto_compact) return;
  const int64_t window = opts_.history_window;
  // Compacting in steps of a fraction of the window keeps each compaction
  // transaction small and infrequent (one per window/8 writes).
  const int64_t slack = std::max<int64_t>(window / 8, 64);
  int64_t target = committed_rev_.load() - window;
  int64_t compacted = compacted_rev_.load();
  if (target - compacted < slack) return;
  // Bounded work per step, so a long-neglected history never stalls writes.
  target = std::min(target, compacted + std::max<int64_t>(window, 10000));
  CompactTo(target);  // failures are logged; the next step retries
}

int SqliteStore::WalHook(void* self, sqlite3*, const char*, int pages) {
  static_cast<SqliteStore*>(self)->wal_pages_ = pages;
  return SQLITE_OK;
}

void SqliteStore::MaybeCheckpoint() {
  constexpr int kCheckpointPages = 1000;  // SQLite's default auto-checkpoint size
  if (wal_pages_ < checkpoint_at_) return;
  int log_pages = 0;
  int done_pages = 0;
  int rc = sqlite3_wal_checkpoint_v2(wdb_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                     &done_pages);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    log::Warn("store checkpoint failed", log::Fields()("error", sqlite3_errmsg(wdb_->raw())));
  }
  // A reader pinning old frames can leave the checkpoint partial; wait for
  // more growth before retrying rather than re-checkpointing every batch.
  checkpoint_at_ = (rc == SQLITE_OK && done_pages >= log_pages) ? kCheckpointPages
                                                                : wal_pages_ + kCheckpointPages / 4;
}

// ---------------------------------------------------------------------------
// Reads

Result<std::unique_ptr<Db>> SqliteStore::AcquireReader() {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (pool_closed_) return StoreClosed();
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  // Bursts open extra readers; ReleaseReader keeps only kMaxIdleReaders of
  // them, so memory returns to its idle size after the burst. Readers share
  // the OS page cache, so a small private cache each is enough.
  BERTH_ASSIGN_OR_RETURN(auto db, Db::Open(opts_.path, SQLITE_OPEN_READWRITE));
  BERTH_RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  BERTH_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-2048"));
  return db;
}

void SqliteStore::ReleaseReader(std::unique_ptr<Db> db) {
  if (!db) return;
  constexpr size_t kMaxIdleReaders = 4;
  std::lock_guard<std::mutex> l(pool_mu_);
  if (!pool_closed_ && readers_.size() < kMaxIdleReaders) readers_.push_back(std::move(db));
  // Otherwise `db` closes here.
}

Result<KeyValue> SqliteStore::Get(const std::string& key) {
  if (closed_) return StoreClosed();
  BERTH_ASSIGN_OR_RETURN(auto conn, AcquireReader());
  ReadLease db(this, std::move(conn));
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db->Prepare(kGetSql));
  StmtScope sc(s);
  s->BindText(1, key);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFound("key " + key + " not found");
  return KeyValue{key, s->Bytes(2), s->Int(1), s->Int(0)};
}

Result<ListResult> SqliteStore::List(const ListOptions& opts) {
  if (closed_) return StoreClosed();
  if (opts.limit < 0 || opts.revision < 0) return BadRequest("negative limit or revision");
  BERTH_ASSIGN_OR_RETURN(auto conn, AcquireReader());
  ReadLease db(this, std::move(conn));
  ReadTxn txn(&*db);
  BERTH_RETURN_IF_ERROR(txn.Begin());
  BERTH_ASSIGN_OR_RETURN(Snapshot snap, ReadSnapshot(&*db));

  ListResult res;
  res.revision = opts.revision == 0 ? snap.revision : opts.revision;
  if (res.revision > snap.revision) {
    return Status(Code::kTimeout, "too large resource version: " + std::to_string(res.revision) +
                                      ", current: " + std::to_string(snap.revision));
  }
  const bool at_current = res.revision == snap.revision;
  if (!at_current && res.revision < snap.compacted) {
    return Gone("too old resource version: " + std::to_string(res.revision) + " (compacted at " +
                std::to_string(snap.compacted) + ")");
  }

  std::optional<std::string> end = PrefixEnd(opts.prefix);
  std::string sql = at_current ? ListCurrentSql(end.has_value()) : ListHistorySql(end.has_value());
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db->Prepare(sql));
  StmtScope sc(s);
  s->BindText(1, opts.prefix).BindText(2, opts.start_after);
  if (end) s->BindText(3, *end);
  // One extra row tells whether more follow.
  s->Bind(4, opts.limit > 0 ? opts.limit + 1 : -1);
  if (!at_current) s->Bind(5, res.revision);
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (opts.limit > 0 && static_cast<int64_t>(res.items.size()) == opts.limit) {
      res.more = true;
      break;
    }
    res.items.push_back(KeyValue{s->Bytes(0), s->Bytes(1), s->Int(2), s->Int(3)});
  }
  return res;
}

Result<int64_t> SqliteStore::Count(const std::string& prefix) {
  if (closed_) return StoreClosed();
  BERTH_ASSIGN_OR_RETURN(auto conn, AcquireReader());
  ReadLease db(this, std::move(conn));
  std::optional<std::string> end = PrefixEnd(prefix);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db->Prepare(CountSql(end.has_value())));
  StmtScope sc(s);
  s->BindText(1, prefix);
  if (end) s->BindText(2, *end);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return Internal("count: no row");
  return s->Int(0);
}

int64_t SqliteStore::SizeBytes() {
  if (closed_) return 0;
  auto conn = AcquireReader();
  if (!conn.ok()) return 0;
  ReadLease db(this, std::move(conn).value());
  auto pages = db->QueryInt("PRAGMA page_count");
  auto size = db->QueryInt("PRAGMA page_size");
  if (!pages.ok() || !size.ok()) return 0;
  return *pages * *size;
}

// ---------------------------------------------------------------------------
// Watch

Result<std::unique_ptr<Watch>> SqliteStore::WatchPrefix(const std::string& prefix,
                                                        int64_t from_revision) {
  if (closed_) return StoreClosed();
  if (from_revision < 0) return BadRequest("negative revision");
  std::vector<EventPtr> replay;
  int64_t cursor = from_revision;
  // Usually one pass: the ring covers recent history. Otherwise replay from
  // the database up to its snapshot and let the ring supply the rest; only a
  // writer outrunning the whole ring during the read makes another pass.
  for (int pass = 0; pass < 100; ++pass) {
    BERTH_ASSIGN_OR_RETURN(auto w,
                           hub_.TryRegister(prefix, cursor, compacted_rev_.load(), &replay));
    if (w) return w;
    BERTH_ASSIGN_OR_RETURN(cursor, ReadHistoryEvents(prefix, cursor, &replay));
  }
  return Status(Code::kUnavailable, "watch could not catch up with writes; retry");
}

Result<int64_t> SqliteStore::ReadHistoryEvents(const std::string& prefix, int64_t from,
                                               std::vector<EventPtr>* out) {
  BERTH_ASSIGN_OR_RETURN(auto conn, AcquireReader());
  ReadLease db(this, std::move(conn));
  ReadTxn txn(&*db);
  BERTH_RETURN_IF_ERROR(txn.Begin());
  BERTH_ASSIGN_OR_RETURN(Snapshot snap, ReadSnapshot(&*db));
  if (from < snap.compacted) {
    return Gone("too old resource version: " + std::to_string(from) + " (compacted at " +
                std::to_string(snap.compacted) + ")");
  }
  std::optional<std::string> end = PrefixEnd(prefix);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db->Prepare(HistoryEventsSql(end.has_value())));
  StmtScope sc(s);
  s->Bind(1, from).Bind(2, snap.revision).BindText(3, prefix);
  if (end) s->BindText(4, *end);
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    auto ev = std::make_shared<Event>();
    const int64_t rev = s->Int(0);
    const int64_t prev_rev = s->Int(4);
    ev->kv.key = s->Bytes(1);
    ev->kv.create_revision = s->Int(3);
    ev->kv.mod_revision = rev;
    if (prev_rev > 0 && !s->IsNull(7)) {
      ev->prev = KeyValue{ev->kv.key, s->Bytes(6), s->Int(7), prev_rev};
    }
    if (s->Int(5) != 0) {
      ev->type = Event::Type::kDelete;
      if (ev->prev) ev->kv.value = ev->prev->value;
    } else {
      ev->type = Event::Type::kPut;
      ev->kv.value = s->Bytes(2);
      ev->is_create = ev->kv.create_revision == rev;
    }
    out->push_back(std::move(ev));
  }
  return snap.revision;
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<Store>> OpenSqlite(const SqliteOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(auto s, SqliteStore::Open(opts));
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace berth::store
