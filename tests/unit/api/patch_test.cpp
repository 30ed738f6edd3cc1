#include "api/patch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth {
namespace {

Json J(const char* text) { return Json::parse(text); }

Json Smp(const Json& original, const char* patch) {
  auto r = ApplyStrategicMergePatch(original, J(patch), BuiltinPatchSchema());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Json();
}

Code SmpError(const Json& original, const char* patch) {
  auto r = ApplyStrategicMergePatch(original, J(patch), BuiltinPatchSchema());
  return r.status().code();
}

// Names of the items of a list of objects, in order.
std::vector<std::string> Names(const Json& list, const char* key = "name") {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.at(key).dump());
  return out;
}

bool HasDirective(const Json& v) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {
      if (k.starts_with('$') || HasDirective(child)) return true;
    }
  }
  if (v.is_array()) {
    for (const auto& child : v) {
      if (HasDirective(child)) return true;
    }
  }
  return false;
}

Json Deployment() {
  return J(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "old\n"},
                 "finalizers": ["a", "b", "c"]},
    "spec": {
      "replicas": 2,
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
      "template": {
        "metadata": {"labels": {"app": "web", "tier": "fe"}},
        "spec": {
          "containers": [
            {"name": "nginx", "image": "nginx:1.25",
             "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "args": ["-a", "-b"]},
            {"name": "sidecar", "image": "busybox"}],
          "tolerations": [{"key": "k1", "operator": "Exists"}]}}},
    "status": {"conditions": [{"type": "Available", "status": "False"},
                              {"type": "Progressing", "status": "True"}]}})");
}

// ---- strategic merge patch ------------------------------------------------

TEST(StrategicMergePatch, KubectlApplyExampleFromReference) {
  Json out = Smp(Deployment(), R"({
    "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
    "spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
      "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}})");
  const Json& containers = out["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[0]["image"], "nginx:1.26");
  EXPECT_EQ(containers[0]["ports"].size(), 2u) << "untouched fields of the item survive";
  EXPECT_EQ(containers[1]["name"], "sidecar");
  EXPECT_EQ(out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}\n");
  EXPECT_EQ(out["spec"]["replicas"], 2);
  EXPECT_FALSE(HasDirective(out));
}

TEST(StrategicMergePatch, SetElementOrderReordersAndPlacesNewItems) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "log"}, {"name": "nginx"}],
      "containers": [{"name": "log", "image": "fluentbit"}]}}}})");
  EXPECT_EQ(Names(out["spec"]["template"]["spec"]["containers"]),
            (std::vector<std::string>{"\"sidecar\"", "\"log\"", "\"nginx\""}));
  EXPECT_FALSE(HasDirective(out));

  // Without a list next to it the directive only reorders.
  out = Smp(Deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}}})");
  EXPECT_EQ(Names(out["spec"]["template"]["spec"]["containers"]),
            (std::vector<std::string>{"\"sidecar\"", "\"nginx\""}));
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][1]["image"], "nginx:1.25");

  EXPECT_EQ(SmpError(Deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"image": "x"}]}}}})"),
            Code::kBadRequest);
}

TEST(StrategicMergePatch, PatchDeleteRemovesListItemOrKey) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"name": "sidecar", "$patch": "delete"}]}}}})");
  EXPECT_EQ(Names(out["spec"]["template"]["spec"]["containers"]),
            (std::vector<std::string>{"\"nginx\""}));

  out = Smp(Deployment(), R"({"spec": {"strategy": {"$patch": "delete"}}})");
  EXPECT_FALSE(out["spec"].contains("strategy"));

  // An item to delete must name its merge key.
  EXPECT_EQ(SmpError(Deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"$patch": "delete"}]}}}})"),
            Code::kBadRequest);
}

TEST(StrategicMergePatch, PatchReplaceOnMapAndOnList) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"metadata": {
      "labels": {"$patch": "replace", "app": "api", "gone": null}}}}})");
  EXPECT_EQ(out["spec"]["template"]["metadata"]["labels"], J(R"({"app": "api"})"));

  out = Smp(Deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}})");
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"],
            J(R"([{"name": "only", "image": "x"}])"));

  EXPECT_EQ(SmpError(Deployment(), R"({"spec": {"$patch": "explode"}})"), Code::kBadRequest);
}

