// The registry's storage parts: digests, manifest parsing, the filesystem
// blob store and the metadata database, including garbage collection's rules.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/time.h"
#include "registry/blob_store.h"
#include "registry/digest.h"
#include "registry/manifest.h"
#include "registry/metadata.h"

namespace berth::registry {
namespace {

int64_t NowMs() { return NowMicros() / 1000; }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-registry-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(DigestTest, ParsesTheRegisteredAlgorithms) {
  std::string hex64(64, 'a'), hex128(128, '0');
  auto d = ParseDigest("sha256:" + hex64);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->algorithm, "sha256");
  EXPECT_EQ(d->str(), "sha256:" + hex64);
  EXPECT_TRUE(ParseDigest("sha512:" + hex128).ok());
  EXPECT_EQ(ParseDigest("sha256:" + std::string(64, 'A')).status().code(), Code::kInvalid);
  EXPECT_EQ(ParseDigest("sha256:abc").status().code(), Code::kInvalid);
  EXPECT_EQ(ParseDigest("sha512:" + hex64).status().code(), Code::kInvalid);
  EXPECT_EQ(ParseDigest("md5:" + std::string(32, 'a')).status().code(), Code::kBadRequest);
  EXPECT_EQ(ParseDigest("nocolon").status().code(), Code::kInvalid);
  EXPECT_EQ(ParseDigest("SHA$:x").status().code(), Code::kInvalid);
  EXPECT_EQ(DigestOf(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hasher h("sha256");
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ("sha256:" + h.Finish(), DigestOf("abc"));
}

std::string Desc(const std::string& mt, const std::string& data) {
  return Json{{"mediaType", mt}, {"digest", DigestOf(data)}, {"size", data.size()}}.dump();
}

TEST(ManifestTest, ImageManifestReferencesConfigAndLayers) {
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":)" + Desc("application/vnd.oci.image.config.v1+json", "cfg") + R"(,
    "layers":[)" + Desc("application/vnd.oci.image.layer.v1.tar", "l1") + R"(,
      {"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar","digest":")" + DigestOf("f") +
                  R"(","size":1,"urls":["https://example.com/f"]}],
    "subject":)" + Desc(kOciManifest, "s") + R"(,
    "annotations":{"a":"b"}})";
  auto p = ParseManifest(m, "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->media_type, kOciManifest);
  EXPECT_FALSE(p->is_index);
  ASSERT_EQ(p->refs.blobs.size(), 2u);  // the foreign layer is not required
  EXPECT_EQ(p->refs.blobs[0].first, DigestOf("cfg"));
  EXPECT_EQ(p->refs.blobs[1].second, 2);
  EXPECT_EQ(p->subject, DigestOf("s"));
  EXPECT_EQ(p->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(Json::parse(p->annotations), Json::parse(R"({"a":"b"})"));
}

TEST(ManifestTest, IndexesAndDockerTypes) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[)" + Desc(kDockerManifest, "m1") + R"(]})";
  auto p = ParseManifest(idx, "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->is_index);
  EXPECT_EQ(p->refs.manifests, std::vector<std::string>{DigestOf("m1")});
  // No mediaType in the body: the Content-Type decides.
  std::string bare = R"({"schemaVersion":2,"artifactType":"application/x-sbom","config":)" +
                     Desc("application/vnd.oci.empty.v1+json", "{}") + R"(,"layers":[]})";
  p = ParseManifest(bare, "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->artifact_type, "application/x-sbom");
}

TEST(ManifestTest, RefusesWhatIsNotAManifest) {
  std::string cfg = Desc("application/vnd.oci.image.config.v1+json", "cfg");
  struct Case {
    std::string body, content_type, why;
  } cases[] = {
      {"[]", "", "not a JSON object"},
      {"{", "", "not a JSON object"},
      {R"({"schemaVersion":1,"config":)" + cfg + "}", "", "schemaVersion must be 2"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" + cfg + "}",
       kDockerManifest, "does not match the Content-Type"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})", "",
       "unsupported manifest media type"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})", "", "config is required"},
      {R"({"schemaVersion":2,"config":{"digest":"sha256:1","size":1}})", "", "config.digest"},
      {R"({"schemaVersion":2,"config":{"digest":")" + DigestOf("x") + R"(","size":-1}})", "", "config.size"},
      {R"({"schemaVersion":2,"config":)" + cfg + R"(,"layers":{}})", "", "layers must be an array"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[1]})", "",
       "manifests[0]"},
      {R"({"schemaVersion":2,"config":)" + cfg + R"(,"annotations":{"a":1}})", "", "annotation a"},
  };
  for (const auto& c : cases) {
    auto p = ParseManifest(c.body, c.content_type);
    ASSERT_FALSE(p.ok()) << c.body;
    EXPECT_NE(p.status().message().find(c.why), std::string::npos) << p.status().message();
  }
}

