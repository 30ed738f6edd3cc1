#include "monitor/tsdb/db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include "monitor/tsdb/block.h"
#include "monitor/tsdb/block_chunk.h"
#include "monitor/tsdb/chunk.h"
#include "monitor/tsdb/head.h"

namespace berth::monitor::tsdb {
namespace {

namespace fs = std::filesystem;
using Op = Matcher::Op;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kHour = 3600 * 1000;

Matcher M(Op op, std::string name, std::string value) {
  auto m = Matcher::Make(op, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

struct TempDir {
  TempDir() {
    std::string t = (fs::temp_directory_path() / "db_test.XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

// Expected contents: labels -> samples, compared bit for bit.
using Expected = std::map<Labels, std::vector<Sample>>;

std::string Dump(const std::vector<Sample>& s) {
  std::string out;
  for (const Sample& x : s) out += std::to_string(x.t) + "=" + std::to_string(x.v) + " ";
  return out;
}

void ExpectSame(const Expected& want, const std::vector<SeriesSamples>& got, int64_t mint,
                int64_t maxt, const std::vector<Matcher>& ms = {}) {
  std::vector<SeriesSamples> w;
  for (const auto& [ls, samples] : want) {
    if (!MatchesAll(ls, ms)) continue;
    SeriesSamples ss{ls, {}};
    for (const Sample& x : samples)
      if (x.t >= mint && x.t <= maxt) ss.samples.push_back(x);
    if (!ss.samples.empty()) w.push_back(std::move(ss));
  }
  ASSERT_EQ(w.size(), got.size()) << "range [" << mint << ", " << maxt << "]";
  for (size_t i = 0; i < w.size(); ++i) {
    ASSERT_EQ(w[i].labels, got[i].labels) << i;
    ASSERT_EQ(w[i].samples.size(), got[i].samples.size())
        << w[i].labels.String() << "\nwant " << Dump(w[i].samples) << "\ngot  "
        << Dump(got[i].samples);
    for (size_t j = 0; j < w[i].samples.size(); ++j) {
      ASSERT_EQ(w[i].samples[j].t, got[i].samples[j].t) << w[i].labels.String() << " #" << j;
      ASSERT_EQ(std::bit_cast<uint64_t>(w[i].samples[j].v),
                std::bit_cast<uint64_t>(got[i].samples[j].v))
          << w[i].labels.String() << " #" << j;
    }
  }
}

void ExpectQueries(Storage& st, const Expected& want) {
  auto q = st.NewQuerier();
  std::vector<std::pair<int64_t, int64_t>> ranges = {{kMin, kMax},
                                                     {0, kHour},
                                                     {kHour + 1, 5 * kHour - 1},
                                                     {2 * kHour - 1, 2 * kHour},
                                                     {6 * kHour, 6 * kHour + 15000},
                                                     {-5, -1}};
  std::vector<std::vector<Matcher>> sets = {
      {},
      {M(Op::kEq, "__name__", "requests_total")},
      {M(Op::kEq, "job", "api"), M(Op::kNeq, "instance", "i1")},
      {M(Op::kRe, "instance", "i[02]"), M(Op::kNre, "__name__", "up")},
      {M(Op::kEq, "extra", "")},
  };
  for (const auto& [mint, maxt] : ranges) {
    for (const auto& ms : sets) {
      auto r = q->Select(mint, maxt, ms);
      ASSERT_TRUE(r.ok()) << r.status().message();
      ExpectSame(want, *r, mint, maxt, ms);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// A few series of different shapes over [from, to): counters, a gauge with
// staleness markers, a series that starts late and one that stops early.
void Write(Storage& st, Expected* want, int64_t from, int64_t to, int64_t step = 15000) {
  std::vector<Labels> series;
  for (int i = 0; i < 3; ++i) {
    std::string inst = "i" + std::to_string(i);
    series.push_back({{"__name__", "requests_total"}, {"job", "api"}, {"instance", inst}});
    series.push_back({{"__name__", "up"}, {"job", i == 2 ? "db" : "api"}, {"instance", inst}});
  }
  series.push_back({{"__name__", "temp"}, {"job", "db"}, {"extra", "x"}});
  auto app = st.NewAppender();
  for (int64_t t = from; t < to; t += step) {
    for (size_t i = 0; i < series.size(); ++i) {
      const Labels& ls = series[i];
      double v;
      if (ls.Name() == "requests_total") {
        v = static_cast<double>(t / 1000 * (i + 1));
      } else if (ls.Name() == "up") {
        if (i == 3 && t < 3 * kHour) continue;  // starts late
        if (i == 5 && t > 4 * kHour) continue;  // stops early
        v = 1;
      } else {
        v = (t / step) % 40 == 0 ? StaleNaN() : std::sin(static_cast<double>(t) / 1e6) * 30;
      }
      ASSERT_TRUE(app->Append(ls, t, v).ok());
      (*want)[ls].push_back({t, v});
    }
    if ((t / step) % 50 == 0) {
      ASSERT_TRUE(app->Commit().ok());
      app = st.NewAppender();
    }
  }
  ASSERT_TRUE(app->Commit().ok());
}

DbOptions TestOptions(const std::string& dir) {
  DbOptions o;
  o.dir = dir;
  o.housekeeping_interval_ms = 0;
  o.retention_ms = 0;
  o.block_chunk_samples = 100;  // several chunks per series and block
  return o;
}

std::unique_ptr<Db> OpenDb(const DbOptions& o) {
  auto db = Db::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return db.ok() ? std::move(db).value() : nullptr;
}

// ---------------------------------------------------------------------------

std::vector<Sample> RoundTrip(const std::vector<Sample>& in, uint8_t* enc) {
  std::string bytes;
  *enc = EncodeBlockChunk(in, &bytes);
  std::vector<Sample> out;
  Status st = DecodeBlockChunk(*enc, bytes, kMin, kMax, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  // Truncations are errors or shorter output, never a crash.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<Sample> part;
    (void)DecodeBlockChunk(*enc, std::string_view(bytes).substr(0, cut), kMin, kMax, &part);
    EXPECT_LE(part.size(), in.size());
  }
  return out;
}

void ExpectBits(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].t, b[i].t) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(a[i].v), std::bit_cast<uint64_t>(b[i].v)) << i;
  }
}

TEST(BlockChunk, IntegerEncodingRoundTripsAndFallsBack) {
  std::mt19937_64 rng(7);
  uint8_t enc = 0;
  // A steady counter: the integer encoding, much smaller than XOR.
  std::vector<Sample> counter;
  double v = 1e9;
  for (int i = 0; i < 480; ++i)
    counter.push_back({1'700'000'000'000 + i * 15000, v += rng() % 1000});
  ExpectBits(RoundTrip(counter, &enc), counter);
  EXPECT_EQ(enc, kEncInt);
  // Extremes: negative values, +-2^53, wrapping timestamp deltas, groups
  // with one sample.
  std::vector<Sample> extreme = {{kMin, -9007199254740992.0},
                                 {-1, 9007199254740992.0},
                                 {0, 0},
                                 {1, -1},
                                 {kMax - 1, 5},
                                 {kMax, -3}};
  for (size_t n = 1; n <= extreme.size(); ++n) {
    std::vector<Sample> part(extreme.begin(), extreme.begin() + static_cast<ptrdiff_t>(n));
    ExpectBits(RoundTrip(part, &enc), part);
  }
  std::vector<Sample> random;
  for (int i = 0; i < 17 * 16 + 1; ++i)
    random.push_back({static_cast<int64_t>(i) * 1000 + static_cast<int64_t>(rng() % 900),
                      static_cast<double>(static_cast<int64_t>(rng() >> 12) - (1LL << 51))});
  ExpectBits(RoundTrip(random, &enc), random);
  // Not integers (or -0, or the staleness marker): XOR, bit-exact.
  for (double odd : {0.5, -0.0, StaleNaN(), std::numeric_limits<double>::infinity()}) {
    std::vector<Sample> s = {{0, 1}, {15000, odd}, {30000, 3}};
    ExpectBits(RoundTrip(s, &enc), s);
    EXPECT_EQ(enc, kEncXor);
  }
}

TEST(Block, MetaRoundTrips) {
  BlockMeta m;
  m.id = NewBlockId();
  m.min_time = -5;
  m.max_time = 7200000;
  m.num_samples = 3;
  m.num_series = 2;
  m.num_chunks = 2;
  m.level = 2;
  m.sources = {"A", "B"};
  m.parents = {"C"};
  auto d = DecodeBlockMeta(EncodeBlockMeta(m));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->id, m.id);
  EXPECT_EQ(d->min_time, -5);
  EXPECT_EQ(d->sources, m.sources);
  EXPECT_EQ(d->parents, m.parents);
  EXPECT_EQ(m.id.size(), 26u);
  EXPECT_NE(NewBlockId(), NewBlockId());
}

// The block querier against the head's, on the same data.
TEST(Block, QuerierAgreesWithTheHead) {
  TempDir dir;
  Options ho;
  ho.wal = false;
  ho.housekeeping_interval_ms = 0;
  ho.retention_ms = 0;
  auto head = Head::Open(ho);
  ASSERT_TRUE(head.ok());
  Expected want;
  Write(**head, &want, 0, 2 * kHour);

  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 2 * kHour;
  BlockWriter::Options wo;
  wo.chunk_samples = 7;
  auto w = BlockWriter::Create(dir.path, meta, wo);
  ASSERT_TRUE(w.ok()) << w.status().message();
  for (const auto& [ls, samples] : want) ASSERT_TRUE((*w)->AddSeries(ls, samples).ok());
  auto written = (*w)->Finish();
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_FALSE(fs::exists((*w)->tmp_dir()));
  EXPECT_EQ(written->num_series, 6);  // up{instance="i1"} starts at 3h
  auto b = Block::Open(dir.path + "/" + written->id);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*b)->meta().num_samples, written->num_samples);

  auto bq = (*b)->NewQuerier();
  auto hq = (*head)->NewQuerier();
  std::vector<std::vector<Matcher>> sets = {
      {},
      {M(Op::kEq, "job", "api")},
      {M(Op::kNeq, "job", "api")},
      {M(Op::kRe, "instance", "i[12]|")},
      {M(Op::kNre, "instance", ".+")},
      {M(Op::kEq, "nope", "x")},
      {M(Op::kEq, "__name__", "up"), M(Op::kNeq, "instance", "i0")},
  };
  std::vector<std::pair<int64_t, int64_t>> ranges = {
      {kMin, kMax}, {0, 0}, {1, 14999}, {3000, 900000}, {2 * kHour - 1, kMax}};
  for (const auto& ms : sets) {
    for (const auto& [mint, maxt] : ranges) {
      auto a = bq->Select(mint, maxt, ms);
      ASSERT_TRUE(a.ok());
      ExpectSame(want, *a, mint, maxt, ms);
      auto sa = bq->Series(mint, maxt, ms);
      auto sb = hq->Series(mint, maxt, ms);
      ASSERT_TRUE(sa.ok() && sb.ok());
      EXPECT_EQ(*sa, *sb);
      auto na = bq->LabelNames(mint, maxt, ms);
      auto nb = hq->LabelNames(mint, maxt, ms);
      ASSERT_TRUE(na.ok() && nb.ok());
      EXPECT_EQ(*na, *nb);
      for (std::string name : {"job", "instance", "__name__", "zzz"}) {
        auto va = bq->LabelValues(name, mint, maxt, ms);
        auto vb = hq->LabelValues(name, mint, maxt, ms);
        ASSERT_TRUE(va.ok() && vb.ok());
        EXPECT_EQ(*va, *vb) << name;
      }
    }
  }
}

TEST(Block, DamagedIndexIsAnErrorNotACrash) {
  TempDir dir;
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 100;
  auto w = BlockWriter::Create(dir.path, meta, {});
  ASSERT_TRUE(w.ok());
  std::vector<Sample> s = {{1, 1}, {2, 2}};
  ASSERT_TRUE((*w)->AddSeries({{"a", "b"}}, s).ok());
  auto written = (*w)->Finish();
  ASSERT_TRUE(written.ok());
  std::string idx = dir.path + "/" + written->id + "/index";
  {
    FILE* f = std::fopen(idx.c_str(), "r+b");
    std::fseek(f, 7, SEEK_SET);
    std::fputc(0x55, f);
    std::fclose(f);
  }
  auto b = Block::Open(dir.path + "/" + written->id);
  EXPECT_FALSE(b.ok());
}

TEST(Db, CutsCompactsQueriesAndSurvivesRestart) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  Expected want;
  {
    auto db = OpenDb(o);
    ASSERT_NE(db, nullptr);
    // Eleven hours, an hour at a time with housekeeping in between, as the
    // background thread would do.
    for (int h = 0; h < 11; ++h) {
      Write(*db, &want, h * kHour, (h + 1) * kHour);
      ASSERT_TRUE(db->Housekeep().ok());
    }
    // Cut: [0,2) [2,4) [4,6) [6,8); the head keeps 8h..11h. [0,6) was
    // compacted once [4,6) closed its window.
    auto blocks = db->Blocks();
    ASSERT_EQ(blocks.size(), 2u);
    EXPECT_EQ(blocks[0].min_time, 0);
    EXPECT_EQ(blocks[0].max_time, 6 * kHour);
    EXPECT_EQ(blocks[0].level, 2);
    EXPECT_EQ(blocks[0].sources.size(), 3u);
    EXPECT_EQ(blocks[0].parents.size(), 3u);
    EXPECT_EQ(blocks[1].min_time, 6 * kHour);
    EXPECT_EQ(blocks[1].max_time, 8 * kHour);
    EXPECT_EQ(db->stats().head_blocks_written, 4);
    EXPECT_EQ(db->stats().compactions, 1);
    EXPECT_EQ(db->head().MinTime(), 8 * kHour);

    int64_t total = 0;
    for (const auto& [ls, s] : want) total += static_cast<int64_t>(s.size());
    EXPECT_EQ(db->NumSamples(), total);
    ExpectQueries(*db, want);

    // Persisted ranges are closed to appends.
    auto app = db->NewAppender();
    EXPECT_FALSE(app->Append({{"__name__", "late"}}, 7 * kHour, 1).ok());
    EXPECT_TRUE(app->Append({{"__name__", "late"}}, 8 * kHour, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
    want[Labels{{"__name__", "late"}}].push_back({8 * kHour, 1});

    // Label queries across the head and the blocks.
    auto q = db->NewQuerier();
    auto names = q->LabelNames(kMin, kMax, {});
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "extra", "instance", "job"}));
    auto vals = q->LabelValues("__name__", 0, kHour, {});
    ASSERT_TRUE(vals.ok());
    EXPECT_EQ(*vals, (std::vector<std::string>{"requests_total", "temp", "up"}));
    auto late = q->Series(3 * kHour, 3 * kHour, {M(Op::kEq, "__name__", "up")});
    ASSERT_TRUE(late.ok());
    EXPECT_EQ(late->size(), 3u);
    db->Close();
  }
  // The WAL holds only what the head keeps.
  int64_t wal_bytes = 0;
  for (const auto& e : fs::directory_iterator(dir.path + "/wal")) wal_bytes += e.file_size();
  EXPECT_LT(wal_bytes, 64 * 1024);

