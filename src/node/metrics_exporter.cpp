#include "node/metrics_exporter.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "core/file.h"
#include "core/metrics.h"

namespace berth::node {

namespace {

// ---- exposition ----

using LabelList = std::vector<std::pair<const char*, std::string>>;

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Integers as integers ("100000", not "1e+05"); counters in bytes stay
  // exact up to 2^53.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Otherwise the shortest form that reads back as the same double.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

// Collects samples per family so that each family is written once, with its
// HELP and TYPE lines, however the collectors interleave.
class Exposition {
 public:
  void Declare(const std::string& name, const char* type, const std::string& help) {
    auto [it, added] = fams_.try_emplace(name);
    if (added) order_.push_back(name);
    it->second.type = type;
    it->second.help = help;
  }
  void Add(const std::string& name, const LabelList& labels, double v) {
    auto [it, added] = fams_.try_emplace(name);
    if (added) {
      order_.push_back(name);
      it->second.type = "untyped";
    }
    std::string& b = it->second.body;
    b += name;
    if (!labels.empty()) {
      b += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) b += ',';
        b += labels[i].first;
        b += "=\"";
        b += metrics::EscapeLabel(labels[i].second);
        b += '"';
      }
      b += '}';
    }
    b += ' ';
    b += FormatValue(v);
    b += '\n';
  }
  // Declare + Add, for families with one sample.
  void One(const std::string& name, const char* type, const std::string& help,
           const LabelList& labels, double v) {
    Declare(name, type, help);
    Add(name, labels, v);
  }
  std::string Render() const {
    std::string out;
    for (const auto& name : order_) {
      const Family& f = fams_.at(name);
      if (f.body.empty()) continue;  // a family without samples says nothing
      if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
      out += "# TYPE " + name + " " + f.type + "\n";
      out += f.body;
    }
    return out;
  }

 private:
  struct Family {
    std::string type, help, body;
  };
  std::vector<std::string> order_;
  std::map<std::string, Family> fams_;
};

// ---- text helpers ----

