#include "monitor/monitor.h"

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/log.h"
#include "core/metrics.h"
#include "monitor/alerting/alertmanager.h"
#include "monitor/alerting/config.h"
#include "monitor/http_api.h"
#include "monitor/promql/engine.h"
#include "monitor/remote_write.h"
#include "monitor/rules/manager.h"
#include "monitor/scrape/manager.h"
#include "monitor/tsdb/db.h"

namespace berth::monitor {

namespace {

// Alerts from the rules go to the embedded Alertmanager once there is one.
class ForwardingSink : public AlertSink {
 public:
  void Send(std::vector<Alert> alerts) override {
    AlertSink* t = target.load();
    if (t) t->Send(std::move(alerts));
  }
  std::atomic<AlertSink*> target{nullptr};
};

}  // namespace

struct Monitor::Impl {
  Options opts;
  ForwardingSink alerts;
  std::unique_ptr<alerting::Alertmanager> alertmanager;
  std::unique_ptr<rules::RuleManager> rules;
  std::unique_ptr<tsdb::Db> db;
  std::unique_ptr<promql::Engine> engine;
  std::unique_ptr<scrape::Manager> scrapes;
  std::unique_ptr<HttpApi> api;
};

Monitor::Monitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Monitor::~Monitor() { Stop(); }

Result<std::unique_ptr<Monitor>> Monitor::Open(const Options& opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  tsdb::DbOptions to;
  to.dir = opts.dir;
  to.retention_ms = opts.retention_ms;
  to.retention_bytes = opts.retention_bytes;
  to.head.ooo_window_ms = opts.out_of_order_window_ms;
  auto db = tsdb::Db::Open(to);
  if (!db.ok()) return db.status();
  impl->db = std::move(*db);
  impl->engine = std::make_unique<promql::Engine>();
  scrape::ManagerOptions mo;
  mo.workers = opts.scrape_workers;
  impl->scrapes = std::make_unique<scrape::Manager>(impl->db.get(), mo);
  // Alertmanager: the given configuration, or one that keeps alerts for
  // the API and notifies nobody.
  alerting::AlertmanagerOptions ao;
  ao.external_url = opts.external_url + "/alertmanager";
  if (!opts.dir.empty()) {
    if (Status st = MakeDirs(opts.dir + "/alertmanager"); !st.ok()) return st;
    ao.silences_file = opts.dir + "/alertmanager/silences.json";
  }
  if (!opts.alertmanager_config.empty()) {
    auto am = alerting::Alertmanager::FromFile(opts.alertmanager_config, ao);
    if (!am.ok())
      return Invalid("alertmanager configuration " + opts.alertmanager_config + ": " +
                     am.status().message());
    impl->alertmanager = std::move(*am);
  } else {
    auto cfg = alerting::ParseConfig("route: {receiver: none}\nreceivers: [{name: none}]\n");
    if (!cfg.ok()) return cfg.status();
    impl->alertmanager = std::make_unique<alerting::Alertmanager>(*cfg, ao);
    if (Status st = impl->alertmanager->LoadSilences(); !st.ok()) return st;
  }
  impl->alerts.target = impl->alertmanager.get();
  rules::RuleManagerOptions ro;
  ro.external_url = opts.external_url;
  impl->rules =
      std::make_unique<rules::RuleManager>(impl->db.get(), impl->engine.get(), &impl->alerts, ro);
  rules::RuleManager* rm = impl->rules.get();
  scrape::Manager* sm = impl->scrapes.get();
  ApiProviders p;
  p.targets = [sm] { return sm->TargetsJson(); };
  p.metadata = [sm](const std::string& m, int limit) { return sm->MetadataJson(m, limit); };
  p.rules = [rm] { return rm->RulesJson(); };
  p.alerts = [rm] { return rm->AlertsJson(); };
  Storage* st = impl->db.get();
  p.remote_write = [st](std::string_view body) { return ReceiveRemoteWrite(body, st); };
  impl->api = std::make_unique<HttpApi>(impl->db.get(), impl->engine.get(), std::move(p));

  tsdb::Db* d = impl->db.get();
  metrics::GaugeFunc("prometheus_tsdb_head_series", "Series in the monitoring head block.",
                     [d] { return static_cast<double>(d->NumSeries()); });
  metrics::GaugeFunc("prometheus_tsdb_head_chunks_bytes",
                     "Bytes of compressed chunk data in the head.",
                     [d] { return static_cast<double>(d->HeadChunkBytes()); });
  metrics::GaugeFunc("prometheus_tsdb_blocks_loaded",
                     "Persisted blocks of the monitoring database.",
                     [d] { return static_cast<double>(d->Blocks().size()); });
  metrics::GaugeFunc("prometheus_tsdb_storage_blocks_bytes", "Bytes of the persisted blocks.",
                     [d] { return static_cast<double>(d->BlockBytes()); });
  metrics::GaugeFunc("prometheus_tsdb_wal_storage_size_bytes", "Bytes of the write-ahead log.",
                     [d] { return static_cast<double>(d->WalBytes()); });
  return std::unique_ptr<Monitor>(new Monitor(std::move(impl)));
}

void Monitor::Mount(net::Router& router) {
  impl_->api->Mount(router);
  impl_->alertmanager->Mount(router, "/alertmanager");
}

Status Monitor::Start() {
  scrape::ScrapeConfig self;
  self.job_name = "berth";
  self.interval_ms = impl_->opts.self_scrape_interval_ms;
  self.timeout_ms = std::min<int64_t>(10'000, self.interval_ms);
  BERTH_RETURN_IF_ERROR(impl_->scrapes->SetLocalPool(
      self, Labels({{"__address__", impl_->opts.self_instance}}), []() -> Result<scrape::Fetched> {
        return scrape::Fetched{metrics::Render(), "text/plain; version=0.0.4"};
      }));
  if (!impl_->opts.config_file.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(impl_->opts.config_file);
    } catch (const YAML::Exception& e) {
      return Invalid("monitor configuration " + impl_->opts.config_file + ": " + e.what());
    }
    auto jobs = scrape::ParseScrapeConfigs(root);
    if (!jobs.ok())
      return Invalid("monitor configuration " + impl_->opts.config_file + ": " +
                     jobs.status().message());
    for (const auto& j : *jobs) BERTH_RETURN_IF_ERROR(impl_->scrapes->SetPool(j.config, j.targets));
    // rule_files: paths relative to the configuration file, as in Prometheus.
    if (root["rule_files"]) {
      std::string base = impl_->opts.config_file.substr(0, impl_->opts.config_file.rfind('/') + 1);
      for (const auto& f : root["rule_files"]) {
        std::string path = f.as<std::string>("");
        if (!path.empty() && path[0] != '/') path = base + path;
        auto text = ReadFile(path);
        if (!text.ok()) return Invalid("rule file " + path + ": " + text.status().message());
        auto groups = rules::ParseRuleFile(*text);
        if (!groups.ok()) return Invalid("rule file " + path + ": " + groups.status().message());
        BERTH_RETURN_IF_ERROR(impl_->rules->SetGroups(path, *groups));
      }
    }
  }
  impl_->alertmanager->Start();
  impl_->rules->Start();
  impl_->scrapes->Start();
  return Status::Ok();
}

void Monitor::set_self_instance(const std::string& host_port) {
  impl_->opts.self_instance = host_port;
}

void Monitor::Stop() {
  if (impl_->scrapes) impl_->scrapes->Stop();
  if (impl_->rules) impl_->rules->Stop();
  if (impl_->alertmanager) impl_->alertmanager->Stop();
  if (impl_->db) impl_->db->Close();
}

Storage* Monitor::storage() { return impl_->db.get(); }

scrape::Manager* Monitor::scrapes() { return impl_->scrapes.get(); }

rules::RuleManager* Monitor::rules() { return impl_->rules.get(); }

}  // namespace berth::monitor