TEST(StrategicMergePatch, RetainKeysClearsOtherUnionMembers) {
  Json out = Smp(Deployment(), R"({"spec": {"strategy": {
      "$retainKeys": ["type"], "type": "Recreate"}}})");
  EXPECT_EQ(out["spec"]["strategy"], J(R"({"type": "Recreate"})"));

  // A volume switching source, as kubectl sends it.
  Json pod = J(R"({"spec": {"volumes": [{"name": "v", "secret": {"secretName": "s"}}]}})");
  out = Smp(pod, R"({"spec": {"volumes": [{"name": "v",
      "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}})");
  EXPECT_EQ(out["spec"]["volumes"], J(R"([{"name": "v", "configMap": {"name": "cm"}}])"));

  // The patch may not set a key it does not retain.
  EXPECT_EQ(SmpError(Deployment(), R"({"spec": {"strategy": {
      "$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}})"),
            Code::kBadRequest);
}

TEST(StrategicMergePatch, FinalizersMergeAsSetAndDeleteFromPrimitiveList) {
  // What kubectl sends after removing "b" and adding "d".
  Json out = Smp(Deployment(), R"({"metadata": {
      "$deleteFromPrimitiveList/finalizers": ["b"],
      "$setElementOrder/finalizers": ["a", "c", "d"],
      "finalizers": ["d"]}})");
  EXPECT_EQ(out["metadata"]["finalizers"], J(R"(["a", "c", "d"])"));

  // Without an order the patch only adds; duplicates collapse.
  out = Smp(Deployment(), R"({"metadata": {"finalizers": ["c", "e", "e"]}})");
  std::vector<std::string> got = out["metadata"]["finalizers"];
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "e"}));

  EXPECT_EQ(SmpError(Deployment(), R"({"metadata": {"$deleteFromPrimitiveList/finalizers": "b"}})"),
            Code::kBadRequest);
}

TEST(StrategicMergePatch, NullDeletesAndNewValuesAreClean) {
  Json out = Smp(Deployment(), R"({"spec": {"replicas": null,
      "template": {"metadata": {"labels": {"tier": null}}},
      "fresh": {"a": 1, "b": null, "nested": {"$patch": "replace", "c": 2}}}})");
  EXPECT_FALSE(out["spec"].contains("replicas"));
  EXPECT_EQ(out["spec"]["template"]["metadata"]["labels"], J(R"({"app": "web"})"));
  EXPECT_EQ(out["spec"]["fresh"], J(R"({"a": 1, "nested": {"c": 2}})"));
  EXPECT_FALSE(HasDirective(out));
}

TEST(StrategicMergePatch, EnvMergesByNameInsideTemplates) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "nginx", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}}}})");
  const Json& env = out["spec"]["template"]["spec"]["containers"][0]["env"];
  EXPECT_EQ(env, J(R"([{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                       {"name": "C", "value": "4"}])"));

  // The same field three templates deep, in a CronJob.
  Json cron = J(R"({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
      {"name": "job", "env": [{"name": "A", "value": "1"}]}]}}}}}})");
  out = Smp(cron, R"({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
      {"name": "job", "env": [{"name": "Z", "value": "9"}]}]}}}}}})");
  EXPECT_EQ(out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"].size(),
            2u);
}

TEST(StrategicMergePatch, ContainerPortsMergeByContainerPort) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                  {"containerPort": 8080}]}]}}}})");
  const Json& ports = out["spec"]["template"]["spec"]["containers"][0]["ports"];
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0], J(R"({"containerPort": 80, "name": "http", "protocol": "TCP"})"));
  EXPECT_EQ(Names(ports, "containerPort"), (std::vector<std::string>{"80", "8080", "443"}))
      << "patch items keep the patch's order, live-only items their live position";
}

TEST(StrategicMergePatch, ServicePortsMergeByPort) {
  Json svc = J(R"({"kind": "Service", "spec": {"ports": [
      {"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}})");
  Json out = Smp(svc, R"({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})");
  EXPECT_EQ(out["spec"]["ports"], J(R"([{"port": 80, "targetPort": 9090},
                                        {"port": 443, "targetPort": 8443}])"));
}

TEST(StrategicMergePatch, ListsWithoutStrategyAreReplaced) {
  Json out = Smp(Deployment(), R"({"spec": {"template": {"spec": {
      "tolerations": [{"key": "k2", "operator": "Exists"}],
      "containers": [{"name": "nginx", "args": ["-c"]}]}}}})");
  EXPECT_EQ(out["spec"]["template"]["spec"]["tolerations"],
            J(R"([{"key": "k2", "operator": "Exists"}])"));
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][0]["args"], J(R"(["-c"])"));
}

