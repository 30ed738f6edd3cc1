// Cron parsing after robfig/cron v3 (the library CronJob validation uses), so
// the same schedules are accepted with the same error texts.
#include "kinds/cron.h"

#include <ctime>
#include <string>
#include <vector>

namespace berth::kinds {
namespace {

struct Bounds {
  int min, max;
  std::vector<std::string_view> names;  // index + min = value
};

const Bounds kMinute{0, 59, {}};
const Bounds kHour{0, 23, {}};
const Bounds kDom{1, 31, {}};
const Bounds kMonth{
    1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}};
const Bounds kDow{0, 6, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}};

std::vector<std::string> SplitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? s.npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

Status Err(const std::string& m) { return Status(Code::kInvalid, m); }

Result<int> ParseInt(const std::string& s) {
  if (s.empty() || s.size() > 9)
    return Err("failed to parse int from " + s + ": strconv.Atoi: parsing \"" + s +
               "\": invalid syntax");
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return Err("failed to parse int from " + s + ": strconv.Atoi: parsing \"" + s +
                 "\": invalid syntax");
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<int> ParseValue(const std::string& s, const Bounds& b) {
  std::string lower;
  for (char c : s) lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < b.names.size(); ++i)
    if (b.names[i] == lower) return static_cast<int>(i) + b.min;
  return ParseInt(s);
}

// One comma-separated element: "*", "?", "a", "a-b", each with optional "/step".
Status ParseRange(const std::string& expr, const Bounds& b, uint64_t& bits, bool& star) {
  auto range_step = SplitOn(expr, '/');
  auto low_high = SplitOn(range_step[0], '-');
  int start, end;
  bool single = low_high.size() == 1;
  bool is_star = low_high[0] == "*" || low_high[0] == "?";
  if (is_star) {
    start = b.min, end = b.max;
  } else {
    BERTH_ASSIGN_OR_RETURN(start, ParseValue(low_high[0], b));
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      BERTH_ASSIGN_OR_RETURN(end, ParseValue(low_high[1], b));
    } else {
      return Err("too many hyphens: " + expr);
    }
  }
  int step = 1;
  if (range_step.size() == 2) {
    BERTH_ASSIGN_OR_RETURN(step, ParseInt(range_step[1]));
    if (single && !is_star) end = b.max;  // "N/step" means "N-max/step"
  } else if (range_step.size() > 2) {
    return Err("too many slashes: " + expr);
  }
  if (start < b.min)
    return Err("beginning of range (" + std::to_string(start) + ") below minimum (" +
               std::to_string(b.min) + "): " + expr);
  if (end > b.max)
    return Err("end of range (" + std::to_string(end) + ") above maximum (" +
               std::to_string(b.max) + "): " + expr);
  if (start > end)
    return Err("beginning of range (" + std::to_string(start) + ") beyond end of range (" +
               std::to_string(end) + "): " + expr);
  if (step == 0) return Err("step of range should be a positive number: " + expr);
  if (is_star && step == 1) star = true;
  for (int v = start; v <= end; v += step) bits |= uint64_t{1} << v;
  return Status::Ok();
}

Status ParseField(const std::string& field, const Bounds& b, uint64_t& bits, bool& star) {
  for (const auto& expr : SplitOn(field, ','))
    BERTH_RETURN_IF_ERROR(ParseRange(expr, b, bits, star));
  return Status::Ok();
}