template <class Fn>
void ForEachLine(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    fn(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ToU64(std::string_view s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ToDouble(std::string_view s, double* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\n");
  return std::string(s.substr(a, b - a + 1));
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::optional<uint64_t> ReadU64(const std::string& path) {
  auto s = ReadFile(path);
  if (!s.ok()) return std::nullopt;
  uint64_t v = 0;
  if (!ToU64(Trim(*s), &v)) return std::nullopt;
  return v;
}

// cfs_quota_us is -1 without a quota.
std::optional<int64_t> ReadI64(const std::string& path) {
  auto s = ReadFile(path);
  if (!s.ok()) return std::nullopt;
  std::string t = Trim(*s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return v;
}

double NowSecondsF() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// node_exporter's metric name for a meminfo key: "Active(anon)" ->
// "Active_anon".
std::string MemInfoMetricName(const MemInfoEntry& e) {
  std::string n = "node_memory_";
  for (char c : e.key) {
    if (c == ')') continue;
    n += (isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  }
  if (e.bytes) n += "_bytes";
  return n;
}

}  // namespace

// ---- parsers ----

Result<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat st;
  Status err;
  ForEachLine(text, [&](std::string_view line) {
    if (!err.ok()) return;
    auto f = Fields(line);
    if (f.empty()) return;
    auto single = [&](std::optional<uint64_t>* out) {
      uint64_t v = 0;
      if (f.size() >= 2 && ToU64(f[1], &v)) *out = v;
    };
    if (StartsWith(f[0], "cpu")) {
      if (f[0] == "cpu") return;  // the total; dashboards sum the per-CPU lines
      CpuTicks c;
      c.cpu = std::string(f[0].substr(3));
      uint64_t* dst[] = {&c.user,   &c.nice, &c.system,  &c.idle,
                         &c.iowait, &c.irq,  &c.softirq, &c.steal};
      size_t n = std::min<size_t>(f.size() - 1, 8);
      if (n < 4) {
        err = Invalid("/proc/stat: short line for " + std::string(f[0]));
        return;
      }
      for (size_t i = 0; i < n; ++i) {
        if (!ToU64(f[i + 1], dst[i])) {
          err = Invalid("/proc/stat: bad number in line for " + std::string(f[0]));
          return;
        }
      }
      st.cpus.push_back(std::move(c));
    } else if (f[0] == "btime") {
      single(&st.boot_time);
    } else if (f[0] == "ctxt") {
      single(&st.context_switches);
    } else if (f[0] == "intr") {
      single(&st.interrupts);  // the first number is the total
    } else if (f[0] == "processes") {
      single(&st.forks);
    } else if (f[0] == "procs_running") {
      single(&st.procs_running);
    } else if (f[0] == "procs_blocked") {
      single(&st.procs_blocked);
    }
  });
  if (!err.ok()) return err;
  if (st.cpus.empty()) return Invalid("/proc/stat: no cpuN lines");
  return st;
}

Result<LoadAvg> ParseLoadAvg(std::string_view text) {
  std::string trimmed = Trim(text);  // Fields returns views into it
  auto f = Fields(trimmed);
  LoadAvg l;
  if (f.size() < 3 || !ToDouble(f[0], &l.load1) || !ToDouble(f[1], &l.load5) ||
      !ToDouble(f[2], &l.load15))
    return Invalid("/proc/loadavg: expected three load averages");
  return l;
}

Result<std::vector<MemInfoEntry>> ParseMemInfo(std::string_view text) {
  std::vector<MemInfoEntry> out;
  Status err;
  ForEachLine(text, [&](std::string_view line) {
    if (!err.ok() || Trim(line).empty()) return;
    size_t colon = line.find(':');
    auto f = Fields(colon == std::string_view::npos ? "" : line.substr(colon + 1));
    MemInfoEntry e;
    if (colon == std::string_view::npos || f.empty() || !ToU64(f[0], &e.value)) {
      err = Invalid("/proc/meminfo: bad line \"" + std::string(line) + "\"");
      return;
    }
    e.key = Trim(line.substr(0, colon));
    if (f.size() > 1 && f[1] == "kB") {
      e.bytes = true;
      e.value *= 1024;
    }
    out.push_back(std::move(e));
  });
  if (!err.ok()) return err;
  if (out.empty()) return Invalid("/proc/meminfo: empty");
  return out;
}

Result<std::vector<NetDevStats>> ParseNetDev(std::string_view text) {
  std::vector<NetDevStats> out;
  Status err;
  ForEachLine(text, [&](std::string_view line) {
    if (!err.ok()) return;
    size_t colon = line.find(':');
    // The two header lines have '|' and no ':'.
    if (colon == std::string_view::npos) return;
    NetDevStats d;
    d.device = Trim(line.substr(0, colon));
    auto f = Fields(line.substr(colon + 1));
    uint64_t* dst[] = {&d.rx_bytes, &d.rx_packets, &d.rx_errs,       &d.rx_drop,
                       &d.rx_fifo,  &d.rx_frame,   &d.rx_compressed, &d.rx_multicast,
                       &d.tx_bytes, &d.tx_packets, &d.tx_errs,       &d.tx_drop,
                       &d.tx_fifo,  &d.tx_colls,   &d.tx_carrier,    &d.tx_compressed};
    if (d.device.empty() || f.size() < 16) {
      err = Invalid("/proc/net/dev: bad line \"" + std::string(line) + "\"");
      return;
    }
    for (size_t i = 0; i < 16; ++i) {
      if (!ToU64(f[i], dst[i])) {
        err = Invalid("/proc/net/dev: bad number for " + d.device);
        return;
      }
    }
    out.push_back(std::move(d));
  });
  if (!err.ok()) return err;
  return out;
}

namespace {
// Mount fields escape blanks, tabs, newlines and backslashes as \ooo.
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

Result<std::vector<MountEntry>> ParseMounts(std::string_view text) {
  std::vector<MountEntry> out;
  Status err;
  ForEachLine(text, [&](std::string_view line) {
    if (!err.ok() || Trim(line).empty()) return;
    auto f = Fields(line);
    if (f.size() < 4) {
      err = Invalid("mounts: bad line \"" + std::string(line) + "\"");
      return;
    }
    out.push_back({UnescapeMountField(f[0]), UnescapeMountField(f[1]), UnescapeMountField(f[2]),
                   std::string(f[3])});
  });
  if (!err.ok()) return err;
  return out;
}

bool IsIgnoredFilesystem(const MountEntry& m) {
  static const std::set<std::string_view> kTypes = {
      "autofs",     "binfmt_misc", "bpf",       "cgroup",   "cgroup2",   "configfs",
      "debugfs",    "devpts",      "devtmpfs",  "fusectl",  "hugetlbfs", "iso9660",
      "mqueue",     "nsfs",        "overlay",   "proc",     "procfs",    "pstore",
      "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs", "sysfs",     "tracefs"};
  if (kTypes.count(m.fstype)) return true;
  const std::string& p = m.mount_point;
  for (std::string_view top : {"/dev", "/proc", "/sys"})
    if (p == top || StartsWith(p, std::string(top) + "/")) return true;
  // These match only strictly below the directory, as in node_exporter.
  for (std::string_view below :
       {"/run/credentials/", "/var/lib/docker/", "/var/lib/containers/storage/"})
    if (StartsWith(p, below) && p.size() > below.size()) return true;
  return false;
}

Result<std::vector<DiskStats>> ParseDiskStats(std::string_view text) {
  std::vector<DiskStats> out;
  Status err;
  ForEachLine(text, [&](std::string_view line) {
    if (!err.ok() || Trim(line).empty()) return;
    auto f = Fields(line);
    DiskStats d;
    uint64_t* dst[] = {&d.reads,          &d.reads_merged,  &d.sectors_read,    &d.read_ms,
                       &d.writes,         &d.writes_merged, &d.sectors_written, &d.write_ms,
                       &d.io_in_progress, &d.io_ms,         &d.weighted_io_ms};
    if (f.size() < 14) {
      err = Invalid("/proc/diskstats: short line \"" + std::string(line) + "\"");
      return;
    }
    d.device = std::string(f[2]);
    for (size_t i = 0; i < 11; ++i) {
      if (!ToU64(f[i + 3], dst[i])) {
        err = Invalid("/proc/diskstats: bad number for " + d.device);
        return;
      }
    }
    out.push_back(std::move(d));
  });
  if (!err.ok()) return err;
  return out;
}

std::optional<uint64_t> StatValue(std::string_view text, std::string_view key) {
  std::optional<uint64_t> out;
  ForEachLine(text, [&](std::string_view line) {
    if (out) return;
    auto f = Fields(line);
    uint64_t v = 0;
    if (f.size() >= 2 && f[0] == key && ToU64(f[1], &v)) out = v;
  });
  return out;
}

// ---- the exporter ----

MetricsExporter::MetricsExporter(MetricsExporterOptions opts) : opts_(std::move(opts)) {
  if (opts_.cgroup_root.empty()) opts_.cgroup_root = opts_.sys_root + "/fs/cgroup";
  if (opts_.user_hz <= 0) {
    long hz = sysconf(_SC_CLK_TCK);
    opts_.user_hz = hz > 0 ? hz : 100;
  }
}

namespace {

constexpr const char* kCounter = "counter";
constexpr const char* kGauge = "gauge";

Status CollectCpuAndStat(const MetricsExporterOptions& o, Exposition& e, bool* stat_ok) {
  *stat_ok = false;
  auto text = ReadFile(o.proc_root + "/stat");
  if (!text.ok()) return text.status();
  auto st = ParseProcStat(*text);
  if (!st.ok()) return st.status();
  const double hz = static_cast<double>(o.user_hz);
  const char* name = "node_cpu_seconds_total";
  e.Declare(name, kCounter, "Seconds the CPUs spent in each mode.");
  for (const auto& c : st->cpus) {
    std::pair<const char*, uint64_t> modes[] = {
        {"idle", c.idle},       {"iowait", c.iowait}, {"irq", c.irq},       {"nice", c.nice},
        {"softirq", c.softirq}, {"steal", c.steal},   {"system", c.system}, {"user", c.user}};
    for (auto [mode, ticks] : modes)
      e.Add(name, {{"cpu", c.cpu}, {"mode", mode}}, static_cast<double>(ticks) / hz);
  }
  // The "stat" collector of node_exporter: the rest of /proc/stat.
  auto opt = [&](const std::optional<uint64_t>& v, const char* n, const char* type,
                 const char* help) {
    if (v) e.One(n, type, help, {}, static_cast<double>(*v));
  };
  opt(st->boot_time, "node_boot_time_seconds", kGauge, "Node boot time, in unixtime.");
  opt(st->context_switches, "node_context_switches_total", kCounter,
      "Total number of context switches.");
  opt(st->interrupts, "node_intr_total", kCounter, "Total number of interrupts serviced.");
  opt(st->forks, "node_forks_total", kCounter, "Total number of forks.");
  opt(st->procs_running, "node_procs_running", kGauge, "Number of processes in runnable state.");
  opt(st->procs_blocked, "node_procs_blocked", kGauge,
      "Number of processes blocked waiting for I/O to complete.");
  *stat_ok = st->boot_time.has_value();
  return Status::Ok();
}

Status CollectLoadAvg(const MetricsExporterOptions& o, Exposition& e) {
  auto text = ReadFile(o.proc_root + "/loadavg");
  if (!text.ok()) return text.status();
  auto l = ParseLoadAvg(*text);
  if (!l.ok()) return l.status();
  e.One("node_load1", kGauge, "1m load average.", {}, l->load1);
  e.One("node_load5", kGauge, "5m load average.", {}, l->load5);
  e.One("node_load15", kGauge, "15m load average.", {}, l->load15);
  return Status::Ok();
}

Status CollectMemInfo(const MetricsExporterOptions& o, Exposition& e) {
  auto text = ReadFile(o.proc_root + "/meminfo");
  if (!text.ok()) return text.status();
  auto mi = ParseMemInfo(*text);
  if (!mi.ok()) return mi.status();
  for (const auto& m : *mi)
    e.One(MemInfoMetricName(m), kGauge,
          "Memory information field " + MemInfoMetricName(m).substr(12) + ".", {},
          static_cast<double>(m.value));
  return Status::Ok();
}

Status CollectNetDev(const MetricsExporterOptions& o, Exposition& e) {
  auto text = ReadFile(o.proc_root + "/net/dev");
  if (!text.ok()) return text.status();
  auto devs = ParseNetDev(*text);
  if (!devs.ok()) return devs.status();
  using F = uint64_t NetDevStats::*;
  static const std::pair<const char*, F> kFields[] = {
      {"receive_bytes", &NetDevStats::rx_bytes},
      {"receive_packets", &NetDevStats::rx_packets},
      {"receive_errs", &NetDevStats::rx_errs},
      {"receive_drop", &NetDevStats::rx_drop},
      {"receive_fifo", &NetDevStats::rx_fifo},
      {"receive_frame", &NetDevStats::rx_frame},
      {"receive_compressed", &NetDevStats::rx_compressed},
      {"receive_multicast", &NetDevStats::rx_multicast},
      {"transmit_bytes", &NetDevStats::tx_bytes},
      {"transmit_packets", &NetDevStats::tx_packets},
      {"transmit_errs", &NetDevStats::tx_errs},
      {"transmit_drop", &NetDevStats::tx_drop},
      {"transmit_fifo", &NetDevStats::tx_fifo},
      {"transmit_colls", &NetDevStats::tx_colls},
      {"transmit_carrier", &NetDevStats::tx_carrier},
      {"transmit_compressed", &NetDevStats::tx_compressed},
  };
  for (const auto& [suffix, field] : kFields) {
    std::string name = std::string("node_network_") + suffix + "_total";
    e.Declare(name, kCounter, std::string("Network device statistic ") + suffix + ".");
    for (const auto& d : *devs) e.Add(name, {{"device", d.device}}, static_cast<double>(d.*field));
  }
  return Status::Ok();
}

Status CollectFilesystem(const MetricsExporterOptions& o, Exposition& e) {
  auto text = ReadFile(o.proc_root + "/mounts");
  if (!text.ok()) return text.status();
  auto mounts = ParseMounts(*text);
  if (!mounts.ok()) return mounts.status();
  // A mount point listed twice (stacked mounts) shows only the top one; one
  // series per mount point also keeps the label sets unique.
  std::map<std::string, MountEntry> by_point;
  for (auto& m : *mounts) {
    if (IsIgnoredFilesystem(m)) continue;
    bool excluded = false;
    for (const auto& p : o.excluded_mount_prefixes) excluded |= StartsWith(m.mount_point, p);
    if (!excluded) by_point[m.mount_point] = m;
  }
  e.Declare("node_filesystem_size_bytes", kGauge, "Filesystem size in bytes.");
  e.Declare("node_filesystem_free_bytes", kGauge, "Filesystem free space in bytes.");
  e.Declare("node_filesystem_avail_bytes", kGauge,
            "Filesystem space available to non-root users in bytes.");
  e.Declare("node_filesystem_files", kGauge, "Filesystem total file nodes.");
  e.Declare("node_filesystem_files_free", kGauge, "Filesystem total free file nodes.");
  e.Declare("node_filesystem_readonly", kGauge, "Filesystem read-only status.");
  e.Declare("node_filesystem_device_error", kGauge,
            "Whether an error occurred while getting statistics for the given device.");
  for (const auto& [point, m] : by_point) {
    LabelList l = {{"device", m.device}, {"fstype", m.fstype}, {"mountpoint", point}};
    // statvfs can block on a dead network file system; node_exporter guards
    // that with a timeout, Berth's nodes mount none (see "not done").
    struct statvfs vfs;
    if (statvfs((o.rootfs + point).c_str(), &vfs) != 0) {
      e.Add("node_filesystem_device_error", l, 1);
      continue;
    }
    double bs = static_cast<double>(vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize);
    e.Add("node_filesystem_size_bytes", l, static_cast<double>(vfs.f_blocks) * bs);
    e.Add("node_filesystem_free_bytes", l, static_cast<double>(vfs.f_bfree) * bs);
    e.Add("node_filesystem_avail_bytes", l, static_cast<double>(vfs.f_bavail) * bs);
    e.Add("node_filesystem_files", l, static_cast<double>(vfs.f_files));
    e.Add("node_filesystem_files_free", l, static_cast<double>(vfs.f_ffree));
    e.Add("node_filesystem_readonly", l, (vfs.f_flag & ST_RDONLY) ? 1 : 0);
    e.Add("node_filesystem_device_error", l, 0);
  }
  return Status::Ok();
}

// Whole disks only, as node_exporter's default device exclusion: no
// partitions, loop, ram or zram devices. A device is a whole disk when sysfs
// lists it under /sys/block (where '/' in a name becomes '!').
bool IsWholeDisk(const MetricsExporterOptions& o, const std::string& dev) {
  for (std::string_view p : {"loop", "ram", "zram", "fd"})
    if (StartsWith(dev, p)) return false;
  std::string sysname = dev;
  for (char& c : sysname)
    if (c == '/') c = '!';
  return FileExists(o.sys_root + "/block/" + sysname);
}

Status CollectDiskStats(const MetricsExporterOptions& o, Exposition& e) {
  auto text = ReadFile(o.proc_root + "/diskstats");
  if (!text.ok()) return text.status();
  auto disks = ParseDiskStats(*text);
  if (!disks.ok()) return disks.status();
  struct Col {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const DiskStats&)> value;
  };
  const Col cols[] = {
      {"node_disk_reads_completed_total", kCounter,
       "The total number of reads completed successfully.",
       [](const DiskStats& d) { return static_cast<double>(d.reads); }},
      {"node_disk_reads_merged_total", kCounter, "The total number of reads merged.",
       [](const DiskStats& d) { return static_cast<double>(d.reads_merged); }},
      // The kernel counts sectors of 512 bytes whatever the device's block size.
      {"node_disk_read_bytes_total", kCounter, "The total number of bytes read successfully.",
       [](const DiskStats& d) { return static_cast<double>(d.sectors_read) * 512; }},
      {"node_disk_read_time_seconds_total", kCounter,
       "The total number of seconds spent by all reads.",
       [](const DiskStats& d) { return static_cast<double>(d.read_ms) / 1000; }},
      {"node_disk_writes_completed_total", kCounter,
       "The total number of writes completed successfully.",
       [](const DiskStats& d) { return static_cast<double>(d.writes); }},
      {"node_disk_writes_merged_total", kCounter, "The number of writes merged.",
       [](const DiskStats& d) { return static_cast<double>(d.writes_merged); }},
      {"node_disk_written_bytes_total", kCounter, "The total number of bytes written successfully.",
       [](const DiskStats& d) { return static_cast<double>(d.sectors_written) * 512; }},
      {"node_disk_write_time_seconds_total", kCounter,
       "This is the total number of seconds spent by all writes.",
       [](const DiskStats& d) { return static_cast<double>(d.write_ms) / 1000; }},
      {"node_disk_io_now", kGauge, "The number of I/Os currently in progress.",
       [](const DiskStats& d) { return static_cast<double>(d.io_in_progress); }},
      {"node_disk_io_time_seconds_total", kCounter, "Total seconds spent doing I/Os.",
       [](const DiskStats& d) { return static_cast<double>(d.io_ms) / 1000; }},
      {"node_disk_io_time_weighted_seconds_total", kCounter,
       "The weighted number of seconds spent doing I/Os.",
       [](const DiskStats& d) { return static_cast<double>(d.weighted_io_ms) / 1000; }},
  };
  for (const auto& c : cols) e.Declare(c.name, c.type, c.help);
  for (const auto& d : *disks) {
    if (!IsWholeDisk(o, d.device)) continue;
    for (const auto& c : cols) e.Add(c.name, {{"device", d.device}}, c.value(d));
  }
  return Status::Ok();
}

Status CollectUname(Exposition& e) {
  struct utsname u;
  if (uname(&u) != 0) return Internal("uname failed");
  e.One("node_uname_info", kGauge,
        "Labeled system information as provided by the uname system call.",
        {{"domainname", u.domainname},
         {"machine", u.machine},
         {"nodename", u.nodename},
         {"release", u.release},
         {"sysname", u.sysname},
         {"version", u.version}},
        1);
  return Status::Ok();
}

}  // namespace

std::string MetricsExporter::NodeMetrics() const {
  Exposition e;
  e.Declare("node_scrape_collector_success", kGauge,
            "node_exporter: Whether a collector succeeded.");
  e.Declare("node_scrape_collector_duration_seconds", kGauge,
            "node_exporter: Duration of a collector scrape.");
  bool stat_ok = false;
  auto run = [&](const char* name, const std::function<Status()>& fn) {
    auto t0 = std::chrono::steady_clock::now();
    Status st = fn();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    e.Add("node_scrape_collector_duration_seconds", {{"collector", name}}, secs);
    e.Add("node_scrape_collector_success", {{"collector", name}}, st.ok() ? 1 : 0);
  };
  run("cpu", [&] { return CollectCpuAndStat(opts_, e, &stat_ok); });
  run("stat", [&] { return stat_ok ? Status::Ok() : Invalid("no btime in /proc/stat"); });
  run("loadavg", [&] { return CollectLoadAvg(opts_, e); });
  run("meminfo", [&] { return CollectMemInfo(opts_, e); });
  run("netdev", [&] { return CollectNetDev(opts_, e); });
  run("filesystem", [&] { return CollectFilesystem(opts_, e); });
  run("diskstats", [&] { return CollectDiskStats(opts_, e); });
  run("time", [&] {
    e.One("node_time_seconds", kGauge, "System time in seconds since epoch (1970).", {},
          NowSecondsF());
    return Status::Ok();
  });
  run("uname", [&] { return CollectUname(e); });
  return e.Render();
}

namespace {

// One cgroup and the labels cAdvisor gives its series.
struct CgroupRow {
  std::string cgroup;  // "/" for the root
  std::string container, image, name, pod_namespace, pod;
  LabelList Labels() const {
    return {{"container", container},     {"id", cgroup}, {"image", image}, {"name", name},
            {"namespace", pod_namespace}, {"pod", pod}};
  }
};

// v1 unlimited is a huge page-aligned number; cAdvisor users read 0 as
// "no limit".
double LimitOrZero(uint64_t v) { return v >= (uint64_t{1} << 62) ? 0 : static_cast<double>(v); }

// Returns false when the cgroup is gone (its CPU counter cannot be read).
bool CollectCgroup(const MetricsExporterOptions& o, const CgroupRow& r, double now, Exposition& e) {
  const std::string sub = r.cgroup == "/" ? "" : r.cgroup;
  const std::string cpuacct = o.cgroup_root + "/cpuacct" + sub;
  const std::string cpu = o.cgroup_root + "/cpu" + sub;
  const std::string mem = o.cgroup_root + "/memory" + sub;
  auto usage_ns = ReadU64(cpuacct + "/cpuacct.usage");
  if (!usage_ns) return false;
  LabelList l = r.Labels();
  const double hz = static_cast<double>(o.user_hz);
  e.Add("container_cpu_usage_seconds_total", l, static_cast<double>(*usage_ns) / 1e9);
  if (auto st = ReadFile(cpuacct + "/cpuacct.stat"); st.ok()) {
    if (auto u = StatValue(*st, "user"))
      e.Add("container_cpu_user_seconds_total", l, static_cast<double>(*u) / hz);
    if (auto s = StatValue(*st, "system"))
      e.Add("container_cpu_system_seconds_total", l, static_cast<double>(*s) / hz);
  }
  if (auto st = ReadFile(cpu + "/cpu.stat"); st.ok()) {
    auto periods = StatValue(*st, "nr_periods");
    // Without a quota the CFS counters stay 0 and say nothing.
    if (periods && *periods > 0) {
      e.Add("container_cpu_cfs_periods_total", l, static_cast<double>(*periods));
      e.Add("container_cpu_cfs_throttled_periods_total", l,
            static_cast<double>(StatValue(*st, "nr_throttled").value_or(0)));
      e.Add("container_cpu_cfs_throttled_seconds_total", l,
            static_cast<double>(StatValue(*st, "throttled_time").value_or(0)) / 1e9);
    }
  }
  if (auto v = ReadU64(cpu + "/cpu.shares"))
    e.Add("container_spec_cpu_shares", l, static_cast<double>(*v));
  if (auto v = ReadU64(cpu + "/cpu.cfs_period_us"))
    e.Add("container_spec_cpu_period", l, static_cast<double>(*v));
  if (auto v = ReadI64(cpu + "/cpu.cfs_quota_us"); v && *v > 0)
    e.Add("container_spec_cpu_quota", l, static_cast<double>(*v));

  if (auto usage = ReadU64(mem + "/memory.usage_in_bytes")) {
    auto ms = ReadFile(mem + "/memory.stat");
    std::string_view stat = ms.ok() ? std::string_view(*ms) : std::string_view();
    e.Add("container_memory_usage_bytes", l, static_cast<double>(*usage));
    // As cAdvisor and kubelet: usage minus the inactive file cache, which the
    // kernel reclaims first.
    uint64_t inactive = StatValue(stat, "total_inactive_file").value_or(0);
    e.Add("container_memory_working_set_bytes", l,
          static_cast<double>(*usage > inactive ? *usage - inactive : 0));
    if (auto v = StatValue(stat, "total_rss"))
      e.Add("container_memory_rss", l, static_cast<double>(*v));
    if (auto v = StatValue(stat, "total_cache"))
      e.Add("container_memory_cache", l, static_cast<double>(*v));
    if (auto v = StatValue(stat, "total_mapped_file"))
      e.Add("container_memory_mapped_file", l, static_cast<double>(*v));
    if (auto v = StatValue(stat, "total_swap"))
      e.Add("container_memory_swap", l, static_cast<double>(*v));
  }
  if (auto v = ReadU64(mem + "/memory.max_usage_in_bytes"))
    e.Add("container_memory_max_usage_bytes", l, static_cast<double>(*v));
  if (auto v = ReadU64(mem + "/memory.failcnt"))
    e.Add("container_memory_failcnt", l, static_cast<double>(*v));
  if (auto v = ReadU64(mem + "/memory.limit_in_bytes"))
    e.Add("container_spec_memory_limit_bytes", l, LimitOrZero(*v));
  if (auto v = ReadU64(mem + "/memory.soft_limit_in_bytes"))
    e.Add("container_spec_memory_reservation_limit_bytes", l, LimitOrZero(*v));

  // cgroupfs has no birth time; the directory's ctime is set at its mkdir
  // and, for a leaf, not changed later (cAdvisor uses the same).
  struct stat sb;
  if (stat(cpuacct.c_str(), &sb) == 0)
    e.Add("container_start_time_seconds", l,
          static_cast<double>(sb.st_ctim.tv_sec) + static_cast<double>(sb.st_ctim.tv_nsec) / 1e9);
  e.Add("container_last_seen", l, now);
  return true;
}

// The network counters of a pod: /proc/<pid>/net/dev of any process of its
// containers shows the pod's namespace, the right way round (no veth swap).
void CollectPodNetwork(const MetricsExporterOptions& o, const CgroupRow& pod,
                       const std::vector<std::string>& container_cgroups, Exposition& e) {
  for (const auto& cg : container_cgroups) {
    auto procs = ReadFile(o.cgroup_root + "/cpuacct" + cg + "/cgroup.procs");
    if (!procs.ok()) continue;
    auto f = Fields(std::string_view(*procs).substr(0, procs->find('\n')));
    if (f.empty()) continue;
    auto text = ReadFile(o.proc_root + "/" + std::string(f[0]) + "/net/dev");
    if (!text.ok()) continue;  // the process just exited: try the next container
    auto devs = ParseNetDev(*text);
    if (!devs.ok()) continue;
    for (const auto& d : *devs) {
      if (d.device == "lo") continue;  // cAdvisor leaves loopback out
      LabelList l = pod.Labels();
      l.emplace_back("interface", d.device);
      auto add = [&](const char* n, uint64_t v) { e.Add(n, l, static_cast<double>(v)); };
      add("container_network_receive_bytes_total", d.rx_bytes);
      add("container_network_receive_packets_total", d.rx_packets);
      add("container_network_receive_errors_total", d.rx_errs);
      add("container_network_receive_packets_dropped_total", d.rx_drop);
      add("container_network_transmit_bytes_total", d.tx_bytes);
      add("container_network_transmit_packets_total", d.tx_packets);
      add("container_network_transmit_errors_total", d.tx_errs);
      add("container_network_transmit_packets_dropped_total", d.tx_drop);
    }
    return;
  }
}

void DeclareCadvisorFamilies(Exposition& e) {
  struct D {
    const char* name;
    const char* type;
    const char* help;
  };
  static const D kFams[] = {
      {"container_cpu_usage_seconds_total", kCounter, "Cumulative cpu time consumed in seconds."},
      {"container_cpu_user_seconds_total", kCounter,
       "Cumulative user cpu time consumed in seconds."},
      {"container_cpu_system_seconds_total", kCounter,
       "Cumulative system cpu time consumed in seconds."},
      {"container_cpu_cfs_periods_total", kCounter,
       "Number of elapsed enforcement period intervals."},
      {"container_cpu_cfs_throttled_periods_total", kCounter,
       "Number of throttled period intervals."},
      {"container_cpu_cfs_throttled_seconds_total", kCounter,
       "Total time duration the container has been throttled."},
      {"container_memory_usage_bytes", kGauge,
       "Current memory usage in bytes, including all memory regardless of when it was accessed"},
      {"container_memory_working_set_bytes", kGauge, "Current working set in bytes."},
      {"container_memory_rss", kGauge, "Size of RSS in bytes."},
      {"container_memory_cache", kGauge, "Number of bytes of page cache memory."},
      {"container_memory_mapped_file", kGauge, "Size of memory mapped files in bytes."},
      {"container_memory_swap", kGauge, "Container swap usage in bytes."},
      {"container_memory_max_usage_bytes", kGauge, "Maximum memory usage recorded in bytes"},
      {"container_memory_failcnt", kCounter, "Number of memory usage hits limits"},
      {"container_spec_cpu_shares", kGauge, "CPU share of the container."},
      {"container_spec_cpu_period", kGauge, "CPU period of the container."},
      {"container_spec_cpu_quota", kGauge, "CPU quota of the container."},
      {"container_spec_memory_limit_bytes", kGauge, "Memory limit for the container."},
      {"container_spec_memory_reservation_limit_bytes", kGauge,
       "Memory reservation limit for the container."},
      {"container_start_time_seconds", kGauge,
       "Start time of the container since unix epoch in seconds."},
      {"container_last_seen", kGauge, "Last time a container was seen by the exporter"},
      {"container_network_receive_bytes_total", kCounter, "Cumulative count of bytes received"},
      {"container_network_receive_packets_total", kCounter, "Cumulative count of packets received"},
      {"container_network_receive_errors_total", kCounter,
       "Cumulative count of errors encountered while receiving"},
      {"container_network_receive_packets_dropped_total", kCounter,
       "Cumulative count of packets dropped while receiving"},
      {"container_network_transmit_bytes_total", kCounter, "Cumulative count of bytes transmitted"},
      {"container_network_transmit_packets_total", kCounter,
       "Cumulative count of packets transmitted"},
      {"container_network_transmit_errors_total", kCounter,
       "Cumulative count of errors encountered while transmitting"},
      {"container_network_transmit_packets_dropped_total", kCounter,
       "Cumulative count of packets dropped while transmitting"},
  };
  for (const auto& d : kFams) e.Declare(d.name, d.type, d.help);
}

}  // namespace

std::string MetricsExporter::CadvisorMetrics(const std::vector<ContainerMeta>& containers) const {
  Exposition e;
  if (auto st = ReadFile(opts_.proc_root + "/stat"); st.ok())
    if (auto ps = ParseProcStat(*st); ps.ok())
      e.One("machine_cpu_cores", kGauge, "Number of logical CPU cores.", {},
            static_cast<double>(ps->cpus.size()));
  if (auto mi = ReadFile(opts_.proc_root + "/meminfo"); mi.ok())
    if (auto entries = ParseMemInfo(*mi); entries.ok())
      for (const auto& m : *entries)
        if (m.key == "MemTotal")
          e.One("machine_memory_bytes", kGauge, "Amount of memory installed on the machine.", {},
                static_cast<double>(m.value));
  DeclareCadvisorFamilies(e);
  const double now = NowSecondsF();
  CgroupRow root;
  root.cgroup = "/";
  bool root_ok = CollectCgroup(opts_, root, now, e);

  // Pods in first-seen order, each with its containers' cgroups.
  std::vector<std::string> pod_order;
  std::map<std::string, std::pair<CgroupRow, std::vector<std::string>>> pods;
  for (const auto& c : containers) {
    size_t slash = c.cgroup.rfind('/');
    if (slash == std::string::npos || slash == 0) continue;  // not under a pod cgroup
    std::string pod_cg = c.cgroup.substr(0, slash);
    CgroupRow row{c.cgroup,        c.container, c.image, c.cgroup.substr(slash + 1),
                  c.pod_namespace, c.pod_name};
    if (!CollectCgroup(opts_, row, now, e)) continue;  // exited since the listing
    auto [it, added] = pods.try_emplace(pod_cg);
    if (added) {
      pod_order.push_back(pod_cg);
      it->second.first = CgroupRow{pod_cg, "", "", "", c.pod_namespace, c.pod_name};
    }
    it->second.second.push_back(c.cgroup);
  }
  for (const auto& cg : pod_order) {
    const auto& [row, ctrs] = pods[cg];
    CollectCgroup(opts_, row, now, e);
    CollectPodNetwork(opts_, row, ctrs, e);
  }
  e.One("container_scrape_error", kGauge,
        "1 if there was an error while getting container metrics, 0 otherwise", {},
        root_ok ? 0 : 1);
  return e.Render();
}

}  // namespace berth::node
