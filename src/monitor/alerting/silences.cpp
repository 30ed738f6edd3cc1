#include "monitor/alerting/silences.h"

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"
#include "core/log.h"
#include "monitor/alerting/wire.h"

namespace berth::monitor::alerting {
namespace {

bool SameMatchers(const std::vector<Matcher>& a, const std::vector<Matcher>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].String() != b[i].String()) return false;
  return true;
}

Result<std::string> StringField(const Json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Invalid(std::string(key) + " in body is required");
    return std::string();
  }
  if (!it->is_string()) return Invalid(std::string(key) + " in body must be of type string");
  return it->get<std::string>();
}

}  // namespace

Silence::State Silence::StateAt(int64_t now_ms) const {
  if (now_ms >= ends_at_ms) return State::kExpired;
  if (now_ms < starts_at_ms) return State::kPending;
  return State::kActive;
}

const char* Silence::StateName(State s) {
  switch (s) {
    case State::kPending:
      return "pending";
    case State::kActive:
      return "active";
    case State::kExpired:
      return "expired";
  }
  return "expired";
}

Json MatcherToJson(const Matcher& m) {
  bool re = m.op() == Matcher::Op::kRe || m.op() == Matcher::Op::kNre;
  bool eq = m.op() == Matcher::Op::kEq || m.op() == Matcher::Op::kRe;
  return {{"name", m.name()}, {"value", m.value()}, {"isRegex", re}, {"isEqual", eq}};
}

Json SilenceToJson(const Silence& s, int64_t now_ms) {
  Json ms = Json::array();
  for (const auto& m : s.matchers) ms.push_back(MatcherToJson(m));
  return {{"id", s.id},
          {"status", {{"state", Silence::StateName(s.StateAt(now_ms))}}},
          {"updatedAt", FormatTimeMs(s.updated_at_ms)},
          {"matchers", std::move(ms)},
          {"startsAt", FormatTimeMs(s.starts_at_ms)},
          {"endsAt", FormatTimeMs(s.ends_at_ms)},
          {"createdBy", s.created_by},
          {"comment", s.comment}};
}

Result<Silence> SilenceFromJson(const Json& j) {
  if (!j.is_object()) return Invalid("silence must be a JSON object");
  Silence s;
  auto id = StringField(j, "id", false);
  if (!id.ok()) return id.status();
  s.id = *id;
  auto ms = j.find("matchers");
  if (ms == j.end() || !ms->is_array()) return Invalid("matchers in body is required");
  for (const auto& m : *ms) {
    if (!m.is_object()) return Invalid("matchers in body must be objects");
    auto name = StringField(m, "name", true);
    if (!name.ok()) return name.status();
    auto value = StringField(m, "value", true);
    if (!value.ok()) return value.status();
    auto re = m.find("isRegex");
    if (re == m.end() || !re->is_boolean()) return Invalid("isRegex in body is required");
    bool eq = true;
    if (auto e = m.find("isEqual"); e != m.end() && !e->is_null()) {
      if (!e->is_boolean()) return Invalid("isEqual in body must be of type boolean");
      eq = e->get<bool>();
    }
    if (!IsValidLabelName(*name)) return Invalid("invalid label name \"" + *name + "\"");
    Matcher::Op op = re->get<bool>() ? (eq ? Matcher::Op::kRe : Matcher::Op::kNre)
                                     : (eq ? Matcher::Op::kEq : Matcher::Op::kNeq);
    auto matcher = Matcher::Make(op, *name, *value);
    if (!matcher.ok()) return Invalid("invalid matcher: " + matcher.status().message());
    s.matchers.push_back(std::move(matcher).value());
  }
  for (auto [key, out] : {std::pair{"startsAt", &s.starts_at_ms}, {"endsAt", &s.ends_at_ms}}) {
    auto v = StringField(j, key, true);
    if (!v.ok()) return v.status();
    auto t = ParseTimeMs(*v);
    if (!t.ok()) return Invalid(std::string(key) + ": " + t.status().message());
    *out = *t;
  }
  if (auto v = StringField(j, "updatedAt", false); v.ok() && !v->empty()) {
    auto t = ParseTimeMs(*v);
    if (t.ok()) s.updated_at_ms = *t;
  }
  auto by = StringField(j, "createdBy", false);
  if (!by.ok()) return by.status();
  s.created_by = *by;
  auto comment = StringField(j, "comment", false);
  if (!comment.ok()) return comment.status();
  s.comment = *comment;
  return s;
}

