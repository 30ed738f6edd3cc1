#include "monitor/tsdb/db.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "core/fd.h"
#include "core/file.h"
#include "core/log.h"

namespace berth::monitor::tsdb {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinT = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxT = std::numeric_limits<int64_t>::max();
constexpr int64_t kDay = 24LL * 3600 * 1000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.ok()) ::fsync(fd.get());
}

// Merges per-source sample lists given in ascending priority: where
// timestamps are equal the later list's sample wins. Floats and histograms
// merge separately: a float and a histogram at one timestamp in two sources
// (a series that changed kind while both were written) both survive.
template <class S>
std::vector<S> MergeSamples(std::vector<std::vector<S>>& lists) {
  if (lists.size() == 1) return std::move(lists[0]);
  bool disjoint = true;
  for (size_t i = 1; i < lists.size() && disjoint; ++i)
    disjoint =
        lists[i - 1].empty() || lists[i].empty() || lists[i - 1].back().t < lists[i].front().t;
  std::vector<S> out;
  for (auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  if (disjoint) {
    // The common case: sources cover consecutive ranges; only order them.
    std::stable_sort(out.begin(), out.end(), [](const S& a, const S& b) { return a.t < b.t; });
    return out;
  }
  std::stable_sort(out.begin(), out.end(), [](const S& a, const S& b) { return a.t < b.t; });
  size_t w = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i + 1 < out.size() && out[i + 1].t == out[i].t) continue;  // a later one wins
    out[w++] = out[i];
  }
  out.resize(w);
  return out;
}

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Reads the head first and then the blocks present after that: a head cut
// running meanwhile publishes its block before it truncates the head, so
// every sample is seen at least once (twice merges to once). Blocks come
// oldest first and the head last, so the head wins on equal timestamps.
class DbQuerier : public Querier {
 public:
  using Snapshot = std::function<std::vector<std::shared_ptr<Block>>()>;
  DbQuerier(Snapshot snapshot, std::unique_ptr<Querier> head)
      : snapshot_(std::move(snapshot)), head_(std::move(head)) {}

  Result<std::vector<SeriesSamples>> Select(int64_t mint, int64_t maxt,
                                            const std::vector<Matcher>& ms) override {
    BERTH_ASSIGN_OR_RETURN(auto parts,
                           Gather<std::vector<SeriesSamples>>(
                               mint, maxt, [&](Querier& q) { return q.Select(mint, maxt, ms); }));
    std::vector<SeriesSamples> all;
    for (auto& p : parts)
      all.insert(all.end(), std::make_move_iterator(p.begin()), std::make_move_iterator(p.end()));
    // Stable: equal label sets stay in source (priority) order.
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.labels < b.labels; });
    std::vector<SeriesSamples> out;
    for (size_t i = 0; i < all.size();) {
      size_t j = i + 1;
      while (j < all.size() && all[j].labels == all[i].labels) ++j;
      SeriesSamples ss;
      ss.labels = std::move(all[i].labels);
      if (j == i + 1) {
        ss.samples = std::move(all[i].samples);
        ss.histograms = std::move(all[i].histograms);
      } else {
        std::vector<std::vector<Sample>> lists;
        std::vector<std::vector<HistogramSample>> hlists;
        for (size_t k = i; k < j; ++k) {
          lists.push_back(std::move(all[k].samples));
          hlists.push_back(std::move(all[k].histograms));
        }
        ss.samples = MergeSamples(lists);
        ss.histograms = MergeSamples(hlists);
      }
      out.push_back(std::move(ss));
      i = j;
    }
    return out;
  }

  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     const std::vector<Matcher>& ms) override {
    BERTH_ASSIGN_OR_RETURN(auto parts, Gather<std::vector<Labels>>(mint, maxt, [&](Querier& q) {
                             return q.Series(mint, maxt, ms);
                           }));
    std::vector<Labels> out;
    for (auto& p : parts)
      out.insert(out.end(), std::make_move_iterator(p.begin()), std::make_move_iterator(p.end()));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              const std::vector<Matcher>& ms) override {
    BERTH_ASSIGN_OR_RETURN(
        auto parts, Gather<std::vector<std::string>>(
                        mint, maxt, [&](Querier& q) { return q.LabelNames(mint, maxt, ms); }));
    return Flatten(parts);
  }

  Result<std::vector<std::string>> LabelValues(const std::string& name, int64_t mint, int64_t maxt,
                                               const std::vector<Matcher>& ms) override {
    BERTH_ASSIGN_OR_RETURN(auto parts,
                           Gather<std::vector<std::string>>(mint, maxt, [&](Querier& q) {
                             return q.LabelValues(name, mint, maxt, ms);
                           }));
    return Flatten(parts);
  }

 private:
  template <class T, class F>
  Result<std::vector<T>> Gather(int64_t mint, int64_t maxt, F fn) {
    BERTH_ASSIGN_OR_RETURN(T head_part, fn(*head_));
    std::vector<T> parts;
    for (const auto& b : snapshot_()) {
      if (!b->Overlaps(mint, maxt)) continue;
      auto q = b->NewQuerier();
      BERTH_ASSIGN_OR_RETURN(T part, fn(*q));
      parts.push_back(std::move(part));
    }
    parts.push_back(std::move(head_part));
    return parts;
  }

  static std::vector<std::string> Flatten(std::vector<std::vector<std::string>>& parts) {
    std::vector<std::string> out;
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    SortUnique(out);
    return out;
  }

  Snapshot snapshot_;
  std::unique_ptr<Querier> head_;
};

}  // namespace