TEST(StrategicMergePatch, ConditionsAndOwnerReferencesMergeByKey) {
  Json out = Smp(Deployment(), R"({
      "metadata": {"ownerReferences": [{"uid": "u1", "name": "x"}]},
      "status": {"conditions": [{"type": "Available", "status": "True"}]}})");
  EXPECT_EQ(out["status"]["conditions"], J(R"([{"type": "Available", "status": "True"},
                                               {"type": "Progressing", "status": "True"}])"));
  out = Smp(out, R"({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}]}})");
  EXPECT_EQ(out["metadata"]["ownerReferences"],
            J(R"([{"uid": "u1", "name": "x", "controller": true}])"));
}

TEST(StrategicMergePatch, RejectsMalformedPatches) {
  EXPECT_EQ(SmpError(Deployment(), R"([1])"), Code::kBadRequest);
  EXPECT_EQ(SmpError(Deployment(), R"({"$foo": 1})"), Code::kBadRequest);
  EXPECT_EQ(SmpError(Deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"image": "no-name"}]}}}})"),
            Code::kBadRequest);
  EXPECT_EQ(SmpError(Deployment(), R"({"metadata": {"finalizers": [{"a": 1}]}})"),
            Code::kBadRequest);
  // Error messages quote the patch; bytes that are not UTF-8 must not throw.
  const Json bad_utf8 = {{"$patch", "\xfb"}};
  EXPECT_EQ(
      ApplyStrategicMergePatch(Json::object(), bad_utf8, BuiltinPatchSchema()).status().code(),
      Code::kBadRequest);
  Json deep = 1;
  for (int i = 0; i < 300; ++i) deep = Json{{"a", deep}};
  EXPECT_EQ(ApplyStrategicMergePatch(Json::object(), deep, BuiltinPatchSchema()).status().code(),
            Code::kBadRequest);
}

TEST(BuiltinPatchSchema, MatchesFieldsInContext) {
  const PatchSchema& s = BuiltinPatchSchema();
  using P = std::vector<std::string>;
  EXPECT_EQ(s.ForPath(P{"spec", "containers"}).merge_key, "name");
  EXPECT_EQ(s.ForPath(P{"spec", "template", "spec", "initContainers"}).merge_key, "name");
  EXPECT_EQ(s.ForPath(P{"spec", "template", "spec", "containers", "volumeMounts"}).merge_key,
            "mountPath");
  EXPECT_EQ(s.ForPath(P{"spec", "ephemeralContainers", "volumeDevices"}).merge_key, "devicePath");
  EXPECT_EQ(s.ForPath(P{"spec", "hostAliases"}).merge_key, "ip");
  EXPECT_EQ(s.ForPath(P{"spec", "template", "spec", "topologySpreadConstraints"}).merge_key,
            "topologyKey");
  EXPECT_EQ(s.ForPath(P{"spec", "template", "metadata", "finalizers"}).type,
            ListStrategy::kMergeSet);
  EXPECT_EQ(s.ForPath(P{"spec", "ports"}).merge_key, "port");
  EXPECT_EQ(s.ForPath(P{"spec", "template", "spec", "containers", "envFrom"}).type,
            ListStrategy::kReplace);
  EXPECT_EQ(s.ForPath(P{"spec", "tolerations"}).type, ListStrategy::kReplace);
  // Kind-specific rules hold at the root only.
  EXPECT_EQ(s.ForPath(P{"spec", "template", "spec", "ports"}).type, ListStrategy::kReplace);
  EXPECT_TRUE(s.RetainKeys(P{"spec", "strategy"}));
  EXPECT_TRUE(s.RetainKeys(P{"spec", "template", "spec", "volumes"}));
  EXPECT_FALSE(s.RetainKeys(P{"spec", "template", "spec", "containers"}));
}

// ---- server-side apply ------------------------------------------------------