Status Silences::Validate(const Silence& s, int64_t now_ms) const {
  if (s.matchers.empty()) return Invalid("silence invalid: at least one matcher required");
  bool any = false;
  for (const auto& m : s.matchers) any = any || !m.MatchesEmpty();
  if (!any) return Invalid("silence invalid: at least one matcher must not match the empty string");
  if (s.ends_at_ms < s.starts_at_ms)
    return Invalid("silence invalid: end time must not be before start time");
  if (s.ends_at_ms <= now_ms) return Invalid("silence invalid: end time can't be in the past");
  return Status::Ok();
}

Result<std::string> Silences::Set(Silence s, int64_t now_ms) {
  std::lock_guard<std::mutex> g(mu_);
  if (s.starts_at_ms < now_ms) s.starts_at_ms = now_ms;
  BERTH_RETURN_IF_ERROR(Validate(s, now_ms));
  s.updated_at_ms = now_ms;
  if (!s.id.empty()) {
    auto it = by_id_.find(s.id);
    if (it == by_id_.end()) return NotFound("silence " + s.id + " not found");
    Silence& old = it->second;
    Silence::State st = old.StateAt(now_ms);
    bool in_place = st == Silence::State::kPending ||
                    (st == Silence::State::kActive && SameMatchers(old.matchers, s.matchers) &&
                     // A start moved to now by the clamp above is no change.
                     (s.starts_at_ms == old.starts_at_ms || s.starts_at_ms == now_ms));
    if (in_place) {
      if (st == Silence::State::kActive) s.starts_at_ms = old.starts_at_ms;
      old = std::move(s);
      PersistLocked();
      return old.id;
    }
    if (st != Silence::State::kExpired) {
      old.ends_at_ms = now_ms;
      if (old.starts_at_ms > now_ms) old.starts_at_ms = now_ms;
      old.updated_at_ms = now_ms;
    }
  }
  s.id = NewUUID();
  std::string id = s.id;
  by_id_[id] = std::move(s);
  PersistLocked();
  return id;
}

Status Silences::Expire(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return NotFound("silence " + id + " not found");
  Silence& s = it->second;
  if (s.StateAt(now_ms) == Silence::State::kExpired)
    return Invalid("silence " + id + " already expired");
  s.ends_at_ms = now_ms;
  if (s.starts_at_ms > now_ms) s.starts_at_ms = now_ms;
  s.updated_at_ms = now_ms;
  PersistLocked();
  return Status::Ok();
}

std::optional<Silence> Silences::Get(const std::string& id) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::vector<Silence> Silences::List() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<Silence> out;
  for (const auto& [_, s] : by_id_) out.push_back(s);
  return out;
}

std::vector<std::string> Silences::Mutes(const Labels& ls, int64_t now_ms) const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::string> out;
  for (const auto& [id, s] : by_id_)
    if (s.StateAt(now_ms) == Silence::State::kActive && MatchesAll(ls, s.matchers))
      out.push_back(id);
  return out;
}

void Silences::GC(int64_t now_ms, int64_t retention_ms) {
  std::lock_guard<std::mutex> g(mu_);
  bool changed = false;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second.ends_at_ms < now_ms - retention_ms) {
      it = by_id_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) PersistLocked();
}

Status Silences::Load() {
  if (state_file_.empty() || !FileExists(state_file_)) return Status::Ok();
  auto text = ReadFile(state_file_);
  if (!text.ok()) return text.status();
  auto j = ParseJson(*text);
  if (!j.ok()) return Invalid(state_file_ + ": " + j.status().message());
  if (!j->is_array()) return Invalid(state_file_ + ": expected a JSON array of silences");
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& e : *j) {
    auto s = SilenceFromJson(e);
    if (!s.ok()) return Invalid(state_file_ + ": " + s.status().message());
    if (s->id.empty()) continue;
    by_id_[s->id] = std::move(s).value();
  }
  return Status::Ok();
}

void Silences::PersistLocked() const {
  if (state_file_.empty()) return;
  Json a = Json::array();
  for (const auto& [_, s] : by_id_) a.push_back(SilenceToJson(s, 0));
  Status st = WriteFileAtomic(state_file_, a.dump(), 0600);
  // The in-memory silence stands; losing it at the next restart is the
  // lesser harm than refusing the request.
  if (!st.ok())
    log::Error("alertmanager: persisting silences", log::Fields()("error", st.message()));
}

}  // namespace berth::monitor::alerting
