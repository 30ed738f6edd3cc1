#include "node/metrics_exporter.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "core/file.h"
#include "monitor/scrape/exposition.h"

namespace berth::node {
namespace {

namespace fs = std::filesystem;
using monitor::scrape::MetricType;
using monitor::scrape::ParsedScrape;

// Sample kernel files, as this kernel writes them (trimmed).
constexpr const char* kProcStat =
    "cpu  300 10 150 5000 40 0 7 3 0 0\n"
    "cpu0 100 5 50 2500 20 0 4 1 0 0\n"
    "cpu1 200 5 100 2500 20 0 3 2 0 0\n"
    "intr 123456 0 9 0\n"
    "ctxt 987654\n"
    "btime 1700000000\n"
    "processes 4321\n"
    "procs_running 3\n"
    "procs_blocked 1\n"
    "softirq 1 2 3\n";

constexpr const char* kMemInfo =
    "MemTotal:       16316412 kB\n"
    "MemFree:         1234567 kB\n"
    "MemAvailable:   12000000 kB\n"
    "Buffers:          100000 kB\n"
    "Cached:          5000000 kB\n"
    "Active(anon):     200000 kB\n"
    "SwapTotal:       2097148 kB\n"
    "SwapFree:        2097148 kB\n"
    "HugePages_Total:       4\n"
    "Hugepagesize:       2048 kB\n";

constexpr const char* kNetDev =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop "
    "fifo colls carrier compressed\n"
    "    lo: 43915 556    0    0    0     0          0         0 43915 556    0    0    0     0    "
    " "
    "  0          0\n"
    "  eth0: 1000 10 1 2 0 0 0 3 2000 20 4 5 0 0 0 0\n";

constexpr const char* kPodNetDev =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop "
    "fifo colls carrier compressed\n"
    "    lo: 77 1    0    0    0     0          0         0 77 1    0    0    0     0       0    "
    "0\n"
    "  eth0: 5555 55 0 1 0 0 0 0 6666 66 2 0 0 0 0 0\n";

constexpr const char* kDiskStats =
    "   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    "   8       0 sda 609990 51058 17126338 1118788 3397872 628561 308494376 3260234 2 926552 "
    "4963607 0 0 0 0\n"
    "   8       1 sda1 100 0 200 0 0 0 0 0 0 0 0\n"
    " 253       0 zram0 1 0 8 0 0 0 0 0 0 0 0\n";

class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/metrics_exporter_test.XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  void Write(const std::string& rel, const std::string& content) const {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    ASSERT_TRUE(WriteFileReplace(root_ + "/" + rel, content, 0644, false).ok()) << rel;
  }
  void Dir(const std::string& rel) const { fs::create_directories(root_ + "/" + rel); }

 private:
  std::string root_;
};

ParsedScrape Parse(const std::string& body) {
  auto p = monitor::scrape::ParseExposition(body, "text/plain; version=0.0.4");
  EXPECT_TRUE(p.ok()) << p.status().ToString() << "\n" << body;
  return p.ok() ? *p : ParsedScrape{};
}

// The value of the one sample of `name` whose labels include `want` (a
// label wanted as "" must be absent, as the parser drops empty values).
std::optional<double> Value(const ParsedScrape& p, const std::string& name,
                            const std::map<std::string, std::string>& want = {}) {
  std::optional<double> found;
  int n = 0;
  for (const auto& s : p.samples) {
    if (s.labels.Name() != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) match &= s.labels.Get(k) == v;
    if (!match) continue;
    found = s.value;
    ++n;
  }
  EXPECT_LE(n, 1) << "several samples of " << name << " match";
  return found;
}

std::optional<MetricType> TypeOf(const ParsedScrape& p, const std::string& name) {
  for (const auto& f : p.families)
    if (f.name == name) return f.type;
  return std::nullopt;
}

// ---- parsers ----

TEST(MetricsExporterParse, ProcStat) {
  auto st = ParseProcStat(kProcStat);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_EQ(st->cpus.size(), 2u);
  EXPECT_EQ(st->cpus[1].cpu, "1");
  EXPECT_EQ(st->cpus[1].user, 200u);
  EXPECT_EQ(st->cpus[1].system, 100u);
  EXPECT_EQ(st->cpus[1].softirq, 3u);
  EXPECT_EQ(st->cpus[1].steal, 2u);
  EXPECT_EQ(st->boot_time.value_or(0), 1700000000u);
  EXPECT_EQ(st->context_switches.value_or(0), 987654u);
  EXPECT_EQ(st->interrupts.value_or(0), 123456u);
  EXPECT_EQ(st->forks.value_or(0), 4321u);
  EXPECT_EQ(st->procs_running.value_or(0), 3u);
  EXPECT_EQ(st->procs_blocked.value_or(0), 1u);
  // Old kernels have four fields; the rest count as 0.
  auto old = ParseProcStat("cpu0 1 2 3 4\n");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->cpus[0].idle, 4u);
  EXPECT_EQ(old->cpus[0].steal, 0u);
  EXPECT_FALSE(ParseProcStat("cpu0 1 2\n").ok());
  EXPECT_FALSE(ParseProcStat("cpu0 1 x 3 4\n").ok());
  EXPECT_FALSE(ParseProcStat("intr 1\n").ok());
}

