// Store write throughput against the disk's raw SQLite commit rate.
//
//   bench_store [seconds_per_phase=3] [dir=$TMPDIR]
//
// (a) raw SQLite: one-row INSERT per transaction, WAL, synchronous=FULL, one
//     thread: the rate of durable commits this disk sustains, the baseline.
// (b) Store::Create, 1 thread and 16 threads; (c) Store::Update, likewise.
//     Each is reported as a ratio to (a): above 1 means group commit made a
//     durable write cheaper than a durable commit.
// (d) Re-open with 10,000 stored objects: time to a usable store.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using berth::store::OpenSqlite;
using berth::store::SqliteOptions;
using berth::store::Store;

double g_phase_seconds = 3;

struct PhaseResult {
  double rate = 0;  // operations per second
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t ops = 0;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

PhaseResult Summarise(std::vector<double> lat, Clock::duration elapsed) {
  PhaseResult r;
  r.ops = static_cast<int64_t>(lat.size());
  r.rate = r.ops / std::chrono::duration<double>(elapsed).count();
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    r.p50_ms = lat[lat.size() / 2];
    r.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  }
  return r;
}

// A Kubernetes-object-sized JSON value (~1 KiB).
std::string Value(int i) {
  std::string v = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-)" +
                  std::to_string(i) +
                  R"(","namespace":"default","labels":{"app":"bench"}},"data":{"k":")";
  v.append(900, 'x');
  v += "\"}}";
  return v;
}

bool Check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return true;
  std::fprintf(stderr, "raw sqlite %s: %s\n", what, sqlite3_errmsg(db));
  return false;
}

PhaseResult RawSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  PhaseResult none;
  if (!Check(sqlite3_open(path.c_str(), &db), db, "open")) return none;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)", nullptr, nullptr,
               nullptr);
  sqlite3_stmt *begin, *ins, *commit;
  sqlite3_prepare_v2(db, "BEGIN", -1, &begin, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES (?1, ?2)", -1, &ins, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
  std::vector<double> lat;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(g_phase_seconds);
  for (int i = 0; Clock::now() < deadline; ++i) {
    std::string k = "/registry/configmaps/default/cm-" + std::to_string(i);
    std::string v = Value(i);
    auto t0 = Clock::now();
    sqlite3_step(begin);
    sqlite3_reset(begin);
    sqlite3_bind_text(ins, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    if (!Check(sqlite3_step(ins), db, "insert")) break;
    sqlite3_reset(ins);
    if (!Check(sqlite3_step(commit), db, "commit")) break;
    sqlite3_reset(commit);
    lat.push_back(Ms(Clock::now() - t0));
  }
  auto r = Summarise(std::move(lat), Clock::now() - start);
  sqlite3_finalize(begin);
  sqlite3_finalize(ins);
  sqlite3_finalize(commit);
  sqlite3_close(db);
  return r;
}

// Runs `op(thread, i)` from `threads` threads until the phase deadline.
template <class Op>
PhaseResult Drive(int threads, Op op) {
  std::vector<std::vector<double>> lat(threads);
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(g_phase_seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; Clock::now() < deadline && !failed; ++i) {
        auto t0 = Clock::now();
        if (!op(t, i)) {
          failed = true;
          break;
        }
        lat[t].push_back(Ms(Clock::now() - t0));
      }
    });
  }
  for (auto& th : ts) th.join();
  auto elapsed = Clock::now() - start;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  if (failed) std::fprintf(stderr, "a write failed; results are partial\n");
  return Summarise(std::move(all), elapsed);
}

void Print(const char* name, const PhaseResult& r, double baseline) {
  std::printf("%-34s %9.0f ops/s  x%5.2f of raw   p50 %7.2f ms  p99 %7.2f ms  (%lld ops)\n", name,
              r.rate, baseline > 0 ? r.rate / baseline : 0.0, r.p50_ms, r.p99_ms,
              static_cast<long long>(r.ops));
}

std::string Key(int t, int i) {
  return "/registry/configmaps/ns-" + std::to_string(t) + "/cm-" + std::to_string(i);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_phase_seconds = std::max(0.2, std::atof(argv[1]));
  std::string base = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
  std::string tmpl = base + "/bench-store-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  std::printf("bench_store: %.1f s per phase, dir %s, value %zu bytes\n", g_phase_seconds,
              dir.c_str(), Value(0).size());

  PhaseResult raw = RawSqlite(dir + "/raw.db");
  Print("(a) raw sqlite commit (1 thread)", raw, raw.rate);

  SqliteOptions opts;
  opts.path = dir + "/store.db";
  auto opened = OpenSqlite(opts);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Store> s = std::move(opened).value();

  // Each create phase writes its own keys; the counts feed the update phases.
  std::vector<std::atomic<int>> created(64);
  auto create_phase = [&](int threads, int key_base) {
    return Drive(threads, [&, key_base](int t, int i) {
      auto r = s->Create(Key(key_base + t, i), Value(i));
      if (r.ok()) created[key_base + t] = i + 1;
      return r.ok();
    });
  };
  Print("(b) Store.Create 1 thread", create_phase(1, 0), raw.rate);
  Print("(b) Store.Create 16 threads", create_phase(16, 16), raw.rate);

  // Updates cycle over the keys created above, unconditionally (CAS cost is
  // the same lookup either way).
  auto update_phase = [&](int threads, int key_base) {
    return Drive(threads, [&, key_base](int t, int i) {
      int n = std::max(1, created[key_base + t].load());
      auto r = s->Update(Key(key_base + t, i % n), Value(i), 0);
      return r.ok();
    });
  };
  Print("(c) Store.Update 1 thread", update_phase(1, 0), raw.rate);
  Print("(c) Store.Update 16 threads", update_phase(16, 16), raw.rate);

  // (d) Start-up with 10,000 objects.
  auto count = s->Count("/registry/");
  int64_t have = count.ok() ? *count : 0;
  if (have < 10000) {
    int need = static_cast<int>(10000 - have);
    std::vector<std::thread> ts;
    for (int t = 0; t < 32; ++t) {
      ts.emplace_back([&, t] {
        for (int i = t; i < need; i += 32) (void)s->Create(Key(100, i), Value(i));
      });
    }
    for (auto& th : ts) th.join();
  }
  int64_t objects = *s->Count("/registry/");
  int64_t size = s->SizeBytes();
  s->Close();
  s.reset();
  auto t0 = Clock::now();
  auto again = OpenSqlite(opts);
  if (!again.ok()) {
    std::fprintf(stderr, "reopen: %s\n", again.status().ToString().c_str());
    return 1;
  }
  auto t1 = Clock::now();
  auto first = (*again)->List(
      {.prefix = "/registry/configmaps/ns-0/", .start_after = "", .limit = 500, .revision = 0});
  auto t2 = Clock::now();
  std::printf("(d) reopen with %lld objects (%.1f MiB): open %.2f ms, first List(500) %.2f ms\n",
              static_cast<long long>(objects), size / 1048576.0, Ms(t1 - t0), Ms(t2 - t1));
  (void)first;
  (*again)->Close();

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
