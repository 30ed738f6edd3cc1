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

// Calls fn(v) for each value of a repeated scalar field, packed (wire type
// 2) or not: `one` reads a single value from a Reader.
template <class One, class Fn>
bool Repeated(Reader& r, int wire, int scalar_wire, One one, Fn fn) {
  if (wire == scalar_wire) {
    uint64_t v;
    if (!one(r, &v)) return false;
    fn(v);
    return true;
  }
  if (wire != 2) return false;
  std::string_view packed;
  if (!r.Bytes(&packed)) return false;
  Reader pr(packed);
  while (!pr.done()) {
    uint64_t v;
    if (!one(pr, &v)) return false;
    fn(v);
  }
  return true;
}

bool ReadVarint(Reader& r, uint64_t* v) { return r.Varint(v); }
bool ReadFixed64(Reader& r, uint64_t* v) { return r.Fixed64(v); }
int64_t ZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

bool DecodeSpan(std::string_view msg, HistogramSpan* span) {
  Reader r(msg);
  while (!r.done()) {
    uint64_t k, v;
    if (!r.Varint(&k)) return false;
    if (k == ((1 << 3) | 0)) {
      if (!r.Varint(&v)) return false;
      span->offset = static_cast<int32_t>(ZigZag(v));
    } else if (k == ((2 << 3) | 0)) {
      if (!r.Varint(&v)) return false;
      span->length = static_cast<uint32_t>(v);
    } else if (!r.Skip(static_cast<int>(k & 7))) {
      return false;
    }
  }
  return true;
}

