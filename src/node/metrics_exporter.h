// Node and container metrics in the Prometheus text format (0.0.4), under
// the names and labels of node_exporter and of kubelet's cAdvisor, so that
// existing dashboards ("Node Exporter Full", the kubernetes-mixin ones) work
// against Berth's kubelet API:
//
//   GET /metrics/node      node_exporter's main collectors: cpu, stat,
//                          loadavg, meminfo, netdev, filesystem, diskstats,
//                          time, uname (plus node_scrape_collector_*)
//   GET /metrics/cadvisor  container_* per container cgroup, per pod cgroup
//                          and for the root cgroup "/", machine_*
//
// Everything is read fresh from procfs, sysfs and the cgroup v1 controllers
// at render time; the exporter keeps no state, so two scrapes never interfere.
// All roots are configurable so tests can point them at sample trees.
//
// Series layout of /metrics/cadvisor (as kubelet's cAdvisor does it):
//   id="/"                  the whole machine; all other labels empty
//   id="/berth/pod<uid>"    the pod cgroup: container="", pod, namespace;
//                           it also carries the pod's network series
//   id="/berth/pod<uid>/<runtime id>"  each running container: container,
//                           pod, namespace, image, name=<runtime id>
// Dashboards select containers with container!="" (and image!=""), and sum
// network per pod with no container filter; there is one netns per pod and
// so exactly one network series per pod and interface.
//
// Only cgroup v1 (or hybrid) hierarchies are read (this machine's layout).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::node {

struct MetricsExporterOptions {
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  // The parent of the v1 controller mounts; empty = <sys_root>/fs/cgroup.
  std::string cgroup_root;
  // Prefix for statvfs of mount points (node_exporter's --path.rootfs);
  // labels keep the mount point as listed.
  std::string rootfs;
  // Mount points under these prefixes are left out (besides node_exporter's
  // default exclusions): Berth's own per-pod tmpfs would otherwise add a
  // series per pod.
  std::vector<std::string> excluded_mount_prefixes;
  long user_hz = 0;  // clock ticks per second of /proc/stat; 0 = sysconf
};

// A running container as the kubelet knows it. `cgroup` is relative to each
// v1 controller ("/berth/pod<uid>/<runtime id>"); its pod cgroup is its
// parent directory.
struct ContainerMeta {
  std::string pod_namespace, pod_name, pod_uid, container, image;
  std::string cgroup;
};

class MetricsExporter {
 public:
  explicit MetricsExporter(MetricsExporterOptions opts = {});

  // The /metrics/node body. Collectors that fail are left out and reported
  // by node_scrape_collector_success 0; the render itself never fails.
  std::string NodeMetrics() const;
  // The /metrics/cadvisor body for these running containers. A container
  // whose cgroup is gone (it just exited) is left out.
  std::string CadvisorMetrics(const std::vector<ContainerMeta>& containers) const;

 private:
  MetricsExporterOptions opts_;
};

// ---- Parsers of kernel files, exposed for tests. Malformed input is an
// Invalid status; unknown extra fields are ignored. ----

// One "cpuN" line of /proc/stat in ticks: user nice system idle iowait irq
// softirq steal (missing trailing fields are 0).
struct CpuTicks {
  std::string cpu;  // "0", "1", ...
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
};
struct ProcStat {
  std::vector<CpuTicks> cpus;  // per CPU; the "cpu " total line is not kept
  std::optional<uint64_t> boot_time, context_switches, interrupts, forks;
  std::optional<uint64_t> procs_running, procs_blocked;
};
Result<ProcStat> ParseProcStat(std::string_view text);

struct LoadAvg {
  double load1 = 0, load5 = 0, load15 = 0;
};
Result<LoadAvg> ParseLoadAvg(std::string_view text);

// /proc/meminfo, in file order. `bytes` tells whether the line had a kB unit
// (then `value` is already × 1024).
struct MemInfoEntry {
  std::string key;  // as written: "MemTotal", "Active(anon)"
  uint64_t value = 0;
  bool bytes = false;
};
Result<std::vector<MemInfoEntry>> ParseMemInfo(std::string_view text);

struct NetDevStats {
  std::string device;
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errs = 0, rx_drop = 0, rx_fifo = 0, rx_frame = 0,
           rx_compressed = 0, rx_multicast = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errs = 0, tx_drop = 0, tx_fifo = 0, tx_colls = 0,
           tx_carrier = 0, tx_compressed = 0;
};
// /proc/net/dev (also /proc/<pid>/net/dev: the counters of that process's
// network namespace).
Result<std::vector<NetDevStats>> ParseNetDev(std::string_view text);

struct MountEntry {
  std::string device, mount_point, fstype, options;
};
// /proc/mounts; octal escapes (\040 for a blank) are decoded.
Result<std::vector<MountEntry>> ParseMounts(std::string_view text);
// node_exporter's default fstype and mount point exclusions.
bool IsIgnoredFilesystem(const MountEntry& m);

struct DiskStats {
  std::string device;
  uint64_t reads = 0, reads_merged = 0, sectors_read = 0, read_ms = 0;
  uint64_t writes = 0, writes_merged = 0, sectors_written = 0, write_ms = 0;
  uint64_t io_in_progress = 0, io_ms = 0, weighted_io_ms = 0;
};
Result<std::vector<DiskStats>> ParseDiskStats(std::string_view text);

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat): the value of
// `key`, nullopt if absent.
std::optional<uint64_t> StatValue(std::string_view text, std::string_view key);

}  // namespace berth::node
