// The head's write-ahead log.
//
// DIR holds numbered segment files (00000001, 00000002, ...), each a run of
// records framed as [u32 length][u32 CRC32 of payload][payload] (little
// endian); payload[0] is the record type. A record never spans segments;
// segments rotate at a soft size limit. A checkpoint file
// `checkpoint.NNNNNNNN` (written whole, then renamed) stands for every
// segment before NNNNNNNN, which are then deleted.
//
// Commit path: Enqueue() adds a record to an in-memory batch and returns a
// ticket; Sync(ticket) returns once the record is written and fdatasynced,
// Write(ticket) once it is written (in the page cache). Concurrent callers
// share one write (+fdatasync): whoever finds no write
// in progress becomes the leader and flushes everything enqueued so far;
// the others wait for it (group commit). A write or sync error is sticky:
// the log refuses further records, since what follows a hole cannot be
// trusted.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.h"
#include "core/status.h"
#include "monitor/histogram.h"
#include "monitor/labels.h"

namespace berth::monitor::tsdb {

enum class RecordType : uint8_t {
  kSeries = 1,      // ref -> labels, before the series' first samples
  kSamples = 2,     // (ref, t, v) triples of one commit
  kDropBefore = 3,  // data older than t was deleted (retention)
  kChunk = 4,       // one encoded chunk of a series (checkpoints)
  kHistograms = 5,  // (ref, t, native histogram) of one commit or checkpoint
  // (ref, t, v) triples as deltas, snappy-compressed: what EncodeSamples
  // writes. kSamples records (older logs) are still read.
  kSamplesSnappy = 6,
  // A kSeries record's body, snappy-compressed: what EncodeSeries writes.
  kSeriesSnappy = 7,
};

struct RefSeries {
  uint64_t ref;
  Labels labels;
};
struct RefSample {
  uint64_t ref;
  int64_t t;
  double v;
};

struct RefHistogram {
  uint64_t ref;
  int64_t t;
  HistogramPtr h;
};

void EncodeSeries(const std::vector<RefSeries>& series, std::string* out);
void EncodeSamples(const std::vector<RefSample>& samples, std::string* out);
void EncodeHistograms(const std::vector<RefHistogram>& samples, std::string* out);
void EncodeDropBefore(int64_t t, std::string* out);
void EncodeChunk(uint64_t ref, std::string_view chunk, std::string* out);

struct Record {
  RecordType type;
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::vector<RefHistogram> histograms;
  int64_t t = 0;           // kDropBefore
  uint64_t ref = 0;        // kChunk
  std::string_view chunk;  // kChunk; points into the decoded payload
};
// Decodes one payload; Internal on malformed input.
Status DecodeRecord(std::string_view payload, Record* out);

struct WalOptions {
  std::string dir;
  int64_t segment_bytes = 32 << 20;
};

struct ReplayStats {
  int64_t records = 0;
  int64_t segments = 0;
  bool from_checkpoint = false;
  // Damaged tails cut off: how often, and how many bytes were discarded.
  int64_t corruptions = 0;
  int64_t bytes_dropped = 0;
};

class Wal {
 public:
  // Replays the newest checkpoint and then every later segment, in order,
  // through `fn`. The first record with a bad frame or CRC (a write torn by
  // a crash), or one `fn` rejects, ends the log: its segment is truncated
  // there and later segments are removed. Writing then starts in a fresh
  // segment. A damaged checkpoint is an error (it was renamed into place
  // only once complete).
  static Result<std::unique_ptr<Wal>> Open(const WalOptions& opts,
                                           const std::function<Status(std::string_view)>& fn,
                                           ReplayStats* stats);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  Result<uint64_t> Enqueue(std::string_view payload);
  Status Sync(uint64_t ticket);
  // Returns once the record is written to the segment file, not synced: it
  // then survives the process being killed, not the machine losing power.
  // A later Sync, the next segment, or SyncAll makes it durable.
  Status Write(uint64_t ticket);
  // Syncs everything enqueued so far.
  Status SyncAll();

  // Makes everything enqueued so far durable and starts a new segment;
  // returns its index. Every record enqueued before the call lies in an
  // earlier segment.
  Result<uint32_t> Cut();

  // Writes a checkpoint standing for every segment before `first_segment`
  // (a value Cut returned), then deletes those segments and older
  // checkpoints.
  class CheckpointWriter {
   public:
    ~CheckpointWriter();
    Status Add(std::string_view payload);
    Status Finish();

   private:
    friend class Wal;
    CheckpointWriter(Wal* wal, uint32_t index, Fd fd, std::string tmp);
    Status FlushBuffer();
    Wal* wal_;
    uint32_t index_;
    Fd fd_;
    std::string tmp_;
    std::string buf_;
    bool done_ = false;
  };
  Result<std::unique_ptr<CheckpointWriter>> NewCheckpoint(uint32_t first_segment);

  // Segments on disk not yet covered by a checkpoint (the open one included).
  int SegmentCount() const { return static_cast<int>(current_.load() - first_.load() + 1); }
  const std::string& dir() const { return dir_; }

 private:
  explicit Wal(const WalOptions& opts);
  Status Replay(const std::function<Status(std::string_view)>& fn, ReplayStats* stats);
  Status OpenSegment(uint32_t index);
  // Leader path: writes out the pending batch (and rotates when cut), with
  // mu_ released during the I/O.
  Status WaitFor(uint64_t ticket, bool sync);  // Sync or Write
  Status FlushLocked(std::unique_lock<std::mutex>& lk, bool cut, bool sync);
  Status WriteOut(const std::string& batch, bool cut, bool sync);
  void RemoveBefore(uint32_t index);

  const std::string dir_;
  const int64_t segment_bytes_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;    // framed records not yet written
  uint64_t enqueued_ = 0;  // tickets handed out
  uint64_t written_ = 0;   // tickets written to the segment file
  uint64_t synced_ = 0;    // tickets durable
  bool writing_ = false;   // a leader is doing I/O
  Status err_;

  // Owned by the current leader (writing_ == true), or by Open.
  Fd seg_;
  int64_t seg_size_ = 0;
  bool unsynced_ = false;  // seg_ holds written records not yet synced
  std::atomic<uint32_t> current_{0};
  std::atomic<uint32_t> first_{0};
};

}  // namespace berth::monitor::tsdb
