#include "registry/metadata.h"

#include <sqlite3.h>

#include <set>

#include "core/time.h"
#include "store/sqlite/sqlite_db.h"

namespace berth::registry {

using store::sqlite::Db;
using store::sqlite::Stmt;
using store::sqlite::StmtScope;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL,
  touched INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links(repo TEXT NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY(repo, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_digest ON links(digest);
CREATE TABLE IF NOT EXISTS manifests(repo TEXT NOT NULL, digest TEXT NOT NULL,
  media_type TEXT NOT NULL, size INTEGER NOT NULL, artifact_type TEXT NOT NULL,
  subject TEXT NOT NULL, annotations TEXT NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY(repo, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);
CREATE TABLE IF NOT EXISTS refs(repo TEXT NOT NULL, manifest TEXT NOT NULL, ref TEXT NOT NULL,
  is_manifest INTEGER NOT NULL, PRIMARY KEY(repo, manifest, ref)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_ref ON refs(ref);
CREATE TABLE IF NOT EXISTS tags(repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  updated INTEGER NOT NULL, PRIMARY KEY(repo, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);
CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL,
  updated INTEGER NOT NULL) WITHOUT ROWID;
)sql";

std::string Text(const Stmt& s, int col) { return s.Bytes(col); }

int64_t NowMillis() { return NowMicros() / 1000; }

// Runs a statement with text parameters and no rows.
Status RunText(Db& db, const char* sql, std::initializer_list<std::string_view> args,
               std::initializer_list<int64_t> ints = {}) {
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db.Prepare(sql));
  StmtScope scope(s);
  int i = 1;
  for (std::string_view a : args) s->BindText(i++, a);
  for (int64_t v : ints) s->Bind(i++, v);
  return s->Run();
}

ManifestRecord ReadManifest(const Stmt& s) {
  ManifestRecord m;
  m.repo = Text(s, 0);
  m.digest = Text(s, 1);
  m.media_type = Text(s, 2);
  m.size = s.Int(3);
  m.artifact_type = Text(s, 4);
  m.subject = Text(s, 5);
  m.annotations = Text(s, 6);
  m.created_ms = s.Int(7);
  return m;
}

// Every row's first column (the statement bound and scoped by the caller).
Result<std::vector<std::string>> TextRows(Stmt* s) {
  std::vector<std::string> out;
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return out;
    out.push_back(Text(*s, 0));
  }
}

Result<std::vector<ManifestRecord>> ManifestRows(Stmt* s) {
  std::vector<ManifestRecord> out;
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return out;
    out.push_back(ReadManifest(*s));
  }
}

// Whether a one-parameter query finds a row (errors count as no).
bool HasRow(Db& db, const char* sql, const std::string& key) {
  auto s = db.Prepare(sql);
  if (!s.ok()) return false;
  StmtScope scope(*s);
  (*s)->BindText(1, key);
  auto row = (*s)->Step();
  return row.ok() && *row;
}

// The size of a blob repo links, or -1.
Result<int64_t> LinkedSize(Db& db, const std::string& repo, const std::string& digest) {
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db.Prepare("SELECT b.size FROM links l JOIN blobs b ON b.digest = l.digest "
                                              "WHERE l.repo = ?1 AND l.digest = ?2"));
  StmtScope scope(s);
  s->BindText(1, repo).BindText(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : int64_t{-1};
}

constexpr const char* kManifestCols =
    "repo, digest, media_type, size, artifact_type, subject, annotations, created";

// The key range of a project's repositories: "p/" <= repo < "p0".
std::pair<std::string, std::string> ProjectRange(const std::string& project) {
  return {project + "/", project + "0"};
}

}  // namespace

Metadata::Metadata() = default;
Metadata::~Metadata() = default;

