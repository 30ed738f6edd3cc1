// Built-in kinds: registration, schemas, defaults, validation and tables.
#include "kinds/kinds.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "api/validation.h"
#include "core/time.h"
#include "kinds/cron.h"

namespace berth::kinds {
namespace {

class KindsTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterBuiltins(kinds_, schemas_); }

  api::KindPtr Kind(const std::string& g, const std::string& r) {
    auto k = kinds_.Find(g, "v1", r);
    EXPECT_NE(k, nullptr) << g << "/" << r;
    return k;
  }

  // Defaults then validates, as the REST layer does on create.
  std::vector<Cause> Create(const std::string& g, const std::string& r, Json obj) {
    auto k = Kind(g, r);
    if (k->hooks.defaults) k->hooks.defaults(obj);
    std::vector<Cause> causes;
    api::ValidateObjectMeta(obj, k->namespaced, k->name_rule, causes);
    if (k->hooks.validate) k->hooks.validate(obj, nullptr, causes);
    return causes;
  }

  Json Defaulted(const std::string& g, const std::string& r, Json obj) {
    auto k = Kind(g, r);
    if (k->hooks.defaults) k->hooks.defaults(obj);
    return obj;
  }

  static std::string Fields(const std::vector<Cause>& causes) {
    std::string out;
    for (const auto& c : causes) out += c.field + ": " + c.message + "\n";
    return out;
  }

  static bool HasField(const std::vector<Cause>& causes, const std::string& field) {
    for (const auto& c : causes)
      if (c.field == field) return true;
    return false;
  }

  std::vector<std::string> Cells(const api::KindInfo& k, const Json& obj) {
    std::vector<std::string> out;
    for (const auto& c : k.columns) {
      Json v = c.cell(obj);
      out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
  }

  api::KindRegistry kinds_;
  api::SchemaRegistry schemas_;
};

Json NginxDeployment() {
  return Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
      "replicas": 2,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
          "containers": [{
            "name": "nginx", "image": "nginx:1.27",
            "ports": [{"containerPort": 80, "name": "http"}],
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "500m", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
            "readinessProbe": {"tcpSocket": {"port": 80}},
            "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"},
                             {"name": "cache", "mountPath": "/var/cache/nginx"},
                             {"name": "data", "mountPath": "/data"},
                             {"name": "tls", "mountPath": "/tls", "readOnly": true},
                             {"name": "host", "mountPath": "/host"},
                             {"name": "proj", "mountPath": "/proj"}],
            "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                                "capabilities": {"drop": ["ALL"]}}
          }],
          "volumes": [
            {"name": "conf", "configMap": {"name": "nginx-conf"}},
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "tls", "secret": {"secretName": "tls"}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "proj", "projected": {"sources": [
              {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
              {"configMap": {"name": "x", "items": [{"key": "a", "path": "a"}]}}]}}
          ],
          "securityContext": {"fsGroup": 101, "seccompProfile": {"type": "RuntimeDefault"}},
          "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                                "topologyKey": "kubernetes.io/hostname"}}]}},
          "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                           "effect": "NoSchedule"}],
          "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                         "whenUnsatisfiable": "ScheduleAnyway",
                                         "labelSelector": {"matchLabels": {"app": "web"}}}]
        }
      }
    }
  })");
}

