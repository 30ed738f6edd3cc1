#include "monitor/tsdb/block.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <unordered_map>

#include "core/fd.h"
#include "core/file.h"
#include "monitor/tsdb/block_chunk.h"

namespace berth::monitor::tsdb {

// An mmapped read-only file, unmapped on destruction.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return Internal("open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Internal("stat " + path + ": " + std::strerror(errno));
    std::unique_ptr<MappedFile> f(new MappedFile());
    f->size_ = static_cast<size_t>(st.st_size);
    if (f->size_ == 0) return f;
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return Internal("mmap " + path + ": " + std::strerror(errno));
    f->data_ = static_cast<const uint8_t*>(p);
    return f;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

namespace {

namespace fs = std::filesystem;

constexpr char kIndexMagic[4] = {'B', 'T', 'S', 'I'};
constexpr char kChunksMagic[4] = {'B', 'T', 'S', 'C'};
constexpr uint8_t kFormatVersion = 1;
constexpr size_t kChunksHeader = 8;
constexpr size_t kTocSize = 6 * 8 + 4;

uint32_t Crc(const void* p, size_t n, uint32_t crc = 0) {
  return static_cast<uint32_t>(::crc32(crc, static_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

void PutUv(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutSv(std::string* out, int64_t v) {
  PutUv(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// A bounds-checked cursor; once a read overruns, bad() stays true and every
// read returns 0.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint64_t Uv() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return Fail();
      uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    return Fail();
  }
  int64_t Sv() {
    uint64_t u = Uv();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  uint64_t U64() {
    if (end_ - p_ < 8) return Fail();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);
    p_ += 8;
    return v;
  }
  uint32_t U32() {
    if (end_ - p_ < 4) return static_cast<uint32_t>(Fail());
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p_[i]) << (8 * i);
    p_ += 4;
    return v;
  }
  std::string_view Bytes(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) {
      Fail();
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  bool bad() const { return bad_; }
  const uint8_t* pos() const { return p_; }

 private:
  uint64_t Fail() {
    bad_ = true;
    p_ = end_;
    return 0;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool bad_ = false;
};

Status Errno(const std::string& what, const std::string& path) {
  return Internal(what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncPath(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return Errno("open", path);
  if (::fsync(fd.get()) != 0) return Errno("fsync", path);
  return Status::Ok();
}

// Creates `path` with `data`, fsynced (the directory is synced by the caller).
Status WriteSynced(const std::string& path, std::string_view data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.ok()) return Errno("create", path);
  BERTH_RETURN_IF_ERROR(WriteAll(fd.get(), data, path));
  if (::fsync(fd.get()) != 0) return Errno("fsync", path);
  if (fd.Close() != 0) return Errno("close", path);
  return Status::Ok();
}

std::string SegmentName(uint32_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06u", n);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------
// Ids and meta.json

std::string NewBlockId() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  // 128 bits: 48 of time, 80 random; 26 characters of 5 bits (130, top 2 zero).
  unsigned __int128 v = (static_cast<unsigned __int128>(ms & 0xffffffffffffULL) << 80) |
                        (static_cast<unsigned __int128>(rng() & 0xffff) << 64) | rng();
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kAlphabet[static_cast<unsigned>(v & 31)];
    v >>= 5;
  }
  return out;
}

std::string EncodeBlockMeta(const BlockMeta& m) {
  nlohmann::json j;
  j["ulid"] = m.id;
  j["minTime"] = m.min_time;
  j["maxTime"] = m.max_time;
  j["stats"] = {
      {"numSamples", m.num_samples}, {"numSeries", m.num_series}, {"numChunks", m.num_chunks}};
  j["compaction"] = {{"level", m.level}, {"sources", m.sources}, {"parents", m.parents}};
  j["version"] = kFormatVersion;
  return j.dump(1, '\t') + "\n";
}

Result<BlockMeta> DecodeBlockMeta(std::string_view text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    BlockMeta m;
    m.id = j.at("ulid").get<std::string>();
    m.min_time = j.at("minTime").get<int64_t>();
    m.max_time = j.at("maxTime").get<int64_t>();
    const auto& st = j.at("stats");
    m.num_samples = st.at("numSamples").get<int64_t>();
    m.num_series = st.at("numSeries").get<int64_t>();
    m.num_chunks = st.at("numChunks").get<int64_t>();
    const auto& c = j.at("compaction");
    m.level = c.at("level").get<int>();
    m.sources = c.at("sources").get<std::vector<std::string>>();
    if (c.contains("parents")) m.parents = c.at("parents").get<std::vector<std::string>>();
    if (j.at("version").get<int>() != kFormatVersion) return Internal("unknown block version");
    return m;
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("bad meta.json: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Writer

struct BlockWriter::Impl {
  struct ChunkMeta {
    int64_t min_t, max_t;
    uint64_t ref;
  };
  struct Series {
    Labels labels;
    std::vector<ChunkMeta> chunks;
  };

  std::string parent, tmp, final_dir;
  BlockMeta meta;
  Options opts;
  Fd seg;
  std::string seg_path;
  uint32_t seg_no = 0;
  uint64_t seg_size = 0;
  std::string buf;  // pending bytes of the open segment
  std::vector<Series> series;
  int64_t min_sample = std::numeric_limits<int64_t>::max();
  bool finished = false;

  Status FlushBuf() {
    BERTH_RETURN_IF_ERROR(WriteAll(seg.get(), buf, seg_path));
    buf.clear();
    return Status::Ok();
  }
  Status CloseSegment() {
    if (!seg.ok()) return Status::Ok();
    BERTH_RETURN_IF_ERROR(FlushBuf());
    if (::fsync(seg.get()) != 0) return Errno("fsync", seg_path);
    if (seg.Close() != 0) return Errno("close", seg_path);
    return Status::Ok();
  }
  Status NextSegment() {
    BERTH_RETURN_IF_ERROR(CloseSegment());
    ++seg_no;
    seg_path = tmp + "/chunks/" + SegmentName(seg_no);
    seg.Reset(::open(seg_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!seg.ok()) return Errno("create", seg_path);
    buf.assign(kChunksMagic, 4);
    buf.push_back(static_cast<char>(kFormatVersion));
    buf.append(3, '\0');
    seg_size = kChunksHeader;
    return Status::Ok();
  }
  Result<uint64_t> WriteChunk(uint8_t enc, std::string_view data) {
    uint64_t need = 10 + 1 + data.size() + 4;
    if (!seg.ok() ||
        (seg_size + need > static_cast<uint64_t>(opts.segment_bytes) && seg_size > kChunksHeader)) {
      BERTH_RETURN_IF_ERROR(NextSegment());
    }
    uint64_t ref = (static_cast<uint64_t>(seg_no) << 32) | seg_size;
    size_t start = buf.size();
    PutUv(&buf, data.size());
    size_t body = buf.size();
    buf.push_back(static_cast<char>(enc));
    buf.append(data);
    PutU32(&buf, Crc(buf.data() + body, buf.size() - body));
    seg_size += buf.size() - start;
    if (buf.size() >= (1 << 20)) BERTH_RETURN_IF_ERROR(FlushBuf());
    return ref;
  }
};

BlockWriter::BlockWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { tmp_ = impl_->tmp; }

BlockWriter::~BlockWriter() {
  if (!impl_->finished) {
    impl_->seg.Reset();
    std::error_code ec;
    fs::remove_all(impl_->tmp, ec);
  }
}

Result<std::unique_ptr<BlockWriter>> BlockWriter::Create(const std::string& parent_dir,
                                                         BlockMeta meta, const Options& opts) {
  if (meta.id.empty()) meta.id = NewBlockId();
  if (meta.min_time >= meta.max_time) return Invalid("block: empty time range");
  if (opts.chunk_samples < 1 || opts.chunk_samples > 65535)
    return Invalid("block: chunk_samples must be in [1, 65535]");
  auto impl = std::make_unique<Impl>();
  impl->parent = parent_dir;
  impl->final_dir = parent_dir + "/" + meta.id;
  impl->tmp = impl->final_dir + ".tmp";
  impl->meta = std::move(meta);
  impl->meta.num_samples = impl->meta.num_series = impl->meta.num_chunks = 0;
  impl->opts = opts;
  std::error_code ec;
  fs::remove_all(impl->tmp, ec);
  BERTH_RETURN_IF_ERROR(MakeDirs(impl->tmp + "/chunks"));
  return std::unique_ptr<BlockWriter>(new BlockWriter(std::move(impl)));
}

Status BlockWriter::AddSeries(const Labels& labels, std::span<const Sample> samples,
                              std::span<const HistogramSample> histograms) {
  Impl& w = *impl_;
  if (samples.empty() && histograms.empty()) return Status::Ok();
  if (!w.series.empty() && !(w.series.back().labels < labels))
    return Internal("block: series added out of label order: " + labels.String());
  if ((!samples.empty() && samples.back().t >= w.meta.max_time) ||
      (!histograms.empty() && histograms.back().t >= w.meta.max_time))
    return Internal("block: sample past the block range for " + labels.String());
  if (!samples.empty()) w.min_sample = std::min(w.min_sample, samples.front().t);
  if (!histograms.empty()) w.min_sample = std::min(w.min_sample, histograms.front().t);
  Impl::Series s{labels, {}};
  std::string enc;
  // Float chunks first, then histogram chunks: readers sort each kind's
  // samples into its own vector, so chunks need only be ordered per kind.
  for (size_t i = 0; i < samples.size();) {
    size_t n = std::min(samples.size() - i, static_cast<size_t>(w.opts.chunk_samples));
    auto part = samples.subspan(i, n);
    uint8_t encoding = EncodeBlockChunk(part, &enc);
    BERTH_ASSIGN_OR_RETURN(uint64_t ref, w.WriteChunk(encoding, enc));
    s.chunks.push_back({part.front().t, part.back().t, ref});
    i += n;
  }
  for (size_t i = 0; i < histograms.size();) {
    size_t n = std::min(histograms.size() - i, static_cast<size_t>(w.opts.chunk_samples));
    auto part = histograms.subspan(i, n);
    EncodeHistogramChunk(part, &enc);
    BERTH_ASSIGN_OR_RETURN(uint64_t ref, w.WriteChunk(kEncHistogram, enc));
    s.chunks.push_back({part.front().t, part.back().t, ref});
    i += n;
  }
  w.meta.num_samples += static_cast<int64_t>(samples.size() + histograms.size());
  w.meta.num_chunks += static_cast<int64_t>(s.chunks.size());
  ++w.meta.num_series;
  w.series.push_back(std::move(s));
  return Status::Ok();
}

Result<BlockMeta> BlockWriter::Finish() {
  Impl& w = *impl_;
  if (w.series.empty()) return NotFound("block: no series");
  w.meta.min_time = std::min(w.meta.min_time, w.min_sample);
  BERTH_RETURN_IF_ERROR(w.CloseSegment());

  // Symbols, and postings per label pair (ids ascend as series are sorted).
  std::map<std::string_view, std::map<std::string_view, std::vector<uint64_t>>> postings;
  std::set<std::string_view> symset;
  for (uint64_t id = 0; id < w.series.size(); ++id) {
    for (LabelView l : w.series[id].labels) {
      symset.insert(l.name);
      symset.insert(l.value);
      postings[l.name][l.value].push_back(id);
    }
  }
  std::unordered_map<std::string_view, uint64_t> sym;
  sym.reserve(symset.size());

  std::string idx(kIndexMagic, 4);
  idx.push_back(static_cast<char>(kFormatVersion));
  uint64_t symbols_off = idx.size();
  PutUv(&idx, symset.size());
  for (std::string_view s : symset) {
    sym.emplace(s, sym.size());
    PutUv(&idx, s.size());
    idx.append(s);
  }

  uint64_t series_off = idx.size();
  std::vector<uint64_t> offsets;
  offsets.reserve(w.series.size());
  for (const Impl::Series& s : w.series) {
    offsets.push_back(idx.size());
    PutUv(&idx, s.labels.size());
    for (LabelView l : s.labels) {
      PutUv(&idx, sym.at(l.name));
      PutUv(&idx, sym.at(l.value));
    }
    PutUv(&idx, s.chunks.size());
    int64_t prev_t = w.meta.min_time;
    uint64_t prev_ref = 0;
    for (const Impl::ChunkMeta& c : s.chunks) {
      PutSv(&idx, c.min_t - prev_t);
      PutUv(&idx, static_cast<uint64_t>(c.max_t - c.min_t));
      PutUv(&idx, c.ref - prev_ref);
      prev_t = c.max_t;
      prev_ref = c.ref;
    }
  }
  uint64_t offsets_off = idx.size();
  for (uint64_t o : offsets) PutU64(&idx, o);

  uint64_t postings_off = idx.size();
  std::vector<std::vector<uint64_t>> value_offsets;
  for (const auto& [name, values] : postings) {
    value_offsets.emplace_back();
    for (const auto& [value, ids] : values) {
      value_offsets.back().push_back(idx.size());
      PutUv(&idx, ids.size());
      uint64_t prev = 0;
      for (uint64_t id : ids) {
        PutUv(&idx, id - prev);
        prev = id;
      }
    }
  }
  uint64_t labels_off = idx.size();
  PutUv(&idx, postings.size());
  size_t ni = 0;
  uint64_t prev_off = postings_off;
  for (const auto& [name, values] : postings) {
    PutUv(&idx, sym.at(name));
    PutUv(&idx, values.size());
    size_t vi = 0;
    for (const auto& [value, ids] : values) {
      PutUv(&idx, sym.at(value));
      PutUv(&idx, value_offsets[ni][vi] - prev_off);
      prev_off = value_offsets[ni][vi];
      ++vi;
    }
    ++ni;
  }
  for (uint64_t o : {symbols_off, series_off, offsets_off, postings_off, labels_off})
    PutU64(&idx, o);
  PutU64(&idx, w.series.size());
  PutU32(&idx, Crc(idx.data(), idx.size()));

  BERTH_RETURN_IF_ERROR(WriteSynced(w.tmp + "/index", idx));
  BERTH_RETURN_IF_ERROR(WriteSynced(w.tmp + "/meta.json", EncodeBlockMeta(w.meta)));
  BERTH_RETURN_IF_ERROR(SyncPath(w.tmp + "/chunks"));
  BERTH_RETURN_IF_ERROR(SyncPath(w.tmp));
  if (::rename(w.tmp.c_str(), w.final_dir.c_str()) != 0) return Errno("rename", w.tmp);
  w.finished = true;
  BERTH_RETURN_IF_ERROR(SyncPath(w.parent));
  return w.meta;
}

// ---------------------------------------------------------------------------
// Reader

Block::~Block() = default;

Result<std::shared_ptr<Block>> Block::Open(const std::string& dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = dir;
  if (Status st = b->Load(); !st.ok()) return Internal("block " + dir + ": " + st.message());
  return b;
}

Status Block::Load() {
  BERTH_ASSIGN_OR_RETURN(std::string meta_text, ReadFile(dir_ + "/meta.json"));
  BERTH_ASSIGN_OR_RETURN(meta_, DecodeBlockMeta(meta_text));
  size_bytes_ = static_cast<int64_t>(meta_text.size());

  BERTH_ASSIGN_OR_RETURN(index_, MappedFile::Open(dir_ + "/index"));
  const uint8_t* p = index_->data();
  size_t n = index_->size();
  size_bytes_ += static_cast<int64_t>(n);
  if (n < 5 + kTocSize || std::memcmp(p, kIndexMagic, 4) != 0 || p[4] != kFormatVersion)
    return Internal("index: bad header");
  Reader toc(p + n - kTocSize, kTocSize);
  uint64_t symbols_off = toc.U64(), series_off = toc.U64(), offsets_off = toc.U64();
  uint64_t postings_off = toc.U64(), labels_off = toc.U64();
  num_series_ = toc.U64();
  if (toc.U32() != Crc(p, n - 4)) return Internal("index: checksum mismatch");
  uint64_t end = n - kTocSize;
  if (symbols_off > end || series_off > end || offsets_off > end || postings_off > end ||
      labels_off > end || offsets_off + num_series_ * 8 > end)
    return Internal("index: bad table of contents");
  (void)series_off;
  series_offsets_ = offsets_off;

  Reader sr(p + symbols_off, end - symbols_off);
  uint64_t nsym = sr.Uv();
  if (nsym > n) return Internal("index: bad symbol count");
  symbols_.reserve(nsym);
  for (uint64_t i = 0; i < nsym && !sr.bad(); ++i) symbols_.push_back(sr.Bytes(sr.Uv()));
  if (sr.bad()) return Internal("index: bad symbol table");

  auto symbol = [&](uint64_t i, bool* bad) -> std::string_view {
    if (i >= symbols_.size()) {
      *bad = true;
      return {};
    }
    return symbols_[i];
  };
  Reader lr(p + labels_off, end - labels_off);
  bool bad = false;
  uint64_t nnames = lr.Uv();
  uint64_t off = postings_off;
  for (uint64_t i = 0; i < nnames && !lr.bad() && !bad; ++i) {
    NameEntry ne;
    ne.name = symbol(lr.Uv(), &bad);
    uint64_t nvalues = lr.Uv();
    for (uint64_t j = 0; j < nvalues && !lr.bad() && !bad; ++j) {
      std::string_view v = symbol(lr.Uv(), &bad);
      off += lr.Uv();
      if (off >= labels_off) bad = true;
      ne.values.push_back({v, off});
    }
    names_.push_back(std::move(ne));
  }
  if (lr.bad() || bad) return Internal("index: bad label table");

  // Chunk segments 000001, 000002, ... must be contiguous.
  std::vector<std::string> segs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/chunks", ec)) {
    segs.push_back(e.path().filename().string());
  }
  if (ec) return Internal("chunks: " + ec.message());
  std::sort(segs.begin(), segs.end());
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i] != SegmentName(static_cast<uint32_t>(i + 1)))
      return Internal("chunks: unexpected file " + segs[i]);
    BERTH_ASSIGN_OR_RETURN(auto f, MappedFile::Open(dir_ + "/chunks/" + segs[i]));
    if (f->size() < kChunksHeader || std::memcmp(f->data(), kChunksMagic, 4) != 0)
      return Internal("chunks: bad header in " + segs[i]);
    size_bytes_ += static_cast<int64_t>(f->size());
    segments_.push_back(std::move(f));
  }
  return Status::Ok();
}

Status Block::ReadSeries(uint64_t id, Labels* labels, std::vector<ChunkMeta>* chunks) const {
  if (id >= num_series_) return Internal("block: no series " + std::to_string(id));
  Reader tr(index_->data() + series_offsets_ + id * 8, 8);
  uint64_t off = tr.U64();
  if (off >= series_offsets_) return Internal("block: bad series offset");
  Reader r(index_->data() + off, series_offsets_ - off);
  uint64_t nl = r.Uv();
  if (labels != nullptr) {
    std::vector<Label> ls;
    ls.reserve(nl);
    for (uint64_t i = 0; i < nl && !r.bad(); ++i) {
      uint64_t a = r.Uv(), b = r.Uv();
      if (a >= symbols_.size() || b >= symbols_.size()) return Internal("block: bad symbol ref");
      ls.push_back({std::string(symbols_[a]), std::string(symbols_[b])});
    }
    *labels = Labels(std::move(ls));
  } else {
    for (uint64_t i = 0; i < nl * 2 && !r.bad(); ++i) r.Uv();
  }
  if (chunks != nullptr) {
    chunks->clear();
    uint64_t nc = r.Uv();
    int64_t prev_t = meta_.min_time;
    uint64_t prev_ref = 0;
    for (uint64_t i = 0; i < nc && !r.bad(); ++i) {
      ChunkMeta c;
      c.min_t = prev_t + r.Sv();
      c.max_t = c.min_t + static_cast<int64_t>(r.Uv());
      c.ref = prev_ref + r.Uv();
      prev_t = c.max_t;
      prev_ref = c.ref;
      chunks->push_back(c);
    }
  }
  if (r.bad()) return Internal("block: truncated series entry");
  return Status::Ok();
}

Result<std::string_view> Block::ChunkBytes(uint64_t ref, uint8_t* encoding) const {
  uint64_t seg = ref >> 32, off = ref & 0xffffffffULL;
  if (seg == 0 || seg > segments_.size()) return Internal("block: bad chunk ref");
  const MappedFile& f = *segments_[seg - 1];
  if (off < kChunksHeader || off >= f.size()) return Internal("block: bad chunk ref");
  Reader r(f.data() + off, f.size() - off);
  uint64_t len = r.Uv();
  const uint8_t* body = r.pos();
  std::string_view enc = r.Bytes(1);
  std::string_view data = r.Bytes(len);
  uint32_t crc = r.U32();
  if (r.bad()) return Internal("block: truncated chunk");
  if (crc != Crc(body, len + 1)) return Internal("block: chunk checksum mismatch");
  *encoding = static_cast<uint8_t>(enc[0]);
  return data;
}

Status Block::SeriesLabels(uint64_t id, Labels* out) const { return ReadSeries(id, out, nullptr); }

Status Block::SeriesSamples(uint64_t id, int64_t mint, int64_t maxt, std::vector<Sample>* out,
                            std::vector<HistogramSample>* hists) const {
  std::vector<ChunkMeta> chunks;
  BERTH_RETURN_IF_ERROR(ReadSeries(id, nullptr, &chunks));
  for (const ChunkMeta& c : chunks) {
    if (c.max_t < mint || c.min_t > maxt) continue;
    uint8_t enc = 0;
    BERTH_ASSIGN_OR_RETURN(std::string_view data, ChunkBytes(c.ref, &enc));
    BERTH_RETURN_IF_ERROR(DecodeBlockChunk(enc, data, mint, maxt, out, hists));
  }
  return Status::Ok();
}

Result<bool> Block::HasSampleIn(uint64_t id, int64_t mint, int64_t maxt) const {
  std::vector<ChunkMeta> chunks;
  BERTH_RETURN_IF_ERROR(ReadSeries(id, nullptr, &chunks));
  std::vector<Sample> tmp;
  std::vector<HistogramSample> tmp_h;
  for (const ChunkMeta& c : chunks) {
    if (c.max_t < mint || c.min_t > maxt) continue;
    if (c.min_t >= mint || c.max_t <= maxt) return true;  // an end inside the range
    uint8_t enc = 0;
    BERTH_ASSIGN_OR_RETURN(std::string_view data, ChunkBytes(c.ref, &enc));
    tmp.clear();
    tmp_h.clear();
    BERTH_RETURN_IF_ERROR(DecodeBlockChunk(enc, data, mint, maxt, &tmp, &tmp_h));
    if (!tmp.empty() || !tmp_h.empty()) return true;
  }
  return false;
}

Postings Block::ReadPostings(uint64_t off) const {
  Reader r(index_->data() + off, index_->size() - kTocSize - off);
  uint64_t n = r.Uv();
  Postings out;
  out.reserve(std::min<uint64_t>(n, num_series_));
  uint64_t id = 0;
  for (uint64_t i = 0; i < n && !r.bad(); ++i) {
    id += r.Uv();
    if (id >= num_series_) break;  // damaged: never hand out an invalid id
    out.push_back(id);
  }
  return out;
}

const Block::NameEntry* Block::FindName(std::string_view name) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), name,
                             [](const NameEntry& e, std::string_view n) { return e.name < n; });
  return it != names_.end() && it->name == name ? &*it : nullptr;
}

Postings Block::UnionWhere(const Matcher& m, bool want) const {
  const NameEntry* ne = FindName(m.name());
  if (ne == nullptr) return {};
  std::vector<Postings> lists;
  for (const ValueEntry& v : ne->values)
    if (m.Matches(v.value) == want) lists.push_back(ReadPostings(v.postings));
  std::vector<const Postings*> ptrs;
  for (const Postings& p : lists) ptrs.push_back(&p);
  return Union(std::move(ptrs));
}

// The same semantics as MemPostings::Select: absent labels read as "".
Postings Block::Select(const std::vector<Matcher>& matchers) const {
  std::vector<Postings> include, exclude;
  for (const Matcher& m : matchers) {
    if (!m.MatchesEmpty()) {
      Postings p;
      if (m.op() == Matcher::Op::kEq) {
        if (const NameEntry* ne = FindName(m.name())) {
          auto it =
              std::lower_bound(ne->values.begin(), ne->values.end(), std::string_view(m.value()),
                               [](const ValueEntry& e, std::string_view v) { return e.value < v; });
          if (it != ne->values.end() && it->value == m.value()) p = ReadPostings(it->postings);
        }
      } else {
        p = UnionWhere(m, true);
      }
      if (p.empty()) return {};
      include.push_back(std::move(p));
    } else if (m.op() == Matcher::Op::kNeq) {
      Matcher eq = *Matcher::Make(Matcher::Op::kEq, m.name(), m.value());
      Postings p = UnionWhere(eq, true);
      if (!p.empty()) exclude.push_back(std::move(p));
    } else {
      Postings p = UnionWhere(m, false);
      if (!p.empty()) exclude.push_back(std::move(p));
    }
  }
  Postings out;
  if (include.empty()) {
    out.resize(num_series_);
    for (uint64_t i = 0; i < num_series_; ++i) out[i] = i;
  } else {
    std::sort(include.begin(), include.end(),
              [](const Postings& a, const Postings& b) { return a.size() < b.size(); });
    out = std::move(include[0]);
    for (size_t i = 1; i < include.size() && !out.empty(); ++i) out = Intersect(out, include[i]);
  }
  for (const Postings& e : exclude) {
    if (out.empty()) break;
    out = Subtract(out, e);
  }
  return out;
}

std::vector<std::string> Block::LabelNames() const {
  std::vector<std::string> out;
  for (const NameEntry& ne : names_) out.emplace_back(ne.name);
  return out;
}

std::vector<std::string> Block::LabelValues(std::string_view name) const {
  std::vector<std::string> out;
  if (const NameEntry* ne = FindName(name))
    for (const ValueEntry& v : ne->values) out.emplace_back(v.value);
  return out;
}

// ---------------------------------------------------------------------------
// Querier

namespace {

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

class BlockQuerier : public Querier {
 public:
  explicit BlockQuerier(std::shared_ptr<const Block> b) : b_(std::move(b)) {}

  Result<std::vector<SeriesSamples>> Select(int64_t mint, int64_t maxt,
                                            const std::vector<Matcher>& ms) override {
    std::vector<SeriesSamples> out;
    if (mint > maxt || !b_->Overlaps(mint, maxt)) return out;
    for (uint64_t id : b_->Select(ms)) {
      SeriesSamples ss;
      BERTH_RETURN_IF_ERROR(b_->SeriesSamples(id, mint, maxt, &ss.samples, &ss.histograms));
      if (ss.samples.empty() && ss.histograms.empty()) continue;
      BERTH_RETURN_IF_ERROR(b_->SeriesLabels(id, &ss.labels));
      out.push_back(std::move(ss));
    }
    return out;  // ids are in label order
  }

  Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                     const std::vector<Matcher>& ms) override {
    std::vector<Labels> out;
    if (mint > maxt || !b_->Overlaps(mint, maxt)) return out;
    for (uint64_t id : b_->Select(ms)) {
      BERTH_ASSIGN_OR_RETURN(bool in, b_->HasSampleIn(id, mint, maxt));
      if (!in) continue;
      out.emplace_back();
      BERTH_RETURN_IF_ERROR(b_->SeriesLabels(id, &out.back()));
    }
    return out;
  }

  Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                              const std::vector<Matcher>& ms) override {
    if (ms.empty() && Covers(mint, maxt)) return b_->LabelNames();
    BERTH_ASSIGN_OR_RETURN(auto series, Series(mint, maxt, ms));
    std::vector<std::string> out;
    for (const Labels& ls : series)
      for (LabelView l : ls) out.emplace_back(l.name);
    SortUnique(out);
    return out;
  }

  Result<std::vector<std::string>> LabelValues(const std::string& name, int64_t mint, int64_t maxt,
                                               const std::vector<Matcher>& ms) override {
    if (ms.empty() && Covers(mint, maxt)) return b_->LabelValues(name);
    BERTH_ASSIGN_OR_RETURN(auto series, Series(mint, maxt, ms));
    std::vector<std::string> out;
    for (const Labels& ls : series) {
      std::string_view v = ls.Get(name);
      if (!v.empty()) out.emplace_back(v);
    }
    SortUnique(out);
    return out;
  }

 private:
  // Every series of the block has a sample in [mint, maxt].
  bool Covers(int64_t mint, int64_t maxt) const {
    return mint <= b_->meta().min_time && maxt >= b_->meta().max_time - 1;
  }
  std::shared_ptr<const Block> b_;
};

}  // namespace

std::unique_ptr<Querier> Block::NewQuerier() {
  return std::make_unique<BlockQuerier>(shared_from_this());
}

}  // namespace berth::monitor::tsdb
