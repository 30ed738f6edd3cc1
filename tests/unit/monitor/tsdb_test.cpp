#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include "monitor/storage.h"
#include "monitor/tsdb/chunk.h"
#include "monitor/tsdb/head.h"
#include "monitor/tsdb/postings.h"
#include "monitor/tsdb/wal.h"

namespace berth::monitor::tsdb {
namespace {

namespace fs = std::filesystem;
using Op = Matcher::Op;

Matcher M(Op op, std::string name, std::string value) {
  auto m = Matcher::Make(op, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

struct TempDir {
  TempDir() {
    std::string t = (fs::temp_directory_path() / "tsdb_test.XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

Options MemOptions() {
  Options o;
  o.wal = false;
  o.housekeeping_interval_ms = 0;
  o.retention_ms = 0;
  return o;
}

Options WalOptions(const std::string& dir) {
  Options o = MemOptions();
  o.wal = true;
  o.dir = dir;
  return o;
}

std::unique_ptr<Head> OpenHead(const Options& o) {
  auto h = Head::Open(o);
  EXPECT_TRUE(h.ok()) << h.status().message();
  return h.ok() ? std::move(h).value() : nullptr;
}

std::vector<SeriesSamples> SelectAll(Head& h, std::vector<Matcher> ms = {}) {
  auto q = h.NewQuerier();
  auto r = q->Select(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), ms);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::vector<SeriesSamples>{};
}

// name{a="b", ...}: a fixed format independent of Labels::String().
std::string Fmt(const Labels& ls) {
  std::string out(ls.Get("__name__"));
  out += '{';
  bool first = true;
  for (LabelView l : ls) {
    if (l.name == "__name__") continue;
    if (!first) out += ", ";
    first = false;
    (((out += l.name) += "=\"") += l.value) += "\"";
  }
  return out + "}";
}

std::vector<std::string> Names(const std::vector<SeriesSamples>& ss) {
  std::vector<std::string> out;
  for (const auto& s : ss) out.push_back(Fmt(s.labels));
  return out;
}

bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

// ---------------------------------------------------------------------------
// Chunks

void ExpectRoundTrip(const std::vector<Sample>& in) {
  XorChunk c;
  for (const Sample& s : in) c.Append(s.t, s.v);
  ASSERT_EQ(c.NumSamples(), static_cast<int>(in.size()));
  // Decoding a copy proves the bytes alone carry everything.
  XorChunk copy = XorChunk::FromBytes(std::string(c.Bytes()));
  EXPECT_EQ(copy.NumSamples(), c.NumSamples());
  ChunkIterator it(copy.Bytes());
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_TRUE(it.Next()) << "sample " << i;
    EXPECT_EQ(it.t(), in[i].t) << "sample " << i;
    EXPECT_TRUE(SameBits(it.v(), in[i].v)) << "sample " << i << ": " << it.v() << " vs " << in[i].v;
  }
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.corrupt());
}

TEST(Chunk, RoundTripsSpecialValues) {
  double qnan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  std::vector<Sample> in = {
      {1000, 1.0},       {2000, StaleNaN()},
      {3000, qnan},      {4000, inf},
      {5000, -inf},      {6000, -0.0},
      {7000, 0.0},       {8000, StaleNaN()},
      {9000, 1e-308},    {10000, 4.9e-324},
      {11000, 1.7e308},  {12000, -123.456},
      {12001, -123.456}, {12002, std::bit_cast<double>(uint64_t{0x7ff8dead00000001})},
  };
  ExpectRoundTrip(in);
  ExpectRoundTrip({});
  ExpectRoundTrip({{-5, StaleNaN()}});
}

TEST(Chunk, RoundTripsRandomFloatsAndIrregularTimestamps) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> in;
    int64_t t = static_cast<int64_t>(rng()) >> (rng() % 64);
    int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 6) {
        case 0:
          t += 15000;
          break;  // steady
        case 1:
          t += 15000 + static_cast<int64_t>(rng() % 64) - 32;
          break;  // jitter
        case 2:
          t += static_cast<int64_t>(rng() % 100000);
          break;
        case 3:
          t += static_cast<int64_t>(rng() % (int64_t{1} << 40));
          break;  // big gap
        case 4:
          t += 1;
          break;
        default:
          t += static_cast<int64_t>(rng() % 10000000);
          break;
      }
      double v;
      switch (rng() % 5) {
        case 0:
          v = std::bit_cast<double>(rng());
          break;  // any bits, NaNs included
        case 1:
          v = static_cast<double>(rng() % 1000);
          break;
        case 2:
          v = in.empty() ? 0 : in.back().v;
          break;
        case 3:
          v = StaleNaN();
          break;
        default:
          v = std::ldexp(static_cast<double>(rng() % 100000), static_cast<int>(rng() % 200) - 100);
      }
      in.push_back({t, v});
    }
    ExpectRoundTrip(in);
  }
}

TEST(Chunk, ExtremeTimestampDeltas) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(),
                    kMax = std::numeric_limits<int64_t>::max();
  ExpectRoundTrip(
      {{kMin, 1}, {kMin + 1, 2}, {0, 2}, {1, 3}, {kMax / 4, 4}, {kMax - 1, 5}, {kMax, 6}});
}

