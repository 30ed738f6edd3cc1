#include "monitor/remote_write.h"

#include <snappy.h>

#include <bit>
#include <cstring>

namespace berth::monitor {
namespace {

// Just enough of the protobuf wire format: varints, fixed64 and
// length-delimited fields; other wire types are skipped.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool done() const { return p_ >= b_.size(); }

  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= b_.size()) return false;
      uint8_t c = static_cast<uint8_t>(b_[p_++]);
      *v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return true;
    }
    return false;
  }
  bool Fixed64(uint64_t* v) {
    if (b_.size() - p_ < 8) return false;
    std::memcpy(v, b_.data() + p_, 8);  // little-endian on the wire and here
    p_ += 8;
    return true;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n) || n > b_.size() - p_) return false;
    *out = b_.substr(p_, n);
    p_ += n;
    return true;
  }
  bool Skip(int wire) {
    uint64_t v;
    std::string_view s;
    switch (wire) {
      case 0:
        return Varint(&v);
      case 1:
        return Fixed64(&v);
      case 2:
        return Bytes(&s);
      case 5:
        if (b_.size() - p_ < 4) return false;
        p_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  std::string_view b_;
  size_t p_ = 0;
};

Status Malformed(const std::string& what) {
  return BadRequest("malformed remote write request: " + what);
}

Status DecodeSeries(std::string_view msg, SeriesSamples* out) {
  Reader r(msg);
  std::vector<Label> labels;
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(&key)) return Malformed("truncated time series");
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      std::string_view lm;
      if (!r.Bytes(&lm)) return Malformed("truncated label");
      Reader lr(lm);
      Label l;
      while (!lr.done()) {
        uint64_t k;
        std::string_view s;
        if (!lr.Varint(&k)) return Malformed("truncated label");
        if ((k & 7) == 2 && ((k >> 3) == 1 || (k >> 3) == 2)) {
          if (!lr.Bytes(&s)) return Malformed("truncated label");
          ((k >> 3) == 1 ? l.name : l.value) = std::string(s);
        } else if (!lr.Skip(static_cast<int>(k & 7))) {
          return Malformed("bad label field");
        }
      }
      labels.push_back(std::move(l));
    } else if (field == 2 && wire == 2) {
      std::string_view sm;
      if (!r.Bytes(&sm)) return Malformed("truncated sample");
      Reader sr(sm);
      Sample s{0, 0};
      while (!sr.done()) {
        uint64_t k, v;
        if (!sr.Varint(&k)) return Malformed("truncated sample");
        if (k == ((1 << 3) | 1)) {
          if (!sr.Fixed64(&v)) return Malformed("truncated sample");
          s.v = std::bit_cast<double>(v);
        } else if (k == ((2 << 3) | 0)) {
          if (!sr.Varint(&v)) return Malformed("truncated sample");
          s.t = static_cast<int64_t>(v);
        } else if (!sr.Skip(static_cast<int>(k & 7))) {
          return Malformed("bad sample field");
        }
      }
      out->samples.push_back(s);
    } else if (field == 4 && wire == 2) {
      return BadRequest("native histograms in remote write are not supported yet");
    } else if (!r.Skip(wire)) {
      return Malformed("bad time series field");
    }
  }
  if (labels.empty()) return BadRequest("invalid labels: a time series has no labels");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].name.empty()) return BadRequest("invalid labels: empty label name");
    for (size_t j = 0; j < i; ++j)
      if (labels[j].name == labels[i].name)
        return BadRequest("invalid labels: duplicate label name " + QuoteString(labels[i].name));
  }
  out->labels = Labels(std::move(labels));
  if (out->labels.empty()) return BadRequest("invalid labels: every label value is empty");
  return Status::Ok();
}

void PutVarint(std::string& o, uint64_t v) {
  while (v >= 0x80) {
    o.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  o.push_back(static_cast<char>(v));
}

void PutBytes(std::string& o, int field, std::string_view s) {
  PutVarint(o, static_cast<uint64_t>(field) << 3 | 2);
  PutVarint(o, s.size());
  o.append(s);
}

}  // namespace

Result<std::vector<SeriesSamples>> DecodeRemoteWrite(std::string_view body) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n))
    return Malformed("the body is not snappy-compressed");
  if (n > (256u << 20))
    return Status(Code::kRequestTooLarge, "remote write request over 256 MiB uncompressed");
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) return Malformed("corrupt snappy data");
  std::vector<SeriesSamples> out;
  Reader r(raw);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(&key)) return Malformed("truncated request");
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      std::string_view ts;
      if (!r.Bytes(&ts)) return Malformed("truncated time series");
      SeriesSamples s;
      if (Status st = DecodeSeries(ts, &s); !st.ok()) return st;
      out.push_back(std::move(s));
    } else if (!r.Skip(wire)) {
      return Malformed("bad field");
    }
  }
  return out;
}

Status ReceiveRemoteWrite(std::string_view body, Storage* storage, RemoteWriteStats* stats) {
  auto series = DecodeRemoteWrite(body);
  if (!series.ok()) return series.status();
  auto app = storage->NewAppender();
  int64_t n = 0;
  for (const auto& s : *series) {
    for (const auto& smp : s.samples) {
      Status st = app->Append(s.labels, smp.t, smp.v);
      if (!st.ok()) {
        app->Rollback();
        return BadRequest(st.message() + " for series " + s.labels.String() + " at " +
                          std::to_string(smp.t));
      }
      ++n;
    }
  }
  if (Status st = app->Commit(); !st.ok()) return Internal("remote write: " + st.message());
  if (stats) {
    stats->series += static_cast<int64_t>(series->size());
    stats->samples += n;
  }
  return Status::Ok();
}

std::string EncodeRemoteWrite(const std::vector<SeriesSamples>& series) {
  std::string req;
  for (const auto& s : series) {
    std::string ts;
    for (const auto& l : s.labels) {
      std::string lm;
      PutBytes(lm, 1, l.name);
      PutBytes(lm, 2, l.value);
      PutBytes(ts, 1, lm);
    }
    for (const auto& smp : s.samples) {
      std::string sm;
      PutVarint(sm, (1 << 3) | 1);
      uint64_t bits = std::bit_cast<uint64_t>(smp.v);
      sm.append(reinterpret_cast<const char*>(&bits), 8);
      PutVarint(sm, 2 << 3);
      PutVarint(sm, static_cast<uint64_t>(smp.t));
      PutBytes(ts, 2, sm);
    }
    PutBytes(req, 1, ts);
  }
  std::string out;
  snappy::Compress(req.data(), req.size(), &out);
  return out;
}

}  // namespace berth::monitor
