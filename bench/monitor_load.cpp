// The data side of bench/bench_monitor.sh: one data set (the series of
// bench/monitor_series.h for N targets over a time range), written as an
// OpenMetrics file for `promtool tsdb create-blocks-from openmetrics` and
// remote-written into Berth, so both TSDBs hold bit-identical samples; and a
// query client that times the same PromQL on both.
//
//   monitor_load openmetrics --targets N --start S --end E --step SEC --out FILE
//   monitor_load remote-write --targets N --start S --end E --step SEC
//                --port P --data-dir DATA [--conns 2] [--batch-steps 60]
//   monitor_load query --prom-port P --port B --data-dir DATA --queries FILE
//                --end E [--runs 7]
//
// Times are unix seconds; the data set's samples are at start, start+step,
// ... <= end, every series labelled instance="target-<i>", job="bench";
// counters count from `start`. remote-write sends batch-steps steps of every
// target (1,000 series each) per request, over --conns connections, all
// targets advancing through time together.
//
// query: FILE has one query per line, `label|range_seconds|step_seconds|expr`
// (range 0: an instant query at E). Each query runs once on each server
// untimed (warm-up), then --runs times alternately on Prometheus (plain
// HTTP) and Berth (HTTPS, client certificate), each over one keep-alive
// connection opened beforehand, so no handshake is timed. Prints per query:
//   query LABEL prom_ms BERTH_ms ratio series points agree
// with medians, and whether both returned the same series and values (to a
// relative 1e-9).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/monitor_series.h"
#include "monitor/remote_write.h"
#include "net/client.h"
#include "net/http.h"

namespace {

namespace ms = bench::monseries;
using Clock = std::chrono::steady_clock;
using berth::monitor::Label;
using berth::monitor::Labels;
using berth::monitor::SeriesSamples;

struct Args {
  std::map<std::string, std::string> kv;
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  int64_t Int(const std::string& k, int64_t def = -1) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atoll(it->second.c_str());
  }
  std::string Need(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) {
      std::fprintf(stderr, "monitor_load: --%s is required\n", k.c_str());
      std::exit(2);
    }
    return it->second;
  }
};

std::string InstanceOf(int target) { return "target-" + std::to_string(target); }

// ---------------------------------------------------------------------------
// openmetrics

int WriteOpenMetrics(const Args& a) {
  int targets = static_cast<int>(std::atoll(a.Need("targets").c_str()));
  int64_t start = std::atoll(a.Need("start").c_str()), end = std::atoll(a.Need("end").c_str());
  int64_t step = std::atoll(a.Need("step").c_str());
  std::FILE* f = std::fopen(a.Need("out").c_str(), "w");
  if (!f) {
    std::perror("open");
    return 1;
  }
  const auto& layout = ms::Layout();
  // Each series' text up to its value, target labels included, made once.
  std::vector<std::string> prefix;
  for (int i = 0; i < targets; ++i)
    for (const auto& se : layout) {
      std::string p;
      ms::AppendSeriesOpen(&p, se);
      p += ",instance=\"" + InstanceOf(i) + "\",job=\"bench\"} ";
      prefix.push_back(std::move(p));
    }
  int64_t samples = 0;
  std::string buf;
  buf.reserve(8 << 20);
  for (int64_t t = start; t <= end; t += step) {
    std::string ts = " " + std::to_string(t) + "\n";
    for (int i = 0; i < targets; ++i)
      for (int s = 0; s < static_cast<int>(layout.size()); ++s) {
        buf += prefix[static_cast<size_t>(i) * layout.size() + static_cast<size_t>(s)];
        ms::AppendDouble(&buf, ms::ValueAt(i, s, t, start));
        buf += ts;
        ++samples;
      }
    if (buf.size() > (6 << 20)) {
      std::fwrite(buf.data(), 1, buf.size(), f);
      buf.clear();
    }
  }
  buf += "# EOF\n";
  std::fwrite(buf.data(), 1, buf.size(), f);
  if (std::fclose(f) != 0) {
    std::perror("write");
    return 1;
  }
  std::printf("samples %lld series %lld\n", static_cast<long long>(samples),
              static_cast<long long>(targets) * static_cast<long long>(layout.size()));
  return 0;
}

// ---------------------------------------------------------------------------
// remote-write

berth::net::ClientOptions BerthOpts(int port, const std::string& data) {
  berth::net::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.ca_file = data + "/pki/ca.crt";
  o.cert_file = data + "/pki/admin.crt";
  o.key_file = data + "/pki/admin.key";
  return o;
}

