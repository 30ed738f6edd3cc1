// The monitoring module as one object: time-series storage (tsdb/), scraping
// (scrape/), PromQL (promql/) and Prometheus's HTTP API, composed the way
// `berth server` runs them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "monitor/storage.h"

namespace berth::net {
class Router;
}

namespace berth::monitor {
namespace scrape {
class Manager;
}
namespace rules {
class RuleManager;
}

struct Options {
  std::string dir;  // DATA/monitor: the TSDB (and its WAL)
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;
  int64_t retention_bytes = 0;  // 0: no bound on blocks + WAL
  // Samples this much older than their series' newest are still accepted
  // (Prometheus's out_of_order_time_window); 0 refuses them.
  int64_t out_of_order_window_ms = 0;
  int64_t self_scrape_interval_ms = 15'000;
  // The `instance` label of Berth's own metrics (host:port).
  std::string self_instance = "localhost";
  // A Prometheus configuration file (scrape_configs); empty for none.
  std::string config_file;
  int scrape_workers = 4;
  // Alertmanager's configuration file (route, receivers, inhibit_rules);
  // empty: alerts are kept and listed but nobody is notified.
  std::string alertmanager_config;
  // Where alerts link back to (generator URLs): https://HOST:PORT.
  std::string external_url;
};

class Monitor {
 public:
  static Result<std::unique_ptr<Monitor>> Open(const Options& opts);
  ~Monitor();

  // /api/v1/query ... (beside the Kubernetes API) and /prometheus/api/v1/...
  void Mount(net::Router& router);
  // Starts scraping (Berth itself, then the configured jobs).
  Status Start();
  // Known once the HTTPS port is bound; call before Start().
  void set_self_instance(const std::string& host_port);
  void Stop();

  Storage* storage();
  // For discovery, which feeds it target pools from the API.
  scrape::Manager* scrapes();
  // For PrometheusRule objects, which become rule groups.
  rules::RuleManager* rules();

  struct Impl;

 private:
  explicit Monitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::monitor
