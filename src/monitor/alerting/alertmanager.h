// Alertmanager: takes firing and resolved alerts from the rule evaluator (as
// an AlertSink) or from clients (POST /api/v2/alerts), routes them through the
// configured route tree into aggregation groups, and notifies each group's
// receiver: first after group_wait, then every group_interval while the group
// changes, and again after repeat_interval while it keeps firing. Inhibition
// rules and silences mute alerts; a notification log (per group, receiver and
// integration) keeps a notification from being sent twice.
//
// Time comes from an injectable clock and advances only through Tick(now):
// the dispatcher thread calls it a few times a second; tests call it directly
// without Start(), and notifications are then delivered inline, in Tick(), so
// timing tests need no sleeps. With Start(), deliveries run on a small worker
// pool; a failing receiver is retried with backoff (bounded by attempts and by
// the group's interval) and never holds up other groups.
//
// State is in memory, except silences with AlertmanagerOptions::silences_file.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "monitor/alert.h"
#include "monitor/alerting/config.h"
#include "monitor/alerting/notify.h"
#include "monitor/alerting/silences.h"

namespace berth::net {
class Router;
struct Request;
class ResponseWriter;
}  // namespace berth::net

namespace berth::monitor::alerting {

struct AlertmanagerOptions {
  std::function<int64_t()> clock;  // wall-clock ms; default the system clock
  // This Alertmanager's URL as receivers should link to it (externalURL).
  std::string external_url;
  NotifierFactory notifier_factory;  // default DefaultNotifierFactory
  int notify_workers = 2;
  int max_attempts = 5;               // per notification, first try included
  int64_t initial_backoff_ms = 1000;  // doubled after every failure
  int64_t max_backoff_ms = 30'000;
  int64_t attempt_timeout_ms = 30'000;              // real time; webhook timeout overrides
  int64_t tick_interval_ms = 200;                   // how often the dispatcher thread ticks
  int64_t resolved_retention_ms = 15 * 60'000;      // resolved alerts stay listed
  int64_t silence_retention_ms = 5 * 86'400'000LL;  // expired silences stay listed
  int64_t nflog_retention_ms = 5 * 86'400'000LL;
  std::string silences_file;  // empty: silences live in memory only
};

class Alertmanager : public AlertSink {
 public:
  Alertmanager(std::shared_ptr<const Config> cfg, AlertmanagerOptions opts = {});
  // Loads and validates the file, then loads persisted silences.
  static Result<std::unique_ptr<Alertmanager>> FromFile(const std::string& path,
                                                        AlertmanagerOptions opts = {});
  ~Alertmanager() override;
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;

  // Starts the dispatcher thread (berth-am-disp) and the notification
  // workers (berth-am-ntfy-N). Stop() cancels deliveries in progress and
  // joins every thread; the destructor calls it.
  void Start();
  void Stop();

  // AlertSink: stores and routes the alerts. Cheap: no I/O, one lock.
  void Send(std::vector<Alert> alerts) override;

  // Swaps in a new configuration (a reload). Aggregation groups are rebuilt
  // from the stored alerts; the notification log survives, so unchanged
  // groups are not notified again.
  void ApplyConfig(std::shared_ptr<const Config> cfg);
  // Loads, validates and applies a configuration file; on error the running
  // configuration stays.
  Status ReloadFromFile(const std::string& path);
  std::shared_ptr<const Config> config() const;

  // Flushes the groups that are due at now_ms, and without Start() also runs
  // the deliveries (and retries) due then, before returning.
  void Tick(int64_t now_ms);

  Silences& silences() { return silences_; }
  Status LoadSilences() { return silences_.Load(); }

  // Serves the Alertmanager v2 API under prefix (e.g. "/alertmanager"):
  // GET/POST {prefix}/api/v2/alerts, GET {prefix}/api/v2/alerts/groups,
  // GET/POST {prefix}/api/v2/silences, GET/DELETE {prefix}/api/v2/silence/{id},
  // GET {prefix}/api/v2/status, GET {prefix}/api/v2/receivers, and
  // {prefix}/-/healthy and {prefix}/-/ready.
  void Mount(net::Router& router, const std::string& prefix);
  // One API request; `path` is what follows the prefix ("/api/v2/alerts").
  void Serve(const std::string& path, net::Request& req, net::ResponseWriter& w);

