// The scheduler against a real store: fit by cpu and memory, node selector and
// affinity, taints and tolerations, FailedScheduling then success.
#include "controllers/node_fit.h"
#include "fixture.h"

namespace berth::controllers::testing {
namespace {

class SchedulerTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    StartWith(NewScheduler);
  }
  std::string NodeOf(const std::string& pod) {
    Json p = Get("", "pods", "default", pod);
    return p.is_null() ? "" : p["spec"].value("nodeName", "");
  }
  bool WaitBound(const std::string& pod) {
    return WaitFor([&] { return !NodeOf(pod).empty(); });
  }
  // Waits for PodScheduled=False and returns its message.
  std::string WaitUnschedulable(const std::string& pod) {
    std::string msg;
    WaitFor([&] {
      const Json p = Get("", "pods", "default", pod);
      const Json* c = Cond(p, "PodScheduled");
      if (!c || c->value("status", "") != "False") return false;
      msg = c->value("message", "");
      EXPECT_EQ(c->value("reason", ""), "Unschedulable");
      return true;
    });
    return msg;
  }
};

TEST_F(SchedulerTest, PicksTheNodeWhereCpuAndMemoryFit) {
  AddNode("small", "1", "1Gi");
  AddNode("big", "4", "8Gi");
  Create("", "pods", "default", Pod("p", {{"app", "x"}}, "2", "2Gi"));
  ASSERT_TRUE(WaitBound("p"));
  EXPECT_EQ(NodeOf("p"), "big");
  ASSERT_TRUE(WaitFor([&] { return CondStatus(Get("", "pods", "default", "p"), "PodScheduled") == "True"; }));
  auto ev = Events("default", "p", "Scheduled");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["message"], "Successfully assigned default/p to big");
  EXPECT_EQ(ev[0]["type"], "Normal");
}

TEST_F(SchedulerTest, LeastAllocatedSpreadsPods) {
  AddNode("a", "4", "8Gi");
  AddNode("b", "4", "8Gi");
  Create("", "pods", "default", Pod("p1", {{"app", "x"}}, "1", "1Gi"));
  ASSERT_TRUE(WaitBound("p1"));
  Create("", "pods", "default", Pod("p2", {{"app", "x"}}, "1", "1Gi"));
  ASSERT_TRUE(WaitBound("p2"));
  EXPECT_NE(NodeOf("p1"), NodeOf("p2"));
}

TEST_F(SchedulerTest, InsufficientMemoryThenANodeIsAdded) {
  AddNode("n1", "4", "1Gi");
  Create("", "pods", "default", Pod("p", {{"app", "x"}}, "", "2Gi"));
  EXPECT_EQ(WaitUnschedulable("p"), "0/1 nodes are available: 1 Insufficient memory.");
  ASSERT_TRUE(WaitFor([&] { return Events("default", "p", "FailedScheduling").size() == 1; }));
  auto ev = Events("default", "p", "FailedScheduling")[0];
  EXPECT_EQ(ev["type"], "Warning");
  EXPECT_EQ(ev["message"], "0/1 nodes are available: 1 Insufficient memory.");
  EXPECT_EQ(Get("", "pods", "default", "p")["status"]["phase"], "Pending");

  AddNode("n2", "4", "4Gi");
  ASSERT_TRUE(WaitBound("p"));
  EXPECT_EQ(NodeOf("p"), "n2");
  ASSERT_TRUE(WaitFor([&] { return CondStatus(Get("", "pods", "default", "p"), "PodScheduled") == "True"; }));
}

TEST_F(SchedulerTest, CountsPodsAlreadyBound) {
  AddNode("n1", "2", "8Gi");
  Json bound = Pod("running", {{"app", "x"}}, "1500m");
  bound["spec"]["nodeName"] = "n1";  // set by the user: the scheduler skips it
  Create("", "pods", "default", bound);
  Create("", "pods", "default", Pod("p", {{"app", "x"}}, "1"));
  EXPECT_EQ(WaitUnschedulable("p"), "0/1 nodes are available: 1 Insufficient cpu.");
  // Once the running pod finishes, its cpu is free again.
  FinishPod("default", "running", true);
  ASSERT_TRUE(WaitBound("p"));
  EXPECT_EQ(Events("default", "running", "Scheduled").size(), 0u);
}

TEST_F(SchedulerTest, InitContainersAndOverheadCount) {
  Json p = Pod("p", {{"app", "x"}}, "100m", "100Mi");
  p["spec"]["initContainers"] = Json::array(
      {{{"name", "i"}, {"image", "busybox"}, {"resources", {{"requests", {{"cpu", "2"}, {"memory", "64Mi"}}}}}}});
  p["spec"]["overhead"] = {{"cpu", "250m"}};
  Resources r = PodRequests(p["spec"]);
  EXPECT_EQ(r.milli_cpu, 2250);
  EXPECT_EQ(r.memory, 100 * 1024 * 1024);
  EXPECT_EQ(r.pods, 1);
}

