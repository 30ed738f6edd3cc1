#include "monitor/tsdb/block_chunk.h"

#include <bit>
#include <cmath>

#include "monitor/tsdb/chunk.h"
#include "monitor/tsdb/encoding.h"

namespace berth::monitor::tsdb {
namespace {

// kEncInt layout: uv count, sv t0, sv v0, then a big-endian bit stream of
// groups of up to kGroup samples. Per group, for timestamps and then for
// values: 1 bit mode (0: deltas, 1: deltas of deltas), 7 bits width w
// (0..64), then one zig-zagged w-bit number per sample. Steady scrapes and
// idle counters cost a byte per group; a counter costs the width of its
// largest increment (or increment change) within 16 samples, which for
// integer counters beats XORing IEEE-754 bit patterns.
constexpr int kGroup = 16;

uint64_t Zig(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t Unzig(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
int64_t Sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

void PutUv(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  void Write(uint64_t v, int nbits) {
    while (nbits > 0) {
      if (free_ == 0) {
        out_->push_back('\0');
        free_ = 8;
      }
      int take = nbits < free_ ? nbits : free_;
      unsigned bits = static_cast<unsigned>(v >> (nbits - take)) & ((1u << take) - 1);
      out_->back() =
          static_cast<char>(static_cast<uint8_t>(out_->back()) | (bits << (free_ - take)));
      free_ -= take;
      nbits -= take;
    }
  }

 private:
  std::string* out_;
  int free_ = 0;
};

// One column (timestamps or values) of a group: picks the mode with the
// narrower width.
void WriteColumn(BitWriter& w, const int64_t* xs, size_t n, int64_t& prev, int64_t& prev_delta) {
  uint64_t d[kGroup], dd[kGroup];
  uint64_t or_d = 0, or_dd = 0;
  int64_t p = prev, pd = prev_delta;
  for (size_t i = 0; i < n; ++i) {
    int64_t delta = Sub(xs[i], p);
    d[i] = Zig(delta);
    dd[i] = Zig(Sub(delta, pd));
    or_d |= d[i];
    or_dd |= dd[i];
    p = xs[i];
    pd = delta;
  }
  int wd = 64 - std::countl_zero(or_d), wdd = 64 - std::countl_zero(or_dd);
  bool dod = wdd < wd;
  int width = dod ? wdd : wd;
  w.Write(dod ? 1 : 0, 1);
  w.Write(static_cast<uint64_t>(width), 7);
  for (size_t i = 0; i < n; ++i) w.Write(dod ? dd[i] : d[i], width);
  prev = p;
  prev_delta = pd;
}

bool ReadColumn(BitReader& r, int64_t* xs, size_t n, int64_t& prev, int64_t& prev_delta) {
  bool dod = r.Read(1) != 0;
  int width = static_cast<int>(r.Read(7));
  if (width > 64) return false;
  for (size_t i = 0; i < n; ++i) {
    int64_t x = width == 0 ? 0 : Unzig(r.Read(width));
    int64_t delta = dod ? Add(prev_delta, x) : x;
    prev = Add(prev, delta);
    prev_delta = delta;
    xs[i] = prev;
  }
  return !r.bad();
}

// Whether every value is an integer that converts to int64 and back to
// the same bits (so no NaN, infinity, -0 or magnitude past 2^53).
bool AllIntegers(std::span<const Sample> samples) {
  for (const Sample& s : samples) {
    if (!(std::fabs(s.v) <= 9007199254740992.0)) return false;
    double back = static_cast<double>(static_cast<int64_t>(s.v));
    if (std::bit_cast<uint64_t>(back) != std::bit_cast<uint64_t>(s.v)) return false;
  }
  return true;
}

void EncodeInt(std::span<const Sample> samples, std::string* out) {
  out->clear();
  PutUv(out, samples.size());
  PutUv(out, Zig(samples[0].t));
  PutUv(out, Zig(static_cast<int64_t>(samples[0].v)));
  BitWriter w(out);
  int64_t pt = samples[0].t, pdt = 0;
  int64_t pv = static_cast<int64_t>(samples[0].v), pdv = 0;
  int64_t ts[kGroup], vs[kGroup];
  for (size_t i = 1; i < samples.size(); i += kGroup) {
    size_t n = std::min(samples.size() - i, static_cast<size_t>(kGroup));
    for (size_t k = 0; k < n; ++k) {
      ts[k] = samples[i + k].t;
      vs[k] = static_cast<int64_t>(samples[i + k].v);
    }
    WriteColumn(w, ts, n, pt, pdt);
    WriteColumn(w, vs, n, pv, pdv);
  }
}

Status DecodeInt(std::string_view data, int64_t mint, int64_t maxt, std::vector<Sample>* out) {
  size_t pos = 0;
  auto uv = [&](bool* bad) -> uint64_t {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= data.size()) break;
      uint8_t b = static_cast<uint8_t>(data[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    *bad = true;
    return 0;
  };
  bool bad = false;
  uint64_t count = uv(&bad);
  int64_t t = Unzig(uv(&bad));
  int64_t v = Unzig(uv(&bad));
  if (bad || count == 0 || count > 65535) return Internal("block: damaged chunk");
  if (t > maxt) return Status::Ok();
  if (t >= mint) out->push_back({t, static_cast<double>(v)});
  BitReader r(data, pos * 8);
  int64_t pdt = 0, pdv = 0;
  int64_t ts[kGroup], vs[kGroup];
  for (uint64_t i = 1; i < count; i += kGroup) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(count - i, kGroup));
    if (!ReadColumn(r, ts, n, t, pdt) || !ReadColumn(r, vs, n, v, pdv))
      return Internal("block: damaged chunk");
    for (size_t k = 0; k < n; ++k) {
      if (ts[k] > maxt) return Status::Ok();
      if (ts[k] >= mint) out->push_back({ts[k], static_cast<double>(vs[k])});
    }
  }
  return Status::Ok();
}

}  // namespace

uint8_t EncodeBlockChunk(std::span<const Sample> samples, std::string* out) {
  XorChunk c;
  for (const Sample& s : samples) c.Append(s.t, s.v);
  out->assign(c.Bytes());
  if (!AllIntegers(samples)) return kEncXor;
  std::string alt;
  EncodeInt(samples, &alt);
  if (alt.size() >= out->size()) return kEncXor;
  *out = std::move(alt);
  return kEncInt;
}

void EncodeHistogramChunk(std::span<const HistogramSample> samples, std::string* out) {
  out->clear();
  PutUvarint(out, samples.size());
  int64_t prev = 0;
  for (const HistogramSample& s : samples) {
    PutVarint(out, s.t - prev);
    PutHistogram(out, *s.h);
    prev = s.t;
  }
}

namespace {

Status DecodeHistograms(std::string_view data, int64_t mint, int64_t maxt,
                        std::vector<HistogramSample>* out) {
  Decoder d(data);
  uint64_t n = d.Count(50);
  int64_t t = 0;
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    t += d.Varint();
    FloatHistogram h = d.Histogram();
    if (!d.ok()) break;
    if (t > maxt) return Status::Ok();
    if (t >= mint) out->push_back({t, std::make_shared<const FloatHistogram>(std::move(h))});
  }
  if (!d.ok() || !d.done()) return Internal("block: damaged histogram chunk");
  return Status::Ok();
}

}  // namespace

Status DecodeBlockChunk(uint8_t encoding, std::string_view data, int64_t mint, int64_t maxt,
                        std::vector<Sample>* out, std::vector<HistogramSample>* hists) {
  if (encoding == kEncHistogram)
    return hists == nullptr ? Status::Ok() : DecodeHistograms(data, mint, maxt, hists);
  if (encoding == kEncInt) return DecodeInt(data, mint, maxt, out);
  if (encoding != kEncXor) return Internal("block: unknown chunk encoding");
  ChunkIterator it(data);
  while (it.Next()) {
    if (it.t() > maxt) return Status::Ok();
    if (it.t() >= mint) out->push_back({it.t(), it.v()});
  }
  if (it.corrupt()) return Internal("block: damaged chunk");
  return Status::Ok();
}

}  // namespace berth::monitor::tsdb