// A prometheus.Histogram: integer histograms (count_int, *_deltas) become
// float ones with absolute counts.
Status DecodeHistogram(std::string_view msg, HistogramSample* out) {
  Reader r(msg);
  FloatHistogram h;
  std::vector<int64_t> pos_deltas, neg_deltas;
  int64_t t = 0;
  while (!r.done()) {
    uint64_t key, v = 0;
    if (!r.Varint(&key)) return Malformed("truncated histogram");
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    bool ok = true;
    auto as_double = [](uint64_t bits) { return std::bit_cast<double>(bits); };
    switch (field) {
      case 1:
      case 6:
        ok = wire == 0 && r.Varint(&v);
        (field == 1 ? h.count : h.zero_count) = static_cast<double>(v);
        break;
      case 2:
      case 3:
      case 5:
      case 7:
        ok = wire == 1 && r.Fixed64(&v);
        (field == 2   ? h.count
         : field == 3 ? h.sum
         : field == 5 ? h.zero_threshold
                      : h.zero_count) = as_double(v);
        break;
      case 4:
        ok = wire == 0 && r.Varint(&v);
        h.schema = static_cast<int32_t>(ZigZag(v));
        break;
      case 8:
      case 11: {
        std::string_view sm;
        HistogramSpan span;
        ok = wire == 2 && r.Bytes(&sm) && DecodeSpan(sm, &span);
        (field == 8 ? h.negative_spans : h.positive_spans).push_back(span);
        break;
      }
      case 9:
      case 12: {
        auto& deltas = field == 9 ? neg_deltas : pos_deltas;
        ok = Repeated(r, wire, 0, ReadVarint, [&](uint64_t x) { deltas.push_back(ZigZag(x)); });
        break;
      }
      case 10:
      case 13:
      case 16: {
        auto& vals = field == 10   ? h.negative_buckets
                     : field == 13 ? h.positive_buckets
                                   : h.custom_values;
        ok = Repeated(r, wire, 1, ReadFixed64, [&](uint64_t x) { vals.push_back(as_double(x)); });
        break;
      }
      case 14:
        ok = wire == 0 && r.Varint(&v);
        if (ok && v > 3) return BadRequest("histogram: unknown reset hint " + std::to_string(v));
        h.counter_reset_hint = static_cast<CounterResetHint>(v);
        break;
      case 15:
        ok = wire == 0 && r.Varint(&v);
        t = static_cast<int64_t>(v);
        break;
      default:
        ok = r.Skip(wire);
    }
    if (!ok) return Malformed("bad histogram field " + std::to_string(field));
  }
  auto absolute = [](const std::vector<int64_t>& deltas, std::vector<double>* counts) -> Status {
    if (deltas.empty()) return Status::Ok();
    if (!counts->empty())
      return BadRequest("histogram: bucket deltas and bucket counts in one histogram");
    int64_t c = 0;
    for (int64_t d : deltas) {
      c += d;
      if (c < 0) return BadRequest("histogram: negative bucket count");
      counts->push_back(static_cast<double>(c));
    }
    return Status::Ok();
  };
  BERTH_RETURN_IF_ERROR(absolute(pos_deltas, &h.positive_buckets));
  BERTH_RETURN_IF_ERROR(absolute(neg_deltas, &h.negative_buckets));
  if (!(h.schema >= -4 && h.schema <= 8) && h.schema != kCustomBucketsSchema)
    return BadRequest("histogram: unsupported schema " + std::to_string(h.schema));
  auto check_side = [](const std::vector<HistogramSpan>& spans, const std::vector<double>& b,
                       const char* side) -> Status {
    uint64_t n = 0;
    for (const HistogramSpan& sp : spans) n += sp.length;
    if (n != b.size())
      return BadRequest(std::string("histogram: ") + side + " spans need " + std::to_string(n) +
                        " buckets, found " + std::to_string(b.size()));
    for (double c : b)
      if (c < 0) return BadRequest(std::string("histogram: negative ") + side + " bucket count");
    return Status::Ok();
  };
  BERTH_RETURN_IF_ERROR(check_side(h.positive_spans, h.positive_buckets, "positive"));
  BERTH_RETURN_IF_ERROR(check_side(h.negative_spans, h.negative_buckets, "negative"));
  if (h.UsesCustomBuckets()) {
    if (!h.negative_spans.empty())
      return BadRequest("histogram: custom buckets cannot have negative buckets");
    for (size_t i = 1; i < h.custom_values.size(); ++i)
      if (!(h.custom_values[i - 1] < h.custom_values[i]))
        return BadRequest("histogram: custom bucket bounds must increase");
  } else if (!h.custom_values.empty()) {
    return BadRequest("histogram: custom_values need schema -53");
  }
  out->t = t;
  out->h = std::make_shared<const FloatHistogram>(std::move(h));
  return Status::Ok();
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
      std::string_view hm;
      if (!r.Bytes(&hm)) return Malformed("truncated histogram");
      HistogramSample hs;
      BERTH_RETURN_IF_ERROR(DecodeHistogram(hm, &hs));
      out->histograms.push_back(std::move(hs));
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

void PutDouble(std::string& o, int field, double v) {
  PutVarint(o, static_cast<uint64_t>(field) << 3 | 1);
  uint64_t bits = std::bit_cast<uint64_t>(v);
  o.append(reinterpret_cast<const char*>(&bits), 8);  // little-endian here and on the wire
}

void PutPackedDoubles(std::string& o, int field, const std::vector<double>& vs) {
  if (vs.empty()) return;
  std::string p;
  for (double v : vs) {
    uint64_t bits = std::bit_cast<uint64_t>(v);
    p.append(reinterpret_cast<const char*>(&bits), 8);
  }
  PutBytes(o, field, p);
}

uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// A float histogram (count_float, *_counts).
std::string EncodeHistogram(const HistogramSample& hs) {
  const FloatHistogram& h = *hs.h;
  std::string m;
  PutDouble(m, 2, h.count);
  PutDouble(m, 3, h.sum);
  PutVarint(m, 4 << 3);
  PutVarint(m, ZigZagEncode(h.schema));
  PutDouble(m, 5, h.zero_threshold);
  PutDouble(m, 7, h.zero_count);
  auto spans = [&](int field, const std::vector<HistogramSpan>& ss) {
    for (const HistogramSpan& sp : ss) {
      std::string sm;
      PutVarint(sm, 1 << 3);
      PutVarint(sm, ZigZagEncode(sp.offset));
      PutVarint(sm, 2 << 3);
      PutVarint(sm, sp.length);
      PutBytes(m, field, sm);
    }
  };
  spans(8, h.negative_spans);
  PutPackedDoubles(m, 10, h.negative_buckets);
  spans(11, h.positive_spans);
  PutPackedDoubles(m, 13, h.positive_buckets);
  PutVarint(m, 14 << 3);
  PutVarint(m, static_cast<uint64_t>(h.counter_reset_hint));
  PutVarint(m, 15 << 3);
  PutVarint(m, static_cast<uint64_t>(hs.t));
  PutPackedDoubles(m, 16, h.custom_values);
  return m;
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
  auto fail = [&](const Status& st, const SeriesSamples& s, int64_t t) {
    app->Rollback();
    return BadRequest(st.message() + " for series " + s.labels.String() + " at " +
                      std::to_string(t));
  };
  for (const auto& s : *series) {
    for (const auto& smp : s.samples) {
      if (Status st = app->Append(s.labels, smp.t, smp.v); !st.ok()) return fail(st, s, smp.t);
      ++n;
    }
    for (const auto& hs : s.histograms) {
      if (Status st = app->AppendHistogram(s.labels, hs.t, *hs.h); !st.ok())
        return fail(st, s, hs.t);
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
    for (const auto& hs : s.histograms) PutBytes(ts, 4, EncodeHistogram(hs));
    PutBytes(req, 1, ts);
  }
  std::string out;
  snappy::Compress(req.data(), req.size(), &out);
  return out;
}

}  // namespace berth::monitor
