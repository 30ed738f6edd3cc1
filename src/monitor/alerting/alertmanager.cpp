#include "monitor/alerting/alertmanager.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/log.h"
#include "monitor/alerting/wire.h"

namespace berth::monitor::alerting {

// An aggregation group: the alerts one route collects under one set of
// group_by label values, notified together.
struct Alertmanager::Group {
  uint64_t serial = 0;  // tells a rebuilt group from its predecessor
  const Route* route = nullptr;
  Labels group_labels;
  std::string key;  // Alertmanager's group key: route key ":" group labels
  std::map<uint64_t, StoredAlert> alerts;
  int64_t next_flush_ms = 0;
  bool has_flushed = false;
  // Deliveries of the last flush still running; the group does not flush
  // again until they finish, so the notification log they write is current.
  int in_flight = 0;
  bool flush_ok = true;
  // Resolved alerts of the last flush (fingerprint, update time): dropped
  // from the group once it was notified, unless they changed meanwhile.
  std::vector<std::pair<uint64_t, int64_t>> flushed_resolved;
};

// One notification for one integration, with its retry state.
struct Alertmanager::Job {
  std::shared_ptr<const Config> cfg;  // keeps `integration` valid
  std::string group_id;
  uint64_t group_serial = 0;
  Integration integration;
  std::string nflog_key;
  Notification notification;
  std::set<uint64_t> firing, resolved;  // what the log records on success
  int attempts = 0;
  int64_t next_attempt_ms = 0;
  int64_t deadline_ms = 0;  // no attempt starts after this
  bool running = false;
  std::shared_ptr<Notifier> notifier;  // set while running, for Cancel()
  std::chrono::steady_clock::time_point started;
  int64_t timeout_ms = 0;
  bool cancelled = false;
};

// For every inhibit rule, the firing source alerts by their values of the
// rule's `equal` labels.
struct Alertmanager::InhibitIndex {
  std::vector<std::unordered_map<std::string, std::vector<uint64_t>>> by_rule;
};

namespace {

bool Firing(const Alert& a, int64_t now) { return a.ends_at_ms == 0 || a.ends_at_ms > now; }

std::string EqualKey(const Labels& ls, const std::vector<std::string>& names) {
  std::string k;
  for (const auto& n : names) {
    k += ls.Get(n);
    k += '\xff';
  }
  return k;
}

std::string GroupId(const Route& r, const Labels& group_labels) {
  return std::to_string(r.id) + ":" + group_labels.String();
}

}  // namespace

Alertmanager::Alertmanager(std::shared_ptr<const Config> cfg, AlertmanagerOptions opts)
    : opts_(std::move(opts)),
      silences_(opts_.silences_file),
      started_ms_(opts_.clock ? opts_.clock() : NowMs()),
      cfg_(std::move(cfg)) {
  if (!opts_.clock) opts_.clock = NowMs;
  if (!opts_.notifier_factory) opts_.notifier_factory = DefaultNotifierFactory;
  if (opts_.max_attempts < 1) opts_.max_attempts = 1;
}

Result<std::unique_ptr<Alertmanager>> Alertmanager::FromFile(const std::string& path,
                                                             AlertmanagerOptions opts) {
  auto cfg = LoadConfigFile(path);
  if (!cfg.ok()) return cfg.status();
  auto am = std::make_unique<Alertmanager>(std::move(cfg).value(), std::move(opts));
  BERTH_RETURN_IF_ERROR(am->LoadSilences());
  return am;
}

Alertmanager::~Alertmanager() { Stop(); }

void Alertmanager::Start() {
  std::lock_guard<std::mutex> g(mu_);
  if (threaded_ || stopping_) return;
  threaded_ = true;
  threads_.emplace_back([this] { DispatcherLoop(); });
  for (int i = 0; i < std::max(1, opts_.notify_workers); ++i)
    threads_.emplace_back([this, i] { WorkerLoop(i); });
}

void Alertmanager::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& j : jobs_)
      if (j->running && j->notifier) j->notifier->Cancel();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::shared_ptr<const Config> Alertmanager::config() const {
  std::lock_guard<std::mutex> g(mu_);
  return cfg_;
}

void Alertmanager::Send(std::vector<Alert> alerts) {
  int64_t now = Now();
  std::lock_guard<std::mutex> g(mu_);
  for (auto& a : alerts) InsertLocked(std::move(a), now);
}

