#include "monitor/scrape/manager.h"

#include <pthread.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "monitor/promql/engine.h"
#include "monitor/promql/parser.h"
#include "net/client.h"

namespace berth::monitor::scrape {
namespace {

constexpr const char* kAccept =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339(int64_t ms) {
  if (ms <= 0) return "0001-01-01T00:00:00Z";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Json LabelsJson(const Labels& ls) {
  Json j = Json::object();
  for (const auto& l : ls) j[l.name] = l.value;
  return j;
}

// One per series of every target: kept small (scrape iterations are 32-bit,
// which at one scrape a second lasts a century).
struct CacheEntry {
  Labels labels;            // final labels of the series
  Appender::SeriesRef ref;  // the stored series, once appended to
  uint32_t seen = 0;        // the scrape iteration that last saw it
  uint32_t appended = 0;    // the last committed scrape that stored it (for staleness)
  bool dropped = false;     // metric relabeling dropped it
  bool explicit_ts = false;
};

// Series text → cache entry, looked up by string_view without allocating.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using SeriesCache = std::unordered_map<std::string, CacheEntry, TextHash, std::equal_to<>>;

struct FamilyMeta {
  std::string type, help, unit;
  // Scrape bookkeeping (Loop::meta_scratch): the iteration that last saw
  // the family, and which of type/help/unit (bits 0/1/2) it set.
  uint64_t seen = 0;
  uint8_t set = 0;
};
using MetaMap = std::unordered_map<std::string, FamilyMeta, TextHash, std::equal_to<>>;

constexpr const char* kReportNames[] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                        "scrape_samples_post_metric_relabeling",
                                        "scrape_series_added"};
constexpr size_t kReportSeries = std::size(kReportNames);

}  // namespace

// A target and its scrape state. Only the worker running it touches the
// scrape state; the status fields are read by /api/v1/targets under mu.
struct Loop {
  std::shared_ptr<const ScrapeConfig> cfg;
  Labels labels;      // the target's final labels
  Labels discovered;  // before relabeling
  std::string url;
  std::string host;
  int port = 0;
  std::string request_target;  // path and query
  LocalFetch local;
  std::unique_ptr<net::HttpsClient> client;        // made and replaced under Impl::mu
  std::shared_ptr<const ScrapeConfig> client_cfg;  // the configuration it was made for

  // Scheduling, guarded by Manager::Impl::mu.
  int64_t next_ms = 0;
  bool running = false;
  bool stopped = false;
  uint64_t completed = 0;
  int64_t deadline_ms = 0;

  // Scrape state (worker only).
  SeriesCache cache;
  // The cache entries in the order the last scrape listed its series:
  // targets list them in the same order every time, so the entry at the
  // same position is tried first, a sequential walk instead of a hash
  // lookup per sample. Cleared whenever cache entries are erased.
  std::vector<SeriesCache::value_type*> order;
  // The format of the body the cache keys were read from: they serve as
  // the parser's hints (ExpectSeries) only for bodies in the same one.
  ExpositionFormat order_format = ExpositionFormat::kText;
  uint32_t iter = 0;
  int64_t last_ts = 0;  // time of the last scrape's samples
  // The last committed scrape: its series (CacheEntry::appended) get
  // staleness markers when they disappear. 0: none to mark.
  uint32_t last_ok_iter = 0;
  size_t last_ok_appended = 0;  // how many series that scrape stored
  // Metadata as the scrapes see it, updated in place (no allocation when
  // nothing changed); published to `metadata` after a successful scrape
  // that changed it.
  MetaMap meta_scratch;
  bool meta_changed = false;
  // The report series (up, scrape_*): labels and stored series.
  std::array<Labels, kReportSeries> report_labels;
  std::array<Appender::SeriesRef, kReportSeries> report_refs;

  // Status, guarded by mu.
  mutable std::mutex mu;
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_duration_s = 0;
  int health = 0;  // 0 unknown, 1 up, 2 down
  MetaMap metadata;
};

struct Pool {
  std::shared_ptr<const ScrapeConfig> cfg;
  std::vector<std::shared_ptr<Loop>> loops;
  std::vector<Labels> dropped;  // discovered label sets relabeling dropped
};

static net::ClientOptions ClientOptionsFor(const Loop& l, const ScrapeConfig& cfg,
                                           const ManagerOptions& opts) {
  net::ClientOptions co;
  co.host = l.host;
  co.port = l.port;
  co.plain_http = l.url.rfind("https://", 0) != 0;
  co.ca_file = cfg.tls.ca_file;
  co.cert_file = cfg.tls.cert_file;
  co.key_file = cfg.tls.key_file;
  co.server_name = cfg.tls.server_name;
  co.insecure_skip_verify = cfg.tls.insecure_skip_verify;
  co.bearer_token = cfg.bearer_token;
  co.connect_timeout_ms = static_cast<int>(cfg.timeout_ms);
  co.max_body_bytes = opts.max_body_bytes;
  return co;
}

struct Manager::Impl {
  Storage* storage;
  ManagerOptions opts;
  mutable std::mutex mu;
  std::condition_variable cv;  // workers wait for due loops
  // The scheduler waits for the next due time or deadline, or for a change
  // (a scrape started or ended, pools changed).
  std::condition_variable sched_cv;
  int64_t sched_wake_ms = 0;        // when the waiting scheduler wakes next
  std::condition_variable done_cv;  // ScrapeNow waits for completions
  std::map<std::string, Pool> pools;
  std::vector<std::shared_ptr<Loop>>
      retired;  // removed while running; marked stale by their worker
  bool stopping = false;
  bool started = false;
  std::vector<std::thread> threads;

