#include "node/spdy.h"

#include <zlib.h>

#include <cctype>
#include <cstring>

namespace berth::node::spdy {

namespace {

constexpr uint16_t kVersion = 3;
constexpr size_t kMaxFrame = (1u << 24) - 1;  // the length field's limit
constexpr size_t kMaxHeaderBlock = 1 << 20;   // decompressed; far above any real one

// The dictionary of the SPDY/3 draft: length-prefixed header names and
// common values, then a run of common strings.
std::string BuildDictionary() {
  static const char* const kWords[] = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};
  std::string d;
  for (const char* w : kWords) {
    uint32_t n = static_cast<uint32_t>(std::strlen(w));
    d.push_back(static_cast<char>(n >> 24));
    d.push_back(static_cast<char>(n >> 16));
    d.push_back(static_cast<char>(n >> 8));
    d.push_back(static_cast<char>(n));
    d += w;
  }
  d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
       "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
       "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
       "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
       "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
       "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
       "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  return d;
}

void Put16(std::string* o, uint16_t v) {
  o->push_back(static_cast<char>(v >> 8));
  o->push_back(static_cast<char>(v));
}
void Put32(std::string* o, uint32_t v) {
  Put16(o, static_cast<uint16_t>(v >> 16));
  Put16(o, static_cast<uint16_t>(v));
}
uint32_t Get32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string_view Dictionary() {
  static const std::string d = BuildDictionary();
  return d;
}

std::string Frame::Header(std::string_view name) const {
  std::string want = Lower(std::string(name));
  for (const auto& [k, v] : headers)
    if (Lower(k) == want) return v.substr(0, v.find('\0'));
  return "";
}

struct Framer::Zlib {
  z_stream def{}, inf{};
  bool def_ok = false, inf_ok = false;
  Zlib() {
    def_ok = deflateInit(&def, Z_DEFAULT_COMPRESSION) == Z_OK &&
             deflateSetDictionary(&def, reinterpret_cast<const Bytef*>(Dictionary().data()),
                                  static_cast<uInt>(Dictionary().size())) == Z_OK;
    inf_ok = inflateInit(&inf) == Z_OK;
  }
  ~Zlib() {
    deflateEnd(&def);
    inflateEnd(&inf);
  }
};

Framer::Framer() : z_(std::make_unique<Zlib>()) {}
Framer::~Framer() = default;

Result<std::string> Framer::CompressHeaders(const HeaderBlock& h) {
  if (!z_->def_ok) return Internal("spdy: zlib deflate init failed");
  std::string raw;
  Put32(&raw, static_cast<uint32_t>(h.size()));
  for (const auto& [k, v] : h) {
    std::string name = Lower(k);
    Put32(&raw, static_cast<uint32_t>(name.size()));
    raw += name;
    Put32(&raw, static_cast<uint32_t>(v.size()));
    raw += v;
  }
  z_stream& z = z_->def;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Internal("spdy: deflate failed");
    out.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

Result<HeaderBlock> Framer::DecompressHeaders(std::string_view compressed) {
  if (!z_->inf_ok) return Internal("spdy: zlib inflate init failed");
  z_stream& z = z_->inf;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string raw;
  char buf[4096];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(Dictionary().data()),
                               static_cast<uInt>(Dictionary().size())) != Z_OK)
        return BadRequest("spdy: header block uses an unknown dictionary");
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return BadRequest("spdy: corrupt header block");
    raw.append(buf, sizeof buf - z.avail_out);
    if (raw.size() > kMaxHeaderBlock) return BadRequest("spdy: header block too large");
    if (z.avail_in == 0 && z.avail_out != 0) break;
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible
  }
  HeaderBlock h;
  if (raw.size() < 4) return BadRequest("spdy: short header block");
  uint32_t count = Get32(raw, 0);
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    std::string kv[2];
    for (auto& s : kv) {
      if (raw.size() - at < 4) return BadRequest("spdy: truncated header block");
      uint32_t n = Get32(raw, at);
      at += 4;
      if (raw.size() - at < n) return BadRequest("spdy: truncated header block");
      s = raw.substr(at, n);
      at += n;
    }
    h.emplace_back(std::move(kv[0]), std::move(kv[1]));
  }
  return h;
}

void Framer::Feed(std::string_view bytes) { in_.append(bytes); }