void Alertmanager::InsertLocked(Alert a, int64_t now) {
  if (a.labels.empty()) return;
  if (a.starts_at_ms == 0) a.starts_at_ms = now;
  // Alerts without an end resolve unless re-sent within resolve_timeout.
  if (a.ends_at_ms == 0) a.ends_at_ms = now + cfg_->global.resolve_timeout_ms;
  uint64_t fp = Fingerprint(a.labels);
  auto it = alerts_.find(fp);
  if (it != alerts_.end()) {
    const Alert& old = it->second.alert;
    // The same alert still (or again, before its end) firing keeps its
    // original start; one that ended before this one started is new.
    bool new_episode = !Firing(old, now) && a.starts_at_ms > old.ends_at_ms;
    if (!new_episode) a.starts_at_ms = std::min(a.starts_at_ms, old.starts_at_ms);
  }
  StoredAlert& sa = alerts_[fp];
  sa.alert = std::move(a);
  sa.fp = fp;
  sa.updated_ms = now;
  RouteLocked(sa, now);
}

void Alertmanager::RouteLocked(const StoredAlert& sa, int64_t now) {
  for (const Route* r : cfg_->route.Match(sa.alert.labels)) {
    Labels gl = r->group_by_all ? sa.alert.labels : sa.alert.labels.Keep(r->group_by);
    std::string id = GroupId(*r, gl);
    auto& slot = groups_[id];
    if (!slot) {
      slot = std::make_unique<Group>();
      slot->serial = next_group_serial_++;
      slot->route = r;
      slot->key = r->key + ":" + gl.String();
      slot->group_labels = std::move(gl);
      slot->next_flush_ms = now + r->group_wait_ms;
      poke_ = true;  // the dispatcher may be waiting a long tick
      cv_.notify_all();
    }
    // An alert that has been firing for longer than group_wait already (a
    // restart, a reload) need not wait again.
    if (!slot->has_flushed && sa.alert.starts_at_ms + r->group_wait_ms < now)
      slot->next_flush_ms = std::min(slot->next_flush_ms, now);
    slot->alerts[sa.fp] = sa;
  }
}

void Alertmanager::ApplyConfig(std::shared_ptr<const Config> cfg) {
  int64_t now = Now();
  std::lock_guard<std::mutex> g(mu_);
  cfg_ = std::move(cfg);
  // Deliveries in flight keep their old configuration alive and complete
  // against groups that no longer exist; their log entries still count.
  groups_.clear();
  for (const auto& [_, sa] : alerts_)
    if (Firing(sa.alert, now)) RouteLocked(sa, now);
}

Status Alertmanager::ReloadFromFile(const std::string& path) {
  auto cfg = LoadConfigFile(path);
  if (!cfg.ok()) return cfg.status();
  ApplyConfig(std::move(cfg).value());
  return Status::Ok();
}

Alertmanager::InhibitIndex Alertmanager::BuildInhibitIndexLocked(int64_t now) const {
  InhibitIndex idx;
  idx.by_rule.resize(cfg_->inhibit_rules.size());
  for (size_t i = 0; i < cfg_->inhibit_rules.size(); ++i) {
    const InhibitRule& r = cfg_->inhibit_rules[i];
    for (const auto& [fp, sa] : alerts_) {
      if (!Firing(sa.alert, now) || !MatchesAll(sa.alert.labels, r.source_matchers)) continue;
      idx.by_rule[i][EqualKey(sa.alert.labels, r.equal)].push_back(fp);
    }
  }
  return idx;
}

std::vector<std::string> Alertmanager::InhibitedByLocked(const StoredAlert& a,
                                                         const InhibitIndex& idx) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < cfg_->inhibit_rules.size(); ++i) {
    const InhibitRule& r = cfg_->inhibit_rules[i];
    if (!MatchesAll(a.alert.labels, r.target_matchers)) continue;
    auto it = idx.by_rule[i].find(EqualKey(a.alert.labels, r.equal));
    if (it == idx.by_rule[i].end()) continue;
    // An alert matching both sides cannot inhibit itself.
    for (uint64_t fp : it->second) {
      if (fp == a.fp) continue;
      out.push_back(FingerprintString(fp));
      break;
    }
    if (!out.empty()) break;
  }
  return out;
}