TEST(Chunk, TruncatedBytesAreCorruptNotACrash) {
  XorChunk c;
  for (int i = 0; i < 100; ++i) c.Append(i * 1000, i * 0.5);
  std::string b(c.Bytes());
  for (size_t cut = 0; cut < b.size(); ++cut) {
    ChunkIterator it(std::string_view(b).substr(0, cut));
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_LT(n, 100);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {  // random garbage must terminate
    std::string g(2 + rng() % 64, '\0');
    for (char& ch : g) ch = static_cast<char>(rng());
    ChunkIterator it(g);
    int n = 0;
    while (it.Next() && n < 70000) ++n;
  }
}

TEST(Chunk, CounterScrapedEvery15sIsCompact) {
  std::mt19937_64 rng(1);
  XorChunk c;
  int64_t t = 1700000000000;
  double v = 1000;
  for (int i = 0; i < 120; ++i) {
    t += 15000 + static_cast<int64_t>(rng() % 5) - 2;  // a few ms of scrape jitter
    v += static_cast<double>(rng() % 20);              // a request counter
    c.Append(t, v);
  }
  double per = static_cast<double>(c.Bytes().size()) / 120;
  std::printf("[ figures  ] counter@15s with jitter: %.2f bytes/sample\n", per);
  EXPECT_LT(per, 4.0);

  XorChunk steady;
  for (int i = 0; i < 120; ++i) steady.Append(1700000000000 + i * 15000, 42);
  std::printf("[ figures  ] constant gauge@15s: %.2f bytes/sample\n",
              static_cast<double>(steady.Bytes().size()) / 120);
  EXPECT_LT(steady.Bytes().size(), 60u);
}

// ---------------------------------------------------------------------------
// Postings

TEST(Postings, SetOperations) {
  Postings a = {1, 3, 5, 7, 9}, b = {3, 4, 5, 10};
  EXPECT_EQ(Intersect(a, b), (Postings{3, 5}));
  EXPECT_EQ(Subtract(a, b), (Postings{1, 7, 9}));
  EXPECT_EQ(Union({&a, &b}), (Postings{1, 3, 4, 5, 7, 9, 10}));
  Postings big;
  for (uint64_t i = 0; i < 1000; ++i) big.push_back(i * 2);
  Postings small = {4, 5, 1998, 2001};
  EXPECT_EQ(Intersect(small, big), (Postings{4, 1998}));
  EXPECT_EQ(Intersect(big, small), (Postings{4, 1998}));
}

// ---------------------------------------------------------------------------
// Head: appends and queries

class HeadTest : public ::testing::Test {
 protected:
  void SetUp() override { head_ = OpenHead(MemOptions()); }

  void Add(const Labels& ls, int64_t t, double v) {
    auto app = head_->NewAppender();
    ASSERT_TRUE(app->Append(ls, t, v).ok());
    ASSERT_TRUE(app->Commit().ok());
  }

  std::vector<std::string> Select(std::vector<Matcher> ms) {
    return Names(SelectAll(*head_, std::move(ms)));
  }

  std::unique_ptr<Head> head_;
};

TEST_F(HeadTest, MatcherKinds) {
  Add({{"__name__", "up"}, {"job", "api"}, {"env", "prod"}}, 1000, 1);
  Add({{"__name__", "up"}, {"job", "api"}, {"env", "dev"}}, 1000, 1);
  Add({{"__name__", "up"}, {"job", "db"}}, 1000, 0);
  Add({{"__name__", "errors"}, {"job", "db"}, {"env", ""}}, 1000, 3);  // empty value = absent

  using V = std::vector<std::string>;
  V all = {"errors{job=\"db\"}", "up{env=\"dev\", job=\"api\"}", "up{env=\"prod\", job=\"api\"}",
           "up{job=\"db\"}"};
  EXPECT_EQ(Select({}), all);
  EXPECT_EQ(Select({M(Op::kEq, "__name__", "up"), M(Op::kEq, "env", "prod")}),
            (V{"up{env=\"prod\", job=\"api\"}"}));
  EXPECT_EQ(Select({M(Op::kEq, "job", "nope")}), V{});
  EXPECT_EQ(Select({M(Op::kEq, "nolabel", "x")}), V{});
  // != selects series without the label too.
  EXPECT_EQ(Select({M(Op::kNeq, "env", "prod")}),
            (V{"errors{job=\"db\"}", "up{env=\"dev\", job=\"api\"}", "up{job=\"db\"}"}));
  EXPECT_EQ(Select({M(Op::kRe, "env", "pr.*")}), (V{"up{env=\"prod\", job=\"api\"}"}));
  EXPECT_EQ(Select({M(Op::kRe, "env", "p|d")}), V{});  // anchored
  EXPECT_EQ(Select({M(Op::kNre, "env", "pr.*"), M(Op::kEq, "__name__", "up")}),
            (V{"up{env=\"dev\", job=\"api\"}", "up{job=\"db\"}"}));
  // Empty-matching matchers.
  EXPECT_EQ(Select({M(Op::kEq, "env", "")}), (V{"errors{job=\"db\"}", "up{job=\"db\"}"}));
  EXPECT_EQ(Select({M(Op::kNeq, "env", "")}),
            (V{"up{env=\"dev\", job=\"api\"}", "up{env=\"prod\", job=\"api\"}"}));
  EXPECT_EQ(Select({M(Op::kRe, "env", "dev|")}),
            (V{"errors{job=\"db\"}", "up{env=\"dev\", job=\"api\"}", "up{job=\"db\"}"}));
  EXPECT_EQ(Select({M(Op::kRe, "env", ".*")}), all);
  EXPECT_EQ(Select({M(Op::kRe, "env", ".+")}),
            (V{"up{env=\"dev\", job=\"api\"}", "up{env=\"prod\", job=\"api\"}"}));
  EXPECT_EQ(Select({M(Op::kNre, "env", ".+")}), (V{"errors{job=\"db\"}", "up{job=\"db\"}"}));
  EXPECT_EQ(Select({M(Op::kNre, "env", "")}),
            (V{"up{env=\"dev\", job=\"api\"}", "up{env=\"prod\", job=\"api\"}"}));
  EXPECT_EQ(Select({M(Op::kEq, "nolabel", "")}), all);
  EXPECT_EQ(Select({M(Op::kNeq, "nolabel", "x"), M(Op::kEq, "job", "db")}),
            (V{"errors{job=\"db\"}", "up{job=\"db\"}"}));
  EXPECT_EQ(Select({M(Op::kEq, "job", "db"), M(Op::kEq, "env", "")}),
            (V{"errors{job=\"db\"}", "up{job=\"db\"}"}));
}

TEST_F(HeadTest, TimeRangesAndMetadataQueries) {
  Labels a{{"__name__", "a"}, {"x", "1"}};
  Labels b{{"__name__", "b"}, {"y", "2"}};
  auto app = head_->NewAppender();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(app->Append(a, i * 1000, i).ok());
  for (int i = 20; i < 30; ++i) ASSERT_TRUE(app->Append(b, i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());

  auto q = head_->NewQuerier();
  auto r = q->Select(3000, 5000, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].samples.size(), 3u);
  EXPECT_EQ((*r)[0].samples.front().t, 3000);
  EXPECT_EQ((*r)[0].samples.back().t, 5000);
  EXPECT_TRUE(q->Select(10000, 19999, {})->empty());
  EXPECT_TRUE(q->Select(5, 4, {})->empty());

  EXPECT_EQ(*q->Series(0, 100000, {}), (std::vector<Labels>{a, b}));
  EXPECT_EQ(*q->Series(9500, 19500, {}),
            (std::vector<Labels>{}));  // inside a's chunk bounds? no: a ends 9000
  EXPECT_EQ(*q->Series(25000, 25000, {}), (std::vector<Labels>{b}));
  EXPECT_EQ(*q->LabelNames(0, 100000, {}), (std::vector<std::string>{"__name__", "x", "y"}));
  EXPECT_EQ(*q->LabelNames(20000, 100000, {}), (std::vector<std::string>{"__name__", "y"}));
  EXPECT_EQ(*q->LabelNames(0, 100000, {M(Op::kEq, "__name__", "a")}),
            (std::vector<std::string>{"__name__", "x"}));
  EXPECT_EQ(*q->LabelValues("__name__", 0, 100000, {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*q->LabelValues("__name__", 0, 5000, {}), (std::vector<std::string>{"a"}));
  EXPECT_EQ(*q->LabelValues("__name__", 0, 100000, {M(Op::kEq, "y", "2")}),
            (std::vector<std::string>{"b"}));
  EXPECT_TRUE(q->LabelValues("nope", 0, 100000, {})->empty());

  EXPECT_EQ(head_->NumSeries(), 2);
  EXPECT_EQ(head_->NumSamples(), 20);
  EXPECT_EQ(head_->MinTime(), 0);
  EXPECT_EQ(head_->MaxTime(), 29000);
}

TEST_F(HeadTest, SeriesWithAGapInsideOneChunk) {
  Labels a{{"__name__", "a"}};
  Add(a, 1000, 1);
  Add(a, 9000, 2);
  auto q = head_->NewQuerier();
  EXPECT_TRUE(q->Series(2000, 8000, {})->empty());
  EXPECT_TRUE(q->LabelNames(2000, 8000, {})->empty());
  EXPECT_EQ(q->Series(2000, 9000, {})->size(), 1u);
}

TEST_F(HeadTest, ChunksAreCutBySizeAndAlignedRange) {
  Labels a{{"__name__", "a"}};
  auto app = head_->NewAppender();
  // 1000 samples every 15s cross several 2h boundaries; all come back.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(app->Append(a, i * 15000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto r = SelectAll(*head_);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].samples.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(r[0].samples[i].t, i * 15000);
  EXPECT_LT(head_->ChunkBytes(), 1000 * 3);
}

TEST_F(HeadTest, OutOfOrderAndDuplicates) {
  Labels a{{"__name__", "a"}};
  Add(a, 1000, 1);
  auto app = head_->NewAppender();
  Status st = app->Append(a, 500, 1);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(), "out of order sample");
  st = app->Append(a, 1000, 2);
  EXPECT_EQ(st.message(), "duplicate sample for timestamp");
  EXPECT_TRUE(app->Append(a, 1000, 1).ok());  // same value: idempotent
  // A staleness marker is not the same value as another NaN.
  Add(a, 2000, StaleNaN());
  EXPECT_TRUE(app->Append(a, 2000, StaleNaN()).ok());
  EXPECT_EQ(app->Append(a, 2000, std::numeric_limits<double>::quiet_NaN()).message(),
            "duplicate sample for timestamp");
  // Within one batch too, and a failed sample does not spoil the batch.
  EXPECT_TRUE(app->Append(a, 3000, 3).ok());
  EXPECT_EQ(app->Append(a, 2500, 3).message(), "out of order sample");
  EXPECT_EQ(app->Append(a, 3000, 4).message(), "duplicate sample for timestamp");
  EXPECT_TRUE(app->Append(a, 3000, 3).ok());
  EXPECT_TRUE(app->Append(a, 4000, 4).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto r = SelectAll(*head_);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].samples.size(), 4u);
  EXPECT_TRUE(IsStaleNaN(r[0].samples[1].v));
  EXPECT_EQ(r[0].samples[3].t, 4000);
  EXPECT_EQ(head_->NumSamples(), 4);
}

TEST_F(HeadTest, NothingVisibleBeforeCommitAndRollbackDiscards) {
  Labels a{{"__name__", "a"}};
  auto app = head_->NewAppender();
  ASSERT_TRUE(app->Append(a, 1000, 1).ok());
  EXPECT_TRUE(SelectAll(*head_).empty());
  app->Rollback();
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_TRUE(SelectAll(*head_).empty());
  EXPECT_EQ(head_->GarbageCollect(), 1);  // the series created by Append
  EXPECT_EQ(head_->NumSeries(), 0);
  // Appender destroyed without Commit: rolled back.
  {
    auto app2 = head_->NewAppender();
    ASSERT_TRUE(app2->Append(a, 1000, 1).ok());
  }
  EXPECT_TRUE(SelectAll(*head_).empty());
}

TEST_F(HeadTest, AConcurrentCommitCanInvalidateABatch) {
  Labels a{{"__name__", "a"}};
  auto slow = head_->NewAppender();
  ASSERT_TRUE(slow->Append(a, 1000, 1).ok());
  Add(a, 2000, 2);
  ASSERT_TRUE(slow->Commit().ok());  // its sample is now out of order: dropped
  auto r = SelectAll(*head_);
  ASSERT_EQ(r[0].samples.size(), 1u);
  EXPECT_EQ(r[0].samples[0].t, 2000);
  EXPECT_EQ(head_->stats().commit_dropped, 1);
}

TEST_F(HeadTest, LabelValidation) {
  auto app = head_->NewAppender();
  EXPECT_EQ(app->Append(Labels{}, 1, 1).code(), Code::kBadRequest);
  EXPECT_EQ(app->Append(Labels{{"x", ""}}, 1, 1).code(),
            Code::kBadRequest);  // empty after dropping
  EXPECT_EQ(app->Append(Labels{{"", "v"}}, 1, 1).code(), Code::kBadRequest);
  EXPECT_EQ(app->Append(Labels{{"a", "\xff"}}, 1, 1).code(), Code::kBadRequest);
  EXPECT_EQ(app->Append(Labels{{"a", "\xc0\xaf"}}, 1, 1).code(), Code::kBadRequest);  // overlong
  EXPECT_EQ(app->Append(Labels{{"a", "\xed\xa0\x80"}}, 1, 1).code(),
            Code::kBadRequest);                                                       // surrogate
  EXPECT_EQ(app->Append(Labels{{"\xe2\x82", "v"}}, 1, 1).code(), Code::kBadRequest);  // cut short
  // Anything valid UTF-8 goes, no __name__ needed.
  EXPECT_TRUE(app->Append(Labels{{"dotted.name", "caf\xc3\xa9 \xf0\x9f\x98\x80"}}, 1, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(head_->NumSeries(), 1);
}

TEST(HeadOutOfOrder, WindowAcceptsAndMergesAtQueryTime) {
  Options o = MemOptions();
  o.ooo_window_ms = 10000;
  auto head = OpenHead(o);
  Labels a{{"__name__", "a"}};
  auto app = head->NewAppender();
  ASSERT_TRUE(app->Append(a, 20000, 20).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(a, 15000, 15).ok());
  ASSERT_TRUE(app->Append(a, 12000, 12).ok());
  EXPECT_EQ(app->Append(a, 9000, 9).message(), "out of order sample");  // beyond the window
  EXPECT_EQ(app->Append(a, 12000, 13).message(), "duplicate sample for timestamp");
  ASSERT_TRUE(app->Append(a, 21000, 21).ok());
  ASSERT_TRUE(app->Append(a, 17000, 17).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(app->Append(a, 15000, 16).message(), "duplicate sample for timestamp");
  EXPECT_TRUE(app->Append(a, 15000, 15).ok());
  ASSERT_TRUE(app->Commit().ok());

  auto r = SelectAll(*head);
  ASSERT_EQ(r.size(), 1u);
  std::vector<int64_t> ts;
  for (const Sample& s : r[0].samples) ts.push_back(s.t);
  EXPECT_EQ(ts, (std::vector<int64_t>{12000, 15000, 17000, 20000, 21000}));
  EXPECT_EQ(head->NumSamples(), 5);

  // Many out-of-order samples get folded into chunks; order and count hold.
  int64_t base = 1000000;
  ASSERT_TRUE(app->Append(a, base, 0).ok());
  ASSERT_TRUE(app->Commit().ok());
  for (int i = 1; i <= 200; ++i) {
    ASSERT_TRUE(app->Append(a, base - i * 10, i).ok()) << i;
    ASSERT_TRUE(app->Commit().ok());
  }
  r = SelectAll(*head);
  ASSERT_EQ(r[0].samples.size(), 5u + 201u);
  for (size_t i = 1; i < r[0].samples.size(); ++i)
    EXPECT_LT(r[0].samples[i - 1].t, r[0].samples[i].t);
  EXPECT_EQ(head->NumSamples(), 206);
}

// ---------------------------------------------------------------------------
// Concurrency

TEST(HeadConcurrency, AppendersAndQueriersRunTogether) {
  auto head = OpenHead(MemOptions());
  constexpr int kWriters = 4, kSeriesPerWriter = 50, kRounds = 200;
  std::atomic<int> writers_left{kWriters};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      auto app = head->NewAppender();
      for (int r = 0; r < kRounds; ++r) {
        for (int s = 0; s < kSeriesPerWriter; ++s) {
          // Writers share half of their series to contend on the same locks;
          // the loser's duplicate sample carries the same value, so it is
          // accepted idempotently.
          int id = (s % 2 == 0) ? s : w * 1000 + s;
          Labels ls{{"__name__", "m"}, {"id", std::to_string(id)}};
          if (!app->Append(ls, int64_t{r} * 1000, r).ok() && s % 2 != 0) failed = true;
        }
        if (!app->Commit().ok()) failed = true;
      }
      writers_left.fetch_sub(1);
    });
  }
  std::atomic<int64_t> queries{0};
  for (int q = 0; q < 2; ++q) {
    threads.emplace_back([&] {
      // Runs until every writer is done, then once more.
      for (bool last = false; !last;) {
        last = writers_left.load() == 0;
        auto querier = head->NewQuerier();
        auto r = querier->Select(0, 1 << 30, {M(Op::kRe, "id", "1.*|2.*")});
        if (!r.ok()) failed = true;
        for (const auto& ss : *r) {
          for (size_t i = 1; i < ss.samples.size(); ++i)
            if (ss.samples[i - 1].t >= ss.samples[i].t) failed = true;
        }
        auto names = querier->LabelValues("id", 0, 1 << 30, {});
        if (!names.ok()) failed = true;
        ++queries;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(failed.load());
  EXPECT_GT(queries.load(), 0);
  int shared = kSeriesPerWriter / 2;
  int own = kWriters * (kSeriesPerWriter - shared);
  EXPECT_EQ(head->NumSeries(), shared + own);
  EXPECT_EQ(head->NumSamples(), int64_t{shared + own} * kRounds);
  for (const auto& ss : SelectAll(*head))
    EXPECT_EQ(ss.samples.size(), static_cast<size_t>(kRounds));
}

// ---------------------------------------------------------------------------
// WAL

TEST(Wal, RecordsRoundTrip) {
  std::string rec;
  EncodeSeries({{7, Labels{{"a", "b"}, {"c", "d"}}}, {9, Labels{{"x", "y"}}}}, &rec);
  Record r;
  ASSERT_TRUE(DecodeRecord(rec, &r).ok());
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].ref, 7u);
  EXPECT_EQ(r.series[0].labels, (Labels{{"a", "b"}, {"c", "d"}}));
  rec.clear();
  EncodeSamples({{7, -5, StaleNaN()}, {9, 1LL << 50, 2.5}}, &rec);
  ASSERT_TRUE(DecodeRecord(rec, &r).ok());
  ASSERT_EQ(r.samples.size(), 2u);
  EXPECT_EQ(r.samples[0].t, -5);
  EXPECT_TRUE(IsStaleNaN(r.samples[0].v));
  EXPECT_EQ(r.samples[1].t, 1LL << 50);
  for (size_t cut = 0; cut < rec.size(); ++cut)
    EXPECT_FALSE(DecodeRecord(rec.substr(0, cut), &r).ok());
}

// Samples of every series as "labels@t=v" lines, for whole-head comparison.
std::vector<std::string> Dump(Head& h) {
  std::vector<std::string> out;
  for (const auto& ss : SelectAll(h)) {
    for (const Sample& s : ss.samples) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "@%lld=%016llx", static_cast<long long>(s.t),
                    static_cast<unsigned long long>(std::bit_cast<uint64_t>(s.v)));
      out.push_back(Fmt(ss.labels) + buf);
    }
  }
  return out;
}

TEST(Wal, ReplayAfterCleanClose) {
  TempDir dir;
  std::vector<std::string> before;
  int64_t bytes = 0;
  {
    auto head = OpenHead(WalOptions(dir.path));
    auto app = head->NewAppender();
    for (int i = 0; i < 300; ++i) {
      for (int s = 0; s < 20; ++s) {
        double v = (i % 50 == 49) ? StaleNaN() : i * 1.5 + s;
        ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", std::to_string(s)}}, i * 15000, v).ok());
      }
      if (i % 10 == 9) {
        ASSERT_TRUE(app->Commit().ok());
      }
    }
    ASSERT_TRUE(app->Commit().ok());
    before = Dump(*head);
    EXPECT_EQ(before.size(), 6000u);
    bytes = head->ChunkBytes();
  }
  // The chunk bytes kept up by commits agree with a count over the series
  // rebuilt by the replay.
  auto head = OpenHead(WalOptions(dir.path));
  EXPECT_GT(bytes, 0);
  EXPECT_EQ(head->ChunkBytes(), bytes);
  EXPECT_EQ(Dump(*head), before);
  EXPECT_EQ(head->NumSeries(), 20);
  EXPECT_EQ(head->NumSamples(), 6000);
  EXPECT_EQ(head->stats().replay.corruptions, 0);
  // New series get fresh refs after replay and survive another restart.
  auto app = head->NewAppender();
  ASSERT_TRUE(app->Append({{"__name__", "new"}}, 1, 1).ok());
  ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "0"}}, 300 * 15000, 7).ok());
  ASSERT_TRUE(app->Commit().ok());
  before = Dump(*head);
  head.reset();
  head = OpenHead(WalOptions(dir.path));
  EXPECT_EQ(Dump(*head), before);
  // And so do those a truncation leaves.
  ASSERT_TRUE(head->DropBefore(150 * 15000 + 1).ok());
  bytes = head->ChunkBytes();
  EXPECT_GT(bytes, 0);
  before = Dump(*head);
  head.reset();
  head = OpenHead(WalOptions(dir.path));
  EXPECT_EQ(Dump(*head), before);
  EXPECT_EQ(head->ChunkBytes(), bytes);
  ASSERT_TRUE(head->DropBefore(400 * 15000).ok());
  EXPECT_EQ(head->ChunkBytes(), 0);
}

