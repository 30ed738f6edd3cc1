#include "monitor/regex_template.h"

#include <re2/re2.h>

#include <vector>

namespace berth::monitor {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool MatchAndExpand(const re2::RE2& re, std::string_view text, std::string_view tmpl,
                    std::string* out) {
  int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::ANCHOR_BOTH,
                groups.data(), ngroups))
    return false;
  out->clear();
  const auto& named = re.NamedCapturingGroups();
  size_t i = 0;
  while (i < tmpl.size()) {
    char c = tmpl[i];
    if (c != '$') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
      out->push_back('$');
      i += 2;
      continue;
    }
    std::string_view name;
    size_t next = i + 1;
    if (next < tmpl.size() && tmpl[next] == '{') {
      size_t close = tmpl.find('}', next + 1);
      if (close != std::string_view::npos) {
        name = tmpl.substr(next + 1, close - next - 1);
        bool ok = !name.empty();
        for (char nc : name) ok = ok && IsNameChar(nc);
        if (!ok) name = {};
        next = close + 1;
      }
    } else {
      size_t j = next;
      while (j < tmpl.size() && IsNameChar(tmpl[j])) ++j;
      name = tmpl.substr(next, j - next);
      next = j;
    }
    if (name.empty()) {  // malformed: the '$' is plain text
      out->push_back('$');
      ++i;
      continue;
    }
    int idx = -1;
    bool numeric = true;
    for (char nc : name) numeric = numeric && nc >= '0' && nc <= '9';
    if (numeric) {
      if (name.size() < 9) idx = std::stoi(std::string(name));
    } else {
      auto it = named.find(std::string(name));
      if (it != named.end()) idx = it->second;
    }
    if (idx >= 0 && idx < ngroups && groups[static_cast<size_t>(idx)].data() != nullptr)
      out->append(groups[static_cast<size_t>(idx)].data(), groups[static_cast<size_t>(idx)].size());
    i = next;
  }
  return true;
}

}  // namespace berth::monitor