bool Alertmanager::NeedsUpdate(const NflogEntry* e, const std::set<uint64_t>& firing,
                               const std::set<uint64_t>& resolved, bool send_resolved,
                               int64_t repeat_ms, int64_t now) const {
  if (e == nullptr) return !firing.empty();
  if (!std::includes(e->firing.begin(), e->firing.end(), firing.begin(), firing.end())) return true;
  // Everything resolved: tell whoever heard it firing.
  if (firing.empty()) return !e->firing.empty();
  if (send_resolved &&
      !std::includes(e->resolved.begin(), e->resolved.end(), resolved.begin(), resolved.end()))
    return true;
  return now >= e->ts + repeat_ms;
}

void Alertmanager::Tick(int64_t now) {
  bool due = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    std::optional<InhibitIndex> idx;
    for (auto& [id, grp] : groups_) {
      if (grp->in_flight > 0 || now < grp->next_flush_ms) continue;
      if (!idx) idx = BuildInhibitIndexLocked(now);
      FlushLocked(*grp, now, *idx);
    }
    for (auto it = groups_.begin(); it != groups_.end();) {
      if (it->second->alerts.empty() && it->second->in_flight == 0)
        it = groups_.erase(it);
      else
        ++it;
    }
    GcLocked(now);
    // Wake the workers only for work: most ticks have none.
    due = NextAttemptLocked() <= now;
  }
  if (threaded_) {
    if (due) cv_.notify_all();
  } else {
    RunDueJobsInline(now);
  }
}

void Alertmanager::FlushLocked(Group& g, int64_t now, const InhibitIndex& idx) {
  g.next_flush_ms = now + g.route->group_interval_ms;
  g.has_flushed = true;
  g.flushed_resolved.clear();

  Notification base;
  base.receiver = g.route->receiver;
  base.group_key = g.key;
  base.group_labels = g.group_labels;
  base.external_url = opts_.external_url;
  std::set<uint64_t> firing, resolved;
  std::vector<NotifiedAlert> firing_alerts, resolved_alerts;
  for (const auto& [fp, sa] : g.alerts) {
    bool is_firing = Firing(sa.alert, now);
    if (!is_firing) g.flushed_resolved.push_back({fp, sa.updated_ms});
    if (!silences_.Mutes(sa.alert.labels, now).empty()) continue;
    if (!InhibitedByLocked(sa, idx).empty()) continue;
    NotifiedAlert na;
    na.labels = sa.alert.labels;
    na.annotations = sa.alert.annotations;
    na.starts_at_ms = sa.alert.starts_at_ms;
    na.ends_at_ms = sa.alert.ends_at_ms;
    na.resolved = !is_firing;
    na.generator_url = sa.alert.generator_url;
    na.fingerprint = FingerprintString(fp);
    (is_firing ? firing : resolved).insert(fp);
    (is_firing ? firing_alerts : resolved_alerts).push_back(std::move(na));
  }

  auto by_labels = [](const NotifiedAlert& a, const NotifiedAlert& b) {
    return a.labels < b.labels;
  };
  std::sort(firing_alerts.begin(), firing_alerts.end(), by_labels);
  std::sort(resolved_alerts.begin(), resolved_alerts.end(), by_labels);

  const Receiver* recv = cfg_->FindReceiver(g.route->receiver);
  g.flush_ok = true;
  g.in_flight = 0;
  if (recv != nullptr) {
    for (const Integration& in : IntegrationsOf(*recv)) {
      std::string key =
          g.key + "\x1f" + recv->name + "\x1f" + in.kind() + "\x1f" + std::to_string(in.index);
      auto e = nflog_.find(key);
      bool send_resolved = in.send_resolved();
      if (!NeedsUpdate(e == nflog_.end() ? nullptr : &e->second, firing, resolved, send_resolved,
                       g.route->repeat_interval_ms, now))
        continue;
      Notification n = base;
      n.alerts = firing_alerts;
      if (send_resolved)
        n.alerts.insert(n.alerts.end(), resolved_alerts.begin(), resolved_alerts.end());
      if (n.alerts.empty()) {
        // Only resolved alerts, which this integration does not want: record
        // that they were dealt with so they do not count as news later.
        nflog_[key] = {firing, resolved, now};
        continue;
      }
      auto job = std::make_shared<Job>();
      job->cfg = cfg_;
      job->group_id = GroupId(*g.route, g.group_labels);
      job->group_serial = g.serial;
      job->integration = in;
      job->nflog_key = key;
      job->notification = std::move(n);
      job->firing = firing;
      job->resolved = resolved;
      job->next_attempt_ms = now;
      job->deadline_ms = now + g.route->group_interval_ms;
      job->timeout_ms = in.webhook && in.webhook->timeout_ms > 0 ? in.webhook->timeout_ms
                                                                 : opts_.attempt_timeout_ms;
      jobs_.push_back(std::move(job));
      ++g.in_flight;
    }
  }
  if (g.in_flight == 0) FinishFlushLocked(g, true);
}

