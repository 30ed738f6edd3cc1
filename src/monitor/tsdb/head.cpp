#include "monitor/tsdb/head.h"

#include <pthread.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>

#include "core/log.h"
#include "core/small_mutex.h"
#include "core/strings.h"
#include "monitor/tsdb/chunk.h"

namespace berth::monitor::tsdb {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

struct HeadChunk {
  int64_t min_t;
  int64_t max_t;
  XorChunk chunk;
};

// One series. Everything mutable is guarded by mu, except pins and removed.
// pins is raised under the series' hash stripe lock (see Head::GetOrCreate)
// or by a writer that kept the series from an earlier append
// (AppendCached), which then checks `removed` (see GarbageCollect).
class MemSeries {
 public:
  MemSeries(uint64_t r, Labels ls) : ref(r), labels(std::move(ls)) {}

  const uint64_t ref;
  const Labels labels;  // its Hash() is computed once, as the head looks series up by it

  SmallMutex mu;  // 4 bytes instead of std::mutex's 40, times every series
  std::atomic<int> pins{0};
  std::vector<HeadChunk> chunks;  // ascending, non-overlapping
  // Accepted out-of-order samples, sorted, none at a time present in chunks.
  std::vector<Sample> ooo;
  int64_t max_t = kNoTime;  // newest in-order sample (of either kind) ever appended
  uint64_t last_v = 0;      // its value bits, when a float
  int32_t samples = 0;  // a head holds hours of samples, not billions
  bool logged = false;  // a series record for ref is in the WAL
  // Set once garbage collection has taken the series out of the head; a
  // writer still holding it (an Appender::SeriesRef) must look the series
  // up again.
  std::atomic<bool> removed{false};

  // Native histogram samples, in and out of order alike, sorted; no
  // timestamp here is also held by chunks or ooo. Kept uncompressed, and
  // allocated only for series that have histograms: most have none.
  const std::vector<HistogramSample>& hists() const {
    static const std::vector<HistogramSample> kNone;
    return hist_ ? hist_->samples : kNone;
  }
  std::vector<HistogramSample>& mutable_hists() { return State().samples; }
  // The newest in-order sample when it is a histogram, else null.
  const HistogramPtr& last_h() const {
    static const HistogramPtr kNull;
    return hist_ ? hist_->last : kNull;
  }
  void set_last_h(HistogramPtr h) {
    if (h != nullptr || hist_ != nullptr) State().last = std::move(h);
  }

 private:
  struct HistState {
    std::vector<HistogramSample> samples;
    HistogramPtr last;
  };
  HistState& State() {
    if (hist_ == nullptr) hist_ = std::make_unique<HistState>();
    return *hist_;
  }
  std::unique_ptr<HistState> hist_;