TEST_F(SchedulerTest, NodeSelectorAndAffinity) {
  AddNode("hdd", "4", "8Gi", {{"disk", "hdd"}, {"gen", "3"}});
  AddNode("ssd", "4", "8Gi", {{"disk", "ssd"}, {"gen", "5"}});

  Json sel = Pod("sel");
  sel["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  Create("", "pods", "default", sel);
  ASSERT_TRUE(WaitBound("sel"));
  EXPECT_EQ(NodeOf("sel"), "ssd");

  auto affinity = [](Json terms) {
    return Json{{"nodeAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution", {{"nodeSelectorTerms", terms}}}}}};
  };
  Json gt = Pod("gt");
  gt["spec"]["affinity"] = affinity(Json::parse(R"([{"matchExpressions":[{"key":"gen","operator":"Lt","values":["4"]}]}])"));
  Create("", "pods", "default", gt);
  ASSERT_TRUE(WaitBound("gt"));
  EXPECT_EQ(NodeOf("gt"), "hdd");

  Json notin = Pod("notin");
  notin["spec"]["affinity"] = affinity(Json::parse(
      R"([{"matchExpressions":[{"key":"disk","operator":"NotIn","values":["hdd"]},{"key":"gen","operator":"Exists"}]}])"));
  Create("", "pods", "default", notin);
  ASSERT_TRUE(WaitBound("notin"));
  EXPECT_EQ(NodeOf("notin"), "ssd");

  Json field = Pod("field");
  field["spec"]["affinity"] =
      affinity(Json::parse(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["hdd"]}]}])"));
  Create("", "pods", "default", field);
  ASSERT_TRUE(WaitBound("field"));
  EXPECT_EQ(NodeOf("field"), "hdd");

  Json none = Pod("none");
  none["spec"]["affinity"] = affinity(Json::parse(
      R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]},{"matchExpressions":[{"key":"gen","operator":"Gt","values":["7"]}]}])"));
  Create("", "pods", "default", none);
  EXPECT_EQ(WaitUnschedulable("none"), "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.");
}

TEST_F(SchedulerTest, TaintsAndTolerations) {
  AddNode("gpu", "4", "8Gi", Json::object(),
          Json::parse(R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])"));
  Create("", "pods", "default", Pod("plain"));
  EXPECT_EQ(WaitUnschedulable("plain"), "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.");

  Json eq = Pod("equal");
  eq["spec"]["tolerations"] = Json::parse(R"([{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}])");
  Create("", "pods", "default", eq);
  ASSERT_TRUE(WaitBound("equal"));

  Json wrong = Pod("wrong");
  wrong["spec"]["tolerations"] = Json::parse(R"([{"key":"dedicated","operator":"Equal","value":"cpu"}])");
  Create("", "pods", "default", wrong);
  WaitUnschedulable("wrong");

  Json all = Pod("all");
  all["spec"]["tolerations"] = Json::parse(R"([{"operator":"Exists"}])");
  Create("", "pods", "default", all);
  ASSERT_TRUE(WaitBound("all"));
  EXPECT_TRUE(NodeOf("wrong").empty());
}

TEST_F(SchedulerTest, SkipsNotReadyAndCordonedNodes) {
  AddNode("down", "4", "8Gi", Json::object(), nullptr, /*ready=*/false);
  AddNode("cordoned", "4", "8Gi");
  Mutate("", "nodes", "", "cordoned", [](Json& o) { o["spec"]["unschedulable"] = true; });
  Create("", "pods", "default", Pod("p"));
  EXPECT_EQ(WaitUnschedulable("p"),
            "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
            "1 node(s) were unschedulable.");
  Mutate("", "nodes", "", "cordoned", [](Json& o) { o["spec"].erase("unschedulable"); });
  ASSERT_TRUE(WaitBound("p"));
  EXPECT_EQ(NodeOf("p"), "cordoned");
}

TEST_F(SchedulerTest, LeavesOtherSchedulersPodsAlone) {
  AddNode("n1");
  Json other = Pod("other");
  other["spec"]["schedulerName"] = "my-scheduler";
  Create("", "pods", "default", other);
  Create("", "pods", "default", Pod("mine"));
  ASSERT_TRUE(WaitBound("mine"));
  EXPECT_TRUE(NodeOf("other").empty());
  EXPECT_EQ(Cond(Get("", "pods", "default", "other"), "PodScheduled"), nullptr);
}

}  // namespace
}  // namespace berth::controllers::testing
