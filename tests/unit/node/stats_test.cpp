#include "node/stats.h"

#include <gtest/gtest.h>

namespace berth::node {
namespace {

TEST(StatsTest, ProcStatBusyTicksExcludeIdleAndIowait) {
  // user nice system idle iowait irq softirq steal guest guest_nice
  const char* stat = "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 3 0\nintr 1\n";
  auto busy = ParseProcStatBusyTicks(stat);
  ASSERT_TRUE(busy);
  EXPECT_EQ(*busy, 100u + 5 + 50 + 3 + 2 + 1);
  EXPECT_FALSE(ParseProcStatBusyTicks("intr 1\n"));
  EXPECT_FALSE(ParseProcStatBusyTicks("cpu  1 2\n"));
  // Old kernels have only four fields.
  EXPECT_EQ(ParseProcStatBusyTicks("cpu 1 2 3 4\n").value_or(0), 6u);
}

TEST(StatsTest, MemInfoWorkingSetIsTotalMinusAvailable) {
  const char* mi =
      "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 "
      "kB\nBuffers: 1 kB\n";
  auto ws = ParseMemInfoWorkingSet(mi);
  ASSERT_TRUE(ws);
  EXPECT_EQ(*ws, 4000000LL * 1024);
  EXPECT_FALSE(ParseMemInfoWorkingSet("MemTotal: 1 kB\n"));
}

TEST(StatsTest, CgroupWorkingSetSubtractsInactiveFile) {
  const char* mstat = "cache 100\ninactive_file 4096\ntotal_cache 100\ntotal_inactive_file 8192\n";
  EXPECT_EQ(CgroupWorkingSet(100000, mstat), 100000 - 8192);
  EXPECT_EQ(CgroupWorkingSet(100000, "inactive_file 4096\n"), 100000 - 4096);
  EXPECT_EQ(CgroupWorkingSet(1000, "total_inactive_file 8192\n"), 0);  // never negative
  EXPECT_EQ(CgroupWorkingSet(1000, ""), 1000);
  // A key that only starts like the wanted one does not count.
  EXPECT_EQ(CgroupWorkingSet(1000, "total_inactive_file_x 10\n"), 1000);
}

}  // namespace
}  // namespace berth::node