  auto db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Blocks().size(), 2u);
  ExpectQueries(*db, want);
  // Still closed to old appends after a restart.
  auto app = db->NewAppender();
  EXPECT_FALSE(app->Append({{"__name__", "late"}}, 7 * kHour, 1).ok());
}

TEST(Db, NativeHistogramsGoThroughBlocksAndCompaction) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  Labels ls{{"__name__", "h"}};
  auto hist = [](int i) {
    FloatHistogram h;
    h.count = i;
    h.sum = i * 0.25;
    h.positive_spans = {{1, 1}};
    h.positive_buckets = {static_cast<double>(i)};
    h.custom_values = {};
    return h;
  };
  auto check = [&](Db& db) {
    auto q = db.NewQuerier();
    auto r = q->Select(kMin, kMax, {});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    const SeriesSamples& ss = (*r)[0];
    ASSERT_EQ(ss.histograms.size(), 11u * 60);
    ASSERT_EQ(ss.samples.size(), 11u);  // one float per hour
    for (size_t i = 0; i < ss.histograms.size(); ++i) {
      // The head hints a histogram right after another as not a reset; the
      // first after each hour's float starts a new run (unknown).
      FloatHistogram want = hist(static_cast<int>(i));
      want.counter_reset_hint =
          i % 60 == 0 ? CounterResetHint::kUnknown : CounterResetHint::kNotCounterReset;
      EXPECT_EQ(*ss.histograms[i].h, want);
      EXPECT_EQ(ss.histograms[i].t, static_cast<int64_t>(i) * 60000 + 1);
    }
  };
  {
    auto db = OpenDb(o);
    ASSERT_NE(db, nullptr);
    for (int h = 0; h < 11; ++h) {
      auto app = db->NewAppender();
      ASSERT_TRUE(app->Append(ls, h * kHour, h).ok());
      for (int m = 0; m < 60; ++m) {
        int i = h * 60 + m;
        ASSERT_TRUE(app->AppendHistogram(ls, i * 60000 + 1, hist(i)).ok());
      }
      ASSERT_TRUE(app->Commit().ok());
      ASSERT_TRUE(db->Housekeep().ok());
    }
    EXPECT_EQ(db->stats().compactions, 1);
    check(*db);
  }
  auto db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  check(*db);
}

