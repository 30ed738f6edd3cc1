// ObjectStore semantics against a real SQLite store and the built-in kinds.
#include "api/objects.h"

#include <gtest/gtest.h>

#include "testing/temp_store.h"

#include <nlohmann/json.hpp>

#include "api/crd.h"
#include "api/encryption.h"
#include "kinds/kinds.h"

namespace berth::api {
namespace {

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.get());
    db_ = store_.get();
    kinds::RegisterBuiltins(kinds_, schemas_);
    enc_ = std::make_unique<Encryptor>(std::string(32, 'k'));
    os_ = std::make_unique<ObjectStore>(db_, &kinds_, &schemas_, enc_.get());
    ASSERT_TRUE(InstallCustomResources(os_.get()).ok());
    ASSERT_TRUE(os_->Create(*K("", "namespaces"), "", Ns("default"), {}).ok());
  }
  KindPtr K(const std::string& g, const std::string& r) {
    for (const auto& k : kinds_.All())
      if (k->group == g && k->resource == r) return k;
    return nullptr;
  }
  static Json Ns(const std::string& n) { return {{"metadata", {{"name", n}}}}; }
  static Json ConfigMap(const std::string& n, Json labels = Json::object()) {
    return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
            {"metadata", {{"name", n}, {"labels", labels}}}, {"data", {{"k", "v"}}}};
  }
  static Json Deployment(const std::string& n, const std::string& image) {
    return Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + n +
                       R"("},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":")" +
                       image + R"("}]}}}})");
  }

  testing::TempStore store_;
  store::Store* db_ = nullptr;
  KindRegistry kinds_;
  SchemaRegistry schemas_;
  std::unique_ptr<Encryptor> enc_;
  std::unique_ptr<ObjectStore> os_;
};

TEST_F(ObjectStoreTest, CreateSetsSystemMetadata) {
  auto r = os_->Create(*K("", "configmaps"), "default", ConfigMap("a"), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& m = (*r)["metadata"];
  EXPECT_EQ(m["uid"].get<std::string>().size(), 36u);
  EXPECT_FALSE(m["resourceVersion"].get<std::string>().empty());
  EXPECT_TRUE(m.contains("creationTimestamp"));
  EXPECT_FALSE(m.contains("generation"));  // ConfigMaps do not track generation
  auto again = os_->Create(*K("", "configmaps"), "default", ConfigMap("a"), {});
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "configmaps \"a\" already exists");
}

TEST_F(ObjectStoreTest, MissingNamespaceIsNotFound) {
  auto r = os_->Create(*K("", "configmaps"), "nope", ConfigMap("a"), {});
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "namespaces \"nope\" not found");
}

TEST_F(ObjectStoreTest, GenerationFollowsSpecOnly) {
  auto dk = K("apps", "deployments");
  auto c = os_->Create(*dk, "default", Deployment("d", "nginx:1"), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)["metadata"]["generation"], 1);
  Json labels_only = *c;
  labels_only["metadata"]["labels"] = {{"x", "y"}};
  auto u1 = os_->Update(*dk, "default", "d", labels_only, {});
  ASSERT_TRUE(u1.ok()) << u1.status().ToString();
  EXPECT_EQ((*u1)["metadata"]["generation"], 1);
  Json spec = *u1;
  spec["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2";
  auto u2 = os_->Update(*dk, "default", "d", spec, {});
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ((*u2)["metadata"]["generation"], 2);
  // Status written through the main resource is ignored.
  Json st = *u2;
  st["status"] = {{"replicas", 7}};
  auto u3 = os_->Update(*dk, "default", "d", st, {});
  ASSERT_TRUE(u3.ok());
  EXPECT_FALSE((*u3).contains("status") && (*u3)["status"].contains("replicas"));
}

TEST_F(ObjectStoreTest, NoOpUpdateKeepsRevisionAndStaleUpdateConflicts) {
  auto ck = K("", "configmaps");
  auto c = os_->Create(*ck, "default", ConfigMap("a"), {});
  ASSERT_TRUE(c.ok());
  auto same = os_->Update(*ck, "default", "a", *c, {});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], (*c)["metadata"]["resourceVersion"]);
  Json changed = *c;
  changed["data"]["k"] = "v2";
  ASSERT_TRUE(os_->Update(*ck, "default", "a", changed, {}).ok());
  changed["data"]["k"] = "v3";  // still carries the old resourceVersion
  auto stale = os_->Update(*ck, "default", "a", changed, {});
  EXPECT_EQ(stale.status().code(), Code::kConflict);
}