TEST(MetricsExporterParse, LoadAvg) {
  auto l = ParseLoadAvg("0.25 0.82 1.40 2/94 29702\n");
  ASSERT_TRUE(l.ok());
  EXPECT_DOUBLE_EQ(l->load1, 0.25);
  EXPECT_DOUBLE_EQ(l->load5, 0.82);
  EXPECT_DOUBLE_EQ(l->load15, 1.40);
  EXPECT_FALSE(ParseLoadAvg("0.25\n").ok());
}

TEST(MetricsExporterParse, MemInfo) {
  auto mi = ParseMemInfo(kMemInfo);
  ASSERT_TRUE(mi.ok()) << mi.status().ToString();
  ASSERT_EQ(mi->size(), 10u);
  EXPECT_EQ((*mi)[0].key, "MemTotal");
  EXPECT_EQ((*mi)[0].value, 16316412ull * 1024);
  EXPECT_TRUE((*mi)[0].bytes);
  EXPECT_EQ((*mi)[5].key, "Active(anon)");
  EXPECT_EQ((*mi)[8].key, "HugePages_Total");
  EXPECT_EQ((*mi)[8].value, 4u);
  EXPECT_FALSE((*mi)[8].bytes);
  EXPECT_FALSE(ParseMemInfo("MemTotal 12 kB\n").ok());
  EXPECT_FALSE(ParseMemInfo("").ok());
}

TEST(MetricsExporterParse, NetDev) {
  auto d = ParseNetDev(kNetDev);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].device, "lo");
  const auto& e = (*d)[1];
  EXPECT_EQ(e.device, "eth0");
  EXPECT_EQ(e.rx_bytes, 1000u);
  EXPECT_EQ(e.rx_packets, 10u);
  EXPECT_EQ(e.rx_errs, 1u);
  EXPECT_EQ(e.rx_drop, 2u);
  EXPECT_EQ(e.rx_multicast, 3u);
  EXPECT_EQ(e.tx_bytes, 2000u);
  EXPECT_EQ(e.tx_packets, 20u);
  EXPECT_EQ(e.tx_errs, 4u);
  EXPECT_EQ(e.tx_drop, 5u);
  // Old kernels glue large counters to the colon.
  auto glued = ParseNetDev("eth1:123 1 0 0 0 0 0 0 456 2 0 0 0 0 0 0\n");
  ASSERT_TRUE(glued.ok());
  EXPECT_EQ((*glued)[0].rx_bytes, 123u);
  EXPECT_FALSE(ParseNetDev("eth0: 1 2 3\n").ok());
}

