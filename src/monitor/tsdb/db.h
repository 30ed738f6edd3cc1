// The TSDB: the in-memory head (with its WAL) for recent data plus
// immutable on-disk blocks for everything older.
//
//   DIR/wal/            the head's write-ahead log
//   DIR/<block id>/     blocks (see block.h)
//
// Housekeeping (a background thread, or Housekeep() called directly):
//  1. Once the head spans more than 1.5 block ranges, its oldest aligned
//     range is written as a level-1 block, the head is truncated below the
//     block's end and the WAL checkpointed. From then on appends older than
//     the newest block's end are refused as out of bounds (as in Prometheus:
//     no out-of-order ingestion into persisted ranges).
//  2. Adjacent blocks filling an aligned window of 3x, 9x, ... the block
//     range (up to max_block_range) are compacted into one.
//  3. Blocks wholly older than the newest sample minus retention_ms are
//     deleted; then, while blocks + WAL + head chunks exceed
//     retention_bytes, the oldest block is deleted.
//
// Crash safety: a block becomes visible only by the rename of its complete,
// fsynced directory; the head is truncated only after that; a compaction's
// sources are deleted only after the compacted block is in place, and a
// block listing another as a parent makes Open delete the leftover parent.
// Open removes temporary directories. Queries merge the head with every
// overlapping block, so data present twice after a crash reads once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "monitor/storage.h"
#include "monitor/tsdb/block.h"
#include "monitor/tsdb/head.h"

namespace berth::monitor::tsdb {

struct DbOptions {
  std::string dir;
  // Blocks older than the newest sample minus this are deleted; 0 keeps all.
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;
  // Upper bound on blocks + WAL + head chunk bytes; 0 means no bound. The
  // head and WAL are never deleted, so the bound can be exceeded by them.
  int64_t retention_bytes = 0;
  int64_t block_range_ms = 2LL * 3600 * 1000;
  // Largest compacted block; 0 picks min(10% of retention, 31 days).
  int64_t max_block_range_ms = 0;
  int block_chunk_samples = 480;
  // How often the housekeeping thread runs; 0 starts no thread.
  int64_t housekeeping_interval_ms = 60 * 1000;
  // Head settings; dir, retention, chunk range and the head's own
  // housekeeping are set from the fields above.
  Options head;
};

struct DbStats {
  int64_t head_blocks_written = 0;
  int64_t compactions = 0;
  int64_t blocks_deleted_by_time = 0;
  int64_t blocks_deleted_by_size = 0;
  int64_t housekeeping_failures = 0;
};

class Db : public Storage {
 public:
  static Result<std::unique_ptr<Db>> Open(const DbOptions& opts);
  ~Db() override;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Each call of a querier reads the head and then the blocks present at
  // that moment (a block deleted meanwhile stays readable for the call).
  // Queriers and appenders must be destroyed before the Db.
  std::unique_ptr<Querier> NewQuerier() override;
  std::unique_ptr<Appender> NewAppender() override;

  // One housekeeping pass (cut, compact, retention, GC, checkpoint); the
  // steps are also callable one by one. Serialised against each other.
  Status Housekeep();
  Status CutHead();
  Status Compact();
  Status ApplyRetention();

  // Stops the thread and closes the head. Idempotent.
  void Close();

  int64_t NumSeries() const { return head_->NumSeries(); }  // in the head
  int64_t NumSamples() const;                               // head + blocks
  int64_t BlockBytes() const;
  int64_t WalBytes() const;
  int64_t HeadChunkBytes() const { return head_->ChunkBytes(); }
  int64_t TotalBytes() const { return BlockBytes() + WalBytes() + HeadChunkBytes(); }
  std::vector<BlockMeta> Blocks() const;  // ascending by min_time
  DbStats stats() const;
  Head& head() { return *head_; }

 private:
  explicit Db(const DbOptions& opts);
  Status LoadBlocks();
  Status CompactOnce(bool* did);
  Status DeleteBlock(const std::shared_ptr<Block>& b);
  void Loop();
  std::vector<std::shared_ptr<Block>> Snapshot() const;

  DbOptions opts_;
  std::vector<int64_t> ranges_;  // compaction windows, ascending
  std::unique_ptr<Head> head_;

  mutable std::mutex blocks_mu_;
  std::vector<std::shared_ptr<Block>> blocks_;  // ascending by min_time

  std::mutex housekeep_mu_;
  mutable std::mutex stats_mu_;
  DbStats stats_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace berth::monitor::tsdb