  Status SetPool(const ScrapeConfig& cfg, const std::vector<Labels>& discovered, LocalFetch local);
  void Worker(int id);
  void Scheduler();
  void RunScrape(Loop& l, std::shared_ptr<const ScrapeConfig> cfg, LocalFetch local);
  // Staleness markers for the series of the last scrape, and with
  // `report` for the up/scrape_* series too (a target that went away).
  void MarkAllStale(Loop& l, int64_t ts, bool report = true);
  Status AppendScrape(Loop& l, const ScrapeConfig& cfg, const Fetched& f, int64_t ts,
                      int64_t* scraped, int64_t* post, int64_t* added);
  void Report(Loop& l, int64_t ts, bool up, double duration, int64_t scraped, int64_t post,
              int64_t added);
};

namespace {

// Prometheus's rules for target labels: defaults, relabel_configs, then the
// address, instance and URL; labels starting with "__" are dropped.
Result<std::optional<std::shared_ptr<Loop>>> MakeLoop(
    const std::shared_ptr<const ScrapeConfig>& cfg, const Labels& disc, Labels* discovered_out) {
  std::vector<Label> ls(disc.begin(), disc.end());
  auto add_default = [&](const std::string& n, const std::string& v) {
    for (const auto& l : ls)
      if (l.name == n) return;
    ls.push_back({n, v});
  };
  add_default("job", cfg->job_name);
  add_default("__scrape_interval__", promql::FormatDuration(cfg->interval_ms));
  add_default("__scrape_timeout__", promql::FormatDuration(cfg->timeout_ms));
  add_default("__metrics_path__", cfg->metrics_path);
  add_default("__scheme__", cfg->scheme);
  for (const auto& [k, v] : cfg->params) add_default("__param_" + k, v);
  Labels withdef(std::move(ls));
  *discovered_out = withdef;
  auto rel = Relabel(withdef, cfg->relabel_configs);
  if (!rel.ok()) return rel.status();
  if (!rel->has_value()) return std::optional<std::shared_ptr<Loop>>();
  Labels t = std::move(**rel);
  std::string addr(t.Get("__address__"));
  if (addr.empty()) return std::optional<std::shared_ptr<Loop>>();
  if (!t.Has("instance")) t = t.With("instance", addr);

  auto loop = std::make_shared<Loop>();
  loop->cfg = cfg;
  loop->discovered = withdef;
  std::string scheme(t.Get("__scheme__"));
  std::string path(t.Get("__metrics_path__"));
  if (path.empty() || path[0] != '/') path = "/" + path;
  std::string query;
  for (const auto& l : t) {
    if (l.name.rfind("__param_", 0) != 0) continue;
    query += query.empty() ? "?" : "&";
    query += net::PercentEncode(l.name.substr(8)) + "=" + net::PercentEncode(l.value);
  }
  loop->request_target = path + query;
  loop->url = scheme + "://" + addr + loop->request_target;
  std::string host = addr;
  int port = scheme == "https" ? 443 : 80;
  if (!addr.empty() && addr[0] == '[') {
    size_t close = addr.find(']');
    host = addr.substr(1, close - 1);
    if (close + 1 < addr.size() && addr[close + 1] == ':')
      port = std::atoi(addr.c_str() + close + 2);
  } else if (size_t colon = addr.rfind(':'); colon != std::string::npos) {
    host = addr.substr(0, colon);
    port = std::atoi(addr.c_str() + colon + 1);
  }
  loop->host = host;
  loop->port = port;
  std::vector<Label> fin;
  for (const auto& l : t)
    if (l.name.rfind("__", 0) != 0) fin.push_back(l);
  loop->labels = Labels(std::move(fin));
  return std::optional<std::shared_ptr<Loop>>(loop);
}

}  // namespace

Manager::Manager(Storage* storage, ManagerOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->storage = storage;
  impl_->opts = opts;
}

Manager::~Manager() { Stop(); }

void Manager::Start() {
  std::lock_guard<std::mutex> g(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->threads.emplace_back([this] { impl_->Scheduler(); });
  for (int i = 0; i < std::max(1, impl_->opts.workers); ++i)
    impl_->threads.emplace_back([this, i] { impl_->Worker(i); });
}

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    if (!impl_->started || impl_->stopping) return;
    impl_->stopping = true;
    for (auto& [_, p] : impl_->pools)
      for (auto& l : p.loops)
        if (l->running && l->client) l->client->Interrupt();
  }
  impl_->cv.notify_all();
  impl_->sched_cv.notify_all();
  impl_->done_cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

Status Manager::SetPool(const ScrapeConfig& cfg, const std::vector<Labels>& discovered) {
  return impl_->SetPool(cfg, discovered, nullptr);
}

Status Manager::Impl::SetPool(const ScrapeConfig& cfg, const std::vector<Labels>& discovered,
                              LocalFetch local) {
  if (cfg.job_name.empty()) return Invalid("job_name must not be empty");
  if (cfg.interval_ms <= 0 || cfg.timeout_ms <= 0)
    return Invalid("scrape interval and timeout must be positive");
  if (cfg.timeout_ms > cfg.interval_ms)
    return Invalid(
        "scrape timeout greater than scrape interval for scrape config with job name \"" +
        cfg.job_name + "\"");
  auto shared = std::make_shared<ScrapeConfig>(cfg);
  for (auto* rcs : {&shared->relabel_configs, &shared->metric_relabel_configs})
    for (auto& rc : *rcs)
      if (!rc.compiled()) BERTH_RETURN_IF_ERROR(rc.Compile());
  Pool fresh;
  fresh.cfg = shared;
  for (const auto& d : discovered) {
    Labels disc;
    auto l = MakeLoop(shared, d, &disc);
    if (!l.ok()) return l.status();
    if (!l->has_value()) {
      fresh.dropped.push_back(disc);
      continue;
    }
    (**l)->local = local;
    fresh.loops.push_back(std::move(**l));
  }
  // Discovery may list one target twice (a pod's ports all relabeled to the
  // annotated port): one loop each.
  {
    std::unordered_set<std::string> seen;
    std::erase_if(fresh.loops, [&](const std::shared_ptr<Loop>& l) {
      return !seen.insert(l->labels.String() + l->url).second;
    });
  }
  std::lock_guard<std::mutex> g(mu);
  Pool& old = pools[cfg.job_name];
  // Keep loops whose target is unchanged (same final labels and URL), with
  // their caches and staleness state; the configuration may have changed.
  std::unordered_map<std::string, std::shared_ptr<Loop>> keep;
  for (auto& l : old.loops) keep[l->labels.String() + l->url] = l;
  int64_t now = NowMs();
  for (auto& l : fresh.loops) {
    auto it = keep.find(l->labels.String() + l->url);
    if (it != keep.end()) {
      it->second->cfg = shared;
      if (local) it->second->local = local;
      l = it->second;
      keep.erase(it);
    } else {
      // Spread the first scrapes over the interval, like Prometheus's offsets.
      l->next_ms =
          now + static_cast<int64_t>(l->labels.Hash() % static_cast<uint64_t>(shared->interval_ms));
    }
  }
  for (auto& [_, l] : keep) {
    l->stopped = true;
    retired.push_back(l);
  }
  old = std::move(fresh);
  cv.notify_all();
  sched_cv.notify_all();
  return Status::Ok();
}

Status Manager::SetLocalPool(const ScrapeConfig& cfg, const Labels& target, LocalFetch fetch) {
  if (!fetch) return Invalid("a local pool needs a fetch function");
  return impl_->SetPool(cfg, {target}, std::move(fetch));
}

void Manager::RemovePool(const std::string& job) {
  std::lock_guard<std::mutex> g(impl_->mu);
  auto it = impl_->pools.find(job);
  if (it == impl_->pools.end()) return;
  for (auto& l : it->second.loops) {
    l->stopped = true;
    impl_->retired.push_back(l);
  }
  impl_->pools.erase(it);
  impl_->cv.notify_all();
  impl_->sched_cv.notify_all();
}

std::vector<std::string> Manager::Pools() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [k, _] : impl_->pools) out.push_back(k);
  return out;
}

