// Thin RAII wrappers over the SQLite C API, private to the SQLite store.
//
// A Db owns one connection and caches its prepared statements for its whole
// life (statements are keyed by SQL text). A connection is used by one thread
// at a time; the store guarantees that, so connections are opened NOMUTEX.
// Every SQLite failure becomes a Status naming the operation, so a corrupted
// or unwritable file surfaces as an error, never as a crash.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace berth::store::sqlite {

// Maps a SQLite result code to the store's error model: lock contention is
// Unavailable (retryable), everything else Internal.
Status SqliteError(int rc, std::string_view what, const char* detail);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // Text and blobs are copied by SQLite only if the statement outlives the
  // caller's buffer; every use binds and steps within one scope, so STATIC.
  Stmt& BindText(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }

  // Advances: true = a row is available, false = done; errors as Status.
  Result<bool> Step();
  // Runs a statement that returns no rows (or whose rows are ignored).
  Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Bytes(int col) const {
    const void* p = sqlite3_column_blob(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }

  // Releases the statement's read snapshot and bound buffers. A cached
  // statement left un-reset would pin a WAL snapshot and stall checkpoints.
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  const char* sql() const { return sqlite3_sql(s_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// Resets a cached statement when the scope that uses it ends.
class StmtScope {
 public:
  explicit StmtScope(Stmt* s) : s_(s) {}
  ~StmtScope() { s_->Reset(); }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;
  Stmt* operator->() const { return s_; }
  Stmt& operator*() const { return *s_; }

 private:
  Stmt* s_;
};

class Db {
 public:
  // flags: SQLITE_OPEN_* (NOMUTEX is always added).
  static Result<std::unique_ptr<Db>> Open(const std::string& path, int flags);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* raw() const { return db_; }
  // Runs one or more statements that return no rows.
  Status Exec(const char* sql);
  // Returns the first column of the first row of a one-row query (PRAGMAs).
  Result<int64_t> QueryInt(const char* sql);
  Result<std::string> QueryText(const char* sql);
  // A cached prepared statement, valid for the Db's lifetime.
  Result<Stmt*> Prepare(const std::string& sql);
  Status Error(int rc, std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
};

}  // namespace berth::store::sqlite
