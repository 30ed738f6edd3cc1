#include "monitor/tsdb/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <snappy.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/file.h"
#include "core/log.h"
#include "monitor/tsdb/encoding.h"

namespace berth::monitor::tsdb {
namespace {

constexpr size_t kHeader = 8;
// A length beyond this is a damaged header, not a real record.
constexpr uint32_t kMaxRecord = 1u << 30;
constexpr std::string_view kCheckpointPrefix = "checkpoint.";

Status Errno(const std::string& what) {
  return Internal("wal: " + what + ": " + std::strerror(errno));
}

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void Frame(std::string_view payload, std::string* out) {
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc(payload));
  out->append(payload);
}

std::string SegmentName(uint32_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", index);
  return buf;
}

// Parses "00000012" / "checkpoint.00000012"; 0 when the name is neither.
uint32_t ParseIndex(std::string_view name) {
  if (name.size() != 8) return 0;
  uint32_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return Errno("open " + dir);
  if (::fsync(fd.get()) != 0) return Errno("fsync " + dir);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

void EncodeSeries(const std::vector<RefSeries>& series, std::string* out) {
  // Label sets repeat names and share value prefixes: snappy-compressed.
  thread_local std::string body;
  body.clear();
  PutUvarint(&body, series.size());
  for (const RefSeries& s : series) {
    PutUvarint(&body, s.ref);
    PutUvarint(&body, s.labels.size());
    for (LabelView l : s.labels) {
      PutString(&body, l.name);
      PutString(&body, l.value);
    }
  }
  out->push_back(static_cast<char>(RecordType::kSeriesSnappy));
  std::string compressed;
  snappy::Compress(body.data(), body.size(), &compressed);
  out->append(compressed);
}

void EncodeSamples(const std::vector<RefSample>& samples, std::string* out) {
  // Refs and times as deltas from the previous sample's (a scrape's series
  // are mostly consecutive refs at one time: a byte each), values as their
  // bits, the whole snappy-compressed (counters' small integers are mostly
  // zero bytes).
  thread_local std::string body;
  body.clear();
  PutUvarint(&body, samples.size());
  uint64_t prev_ref = 0;
  int64_t prev_t = 0;
  for (const RefSample& s : samples) {
    PutVarint(&body, static_cast<int64_t>(s.ref - prev_ref));
    PutVarint(&body, s.t - prev_t);
    PutU64(&body, std::bit_cast<uint64_t>(s.v));
    prev_ref = s.ref;
    prev_t = s.t;
  }
  out->push_back(static_cast<char>(RecordType::kSamplesSnappy));
  std::string compressed;
  snappy::Compress(body.data(), body.size(), &compressed);
  out->append(compressed);
}

void EncodeHistograms(const std::vector<RefHistogram>& samples, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kHistograms));
  PutUvarint(out, samples.size());
  int64_t prev_t = 0;
  for (const RefHistogram& s : samples) {
    PutUvarint(out, s.ref);
    PutVarint(out, s.t - prev_t);
    PutHistogram(out, *s.h);
    prev_t = s.t;
  }
}

void EncodeDropBefore(int64_t t, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kDropBefore));
  PutVarint(out, t);
}

void EncodeChunk(uint64_t ref, std::string_view chunk, std::string* out) {
  out->push_back(static_cast<char>(RecordType::kChunk));
  PutUvarint(out, ref);
  PutString(out, chunk);
}

