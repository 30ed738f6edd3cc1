// The OCI Distribution Specification v1.1 endpoints under /v2/: pull (manifests
// and blobs, with ranges), push (monolithic, chunked and single-request
// uploads, cross-repository mounts), content discovery (tags, referrers,
// catalog) and content management (deletes), with the spec's error documents.
#include <nlohmann/json.hpp>

#include "controllers/base.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/strings.h"
#include "core/time.h"
#include "registry/internal.h"
#include "registry/manifest.h"

namespace berth::registry {
namespace {

// Upload and download buffers: big enough for few syscalls per TLS-record
// batch, small enough that hundreds of parallel layer transfers stay cheap.
constexpr size_t kChunk = 256 << 10;

net::Headers ApiHeaders(net::Headers h = {}) {
  h["Docker-Distribution-API-Version"] = "registry/2.0";
  return h;
}

// /v2/<name>/<endpoint>: the parts of a registry path.
struct Target {
  enum Kind { kBase, kCatalog, kTags, kManifest, kBlob, kUploads, kUpload, kReferrers, kUnknown } kind = kUnknown;
  std::string name, ref;
};

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Target ParseTarget(const std::string& path) {
  Target t;
  if (path == "/v2/" || path == "/v2") {
    t.kind = Target::kBase;
    return t;
  }
  std::string rest = path.substr(4);
  if (rest == "_catalog") {
    t.kind = Target::kCatalog;
    return t;
  }
  if (EndsWith(rest, "/tags/list")) {
    t.kind = Target::kTags;
    t.name = rest.substr(0, rest.size() - 10);
    return t;
  }
  struct Marker {
    const char* text;
    Target::Kind kind;
  };
  for (Marker m : {Marker{"/blobs/uploads/", Target::kUploads}, Marker{"/manifests/", Target::kManifest},
                   Marker{"/blobs/", Target::kBlob}, Marker{"/referrers/", Target::kReferrers}}) {
    size_t at = rest.rfind(m.text);
    if (at == std::string::npos) continue;
    t.name = rest.substr(0, at);
    t.ref = rest.substr(at + std::strlen(m.text));
    t.kind = m.kind;
    if (t.kind == Target::kUploads && !t.ref.empty()) t.kind = Target::kUpload;
    if (t.kind != Target::kUploads && t.ref.empty()) t.kind = Target::kUnknown;
    return t;
  }
  if (EndsWith(rest, "/blobs/uploads")) {
    t.kind = Target::kUploads;
    t.name = rest.substr(0, rest.size() - 14);
  }
  return t;
}

bool ValidTag(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

// A page of at most n names from a query for n + 1: trims the extra one and
// points a Link at the next page when there is one (n = 0 is an empty page).
void Paginate(std::vector<std::string>* names, int64_t n, const std::string& path, net::Headers* h) {
  if (n < 0 || static_cast<int64_t>(names->size()) <= n) return;
  names->resize(static_cast<size_t>(n));
  if (n == 0) return;
  (*h)["Link"] = "<" + path + "?last=" + net::PercentEncode(names->back()) + "&n=" + std::to_string(n) +
                 ">; rel=\"next\"";
}

std::string RangeHeader(int64_t size) { return "0-" + std::to_string(size > 0 ? size - 1 : 0); }

// Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against a blob of `size`.
bool ParseRange(const std::string& h, int64_t size, int64_t* from, int64_t* to) {
  if (h.rfind("bytes=", 0) != 0 || h.find(',') != std::string::npos) return false;
  std::string spec = h.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return false;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto num = [](const std::string& s, int64_t* v) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *v = std::stoll(s);
    return true;
  };
  int64_t x = 0, y = 0;
  if (a.empty()) {
    if (!num(b, &y) || y == 0) return false;
    *from = std::max<int64_t>(0, size - y);
    *to = size - 1;
  } else {
    if (!num(a, &x)) return false;
    *from = x;
    *to = b.empty() ? size - 1 : (num(b, &y) ? std::min(y, size - 1) : -1);
    if (!b.empty() && *to < 0) return false;
  }
  return *from <= *to && *from < size;
}

// Reads a whole (small) body, at most `limit` bytes; RequestTooLarge beyond.
Result<std::string> ReadSmallBody(net::Request& r, size_t limit) {
  if (r.body_reader == nullptr) {
    if (r.body.size() > limit) return Status(Code::kRequestTooLarge, "body too large");
    return r.body;
  }
  if (r.body_reader->declared_length() > static_cast<int64_t>(limit))
    return Status(Code::kRequestTooLarge, "body too large");
  std::string out;
  char buf[65536];
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(size_t n, r.body_reader->Read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > limit) return Status(Code::kRequestTooLarge, "body too large");
  }
  return out;
}

}  // namespace

bool ValidRepositoryName(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  std::vector<std::string> parts = Split(name, '/');
  if (parts.size() < 2) return false;
  for (const std::string& p : parts)
    if (!IsOciPathComponent(p)) return false;
  return true;
}