Result<std::unique_ptr<Metadata>> Metadata::Open(const std::string& path) {
  std::unique_ptr<Metadata> m(new Metadata());
  BERTH_ASSIGN_OR_RETURN(m->db_, Db::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  BERTH_RETURN_IF_ERROR(m->db_->QueryText("PRAGMA journal_mode=WAL").status());
  BERTH_RETURN_IF_ERROR(m->db_->Exec("PRAGMA synchronous=FULL"));
  BERTH_RETURN_IF_ERROR(m->db_->Exec("PRAGMA busy_timeout=5000"));
  BERTH_RETURN_IF_ERROR(m->db_->Exec(kSchema));
  return m;
}

Status Metadata::Tx(const std::function<Status()>& fn) {
  BERTH_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  Status st = fn();
  if (st.ok()) st = db_->Exec("COMMIT");
  if (!st.ok()) (void)db_->Exec("ROLLBACK");
  return st;
}

Status Metadata::RecordBlob(const std::string& repo, const std::string& digest, int64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowMillis();
  return Tx([&]() -> Status {
    BERTH_RETURN_IF_ERROR(RunText(*db_,
                                  "INSERT INTO blobs(digest, size, touched) VALUES(?1, ?2, ?3) "
                                  "ON CONFLICT(digest) DO UPDATE SET touched = ?3",
                                  {digest}, {size, now}));
    return RunText(*db_, "INSERT OR IGNORE INTO links(repo, digest) VALUES(?1, ?2)", {repo, digest});
  });
}

Result<int64_t> Metadata::LinkedBlobSize(const std::string& repo, const std::string& digest, bool touch) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(int64_t size, LinkedSize(*db_, repo, digest));
  if (size < 0) return NotFound("blob unknown to repository");
  if (touch) {
    BERTH_RETURN_IF_ERROR(
        RunText(*db_, "UPDATE blobs SET touched = ?2 WHERE digest = ?1", {digest}, {NowMillis()}));
  }
  return size;
}

Result<int64_t> Metadata::MountBlob(const std::string& repo, const std::string& from, const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t size = -1;
  Status st = Tx([&]() -> Status {
    BERTH_ASSIGN_OR_RETURN(size, LinkedSize(*db_, from, digest));
    if (size < 0) return NotFound("blob unknown to the source repository");
    BERTH_RETURN_IF_ERROR(RunText(*db_, "UPDATE blobs SET touched = ?2 WHERE digest = ?1", {digest}, {NowMillis()}));
    return RunText(*db_, "INSERT OR IGNORE INTO links(repo, digest) VALUES(?1, ?2)", {repo, digest});
  });
  if (!st.ok()) return st;
  return size;
}

Status Metadata::UnlinkBlob(const std::string& repo, const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM links WHERE repo = ?1 AND digest = ?2", {repo, digest}));
  if (sqlite3_changes(db_->raw()) == 0) return NotFound("blob unknown to repository");
  return Status::Ok();
}

Status Metadata::PutManifestLocked(const ManifestRecord& m, const ManifestRefs& refs, const std::string& tag,
                                   bool tag_immutable) {
  if (!tag.empty() && tag_immutable) {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT digest FROM tags WHERE repo = ?1 AND tag = ?2"));
    StmtScope scope(s);
    s->BindText(1, m.repo).BindText(2, tag);
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row && Text(*s, 0) != m.digest)
      return Status(Code::kForbidden, "tag " + tag + " is immutable and already names " + Text(*s, 0));
  }
  for (const auto& [digest, size] : refs.blobs) {
    BERTH_ASSIGN_OR_RETURN(int64_t have, LinkedSize(*db_, m.repo, digest));
    if (have < 0) return NotFound("blob " + digest);
    if (size >= 0 && have != size)
      return Invalid("blob " + digest + " has size " + std::to_string(have) + ", the manifest says " +
                     std::to_string(size));
  }
  for (const std::string& digest : refs.manifests) {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT 1 FROM manifests WHERE repo = ?1 AND digest = ?2"));
    StmtScope scope(s);
    s->BindText(1, m.repo).BindText(2, digest);
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return NotFound("manifest " + digest);
  }
  int64_t now = NowMillis();
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(
        "INSERT OR IGNORE INTO manifests(repo, digest, media_type, size, artifact_type, subject, "
        "annotations, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    StmtScope scope(s);
    s->BindText(1, m.repo).BindText(2, m.digest).BindText(3, m.media_type).Bind(4, m.size);
    s->BindText(5, m.artifact_type).BindText(6, m.subject).BindText(7, m.annotations).Bind(8, now);
    BERTH_RETURN_IF_ERROR(s->Run());
  }
  BERTH_RETURN_IF_ERROR(RunText(*db_,
                                "INSERT INTO blobs(digest, size, touched) VALUES(?1, ?2, ?3) "
                                "ON CONFLICT(digest) DO UPDATE SET touched = ?3",
                                {m.digest}, {m.size, now}));
  BERTH_RETURN_IF_ERROR(RunText(*db_, "INSERT OR IGNORE INTO links(repo, digest) VALUES(?1, ?2)", {m.repo, m.digest}));
  for (const auto& [digest, size] : refs.blobs) {
    BERTH_RETURN_IF_ERROR(RunText(*db_, "INSERT OR IGNORE INTO refs(repo, manifest, ref, is_manifest) VALUES(?1, ?2, ?3, 0)",
                                  {m.repo, m.digest, digest}));
  }
  for (const std::string& digest : refs.manifests) {
    BERTH_RETURN_IF_ERROR(RunText(*db_, "INSERT OR IGNORE INTO refs(repo, manifest, ref, is_manifest) VALUES(?1, ?2, ?3, 1)",
                                  {m.repo, m.digest, digest}));
  }
  if (!tag.empty()) {
    BERTH_RETURN_IF_ERROR(RunText(*db_,
                                  "INSERT INTO tags(repo, tag, digest, updated) VALUES(?1, ?2, ?3, ?4) "
                                  "ON CONFLICT(repo, tag) DO UPDATE SET digest = ?3, updated = ?4",
                                  {m.repo, tag, m.digest}, {now}));
  }
  return Status::Ok();
}