void Alertmanager::FinishFlushLocked(Group& g, bool ok) {
  // Resolved alerts that were delivered are done with; if a delivery failed
  // they stay, and the next flush tries again.
  if (ok) {
    for (const auto& [fp, updated] : g.flushed_resolved) {
      auto it = g.alerts.find(fp);
      if (it != g.alerts.end() && it->second.updated_ms == updated) g.alerts.erase(it);
    }
  }
  g.flushed_resolved.clear();
}

void Alertmanager::GcLocked(int64_t now) {
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    const Alert& a = it->second.alert;
    if (!Firing(a, now) && a.ends_at_ms < now - opts_.resolved_retention_ms)
      it = alerts_.erase(it);
    else
      ++it;
  }
  for (auto it = nflog_.begin(); it != nflog_.end();) {
    if (it->second.ts < now - opts_.nflog_retention_ms)
      it = nflog_.erase(it);
    else
      ++it;
  }
  silences_.GC(now, opts_.silence_retention_ms);
}

// --- delivery ---------------------------------------------------------------

int64_t Alertmanager::NextAttemptLocked() const {
  int64_t next = INT64_MAX;
  for (const auto& j : jobs_)
    if (!j->running) next = std::min(next, j->next_attempt_ms);
  return next;
}

std::shared_ptr<Alertmanager::Job> Alertmanager::TakeDueJobLocked(int64_t now) {
  for (auto& j : jobs_) {
    if (j->running || j->next_attempt_ms > now) continue;
    j->running = true;
    j->notifier = opts_.notifier_factory(j->integration);
    j->started = std::chrono::steady_clock::now();
    j->cancelled = false;
    return j;
  }
  return nullptr;
}

void Alertmanager::CompleteAttemptLocked(const std::shared_ptr<Job>& job, const Status& st,
                                         int64_t now) {
  job->running = false;
  job->notifier.reset();
  ++job->attempts;
  bool done = st.ok();
  if (st.ok()) {
    nflog_[job->nflog_key] = {job->firing, job->resolved, now};
  } else {
    int64_t backoff = opts_.initial_backoff_ms;
    for (int i = 1; i < job->attempts && backoff < opts_.max_backoff_ms; ++i) backoff *= 2;
    backoff = std::min(backoff, opts_.max_backoff_ms);
    bool permanent = st.code() == Code::kBadRequest || st.code() == Code::kInvalid;
    bool give_up = permanent || stopping_ || job->attempts >= opts_.max_attempts ||
                   now + backoff > job->deadline_ms;
    log::Warn("alertmanager: notify failed",
              log::Fields()("receiver", job->notification.receiver)(
                  "integration", job->integration.kind())("group", job->notification.group_key)(
                  "attempt", job->attempts)("retry", !give_up)("error", st.message()));
    if (!give_up) {
      job->next_attempt_ms = now + backoff;
      return;
    }
    done = true;
  }
  if (!done) return;
  jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
  auto it = groups_.find(job->group_id);
  if (it == groups_.end() || it->second->serial != job->group_serial) return;
  Group& g = *it->second;
  g.flush_ok = g.flush_ok && st.ok();
  if (--g.in_flight == 0) FinishFlushLocked(g, g.flush_ok);
}

