// Standard 5-field cron schedules as CronJob accepts them (robfig/cron v3
// ParseStandard): "*/5 * * * *", names (JAN, MON), ranges with steps, '?',
// and the descriptors @yearly @annually @monthly @weekly @daily @midnight
// @hourly and "@every <duration>".
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace berth::kinds {

class CronSchedule {
 public:
  // Error messages follow robfig/cron, which the apiserver shows verbatim.
  static Result<CronSchedule> Parse(std::string_view spec);
  // The first activation strictly after `unix_seconds` (UTC), or -1 if none
  // within five years.
  int64_t Next(int64_t unix_seconds) const;

 private:
  uint64_t minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  bool dom_star_ = false, dow_star_ = false;
  int64_t every_ = 0;  // seconds, for "@every"
};

}  // namespace berth::kinds
