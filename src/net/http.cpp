#include "net/http.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace berth::net {

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return ::strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string Request::Query(const std::string& key, const std::string& def) const {
  auto it = query.find(key);
  return it == query.end() ? def : it->second;
}

std::string Request::Header(const std::string& key) const {
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

void Router::Handle(const std::string& pattern, Handler h) { Add(pattern, Route{std::move(h), false}); }

void Router::HandleStreaming(const std::string& pattern, Handler h) {
  Add(pattern, Route{std::move(h), true});
}

void Router::Add(const std::string& pattern, Route r) {
  if (!pattern.empty() && pattern.back() == '*') {
    std::string prefix = pattern.substr(0, pattern.size() - 1);
    auto it = std::find_if(prefixes_.begin(), prefixes_.end(),
                           [&](const auto& p) { return p.first == prefix; });
    if (it != prefixes_.end()) {
      it->second = std::move(r);
      return;
    }
    prefixes_.emplace_back(prefix, std::move(r));
    // Longest first, so the first match in Match() is the most specific one.
    std::stable_sort(prefixes_.begin(), prefixes_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return;
  }
  exact_[pattern] = std::move(r);
}

const Route* Router::MatchRoute(const std::string& path) const {
  // An exact route is always more specific than any prefix route.
  if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
  for (const auto& [prefix, r] : prefixes_) {
    if (path.compare(0, prefix.size(), prefix) == 0) return &r;
  }
  return nullptr;
}

const Handler* Router::Match(const std::string& path) const {
  const Route* r = MatchRoute(path);
  return r ? &r->handler : nullptr;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    // A malformed escape is kept literally: rejecting it would make paths that
    // other servers accept unreachable.
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseQuery(std::string_view q) {
  std::multimap<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(part.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string StatusJson(const Status& st) {
  nlohmann::json j = {{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", nlohmann::json::object()},
                      {"status", st.ok() ? "Success" : "Failure"},
                      {"message", st.message()},
                      {"code", HttpCode(st.code())}};
  if (*ReasonString(st.code()) != '\0') j["reason"] = ReasonString(st.code());
  if (!st.causes().empty()) {
    nlohmann::json causes = nlohmann::json::array();
    for (const Cause& c : st.causes()) {
      nlohmann::json cj = nlohmann::json::object();
      if (!c.reason.empty()) cj["reason"] = c.reason;
      if (!c.message.empty()) cj["message"] = c.message;
      if (!c.field.empty()) cj["field"] = c.field;
      causes.push_back(std::move(cj));
    }
    j["details"] = {{"causes", std::move(causes)}};
  }
  return j.dump();
}

std::string StatusJson(int http_code, std::string_view reason, std::string_view message) {
  nlohmann::json j = {{"kind", "Status"},
                      {"apiVersion", "v1"},
                      {"metadata", nlohmann::json::object()},
                      {"status", http_code < 400 ? "Success" : "Failure"},
                      {"message", message},
                      {"code", http_code}};
  if (!reason.empty()) j["reason"] = reason;
  return j.dump();
}

}  // namespace berth::net
