#include "node/stats.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/file.h"
#include "core/time.h"

namespace berth::node {

namespace {

constexpr auto kMaxWindow = std::chrono::seconds(20);
constexpr auto kMinWindow = std::chrono::seconds(1);
constexpr const char* kNodeKey = "node";

// The value of "key <number>" lines (first match), as in memory.stat and
// /proc/meminfo ("MemTotal:       16316412 kB").
std::optional<int64_t> KeyedValue(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.substr(0, key.size()) != key) continue;
    std::string_view rest = line.substr(key.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != ':' && rest[0] != '\t')) continue;
    std::string num(rest);
    char* end = nullptr;
    long long v = std::strtoll(num.c_str() + num.find_first_not_of(" :\t"), &end, 10);
    return static_cast<int64_t>(v);
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadU64(const std::string& path) {
  auto s = ReadFile(path);
  if (!s.ok() || s->empty()) return std::nullopt;
  return std::strtoull(s->c_str(), nullptr, 10);
}

}  // namespace

std::optional<uint64_t> ParseProcStatBusyTicks(std::string_view proc_stat) {
  if (proc_stat.substr(0, 4) != "cpu ") return std::nullopt;
  size_t eol = proc_stat.find('\n');
  std::string line(
      proc_stat.substr(4, eol == std::string_view::npos ? std::string_view::npos : eol - 4));
  // user nice system idle iowait irq softirq steal [guest guest_nice]
  uint64_t v[8] = {0};
  const char* p = line.c_str();
  int n = 0;
  for (; n < 8; ++n) {
    char* end = nullptr;
    v[n] = std::strtoull(p, &end, 10);
    if (end == p) break;
    p = end;
  }
  if (n < 4) return std::nullopt;
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

std::optional<int64_t> ParseMemInfoWorkingSet(std::string_view meminfo) {
  auto total = KeyedValue(meminfo, "MemTotal");
  auto avail = KeyedValue(meminfo, "MemAvailable");
  if (!total || !avail) return std::nullopt;
  return std::max<int64_t>(0, *total - *avail) * 1024;
}

int64_t CgroupWorkingSet(int64_t usage_in_bytes, std::string_view memory_stat) {
  auto inactive = KeyedValue(memory_stat, "total_inactive_file");
  if (!inactive) inactive = KeyedValue(memory_stat, "inactive_file");
  return std::max<int64_t>(0, usage_in_bytes - inactive.value_or(0));
}

StatsCollector::StatsCollector(std::string cgroup_root, std::string proc)
    : cgroup_root_(std::move(cgroup_root)), proc_(std::move(proc)) {}

std::map<std::string, uint64_t> StatsCollector::ReadCounters(
    const std::vector<ContainerRef>& containers) {
  std::map<std::string, uint64_t> out;
  if (auto stat = ReadFile(proc_ + "/stat"); stat.ok()) {
    if (auto busy = ParseProcStatBusyTicks(*stat)) {
      long hz = sysconf(_SC_CLK_TCK);
      out[kNodeKey] = *busy * (1000000000ULL / static_cast<uint64_t>(hz > 0 ? hz : 100));
    }
  }
  for (const auto& c : containers)
    if (auto v = ReadU64(cgroup_root_ + "/cpuacct" + c.cgroup + "/cpuacct.usage"))
      out[c.cgroup] = *v;
  return out;
}

void StatsCollector::Record(const std::map<std::string, uint64_t>& counters,
                            Clock::time_point now) {
  for (const auto& [key, v] : counters) {
    auto& h = history_[key];
    // One sample per second is plenty and bounds the history.
    if (h.empty() || now - h.back().t >= kMinWindow) h.push_back({now, v});
    while (h.size() > 1 && now - h.front().t > kMaxWindow) h.pop_front();
  }
  // Containers that are gone.
  for (auto it = history_.begin(); it != history_.end();) {
    if (!counters.count(it->first) && !it->second.empty() && now - it->second.back().t > kMaxWindow)
      it = history_.erase(it);
    else
      ++it;
  }
}

std::optional<StatsCollector::Sample> StatsCollector::Base(const std::string& key,
                                                           Clock::time_point now,
                                                           Clock::duration min_age) const {
  auto it = history_.find(key);
  if (it == history_.end()) return std::nullopt;
  for (const auto& s : it->second)
    if (now - s.t <= kMaxWindow && now - s.t >= min_age) return s;
  return std::nullopt;
}

std::string StatsCollector::Summary(const std::string& node_name,
                                    const std::vector<ContainerRef>& containers) {
  std::lock_guard<std::mutex> l(mu_);
  auto now = Clock::now();
  auto counters = ReadCounters(containers);
  bool ready = true;
  for (const auto& [key, v] : counters) ready &= Base(key, now, kMinWindow).has_value();
  Record(counters, now);
  if (!ready) {
    // No earlier sample for some counter: measure over one second now
    // rather than report nothing (a rate needs a window).
    std::this_thread::sleep_for(kMinWindow);
    now = Clock::now();
    counters = ReadCounters(containers);
    Record(counters, now);
  }
  auto rate = [&](const std::string& key, double* window) -> std::optional<int64_t> {
    auto cur = counters.find(key);
    if (cur == counters.end()) return std::nullopt;
    auto base = Base(key, now, std::chrono::milliseconds(500));
    if (!base) return std::nullopt;
    double secs = std::chrono::duration<double>(now - base->t).count();
    if (window) *window = secs;
    uint64_t delta = cur->second >= base->value ? cur->second - base->value : 0;
    return static_cast<int64_t>(static_cast<double>(delta) / secs);
  };
  std::string ts = FormatRFC3339(NowSeconds());
  nlohmann::json out;
  double window = 0;
  nlohmann::json node = {{"nodeName", node_name}, {"time", ts}};
  if (auto cpu = rate(kNodeKey, &window)) node["usageNanoCores"] = *cpu;
  if (auto mi = ReadFile(proc_ + "/meminfo"); mi.ok())
    if (auto ws = ParseMemInfoWorkingSet(*mi)) node["workingSetBytes"] = *ws;
  out["node"] = node;
  out["windowSeconds"] = window;
  std::map<std::string, nlohmann::json> pods;  // uid -> pod entry
  for (const auto& c : containers) {
    auto cpu = rate(c.cgroup, nullptr);
    auto usage = ReadU64(cgroup_root_ + "/memory" + c.cgroup + "/memory.usage_in_bytes");
    if (!cpu || !usage) continue;  // gone, or too new for a rate
    auto mstat = ReadFile(cgroup_root_ + "/memory" + c.cgroup + "/memory.stat");
    nlohmann::json& p = pods[c.pod_uid];
    if (p.is_null())
      p = {{"podRef", {{"namespace", c.pod_namespace}, {"name", c.pod_name}, {"uid", c.pod_uid}}},
           {"time", ts},
           {"containers", nlohmann::json::array()}};
    p["containers"].push_back({{"name", c.container},
                               {"usageNanoCores", *cpu},
                               {"workingSetBytes", CgroupWorkingSet(static_cast<int64_t>(*usage),
                                                                    mstat.ok() ? *mstat : "")}});
  }
  out["pods"] = nlohmann::json::array();
  for (auto& [uid, p] : pods) out["pods"].push_back(std::move(p));
  return out.dump();
}

}  // namespace berth::node
