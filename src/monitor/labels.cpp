#include "monitor/labels.h"

#include <re2/re2.h>

#include <algorithm>
#include <new>

namespace berth::monitor {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

inline uint64_t Mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * kFnvPrime;
  return (h ^ 0xff) * kFnvPrime;  // separator: "ab","c" differs from "a","bc"
}

bool Contains(const std::vector<std::string>& names, std::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

}  // namespace

namespace {

size_t VarLen(size_t n) {
  size_t k = 1;
  for (; n >= 0x80; n >>= 7) ++k;
  return k;
}

char* PutLen(char* p, size_t n) {
  for (; n >= 0x80; n >>= 7) *p++ = static_cast<char>(n | 0x80);
  *p++ = static_cast<char>(n);
  return p;
}

}  // namespace

template <class Range>
Labels Labels::Pack(const Range& sorted) {
  size_t n = 0, len = 0;
  for (const auto& l : sorted) {
    ++n;
    len += VarLen(l.name.size()) + l.name.size() + VarLen(l.value.size()) + l.value.size();
  }
  Labels out;
  if (n == 0) return out;
  Rep* r = new (::operator new(sizeof(Rep) + len)) Rep;
  r->n = static_cast<uint32_t>(n);
  r->len = static_cast<uint32_t>(len);
  char* p = reinterpret_cast<char*>(r + 1);
  for (const auto& l : sorted) {
    p = PutLen(p, l.name.size());
    p = std::copy(l.name.begin(), l.name.end(), p);
    p = PutLen(p, l.value.size());
    p = std::copy(l.value.begin(), l.value.end(), p);
  }
  out.p_ = r;
  return out;
}

void Labels::Free(Rep* r) {
  r->~Rep();
  ::operator delete(r);
}

Labels::Labels(std::vector<Label> ls) {
  std::stable_sort(ls.begin(), ls.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  std::vector<Label> out;
  out.reserve(ls.size());
  for (auto& l : ls) {
    if (!out.empty() && out.back().name == l.name) out.pop_back();
    out.push_back(std::move(l));
  }
  std::erase_if(out, [](const Label& l) { return l.value.empty(); });
  *this = Pack(out);
}

std::string_view Labels::Get(std::string_view name) const {
  for (LabelView l : *this) {
    if (l.name == name) return l.value;
    if (l.name > name) break;
  }
  return {};
}

bool Labels::Has(std::string_view name) const { return !Get(name).empty(); }

LabelView Labels::operator[](size_t i) const { return *std::next(begin(), i); }

std::vector<Label> Labels::ToVector() const { return {begin(), end()}; }

uint64_t Labels::Hash() const {
  if (p_ == nullptr) return kFnvOffset;
  uint64_t h = p_->hash.load(std::memory_order_relaxed);
  if (h != 0) return h;
  h = kFnvOffset;
  for (LabelView l : *this) h = Mix(Mix(h, l.name), l.value);
  p_->hash.store(h, std::memory_order_relaxed);
  return h;
}

uint64_t Labels::HashFor(const std::vector<std::string>& names, bool without) const {
  uint64_t h = kFnvOffset;
  for (LabelView l : *this) {
    bool listed = Contains(names, l.name);
    if (without ? (listed || l.name == kMetricName) : !listed) continue;
    h = Mix(Mix(h, l.name), l.value);
  }
  return h;
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  std::vector<LabelView> out;
  out.reserve(size() + 1);
  bool done = false;
  for (LabelView l : *this) {
    if (!done && l.name >= name) {
      if (!value.empty()) out.push_back({name, value});
      done = true;
      if (l.name == name) continue;
    }
    out.push_back(l);
  }
  if (!done && !value.empty()) out.push_back({name, value});
  return Pack(out);
}

template <class Pred>
Labels Labels::Filter(Pred keep) const {
  std::vector<LabelView> out;
  out.reserve(size());
  for (LabelView l : *this)
    if (keep(l)) out.push_back(l);
  if (out.size() == size()) return *this;
  return Pack(out);
}

Labels Labels::Without(std::string_view name) const {
  return Filter([&](LabelView l) { return l.name != name; });
}

Labels Labels::WithoutName() const {
  return Filter([](LabelView l) {
    return l.name != kMetricName && l.name != "__type__" && l.name != "__unit__";
  });
}

Labels Labels::Keep(const std::vector<std::string>& names) const {
  return Filter([&](LabelView l) { return Contains(names, l.name); });
}

Labels Labels::Drop(const std::vector<std::string>& names) const {
  return Filter([&](LabelView l) { return !Contains(names, l.name); });
}

namespace {

void AppendLabel(std::string& out, LabelView l) {
  if (IsValidLabelName(l.name))
    out += l.name;
  else
    out += QuoteString(l.name);
  out += '=';
  out += QuoteString(l.value);
}

}  // namespace

std::string Labels::String() const {
  std::string out = "{";
  bool first = true;
  for (LabelView l : *this) {
    if (!first) out += ", ";
    first = false;
    AppendLabel(out, l);
  }
  out += '}';
  return out;
}

std::string Labels::MetricString() const {
  std::string_view name = Name();
  if (name.empty() || !IsValidMetricName(name)) return String();
  std::string out(name);
  out += '{';
  bool first = true;
  for (LabelView l : *this) {
    if (l.name == kMetricName) continue;
    if (!first) out += ", ";
    first = false;
    AppendLabel(out, l);
  }
  out += '}';
  return out;
}

int Labels::Compare(const Labels& a, const Labels& b) {
  auto i = a.begin(), ie = a.end();
  auto j = b.begin(), je = b.end();
  for (; i != ie && j != je; ++i, ++j) {
    if (int c = i->name.compare(j->name)) return c;
    if (int c = i->value.compare(j->value)) return c;
  }
  return i != ie ? 1 : j != je ? -1 : 0;
}

namespace {

bool IsLegacyName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool IsValidLabelName(std::string_view s) { return IsLegacyName(s, false); }
bool IsValidMetricName(std::string_view s) { return IsLegacyName(s, true); }

Result<Matcher> Matcher::Make(Op op, std::string name, std::string value) {
  Matcher m;
  m.op_ = op;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (op == Op::kRe || op == Op::kNre) {
    RE2::Options opts;
    opts.set_dot_nl(true);
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) return Invalid("error parsing regexp: " + re->error());
    m.re_ = std::move(re);
  }
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (op_) {
    case Op::kEq:
      return v == value_;
    case Op::kNeq:
      return v != value_;
    case Op::kRe:
      return RE2::FullMatch(v, *re_);
    case Op::kNre:
      return !RE2::FullMatch(v, *re_);
  }
  return false;
}

std::string Matcher::String() const {
  static const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string n = IsValidLabelName(name_) ? name_ : '"' + EscapeLabelValue(name_) + '"';
  return n + kOps[static_cast<int>(op_)] + '"' + EscapeLabelValue(value_) + '"';
}

bool MatchesAll(const Labels& ls, const std::vector<Matcher>& ms) {
  for (const auto& m : ms)
    if (!m.Matches(ls.Get(m.name()))) return false;
  return true;
}

std::string QuoteString(std::string_view v) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < v.size()) {
    unsigned char c = v[i];
    if (c >= 0x80) {
      // Keep well-formed UTF-8 sequences; escape stray bytes like Go does.
      size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
      bool ok = n > 0 && i + n <= v.size();
      for (size_t k = 1; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
      if (ok) {
        out.append(v.substr(i, n));
        i += n;
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace berth::monitor
