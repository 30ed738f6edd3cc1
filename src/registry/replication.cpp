// Replication with external OCI registries: the Replication controller runs a
// Push (local artifacts to the remote registry) or a Pull (remote artifacts
// here) when its spec changes and then every intervalSeconds. Artifacts
// already in place (same digest under the tag) are skipped; blobs the other
// side has are not sent again; a manifest goes after everything it references.
#include <fnmatch.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/time.h"
#include "net/registry_client.h"
#include "registry/internal.h"
#include "registry/manifest.h"

namespace berth::registry {
namespace {

constexpr const char* kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct RunResult {
  int64_t copied = 0, skipped = 0, bytes = 0;
};

Status RemoteError(const net::ClientResponse& res, const std::string& what) {
  std::string msg = net::RegistryErrorMessage(res.body);
  return Status(res.status == 401 || res.status == 403 ? Code::kUnauthorized
                : res.status == 404                    ? Code::kNotFound
                                                       : Code::kUnavailable,
                what + ": the remote registry answered HTTP " + std::to_string(res.status) +
                    (msg.empty() ? "" : ": " + msg));
}

std::string ReadAll(BlobStore& blobs, const Digest& d, Status* st) {
  auto r = blobs.Open(d);
  if (!r.ok()) {
    *st = r.status();
    return "";
  }
  std::string out(static_cast<size_t>((*r)->size()), '\0');
  size_t got = 0;
  while (got < out.size()) {
    auto n = (*r)->ReadAt(static_cast<int64_t>(got), out.data() + got, out.size() - got);
    if (!n.ok() || *n == 0) {
      *st = n.ok() ? Internal("blob " + d.str() + " is shorter than its size") : n.status();
      return "";
    }
    got += *n;
  }
  return out;
}

class Replicator {
 public:
  Replicator(Registry::Impl* reg, net::RegistryClient* remote, RunResult* res) : reg_(reg), remote_(remote), res_(res) {}

  // Push: local repo's manifest `digest` (bytes in the blob store) to remote
  // repository `to`, under `tag` (empty: by digest).
  Status PushManifest(const std::string& from, const std::string& to, const std::string& digest,
                      const std::string& media_type, const std::string& tag) {
    BERTH_ASSIGN_OR_RETURN(Digest d, ParseDigest(digest));
    Status st;
    std::string bytes = ReadAll(*reg_->blobs, d, &st);
    BERTH_RETURN_IF_ERROR(st);
    BERTH_ASSIGN_OR_RETURN(ParsedManifest p, ParseManifest(bytes, media_type));
    std::string scope = "repository:" + to + ":pull,push";
    for (const std::string& child : p.refs.manifests) {
      auto rec = reg_->meta->GetManifest(from, child);
      if (!rec.ok()) return NotFound("manifest " + child + " of " + from + "@" + digest + " is missing");
      BERTH_RETURN_IF_ERROR(PushManifest(from, to, child, rec->media_type, ""));
    }
    for (const auto& [blob, size] : p.refs.blobs) BERTH_RETURN_IF_ERROR(PushBlob(to, blob, scope));
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse put,
                           remote_->Do("PUT", "/v2/" + to + "/manifests/" + (tag.empty() ? digest : tag), scope,
                                       {{"Content-Type", p.media_type}}, bytes));
    if (put.status != 201 && put.status != 200) return RemoteError(put, "push manifest " + to + "@" + digest);
    return Status::Ok();
  }