 public:
  bool empty() const { return chunks.empty() && ooo.empty() && hists().empty(); }
  int64_t DataMinT() const {
    int64_t t = chunks.empty() ? kMaxTime : chunks.front().min_t;
    if (!ooo.empty()) t = std::min(t, ooo.front().t);
    return hists().empty() ? t : std::min(t, hists().front().t);
  }
  int64_t DataMaxT() const {
    int64_t t = chunks.empty() ? kNoTime : chunks.back().max_t;
    if (!ooo.empty()) t = std::max(t, ooo.back().t);
    return hists().empty() ? t : std::max(t, hists().back().t);
  }
};

namespace {

enum class AddResult { kAdded, kSame, kOutOfBounds, kOutOfOrder, kDuplicate };

// How the head decides on one sample; shared by Append's early check,
// Commit and WAL replay so the three agree.
struct SampleRules {
  int64_t min_valid;
  int64_t ooo_window;
  bool any_order;  // replay: the WAL holds only samples that were accepted
};

Status ToStatus(AddResult r) {
  switch (r) {
    case AddResult::kOutOfBounds:
      return Invalid("out of bounds");
    case AddResult::kOutOfOrder:
      return Invalid("out of order sample");
    case AddResult::kDuplicate:
      return Invalid("duplicate sample for timestamp");
    default:
      return Status::Ok();
  }
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The value bits stored at exactly t, if any.
std::optional<uint64_t> ValueAt(const MemSeries& s, int64_t t) {
  auto o = std::lower_bound(s.ooo.begin(), s.ooo.end(), t,
                            [](const Sample& a, int64_t tt) { return a.t < tt; });
  if (o != s.ooo.end() && o->t == t) return std::bit_cast<uint64_t>(o->v);
  for (const HeadChunk& c : s.chunks) {
    if (t < c.min_t || t > c.max_t) continue;
    ChunkIterator it(c.chunk.Bytes());
    while (it.Next()) {
      if (it.t() == t) return it.v_bits();
      if (it.t() > t) break;
    }
  }
  return std::nullopt;
}

std::vector<HistogramSample>::const_iterator HistAt(const MemSeries& s, int64_t t) {
  auto it = std::lower_bound(s.hists().begin(), s.hists().end(), t,
                             [](const HistogramSample& a, int64_t tt) { return a.t < tt; });
  return it != s.hists().end() && it->t == t ? it : s.hists().end();
}

AddResult Check(const MemSeries& s, int64_t t, double v, const SampleRules& r) {
  if (t < r.min_valid) return AddResult::kOutOfBounds;
  if (s.max_t == kNoTime || t > s.max_t) return AddResult::kAdded;
  uint64_t bits = std::bit_cast<uint64_t>(v);
  if (t == s.max_t) {
    if (s.last_h() != nullptr) return AddResult::kDuplicate;
    return bits == s.last_v ? AddResult::kSame : AddResult::kDuplicate;
  }
  if (!r.any_order && s.max_t - t > r.ooo_window) return AddResult::kOutOfOrder;
  if (HistAt(s, t) != s.hists().end()) return AddResult::kDuplicate;
  auto old = ValueAt(s, t);
  if (!old) return AddResult::kAdded;
  return *old == bits ? AddResult::kSame : AddResult::kDuplicate;
}

// Equal but for the counter reset hint, which the head sets itself.
bool SameHistogram(const FloatHistogram& stored, const FloatHistogram& h) {
  if (stored.counter_reset_hint == h.counter_reset_hint) return stored == h;
  FloatHistogram x = stored;
  x.counter_reset_hint = h.counter_reset_hint;
  return x == h;
}

// Check's counterpart for a histogram sample.
AddResult CheckHistogram(const MemSeries& s, int64_t t, const FloatHistogram& h,
                         const SampleRules& r) {
  if (t < r.min_valid) return AddResult::kOutOfBounds;
  if (s.max_t == kNoTime || t > s.max_t) return AddResult::kAdded;
  if (t == s.max_t)
    return s.last_h() != nullptr && SameHistogram(*s.last_h(), h) ? AddResult::kSame
                                                                  : AddResult::kDuplicate;
  if (!r.any_order && s.max_t - t > r.ooo_window) return AddResult::kOutOfOrder;
  if (auto it = HistAt(s, t); it != s.hists().end())
    return SameHistogram(*it->h, h) ? AddResult::kSame : AddResult::kDuplicate;
  return ValueAt(s, t) ? AddResult::kDuplicate : AddResult::kAdded;
}

class ChunkCutter {
 public:
  explicit ChunkCutter(const Options& o)
      : per_chunk_(o.samples_per_chunk), range_(o.chunk_range_ms) {}
  // Appends a sample newer than everything in `chunks`.
  void Append(std::vector<HeadChunk>& chunks, int64_t t, double v) const {
    if (chunks.empty() || NeedsCut(chunks.back(), t)) {
      if (!chunks.empty()) chunks.back().chunk.Seal();
      chunks.push_back({t, t, XorChunk()});
    }
    HeadChunk& c = chunks.back();
    c.chunk.Append(t, v);
    c.max_t = t;
  }

 private:
  bool NeedsCut(const HeadChunk& c, int64_t t) const {
    // Aligned boundaries keep every chunk inside one future block range.
    int64_t end = (FloorDiv(c.min_t, range_) + 1) * range_;
    return !c.chunk.appendable() || c.chunk.NumSamples() >= per_chunk_ || t >= end;
  }
  int per_chunk_;
  int64_t range_;
};

// Samples of s in [mint, maxt], in order; chunks and the out-of-order buffer
// merged.
void Collect(const MemSeries& s, int64_t mint, int64_t maxt, std::vector<Sample>* out) {
  for (const HeadChunk& c : s.chunks) {
    if (c.max_t < mint || c.min_t > maxt) continue;
    ChunkIterator it(c.chunk.Bytes());
    while (it.Next()) {
      if (it.t() > maxt) break;
      if (it.t() >= mint) out->push_back({it.t(), it.v()});
    }
  }
  if (s.ooo.empty()) return;
  size_t mid = out->size();
  for (const Sample& o : s.ooo)
    if (o.t >= mint && o.t <= maxt) out->push_back(o);
  if (out->size() != mid) {
    std::inplace_merge(out->begin(), out->begin() + static_cast<ptrdiff_t>(mid), out->end(),
                       [](const Sample& a, const Sample& b) { return a.t < b.t; });
  }
}

void CollectHistograms(const MemSeries& s, int64_t mint, int64_t maxt,
                       std::vector<HistogramSample>* out) {
  auto it = std::lower_bound(s.hists().begin(), s.hists().end(), mint,
                             [](const HistogramSample& a, int64_t t) { return a.t < t; });
  for (; it != s.hists().end() && it->t <= maxt; ++it) out->push_back(*it);
}

bool HasSampleIn(const MemSeries& s, int64_t mint, int64_t maxt) {
  if (s.empty() || s.DataMaxT() < mint || s.DataMinT() > maxt) return false;
  auto h = std::lower_bound(s.hists().begin(), s.hists().end(), mint,
                            [](const HistogramSample& a, int64_t t) { return a.t < t; });
  if (h != s.hists().end() && h->t <= maxt) return true;
  for (const HeadChunk& c : s.chunks) {
    if (c.max_t < mint || c.min_t > maxt) continue;
    if (c.min_t >= mint || c.max_t <= maxt) return true;  // an end inside the range
    ChunkIterator it(c.chunk.Bytes());
    while (it.Next()) {
      if (it.t() > maxt) break;
      if (it.t() >= mint) return true;
    }
  }
  auto o = std::lower_bound(s.ooo.begin(), s.ooo.end(), mint,
                            [](const Sample& a, int64_t t) { return a.t < t; });
  return o != s.ooo.end() && o->t <= maxt;
}

// Re-encodes the chunks from the first one holding data at or after `from`,
// merged with the out-of-order buffer, and empties the buffer. Keeps the
// buffer small so lookups and queries stay cheap.
void FoldOutOfOrder(MemSeries& s, const ChunkCutter& cutter) {
  if (s.ooo.empty()) return;
  int64_t from = s.ooo.front().t;
  size_t first = 0;
  while (first < s.chunks.size() && s.chunks[first].max_t < from) ++first;
  std::vector<Sample> merged;
  for (size_t i = first; i < s.chunks.size(); ++i) {
    ChunkIterator it(s.chunks[i].chunk.Bytes());
    while (it.Next()) merged.push_back({it.t(), it.v()});
  }
  size_t mid = merged.size();
  merged.insert(merged.end(), s.ooo.begin(), s.ooo.end());
  std::inplace_merge(merged.begin(), merged.begin() + static_cast<ptrdiff_t>(mid), merged.end(),
                     [](const Sample& a, const Sample& b) { return a.t < b.t; });
  s.chunks.resize(first);
  // The chunk before `first` ends before `from`, but it may still be open:
  // seal it so the merged samples start a chunk of their own.
  if (!s.chunks.empty()) s.chunks.back().chunk.Seal();
  std::vector<HeadChunk> rebuilt;
  for (const Sample& x : merged) cutter.Append(rebuilt, x.t, x.v);
  for (auto& c : rebuilt) s.chunks.push_back(std::move(c));
  s.ooo.clear();
}

constexpr size_t kOooFoldAt = 32;

// Applies one sample; the caller holds s.mu.
AddResult Add(MemSeries& s, int64_t t, double v, const SampleRules& r, const ChunkCutter& cutter) {
  AddResult res = Check(s, t, v, r);
  if (res != AddResult::kAdded) return res;
  if (s.max_t == kNoTime || t > s.max_t) {
    cutter.Append(s.chunks, t, v);
    s.max_t = t;
    s.last_v = std::bit_cast<uint64_t>(v);
    s.set_last_h(nullptr);
  } else {
    auto at = std::lower_bound(s.ooo.begin(), s.ooo.end(), t,
                               [](const Sample& a, int64_t tt) { return a.t < tt; });
    s.ooo.insert(at, Sample{t, v});
    if (s.ooo.size() >= kOooFoldAt) FoldOutOfOrder(s, cutter);
  }
  ++s.samples;
  return AddResult::kAdded;
}

// Applies one histogram sample; the caller holds s.mu.
AddResult AddHistogram(MemSeries& s, int64_t t, const HistogramPtr& h, const SampleRules& r) {
  AddResult res = CheckHistogram(s, t, *h, r);
  if (res != AddResult::kAdded) return res;
  if (s.max_t == kNoTime || t > s.max_t) {
    // The hint Prometheus's TSDB hands out: not a reset after a histogram it
    // continues, unknown at the start of a run or after a reset. Replay
    // sees the same sequence and sets the same hints.
    HistogramPtr stored = h;
    CounterResetHint hint = StoredCounterResetHint(s.last_h().get(), *h);
    if (hint != h->counter_reset_hint) {
      auto c = std::make_shared<FloatHistogram>(*h);
      c->counter_reset_hint = hint;
      stored = std::move(c);
    }
    s.mutable_hists().push_back({t, stored});
    s.max_t = t;
    s.set_last_h(std::move(stored));
  } else {
    auto& hists = s.mutable_hists();
    auto at = std::lower_bound(hists.begin(), hists.end(), t,
                               [](const HistogramSample& a, int64_t tt) { return a.t < tt; });
    hists.insert(at, HistogramSample{t, h});
  }
  ++s.samples;
  return AddResult::kAdded;
}

// Deletes samples older than t; returns how many. The caller holds s.mu.
int64_t DropOlder(MemSeries& s, int64_t t, const ChunkCutter& cutter) {
  int64_t before = s.samples;
  size_t gone = 0;
  while (gone < s.chunks.size() && s.chunks[gone].max_t < t) {
    s.samples -= s.chunks[gone].chunk.NumSamples();
    ++gone;
  }
  s.chunks.erase(s.chunks.begin(), s.chunks.begin() + static_cast<ptrdiff_t>(gone));
  if (!s.chunks.empty() && s.chunks.front().min_t < t) {
    HeadChunk old = std::move(s.chunks.front());
    std::vector<HeadChunk> kept;
    ChunkIterator it(old.chunk.Bytes());
    while (it.Next()) {
      if (it.t() >= t) {
        cutter.Append(kept, it.t(), it.v());
      } else {
        --s.samples;
      }
    }
    if (s.chunks.size() > 1 && !kept.empty()) kept.back().chunk.Seal();
    s.chunks.erase(s.chunks.begin());
    s.chunks.insert(s.chunks.begin(), std::make_move_iterator(kept.begin()),
                    std::make_move_iterator(kept.end()));
  }
  auto keep = std::lower_bound(s.ooo.begin(), s.ooo.end(), t,
                               [](const Sample& a, int64_t tt) { return a.t < tt; });
  s.samples -= keep - s.ooo.begin();
  s.ooo.erase(s.ooo.begin(), keep);
  if (!s.hists().empty()) {
    auto& hists = s.mutable_hists();
    auto hkeep = std::lower_bound(hists.begin(), hists.end(), t,
                                  [](const HistogramSample& a, int64_t tt) { return a.t < tt; });
    s.samples -= hkeep - hists.begin();
    hists.erase(hists.begin(), hkeep);
  }
  return before - s.samples;
}

Status ValidateLabels(const Labels& ls) {
  if (ls.empty()) return BadRequest("empty label set");
  std::string_view prev;
  bool first = true;
  for (LabelView l : ls) {
    if (l.name.empty()) return BadRequest("empty label name in " + ls.String());
    if (!first && prev == l.name) return BadRequest("duplicate label name " + std::string(l.name));
    if (!IsValidUtf8(l.name)) return BadRequest("label name is not valid UTF-8");
    if (!IsValidUtf8(l.value))
      return BadRequest("value of label " + std::string(l.name) + " is not valid UTF-8");
    prev = l.name;
    first = false;
  }
  return Status::Ok();
}

// Bytes of a series' samples as stored; the caller holds s.mu.
int64_t DataBytes(const MemSeries& s) {
  int64_t n = 0;
  for (const HeadChunk& c : s.chunks) n += static_cast<int64_t>(c.chunk.Bytes().size());
  n += static_cast<int64_t>(s.ooo.size() * sizeof(Sample));
  for (const HistogramSample& x : s.hists()) {
    const FloatHistogram& h = *x.h;
    size_t doubles = h.positive_buckets.size() + h.negative_buckets.size() + h.custom_values.size();
    size_t spans = h.positive_spans.size() + h.negative_spans.size();
    n += static_cast<int64_t>(sizeof(FloatHistogram) + 8 * doubles + sizeof(HistogramSpan) * spans);
  }
  return n;
}

// Add, also adding the change in the series' DataBytes to *bytes.
AddResult AddCounted(MemSeries& s, int64_t t, double v, const SampleRules& r,
                     const ChunkCutter& cutter, int64_t* bytes) {
  if (!s.ooo.empty() || (s.max_t != kNoTime && t <= s.max_t)) {
    // Out of order (and maybe folding the buffer into the chunks): rare.
    *bytes -= DataBytes(s);
    AddResult res = Add(s, t, v, r, cutter);
    *bytes += DataBytes(s);
    return res;
  }
  // In order: only the last chunk changes, or is sealed and followed by a
  // new one. Only those are counted.
  auto size = [&](size_t i) { return static_cast<int64_t>(s.chunks[i].chunk.Bytes().size()); };
  size_t from = s.chunks.empty() ? 0 : s.chunks.size() - 1;
  int64_t before = s.chunks.empty() ? 0 : size(from);
  AddResult res = Add(s, t, v, r, cutter);
  for (size_t i = from; i < s.chunks.size(); ++i) *bytes += size(i);
  *bytes -= before;
  return res;
}

// Series ref -> index into a batch's series: open addressing with linear
// probing, cleared between batches without freeing (a std::unordered_map
// would allocate a node per series of every scrape).
class BatchIndex {
 public:
  // The index stored for ref, or kNone after storing `fresh` for it.
  static constexpr uint32_t kNone = ~0u;
  uint32_t FindOrInsert(uint64_t ref, uint32_t fresh) {
    if ((size_ + 1) * 2 > keys_.size()) Grow();
    size_t i = Slot(ref);
    while (keys_[i] != 0) {
      if (keys_[i] == ref) return vals_[i];
      i = (i + 1) & (keys_.size() - 1);
    }
    keys_[i] = ref;
    vals_[i] = fresh;
    ++size_;
    return kNone;
  }
  void Reserve(size_t n) {
    while (n * 2 > keys_.size()) Grow();
  }
  void Clear() {
    if (size_ == 0) return;
    std::fill(keys_.begin(), keys_.end(), 0);
    size_ = 0;
  }

 private:
  size_t Slot(uint64_t ref) const {
    return static_cast<size_t>((ref * 0x9E3779B97F4A7C15ULL) >> 20) & (keys_.size() - 1);
  }
  void Grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint32_t> old_vals = std::move(vals_);
    size_t n = std::max<size_t>(64, old_keys.size() * 2);
    keys_.assign(n, 0);  // refs start at 1: 0 marks a free slot
    vals_.assign(n, 0);
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != 0) FindOrInsert(old_keys[i], old_vals[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> vals_;
  size_t size_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------
// Appender

class HeadAppender : public Appender {
 public:
  explicit HeadAppender(Head* h) : head_(h) {}
  ~HeadAppender() override { Rollback(); }

  Status Append(const Labels& ls, int64_t t, double v) override {
    return Add(nullptr, ls, t, v, nullptr);
  }

  Status AppendCached(SeriesRef* ref, const Labels& ls, int64_t t, double v) override {
    return Add(ref, ls, t, v, nullptr);
  }

  Status AppendHistogram(const Labels& ls, int64_t t, const FloatHistogram& h) override {
    return Add(nullptr, ls, t, 0, std::make_shared<const FloatHistogram>(h));
  }

  void Reserve(size_t n) override {
    pending_.reserve(n);
    series_.reserve(n);
    index_.Reserve(n);
  }

  Status Commit() override {
    if (pending_.empty()) {
      Rollback();
      return Status::Ok();
    }
    // Lock every series of the batch, in ref order so concurrent commits
    // cannot deadlock, and keep them locked until the batch is in the WAL
    // queue: per series, log order then equals apply order.
    std::vector<size_t> order(series_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto by_ref = [&](size_t a, size_t b) { return series_[a].s->ref < series_[b].s->ref; };
    // A scrape lists its series in the order they were created: usually
    // sorted already.
    if (!std::is_sorted(order.begin(), order.end(), by_ref))
      std::sort(order.begin(), order.end(), by_ref);
    std::vector<std::unique_lock<SmallMutex>> locks;
    locks.reserve(order.size());
    for (size_t i : order) locks.emplace_back(series_[i].s->mu);

    ChunkCutter cutter(head_->opts_);
    SampleRules rules = Rules();
    std::vector<RefSample> accepted;
    accepted.reserve(pending_.size());
    int64_t dropped = 0, tmin = kMaxTime, tmax = kNoTime;
    std::vector<RefHistogram> accepted_h;
    int64_t bytes = 0;  // how much the head's ChunkBytes grows
    for (const Pending& q : pending_) {
      MemSeries& s = *series_[q.series].s;
      AddResult r;
      if (q.hist == 0) {
        r = AddCounted(s, q.t, q.v, rules, cutter, &bytes);
        if (r == AddResult::kAdded) accepted.push_back({s.ref, q.t, q.v});
      } else {
        const HistogramPtr& h = hists_[q.hist - 1];
        bytes -= DataBytes(s);
        r = tsdb::AddHistogram(s, q.t, h, rules);
        bytes += DataBytes(s);
        if (r == AddResult::kAdded) accepted_h.push_back({s.ref, q.t, h});
      }
      if (r == AddResult::kAdded) {
        tmin = std::min(tmin, q.t);
        tmax = std::max(tmax, q.t);
      } else if (r != AddResult::kSame) {
        ++dropped;  // a concurrent commit got there first
      }
    }

    Status st;
    uint64_t ticket = 0;
    size_t n_accepted = accepted.size() + accepted_h.size();
    if (head_->wal_ != nullptr && n_accepted > 0) {
      std::vector<RefSeries> fresh;
      for (const Pinned& p : series_)
        if (!p.s->logged) fresh.push_back({p.s->ref, p.s->labels});
      std::string rec;
      // Encodes one record with `encode` and enqueues it, after the first
      // failure doing nothing.
      auto log = [&](auto encode) {
        if (!st.ok()) return;
        rec.clear();
        encode();
        auto t = head_->wal_->Enqueue(rec);
        if (t.ok()) {
          ticket = *t;
        } else {
          st = t.status();
        }
      };
      if (!fresh.empty()) {
        log([&] { EncodeSeries(fresh, &rec); });
        if (st.ok())
          for (const Pinned& p : series_) p.s->logged = true;
      }
      if (!accepted.empty()) log([&] { EncodeSamples(accepted, &rec); });
      if (!accepted_h.empty()) log([&] { EncodeHistograms(accepted_h, &rec); });
    }
    locks.clear();

    head_->chunk_bytes_ += bytes;
    head_->num_samples_ += static_cast<int64_t>(n_accepted);
    if (n_accepted > 0) {
      head_->NoteTime(tmin);
      head_->NoteTime(tmax);
    }
    if (dropped > 0) {
      std::lock_guard lk(head_->stats_mu_);
      head_->stats_.commit_dropped += dropped;
    }
    if (st.ok() && ticket > 0) st = sync_ ? head_->wal_->Sync(ticket) : head_->wal_->Write(ticket);
    Rollback();
    return st;
  }

  void Rollback() override {
    for (Pinned& p : series_) p.s->pins.fetch_sub(1);
    series_.clear();
    index_.Clear();
    pending_.clear();
    hists_.clear();
    // A series this batch created stays empty if its samples were not
    // committed; garbage collection looks at those next time.
    std::erase_if(created_, [](const std::shared_ptr<MemSeries>& s) {
      std::lock_guard lk(s->mu);
      return !s->empty();
    });
    if (!created_.empty()) head_->AddGcCandidates(created_);
    created_.clear();
  }

 private:
  struct Pinned {
    std::shared_ptr<MemSeries> s;
    int64_t last_t;  // newest sample this batch holds for s
    uint64_t last_v;
    uint32_t last_hist;  // its Pending::hist
  };
  struct Pending {
    uint32_t series;  // index into series_
    uint32_t hist;    // 0: a float; else 1 + index into hists_
    int64_t t;
    double v;
  };

  // Whether pending sample q holds the same value as (v, h).
  bool SameValue(uint32_t q_hist, double q_v, double v, const HistogramPtr& h) const {
    if ((q_hist == 0) != (h == nullptr)) return false;
    if (h == nullptr) return std::bit_cast<uint64_t>(q_v) == std::bit_cast<uint64_t>(v);
    return *hists_[q_hist - 1] == *h;
  }

  // The series for ls, pinned: the one *ref holds if it is still in the
  // head, else found by labels or created (and then stored in *ref).
  std::shared_ptr<MemSeries> Resolve(SeriesRef* ref, const Labels& ls, Status* st) {
    if (ref != nullptr && *ref != nullptr) {
      auto s = std::static_pointer_cast<MemSeries>(*ref);
      // Pin, then check: GarbageCollect marks, then checks pins (both
      // sequentially consistent), so one of the two sees the other.
      s->pins.fetch_add(1);
      if (!s->removed.load()) return s;
      s->pins.fetch_sub(1);
      ref->reset();
    }
    // An existing series' labels were checked when it was made: only new
    // ones are validated (most appends are to series that exist).
    std::shared_ptr<MemSeries> s = head_->Lookup(ls, /*pin=*/true);
    if (s == nullptr) {
      *st = ValidateLabels(ls);
      if (!st->ok()) return nullptr;
      bool created = false;
      s = head_->GetOrCreate(ls, 0, /*pin=*/true, &created);
      if (created) created_.push_back(s);
    }
    if (ref != nullptr) *ref = s;
    return s;
  }

  // Append, AppendCached and AppendHistogram: h is null for a float.
  Status Add(SeriesRef* ref, const Labels& ls, int64_t t, double v, HistogramPtr h) {
    if (t < head_->min_valid_time_.load()) return Invalid("out of bounds");
    Status resolved;
    std::shared_ptr<MemSeries> s = Resolve(ref, ls, &resolved);
    if (s == nullptr) return resolved;
    uint32_t idx = index_.FindOrInsert(s->ref, static_cast<uint32_t>(series_.size()));
    if (idx == BatchIndex::kNone) {
      idx = static_cast<uint32_t>(series_.size());
      series_.push_back({std::move(s), kNoTime, 0, 0});
    } else {
      s->pins.fetch_sub(1);  // this appender pinned it already
    }
    Pinned& p = series_[idx];
    MemSeries* sp = p.s.get();

    AddResult r;
    {
      std::lock_guard lk(sp->mu);
      r = h == nullptr ? Check(*sp, t, v, Rules()) : CheckHistogram(*sp, t, *h, Rules());
      if (r == AddResult::kAdded && p.last_t != kNoTime) {
        // Also in order with what this batch already holds for the series.
        int64_t newest = std::max(p.last_t, sp->max_t);
        if (t == p.last_t) {
          r = SameValue(p.last_hist, std::bit_cast<double>(p.last_v), v, h) ? AddResult::kSame
                                                                            : AddResult::kDuplicate;
        } else if (t < p.last_t) {
          if (newest - t > head_->opts_.ooo_window_ms) {
            r = AddResult::kOutOfOrder;
          } else {
            for (const Pending& q : pending_) {
              if (q.series == idx && q.t == t)
                r = SameValue(q.hist, q.v, v, h) ? AddResult::kSame : AddResult::kDuplicate;
            }
          }
        }
      }
    }
    if (r != AddResult::kAdded) return ToStatus(r);
    uint32_t hist = 0;
    if (h != nullptr) {
      hists_.push_back(std::move(h));
      hist = static_cast<uint32_t>(hists_.size());
    }
    pending_.push_back({idx, hist, t, v});
    if (t > p.last_t) {
      p.last_t = t;
      p.last_v = std::bit_cast<uint64_t>(v);
      p.last_hist = hist;
    }
    return Status::Ok();
  }
  SampleRules Rules() const {
    return {head_->min_valid_time_.load(), head_->opts_.ooo_window_ms, false};
  }

  Head* head_;
  std::vector<Pinned> series_;
  BatchIndex index_;                                 // ref -> series_ index
  std::vector<std::shared_ptr<MemSeries>> created_;  // series this batch made
  std::vector<Pending> pending_;
  std::vector<HistogramPtr> hists_;  // the histograms of pending_
};

// ---------------------------------------------------------------------------
// Querier

class HeadQuerier : public Querier {
 public:
  explicit HeadQuerier(Head* h) : head_(h) {}

  Result<std::vector<SeriesSamples>> Select(int64_t mint, int64_t maxt,
                                            const std::vector<Matcher>& ms) override {
    std::vector<SeriesSamples> out;
    if (mint > maxt) return out;
    for (uint64_t ref : head_->postings_.Select(ms)) {
      auto s = head_->ByRef(ref);
      if (s == nullptr) continue;
      SeriesSamples ss;
      {
        std::lock_guard lk(s->mu);
        Collect(*s, mint, maxt, &ss.samples);
        CollectHistograms(*s, mint, maxt, &ss.histograms);
      }
      if (ss.samples.empty() && ss.histograms.empty()) continue;
      ss.labels = s->labels;
      out.push_back(std::move(ss));
    }
    std::sort(out.begin(), out.end(),
              [](const SeriesSamples& a, const SeriesSamples& b) { return a.labels < b.labels; });
    return out;
  }

  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     const std::vector<Matcher>& ms) override {
    std::vector<Labels> out;
    for (const auto& s : Matching(mint, maxt, ms)) out.push_back(s->labels);
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              const std::vector<Matcher>& ms) override {
    std::vector<std::string> out;
    if (ms.empty()) {
      // Per name, stop at the first series with data in range: cheap when
      // the range covers the head, as it usually does.
      std::vector<std::string> names;
      head_->postings_.ForEachName([&](const std::string& n) { names.push_back(n); });
      for (const std::string& n : names) {
        bool any = false;
        head_->postings_.ForEachValue(n, [&](const std::string&, const Postings& refs) {
          if (!any) any = AnyInRange(refs, mint, maxt);
        });
        if (any) out.push_back(n);
      }
      return out;
    }
    for (const auto& s : Matching(mint, maxt, ms))
      for (LabelView l : s->labels) out.emplace_back(l.name);
    SortUnique(out);
    return out;
  }

  Result<std::vector<std::string>> LabelValues(const std::string& name, int64_t mint, int64_t maxt,
                                               const std::vector<Matcher>& ms) override {
    std::vector<std::string> out;
    if (ms.empty()) {
      std::vector<std::pair<std::string, Postings>> values;
      head_->postings_.ForEachValue(
          name, [&](const std::string& v, const Postings& refs) { values.emplace_back(v, refs); });
      for (const auto& [v, refs] : values)
        if (AnyInRange(refs, mint, maxt)) out.push_back(v);
      return out;
    }
    for (const auto& s : Matching(mint, maxt, ms)) {
      std::string_view v = s->labels.Get(name);
      if (!v.empty()) out.emplace_back(v);
    }
    SortUnique(out);
    return out;
  }

 private:
  std::vector<std::shared_ptr<MemSeries>> Matching(int64_t mint, int64_t maxt,
                                                   const std::vector<Matcher>& ms) {
    std::vector<std::shared_ptr<MemSeries>> out;
    if (mint > maxt) return out;
    for (uint64_t ref : head_->postings_.Select(ms)) {
      auto s = head_->ByRef(ref);
      if (s == nullptr) continue;
      std::lock_guard lk(s->mu);
      if (HasSampleIn(*s, mint, maxt)) out.push_back(s);
    }
    return out;
  }

  bool AnyInRange(const Postings& refs, int64_t mint, int64_t maxt) {
    for (uint64_t ref : refs) {
      auto s = head_->ByRef(ref);
      if (s == nullptr) continue;
      std::lock_guard lk(s->mu);
      if (HasSampleIn(*s, mint, maxt)) return true;
    }
    return false;
  }

  static void SortUnique(std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }

  Head* head_;
};

// ---------------------------------------------------------------------------
// Head

Head::Head(const Options& opts)
    : opts_(opts),
      min_time_(kMaxTime),
      max_time_(kNoTime),
      min_valid_time_(kNoTime),
      logged_min_valid_(kNoTime) {}

Head::~Head() { Close(); }

Result<std::unique_ptr<Head>> Head::Open(const Options& opts) {
  if (opts.samples_per_chunk < 1 || opts.samples_per_chunk > 65535)
    return Invalid("tsdb: samples_per_chunk must be in [1, 65535]");
  if (opts.chunk_range_ms <= 0) return Invalid("tsdb: chunk_range_ms must be positive");
  if (opts.ooo_window_ms < 0 || opts.retention_ms < 0) return Invalid("tsdb: negative window");
  if (opts.wal && opts.dir.empty()) return Invalid("tsdb: a WAL needs a directory");

  std::unique_ptr<Head> h(new Head(opts));
  if (opts.wal) {
    h->replaying_ = true;
    HeadStats& st = h->stats_;
    BERTH_ASSIGN_OR_RETURN(
        h->wal_,
        Wal::Open(
            {opts.dir + "/wal", opts.wal_segment_bytes},
            [hp = h.get()](std::string_view rec) { return hp->ReplayRecord(rec); }, &st.replay));
    h->replaying_ = false;
    h->replay_alias_.clear();
    h->logged_min_valid_ = h->min_valid_time_.load();
    // Drop records were only noted during replay (see ReplayRecord); apply
    // the last one to what came before it.
    int64_t min_valid = h->min_valid_time_.load();
    ChunkCutter cutter(opts);
    int64_t bytes = 0;
    for (const auto& s : h->AllSeries()) {
      std::lock_guard lk(s->mu);
      if (min_valid != kNoTime) h->num_samples_ -= DropOlder(*s, min_valid, cutter);
      bytes += DataBytes(*s);
    }
    h->chunk_bytes_ = bytes;
    h->gc_full_ = true;
    h->GarbageCollect();
    if (st.replay.records > 0) {
      log::Info("tsdb: head restored from WAL",
                log::Fields()("series", h->NumSeries())("samples", h->NumSamples())(
                    "records", st.replay.records)("corruptions", st.replay.corruptions)(
                    "unknown_refs", st.replay_unknown_refs));
    }
  }
  if (opts.housekeeping_interval_ms > 0)
    h->housekeeper_ = std::thread([hp = h.get()] { hp->Housekeep(); });
  return h;
}

void Head::Close() {
  {
    std::lock_guard lk(stop_mu_);
    if (closed_) return;
    closed_ = stopping_ = true;
  }
  stop_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
}

void Head::Housekeep() {
  pthread_setname_np(pthread_self(), "tsdb-housekeep");
  std::unique_lock lk(stop_mu_);
  for (;;) {
    stop_cv_.wait_for(lk, std::chrono::milliseconds(opts_.housekeeping_interval_ms),
                      [&] { return stopping_; });
    if (stopping_) return;
    lk.unlock();
    if (Status st = ApplyRetention(); !st.ok())
      log::Warn("tsdb: retention failed", log::Fields()("error", st.message()));
    GarbageCollect();
    if (Status st = SyncWal(); !st.ok())
      log::Warn("tsdb: WAL sync failed", log::Fields()("error", st.message()));
    if (wal_ != nullptr && wal_->SegmentCount() > opts_.checkpoint_after_segments) {
      if (Status st = Checkpoint(); !st.ok())
        log::Warn("tsdb: checkpoint failed", log::Fields()("error", st.message()));
    }
    lk.lock();
  }
}

std::unique_ptr<Querier> Head::NewQuerier() { return std::make_unique<HeadQuerier>(this); }
std::unique_ptr<Appender> Head::NewAppender() { return std::make_unique<HeadAppender>(this); }

std::shared_ptr<MemSeries> Head::GetOrCreate(const Labels& ls, uint64_t want_ref, bool pin,
                                             bool* created) {
  uint64_t hash = ls.Hash();
  HashStripe& hs = hash_stripes_[hash % kStripes];
  std::lock_guard lk(hs.mu);
  for (auto [it, end] = hs.by_hash.equal_range(hash); it != end; ++it) {
    const auto& s = it->second;
    if (s->labels == ls) {
      if (pin) s->pins.fetch_add(1);
      *created = false;
      return s;
    }
  }
  uint64_t ref = want_ref;
  if (ref == 0) {
    ref = next_ref_.fetch_add(1);
  } else {
    uint64_t cur = next_ref_.load();
    while (cur <= ref && !next_ref_.compare_exchange_weak(cur, ref + 1)) {
    }
  }
  auto s = std::make_shared<MemSeries>(ref, ls);
  if (pin) s->pins.fetch_add(1);
  hs.by_hash.emplace(hash, s);
  {
    RefStripe& rs = ref_stripes_[ref % kStripes];
    std::lock_guard rl(rs.mu);
    rs.by_ref[ref] = s;
  }
  postings_.Add(ref, s->labels);
  ++num_series_;
  {
    std::lock_guard sl(stats_mu_);
    ++stats_.series_created;
  }
  *created = true;
  return s;
}

std::shared_ptr<MemSeries> Head::Lookup(const Labels& ls, bool pin) {
  uint64_t hash = ls.Hash();
  HashStripe& hs = hash_stripes_[hash % kStripes];
  std::lock_guard lk(hs.mu);
  for (auto [it, end] = hs.by_hash.equal_range(hash); it != end; ++it) {
    const auto& s = it->second;
    if (s->labels == ls) {
      if (pin) s->pins.fetch_add(1);
      return s;
    }
  }
  return nullptr;
}

std::shared_ptr<MemSeries> Head::ByRef(uint64_t ref) const {
  const RefStripe& rs = ref_stripes_[ref % kStripes];
  std::lock_guard lk(rs.mu);
  auto it = rs.by_ref.find(ref);
  return it == rs.by_ref.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<MemSeries>> Head::AllSeries() const {
  std::vector<std::shared_ptr<MemSeries>> out;
  for (const RefStripe& rs : ref_stripes_) {
    std::lock_guard lk(rs.mu);
    for (const auto& [ref, s] : rs.by_ref) out.push_back(s);
  }
  return out;
}

void Head::NoteTime(int64_t t) {
  int64_t cur = max_time_.load();
  while (t > cur && !max_time_.compare_exchange_weak(cur, t)) {
  }
  cur = min_time_.load();
  while (t < cur && !min_time_.compare_exchange_weak(cur, t)) {
  }
}

int64_t Head::MinTime() const { return std::max(min_time_.load(), logged_min_valid_.load()); }

HeadStats Head::stats() const {
  std::lock_guard lk(stats_mu_);
  return stats_;
}

Status Head::ReplayRecord(std::string_view payload) {
  Record rec;
  BERTH_RETURN_IF_ERROR(DecodeRecord(payload, &rec));
  ChunkCutter cutter(opts_);
  SampleRules rules{min_valid_time_.load(), 0, /*any_order=*/true};
  auto resolve = [&](uint64_t ref) {
    auto a = replay_alias_.find(ref);
    return ByRef(a == replay_alias_.end() ? ref : a->second);
  };
  auto count = [&](AddResult r, int64_t t) {
    if (r == AddResult::kAdded) {
      ++num_samples_;
      NoteTime(t);
    } else if (r != AddResult::kSame) {
      ++stats_.replay_rejected;
    }
  };
  auto apply = [&](MemSeries& s, int64_t t, double v) { count(Add(s, t, v, rules, cutter), t); };
  switch (rec.type) {
    case RecordType::kSeries:
      for (RefSeries& rs : rec.series) {
        if (rs.ref == 0 || rs.labels.empty()) return Internal("wal: bad series record");
        bool created = false;
        auto s = GetOrCreate(rs.labels, rs.ref, false, &created);
        // The same labels under another ref: the series was removed and
        // created again before the old records were checkpointed away.
        if (s->ref != rs.ref) replay_alias_[rs.ref] = s->ref;
        s->logged = true;
      }
      break;
    case RecordType::kSamples:
      for (const RefSample& x : rec.samples) {
        auto s = resolve(x.ref);
        if (s == nullptr) {
          ++stats_.replay_unknown_refs;
          continue;
        }
        apply(*s, x.t, x.v);
      }
      break;
    case RecordType::kHistograms:
      for (const RefHistogram& x : rec.histograms) {
        auto s = resolve(x.ref);
        if (s == nullptr) {
          ++stats_.replay_unknown_refs;
          continue;
        }
        count(AddHistogram(*s, x.t, x.h, rules), x.t);
      }
      break;
    case RecordType::kChunk: {
      auto s = resolve(rec.ref);
      if (s == nullptr) {
        ++stats_.replay_unknown_refs;
        break;
      }
      ChunkIterator it(rec.chunk);
      while (it.Next()) apply(*s, it.t(), it.v());
      if (it.corrupt()) return Internal("wal: damaged chunk record");
      break;
    }
    case RecordType::kDropBefore:
      // Only noted here; Open deletes older data once after replay rather
      // than scanning the head for each of these.
      if (rec.t > min_valid_time_.load()) min_valid_time_ = rec.t;
      break;
  }
  return Status::Ok();
}

Status Head::DropBefore(int64_t t) {
  std::lock_guard ml(maintenance_mu_);
  RejectBefore(t);
  if (t > logged_min_valid_.load()) {
    if (wal_ != nullptr) {
      std::string rec;
      EncodeDropBefore(t, &rec);
      BERTH_ASSIGN_OR_RETURN(uint64_t ticket, wal_->Enqueue(rec));
      BERTH_RETURN_IF_ERROR(wal_->Sync(ticket));
    }
    logged_min_valid_ = t;
  }
  ChunkCutter cutter(opts_);
  int64_t new_min = kMaxTime;
  int64_t freed = 0;
  for (const auto& s : AllSeries()) {
    std::lock_guard lk(s->mu);
    freed += DataBytes(*s);
    num_samples_ -= DropOlder(*s, t, cutter);
    freed -= DataBytes(*s);
    if (!s->empty()) new_min = std::min(new_min, s->DataMinT());
  }
  chunk_bytes_ -= freed;
  // Appends racing with the scan can only add samples >= t, so the new
  // minimum can only be too high by them; NoteTime lowers it again.
  min_time_ = new_min;
  gc_full_ = true;
  GarbageCollect();
  return Status::Ok();
}

Status Head::ApplyRetention() {
  if (opts_.retention_ms <= 0) return Status::Ok();
  int64_t newest = max_time_.load();
  if (newest == kNoTime) return Status::Ok();
  int64_t cut = newest - opts_.retention_ms;
  if (cut <= logged_min_valid_.load()) return Status::Ok();
  // Nothing that old is stored: skip the walk over every series (the bound
  // moves on every call, by the time since the last one).
  if (cut <= min_time_.load()) return Status::Ok();
  return DropBefore(cut);
}

Status Head::SyncWal() { return wal_ == nullptr ? Status::Ok() : wal_->SyncAll(); }

void Head::RejectBefore(int64_t t) {
  int64_t cur = min_valid_time_.load();
  while (t > cur && !min_valid_time_.compare_exchange_weak(cur, t)) {
  }
}

Status Head::ForEachSeries(int64_t mint, int64_t maxt,
                           const std::function<Status(SeriesSamples&)>& fn) {
  auto all = AllSeries();
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->labels < b->labels; });
  SeriesSamples ss;
  for (const auto& s : all) {
    ss.samples.clear();
    ss.histograms.clear();
    {
      std::lock_guard lk(s->mu);
      Collect(*s, mint, maxt, &ss.samples);
      CollectHistograms(*s, mint, maxt, &ss.histograms);
    }
    if (ss.samples.empty() && ss.histograms.empty()) continue;
    ss.labels = s->labels;
    BERTH_RETURN_IF_ERROR(fn(ss));
  }
  return Status::Ok();
}

void Head::AddGcCandidates(const std::vector<std::shared_ptr<MemSeries>>& series) {
  std::lock_guard lk(gc_mu_);
  gc_candidates_.insert(gc_candidates_.end(), series.begin(), series.end());
}

int64_t Head::GarbageCollect() {
  // Only deletions (then every series is looked at) and appenders' new
  // series (the candidates) can leave a series empty.
  std::vector<std::shared_ptr<MemSeries>> candidates;
  {
    std::lock_guard lk(gc_mu_);
    candidates.swap(gc_candidates_);
  }
  const bool full = gc_full_.exchange(false);
  std::vector<std::shared_ptr<MemSeries>> removed;
  // Called with the series' hash stripe locked.
  auto remove = [&](const std::shared_ptr<MemSeries>& s) {
    if (s->pins.load() != 0) return false;
    std::lock_guard sl(s->mu);
    if (!s->empty()) return false;
    // A writer holding a SeriesRef pins the series without the stripe lock
    // and then checks `removed`: mark first, then look at pins again, and
    // back out if a writer came in between.
    s->removed.store(true);
    if (s->pins.load() != 0) {
      s->removed.store(false);
      return false;
    }
    removed.push_back(s);
    return true;
  };
  if (full) {
    for (HashStripe& hs : hash_stripes_) {
      std::lock_guard lk(hs.mu);
      for (auto it = hs.by_hash.begin(); it != hs.by_hash.end();)
        it = remove(it->second) ? hs.by_hash.erase(it) : std::next(it);
    }
  } else {
    for (const auto& c : candidates) {
      uint64_t hash = c->labels.Hash();
      HashStripe& hs = hash_stripes_[hash % kStripes];
      std::lock_guard lk(hs.mu);
      for (auto [it, end] = hs.by_hash.equal_range(hash); it != end; ++it) {
        if (it->second != c) continue;
        if (remove(c)) hs.by_hash.erase(it);
        break;
      }
    }
  }
  for (const auto& s : removed) {
    {
      RefStripe& rs = ref_stripes_[s->ref % kStripes];
      std::lock_guard lk(rs.mu);
      rs.by_ref.erase(s->ref);
    }
    postings_.Delete(s->ref, s->labels);
  }
  num_series_ -= static_cast<int64_t>(removed.size());
  if (!removed.empty()) {
    std::lock_guard lk(stats_mu_);
    stats_.series_removed += static_cast<int64_t>(removed.size());
  }
  return static_cast<int64_t>(removed.size());
}

Status Head::Checkpoint() {
  if (wal_ == nullptr) return Status::Ok();
  std::lock_guard ml(maintenance_mu_);
  // Everything logged before the cut has also been applied (a commit holds
  // its series' locks from apply to enqueue), so reading each series after
  // the cut sees at least what the replaced segments hold. What it sees
  // beyond that is also in later segments and replays idempotently.
  BERTH_ASSIGN_OR_RETURN(uint32_t first, wal_->Cut());
  BERTH_ASSIGN_OR_RETURN(auto cp, wal_->NewCheckpoint(first));
  std::string rec;
  if (int64_t mv = logged_min_valid_.load(); mv != kNoTime) {
    EncodeDropBefore(mv, &rec);
    BERTH_RETURN_IF_ERROR(cp->Add(rec));
  }
  ChunkCutter cutter(opts_);
  std::vector<std::string> chunks;
  std::vector<RefHistogram> hists;
  for (const auto& s : AllSeries()) {
    rec.clear();
    EncodeSeries({{s->ref, s->labels}}, &rec);
    chunks.clear();
    {
      std::lock_guard lk(s->mu);
      if (s->ooo.empty()) {
        for (const HeadChunk& c : s->chunks) chunks.emplace_back(c.chunk.Bytes());
      } else {
        // Written merged so that replay sees the series in order.
        std::vector<Sample> all;
        Collect(*s, kNoTime, kMaxTime, &all);
        std::vector<HeadChunk> merged;
        for (const Sample& x : all) cutter.Append(merged, x.t, x.v);
        for (const HeadChunk& c : merged) chunks.emplace_back(c.chunk.Bytes());
      }
      hists.clear();
      for (const HistogramSample& x : s->hists()) hists.push_back({s->ref, x.t, x.h});
    }
    BERTH_RETURN_IF_ERROR(cp->Add(rec));
    for (const std::string& c : chunks) {
      rec.clear();
      EncodeChunk(s->ref, c, &rec);
      BERTH_RETURN_IF_ERROR(cp->Add(rec));
    }
    if (!hists.empty()) {
      rec.clear();
      EncodeHistograms(hists, &rec);
      BERTH_RETURN_IF_ERROR(cp->Add(rec));
    }
  }
  BERTH_RETURN_IF_ERROR(cp->Finish());
  std::lock_guard lk(stats_mu_);
  ++stats_.checkpoints;
  return Status::Ok();
}

}  // namespace berth::monitor::tsdb
