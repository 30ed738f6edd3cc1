#include "monitor/rules/manager.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/time.h"
#include "monitor/promql/parser.h"
#include "monitor/rules/template.h"

namespace berth::monitor::rules {
namespace {

constexpr int64_t kNever = INT64_MIN;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Go's time.Time JSON form (RFC 3339 with trailing-zero-free fraction) of a
// millisecond time; Go's zero time for "never".
std::string TimeJson(int64_t ms) {
  if (ms == kNever) return "0001-01-01T00:00:00Z";
  return FormatMillisUtc(ms, 'T', "Z");
}

// Go's encoding/json prints integral floats without a fraction.
Json Number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return static_cast<int64_t>(v);
  return v;
}

Json LabelsJson(const Labels& ls) {
  Json j = Json::object();
  for (const auto& l : ls) j[l.name] = l.value;
  return j;
}

Json MapJson(const std::map<std::string, std::string>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

enum class AlertState { kInactive, kPending, kFiring };

const char* StateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "";
}

struct ActiveAlert {
  Labels labels;
  Labels annotations;
  AlertState state = AlertState::kPending;
  double value = 0;
  int64_t active_at = 0;
  int64_t fired_at = kNever;
  int64_t resolved_at = kNever;
  int64_t last_sent_at = kNever;
  int64_t valid_until = kNever;
  int64_t keep_firing_since = kNever;
};

struct RuleState {
  RuleDef def;  // labels merged with the group's
  promql::ExprPtr expr;
  std::string query;  // the expression as Prometheus prints it
  std::vector<std::pair<std::string, Template>> label_tmpls, annotation_tmpls;

  // Guarded by Group::state_mu (read by the API).
  std::string health = "unknown";
  std::string last_error;
  double eval_seconds = 0;
  int64_t last_eval = kNever;
  std::map<Labels, ActiveAlert> active;

  // Guarded by Group::eval_mu.
  std::set<Labels> series_prev;
  bool restored = false;  // the `for` state was restored (or needs no restoring)

  std::string NameAndLabels() const { return def.Name() + MapJson(def.labels).dump(); }
};

struct Group {
  std::string source;
  RuleGroupDef def;
  std::string text;
  int64_t interval_ms = 0;
  int64_t query_offset_ms = 0;
  int64_t phase_ms = 0;
  std::vector<std::unique_ptr<RuleState>> rules;

  std::mutex eval_mu;  // one evaluation at a time; guards series state
  bool retired = false;
  std::vector<Labels> stale_series;  // of rules removed by a reload

  mutable std::mutex state_mu;
  int64_t last_eval = kNever;
  double eval_seconds = 0;