void Manager::ScrapeNow(const std::string& job) {
  std::unique_lock<std::mutex> g(impl_->mu);
  auto it = impl_->pools.find(job);
  if (it == impl_->pools.end()) return;
  std::vector<std::pair<std::shared_ptr<Loop>, uint64_t>> want;
  for (auto& l : it->second.loops) {
    // One full scrape that starts after this call.
    want.push_back({l, l->completed + (l->running ? 2 : 1)});
    l->next_ms = 0;
  }
  impl_->cv.notify_all();
  impl_->sched_cv.notify_all();
  impl_->done_cv.wait(g, [&] {
    if (impl_->stopping) return true;
    for (auto& [l, n] : want)
      if (!l->stopped && l->completed < n) return false;
    return true;
  });
}

void Manager::Impl::Scheduler() {
  pthread_setname_np(pthread_self(), "berth-scrape");
  std::unique_lock<std::mutex> g(mu);
  while (!stopping) {
    int64_t now = NowMs();
    size_t due = retired.size();
    int64_t wake = now + 1000;  // at least once a second, whatever happens
    for (auto& [_, p] : pools) {
      for (auto& l : p.loops) {
        if (!l->running) {
          if (l->next_ms <= now) {
            ++due;
          } else {
            wake = std::min(wake, l->next_ms);
          }
        } else if (l->deadline_ms > 0) {
          // A scrape past its timeout: cut its connection; the worker then
          // records the failure.
          if (now > l->deadline_ms) {
            if (l->client) l->client->Interrupt();
          } else {
            wake = std::min(wake, l->deadline_ms + 1);
          }
        }
      }
    }
    // One worker per due loop, not all of them for every one.
    if (due >= threads.size()) {
      cv.notify_all();
    } else {
      for (size_t i = 0; i < due; ++i) cv.notify_one();
    }
    sched_wake_ms = wake;
    sched_cv.wait_for(g, std::chrono::milliseconds(std::max<int64_t>(1, wake - now)));
  }
}

