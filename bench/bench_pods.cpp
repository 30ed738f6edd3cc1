// Pods on a real node: start latency, agent overhead and the Service data path,
// each against a baseline measured in the same run on the same machine.
//
//  1. Baseline: `crun run --detach` of the test root file system running
//     `sleep`, N times 50 ms apart, as pods start one at a time (the raw
//     runtime, no image store, network or API); also N times back to back,
//     which is faster for a kernel reason explained at BareCrun.
//  2. Pod start latency: create -> Ready (seen on a watch) for N pods of the
//     same image, one after another, then N at once (a burst).
//     Ratio: p50 pod / p50 bare crun.
//  3. Agent overhead: server RSS with 0 and with N running pods, the shims'
//     proportional set size, and the CPU the server and shims use while the N
//     pods idle.
//  4. Service data path: wrk through a ClusterIP against straight to the pod
//     IP (busybox httpd behind both). Ratio: ClusterIP / pod IP requests/s.
//
//   bench_pods --berth build/berth --rootfs DIR [--pods 30] [--idle-seconds 10]
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench_server.h"
#include "core/json.h"

namespace {

using berth::Json;
using berth::net::HttpsClient;
using bench::Clock;
using bench::Secs;

struct Settings {
  std::string berth, rootfs, dir = "/tmp";
  int pods = 30;
  double idle_seconds = 10;
  int wrk_seconds = 5;
  bool prebind = false;  // set spec.nodeName (skips the scheduler hop)
} g;

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

// ---- 1. bare crun ----
// `gap_ms` between starts: 0 runs them back to back; pods start one at a time
// tens of milliseconds apart, and a start that follows another within ~15 ms
// finds the kernel's cgroup threadgroup lock still in its writer-friendly
// state and skips an RCU grace period (~10 ms) when it moves the container
// into its cgroups. The spaced baseline is the like-for-like one.
std::vector<double> BareCrun(const std::string& work, int gap_ms) {
  std::string bundle = work + "/bundle";
  std::filesystem::create_directories(bundle);
  Run("cd " + bundle + " && rm -f config.json && crun spec");
  std::ifstream in(bundle + "/config.json");
  Json spec = Json::parse(in);
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = {"/bin/sleep", "3600"};
  spec["root"] = {{"path", g.rootfs}, {"readonly", true}};
  std::vector<double> out;
  std::string root = work + "/crun-root";
  for (int i = 0; i < g.pods; ++i) {
    std::string id = "bench-bare-" + std::to_string(i);
    spec["linux"]["cgroupsPath"] = "/berth-bench/" + id;
    std::ofstream(bundle + "/config.json") << spec.dump();
    auto t0 = Clock::now();
    int rc = system(("crun --root " + root + " --cgroup-manager=cgroupfs run --detach --bundle " + bundle + " " + id +
                     " </dev/null >/dev/null 2>&1").c_str());
    double d = Secs(Clock::now() - t0);
    if (rc == 0) out.push_back(d);
    if (gap_ms > 0) usleep(static_cast<useconds_t>(gap_ms) * 1000);  // pacing, not synchronisation
  }
  for (int i = 0; i < g.pods; ++i)
    Run("crun --root " + root + " delete --force bench-bare-" + std::to_string(i) + " 2>/dev/null");
  rmdir("/sys/fs/cgroup/memory/berth-bench");
  Run("for d in /sys/fs/cgroup/*/berth-bench; do rmdir $d 2>/dev/null; done");
  return out;
}

// ---- pods through the API ----
class ReadyWatch {
 public:
  explicit ReadyWatch(const berth::net::ClientOptions& o) : client_(o) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ReadyWatch() {
    stop_ = true;
    client_.Interrupt();
    thread_.join();
  }
  // Blocks until `name` is Ready; returns when it was seen (or nullopt).
  std::optional<Clock::time_point> Wait(const std::string& name, double timeout_s) {
    std::unique_lock<std::mutex> l(mu_);
    bool ok = cv_.wait_for(l, std::chrono::duration<double>(timeout_s), [&] { return ready_.count(name) > 0; });
    if (!ok) return std::nullopt;
    return ready_[name];
  }

