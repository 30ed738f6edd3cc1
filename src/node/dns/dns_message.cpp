#include "node/dns/dns_message.h"

#include <map>

namespace berth::node::dns {
namespace {

constexpr size_t kMaxName = 255;  // wire length, including length bytes and the root
constexpr int kMaxJumps = 64;

class Reader {
 public:
  explicit Reader(std::string_view w) : w_(w) {}
  size_t pos() const { return pos_; }
  size_t left() const { return w_.size() - pos_; }
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<uint8_t>(w_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(w_[pos_]) << 8) |
                               static_cast<uint8_t>(w_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    uint16_t hi, lo;
    if (!U16(&hi) || !U16(&lo)) return false;
    *v = (static_cast<uint32_t>(hi) << 16) | lo;
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (left() < n) return false;
    out->assign(w_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }

  // Reads a possibly compressed name. A pointer must point before the start
  // of the label sequence it appears in, so loops are impossible; the jump
  // limit bounds the work anyway.
  bool Name(std::string* out) {
    out->clear();
    size_t p = pos_;
    size_t end_pos = 0;  // where the caller continues after the name
    bool jumped = false;
    size_t wire_len = 1;
    int jumps = 0;
    size_t seq_start = p;
    for (;;) {
      if (p >= w_.size()) return false;
      uint8_t len = static_cast<uint8_t>(w_[p]);
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= w_.size()) return false;
        size_t target = (static_cast<size_t>(len & 0x3F) << 8) | static_cast<uint8_t>(w_[p + 1]);
        if (target >= seq_start || ++jumps > kMaxJumps) return false;
        if (!jumped) end_pos = p + 2;
        jumped = true;
        p = seq_start = target;
        continue;
      }
      if (len & 0xC0) return false;  // 0x40/0x80: extended label types, unsupported
      if (len == 0) {
        if (!jumped) end_pos = p + 1;
        break;
      }
      if (p + 1 + len > w_.size()) return false;
      wire_len += 1 + len;
      if (wire_len > kMaxName) return false;
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < len; ++i) {
        unsigned char c = static_cast<unsigned char>(w_[p + 1 + i]);
        if (c == '.' || c == '\\' || c <= 0x20 || c >= 0x7F) {
          char buf[5];
          snprintf(buf, sizeof buf, "\\%03u", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
      }
      p += 1 + len;
    }
    pos_ = end_pos;
    return true;
  }

