#include "monitor/regex_template.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace berth::monitor {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

void ExpandTemplate(std::string_view tmpl, const re2::RE2& re, const re2::StringPiece* groups,
                    int ngroups, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t d = tmpl.find('$', i);
    if (d == std::string_view::npos) {
      out->append(tmpl.substr(i));
      break;
    }
    out->append(tmpl.substr(i, d - i));
    i = d + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out->push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    size_t after;
    if (i < tmpl.size() && tmpl[i] == '{') {
      size_t close = tmpl.find('}', i + 1);
      if (close == std::string_view::npos) {
        out->push_back('$');
        continue;
      }
      name = tmpl.substr(i + 1, close - i - 1);
      after = close + 1;
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) {
        out->push_back('$');
        continue;
      }
    } else {
      size_t j = i;
      while (j < tmpl.size() && IsNameChar(tmpl[j])) ++j;
      if (j == i) {
        out->push_back('$');
        continue;
      }
      name = tmpl.substr(i, j - i);
      after = j;
    }
    i = after;
    int idx = -1;
    if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (name.size() <= 8) std::from_chars(name.data(), name.data() + name.size(), idx);
    } else {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      if (it != named.end()) idx = it->second;
    }
    if (idx >= 0 && idx < ngroups && groups[idx].data() != nullptr)
      out->append(groups[idx].data(), groups[idx].size());
  }
}

bool MatchAndExpand(const re2::RE2& re, std::string_view text, std::string_view tmpl,
                    std::string* out) {
  int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::ANCHOR_BOTH,
                groups.data(), ngroups))
    return false;
  ExpandTemplate(tmpl, re, groups.data(), ngroups, out);
  return true;
}

}  // namespace berth::monitor