 private:
  void Run() {
    while (!stop_) {
      client_.StreamLines("GET", "/api/v1/namespaces/default/pods?watch=true", {}, [&](std::string_view line) {
        auto now = Clock::now();
        Json ev = Json::parse(line, nullptr, false);
        if (ev.is_discarded()) return !stop_;
        const Json& pod = ev["object"];
        bool ready = false;
        if (pod.contains("status") && pod["status"].contains("conditions"))
          for (const auto& c : pod["status"]["conditions"])
            ready |= c.value("type", "") == "Ready" && c.value("status", "") == "True";
        if (ready) {
          std::lock_guard<std::mutex> l(mu_);
          ready_.emplace(pod["metadata"].value("name", ""), now);
          cv_.notify_all();
        }
        return !stop_;
      });
    }
  }
  HttpsClient client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> ready_;
};

Json PodManifest(const std::string& name, const std::vector<std::string>& cmd) {
  Json pod = {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", {{"bench", "pods"}, {"app", name}}}}},
          {"spec",
           {{"terminationGracePeriodSeconds", 0},
            {"containers", {{{"name", "c"}, {"image", "busybox:bench"}, {"imagePullPolicy", "Never"}, {"command", cmd}}}}}}};
  if (g.prebind) pod["spec"]["nodeName"] = "bench-node";
  return pod;
}

const berth::net::Headers kJson = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};

// Calls fn(pid) for every berth-shim of this data dir.
template <class Fn>
void ForEachShim(const std::string& data_dir, Fn fn) {
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (!std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::ifstream cf("/proc/" + pid + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(cf)), std::istreambuf_iterator<char>());
    if (cmd.find("berth-shim") != std::string::npos && cmd.find(data_dir) != std::string::npos) fn(pid);
  }
}

long PssKbOfShims(const std::string& data_dir, int* count) {
  long total = 0;
  *count = 0;
  ForEachShim(data_dir, [&](const std::string& pid) {
    std::ifstream sf("/proc/" + pid + "/smaps_rollup");
    std::string line;
    while (std::getline(sf, line))
      if (line.rfind("Pss:", 0) == 0) total += std::atol(line.c_str() + 4);
    ++*count;
  });
  return total;
}

