// StatefulSet ordering and claims, DaemonSet placement, node lifecycle, and
// ReplicaSet readiness counts, with the test playing the node.
#include "fixture.h"

namespace berth::controllers::testing {
namespace {

Json Template(Json labels = {{"app", "web"}}) {
  return {{"metadata", {{"labels", labels}}},
          {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
}

// ---- StatefulSet ----

class StatefulSetTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    StartWith(NewStatefulSetController);
  }
  Json MakeSet(int replicas, const std::string& policy = "OrderedReady") {
    Json tmpl = Template();
    tmpl["spec"]["containers"][0]["volumeMounts"] = Json::parse(R"([{"name":"data","mountPath":"/data"}])");
    return {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", {{"name", "web"}}},
            {"spec", {{"replicas", replicas}, {"serviceName", "web-svc"}, {"podManagementPolicy", policy},
                      {"selector", {{"matchLabels", {{"app", "web"}}}}}, {"template", tmpl},
                      {"volumeClaimTemplates", Json::parse(R"([{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}])")}}}};
  }
  Json PodObj(const std::string& name) { return Get("", "pods", "default", name); }
  bool Exists(const std::string& name) { return !PodObj(name).is_null(); }
  bool Terminating(const std::string& name) { return PodObj(name)["metadata"].contains("deletionTimestamp"); }
  // The node runs the pod: bound (so deletion is graceful) and ready.
  void Run(const std::string& name) {
    Bind("default", name, "n1");
    RunPod("default", name, "10.1.0." + name.substr(4));
  }
  Json Set() { return Get("apps", "statefulsets", "default", "web"); }
};

TEST_F(StatefulSetTest, OrderedReadyCreatesOneAtATime) {
  Create("apps", "statefulsets", "default", MakeSet(3));
  ASSERT_TRUE(WaitFor([&] { return Exists("web-0"); }));
  // The claim exists before the pod and the pod refers to it.
  EXPECT_FALSE(Get("", "persistentvolumeclaims", "default", "data-web-0").is_null());
  Json p0 = PodObj("web-0");
  EXPECT_EQ(p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "web-0");
  EXPECT_EQ(p0["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "0");
  EXPECT_TRUE(p0["metadata"]["labels"]["controller-revision-hash"].get<std::string>().rfind("web-", 0) == 0);
  EXPECT_EQ(p0["spec"]["hostname"], "web-0");
  EXPECT_EQ(p0["spec"]["subdomain"], "web-svc");
  EXPECT_EQ(p0["spec"]["volumes"], Json::parse(R"([{"name":"data","persistentVolumeClaim":{"claimName":"data-web-0"}}])"));

  // web-1 waits for web-0 to be Running and Ready.
  EXPECT_FALSE(WaitFor([&] { return Exists("web-1"); }, 1));
  RunPod("default", "web-0", "10.1.0.10", /*ready=*/false);
  EXPECT_FALSE(WaitFor([&] { return Exists("web-1"); }, 1));
  Run("web-0");
  ASSERT_TRUE(WaitFor([&] { return Exists("web-1"); }));
  EXPECT_FALSE(Exists("web-2"));
  Run("web-1");
  ASSERT_TRUE(WaitFor([&] { return Exists("web-2"); }));
  Run("web-2");
  ASSERT_TRUE(WaitFor([&] {
    Json st = St(Set());
    return st.value("readyReplicas", 0) == 3 && st.value("replicas", 0) == 3 && st.value("updatedReplicas", 0) == 3 &&
           st.value("currentRevision", "") == st.value("updateRevision", "x") &&
           st.value("observedGeneration", 0) == 1;
  }));
}

TEST_F(StatefulSetTest, ScalesDownFromTheHighestOrdinalAndKeepsClaims) {
  Create("apps", "statefulsets", "default", MakeSet(3));
  for (const char* n : {"web-0", "web-1", "web-2"}) {
    ASSERT_TRUE(WaitFor([&] { return Exists(n); })) << n;
    Run(n);
  }
  Mutate("apps", "statefulsets", "default", "web", [](Json& o) { o["spec"]["replicas"] = 1; });
  ASSERT_TRUE(WaitFor([&] { return Terminating("web-2"); }));
  EXPECT_FALSE(Terminating("web-1"));  // one at a time
  Delete("", "pods", "default", "web-2", 0);  // the node finished stopping it
  ASSERT_TRUE(WaitFor([&] { return Terminating("web-1"); }));
  Delete("", "pods", "default", "web-1", 0);
  ASSERT_TRUE(WaitFor([&] { return St(Set()).value("replicas", 0) == 1; }));
  EXPECT_TRUE(Exists("web-0"));
  for (const char* c : {"data-web-0", "data-web-1", "data-web-2"})
    EXPECT_FALSE(Get("", "persistentvolumeclaims", "default", c).is_null()) << c;
}

TEST_F(StatefulSetTest, ParallelCreatesAllAtOnce) {
  Create("apps", "statefulsets", "default", MakeSet(3, "Parallel"));
  ASSERT_TRUE(WaitFor([&] { return Exists("web-0") && Exists("web-1") && Exists("web-2"); }));
}

TEST_F(StatefulSetTest, RollingUpdateFromTheHighestOrdinal) {
  Create("apps", "statefulsets", "default", MakeSet(2));
  for (const char* n : {"web-0", "web-1"}) {
    ASSERT_TRUE(WaitFor([&] { return Exists(n); })) << n;
    Run(n);
  }
  ASSERT_TRUE(WaitFor([&] { return St(Set()).value("readyReplicas", 0) == 2; }));
  const std::string old_rev = St(Set())["updateRevision"];
  Mutate("apps", "statefulsets", "default", "web",
         [](Json& o) { o["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  ASSERT_TRUE(WaitFor([&] { return Terminating("web-1"); }));
  EXPECT_FALSE(Terminating("web-0"));
  Delete("", "pods", "default", "web-1", 0);
  ASSERT_TRUE(WaitFor([&] { return Exists("web-1") && !Terminating("web-1"); }));
  Json p1 = PodObj("web-1");
  EXPECT_EQ(p1["spec"]["containers"][0]["image"], "nginx:2");
  EXPECT_NE(p1["metadata"]["labels"]["controller-revision-hash"], old_rev);
  Run("web-1");
  ASSERT_TRUE(WaitFor([&] { return Terminating("web-0"); }));
  Delete("", "pods", "default", "web-0", 0);
  ASSERT_TRUE(WaitFor([&] { return Exists("web-0") && !Terminating("web-0"); }));
  Run("web-0");
  ASSERT_TRUE(WaitFor([&] {
    Json st = St(Set());
    return st.value("updatedReplicas", 0) == 2 && st.value("currentRevision", "") == st.value("updateRevision", "") &&
           st.value("currentRevision", "") != old_rev;
  }));
}

// ---- DaemonSet ----

class DaemonSetTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    StartWith(NewDaemonSetController);
  }
  static Json MakeSet(const std::string& name, Json tolerations = nullptr) {
    Json tmpl = Template({{"app", name}});
    if (!tolerations.is_null()) tmpl["spec"]["tolerations"] = tolerations;
    return {{"apiVersion", "apps/v1"}, {"kind", "DaemonSet"}, {"metadata", {{"name", name}}},
            {"spec", {{"selector", {{"matchLabels", {{"app", name}}}}}, {"template", tmpl}}}};
  }
  std::map<std::string, std::string> PodsByNode(const std::string& ds) {
    std::map<std::string, std::string> out;
    for (const auto& p : List("", "pods", "default", "app=" + ds))
      if (!p["metadata"].contains("deletionTimestamp")) out[p["spec"].value("nodeName", "")] = Name(p);
    return out;
  }
  Json DsStatus(const std::string& ds) { return St(Get("apps", "daemonsets", "default", ds)); }
};

TEST_F(DaemonSetTest, OnePodPerEligibleNode) {
  AddNode("n1");
  AddNode("n2", "4", "8Gi", Json::object(), nullptr, /*ready=*/false);  // daemons tolerate not-ready
  AddNode("tainted", "4", "8Gi", Json::object(), Json::parse(R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
  Create("apps", "daemonsets", "default", MakeSet("agent"));
  Create("apps", "daemonsets", "default", MakeSet("everywhere", Json::parse(R"([{"operator":"Exists"}])")));
  ASSERT_TRUE(WaitFor([&] { return PodsByNode("agent").size() == 2 && PodsByNode("everywhere").size() == 3; }));
  EXPECT_EQ(PodsByNode("agent").count("tainted"), 0u);
  Json pod = Get("", "pods", "default", PodsByNode("agent")["n1"]);
  bool has_not_ready = false;
  for (const auto& t : pod["spec"]["tolerations"]) has_not_ready |= t.value("key", "") == "node.kubernetes.io/not-ready";
  EXPECT_TRUE(has_not_ready);
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");

  ASSERT_TRUE(WaitFor([&] {
    Json st = DsStatus("agent");
    return st.value("desiredNumberScheduled", -1) == 2 && st.value("currentNumberScheduled", -1) == 2 &&
           st.value("numberReady", -1) == 0 && st.value("updatedNumberScheduled", -1) == 2;
  }));
  for (const auto& [node, name] : PodsByNode("agent")) RunPod("default", name, "10.1.0.1");
  ASSERT_TRUE(WaitFor([&] {
    Json st = DsStatus("agent");
    return st.value("numberReady", -1) == 2 && st.value("numberAvailable", -1) == 2;
  }));

  // A new node gets a pod; a node that stops matching loses it.
  AddNode("n3");
  ASSERT_TRUE(WaitFor([&] { return PodsByNode("agent").count("n3") == 1; }));
  Mutate("apps", "daemonsets", "default", "agent",
         [](Json& o) { o["spec"]["template"]["spec"]["nodeSelector"] = {{"role", "edge"}}; });
  Mutate("", "nodes", "", "n3", [](Json& o) { o["metadata"]["labels"]["role"] = "edge"; });
  ASSERT_TRUE(WaitFor([&] {
    auto m = PodsByNode("agent");
    return m.size() == 1 && m.count("n3") == 1;
  }));
}

TEST_F(DaemonSetTest, RollingUpdateReplacesPods) {
  // Every pod write, for the failure message.
  auto w = store_.get()->WatchPrefix("/registry/core/pods/", store_.get()->CurrentRevision() + 1);
  ASSERT_TRUE(w.ok());
  std::vector<std::string> history;
  auto history_text = [&] {
    for (;;) {
      auto evs = (*w)->Next(0);
      if (!evs.ok() || evs->empty()) break;
      for (const auto& e : *evs) {
        std::string k = e.kv.key.substr(e.kv.key.rfind('/') + 1);
        bool deleting = e.kv.value.find("deletionTimestamp") != std::string::npos;
        history.push_back(std::string(e.type == store::Event::Type::kDelete ? "DEL " : e.is_create ? "ADD " : "MOD ") +
                          k + (deleting ? "(terminating)" : "") + "@" + std::to_string(e.kv.mod_revision));
      }
    }
    std::string out;
    for (const auto& h : history) out += h + " ";
    return out;
  };
  AddNode("n1");
  AddNode("n2");
  Create("apps", "daemonsets", "default", MakeSet("agent"));
  ASSERT_TRUE(WaitFor([&] { return PodsByNode("agent").size() == 2; }));
  for (const auto& [node, name] : PodsByNode("agent")) RunPod("default", name, "10.1.0.1");
  auto before = PodsByNode("agent");
  Mutate("apps", "daemonsets", "default", "agent",
         [](Json& o) { o["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  // maxUnavailable 1: one node at a time; the node finishes stopping each pod.
  for (int round = 0; round < 2; ++round) {
    std::string victim;
    ASSERT_TRUE(WaitFor([&] {
      for (const auto& p : List("", "pods", "default", "app=agent")) {
        if (p["metadata"].contains("deletionTimestamp")) return victim = Name(p), true;
        // Play the node for pods created since the last pass.
        if (p.value("status", Json::object()).value("phase", "") != "Running") RunPod("default", Name(p), "10.1.0.1");
      }
      return false;
    })) << round << " pods: " << [&] {
      std::string out;
      for (const auto& p : List("", "pods", "default", "app=agent"))
        out += Name(p) + "@" + p["spec"].value("nodeName", "") + " " + p["status"].dump() + " " +
               p["metadata"]["labels"].dump() + "; ";
      for (const auto& e : List("", "events", "default", ""))
        out += " | " + e.value("reason", "") + ": " + e.value("message", "");
      return out + " ds: " + DsStatus("agent").dump() + " writes: " + history_text();
    }();
    Delete("", "pods", "default", victim, 0);
    ASSERT_TRUE(WaitFor([&] { return PodsByNode("agent").size() == 2; }));
    for (const auto& [node, name] : PodsByNode("agent")) RunPod("default", name, "10.1.0.1");
  }
  ASSERT_TRUE(WaitFor([&] { return DsStatus("agent").value("updatedNumberScheduled", 0) == 2; }));
  for (const auto& [node, name] : PodsByNode("agent")) {
    EXPECT_NE(before[node], name);
    EXPECT_EQ(Get("", "pods", "default", name)["spec"]["containers"][0]["image"], "nginx:2");
  }
}

// ---- Node lifecycle ----

class NodeLifecycleTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    std::vector<std::unique_ptr<Controller>> cs;
    cs.push_back(NewNodeLifecycleController(os_.get(), FakeClock()));
    Start(std::move(cs));
  }
  void Renew(const std::string& node) {
    Json lease = Get("coordination.k8s.io", "leases", "kube-node-lease", node);
    std::string t = FormatRFC3339Micro(now_.load() * 1000000);
    if (lease.is_null())
      Create("coordination.k8s.io", "leases", "kube-node-lease",
             {{"metadata", {{"name", node}}}, {"spec", {{"holderIdentity", node}, {"leaseDurationSeconds", 40}, {"renewTime", t}}}});
    else
      Mutate("coordination.k8s.io", "leases", "kube-node-lease", node, [&](Json& o) { o["spec"]["renewTime"] = t; });
  }
  bool Unreachable(const std::string& node) {
    for (const auto& t : Get("", "nodes", "", node)["spec"].value("taints", Json::array()))
      if (t.value("key", "") == "node.kubernetes.io/unreachable" && t.value("effect", "") == "NoSchedule") return true;
    return false;
  }
};

TEST_F(NodeLifecycleTest, StaleLeaseMarksTheNodeUnknown) {
  AddNode("n1");
  AddNode("n2");
  Renew("n1");
  Renew("n2");
  Advance(30);
  Renew("n2");
  Advance(15);  // n1 last renewed 45 s ago, n2 15 s ago
  ASSERT_TRUE(WaitFor([&] { return CondStatus(Get("", "nodes", "", "n1"), "Ready") == "Unknown"; }));
  EXPECT_EQ(Cond(Get("", "nodes", "", "n1"), "Ready")->value("reason", ""), "NodeStatusUnknown");
  ASSERT_TRUE(WaitFor([&] { return Unreachable("n1"); }));
  EXPECT_EQ(CondStatus(Get("", "nodes", "", "n2"), "Ready"), "True");
  EXPECT_FALSE(Unreachable("n2"));

  // The agent comes back: lease renewed and Ready posted again.
  Renew("n1");
  Mutate("", "nodes", "", "n1", [&](Json& o) {
    for (auto& c : o["status"]["conditions"])
      if (c["type"] == "Ready")
        c = {{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"},
             {"lastHeartbeatTime", FormatRFC3339(now_.load())}, {"lastTransitionTime", FormatRFC3339(now_.load())}};
  }, api::Subresource::kStatus);
  ASSERT_TRUE(WaitFor([&] { return !Unreachable("n1"); }));
}

// ---- ReplicaSet readiness (pods now really become Ready) ----

class ReplicaSetReadinessTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    StartWith(NewReplicaSetController);
  }
};

TEST_F(ReplicaSetReadinessTest, ReadyAndAvailableFollowPodConditions) {
  Create("apps", "replicasets", "default",
         {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"metadata", {{"name", "rs"}}},
          {"spec", {{"replicas", 2}, {"minReadySeconds", 30}, {"selector", {{"matchLabels", {{"app", "web"}}}}},
                    {"template", Template()}}}});
  std::vector<std::string> pods;
  ASSERT_TRUE(WaitFor([&] {
    pods.clear();
    for (const auto& p : List("", "pods", "default", "app=web")) pods.push_back(Name(p));
    return pods.size() == 2;
  }));
  RunPod("default", pods[0], "10.1.0.1", true, NowSeconds() - 60);  // ready for a minute
  RunPod("default", pods[1], "10.1.0.2", true);                     // just became ready
  auto rs = [&] { return St(Get("apps", "replicasets", "default", "rs")); };
  ASSERT_TRUE(WaitFor([&] { return rs().value("readyReplicas", 0) == 2 && rs().value("availableReplicas", 0) == 1; }));
  RunPod("default", pods[0], "10.1.0.1", false);
  ASSERT_TRUE(WaitFor([&] { return rs().value("readyReplicas", 0) == 1 && rs().value("availableReplicas", 0) == 0; }));
}

}  // namespace
}  // namespace berth::controllers::testing
