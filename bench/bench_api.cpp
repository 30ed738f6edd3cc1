// Control-plane benchmark: the real `berth server` over HTTPS, each figure set
// against the raw SQLite commit rate of the same disk measured in the same run.
//
//   bench_api [--berth PATH] [--seconds 3] [--conns 1,8,32] [--rate 1000]
//             [--latency-seconds 10] [--latency-conns 16] [--watchers 100]
//             [--watch-seconds 5] [--watch-rate 50] [--objects 10000]
//             [--restarts 3] [--dir $TMPDIR] [--keep]
//
// Phases (printed figures, never pass/fail):
//  1. raw SQLite: one-row INSERT per transaction, WAL, synchronous=FULL, one
//     thread, in the same directory as the server's data: the baseline (with
//     the WAL pre-grown, see RawSqliteRate; measured again at the end, since
//     a shared disk drifts).
//  2. ConfigMap creates/s and updates/s over N keep-alive connections (one
//     client thread each), as a ratio to 1.
//  3. Latency of single-object creates under an open-loop 1,000 writes/s over
//     16 connections: each write is timed from when it was due, not from when
//     it was sent, so a stalled server cannot hide its queue (no coordinated
//     omission).
//  4. Watch delivery: W watchers stream one namespace; a writer creates objects
//     carrying their send time (CLOCK_MONOTONIC ns, annotation bench/sent);
//     each watcher records arrival - send. This includes the durable commit.
//  5. Server VmRSS after start and after the load.
//  6. Start with 10,000 objects stored: SIGTERM, exec again, time from exec to
//     the first 200 on /readyz (polled every 0.2 ms).
//
// The server runs in a fresh temp data dir on a free port and is started and
// stopped by the bench; it dies with the bench (PR_SET_PDEATHSIG).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_server.h"
#include "net/client.h"

namespace {

using bench::Clock;
using bench::FreePort;
using bench::Server;
using berth::net::ClientOptions;
using berth::net::Headers;
using berth::net::HttpsClient;

// ---------------------------------------------------------------- settings

struct Settings {
  std::string berth;
  double seconds = 3;
  std::vector<int> conns = {1, 8, 32};
  double rate = 1000;
  double latency_seconds = 10;
  int latency_conns = 16;
  int watchers = 100;
  double watch_seconds = 5;
  double watch_rate = 50;
  int objects = 10000;
  int restarts = 3;
  std::string dir;
  bool keep = false;
};

Settings g;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
using bench::Secs;
int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Dist {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};

Dist Percentiles(std::vector<double> v) {
  Dist d;
  d.n = v.size();
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  d.p50 = v[v.size() / 2];
  d.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  d.max = v.back();
  return d;
}

// ---------------------------------------------------------------- report

struct Row {
  std::string name, value, ratio, goal;
};
std::vector<Row> g_rows;

std::string Fmt(const char* f, double a) {
  char b[128];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

void Add(std::string name, std::string value, std::string ratio = "", std::string goal = "") {
  std::printf("  %-44s %-26s %-12s %s\n", name.c_str(), value.c_str(), ratio.c_str(), goal.c_str());
  std::fflush(stdout);
  g_rows.push_back({std::move(name), std::move(value), std::move(ratio), std::move(goal)});
}

// ---------------------------------------------------------------- 1. raw sqlite

// `pregrow`: first grow the WAL to ~4 MB and checkpoint it, so that the timed
// commits overwrite an existing WAL (as in a long-running server, whose WAL is
// reused after each checkpoint) instead of extending the file on every commit,
// which costs an extra metadata flush (fdatasync after a size change) and
// roughly halves the rate on ext4. The pre-grown figure is the baseline.
double RawSqliteRate(const std::string& path, double seconds, bool pregrow, Dist* lat_out) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "raw sqlite open: %s\n", sqlite3_errmsg(db));
    return 0;
  }
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)", nullptr, nullptr, nullptr);
  if (pregrow) {
    sqlite3_exec(db,
                 "CREATE TABLE pad(x BLOB); BEGIN;"
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)"
                 " INSERT INTO pad SELECT zeroblob(3500) FROM n;"
                 "COMMIT; DROP TABLE pad; PRAGMA wal_checkpoint(RESTART);",
                 nullptr, nullptr, nullptr);
  }
  sqlite3_stmt *begin, *ins, *commit;
  sqlite3_prepare_v2(db, "BEGIN", -1, &begin, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES (?1, ?2)", -1, &ins, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
  std::string v = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"bench"},"data":{"k":"v"}})";
  int64_t n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<double> lat;
  while (Clock::now() < deadline) {
    auto t0 = Clock::now();
    std::string k = "/registry/configmaps/bench/c-" + std::to_string(n);
    sqlite3_step(begin);
    sqlite3_reset(begin);
    sqlite3_bind_text(ins, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) break;
    sqlite3_reset(ins);
    if (sqlite3_step(commit) != SQLITE_DONE) break;
    sqlite3_reset(commit);
    lat.push_back(Ms(Clock::now() - t0));
    ++n;
  }
  double rate = n / Secs(Clock::now() - start);
  if (lat_out) *lat_out = Percentiles(std::move(lat));
  sqlite3_finalize(begin);
  sqlite3_finalize(ins);
  sqlite3_finalize(commit);
  sqlite3_close(db);
  return rate;
}