void Manager::Impl::Worker(int id) {
  std::string name = "berth-scrape-" + std::to_string(id);
  pthread_setname_np(pthread_self(), name.c_str());
  std::unique_lock<std::mutex> g(mu);
  while (!stopping) {
    std::shared_ptr<Loop> pick;
    bool retire = false;
    if (!retired.empty()) {
      for (auto it = retired.begin(); it != retired.end(); ++it) {
        if ((*it)->running) continue;
        pick = *it;
        retired.erase(it);
        retire = true;
        break;
      }
    }
    if (!pick) {
      int64_t now = NowMs();
      int64_t best = INT64_MAX;
      for (auto& [_, p] : pools)
        for (auto& l : p.loops)
          if (!l->running && l->next_ms <= now && l->next_ms < best) {
            best = l->next_ms;
            pick = l;
          }
    }
    if (!pick) {
      // The scheduler wakes a worker when a loop falls due; the timeout is
      // a safety net only.
      cv.wait_for(g, std::chrono::milliseconds(1000));
      continue;
    }
    pick->running = true;
    if (!retire) {
      pick->deadline_ms = NowMs() + pick->cfg->timeout_ms;
      // To cut the scrape at its deadline, if the scheduler would wake later.
      if (pick->deadline_ms < sched_wake_ms) sched_cv.notify_one();
    }
    // The configuration may be replaced while the scrape runs: it works on
    // the snapshot taken here.
    std::shared_ptr<const ScrapeConfig> cfg = pick->cfg;
    LocalFetch local = pick->local;
    // The client is made (or remade for a new configuration) under the lock
    // because the scheduler may Interrupt() it.
    if (!local && (!pick->client || pick->client_cfg != cfg)) {
      pick->client = std::make_unique<net::HttpsClient>(ClientOptionsFor(*pick, *cfg, opts));
      pick->client_cfg = cfg;
    }
    g.unlock();
    if (retire) {
      MarkAllStale(*pick, NowMs());
    } else {
      RunScrape(*pick, std::move(cfg), std::move(local));
    }
    g.lock();
    pick->running = false;
    pick->deadline_ms = 0;
    if (!retire) {
      pick->completed++;
      int64_t iv = pick->cfg->interval_ms;
      int64_t now = NowMs();
      // Keep the loop's phase: the next multiple of the interval after now.
      if (pick->next_ms <= 0) pick->next_ms = now;
      int64_t next = pick->next_ms + iv;
      if (next <= now) next += ((now - next) / iv + 1) * iv;
      pick->next_ms = next;
      // To wake a worker when the loop is due again.
      if (next < sched_wake_ms) sched_cv.notify_one();
    }
    done_cv.notify_all();
  }
}

void Manager::Impl::MarkAllStale(Loop& l, int64_t ts, bool report) {
  // After everything the loop wrote, even within the same millisecond.
  ts = std::max(ts, l.last_ts + 1);
  auto app = storage->NewAppender();
  app->set_sync(false);  // nobody waits on a scrape; the WAL syncs within a minute
  if (l.last_ok_iter != 0)
    for (auto& [_, ce] : l.cache)
      if (!ce.dropped && ce.appended == l.last_ok_iter)
        (void)app->AppendCached(&ce.ref, ce.labels, ts, StaleNaN());
  if (report)
    for (size_t i = 0; i < kReportSeries; ++i)
      (void)app->Append(l.labels.With(kMetricName, kReportNames[i]), ts, StaleNaN());
  (void)app->Commit();
  l.last_ok_iter = 0;
}