Status DecodeRecord(std::string_view payload, Record* out) {
  if (payload.empty()) return Internal("wal: empty record");
  if (static_cast<RecordType>(payload[0]) == RecordType::kSeriesSnappy) {
    std::string_view z = payload.substr(1);
    size_t len = 0;
    std::string plain(1, static_cast<char>(RecordType::kSeries));
    std::string body;
    if (!snappy::GetUncompressedLength(z.data(), z.size(), &len) || len > kMaxRecord ||
        !snappy::Uncompress(z.data(), z.size(), &body))
      return Internal("wal: malformed series record");
    plain += body;
    return DecodeRecord(plain, out);  // series records copy what they keep
  }
  out->type = static_cast<RecordType>(payload[0]);
  out->series.clear();
  out->samples.clear();
  out->histograms.clear();
  Decoder d(payload.substr(1));
  switch (out->type) {
    case RecordType::kSeries: {
      uint64_t n = d.Count(2);
      out->series.reserve(n);
      for (uint64_t i = 0; i < n && d.ok(); ++i) {
        uint64_t ref = d.Uvarint();
        uint64_t nl = d.Count(2);
        std::vector<Label> ls;
        ls.reserve(nl);
        for (uint64_t j = 0; j < nl && d.ok(); ++j) {
          std::string_view name = d.Bytes();
          std::string_view value = d.Bytes();
          ls.push_back({std::string(name), std::string(value)});
        }
        out->series.push_back({ref, Labels(std::move(ls))});
      }
      break;
    }
    case RecordType::kSamples: {
      uint64_t n = d.Count(10);
      out->samples.reserve(n);
      int64_t t = 0;
      for (uint64_t i = 0; i < n && d.ok(); ++i) {
        uint64_t ref = d.Uvarint();
        t += d.Varint();
        double v = std::bit_cast<double>(d.U64());
        out->samples.push_back({ref, t, v});
      }
      break;
    }
    case RecordType::kSamplesSnappy: {
      std::string_view z = payload.substr(1);
      size_t len = 0;
      std::string body;
      if (!snappy::GetUncompressedLength(z.data(), z.size(), &len) || len > kMaxRecord ||
          !snappy::Uncompress(z.data(), z.size(), &body))
        return Internal("wal: malformed sample record");
      Decoder b(body);
      uint64_t n = b.Count(10);
      out->samples.reserve(n);
      uint64_t ref = 0;
      int64_t t = 0;
      for (uint64_t i = 0; i < n && b.ok(); ++i) {
        ref += static_cast<uint64_t>(b.Varint());
        t += b.Varint();
        double v = std::bit_cast<double>(b.U64());
        out->samples.push_back({ref, t, v});
      }
      if (!b.ok() || !b.done()) return Internal("wal: malformed sample record");
      // Replay treats both sample records alike.
      out->type = RecordType::kSamples;
      return Status::Ok();
    }
    case RecordType::kHistograms: {
      uint64_t n = d.Count(50);
      out->histograms.reserve(n);
      int64_t t = 0;
      for (uint64_t i = 0; i < n && d.ok(); ++i) {
        uint64_t ref = d.Uvarint();
        t += d.Varint();
        auto h = std::make_shared<FloatHistogram>(d.Histogram());
        out->histograms.push_back({ref, t, std::move(h)});
      }
      break;
    }
    case RecordType::kDropBefore:
      out->t = d.Varint();
      break;
    case RecordType::kChunk:
      out->ref = d.Uvarint();
      out->chunk = d.Bytes();
      break;
    default:
      return Internal("wal: unknown record type " + std::to_string(payload[0]));
  }
  if (!d.ok() || !d.done()) return Internal("wal: malformed record");
  return Status::Ok();
}

Wal::Wal(const WalOptions& opts) : dir_(opts.dir), segment_bytes_(opts.segment_bytes) {}

Wal::~Wal() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !writing_; });
  if ((!pending_.empty() || unsynced_) && err_.ok()) FlushLocked(lk, false, true);
}

Result<std::unique_ptr<Wal>> Wal::Open(const WalOptions& opts,
                                       const std::function<Status(std::string_view)>& fn,
                                       ReplayStats* stats) {
  BERTH_RETURN_IF_ERROR(MakeDirs(opts.dir, 0700));
  std::unique_ptr<Wal> w(new Wal(opts));
  ReplayStats local;
  BERTH_RETURN_IF_ERROR(w->Replay(fn, stats != nullptr ? stats : &local));
  return w;
}

