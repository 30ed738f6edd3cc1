#include "monitor/kubernetes/discovery.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/kind.h"
#include "api/objects.h"
#include "api/selector.h"
#include "controllers/base.h"
#include "core/log.h"
#include "core/time.h"
#include "monitor/promql/parser.h"

namespace berth::monitor::kubernetes {
namespace {

constexpr const char* kGroup = "monitoring.coreos.com";

// Prometheus turns label and annotation names into label-name suffixes by
// replacing every character outside [a-zA-Z0-9_] with '_'.
std::string Sanitize(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
  return out;
}

void AddMap(std::vector<Label>& ls, const std::string& prefix, const Json& m) {
  if (!m.is_object()) return;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!it.value().is_string()) continue;
    std::string n = Sanitize(it.key());
    ls.push_back({prefix + "_" + n, it.value().get<std::string>()});
    ls.push_back({prefix + "present_" + n, "true"});
  }
}

std::string Str(const Json& j, const char* a, const char* b = nullptr, const char* c = nullptr) {
  const Json& v = controllers::Field(j, a, b, c);
  return v.is_string() ? v.get<std::string>() : "";
}

bool PodReady(const Json& pod) {
  for (const auto& c : controllers::Field(pod, "status", "conditions"))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

// The __meta_kubernetes_pod_* labels of one pod.
std::vector<Label> PodMeta(const Json& pod) {
  std::vector<Label> ls;
  ls.push_back({"__meta_kubernetes_namespace", Str(pod, "metadata", "namespace")});
  ls.push_back({"__meta_kubernetes_pod_name", Str(pod, "metadata", "name")});
  ls.push_back({"__meta_kubernetes_pod_uid", Str(pod, "metadata", "uid")});
  ls.push_back({"__meta_kubernetes_pod_ip", Str(pod, "status", "podIP")});
  ls.push_back({"__meta_kubernetes_pod_node_name", Str(pod, "spec", "nodeName")});
  ls.push_back({"__meta_kubernetes_pod_host_ip", Str(pod, "status", "hostIP")});
  ls.push_back({"__meta_kubernetes_pod_phase", Str(pod, "status", "phase")});
  ls.push_back({"__meta_kubernetes_pod_ready", PodReady(pod) ? "true" : "false"});
  for (const auto& o : controllers::Field(pod, "metadata", "ownerReferences"))
    if (o.value("controller", false)) {
      ls.push_back({"__meta_kubernetes_pod_controller_kind", o.value("kind", "")});
      ls.push_back({"__meta_kubernetes_pod_controller_name", o.value("name", "")});
    }
  AddMap(ls, "__meta_kubernetes_pod_label", controllers::Field(pod, "metadata", "labels"));
  AddMap(ls, "__meta_kubernetes_pod_annotation",
         controllers::Field(pod, "metadata", "annotations"));
  return ls;
}

// One target per declared container port, or one per pod without ports
// (the address then has no port), like role: pod.
std::vector<Labels> PodTargets(const Json& pod) {
  std::vector<Labels> out;
  std::string ip = Str(pod, "status", "podIP");
  if (ip.empty() || Str(pod, "status", "phase") != "Running") return out;
  std::vector<Label> base = PodMeta(pod);
  for (const auto& c : controllers::Field(pod, "spec", "containers")) {
    for (const auto& p : c.value("ports", Json::array())) {
      std::vector<Label> ls = base;
      int port = p.value("containerPort", 0);
      ls.push_back({"__address__", ip + ":" + std::to_string(port)});
      ls.push_back({"__meta_kubernetes_pod_container_name", c.value("name", "")});
      ls.push_back({"__meta_kubernetes_pod_container_image", c.value("image", "")});
      ls.push_back({"__meta_kubernetes_pod_container_port_name", p.value("name", "")});
      ls.push_back({"__meta_kubernetes_pod_container_port_number", std::to_string(port)});
      ls.push_back({"__meta_kubernetes_pod_container_port_protocol", p.value("protocol", "TCP")});
      out.emplace_back(std::move(ls));
    }
  }
  if (out.empty()) {
    std::vector<Label> ls = base;
    ls.push_back({"__address__", ip});
    out.emplace_back(std::move(ls));
  }
  return out;
}

struct Objects {
  std::vector<Json> pods, services, endpoints, nodes, service_monitors, pod_monitors;
  std::map<std::string, const Json*> pod_by_key;  // "ns/name"
};

// role: endpoints — one target per address and port of a service's
// Endpoints, with the service's and the backing pod's labels.
std::vector<Labels> EndpointTargets(const Objects& o, const Json& svc, const Json& eps) {
  std::vector<Labels> out;
  std::vector<Label> base;
  base.push_back({"__meta_kubernetes_namespace", Str(svc, "metadata", "namespace")});
  base.push_back({"__meta_kubernetes_service_name", Str(svc, "metadata", "name")});
  base.push_back({"__meta_kubernetes_endpoints_name", Str(eps, "metadata", "name")});
  AddMap(base, "__meta_kubernetes_service_label", controllers::Field(svc, "metadata", "labels"));
  AddMap(base, "__meta_kubernetes_service_annotation",
         controllers::Field(svc, "metadata", "annotations"));
  for (const auto& subset : controllers::Field(eps, "subsets")) {
    for (const char* which : {"addresses", "notReadyAddresses"}) {
      for (const auto& a : subset.value(which, Json::array())) {
        for (const auto& p : subset.value("ports", Json::array())) {
          std::vector<Label> ls = base;
          int port = p.value("port", 0);
          ls.push_back({"__address__", a.value("ip", "") + ":" + std::to_string(port)});
          ls.push_back({"__meta_kubernetes_endpoint_port_name", p.value("name", "")});
          ls.push_back({"__meta_kubernetes_endpoint_port_protocol", p.value("protocol", "TCP")});
          ls.push_back({"__meta_kubernetes_endpoint_ready",
                        std::string(which) == "addresses" ? "true" : "false"});
          ls.push_back(
              {"__meta_kubernetes_endpoint_address_target_kind", Str(a, "targetRef", "kind")});
          ls.push_back(
              {"__meta_kubernetes_endpoint_address_target_name", Str(a, "targetRef", "name")});
          if (Str(a, "targetRef", "kind") == "Pod") {
            auto it = o.pod_by_key.find(Str(svc, "metadata", "namespace") + "/" +
                                        Str(a, "targetRef", "name"));
            if (it != o.pod_by_key.end()) {
              auto pm = PodMeta(*it->second);
              ls.insert(ls.end(), pm.begin(), pm.end());
              // The container declaring the port, for `targetPort` and `container`.
              for (const auto& c : controllers::Field(*it->second, "spec", "containers"))
                for (const auto& cp : c.value("ports", Json::array()))
                  if (cp.value("containerPort", 0) == port) {
                    ls.push_back({"__meta_kubernetes_pod_container_name", c.value("name", "")});
                    ls.push_back(
                        {"__meta_kubernetes_pod_container_port_name", cp.value("name", "")});
                    ls.push_back(
                        {"__meta_kubernetes_pod_container_port_number", std::to_string(port)});
                  }
            }
          }
          out.emplace_back(std::move(ls));
        }
      }
    }
  }
  return out;
}

scrape::RelabelConfig Rule(std::vector<std::string> src, std::string regex, std::string action,
                           std::string target = "", std::string replacement = "$1") {
  scrape::RelabelConfig r;
  r.source_labels = std::move(src);
  r.regex = std::move(regex);
  auto a = scrape::ParseRelabelAction(action);
  r.action = a.ok() ? *a : scrape::RelabelAction::kReplace;
  r.target_label = std::move(target);
  r.replacement = std::move(replacement);
  return r;
}

// The community's standard relabeling for annotated pods and services.
std::vector<scrape::RelabelConfig> AnnotationRelabeling(const std::string& kind) {
  std::string p = "__meta_kubernetes_" + kind + "_annotation_prometheus_io_";
  std::vector<scrape::RelabelConfig> r;
  r.push_back(Rule({p + "scrape"}, "true", "keep"));
  r.push_back(Rule({p + "scheme"}, "(https?)", "replace", "__scheme__"));
  r.push_back(Rule({p + "path"}, "(.+)", "replace", "__metrics_path__"));
  r.push_back(Rule({"__address__", p + "port"}, "([^:]+)(?::\\d+)?;(\\d+)", "replace",
                   "__address__", "$1:$2"));
  r.push_back(Rule({}, "__meta_kubernetes_" + kind + "_label_(.+)", "labelmap", "", "$1"));
  r.push_back(Rule({"__meta_kubernetes_namespace"}, "(.+)", "replace", "namespace"));
  if (kind == "pod") {
    r.push_back(Rule({"__meta_kubernetes_pod_name"}, "(.+)", "replace", "pod"));
  } else {
    r.push_back(Rule({"__meta_kubernetes_service_name"}, "(.+)", "replace", "service"));
    r.push_back(Rule({"__meta_kubernetes_pod_name"}, "(.+)", "replace", "pod"));
  }
  return r;
}

Result<int64_t> DurationOr(const Json& j, const char* key, int64_t def) {
  if (!j.contains(key) || !j[key].is_string()) return def;
  auto d = promql::ParseDuration(j[key].get<std::string>());
  if (!d.ok()) return Invalid(std::string(key) + ": " + d.status().message());
  return *d;
}

// The scrape settings of a ServiceMonitor endpoint or PodMonitor
// podMetricsEndpoint.
Result<scrape::ScrapeConfig> EndpointConfig(const std::string& job, const Json& ep,
                                            const DiscoveryOptions& opts) {
  scrape::ScrapeConfig c;
  c.job_name = job;
  auto iv = DurationOr(ep, "interval", opts.default_interval_ms);
  if (!iv.ok()) return iv.status();
  c.interval_ms = *iv;
  auto to = DurationOr(ep, "scrapeTimeout", std::min(opts.default_timeout_ms, c.interval_ms));
  if (!to.ok()) return to.status();
  c.timeout_ms = std::min(*to, c.interval_ms);
  c.metrics_path = ep.value("path", "/metrics");
  c.scheme = ep.value("scheme", "http");
  c.honor_labels = ep.value("honorLabels", false);
  c.honor_timestamps = ep.value("honorTimestamps", true);
  if (ep.contains("params") && ep["params"].is_object())
    for (auto it = ep["params"].begin(); it != ep["params"].end(); ++it)
      for (const auto& v : it.value())
        if (v.is_string()) c.params.emplace(it.key(), v.get<std::string>());
  if (ep.contains("tlsConfig"))
    c.tls.insecure_skip_verify = ep["tlsConfig"].value("insecureSkipVerify", false);
  for (auto [key, dst] : {std::pair{"relabelings", &c.relabel_configs},
                          std::pair{"metricRelabelings", &c.metric_relabel_configs}}) {
    if (!ep.contains(key)) continue;
    auto r = scrape::ParseRelabelConfigs(ep[key]);
    if (!r.ok()) return Invalid(std::string(key) + ": " + r.status().message());
    *dst = std::move(*r);
  }
  return c;
}

// Which namespaces a monitor looks in: its own by default, `any: true`, or
// `matchNames`.
bool InNamespaces(const Json& monitor, const std::string& ns) {
  const Json& sel = controllers::Field(monitor, "spec", "namespaceSelector");
  if (sel.is_object() && sel.value("any", false)) return true;
  if (sel.is_object() && sel.contains("matchNames")) {
    for (const auto& n : sel["matchNames"])
      if (n.is_string() && n.get<std::string>() == ns) return true;
    return false;
  }
  return Str(monitor, "metadata", "namespace") == ns;
}

class DiscoveryController : public controllers::Controller {
 public:
  DiscoveryController(api::ObjectStore* os, scrape::Manager* scrapes, DiscoveryOptions opts)
      : Controller(os), scrapes_(scrapes), opts_(std::move(opts)) {}
  const char* name() const override { return "monitoring-discovery"; }

  bool Interested(const api::KindInfo& k) const override {
    if (k.group == kGroup) return k.resource == "servicemonitors" || k.resource == "podmonitors";
    return k.group.empty() && (k.resource == "pods" || k.resource == "services" ||
                               k.resource == "endpoints" || k.resource == "nodes");
  }
  void Observe(const api::KindInfo&, const std::string&, const Json&) override {
    queue().Push("all");
  }
  // Every change to a watched kind reconciles already (Observe): the resync
  // is a safety net only, so it runs every 30 s rather than every second
  // (each pass lists every pod, service, endpoint and node).
  void Resync() override {
    int64_t now = MonotonicNanos();
    if (now - last_resync_ < 30'000'000'000LL) return;
    last_resync_ = now;
    queue().Push("all");
  }

  Status Reconcile(const std::string&) override {
    Objects o;
    BERTH_RETURN_IF_ERROR(ListInto("", "pods", &o.pods));
    BERTH_RETURN_IF_ERROR(ListInto("", "services", &o.services));
    BERTH_RETURN_IF_ERROR(ListInto("", "endpoints", &o.endpoints));
    BERTH_RETURN_IF_ERROR(ListInto("", "nodes", &o.nodes));
    (void)ListInto(kGroup, "servicemonitors", &o.service_monitors);  // absent before the CRDs
    (void)ListInto(kGroup, "podmonitors", &o.pod_monitors);
    for (const auto& p : o.pods) o.pod_by_key[controllers::KeyOf(p)] = &p;

    std::map<std::string, std::pair<scrape::ScrapeConfig, std::vector<Labels>>> pools;
    auto pool = [&](const std::string& job, scrape::ScrapeConfig cfg) -> std::vector<Labels>& {
      auto [it, fresh] = pools.try_emplace(job);
      if (fresh) it->second.first = std::move(cfg);
      return it->second.second;
    };
    scrape::ScrapeConfig base;
    base.interval_ms = opts_.default_interval_ms;
    base.timeout_ms = std::min(opts_.default_timeout_ms, base.interval_ms);

    // Annotated pods and services.
    scrape::ScrapeConfig pods_cfg = base;
    pods_cfg.job_name = "kubernetes-pods";
    pods_cfg.relabel_configs = AnnotationRelabeling("pod");
    auto& pod_targets = pool(pods_cfg.job_name, pods_cfg);
    for (const auto& p : o.pods)
      for (auto& t : PodTargets(p)) pod_targets.push_back(std::move(t));

    std::map<std::string, const Json*> eps_by_key;
    for (const auto& e : o.endpoints) eps_by_key[controllers::KeyOf(e)] = &e;
    scrape::ScrapeConfig svc_cfg = base;
    svc_cfg.job_name = "kubernetes-service-endpoints";
    svc_cfg.relabel_configs = AnnotationRelabeling("service");
    auto& svc_targets = pool(svc_cfg.job_name, svc_cfg);
    for (const auto& s : o.services) {
      auto it = eps_by_key.find(controllers::KeyOf(s));
      if (it == eps_by_key.end()) continue;
      for (auto& t : EndpointTargets(o, s, *it->second)) svc_targets.push_back(std::move(t));
    }

    // ServiceMonitors: the endpoints of the services they select.
    for (const auto& sm : o.service_monitors) {
      std::string ns = Str(sm, "metadata", "namespace"), name = Str(sm, "metadata", "name");
      auto sel = LabelSelector::FromJson(controllers::Field(sm, "spec", "selector"));
      if (!sel.ok()) {
        Report(sm, sel.status());
        continue;
      }
      std::string job_label = Str(sm, "spec", "jobLabel");
      const Json& eps = controllers::Field(sm, "spec", "endpoints");
      for (size_t i = 0; eps.is_array() && i < eps.size(); ++i) {
        std::string job = "serviceMonitor/" + ns + "/" + name + "/" + std::to_string(i);
        auto cfg = EndpointConfig(job, eps[i], opts_);
        if (!cfg.ok()) {
          Report(sm, cfg.status());
          continue;
        }
        auto& targets = pool(job, *cfg);
        std::string port = eps[i].value("port", "");
        std::string target_port = eps[i].contains("targetPort") ? eps[i]["targetPort"].dump() : "";
        for (const auto& svc : o.services) {
          std::string sns = Str(svc, "metadata", "namespace");
          if (!InNamespaces(sm, sns) ||
              !sel->Matches(controllers::Field(svc, "metadata", "labels")))
            continue;
          auto it = eps_by_key.find(controllers::KeyOf(svc));
          if (it == eps_by_key.end()) continue;
          for (const auto& t : EndpointTargets(o, svc, *it->second)) {
            if (!port.empty() && t.Get("__meta_kubernetes_endpoint_port_name") != port) continue;
            if (!target_port.empty() &&
                t.Get("__meta_kubernetes_pod_container_port_number") != target_port &&
                "\"" + std::string(t.Get("__meta_kubernetes_pod_container_port_name")) + "\"" !=
                    target_port)
              continue;
            std::string svc_name = Str(svc, "metadata", "name");
            std::string job_value = svc_name;
            if (!job_label.empty()) {
              std::string v = Str(svc, "metadata", "labels", job_label.c_str());
              if (!v.empty()) job_value = v;
            }
            Labels l =
                t.With("job", job_value)
                    .With("namespace", sns)
                    .With("service", svc_name)
                    .With("pod", t.Get("__meta_kubernetes_pod_name"))
                    .With("container", t.Get("__meta_kubernetes_pod_container_name"))
                    .With("endpoint",
                          port.empty() ? t.Get("__meta_kubernetes_endpoint_port_name") : port);
            targets.push_back(std::move(l));
          }
        }
      }
    }

    // PodMonitors: the pods they select, by container port name.
    for (const auto& pm : o.pod_monitors) {
      std::string ns = Str(pm, "metadata", "namespace"), name = Str(pm, "metadata", "name");
      auto sel = LabelSelector::FromJson(controllers::Field(pm, "spec", "selector"));
      if (!sel.ok()) {
        Report(pm, sel.status());
        continue;
      }
      const Json& eps = controllers::Field(pm, "spec", "podMetricsEndpoints");
      for (size_t i = 0; eps.is_array() && i < eps.size(); ++i) {
        std::string job = "podMonitor/" + ns + "/" + name + "/" + std::to_string(i);
        auto cfg = EndpointConfig(job, eps[i], opts_);
        if (!cfg.ok()) {
          Report(pm, cfg.status());
          continue;
        }
        auto& targets = pool(job, *cfg);
        std::string port = eps[i].value("port", "");
        for (const auto& pod : o.pods) {
          std::string pns = Str(pod, "metadata", "namespace");
          if (!InNamespaces(pm, pns) ||
              !sel->Matches(controllers::Field(pod, "metadata", "labels")))
            continue;
          for (const auto& t : PodTargets(pod)) {
            if (!port.empty() && t.Get("__meta_kubernetes_pod_container_port_name") != port)
              continue;
            targets.push_back(t.With("job", ns + "/" + name)
                                  .With("namespace", pns)
                                  .With("pod", t.Get("__meta_kubernetes_pod_name"))
                                  .With("container", t.Get("__meta_kubernetes_pod_container_name"))
                                  .With("endpoint", port));
          }
        }
      }
    }

    // Kubelets: cAdvisor's and node_exporter's series from every node.
    if (opts_.scrape_kubelets) {
      for (auto [job, path] : {std::pair{"kubelet", "/metrics/cadvisor"},
                               std::pair{"node-exporter", "/metrics/node"}}) {
        scrape::ScrapeConfig kc = base;
        kc.job_name = job;
        kc.metrics_path = path;
        kc.scheme = "https";
        kc.tls = opts_.kubelet_tls;
        kc.tls.server_name = "127.0.0.1";
        auto& targets = pool(job, kc);
        for (const auto& n : o.nodes) {
          std::string ip;
          for (const auto& a : controllers::Field(n, "status", "addresses"))
            if (a.value("type", "") == "InternalIP") ip = a.value("address", "");
          const Json& de = controllers::Field(n, "status", "daemonEndpoints", "kubeletEndpoint");
          int64_t port = de.is_object() ? de.value("Port", 0) : 0;
          if (ip.empty() || port <= 0) continue;
          std::vector<Label> ls = {{"__address__", ip + ":" + std::to_string(port)},
                                   {"node", Str(n, "metadata", "name")},
                                   {"instance", Str(n, "metadata", "name")},
                                   {"__meta_kubernetes_node_name", Str(n, "metadata", "name")}};
          AddMap(ls, "__meta_kubernetes_node_label", controllers::Field(n, "metadata", "labels"));
          targets.emplace_back(std::move(ls));
        }
      }
    }

    std::set<std::string> now;
    for (auto& [job, p] : pools) {
      now.insert(job);
      if (Status st = scrapes_->SetPool(p.first, p.second); !st.ok())
        log::Warn("monitoring: cannot set a discovered scrape pool",
                  log::Fields()("job", job)("err", st.ToString()));
    }
    for (const auto& job : installed_)
      if (!now.count(job)) scrapes_->RemovePool(job);
    installed_ = std::move(now);
    return Status::Ok();
  }

 private:
  Status ListInto(const std::string& group, const std::string& resource, std::vector<Json>* out) {
    auto k = os_->kinds()->Find(group, "v1", resource);
    if (!k) return NotFound(resource + " are not served");
    auto l = os_->List(*k, api::ListParams{});
    if (!l.ok()) return l.status();
    *out = std::move(l->items);
    return Status::Ok();
  }

  void Report(const Json& obj, const Status& st) {
    log::Warn("monitoring: an invalid monitor is ignored",
              log::Fields()("object", controllers::KeyOf(obj))("err", st.message()));
  }

  scrape::Manager* scrapes_;
  int64_t last_resync_ = 0;
  DiscoveryOptions opts_;
  std::set<std::string> installed_;  // worker thread only
};

// A CRD whose spec and status keep whatever they hold: Berth reads the
// fields it knows, as the operator does.
Json OperatorCrd(const std::string& kind, const std::string& plural, const std::string& singular,
                 const std::vector<std::string>& short_names) {
  Json open = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + "." + kGroup}}},
          {"spec",
           {{"group", kGroup},
            {"scope", "Namespaced"},
            {"names",
             {{"kind", kind},
              {"plural", plural},
              {"singular", singular},
              {"listKind", kind + "List"},
              {"shortNames", short_names},
              {"categories", {"prometheus-operator"}}}},
            {"versions",
             {{{"name", "v1"},
               {"served", true},
               {"storage", true},
               {"schema",
                {{"openAPIV3Schema",
                  {{"type", "object"},
                   {"properties",
                    {{"apiVersion", {{"type", "string"}}},
                     {"kind", {{"type", "string"}}},
                     {"metadata", {{"type", "object"}}},
                     {"spec", open},
                     {"status", open}}}}}}}}}}}}};
}

}  // namespace

Status EnsureOperatorCrds(api::ObjectStore* os) {
  auto k = os->kinds()->Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!k) return Internal("CustomResourceDefinitions are not served");
  for (const Json& crd :
       {OperatorCrd("ServiceMonitor", "servicemonitors", "servicemonitor", {"smon"}),
        OperatorCrd("PodMonitor", "podmonitors", "podmonitor", {"pmon"}),
        OperatorCrd("PrometheusRule", "prometheusrules", "prometheusrule", {"promrule"})}) {
    auto c = os->Create(*k, "", crd, api::WriteOptions{});
    if (!c.ok() && c.status().code() != Code::kAlreadyExists) return c.status();
  }
  return Status::Ok();
}

std::unique_ptr<controllers::Controller> NewDiscoveryController(api::ObjectStore* os,
                                                                scrape::Manager* scrapes,
                                                                DiscoveryOptions opts) {
  return std::make_unique<DiscoveryController>(os, scrapes, std::move(opts));
}

}  // namespace berth::monitor::kubernetes