// Commits batches one at a time, noting where each ended in the log, then
// cuts the last segment at many offsets: exactly the batches that ended
// before the cut must come back.
TEST(Wal, TornTailKeepsExactlyTheCommittedPrefix) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  o.wal_segment_bytes = 4 << 10;  // several segments
  struct Batch {
    std::string segment;
    int64_t end;
    std::vector<std::string> dump;  // whole head after this batch
  };
  std::vector<Batch> batches;
  std::mt19937_64 rng(3);
  {
    auto head = OpenHead(o);
    for (int b = 0; b < 120; ++b) {
      auto app = head->NewAppender();
      int n = 1 + static_cast<int>(rng() % 30);
      for (int i = 0; i < n; ++i) {
        Labels ls{{"__name__", "m"}, {"s", std::to_string(rng() % 40)}};
        (void)app->Append(ls, int64_t{b} * 1000 + i, static_cast<double>(rng() % 1000));
      }
      ASSERT_TRUE(app->Commit().ok());
      // The newest segment holds the batch's last record.
      std::string last;
      for (const auto& e : fs::directory_iterator(dir.path + "/wal"))
        if (e.path().filename().string() > last && e.path().filename().string()[0] != 'c')
          last = e.path().filename().string();
      batches.push_back(
          {last, static_cast<int64_t>(fs::file_size(dir.path + "/wal/" + last)), Dump(*head)});
    }
  }
  const std::string last_seg = batches.back().segment;
  ASSERT_NE(batches.front().segment, last_seg);
  int64_t size = static_cast<int64_t>(fs::file_size(dir.path + "/wal/" + last_seg));
  std::vector<int64_t> cuts = {0, 1, 7, 8, 9, size - 1, size};
  for (int i = 0; i < 25; ++i)
    cuts.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(size)));
  for (int64_t cut : cuts) {
    TempDir copy;
    fs::copy(dir.path, copy.path,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    fs::resize_file(copy.path + "/wal/" + last_seg, static_cast<uintmax_t>(cut));
    // Expected: the last batch that ended at or before the cut.
    const std::vector<std::string>* want = nullptr;
    static const std::vector<std::string> kNone;
    for (const Batch& b : batches) {
      if (b.segment < last_seg || b.end <= cut) want = &b.dump;
    }
    auto head = OpenHead(WalOptions(copy.path));
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(Dump(*head), want ? *want : kNone) << "cut at " << cut << " of " << size;
    bool at_batch_end =
        cut == 0 || std::any_of(batches.begin(), batches.end(), [&](const Batch& b) {
          return b.segment == last_seg && b.end == cut;
        });
    if (at_batch_end) {
      EXPECT_EQ(head->stats().replay.corruptions, 0) << cut;
    }
    // The head keeps working and a second restart sees the same.
    auto app = head->NewAppender();
    ASSERT_TRUE(app->Append({{"__name__", "after"}}, 1, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
    auto expect = Dump(*head);
    head.reset();
    head = OpenHead(WalOptions(copy.path));
    EXPECT_EQ(Dump(*head), expect);
    EXPECT_EQ(head->stats().replay.corruptions, 0);
  }
}

TEST(Wal, CorruptionInTheMiddleCutsTheRest) {
  TempDir dir;
  std::vector<std::string> first;
  {
    auto head = OpenHead(WalOptions(dir.path));
    for (int b = 0; b < 10; ++b) {
      auto app = head->NewAppender();
      ASSERT_TRUE(app->Append({{"__name__", "m"}}, b, b).ok());
      ASSERT_TRUE(app->Commit().ok());
      if (b == 4) first = Dump(*head);
    }
  }
  std::string seg = dir.path + "/wal/00000001";
  // Records: series, then one samples record per batch. Find the 7th record
  // (the 6th batch) and flip a byte of its payload.
  std::FILE* f = std::fopen(seg.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  long off = 0;
  for (int rec = 0; rec < 6; ++rec) {
    unsigned char hdr[4];
    std::fseek(f, off, SEEK_SET);
    ASSERT_EQ(std::fread(hdr, 1, 4, f), 4u);
    off += 8 + (hdr[0] | hdr[1] << 8 | hdr[2] << 16 | hdr[3] << 24);
  }
  std::fseek(f, off + 9, SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, off + 9, SEEK_SET);
  std::fputc(c ^ 0x40, f);
  std::fclose(f);
  auto head = OpenHead(WalOptions(dir.path));
  EXPECT_EQ(Dump(*head), first);
  EXPECT_EQ(head->stats().replay.corruptions, 1);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(seg)), off);
}

TEST(Wal, GarbageSegmentDoesNotCrash) {
  TempDir dir;
  fs::create_directories(dir.path + "/wal");
  std::mt19937_64 rng(5);
  for (int i = 0; i < 50; ++i) {
    std::string g(rng() % 200, '\0');
    for (char& ch : g) ch = static_cast<char>(rng());
    // A valid-looking frame around a random payload must not crash either.
    if (i % 2 == 0 && g.size() > 8) {
      uint32_t len = static_cast<uint32_t>(g.size() - 8);
      std::string payload = g.substr(8);
      uint32_t crc = static_cast<uint32_t>(
          ::crc32(0, reinterpret_cast<const unsigned char*>(payload.data()), len));
      std::memcpy(g.data(), &len, 4);
      std::memcpy(g.data() + 4, &crc, 4);
    }
    {
      std::FILE* f = std::fopen((dir.path + "/wal/00000001").c_str(), "wb");
      std::fwrite(g.data(), 1, g.size(), f);
      std::fclose(f);
    }
    auto h = Head::Open(WalOptions(dir.path));
    EXPECT_TRUE(h.ok());
    h = Result<std::unique_ptr<Head>>(Internal("x"));
    fs::remove_all(dir.path + "/wal");
    fs::create_directories(dir.path + "/wal");
  }
}

TEST(Wal, SampleRecordsAreCompactAndOldOnesStillRead) {
  // A scrape's worth: consecutive refs, one timestamp, small integer values.
  std::vector<RefSample> in;
  for (uint64_t i = 0; i < 1000; ++i) in.push_back({100 + i, 1700000000000, double(i % 37)});
  std::string rec;
  EncodeSamples(in, &rec);
  EXPECT_LT(rec.size(), 4000u) << "bytes per sample: " << rec.size() / 1000.0;
  Record out;
  ASSERT_TRUE(DecodeRecord(rec, &out).ok());
  EXPECT_EQ(out.type, RecordType::kSamples);
  ASSERT_EQ(out.samples.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out.samples[i].ref, in[i].ref);
    EXPECT_EQ(out.samples[i].t, in[i].t);
    EXPECT_EQ(out.samples[i].v, in[i].v);
  }
  for (size_t n = 1; n < rec.size(); n += 7)
    EXPECT_FALSE(DecodeRecord(std::string_view(rec).substr(0, n), &out).ok()) << n;
  // The uncompressed form earlier logs hold: type 2, count, then absolute
  // ref, time delta and value bits per sample.
  std::string old = {2, 1, 7, static_cast<char>(0x80), 0x7d};
  double v = 2.5;
  old.append(reinterpret_cast<const char*>(&v), 8);
  ASSERT_TRUE(DecodeRecord(old, &out).ok());
  ASSERT_EQ(out.samples.size(), 1u);
  EXPECT_EQ(out.samples[0].ref, 7u);
  EXPECT_EQ(out.samples[0].t, 8000);
  EXPECT_EQ(out.samples[0].v, 2.5);
}