Db::Db(const DbOptions& opts) : opts_(opts) {}

Db::~Db() { Close(); }

Result<std::unique_ptr<Db>> Db::Open(const DbOptions& opts) {
  if (opts.dir.empty()) return Invalid("tsdb: a database needs a directory");
  if (opts.block_range_ms <= 0) return Invalid("tsdb: block_range_ms must be positive");
  if (opts.retention_ms < 0 || opts.retention_bytes < 0) return Invalid("tsdb: negative retention");
  std::unique_ptr<Db> db(new Db(opts));
  int64_t max_range = opts.max_block_range_ms;
  if (max_range <= 0) {
    max_range = 31 * kDay;
    if (opts.retention_ms > 0) max_range = std::min(max_range, opts.retention_ms / 10);
  }
  for (int64_t r = opts.block_range_ms; r <= max_range || r == opts.block_range_ms; r *= 3) {
    db->ranges_.push_back(r);
    if (r > kMaxT / 3) break;
  }
  BERTH_RETURN_IF_ERROR(MakeDirs(opts.dir));
  BERTH_RETURN_IF_ERROR(db->LoadBlocks());

  Options ho = opts.head;
  ho.dir = opts.dir;
  ho.retention_ms = opts.retention_ms;
  ho.chunk_range_ms = opts.block_range_ms;
  ho.housekeeping_interval_ms = 0;  // Db's thread drives the head
  BERTH_ASSIGN_OR_RETURN(db->head_, Head::Open(ho));
  // Whatever the WAL still holds below the newest block is in that block
  // already (a crash came between the block's rename and the head's
  // truncation); drop it, and refuse appends into persisted ranges.
  if (!db->blocks_.empty()) {
    int64_t end = kMinT;
    for (const auto& b : db->blocks_) end = std::max(end, b->meta().max_time);
    BERTH_RETURN_IF_ERROR(db->head_->DropBefore(end));
  }
  if (opts.housekeeping_interval_ms > 0) db->thread_ = std::thread([p = db.get()] { p->Loop(); });
  return db;
}

Status Db::LoadBlocks() {
  std::error_code ec;
  std::vector<std::shared_ptr<Block>> blocks;
  for (const auto& e : fs::directory_iterator(opts_.dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || name == "wal") continue;
    if (EndsWith(name, ".tmp") || EndsWith(name, ".deleted")) {
      // An interrupted block write or deletion.
      log::Info("tsdb: removing leftover directory", log::Fields()("dir", name));
      fs::remove_all(e.path(), ec);
      if (ec) return Internal("tsdb: remove " + e.path().string() + ": " + ec.message());
      continue;
    }
    if (!FileExists(e.path().string() + "/meta.json")) continue;  // not ours
    BERTH_ASSIGN_OR_RETURN(auto b, Block::Open(e.path().string()));
    blocks.push_back(std::move(b));
  }
  if (ec) return Internal("tsdb: list " + opts_.dir + ": " + ec.message());
  // A compaction that crashed after its output was in place but before its
  // sources were deleted: the output supersedes them.
  std::set<std::string> superseded;
  for (const auto& b : blocks)
    for (const std::string& p : b->meta().parents) superseded.insert(p);
  std::sort(blocks.begin(), blocks.end(), [](const auto& a, const auto& b) {
    return a->meta().min_time != b->meta().min_time ? a->meta().min_time < b->meta().min_time
                                                    : a->meta().id < b->meta().id;
  });
  for (const auto& b : blocks) {
    if (superseded.count(b->meta().id) != 0) {
      BERTH_RETURN_IF_ERROR(DeleteBlock(b));
    } else {
      blocks_.push_back(b);
    }
  }
  return Status::Ok();
}