TEST(Db, RetentionByTime) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  o.retention_ms = 5 * kHour;
  o.max_block_range_ms = 2 * kHour;  // no compaction: block-sized steps
  auto db = OpenDb(o);
  Expected want;
  for (int h = 0; h < 12; ++h) {
    Write(*db, &want, h * kHour, (h + 1) * kHour);
    ASSERT_TRUE(db->Housekeep().ok());
  }
  // Newest sample ~12h; blocks ending at or before ~7h are gone.
  auto blocks = db->Blocks();
  ASSERT_FALSE(blocks.empty());
  EXPECT_EQ(blocks.front().min_time, 6 * kHour);
  EXPECT_GT(db->stats().blocks_deleted_by_time, 0);
  int64_t cutoff = 6 * kHour;
  for (auto& [ls, s] : want) std::erase_if(s, [&](const Sample& x) { return x.t < cutoff; });
  std::erase_if(want, [](const auto& kv) { return kv.second.empty(); });
  ExpectQueries(*db, want);
  for (const auto& e : fs::directory_iterator(dir.path))
    EXPECT_EQ(e.path().filename().string().find('.'), std::string::npos) << e.path();
}

TEST(Db, RetentionBySize) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  o.max_block_range_ms = 2 * kHour;
  Expected want;
  {
    auto db = OpenDb(o);
    for (int h = 0; h < 12; ++h) Write(*db, &want, h * kHour, (h + 1) * kHour);
    ASSERT_TRUE(db->Housekeep().ok());
    ASSERT_EQ(db->Blocks().size(), 5u);  // [0,2) .. [8,10)
  }
  auto sizes = [&] {
    auto db = OpenDb(o);
    return std::make_pair(db->BlockBytes() / 5, db->WalBytes() + db->HeadChunkBytes());
  }();
  // Room for the head, the WAL and two and a half blocks.
  o.retention_bytes = sizes.second + sizes.first * 5 / 2;
  auto db = OpenDb(o);
  ASSERT_TRUE(db->ApplyRetention().ok());
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].min_time, 6 * kHour);
  EXPECT_EQ(db->stats().blocks_deleted_by_size, 3);
  EXPECT_LE(db->TotalBytes(), o.retention_bytes);
  for (auto& [ls, s] : want) std::erase_if(s, [&](const Sample& x) { return x.t < 6 * kHour; });
  std::erase_if(want, [](const auto& kv) { return kv.second.empty(); });
  ExpectQueries(*db, want);
}