TEST(BlobStoreTest, UploadsBecomeBlobsWhole) {
  TempDir dir;
  auto store = NewFsBlobStore(dir.path());
  ASSERT_TRUE(store->CreateUpload("u1").ok());
  EXPECT_FALSE(store->CreateUpload("u1").ok());
  EXPECT_FALSE(store->CreateUpload("../escape").ok());
  {
    auto w = store->AppendUpload("u1");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("hello ").ok());
    ASSERT_TRUE((*w)->Append("world, and more").ok());
  }
  ASSERT_TRUE(store->TruncateUpload("u1", 11).ok());
  EXPECT_EQ(*store->UploadSize("u1"), 11);
  auto hex = store->HashUpload("u1", "sha256");
  ASSERT_TRUE(hex.ok());
  Digest d = *ParseDigest(DigestOf("hello world"));
  EXPECT_EQ(*hex, d.hex);
  EXPECT_EQ(store->Stat(d).status().code(), Code::kNotFound);
  ASSERT_TRUE(store->CommitUpload("u1", d).ok());
  EXPECT_EQ(store->UploadSize("u1").status().code(), Code::kNotFound);
  EXPECT_EQ(*store->Stat(d), 11);
  auto r = store->Open(d);
  ASSERT_TRUE(r.ok());
  char buf[5];
  EXPECT_EQ(*(*r)->ReadAt(6, buf, 5), 5u);
  EXPECT_EQ(std::string(buf, 5), "world");
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].digest.str(), d.str());
  EXPECT_EQ(*store->Delete(d), 11);
  EXPECT_EQ(*store->Delete(d), 0);
}

class MetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Metadata::Open(dir_.path() + "/registry.db");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    meta_ = std::move(*m);
  }
  // Records an image manifest over the given blobs in repo.
  Status Push(const std::string& repo, const std::string& digest, const std::vector<std::string>& blobs,
              const std::string& tag, const std::string& subject = "") {
    ManifestRecord m;
    m.repo = repo;
    m.digest = digest;
    m.media_type = kOciManifest;
    m.size = 100;
    m.subject = subject;
    ManifestRefs refs;
    for (const auto& b : blobs) refs.blobs.emplace_back(b, 10);
    return meta_->PutManifest(m, refs, tag);
  }
  TempDir dir_;
  std::unique_ptr<Metadata> meta_;
};

TEST_F(MetadataTest, ManifestsNeedTheirBlobsInTheRepository) {
  std::string layer = DigestOf("layer"), m1 = DigestOf("m1");
  Status s = Push("p/a", m1, {layer}, "v1");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "blob " + layer);
  ASSERT_TRUE(meta_->RecordBlob("p/other", layer, 10).ok());
  EXPECT_EQ(Push("p/a", m1, {layer}, "v1").code(), Code::kNotFound) << "another repository's blob does not count";
  ASSERT_TRUE(meta_->MountBlob("p/a", "p/other", layer).ok());
  ASSERT_TRUE(Push("p/a", m1, {layer}, "v1").ok());
  auto got = meta_->GetManifest("p/a", "v1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->digest, m1);
  EXPECT_TRUE(meta_->GetManifest("p/a", m1).ok());
  EXPECT_EQ(meta_->GetManifest("p/other", m1).status().code(), Code::kNotFound);
  // A blob of the wrong size is refused.
  ManifestRecord m;
  m.repo = "p/a";
  m.digest = DigestOf("m2");
  m.media_type = kOciManifest;
  ManifestRefs refs;
  refs.blobs.emplace_back(layer, 11);
  EXPECT_EQ(meta_->PutManifest(m, refs, "").code(), Code::kInvalid);
}

TEST_F(MetadataTest, TagsReferrersAndDeletes) {
  std::string layer = DigestOf("layer");
  ASSERT_TRUE(meta_->RecordBlob("p/a", layer, 10).ok());
  std::string m1 = DigestOf("m1"), sig = DigestOf("sig");
  ASSERT_TRUE(Push("p/a", m1, {layer}, "v1").ok());
  ASSERT_TRUE(Push("p/a", m1, {layer}, "latest").ok());
  ASSERT_TRUE(Push("p/a", sig, {layer}, "", m1).ok());
  EXPECT_EQ(*meta_->Tags("p/a", "", -1), (std::vector<std::string>{"latest", "v1"}));
  EXPECT_EQ(*meta_->Tags("p/a", "latest", 1), (std::vector<std::string>{"v1"}));
  EXPECT_EQ(meta_->Tags("p/none", "", -1).status().code(), Code::kNotFound);
  auto refs = meta_->Referrers("p/a", m1);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].digest, sig);
  ASSERT_TRUE(meta_->DeleteTag("p/a", "latest").ok());
  EXPECT_EQ(meta_->DeleteTag("p/a", "latest").code(), Code::kNotFound);
  ASSERT_TRUE(meta_->DeleteManifest("p/a", m1).ok());
  EXPECT_TRUE(meta_->Tags("p/a", "", -1)->empty()) << "its tags went with it";
  EXPECT_EQ(meta_->DeleteManifest("p/a", m1).code(), Code::kNotFound);
  EXPECT_EQ(*meta_->Repositories("", -1), std::vector<std::string>{"p/a"});
}