TEST_F(ObjectStoreTest, FinalizersHoldDeletion) {
  auto ck = K("", "configmaps");
  Json cm = ConfigMap("f");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(os_->Create(*ck, "default", cm, {}).ok());
  bool removed = true;
  auto d = os_->Delete(*ck, "default", "f", {}, {}, &removed);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(removed);
  EXPECT_TRUE((*d)["metadata"].contains("deletionTimestamp"));
  auto r = os_->Mutate(*ck, "default", "f", [](Json& o) {
    o["metadata"].erase("finalizers");
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(os_->Get(*ck, "default", "f").status().code(), Code::kNotFound);
}

TEST_F(ObjectStoreTest, GracefulPodDeletionSurvivesStatusWritesUntilTheNodeDeletes) {
  auto pk = K("", "pods");
  for (bool finalizer : {false, true}) {
    Json pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}})");
    if (finalizer) pod["metadata"]["finalizers"] = {"example.com/hold"};
    ASSERT_TRUE(os_->Create(*pk, "default", pod, {}).ok());
    auto d = os_->Delete(*pk, "default", "p", {}, {});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ((*d)["metadata"].value("deletionGracePeriodSeconds", -1), 30);
    // The node reports containers stopping: the pod stays, Terminating.
    auto st = os_->Mutate(*pk, "default", "p", [](Json& o) {
      o["status"]["phase"] = "Running";
      o["status"]["message"] = "stopping";
      return Status::Ok();
    }, api::Subresource::kStatus);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    ASSERT_TRUE(os_->Get(*pk, "default", "p").ok()) << "finalizer " << finalizer;
    // The node is done: grace 0 removes it, or leaves it to its finalizer.
    api::DeleteParams now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(os_->Delete(*pk, "default", "p", now, {}).ok());
    if (finalizer) {
      ASSERT_TRUE(os_->Get(*pk, "default", "p").ok());
      auto r = os_->Mutate(*pk, "default", "p", [](Json& o) {
        o["metadata"].erase("finalizers");
        return Status::Ok();
      });
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    EXPECT_EQ(os_->Get(*pk, "default", "p").status().code(), Code::kNotFound) << "finalizer " << finalizer;
  }
}

TEST_F(ObjectStoreTest, ListPagesWithContinueAtOneSnapshot) {
  auto ck = K("", "configmaps");
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(os_->Create(*ck, "default", ConfigMap("c" + std::to_string(i)), {}).ok());
  ListParams p;
  p.ns = "default";
  p.limit = 3;
  std::vector<std::string> names;
  int64_t rev = 0;
  for (int page = 0; page < 5; ++page) {
    auto l = os_->List(*ck, p);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    if (page == 0) {
      rev = l->revision;
      // A write after the first page must not show up in later pages.
      ASSERT_TRUE(os_->Create(*ck, "default", ConfigMap("c99"), {}).ok());
    } else {
      EXPECT_EQ(l->revision, rev);
    }
    for (const auto& i : l->items) names.push_back(i["metadata"]["name"]);
    if (l->continue_token.empty()) break;
    p.continue_token = l->continue_token;
  }
  EXPECT_EQ(names.size(), 7u);
}

TEST_F(ObjectStoreTest, LabelSelectorsFilterListsAndWatches) {
  auto ck = K("", "configmaps");
  ASSERT_TRUE(os_->Create(*ck, "default", ConfigMap("x", {{"tier", "web"}}), {}).ok());
  ASSERT_TRUE(os_->Create(*ck, "default", ConfigMap("y", {{"tier", "db"}}), {}).ok());
  ListParams p;
  p.ns = "default";
  p.label_selector = "tier in (web)";
  auto l = os_->List(*ck, p);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->items.size(), 1u);
  EXPECT_EQ(l->items[0]["metadata"]["name"], "x");

  p.resource_version = std::to_string(l->revision);
  auto w = os_->Watch(*ck, p);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // x stops matching: the watcher sees it as DELETED.
  ASSERT_TRUE(os_->Mutate(*ck, "default", "x", [](Json& o) {
    o["metadata"]["labels"]["tier"] = "db";
    return Status::Ok();
  }).ok());
  auto evs = (*w)->Next(5000);
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->size(), 1u);
  EXPECT_EQ((*evs)[0].type, "DELETED");
}

