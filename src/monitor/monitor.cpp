#include "monitor/monitor.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/metrics.h"
#include "monitor/http_api.h"
#include "monitor/promql/engine.h"
#include "monitor/remote_write.h"
#include "monitor/scrape/manager.h"
#include "monitor/tsdb/head.h"

namespace berth::monitor {

struct Monitor::Impl {
  Options opts;
  std::unique_ptr<tsdb::Head> head;
  std::unique_ptr<promql::Engine> engine;
  std::unique_ptr<scrape::Manager> scrapes;
  std::unique_ptr<HttpApi> api;
};

Monitor::Monitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Monitor::~Monitor() { Stop(); }

Result<std::unique_ptr<Monitor>> Monitor::Open(const Options& opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  tsdb::Options to;
  to.dir = opts.dir;
  to.retention_ms = opts.retention_ms;
  auto head = tsdb::Head::Open(to);
  if (!head.ok()) return head.status();
  impl->head = std::move(*head);
  impl->engine = std::make_unique<promql::Engine>();
  scrape::ManagerOptions mo;
  mo.workers = opts.scrape_workers;
  impl->scrapes = std::make_unique<scrape::Manager>(impl->head.get(), mo);
  scrape::Manager* sm = impl->scrapes.get();
  ApiProviders p;
  p.targets = [sm] { return sm->TargetsJson(); };
  p.metadata = [sm](const std::string& m, int limit) { return sm->MetadataJson(m, limit); };
  Storage* st = impl->head.get();
  p.remote_write = [st](std::string_view body) { return ReceiveRemoteWrite(body, st); };
  impl->api = std::make_unique<HttpApi>(impl->head.get(), impl->engine.get(), std::move(p));

  tsdb::Head* h = impl->head.get();
  metrics::GaugeFunc("prometheus_tsdb_head_series", "Series in the monitoring head block.",
                     [h] { return static_cast<double>(h->NumSeries()); });
  metrics::GaugeFunc("prometheus_tsdb_head_chunks_bytes",
                     "Bytes of compressed chunk data in the head.",
                     [h] { return static_cast<double>(h->ChunkBytes()); });
  return std::unique_ptr<Monitor>(new Monitor(std::move(impl)));
}

void Monitor::Mount(net::Router& router) { impl_->api->Mount(router); }

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
  }
  impl_->scrapes->Start();
  return Status::Ok();
}

void Monitor::set_self_instance(const std::string& host_port) {
  impl_->opts.self_instance = host_port;
}

void Monitor::Stop() {
  if (impl_->scrapes) impl_->scrapes->Stop();
  if (impl_->head) impl_->head->Close();
}

Storage* Monitor::storage() { return impl_->head.get(); }

scrape::Manager* Monitor::scrapes() { return impl_->scrapes.get(); }

}  // namespace berth::monitor