  int64_t next_eval_ms = 0;  // guarded by RuleManager::Impl::mu
};

Result<std::shared_ptr<Group>> BuildGroup(const std::string& source, const RuleGroupDef& def,
                                          const RuleManagerOptions& opts) {
  auto g = std::make_shared<Group>();
  g->source = source;
  g->def = def;
  g->text = def.Text();
  g->interval_ms = def.interval_ms > 0 ? def.interval_ms : opts.default_interval_ms;
  if (g->interval_ms <= 0) g->interval_ms = 60'000;
  g->query_offset_ms =
      def.query_offset_ms >= 0 ? def.query_offset_ms : opts.default_query_offset_ms;
  g->phase_ms =
      static_cast<int64_t>(Fnv1a(source + ";" + def.name) % static_cast<uint64_t>(g->interval_ms));
  for (const auto& rd : def.rules) {
    auto r = std::make_unique<RuleState>();
    r->def = rd;
    for (const auto& [k, v] : def.labels) r->def.labels.emplace(k, v);  // rule labels win
    auto e = promql::Parse(rd.expr);
    if (!e.ok()) return Invalid("could not parse expression: " + e.status().message());
    r->expr = std::move(e).value();
    r->query = promql::Format(*r->expr);
    if (rd.IsAlert()) {
      for (const auto& [k, v] : r->def.labels) {
        auto t = Template::Parse(v, "__alert_" + rd.alert);
        if (!t.ok()) return t.status();
        r->label_tmpls.emplace_back(k, std::move(t).value());
      }
      for (const auto& [k, v] : r->def.annotations) {
        auto t = Template::Parse(v, "__alert_" + rd.alert);
        if (!t.ok()) return t.status();
        r->annotation_tmpls.emplace_back(k, std::move(t).value());
      }
    }
    g->rules.push_back(std::move(r));
  }
  return g;
}

// Moves the state of `from` into `to` (a changed version of the same group):
// rules match by name and labels, in order; series of old rules that found
// no match are marked stale at `to`'s next evaluation.
void CopyState(Group& from, Group& to) {
  {
    std::lock_guard<std::mutex> s(from.state_mu);
    to.last_eval = from.last_eval;
    to.eval_seconds = from.eval_seconds;
  }
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < from.rules.size(); ++i)
    by_key[from.rules[i]->NameAndLabels()].push_back(i);
  std::vector<bool> used(from.rules.size(), false);
  for (auto& r : to.rules) {
    auto it = by_key.find(r->NameAndLabels());
    if (it == by_key.end() || it->second.empty()) continue;
    size_t fi = it->second.front();
    it->second.erase(it->second.begin());
    used[fi] = true;
    RuleState& f = *from.rules[fi];
    r->series_prev = f.series_prev;
    r->restored = f.restored;
    std::lock_guard<std::mutex> s(from.state_mu);
    r->health = f.health;
    r->last_error = f.last_error;
    r->eval_seconds = f.eval_seconds;
    r->last_eval = f.last_eval;
    if (r->def.IsAlert() && f.def.IsAlert()) r->active = f.active;
  }
  to.stale_series = from.stale_series;
  for (size_t i = 0; i < from.rules.size(); ++i)
    if (!used[i])
      for (const auto& ls : from.rules[i]->series_prev) to.stale_series.push_back(ls);
}

}  // namespace

std::string TableLinkForExpression(std::string_view expr) {
  std::string out = "/graph?g0.expr=";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : expr) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out + "&g0.tab=1";
}

struct RuleManager::Impl {
  Storage* storage;
  const promql::Engine* engine;
  AlertSink* sink;
  RuleManagerOptions opts;

  std::mutex update_mu;  // serialises SetGroups/RemoveSource
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<std::shared_ptr<Group>>> sources;
  bool started = false;
  bool stopping = false;
  std::thread thread;

  int64_t Now() const { return opts.clock ? opts.clock() : SystemNowMs(); }
  // The latest evaluation slot of `g` at or before `t`.
  static int64_t SlotAtOrBefore(const Group& g, int64_t t) {
    int64_t m = (t - g.phase_ms) % g.interval_ms;
    if (m < 0) m += g.interval_ms;
    return t - m;
  }

  void Run();
  void EvaluateGroup(Group& g, int64_t t);
  void EvaluateRule(Group& g, RuleState& r, int64_t t);
  Result<promql::Vector> Query(const promql::Expr& e, int64_t t) const;
  Result<std::vector<TemplateSample>> TemplateQuery(const std::string& q, int64_t t) const;
  template <class SeriesFn>
  void RestoreForState(RuleState& r, int64_t ts, const SeriesFn& series);
  Status EvalAlert(Group& g, RuleState& r, const promql::Vector& res, int64_t t,
                   promql::Vector* out, std::vector<Alert>* send);
  void MarkStale(Group& g);
};

RuleManager::RuleManager(Storage* storage, const promql::Engine* engine, AlertSink* sink,
                         RuleManagerOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->storage = storage;
  impl_->engine = engine;
  impl_->sink = sink;
  impl_->opts = std::move(opts);
}

RuleManager::~RuleManager() { Stop(); }