Status Wal::Replay(const std::function<Status(std::string_view)>& fn, ReplayStats* stats) {
  uint32_t checkpoint = 0;
  std::vector<uint32_t> segments;
  for (const std::string& name : ListDir(dir_)) {
    if (name.ends_with(".tmp")) {
      ::unlink((dir_ + "/" + name).c_str());  // a checkpoint that never finished
    } else if (name.starts_with(kCheckpointPrefix)) {
      checkpoint =
          std::max(checkpoint, ParseIndex(std::string_view(name).substr(kCheckpointPrefix.size())));
    } else if (uint32_t i = ParseIndex(name); i > 0) {
      segments.push_back(i);
    }
  }
  std::sort(segments.begin(), segments.end());

  if (checkpoint > 0) {
    std::string path = dir_ + "/" + std::string(kCheckpointPrefix) + SegmentName(checkpoint);
    BERTH_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    std::string_view rest = data;
    while (!rest.empty()) {
      uint32_t len = rest.size() >= kHeader ? GetU32(rest.data()) : 0;
      if (len == 0 || len > rest.size() - kHeader ||
          Crc(rest.substr(kHeader, len)) != GetU32(rest.data() + 4)) {
        return Internal("wal: damaged checkpoint " + path);
      }
      BERTH_RETURN_IF_ERROR(fn(rest.substr(kHeader, len)));
      ++stats->records;
      rest.remove_prefix(kHeader + len);
    }
    stats->from_checkpoint = true;
    RemoveBefore(checkpoint);  // leftovers of a crash between rename and cleanup
    std::erase_if(segments, [&](uint32_t i) { return i < checkpoint; });
  }

  bool broken = false;
  for (uint32_t index : segments) {
    std::string path = dir_ + "/" + SegmentName(index);
    if (broken) {
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) stats->bytes_dropped += st.st_size;
      ::unlink(path.c_str());
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    ++stats->segments;
    size_t off = 0;
    while (off < data.size()) {
      std::string_view rest = std::string_view(data).substr(off);
      uint32_t len = rest.size() >= kHeader ? GetU32(rest.data()) : 0;
      bool good = len > 0 && len <= kMaxRecord && len <= rest.size() - kHeader &&
                  Crc(rest.substr(kHeader, len)) == GetU32(rest.data() + 4);
      if (good) {
        Status st = fn(rest.substr(kHeader, len));
        if (!st.ok()) {
          log::Warn("wal: record rejected on replay",
                    log::Fields()("segment", path)("error", st.message()));
          good = false;
        }
      }
      if (!good) {
        broken = true;
        ++stats->corruptions;
        stats->bytes_dropped += static_cast<int64_t>(data.size() - off);
        log::Warn("wal: cutting damaged tail",
                  log::Fields()("segment", path)("offset", off)("bytes", data.size() - off));
        if (::truncate(path.c_str(), static_cast<off_t>(off)) != 0)
          return Errno("truncate " + path);
        Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd.ok() || ::fdatasync(fd.get()) != 0) return Errno("sync " + path);
        break;
      }
      ++stats->records;
      off += kHeader + len;
    }
  }
  if (stats->corruptions > 0) BERTH_RETURN_IF_ERROR(SyncDir(dir_));

  uint32_t last = segments.empty() ? 0 : segments.back();
  uint32_t next = std::max(last + 1, std::max(checkpoint, 1u));
  first_ = checkpoint > 0 ? checkpoint : (segments.empty() ? next : segments.front());
  return OpenSegment(next);
}

Status Wal::OpenSegment(uint32_t index) {
  std::string path = dir_ + "/" + SegmentName(index);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.ok()) return Errno("create " + path);
  // The segment's records are found after a crash only if its name is.
  BERTH_RETURN_IF_ERROR(SyncDir(dir_));
  // What was written to the old segment without a sync is synced now: a
  // later segment never reaches the disk ahead of an earlier one's records.
  if (seg_.ok() && unsynced_ && ::fdatasync(seg_.get()) != 0) return Errno("fdatasync");
  unsynced_ = false;
  seg_ = std::move(fd);
  seg_size_ = 0;
  current_ = index;
  return Status::Ok();
}

Result<uint64_t> Wal::Enqueue(std::string_view payload) {
  if (payload.empty() || payload.size() > kMaxRecord) return Internal("wal: bad record size");
  std::lock_guard lk(mu_);
  if (!err_.ok()) return err_;
  Frame(payload, &pending_);
  return ++enqueued_;
}

Status Wal::Sync(uint64_t ticket) { return WaitFor(ticket, true); }

Status Wal::Write(uint64_t ticket) { return WaitFor(ticket, false); }

Status Wal::WaitFor(uint64_t ticket, bool sync) {
  std::unique_lock lk(mu_);
  while ((sync ? synced_ : written_) < ticket) {
    if (!err_.ok()) return err_;
    if (writing_) {
      cv_.wait(lk);
      continue;
    }
    FlushLocked(lk, false, sync);
  }
  return Status::Ok();
}