void Manager::Impl::RunScrape(Loop& l, std::shared_ptr<const ScrapeConfig> cfgp, LocalFetch local) {
  const ScrapeConfig& cfg = *cfgp;
  int64_t start = NowMs();
  auto t0 = std::chrono::steady_clock::now();
  Result<Fetched> fetched = Fetched{};
  if (local) {
    fetched = local();
  } else {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", static_cast<double>(cfg.timeout_ms) / 1000.0);
    auto r = l.client->Do("GET", l.request_target,
                          {{"Accept", kAccept}, {"X-Prometheus-Scrape-Timeout-Seconds", secs}});
    if (!r.ok()) {
      l.client->Close();
      bool late = NowMs() - start >= cfg.timeout_ms;
      fetched = Status(Code::kUnavailable, late ? "Get \"" + l.url + "\": context deadline exceeded"
                                                : r.status().message());
    } else if (r->status != 200) {
      fetched =
          Status(Code::kUnavailable, "server returned HTTP status " + std::to_string(r->status));
    } else {
      fetched = Fetched{std::move(r->body), r->Header("Content-Type")};
    }
  }
  int64_t scraped = 0, post = 0, added = 0;
  start = std::max(start, l.last_ts + 1);  // two scrapes within one millisecond
  Status st = fetched.ok() ? AppendScrape(l, cfg, *fetched, start, &scraped, &post, &added)
                           : fetched.status();
  double dur = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!st.ok()) {
    MarkAllStale(l, start, false);
    scraped = post = added = 0;
  }
  Report(l, start, st.ok(), dur, scraped, post, added);
  l.last_ts = start;
  std::lock_guard<std::mutex> g(l.mu);
  l.last_scrape_ms = start;
  l.last_duration_s = dur;
  l.health = st.ok() ? 1 : 2;
  l.last_error = st.ok() ? "" : st.message();
  if (st.ok() && l.meta_changed) {
    l.metadata = l.meta_scratch;
    l.meta_changed = false;
  }
}

