// The registry's metadata in its own SQLite database (DATA/registry/registry.db):
// which repository links which blob, manifests with their references, tags,
// upload sessions. Blob bytes live in a BlobStore; the API store holds only
// the configuration (projects, robot accounts, garbage collections).
//
// Every change is one transaction (WAL, synchronous=FULL): a manifest is
// recorded together with its references and tag, after checking, in the same
// transaction, that everything it references is present. Garbage collection
// decides what to remove in a transaction too, so a manifest either lands
// before a collection (and protects its blobs) or after it (and is refused if
// a blob it needs was removed, which the window of CollectGarbage prevents
// for blobs pushed recently).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::store::sqlite {
class Db;
}

namespace berth::registry {

struct ManifestRecord {
  std::string repo, digest, media_type, artifact_type, subject;
  int64_t size = 0;
  std::string annotations;  // JSON object text, or empty
  int64_t created_ms = 0;
  std::vector<std::string> tags;  // filled by GetManifest and ListManifests
};

// What a manifest refers to: blobs (config, layers) and, for an index, manifests.
struct ManifestRefs {
  std::vector<std::pair<std::string, int64_t>> blobs;  // digest, size
  std::vector<std::string> manifests;
};

struct GcPlan {
  std::vector<std::string> blobs;  // digests to remove from the blob store
  int64_t bytes = 0;
  int64_t manifests_deleted = 0;
};

class Metadata {
 public:
  static Result<std::unique_ptr<Metadata>> Open(const std::string& path);
  ~Metadata();

  // Blobs. RecordBlob registers an uploaded blob and links it to repo.
  Status RecordBlob(const std::string& repo, const std::string& digest, int64_t size);
  // The size of a blob linked to repo (NotFound otherwise); marks it used now
  // when `touch` (a pusher checking whether to upload it).
  Result<int64_t> LinkedBlobSize(const std::string& repo, const std::string& digest, bool touch);
  // Links a blob of `from` into repo (a cross-repository mount); NotFound if
  // `from` does not link it.
  Result<int64_t> MountBlob(const std::string& repo, const std::string& from, const std::string& digest);
  // Removes repo's link; NotFound if there was none.
  Status UnlinkBlob(const std::string& repo, const std::string& digest);

  // Manifests. PutManifest fails with NotFound naming the first missing
  // reference ("blob DIGEST" or "manifest DIGEST"). The manifest's own
  // bytes must already be in the blob store under its digest.
  // With `tag_immutable`, a tag that already names another manifest stays
  // and the call fails with Forbidden (checked in the same transaction).
  // `before_commit`, if given, runs inside the transaction once every check
  // has passed (it stores the manifest's bytes); its failure rolls back.
  Status PutManifest(const ManifestRecord& m, const ManifestRefs& refs, const std::string& tag,
                     bool tag_immutable = false, const std::function<Status()>& before_commit = nullptr);
  // By tag or by digest.
  Result<ManifestRecord> GetManifest(const std::string& repo, const std::string& reference);
  Status DeleteTag(const std::string& repo, const std::string& tag);
  // The tags naming a manifest, sorted.
  Result<std::vector<std::string>> TagsOf(const std::string& repo, const std::string& digest);
  // Removes the manifest and every tag that points at it.
  Status DeleteManifest(const std::string& repo, const std::string& digest);
  Result<std::vector<ManifestRecord>> Referrers(const std::string& repo, const std::string& subject);
  // Tags after `last` in lexical order, at most n (n < 0: all). NotFound if the
  // repository has no manifests and no blobs.
  Result<std::vector<std::string>> Tags(const std::string& repo, const std::string& last, int64_t n);
  Result<std::vector<std::string>> Repositories(const std::string& last, int64_t n);
  Result<std::vector<ManifestRecord>> ListManifests(const std::string& repo);
  bool RepositoryExists(const std::string& repo);

  // Copies a manifest (and, recursively, the manifests an index lists) with
  // the blob links it needs from one repository to another, and tags it.
  // No blob bytes move.
  Status CopyManifest(const std::string& from, const std::string& digest, const std::string& to,
                      const std::string& tag, bool tag_immutable = false);
  // Forgets a repository: its manifests, tags, references and blob links (the
  // blobs themselves go at the next garbage collection).
  Status DeleteRepository(const std::string& repo);
  // The repositories of a project (that link at least one blob).
  Result<std::vector<std::string>> ProjectRepositories(const std::string& project);

  // Upload sessions.
  Status CreateUpload(const std::string& id, const std::string& repo);
  // The repository of a live session, NotFound otherwise.
  Result<std::string> UploadRepo(const std::string& id);
  Status DeleteUpload(const std::string& id);
  // Sessions not written to since before cutoff_ms.
  Result<std::vector<std::string>> StaleUploads(int64_t cutoff_ms);
  Status TouchUpload(const std::string& id);

  // Bytes of the blobs a copy of repo's manifest `digest` (and, for an index,
  // its manifests) would add to `project`: those none of its repositories links.
  Result<int64_t> BytesNewToProject(const std::string& repo, const std::string& digest, const std::string& project);
  // Bytes of the distinct blobs linked by the project's repositories.
  Result<int64_t> ProjectUsage(const std::string& project);
  Result<int64_t> ProjectRepositoryCount(const std::string& project);

  // Garbage collection: with `delete_untagged`, manifests with no tag that no
  // index lists are deleted first; then every blob that no manifest needs and
  // that was not uploaded, mounted or checked since cutoff_ms is forgotten
  // (rows and links) and returned, for the caller to remove from the store.
  // With dry_run nothing changes: the plan says what a run would remove.
  Result<GcPlan> CollectGarbage(int64_t cutoff_ms, bool delete_untagged, bool dry_run);
  // Whether the store holds a blob the metadata knows (for orphan sweeps).
  bool KnowsBlob(const std::string& digest);

 private:
  Metadata();
  Status Tx(const std::function<Status()>& fn);
  Status PutManifestLocked(const ManifestRecord& m, const ManifestRefs& refs, const std::string& tag,
                           bool tag_immutable);
  std::mutex mu_;
  std::unique_ptr<store::sqlite::Db> db_;
};

}  // namespace berth::registry
