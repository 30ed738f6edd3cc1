// Scrape targets from the Kubernetes API, the way Prometheus's kubernetes_sd
// and the Prometheus Operator find them:
//  - pods and services annotated prometheus.io/scrape, /port, /path, /scheme
//    (pools "kubernetes-pods" and "kubernetes-service-endpoints");
//  - ServiceMonitor and PodMonitor objects (monitoring.coreos.com/v1), one
//    pool per endpoint entry ("serviceMonitor/NS/NAME/I", "podMonitor/...");
//  - every Node's kubelet: /metrics/cadvisor (job "kubelet") and
//    /metrics/node (job "node-exporter"), over TLS with the cluster's client
//    certificate.
// Targets carry Prometheus's __meta_kubernetes_* labels, so relabelings
// written for Prometheus work unchanged.
#pragma once

#include <memory>

#include "core/status.h"
#include "monitor/scrape/manager.h"

namespace berth::api {
class ObjectStore;
}
namespace berth::controllers {
class Controller;
}

namespace berth::monitor::rules {
class RuleManager;
}

namespace berth::monitor::kubernetes {

struct DiscoveryOptions {
  int64_t default_interval_ms = 30'000;
  int64_t default_timeout_ms = 10'000;
  // How the server reaches kubelets.
  scrape::TlsConfig kubelet_tls;
  bool scrape_kubelets = true;
};

// Stores the Prometheus Operator's CustomResourceDefinitions (ServiceMonitor,
// PodMonitor, PrometheusRule) unless they exist, so kubectl and manifests
// written for the operator work.
Status EnsureOperatorCrds(api::ObjectStore* os);

// The controller that keeps the scrape manager's discovered pools in step
// with the API objects.
std::unique_ptr<controllers::Controller> NewDiscoveryController(api::ObjectStore* os,
                                                                scrape::Manager* scrapes,
                                                                DiscoveryOptions opts);

// The controller that turns PrometheusRule objects into rule groups (source
// "prometheusrule/NS/NAME"); an invalid one is reported as a Warning event on
// it and leaves its previous groups in place.
std::unique_ptr<controllers::Controller> NewRuleController(api::ObjectStore* os,
                                                           rules::RuleManager* rules);

}  // namespace berth::monitor::kubernetes