TEST(MetricsExporterParse, MountsAndExclusions) {
  auto m = ParseMounts(
      "/dev/vda / ext4 rw,relatime 0 0\n"
      "proc /proc proc rw 0 0\n"
      "/dev/vdb /mnt/my\\040disk xfs ro 0 0\n"
      "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->size(), 4u);
  EXPECT_EQ((*m)[2].mount_point, "/mnt/my disk");
  EXPECT_EQ((*m)[2].fstype, "xfs");
  EXPECT_FALSE(IsIgnoredFilesystem((*m)[0]));
  EXPECT_TRUE(IsIgnoredFilesystem((*m)[1]));
  EXPECT_FALSE(IsIgnoredFilesystem((*m)[2]));
  EXPECT_TRUE(IsIgnoredFilesystem((*m)[3]));
  auto ext4 = [](std::string mp) { return MountEntry{"/dev/x", std::move(mp), "ext4", "rw"}; };
  EXPECT_TRUE(IsIgnoredFilesystem(ext4("/dev/shm")));
  EXPECT_TRUE(IsIgnoredFilesystem(ext4("/sys")));
  EXPECT_FALSE(IsIgnoredFilesystem(ext4("/system")));
  EXPECT_TRUE(IsIgnoredFilesystem(ext4("/var/lib/docker/overlay2/x")));
  EXPECT_FALSE(IsIgnoredFilesystem(ext4("/var/lib/docker")));
  EXPECT_TRUE(IsIgnoredFilesystem(MountEntry{"overlay", "/x", "overlay", "rw"}));
  EXPECT_FALSE(IsIgnoredFilesystem(MountEntry{"tmpfs", "/run", "tmpfs", "rw"}));
  EXPECT_FALSE(ParseMounts("onlytwo fields\n").ok());
}

TEST(MetricsExporterParse, DiskStats) {
  auto d = ParseDiskStats(kDiskStats);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 4u);
  const auto& sda = (*d)[1];
  EXPECT_EQ(sda.device, "sda");
  EXPECT_EQ(sda.reads, 609990u);
  EXPECT_EQ(sda.sectors_read, 17126338u);
  EXPECT_EQ(sda.sectors_written, 308494376u);
  EXPECT_EQ(sda.io_in_progress, 2u);
  EXPECT_EQ(sda.io_ms, 926552u);
  EXPECT_EQ(sda.weighted_io_ms, 4963607u);
  EXPECT_FALSE(ParseDiskStats("8 0 sda 1 2 3\n").ok());
}

TEST(MetricsExporterParse, StatValue) {
  const char* ms = "cache 100\ntotal_cache 200\ntotal_inactive_file_x 5\ntotal_inactive_file 7\n";
  EXPECT_EQ(StatValue(ms, "total_cache").value_or(0), 200u);
  EXPECT_EQ(StatValue(ms, "total_inactive_file").value_or(0), 7u);
  EXPECT_FALSE(StatValue(ms, "total_rss"));
}

// ---- rendering over sample trees ----

MetricsExporterOptions FakeOptions(const TempTree& t) {
  MetricsExporterOptions o;
  o.proc_root = t.root() + "/proc";
  o.sys_root = t.root() + "/sys";
  o.rootfs = t.root() + "/rootfs";
  o.user_hz = 100;
  o.excluded_mount_prefixes = {"/data/node/pods/"};
  return o;
}