TEST(Wal, UnsyncedCommitIsInTheFileWhenCommitReturns) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  auto head = OpenHead(o);
  auto app = head->NewAppender();
  app->set_sync(false);
  ASSERT_TRUE(app->Append({{"__name__", "m"}}, 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  // A second reader of the same directory, while the first head still runs
  // (as after a kill -9): the record is in the segment file already.
  TempDir copy;
  fs::copy(dir.path, copy.path, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  auto replayed = OpenHead(WalOptions(copy.path));
  ASSERT_EQ(SelectAll(*replayed).size(), 1u);
  EXPECT_TRUE(head->SyncWal().ok());
}

TEST(Wal, ConcurrentCommittersShareSyncsAndAllSurvive) {
  TempDir dir;
  std::vector<std::string> before;
  {
    auto head = OpenHead(WalOptions(dir.path));
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w) {
      threads.emplace_back([&, w] {
        auto app = head->NewAppender();
        for (int b = 0; b < 40; ++b) {
          EXPECT_TRUE(app->Append({{"__name__", "m"}, {"w", std::to_string(w)}}, b, b).ok());
          EXPECT_TRUE(app->Commit().ok());
        }
      });
    }
    for (auto& t : threads) t.join();
    before = Dump(*head);
    EXPECT_EQ(before.size(), 320u);
  }
  auto head = OpenHead(WalOptions(dir.path));
  EXPECT_EQ(Dump(*head), before);
}

TEST(Wal, CheckpointReplacesOldSegments) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  o.wal_segment_bytes = 2 << 10;
  o.ooo_window_ms = 1000000;
  std::vector<std::string> before;
  {
    auto head = OpenHead(o);
    for (int b = 0; b < 100; ++b) {
      auto app = head->NewAppender();
      for (int s = 0; s < 10; ++s)
        ASSERT_TRUE(
            app->Append({{"__name__", "m"}, {"s", std::to_string(s)}}, b * 1000, b + s).ok());
      ASSERT_TRUE(app->Commit().ok());
    }
    auto app = head->NewAppender();
    ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "1"}}, 500, -1).ok());  // out of order
    ASSERT_TRUE(app->Commit().ok());
    ASSERT_TRUE(head->DropBefore(2000).ok());
    size_t segs_before =
        std::distance(fs::directory_iterator(dir.path + "/wal"), fs::directory_iterator());
    EXPECT_GT(segs_before, 3u);
    ASSERT_TRUE(head->Checkpoint().ok());
    EXPECT_EQ(head->stats().checkpoints, 1);
    // After the checkpoint, more data, including a new series.
    for (int b = 100; b < 110; ++b) {
      ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "0"}}, b * 1000, b).ok());
      ASSERT_TRUE(app->Append({{"__name__", "late"}}, b * 1000, b).ok());
      ASSERT_TRUE(app->Commit().ok());
    }
    before = Dump(*head);
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path + "/wal"))
    files.push_back(e.path().filename());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 2u);
  EXPECT_TRUE(files.back().starts_with("checkpoint.")) << files.back();
  EXPECT_LE(files.size(), 3u);
  auto head = OpenHead(o);
  EXPECT_EQ(Dump(*head), before);
  EXPECT_TRUE(head->stats().replay.from_checkpoint);
  // Out of bounds still holds after the restart.
  auto app = head->NewAppender();
  EXPECT_EQ(app->Append({{"__name__", "m"}, {"s", "3"}}, 1000, 1).message(), "out of bounds");
}