void Db::Close() {
  {
    std::lock_guard lk(stop_mu_);
    if (closed_) return;
    closed_ = stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (head_) head_->Close();
}

void Db::Loop() {
  pthread_setname_np(pthread_self(), "tsdb-compact");
  std::unique_lock lk(stop_mu_);
  for (;;) {
    stop_cv_.wait_for(lk, std::chrono::milliseconds(opts_.housekeeping_interval_ms),
                      [&] { return stopping_; });
    if (stopping_) return;
    lk.unlock();
    if (Status st = Housekeep(); !st.ok())
      log::Warn("tsdb: housekeeping failed", log::Fields()("error", st.message()));
    lk.lock();
  }
}

std::vector<std::shared_ptr<Block>> Db::Snapshot() const {
  std::lock_guard lk(blocks_mu_);
  return blocks_;
}

std::unique_ptr<Querier> Db::NewQuerier() {
  return std::make_unique<DbQuerier>([this] { return Snapshot(); }, head_->NewQuerier());
}

std::unique_ptr<Appender> Db::NewAppender() { return head_->NewAppender(); }

Status Db::Housekeep() {
  Status first;
  auto note = [&](Status st) {
    if (!st.ok() && first.ok()) first = std::move(st);
  };
  note(head_->SyncWal());
  note(CutHead());
  note(Compact());
  note(ApplyRetention());
  {
    std::lock_guard lk(housekeep_mu_);
    head_->GarbageCollect();
  }
  if (!first.ok()) {
    std::lock_guard lk(stats_mu_);
    ++stats_.housekeeping_failures;
  }
  return first;
}

Status Db::CutHead() {
  std::lock_guard hk(housekeep_mu_);
  const int64_t range = opts_.block_range_ms;
  bool cut = false;
  for (;;) {
    int64_t hmin = head_->MinTime(), hmax = head_->MaxTime();
    if (hmin > hmax || static_cast<uint64_t>(hmax) - static_cast<uint64_t>(hmin) <=
                           static_cast<uint64_t>(range / 2 * 3))
      break;
    int64_t start = FloorDiv(hmin, range) * range;
    int64_t end = start + range;
    // From here no commit can add a sample below `end` behind our back.
    head_->RejectBefore(end);
    BlockMeta meta;
    meta.id = NewBlockId();
    meta.min_time = start;
    meta.max_time = end;
    meta.level = 1;
    meta.sources = {meta.id};
    BlockWriter::Options wo;
    wo.chunk_samples = opts_.block_chunk_samples;
    BERTH_ASSIGN_OR_RETURN(auto w, BlockWriter::Create(opts_.dir, meta, wo));
    // Everything below `end`, not just from `start`: an out-of-order sample
    // may have landed below the head's minimum since it was read.
    BERTH_RETURN_IF_ERROR(head_->ForEachSeries(kMinT, end - 1, [&](SeriesSamples& ss) {
      return w->AddSeries(ss.labels, ss.samples, ss.histograms);
    }));
    auto written = w->Finish();
    if (written.ok()) {
      BERTH_ASSIGN_OR_RETURN(auto b, Block::Open(opts_.dir + "/" + written->id));
      std::lock_guard lk(blocks_mu_);
      blocks_.push_back(std::move(b));
      std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
        return a->meta().min_time < b->meta().min_time;
      });
    } else if (written.status().code() != Code::kNotFound) {
      return written.status();
    }
    // Only now, with the block durable, may the head forget the range.
    BERTH_RETURN_IF_ERROR(head_->DropBefore(end));
    cut = true;
    std::lock_guard lk(stats_mu_);
    if (written.ok()) ++stats_.head_blocks_written;
  }
  bool many_segments = false;
  if (!cut) {
    // The head's own trigger, for a head that never spans enough to cut.
    int64_t wal = WalBytes();
    many_segments =
        opts_.head.wal && wal > static_cast<int64_t>(opts_.head.checkpoint_after_segments) *
                                    opts_.head.wal_segment_bytes;
  }
  // The WAL still holds the truncated samples; a checkpoint of what the head
  // keeps replaces it.
  if (cut || many_segments) BERTH_RETURN_IF_ERROR(head_->Checkpoint());
  return Status::Ok();
}