  // Pull: remote repository `from`'s manifest (by tag or digest) into local `to`.
  Status PullManifest(const std::string& from, const std::string& to, const std::string& reference,
                      const std::string& tag, std::string* digest_out) {
    std::string scope = "repository:" + from + ":pull";
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse res,
                           remote_->Do("GET", "/v2/" + from + "/manifests/" + reference, scope, {{"Accept", kAcceptManifests}}));
    if (res.status != 200) return RemoteError(res, "manifest " + from + ":" + reference);
    if (res.body.size() > kMaxManifestBytes) return Invalid("manifest " + from + ":" + reference + " is too large");
    std::string digest = DigestOf(res.body);
    if (reference.find(':') != std::string::npos && digest != reference)
      return Invalid("manifest " + from + "@" + reference + " from the remote registry hashes to " + digest);
    BERTH_ASSIGN_OR_RETURN(ParsedManifest p, ParseManifest(res.body, res.Header("Content-Type")));
    for (const std::string& child : p.refs.manifests) BERTH_RETURN_IF_ERROR(PullManifest(from, to, child, "", nullptr));
    for (const auto& [blob, size] : p.refs.blobs) BERTH_RETURN_IF_ERROR(PullBlob(from, to, blob, size, scope));
    ManifestRecord rec;
    rec.repo = to;
    rec.digest = digest;
    rec.media_type = p.media_type;
    rec.size = static_cast<int64_t>(res.body.size());
    rec.artifact_type = p.artifact_type;
    rec.subject = p.subject;
    rec.annotations = p.annotations;
    BERTH_RETURN_IF_ERROR(reg_->StoreManifest(rec, p.refs, tag, false, res.body));
    if (digest_out != nullptr) *digest_out = digest;
    return Status::Ok();
  }

 private:
  Status PushBlob(const std::string& to, const std::string& blob, const std::string& scope) {
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse head, remote_->Do("HEAD", "/v2/" + to + "/blobs/" + blob, scope));
    if (head.status == 200) return Status::Ok();
    BERTH_ASSIGN_OR_RETURN(Digest d, ParseDigest(blob));
    Status st;
    std::string bytes = ReadAll(*reg_->blobs, d, &st);
    BERTH_RETURN_IF_ERROR(st);
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse start, remote_->Do("POST", "/v2/" + to + "/blobs/uploads/", scope));
    if (start.status != 202) return RemoteError(start, "start an upload to " + to);
    std::string loc = start.Header("Location");
    if (loc.empty()) return Status(Code::kUnavailable, "the remote registry gave no upload location");
    loc += std::string(loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + net::UrlEncode(blob);
    BERTH_ASSIGN_OR_RETURN(net::ClientResponse put,
                           remote_->Do("PUT", loc, scope, {{"Content-Type", "application/octet-stream"}}, bytes));
    if (put.status != 201) return RemoteError(put, "upload " + blob + " to " + to);
    res_->bytes += static_cast<int64_t>(bytes.size());
    return Status::Ok();
  }

  Status PullBlob(const std::string& from, const std::string& to, const std::string& blob, int64_t declared,
                  const std::string& scope) {
    if (reg_->meta->LinkedBlobSize(to, blob, true).ok()) return Status::Ok();
    BERTH_RETURN_IF_ERROR(reg_->QuotaAllows(ProjectOf(to), declared));
    BERTH_ASSIGN_OR_RETURN(Digest d, ParseDigest(blob));
    if (auto size = reg_->blobs->Stat(d); size.ok() && reg_->meta->KnowsBlob(blob)) {
      return reg_->meta->RecordBlob(to, blob, *size);  // the bytes are here already
    }
    std::string id = NewUUID();
    BERTH_RETURN_IF_ERROR(reg_->meta->CreateUpload(id, to));
    auto drop = [&] {
      (void)reg_->blobs->DeleteUpload(id);
      (void)reg_->meta->DeleteUpload(id);
    };
    Status st = reg_->blobs->CreateUpload(id);
    std::unique_ptr<UploadWriter> writer;
    if (st.ok()) {
      auto w = reg_->blobs->AppendUpload(id);
      if (w.ok()) writer = std::move(*w);
      else st = w.status();
    }
    if (!st.ok()) {
      drop();
      return st;
    }
    Hasher hasher(d.algorithm);
    int64_t size = 0;
    Status write_status;
    auto res = remote_->Stream("/v2/" + from + "/blobs/" + blob, scope, [&](std::string_view piece) {
      write_status = writer->Append(piece);
      hasher.Update(piece);
      size += static_cast<int64_t>(piece.size());
      return write_status.ok();
    });
    if (!res.ok() || !write_status.ok() || res->status != 200) {
      drop();
      if (!res.ok()) return res.status();
      if (!write_status.ok()) return write_status;
      return RemoteError(*res, "blob " + from + "@" + blob);
    }
    if (hasher.Finish() != d.hex) {
      drop();
      return Invalid("blob " + blob + " from the remote registry does not match its digest");
    }
    st = writer->Flush().status();
    writer.reset();
    if (st.ok()) st = reg_->blobs->CommitUpload(id, d);
    if (st.ok()) st = reg_->meta->RecordBlob(to, blob, size);
    (void)reg_->meta->DeleteUpload(id);
    if (!st.ok()) {
      (void)reg_->blobs->DeleteUpload(id);
      return st;
    }
    res_->bytes += size;
    return Status::Ok();
  }

  Registry::Impl* reg_;
  net::RegistryClient* remote_;
  RunResult* res_;
};