void CopyTree(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// A crash while a block is being written leaves its .tmp directory; a crash
// after its rename but before the head was truncated leaves the block and a
// WAL that still holds its samples; a crash after a compaction's output was
// renamed leaves its sources. Each recovers to exactly the data written.
TEST(Db, RecoversFromCrashesAtEachStep) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  Expected want;
  std::string before = dir.path + "/before";
  std::string live = dir.path + "/db";
  o.dir = live;
  {
    auto db = OpenDb(o);
    Write(*db, &want, 0, 7 * kHour);
    db->Close();
  }
  CopyTree(live, before);  // the state before any block was cut
  std::vector<std::string> first_blocks;
  {
    auto db = OpenDb(o);
    ASSERT_TRUE(db->CutHead().ok());  // [0,2) [2,4)
    for (const auto& m : db->Blocks()) first_blocks.push_back(m.id);
    ASSERT_EQ(first_blocks.size(), 2u);
  }

  // 1. Interrupted block write: a partial temporary directory.
  std::string partial = live + "/" + NewBlockId() + ".tmp";
  fs::create_directories(partial + "/chunks");
  { std::ofstream(partial + "/chunks/000001") << "BTSC\1\0\0\0garbage"; }
  // 2. Interrupted block deletion.
  CopyTree(live + "/" + first_blocks[0], live + "/" + NewBlockId() + ".deleted");
  {
    auto db = OpenDb(o);
    ASSERT_NE(db, nullptr);
    EXPECT_FALSE(fs::exists(partial));
    EXPECT_EQ(db->Blocks().size(), 2u);
    ExpectQueries(*db, want);
  }

  // 3. Blocks in place, head not truncated: the old WAL with the new blocks.
  std::string crashed = dir.path + "/crashed";
  CopyTree(before, crashed);
  for (const std::string& id : first_blocks) CopyTree(live + "/" + id, crashed + "/" + id);
  {
    DbOptions oc = o;
    oc.dir = crashed;
    auto db = OpenDb(oc);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(db->head().MinTime(), 4 * kHour);
    ExpectQueries(*db, want);
    ASSERT_TRUE(db->CutHead().ok());
    EXPECT_EQ(db->Blocks().size(), 2u);  // nothing new to cut, nothing doubled
  }

  // 4. Compaction output in place, sources not yet deleted.
  {
    auto db = OpenDb(o);
    Write(*db, &want, 7 * kHour, 9 * kHour);
    ASSERT_TRUE(db->CutHead().ok());  // + [4,6)
    ASSERT_EQ(db->Blocks().size(), 3u);
    std::string saved = dir.path + "/saved";
    fs::create_directories(saved);
    for (const auto& m : db->Blocks()) CopyTree(live + "/" + m.id, saved + "/" + m.id);
    ASSERT_TRUE(db->Compact().ok());
    ASSERT_EQ(db->Blocks().size(), 1u);
    db->Close();
    db.reset();
    for (const auto& e : fs::directory_iterator(saved))
      CopyTree(e.path().string(), live + "/" + e.path().filename().string());
  }
  {
    auto db = OpenDb(o);
    ASSERT_NE(db, nullptr);
    auto blocks = db->Blocks();
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].level, 2);
    ExpectQueries(*db, want);
  }
}

