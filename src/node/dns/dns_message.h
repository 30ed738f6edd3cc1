// DNS messages in RFC 1035 wire format: a parser that treats every byte as
// hostile (bounded counts, label and name lengths, compression pointers that
// may only point backwards, a jump limit) and an encoder that compresses
// names. Names are in presentation form without the trailing dot; a label
// byte that is '.', '\' or not printable is written as \DDD.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace berth::node::dns {

namespace type {
inline constexpr uint16_t kA = 1, kNS = 2, kCNAME = 5, kSOA = 6, kPTR = 12, kTXT = 16, kAAAA = 28,
                          kSRV = 33, kOPT = 41, kANY = 255;
}
namespace rcode {
inline constexpr uint8_t kNoError = 0, kFormErr = 1, kServFail = 2, kNXDomain = 3, kNotImp = 4,
                         kRefused = 5;
}
inline constexpr uint16_t kClassIN = 1;

struct Question {
  std::string name;
  uint16_t type = type::kA;
  uint16_t klass = kClassIN;
};

// One resource record. Which fields are meaningful depends on `type`; types
// we do not interpret keep their rdata in `raw`.
struct Record {
  std::string name;
  uint16_t type = type::kA;
  uint16_t klass = kClassIN;                    // for OPT: the sender's UDP payload size
  uint32_t ttl = 0;                             // for OPT: extended rcode and flags
  std::array<uint8_t, 4> a{};                   // A
  std::string target;                           // CNAME, NS, PTR, SRV target, SOA mname
  uint16_t priority = 0, weight = 0, port = 0;  // SRV
  std::string rname;                            // SOA
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;  // SOA
  std::string raw;  // any other type (AAAA, TXT, OPT ...)
};

struct Message {
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false;
  uint8_t opcode = 0, rcode = 0;
  std::vector<Question> questions;
  std::vector<Record> answers, authority, additional;
};

// BadRequest for anything malformed; never reads outside `wire`.
Result<Message> ParseMessage(std::string_view wire);

// Encodes with name compression. If the result exceeds max_size, answers,
// authority and additional records are dropped and TC is set (RFC 2181 9).
// A name that cannot be encoded (label > 63, name > 255) is an error.
Result<std::string> EncodeMessage(const Message& m, size_t max_size = 65535);

// Lower-cases ASCII; DNS names compare case-insensitively.
std::string LowerName(std::string_view name);

}  // namespace berth::node::dns