Status Manager::Impl::AppendScrape(Loop& l, const ScrapeConfig& cfg, const Fetched& f, int64_t ts,
                                   int64_t* scraped, int64_t* post, int64_t* added) {
  const ExpositionFormat format = FormatForContentType(f.content_type);
  ExpositionParser p(f.body, format);
  if (format != l.order_format) {
    l.order.clear();
    l.order_format = format;
  }
  auto app = storage->NewAppender();
  app->set_sync(false);          // nobody waits on a scrape; the WAL syncs within a minute
  app->Reserve(l.order.size());  // about as many series as last time
  const uint32_t iter = ++l.iter;
  std::vector<CacheEntry*> appended;  // marked only once the batch commits
  size_t still_there = 0;             // series the last scrape stored that this one lists again
  appended.reserve(l.order.size());
  std::string name_buf, text_buf;
  // The family's metadata entry, marked seen by this scrape; a field this
  // scrape sets differently marks the metadata changed.
  auto family = [&](std::string_view name) -> FamilyMeta& {
    auto it = l.meta_scratch.find(name);
    if (it == l.meta_scratch.end()) {
      it = l.meta_scratch.emplace(std::string(name), FamilyMeta{}).first;
      l.meta_changed = true;
    }
    if (it->second.seen != iter) {
      it->second.seen = iter;
      it->second.set = 0;
    }
    return it->second;
  };
  auto set = [&](FamilyMeta& m, std::string FamilyMeta::*field, uint8_t bit, std::string_view v) {
    m.set |= bit;
    if (m.*field != v) {
      (m.*field).assign(v);
      l.meta_changed = true;
    }
  };
  while (true) {
    const size_t next = static_cast<size_t>(*scraped);
    p.ExpectSeries(next < l.order.size() ? std::string_view(l.order[next]->first) : "");
    auto e = p.Next();
    if (!e.ok()) {
      app->Rollback();
      return e.status();
    }
    if (*e == ExpositionParser::Entry::kEnd) break;
    if (*e == ExpositionParser::Entry::kType) {
      set(family(p.metadata_name(&name_buf)), &FamilyMeta::type, 1, MetricTypeName(p.type()));
      continue;
    }
    if (*e == ExpositionParser::Entry::kHelp) {
      set(family(p.metadata_name(&name_buf)), &FamilyMeta::help, 2, p.help(&text_buf));
      continue;
    }
    if (*e == ExpositionParser::Entry::kUnit) {
      set(family(p.metadata_name(&name_buf)), &FamilyMeta::unit, 4, p.unit_view());
      continue;
    }
    ++*scraped;
    const size_t pos = static_cast<size_t>(*scraped - 1);
    // The next entries' nodes and texts are read soon: fetch them now.
    if (pos + 2 < l.order.size()) __builtin_prefetch(l.order[pos + 2]);
    if (pos + 1 < l.order.size()) __builtin_prefetch(l.order[pos + 1]->first.data());
    SeriesCache::value_type* entry = nullptr;
    SeriesCache::iterator it;
    bool fresh = false;
    if (pos < l.order.size() && l.order[pos]->first == p.series()) {
      entry = l.order[pos];
    } else {
      it = l.cache.find(p.series());
      fresh = it == l.cache.end();
      if (fresh) it = l.cache.emplace(std::string(p.series()), CacheEntry{}).first;
      entry = &*it;
    }
    CacheEntry& ce = entry->second;
    if (fresh) {
      // The target's labels win over the scraped ones unless honor_labels;
      // a clash keeps the scraped value as exported_<name>.
      std::vector<Label> ls = p.labels().ToVector();
      for (const auto& tl : l.labels) {
        auto have =
            std::find_if(ls.begin(), ls.end(), [&](const Label& x) { return x.name == tl.name; });
        if (have != ls.end()) {
          if (cfg.honor_labels) continue;
          std::string n = "exported_" + std::string(tl.name);
          while (std::any_of(ls.begin(), ls.end(), [&](const Label& x) { return x.name == n; }))
            n = "exported_" + n;
          have->name = n;
        }
        ls.push_back(tl);
      }
      Labels merged(std::move(ls));
      auto rel = Relabel(merged, cfg.metric_relabel_configs);
      if (!rel.ok()) {
        l.cache.erase(it);
        app->Rollback();
        return rel.status();
      }
      if (!rel->has_value()) {
        ce.dropped = true;
      } else {
        ce.labels = std::move(**rel);
      }
    }
    if (pos < l.order.size()) {
      l.order[pos] = entry;
    } else {
      l.order.push_back(entry);
    }
    if (ce.seen != iter && l.last_ok_iter != 0 && ce.appended == l.last_ok_iter) ++still_there;
    ce.seen = iter;
    if (ce.dropped) continue;
    ++*post;
    if (cfg.sample_limit > 0 && *post > cfg.sample_limit) {
      app->Rollback();
      return Invalid("sample limit exceeded");
    }
    if (cfg.label_limit > 0 && static_cast<int64_t>(ce.labels.size()) > cfg.label_limit) {
      app->Rollback();
      return Invalid("label_limit exceeded (metric: " + std::string(ce.labels.Name()) +
                     ", number of labels: " + std::to_string(ce.labels.size()) +
                     ", limit: " + std::to_string(cfg.label_limit) + ")");
    }
    // Only when set: reading the labels is a cache miss per sample.
    if (cfg.label_name_length_limit > 0 || cfg.label_value_length_limit > 0) {
      for (const auto& lab : ce.labels) {
        if (cfg.label_name_length_limit > 0 &&
            static_cast<int64_t>(lab.name.size()) > cfg.label_name_length_limit) {
          app->Rollback();
          return Invalid("label_name_length_limit exceeded (metric: " +
                         std::string(ce.labels.Name()) + ", label name: " + std::string(lab.name) +
                         ", limit: " + std::to_string(cfg.label_name_length_limit) + ")");
        }
        if (cfg.label_value_length_limit > 0 &&
            static_cast<int64_t>(lab.value.size()) > cfg.label_value_length_limit) {
          app->Rollback();
          return Invalid(
              "label_value_length_limit exceeded (metric: " + std::string(ce.labels.Name()) +
              ", label name: " + std::string(lab.name) + ", value: " + QuoteString(lab.value) +
              ", limit: " + std::to_string(cfg.label_value_length_limit) + ")");
        }
      }
    }
    int64_t t = ts;
    ce.explicit_ts = false;
    if (cfg.honor_timestamps && p.timestamp()) {
      t = *p.timestamp();
      ce.explicit_ts = true;
    }
    if (fresh) ++*added;
    // Out-of-order, duplicate and out-of-bounds samples are skipped like
    // Prometheus does; they do not fail the scrape.
    if (app->AppendCached(&ce.ref, ce.labels, t, p.value()).ok() && !ce.explicit_ts)
      appended.push_back(&ce);
  }
  // Series of the last scrape that are gone now get a staleness marker
  // (a walk over the whole cache, skipped when all of them are still here).
  if (l.last_ok_iter != 0 && still_there != l.last_ok_appended)
    for (auto& [_, ce] : l.cache)
      if (!ce.dropped && ce.seen != iter && ce.appended == l.last_ok_iter)
        (void)app->AppendCached(&ce.ref, ce.labels, ts, StaleNaN());
  // On failure nothing of this scrape is stored, and what the last one stored
  // stays the set to mark stale.
  BERTH_RETURN_IF_ERROR(app->Commit());
  for (CacheEntry* ce : appended) ce->appended = iter;
  l.last_ok_appended = appended.size();
  // Families gone from the exposition, and fields no longer given.
  for (auto it = l.meta_scratch.begin(); it != l.meta_scratch.end();) {
    FamilyMeta& m = it->second;
    if (m.seen != iter) {
      it = l.meta_scratch.erase(it);
      l.meta_changed = true;
      continue;
    }
    for (auto [bit, field] : {std::pair{1, &FamilyMeta::type}, std::pair{2, &FamilyMeta::help},
                              std::pair{4, &FamilyMeta::unit}}) {
      if (!(m.set & bit) && !(m.*field).empty()) {
        (m.*field).clear();
        l.meta_changed = true;
      }
    }
    ++it;
  }
  l.last_ok_iter = iter;
  // Forget cache entries not seen for a while (series churn).
  if (iter % 16 == 0)
    if (std::erase_if(l.cache, [iter](const auto& kv) { return kv.second.seen + 4 < iter; }) > 0)
      l.order.clear();
  if (l.order.size() > static_cast<size_t>(*scraped)) l.order.resize(static_cast<size_t>(*scraped));
  return Status::Ok();
}

void Manager::Impl::Report(Loop& l, int64_t ts, bool up, double duration, int64_t scraped,
                           int64_t post, int64_t added) {
  auto app = storage->NewAppender();
  app->set_sync(false);  // nobody waits on a scrape; the WAL syncs within a minute
  if (l.report_labels[0].empty())
    for (size_t i = 0; i < kReportSeries; ++i)
      l.report_labels[i] = l.labels.With(kMetricName, kReportNames[i]);
  double values[kReportSeries] = {up ? 1.0 : 0.0, duration, static_cast<double>(scraped),
                                  static_cast<double>(post), static_cast<double>(added)};
  for (size_t i = 0; i < kReportSeries; ++i)
    (void)app->AppendCached(&l.report_refs[i], l.report_labels[i], ts, values[i]);
  (void)app->Commit();
}