Status RuleManager::SetGroups(const std::string& source, const std::vector<RuleGroupDef>& groups) {
  BERTH_RETURN_IF_ERROR(ValidateRuleGroups(groups));
  std::vector<std::shared_ptr<Group>> built;
  for (const auto& def : groups) {
    auto g = BuildGroup(source, def, impl_->opts);
    if (!g.ok()) return Invalid("group " + QuoteString(def.name) + ": " + g.status().message());
    built.push_back(std::move(g).value());
  }
  std::lock_guard<std::mutex> u(impl_->update_mu);
  std::vector<std::shared_ptr<Group>> old;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (auto it = impl_->sources.find(source); it != impl_->sources.end()) old = it->second;
  }
  std::vector<std::shared_ptr<Group>> next, removed;
  std::set<Group*> kept;
  for (auto& g : built) {
    std::shared_ptr<Group> prev;
    for (auto& o : old)
      if (o->def.name == g->def.name) prev = o;
    if (prev && prev->text == g->text) {
      next.push_back(prev);  // unchanged: keep it and its schedule as they are
      kept.insert(prev.get());
      continue;
    }
    if (prev) {
      std::lock_guard<std::mutex> e(prev->eval_mu);
      CopyState(*prev, *g);
      // The old group's state now lives on in g: it must not run again.
      prev->retired = true;
      kept.insert(prev.get());
    }
    next.push_back(g);
  }
  for (auto& o : old)
    if (!kept.count(o.get())) removed.push_back(o);
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    int64_t now = impl_->Now();
    for (auto& g : next)
      if (!kept.count(g.get()) || g->next_eval_ms == 0)
        g->next_eval_ms = Impl::SlotAtOrBefore(*g, now) + g->interval_ms;
    if (next.empty())
      impl_->sources.erase(source);
    else
      impl_->sources[source] = next;
  }
  impl_->cv.notify_all();
  for (auto& g : removed) impl_->MarkStale(*g);
  return Status::Ok();
}

void RuleManager::RemoveSource(const std::string& source) {
  std::lock_guard<std::mutex> u(impl_->update_mu);
  std::vector<std::shared_ptr<Group>> removed;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto it = impl_->sources.find(source);
    if (it == impl_->sources.end()) return;
    removed = std::move(it->second);
    impl_->sources.erase(it);
  }
  impl_->cv.notify_all();
  for (auto& g : removed) impl_->MarkStale(*g);
}

std::vector<std::string> RuleManager::Sources() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [s, _] : impl_->sources) out.push_back(s);
  return out;
}

// A removed group's series end now: staleness markers at the current time
// (after its last evaluation, so the TSDB accepts them).
void RuleManager::Impl::MarkStale(Group& g) {
  std::lock_guard<std::mutex> e(g.eval_mu);
  if (g.retired) return;
  g.retired = true;
  int64_t t = Now();
  {
    std::lock_guard<std::mutex> s(g.state_mu);
    if (g.last_eval != kNever) t = std::max(t, g.last_eval + 1);
  }
  auto app = storage->NewAppender();
  for (auto& r : g.rules)
    for (const auto& ls : r->series_prev) (void)app->Append(ls, t, StaleNaN());
  for (const auto& ls : g.stale_series) (void)app->Append(ls, t, StaleNaN());
  Status st = app->Commit();
  if (!st.ok())
    log::Warn("rule group staleness markers failed",
              log::Fields()("group", g.def.name)("source", g.source)("err", st.message()));
  for (auto& r : g.rules) r->series_prev.clear();
  g.stale_series.clear();
}

void RuleManager::Start() {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->stopping = false;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void RuleManager::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (!impl_->started) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->started = false;
}

void RuleManager::Impl::Run() {
  pthread_setname_np(pthread_self(), "berth-rules");
  std::unique_lock<std::mutex> lk(mu);
  while (!stopping) {
    int64_t now = Now();
    std::vector<std::pair<std::shared_ptr<Group>, int64_t>> due;
    int64_t next = INT64_MAX;
    for (auto& [_, gs] : sources) {
      for (auto& g : gs) {
        if (g->next_eval_ms <= now) {
          // Behind schedule: evaluate at the latest slot, skipping missed ones.
          int64_t slot = SlotAtOrBefore(*g, now);
          due.emplace_back(g, slot);
          g->next_eval_ms = slot + g->interval_ms;
        }
        next = std::min(next, g->next_eval_ms);
      }
    }
    if (!due.empty()) {
      lk.unlock();
      for (auto& [g, t] : due) EvaluateGroup(*g, t);
      lk.lock();
      continue;
    }
    if (next == INT64_MAX) {
      cv.wait(lk);
    } else {
      cv.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(1, next - now)));
    }
  }
}

