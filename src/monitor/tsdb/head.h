// The in-memory head of the TSDB: every series with its recent samples in
// compressed chunks, an inverted index over labels, and (optionally) a
// write-ahead log that rebuilds it after a restart.
//
// Concurrency: series live in lock-striped hash maps (by label hash for
// lookups on append, by ref for queries) and each series has its own mutex,
// so appenders and queriers touching different series do not contend. A
// commit locks the series of its batch in ref order, applies the samples,
// hands the batch to the WAL and releases them; per series, the WAL order is
// therefore the apply order and replay rebuilds the same state. Samples are
// visible to queriers from that point, a moment before the WAL's fdatasync
// completes; Commit returns only after it. Once the WAL has failed to write,
// every Commit returns that error (its samples stay in memory, not durable).
// A querier reads live data: a Select racing a Commit may see part of it.
//
// Appenders and queriers must be destroyed before their Head.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "monitor/storage.h"
#include "monitor/tsdb/postings.h"
#include "monitor/tsdb/wal.h"

namespace berth::monitor::tsdb {

struct Options {
  // Directory of the database; the WAL lives in DIR/wal. Unused without WAL.
  std::string dir;
  bool wal = true;
  int64_t wal_segment_bytes = 32 << 20;
  // Once this many WAL segments accumulate, the housekeeper checkpoints the
  // head and deletes them.
  int checkpoint_after_segments = 8;

  // Data older than the newest sample minus this is deleted; 0 keeps all.
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;
  // Samples up to this much older than a series' newest one are accepted
  // (kept in a small sorted side buffer until merged); 0 rejects every
  // out-of-order sample, as Prometheus does by default.
  int64_t ooo_window_ms = 0;

  // A series' current chunk is cut at this many samples, or when a sample
  // crosses the next multiple of chunk_range_ms (aligned, like block ranges).
  int samples_per_chunk = 120;
  int64_t chunk_range_ms = 2 * 3600 * 1000;

  // How often the housekeeping thread applies retention, drops empty series
  // and checkpoints; 0 starts no thread (tests drive those by hand).
  int64_t housekeeping_interval_ms = 60 * 1000;
};

// Counters for /metrics and tests.
struct HeadStats {
  ReplayStats replay;
  int64_t replay_unknown_refs = 0;  // samples whose series record was missing
  int64_t replay_rejected = 0;      // samples replay could not apply
  int64_t commit_dropped = 0;       // samples another commit made invalid
  int64_t series_created = 0;
  int64_t series_removed = 0;
  int64_t checkpoints = 0;
};

class MemSeries;

class Head : public Storage {
 public:
  static Result<std::unique_ptr<Head>> Open(const Options& opts);
  ~Head() override;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  std::unique_ptr<Querier> NewQuerier() override;
  std::unique_ptr<Appender> NewAppender() override;

  int64_t NumSeries() const { return num_series_.load(); }
  int64_t NumSamples() const { return num_samples_.load(); }
  // Oldest stored sample (never below the DropBefore bound); larger than
  // MaxTime() when nothing is stored. MaxTime() is the newest sample ever
  // appended: deletions do not lower it, as retention is measured from it.
  int64_t MinTime() const;
  int64_t MaxTime() const { return max_time_.load(); }
  // Bytes of encoded chunk data (not counting index and series overhead).
  int64_t ChunkBytes() const { return chunk_bytes_.load(); }
  HeadStats stats() const;

  // Deletes every sample older than t, drops series left empty and from then
  // on rejects appends older than t ("out of bounds"). Logged in the WAL.
  Status DropBefore(int64_t t);
  // DropBefore(MaxTime() - retention_ms) when retention is set.
  Status ApplyRetention();
  // Refuses appends older than t from now on, without deleting or logging
  // anything: set before the head's data below t is copied into a block, so
  // that no commit can slip a sample into that range after it was read and
  // before DropBefore(t) deletes it. Forgotten on restart.
  void RejectBefore(int64_t t);
  // Calls fn with every series that has samples in [mint, maxt] and those
  // samples, in label order, each series locked only while it is read.
  // Stops at the first error fn returns.
  Status ForEachSeries(int64_t mint, int64_t maxt, const std::function<Status(SeriesSamples&)>& fn);
  // Removes series without samples that no appender is using; returns how
  // many. DropBefore does this too. Looks only at the series created since
  // the last call unless something was deleted meanwhile.
  int64_t GarbageCollect();
  // Syncs what appenders committed without a sync (Appender::set_sync).
  // Housekeeping does this on every pass.
  Status SyncWal();
  // Writes the whole head as a WAL checkpoint and deletes the segments it
  // replaces. No-op without WAL.
  Status Checkpoint();
  // Stops the housekeeper and flushes the WAL. Idempotent; the destructor
  // calls it.
  void Close();

 private:
  friend class HeadAppender;
  friend class HeadQuerier;
  explicit Head(const Options& opts);

  static constexpr size_t kStripes = 64;
  struct HashStripe {
    std::mutex mu;
    // A multimap: label sets whose hashes collide share a key.
    std::unordered_multimap<uint64_t, std::shared_ptr<MemSeries>> by_hash;
  };
  struct RefStripe {
    mutable std::mutex mu;
    std::unordered_map<uint64_t, std::shared_ptr<MemSeries>> by_ref;
  };

  // Finds or creates the series; with `pin` the series' appender count is
  // raised under the stripe lock so GC cannot remove it meanwhile.
  std::shared_ptr<MemSeries> GetOrCreate(const Labels& ls, uint64_t want_ref, bool pin,
                                         bool* created);
  // The existing series with these labels (pinned like GetOrCreate), or null.
  std::shared_ptr<MemSeries> Lookup(const Labels& ls, bool pin);
  std::shared_ptr<MemSeries> ByRef(uint64_t ref) const;
  std::vector<std::shared_ptr<MemSeries>> AllSeries() const;

  Status ReplayRecord(std::string_view payload);
  void AddGcCandidates(const std::vector<std::shared_ptr<MemSeries>>& series);
  void Housekeep();
  void NoteTime(int64_t t);

  const Options opts_;
  std::unique_ptr<Wal> wal_;
  MemPostings postings_;
  HashStripe hash_stripes_[kStripes];
  RefStripe ref_stripes_[kStripes];

  std::atomic<uint64_t> next_ref_{1};
  std::atomic<int64_t> num_series_{0};
  std::atomic<int64_t> num_samples_{0};
  // Bytes of sample data held (DataBytes over every series), kept as
  // commits and truncations change it.
  std::atomic<int64_t> chunk_bytes_{0};
  std::atomic<int64_t> min_time_;
  std::atomic<int64_t> max_time_;
  std::atomic<int64_t> min_valid_time_;  // appends below are out of bounds
  // The newest DropBefore bound in the WAL; min_valid_time_ may be higher
  // (RejectBefore), but only this one may be replayed as a deletion.
  std::atomic<int64_t> logged_min_valid_;
  std::atomic<bool> replaying_{false};
  // What GarbageCollect looks at: every series after a deletion, else the
  // series appenders created since it last ran.
  std::atomic<bool> gc_full_{false};
  std::mutex gc_mu_;
  std::vector<std::shared_ptr<MemSeries>> gc_candidates_;

  // Serialises DropBefore/Checkpoint against each other (not appends).
  std::mutex maintenance_mu_;

  mutable std::mutex stats_mu_;
  HeadStats stats_;
  std::unordered_map<uint64_t, uint64_t> replay_alias_;  // WAL ref -> live ref

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread housekeeper_;
};

}  // namespace berth::monitor::tsdb
