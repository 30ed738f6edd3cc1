#include "store/sqlite/sqlite_db.h"

namespace berth::store::sqlite {

Status SqliteError(int rc, std::string_view what, const char* detail) {
  std::string msg = "sqlite " + std::string(what) + ": " + (detail ? detail : sqlite3_errstr(rc)) +
                    " (code " + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(Code::kUnavailable, msg);
    default:
      return Status(Code::kInternal, msg);
  }
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, sqlite3_sql(s_), sqlite3_errmsg(db_));
}

Status Stmt::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();
  }
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteError(rc, "open " + path, raw ? sqlite3_errmsg(raw) : nullptr);
    sqlite3_close_v2(raw);  // a handle is returned even on most failures
    return st;
  }
  sqlite3_extended_result_codes(raw, 1);
  // Readers and the writer only meet on WAL checkpoints and recovery; a short
  // wait there is better than an error.
  sqlite3_busy_timeout(raw, 5000);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

Status Db::Error(int rc, std::string_view what) const {
  return SqliteError(rc, what, sqlite3_errmsg(db_));
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  Status st = SqliteError(rc, sql, err ? err : sqlite3_errmsg(db_));
  sqlite3_free(err);
  return st;
}

Result<int64_t> Db::QueryInt(const char* sql) {
  BERTH_ASSIGN_OR_RETURN(Stmt * s, Prepare(sql));
  StmtScope scope(s);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return Internal(std::string("sqlite ") + sql + ": no row");
  return s->Int(0);
}

Result<std::string> Db::QueryText(const char* sql) {
  BERTH_ASSIGN_OR_RETURN(Stmt * s, Prepare(sql));
  StmtScope scope(s);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return Internal(std::string("sqlite ") + sql + ": no row");
  return s->Bytes(0);
}

Result<Stmt*> Db::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare " + sql);
  auto stmt = std::make_unique<Stmt>(db_, s);
  Stmt* p = stmt.get();
  cache_.emplace(sql, std::move(stmt));
  return p;
}

}  // namespace berth::store::sqlite