// ---------------------------------------------------------------------------
// Native histograms

FloatHistogram Hist(double count, int32_t schema = 0) {
  FloatHistogram h;
  h.schema = schema;
  h.count = count;
  h.sum = count * 1.5;
  h.zero_threshold = 0.001;
  h.zero_count = 1;
  h.positive_spans = {{0, 2}, {3, 1}};
  h.positive_buckets = {count - 4, 1, 2};
  h.negative_spans = {{-1, 1}};
  h.negative_buckets = {0.5};
  return h;
}

// Out-of-order samples go to a buffer that is folded into the chunks when it
// fills: the chunk bytes the commits keep up agree with a recount.
TEST(Wal, ChunkBytesKeptUpThroughOutOfOrderFolds) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  o.ooo_window_ms = 1000000;
  int64_t bytes = 0;
  {
    auto head = OpenHead(o);
    auto app = head->NewAppender();
    for (int s = 0; s < 5; ++s)
      for (int i = 0; i < 300; ++i)
        ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", std::to_string(s)}}, i * 2000, i).ok());
    ASSERT_TRUE(app->Commit().ok());
    // 40 out of order in one batch (a fold within the commit), then a few
    // more one batch each.
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "0"}}, i * 2000 + 1, -i).ok());
    ASSERT_TRUE(app->Commit().ok());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "1"}}, i * 4000 + 1, i).ok());
      ASSERT_TRUE(app->Append({{"__name__", "m"}, {"s", "1"}}, 300 * 2000 + i, i).ok());
      ASSERT_TRUE(app->Commit().ok());
    }
    bytes = head->ChunkBytes();
    EXPECT_EQ(head->NumSamples(), 5 * 300 + 40 + 10);
  }
  auto head = OpenHead(o);
  EXPECT_EQ(head->NumSamples(), 5 * 300 + 40 + 10);
  EXPECT_EQ(head->ChunkBytes(), bytes);
}