 private:
  std::string_view w_;
  size_t pos_ = 0;
};

bool ParseRecord(Reader& r, std::string_view wire, Record* rec) {
  uint16_t rdlen;
  if (!r.Name(&rec->name) || !r.U16(&rec->type) || !r.U16(&rec->klass) || !r.U32(&rec->ttl) ||
      !r.U16(&rdlen) || r.left() < rdlen)
    return false;
  size_t rd_end = r.pos() + rdlen;
  bool ok = true;
  switch (rec->type) {
    case type::kA:
      if (rdlen != 4) return false;
      for (auto& b : rec->a) r.U8(&b);
      break;
    case type::kCNAME:
    case type::kNS:
    case type::kPTR:
      ok = r.Name(&rec->target);
      break;
    case type::kSRV:
      ok =
          r.U16(&rec->priority) && r.U16(&rec->weight) && r.U16(&rec->port) && r.Name(&rec->target);
      break;
    case type::kSOA:
      ok = r.Name(&rec->target) && r.Name(&rec->rname) && r.U32(&rec->serial) &&
           r.U32(&rec->refresh) && r.U32(&rec->retry) && r.U32(&rec->expire) &&
           r.U32(&rec->minimum);
      break;
    default:
      ok = r.Bytes(rdlen, &rec->raw);
  }
  // The rdata must be consumed exactly: a name running past rdlen is malformed.
  (void)wire;
  return ok && r.pos() == rd_end;
}

// Splits presentation form into raw labels, decoding \DDD and \X.
bool Labels(std::string_view name, std::vector<std::string>* out) {
  out->clear();
  if (name.empty() || name == ".") return true;
  if (name.back() == '.') name.remove_suffix(1);
  std::string cur;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '\\') {
      if (i + 1 >= name.size()) return false;
      if (isdigit(static_cast<unsigned char>(name[i + 1]))) {
        if (i + 3 >= name.size()) return false;
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          if (!isdigit(static_cast<unsigned char>(name[i + k]))) return false;
          v = v * 10 + (name[i + k] - '0');
        }
        if (v > 255) return false;
        cur.push_back(static_cast<char>(v));
        i += 3;
      } else {
        cur.push_back(name[++i]);
      }
    } else if (c == '.') {
      if (cur.empty()) return false;
      out->push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (cur.empty()) return false;
  out->push_back(std::move(cur));
  size_t wire = 1;
  for (const auto& l : *out) {
    if (l.size() > 63) return false;
    wire += 1 + l.size();
  }
  return wire <= kMaxName;
}

class Writer {
 public:
  std::string buf;
  void U8(uint8_t v) { buf.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    buf.push_back(static_cast<char>(v >> 8));
    buf.push_back(static_cast<char>(v & 0xFF));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v & 0xFFFF));
  }
  void Put16At(size_t off, uint16_t v) {
    buf[off] = static_cast<char>(v >> 8);
    buf[off + 1] = static_cast<char>(v & 0xFF);
  }
  // Writes a name, reusing any suffix already written (RFC 1035 4.1.4).
  bool Name(std::string_view name) {
    std::vector<std::string> labels;
    if (!Labels(name, &labels)) return false;
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string key;
      for (size_t j = i; j < labels.size(); ++j) key += LowerName(labels[j]) + '\0';
      auto it = offsets_.find(key);
      if (it != offsets_.end()) {
        U16(static_cast<uint16_t>(0xC000 | it->second));
        return true;
      }
      if (buf.size() < 0x3FFF) offsets_.emplace(key, static_cast<uint16_t>(buf.size()));
      U8(static_cast<uint8_t>(labels[i].size()));
      buf += labels[i];
    }
    U8(0);
    return true;
  }

 private:
  std::map<std::string, uint16_t> offsets_;
};

bool WriteRecord(Writer& w, const Record& r) {
  if (!w.Name(r.name)) return false;
  w.U16(r.type);
  w.U16(r.klass);
  w.U32(r.ttl);
  size_t len_at = w.buf.size();
  w.U16(0);
  size_t start = w.buf.size();
  switch (r.type) {
    case type::kA:
      for (auto b : r.a) w.U8(b);
      break;
    case type::kCNAME:
    case type::kNS:
    case type::kPTR:
      if (!w.Name(r.target)) return false;
      break;
    case type::kSRV:
      w.U16(r.priority);
      w.U16(r.weight);
      w.U16(r.port);
      // RFC 2782: the target must not be compressed.
      {
        std::vector<std::string> labels;
        if (!Labels(r.target, &labels)) return false;
        for (const auto& l : labels) {
          w.U8(static_cast<uint8_t>(l.size()));
          w.buf += l;
        }
        w.U8(0);
      }
      break;
    case type::kSOA:
      if (!w.Name(r.target) || !w.Name(r.rname)) return false;
      w.U32(r.serial);
      w.U32(r.refresh);
      w.U32(r.retry);
      w.U32(r.expire);
      w.U32(r.minimum);
      break;
    default:
      if (r.raw.size() > 0xFFFF) return false;
      w.buf += r.raw;
  }
  size_t len = w.buf.size() - start;
  if (len > 0xFFFF) return false;
  w.Put16At(len_at, static_cast<uint16_t>(len));
  return true;
}