Result<bool> Framer::Next(Frame* f) {
  if (in_.size() < 8) return false;
  uint32_t len = Get32(in_, 4) & 0xffffff;
  if (in_.size() < 8 + static_cast<size_t>(len)) return false;
  std::string_view p(in_.data() + 8, len);
  *f = Frame();
  f->flags = static_cast<uint8_t>(in_[4]);
  uint32_t first = Get32(in_, 0);
  f->control = (first & 0x80000000u) != 0;
  if (!f->control) {
    f->stream_id = first & 0x7fffffff;
    f->data.assign(p);
  } else {
    uint16_t version = static_cast<uint16_t>((first >> 16) & 0x7fff);
    if (version != kVersion)
      return BadRequest("spdy: unsupported version " + std::to_string(version));
    f->type = static_cast<uint16_t>(first & 0xffff);
    auto need = [&](size_t n) -> Status {
      return p.size() < n
                 ? BadRequest("spdy: short control frame of type " + std::to_string(f->type))
                 : Status::Ok();
    };
    switch (f->type) {
      case kSynStream: {
        BERTH_RETURN_IF_ERROR(need(10));
        f->stream_id = Get32(p, 0) & 0x7fffffff;
        f->associated_id = Get32(p, 4) & 0x7fffffff;
        f->priority = static_cast<uint8_t>(static_cast<uint8_t>(p[8]) >> 5);
        BERTH_ASSIGN_OR_RETURN(f->headers, DecompressHeaders(p.substr(10)));
        break;
      }
      case kSynReply:
      case kHeaders: {
        BERTH_RETURN_IF_ERROR(need(4));
        f->stream_id = Get32(p, 0) & 0x7fffffff;
        BERTH_ASSIGN_OR_RETURN(f->headers, DecompressHeaders(p.substr(4)));
        break;
      }
      case kRstStream:
      case kGoAway:
        BERTH_RETURN_IF_ERROR(need(8));
        f->stream_id = Get32(p, 0) & 0x7fffffff;
        f->status = Get32(p, 4);
        break;
      case kWindowUpdate:
        BERTH_RETURN_IF_ERROR(need(8));
        f->stream_id = Get32(p, 0) & 0x7fffffff;
        f->delta_window = Get32(p, 4) & 0x7fffffff;
        break;
      case kPing:
        BERTH_RETURN_IF_ERROR(need(4));
        f->ping_id = Get32(p, 0);
        break;
      case kSettings: {
        BERTH_RETURN_IF_ERROR(need(4));
        uint32_t n = Get32(p, 0);
        if ((p.size() - 4) / 8 < n) return BadRequest("spdy: short SETTINGS frame");
        for (uint32_t i = 0; i < n; ++i)
          f->settings.emplace_back(Get32(p, 4 + 8 * i), Get32(p, 8 + 8 * i));
        break;
      }
      default:
        f->data.assign(p);  // unknown types are ignored by the session
        break;
    }
  }
  in_.erase(0, 8 + static_cast<size_t>(len));
  return true;
}

Result<std::string> Framer::Encode(const Frame& f) {
  std::string payload;
  if (!f.control) {
    payload = f.data;
  } else {
    switch (f.type) {
      case kSynStream: {
        Put32(&payload, f.stream_id & 0x7fffffff);
        Put32(&payload, f.associated_id & 0x7fffffff);
        payload.push_back(static_cast<char>((f.priority & 7) << 5));
        payload.push_back(0);  // slot
        BERTH_ASSIGN_OR_RETURN(std::string hb, CompressHeaders(f.headers));
        payload += hb;
        break;
      }
      case kSynReply:
      case kHeaders: {
        Put32(&payload, f.stream_id & 0x7fffffff);
        BERTH_ASSIGN_OR_RETURN(std::string hb, CompressHeaders(f.headers));
        payload += hb;
        break;
      }
      case kRstStream:
      case kGoAway:
        Put32(&payload, f.stream_id & 0x7fffffff);
        Put32(&payload, f.status);
        break;
      case kWindowUpdate:
        Put32(&payload, f.stream_id & 0x7fffffff);
        Put32(&payload, f.delta_window & 0x7fffffff);
        break;
      case kPing:
        Put32(&payload, f.ping_id);
        break;
      case kSettings:
        Put32(&payload, static_cast<uint32_t>(f.settings.size()));
        for (const auto& [id, v] : f.settings) {
          Put32(&payload, id);
          Put32(&payload, v);
        }
        break;
      default:
        return Internal("spdy: cannot encode frame type " + std::to_string(f.type));
    }
  }
  if (payload.size() > kMaxFrame) return Internal("spdy: frame too large");
  std::string out;
  out.reserve(8 + payload.size());
  if (f.control) {
    Put16(&out, 0x8000 | kVersion);
    Put16(&out, f.type);
  } else {
    Put32(&out, f.stream_id & 0x7fffffff);
  }
  Put32(&out, static_cast<uint32_t>(f.flags) << 24 | static_cast<uint32_t>(payload.size()));
  out += payload;
  return out;
}

Frame SynReply(uint32_t stream_id, uint8_t flags) {
  Frame f;
  f.control = true;
  f.type = kSynReply;
  f.stream_id = stream_id;
  f.flags = flags;
  return f;
}

Frame Data(uint32_t stream_id, std::string data, uint8_t flags) {
  Frame f;
  f.stream_id = stream_id;
  f.data = std::move(data);
  f.flags = flags;
  return f;
}

Frame RstStream(uint32_t stream_id, uint32_t status) {
  Frame f;
  f.control = true;
  f.type = kRstStream;
  f.stream_id = stream_id;
  f.status = status;
  return f;
}

Frame Ping(uint32_t id) {
  Frame f;
  f.control = true;
  f.type = kPing;
  f.ping_id = id;
  return f;
}

Frame GoAway(uint32_t last_good_stream_id, uint32_t status) {
  Frame f;
  f.control = true;
  f.type = kGoAway;
  f.stream_id = last_good_stream_id;
  f.status = status;
  return f;
}

}  // namespace berth::node::spdy