Status Metadata::PutManifest(const ManifestRecord& m, const ManifestRefs& refs, const std::string& tag,
                             bool tag_immutable, const std::function<Status()>& before_commit) {
  std::lock_guard<std::mutex> lock(mu_);
  return Tx([&]() -> Status {
    BERTH_RETURN_IF_ERROR(PutManifestLocked(m, refs, tag, tag_immutable));
    return before_commit ? before_commit() : Status::Ok();
  });
}

Result<ManifestRecord> Metadata::GetManifest(const std::string& repo, const std::string& reference) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string digest = reference;
  if (reference.find(':') == std::string::npos) {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT digest FROM tags WHERE repo = ?1 AND tag = ?2"));
    StmtScope scope(s);
    s->BindText(1, repo).BindText(2, reference);
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return NotFound("manifest unknown");
    digest = Text(*s, 0);
  }
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(std::string("SELECT ") + kManifestCols +
                                                " FROM manifests WHERE repo = ?1 AND digest = ?2"));
  StmtScope scope(s);
  s->BindText(1, repo).BindText(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFound("manifest unknown");
  return ReadManifest(*s);
}

Result<std::vector<std::string>> Metadata::TagsOf(const std::string& repo, const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT tag FROM tags WHERE repo = ?1 AND digest = ?2 ORDER BY tag"));
  StmtScope scope(s);
  s->BindText(1, repo).BindText(2, digest);
  return TextRows(s);
}

Status Metadata::DeleteTag(const std::string& repo, const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM tags WHERE repo = ?1 AND tag = ?2", {repo, tag}));
  if (sqlite3_changes(db_->raw()) == 0) return NotFound("manifest unknown");
  return Status::Ok();
}

Status Metadata::DeleteManifest(const std::string& repo, const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  return Tx([&]() -> Status {
    BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2", {repo, digest}));
    if (sqlite3_changes(db_->raw()) == 0) return NotFound("manifest unknown");
    BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM refs WHERE repo = ?1 AND manifest = ?2", {repo, digest}));
    BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM tags WHERE repo = ?1 AND digest = ?2", {repo, digest}));
    return RunText(*db_, "DELETE FROM links WHERE repo = ?1 AND digest = ?2", {repo, digest});
  });
}

Result<std::vector<ManifestRecord>> Metadata::Referrers(const std::string& repo, const std::string& subject) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(std::string("SELECT ") + kManifestCols +
                                                " FROM manifests WHERE repo = ?1 AND subject = ?2 ORDER BY digest"));
  StmtScope scope(s);
  s->BindText(1, repo).BindText(2, subject);
  return ManifestRows(s);
}

bool Metadata::RepositoryExists(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  return HasRow(*db_, "SELECT 1 FROM links WHERE repo = ?1 LIMIT 1", repo);
}

Result<std::vector<std::string>> Metadata::Tags(const std::string& repo, const std::string& last, int64_t n) {
  if (!RepositoryExists(repo)) return NotFound("repository name not known to registry");
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT tag FROM tags WHERE repo = ?1 AND tag > ?2 ORDER BY tag LIMIT ?3"));
  StmtScope scope(s);
  s->BindText(1, repo).BindText(2, last).Bind(3, n < 0 ? -1 : n);
  return TextRows(s);
}

Result<std::vector<std::string>> Metadata::Repositories(const std::string& last, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT DISTINCT repo FROM manifests WHERE repo > ?1 ORDER BY repo LIMIT ?2"));
  StmtScope scope(s);
  s->BindText(1, last).Bind(2, n < 0 ? -1 : n);
  return TextRows(s);
}