Result<std::string> Encode(const Message& m, bool truncated) {
  Writer w;
  w.U16(m.id);
  bool tc = m.tc || truncated;
  uint16_t flags = static_cast<uint16_t>((m.qr ? 0x8000 : 0) | ((m.opcode & 0xF) << 11) |
                                         (m.aa ? 0x400 : 0) | (tc ? 0x200 : 0) |
                                         (m.rd ? 0x100 : 0) | (m.ra ? 0x80 : 0) | (m.rcode & 0xF));
  w.U16(flags);
  auto count = [](size_t n) { return static_cast<uint16_t>(std::min<size_t>(n, 0xFFFF)); };
  if (m.questions.size() > 0xFFFF || m.answers.size() > 0xFFFF || m.authority.size() > 0xFFFF ||
      m.additional.size() > 0xFFFF)
    return BadRequest("too many records");
  w.U16(count(m.questions.size()));
  // When truncating, keep only an OPT record (so the client still learns our
  // payload size), as other servers do.
  std::vector<const Record*> additional;
  for (const auto& r : m.additional)
    if (!truncated || r.type == type::kOPT) additional.push_back(&r);
  w.U16(truncated ? 0 : count(m.answers.size()));
  w.U16(truncated ? 0 : count(m.authority.size()));
  w.U16(count(additional.size()));
  for (const auto& q : m.questions) {
    if (!w.Name(q.name)) return BadRequest("bad question name: " + q.name);
    w.U16(q.type);
    w.U16(q.klass);
  }
  if (!truncated) {
    for (const auto& r : m.answers)
      if (!WriteRecord(w, r)) return BadRequest("bad record: " + r.name);
    for (const auto& r : m.authority)
      if (!WriteRecord(w, r)) return BadRequest("bad record: " + r.name);
  }
  for (const auto* r : additional)
    if (!WriteRecord(w, *r)) return BadRequest("bad record: " + r->name);
  return std::move(w.buf);
}

}  // namespace

std::string LowerName(std::string_view name) {
  std::string s(name);
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Result<Message> ParseMessage(std::string_view wire) {
  Reader r(wire);
  Message m;
  uint16_t flags, qd, an, ns, ar;
  if (!r.U16(&m.id) || !r.U16(&flags) || !r.U16(&qd) || !r.U16(&an) || !r.U16(&ns) || !r.U16(&ar))
    return BadRequest("dns: short header");
  m.qr = flags & 0x8000;
  m.opcode = (flags >> 11) & 0xF;
  m.aa = flags & 0x400;
  m.tc = flags & 0x200;
  m.rd = flags & 0x100;
  m.ra = flags & 0x80;
  m.rcode = flags & 0xF;
  // Every question takes at least 5 bytes and every record 11: counts that
  // cannot fit are rejected before anything is reserved.
  if (static_cast<size_t>(qd) * 5 + (static_cast<size_t>(an) + ns + ar) * 11 > r.left())
    return BadRequest("dns: counts exceed message size");
  m.questions.reserve(qd);
  for (int i = 0; i < qd; ++i) {
    Question q;
    if (!r.Name(&q.name) || !r.U16(&q.type) || !r.U16(&q.klass))
      return BadRequest("dns: bad question");
    m.questions.push_back(std::move(q));
  }
  for (auto [n, sec] :
       {std::pair{an, &m.answers}, std::pair{ns, &m.authority}, std::pair{ar, &m.additional}}) {
    sec->reserve(n);
    for (int i = 0; i < n; ++i) {
      Record rec;
      if (!ParseRecord(r, wire, &rec)) return BadRequest("dns: bad resource record");
      sec->push_back(std::move(rec));
    }
  }
  return m;
}

Result<std::string> EncodeMessage(const Message& m, size_t max_size) {
  auto full = Encode(m, false);
  if (!full.ok() || full->size() <= max_size) return full;
  auto cut = Encode(m, true);
  if (cut.ok() && cut->size() > max_size)
    return BadRequest("dns: message does not fit even truncated");
  return cut;
}

}  // namespace berth::node::dns