// ---------------------------------------------------------------- API helpers

const Headers kJsonHeaders = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};

std::string ConfigMap(const std::string& name, const std::string& value,
                      const std::string& annotation = "") {
  std::string s = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + "\"";
  if (!annotation.empty()) s += R"(,"annotations":{"bench/sent":")" + annotation + "\"}";
  s += R"(},"data":{"k":")" + value + "\"}}";
  return s;
}

bool CreateNamespace(HttpsClient& c, const std::string& ns) {
  auto r = c.Do("POST", "/api/v1/namespaces", kJsonHeaders,
                R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + "\"}}");
  if (!r.ok() || (r->status != 201 && r->status != 409)) {
    std::fprintf(stderr, "create namespace %s: %s\n", ns.c_str(),
                 r.ok() ? r->body.c_str() : r.status().ToString().c_str());
    return false;
  }
  return true;
}

std::atomic<int64_t> g_created{0};  // configmaps created over the whole run
std::atomic<int64_t> g_errors{0};

void ReportError(const char* what, const berth::Result<berth::net::ClientResponse>& r) {
  if (g_errors++ < 5)
    std::fprintf(stderr, "%s: %s\n", what,
                 r.ok() ? (std::to_string(r->status) + " " + r->body.substr(0, 200)).c_str()
                        : r.status().ToString().c_str());
}

// ---------------------------------------------------------------- 2. throughput

struct Throughput {
  double rate = 0;
  Dist lat;
  double server_cpu_us = 0;  // server CPU time per operation
};

// Runs op(client, thread, i) on `conns` connections until the deadline. Each
// connection is opened (and TLS-handshaken) before the clock starts.
template <class Op>
Throughput Drive(const Server& s, int conns, double seconds, Op op) {
  std::vector<std::vector<double>> lat(conns);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point deadline;
  std::vector<std::thread> ts;
  for (int t = 0; t < conns; ++t) {
    ts.emplace_back([&, t] {
      HttpsClient c(s.Opts());
      (void)c.Do("GET", "/readyz");
      ready++;
      while (!go) std::this_thread::yield();
      for (int i = 0; Clock::now() < deadline; ++i) {
        auto t0 = Clock::now();
        if (!op(c, t, i)) {
          usleep(1000);  // do not spin on a failing server
          continue;
        }
        lat[t].push_back(Ms(Clock::now() - t0));
      }
    });
  }
  while (ready < conns) usleep(100);
  const double cpu0 = s.CpuSeconds();
  auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  go = true;
  for (auto& th : ts) th.join();
  double elapsed = Secs(Clock::now() - start);
  const double cpu = s.CpuSeconds() - cpu0;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Throughput r;
  r.rate = all.size() / elapsed;
  if (!all.empty()) r.server_cpu_us = cpu * 1e6 / all.size();
  r.lat = Percentiles(std::move(all));
  return r;
}

// ---------------------------------------------------------------- 3. paced latency

struct Paced {
  Dist lat;
  double achieved = 0;
  double server_cpu = 0;  // server CPU seconds per second (1.0 = one core)
};