int RemoteWrite(const Args& a) {
  int targets = static_cast<int>(std::atoll(a.Need("targets").c_str()));
  int64_t start = std::atoll(a.Need("start").c_str()), end = std::atoll(a.Need("end").c_str());
  int64_t step = std::atoll(a.Need("step").c_str());
  int port = static_cast<int>(std::atoll(a.Need("port").c_str()));
  std::string data = a.Need("data-dir");
  int conns = static_cast<int>(a.Int("conns", 2));
  int64_t batch_steps = a.Int("batch-steps", 60);
  const auto& layout = ms::Layout();

  // In time order across all targets, as a Prometheus would send them: a
  // batch of batch_steps steps for every target (spread over the
  // connections), then the next. A TSDB that persists blocks may refuse
  // samples older than its newest block, so no target may lag behind.
  std::atomic<int64_t> samples{0}, bytes{0}, requests{0};
  std::atomic<bool> failed{false};
  std::barrier sync(conns);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      berth::net::HttpsClient client(BerthOpts(port, data));
      // Label sets of this connection's targets, made once.
      std::vector<std::vector<SeriesSamples>> mine;
      for (int i = c; i < targets; i += conns) {
        std::vector<SeriesSamples> batch(layout.size());
        for (size_t s = 0; s < layout.size(); ++s) {
          std::vector<Label> ls;
          for (const auto& [n, v] : layout[s].labels) ls.push_back({n, v});
          ls.push_back({"__name__", layout[s].name});
          ls.push_back({"instance", InstanceOf(i)});
          ls.push_back({"job", "bench"});
          batch[s].labels = Labels(std::move(ls));
        }
        mine.push_back(std::move(batch));
      }
      for (int64_t b = start; b <= end; b += batch_steps * step) {
        for (size_t m = 0; m < mine.size() && !failed; ++m) {
          int i = c + static_cast<int>(m) * conns;
          auto& batch = mine[m];
          int64_t n = 0;
          for (size_t s = 0; s < layout.size(); ++s) {
            batch[s].samples.clear();
            for (int64_t t = b; t <= end && t < b + batch_steps * step; t += step)
              batch[s].samples.push_back({t * 1000, ms::ValueAt(i, static_cast<int>(s), t, start)});
            n += static_cast<int64_t>(batch[s].samples.size());
          }
          std::string body = berth::monitor::EncodeRemoteWrite(batch);
          auto r = client.Do("POST", "/api/v1/write",
                             {{"Content-Type", "application/x-protobuf"},
                              {"Content-Encoding", "snappy"},
                              {"X-Prometheus-Remote-Write-Version", "0.1.0"}},
                             body);
          if (!r.ok() || r->status / 100 != 2) {
            std::fprintf(stderr, "remote write failed: %s\n",
                         r.ok() ? (std::to_string(r->status) + " " + r->body).c_str()
                                : r.status().ToString().c_str());
            failed = true;
          } else {
            samples += n;
            bytes += static_cast<int64_t>(body.size());
            ++requests;
          }
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failed) return 1;
  std::printf("samples %lld requests %lld body_bytes %lld seconds %.2f samples_per_s %.0f\n",
              static_cast<long long>(samples.load()), static_cast<long long>(requests.load()),
              static_cast<long long>(bytes.load()), secs,
              static_cast<double>(samples.load()) / secs);
  return 0;
}

// ---------------------------------------------------------------------------
// query

struct Query {
  std::string label, expr;
  int64_t range = 0, step = 0;
};

// Series key -> values (matrix: all points; vector: the one value).
using Answer = std::map<std::string, std::vector<std::pair<double, std::string>>>;

bool ParseAnswer(const std::string& body, Answer* out, std::string* err) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") {
    *err = body.substr(0, 300);
    return false;
  }
  out->clear();
  for (const auto& r : j["data"]["result"]) {
    auto& v = (*out)[r["metric"].dump()];
    if (r.contains("values"))
      for (const auto& p : r["values"]) v.push_back({p[0].get<double>(), p[1].get<std::string>()});
    else
      v.push_back({r["value"][0].get<double>(), r["value"][1].get<std::string>()});
  }
  return true;
}