TEST_F(ObjectStoreTest, SecretsAreEncryptedAtRest) {
  auto sk = K("", "secrets");
  Json s = {{"metadata", {{"name", "s"}}}, {"stringData", {{"password", "hunter2-plaintext"}}}};
  auto r = os_->Create(*sk, "default", s, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto raw = db_->Get(os_->Key(*sk, "default", "s"));
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->value.find("hunter2"), std::string::npos);
  EXPECT_EQ(raw->value.find("aHVudGVyMi"), std::string::npos);  // nor its base64
  EXPECT_EQ(raw->value.rfind("k8s:enc:aesgcm:v1:", 0), 0u);
  auto back = os_->Get(*sk, "default", "s");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->dump().find("stringData"), std::string::npos);
}

TEST_F(ObjectStoreTest, StrictValidationRejectsUnknownFields) {
  WriteOptions strict;
  strict.field_validation = "Strict";
  Json d = Deployment("s", "nginx");
  d["spec"]["foo"] = 1;
  auto r = os_->Create(*K("apps", "deployments"), "default", d, strict);
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  EXPECT_NE(r.status().message().find("unknown field \"spec.foo\""), std::string::npos) << r.status().message();
  EXPECT_TRUE(os_->Create(*K("apps", "deployments"), "default", d, {}).ok());
}

TEST_F(ObjectStoreTest, DryRunWritesNothing) {
  WriteOptions dry;
  dry.dry_run = true;
  auto ck = K("", "configmaps");
  int64_t rev = db_->CurrentRevision();
  ASSERT_TRUE(os_->Create(*ck, "default", ConfigMap("dry"), dry).ok());
  EXPECT_EQ(db_->CurrentRevision(), rev);
  EXPECT_EQ(os_->Get(*ck, "default", "dry").status().code(), Code::kNotFound);
}

TEST_F(ObjectStoreTest, ApplyPatchCreatesThenMerges) {
  auto ck = K("", "configmaps");
  WriteOptions o;
  o.field_manager = "test";
  auto a = os_->Patch(*ck, "default", "ap", PatchType::kApply,
                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: '1'\n", o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->second);
  auto b = os_->Patch(*ck, "default", "ap", PatchType::kApply,
                      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ap"},"data":{"b":"2"}})", o);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->second);
  EXPECT_EQ(b->first["data"]["a"], "1");
  EXPECT_EQ(b->first["data"]["b"], "2");
}

TEST_F(ObjectStoreTest, CustomResourcesAreServedAndValidated) {
  Json crd = Json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object",
        "properties":{"spec":{"type":"object","properties":{"size":{"type":"integer","minimum":1}}}}}}}]}})");
  auto c = os_->Create(*K("apiextensions.k8s.io", "customresourcedefinitions"), "", crd, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto wk = kinds_.Find("example.com", "v1", "widgets");
  ASSERT_TRUE(wk);
  Json good = {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w"}}},
               {"spec", {{"size", 3}, {"extra", true}}}};
  auto g = os_->Create(*wk, "default", good, {});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_FALSE((*g)["spec"].contains("extra"));  // pruned
  Json bad = good;
  bad["metadata"]["name"] = "w2";
  bad["spec"]["size"] = 0;
  auto b = os_->Create(*wk, "default", bad, {});
  ASSERT_EQ(b.status().code(), Code::kInvalid);
  ASSERT_FALSE(b.status().causes().empty());
  EXPECT_EQ(b.status().causes()[0].field, "spec.size");
  // Deleting the CRD stops serving the kind and removes its objects.
  ASSERT_TRUE(os_->Delete(*K("apiextensions.k8s.io", "customresourcedefinitions"), "", "widgets.example.com", {}, {}).ok());
  EXPECT_FALSE(kinds_.Find("example.com", "v1", "widgets"));
}

}  // namespace
}  // namespace berth::api