TEST(HeadHistograms, StoredNextToFloatsInOneSeriesAndSurviveReplayAndCheckpoint) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  o.ooo_window_ms = 10000;
  Labels ls{{"__name__", "h"}};
  int64_t bytes = -1;
  auto check = [&](Head& head) {
    // The same bytes as kept up by the commits, recounted after a replay.
    if (bytes < 0) bytes = head.ChunkBytes();
    EXPECT_EQ(head.ChunkBytes(), bytes);
    EXPECT_GT(bytes, 0);
    auto all = SelectAll(head);
    ASSERT_EQ(all.size(), 1u);
    // Floats at 0 and 4000 (stale), histograms at 1000..3000 and 500 (out of order).
    ASSERT_EQ(all[0].samples.size(), 2u);
    EXPECT_EQ(all[0].samples[0].t, 0);
    EXPECT_TRUE(IsStaleNaN(all[0].samples[1].v));
    ASSERT_EQ(all[0].histograms.size(), 4u);
    EXPECT_EQ(all[0].histograms[0].t, 500);
    EXPECT_EQ(*all[0].histograms[0].h, Hist(9));
    // The head sets counter reset hints as Prometheus's TSDB does: unknown
    // at the start of a run of histograms, not a reset when one continues.
    EXPECT_EQ(all[0].histograms[1].h->counter_reset_hint, CounterResetHint::kUnknown);
    FloatHistogram second = *all[0].histograms[2].h;
    EXPECT_EQ(second.counter_reset_hint, CounterResetHint::kNotCounterReset);
    second.counter_reset_hint = CounterResetHint::kUnknown;
    EXPECT_EQ(second, Hist(20));
    EXPECT_EQ(all[0].histograms[3].t, 3000);
    FloatHistogram third = *all[0].histograms[3].h;
    third.counter_reset_hint = CounterResetHint::kUnknown;
    EXPECT_EQ(third, Hist(30, 3));
    EXPECT_EQ(head.NumSamples(), 6);
  };
  {
    auto head = OpenHead(o);
    auto app = head->NewAppender();
    ASSERT_TRUE(app->Append(ls, 0, 1).ok());
    for (int i = 1; i <= 3; ++i)
      ASSERT_TRUE(app->AppendHistogram(ls, i * 1000, Hist(i * 10, i == 3 ? 3 : 0)).ok());
    // Within one batch: the same histogram again is fine, another one or a
    // float at its timestamp is a duplicate.
    EXPECT_TRUE(app->AppendHistogram(ls, 3000, Hist(30, 3)).ok());
    EXPECT_EQ(app->AppendHistogram(ls, 3000, Hist(31, 3)).message(),
              "duplicate sample for timestamp");
    EXPECT_EQ(app->Append(ls, 2000, 5).message(), "duplicate sample for timestamp");
    ASSERT_TRUE(app->Commit().ok());
    // Across batches, against what the head holds.
    EXPECT_EQ(app->Append(ls, 3000, 1).message(), "duplicate sample for timestamp");
    EXPECT_EQ(app->AppendHistogram(ls, 0, Hist(9)).message(), "duplicate sample for timestamp");
    EXPECT_TRUE(app->AppendHistogram(ls, 2000, Hist(20)).ok());  // the same one
    ASSERT_TRUE(app->AppendHistogram(ls, 500, Hist(9)).ok());    // out of order, in the window
    ASSERT_TRUE(app->Append(ls, 4000, StaleNaN()).ok());
    ASSERT_TRUE(app->Commit().ok());
    check(*head);
  }
  {
    auto head = OpenHead(o);  // from the WAL
    check(*head);
    ASSERT_TRUE(head->Checkpoint().ok());
  }
  auto head = OpenHead(o);  // from the checkpoint
  EXPECT_TRUE(head->stats().replay.from_checkpoint);
  check(*head);
  // Retention drops histograms too.
  ASSERT_TRUE(head->DropBefore(2500).ok());
  auto all = SelectAll(*head);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].histograms.size(), 1u);
  EXPECT_EQ(all[0].samples.size(), 1u);
}

