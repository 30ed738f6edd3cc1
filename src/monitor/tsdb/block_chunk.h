// Encodings of persisted chunks. A block chunk is immutable, so the writer
// may pick whichever encoding is smallest for the samples at hand; the
// encoding byte stored with each chunk tells the reader which one it was.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/storage.h"

namespace berth::monitor::tsdb {

enum BlockChunkEncoding : uint8_t {
  kEncXor = 1,  // XorChunk bytes (Gorilla), as the head keeps them
  // Integer-valued samples: bit-packed groups of deltas or deltas of deltas
  // (see block_chunk.cpp). Used when smaller than kEncXor.
  kEncInt = 2,
  // Native histograms: uv count, then per sample sv t - previous t and the
  // histogram as encoding.h's PutHistogram writes it.
  kEncHistogram = 3,
};

// Encodes 1..65535 samples (ascending by time) into *out (replaced);
// returns the encoding used.
uint8_t EncodeBlockChunk(std::span<const Sample> samples, std::string* out);

// Encodes 1..65535 histogram samples (ascending by time) as kEncHistogram.
void EncodeHistogramChunk(std::span<const HistogramSample> samples, std::string* out);

// Appends the samples with mint <= t <= maxt of a float chunk to `out`, or
// of a histogram chunk to `hists` (skipped when null); Internal on damage.
Status DecodeBlockChunk(uint8_t encoding, std::string_view data, int64_t mint, int64_t maxt,
                        std::vector<Sample>* out, std::vector<HistogramSample>* hists = nullptr);

}  // namespace berth::monitor::tsdb