  // Introspection for tests and /api/v1/alerts-style views.
  struct AlertView {
    Alert alert;  // ends_at filled in (resolve_timeout applied)
    std::string fingerprint;
    int64_t updated_at_ms = 0;
    std::vector<std::string> receivers;
    std::vector<std::string> silenced_by;
    std::vector<std::string> inhibited_by;  // fingerprints of inhibiting alerts
    bool resolved = false;
  };
  std::vector<AlertView> Alerts(int64_t now_ms) const;
  struct GroupView {
    Labels labels;  // the group_by labels
    std::string receiver;
    std::string key;
    std::vector<std::string> fingerprints;  // its alerts, resolved ones included
  };
  std::vector<GroupView> Groups() const;
  size_t NumGroups() const;
  size_t PendingNotifications() const;  // queued or running deliveries

 private:
  struct StoredAlert {
    Alert alert;
    uint64_t fp = 0;
    int64_t updated_ms = 0;
  };
  struct Group;
  struct Job;
  struct NflogEntry {
    std::set<uint64_t> firing, resolved;
    int64_t ts = 0;
  };
  struct InhibitIndex;

  int64_t Now() const { return opts_.clock(); }
  void InsertLocked(Alert a, int64_t now);
  void RouteLocked(const StoredAlert& sa, int64_t now);
  void FlushLocked(Group& g, int64_t now, const InhibitIndex& idx);
  void FinishFlushLocked(Group& g, bool ok);
  InhibitIndex BuildInhibitIndexLocked(int64_t now) const;
  std::vector<std::string> InhibitedByLocked(const StoredAlert& a, const InhibitIndex& idx) const;
  bool NeedsUpdate(const NflogEntry* e, const std::set<uint64_t>& firing,
                   const std::set<uint64_t>& resolved, bool send_resolved, int64_t repeat_ms,
                   int64_t now) const;
  void GcLocked(int64_t now);

  // Delivery: pick a due job, attempt it, record the outcome.
  std::shared_ptr<Job> TakeDueJobLocked(int64_t now);
  // The earliest next attempt of a job not running, INT64_MAX if none.
  int64_t NextAttemptLocked() const;
  void CompleteAttemptLocked(const std::shared_ptr<Job>& job, const Status& st, int64_t now);
  void RunDueJobsInline(int64_t now);
  void DispatcherLoop();
  void WorkerLoop(int id);
  void WatchdogLocked();

  // API handlers.
  void GetAlerts(net::Request& req, net::ResponseWriter& w);
  void PostAlerts(net::Request& req, net::ResponseWriter& w);
  void GetAlertGroups(net::Request& req, net::ResponseWriter& w);
  void GetSilences(net::Request& req, net::ResponseWriter& w);
  void PostSilences(net::Request& req, net::ResponseWriter& w);
  void GetStatus(net::Request& req, net::ResponseWriter& w);
  void GetReceivers(net::Request& req, net::ResponseWriter& w);
  Json AlertJson(const AlertView& v) const;

  AlertmanagerOptions opts_;
  Silences silences_;
  const int64_t started_ms_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // workers: jobs or stop
  std::shared_ptr<const Config> cfg_;
  std::map<uint64_t, StoredAlert> alerts_;
  std::map<std::string, std::unique_ptr<Group>> groups_;  // by route id and group labels
  uint64_t next_group_serial_ = 1;
  std::map<std::string, NflogEntry> nflog_;
  std::vector<std::shared_ptr<Job>> jobs_;
  bool threaded_ = false;
  bool stopping_ = false;
  bool poke_ = false;  // a group was made: the dispatcher should tick now
  std::vector<std::thread> threads_;
};

}  // namespace berth::monitor::alerting
