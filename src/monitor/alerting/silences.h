// Silences: time-bounded sets of label matchers that mute the alerts they
// match, created and expired through the v2 API (amtool silence ...). They
// are kept in memory and, with a state file, written through to disk on every
// change so they outlive a restart. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor::alerting {

struct Silence {
  enum class State { kPending, kActive, kExpired };

  std::string id;  // UUID
  std::vector<Matcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;

  State StateAt(int64_t now_ms) const;
  static const char* StateName(State s);  // "pending", "active", "expired"
};

// The v2 API's gettableSilence (with status computed at now_ms), and the
// postableSilence it accepts (id optional; Invalid on a malformed body).
Json SilenceToJson(const Silence& s, int64_t now_ms);
Result<Silence> SilenceFromJson(const Json& j);
// The API's matcher object {name, value, isRegex, isEqual}.
Json MatcherToJson(const Matcher& m);

class Silences {
 public:
  // With a non-empty state_file, Load() reads it and every change rewrites it.
  explicit Silences(std::string state_file = "") : state_file_(std::move(state_file)) {}

  Status Load();

  // Creates a silence (empty id) or updates one. As in Alertmanager, an
  // update that cannot apply in place (the silence expired, or an active
  // silence's matchers or start change) expires the old silence and creates
  // a new one; the returned id is the one now in effect. NotFound for an
  // unknown id, Invalid for a silence that could never mute anything.
  Result<std::string> Set(Silence s, int64_t now_ms);
  // Ends a silence now. NotFound if unknown, Invalid if already expired.
  Status Expire(const std::string& id, int64_t now_ms);

  std::optional<Silence> Get(const std::string& id) const;
  std::vector<Silence> List() const;
  // Ids of the active silences whose matchers all match `ls`.
  std::vector<std::string> Mutes(const Labels& ls, int64_t now_ms) const;
  // Drops silences expired before now_ms - retention_ms.
  void GC(int64_t now_ms, int64_t retention_ms);

 private:
  Status Validate(const Silence& s, int64_t now_ms) const;
  void PersistLocked() const;

  std::string state_file_;
  mutable std::mutex mu_;
  std::map<std::string, Silence> by_id_;
};

}  // namespace berth::monitor::alerting