Status RuleManager::EvaluateGroupAt(const std::string& source, const std::string& group,
                                    int64_t t_ms) {
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto it = impl_->sources.find(source);
    if (it != impl_->sources.end())
      for (auto& x : it->second)
        if (x->def.name == group) g = x;
  }
  if (!g) return NotFound("rule group " + QuoteString(group) + " of " + QuoteString(source));
  impl_->EvaluateGroup(*g, t_ms);
  return Status::Ok();
}

Result<promql::Vector> RuleManager::Impl::Query(const promql::Expr& e, int64_t t) const {
  auto q = storage->NewQuerier();
  auto r = engine->InstantExpr(*q, e, t);
  if (!r.ok()) return r.status();
  if (r->type == promql::ValueType::kVector) return std::move(r->vector);
  if (r->type == promql::ValueType::kScalar)
    return promql::Vector{{Labels(), r->scalar.t, r->scalar.v}};
  return Invalid("rule result is not a vector or scalar");
}

Result<std::vector<TemplateSample>> RuleManager::Impl::TemplateQuery(const std::string& text,
                                                                     int64_t t) const {
  auto e = promql::Parse(text);
  if (!e.ok()) return e.status();
  auto v = Query(**e, t);
  if (!v.ok()) return v.status();
  std::vector<TemplateSample> out;
  for (auto& s : *v) out.push_back({std::move(s.metric), s.v});
  return out;
}

void RuleManager::Impl::EvaluateGroup(Group& g, int64_t t) {
  std::lock_guard<std::mutex> e(g.eval_mu);
  if (g.retired) return;
  auto start = std::chrono::steady_clock::now();
  if (!g.stale_series.empty()) {
    auto app = storage->NewAppender();
    for (const auto& ls : g.stale_series) (void)app->Append(ls, t - g.query_offset_ms, StaleNaN());
    (void)app->Commit();
    g.stale_series.clear();
  }
  for (auto& r : g.rules) EvaluateRule(g, *r, t);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> s(g.state_mu);
  g.last_eval = t;
  g.eval_seconds = secs;
}

void RuleManager::Impl::EvaluateRule(Group& g, RuleState& r, int64_t t) {
  auto start = std::chrono::steady_clock::now();
  const int64_t ts = t - g.query_offset_ms;
  auto finish = [&](const Status& st) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard<std::mutex> s(g.state_mu);
    r.health = st.ok() ? "ok" : "err";
    r.last_error = st.ok() ? "" : st.message();
    r.eval_seconds = secs;
    r.last_eval = t;
  };

  auto res = Query(*r.expr, ts);
  if (!res.ok()) {
    finish(res.status());
    return;
  }
  promql::Vector out;
  std::vector<Alert> send;
  if (r.def.IsAlert()) {
    Status st = EvalAlert(g, r, *res, t, &out, &send);
    if (!st.ok()) {
      finish(st);
      return;
    }
    if (!send.empty() && sink) sink->Send(std::move(send));
  } else {
    std::set<Labels> seen;
    for (auto& s : *res) {
      std::vector<Label> ls(s.metric.begin(), s.metric.end());
      ls.push_back({std::string(kMetricName), r.def.record});
      for (const auto& [k, v] : r.def.labels) ls.push_back({k, v});
      Labels out_ls(std::move(ls));  // later entries win: rule labels override
      if (!seen.insert(out_ls).second) {
        finish(
            Invalid("vector contains metrics with the same labelset after applying rule labels"));
        return;
      }
      // A histogram result stays a histogram (Prometheus appends it with
      // AppendHistogram), rather than the 0 its float part holds.
      out.push_back({std::move(out_ls), ts, s.v, s.h});
    }
    if (g.def.limit > 0 && static_cast<int64_t>(out.size()) > g.def.limit) {
      finish(Invalid("exceeded limit of " + std::to_string(g.def.limit) + " with " +
                     std::to_string(out.size()) + " series"));
      return;
    }
  }

  Status health;
  auto app = storage->NewAppender();
  std::set<Labels> returned;
  int rejected = 0;
  for (const auto& s : out) {
    Status st = s.h ? app->AppendHistogram(s.metric, ts, *s.h) : app->Append(s.metric, ts, s.v);
    if (st.ok()) {
      returned.insert(s.metric);
    } else if (st.code() == Code::kInvalid) {
      ++rejected;  // out of order or duplicate: a warning in Prometheus too
    } else if (health.ok()) {
      health = st;
    }
  }
  if (rejected > 0)
    log::Warn("rule samples rejected",
              log::Fields()("group", g.def.name)("rule", r.def.Name())("count", rejected));
  for (const auto& ls : r.series_prev)
    if (!returned.count(ls)) (void)app->Append(ls, ts, StaleNaN());
  Status cst = app->Commit();
  if (!cst.ok()) {
    finish(cst);
    return;
  }
  r.series_prev = std::move(returned);
  finish(health);
}