void Alertmanager::RunDueJobsInline(int64_t now) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard<std::mutex> g(mu_);
      job = TakeDueJobLocked(now);
    }
    if (!job) break;
    Status st = job->notifier ? job->notifier->Notify(job->notification)
                              : Internal("no notifier for " + job->integration.kind());
    std::lock_guard<std::mutex> g(mu_);
    CompleteAttemptLocked(job, st, now);
    for (auto it = groups_.begin(); it != groups_.end();) {
      if (it->second->alerts.empty() && it->second->in_flight == 0)
        it = groups_.erase(it);
      else
        ++it;
    }
  }
}

void Alertmanager::WatchdogLocked() {
  auto now = std::chrono::steady_clock::now();
  for (auto& j : jobs_) {
    if (!j->running || j->cancelled || !j->notifier) continue;
    if (now - j->started > std::chrono::milliseconds(j->timeout_ms)) {
      j->cancelled = true;
      j->notifier->Cancel();
    }
  }
}

void Alertmanager::DispatcherLoop() {
  pthread_setname_np(pthread_self(), "berth-am-disp");
  for (;;) {
    {
      std::unique_lock<std::mutex> g(mu_);
      if (stopping_) return;
      WatchdogLocked();
    }
    Tick(Now());
    std::unique_lock<std::mutex> g(mu_);
    // With nothing to flush or deliver, tick once a second; a new group
    // pokes the dispatcher awake.
    int64_t tick = opts_.tick_interval_ms;
    if (groups_.empty() && jobs_.empty()) tick = std::max<int64_t>(tick, 1000);
    cv_.wait_for(g, std::chrono::milliseconds(tick), [&] { return stopping_ || poke_; });
    poke_ = false;
    if (stopping_) return;
  }
}

void Alertmanager::WorkerLoop(int id) {
  std::string name = "berth-am-ntfy-" + std::to_string(id);
  pthread_setname_np(pthread_self(), name.c_str());
  std::unique_lock<std::mutex> g(mu_);
  while (!stopping_) {
    auto job = TakeDueJobLocked(Now());
    if (!job) {
      // Retries fall due with the clock, not with a notification: wake up
      // when the next one does (at most a tick later); new jobs come with a
      // notification from the dispatcher.
      int64_t next = NextAttemptLocked();
      int64_t wait =
          next == INT64_MAX ? 5000 : std::clamp<int64_t>(next - Now(), 1, opts_.tick_interval_ms);
      cv_.wait_for(g, std::chrono::milliseconds(wait));
      continue;
    }
    g.unlock();
    Status st = job->notifier ? job->notifier->Notify(job->notification)
                              : Internal("no notifier for " + job->integration.kind());
    int64_t now = Now();
    g.lock();
    CompleteAttemptLocked(job, st, now);
  }
}

// --- introspection ----------------------------------------------------------

std::vector<Alertmanager::AlertView> Alertmanager::Alerts(int64_t now) const {
  std::lock_guard<std::mutex> g(mu_);
  InhibitIndex idx = BuildInhibitIndexLocked(now);
  std::vector<AlertView> out;
  for (const auto& [fp, sa] : alerts_) {
    AlertView v;
    v.alert = sa.alert;
    v.fingerprint = FingerprintString(fp);
    v.updated_at_ms = sa.updated_ms;
    v.resolved = !Firing(sa.alert, now);
    for (const Route* r : cfg_->route.Match(sa.alert.labels))
      if (std::find(v.receivers.begin(), v.receivers.end(), r->receiver) == v.receivers.end())
        v.receivers.push_back(r->receiver);
    v.silenced_by = silences_.Mutes(sa.alert.labels, now);
    v.inhibited_by = InhibitedByLocked(sa, idx);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const AlertView& a, const AlertView& b) { return a.alert.labels < b.alert.labels; });
  return out;
}

std::vector<Alertmanager::GroupView> Alertmanager::Groups() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<GroupView> out;
  for (const auto& [_, grp] : groups_) {
    GroupView v;
    v.labels = grp->group_labels;
    v.receiver = grp->route->receiver;
    v.key = grp->key;
    for (const auto& [fp, sa] : grp->alerts) v.fingerprints.push_back(FingerprintString(fp));
    out.push_back(std::move(v));
  }
  return out;
}

size_t Alertmanager::NumGroups() const {
  std::lock_guard<std::mutex> g(mu_);
  return groups_.size();
}

size_t Alertmanager::PendingNotifications() const {
  std::lock_guard<std::mutex> g(mu_);
  return jobs_.size();
}

}  // namespace berth::monitor::alerting
