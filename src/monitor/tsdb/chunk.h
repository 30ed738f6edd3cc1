// Gorilla-style compressed sample chunks (Pelkonen et al., VLDB 2015).
//
// Layout: a 2-byte big-endian sample count, then a big-endian bit stream:
//   sample 0:  t (64 bits), v (64 bits)
//   sample n:  delta-of-delta of t in a prefix-coded bucket, then v XORed with
//              the previous value ('0' = same; '10' = reuse the previous
//              leading/trailing-zero window; '11' = new window + bits).
// Values are stored as raw IEEE-754 bits, so every NaN payload, including the
// staleness marker, round-trips exactly. A counter scraped at a steady
// interval costs about 1-2 bytes per sample.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::monitor::tsdb {

class XorChunk {
 public:
  XorChunk();
  // Adopts encoded bytes (from disk or a checkpoint) for reading. Such a
  // chunk cannot be appended to: the encoder state is not in the bytes.
  static XorChunk FromBytes(std::string bytes);

  // Appends a sample. The caller keeps timestamps ascending; the chunk holds
  // at most 65535 samples (the caller cuts long before).
  void Append(int64_t t, double v);

  int NumSamples() const { return n_; }
  bool appendable() const { return appendable_; }
  std::string_view Bytes() const { return b_; }
  // Frees the slack the growing buffer kept, once the chunk is full.
  void Seal() { b_.shrink_to_fit(); }

 private:
  // Appends the low nbits (at most 128) of bits, most significant first.
  void WriteBits(unsigned __int128 bits, int nbits);

  std::string b_;
  int free_bits_ = 0;  // unused low bits of b_.back()
  uint16_t n_ = 0;
  bool appendable_ = true;
  int64_t t_ = 0;
  int64_t delta_ = 0;
  uint64_t v_ = 0;
  uint8_t leading_ = 0xff;  // 0xff: no XOR window yet
  uint8_t trailing_ = 0;
};

// Reads big-endian bit fields from bytes, as the chunk encodings write them.
// Reading past the end yields 0 and sets bad().
class BitReader {
 public:
  BitReader(std::string_view b, size_t bit) : b_(b), pos_(bit) {}
  uint64_t Read(int nbits) {
    uint64_t out = 0;
    while (nbits > 0) {
      size_t byte = pos_ >> 3;
      if (byte >= b_.size()) {
        bad_ = true;
        return 0;
      }
      int off = static_cast<int>(pos_ & 7);
      int avail = 8 - off;
      int take = nbits < avail ? nbits : avail;
      unsigned bits = (static_cast<uint8_t>(b_[byte]) >> (avail - take)) & ((1u << take) - 1);
      out = (out << take) | bits;
      pos_ += static_cast<size_t>(take);
      nbits -= take;
    }
    return out;
  }
  bool bad() const { return bad_; }

 private:
  std::string_view b_;
  size_t pos_;
  bool bad_ = false;
};

// Decodes a chunk's bytes. The bytes must outlive the iterator.
class ChunkIterator {
 public:
  explicit ChunkIterator(std::string_view bytes);
  // Advances to the next sample; false at the end or on malformed input
  // (then corrupt() is true).
  bool Next();
  int64_t t() const { return t_; }
  double v() const;
  uint64_t v_bits() const { return v_; }
  bool corrupt() const { return corrupt_; }

 private:
  uint64_t ReadBits(int nbits) {
    uint64_t v = r_.Read(nbits);
    if (r_.bad()) corrupt_ = true;
    return v;
  }
  bool ReadBit() { return ReadBits(1) != 0; }

  BitReader r_;  // from bit 16, past the count
  int total_ = 0;
  int read_ = 0;
  bool corrupt_ = false;
  int64_t t_ = 0;
  int64_t delta_ = 0;
  uint64_t v_ = 0;
  uint8_t leading_ = 0;
  uint8_t trailing_ = 0;
  bool has_window_ = false;
};

}  // namespace berth::monitor::tsdb