Status Metadata::DeleteRepository(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  return Tx([&]() -> Status {
    for (const char* sql : {"DELETE FROM manifests WHERE repo = ?1", "DELETE FROM refs WHERE repo = ?1",
                            "DELETE FROM tags WHERE repo = ?1", "DELETE FROM links WHERE repo = ?1"})
      BERTH_RETURN_IF_ERROR(RunText(*db_, sql, {repo}));
    return Status::Ok();
  });
}

Result<std::vector<std::string>> Metadata::ProjectRepositories(const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [lo, hi] = ProjectRange(project);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT DISTINCT repo FROM links WHERE repo >= ?1 AND repo < ?2 ORDER BY repo"));
  StmtScope scope(s);
  s->BindText(1, lo).BindText(2, hi);
  return TextRows(s);
}

Result<std::vector<ManifestRecord>> Metadata::ListManifests(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ManifestRecord> out;
  {
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(std::string("SELECT ") + kManifestCols +
                                                  " FROM manifests WHERE repo = ?1 ORDER BY created, digest"));
    StmtScope scope(s);
    s->BindText(1, repo);
    BERTH_ASSIGN_OR_RETURN(out, ManifestRows(s));
  }
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT tag FROM tags WHERE repo = ?1 AND digest = ?2 ORDER BY tag"));
  for (ManifestRecord& m : out) {
    StmtScope scope(s);
    s->BindText(1, repo).BindText(2, m.digest);
    BERTH_ASSIGN_OR_RETURN(m.tags, TextRows(s));
  }
  return out;
}

Status Metadata::CopyManifest(const std::string& from, const std::string& digest, const std::string& to,
                              const std::string& tag, bool tag_immutable) {
  std::lock_guard<std::mutex> lock(mu_);
  // Copies one manifest after its children, so PutManifestLocked's checks hold.
  std::function<Status(const std::string&, const std::string&, int)> copy =
      [&](const std::string& d, const std::string& t, int depth) -> Status {
    if (depth > 8) return Invalid("manifest " + d + " nests too deeply");
    ManifestRecord m;
    {
      BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(std::string("SELECT ") + kManifestCols +
                                                    " FROM manifests WHERE repo = ?1 AND digest = ?2"));
      StmtScope scope(s);
      s->BindText(1, from).BindText(2, d);
      BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return NotFound("manifest " + d + " not found in " + from);
      m = ReadManifest(*s);
    }
    ManifestRefs refs;
    {
      BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT ref, is_manifest FROM refs WHERE repo = ?1 AND manifest = ?2"));
      StmtScope scope(s);
      s->BindText(1, from).BindText(2, d);
      for (;;) {
        BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        if (s->Int(1) != 0) {
          refs.manifests.push_back(Text(*s, 0));
        } else {
          refs.blobs.emplace_back(Text(*s, 0), -1);
        }
      }
    }
    for (const std::string& child : refs.manifests) BERTH_RETURN_IF_ERROR(copy(child, "", depth + 1));
    for (const auto& [blob, size] : refs.blobs) {
      BERTH_RETURN_IF_ERROR(RunText(*db_, "INSERT OR IGNORE INTO links(repo, digest) VALUES(?1, ?2)", {to, blob}));
    }
    m.repo = to;
    return PutManifestLocked(m, refs, t, tag_immutable);
  };
  return Tx([&] { return copy(digest, tag, 0); });
}

Status Metadata::CreateUpload(const std::string& id, const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  return RunText(*db_, "INSERT INTO uploads(id, repo, updated) VALUES(?1, ?2, ?3)", {id, repo}, {NowMillis()});
}

Result<std::string> Metadata::UploadRepo(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT repo FROM uploads WHERE id = ?1"));
  StmtScope scope(s);
  s->BindText(1, id);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return NotFound("blob upload unknown");
  return Text(*s, 0);
}

Status Metadata::DeleteUpload(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return RunText(*db_, "DELETE FROM uploads WHERE id = ?1", {id});
}

Status Metadata::TouchUpload(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return RunText(*db_, "UPDATE uploads SET updated = ?2 WHERE id = ?1", {id}, {NowMillis()});
}

Result<std::vector<std::string>> Metadata::StaleUploads(int64_t cutoff_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT id FROM uploads WHERE updated < ?1"));
  StmtScope scope(s);
  s->Bind(1, cutoff_ms);
  return TextRows(s);
}