TEST_F(KindsTest, RegistersDiscoveryData) {
  struct Want {
    std::string group, resource, kind, shorts;
    bool namespaced, all;
  };
  std::vector<Want> want = {
      {"", "namespaces", "Namespace", "ns", false, false},
      {"", "pods", "Pod", "po", true, true},
      {"", "services", "Service", "svc", true, true},
      {"", "endpoints", "Endpoints", "ep", true, false},
      {"", "configmaps", "ConfigMap", "cm", true, false},
      {"", "secrets", "Secret", "", true, false},
      {"", "serviceaccounts", "ServiceAccount", "sa", true, false},
      {"", "events", "Event", "ev", true, false},
      {"", "nodes", "Node", "no", false, false},
      {"", "persistentvolumes", "PersistentVolume", "pv", false, false},
      {"", "persistentvolumeclaims", "PersistentVolumeClaim", "pvc", true, false},
      {"apps", "deployments", "Deployment", "deploy", true, true},
      {"apps", "replicasets", "ReplicaSet", "rs", true, true},
      {"apps", "statefulsets", "StatefulSet", "sts", true, true},
      {"apps", "daemonsets", "DaemonSet", "ds", true, true},
      {"batch", "jobs", "Job", "", true, true},
      {"batch", "cronjobs", "CronJob", "cj", true, true},
      {"coordination.k8s.io", "leases", "Lease", "", true, false},
      {"discovery.k8s.io", "endpointslices", "EndpointSlice", "", true, false},
      {"apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", "crd,crds",
       false, false},
      {"registry.berth.dev", "projects", "Project", "proj", false, false},
      {"registry.berth.dev", "robotaccounts", "RobotAccount", "robot", false, false},
      {"registry.berth.dev", "garbagecollections", "GarbageCollection", "gc", false, false},
      {"registry.berth.dev", "artifactcopies", "ArtifactCopy", "acopy", false, false},
      {"registry.berth.dev", "replications", "Replication", "repl", false, false},
  };
  EXPECT_EQ(kinds_.All().size(), want.size());
  for (const auto& w : want) {
    auto k = Kind(w.group, w.resource);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->kind, w.kind);
    EXPECT_EQ(k->list_kind, w.kind + "List");
    std::string shorts;
    for (const auto& s : k->short_names) shorts += (shorts.empty() ? "" : ",") + s;
    EXPECT_EQ(shorts, w.shorts) << w.resource;
    EXPECT_EQ(k->namespaced, w.namespaced) << w.resource;
    bool all = std::find(k->categories.begin(), k->categories.end(), "all") != k->categories.end();
    EXPECT_EQ(all, w.all) << w.resource;
    EXPECT_FALSE(k->columns.empty()) << w.resource;
  }
  EXPECT_TRUE(Kind("apps", "deployments")->scale.has_value());
  EXPECT_TRUE(Kind("apps", "statefulsets")->scale.has_value());
  EXPECT_FALSE(Kind("apps", "daemonsets")->scale.has_value());
  EXPECT_TRUE(Kind("", "secrets")->encrypt_at_rest);
  EXPECT_EQ(Kind("", "services")->name_rule, "dns1035");
  EXPECT_EQ(Kind("", "namespaces")->name_rule, "label");
  EXPECT_FALSE(Kind("", "configmaps")->status_subresource);
  EXPECT_TRUE(Kind("", "pods")->status_subresource);
  EXPECT_TRUE(Kind("batch", "jobs")->track_generation);
  EXPECT_FALSE(Kind("", "pods")->track_generation);
}

// Every $ref in a schema must name a registered schema.
void CollectRefs(const Json& s, std::set<std::string>& refs) {
  if (s.is_object()) {
    for (const auto& [k, v] : s.items()) {
      if (k == "$ref" && v.is_string()) refs.insert(v.get<std::string>());
      CollectRefs(v, refs);
    }
  } else if (s.is_array()) {
    for (const auto& v : s) CollectRefs(v, refs);
  }
}

TEST_F(KindsTest, SchemasResolve) {
  for (const auto& k : kinds_.All()) {
    auto s = schemas_.Get(k->schema_ref);
    ASSERT_NE(s, nullptr) << k->schema_ref;
    ASSERT_TRUE(s->contains("x-kubernetes-group-version-kind")) << k->schema_ref;
    const Json& gvk = (*s)["x-kubernetes-group-version-kind"][0];
    EXPECT_EQ(gvk["group"], k->group);
    EXPECT_EQ(gvk["kind"], k->kind);
    EXPECT_NE(schemas_.Get(k->schema_ref + "List"), nullptr) << k->schema_ref;
  }
  EXPECT_NE(schemas_.Get("io.k8s.api.autoscaling.v1.Scale"), nullptr);
  std::set<std::string> refs;
  for (const auto& name : schemas_.Names()) CollectRefs(*schemas_.Get(name), refs);
  for (const auto& r : refs) {
    const std::string prefix = "#/components/schemas/";
    ASSERT_EQ(r.rfind(prefix, 0), 0u) << r;
    EXPECT_NE(schemas_.Get(r.substr(prefix.size())), nullptr) << r;
  }
  auto pod = schemas_.Get("io.k8s.api.core.v1.PodSpec");
  const Json& containers = (*pod)["properties"]["containers"];
  EXPECT_EQ(containers["x-kubernetes-patch-merge-key"], "name");
  EXPECT_EQ(containers["x-kubernetes-patch-strategy"], "merge");
  EXPECT_EQ((*pod)["required"], Json::array({"containers"}));
  auto q = schemas_.Get("io.k8s.apimachinery.pkg.api.resource.Quantity");
  EXPECT_EQ((*q)["x-kubernetes-int-or-string"], true);
  auto t = schemas_.Get("io.k8s.apimachinery.pkg.apis.meta.v1.Time");
  EXPECT_EQ((*t)["format"], "date-time");
}

