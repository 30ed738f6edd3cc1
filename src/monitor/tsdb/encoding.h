// Byte-level encoding shared by the WAL, checkpoints and block chunks:
// little-endian fixed integers, Go-compatible (zig-zag) varints, and a
// bounds-checked reader that turns any malformed input into !ok().
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "monitor/histogram.h"

namespace berth::monitor::tsdb {

inline void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutF64(std::string* out, double v) { PutU64(out, std::bit_cast<uint64_t>(v)); }
inline void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void PutVarint(std::string* out, int64_t v) {
  PutUvarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline void PutString(std::string* out, std::string_view s) {
  PutUvarint(out, s.size());
  out->append(s);
}

// Bounds-checked reader over one buffer.
class Decoder {
 public:
  explicit Decoder(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return s_.empty(); }
  std::string_view rest() const { return s_; }
  uint64_t Uvarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (s_.empty()) break;
      auto b = static_cast<uint8_t>(s_[0]);
      s_.remove_prefix(1);
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return v;
    }
    ok_ = false;
    return 0;
  }
  int64_t Varint() {
    uint64_t u = Uvarint();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  uint64_t U64() {
    if (s_.size() < 8) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(s_[i])} << (8 * i);
    s_.remove_prefix(8);
    return v;
  }
  double F64() { return std::bit_cast<double>(U64()); }
  uint8_t Byte() {
    if (s_.empty()) {
      ok_ = false;
      return 0;
    }
    auto b = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return b;
  }
  std::string_view Bytes() {
    uint64_t n = Uvarint();
    if (!ok_ || n > s_.size()) {
      ok_ = false;
      return {};
    }
    std::string_view out = s_.substr(0, n);
    s_.remove_prefix(n);
    return out;
  }
  // Guards reserve() against counts a damaged record could claim.
  uint64_t Count(size_t min_bytes_each) {
    uint64_t n = Uvarint();
    if (n > s_.size() / min_bytes_each) ok_ = false;
    return ok_ ? n : 0;
  }
  // The counterpart of PutHistogram; !ok() and an empty histogram when the
  // bytes are not one.
  FloatHistogram Histogram();

 private:
  std::string_view s_;
  bool ok_ = true;
};

namespace encoding_internal {

inline void PutSide(std::string* out, const std::vector<HistogramSpan>& spans,
                    const std::vector<double>& buckets) {
  PutUvarint(out, spans.size());
  for (const HistogramSpan& s : spans) {
    PutVarint(out, s.offset);
    PutUvarint(out, s.length);
  }
  PutUvarint(out, buckets.size());
  for (double b : buckets) PutF64(out, b);
}

inline void ReadSide(Decoder& d, std::vector<HistogramSpan>* spans, std::vector<double>* buckets) {
  uint64_t n = d.Count(2);
  spans->reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    int64_t off = d.Varint();
    uint64_t len = d.Uvarint();
    spans->push_back({static_cast<int32_t>(off), static_cast<uint32_t>(len)});
  }
  n = d.Count(8);
  buckets->reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); ++i) buckets->push_back(d.F64());
}

}  // namespace encoding_internal

// A native histogram, self-delimiting (varints and raw doubles).
inline void PutHistogram(std::string* out, const FloatHistogram& h) {
  out->push_back(static_cast<char>(h.counter_reset_hint));
  PutVarint(out, h.schema);
  PutF64(out, h.zero_threshold);
  PutF64(out, h.zero_count);
  PutF64(out, h.count);
  PutF64(out, h.sum);
  encoding_internal::PutSide(out, h.positive_spans, h.positive_buckets);
  encoding_internal::PutSide(out, h.negative_spans, h.negative_buckets);
  PutUvarint(out, h.custom_values.size());
  for (double v : h.custom_values) PutF64(out, v);
}

inline FloatHistogram Decoder::Histogram() {
  FloatHistogram h;
  uint8_t hint = Byte();
  if (hint > static_cast<uint8_t>(CounterResetHint::kGauge)) ok_ = false;
  h.counter_reset_hint = static_cast<CounterResetHint>(hint);
  int64_t schema = Varint();
  if (schema < kCustomBucketsSchema || schema > 8) ok_ = false;
  h.schema = static_cast<int32_t>(schema);
  h.zero_threshold = F64();
  h.zero_count = F64();
  h.count = F64();
  h.sum = F64();
  encoding_internal::ReadSide(*this, &h.positive_spans, &h.positive_buckets);
  encoding_internal::ReadSide(*this, &h.negative_spans, &h.negative_buckets);
  uint64_t n = Count(8);
  h.custom_values.reserve(n);
  for (uint64_t i = 0; i < n && ok_; ++i) h.custom_values.push_back(F64());
  if (!ok_) return {};
  return h;
}

}  // namespace berth::monitor::tsdb
