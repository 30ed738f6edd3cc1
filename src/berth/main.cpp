// berth: one binary, subcommands.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "berth/image_cmd.h"
#include "berth/server.h"
#include "core/file.h"
#include "core/json.h"
#include "node/agent.h"

namespace {

// Reads server settings from a YAML file; command-line flags given explicitly
// win over the file.
bool LoadConfigFile(const std::string& path, berth::ServerConfig& cfg, std::string* err) {
  auto text = berth::ReadFile(path);
  if (!text.ok()) {
    *err = text.status().message();
    return false;
  }
  auto j = berth::ParseYamlOrJson(*text);
  if (!j.ok() || !j->is_object()) {
    *err = "config file " + path + " is not a YAML mapping";
    return false;
  }
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string& k = it.key();
    if (k == "data-dir" || k == "dataDir") cfg.data_dir = it->get<std::string>();
    else if (k == "bind") cfg.bind = it->get<std::string>();
    else if (k == "port") cfg.port = it->get<int>();
    else if (k == "log-level" || k == "logLevel") cfg.log_level = it->get<std::string>();
    else if (k == "advertise") cfg.advertise = it->get<std::string>();
    else {
      *err = "config file " + path + ": unknown key \"" + k + "\"";
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Berth: a Kubernetes DevOps platform in one binary"};
  app.require_subcommand(1);
  berth::ServerConfig cfg;
  std::string config_file;
  auto* server = app.add_subcommand("server", "Run the control plane and every module");
  server->add_option("--config", config_file, "YAML file with the settings below");
  auto* o_dir = server->add_option("--data-dir", cfg.data_dir, "State directory")->capture_default_str();
  auto* o_port = server->add_option("--port", cfg.port, "HTTPS port")->capture_default_str()->check(CLI::Range(0, 65535));
  auto* o_bind = server->add_option("--bind", cfg.bind, "Address to listen on")->capture_default_str();
  auto* o_log = server->add_option("--log-level", cfg.log_level, "debug, info, warn or error")->capture_default_str();
  auto* o_adv = server->add_option("--advertise", cfg.advertise, "Address clients use (kubeconfig)")->capture_default_str();
  server->add_flag("!--no-agent", cfg.agent, "Do not run the embedded node agent (no pods run here)");
  server->add_option("--node-name", cfg.node_name, "Name of this node (default: the host name)");
  server->add_flag("!--no-pod-network", cfg.pod_network,
                   "Pods get an isolated network namespace; no bridge, service proxy or DNS");
  server->add_option("--pod-network-driver", cfg.pod_network_driver,
                     "How pods join the bridge: builtin (in-process netlink) or cni (the CNI bridge and host-local plugins)")
      ->capture_default_str()
      ->check(CLI::IsMember({"builtin", "cni"}));
  server->add_option("--image-gc-high-threshold", cfg.image_gc_high_percent,
                     "Percent of the image file system in use above which unused images are removed")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  server->add_option("--image-gc-low-threshold", cfg.image_gc_low_percent,
                     "Percent of the image file system image garbage collection frees down to")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  server->add_option("--image-gc-minimum-age", cfg.image_gc_min_age_seconds,
                     "Seconds an image is kept at least, however full the disk")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--insecure-registry", cfg.insecure_registries,
                     "Registry host[:port] to pull from over plain HTTP (repeatable)");
  server->add_option("--monitor-config", cfg.monitor_config,
                     "Prometheus configuration file (scrape_configs) for the monitoring module");
  server->add_option("--monitor-scrape-interval", cfg.monitor_self_scrape_seconds,
                     "Seconds between scrapes of Berth's own metrics and, by default, of discovered targets")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  server->add_option("--monitor-retention-days", cfg.monitor_retention_days,
                     "Days of monitoring data kept")->capture_default_str()->check(CLI::Range(1, 3650));
  server->add_option("--monitor-retention-bytes", cfg.monitor_retention_bytes,
                     "Upper bound on the monitoring database's blocks and WAL (0: none)")->capture_default_str();
  server->add_option("--monitor-out-of-order-seconds", cfg.monitor_out_of_order_seconds,
                     "Accept samples up to this much older than their series' newest (0: refuse them)")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  server->add_option("--alertmanager-config", cfg.alertmanager_config,
                     "Alertmanager configuration file (route, receivers, inhibit_rules)");
  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "berth v0.1.0 (Kubernetes API v1.32)\n"; });
  int image_rc = 0;
  berth::AddImageCommand(app, &image_rc);
  std::string reset_dir = "/var/lib/berth";
  int reset_rc = 0;
  auto* reset = app.add_subcommand("reset", "Remove every container, mount, cgroup and network namespace of this node's pods");
  reset->add_option("--data-dir", reset_dir, "State directory of the server")->capture_default_str();
  reset->callback([&] {
    berth::node::AgentConfig ac;
    ac.data_dir = reset_dir + "/node";
    ac.runtime_root = berth::node::RuntimeRootFor(reset_dir);
    berth::Status s = berth::node::ResetNode(ac);
    if (!s.ok()) {
      std::cerr << "berth reset: " << s.ToString() << "\n";
      reset_rc = 1;
    }
  });
  CLI11_PARSE(app, argc, argv);

  if (server->parsed()) {
    if (!config_file.empty()) {
      berth::ServerConfig from_file;
      std::string err;
      if (!LoadConfigFile(config_file, from_file, &err)) {
        std::cerr << "berth: " << err << "\n";
        return 2;
      }
      if (!o_dir->count()) cfg.data_dir = from_file.data_dir;
      if (!o_port->count()) cfg.port = from_file.port;
      if (!o_bind->count()) cfg.bind = from_file.bind;
      if (!o_log->count()) cfg.log_level = from_file.log_level;
      if (!o_adv->count()) cfg.advertise = from_file.advertise;
    }
    return berth::RunServer(cfg);
  }
  return image_rc ? image_rc : reset_rc;
}