// What Prometheus's RestoreForState does, for the alerts of a rule's first
// evaluation (all pending, active since ts): each takes its start from the
// ALERTS_FOR_STATE series a previous run wrote.
template <class SeriesFn>
void RuleManager::Impl::RestoreForState(RuleState& r, int64_t ts, const SeriesFn& series) {
  auto q = storage->NewQuerier();
  for (auto& [_, a] : r.active) {
    if (a.state != AlertState::kPending) continue;
    Labels want = series(a, true);
    std::vector<Matcher> ms;
    for (LabelView l : want) {
      auto m = Matcher::Make(Matcher::Op::kEq, std::string(l.name), std::string(l.value));
      if (m.ok()) ms.push_back(std::move(*m));
    }
    auto found = q->Select(ts - opts.for_outage_tolerance_ms, ts, ms);
    if (!found.ok()) {
      log::Warn("restoring alert state failed",
                log::Fields()("alert", r.def.alert)("err", found.status().message()));
      return;
    }
    for (const SeriesSamples& s : *found) {
      if (s.labels != want || s.samples.empty() || IsStaleNaN(s.samples.back().v)) continue;
      // Whole seconds, as the series holds them.
      int64_t down_at = s.samples.back().t / 1000 * 1000;
      int64_t active_at = static_cast<int64_t>(s.samples.back().v) * 1000;
      int64_t remaining = r.def.for_ms - (down_at - active_at);
      if (remaining <= 0) {
        // It was firing: the transition below fires it again.
      } else if (remaining < opts.for_grace_period_ms) {
        active_at = ts + opts.for_grace_period_ms - r.def.for_ms;
      } else {
        active_at += ts - down_at;  // the time it spent down does not count
      }
      a.active_at = active_at;
    }
  }
}

