#include "core/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace berth {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t NowSeconds() { return NowMicros() / 1000000; }
int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatRFC3339(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRFC3339Micro(int64_t us) {
  time_t tt = static_cast<time_t>(us / 1000000);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06dZ", static_cast<int>(us % 1000000));
  return buf;
}

std::optional<int64_t> ParseRFC3339(std::string_view s) {
  int Y, M, D, h, m, sec;
  if (s.size() < 20) return std::nullopt;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &Y, &M, &D, &h, &m, &sec) != 6)
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    while (i < str.size() && isdigit(static_cast<unsigned char>(str[i]))) ++i;
  }
  int64_t offset = 0;
  if (i >= str.size()) return std::nullopt;
  if (str[i] == 'Z' || str[i] == 'z') {
    ++i;
  } else if (str[i] == '+' || str[i] == '-') {
    int oh, om;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (str[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != str.size()) return std::nullopt;
  struct tm tm = {};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string HumanDuration(int64_t s) {
  // Mirrors k8s.io/apimachinery/pkg/util/duration.HumanDuration.
  char buf[32];
  if (s < 0) s = 0;
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 600) {
    int64_t m = s / 60, r = s % 60;
    if (r == 0) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(m));
    else std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(m), static_cast<long long>(r));
  } else if (s < 3 * 3600) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else if (s < 8 * 3600) {
    int64_t h = s / 3600, m = (s % 3600) / 60;
    if (m == 0) std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(h));
    else std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(h), static_cast<long long>(m));
  } else if (s < 48 * 3600) {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(s / 3600));
  } else if (s < 8 * 86400) {
    int64_t d = s / 86400, h = (s % 86400) / 3600;
    if (h == 0) std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(d));
    else std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(d), static_cast<long long>(h));
  } else if (s < 2 * 365 * 86400) {
    std::snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(s / 86400));
  } else if (s < 8 * 365 * 86400) {
    int64_t y = s / (365 * 86400), d = (s % (365 * 86400)) / 86400;
    if (d == 0) std::snprintf(buf, sizeof buf, "%lldy", static_cast<long long>(y));
    else std::snprintf(buf, sizeof buf, "%lldy%lldd", static_cast<long long>(y), static_cast<long long>(d));
  } else {
    std::snprintf(buf, sizeof buf, "%lldy", static_cast<long long>(s / (365 * 86400)));
  }
  return buf;
}

}  // namespace berth
