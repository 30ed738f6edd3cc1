#include "monitor/tsdb/chunk.h"

#include <bit>

namespace berth::monitor::tsdb {
namespace {

// Delta-of-delta buckets: a prefix of 1s closed by a 0 (except the last),
// then a two's-complement value of the bucket's width. Scrape jitter of a few
// milliseconds lands in the 14-bit bucket; a steady interval costs one bit.
struct Bucket {
  int prefix_bits;
  uint64_t prefix;
  int value_bits;
};
constexpr Bucket kBuckets[] = {{2, 0b10, 14}, {3, 0b110, 17}, {4, 0b1110, 20}};

bool Fits(int64_t v, int bits) {
  int64_t lo = -(int64_t{1} << (bits - 1));
  int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  return v >= lo && v <= hi;
}

}  // namespace

XorChunk::XorChunk() : b_(2, '\0') {}

XorChunk XorChunk::FromBytes(std::string bytes) {
  XorChunk c;
  c.b_ = std::move(bytes);
  c.appendable_ = false;
  if (c.b_.size() >= 2) {
    c.n_ =
        static_cast<uint16_t>((static_cast<uint8_t>(c.b_[0]) << 8) | static_cast<uint8_t>(c.b_[1]));
  }
  return c;
}

void XorChunk::WriteBits(unsigned __int128 bits, int nbits) {
  // Top up the last byte, then whole bytes and the start of a new one, all
  // appended at once.
  if (free_bits_ > 0 && nbits > 0) {
    int take = nbits < free_bits_ ? nbits : free_bits_;
    unsigned top = static_cast<unsigned>(bits >> (nbits - take)) & ((1u << take) - 1);
    b_.back() = static_cast<char>(static_cast<uint8_t>(b_.back()) | (top << (free_bits_ - take)));
    free_bits_ -= take;
    nbits -= take;
  }
  char buf[17];
  int k = 0;
  while (nbits >= 8) {
    nbits -= 8;
    buf[k++] = static_cast<char>(static_cast<uint8_t>(bits >> nbits));
  }
  if (nbits > 0) {
    buf[k++] = static_cast<char>(static_cast<uint8_t>(bits << (8 - nbits)));
    free_bits_ = 8 - nbits;
  }
  b_.append(buf, static_cast<size_t>(k));
}

namespace {

// A sample's bit fields, gathered before they go into the chunk: at most 145
// bits, so Put hands a full batch to the chunk first when needed.
struct BitBatch {
  unsigned __int128 bits = 0;
  int n = 0;
  template <class Flush>
  void Put(uint64_t v, int nbits, Flush&& flush) {
    if (n + nbits > 128) {
      flush(bits, n);
      bits = 0;
      n = 0;
    }
    if (nbits < 64) v &= (uint64_t{1} << nbits) - 1;
    bits = (bits << nbits) | v;
    n += nbits;
  }
};

}  // namespace

void XorChunk::Append(int64_t t, double v) {
  uint64_t vb = std::bit_cast<uint64_t>(v);
  BitBatch out;
  auto flush = [this](unsigned __int128 bits, int n) { WriteBits(bits, n); };
  if (n_ == 0) {
    out.Put(static_cast<uint64_t>(t), 64, flush);
    out.Put(vb, 64, flush);
  } else {
    // Wrapping arithmetic: any pair of int64 timestamps round-trips (the
    // 64-bit bucket holds the difference modulo 2^64).
    int64_t delta = static_cast<int64_t>(static_cast<uint64_t>(t) - static_cast<uint64_t>(t_));
    int64_t dod =
        static_cast<int64_t>(static_cast<uint64_t>(delta) - static_cast<uint64_t>(delta_));
    if (dod == 0) {
      out.Put(0, 1, flush);
    } else {
      bool written = false;
      for (const Bucket& b : kBuckets) {
        if (Fits(dod, b.value_bits)) {
          out.Put(b.prefix, b.prefix_bits, flush);
          out.Put(static_cast<uint64_t>(dod), b.value_bits, flush);
          written = true;
          break;
        }
      }
      if (!written) {
        out.Put(0b1111, 4, flush);
        out.Put(static_cast<uint64_t>(dod), 64, flush);
      }
    }
    delta_ = delta;

    uint64_t x = vb ^ v_;
    if (x == 0) {
      out.Put(0, 1, flush);
    } else {
      int lead = std::countl_zero(x);
      int trail = std::countr_zero(x);
      if (lead > 31) lead = 31;  // 5 bits of header
      if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
        out.Put(0b10, 2, flush);
        out.Put(x >> trailing_, 64 - leading_ - trailing_, flush);
      } else {
        int sig = 64 - lead - trail;
        out.Put(0b11, 2, flush);
        out.Put(static_cast<uint64_t>(lead), 5, flush);
        out.Put(static_cast<uint64_t>(sig & 63), 6, flush);  // 64 wraps to 0
        out.Put(x >> trail, sig, flush);
        leading_ = static_cast<uint8_t>(lead);
        trailing_ = static_cast<uint8_t>(trail);
      }
    }
  }
  WriteBits(out.bits, out.n);
  t_ = t;
  v_ = vb;
  ++n_;
  b_[0] = static_cast<char>(n_ >> 8);
  b_[1] = static_cast<char>(n_ & 0xff);
}

ChunkIterator::ChunkIterator(std::string_view bytes) : r_(bytes, 16) {
  if (bytes.size() < 2) {
    corrupt_ = !bytes.empty();
    return;
  }
  total_ = (static_cast<uint8_t>(bytes[0]) << 8) | static_cast<uint8_t>(bytes[1]);
}

double ChunkIterator::v() const { return std::bit_cast<double>(v_); }

bool ChunkIterator::Next() {
  if (corrupt_ || read_ >= total_) return false;
  if (read_ == 0) {
    t_ = static_cast<int64_t>(ReadBits(64));
    v_ = ReadBits(64);
  } else {
    int64_t dod = 0;
    if (ReadBit()) {
      int width = 64;
      int ones = 1;
      while (ones < 4 && ReadBit()) ++ones;
      if (ones <= 3) width = kBuckets[ones - 1].value_bits;
      uint64_t raw = ReadBits(width);
      if (width < 64 && (raw >> (width - 1)) != 0) raw |= ~uint64_t{0} << width;  // sign-extend
      dod = static_cast<int64_t>(raw);
    }
    delta_ = static_cast<int64_t>(static_cast<uint64_t>(delta_) + static_cast<uint64_t>(dod));
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(delta_));

    if (ReadBit()) {
      if (ReadBit()) {
        leading_ = static_cast<uint8_t>(ReadBits(5));
        int sig = static_cast<int>(ReadBits(6));
        if (sig == 0) sig = 64;
        if (leading_ + sig > 64) {
          corrupt_ = true;
          return false;
        }
        trailing_ = static_cast<uint8_t>(64 - leading_ - sig);
        has_window_ = true;
      } else if (!has_window_) {
        corrupt_ = true;  // a reused window before any was set: not ours
        return false;
      }
      int sig = 64 - leading_ - trailing_;
      v_ ^= ReadBits(sig) << trailing_;
    }
  }
  if (corrupt_) return false;
  ++read_;
  return true;
}

}  // namespace berth::monitor::tsdb
