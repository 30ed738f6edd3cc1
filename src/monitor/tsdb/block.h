// Persisted, immutable blocks: every sample of a time range [min_time,
// max_time) in one directory DIR/<id>/ that is never modified once written.
//
//   meta.json      range, stats, compaction level and lineage (written last)
//   index          symbol table, series (labels as symbol refs + chunk
//                  metas), postings per label pair, label table, TOC
//   chunks/NNNNNN  chunk segment files
//
// A block is written into DIR/<id>.tmp, every file and the directory are
// fsynced, and only then renamed to DIR/<id>: a crash leaves a complete
// block or a .tmp directory that Db::Open removes. Deletion renames to
// DIR/<id>.deleted first for the same reason. Readers mmap the files; a
// Block stays readable after its directory is deleted for as long as a
// querier holds it.
//
// Integers are little endian; "uv"/"sv" are unsigned / zig-zag varints.
//
// index:  "BTSI" u8 version(1)
//         symbols:  uv count, then per symbol (sorted, unique) uv len, bytes
//         series:   per series, sorted by labels (its id is its position):
//                   uv nlabels, (uv name sym, uv value sym)*, uv nchunks,
//                   per chunk: sv mint - (previous maxt or block min),
//                   uv maxt - mint, uv ref - previous ref
//         series offsets: u64 per series (random access by id)
//         postings: per label pair, uv count, uv id deltas
//         labels:   uv nnames, per name: uv name sym, uv nvalues, per value:
//                   uv value sym, uv postings offset - previous one
//         TOC:      u64 symbols, series, series offsets, postings, labels
//                   offsets, u64 nseries, u32 CRC32 of all bytes before it
// chunks: "BTSC" u8 version(1) 3 bytes padding, then chunk records:
//         uv len, u8 encoding, `len` bytes, u32 CRC32 of encoding+bytes.
//         A chunk ref is (segment number << 32) | record offset.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/storage.h"
#include "monitor/tsdb/postings.h"

namespace berth::monitor::tsdb {

struct BlockMeta {
  std::string id;
  int64_t min_time = 0;  // inclusive
  int64_t max_time = 0;  // exclusive
  int64_t num_samples = 0;
  int64_t num_series = 0;
  int64_t num_chunks = 0;
  int level = 1;
  std::vector<std::string> sources;  // level-1 blocks whose data this holds
  std::vector<std::string> parents;  // blocks this one was compacted from
};

// A fresh block id: 26 Crockford base32 characters, 48 bits of milliseconds
// then 80 random bits (ULID-like), so names sort by creation time.
std::string NewBlockId();

// Writes one block. Series must come in ascending label order, each with
// samples ascending by time and before meta.max_time; meta.min_time is
// lowered to the oldest sample if one is older.
class BlockWriter {
 public:
  struct Options {
    // Samples per persisted chunk: more amortises each chunk's first
    // sample and index entry, fewer makes short queries decode less.
    int chunk_samples = 480;
    int64_t segment_bytes = 512LL << 20;
  };
  // `meta` supplies id, range, level and lineage; stats are counted.
  static Result<std::unique_ptr<BlockWriter>> Create(const std::string& parent_dir, BlockMeta meta,
                                                     const Options& opts);
  ~BlockWriter();  // an unfinished block's temporary directory is removed
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  Status AddSeries(const Labels& labels, std::span<const Sample> samples,
                   std::span<const HistogramSample> histograms = {});
  // Writes index and meta, syncs, renames into place. Returns the meta.
  // A block without series is not written (NotFound).
  Result<BlockMeta> Finish();

  const std::string& tmp_dir() const { return tmp_; }

 private:
  struct Impl;
  explicit BlockWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string tmp_;
};

class MappedFile;

class Block : public std::enable_shared_from_this<Block> {
 public:
  // Opens DIR (a block directory), validating the index checksum.
  static Result<std::shared_ptr<Block>> Open(const std::string& dir);
  ~Block();

  const BlockMeta& meta() const { return meta_; }
  const std::string& dir() const { return dir_; }
  int64_t SizeBytes() const { return size_bytes_; }
  bool Overlaps(int64_t mint, int64_t maxt) const {  // inclusive query range
    return mint < meta_.max_time && maxt >= meta_.min_time;
  }

  // Readers over the block. A querier keeps the block mapped.
  std::unique_ptr<Querier> NewQuerier();

  // Series ids are 0..NumSeries()-1 in label order.
  uint64_t NumSeries() const { return num_series_; }
  Postings Select(const std::vector<Matcher>& ms) const;
  Status SeriesLabels(uint64_t id, Labels* out) const;
  // Samples of series `id` in [mint, maxt] (inclusive), appended to out,
  // and its native histogram samples to hists unless that is null.
  Status SeriesSamples(uint64_t id, int64_t mint, int64_t maxt, std::vector<Sample>* out,
                       std::vector<HistogramSample>* hists = nullptr) const;
  // Whether series `id` has a sample in [mint, maxt] (decoding only when a
  // chunk straddles the range).
  Result<bool> HasSampleIn(uint64_t id, int64_t mint, int64_t maxt) const;
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(std::string_view name) const;

 private:
  struct ChunkMeta {
    int64_t min_t, max_t;
    uint64_t ref;
  };
  struct ValueEntry {
    std::string_view value;
    uint64_t postings;  // offset into the index
  };
  struct NameEntry {
    std::string_view name;
    std::vector<ValueEntry> values;  // sorted
  };

  Block() = default;
  Status Load();
  Status ReadSeries(uint64_t id, Labels* labels, std::vector<ChunkMeta>* chunks) const;
  Result<std::string_view> ChunkBytes(uint64_t ref, uint8_t* encoding) const;
  Postings ReadPostings(uint64_t off) const;
  const NameEntry* FindName(std::string_view name) const;
  Postings UnionWhere(const Matcher& m, bool want) const;

  std::string dir_;
  BlockMeta meta_;
  int64_t size_bytes_ = 0;
  std::unique_ptr<MappedFile> index_;
  std::vector<std::unique_ptr<MappedFile>> segments_;  // index = segment number - 1
  std::vector<std::string_view> symbols_;
  std::vector<NameEntry> names_;  // sorted
  uint64_t num_series_ = 0;
  uint64_t series_offsets_ = 0;
};

// meta.json round trip (exposed for tests and tools).
std::string EncodeBlockMeta(const BlockMeta& m);
Result<BlockMeta> DecodeBlockMeta(std::string_view json);

}  // namespace berth::monitor::tsdb