class ReplicationController : public controllers::Controller {
 public:
  ReplicationController(api::ObjectStore* os, Registry::Impl* reg) : Controller(os), reg_(reg) {
    kind_ = os->kinds()->Find("registry.berth.dev", "v1", "replications");
  }
  const char* name() const override { return "registry-replication"; }
  bool Interested(const api::KindInfo& k) const override {
    return k.group == "registry.berth.dev" && k.resource == "replications";
  }
  // Periodic replications come due with time, not with a change.
  void Resync() override {
    if (++ticks_ % 5 != 0) return;
    auto list = os_->List(*kind_, api::ListParams{});
    if (!list.ok()) return;
    for (const Json& r : list->items)
      if (r.value("spec", Json::object()).value("intervalSeconds", int64_t{0}) > 0)
        queue().Push(r["metadata"].value("name", ""));
  }

  Status Reconcile(const std::string& name) override {
    auto repl = os_->Get(*kind_, "", name);
    if (!repl.ok()) return repl.status();
    const Json spec = repl->value("spec", Json::object());
    const Json old = repl->value("status", Json::object());
    int64_t generation = (*repl)["metadata"].value("generation", int64_t{0});
    int64_t interval = spec.value("intervalSeconds", int64_t{0});
    auto last = ParseRFC3339(old.value("lastRunTime", ""));
    bool due = old.value("observedGeneration", int64_t{0}) != generation ||
               (interval > 0 && (!last || NowSeconds() - *last >= interval));
    if (!due) return Status::Ok();
    std::string started = FormatRFC3339(NowSeconds());
    Json status = {{"phase", "Running"}, {"observedGeneration", generation}, {"lastRunTime", started}};
    BERTH_RETURN_IF_ERROR(Write(name, status));
    RunResult res;
    Status st = Run(spec, &res);
    status["phase"] = st.ok() ? "Succeeded" : "Failed";
    status["completionTime"] = FormatRFC3339(NowSeconds());
    status["copied"] = res.copied;
    status["skipped"] = res.skipped;
    status["bytes"] = res.bytes;
    if (!st.ok()) status["message"] = st.message();
    log::Info("replication ran", log::Fields()("name", name)("ok", st.ok())("copied", res.copied)("skipped", res.skipped)(
                                     "bytes", res.bytes)("err", st.ok() ? "" : st.message()));
    return Write(name, status);
  }

 private:
  Status Write(const std::string& name, const Json& status) {
    return os_->Mutate(*kind_, "", name, [&](Json& o) {
                 o["status"] = status;
                 return Status::Ok();
               }, api::Subresource::kStatus).status();
  }

  Result<std::unique_ptr<net::RegistryClient>> Connect(const Json& remote) {
    net::RegistryClientOptions o;
    o.url = remote.value("url", "");
    std::string ca = remote.value("caBundle", "");
    if (!ca.empty()) {
      o.ca_file = reg_->opts.dir + "/replication-ca-" + Sha256Hex(ca).substr(0, 16) + ".pem";
      if (!FileExists(o.ca_file)) BERTH_RETURN_IF_ERROR(WriteFileAtomic(o.ca_file, ca, 0600));
    }
    const Json ref = remote.value("credentialsSecret", Json::object());
    if (!ref.empty()) {
      auto secret = os_->Get(*reg_->secret_kind, ref.value("namespace", ""), ref.value("name", ""));
      if (!secret.ok()) return NotFound("credentials secret " + ref.value("namespace", "") + "/" + ref.value("name", "") + " not found");
      const Json data = secret->value("data", Json::object());
      o.auth.username = Base64Decode(data.value("username", "")).value_or("");
      o.auth.password = Base64Decode(data.value("password", "")).value_or("");
    }
    return net::RegistryClient::Create(o);
  }