Status Db::Compact() {
  std::lock_guard hk(housekeep_mu_);
  for (;;) {
    bool did = false;
    BERTH_RETURN_IF_ERROR(CompactOnce(&did));
    if (!did) return Status::Ok();
  }
}

Status Db::CompactOnce(bool* did) {
  auto blocks = Snapshot();
  if (blocks.size() < 2) return Status::Ok();
  int64_t newest_end = kMinT;
  for (const auto& b : blocks) newest_end = std::max(newest_end, b->meta().max_time);
  // Smallest windows first, so 2h blocks become 6h ones before 6h ones
  // become 18h ones. A window is closed once a block reaches its end: the
  // head never writes below the newest block again.
  std::vector<std::shared_ptr<Block>> pick;
  for (size_t ri = 1; ri < ranges_.size() && pick.empty(); ++ri) {
    int64_t r = ranges_[ri];
    for (size_t i = 0; i < blocks.size() && pick.empty();) {
      int64_t w0 = FloorDiv(blocks[i]->meta().min_time, r) * r;
      int64_t w1 = w0 + r;
      std::vector<std::shared_ptr<Block>> group;
      size_t j = i;
      for (; j < blocks.size() && blocks[j]->meta().min_time < w1; ++j) {
        const BlockMeta& m = blocks[j]->meta();
        if (m.max_time <= w1 && m.max_time - m.min_time < r) group.push_back(blocks[j]);
      }
      if (group.size() >= 2 && w1 <= newest_end) pick = std::move(group);
      i = std::max(j, i + 1);
    }
  }
  if (pick.empty()) return Status::Ok();

  BlockMeta meta;
  meta.id = NewBlockId();
  meta.min_time = kMaxT;
  meta.max_time = kMinT;
  std::set<std::string> sources;
  for (const auto& b : pick) {
    const BlockMeta& m = b->meta();
    meta.min_time = std::min(meta.min_time, m.min_time);
    meta.max_time = std::max(meta.max_time, m.max_time);
    meta.level = std::max(meta.level, m.level + 1);
    sources.insert(m.sources.begin(), m.sources.end());
    meta.parents.push_back(m.id);
  }
  meta.sources.assign(sources.begin(), sources.end());
  BlockWriter::Options wo;
  wo.chunk_samples = opts_.block_chunk_samples;
  BERTH_ASSIGN_OR_RETURN(auto w, BlockWriter::Create(opts_.dir, meta, wo));

  // A k-way merge over the blocks' label-sorted series.
  std::vector<uint64_t> next(pick.size(), 0);
  std::vector<Labels> cur(pick.size());
  auto load = [&](size_t k) -> Status {
    if (next[k] < pick[k]->NumSeries()) return pick[k]->SeriesLabels(next[k], &cur[k]);
    return Status::Ok();
  };
  for (size_t k = 0; k < pick.size(); ++k) BERTH_RETURN_IF_ERROR(load(k));
  for (;;) {
    const Labels* least = nullptr;
    for (size_t k = 0; k < pick.size(); ++k)
      if (next[k] < pick[k]->NumSeries() && (least == nullptr || cur[k] < *least)) least = &cur[k];
    if (least == nullptr) break;
    Labels ls = *least;
    std::vector<std::vector<Sample>> lists;
    std::vector<std::vector<HistogramSample>> hlists;
    for (size_t k = 0; k < pick.size(); ++k) {
      if (next[k] >= pick[k]->NumSeries() || !(cur[k] == ls)) continue;
      lists.emplace_back();
      hlists.emplace_back();
      BERTH_RETURN_IF_ERROR(
          pick[k]->SeriesSamples(next[k], kMinT, kMaxT, &lists.back(), &hlists.back()));
      ++next[k];
      BERTH_RETURN_IF_ERROR(load(k));
    }
    std::vector<Sample> merged = MergeSamples(lists);
    std::vector<HistogramSample> merged_h = MergeSamples(hlists);
    BERTH_RETURN_IF_ERROR(w->AddSeries(ls, merged, merged_h));
  }
  BERTH_ASSIGN_OR_RETURN(BlockMeta written, w->Finish());
  BERTH_ASSIGN_OR_RETURN(auto nb, Block::Open(opts_.dir + "/" + written.id));
  {
    std::lock_guard lk(blocks_mu_);
    std::erase_if(blocks_, [&](const auto& b) {
      return std::find(pick.begin(), pick.end(), b) != pick.end();
    });
    blocks_.push_back(nb);
    std::sort(blocks_.begin(), blocks_.end(),
              [](const auto& a, const auto& b) { return a->meta().min_time < b->meta().min_time; });
  }
  // The sources go only now; should this fail or crash, Open deletes them
  // as parents of the new block.
  for (const auto& b : pick) BERTH_RETURN_IF_ERROR(DeleteBlock(b));
  {
    std::lock_guard lk(stats_mu_);
    ++stats_.compactions;
  }
  *did = true;
  return Status::Ok();
}

