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

}  // namespace berth