TEST_F(MetadataTest, CopyLinksWithoutNewBlobs) {
  std::string l1 = DigestOf("l1"), l2 = DigestOf("l2"), img = DigestOf("img"), idx = DigestOf("idx");
  ASSERT_TRUE(meta_->RecordBlob("test/app", l1, 10).ok());
  ASSERT_TRUE(meta_->RecordBlob("test/app", l2, 10).ok());
  ASSERT_TRUE(Push("test/app", img, {l1, l2}, "").ok());
  ManifestRecord m;
  m.repo = "test/app";
  m.digest = idx;
  m.media_type = kOciIndex;
  ManifestRefs refs;
  refs.manifests.push_back(img);
  ASSERT_TRUE(meta_->PutManifest(m, refs, "1.0").ok());
  ASSERT_TRUE(meta_->CopyManifest("test/app", idx, "prod/app", "1.0").ok());
  auto got = meta_->GetManifest("prod/app", "1.0");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->digest, idx);
  EXPECT_TRUE(meta_->GetManifest("prod/app", img).ok()) << "the index's child came along";
  EXPECT_EQ(*meta_->LinkedBlobSize("prod/app", l2, false), 10);
  EXPECT_EQ(*meta_->ProjectUsage("prod"), *meta_->ProjectUsage("test"));
  EXPECT_EQ(meta_->CopyManifest("test/app", DigestOf("none"), "prod/app", "x").code(), Code::kNotFound);
}

TEST_F(MetadataTest, GarbageCollectionKeepsWhatIsReferencedOrRecent) {
  std::string used = DigestOf("used"), orphan = DigestOf("orphan"), m1 = DigestOf("m1");
  int64_t before = NowMs() - 1;
  ASSERT_TRUE(meta_->RecordBlob("p/a", used, 10).ok());
  ASSERT_TRUE(meta_->RecordBlob("p/a", orphan, 20).ok());
  ASSERT_TRUE(Push("p/a", m1, {used}, "v1").ok());
  // Everything was used after `before`: nothing goes.
  auto plan = meta_->CollectGarbage(before, false, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->blobs.empty());
  int64_t after = NowMs() + 1;
  plan = meta_->CollectGarbage(after, false, /*dry_run=*/true);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->blobs, std::vector<std::string>{orphan});
  EXPECT_TRUE(meta_->KnowsBlob(orphan)) << "a dry run changes nothing";
  plan = meta_->CollectGarbage(after, false, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->blobs, std::vector<std::string>{orphan});
  EXPECT_EQ(plan->bytes, 20);
  EXPECT_FALSE(meta_->KnowsBlob(orphan));
  EXPECT_TRUE(meta_->KnowsBlob(used));
  EXPECT_TRUE(meta_->KnowsBlob(m1)) << "the manifest's own bytes are referenced";
  // Untagged manifests go only when asked; then their blobs follow.
  ASSERT_TRUE(meta_->DeleteTag("p/a", "v1").ok());
  plan = meta_->CollectGarbage(NowMs() + 1, false, false);
  EXPECT_TRUE(plan->blobs.empty());
  plan = meta_->CollectGarbage(NowMs() + 1, true, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->manifests_deleted, 1);
  EXPECT_EQ(plan->blobs.size(), 2u);
  EXPECT_EQ(meta_->GetManifest("p/a", m1).status().code(), Code::kNotFound);
}

TEST_F(MetadataTest, ACheckedBlobSurvivesACollectionStartedBefore) {
  std::string layer = DigestOf("layer");
  ASSERT_TRUE(meta_->RecordBlob("p/a", layer, 10).ok());
  int64_t cutoff = NowMs() + 1;
  // A pusher's HEAD after the cutoff was chosen: the blob is in use again.
  while (NowMs() <= cutoff) {
  }
  ASSERT_TRUE(meta_->LinkedBlobSize("p/a", layer, /*touch=*/true).ok());
  auto plan = meta_->CollectGarbage(cutoff, false, false);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->blobs.empty());
  EXPECT_TRUE(Push("p/a", DigestOf("m"), {layer}, "v1").ok());
}

TEST_F(MetadataTest, UploadSessions) {
  ASSERT_TRUE(meta_->CreateUpload("u1", "p/a").ok());
  EXPECT_EQ(*meta_->UploadRepo("u1"), "p/a");
  EXPECT_TRUE(meta_->StaleUploads(NowMs() - 60000)->empty());
  EXPECT_EQ(*meta_->StaleUploads(NowMs() + 1), std::vector<std::string>{"u1"});
  ASSERT_TRUE(meta_->DeleteUpload("u1").ok());
  EXPECT_EQ(meta_->UploadRepo("u1").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace berth::registry
