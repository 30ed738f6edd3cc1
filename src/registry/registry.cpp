#include "registry/registry.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"
#include "core/quantity.h"
#include "core/log.h"
#include "core/time.h"
#include "registry/internal.h"

namespace berth::registry {

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Open(const Options& opts, api::ObjectStore* os,
                                                 net::TokenAuthenticator authenticate) {
  std::unique_ptr<Registry> r(new Registry());
  Impl& i = *r->impl_;
  i.opts = opts;
  i.os = os;
  i.authenticate = std::move(authenticate);
  BERTH_RETURN_IF_ERROR(MakeDirs(opts.dir, 0700));
  BERTH_ASSIGN_OR_RETURN(i.signer, JwtSigner::LoadOrCreate(opts.token_key_path));
  i.blobs = NewFsBlobStore(opts.dir);
  BERTH_ASSIGN_OR_RETURN(i.meta, Metadata::Open(opts.dir + "/registry.db"));
  i.project_kind = os->kinds()->Find("registry.berth.dev", "v1", "projects");
  i.robot_kind = os->kinds()->Find("registry.berth.dev", "v1", "robotaccounts");
  i.secret_kind = os->kinds()->Find("", "v1", "secrets");
  if (!i.project_kind || !i.robot_kind || !i.secret_kind) return Internal("the registry kinds are not registered");
  Impl* ip = &i;
  i.webhooks = std::make_unique<WebhookSender>(
      opts.dir, [ip](const std::string& project, const std::string& url, const std::string& err) {
        auto proj = ip->GetProject(project);
        if (proj.ok())
          controllers::RecordEvent(ip->os, *ip->project_kind, *proj, "Warning", "WebhookFailed",
                                   "could not deliver to " + url + ": " + err, "berth-registry");
      });
  return r;
}

std::vector<std::string> Registry::AnonymousPaths() { return {"/v2", "/v2/*", "/service/token"}; }

void Registry::Mount(net::Router& router) {
  Impl* i = impl_.get();
  router.HandleStreaming("/v2/*", [i](net::Request& r, net::ResponseWriter& w) { i->ServeV2(r, w); });
  router.Handle("/v2", [i](net::Request& r, net::ResponseWriter& w) { i->ServeV2(r, w); });
  router.Handle("/service/token", [i](net::Request& r, net::ResponseWriter& w) { i->ServeToken(r, w); });
}

Status Registry::Impl::QuotaAllows(const std::string& project, int64_t bytes) {
  auto proj = GetProject(project);
  if (!proj.ok() || bytes <= 0) return Status::Ok();
  Json limit_json = proj->value("spec", Json::object()).value("storageLimit", Json());
  std::string limit = limit_json.is_string() ? limit_json.get<std::string>()
                      : limit_json.is_number() ? limit_json.dump()
                                               : "";
  if (limit.empty()) return Status::Ok();
  auto q = Quantity::Parse(limit);
  if (!q.ok()) return Status::Ok();
  auto used = meta->ProjectUsage(project);
  if (!used.ok() || *used + bytes <= q->Value()) return Status::Ok();
  return Status(Code::kForbidden, "quota exceeded: adding " + std::to_string(bytes) + " bytes to project " + project +
                                      " (using " + std::to_string(*used) + " of " + std::to_string(q->Value()) + ")");
}

Status Registry::Impl::StoreManifest(const ManifestRecord& rec, const ManifestRefs& refs, const std::string& tag,
                                     bool immutable, std::string_view bytes) {
  BERTH_ASSIGN_OR_RETURN(Digest d, ParseDigest(rec.digest));
  // Staged as an upload session (its row first, as garbage collection expects).
  std::string id = NewUUID();
  BERTH_RETURN_IF_ERROR(meta->CreateUpload(id, rec.repo));
  Status st = blobs->CreateUpload(id);
  if (st.ok()) {
    auto w = blobs->AppendUpload(id);
    st = w.ok() ? (*w)->Append(bytes) : w.status();
    if (st.ok()) st = (*w)->Flush().status();
  }
  if (st.ok()) {
    st = meta->PutManifest(rec, refs, tag, immutable, [&]() -> Status {
      if (blobs->Stat(d).ok()) return Status::Ok();  // the same bytes are stored already
      return blobs->CommitUpload(id, d);
    });
  }
  (void)blobs->DeleteUpload(id);
  (void)meta->DeleteUpload(id);
  return st;
}

Result<GcResult> Registry::CollectGarbage(const GcOptions& o) {
  Impl& i = *impl_;
  GcResult res;
  BERTH_ASSIGN_OR_RETURN(GcPlan plan, i.meta->CollectGarbage(o.cutoff_ms, o.delete_untagged, o.dry_run));
  res.manifests_deleted = plan.manifests_deleted;
  res.blobs_deleted = static_cast<int64_t>(plan.blobs.size());
  if (o.dry_run) {
    res.bytes_freed = plan.bytes;
    return res;
  }
  for (const std::string& d : plan.blobs) {
    auto digest = ParseDigest(d);
    if (!digest.ok()) continue;
    auto freed = i.blobs->Delete(*digest);
    if (freed.ok()) res.bytes_freed += *freed;
  }
  // Files no row knows: manifests refused after their bytes were written,
  // blobs of a crash between rename and record. Only old ones: a file written
  // a moment ago may be about to be recorded.
  if (auto files = i.blobs->List(); files.ok()) {
    for (const auto& e : *files) {
      // Whatever the cutoff, a file younger than ten minutes may be an upload
      // between its rename and its record.
      int64_t orphan_cutoff = std::min(o.cutoff_ms, NowMicros() / 1000 - 600 * 1000);
      if (e.modified_ms >= orphan_cutoff || i.meta->KnowsBlob(e.digest.str())) continue;
      auto freed = i.blobs->Delete(e.digest);
      if (freed.ok() && *freed > 0) {
        res.bytes_freed += *freed;
        ++res.blobs_deleted;
      }
    }
  }
  // Abandoned uploads: sessions untouched past the expiry, and files with no
  // session row.
  int64_t expiry = o.upload_expiry_seconds >= 0 ? o.upload_expiry_seconds : i.opts.upload_expiry_seconds;
  int64_t upload_cutoff = NowMicros() / 1000 - expiry * 1000;
  if (auto stale = i.meta->StaleUploads(upload_cutoff); stale.ok()) {
    for (const std::string& id : *stale) {
      auto size = i.blobs->UploadSize(id);
      if (i.blobs->DeleteUpload(id).ok() && size.ok()) res.bytes_freed += *size;
      (void)i.meta->DeleteUpload(id);
      ++res.uploads_deleted;
      std::lock_guard<std::mutex> lock(i.sessions_mu);
      i.sessions.erase(id);
    }
  }
  if (auto files = i.blobs->ListUploads(); files.ok()) {
    for (const std::string& id : *files) {
      if (i.meta->UploadRepo(id).ok()) continue;
      auto size = i.blobs->UploadSize(id);
      if (i.blobs->DeleteUpload(id).ok()) {
        if (size.ok()) res.bytes_freed += *size;
        ++res.uploads_deleted;
      }
    }
  }
  log::Info("registry garbage collected",
            log::Fields()("blobs", res.blobs_deleted)("manifests", res.manifests_deleted)(
                "uploads", res.uploads_deleted)("bytes", res.bytes_freed));
  return res;
}

Result<RetentionResult> Registry::ApplyRetention(const std::string& project) {
  Impl& i = *impl_;
  RetentionResult res;
  BERTH_ASSIGN_OR_RETURN(Json proj, i.GetProject(project));
  const Json rules = proj.value("spec", Json::object()).value("retention", Json::object()).value("rules", Json::array());
  if (rules.empty()) return res;
  int64_t now_ms = NowMicros() / 1000;
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> repos, i.meta->ProjectRepositories(project));
  for (const std::string& repo : repos) {
    std::string path = repo.substr(project.size() + 1);
    BERTH_ASSIGN_OR_RETURN(std::vector<ManifestRecord> manifests, i.meta->ListManifests(repo));
    // Newest first: keepLast keeps the front of each rule's selection.
    std::sort(manifests.begin(), manifests.end(),
              [](const ManifestRecord& a, const ManifestRecord& b) { return a.created_ms > b.created_ms; });
    std::set<std::string> kept;                                  // manifests some rule keeps
    std::map<std::string, std::set<std::string>> doomed;         // digest -> tags to remove
    for (const Json& rule : rules) {
      std::string repo_glob = rule.value("repositories", "*"), tag_glob = rule.value("tags", "*");
      if (repo_glob.empty()) repo_glob = "*";
      if (tag_glob.empty()) tag_glob = "*";
      if (fnmatch(repo_glob.c_str(), path.c_str(), 0) != 0) continue;
      int64_t keep_last = rule.value("keepLast", int64_t{-1});
      int64_t keep_newer = rule.value("keepNewerThanSeconds", int64_t{-1});
      int64_t rank = 0;
      for (const ManifestRecord& m : manifests) {
        std::vector<std::string> matching;
        for (const std::string& tag : m.tags)
          if (fnmatch(tag_glob.c_str(), tag.c_str(), 0) == 0) matching.push_back(tag);
        if (matching.empty()) continue;
        bool keep = (keep_last >= 0 && rank < keep_last) || (keep_newer >= 0 && m.created_ms >= now_ms - keep_newer * 1000);
        ++rank;
        if (keep) {
          kept.insert(m.digest);
        } else {
          doomed[m.digest].insert(matching.begin(), matching.end());
        }
      }
    }
    for (const ManifestRecord& m : manifests) {
      auto it = doomed.find(m.digest);
      if (it == doomed.end() || kept.count(m.digest)) continue;
      size_t left = m.tags.size();
      for (const std::string& tag : it->second) {
        if (Impl::TagImmutable(proj, tag)) continue;
        if (i.meta->DeleteTag(repo, tag).ok()) {
          ++res.tags_deleted;
          --left;
          i.RecordArtifactEvent({false, repo, tag, m.digest, "", "", "retention"});
        }
      }
      if (left == 0 && i.meta->DeleteManifest(repo, m.digest).ok()) ++res.manifests_deleted;
    }
  }
  if (res.tags_deleted > 0)
    log::Info("retention applied", log::Fields()("project", project)("tags", res.tags_deleted)("manifests", res.manifests_deleted));
  return res;
}