double CpuSecondsOfShims(const std::string& data_dir) {
  double ticks = 0;
  ForEachShim(data_dir, [&](const std::string& pid) {
    std::ifstream f("/proc/" + pid + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t at = stat.rfind(')');
    std::istringstream in(stat.substr(at + 2));
    std::string field;
    for (int i = 3; i <= 15 && in >> field; ++i)
      if (i >= 14) ticks += std::atof(field.c_str());
  });
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double WrkRate(const std::string& url) {
  std::string out = Run("wrk -t1 -c4 -d" + std::to_string(g.wrk_seconds) + "s " + url + " 2>&1");
  size_t p = out.find("Requests/sec:");
  return p == std::string::npos ? 0 : std::atof(out.c_str() + p + 13);
}

void Row(const char* metric, const std::string& value, const std::string& ratio, const char* goal) {
  std::printf("  %-46s %-24s %-14s %s\n", metric, value.c_str(), ratio.c_str(), goal);
}

std::string Fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  g.berth = (std::filesystem::path(argv[0]).parent_path() / "berth").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--berth") g.berth = next();
    else if (a == "--rootfs") g.rootfs = next();
    else if (a == "--pods") g.pods = std::atoi(next().c_str());
    else if (a == "--idle-seconds") g.idle_seconds = std::atof(next().c_str());
    else if (a == "--dir") g.dir = next();
    else if (a == "--prebind") g.prebind = true;
    else {
      std::fprintf(stderr, "usage: bench_pods --berth BIN --rootfs DIR [--pods N] [--idle-seconds S] [--dir TMP]\n");
      return 2;
    }
  }
  if (g.rootfs.empty()) {
    std::fprintf(stderr, "bench_pods: --rootfs is required (tests/images/build-busybox-rootfs.sh makes one)\n");
    return 2;
  }
  std::string work = g.dir + "/bench-pods." + std::to_string(getpid());
  std::filesystem::create_directories(work);
  bench::Server s;
  s.berth = g.berth;
  s.extra_args = {"--node-name", "bench-node"};
  s.data_dir = work + "/data";
  s.log_path = work + "/server.log";
  s.port = bench::FreePort();
  Run(g.berth + " image import " + g.rootfs + " --name busybox:bench --data-dir " + s.data_dir + " >/dev/null 2>&1");
  s.Spawn();
  if (s.WaitReady(30) < 0) {
    std::fprintf(stderr, "server did not start; see %s\n", s.log_path.c_str());
    return 1;
  }
  HttpsClient api(s.Opts());
  for (int i = 0; i < 300; ++i) {  // the node registers asynchronously
    auto r = api.Do("GET", "/api/v1/nodes/bench-node", kJson);
    if (r.ok() && r->status == 200 && r->body.find("\"KubeletReady\"") != std::string::npos) break;
    usleep(100000);
  }
  // The agent has fixed hybrid cgroups by now, so the bare runs work too.
  std::printf("bench_pods: %d pods, server %s, dir %s\n", g.pods, g.berth.c_str(), work.c_str());
  std::printf("  %-46s %-24s %-14s %s\n", "metric", "value", "ratio", "goal");
  std::vector<double> bare_b2b = BareCrun(work, 0);
  double b2b50 = Pct(bare_b2b, 0.5);
  Row("bare crun run --detach, back to back p50 / p99",
      Fmt("%.1f ms", b2b50 * 1e3) + " / " + Fmt("%.1f ms", Pct(bare_b2b, 0.99) * 1e3), "-", "-");
  std::vector<double> bare = BareCrun(work, 50);
  double bare50 = Pct(bare, 0.5);
  Row("bare crun run --detach, 50 ms apart (baseline)", Fmt("%.1f ms", bare50 * 1e3) + " / " + Fmt("%.1f ms", Pct(bare, 0.99) * 1e3),
      "1.00", "-");

  long rss0 = s.RssKb();
  std::vector<double> seq;
  {
    ReadyWatch watch(s.Opts());
    for (int i = 0; i < g.pods; ++i) {
      std::string name = "seq-" + std::to_string(i);
      auto t0 = Clock::now();
      auto r = api.Do("POST", "/api/v1/namespaces/default/pods", kJson, PodManifest(name, {"sleep", "3600"}).dump());
      if (!r.ok() || r->status != 201) {
        std::fprintf(stderr, "create %s failed\n", name.c_str());
        continue;
      }
      auto t1 = watch.Wait(name, 30);
      if (t1) seq.push_back(Secs(*t1 - t0));
    }
  }
  double seq50 = Pct(seq, 0.5), seq99 = Pct(seq, 0.99);
  Row("pod create -> Ready, sequential p50", Fmt("%.1f ms", seq50 * 1e3), Fmt("%.2fx", seq50 / bare50), "<= 3x bare crun");
  Row("  (ratio to the back-to-back bare runs)", "", Fmt("%.2fx", seq50 / b2b50), "");
  Row("pod create -> Ready, sequential p99", Fmt("%.1f ms", seq99 * 1e3), Fmt("%.2fx", seq99 / bare50), "< 1 s");

  // Idle with N pods: memory and CPU.
  usleep(2000000);  // let the start-up work settle before sampling idle cost
  long rss_n = s.RssKb();
  int shims = 0;
  long pss = PssKbOfShims(s.data_dir, &shims);
  double cpu0 = s.CpuSeconds(), shim_cpu0 = CpuSecondsOfShims(s.data_dir);
  usleep(static_cast<useconds_t>(g.idle_seconds * 1e6));
  double cpu1 = s.CpuSeconds(), shim_cpu1 = CpuSecondsOfShims(s.data_dir);
  Row("server RSS, node idle with 0 pods", Fmt("%.1f MiB", rss0 / 1024.0), "-", "<= 20 MB (agent)");
  Row("server RSS growth per running pod", Fmt("%.0f KiB", (rss_n - rss0) / std::max(1, g.pods) * 1.0), "-", "-");
  Row("shim PSS per running pod", Fmt("%.0f KiB", shims ? pss / double(shims) : 0), "(" + std::to_string(shims) + " shims)", "-");
  Row("per pod: RSS growth + shim PSS",
      Fmt("%.2f MiB", ((rss_n - rss0) / std::max(1, g.pods) + (shims ? pss / double(shims) : 0)) / 1024.0), "-",
      "<= 1 MB per pod");
  Row("idle CPU, server + shims, N pods running",
      Fmt("%.2f %% of a core", 100.0 * ((cpu1 - cpu0) + (shim_cpu1 - shim_cpu0)) / g.idle_seconds), "-", "< 1 %");

  // Burst: N more at once.
  std::vector<double> burst;
  double burst_total = 0;
  {
    ReadyWatch watch(s.Opts());
    std::vector<Clock::time_point> t0(g.pods);
    auto start = Clock::now();
    for (int i = 0; i < g.pods; ++i) {
      t0[i] = Clock::now();
      api.Do("POST", "/api/v1/namespaces/default/pods", kJson,
             PodManifest("burst-" + std::to_string(i), {"sleep", "3600"}).dump());
    }
    for (int i = 0; i < g.pods; ++i) {
      auto t1 = watch.Wait("burst-" + std::to_string(i), 60);
      if (t1) burst.push_back(Secs(*t1 - t0[i]));
    }
    burst_total = Secs(Clock::now() - start);
  }
  Row("pod create -> Ready, burst of N: p50 / p99",
      Fmt("%.0f ms", Pct(burst, 0.5) * 1e3) + " / " + Fmt("%.0f ms", Pct(burst, 0.99) * 1e3), "-", "p99 < 5 s (SLO)");
  Row("burst of N: all Ready after", Fmt("%.2f s", burst_total), Fmt("%.1f pods/s", g.pods / burst_total), "-");

  // Service data path.
  api.Do("POST", "/api/v1/namespaces/default/pods", kJson,
         PodManifest("web", {"httpd", "-f", "-p", "8080", "-h", "/www"}).dump());
  Json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}}},
              {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}};
  auto sr = api.Do("POST", "/api/v1/namespaces/default/services", kJson, svc.dump());
  std::string cluster_ip, pod_ip;
  if (sr.ok() && sr->status == 201) cluster_ip = Json::parse(sr->body)["spec"].value("clusterIP", "");
  for (int i = 0; i < 200 && pod_ip.empty(); ++i) {
    auto r = api.Do("GET", "/api/v1/namespaces/default/pods/web", kJson);
    if (r.ok() && r->status == 200) pod_ip = Json::parse(r->body)["status"].value("podIP", "");
    usleep(50000);
  }
  bool reach = false;
  for (int i = 0; i < 100 && !reach; ++i) {
    reach = Run("curl -s --max-time 1 http://" + cluster_ip + "/index.html").find("hello") != std::string::npos;
    if (!reach) usleep(100000);
  }
  if (!pod_ip.empty() && reach) {
    double direct = WrkRate("http://" + pod_ip + ":8080/index.html");
    double via = WrkRate("http://" + cluster_ip + "/index.html");
    Row("wrk straight to the pod IP (baseline)", Fmt("%.0f req/s", direct), "1.00", "-");
    Row("wrk through the ClusterIP", Fmt("%.0f req/s", via), Fmt("%.2f", via / direct), ">= 0.9");
  } else {
    Row("service data path", "not measured", "-", "(ClusterIP not reachable)");
  }

  // Clean up: every pod, then the server.
  api.Do("DELETE", "/api/v1/namespaces/default/services/web", kJson);
  api.Do("DELETE", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dpods", kJson);
  for (int i = 0; i < 600; ++i) {
    auto r = api.Do("GET", "/api/v1/namespaces/default/pods", kJson);
    if (r.ok() && Json::parse(r->body)["items"].empty()) break;
    usleep(100000);
  }
  s.Stop();
  Run(g.berth + " reset --data-dir " + s.data_dir + " >/dev/null 2>&1");
  std::filesystem::remove_all(work);
  return 0;
}
