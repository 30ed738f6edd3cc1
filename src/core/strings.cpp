#include "core/strings.h"

namespace berth {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t a = 0;
  for (;;) {
    size_t b = s.find(sep, a);
    if (b == std::string_view::npos) {
      out.emplace_back(s.substr(a));
      return out;
    }
    out.emplace_back(s.substr(a, b - a));
    a = b + 1;
  }
}

std::vector<std::string> SplitFields(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (auto& piece : Split(s, sep))
    if (!piece.empty()) out.push_back(std::move(piece));
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return {};
  return Split(text, '\n');
}

bool IsOciPathComponent(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (alnum(c)) continue;
    if (c == '-') {
      size_t j = i;
      while (s[j] == '-') ++j;
      if (!alnum(s[j])) return false;
      i = j - 1;
      continue;
    }
    // s.back() is alphanumeric, so s[i + 1] exists for a separator.
    if (c == '.' && alnum(s[i + 1])) continue;
    if (c == '_' && alnum(s[i + 1])) continue;
    if (c == '_' && s[i + 1] == '_' && i + 2 < s.size() && alnum(s[i + 2])) {
      ++i;
      continue;
    }
    return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace berth