TEST(HeadHistograms, DamagedHistogramRecordEndsTheLog) {
  std::string rec;
  EncodeHistograms({{7, 1000, std::make_shared<const FloatHistogram>(Hist(10))}}, &rec);
  Record out;
  ASSERT_TRUE(DecodeRecord(rec, &out).ok());
  ASSERT_EQ(out.histograms.size(), 1u);
  EXPECT_EQ(out.histograms[0].ref, 7u);
  EXPECT_EQ(*out.histograms[0].h, Hist(10));
  // Every truncation is an error, never a crash or a partial histogram.
  for (size_t n = 1; n < rec.size(); ++n)
    EXPECT_FALSE(DecodeRecord(std::string_view(rec).substr(0, n), &out).ok()) << n;
}

// ---------------------------------------------------------------------------
// Retention

TEST(Retention, DropBeforeDeletesSamplesAndEmptySeries) {
  auto head = OpenHead(MemOptions());
  auto app = head->NewAppender();
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(app->Append({{"__name__", "long"}}, i * 1000, i).ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(app->Append({{"__name__", "short"}}, i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(head->NumSamples(), 550);
  ASSERT_TRUE(head->DropBefore(100500).ok());
  EXPECT_EQ(head->NumSeries(), 1);
  EXPECT_EQ(head->NumSamples(), 399);
  EXPECT_EQ(head->MinTime(), 101000);
  auto r = SelectAll(*head);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].samples.front().t, 101000);
  EXPECT_EQ(r[0].samples.size(), 399u);
  EXPECT_EQ(app->Append({{"__name__", "short"}}, 100000, 1).message(), "out of bounds");
  // The head chunk stays appendable after being rewritten.
  ASSERT_TRUE(app->Append({{"__name__", "long"}}, 500000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(head->NumSamples(), 400);
  EXPECT_EQ(head->MaxTime(), 500000);
}

TEST(Retention, ByTimeRelativeToNewestSampleAndReplayed) {
  TempDir dir;
  Options o = WalOptions(dir.path);
  o.retention_ms = 60000;
  {
    auto head = OpenHead(o);
    auto app = head->NewAppender();
    for (int i = 0; i <= 100; ++i) ASSERT_TRUE(app->Append({{"__name__", "m"}}, i * 1000, i).ok());
    ASSERT_TRUE(app->Commit().ok());
    ASSERT_TRUE(head->ApplyRetention().ok());
    EXPECT_EQ(head->MinTime(), 40000);
    EXPECT_EQ(head->NumSamples(), 61);
  }
  auto head = OpenHead(o);
  EXPECT_EQ(head->NumSamples(), 61);
  EXPECT_EQ(head->MinTime(), 40000);
}

TEST(Housekeeping, ThreadAppliesRetentionAndStops) {
  Options o = MemOptions();
  o.retention_ms = 10;
  o.housekeeping_interval_ms = 1;
  auto head = OpenHead(o);
  auto app = head->NewAppender();
  ASSERT_TRUE(app->Append({{"__name__", "old"}}, 0, 1).ok());
  ASSERT_TRUE(app->Append({{"__name__", "new"}}, 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  // Polls a condition the thread establishes; no sleep decides the outcome.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (head->NumSeries() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(head->NumSeries(), 1);
  head->Close();
  head->Close();
}

// ---------------------------------------------------------------------------
// Figures

TEST(Figures, AppendThroughput) {
  constexpr int kSeries = 1000, kScrapes = 1000;
  std::vector<Labels> ls;
  for (int s = 0; s < kSeries; ++s)
    ls.push_back({{"__name__", "http_requests_total"},
                  {"instance", "10.0.0." + std::to_string(s % 250)},
                  {"job", "api"},
                  {"path", "/p" + std::to_string(s)}});
  auto run = [&](Head& head, const char* what) {
    auto start = std::chrono::steady_clock::now();
    auto app = head.NewAppender();
    for (int i = 0; i < kScrapes; ++i) {
      for (int s = 0; s < kSeries; ++s) (void)app->Append(ls[s], int64_t{i} * 15000, i * 3.0 + s);
      ASSERT_TRUE(app->Commit().ok());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "[ figures  ] %s: %.2f M samples/s single thread (batches of %d), %.2f bytes/sample in "
        "chunks\n",
        what, kSeries * kScrapes / secs / 1e6, kSeries,
        static_cast<double>(head.ChunkBytes()) / head.NumSamples());
    EXPECT_EQ(head.NumSamples(), int64_t{kSeries} * kScrapes);
  };
  {
    auto head = OpenHead(MemOptions());
    run(*head, "memory only");
    auto start = std::chrono::steady_clock::now();
    auto q = head->NewQuerier();
    auto r =
        q->Select(0, int64_t{kScrapes} * 15000, {M(Op::kEq, "__name__", "http_requests_total")});
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ figures  ] select of %zu series x %d samples: %.1f ms\n", r->size(), kScrapes,
                secs * 1e3);
  }
  {
    TempDir dir;
    auto head = OpenHead(WalOptions(dir.path));
    run(*head, "with WAL");
    head.reset();
    auto start = std::chrono::steady_clock::now();
    head = OpenHead(WalOptions(dir.path));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ figures  ] WAL replay of %lld samples: %.2f s\n",
                static_cast<long long>(head->NumSamples()), secs);
  }
}

}  // namespace
}  // namespace berth::monitor::tsdb