TEST_F(KindsTest, NginxDeploymentIsValid) {
  auto causes = Create("apps", "deployments", NginxDeployment());
  EXPECT_TRUE(causes.empty()) << Fields(causes);
}

TEST_F(KindsTest, DeploymentDefaults) {
  Json d = NginxDeployment();
  d["spec"].erase("replicas");
  d = Defaulted("apps", "deployments", d);
  const Json& spec = d["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["strategy"]["type"], "RollingUpdate");
  EXPECT_EQ(spec["strategy"]["rollingUpdate"]["maxSurge"], "25%");
  EXPECT_EQ(spec["strategy"]["rollingUpdate"]["maxUnavailable"], "25%");
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 600);
  const Json& ps = spec["template"]["spec"];
  EXPECT_EQ(ps["restartPolicy"], "Always");
  EXPECT_EQ(ps["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(ps["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(ps["schedulerName"], "default-scheduler");
  EXPECT_FALSE(ps.contains("enableServiceLinks"));  // only Pods get it
  const Json& c = ps["containers"][0];
  EXPECT_EQ(c["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(c["livenessProbe"]["timeoutSeconds"], 1);
  EXPECT_EQ(c["livenessProbe"]["periodSeconds"], 10);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["scheme"], "HTTP");
  EXPECT_EQ(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
  EXPECT_EQ(ps["volumes"][0]["configMap"]["defaultMode"], 420);
  EXPECT_FALSE(c["resources"].contains("claims"));
}

TEST_F(KindsTest, PullPolicyDefaults) {
  auto policy = [&](const std::string& image) {
    Json p = {{"metadata", {{"name", "p"}, {"namespace", "d"}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", image}}}}}}};
    return Defaulted("", "pods", p)["spec"]["containers"][0]["imagePullPolicy"].get<std::string>();
  };
  EXPECT_EQ(policy("nginx"), "Always");
  EXPECT_EQ(policy("nginx:latest"), "Always");
  EXPECT_EQ(policy("nginx:1.27"), "IfNotPresent");
  EXPECT_EQ(policy("localhost:5000/app"), "Always");
  EXPECT_EQ(policy("localhost:5000/app:v1"), "IfNotPresent");
  EXPECT_EQ(policy("nginx@sha256:abc"), "IfNotPresent");
}

TEST_F(KindsTest, PodDefaultsAndStatus) {
  Json p = {
      {"metadata", {{"name", "p"}, {"namespace", "d"}}},
      {"spec",
       {{"containers",
         {{{"name", "c"}, {"image", "busybox"}, {"resources", {{"limits", {{"cpu", "1"}}}}}}}}}}};
  auto k = Kind("", "pods");
  k->hooks.defaults(p);
  EXPECT_EQ(p["spec"]["enableServiceLinks"], true);
  EXPECT_EQ(p["spec"]["serviceAccountName"], "default");
  EXPECT_EQ(p["spec"]["containers"][0]["resources"]["requests"]["cpu"], "1");
  ASSERT_TRUE(k->hooks.prepare_create(p).ok());
  EXPECT_EQ(p["status"]["phase"], "Pending");
  EXPECT_EQ(p["status"]["qosClass"], "Burstable");
}

TEST_F(KindsTest, ServiceDefaults) {
  Json s = {{"metadata", {{"name", "web"}, {"namespace", "d"}}},
            {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}};
  auto k = Kind("", "services");
  k->hooks.defaults(s);
  EXPECT_EQ(s["spec"]["type"], "ClusterIP");
  EXPECT_EQ(s["spec"]["sessionAffinity"], "None");
  EXPECT_EQ(s["spec"]["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(s["spec"]["ports"][0]["targetPort"], 80);
  EXPECT_EQ(s["spec"]["internalTrafficPolicy"], "Cluster");
  s["spec"]["clusterIP"] = "10.43.0.20";  // allocated by kinds/service_alloc in the server
  ASSERT_TRUE(k->hooks.prepare_create(s).ok());
  EXPECT_EQ(s["spec"]["clusterIPs"][0], "10.43.0.20");
  EXPECT_EQ(s["spec"]["ipFamilies"][0], "IPv4");
}

TEST_F(KindsTest, OtherDefaults) {
  Json ns = Defaulted("", "namespaces", {{"metadata", {{"name", "team"}}}});
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(ns["status"]["phase"], "Active");
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
  Json sec =
      Defaulted("", "secrets", {{"metadata", {{"name", "s"}}}, {"stringData", {{"a", "hi"}}}});
  EXPECT_EQ(sec["type"], "Opaque");
  EXPECT_EQ(sec["data"]["a"], "aGk=");
  EXPECT_FALSE(sec.contains("stringData"));
  Json job = Defaulted(
      "batch", "jobs",
      {{"metadata", {{"name", "j"}}}, {"spec", {{"template", {{"spec", Json::object()}}}}}});
  EXPECT_EQ(job["spec"]["completions"], 1);
  EXPECT_EQ(job["spec"]["parallelism"], 1);
  EXPECT_EQ(job["spec"]["backoffLimit"], 6);
  EXPECT_EQ(job["spec"]["completionMode"], "NonIndexed");
  EXPECT_EQ(job["spec"]["suspend"], false);
  Json cj = Defaulted("batch", "cronjobs",
                      {{"metadata", {{"name", "c"}}}, {"spec", {{"schedule", "* * * * *"}}}});
  EXPECT_EQ(cj["spec"]["concurrencyPolicy"], "Allow");
  EXPECT_EQ(cj["spec"]["successfulJobsHistoryLimit"], 3);
  EXPECT_EQ(cj["spec"]["failedJobsHistoryLimit"], 1);
  Json sts =
      Defaulted("apps", "statefulsets", {{"metadata", {{"name", "s"}}}, {"spec", Json::object()}});
  EXPECT_EQ(sts["spec"]["podManagementPolicy"], "OrderedReady");
  EXPECT_EQ(sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"], 0);
  Json ds =
      Defaulted("apps", "daemonsets", {{"metadata", {{"name", "d"}}}, {"spec", Json::object()}});
  EXPECT_EQ(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 1);
  Json crd = Defaulted("apiextensions.k8s.io", "customresourcedefinitions",
                       {{"metadata", {{"name", "widgets.example.com"}}},
                        {"spec", {{"names", {{"kind", "Widget"}, {"plural", "widgets"}}}}}});
  EXPECT_EQ(crd["spec"]["names"]["singular"], "widget");
  EXPECT_EQ(crd["spec"]["names"]["listKind"], "WidgetList");
  EXPECT_EQ(crd["spec"]["conversion"]["strategy"], "None");
}

struct Mistake {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* field;
  const char* message;  // "" = only the field is checked
};

TEST_F(KindsTest, DeploymentMistakes) {
  std::vector<Mistake> cases = {
      {"no selector", [](Json& d) { d["spec"].erase("selector"); }, "spec.selector",
       "Required value"},
      {"selector mismatch", [](Json& d) { d["spec"]["selector"]["matchLabels"]["app"] = "x"; },
       "spec.template.metadata.labels",
       "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template "
       "`labels`"},
      {"no containers",
       [](Json& d) { d["spec"]["template"]["spec"]["containers"] = Json::array(); },
       "spec.template.spec.containers", "Required value"},
      {"no image", [](Json& d) { d["spec"]["template"]["spec"]["containers"][0].erase("image"); },
       "spec.template.spec.containers[0].image", "Required value"},
      {"bad container name",
       [](Json& d) { d["spec"]["template"]["spec"]["containers"][0]["name"] = "Nginx"; },
       "spec.template.spec.containers[0].name", ""},
      {"duplicate container",
       [](Json& d) {
         auto& cs = d["spec"]["template"]["spec"]["containers"];
         cs.push_back(cs[0]);
       },
       "spec.template.spec.containers[1].name", "Duplicate value: \"nginx\""},
      {"bad port",
       [](Json& d) {
         d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000;
       },
       "spec.template.spec.containers[0].ports[0].containerPort",
       "Invalid value: 70000: must be between 1 and 65535, inclusive"},
      {"negative replicas", [](Json& d) { d["spec"]["replicas"] = -1; }, "spec.replicas",
       "Invalid value: -1: must be greater than or equal to 0"},
      {"bad quantity",
       [](Json& d) {
         d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "lots";
       },
       "spec.template.spec.containers[0].resources.limits[cpu]", ""},
      {"requests over limits",
       [](Json& d) {
         d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "1Gi";
       },
       "spec.template.spec.containers[0].resources.requests[memory]",
       "Invalid value: \"1Gi\": must be less than or equal to memory limit of 128Mi"},
      {"missing volume", [](Json& d) { d["spec"]["template"]["spec"]["volumes"].erase(0); },
       "spec.template.spec.containers[0].volumeMounts[0].name", "Not found: \"conf\""},
      {"duplicate volume",
       [](Json& d) {
         auto& vs = d["spec"]["template"]["spec"]["volumes"];
         vs.push_back(vs[0]);
       },
       "spec.template.spec.volumes[6].name", "Duplicate value: \"conf\""},
      {"bad env name",
       [](Json& d) { d["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"] = "A=B"; },
       "spec.template.spec.containers[0].env[0].name", ""},
      {"restart policy", [](Json& d) { d["spec"]["template"]["spec"]["restartPolicy"] = "Never"; },
       "spec.template.spec.restartPolicy",
       "Unsupported value: \"Never\": supported values: \"Always\""},
      {"bad strategy",
       [](Json& d) {
         d["spec"]["strategy"] = {{"type", "Blue"}};
       },
       "spec.strategy.type", ""},
      {"probe without handler",
       [](Json& d) {
         d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {{"periodSeconds", 5}};
       },
       "spec.template.spec.containers[0].livenessProbe",
       "Required value: must specify a handler type"},
      {"bad pull policy",
       [](Json& d) {
         d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes";
       },
       "spec.template.spec.containers[0].imagePullPolicy", ""},
  };
  for (const auto& m : cases) {
    Json d = NginxDeployment();
    m.mutate(d);
    auto causes = Create("apps", "deployments", d);
    bool found = false;
    for (const auto& c : causes)
      if (c.field == m.field && (std::string(m.message).empty() || c.message == m.message))
        found = true;
    EXPECT_TRUE(found) << m.name << "\n" << Fields(causes);
  }
}

TEST_F(KindsTest, DeploymentSelectorImmutable) {
  auto k = Kind("apps", "deployments");
  Json old = NginxDeployment();
  k->hooks.defaults(old);
  Json now = old;
  now["spec"]["selector"]["matchLabels"]["app"] = "web2";
  now["spec"]["template"]["metadata"]["labels"]["app"] = "web2";
  std::vector<Cause> causes;
  k->hooks.validate(now, &old, causes);
  ASSERT_EQ(causes.size(), 1u) << Fields(causes);
  EXPECT_EQ(causes[0].field, "spec.selector");
  EXPECT_EQ(causes[0].message,
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
  Status st = api::InvalidStatus("Deployment", "apps", "web", causes);
  EXPECT_EQ(
      st.message().rfind("Deployment.apps \"web\" is invalid: spec.selector: Invalid value", 0),
      0u);
}

TEST_F(KindsTest, PodUpdateRestrictions) {
  auto k = Kind("", "pods");
  Json old = {{"metadata", {{"name", "p"}, {"namespace", "d"}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx:1"}}}}}}};
  k->hooks.defaults(old);
  Json img = old;
  img["spec"]["containers"][0]["image"] = "nginx:2";
  std::vector<Cause> causes;
  k->hooks.validate(img, &old, causes);
  EXPECT_TRUE(causes.empty()) << Fields(causes);
  Json env = old;
  env["spec"]["containers"][0]["env"] = {{{"name", "A"}, {"value", "1"}}};
  k->hooks.validate(env, &old, causes);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "spec");
  EXPECT_EQ(causes[0].reason, "FieldValueForbidden");
}

TEST_F(KindsTest, ServiceMistakes) {
  auto svc = [](Json ports, std::string type = "ClusterIP") {
    return Json{{"metadata", {{"name", "web"}, {"namespace", "d"}}},
                {"spec", {{"type", type}, {"ports", ports}, {"selector", {{"app", "web"}}}}}};
  };
  EXPECT_TRUE(Create("", "services", svc({{{"port", 80}}})).empty());
  EXPECT_TRUE(HasField(Create("", "services", svc({{{"port", 0}}})), "spec.ports[0].port"));
  EXPECT_TRUE(HasField(Create("", "services", svc({{{"port", 80}}, {{"port", 81}}})),
                       "spec.ports[0].name"));
  EXPECT_TRUE(HasField(
      Create("", "services", svc({{{"port", 80}, {"name", "a"}}, {{"port", 81}, {"name", "a"}}})),
      "spec.ports[1].name"));
  auto bad_type = Create("", "services", svc({{{"port", 80}}}, "Foo"));
  ASSERT_TRUE(HasField(bad_type, "spec.type"));
  EXPECT_EQ(bad_type[0].message,
            "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", "
            "\"LoadBalancer\", \"NodePort\"");
  // DNS-1035 names: a leading digit is refused for services.
  Json digit = svc({{{"port", 80}}});
  digit["metadata"]["name"] = "1web";
  EXPECT_TRUE(HasField(Create("", "services", digit), "metadata.name"));
  // clusterIP is immutable.
  auto k = Kind("", "services");
  Json old = svc({{{"port", 80}}});
  k->hooks.defaults(old);
  old["spec"]["clusterIP"] = "10.43.0.98";
  ASSERT_TRUE(k->hooks.prepare_create(old).ok());
  Json now = old;
  now["spec"]["clusterIP"] = "10.43.0.99";
  now["spec"]["clusterIPs"] = {"10.43.0.99"};
  std::vector<Cause> causes;
  k->hooks.validate(now, &old, causes);
  EXPECT_TRUE(HasField(causes, "spec.clusterIPs[0]")) << Fields(causes);
}

TEST_F(KindsTest, ConfigMapSecretJobCronJobCrd) {
  EXPECT_TRUE(HasField(
      Create("", "configmaps",
             {{"metadata", {{"name", "c"}, {"namespace", "d"}}}, {"data", {{"bad key", "x"}}}}),
      "data"));
  EXPECT_TRUE(HasField(
      Create("", "secrets",
             {{"metadata", {{"name", "s"}, {"namespace", "d"}}}, {"data", {{"k", "not base64!"}}}}),
      "data[k]"));
  EXPECT_TRUE(Create("", "secrets",
                     {{"metadata", {{"name", "s"}, {"namespace", "d"}}}, {"data", {{"k", "aGk="}}}})
                  .empty());

  Json job = {
      {"metadata", {{"name", "pi"}, {"namespace", "d"}}},
      {"spec",
       {{"template", {{"spec", {{"containers", {{{"name", "pi"}, {"image", "perl"}}}}}}}}}}};
  auto causes = Create("batch", "jobs", job);
  ASSERT_TRUE(HasField(causes, "spec.template.spec.restartPolicy")) << Fields(causes);
  job["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  causes = Create("batch", "jobs", job);
  EXPECT_TRUE(causes.empty()) << Fields(causes);
  auto jk = Kind("batch", "jobs");
  job["metadata"]["uid"] = "1234";
  ASSERT_TRUE(jk->hooks.prepare_create(job).ok());
  EXPECT_EQ(job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"], "1234");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["job-name"], "pi");

  Json cj = Json::parse(R"({"metadata": {"name": "c", "namespace": "d"},
    "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
      "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}})");
  causes = Create("batch", "cronjobs", cj);
  EXPECT_TRUE(causes.empty()) << Fields(causes);
  cj["spec"]["schedule"] = "every minute";
  causes = Create("batch", "cronjobs", cj);
  ASSERT_TRUE(HasField(causes, "spec.schedule"));
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]");

  Json crd = Json::parse(R"({"metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "kind": "Widget"},
             "versions": [{"name": "v1", "served": true, "storage": true,
                           "schema": {"openAPIV3Schema": {"type": "object",
                             "x-kubernetes-preserve-unknown-fields": true}}}]}})");
  causes = Create("apiextensions.k8s.io", "customresourcedefinitions", crd);
  EXPECT_TRUE(causes.empty()) << Fields(causes);
  crd["metadata"]["name"] = "widgets";
  crd["spec"]["group"] = "example";
  crd["spec"]["versions"][0]["storage"] = false;
  causes = Create("apiextensions.k8s.io", "customresourcedefinitions", crd);
  EXPECT_TRUE(HasField(causes, "spec.group"));
  EXPECT_TRUE(HasField(causes, "metadata.name"));
  EXPECT_TRUE(HasField(causes, "spec.versions"));
}

TEST_F(KindsTest, Cron) {
  auto every5 = CronSchedule::Parse("*/5 * * * *");
  ASSERT_TRUE(every5.ok());
  int64_t t0 = *ParseRFC3339("2025-01-01T00:01:30Z");
  EXPECT_EQ(every5->Next(t0), *ParseRFC3339("2025-01-01T00:05:00Z"));
  auto weekly = CronSchedule::Parse("0 9 * * MON-FRI");
  ASSERT_TRUE(weekly.ok());
  // 2025-01-04 is a Saturday: next run is Monday 09:00.
  EXPECT_EQ(weekly->Next(*ParseRFC3339("2025-01-04T10:00:00Z")),
            *ParseRFC3339("2025-01-06T09:00:00Z"));
  EXPECT_TRUE(CronSchedule::Parse("@hourly").ok());
  EXPECT_TRUE(CronSchedule::Parse("@every 1h30m").ok());
  EXPECT_FALSE(CronSchedule::Parse("60 * * * *").ok());
  EXPECT_EQ(CronSchedule::Parse("0-60 * * * *").status().message(),
            "end of range (60) above maximum (59): 0-60");
}

TEST_F(KindsTest, PodTable) {
  auto k = Kind("", "pods");
  std::vector<std::string> names;
  for (const auto& c : k->columns) names.push_back(c.name + (c.priority ? "*" : ""));
  EXPECT_EQ(names, (std::vector<std::string>{"Ready", "Status", "Restarts", "Age", "IP*", "Node*",
                                             "Nominated Node*", "Readiness Gates*"}));
  Json pod =
      Json::parse(R"({"metadata": {"name": "web-1", "creationTimestamp": "2020-01-01T00:00:00Z"},
    "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.9"}],
      "containerStatuses": [
        {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})");
  auto cells = Cells(*k, pod);
  EXPECT_EQ(cells[0], "1/2");
  EXPECT_EQ(cells[1], "CrashLoopBackOff");
  EXPECT_EQ(cells[2], "3");
  EXPECT_NE(cells[3].find('y'), std::string::npos) << cells[3];  // years old
  EXPECT_EQ(cells[4], "10.0.0.9");
  EXPECT_EQ(cells[5], "node-1");
  EXPECT_EQ(cells[6], "<none>");
  EXPECT_EQ(cells[7], "<none>");

  Json pending = {{"spec", {{"containers", {{{"name", "a"}}}}}},
                  {"status", {{"phase", "Pending"}}}};
  EXPECT_EQ(Cells(*k, pending)[1], "Pending");
  pending["status"]["containerStatuses"] = {
      {{"name", "a"}, {"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}}};
  EXPECT_EQ(Cells(*k, pending)[1], "ContainerCreating");
  Json done = {{"spec", {{"containers", {{{"name", "a"}}}}}},
               {"status",
                {{"phase", "Succeeded"},
                 {"containerStatuses",
                  {{{"name", "a"},
                    {"state", {{"terminated", {{"reason", "Completed"}, {"exitCode", 0}}}}}}}}}}};
  EXPECT_EQ(Cells(*k, done)[1], "Completed");
  Json deleting = {{"metadata", {{"deletionTimestamp", "2025-01-01T00:00:00Z"}}},
                   {"spec", {{"containers", {{{"name", "a"}}}}}},
                   {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(Cells(*k, deleting)[1], "Terminating");
}

TEST_F(KindsTest, DeploymentAndServiceTables) {
  auto dk = Kind("apps", "deployments");
  Json d = NginxDeployment();
  d["status"] = {{"readyReplicas", 1}, {"updatedReplicas", 2}, {"availableReplicas", 1}};
  auto cells = Cells(*dk, d);
  EXPECT_EQ(cells[0], "1/2");
  EXPECT_EQ(cells[1], "2");
  EXPECT_EQ(cells[2], "1");
  EXPECT_EQ(cells[3], "<unknown>");
  EXPECT_EQ(cells[4], "nginx");
  EXPECT_EQ(cells[5], "nginx:1.27");
  EXPECT_EQ(cells[6], "app=web");

  auto sk = Kind("", "services");
  Json s = {{"spec",
             {{"type", "NodePort"},
              {"clusterIP", "10.96.0.10"},
              {"ports",
               {{{"port", 80}, {"nodePort", 30080}, {"protocol", "TCP"}},
                {{"port", 53}, {"protocol", "UDP"}}}},
              {"selector", {{"app", "web"}, {"tier", "fe"}}}}}};
  cells = Cells(*sk, s);
  EXPECT_EQ(cells[0], "NodePort");
  EXPECT_EQ(cells[1], "10.96.0.10");
  EXPECT_EQ(cells[2], "<none>");
  EXPECT_EQ(cells[3], "80:30080/TCP,53/UDP");
  EXPECT_EQ(cells[5], "app=web,tier=fe");
  s["spec"]["type"] = "LoadBalancer";
  EXPECT_EQ(Cells(*sk, s)[2], "<pending>");

  auto ek = Kind("", "events");
  EXPECT_FALSE(ek->table_name_column);
  Json ev = {{"type", "Normal"},
             {"reason", "Scheduled"},
             {"message", "ok "},
             {"involvedObject", {{"kind", "Pod"}, {"name", "x"}}}};
  cells = Cells(*ek, ev);
  EXPECT_EQ(cells[3], "pod/x");
  EXPECT_EQ(cells[6], "ok");
}

TEST_F(KindsTest, FieldSelectors) {
  auto pods = Kind("", "pods");
  Json p = {{"spec", {{"nodeName", "n1"}}}, {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(pods->hooks.field(p, "spec.nodeName"), "n1");
  EXPECT_EQ(pods->hooks.field(p, "status.phase"), "Running");
  EXPECT_EQ(pods->hooks.field(p, "spec.bogus"), std::nullopt);
  auto ev = Kind("", "events");
  Json e = {{"involvedObject", {{"uid", "u1"}, {"kind", "Pod"}}},
            {"source", {{"component", "kubelet"}}}};
  EXPECT_EQ(ev->hooks.field(e, "involvedObject.uid"), "u1");
  EXPECT_EQ(ev->hooks.field(e, "source"), "kubelet");
  EXPECT_EQ(ev->hooks.field(e, "involvedObject.name"), "");
  EXPECT_EQ(Kind("", "nodes")->hooks.field(Json::object(), "spec.unschedulable"), "false");
  EXPECT_EQ(Kind("", "secrets")->hooks.field(Json{{"type", "Opaque"}}, "type"), "Opaque");
  EXPECT_EQ(
      Kind("batch", "jobs")->hooks.field(Json{{"status", {{"succeeded", 2}}}}, "status.successful"),
      "2");
}

TEST_F(KindsTest, RegistryKindsValidate) {
  auto project = [] {
    return Json::parse(R"({"apiVersion": "registry.berth.dev/v1", "kind": "Project",
      "metadata": {"name": "team-a"},
      "spec": {"public": false, "storageLimit": "10Gi",
               "members": [{"kind": "User", "name": "dev", "role": "developer"},
                           {"kind": "Group", "name": "ops", "role": "maintainer"}]}})");
  };
  EXPECT_TRUE(Create("registry.berth.dev", "projects", project()).empty());
  std::vector<Mistake> cases = {
      {"upper case name", [](Json& p) { p["metadata"]["name"] = "Team"; }, "metadata.name", ""},
      {"separator at the end", [](Json& p) { p["metadata"]["name"] = "team-"; }, "metadata.name", ""},
      {"bad role", [](Json& p) { p["spec"]["members"][0]["role"] = "owner"; }, "spec.members[0].role",
       "Unsupported value: \"owner\": supported values: \"admin\", \"maintainer\", \"developer\", \"guest\""},
      {"bad member kind", [](Json& p) { p["spec"]["members"][1]["kind"] = "Robot"; }, "spec.members[1].kind", ""},
      {"duplicate member", [](Json& p) { p["spec"]["members"][1] = p["spec"]["members"][0]; }, "spec.members[1]", ""},
      {"negative limit", [](Json& p) { p["spec"]["storageLimit"] = "-1Gi"; }, "spec.storageLimit", ""},
  };
  for (const auto& m : cases) {
    Json p = project();
    m.mutate(p);
    auto causes = Create("registry.berth.dev", "projects", p);
    bool found = false;
    for (const auto& c : causes)
      if (c.field == m.field && (std::string(m.message).empty() || c.message == m.message)) found = true;
    EXPECT_TRUE(found) << m.name << "\n" << Fields(causes);
  }
  Json robot = Json::parse(R"({"apiVersion": "registry.berth.dev/v1", "kind": "RobotAccount",
    "metadata": {"name": "ci"}, "spec": {"permissions": [{"project": "team-a", "actions": ["pull", "push"]}]}})");
  EXPECT_TRUE(Create("registry.berth.dev", "robotaccounts", robot).empty());
  robot["spec"]["permissions"][0]["actions"][1] = "admin";
  auto causes = Create("registry.berth.dev", "robotaccounts", robot);
  ASSERT_EQ(causes.size(), 1u) << Fields(causes);
  EXPECT_EQ(causes[0].field, "spec.permissions[0].actions[1]");
  robot["spec"].erase("permissions");
  causes = Create("registry.berth.dev", "robotaccounts", robot);
  ASSERT_EQ(causes.size(), 1u) << Fields(causes);
  EXPECT_EQ(causes[0].field, "spec.permissions");
  Json copy = Json::parse(R"({"apiVersion": "registry.berth.dev/v1", "kind": "ArtifactCopy",
    "metadata": {"name": "promote"}, "spec": {"from": "test/app", "to": "prod/app"}})");
  causes = Create("registry.berth.dev", "artifactcopies", copy);
  ASSERT_EQ(causes.size(), 1u) << Fields(causes);
  EXPECT_EQ(causes[0].field, "spec.from");
}

}  // namespace
}  // namespace berth::kinds