Result<int64_t> Metadata::BytesNewToProject(const std::string& repo, const std::string& digest,
                                            const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  // Every blob of the manifest tree, the manifests' own bytes included.
  std::set<std::string> blobs, seen;
  std::vector<std::string> todo = {digest};
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    if (!seen.insert(d).second) continue;
    blobs.insert(d);
    BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT ref, is_manifest FROM refs WHERE repo = ?1 AND manifest = ?2"));
    StmtScope scope(s);
    s->BindText(1, repo).BindText(2, d);
    for (;;) {
      BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      if (s->Int(1) != 0) todo.push_back(Text(*s, 0));
      else blobs.insert(Text(*s, 0));
    }
  }
  auto [lo, hi] = ProjectRange(project);
  int64_t total = 0;
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(
      "SELECT b.size FROM blobs b WHERE b.digest = ?1 AND NOT EXISTS "
      "(SELECT 1 FROM links l WHERE l.digest = ?1 AND l.repo >= ?2 AND l.repo < ?3)"));
  for (const std::string& b : blobs) {
    StmtScope scope(s);
    s->BindText(1, b).BindText(2, lo).BindText(3, hi);
    BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row) total += s->Int(0);
  }
  return total;
}

Result<int64_t> Metadata::ProjectUsage(const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [lo, hi] = ProjectRange(project);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN "
                                                "(SELECT digest FROM links WHERE repo >= ?1 AND repo < ?2)"));
  StmtScope scope(s);
  s->BindText(1, lo).BindText(2, hi);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

Result<int64_t> Metadata::ProjectRepositoryCount(const std::string& project) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [lo, hi] = ProjectRange(project);
  BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare("SELECT COUNT(DISTINCT repo) FROM manifests WHERE repo >= ?1 AND repo < ?2"));
  StmtScope scope(s);
  s->BindText(1, lo).BindText(2, hi);
  BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

Result<GcPlan> Metadata::CollectGarbage(int64_t cutoff_ms, bool delete_untagged, bool dry_run) {
  std::lock_guard<std::mutex> lock(mu_);
  GcPlan plan;
  Status st = Tx([&]() -> Status {
    if (delete_untagged) {
      // Untagged manifests that no index lists and that do not refer to a
      // manifest still present (signatures, SBOMs of a kept image stay).
      for (;;) {
        BERTH_RETURN_IF_ERROR(RunText(*db_, R"sql(
          DELETE FROM manifests AS m WHERE created < ?1
            AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = m.repo AND t.digest = m.digest)
            AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.repo = m.repo AND r.ref = m.digest AND r.is_manifest = 1)
            AND NOT (m.subject != '' AND EXISTS (SELECT 1 FROM manifests s WHERE s.repo = m.repo AND s.digest = m.subject)))sql",
                                      {}, {cutoff_ms}));
        int n = sqlite3_changes(db_->raw());
        if (n == 0) break;
        plan.manifests_deleted += n;
        BERTH_RETURN_IF_ERROR(RunText(*db_, R"sql(
          DELETE FROM refs AS r WHERE NOT EXISTS
            (SELECT 1 FROM manifests m WHERE m.repo = r.repo AND m.digest = r.manifest))sql", {}));
      }
    }
    {
      BERTH_ASSIGN_OR_RETURN(Stmt * s, db_->Prepare(R"sql(
        SELECT digest, size FROM blobs b WHERE touched < ?1
          AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
          AND NOT EXISTS (SELECT 1 FROM refs r WHERE r.ref = b.digest))sql"));
      StmtScope scope(s);
      s->Bind(1, cutoff_ms);
      for (;;) {
        BERTH_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        plan.blobs.push_back(Text(*s, 0));
        plan.bytes += s->Int(1);
      }
    }
    for (const std::string& d : plan.blobs) {
      BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM blobs WHERE digest = ?1", {d}));
      BERTH_RETURN_IF_ERROR(RunText(*db_, "DELETE FROM links WHERE digest = ?1", {d}));
    }
    // A dry run rolls back (Tx does on any error) and reports the plan.
    return dry_run ? Status(Code::kAlreadyExists, "dry run") : Status::Ok();
  });
  if (!st.ok() && !(dry_run && st.code() == Code::kAlreadyExists)) return st;
  return plan;
}

bool Metadata::KnowsBlob(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  return HasRow(*db_, "SELECT 1 FROM blobs WHERE digest = ?1", digest);
}

}  // namespace berth::registry