Json Manager::TargetsJson(const std::string& state) const {
  std::lock_guard<std::mutex> g(impl_->mu);
  Json active = Json::array(), dropped = Json::array();
  for (const auto& [job, p] : impl_->pools) {
    for (const auto& l : p.loops) {
      std::lock_guard<std::mutex> lg(l->mu);
      static const char* kHealth[] = {"unknown", "up", "down"};
      active.push_back({{"discoveredLabels", LabelsJson(l->discovered)},
                        {"labels", LabelsJson(l->labels)},
                        {"scrapePool", job},
                        {"scrapeUrl", l->url},
                        {"globalUrl", l->url},
                        {"lastError", l->last_error},
                        {"lastScrape", Rfc3339(l->last_scrape_ms)},
                        {"lastScrapeDuration", l->last_duration_s},
                        {"health", kHealth[l->health]},
                        {"scrapeInterval", promql::FormatDuration(p.cfg->interval_ms)},
                        {"scrapeTimeout", promql::FormatDuration(p.cfg->timeout_ms)}});
    }
    for (const auto& d : p.dropped)
      dropped.push_back({{"discoveredLabels", LabelsJson(d)}, {"scrapePool", job}});
  }
  Json out = Json::object();
  if (state.empty() || state == "any" || state == "active") out["activeTargets"] = active;
  if (state.empty() || state == "any" || state == "dropped") out["droppedTargets"] = dropped;
  return out;
}

Json Manager::MetadataJson(const std::string& metric, int limit) const {
  std::map<std::string, std::vector<FamilyMeta>> all;
  {
    std::lock_guard<std::mutex> g(impl_->mu);
    for (const auto& [_, p] : impl_->pools)
      for (const auto& l : p.loops) {
        std::lock_guard<std::mutex> lg(l->mu);
        for (const auto& entry : l->metadata) {
          const std::string& name = entry.first;
          const FamilyMeta& m = entry.second;  // not a structured binding: lambdas capture it
          if (!metric.empty() && name != metric) continue;
          auto& v = all[name];
          bool dup = std::any_of(v.begin(), v.end(), [&](const FamilyMeta& x) {
            return x.type == m.type && x.help == m.help && x.unit == m.unit;
          });
          if (!dup) v.push_back(m);
        }
      }
  }
  Json out = Json::object();
  for (const auto& [name, v] : all) {
    if (limit >= 0 && static_cast<int>(out.size()) >= limit) break;
    Json arr = Json::array();
    for (const auto& m : v)
      arr.push_back(
          {{"type", m.type.empty() ? "unknown" : m.type}, {"help", m.help}, {"unit", m.unit}});
    out[name] = arr;
  }
  return out;
}

// ---- prometheus.yml -----------------------------------------------------------

namespace {

Result<int64_t> YamlDuration(const YAML::Node& n, const std::string& what) {
  std::string s = n.as<std::string>();
  auto d = promql::ParseDuration(s);
  if (!d.ok()) return Invalid(what + ": not a valid duration: " + QuoteString(s));
  return *d;
}

Result<std::string> ReadFileText(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Invalid("cannot read " + path);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' '))
    out.pop_back();
  return out;
}