Status Db::DeleteBlock(const std::shared_ptr<Block>& b) {
  {
    std::lock_guard lk(blocks_mu_);
    std::erase(blocks_, b);
  }
  // Renamed first so that a crash midway leaves a name Open removes, never
  // a block with files missing.
  std::string gone = b->dir() + ".deleted";
  if (::rename(b->dir().c_str(), gone.c_str()) != 0)
    return Internal("tsdb: rename " + b->dir() + ": " + std::strerror(errno));
  SyncDir(opts_.dir);
  std::error_code ec;
  fs::remove_all(gone, ec);
  if (ec) return Internal("tsdb: remove " + gone + ": " + ec.message());
  return Status::Ok();
}

Status Db::ApplyRetention() {
  std::lock_guard hk(housekeep_mu_);
  BERTH_RETURN_IF_ERROR(head_->ApplyRetention());
  auto blocks = Snapshot();
  if (opts_.retention_ms > 0 && !blocks.empty()) {
    int64_t newest = head_->MaxTime();
    for (const auto& b : blocks) newest = std::max(newest, b->meta().max_time - 1);
    int64_t cutoff = newest - opts_.retention_ms;
    for (const auto& b : blocks) {
      if (b->meta().max_time > cutoff) continue;
      BERTH_RETURN_IF_ERROR(DeleteBlock(b));
      std::lock_guard lk(stats_mu_);
      ++stats_.blocks_deleted_by_time;
    }
  }
  if (opts_.retention_bytes > 0) {
    blocks = Snapshot();
    int64_t total = TotalBytes();
    for (const auto& b : blocks) {  // oldest first
      if (total <= opts_.retention_bytes) break;
      total -= b->SizeBytes();
      BERTH_RETURN_IF_ERROR(DeleteBlock(b));
      std::lock_guard lk(stats_mu_);
      ++stats_.blocks_deleted_by_size;
    }
  }
  return Status::Ok();
}

int64_t Db::NumSamples() const {
  int64_t n = head_->NumSamples();
  for (const auto& b : Snapshot()) n += b->meta().num_samples;
  return n;
}

int64_t Db::BlockBytes() const {
  int64_t n = 0;
  for (const auto& b : Snapshot()) n += b->SizeBytes();
  return n;
}

int64_t Db::WalBytes() const {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opts_.dir + "/wal", ec)) {
    std::error_code ec2;
    auto sz = e.file_size(ec2);
    if (!ec2) n += static_cast<int64_t>(sz);
  }
  return n;
}

std::vector<BlockMeta> Db::Blocks() const {
  std::vector<BlockMeta> out;
  for (const auto& b : Snapshot()) out.push_back(b->meta());
  return out;
}

DbStats Db::stats() const {
  std::lock_guard lk(stats_mu_);
  return stats_;
}

}  // namespace berth::monitor::tsdb