// The number of points that differ (value or presence).
int64_t Differences(const Answer& a, const Answer& b) {
  int64_t diff = 0;
  for (const auto& [k, va] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      diff += static_cast<int64_t>(va.size());
      continue;
    }
    const auto& vb = it->second;
    if (va.size() != vb.size()) {
      diff += std::abs(static_cast<int64_t>(va.size()) - static_cast<int64_t>(vb.size()));
    }
    for (size_t i = 0; i < std::min(va.size(), vb.size()); ++i) {
      if (va[i].first != vb[i].first) {
        ++diff;
        continue;
      }
      double x = std::strtod(va[i].second.c_str(), nullptr),
             y = std::strtod(vb[i].second.c_str(), nullptr);
      bool same = va[i].second == vb[i].second || (std::isnan(x) && std::isnan(y)) ||
                  std::fabs(x - y) <= 1e-9 * std::max(std::fabs(x), std::fabs(y));
      if (!same) ++diff;
    }
  }
  for (const auto& [k, vb] : b)
    if (!a.count(k)) diff += static_cast<int64_t>(vb.size());
  return diff;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int RunQueries(const Args& a) {
  int prom_port = static_cast<int>(std::atoll(a.Need("prom-port").c_str()));
  int berth_port = static_cast<int>(std::atoll(a.Need("port").c_str()));
  std::string data = a.Need("data-dir");
  int64_t end = std::atoll(a.Need("end").c_str());
  int runs = static_cast<int>(a.Int("runs", 7));
  std::vector<Query> queries;
  {
    std::ifstream f(a.Need("queries"));
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      Query q;
      size_t p1 = line.find('|'), p2 = line.find('|', p1 + 1), p3 = line.find('|', p2 + 1);
      if (p3 == std::string::npos) continue;
      q.label = line.substr(0, p1);
      q.range = std::atoll(line.substr(p1 + 1, p2 - p1 - 1).c_str());
      q.step = std::atoll(line.substr(p2 + 1, p3 - p2 - 1).c_str());
      q.expr = line.substr(p3 + 1);
      queries.push_back(q);
    }
  }
  berth::net::ClientOptions po;
  po.host = "127.0.0.1";
  po.port = prom_port;
  po.plain_http = true;
  berth::net::HttpsClient prom(po), berth_client(BerthOpts(berth_port, data));

  int rc = 0;
  for (const auto& q : queries) {
    std::string target;
    std::string e = berth::net::PercentEncode(q.expr);
    if (q.range == 0)
      target = "/api/v1/query?query=" + e + "&time=" + std::to_string(end);
    else
      target = "/api/v1/query_range?query=" + e + "&start=" + std::to_string(end - q.range) +
               "&end=" + std::to_string(end) + "&step=" + std::to_string(q.step);
    Answer ans[2];
    std::vector<double> ms_[2];
    berth::net::HttpsClient* cl[2] = {&prom, &berth_client};
    bool ok = true;
    for (int r = 0; r <= runs && ok; ++r) {
      for (int w = 0; w < 2 && ok; ++w) {
        // Alternate who goes first, so neither always finds the CPU cache
        // (or the page cache) warmed by the other.
        int who = (r % 2 == 0) ? w : 1 - w;
        auto t0 = Clock::now();
        auto resp = cl[who]->Do("GET", target);
        double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        std::string err;
        if (!resp.ok() || resp->status != 200) {
          err = resp.ok() ? std::to_string(resp->status) + " " + resp->body.substr(0, 300)
                          : resp.status().ToString();
          ok = false;
        } else if (r == 0 && !ParseAnswer(resp->body, &ans[who], &err)) {
          ok = false;
        }
        if (!ok) {
          std::fprintf(stderr, "query %s on %s failed: %s\n", q.label.c_str(),
                       who ? "berth" : "prometheus", err.c_str());
          rc = 1;
        }
        if (r > 0) ms_[who].push_back(elapsed);  // run 0 is the warm-up
      }
    }
    if (!ok) continue;
    int64_t points = 0;
    for (const auto& [k, v] : ans[0]) points += static_cast<int64_t>(v.size());
    int64_t diff = Differences(ans[0], ans[1]);
    double pm = Median(ms_[0]), bm = Median(ms_[1]);
    std::printf("query %s %.2f %.2f %.2f %zu %lld %s\n", q.label.c_str(), pm, bm, bm / pm,
                ans[0].size(), static_cast<long long>(points),
                diff == 0 ? "same" : ("differ:" + std::to_string(diff)).c_str());
    std::fflush(stdout);
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: monitor_load openmetrics|remote-write|query --flag value ...\n");
    return 2;
  }
  std::string cmd = argv[1];
  Args a;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) {
      std::fprintf(stderr, "monitor_load: unexpected %s\n", k.c_str());
      return 2;
    }
    a.kv[k.substr(2)] = argv[i + 1];
  }
  if (cmd == "openmetrics") return WriteOpenMetrics(a);
  if (cmd == "remote-write") return RemoteWrite(a);
  if (cmd == "query") return RunQueries(a);
  std::fprintf(stderr, "monitor_load: unknown command %s\n", cmd.c_str());
  return 2;
}
