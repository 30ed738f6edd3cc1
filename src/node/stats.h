// Resource usage of the node and its running containers, for the kubelet
// API's GET /stats/summary (which the API server turns into metrics.k8s.io
// for `kubectl top`).
//
// CPU is a rate, so it needs two samples: the collector keeps a short
// history of cumulative counters per container (cpuacct.usage, ns) and for
// the node (/proc/stat busy ticks) and reports the usage over the window
// since the oldest sample younger than 20 s. With no usable history yet
// (the first request) it samples twice, a second apart. Memory is the
// working set: for a container memory.usage_in_bytes minus
// total_inactive_file (what kubelet reports), for the node MemTotal minus
// MemAvailable.
//
// Summary JSON (a reduced form of kubelet's):
//   {"windowSeconds":15.0,
//    "node":{"nodeName":..,"time":RFC3339,"usageNanoCores":N,"workingSetBytes":N},
//    "pods":[{"podRef":{"namespace","name","uid"},"time":..,
//             "containers":[{"name":..,"usageNanoCores":N,"workingSetBytes":N}]}]}
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::node {

// Parsers, exposed for tests.
// Busy time of the first "cpu" line of /proc/stat, in clock ticks (all but
// idle and iowait; guest time is already inside user).
std::optional<uint64_t> ParseProcStatBusyTicks(std::string_view proc_stat);
// MemTotal - MemAvailable of /proc/meminfo, in bytes.
std::optional<int64_t> ParseMemInfoWorkingSet(std::string_view meminfo);
// usage - total_inactive_file (inactive_file if no total_), at least 0.
int64_t CgroupWorkingSet(int64_t usage_in_bytes, std::string_view memory_stat);

struct ContainerRef {
  std::string pod_namespace, pod_name, pod_uid, container;
  std::string cgroup;  // "/berth/pod<uid>/<id>", relative to each v1 controller
};

class StatsCollector {
 public:
  // `cgroup_root` is the v1 mount parent ("/sys/fs/cgroup").
  explicit StatsCollector(std::string cgroup_root = "/sys/fs/cgroup", std::string proc = "/proc");
  // The summary JSON (see above) for these running containers.
  std::string Summary(const std::string& node_name, const std::vector<ContainerRef>& containers);

 private:
  using Clock = std::chrono::steady_clock;
  struct Sample {
    Clock::time_point t;
    uint64_t value;  // cumulative CPU, ns
  };
  // Reads every counter now and records it in the history.
  std::map<std::string, uint64_t> ReadCounters(const std::vector<ContainerRef>& containers);
  void Record(const std::map<std::string, uint64_t>& counters, Clock::time_point now);
  // The oldest recorded sample of `key` at least `min_age` old; nullopt if none.
  std::optional<Sample> Base(const std::string& key, Clock::time_point now,
                             Clock::duration min_age) const;

  std::string cgroup_root_, proc_;
  std::mutex mu_;                                      // requests may overlap
  std::map<std::string, std::deque<Sample>> history_;  // key: "node" or the cgroup path
};

}  // namespace berth::node