void ReplyError(net::ResponseWriter& w, int status, const std::string& code, const std::string& message,
                const Json* detail, net::Headers extra) {
  Json e = {{"code", code}, {"message", message}};
  if (detail != nullptr) e["detail"] = *detail;
  extra["Content-Type"] = "application/json";
  w.Reply(status, ApiHeaders(std::move(extra)), Json{{"errors", Json::array({e})}}.dump());
}

void Registry::Impl::RecordArtifactEvent(const ArtifactEvent& e) {
  std::string project = ProjectOf(e.repo);
  auto proj = GetProject(project);
  if (!proj.ok()) return;
  std::string ref = e.repo + (e.tag.empty() ? "@" + e.digest : ":" + e.tag);
  std::string message = ref + (e.tag.empty() ? "" : " " + e.digest) + (e.note.empty() ? "" : " (" + e.note + ")");
  controllers::RecordEvent(os, *project_kind, *proj, "Normal", e.push ? "ArtifactPushed" : "ArtifactDeleted", message,
                           "berth-registry");
  const char* type = e.push ? "PUSH_ARTIFACT" : "DELETE_ARTIFACT";
  const Json spec = proj->value("spec", Json::object());
  for (const Json& hook : spec.value("webhooks", Json::array())) {
    Json events = hook.value("events", Json::array());
    bool wanted = events.empty();
    for (const Json& ev : events) wanted = wanted || ev == type;
    if (!wanted) continue;
    Json resource = {{"digest", e.digest}, {"tag", e.tag},
                     {"resource_url", (e.host.empty() ? "" : e.host + "/") + ref}};
    Json payload = {{"type", type},
                    {"occur_at", NowSeconds()},
                    {"operator", e.actor},
                    {"event_data",
                     {{"resources", Json::array({resource})},
                      {"repository",
                       {{"name", e.repo.substr(project.size() + 1)},
                        {"namespace", project},
                        {"repo_full_name", e.repo},
                        {"repo_type", spec.value("public", false) ? "public" : "private"}}}}}};
    webhooks->Send(project, WebhookTarget{hook.value("url", ""), hook.value("caBundle", ""), hook.value("authHeader", "")},
                   payload);
  }
}

namespace {

// One request to /v2/, with the caller's rights resolved once.
class V2Request {
 public:
  V2Request(Registry::Impl* reg, net::Request& r, net::ResponseWriter& w) : reg_(reg), r_(r), w_(w) {}

  void Serve();

 private:
  // Authorization: true if the caller may do `action` on `repo`; otherwise
  // the 401 challenge (or 403) has been sent.
  bool Authorize(const std::string& repo, const std::string& action);
  bool Authenticated();
  void Challenge(const std::string& scope, const std::string& error);
  bool Can(const std::string& repo, const std::string& action);
  std::string Actor() const { return by_identity_ ? principal_.name : token_subject_; }

  void Base();
  void Catalog();
  void Tags(const Target& t);
  void GetManifest(const Target& t);
  void PutManifest(const Target& t);
  void DeleteManifest(const Target& t);
  void GetBlob(const Target& t);
  void DeleteBlob(const Target& t);
  void StartUpload(const Target& t);
  void UploadStatus(const Target& t);
  void PatchUpload(const Target& t);
  void PutUpload(const Target& t);
  void CancelUpload(const Target& t);
  void Referrers(const Target& t);

  // The project of a repository being written must exist; otherwise 404
  // NAME_UNKNOWN has been sent.
  bool ProjectExists(const std::string& repo, Json* project = nullptr);
  // Streams the request body onto upload `id` (offset `start`); on a broken
  // body the upload is cut back to `start` and an error returned.
  // The caller holds session.mu, so chunks of one upload never interleave.
  Status AppendBody(const std::string& id, int64_t start, UploadSession& session);
  // Verifies the completed upload against `digest` and turns it into a blob.
  void FinishUpload(const std::string& repo, const std::string& id, const std::string& digest,
                    UploadSession& session);
  bool CheckQuota(const std::string& repo, int64_t adding);
  std::shared_ptr<UploadSession> Session(const std::string& id);
  // The live upload session t names (in t's repository) and its size;
  // otherwise 404 BLOB_UPLOAD_UNKNOWN has been sent.
  bool FindUpload(const Target& t, int64_t* size);
  void ReplyProgress(int code, const Target& t, int64_t size) {
    w_.Reply(code, ApiHeaders({{"Location", UploadLocation(t.name, t.ref)},
                               {"Docker-Upload-UUID", t.ref},
                               {"Range", RangeHeader(size)},
                               {"Content-Length", "0"}}),
             "");
  }
  // The page size `n` (-1 when absent); otherwise 400 has been sent.
  bool PageSize(int64_t* n);
  // Parses a digest; otherwise 400 DIGEST_INVALID has been sent.
  bool DigestArg(const std::string& text, Digest* d);
  std::string UploadLocation(const std::string& repo, const std::string& id) {
    return "/v2/" + repo + "/blobs/uploads/" + id;
  }
  void Error(int status, const std::string& code, const std::string& message, const Json* detail = nullptr,
             net::Headers extra = {}) {
    ReplyError(w_, status, code, message, detail, std::move(extra));
  }