// Commits race with cuts, compactions and queries; every committed sample
// must end up exactly once in the head or a block.
TEST(Db, HousekeepingRacesWithAppendsAndQueries) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  o.head.wal = false;
  auto db = OpenDb(o);
  constexpr int kSeries = 20;
  constexpr int64_t kStep = 60000;
  constexpr int64_t kEnd = 20 * kHour;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int64_t t = 0; t < kEnd; t += kStep) {
      auto app = db->NewAppender();
      for (int i = 0; i < kSeries; ++i)
        EXPECT_TRUE(app->Append({{"__name__", "c"}, {"i", std::to_string(i)}}, t,
                                static_cast<double>(t / kStep + i))
                        .ok());
      EXPECT_TRUE(app->Commit().ok());
    }
    done = true;
  });
  while (!done.load()) {
    ASSERT_TRUE(db->Housekeep().ok());
    auto q = db->NewQuerier();
    auto r = q->Select(kMin, kMax, {M(Op::kEq, "i", "3")});
    ASSERT_TRUE(r.ok());
    if (!r->empty()) {
      const auto& s = (*r)[0].samples;
      for (size_t j = 0; j < s.size(); ++j) ASSERT_EQ(s[j].t, static_cast<int64_t>(j) * kStep);
    }
  }
  writer.join();
  ASSERT_TRUE(db->Housekeep().ok());
  EXPECT_EQ(db->head().MinTime(), 18 * kHour);
  EXPECT_GE(db->stats().compactions, 3);
  auto q = db->NewQuerier();
  auto r = q->Select(kMin, kMax, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), static_cast<size_t>(kSeries));
  for (const auto& ss : *r) {
    ASSERT_EQ(ss.samples.size(), static_cast<size_t>(kEnd / kStep)) << ss.labels.String();
    int i = std::stoi(std::string(ss.labels.Get("i")));
    for (size_t j = 0; j < ss.samples.size(); ++j) {
      ASSERT_EQ(ss.samples[j].t, static_cast<int64_t>(j) * kStep);
      ASSERT_EQ(ss.samples[j].v, static_cast<double>(static_cast<int64_t>(j) + i));
    }
  }
}