Result<std::string> Registry::Copy(const std::string& from, const std::string& to) {
  Impl& i = *impl_;
  // REPO:TAG or REPO@DIGEST; the tag's ':' comes after the last '/'.
  std::string src_repo, src_ref;
  if (size_t at = from.find('@'); at != std::string::npos) {
    src_repo = from.substr(0, at);
    src_ref = from.substr(at + 1);
  } else if (size_t colon = from.rfind(':'); colon != std::string::npos && colon > from.rfind('/')) {
    src_repo = from.substr(0, colon);
    src_ref = from.substr(colon + 1);
  } else {
    return Invalid("source \"" + from + "\" must be REPOSITORY:TAG or REPOSITORY@DIGEST");
  }
  std::string dst_repo = to, dst_tag;
  if (size_t colon = to.rfind(':'); colon != std::string::npos && colon > to.rfind('/') && to.find('@') == std::string::npos) {
    dst_repo = to.substr(0, colon);
    dst_tag = to.substr(colon + 1);
  }
  if (dst_tag.empty() && src_ref.find(':') == std::string::npos) dst_tag = src_ref;
  if (!ValidRepositoryName(src_repo)) return Invalid("invalid source repository \"" + src_repo + "\"");
  if (!ValidRepositoryName(dst_repo)) return Invalid("invalid destination repository \"" + dst_repo + "\"");
  if (!i.GetProject(ProjectOf(dst_repo)).ok())
    return NotFound("destination project \"" + ProjectOf(dst_repo) + "\" does not exist");
  auto m = i.meta->GetManifest(src_repo, src_ref);
  if (!m.ok()) return NotFound("source " + from + " not found");
  BERTH_ASSIGN_OR_RETURN(int64_t adding, i.meta->BytesNewToProject(src_repo, m->digest, ProjectOf(dst_repo)));
  BERTH_RETURN_IF_ERROR(i.QuotaAllows(ProjectOf(dst_repo), adding));
  auto dst_project = i.GetProject(ProjectOf(dst_repo));
  bool immutable = dst_project.ok() && Impl::TagImmutable(*dst_project, dst_tag);
  BERTH_RETURN_IF_ERROR(i.meta->CopyManifest(src_repo, m->digest, dst_repo, dst_tag, immutable));
  log::Info("artifact copied", log::Fields()("from", from)("to", to)("digest", m->digest));
  i.RecordArtifactEvent({true, dst_repo, dst_tag, m->digest, "", "", "copied from " + from});
  return m->digest;
}

}  // namespace berth::registry