  Registry::Impl* reg_;
  net::Request& r_;
  net::ResponseWriter& w_;
  bool resolved_ = false;
  bool by_identity_ = false;  // a client certificate or API token: rights come from the policy
  std::string token_subject_;  // the user a registry token was issued to
  Principal principal_;
  std::vector<Grant> grants_;
};

bool V2Request::Authenticated() {
  if (resolved_) return by_identity_ || !grants_.empty() || !principal_.name.empty();
  resolved_ = true;
  if (r_.identity.authenticated()) {
    by_identity_ = true;
    principal_.name = r_.identity.user;
    principal_.groups = r_.identity.groups;
    return true;
  }
  std::string auth = r_.Header("Authorization");
  if (auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) {
    std::string subject;
    auto grants = reg_->VerifyToken(auth.substr(7), &subject);
    if (!grants.ok()) return false;
    grants_ = std::move(*grants);
    token_subject_ = subject;
    principal_.name = "token";  // a valid token, even one granting nothing
    return true;
  }
  return false;
}

bool V2Request::Can(const std::string& repo, const std::string& action) {
  if (by_identity_) return reg_->Allowed(principal_, repo).count(action) > 0;
  for (const Grant& g : grants_)
    if (g.type == "repository" && g.name == repo && g.actions.count(action)) return true;
  return false;
}

void V2Request::Challenge(const std::string& scope, const std::string& error) {
  std::string host = r_.Header("Host");
  std::string value = "Bearer realm=\"https://" + host + "/service/token\",service=\"" + reg_->opts.service + "\"";
  if (!scope.empty()) value += ",scope=\"" + scope + "\"";
  if (!error.empty()) value += ",error=\"" + error + "\"";
  Json detail = Json::array();
  if (!scope.empty()) {
    auto parts = Split(scope, ':');
    if (parts.size() == 3) detail.push_back({{"Type", parts[0]}, {"Name", parts[1]}, {"Action", parts[2]}});
  }
  Error(401, "UNAUTHORIZED", "authentication required", detail.empty() ? nullptr : &detail,
        {{"WWW-Authenticate", value}});
}

bool V2Request::Authorize(const std::string& repo, const std::string& action) {
  std::string scope = "repository:" + repo + ":" + (action == "push" ? "pull,push" : action);
  if (!Authenticated()) {
    Challenge(scope, "");
    return false;
  }
  if (Can(repo, action)) return true;
  if (by_identity_) {
    Error(403, "DENIED", "requested access to the resource is denied");
  } else {
    Challenge(scope, "insufficient_scope");
  }
  return false;
}

bool V2Request::FindUpload(const Target& t, int64_t* size) {
  auto repo = reg_->meta->UploadRepo(t.ref);
  auto s = repo.ok() && *repo == t.name ? reg_->blobs->UploadSize(t.ref) : Result<int64_t>(NotFound(""));
  if (s.ok()) {
    *size = *s;
    return true;
  }
  Json detail = {{"uuid", t.ref}};
  Error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", &detail);
  return false;
}

bool V2Request::PageSize(int64_t* n) {
  std::string ns = r_.Query("n");
  if (ns.empty()) return true;
  if (ns.find_first_not_of("0123456789") != std::string::npos || ns.size() > 9) {
    Error(400, "PAGINATION_NUMBER_INVALID", "n must be a non-negative integer");
    return false;
  }
  *n = std::stoll(ns);
  return true;
}

bool V2Request::DigestArg(const std::string& text, Digest* d) {
  auto parsed = ParseDigest(text);
  if (parsed.ok()) {
    *d = *parsed;
    return true;
  }
  Json detail = {{"digest", text}};
  Error(400, "DIGEST_INVALID", parsed.status().message(), &detail);
  return false;
}

void V2Request::Serve() {
  Target t = ParseTarget(r_.path);
  const std::string& m = r_.method;
  if (t.kind == Target::kUnknown) {
    Error(404, "NOT_FOUND", "no such registry endpoint");
    return;
  }
  if (t.kind != Target::kBase && t.kind != Target::kCatalog && !ValidRepositoryName(t.name)) {
    Json detail = {{"name", t.name}};
    Error(400, "NAME_INVALID",
          "invalid repository name: it must be PROJECT/NAME, lower-case path components of letters and digits "
          "separated by '.', '_', '__' or '-'",
          &detail);
    return;
  }
  auto method_is = [&](std::initializer_list<const char*> ms) {
    for (const char* x : ms)
      if (m == x) return true;
    Error(405, "UNSUPPORTED", "method " + m + " is not supported here", nullptr,
          {{"Allow", [&] {
              std::string a;
              for (const char* x : ms) a += (a.empty() ? "" : ", ") + std::string(x);
              return a;
            }()}});
    return false;
  };
  switch (t.kind) {
    case Target::kBase:
      if (method_is({"GET", "HEAD"})) Base();
      return;
    case Target::kCatalog:
      if (method_is({"GET"})) Catalog();
      return;
    case Target::kTags:
      if (method_is({"GET"}) && Authorize(t.name, "pull")) Tags(t);
      return;
    case Target::kManifest:
      if (!method_is({"GET", "HEAD", "PUT", "DELETE"})) return;
      if (m == "PUT") {
        if (Authorize(t.name, "push")) PutManifest(t);
      } else if (m == "DELETE") {
        if (Authorize(t.name, "delete")) DeleteManifest(t);
      } else if (Authorize(t.name, "pull")) {
        GetManifest(t);
      }
      return;
    case Target::kBlob:
      if (!method_is({"GET", "HEAD", "DELETE"})) return;
      if (m == "DELETE") {
        if (Authorize(t.name, "delete")) DeleteBlob(t);
      } else if (Authorize(t.name, "pull")) {
        GetBlob(t);
      }
      return;
    case Target::kUploads:
      if (method_is({"POST"}) && Authorize(t.name, "push")) StartUpload(t);
      return;
    case Target::kUpload:
      if (!method_is({"GET", "PATCH", "PUT", "DELETE"}) || !Authorize(t.name, "push")) return;
      if (m == "GET") UploadStatus(t);
      if (m == "PATCH") PatchUpload(t);
      if (m == "PUT") PutUpload(t);
      if (m == "DELETE") CancelUpload(t);
      return;
    case Target::kReferrers:
      if (method_is({"GET"}) && Authorize(t.name, "pull")) Referrers(t);
      return;
    case Target::kUnknown:
      return;
  }
}

void V2Request::Base() {
  if (!Authenticated()) {
    Challenge("", "");
    return;
  }
  w_.Reply(200, ApiHeaders({{"Content-Type", "application/json"}}), "{}");
}

void V2Request::Catalog() {
  if (!Authenticated()) {
    Challenge("registry:catalog:*", "");
    return;
  }
  bool ok = false;
  if (by_identity_) {
    for (const auto& g : principal_.groups) ok = ok || g == "system:masters";
  } else {
    for (const Grant& g : grants_) ok = ok || (g.type == "registry" && g.name == "catalog" && !g.actions.empty());
  }
  if (!ok) {
    if (by_identity_) Error(403, "DENIED", "the catalog is for administrators");
    else Challenge("registry:catalog:*", "insufficient_scope");
    return;
  }
  int64_t n = -1;
  if (!PageSize(&n)) return;
  auto repos = reg_->meta->Repositories(r_.Query("last"), n < 0 ? -1 : n + 1);
  if (!repos.ok()) {
    Error(500, "UNKNOWN", repos.status().message());
    return;
  }
  net::Headers h = ApiHeaders({{"Content-Type", "application/json"}});
  Paginate(&*repos, n, "/v2/_catalog", &h);
  w_.Reply(200, h, Json{{"repositories", *repos}}.dump());
}

void V2Request::Tags(const Target& t) {
  int64_t n = -1;
  if (!PageSize(&n)) return;
  auto tags = reg_->meta->Tags(t.name, r_.Query("last"), n < 0 ? -1 : n + 1);
  if (!tags.ok()) {
    if (tags.status().code() == Code::kNotFound) {
      Json detail = {{"name", t.name}};
      Error(404, "NAME_UNKNOWN", "repository name not known to registry", &detail);
    } else {
      Error(500, "UNKNOWN", tags.status().message());
    }
    return;
  }
  net::Headers h = ApiHeaders({{"Content-Type", "application/json"}});
  Paginate(&*tags, n, "/v2/" + t.name + "/tags/list", &h);
  w_.Reply(200, h, Json{{"name", t.name}, {"tags", *tags}}.dump());
}

void V2Request::GetManifest(const Target& t) {
  if (t.ref.find(':') != std::string::npos ? !ParseDigest(t.ref).ok() : !ValidTag(t.ref)) {
    Json detail = {{"reference", t.ref}};
    Error(400, t.ref.find(':') != std::string::npos ? "DIGEST_INVALID" : "TAG_INVALID", "invalid reference", &detail);
    return;
  }
  auto m = reg_->meta->GetManifest(t.name, t.ref);
  if (!m.ok()) {
    Json detail = {{"reference", t.ref}};
    if (m.status().code() == Code::kNotFound) Error(404, "MANIFEST_UNKNOWN", "manifest unknown", &detail);
    else Error(500, "UNKNOWN", m.status().message());
    return;
  }
  auto d = ParseDigest(m->digest);
  auto reader = d.ok() ? reg_->blobs->Open(*d) : Result<std::unique_ptr<BlobReader>>(d.status());
  if (!reader.ok()) {
    Json detail = {{"digest", m->digest}};
    Error(404, "MANIFEST_UNKNOWN", "manifest content is missing", &detail);
    return;
  }
  std::string body(static_cast<size_t>((*reader)->size()), '\0');
  size_t got = 0;
  while (got < body.size()) {
    auto n = (*reader)->ReadAt(static_cast<int64_t>(got), body.data() + got, body.size() - got);
    if (!n.ok() || *n == 0) break;
    got += *n;
  }
  body.resize(got);
  net::Headers h = ApiHeaders({{"Content-Type", m->media_type},
                               {"Docker-Content-Digest", m->digest},
                               {"ETag", "\"" + m->digest + "\""},
                               {"Content-Length", std::to_string(body.size())}});
  w_.Reply(200, h, std::move(body));
}

bool V2Request::ProjectExists(const std::string& repo, Json* project) {
  auto p = reg_->GetProject(ProjectOf(repo));
  if (p.ok()) {
    if (project != nullptr) *project = std::move(*p);
    return true;
  }
  Json detail = {{"name", repo}, {"project", ProjectOf(repo)}};
  Error(404, "NAME_UNKNOWN", "project \"" + ProjectOf(repo) + "\" does not exist", &detail);
  return false;
}

void V2Request::PutManifest(const Target& t) {
  bool by_digest = t.ref.find(':') != std::string::npos;
  Result<Digest> ref_digest = by_digest ? ParseDigest(t.ref) : Result<Digest>(Digest{});
  if (by_digest && !ref_digest.ok()) {
    Json detail = {{"reference", t.ref}};
    Error(400, "DIGEST_INVALID", ref_digest.status().message(), &detail);
    return;
  }
  if (!by_digest && !ValidTag(t.ref)) {
    Json detail = {{"tag", t.ref}};
    Error(400, "TAG_INVALID", "invalid tag: at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-'", &detail);
    return;
  }
  Json project;
  if (!ProjectExists(t.name, &project)) return;
  auto body = ReadSmallBody(r_, kMaxManifestBytes);
  if (!body.ok()) {
    if (body.status().code() == Code::kRequestTooLarge) {
      Error(413, "SIZE_INVALID", "manifest larger than " + std::to_string(kMaxManifestBytes) + " bytes");
    } else {
      Error(400, "MANIFEST_INVALID", body.status().message());
    }
    return;
  }
  auto parsed = ParseManifest(*body, r_.Header("Content-Type"));
  if (!parsed.ok()) {
    Error(400, "MANIFEST_INVALID", parsed.status().message());
    return;
  }
  std::string algorithm = by_digest ? ref_digest->algorithm : "sha256";
  std::string digest = DigestOf(*body, algorithm);
  if (by_digest && digest != t.ref) {
    Json detail = {{"expected", t.ref}, {"actual", digest}};
    Error(400, "DIGEST_INVALID", "the manifest's digest does not match the reference", &detail);
    return;
  }
  ManifestRecord rec;
  rec.repo = t.name;
  rec.digest = digest;
  rec.media_type = parsed->media_type;
  rec.size = static_cast<int64_t>(body->size());
  rec.artifact_type = parsed->artifact_type;
  rec.subject = parsed->subject;
  rec.annotations = parsed->annotations;
  bool immutable = !by_digest && Registry::Impl::TagImmutable(project, t.ref);
  Status s = reg_->StoreManifest(rec, parsed->refs, by_digest ? "" : t.ref, immutable, *body);
  if (!s.ok()) {
    if (s.code() == Code::kForbidden) {
      Json detail = {{"tag", t.ref}};
      Error(403, "DENIED", s.message(), &detail);
    } else if (s.code() == Code::kNotFound) {
      std::string missing = s.message().substr(s.message().find(' ') + 1);
      Json detail = {{"digest", missing}};
      Error(400, "MANIFEST_BLOB_UNKNOWN", "manifest references an unknown " + s.message(), &detail);
    } else if (s.code() == Code::kInvalid) {
      Error(400, "MANIFEST_INVALID", s.message());
    } else {
      Error(500, "UNKNOWN", s.message());
    }
    return;
  }
  log::Info("manifest pushed", log::Fields()("repo", t.name)("reference", t.ref)("digest", digest));
  reg_->RecordArtifactEvent({true, t.name, by_digest ? "" : t.ref, digest, Actor(), r_.Header("Host"), ""});
  net::Headers h = ApiHeaders({{"Location", "/v2/" + t.name + "/manifests/" + digest},
                               {"Docker-Content-Digest", digest},
                               {"Content-Length", "0"}});
  if (!parsed->subject.empty()) h["OCI-Subject"] = parsed->subject;
  w_.Reply(201, h, "");
}

void V2Request::DeleteManifest(const Target& t) {
  bool by_digest = t.ref.find(':') != std::string::npos;
  if (by_digest ? !ParseDigest(t.ref).ok() : !ValidTag(t.ref)) {
    Json detail = {{"reference", t.ref}};
    Error(400, by_digest ? "DIGEST_INVALID" : "TAG_INVALID", "invalid reference", &detail);
    return;
  }
  // Immutable tags cannot be deleted, nor the manifests they name.
  auto project = reg_->GetProject(ProjectOf(t.name));
  std::vector<std::string> tags = {t.ref};
  if (by_digest) {
    auto named = reg_->meta->TagsOf(t.name, t.ref);
    tags = named.ok() ? *named : std::vector<std::string>{};
  }
  for (const std::string& tag : tags) {
    if (project.ok() && Registry::Impl::TagImmutable(*project, tag)) {
      Json detail = {{"tag", tag}};
      Error(403, "DENIED", "tag " + tag + " is immutable", &detail);
      return;
    }
  }
  Status s = by_digest ? reg_->meta->DeleteManifest(t.name, t.ref) : reg_->meta->DeleteTag(t.name, t.ref);
  if (!s.ok()) {
    Json detail = {{"reference", t.ref}};
    if (s.code() == Code::kNotFound) Error(404, "MANIFEST_UNKNOWN", "manifest unknown", &detail);
    else Error(500, "UNKNOWN", s.message());
    return;
  }
  log::Info("manifest deleted", log::Fields()("repo", t.name)("reference", t.ref));
  reg_->RecordArtifactEvent({false, t.name, by_digest ? "" : t.ref, by_digest ? t.ref : "", Actor(), r_.Header("Host"), ""});
  w_.Reply(202, ApiHeaders({{"Content-Length", "0"}}), "");
}

void V2Request::GetBlob(const Target& t) {
  Digest d;
  if (!DigestArg(t.ref, &d)) return;
  // A HEAD is how a pusher decides not to upload: it counts as a use, so a
  // collection running meanwhile keeps the blob.
  auto size = reg_->meta->LinkedBlobSize(t.name, d.str(), r_.method == "HEAD");
  auto reader = size.ok() ? reg_->blobs->Open(d) : Result<std::unique_ptr<BlobReader>>(size.status());
  if (!reader.ok()) {
    Json detail = {{"digest", d.str()}};
    if (reader.status().code() == Code::kNotFound) Error(404, "BLOB_UNKNOWN", "blob unknown to registry", &detail);
    else Error(500, "UNKNOWN", reader.status().message());
    return;
  }
  int64_t total = (*reader)->size();
  int64_t from = 0, to = total - 1;
  int code = 200;
  net::Headers h = ApiHeaders({{"Content-Type", "application/octet-stream"},
                               {"Docker-Content-Digest", d.str()},
                               {"Accept-Ranges", "bytes"},
                               {"ETag", "\"" + d.str() + "\""}});
  std::string range = r_.Header("Range");
  if (!range.empty() && r_.method == "GET") {
    if (!ParseRange(range, total, &from, &to)) {
      h["Content-Range"] = "bytes */" + std::to_string(total);
      Error(416, "BLOB_UNKNOWN", "requested range not satisfiable", nullptr,
            {{"Content-Range", "bytes */" + std::to_string(total)}});
      return;
    }
    code = 206;
    h["Content-Range"] = "bytes " + std::to_string(from) + "-" + std::to_string(to) + "/" + std::to_string(total);
  }
  int64_t length = total == 0 ? 0 : to - from + 1;
  h["Content-Length"] = std::to_string(length);
  if (r_.method == "HEAD" || length == 0) {
    w_.Reply(code, h, "");
    return;
  }
  if (!w_.Start(code, h)) return;
  std::string buf(std::min<int64_t>(kChunk, length), '\0');
  int64_t off = from;
  while (off <= to) {
    size_t want = static_cast<size_t>(std::min<int64_t>(buf.size(), to - off + 1));
    auto n = (*reader)->ReadAt(off, buf.data(), want);
    if (!n.ok() || *n == 0) break;  // a short body: the server closes the connection
    if (!w_.Write(std::string_view(buf.data(), *n))) break;
    off += static_cast<int64_t>(*n);
  }
  w_.End();
}

void V2Request::DeleteBlob(const Target& t) {
  Digest d;
  if (!DigestArg(t.ref, &d)) return;
  Status s = reg_->meta->UnlinkBlob(t.name, d.str());
  if (!s.ok()) {
    Json detail = {{"digest", d.str()}};
    if (s.code() == Code::kNotFound) Error(404, "BLOB_UNKNOWN", "blob unknown to registry", &detail);
    else Error(500, "UNKNOWN", s.message());
    return;
  }
  w_.Reply(202, ApiHeaders({{"Content-Length", "0"}}), "");
}

bool V2Request::CheckQuota(const std::string& repo, int64_t adding) {
  Status st = reg_->QuotaAllows(ProjectOf(repo), adding);
  if (st.ok()) return true;
  Json detail = {{"project", ProjectOf(repo)}, {"adding", adding}};
  Error(403, "DENIED", st.message(), &detail);
  return false;
}

std::shared_ptr<UploadSession> V2Request::Session(const std::string& id) {
  std::lock_guard<std::mutex> lock(reg_->sessions_mu);
  auto& s = reg_->sessions[id];
  if (!s) s = std::make_shared<UploadSession>();
  return s;
}

Status V2Request::AppendBody(const std::string& id, int64_t start, UploadSession& s) {
  if (r_.body_reader == nullptr) return Status::Ok();
  UploadSession* session = &s;
  if (!session->sha256 || session->hashed != start) {
    // The running hash covers the file only if it saw every byte of it.
    session->sha256 = start == 0 ? std::make_unique<Hasher>("sha256") : nullptr;
    session->hashed = 0;
  }
  BERTH_ASSIGN_OR_RETURN(auto writer, reg_->blobs->AppendUpload(id));
  std::string buf(kChunk, '\0');
  int64_t written = 0, touched = 0;
  Status err;
  // A session being written to is not abandoned, however long one chunk takes.
  (void)reg_->meta->TouchUpload(id);
  for (;;) {
    auto n = r_.body_reader->Read(buf.data(), buf.size());
    if (!n.ok()) {
      err = n.status();
      break;
    }
    if (*n == 0) break;
    std::string_view chunk(buf.data(), *n);
    if (Status s = writer->Append(chunk); !s.ok()) {
      err = s;
      break;
    }
    if (session->sha256) session->sha256->Update(chunk);
    written += static_cast<int64_t>(*n);
    if (written - touched >= (int64_t{32} << 20)) {
      (void)reg_->meta->TouchUpload(id);
      touched = written;
    }
  }
  if (!err.ok()) {
    (void)reg_->blobs->TruncateUpload(id, start);
    session->sha256.reset();
    return err;
  }
  session->hashed = session->sha256 ? start + written : 0;
  (void)reg_->meta->TouchUpload(id);
  return Status::Ok();
}

void V2Request::StartUpload(const Target& t) {
  if (!ProjectExists(t.name)) return;
  std::string mount = r_.Query("mount"), from = r_.Query("from");
  if (!mount.empty()) {
    Digest d;
    if (!DigestArg(mount, &d)) return;
    // Mount only what the caller could pull; otherwise a normal upload session.
    if (!from.empty() && ValidRepositoryName(from) && Can(from, "pull")) {
      auto size = reg_->meta->LinkedBlobSize(from, d.str(), false);
      if (size.ok() && reg_->blobs->Stat(d).ok()) {
        if (!reg_->meta->LinkedBlobSize(t.name, d.str(), false).ok() && !CheckQuota(t.name, *size)) return;
        auto mounted = reg_->meta->MountBlob(t.name, from, d.str());
        if (mounted.ok()) {
          w_.Reply(201, ApiHeaders({{"Location", "/v2/" + t.name + "/blobs/" + d.str()},
                                    {"Docker-Content-Digest", d.str()},
                                    {"Content-Length", "0"}}),
                   "");
          return;
        }
      }
    }
  }
  // The session's row before its file: garbage collection removes upload
  // files that have no row, so the other order could lose a new upload.
  std::string id = NewUUID();
  if (Status s = reg_->meta->CreateUpload(id, t.name); !s.ok()) {
    Error(500, "UNKNOWN", s.message());
    return;
  }
  if (Status s = reg_->blobs->CreateUpload(id); !s.ok()) {
    (void)reg_->meta->DeleteUpload(id);
    Error(500, "UNKNOWN", s.message());
    return;
  }
  std::string digest = r_.Query("digest");
  if (!digest.empty()) {  // a whole blob in one POST
    auto session = Session(id);
    std::lock_guard<std::mutex> hold(session->mu);
    if (Status s = AppendBody(id, 0, *session); !s.ok()) {
      (void)reg_->blobs->DeleteUpload(id);
      (void)reg_->meta->DeleteUpload(id);
      Error(400, "BLOB_UPLOAD_INVALID", s.message());
      return;
    }
    FinishUpload(t.name, id, digest, *session);
    return;
  }
  w_.Reply(202, ApiHeaders({{"Location", UploadLocation(t.name, id)},
                            {"Docker-Upload-UUID", id},
                            {"Range", "0-0"},
                            {"Content-Length", "0"}}),
           "");
}

void V2Request::UploadStatus(const Target& t) {
  int64_t size = 0;
  if (!FindUpload(t, &size)) return;
  ReplyProgress(204, t, size);
}

void V2Request::PatchUpload(const Target& t) {
  int64_t size = 0;
  if (!FindUpload(t, &size)) return;
  auto session = Session(t.ref);
  std::lock_guard<std::mutex> hold(session->mu);
  if (!FindUpload(t, &size)) return;  // again, now that no other chunk is being written
  std::string cr = r_.Header("Content-Range");
  if (!cr.empty()) {
    // "start-end" (the spec's form; "bytes " prefixes are tolerated).
    std::string v = cr.rfind("bytes ", 0) == 0 ? cr.substr(6) : cr;
    size_t dash = v.find('-');
    int64_t start = -1, end = -1;
    if (dash != std::string::npos) {
      try {
        start = std::stoll(v.substr(0, dash));
        end = std::stoll(v.substr(dash + 1));
      } catch (...) {
        start = -1;
      }
    }
    int64_t len = r_.body_reader ? r_.body_reader->declared_length() : -1;
    if (start != size || end < start || (len >= 0 && end - start + 1 != len)) {
      Error(416, "BLOB_UPLOAD_INVALID",
            "chunk out of order: the upload has " + std::to_string(size) + " bytes, the chunk starts at " +
                (start < 0 ? std::string("?") : std::to_string(start)),
            nullptr,
            {{"Location", UploadLocation(t.name, t.ref)},
             {"Range", RangeHeader(size)},
             {"Docker-Upload-UUID", t.ref}});
      return;
    }
  }
  if (Status s = AppendBody(t.ref, size, *session); !s.ok()) {
    Error(400, "BLOB_UPLOAD_INVALID", s.message());
    return;
  }
  auto now = reg_->blobs->UploadSize(t.ref);
  ReplyProgress(202, t, now.ok() ? *now : 0);
}

void V2Request::PutUpload(const Target& t) {
  int64_t size = 0;
  if (!FindUpload(t, &size)) return;
  auto session = Session(t.ref);
  std::lock_guard<std::mutex> hold(session->mu);
  if (!FindUpload(t, &size)) return;
  std::string digest = r_.Query("digest");
  if (digest.empty()) {
    Error(400, "DIGEST_INVALID", "the digest query parameter is required to complete an upload");
    return;
  }
  if (Status s = AppendBody(t.ref, size, *session); !s.ok()) {
    // A truncated final chunk: nothing of this upload is kept.
    (void)reg_->blobs->DeleteUpload(t.ref);
    (void)reg_->meta->DeleteUpload(t.ref);
    Error(400, "BLOB_UPLOAD_INVALID", s.message());
    return;
  }
  FinishUpload(t.name, t.ref, digest, *session);
}

void V2Request::FinishUpload(const std::string& repo, const std::string& id, const std::string& digest,
                             UploadSession& session) {
  auto drop = [&] {
    (void)reg_->blobs->DeleteUpload(id);
    (void)reg_->meta->DeleteUpload(id);
    std::lock_guard<std::mutex> lock(reg_->sessions_mu);
    reg_->sessions.erase(id);
  };
  auto d = ParseDigest(digest);
  if (!d.ok()) {
    drop();
    Json detail = {{"digest", digest}};
    Error(400, "DIGEST_INVALID", d.status().message(), &detail);
    return;
  }
  auto size = reg_->blobs->UploadSize(id);
  std::string actual;
  if (d->algorithm == "sha256" && session.sha256 && size.ok() && session.hashed == *size) {
    actual = session.sha256->Finish();
    session.sha256.reset();
  } else {
    auto h = reg_->blobs->HashUpload(id, d->algorithm);
    actual = h.ok() ? *h : "";
  }
  if (!size.ok() || actual != d->hex) {
    drop();
    Json detail = {{"expected", d->str()}, {"actual", d->algorithm + ":" + actual}};
    Error(400, "DIGEST_INVALID", "the uploaded content does not match the digest", &detail);
    return;
  }
  if (!reg_->meta->LinkedBlobSize(repo, d->str(), false).ok() && !CheckQuota(repo, *size)) {
    drop();
    return;
  }
  // Durable before it is acknowledged, then moved into place in one rename.
  Status s;
  if (reg_->blobs->Stat(*d).ok()) {
    s = Status::Ok();  // the same bytes are already stored
  } else {
    auto writer = reg_->blobs->AppendUpload(id);
    s = writer.ok() ? (*writer)->Flush().status() : writer.status();
    if (s.ok()) s = reg_->blobs->CommitUpload(id, *d);
  }
  if (s.ok()) s = reg_->meta->RecordBlob(repo, d->str(), *size);
  drop();
  if (!s.ok()) {
    Error(500, "UNKNOWN", s.message());
    return;
  }
  w_.Reply(201, ApiHeaders({{"Location", "/v2/" + repo + "/blobs/" + d->str()},
                            {"Docker-Content-Digest", d->str()},
                            {"Content-Length", "0"}}),
           "");
}

void V2Request::CancelUpload(const Target& t) {
  auto repo = reg_->meta->UploadRepo(t.ref);
  if (!repo.ok() || *repo != t.name) {
    Json detail = {{"uuid", t.ref}};
    Error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", &detail);
    return;
  }
  (void)reg_->blobs->DeleteUpload(t.ref);
  (void)reg_->meta->DeleteUpload(t.ref);
  {
    std::lock_guard<std::mutex> lock(reg_->sessions_mu);
    reg_->sessions.erase(t.ref);
  }
  w_.Reply(204, ApiHeaders({{"Content-Length", "0"}}), "");
}

void V2Request::Referrers(const Target& t) {
  Digest d;
  if (!DigestArg(t.ref, &d)) return;
  auto list = reg_->meta->Referrers(t.name, d.str());
  if (!list.ok()) {
    Error(500, "UNKNOWN", list.status().message());
    return;
  }
  std::string filter = r_.Query("artifactType");
  Json manifests = Json::array();
  for (const ManifestRecord& m : *list) {
    if (!filter.empty() && m.artifact_type != filter) continue;
    Json desc = {{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.size}};
    if (!m.artifact_type.empty()) desc["artifactType"] = m.artifact_type;
    if (!m.annotations.empty()) desc["annotations"] = Json::parse(m.annotations, nullptr, false);
    manifests.push_back(std::move(desc));
  }
  net::Headers h = ApiHeaders({{"Content-Type", kOciIndex}});
  if (!filter.empty()) h["OCI-Filters-Applied"] = "artifactType";
  Json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}};
  w_.Reply(200, h, index.dump());
}

}  // namespace

void Registry::Impl::ServeV2(net::Request& r, net::ResponseWriter& w) {
  V2Request(this, r, w).Serve();
}

}  // namespace berth::registry
