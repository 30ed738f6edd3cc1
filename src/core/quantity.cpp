// Quantity parsing and canonical formatting, following
// k8s.io/apimachinery/pkg/api/resource (ParseQuantity, CanonicalizeBytes).
#include "core/quantity.h"

namespace berth {

const char kQuantityFormatError[] =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

namespace {

using i128 = __int128;
constexpr i128 kNano = 1000000000;
// Keeps every intermediate product far from the int128 limit (~1.7e38).
const i128 kLimit = static_cast<i128>(1000000000000000000LL) * 1000000000000000000LL * 10;

i128 Pow10(int n) {
  i128 r = 1;
  while (n-- > 0) r *= 10;
  return r;
}

std::string ToDecimal(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  if (neg) v = -v;
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return neg ? "-" + s : s;
}

i128 CeilDiv(i128 v, i128 d) {  // v, d > 0 are not required for the sign of v
  i128 q = v / d;
  if (v % d != 0 && v > 0) ++q;
  return q;
}

}  // namespace

Result<Quantity> Quantity::Parse(std::string_view s) {
  auto fail = [&] { return Status(Code::kBadRequest, kQuantityFormatError); };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  std::string digits;
  int frac_len = 0;
  bool any_digit = false, dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      digits += c;
      if (dot) ++frac_len;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!any_digit) return fail();
  std::string_view suffix = s.substr(i);

  Quantity q;
  int exp10 = 0, exp2 = 0;
  static const std::pair<std::string_view, int> kDecimal[] = {
      {"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
      {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static const std::pair<std::string_view, int> kBinary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
                                                             {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  bool matched = false;
  for (auto [suf, e] : kDecimal)
    if (suffix == suf) exp10 = e, matched = true, q.format_ = Format::kDecimalSI;
  for (auto [suf, e] : kBinary)
    if (suffix == suf) exp2 = e, matched = true, q.format_ = Format::kBinarySI;
  if (!matched) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return fail();
    size_t j = 1;
    bool eneg = false;
    if (suffix[j] == '+' || suffix[j] == '-') eneg = suffix[j++] == '-';
    if (j >= suffix.size() || suffix.size() - j > 4) return fail();
    int e = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9') return fail();
      e = e * 10 + (suffix[j] - '0');
    }
    exp10 = eneg ? -e : e;
    q.format_ = Format::kDecimalExponent;
  }

  // Drop leading zeros so that long zero-padded input does not overflow.
  size_t nz = digits.find_first_not_of('0');
  digits = nz == std::string::npos ? "" : digits.substr(nz);
  if (digits.size() > 36) return Status(Code::kBadRequest, "quantity is too large");
  i128 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  if (exp2 > 0) {
    for (int k = 0; k < exp2; ++k) {
      if (v > kLimit / 2) return Status(Code::kBadRequest, "quantity is too large");
      v *= 2;
    }
  }
  int scale = exp10 - frac_len + 9;
  if (scale >= 0) {
    for (int k = 0; k < scale; ++k) {
      if (v > kLimit / 10) return Status(Code::kBadRequest, "quantity is too large");
      v *= 10;
    }
  } else {
    // Finer than 1n: round up, as the apiserver does.
    v = scale < -38 ? (v > 0 ? 1 : 0) : CeilDiv(v, Pow10(-scale));
  }
  q.nanos_ = neg ? -v : v;
  return q;
}

Quantity Quantity::FromInt(int64_t v, Format f) {
  Quantity q;
  q.nanos_ = static_cast<i128>(v) * kNano;
  q.format_ = f;
  return q;
}

std::string Quantity::ToString() const {
  if (nanos_ == 0) return "0";
  Format f = format_;
  if (f == Format::kBinarySI) {
    i128 mag = nanos_ < 0 ? -nanos_ : nanos_;
    if (mag < 1024 * kNano || nanos_ % kNano != 0) f = Format::kDecimalSI;
  }
  if (f == Format::kBinarySI) {
    static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    i128 v = nanos_ / kNano;
    int k = 0;
    while (k < 6 && v % 1024 == 0) v /= 1024, ++k;
    return ToDecimal(v) + kSuffix[k];
  }
  i128 m = nanos_;
  int exp = -9;
  while (m % 10 == 0) m /= 10, ++exp;
  switch (exp % 3) {
    case 1:
    case -2:
      m *= 10, exp -= 1;
      break;
    case 2:
    case -1:
      m *= 100, exp -= 2;
      break;
    default:
      break;
  }
  std::string suffix;
  if (f == Format::kDecimalSI && exp >= -9 && exp <= 18) {
    static const char* kSI[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    suffix = kSI[(exp + 9) / 3];
  } else if (exp != 0) {
    suffix = "e" + std::to_string(exp);
  }
  return ToDecimal(m) + suffix;
}

int Quantity::Compare(const Quantity& o) const {
  return nanos_ < o.nanos_ ? -1 : nanos_ > o.nanos_ ? 1 : 0;
}

int64_t Quantity::Value() const { return static_cast<int64_t>(CeilDiv(nanos_, kNano)); }
int64_t Quantity::MilliValue() const { return static_cast<int64_t>(CeilDiv(nanos_, 1000000)); }

}  // namespace berth