Status RuleManager::Impl::EvalAlert(Group& g, RuleState& r, const promql::Vector& res, int64_t t,
                                    promql::Vector* out, std::vector<Alert>* send) {
  const int64_t ts = t - g.query_offset_ms;
  TemplateQueryFunc qf = [this, t](const std::string& q) { return TemplateQuery(q, t); };
  std::map<Labels, ActiveAlert> fresh;
  for (const auto& s : res) {
    // A histogram sample alerts like a float one. Prometheus hands templates
    // the histogram itself as $value; Berth's templates know floats only, so
    // $value is the histogram's count (its observations), the closest float.
    // The alert's own value stays the sample's float part, 0, as Prometheus's
    // Alert.Value = smpl.F.
    TemplateData data{s.metric, opts.external_labels, opts.external_url, s.h ? s.h->count : s.v};
    auto expand = [&](const Template& tm) {
      auto x = tm.Execute(data, qf);
      if (x.ok()) return std::move(x).value();
      log::Warn("expanding alert template failed",
                log::Fields()("alert", r.def.alert)("err", x.status().message()));
      return "<error expanding template: error executing template __alert_" + r.def.alert + ": " +
             x.status().message() + ">";
    };
    std::vector<Label> ls;
    for (const auto& l : s.metric)
      if (l.name != kMetricName) ls.push_back(l);
    for (const auto& [k, tm] : r.label_tmpls) ls.push_back({k, expand(tm)});
    ls.push_back({"alertname", r.def.alert});
    std::vector<Label> ann;
    for (const auto& [k, tm] : r.annotation_tmpls) ann.push_back({k, expand(tm)});
    ActiveAlert a;
    a.labels = Labels(std::move(ls));
    a.annotations = Labels(std::move(ann));
    a.active_at = t;
    a.value = s.v;
    if (fresh.count(a.labels))
      return Invalid("vector contains metrics with the same labelset after applying alert labels");
    Labels key = a.labels;
    fresh.emplace(std::move(key), std::move(a));
  }

  Labels rule_labels;
  {
    std::vector<Label> rl;
    for (const auto& [k, v] : r.def.labels) rl.push_back({k, v});
    rule_labels = Labels(std::move(rl));
  }
  auto series = [&](const ActiveAlert& a, bool for_state) {
    std::vector<Label> ls(rule_labels.begin(), rule_labels.end());
    for (const auto& l : a.labels) ls.push_back(l);
    ls.push_back({std::string(kMetricName), for_state ? "ALERTS_FOR_STATE" : "ALERTS"});
    ls.push_back({"alertname", r.def.alert});
    if (!for_state) ls.push_back({"alertstate", StateName(a.state)});
    return Labels(std::move(ls));
  };

  std::lock_guard<std::mutex> lk(g.state_mu);
  for (auto& [k, a] : fresh) {
    auto it = r.active.find(k);
    if (it != r.active.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = a.annotations;
      continue;
    }
    r.active[k] = std::move(a);
  }
  if (!r.restored) {
    if (r.def.for_ms >= opts.for_grace_period_ms) RestoreForState(r, ts, series);
    r.restored = true;
  }
  int64_t num_active = 0;
  for (auto it = r.active.begin(); it != r.active.end();) {
    ActiveAlert& a = it->second;
    if (!fresh.count(it->first)) {
      bool keep = false;
      if (a.state == AlertState::kFiring && r.def.keep_firing_for_ms > 0) {
        if (a.keep_firing_since == kNever) a.keep_firing_since = t;
        keep = t - a.keep_firing_since < r.def.keep_firing_for_ms;
      }
      bool drop = a.state == AlertState::kPending ||
                  (a.resolved_at != kNever && t - a.resolved_at > opts.resolved_retention_ms);
      if (a.state != AlertState::kInactive && !keep) {
        a.state = AlertState::kInactive;
        a.resolved_at = t;
      }
      if (drop) {
        it = r.active.erase(it);
        continue;
      }
      if (!keep) {
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since = kNever;
    }
    ++num_active;
    if (a.state == AlertState::kPending && t - a.active_at >= r.def.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at = t;
    }
    out->push_back({series(a, false), ts, 1});
    out->push_back({series(a, true), ts, static_cast<double>(a.active_at / 1000)});
    ++it;
  }
  if (g.def.limit > 0 && num_active > g.def.limit) {
    r.active.clear();
    out->clear();
    return Invalid("exceeded limit of " + std::to_string(g.def.limit) + " with " +
                   std::to_string(num_active) + " alerts");
  }

  // What Alertmanager hears: firing alerts when new and every resend delay,
  // resolved ones once resolved and again while retained.
  const int64_t delta = std::max(opts.resend_delay_ms, g.interval_ms);
  for (auto& [_, a] : r.active) {
    if (a.state == AlertState::kPending) continue;
    bool needs =
        (a.resolved_at != kNever && (a.last_sent_at == kNever || a.resolved_at > a.last_sent_at)) ||
        a.last_sent_at == kNever || a.last_sent_at + opts.resend_delay_ms < t;
    if (!needs) continue;
    a.last_sent_at = t;
    a.valid_until = t + 4 * delta;
    Alert x;
    std::vector<Label> ls;
    for (const auto& l : opts.external_labels) ls.push_back(l);
    for (const auto& l : a.labels) ls.push_back(l);  // the alert's own labels win
    x.labels = Labels(std::move(ls));
    x.annotations = a.annotations;
    x.starts_at_ms = a.fired_at == kNever ? a.active_at : a.fired_at;
    x.ends_at_ms = a.resolved_at != kNever ? a.resolved_at : a.valid_until;
    x.generator_url = opts.external_url + TableLinkForExpression(r.query);
    send->push_back(std::move(x));
  }
  return Status::Ok();
}

namespace {

Json AlertJson(const ActiveAlert& a) {
  Json j = {{"labels", LabelsJson(a.labels)},
            {"annotations", LabelsJson(a.annotations)},
            {"state", StateName(a.state)},
            {"activeAt", TimeJson(a.active_at)}};
  if (a.keep_firing_since != kNever) j["keepFiringSince"] = TimeJson(a.keep_firing_since);
  j["value"] = GoFormatEShortest(a.value);
  return j;
}

}  // namespace

Json RuleManager::RulesJson() const {
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    for (auto& [_, gs] : impl_->sources)
      for (auto& g : gs) groups.push_back(g);
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    if (a->source != b->source) return a->source < b->source;
    return a->def.name < b->def.name;
  });
  Json out = Json::array();
  for (auto& g : groups) {
    std::lock_guard<std::mutex> s(g->state_mu);
    Json rules = Json::array();
    for (auto& r : g->rules) {
      Json j;
      if (r->def.IsAlert()) {
        AlertState st = AlertState::kInactive;
        Json alerts = Json::array();
        for (const auto& [_, a] : r->active) {
          if (a.state == AlertState::kInactive) continue;
          if (a.state == AlertState::kFiring || st == AlertState::kInactive) st = a.state;
          alerts.push_back(AlertJson(a));
        }
        j = {{"state", StateName(st)},
             {"name", r->def.alert},
             {"query", r->query},
             {"duration", Number(static_cast<double>(r->def.for_ms) / 1000.0)},
             {"keepFiringFor", Number(static_cast<double>(r->def.keep_firing_for_ms) / 1000.0)},
             {"labels", MapJson(r->def.labels)},
             {"annotations", MapJson(r->def.annotations)},
             {"alerts", alerts},
             {"health", r->health}};
      } else {
        j = {{"name", r->def.record}, {"query", r->query}};
        if (!r->def.labels.empty()) j["labels"] = MapJson(r->def.labels);
        j["health"] = r->health;
      }
      if (!r->last_error.empty()) j["lastError"] = r->last_error;
      j["evaluationTime"] = Number(r->eval_seconds);
      j["lastEvaluation"] = TimeJson(r->last_eval);
      j["type"] = r->def.IsAlert() ? "alerting" : "recording";
      rules.push_back(std::move(j));
    }
    out.push_back({{"name", g->def.name},
                   {"file", g->source},
                   {"rules", rules},
                   {"interval", Number(static_cast<double>(g->interval_ms) / 1000.0)},
                   {"limit", g->def.limit},
                   {"evaluationTime", Number(g->eval_seconds)},
                   {"lastEvaluation", TimeJson(g->last_eval)}});
  }
  return Json{{"groups", out}};
}

Json RuleManager::AlertsJson() const {
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    for (auto& [_, gs] : impl_->sources)
      for (auto& g : gs) groups.push_back(g);
  }
  Json alerts = Json::array();
  for (auto& g : groups) {
    std::lock_guard<std::mutex> s(g->state_mu);
    for (auto& r : g->rules)
      for (const auto& [_, a] : r->active)
        if (a.state != AlertState::kInactive) alerts.push_back(AlertJson(a));
  }
  return Json{{"alerts", alerts}};
}

}  // namespace berth::monitor::rules
