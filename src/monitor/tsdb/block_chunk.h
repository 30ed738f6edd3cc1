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
};

// Encodes 1..65535 samples (ascending by time) into *out (replaced);
// returns the encoding used.
uint8_t EncodeBlockChunk(std::span<const Sample> samples, std::string* out);

// Appends the samples with mint <= t <= maxt; Internal on damage.
Status DecodeBlockChunk(uint8_t encoding, std::string_view data, int64_t mint, int64_t maxt,
                        std::vector<Sample>* out);

}  // namespace berth::monitor::tsdb
