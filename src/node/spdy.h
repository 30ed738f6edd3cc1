// SPDY/3.1 framing, the subset Kubernetes' port-forward speaks (kubectl's
// spdystream client, either over a plain upgraded connection or tunnelled
// in websocket binary messages).
//
// Wire format (big endian):
//   control frame: 1|version(15)=3  type(16)  flags(8) length(24)  payload
//   data frame:    0|stream id(31)            flags(8) length(24)  payload
// Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are
//   count(32) { name_len(32) name  value_len(32) value }*
// with lower-case names and multiple values joined by NUL, compressed by one
// zlib stream per direction for the whole connection (each block ends with a
// sync flush) whose window is seeded with the SPDY/3 dictionary. Encoding and
// writing must therefore happen in wire order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace berth::node::spdy {

enum FrameType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};
constexpr uint8_t kFlagFin = 0x01;
constexpr uint8_t kFlagUnidirectional = 0x02;
// RST_STREAM status codes used here.
constexpr uint32_t kProtocolError = 1, kRefusedStream = 3, kCancel = 5, kInternalError = 6;

using HeaderBlock = std::vector<std::pair<std::string, std::string>>;

struct Frame {
  bool control = false;
  uint16_t type = 0;  // FrameType, control frames only
  uint8_t flags = 0;
  uint32_t stream_id = 0;      // DATA and every stream-specific control frame
  uint32_t associated_id = 0;  // SYN_STREAM
  uint8_t priority = 0;        // SYN_STREAM, 0..7
  uint32_t status = 0;         // RST_STREAM, GOAWAY
  uint32_t ping_id = 0;        // PING
  uint32_t delta_window = 0;   // WINDOW_UPDATE
  HeaderBlock headers;         // SYN_STREAM, SYN_REPLY, HEADERS
  std::vector<std::pair<uint32_t, uint32_t>> settings;  // (flags << 24 | id, value)
  std::string data;  // DATA payload; unknown control frames' payload

  // The first value of a header (names compare lower case), or "".
  std::string Header(std::string_view name) const;
};

// The SPDY/3 header compression dictionary.
std::string_view Dictionary();

// Encodes and decodes the frames of one connection. Thread-compatible: the
// reader feeds and decodes, the writers serialise their Encode() calls and
// the writes that follow them.
class Framer {
 public:
  Framer();
  ~Framer();
  Framer(const Framer&) = delete;
  Framer& operator=(const Framer&) = delete;

  // Bytes read from the connection.
  void Feed(std::string_view bytes);
  // The next complete frame: true with *f, false if more bytes are needed;
  // an error on a protocol violation (the connection is then unusable).
  Result<bool> Next(Frame* f);
  // The wire bytes of a frame (compressing its header block).
  Result<std::string> Encode(const Frame& f);

  // Header block (de)compression alone, exposed for tests.
  Result<std::string> CompressHeaders(const HeaderBlock& h);
  Result<HeaderBlock> DecompressHeaders(std::string_view compressed);

 private:
  struct Zlib;
  std::unique_ptr<Zlib> z_;
  std::string in_;
};

// Frame builders.
Frame SynReply(uint32_t stream_id, uint8_t flags = 0);
Frame Data(uint32_t stream_id, std::string data, uint8_t flags = 0);
Frame RstStream(uint32_t stream_id, uint32_t status);
Frame Ping(uint32_t id);
Frame GoAway(uint32_t last_good_stream_id, uint32_t status);

}  // namespace berth::node::spdy