Paced PacedWrites(const Server& s, const std::string& ns, double rate, double seconds, int conns) {
  const int64_t total = static_cast<int64_t>(rate * seconds);
  std::vector<std::vector<double>> lat(conns);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start;
  std::vector<std::thread> ts;
  for (int t = 0; t < conns; ++t) {
    ts.emplace_back([&, t] {
      HttpsClient c(s.Opts());
      (void)c.Do("GET", "/readyz");
      ready++;
      while (!go) std::this_thread::yield();
      for (int64_t i = t; i < total; i += conns) {
        auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
        std::this_thread::sleep_until(due);
        std::string name = "p-" + std::to_string(i);
        auto r = c.Do("POST", "/api/v1/namespaces/" + ns + "/configmaps", kJsonHeaders,
                      ConfigMap(name, "v" + std::to_string(i)));
        if (!r.ok() || r->status != 201) {
          ReportError("paced create", r);
          continue;
        }
        g_created++;
        lat[t].push_back(Ms(Clock::now() - due));
      }
    });
  }
  while (ready < conns) usleep(100);
  const double cpu0 = s.CpuSeconds();
  start = Clock::now() + std::chrono::milliseconds(5);
  go = true;
  for (auto& th : ts) th.join();
  double elapsed = Secs(Clock::now() - start);
  const double cpu = s.CpuSeconds() - cpu0;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Paced p;
  p.achieved = all.size() / elapsed;
  p.server_cpu = cpu / elapsed;
  p.lat = Percentiles(std::move(all));
  return p;
}

// ---------------------------------------------------------------- 4. watch latency

long OpenWatches(HttpsClient& c) {
  auto r = c.Do("GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  const std::string key = "apiserver_longrunning_requests{verb=\"WATCH\"} ";
  size_t at = r->body.find(key);
  if (at == std::string::npos) return 0;
  return std::atol(r->body.c_str() + at + key.size());
}

struct WatchResult {
  Dist lat;
  Dist first_lat;  // send -> the first watcher's copy
  Dist spread;     // each copy after the first watcher's
  Dist write_lat;
  int64_t expected = 0, delivered = 0;
  double server_cpu_us_per_delivery = 0;
};

WatchResult WatchLatency(const Server& s, const std::string& ns) {
  HttpsClient admin(s.Opts());
  WatchResult out;
  auto list = admin.Do("GET", "/api/v1/namespaces/" + ns + "/configmaps?limit=1");
  std::string rv;
  if (list.ok() && list->status == 200) {
    auto j = nlohmann::json::parse(list->body, nullptr, false);
    if (j.is_object() && j.contains("metadata")) rv = j["metadata"].value("resourceVersion", "");
  }
  const int total = static_cast<int>(g.watch_rate * g.watch_seconds);
  const int timeout_s = static_cast<int>(g.watch_seconds) + 60;
  struct Arrival {
    int index;
    int64_t at, sent;
  };
  std::vector<std::vector<Arrival>> arrivals(g.watchers);
  std::vector<std::thread> ts;
  for (int w = 0; w < g.watchers; ++w) {
    ts.emplace_back([&, w] {
      HttpsClient c(s.Opts());
      std::string target = "/api/v1/namespaces/" + ns + "/configmaps?watch=1&timeoutSeconds=" +
                           std::to_string(timeout_s) + (rv.empty() ? "" : "&resourceVersion=" + rv);
      const std::string key = "\"bench/sent\":\"";
      const std::string name_key = "\"name\":\"w-";
      auto r = c.StreamLines("GET", target, {{"Accept", "application/json"}}, [&](std::string_view line) {
        int64_t now = MonoNs();
        size_t at = line.find(key);
        if (at == std::string_view::npos) return true;
        int64_t sent = std::atoll(std::string(line.substr(at + key.size(), 20)).c_str());
        if (sent == 0) return false;  // the stop marker
        size_t nat = line.find(name_key);
        int index = nat == std::string_view::npos
                        ? -1
                        : std::atoi(std::string(line.substr(nat + name_key.size(), 12)).c_str());
        arrivals[w].push_back({index, now, sent});
        return true;
      });
      if (!r.ok()) ReportError("watch", r);
    });
  }
  // Wait until every watch is being served, so none is timed from its replay.
  auto wait_until = Clock::now() + std::chrono::seconds(30);
  while (OpenWatches(admin) < g.watchers && Clock::now() < wait_until) usleep(20000);
  usleep(100000);

  std::vector<double> wl;
  const double cpu0 = s.CpuSeconds();
  auto start = Clock::now();
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / g.watch_rate)));
    auto t0 = Clock::now();
    int64_t sent = MonoNs();
    auto r = admin.Do("POST", "/api/v1/namespaces/" + ns + "/configmaps", kJsonHeaders,
                      ConfigMap("w-" + std::to_string(i), "v", std::to_string(sent)));
    if (!r.ok() || r->status != 201) {
      ReportError("watch create", r);
      continue;
    }
    g_created++;
    out.expected += g.watchers;
    wl.push_back(Ms(Clock::now() - t0));
  }
  // The stop marker: sent time 0.
  auto r = admin.Do("POST", "/api/v1/namespaces/" + ns + "/configmaps", kJsonHeaders,
                    ConfigMap("w-stop", "v", "0"));
  if (r.ok() && r->status == 201) g_created++;
  for (auto& th : ts) th.join();
  out.server_cpu_us_per_delivery =
      out.expected > 0 ? (s.CpuSeconds() - cpu0) * 1e6 / static_cast<double>(out.expected) : 0;
  // send -> event for every delivery; and, per object, how much later each
  // watcher got it than the first one did (the fan-out, free of commit time).
  std::vector<int64_t> first(total + 1, INT64_MAX);
  for (auto& v : arrivals)
    for (auto& a : v)
      if (a.index >= 0 && a.index < total) first[a.index] = std::min(first[a.index], a.at);
  std::vector<double> all, first_lat, spread;
  for (auto& v : arrivals) {
    for (auto& a : v) {
      all.push_back((a.at - a.sent) / 1e6);
      if (a.index >= 0 && a.index < total) {
        spread.push_back((a.at - first[a.index]) / 1e6);
        if (a.at == first[a.index]) first_lat.push_back((a.at - a.sent) / 1e6);
      }
    }
  }
  out.delivered = static_cast<int64_t>(all.size());
  out.lat = Percentiles(std::move(all));
  out.first_lat = Percentiles(std::move(first_lat));
  out.spread = Percentiles(std::move(spread));
  out.write_lat = Percentiles(std::move(wl));
  return out;
}