// Go time.ParseDuration for the common units.
Result<int64_t> ParseDuration(std::string_view s) {
  int64_t total = 0;
  size_t i = 0;
  if (s.empty()) return Err("time: invalid duration \"" + std::string(s) + "\"");
  while (i < s.size()) {
    size_t j = i;
    int64_t n = 0;
    while (j < s.size() && isdigit(static_cast<unsigned char>(s[j]))) n = n * 10 + (s[j++] - '0');
    if (j == i) return Err("time: invalid duration \"" + std::string(s) + "\"");
    size_t k = j;
    while (k < s.size() && isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string_view unit = s.substr(j, k - j);
    if (unit == "h")
      total += n * 3600;
    else if (unit == "m")
      total += n * 60;
    else if (unit == "s")
      total += n;
    else if (unit == "ms" || unit == "us" || unit == "ns")
      total += 0;
    else
      return Err("time: missing unit in duration \"" + std::string(s) + "\"");
    i = k;
  }
  return total;
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view spec) {
  std::vector<std::string> fields;
  {
    std::string cur;
    for (char c : spec) {
      if (isspace(static_cast<unsigned char>(c))) {
        if (!cur.empty()) fields.push_back(cur), cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) fields.push_back(cur);
  }
  if (fields.empty()) return Err("empty spec string");
  // A leading TZ=/CRON_TZ= is accepted by the parser; CronJob validation
  // rejects it separately.
  if (fields[0].starts_with("TZ=") || fields[0].starts_with("CRON_TZ="))
    fields.erase(fields.begin());
  CronSchedule s;
  if (!fields.empty() && fields[0].starts_with("@")) {
    const std::string& d = fields[0];
    std::string five;
    if (d == "@yearly" || d == "@annually")
      five = "0 0 1 1 *";
    else if (d == "@monthly")
      five = "0 0 1 * *";
    else if (d == "@weekly")
      five = "0 0 * * 0";
    else if (d == "@daily" || d == "@midnight")
      five = "0 0 * * *";
    else if (d == "@hourly")
      five = "0 * * * *";
    else if (d == "@every" && fields.size() == 2) {
      BERTH_ASSIGN_OR_RETURN(int64_t secs, ParseDuration(fields[1]));
      s.every_ = secs < 1 ? 1 : secs;
      return s;
    } else {
      return Err("unrecognized descriptor: " + d);
    }
    return Parse(five);
  }
  if (fields.size() != 5) {
    std::string joined;
    for (const auto& f : fields) joined += (joined.empty() ? "" : " ") + f;
    return Err("expected exactly 5 fields, found " + std::to_string(fields.size()) + ": [" +
               joined + "]");
  }
  bool unused = false;
  BERTH_RETURN_IF_ERROR(ParseField(fields[0], kMinute, s.minute_, unused));
  BERTH_RETURN_IF_ERROR(ParseField(fields[1], kHour, s.hour_, unused));
  BERTH_RETURN_IF_ERROR(ParseField(fields[2], kDom, s.dom_, s.dom_star_));
  BERTH_RETURN_IF_ERROR(ParseField(fields[3], kMonth, s.month_, unused));
  BERTH_RETURN_IF_ERROR(ParseField(fields[4], kDow, s.dow_, s.dow_star_));
  return s;
}

int64_t CronSchedule::Next(int64_t t) const {
  if (every_ > 0) return t - t % every_ + every_;
  time_t cur = static_cast<time_t>(t - t % 60 + 60);
  const time_t limit = cur + 5LL * 366 * 24 * 3600;
  while (cur < limit) {
    struct tm tm;
    gmtime_r(&cur, &tm);
    if (!(month_ >> (tm.tm_mon + 1) & 1)) {  // to the first minute of next month
      tm.tm_mon += 1, tm.tm_mday = 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
      cur = timegm(&tm);
      continue;
    }
    bool dom = dom_ >> tm.tm_mday & 1, dow = dow_ >> tm.tm_wday & 1;
    bool day_ok = (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
    if (!day_ok) {
      tm.tm_mday += 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
      cur = timegm(&tm);
      continue;
    }
    if (!(hour_ >> tm.tm_hour & 1)) {
      tm.tm_hour += 1, tm.tm_min = 0, tm.tm_sec = 0;
      cur = timegm(&tm);
      continue;
    }
    if (!(minute_ >> tm.tm_min & 1)) {
      cur += 60;
      continue;
    }
    return cur;
  }
  return -1;
}

}  // namespace berth::kinds