Status Wal::SyncAll() {
  uint64_t ticket;
  {
    std::lock_guard lk(mu_);
    ticket = enqueued_;
  }
  return Sync(ticket);
}

Status Wal::FlushLocked(std::unique_lock<std::mutex>& lk, bool cut, bool sync) {
  writing_ = true;
  std::string batch;
  batch.swap(pending_);
  uint64_t target = enqueued_;
  lk.unlock();
  Status st = WriteOut(batch, cut, sync);
  lk.lock();
  writing_ = false;
  if (st.ok()) {
    written_ = target;
    if (sync || cut) synced_ = target;
  } else {
    err_ = st;
    log::Error("wal: write failed; refusing further commits", log::Fields()("error", st.message()));
  }
  cv_.notify_all();
  return st;
}

Status Wal::WriteOut(const std::string& batch, bool cut, bool sync) {
  if (!batch.empty()) {
    if (seg_size_ > 0 && seg_size_ + static_cast<int64_t>(batch.size()) > segment_bytes_) {
      BERTH_RETURN_IF_ERROR(OpenSegment(current_ + 1));
    }
    BERTH_RETURN_IF_ERROR(WriteAll(seg_.get(), batch));
    seg_size_ += static_cast<int64_t>(batch.size());
    unsynced_ = true;
  }
  if (cut && seg_size_ > 0) {
    BERTH_RETURN_IF_ERROR(OpenSegment(current_ + 1));  // syncs the old one
  } else if ((sync || cut) && unsynced_) {
    if (::fdatasync(seg_.get()) != 0) return Errno("fdatasync");
    unsynced_ = false;
  }
  return Status::Ok();
}

Result<uint32_t> Wal::Cut() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !writing_; });
  if (!err_.ok()) return err_;
  BERTH_RETURN_IF_ERROR(FlushLocked(lk, true, true));
  return current_.load();
}

void Wal::RemoveBefore(uint32_t index) {
  for (const std::string& name : ListDir(dir_)) {
    uint32_t i = name.starts_with(kCheckpointPrefix)
                     ? ParseIndex(std::string_view(name).substr(kCheckpointPrefix.size()))
                     : ParseIndex(name);
    if (i > 0 && i < index) ::unlink((dir_ + "/" + name).c_str());
  }
}

Result<std::unique_ptr<Wal::CheckpointWriter>> Wal::NewCheckpoint(uint32_t first_segment) {
  std::string tmp =
      dir_ + "/" + std::string(kCheckpointPrefix) + SegmentName(first_segment) + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.ok()) return Errno("create " + tmp);
  return std::unique_ptr<CheckpointWriter>(
      new CheckpointWriter(this, first_segment, std::move(fd), tmp));
}

Wal::CheckpointWriter::CheckpointWriter(Wal* wal, uint32_t index, Fd fd, std::string tmp)
    : wal_(wal), index_(index), fd_(std::move(fd)), tmp_(std::move(tmp)) {}

Wal::CheckpointWriter::~CheckpointWriter() {
  if (!done_) ::unlink(tmp_.c_str());
}

Status Wal::CheckpointWriter::FlushBuffer() {
  Status st = WriteAll(fd_.get(), buf_);
  buf_.clear();
  return st;
}

Status Wal::CheckpointWriter::Add(std::string_view payload) {
  Frame(payload, &buf_);
  if (buf_.size() >= (1 << 20)) return FlushBuffer();
  return Status::Ok();
}

Status Wal::CheckpointWriter::Finish() {
  BERTH_RETURN_IF_ERROR(FlushBuffer());
  if (::fsync(fd_.get()) != 0) return Errno("fsync checkpoint");
  if (fd_.Close() != 0) return Errno("close checkpoint");
  std::string final_path = tmp_.substr(0, tmp_.size() - 4);
  if (::rename(tmp_.c_str(), final_path.c_str()) != 0) return Errno("rename checkpoint");
  done_ = true;
  BERTH_RETURN_IF_ERROR(SyncDir(wal_->dir_));
  wal_->RemoveBefore(index_);
  wal_->first_ = index_;
  return Status::Ok();
}

}  // namespace berth::monitor::tsdb
