#include "monitor/alerting/wire.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace berth::monitor::alerting {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTimeMs(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

Result<int64_t> ParseTimeMs(std::string_view s) {
  std::string str(s);
  auto bad = [&] { return Invalid("invalid time \"" + str + "\": expected RFC 3339"); };
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
      n != 19)
    return bad();
  if (y == 1 && mo == 1 && d == 1 && h == 0 && mi == 0 && sec == 0) return int64_t{0};
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  size_t i = 19;
  int64_t ms = 0;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return bad();
    for (int k = digits; k < 3; ++k) ms *= 10;
  }
  int64_t offset = 0;
  if (i + 1 == str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    offset = 0;
  } else if (i + 6 == str.size() && (str[i] == '+' || str[i] == '-') && str[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return bad();
    offset = (oh * 3600 + om * 60) * (str[i] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  return (static_cast<int64_t>(timegm(&tm)) - offset) * 1000 + ms;
}

uint64_t Fingerprint(const Labels& ls) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const auto& l : ls) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

std::string FingerprintString(uint64_t fp) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fp));
  return buf;
}

}  // namespace berth::monitor::alerting