Result<StaticJob> ParseJob(const YAML::Node& j, int64_t def_interval, int64_t def_timeout) {
  StaticJob job;
  ScrapeConfig& c = job.config;
  static const char* kKnown[] = {"job_name",
                                 "scrape_interval",
                                 "scrape_timeout",
                                 "metrics_path",
                                 "scheme",
                                 "honor_labels",
                                 "honor_timestamps",
                                 "params",
                                 "static_configs",
                                 "relabel_configs",
                                 "metric_relabel_configs",
                                 "sample_limit",
                                 "label_limit",
                                 "label_name_length_limit",
                                 "label_value_length_limit",
                                 "tls_config",
                                 "authorization",
                                 "bearer_token",
                                 "bearer_token_file",
                                 "scrape_protocols",
                                 "enable_compression",
                                 "fallback_scrape_protocol"};
  for (const auto& kv : j) {
    std::string k = kv.first.as<std::string>();
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown))
      return Invalid("scrape config field " + QuoteString(k) + " is not supported");
  }
  if (!j["job_name"]) return Invalid("scrape config is missing job_name");
  c.job_name = j["job_name"].as<std::string>();
  std::string where = "job " + QuoteString(c.job_name);
  c.interval_ms = def_interval;
  if (j["scrape_interval"]) {
    auto d = YamlDuration(j["scrape_interval"], where + " scrape_interval");
    if (!d.ok()) return d.status();
    c.interval_ms = *d;
  }
  c.timeout_ms = std::min(def_timeout, c.interval_ms);
  if (j["scrape_timeout"]) {
    auto d = YamlDuration(j["scrape_timeout"], where + " scrape_timeout");
    if (!d.ok()) return d.status();
    c.timeout_ms = *d;
  }
  if (c.timeout_ms > c.interval_ms)
    return Invalid("scrape timeout greater than scrape interval for scrape config with job name " +
                   QuoteString(c.job_name));
  if (j["metrics_path"]) c.metrics_path = j["metrics_path"].as<std::string>();
  if (j["scheme"]) c.scheme = j["scheme"].as<std::string>();
  if (c.scheme != "http" && c.scheme != "https")
    return Invalid(where + ": scheme must be http or https");
  if (j["honor_labels"]) c.honor_labels = j["honor_labels"].as<bool>();
  if (j["honor_timestamps"]) c.honor_timestamps = j["honor_timestamps"].as<bool>();
  if (j["params"])
    for (const auto& kv : j["params"])
      for (const auto& v : kv.second)
        c.params.emplace(kv.first.as<std::string>(), v.as<std::string>());
  for (const char* lim :
       {"sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit"}) {
    if (!j[lim]) continue;
    int64_t v = j[lim].as<int64_t>();
    std::string_view n = lim;
    if (n == "sample_limit")
      c.sample_limit = v;
    else if (n == "label_limit")
      c.label_limit = v;
    else if (n == "label_name_length_limit")
      c.label_name_length_limit = v;
    else
      c.label_value_length_limit = v;
  }
  if (const auto& t = j["tls_config"]) {
    if (t["ca_file"]) c.tls.ca_file = t["ca_file"].as<std::string>();
    if (t["cert_file"]) c.tls.cert_file = t["cert_file"].as<std::string>();
    if (t["key_file"]) c.tls.key_file = t["key_file"].as<std::string>();
    if (t["server_name"]) c.tls.server_name = t["server_name"].as<std::string>();
    if (t["insecure_skip_verify"])
      c.tls.insecure_skip_verify = t["insecure_skip_verify"].as<bool>();
  }
  if (const auto& a = j["authorization"]) {
    if (a["type"] && a["type"].as<std::string>() != "Bearer")
      return Invalid(where + ": only the Bearer authorization type is supported");
    if (a["credentials"]) c.bearer_token = a["credentials"].as<std::string>();
    if (a["credentials_file"]) {
      auto t = ReadFileText(a["credentials_file"].as<std::string>());
      if (!t.ok()) return t.status();
      c.bearer_token = *t;
    }
  }
  if (j["bearer_token"]) c.bearer_token = j["bearer_token"].as<std::string>();
  if (j["bearer_token_file"]) {
    auto t = ReadFileText(j["bearer_token_file"].as<std::string>());
    if (!t.ok()) return t.status();
    c.bearer_token = *t;
  }
  if (j["relabel_configs"]) {
    auto r = ParseRelabelConfigs(j["relabel_configs"]);
    if (!r.ok()) return Invalid(where + " relabel_configs: " + r.status().message());
    c.relabel_configs = std::move(*r);
  }
  if (j["metric_relabel_configs"]) {
    auto r = ParseRelabelConfigs(j["metric_relabel_configs"]);
    if (!r.ok()) return Invalid(where + " metric_relabel_configs: " + r.status().message());
    c.metric_relabel_configs = std::move(*r);
  }
  if (const auto& sc = j["static_configs"]) {
    for (const auto& group : sc) {
      std::vector<Label> common;
      if (group["labels"])
        for (const auto& kv : group["labels"])
          common.push_back({kv.first.as<std::string>(), kv.second.as<std::string>()});
      if (group["targets"])
        for (const auto& t : group["targets"]) {
          std::vector<Label> ls = common;
          ls.push_back({"__address__", t.as<std::string>()});
          job.targets.emplace_back(std::move(ls));
        }
    }
  }
  return job;
}

}  // namespace

Result<std::vector<StaticJob>> ParseScrapeConfigs(const YAML::Node& root) {
  try {
    int64_t interval = 60'000, timeout = 10'000;
    if (const auto& g = root["global"]) {
      if (g["scrape_interval"]) {
        auto d = YamlDuration(g["scrape_interval"], "global scrape_interval");
        if (!d.ok()) return d.status();
        interval = *d;
      }
      if (g["scrape_timeout"]) {
        auto d = YamlDuration(g["scrape_timeout"], "global scrape_timeout");
        if (!d.ok()) return d.status();
        timeout = *d;
      }
    }
    std::vector<StaticJob> out;
    std::unordered_set<std::string> names;
    if (const auto& sc = root["scrape_configs"]) {
      for (const auto& j : sc) {
        auto job = ParseJob(j, interval, timeout);
        if (!job.ok()) return job.status();
        if (!names.insert(job->config.job_name).second)
          return Invalid("found multiple scrape configs with job name " +
                         QuoteString(job->config.job_name));
        out.push_back(std::move(*job));
      }
    }
    return out;
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("scrape configuration: ") + e.what());
  }
}

}  // namespace berth::monitor::scrape