  Status Run(const Json& spec, RunResult* res) {
    BERTH_ASSIGN_OR_RETURN(auto remote, Connect(spec.value("remote", Json::object())));
    Replicator rep(reg_, remote.get(), res);
    std::string tags_glob = spec.value("tags", "*");
    if (tags_glob.empty()) tags_glob = "*";
    std::string dest = spec.value("destination", "");
    const Json repos = spec.value("repositories", Json::array());
    if (spec.value("direction", "") == "Push") {
      // Local repositories matching any glob.
      BERTH_ASSIGN_OR_RETURN(std::vector<std::string> all, reg_->meta->Repositories("", -1));
      for (const std::string& repo : all) {
        bool match = false;
        for (const Json& g : repos) match = match || (g.is_string() && fnmatch(g.get<std::string>().c_str(), repo.c_str(), 0) == 0);
        if (!match) continue;
        std::string to = dest.empty() ? repo : dest + "/" + repo;
        BERTH_ASSIGN_OR_RETURN(std::vector<ManifestRecord> manifests, reg_->meta->ListManifests(repo));
        for (const ManifestRecord& m : manifests) {
          for (const std::string& tag : m.tags) {
            if (fnmatch(tags_glob.c_str(), tag.c_str(), 0) != 0) continue;
            BERTH_ASSIGN_OR_RETURN(net::ClientResponse head,
                                   remote->Do("HEAD", "/v2/" + to + "/manifests/" + tag, "repository:" + to + ":pull,push",
                                              {{"Accept", kAcceptManifests}}));
            if (head.status == 200 && head.Header("Docker-Content-Digest") == m.digest) {
              ++res->skipped;
              continue;
            }
            BERTH_RETURN_IF_ERROR(rep.PushManifest(repo, to, m.digest, m.media_type, tag));
            ++res->copied;
          }
        }
      }
      return Status::Ok();
    }
    // Pull: the named remote repositories into the destination project.
    if (!reg_->GetProject(dest).ok()) return NotFound("destination project \"" + dest + "\" does not exist");
    for (const Json& r : repos) {
      if (!r.is_string()) continue;
      std::string from = r.get<std::string>();
      std::string to = dest + "/" + from;
      if (!ValidRepositoryName(to)) return Invalid("cannot store " + from + " as " + to);
      BERTH_ASSIGN_OR_RETURN(net::ClientResponse list,
                             remote->Do("GET", "/v2/" + from + "/tags/list", "repository:" + from + ":pull"));
      if (list.status != 200) return RemoteError(list, "list the tags of " + from);
      Json tags = Json::parse(list.body, nullptr, false);
      if (!tags.is_object() || !tags.value("tags", Json()).is_array())
        return Status(Code::kUnavailable, "the remote registry's tag list for " + from + " is not valid");
      for (const Json& t : tags["tags"]) {
        if (!t.is_string() || fnmatch(tags_glob.c_str(), t.get<std::string>().c_str(), 0) != 0) continue;
        std::string tag = t.get<std::string>();
        BERTH_ASSIGN_OR_RETURN(net::ClientResponse head,
                               remote->Do("HEAD", "/v2/" + from + "/manifests/" + tag, "repository:" + from + ":pull",
                                          {{"Accept", kAcceptManifests}}));
        auto local = reg_->meta->GetManifest(to, tag);
        if (head.status == 200 && local.ok() && head.Header("Docker-Content-Digest") == local->digest) {
          ++res->skipped;
          continue;
        }
        std::string digest;
        BERTH_RETURN_IF_ERROR(rep.PullManifest(from, to, tag, tag, &digest));
        reg_->RecordArtifactEvent({true, to, tag, digest, "", "", "replicated from " + remote->options().url});
        ++res->copied;
      }
    }
    return Status::Ok();
  }

  Registry::Impl* reg_;
  api::KindPtr kind_;
  int ticks_ = 0;
};

}  // namespace

std::unique_ptr<controllers::Controller> NewReplicationController(api::ObjectStore* os, Registry::Impl* reg) {
  return std::make_unique<ReplicationController>(os, reg);
}

}  // namespace berth::registry
