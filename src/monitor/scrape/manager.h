// Scrape pools and loops: every target is fetched on its pool's interval, its
// exposition parsed, labeled (target labels, honor_labels, metric relabeling,
// limits) and appended; `up`, `scrape_duration_seconds`,
// `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling` and
// `scrape_series_added` describe each scrape; a series that disappears, a
// failed scrape and a removed target get staleness markers.
//
// Targets come from outside (static configs, Kubernetes discovery) as label
// sets (`__address__`, `__meta_*`, ...) through SetPool; the pool's
// relabel_configs turn them into targets or drop them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "monitor/labels.h"
#include "monitor/scrape/exposition.h"
#include "monitor/scrape/relabel.h"
#include "monitor/storage.h"

namespace YAML {
class Node;
}

namespace berth::monitor::scrape {

struct TlsConfig {
  std::string ca_file, cert_file, key_file, server_name;
  bool insecure_skip_verify = false;
};

struct ScrapeConfig {
  std::string job_name;
  int64_t interval_ms = 60'000;
  int64_t timeout_ms = 10'000;
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::multimap<std::string, std::string> params;
  TlsConfig tls;
  std::string bearer_token;
  std::vector<RelabelConfig> relabel_configs;
  std::vector<RelabelConfig> metric_relabel_configs;
  int64_t sample_limit = 0;  // 0: no limit
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
};

// Fetches one scrape body in-process (Berth's own metrics) instead of HTTP.
struct Fetched {
  std::string body;
  std::string content_type;
};
using LocalFetch = std::function<Result<Fetched>()>;

// One `scrape_configs` entry of a Prometheus configuration file, with its
// static_configs as discovered targets.
struct StaticJob {
  ScrapeConfig config;
  std::vector<Labels> targets;  // __address__ plus the static labels
};
// Parses the scrape part of a prometheus.yml: global scrape_interval and
// scrape_timeout, scrape_configs (static_configs, relabel_configs,
// metric_relabel_configs, limits, tls_config, authorization / bearer_token,
// params, honor_labels, honor_timestamps). Other sections are ignored here.
Result<std::vector<StaticJob>> ParseScrapeConfigs(const YAML::Node& root);

struct ManagerOptions {
  int workers = 4;
  // Connection limit for bodies: a target sending more fails its scrape.
  size_t max_body_bytes = 64 << 20;
};

class Manager {
 public:
  Manager(Storage* storage, ManagerOptions opts = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void Start();
  void Stop();

  // Installs or replaces a pool. Targets are matched by their final labels:
  // unchanged ones keep their loop (and its staleness tracking); vanished
  // ones are stopped and their series marked stale.
  Status SetPool(const ScrapeConfig& cfg, const std::vector<Labels>& discovered);
  // A pool whose single target is fetched in-process.
  Status SetLocalPool(const ScrapeConfig& cfg, const Labels& target, LocalFetch fetch);
  void RemovePool(const std::string& job);
  std::vector<std::string> Pools() const;

  // The `data` of /api/v1/targets and /api/v1/metadata.
  Json TargetsJson(const std::string& state = "") const;
  Json MetadataJson(const std::string& metric, int limit) const;

  // Scrapes every target of a pool now and waits for the results (tests,
  // and the first scrape after a configuration load).
  void ScrapeNow(const std::string& job);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::monitor::scrape