TEST(ServerSideApply, MergesByKeyKeepsOtherFieldsAndReadsDollarKeysAsData) {
  auto r = ApplyServerSideApply(Deployment(), J(R"({"spec": {
      "strategy": {"type": "Recreate"},
      "template": {"metadata": {"annotations": {"$x": "y"}},
                   "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})"),
                                BuiltinPatchSchema());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& out = *r;
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"].size(), 2u);
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
  EXPECT_EQ(out["spec"]["template"]["spec"]["containers"][0]["ports"].size(), 2u);
  EXPECT_EQ(out["spec"]["strategy"], J(R"({"type": "Recreate"})")) << "retainKeys union";
  EXPECT_EQ(out["spec"]["template"]["metadata"]["annotations"]["$x"], "y");
  EXPECT_EQ(out["spec"]["replicas"], 2);
}

// ---- JSON patch ---------------------------------------------------------------

TEST(JsonPatch, AppliesEveryOperation) {
  auto r = ApplyJsonPatch(J(R"({"a": {"b": [1, 2]}, "c": "x", "d~/": 0})"), J(R"([
      {"op": "add", "path": "/a/b/-", "value": 3},
      {"op": "add", "path": "/a/b/0", "value": 0},
      {"op": "remove", "path": "/a/b/1"},
      {"op": "replace", "path": "/c", "value": "y"},
      {"op": "copy", "from": "/c", "path": "/e"},
      {"op": "move", "from": "/e", "path": "/a/f"},
      {"op": "test", "path": "/a/f", "value": "y"},
      {"op": "replace", "path": "/d~0~1", "value": 1}])"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, J(R"({"a": {"b": [0, 2, 3], "f": "y"}, "c": "y", "d~/": 1})"));
}

TEST(JsonPatch, RolloutUndoReplacesTemplateAndAnnotations) {
  auto r = ApplyJsonPatch(Deployment(), J(R"([
      {"op": "replace", "path": "/spec/template", "value": {"spec": {"containers": []}}},
      {"op": "replace", "path": "/metadata/annotations", "value": {"k": "v"}}])"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["metadata"]["annotations"], J(R"({"k": "v"})"));
}

TEST(JsonPatch, OperationsThatDoNotApplyAreInvalid) {
  auto failed_test = ApplyJsonPatch(J(R"({"a": 1})"), J(R"([
      {"op": "test", "path": "/a", "value": 2}])"));
  ASSERT_FALSE(failed_test.ok());
  EXPECT_EQ(failed_test.status().code(), Code::kInvalid);
  EXPECT_EQ(failed_test.status().message(),
            "the server rejected our request due to an error in our request");
  ASSERT_EQ(failed_test.status().causes().size(), 1u);
  EXPECT_EQ(failed_test.status().causes()[0].message, "testing value /a failed: test failed");

  for (const char* patch : {R"([{"op": "remove", "path": "/missing"}])",
                            R"([{"op": "replace", "path": "/a/b", "value": 1}])",
                            R"([{"op": "add", "path": "/x/y", "value": 1}])",
                            R"([{"op": "add", "path": "/l/5", "value": 1}])",
                            R"([{"op": "move", "from": "/nope", "path": "/b"}])",
                            R"([{"op": "move", "from": "/l", "path": "/l/0"}])"}) {
    auto r = ApplyJsonPatch(J(R"({"a": 1, "l": [1]})"), J(patch));
    EXPECT_EQ(r.status().code(), Code::kInvalid) << patch;
  }
}

TEST(JsonPatch, MalformedOperationListIsBadRequest) {
  for (const char* patch :
       {R"({"op": "add"})", R"([1])", R"([{"path": "/a"}])",
        R"([{"op": "frobnicate", "path": "/a"}])", R"([{"op": "add", "path": "/a"}])",
        R"([{"op": "copy", "path": "/a"}])", R"([{"op": "add", "path": "a", "value": 1}])",
        R"([{"op": "add", "path": "/a~2", "value": 1}])"}) {
    EXPECT_EQ(ApplyJsonPatch(J(R"({"a": 1})"), J(patch)).status().code(), Code::kBadRequest)
        << patch;
  }
  Json many = Json::array();
  for (int i = 0; i < 10001; ++i) many.push_back(J(R"({"op": "test", "path": ""})"));
  EXPECT_EQ(ApplyJsonPatch(Json::object(), many).status().code(), Code::kRequestTooLarge);
}

// ---- merge patch ----------------------------------------------------------------

TEST(MergePatch, FollowsRfc7386) {
  auto r = ApplyMergePatch(Deployment(), J(R"({"metadata": {"finalizers": ["z"],
      "labels": {"new": "1", "none": null}}, "spec": {"replicas": null, "paused": true}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["finalizers"], J(R"(["z"])")) << "lists replace";
  EXPECT_EQ((*r)["metadata"]["labels"], J(R"({"new": "1"})"));
  EXPECT_FALSE((*r)["spec"].contains("replicas"));
  EXPECT_EQ((*r)["spec"]["paused"], true);
  EXPECT_EQ(ApplyMergePatch(Deployment(), J("[]")).status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace berth