// ---------------------------------------------------------------- main

std::vector<int> ParseInts(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) v.push_back(std::atoi(part.c_str()));
  return v;
}

void Usage() {
  std::fprintf(stderr,
               "usage: bench_api [--berth PATH] [--seconds S] [--conns 1,8,32] [--rate R]\n"
               "                 [--latency-seconds S] [--latency-conns N] [--watchers N]\n"
               "                 [--watch-seconds S] [--watch-rate R] [--objects N]\n"
               "                 [--restarts N] [--dir DIR] [--keep]\n");
}

std::string LatStr(const Dist& d) {
  char b[96];
  std::snprintf(b, sizeof b, "p50 %.2f / p99 %.2f ms", d.p50, d.p99);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  g.berth = (std::filesystem::path(argv[0]).parent_path() / "berth").string();
  g.dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--berth") g.berth = next();
    else if (a == "--seconds") g.seconds = std::atof(next().c_str());
    else if (a == "--conns") g.conns = ParseInts(next());
    else if (a == "--rate") g.rate = std::atof(next().c_str());
    else if (a == "--latency-seconds") g.latency_seconds = std::atof(next().c_str());
    else if (a == "--latency-conns") g.latency_conns = std::atoi(next().c_str());
    else if (a == "--watchers") g.watchers = std::atoi(next().c_str());
    else if (a == "--watch-seconds") g.watch_seconds = std::atof(next().c_str());
    else if (a == "--watch-rate") g.watch_rate = std::atof(next().c_str());
    else if (a == "--objects") g.objects = std::atoi(next().c_str());
    else if (a == "--restarts") g.restarts = std::atoi(next().c_str());
    else if (a == "--dir") g.dir = next();
    else if (a == "--keep") g.keep = true;
    else {
      Usage();
      return 2;
    }
  }
  if (access(g.berth.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "berth binary not found at %s (use --berth)\n", g.berth.c_str());
    return 2;
  }
  std::string tmpl = g.dir + "/bench-api-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  auto bench_start = Clock::now();

  Server s;
  s.berth = g.berth;
  s.extra_args = {"--no-agent"};  // the API alone
  s.data_dir = dir + "/data";
  s.log_path = dir + "/server.log";
  s.port = FreePort();
  std::printf("bench_api: server %s, dir %s, port %d\n", g.berth.c_str(), dir.c_str(), s.port);
  std::printf("  %-44s %-26s %-12s %s\n", "metric", "value", "ratio", "goal");

  // 1. Baseline.
  Dist raw_lat;
  auto raw_rate = [&](bool pregrow) {
    double r = RawSqliteRate(dir + "/raw.db", g.seconds, pregrow, &raw_lat);
    for (const char* f : {"/raw.db", "/raw.db-wal", "/raw.db-shm"}) std::filesystem::remove(dir + f);
    return r;
  };
  // The disk's commit rate drifts with whatever else the machine does, so
  // it is measured again at the end; the ratios printed as we go use this
  // first figure, and the summary gives both.
  const double raw = raw_rate(true);
  Add("raw sqlite commits/s (1 thread, WAL, FULL)", Fmt("%.0f /s", raw), "1.00", "baseline");
  Add("  commit latency", LatStr(raw_lat));
  const double raw_fresh = raw_rate(false);
  Add("  same, fresh file (WAL grows every commit)", Fmt("%.0f /s", raw_fresh), Fmt("%.2f", raw_fresh / raw));

  // Start.
  if (!s.Spawn()) return 1;
  double first_start = s.WaitReady(30);
  if (first_start < 0) {
    std::fprintf(stderr, "server did not become ready; see %s\n", s.log_path.c_str());
    s.Stop();
    return 1;
  }
  Add("first start (empty dir, makes PKI) to /readyz", Fmt("%.3f s", first_start));
  std::printf("  (server pid %d)\n", static_cast<int>(s.pid));
  usleep(500000);
  long rss_start = s.RssKb();

  {
    HttpsClient c(s.Opts());
    for (const char* ns : {"bench", "lat", "watch", "fill"})
      if (!CreateNamespace(c, ns)) return 1;
  }

  // 2. Creates and updates per connection count.
  for (int n : g.conns) {
    std::vector<std::atomic<int>> made(n);
    auto created = Drive(s, n, g.seconds, [&](HttpsClient& c, int t, int i) {
      std::string name = "c" + std::to_string(n) + "-" + std::to_string(t) + "-" + std::to_string(i);
      auto r = c.Do("POST", "/api/v1/namespaces/bench/configmaps", kJsonHeaders, ConfigMap(name, "v0"));
      if (!r.ok() || r->status != 201) {
        ReportError("create", r);
        return false;
      }
      g_created++;
      made[t] = i + 1;
      return true;
    });
    Add("creates/s, " + std::to_string(n) + " conn", Fmt("%.0f /s", created.rate), Fmt("%.2f", created.rate / raw),
        ">= 0.5");
    Add("  create latency", LatStr(created.lat));
    Add("  server CPU per create", Fmt("%.0f us", created.server_cpu_us));
    auto updated = Drive(s, n, g.seconds, [&](HttpsClient& c, int t, int i) {
      int have = std::max(1, made[t].load());
      std::string name = "c" + std::to_string(n) + "-" + std::to_string(t) + "-" + std::to_string(i % have);
      // Unconditional PUT (no resourceVersion); the data changes every time so
      // it is never a no-op.
      auto r = c.Do("PUT", "/api/v1/namespaces/bench/configmaps/" + name, kJsonHeaders,
                    ConfigMap(name, "u" + std::to_string(i)));
      if (!r.ok() || r->status != 200) {
        ReportError("update", r);
        return false;
      }
      return true;
    });
    Add("updates/s, " + std::to_string(n) + " conn", Fmt("%.0f /s", updated.rate), Fmt("%.2f", updated.rate / raw),
        ">= 0.5");
    Add("  update latency", LatStr(updated.lat));
    Add("  server CPU per update", Fmt("%.0f us", updated.server_cpu_us));
  }

  // 3. Open-loop paced writes.
  auto paced = PacedWrites(s, "lat", g.rate, g.latency_seconds, g.latency_conns);
  Add("paced creates: offered " + Fmt("%.0f/s", g.rate) + " on " + std::to_string(g.latency_conns) + " conns",
      Fmt("achieved %.0f /s", paced.achieved), Fmt("%.2f", paced.achieved / raw));
  Add("  latency from due time p50", Fmt("%.2f ms", paced.lat.p50));
  Add("  latency from due time p99", Fmt("%.2f ms", paced.lat.p99), "", "< 20 ms");
  Add("  latency from due time max", Fmt("%.2f ms", paced.lat.max));
  Add("  server CPU (cores busy)", Fmt("%.2f", paced.server_cpu));

  // 4. Watch delivery.
  auto wr = WatchLatency(s, "watch");
  {
    char b[64];
    std::snprintf(b, sizeof b, "%lld of %lld events", static_cast<long long>(wr.delivered),
                  static_cast<long long>(wr.expected));
    Add("watch delivery, " + std::to_string(g.watchers) + " watchers, " + Fmt("%.0f", g.watch_rate) + " writes/s", b);
  }
  Add("  send -> event p50", Fmt("%.2f ms", wr.lat.p50));
  Add("  send -> event p99", Fmt("%.2f ms", wr.lat.p99), "", "< 10 ms");
  Add("  send -> first watcher's copy", LatStr(wr.first_lat));
  Add("  fan-out: copy after the first copy", LatStr(wr.spread));
  Add("  the create request itself", LatStr(wr.write_lat));
  Add("  server CPU per delivered event", Fmt("%.0f us", wr.server_cpu_us_per_delivery));

  // 5. Memory.
  usleep(1000000);
  long rss_after = s.RssKb();
  long threads_after = s.ThreadCount();
  Add("server VmRSS after start", Fmt("%.1f MiB", rss_start / 1024.0), "", "<= 40 MiB");
  Add("server VmRSS after load (idle 1 s)", Fmt("%.1f MiB", rss_after / 1024.0), "", "<= 40 MiB");
  Add("  server threads after load", std::to_string(threads_after));
  Add("  state.db handles after load (writer + readers)", std::to_string(s.DbHandles()));

  // 6. Start with N objects.
  int64_t need = g.objects - g_created.load();
  if (need > 0) {
    auto t0 = Clock::now();
    std::atomic<int64_t> next{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 32; ++t) {
      ts.emplace_back([&] {
        HttpsClient c(s.Opts());
        for (int64_t i; (i = next++) < need;) {
          auto r = c.Do("POST", "/api/v1/namespaces/fill/configmaps", kJsonHeaders,
                        ConfigMap("f-" + std::to_string(i), "v"));
          if (r.ok() && r->status == 201) g_created++;
          else ReportError("fill create", r);
        }
      });
    }
    for (auto& th : ts) th.join();
    Add("  (filled " + std::to_string(need) + " configmaps on 32 conns)",
        Fmt("%.0f /s", need / Secs(Clock::now() - t0)));
  }
  double stop_s = s.Stop();
  Add("stop (SIGTERM to exit)", Fmt("%.3f s", stop_s));
  std::vector<double> starts;
  for (int i = 0; i < std::max(1, g.restarts); ++i) {
    if (!s.Spawn()) break;
    double t = s.WaitReady(30);
    if (t < 0) {
      std::fprintf(stderr, "restart %d: not ready; see %s\n", i, s.log_path.c_str());
      break;
    }
    starts.push_back(t);
    if (i + 1 < g.restarts) s.Stop();
  }
  {
    std::string all;
    for (double t : starts) all += (all.empty() ? "" : ", ") + Fmt("%.3f", t);
    auto d = Percentiles(starts);
    Add("exec -> /readyz 200 with " + std::to_string(g_created.load()) + " configmaps",
        Fmt("median %.3f s", d.p50), "", "<= 0.3 s");
    Add("  each run", all + " s");
  }
  long rss_restart = s.RssKb();
  Add("server VmRSS after restart", Fmt("%.1f MiB", rss_restart / 1024.0));
  s.Stop();

  const double raw_end = raw_rate(true);
  Add("raw sqlite commits/s again, at the end", Fmt("%.0f /s", raw_end), Fmt("%.2f", raw > 0 ? raw_end / raw : 0),
      "(drift)");
  Add("  commit latency", LatStr(raw_lat));

  std::printf("\nerrors: %lld; total bench time %.0f s; server log %s\n", static_cast<long long>(g_errors.load()),
              Secs(Clock::now() - bench_start), s.log_path.c_str());
  if (!g.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
