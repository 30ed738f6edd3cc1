// `berth server`: composes every module into one process on one HTTPS port.
#pragma once

#include <string>
#include <vector>

namespace berth {

struct ServerConfig {
  std::string data_dir = "/var/lib/berth";
  std::string bind = "0.0.0.0";
  int port = 6443;
  std::string log_level = "info";
  // Host name or IP written into the kubeconfig's server URL.
  std::string advertise = "127.0.0.1";
  // The embedded node agent (this machine is node 1).
  bool agent = true;
  std::string node_name;       // default: the host name
  bool pod_network = true;     // berth0 bridge, service proxy, DNS
  std::string pod_network_driver = "builtin";  // "builtin" (netlink) or "cni" (CNI plugins)
  std::vector<std::string> insecure_registries;
  int image_gc_high_percent = 85;  // kubelet's --image-gc-high-threshold
  int image_gc_low_percent = 80;   // and --image-gc-low-threshold
  int image_gc_min_age_seconds = 120;
  std::string monitor_config;           // prometheus.yml with scrape_configs
  int monitor_self_scrape_seconds = 15;
  std::string alertmanager_config;      // alertmanager.yml: routes and receivers
  int monitor_retention_days = 15;
  int64_t monitor_retention_bytes = 0;
  int monitor_out_of_order_seconds = 0;
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunServer(const ServerConfig& cfg);

}  // namespace berth