TEST(Db, BackgroundThreadStops) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  o.housekeeping_interval_ms = 1;
  auto db = OpenDb(o);
  Expected want;
  Write(*db, &want, 0, kHour);
  db->Close();  // joins the thread; must not hang
  db->Close();
}

// ---------------------------------------------------------------------------
// Figures

// 1000 counters scraped every 15 s for 6 h, compacted into one 6 h block.
// Rates span five decades, a fifth of the counters never move (error
// counters), and 2% of scrapes are a few milliseconds late.
TEST(Figures, BytesPerSampleAfterCompaction) {
  TempDir dir;
  DbOptions o = TestOptions(dir.path);
  o.block_chunk_samples = 480;
  o.head.wal = false;  // 2000+ commits; the WAL is not what is measured
  auto db = OpenDb(o);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  constexpr int kSeries = 1000;
  struct C {
    Labels ls;
    double rate;  // per scrape
    double value;
  };
  std::vector<C> cs;
  for (int i = 0; i < kSeries; ++i) {
    Labels ls{{"__name__", "http_requests_total"},
              {"instance", "10.0.0." + std::to_string(i % 50) + ":9100"},
              {"job", "node"},
              {"code", std::to_string(200 + i / 50)}};
    double rate = i % 5 == 0 ? 0 : std::pow(10.0, u(rng) * 5 - 2) * 15;
    cs.push_back({ls, rate, std::floor(u(rng) * 1e6)});
  }
  const int64_t step = 15000;
  const int64_t end = 9 * kHour;  // 6 h in blocks, 3 h in the head
  std::vector<std::string> xor120(kSeries);
  std::vector<XorChunk> cur(kSeries);
  int64_t xor_bytes = 0, in_block = 0;
  for (int64_t t = 0; t < end; t += step) {
    auto app = db->NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      C& c = cs[static_cast<size_t>(i)];
      int64_t ts = t + (u(rng) < 0.02 ? static_cast<int64_t>(u(rng) * 5) + 1 : 0);
      if (c.rate > 0) {
        std::poisson_distribution<int64_t> p(c.rate);
        c.value += static_cast<double>(p(rng));
      }
      ASSERT_TRUE(app->Append(c.ls, ts, c.value).ok());
      if (t < 6 * kHour) {
        // Prometheus's layout for comparison: 120-sample XOR chunks, each
        // with ~6 bytes of framing in the segment file.
        XorChunk& x = cur[static_cast<size_t>(i)];
        x.Append(ts, c.value);
        ++in_block;
        if (x.NumSamples() == 120) {
          xor_bytes += static_cast<int64_t>(x.Bytes().size()) + 6;
          x = XorChunk();
        }
      }
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  for (XorChunk& x : cur)
    if (x.NumSamples() > 0) xor_bytes += static_cast<int64_t>(x.Bytes().size()) + 6;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(db->Housekeep().ok());
  std::printf("cut 3 blocks and compacted them in %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 1u);
  ASSERT_EQ(blocks[0].max_time - blocks[0].min_time, 6 * kHour);
  ASSERT_EQ(blocks[0].num_samples, in_block);
  int64_t index = static_cast<int64_t>(fs::file_size(dir.path + "/" + blocks[0].id + "/index"));
  int64_t total = db->BlockBytes();
  double n = static_cast<double>(blocks[0].num_samples);
  std::printf(
      "6h block: %lld samples, %lld bytes = %.3f B/sample (index %.3f B/sample, "
      "%lld chunks)\n",
      static_cast<long long>(blocks[0].num_samples), static_cast<long long>(total),
      static_cast<double>(total) / n, static_cast<double>(index) / n,
      static_cast<long long>(blocks[0].num_chunks));
  std::printf(
      "same samples as Prometheus-style 120-sample XOR chunks: %.3f B/sample "
      "(chunk data only, no index)\n",
      static_cast<double>(xor_bytes) / n);
  EXPECT_LT(static_cast<double>(total) / n, static_cast<double>(xor_bytes) / n);
}

}  // namespace
}  // namespace berth::monitor::tsdb
