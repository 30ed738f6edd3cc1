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

}  // namespace berth