TEST(MetricsExporterNode, RendersNodeExporterSeries) {
  TempTree t;
  t.Write("proc/stat", kProcStat);
  t.Write("proc/meminfo", kMemInfo);
  t.Write("proc/loadavg", "0.25 0.82 1.40 2/94 29702\n");
  t.Write("proc/net/dev", kNetDev);
  t.Write("proc/diskstats", kDiskStats);
  t.Write("proc/mounts",
          "/dev/vda / ext4 rw,relatime 0 0\n"
          "proc /proc proc rw 0 0\n"
          "tmpfs /data/node/pods/u1/run tmpfs rw 0 0\n"
          "/dev/vdb /data xfs rw 0 0\n"
          "/dev/vdc /gone ext4 rw 0 0\n");
  t.Dir("rootfs/data");
  t.Dir("sys/block/sda");
  t.Dir("sys/block/loop0");
  MetricsExporter ex(FakeOptions(t));
  std::string body = ex.NodeMetrics();
  ParsedScrape p = Parse(body);

  EXPECT_EQ(TypeOf(p, "node_cpu_seconds_total"), MetricType::kCounter);
  EXPECT_EQ(Value(p, "node_cpu_seconds_total", {{"cpu", "1"}, {"mode", "user"}}), 2.0);
  EXPECT_EQ(Value(p, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "idle"}}), 25.0);
  EXPECT_EQ(Value(p, "node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "steal"}}), 0.01);
  int cpu_series = 0;
  for (const auto& s : p.samples) cpu_series += s.labels.Name() == "node_cpu_seconds_total";
  EXPECT_EQ(cpu_series, 2 * 8);  // no series for the "cpu" total line

  EXPECT_EQ(Value(p, "node_boot_time_seconds"), 1700000000.0);
  EXPECT_EQ(Value(p, "node_context_switches_total"), 987654.0);
  EXPECT_EQ(Value(p, "node_procs_running"), 3.0);
  EXPECT_EQ(Value(p, "node_load1"), 0.25);
  EXPECT_EQ(Value(p, "node_load15"), 1.40);
  EXPECT_EQ(TypeOf(p, "node_load5"), MetricType::kGauge);

  EXPECT_EQ(Value(p, "node_memory_MemTotal_bytes"), 16316412.0 * 1024);
  EXPECT_EQ(Value(p, "node_memory_MemAvailable_bytes"), 12000000.0 * 1024);
  EXPECT_EQ(Value(p, "node_memory_SwapFree_bytes"), 2097148.0 * 1024);
  EXPECT_EQ(Value(p, "node_memory_Active_anon_bytes"), 200000.0 * 1024);
  EXPECT_EQ(Value(p, "node_memory_HugePages_Total"), 4.0);

  EXPECT_EQ(Value(p, "node_network_receive_bytes_total", {{"device", "eth0"}}), 1000.0);
  EXPECT_EQ(Value(p, "node_network_transmit_bytes_total", {{"device", "eth0"}}), 2000.0);
  EXPECT_EQ(Value(p, "node_network_receive_errs_total", {{"device", "eth0"}}), 1.0);
  EXPECT_EQ(Value(p, "node_network_receive_drop_total", {{"device", "eth0"}}), 2.0);
  EXPECT_EQ(Value(p, "node_network_transmit_packets_total", {{"device", "eth0"}}), 20.0);
  EXPECT_EQ(Value(p, "node_network_receive_bytes_total", {{"device", "lo"}}), 43915.0);
  EXPECT_EQ(TypeOf(p, "node_network_receive_bytes_total"), MetricType::kCounter);

  // "/" and "/data" exist under rootfs; /proc is a pseudo file system, the
  // pod tmpfs is excluded by prefix, /gone cannot be statted.
  auto size_root = Value(p, "node_filesystem_size_bytes",
                         {{"mountpoint", "/"}, {"device", "/dev/vda"}, {"fstype", "ext4"}});
  ASSERT_TRUE(size_root);
  EXPECT_GT(*size_root, 0);
  EXPECT_TRUE(
      Value(p, "node_filesystem_avail_bytes", {{"mountpoint", "/data"}, {"fstype", "xfs"}}));
  EXPECT_TRUE(Value(p, "node_filesystem_free_bytes", {{"mountpoint", "/data"}}));
  EXPECT_FALSE(Value(p, "node_filesystem_size_bytes", {{"mountpoint", "/proc"}}));
  EXPECT_FALSE(Value(p, "node_filesystem_size_bytes", {{"mountpoint", "/data/node/pods/u1/run"}}));
  EXPECT_FALSE(Value(p, "node_filesystem_size_bytes", {{"mountpoint", "/gone"}}));
  EXPECT_EQ(Value(p, "node_filesystem_device_error", {{"mountpoint", "/gone"}}), 1.0);
  EXPECT_EQ(Value(p, "node_filesystem_device_error", {{"mountpoint", "/"}}), 0.0);

  // Whole disks only.
  EXPECT_EQ(Value(p, "node_disk_read_bytes_total", {{"device", "sda"}}), 17126338.0 * 512);
  EXPECT_EQ(Value(p, "node_disk_written_bytes_total", {{"device", "sda"}}), 308494376.0 * 512);
  EXPECT_EQ(Value(p, "node_disk_reads_completed_total", {{"device", "sda"}}), 609990.0);
  EXPECT_EQ(Value(p, "node_disk_io_time_seconds_total", {{"device", "sda"}}), 926.552);
  EXPECT_FALSE(Value(p, "node_disk_read_bytes_total", {{"device", "sda1"}}));
  EXPECT_FALSE(Value(p, "node_disk_read_bytes_total", {{"device", "loop0"}}));
  EXPECT_FALSE(Value(p, "node_disk_read_bytes_total", {{"device", "zram0"}}));

  auto t_now = Value(p, "node_time_seconds");
  ASSERT_TRUE(t_now);
  EXPECT_NEAR(*t_now, static_cast<double>(time(nullptr)), 5);
  bool uname = false;
  for (const auto& s : p.samples)
    if (s.labels.Name() == "node_uname_info")
      uname = s.labels.Get("sysname") == "Linux" && !s.labels.Get("release").empty() &&
              !s.labels.Get("machine").empty() && !s.labels.Get("nodename").empty();
  EXPECT_TRUE(uname);
  for (const char* c :
       {"cpu", "stat", "loadavg", "meminfo", "netdev", "filesystem", "diskstats", "time", "uname"})
    EXPECT_EQ(Value(p, "node_scrape_collector_success", {{"collector", c}}), 1.0) << c;

  // HELP and TYPE once per family.
  EXPECT_EQ(body.find("# TYPE node_cpu_seconds_total counter\n"),
            body.rfind("# TYPE node_cpu_seconds_total"));
}

TEST(MetricsExporterNode, MissingFilesFailTheirCollectorOnly) {
  TempTree t;
  t.Write("proc/meminfo", kMemInfo);
  t.Write("proc/stat", "garbage\n");
  MetricsExporter ex(FakeOptions(t));
  ParsedScrape p = Parse(ex.NodeMetrics());
  EXPECT_EQ(Value(p, "node_scrape_collector_success", {{"collector", "cpu"}}), 0.0);
  EXPECT_EQ(Value(p, "node_scrape_collector_success", {{"collector", "netdev"}}), 0.0);
  EXPECT_EQ(Value(p, "node_scrape_collector_success", {{"collector", "meminfo"}}), 1.0);
  EXPECT_TRUE(Value(p, "node_memory_MemTotal_bytes"));
  EXPECT_EQ(TypeOf(p, "node_cpu_seconds_total"), std::nullopt);  // no samples, no family
}

// A cgroup v1 directory in every controller the exporter reads.
void WriteCgroup(const TempTree& t, const std::string& cg, uint64_t usage_ns, uint64_t mem_usage,
                 uint64_t inactive_file, const std::string& limit, const std::string& quota,
                 const std::string& procs) {
  const std::string base = "sys/fs/cgroup";
  t.Write(base + "/cpuacct" + cg + "/cpuacct.usage", std::to_string(usage_ns) + "\n");
  t.Write(base + "/cpuacct" + cg + "/cpuacct.stat", "user 150\nsystem 50\n");
  t.Write(base + "/cpuacct" + cg + "/cgroup.procs", procs);
  t.Write(base + "/cpu" + cg + "/cpu.shares", "512\n");
  t.Write(base + "/cpu" + cg + "/cpu.cfs_period_us", "100000\n");
  t.Write(base + "/cpu" + cg + "/cpu.cfs_quota_us", quota + "\n");
  t.Write(base + "/cpu" + cg + "/cpu.stat",
          quota == "-1" ? "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"
                        : "nr_periods 40\nnr_throttled 4\nthrottled_time 2500000000\n");
  t.Write(base + "/memory" + cg + "/memory.usage_in_bytes", std::to_string(mem_usage) + "\n");
  t.Write(base + "/memory" + cg + "/memory.max_usage_in_bytes",
          std::to_string(mem_usage * 2) + "\n");
  t.Write(base + "/memory" + cg + "/memory.failcnt", "0\n");
  t.Write(base + "/memory" + cg + "/memory.limit_in_bytes", limit + "\n");
  t.Write(base + "/memory" + cg + "/memory.soft_limit_in_bytes", "9223372036854771712\n");
  t.Write(base + "/memory" + cg + "/memory.stat",
          "cache 1\nrss 2\ntotal_cache 40960\ntotal_rss 81920\ntotal_mapped_file 4096\n"
          "total_inactive_file " +
              std::to_string(inactive_file) + "\n");
}

TEST(MetricsExporterCadvisor, RendersContainerPodAndRootSeries) {
  TempTree t;
  t.Write("proc/stat", kProcStat);
  t.Write("proc/meminfo", kMemInfo);
  t.Write("proc/4242/net/dev", kPodNetDev);
  const std::string pod = "/berth/podu-1";
  const std::string web = pod + "/ku1-web-0", side = pod + "/ku1-side-2";
  WriteCgroup(t, "", 9000000000000, 8000000000, 1000000000, "9223372036854771712", "-1", "1\n");
  WriteCgroup(t, pod, 3000000000, 300000, 1000, "9223372036854771712", "-1", "");
  WriteCgroup(t, web, 2500000000, 200000, 50000, "268435456", "50000", "4242\n4243\n");
  WriteCgroup(t, side, 500000000, 100000, 200000, "9223372036854771712", "-1", "5151\n");
  std::vector<ContainerMeta> cs = {
      {"default", "web-1", "u-1", "web", "nginx:1.25", web},
      {"default", "web-1", "u-1", "side", "busybox", side},
      {"default", "web-1", "u-1", "gone", "busybox", pod + "/ku1-gone-0"},  // exited meanwhile
  };
  MetricsExporter ex(FakeOptions(t));
  std::string body = ex.CadvisorMetrics(cs);
  ParsedScrape p = Parse(body);

  EXPECT_EQ(Value(p, "machine_cpu_cores"), 2.0);
  EXPECT_EQ(Value(p, "machine_memory_bytes"), 16316412.0 * 1024);

  const std::map<std::string, std::string> web_l = {
      {"container", "web"}, {"pod", "web-1"},        {"namespace", "default"},
      {"id", web},          {"image", "nginx:1.25"}, {"name", "ku1-web-0"}};
  EXPECT_EQ(TypeOf(p, "container_cpu_usage_seconds_total"), MetricType::kCounter);
  EXPECT_EQ(Value(p, "container_cpu_usage_seconds_total", web_l), 2.5);
  EXPECT_EQ(Value(p, "container_cpu_user_seconds_total", web_l), 1.5);
  EXPECT_EQ(Value(p, "container_cpu_system_seconds_total", web_l), 0.5);
  EXPECT_EQ(Value(p, "container_cpu_cfs_periods_total", web_l), 40.0);
  EXPECT_EQ(Value(p, "container_cpu_cfs_throttled_periods_total", web_l), 4.0);
  EXPECT_EQ(Value(p, "container_cpu_cfs_throttled_seconds_total", web_l), 2.5);
  EXPECT_EQ(Value(p, "container_memory_usage_bytes", web_l), 200000.0);
  EXPECT_EQ(Value(p, "container_memory_working_set_bytes", web_l), 150000.0);
  EXPECT_EQ(Value(p, "container_memory_rss", web_l), 81920.0);
  EXPECT_EQ(Value(p, "container_memory_cache", web_l), 40960.0);
  EXPECT_EQ(Value(p, "container_memory_max_usage_bytes", web_l), 400000.0);
  EXPECT_EQ(Value(p, "container_spec_memory_limit_bytes", web_l), 268435456.0);
  EXPECT_EQ(Value(p, "container_spec_cpu_quota", web_l), 50000.0);
  EXPECT_EQ(Value(p, "container_spec_cpu_period", web_l), 100000.0);
  EXPECT_EQ(Value(p, "container_spec_cpu_shares", web_l), 512.0);
  auto start = Value(p, "container_start_time_seconds", web_l);
  ASSERT_TRUE(start);
  EXPECT_NEAR(*start, static_cast<double>(time(nullptr)), 60);
  EXPECT_TRUE(Value(p, "container_last_seen", web_l));

  const std::map<std::string, std::string> side_l = {{"container", "side"}, {"id", side}};
  // Working set never goes below 0; no quota → no quota series and no CFS counters.
  EXPECT_EQ(Value(p, "container_memory_working_set_bytes", side_l), 0.0);
  EXPECT_EQ(Value(p, "container_spec_memory_limit_bytes", side_l), 0.0);
  EXPECT_FALSE(Value(p, "container_spec_cpu_quota", side_l));
  EXPECT_FALSE(Value(p, "container_cpu_cfs_periods_total", side_l));
  EXPECT_FALSE(Value(p, "container_cpu_usage_seconds_total", {{"container", "gone"}}));

  // The pod cgroup: container="", no image or name; it holds the network.
  const std::map<std::string, std::string> pod_l = {
      {"container", ""},        {"image", ""}, {"name", ""}, {"pod", "web-1"},
      {"namespace", "default"}, {"id", pod}};
  EXPECT_EQ(Value(p, "container_cpu_usage_seconds_total", pod_l), 3.0);
  EXPECT_EQ(Value(p, "container_memory_working_set_bytes", pod_l), 299000.0);
  auto net_l = pod_l;
  net_l["interface"] = "eth0";
  EXPECT_EQ(Value(p, "container_network_receive_bytes_total", net_l), 5555.0);
  EXPECT_EQ(Value(p, "container_network_transmit_bytes_total", net_l), 6666.0);
  EXPECT_EQ(Value(p, "container_network_receive_packets_total", net_l), 55.0);
  EXPECT_EQ(Value(p, "container_network_transmit_packets_total", net_l), 66.0);
  EXPECT_EQ(Value(p, "container_network_receive_packets_dropped_total", net_l), 1.0);
  EXPECT_EQ(Value(p, "container_network_transmit_errors_total", net_l), 2.0);
  EXPECT_FALSE(Value(p, "container_network_receive_bytes_total", {{"interface", "lo"}}));
  int net_series = 0;
  for (const auto& s : p.samples)
    net_series += s.labels.Name() == "container_network_receive_bytes_total";
  EXPECT_EQ(net_series, 1);  // once per pod, not per container

  // The root cgroup: the whole machine.
  EXPECT_EQ(Value(p, "container_cpu_usage_seconds_total", {{"id", "/"}}), 9000.0);
  EXPECT_EQ(Value(p, "container_memory_working_set_bytes", {{"id", "/"}}), 7000000000.0);
  EXPECT_EQ(Value(p, "container_scrape_error"), 0.0);
}

// ---- this machine ----

double CpuSecondsTotal(const ParsedScrape& p) {
  double sum = 0;
  for (const auto& s : p.samples)
    if (s.labels.Name() == "node_cpu_seconds_total") sum += s.value;
  return sum;
}

TEST(MetricsExporterReal, ThisMachine) {
  MetricsExporter ex;
  ParsedScrape a = Parse(ex.NodeMetrics());
  auto mem = Value(a, "node_memory_MemTotal_bytes");
  ASSERT_TRUE(mem);
  EXPECT_GT(*mem, 0);
  EXPECT_GT(Value(a, "node_boot_time_seconds").value_or(0), 1e9);
  EXPECT_TRUE(Value(a, "node_network_receive_bytes_total", {{"device", "lo"}}));
  EXPECT_TRUE(Value(a, "node_filesystem_size_bytes", {{"mountpoint", "/"}}));
  for (const char* c : {"cpu", "loadavg", "meminfo", "netdev", "filesystem", "diskstats"})
    EXPECT_EQ(Value(a, "node_scrape_collector_success", {{"collector", c}}), 1.0) << c;
  double before = CpuSecondsTotal(a);
  // Burn a little CPU so the counters must move (several ticks of 10 ms).
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  EXPECT_GT(spin, 0u);
  ParsedScrape b = Parse(ex.NodeMetrics());
  EXPECT_GT(CpuSecondsTotal(b), before);

  ParsedScrape c = Parse(ex.CadvisorMetrics({}));
  EXPECT_GT(Value(c, "machine_cpu_cores").value_or(0), 0);
  EXPECT_EQ(Value(c, "machine_memory_bytes"), mem);
  if (access("/sys/fs/cgroup/cpuacct/cpuacct.usage", R_OK) == 0) {
    EXPECT_GT(Value(c, "container_cpu_usage_seconds_total", {{"id", "/"}}).value_or(0), 0);
  }
}

}  // namespace
}  // namespace berth::node
