// Tests of the Alertmanager core: configuration, routing, the dispatcher's
// timing driven by an injected clock (Tick() delivers inline without Start(),
// so no test sleeps), inhibition, silences, the webhook and SMTP notifiers
// against real in-test servers, and the v2 API through a real HTTPS server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/file.h"
#include "core/strings.h"
#include "monitor/alerting/alertmanager.h"
#include "monitor/alerting/config.h"
#include "monitor/alerting/notify.h"
#include "monitor/alerting/silences.h"
#include "monitor/alerting/wire.h"
#include "net/client.h"
#include "net/http.h"
#include "net/server.h"
#include "net/test_util.h"
#include "net/tls.h"

namespace berth::monitor::alerting {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000;  // an arbitrary wall-clock start
constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;

std::shared_ptr<const Config> MustParse(const std::string& yaml) {
  auto c = ParseConfig(yaml);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

std::string ParseError(const std::string& yaml) {
  auto c = ParseConfig(yaml);
  return c.ok() ? "<ok>" : c.status().message();
}

Alert MakeAlert(Labels ls, int64_t starts, int64_t ends = 0, Labels ann = {}) {
  Alert a;
  a.labels = std::move(ls);
  a.annotations = std::move(ann);
  a.starts_at_ms = starts;
  a.ends_at_ms = ends;
  a.generator_url = "http://prometheus/graph";
  return a;
}

// Waits for cond with a deadline; the condition is re-checked when notified.
template <class Pred>
bool WaitFor(std::mutex& mu, std::condition_variable& cv, Pred pred,
             std::chrono::milliseconds timeout = 10s) {
  std::unique_lock<std::mutex> l(mu);
  return cv.wait_for(l, timeout, pred);
}

// ---------------------------------------------------------------------------
// Configuration.

const char* kFullConfig = R"(
global:
  resolve_timeout: 2m
  smtp_smarthost: 'mail.example.com:25'
  smtp_from: 'alertmanager@example.com'
  smtp_hello: berth.example.com
  smtp_require_tls: false
  slack_api_url: 'https://hooks.example.com/unused'
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 3h
  routes:
    - matchers: ['team="db"', 'severity=~"crit|warn"']
      receiver: db
      group_by: ['...']
      continue: true
      routes:
        - match: {env: prod}
          repeat_interval: 30m
    - match_re: {service: 'api|web'}
      receiver: web
      group_wait: 0s
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
  - source_match: {alertname: NodeDown}
    target_match_re: {alertname: '.+'}
    equal: [node]
receivers:
  - name: default
    email_configs:
      - to: 'ops@example.com, oncall@example.com'
        headers: {subject: 'Custom', x-team: ops}
  - name: db
    webhook_configs:
      - url: 'http://127.0.0.1:9/hook'
        max_alerts: 3
        http_config:
          authorization: {credentials: secret}
  - name: web
    email_configs:
      - to: web@example.com
        from: 'Web <web-am@example.com>'
        smarthost: 'smtp.example.com:587'
        send_resolved: true
        require_tls: false
    webhook_configs:
      - url: 'https://hooks.example.com/x'
        send_resolved: false
)";

TEST(AlertingConfig, ParsesFullConfigWithInheritance) {
  auto cfg = MustParse(kFullConfig);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->global.resolve_timeout_ms, 2 * kMin);
  EXPECT_EQ(cfg->global.smtp_hello, "berth.example.com");
  const Route& root = cfg->route;
  EXPECT_EQ(root.receiver, "default");
  EXPECT_EQ(root.group_by, (std::vector<std::string>{"alertname", "cluster"}));
  EXPECT_EQ(root.group_wait_ms, 10 * kSec);
  EXPECT_EQ(root.group_interval_ms, kMin);
  EXPECT_EQ(root.repeat_interval_ms, 3 * kHour);
  EXPECT_EQ(root.key, "{}");
  ASSERT_EQ(root.routes.size(), 2u);

  const Route& db = root.routes[0];
  EXPECT_EQ(db.receiver, "db");
  EXPECT_TRUE(db.group_by_all);
  EXPECT_TRUE(db.continue_matching);
  EXPECT_EQ(db.group_wait_ms, 10 * kSec);  // inherited
  ASSERT_EQ(db.matchers.size(), 2u);
  EXPECT_EQ(db.key, "{}/{team=\"db\",severity=~\"crit|warn\"}");
  ASSERT_EQ(db.routes.size(), 1u);
  const Route& prod = db.routes[0];
  EXPECT_EQ(prod.receiver, "db");  // inherited from its parent
  EXPECT_TRUE(prod.group_by_all);
  EXPECT_EQ(prod.repeat_interval_ms, 30 * kMin);
  EXPECT_EQ(prod.key, db.key + "/{env=\"prod\"}");

  const Route& web = root.routes[1];
  EXPECT_EQ(web.receiver, "web");
  EXPECT_EQ(web.group_wait_ms, 0);
  EXPECT_EQ(web.group_by, root.group_by);
  ASSERT_EQ(web.matchers.size(), 1u);
  EXPECT_EQ(web.matchers[0].op(), Matcher::Op::kRe);

  ASSERT_EQ(cfg->inhibit_rules.size(), 2u);
  EXPECT_EQ(cfg->inhibit_rules[0].equal, std::vector<std::string>{"cluster"});
  EXPECT_EQ(cfg->inhibit_rules[1].source_matchers[0].String(), "alertname=\"NodeDown\"");
  EXPECT_EQ(cfg->inhibit_rules[1].target_matchers[0].op(), Matcher::Op::kRe);

  ASSERT_EQ(cfg->receivers.size(), 3u);
  const EmailConfig& e = cfg->receivers[0].email_configs.at(0);
  EXPECT_EQ(e.smarthost, "mail.example.com:25");  // global defaults
  EXPECT_EQ(e.from, "alertmanager@example.com");
  EXPECT_EQ(e.hello, "berth.example.com");
  EXPECT_FALSE(e.send_resolved);
  EXPECT_EQ(e.headers.at("Subject"), "Custom");
  EXPECT_EQ(e.headers.at("X-Team"), "ops");
  const WebhookConfig& w = cfg->receivers[1].webhook_configs.at(0);
  EXPECT_TRUE(w.send_resolved);
  EXPECT_EQ(w.max_alerts, 3);
  EXPECT_EQ(w.http.authorization_type, "Bearer");
  EXPECT_EQ(w.http.authorization_credentials, "secret");
  const Receiver& webr = cfg->receivers[2];
  EXPECT_EQ(webr.email_configs.at(0).smarthost, "smtp.example.com:587");
  EXPECT_TRUE(webr.email_configs.at(0).send_resolved);
  EXPECT_FALSE(webr.webhook_configs.at(0).send_resolved);
  EXPECT_EQ(IntegrationsOf(webr).size(), 2u);
}

TEST(AlertingConfig, ValidationErrors) {
  const std::string recv = "receivers: [{name: a}, {name: b}]\n";
  EXPECT_EQ(ParseError(recv), "route: no routes provided");
  EXPECT_EQ(ParseError(recv + "route: {group_by: [x]}"),
            "route.receiver: root route must specify a default receiver");
  EXPECT_EQ(ParseError(recv + "route: {receiver: nope}"),
            "route.receiver: undefined receiver \"nope\"");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, routes: [{receiver: c}]}"),
            "route.routes[0].receiver: undefined receiver \"c\"");
  EXPECT_EQ(ParseError("receivers: [{name: a}, {name: a}]\nroute: {receiver: a}"),
            "receivers[1]: notification config name \"a\" is not unique");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, routes: [{matchers: ['foo=~\"(\"']}]}")
                .rfind("route.routes[0].matchers[0]: bad matcher foo=~\"(\": error parsing regexp: "
                       "missing )",
                       0),
            0u);
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, routes: [{matchers: ['foo bar']}]}"),
            "route.routes[0].matchers[0]: bad matcher format: foo bar");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, matchers: ['a=b']}"),
            "route: root route must not have any matchers");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, group_by: ['...', x]}"),
            "route.group_by: cannot have wildcard group_by (`...`) and other labels at the same "
            "time");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, group_wait: 5 minutes}"),
            "route.group_wait: not a valid duration string: \"5 minutes\"");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, group_interval: 0s}"),
            "route.group_interval: cannot be zero");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a, recevier: b}"),
            "route.recevier: field not supported");
  EXPECT_EQ(ParseError("receivers: [{name: a, slack_configs: [{}]}]\nroute: {receiver: a}"),
            "receivers[0].slack_configs: receiver type not supported (only email_configs and "
            "webhook_configs)");
  EXPECT_EQ(ParseError("receivers: [{name: a, email_configs: [{to: x@y, from: a@b, "
                       "smarthost: 'h:25'}]}]\nroute: {receiver: a}"),
            "receivers[0].email_configs[0].require_tls: STARTTLS is not supported; set "
            "require_tls (or global smtp_require_tls) to false");
  EXPECT_EQ(ParseError("receivers: [{name: a, email_configs: [{to: x@y, from: a@b, "
                       "require_tls: false}]}]\nroute: {receiver: a}"),
            "receivers[0].email_configs[0].smarthost: no global SMTP smarthost set and none in "
            "the email config");
  EXPECT_EQ(ParseError("receivers: [{name: a, webhook_configs: [{url: 'ftp://x'}]}]\n"
                       "route: {receiver: a}"),
            "receivers[0].webhook_configs[0].url: unsupported scheme in \"ftp://x\"");
  EXPECT_EQ(ParseError(recv + "route: {receiver: a}\ninhibit_rules: [{equal: ['a-b']}]"),
            "inhibit_rules[0].equal: invalid label name \"a-b\"");
  EXPECT_EQ(ParseError("route: [\n"), ParseError("route: [\n"));  // no crash
  EXPECT_NE(ParseError("route: [\n"), "<ok>");
}

TEST(AlertingConfig, MatcherSyntax) {
  auto ms = ParseMatchers(R"({alertname="Foo", severity=~"crit|warn" , env!=prod,x!~"a\"b"})");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 4u);
  EXPECT_EQ((*ms)[0].String(), "alertname=\"Foo\"");
  EXPECT_EQ((*ms)[1].op(), Matcher::Op::kRe);
  EXPECT_TRUE((*ms)[1].Matches("warn"));
  EXPECT_FALSE((*ms)[1].Matches("warning"));  // anchored
  EXPECT_EQ((*ms)[2].op(), Matcher::Op::kNeq);
  EXPECT_EQ((*ms)[2].value(), "prod");
  EXPECT_EQ((*ms)[3].value(), "a\"b");
  auto comma = ParseMatchers(R"(a="x,y")");
  ASSERT_TRUE(comma.ok());
  EXPECT_EQ(comma->at(0).value(), "x,y");
  EXPECT_FALSE(ParseMatcher("=x").ok());
  EXPECT_FALSE(ParseMatcher("a~x").ok());
  EXPECT_FALSE(ParseMatcher(R"(a="x)").ok());
  EXPECT_TRUE(ParseMatchers("{}")->empty());
}

TEST(AlertingConfig, Durations) {
  EXPECT_EQ(*ParseDurationMs("1h30m"), 90 * kMin);
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("1d"), 24 * kHour);
  EXPECT_EQ(*ParseDurationMs("0"), 0);
  EXPECT_FALSE(ParseDurationMs("1m1h").ok());
  EXPECT_FALSE(ParseDurationMs("5").ok());
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_EQ(FormatDurationMs(90 * kMin), "1h30m");
}

TEST(AlertingConfig, LoadFileReportsPath) {
  net::testing::TempDir dir;
  std::string path = dir.path() + "/am.yml";
  ASSERT_TRUE(WriteFileAtomic(path, "route: {receiver: x}\n").ok());
  auto c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path + ": route.receiver: undefined receiver \"x\"");
  EXPECT_EQ(LoadConfigFile(dir.path() + "/missing").status().code(), Code::kNotFound);
}

// ---------------------------------------------------------------------------
// Routing.

TEST(AlertingRouting, NestedRoutesAndContinue) {
  auto cfg = MustParse(kFullConfig);
  ASSERT_TRUE(cfg);
  auto receivers = [&](Labels ls) {
    std::vector<std::string> out;
    for (const Route* r : cfg->route.Match(ls)) out.push_back(r->receiver + "@" + r->key);
    return out;
  };
  const std::string db_key = "{}/{team=\"db\",severity=~\"crit|warn\"}";
  // No child matches: the root.
  EXPECT_EQ(receivers({{"alertname", "X"}}), std::vector<std::string>{"default@{}"});
  // db continues, so web is tried (and matches) too.
  EXPECT_EQ(receivers({{"team", "db"}, {"severity", "crit"}, {"service", "api"}}),
            (std::vector<std::string>{"db@" + db_key, "web@{}/{service=~\"api|web\"}"}));
  // The deepest match wins within the db subtree.
  EXPECT_EQ(receivers({{"team", "db"}, {"severity", "warn"}, {"env", "prod"}}),
            (std::vector<std::string>{"db@" + db_key + "/{env=\"prod\"}"}));
  // Without continue, matching stops at the first matching sibling.
  auto cfg2 = MustParse(R"(
receivers: [{name: a}, {name: b}, {name: c}]
route:
  receiver: a
  routes:
    - {matchers: [x="1"], receiver: b}
    - {matchers: [x=~".+"], receiver: c}
)");
  auto m = cfg2->route.Match({{"x", "1"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->receiver, "b");
  m = cfg2->route.Match({{"x", "2"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->receiver, "c");
}

// ---------------------------------------------------------------------------
// Dispatcher, with notifications recorded at the Notifier seam.

struct Recorder {
  struct Sent {
    std::string receiver;
    std::string kind;
    Notification n;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Sent> sent;
  int fail_next = 0;
  Status fail_with = Status(Code::kUnavailable, "down");
  int attempts = 0;

  std::vector<Sent> Take() {
    std::lock_guard<std::mutex> l(mu);
    return std::exchange(sent, {});
  }
};

class RecordingNotifier : public Notifier {
 public:
  RecordingNotifier(Recorder* r, Integration in) : r_(r), in_(in) {}
  Status Notify(const Notification& n) override {
    std::lock_guard<std::mutex> l(r_->mu);
    ++r_->attempts;
    if (r_->fail_next > 0) {
      --r_->fail_next;
      return r_->fail_with;
    }
    r_->sent.push_back({n.receiver, in_.kind(), n});
    r_->cv.notify_all();
    return Status::Ok();
  }

 private:
  Recorder* r_;
  Integration in_;
};

class DispatchTest : public ::testing::Test {
 protected:
  void Make(const std::string& yaml) {
    cfg_ = MustParse(yaml);
    ASSERT_TRUE(cfg_);
    AlertmanagerOptions o;
    o.clock = [this] { return now_.load(); };
    o.external_url = "https://berth.example/alertmanager";
    o.notifier_factory = [this](const Integration& in) {
      return std::make_unique<RecordingNotifier>(&rec_, in);
    };
    am_ = std::make_unique<Alertmanager>(cfg_, o);
  }
  void At(int64_t t) {
    now_ = t;
    am_->Tick(t);
  }
  static std::vector<std::string> Names(const Notification& n) {
    std::vector<std::string> out;
    for (const auto& a : n.alerts)
      out.push_back(std::string(a.labels.Get("instance")) + (a.resolved ? ":resolved" : ""));
    return out;
  }

  std::atomic<int64_t> now_{kT0};
  std::shared_ptr<const Config> cfg_;
  Recorder rec_;
  std::unique_ptr<Alertmanager> am_;
};

const char* kTimingConfig = R"(
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:9/'}]
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
)";

TEST_F(DispatchTest, GroupWaitIntervalRepeatAndResolve) {
  Make(kTimingConfig);
  const int64_t far = kT0 + 100 * kHour;
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "a"}}, kT0, far)});
  At(kT0);
  At(kT0 + 29 * kSec);
  EXPECT_TRUE(rec_.Take().empty()) << "group_wait not yet over";
  At(kT0 + 30 * kSec);
  auto s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].receiver, "hook");
  EXPECT_EQ(s[0].n.group_key, "{}:{alertname=\"X\"}");
  EXPECT_EQ(Names(s[0].n), std::vector<std::string>{"a"});
  EXPECT_EQ(s[0].n.external_url, "https://berth.example/alertmanager");

  // A second alert joins the group; it goes out at the next group_interval.
  now_ = kT0 + 40 * kSec;
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "b"}}, now_, far)});
  At(kT0 + 60 * kSec);
  EXPECT_TRUE(rec_.Take().empty());
  const int64_t t1 = kT0 + 30 * kSec + 5 * kMin;
  At(t1);
  s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(Names(s[0].n), (std::vector<std::string>{"a", "b"}));

  // Unchanged: nothing at the next intervals until repeat_interval.
  At(t1 + 5 * kMin);
  At(t1 + 55 * kMin);
  EXPECT_TRUE(rec_.Take().empty());
  At(t1 + 60 * kMin);
  s = rec_.Take();
  ASSERT_EQ(s.size(), 1u) << "repeat_interval elapsed";
  EXPECT_EQ(Names(s[0].n), (std::vector<std::string>{"a", "b"}));
  const int64_t t2 = t1 + 60 * kMin;

  // One resolves: the webhook (send_resolved by default) hears about it.
  now_ = t2 + kMin;
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "a"}}, kT0, now_)});
  At(t2 + 5 * kMin);
  s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(Names(s[0].n), (std::vector<std::string>{"b", "a:resolved"}));
  EXPECT_TRUE(s[0].n.firing());
  // The resolved alert was delivered and leaves the group.
  At(t2 + 10 * kMin);
  EXPECT_TRUE(rec_.Take().empty());

  // The last one resolves: a resolved notification, then the group is gone.
  now_ = t2 + 11 * kMin;
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "b"}}, kT0, now_)});
  At(t2 + 15 * kMin);
  s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(Names(s[0].n), std::vector<std::string>{"b:resolved"});
  EXPECT_FALSE(s[0].n.firing());
  EXPECT_EQ(am_->NumGroups(), 0u);
}

TEST_F(DispatchTest, ResolveTimeoutAndOldAlertsSkipGroupWait) {
  Make(std::string(kTimingConfig) + "global: {resolve_timeout: 10m}\n");
  // Firing for an hour already (e.g. after a restart): no group_wait.
  am_->Send({MakeAlert({{"alertname", "Old"}, {"instance", "a"}}, kT0 - kHour)});
  At(kT0);
  auto s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].n.alerts.size(), 1u);
  // Without an end from the sender, it ends resolve_timeout after the update.
  auto views = am_->Alerts(kT0);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].alert.ends_at_ms, kT0 + 10 * kMin);
  EXPECT_EQ(views[0].receivers, std::vector<std::string>{"hook"});
  // Not re-sent: resolved at the first flush after the timeout.
  At(kT0 + 5 * kMin);
  EXPECT_TRUE(rec_.Take().empty());
  At(kT0 + 10 * kMin);
  s = rec_.Take();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(Names(s[0].n), std::vector<std::string>{"a:resolved"});
  EXPECT_TRUE(am_->Alerts(kT0 + 10 * kMin)[0].resolved);
}

TEST_F(DispatchTest, SendResolvedFalseStaysQuiet) {
  Make(R"(
receivers:
  - name: mail
    email_configs: [{to: a@b, from: c@d, smarthost: 'h:25', require_tls: false}]
route: {receiver: mail, group_wait: 0s, group_interval: 1m}
)");
  am_->Send({MakeAlert({{"alertname", "X"}}, kT0, kT0 + kHour)});
  At(kT0);
  ASSERT_EQ(rec_.Take().size(), 1u);
  now_ = kT0 + 10 * kSec;
  am_->Send({MakeAlert({{"alertname", "X"}}, kT0, now_)});
  At(kT0 + kMin);
  EXPECT_TRUE(rec_.Take().empty()) << "email_configs default to send_resolved: false";
  At(kT0 + 2 * kMin);
  EXPECT_TRUE(rec_.Take().empty());
  EXPECT_EQ(am_->NumGroups(), 0u);
}

TEST_F(DispatchTest, GroupByAllContinueAndGroupKeys) {
  Make(R"(
receivers: [{name: a, webhook_configs: [{url: 'http://x/'}]},
            {name: b, webhook_configs: [{url: 'http://x/'}]}]
route:
  receiver: a
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: [team="db"]
      receiver: b
      group_by: ['...']
      continue: true
    - matchers: [team=~".*"]
      receiver: a
)");
  am_->Send(
      {MakeAlert({{"alertname", "X"}, {"team", "db"}, {"instance", "1"}}, kT0, kT0 + kHour),
       MakeAlert({{"alertname", "X"}, {"team", "db"}, {"instance", "2"}}, kT0, kT0 + kHour),
       MakeAlert({{"alertname", "X"}, {"team", "web"}, {"instance", "3"}}, kT0, kT0 + kHour)});
  At(kT0);
  auto s = rec_.Take();
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& x : s) by_key[x.receiver + " " + x.n.group_key] = Names(x.n);
  // '...' makes one group per alert; the second route groups by alertname.
  std::map<std::string, std::vector<std::string>> want = {
      {"b {}/{team=\"db\"}:{alertname=\"X\", instance=\"1\", team=\"db\"}", {"1"}},
      {"b {}/{team=\"db\"}:{alertname=\"X\", instance=\"2\", team=\"db\"}", {"2"}},
      {"a {}/{team=~\".*\"}:{alertname=\"X\"}", {"1", "2", "3"}},
  };
  EXPECT_EQ(by_key, want);
  EXPECT_EQ(am_->NumGroups(), 3u);
}

TEST_F(DispatchTest, InhibitionMutesTargetsWithEqualLabels) {
  Make(R"(
receivers: [{name: a, webhook_configs: [{url: 'http://x/'}]}]
route: {receiver: a, group_by: [alertname], group_wait: 0s, group_interval: 1m}
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
)");
  Alert crit = MakeAlert(
      {{"alertname", "Down"}, {"severity", "critical"}, {"cluster", "a"}, {"instance", "crit-a"}},
      kT0, kT0 + kHour);
  am_->Send({crit,
             MakeAlert({{"alertname", "Slow"},
                        {"severity", "warning"},
                        {"cluster", "a"},
                        {"instance", "warn-a"}},
                       kT0, kT0 + kHour),
             MakeAlert({{"alertname", "Slow"},
                        {"severity", "warning"},
                        {"cluster", "b"},
                        {"instance", "warn-b"}},
                       kT0, kT0 + kHour)});
  At(kT0);
  std::set<std::string> got;
  for (const auto& x : rec_.Take())
    for (const auto& n : Names(x.n)) got.insert(n);
  EXPECT_EQ(got, (std::set<std::string>{"crit-a", "warn-b"}));

  std::string crit_fp = FingerprintString(Fingerprint(crit.labels));
  for (const auto& v : am_->Alerts(kT0)) {
    if (v.alert.labels.Get("instance") == "warn-a")
      EXPECT_EQ(v.inhibited_by, std::vector<std::string>{crit_fp});
    else
      EXPECT_TRUE(v.inhibited_by.empty()) << v.alert.labels.String();
  }

  // The source resolves: the target is notified at its group's next flush.
  now_ = kT0 + 10 * kSec;
  crit.ends_at_ms = now_;
  am_->Send({crit});
  At(kT0 + kMin);
  got.clear();
  for (const auto& x : rec_.Take())
    for (const auto& n : Names(x.n)) got.insert(n);
  EXPECT_EQ(got, (std::set<std::string>{"crit-a:resolved", "warn-a", "warn-b"}));
}

TEST_F(DispatchTest, SilencesMuteUntilExpired) {
  Make(R"(
receivers: [{name: a, webhook_configs: [{url: 'http://x/'}]}]
route: {receiver: a, group_by: [alertname], group_wait: 0s, group_interval: 1m}
)");
  Silence s;
  s.matchers = *ParseMatchers(R"({instance=~"a|b"})");
  s.starts_at_ms = kT0 - kMin;  // in the past: clamped to now
  s.ends_at_ms = kT0 + kHour;
  s.created_by = "me";
  s.comment = "maintenance";
  auto id = am_->silences().Set(s, kT0);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->size(), 36u);
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "a"}}, kT0, kT0 + 10 * kHour),
             MakeAlert({{"alertname", "X"}, {"instance", "c"}}, kT0, kT0 + 10 * kHour)});
  At(kT0);
  auto sent = rec_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Names(sent[0].n), std::vector<std::string>{"c"});
  for (const auto& v : am_->Alerts(kT0))
    EXPECT_EQ(v.silenced_by.size(), v.alert.labels.Get("instance") == "a" ? 1u : 0u);

  ASSERT_TRUE(am_->silences().Expire(*id, kT0 + 30 * kSec).ok());
  EXPECT_EQ(am_->silences().Expire(*id, kT0 + 31 * kSec).code(), Code::kInvalid);
  EXPECT_EQ(am_->silences().Get(*id)->StateAt(kT0 + 30 * kSec), Silence::State::kExpired);
  At(kT0 + kMin);
  sent = rec_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Names(sent[0].n), (std::vector<std::string>{"a", "c"}));
}

TEST(AlertingSilences, ValidationUpdatesAndPersistence) {
  net::testing::TempDir dir;
  std::string file = dir.path() + "/silences.json";
  Silences sil(file);
  Silence s;
  s.starts_at_ms = kT0;
  s.ends_at_ms = kT0 + kHour;
  EXPECT_EQ(sil.Set(s, kT0).status().message(), "silence invalid: at least one matcher required");
  s.matchers = *ParseMatchers(R"(a=~".*")");
  EXPECT_EQ(sil.Set(s, kT0).status().message(),
            "silence invalid: at least one matcher must not match the empty string");
  s.matchers = *ParseMatchers(R"(a="x")");
  s.ends_at_ms = kT0 - 1;
  EXPECT_EQ(sil.Set(s, kT0 + 5).status().code(), Code::kInvalid);
  s.ends_at_ms = kT0 + kHour;
  s.id = "no-such-id";
  EXPECT_EQ(sil.Set(s, kT0).status().code(), Code::kNotFound);

  s.id.clear();
  auto id = sil.Set(s, kT0);
  ASSERT_TRUE(id.ok());
  // Changing the end of an active silence keeps its id.
  s.id = *id;
  s.ends_at_ms = kT0 + 2 * kHour;
  auto same = sil.Set(s, kT0 + kMin);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, *id);
  EXPECT_EQ(sil.Get(*id)->ends_at_ms, kT0 + 2 * kHour);
  EXPECT_EQ(sil.Get(*id)->starts_at_ms, kT0);
  // Changing its matchers replaces it: the old one expires.
  s.matchers = *ParseMatchers(R"(a="y")");
  auto other = sil.Set(s, kT0 + 2 * kMin);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *id);
  EXPECT_EQ(sil.Get(*id)->StateAt(kT0 + 2 * kMin), Silence::State::kExpired);
  EXPECT_EQ(sil.Mutes({{"a", "y"}}, kT0 + 3 * kMin), std::vector<std::string>{*other});
  EXPECT_TRUE(sil.Mutes({{"a", "x"}}, kT0 + 3 * kMin).empty());

  // A restart reads them back.
  Silences again(file);
  ASSERT_TRUE(again.Load().ok());
  ASSERT_EQ(again.List().size(), 2u);
  EXPECT_EQ(again.Get(*other)->matchers.at(0).String(), "a=\"y\"");
  again.GC(kT0 + 2 * kMin + 6 * 86'400'000LL, 5 * 86'400'000LL);
  EXPECT_TRUE(again.List().empty());
}

TEST_F(DispatchTest, RetriesWithBackoffThenGivesUp) {
  Make(R"(
receivers: [{name: a, webhook_configs: [{url: 'http://x/'}]}]
route: {receiver: a, group_wait: 0s, group_interval: 5m}
)");
  rec_.fail_next = 2;
  am_->Send({MakeAlert({{"alertname", "X"}}, kT0, kT0 + kHour)});
  At(kT0);
  EXPECT_EQ(rec_.attempts, 1);
  EXPECT_EQ(am_->PendingNotifications(), 1u);
  At(kT0 + 999);
  EXPECT_EQ(rec_.attempts, 1) << "first backoff is 1s";
  At(kT0 + kSec);
  EXPECT_EQ(rec_.attempts, 2);
  At(kT0 + 2 * kSec);
  EXPECT_EQ(rec_.attempts, 2) << "second backoff is 2s";
  At(kT0 + 3 * kSec);
  EXPECT_EQ(rec_.attempts, 3);
  EXPECT_EQ(rec_.Take().size(), 1u);
  EXPECT_EQ(am_->PendingNotifications(), 0u);
  // Logged as delivered: nothing new at the next interval.
  At(kT0 + 5 * kMin + 3 * kSec);
  EXPECT_TRUE(rec_.Take().empty());

  // A permanent error (4xx) is not retried; the group tries again at its
  // next flush since the log has no record of the change.
  am_->Send({MakeAlert({{"alertname", "X"}, {"x", "2"}}, now_, kT0 + kHour)});
  rec_.fail_next = 1;
  rec_.fail_with = Status(Code::kBadRequest, "rejected");
  int before = rec_.attempts;
  At(kT0 + 10 * kMin + 3 * kSec);
  EXPECT_EQ(rec_.attempts, before + 1);
  EXPECT_EQ(am_->PendingNotifications(), 0u);
  At(kT0 + 15 * kMin + 3 * kSec);
  EXPECT_EQ(rec_.Take().size(), 1u);
}

TEST_F(DispatchTest, ApplyConfigKeepsNotificationLog) {
  Make(kTimingConfig);
  am_->Send({MakeAlert({{"alertname", "X"}, {"instance", "a"}}, kT0 - kHour, kT0 + 10 * kHour)});
  At(kT0);
  EXPECT_EQ(rec_.Take().size(), 1u);
  net::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/am.yml", kTimingConfig).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/bad.yml", "route: {}").ok());
  EXPECT_EQ(am_->ReloadFromFile(dir.path() + "/bad.yml").code(), Code::kInvalid);
  ASSERT_TRUE(am_->ReloadFromFile(dir.path() + "/am.yml").ok());
  EXPECT_NE(am_->config(), cfg_);
  EXPECT_EQ(am_->NumGroups(), 1u);
  At(kT0 + kSec);
  EXPECT_TRUE(rec_.Take().empty()) << "already notified before the reload";
}

// A notifier that blocks until cancelled, for the threaded mode.
class BlockingNotifier : public Notifier {
 public:
  BlockingNotifier(std::atomic<int>* cancels, std::function<void()> on_enter)
      : cancels_(cancels), on_enter_(std::move(on_enter)) {}
  Status Notify(const Notification&) override {
    on_enter_();
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return cancelled_; });
    return Status(Code::kTimeout, "cancelled");
  }
  void Cancel() override {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    ++*cancels_;
    cv_.notify_all();
  }

 private:
  std::atomic<int>* cancels_;
  std::function<void()> on_enter_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

TEST(AlertingThreaded, HungReceiverDoesNotBlockOthers) {
  auto cfg = MustParse(R"(
receivers: [{name: slow, webhook_configs: [{url: 'http://x/'}]},
            {name: fast, webhook_configs: [{url: 'http://x/'}]}]
route:
  receiver: fast
  group_wait: 0s
  group_interval: 1h
  routes: [{matchers: [team=slow], receiver: slow}]
)");
  Recorder rec;
  std::atomic<int> cancels{0};
  std::mutex entered_mu;
  std::condition_variable entered_cv;
  int entered = 0;
  AlertmanagerOptions o;
  o.notify_workers = 1;  // a single worker: the watchdog must free it
  o.attempt_timeout_ms = 100;
  o.tick_interval_ms = 20;
  o.max_attempts = 1;
  o.notifier_factory = [&](const Integration& in) -> std::unique_ptr<Notifier> {
    if (in.webhook == &cfg->receivers[0].webhook_configs[0])
      return std::make_unique<BlockingNotifier>(&cancels, [&] {
        std::lock_guard<std::mutex> l(entered_mu);
        ++entered;
        entered_cv.notify_all();
      });
    return std::make_unique<RecordingNotifier>(&rec, in);
  };
  Alertmanager am(cfg, o);
  am.Start();
  am.Send({MakeAlert({{"alertname", "A"}, {"team", "slow"}}, 0, 0)});
  // Only once the one worker is stuck in the slow receiver does the other
  // group get an alert: its delivery needs the watchdog to free the worker.
  ASSERT_TRUE(WaitFor(entered_mu, entered_cv, [&] { return entered > 0; }));
  am.Send({MakeAlert({{"alertname", "B"}, {"team", "web"}}, 0, 0)});
  ASSERT_TRUE(WaitFor(rec.mu, rec.cv, [&] { return !rec.sent.empty(); }));
  EXPECT_EQ(rec.sent[0].receiver, "fast");
  EXPECT_GE(cancels.load(), 1);
  am.Stop();
}

// ---------------------------------------------------------------------------
// Webhook over a real socket.

// A tiny HTTP/1.1 server: one request per connection, answered with the
// next configured status (200 when none is left), then closed.
class TestHttpServer {
 public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
  };

  TestHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void QueueStatus(int code) {
    std::lock_guard<std::mutex> l(mu_);
    statuses_.push_back(code);
  }
  bool WaitRequests(size_t n) {
    return WaitFor(mu_, cv_, [&] { return requests_.size() >= n; });
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "test-http");
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      Serve(c);
      ::close(c);
    }
  }
  void Serve(int c) {
    std::string buf;
    char tmp[4096];
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      ssize_t n = ::read(c, tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, n);
    }
    Request r;
    std::istringstream head(buf.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream first(line);
    first >> r.method >> r.target;
    size_t content_length = 0;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string k = line.substr(0, colon), v = line.substr(colon + 1);
      for (char& ch : k) ch = static_cast<char>(std::tolower(ch));
      while (!v.empty() && v[0] == ' ') v.erase(0, 1);
      r.headers[k] = v;
      if (k == "content-length") content_length = std::stoul(v);
    }
    r.body = buf.substr(header_end + 4);
    while (r.body.size() < content_length) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      ssize_t n = ::read(c, tmp, sizeof tmp);
      if (n <= 0) return;
      r.body.append(tmp, n);
    }
    int code = 200;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!statuses_.empty()) {
        code = statuses_.front();
        statuses_.erase(statuses_.begin());
      }
    }
    std::string resp = "HTTP/1.1 " + std::to_string(code) +
                       " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    (void)!::write(c, resp.data(), resp.size());
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(std::move(r));
    cv_.notify_all();
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::vector<int> statuses_;
};

TEST(AlertingWebhook, PayloadOverRealHttp) {
  TestHttpServer srv;
  std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/hook?x=1";
  auto cfg = MustParse(R"(
receivers:
  - name: team-hook
    webhook_configs:
      - url: ')" + url +
                       R"('
        max_alerts: 2
        http_config: {bearer_token: tok}
route: {receiver: team-hook, group_by: [alertname], group_wait: 0s, group_interval: 1m}
)");
  std::atomic<int64_t> now{kT0};
  AlertmanagerOptions o;
  o.clock = [&] { return now.load(); };
  o.external_url = "https://berth.example/alertmanager";
  Alertmanager am(cfg, o);
  std::vector<Alert> alerts;
  for (const char* inst : {"a", "b", "c"})
    alerts.push_back(MakeAlert({{"alertname", "DiskFull"}, {"instance", inst}, {"job", "node"}},
                               kT0 - kMin, kT0 + kHour,
                               {{"summary", "disk full"}, {"runbook", inst}}));
  am.Send(alerts);
  srv.QueueStatus(503);  // the first attempt fails and is retried
  am.Tick(kT0);
  ASSERT_TRUE(srv.WaitRequests(1));
  EXPECT_EQ(am.PendingNotifications(), 1u);
  now = kT0 + kSec;
  am.Tick(now);
  ASSERT_TRUE(srv.WaitRequests(2));
  EXPECT_EQ(am.PendingNotifications(), 0u);

  auto req = srv.requests()[1];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hook?x=1");
  EXPECT_EQ(req.headers["content-type"], "application/json");
  EXPECT_EQ(req.headers["authorization"], "Bearer tok");
  json body = json::parse(req.body);
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["groupKey"], "{}:{alertname=\"DiskFull\"}");
  EXPECT_EQ(body["truncatedAlerts"], 1);
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["receiver"], "team-hook");
  EXPECT_EQ(body["groupLabels"], json({{"alertname", "DiskFull"}}));
  EXPECT_EQ(body["commonLabels"], json({{"alertname", "DiskFull"}, {"job", "node"}}));
  EXPECT_EQ(body["commonAnnotations"], json({{"summary", "disk full"}}));
  EXPECT_EQ(body["externalURL"], "https://berth.example/alertmanager");
  ASSERT_EQ(body["alerts"].size(), 2u);
  json a0 = body["alerts"][0];
  EXPECT_EQ(a0["status"], "firing");
  EXPECT_EQ(a0["labels"]["instance"], "a");
  EXPECT_EQ(a0["annotations"]["runbook"], "a");
  EXPECT_EQ(a0["startsAt"], FormatTimeMs(kT0 - kMin));
  EXPECT_EQ(a0["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(a0["generatorURL"], "http://prometheus/graph");
  EXPECT_EQ(a0["fingerprint"], FingerprintString(Fingerprint(alerts[0].labels)));
  EXPECT_EQ(a0["fingerprint"].get<std::string>().size(), 16u);

  // Resolving everything sends status "resolved" with real end times.
  now = kT0 + 10 * kSec;
  for (auto& a : alerts) a.ends_at_ms = now;
  am.Send(alerts);
  am.Tick(kT0 + kMin);
  ASSERT_TRUE(srv.WaitRequests(3));
  body = json::parse(srv.requests()[2].body);
  EXPECT_EQ(body["status"], "resolved");
  EXPECT_EQ(body["alerts"][0]["status"], "resolved");
  EXPECT_EQ(body["alerts"][0]["endsAt"], FormatTimeMs(kT0 + 10 * kSec));
}

TEST(AlertingWebhook, HttpsWithCustomCa) {
  net::testing::TempDir dir;
  ASSERT_TRUE(net::EnsurePki(dir.path(), {}).ok());
  auto pki = net::PkiPathsFor(dir.path());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> bodies;
  net::Router router;
  router.Handle("/hook", [&](net::Request& r, net::ResponseWriter& w) {
    {
      std::lock_guard<std::mutex> l(mu);
      bodies.push_back(r.body);
      cv.notify_all();
    }
    w.Reply(200, {}, "");
  });
  net::ServerOptions so;
  so.bind = "127.0.0.1";
  so.port = 0;
  so.cert_file = pki.server_cert;
  so.key_file = pki.server_key;
  so.anonymous_paths = {"/hook"};
  net::HttpsServer server(so, std::move(router), [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(server.Start().ok());
  auto cfg = MustParse(R"(
receivers:
  - name: secure
    webhook_configs:
      - url: 'https://127.0.0.1:)" +
                       std::to_string(server.port()) + R"(/hook'
        http_config: {tls_config: {ca_file: ')" +
                       pki.ca_cert + R"('}}
route: {receiver: secure, group_wait: 0s}
)");
  AlertmanagerOptions o;
  o.clock = [] { return kT0; };
  Alertmanager am(cfg, o);
  am.Send({MakeAlert({{"alertname", "TLS"}}, kT0, kT0 + kHour)});
  am.Tick(kT0);
  ASSERT_TRUE(WaitFor(mu, cv, [&] { return !bodies.empty(); }));
  EXPECT_EQ(json::parse(bodies[0])["alerts"][0]["labels"]["alertname"], "TLS");
  server.Stop();
}

// ---------------------------------------------------------------------------
// SMTP against an in-test server speaking the protocol.

class TestSmtpServer {
 public:
  struct Mail {
    std::string helo, from;
    std::vector<std::string> rcpt;
    std::string data;  // un-dot-stuffed, CRLF line ends
  };

  explicit TestSmtpServer(bool refuse_ehlo = false, bool reject_rcpt = false)
      : refuse_ehlo_(refuse_ehlo), reject_rcpt_(reject_rcpt) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TestSmtpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string smarthost() const { return "127.0.0.1:" + std::to_string(port_); }
  bool WaitMails(size_t n) {
    return WaitFor(mu_, cv_, [&] { return mails_.size() >= n; });
  }
  std::vector<Mail> mails() {
    std::lock_guard<std::mutex> l(mu_);
    return mails_;
  }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> l(mu_);
    return commands_;
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "test-smtp");
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      Session(c);
      ::close(c);
    }
  }
  bool ReadLine(int c, std::string* line) {
    size_t nl;
    while ((nl = buf_.find("\r\n")) == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      char tmp[4096];
      ssize_t n = ::read(c, tmp, sizeof tmp);
      if (n <= 0) return false;
      buf_.append(tmp, n);
    }
    *line = buf_.substr(0, nl);
    buf_.erase(0, nl + 2);
    return true;
  }
  static void Say(int c, const std::string& s) { (void)!::write(c, s.data(), s.size()); }
  void Session(int c) {
    buf_.clear();
    Mail m;
    Say(c, "220 test.local ESMTP ready\r\n");
    std::string line;
    while (ReadLine(c, &line)) {
      {
        std::lock_guard<std::mutex> l(mu_);
        commands_.push_back(line);
      }
      std::string verb = line.substr(0, 4);
      if (verb == "EHLO") {
        if (refuse_ehlo_) {
          Say(c, "502 5.5.1 EHLO not implemented\r\n");
        } else {
          m.helo = line.substr(5);
          Say(c, "250-test.local greets you\r\n250-SIZE 1000000\r\n250 HELP\r\n");
        }
      } else if (verb == "HELO") {
        m.helo = line.substr(5);
        Say(c, "250 test.local\r\n");
      } else if (line.rfind("MAIL FROM:", 0) == 0) {
        m.from = line.substr(10);
        Say(c, "250 2.1.0 Ok\r\n");
      } else if (line.rfind("RCPT TO:", 0) == 0) {
        if (reject_rcpt_) {
          Say(c, "550 5.1.1 no such user\r\n");
          continue;
        }
        m.rcpt.push_back(line.substr(8));
        Say(c, "250 2.1.5 Ok\r\n");
      } else if (verb == "DATA") {
        Say(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
        std::string data;
        while (ReadLine(c, &line) && line != ".") {
          if (!line.empty() && line[0] == '.') line.erase(0, 1);
          data += line + "\r\n";
        }
        m.data = data;
        Say(c, "250 2.0.0 Ok: queued\r\n");
        std::lock_guard<std::mutex> l(mu_);
        mails_.push_back(m);
        cv_.notify_all();
      } else if (verb == "QUIT") {
        Say(c, "221 2.0.0 Bye\r\n");
        return;
      } else {
        Say(c, "500 unknown command\r\n");
      }
    }
  }

  bool refuse_ehlo_, reject_rcpt_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::string buf_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Mail> mails_;
  std::vector<std::string> commands_;
};

std::string DecodeQuotedPrintable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (s[i] == '=' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string HeaderOf(const std::string& msg, const std::string& name) {
  size_t p = msg.find("\r\n" + name + ": ");
  if (msg.rfind(name + ": ", 0) == 0)
    p = 0;
  else if (p == std::string::npos)
    return "<missing>";
  else
    p += 2;
  size_t start = p + name.size() + 2;
  return msg.substr(start, msg.find("\r\n", start) - start);
}

TEST(AlertingEmail, SendsMessageOverSmtp) {
  TestSmtpServer smtp;
  auto cfg = MustParse(R"(
global:
  smtp_smarthost: ')" + smtp.smarthost() +
                       R"('
  smtp_from: 'Berth Alerts <alerts@berth.example>'
  smtp_hello: am.berth.example
  smtp_require_tls: false
receivers:
  - name: ops
    email_configs:
      - to: 'ops@example.com, Second <second@example.com>'
        send_resolved: true
        headers: {X-Env: test}
route: {receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1m}
)");
  std::atomic<int64_t> now{kT0};
  AlertmanagerOptions o;
  o.clock = [&] { return now.load(); };
  o.external_url = "https://berth.example/alertmanager";
  Alertmanager am(cfg, o);
  am.Send({MakeAlert({{"alertname", "HighLoad"}, {"instance", "n1"}, {"severity", "page"}}, kT0,
                     kT0 + kHour, {{"summary", "load is high"}}),
           MakeAlert({{"alertname", "HighLoad"}, {"instance", "n2"}, {"severity", "page"}}, kT0,
                     kT0 + kHour, {{"summary", "load is high"}})});
  am.Tick(kT0);
  ASSERT_TRUE(smtp.WaitMails(1));
  auto m = smtp.mails()[0];
  EXPECT_EQ(m.helo, "am.berth.example");
  EXPECT_EQ(m.from, "<alerts@berth.example>");
  EXPECT_EQ(m.rcpt, (std::vector<std::string>{"<ops@example.com>", "<second@example.com>"}));
  EXPECT_EQ(HeaderOf(m.data, "Subject"), "[FIRING:2] HighLoad (page)");
  EXPECT_EQ(HeaderOf(m.data, "From"), "Berth Alerts <alerts@berth.example>");
  EXPECT_EQ(HeaderOf(m.data, "To"), "ops@example.com, Second <second@example.com>");
  EXPECT_EQ(HeaderOf(m.data, "X-Env"), "test");
  EXPECT_EQ(HeaderOf(m.data, "MIME-Version"), "1.0");
  EXPECT_EQ(HeaderOf(m.data, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_NE(HeaderOf(m.data, "Date"), "<missing>");
  EXPECT_NE(HeaderOf(m.data, "Message-Id").find("@berth.example>"), std::string::npos);
  std::string body = DecodeQuotedPrintable(m.data.substr(m.data.find("\r\n\r\n") + 4));
  EXPECT_NE(body.find("2 alerts firing:"), std::string::npos) << body;
  EXPECT_NE(body.find(" - instance = n1"), std::string::npos) << body;
  EXPECT_NE(body.find(" - instance = n2"), std::string::npos) << body;
  EXPECT_NE(body.find(" - summary = load is high"), std::string::npos) << body;
  EXPECT_NE(body.find("Source: http://prometheus/graph"), std::string::npos) << body;
  EXPECT_EQ(smtp.commands().back(), "QUIT");

  // send_resolved: true → a resolved mail.
  now = kT0 + 5 * kSec;
  am.Send(
      {MakeAlert({{"alertname", "HighLoad"}, {"instance", "n1"}, {"severity", "page"}}, kT0, now),
       MakeAlert({{"alertname", "HighLoad"}, {"instance", "n2"}, {"severity", "page"}}, kT0, now)});
  am.Tick(kT0 + kMin);
  ASSERT_TRUE(smtp.WaitMails(2));
  EXPECT_EQ(HeaderOf(smtp.mails()[1].data, "Subject"), "[RESOLVED] HighLoad (page)");
}

TEST(AlertingEmail, SmtpClientFallbackDotStuffingAndErrors) {
  {
    TestSmtpServer smtp(/*refuse_ehlo=*/true);
    SmtpClient c(5000);
    Status st = c.Send(smtp.smarthost(), "me", "a@b", {"c@d"},
                       "Subject: x\r\n\r\nline one\n.starts with a dot\n..two dots\n");
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(smtp.WaitMails(1));
    EXPECT_EQ(smtp.mails()[0].helo, "me");
    EXPECT_EQ(smtp.mails()[0].data,
              "Subject: x\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\n");
  }
  {
    TestSmtpServer smtp(false, /*reject_rcpt=*/true);
    SmtpClient c(5000);
    Status st = c.Send(smtp.smarthost(), "me", "a@b", {"nobody@d"}, "x");
    EXPECT_EQ(st.code(), Code::kBadRequest) << st.ToString();
    EXPECT_NE(st.message().find("550"), std::string::npos);
  }
  // Nothing listening: a retryable error, quickly.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  SmtpClient c(2000);
  Status st = c.Send("127.0.0.1:" + std::to_string(port), "me", "a@b", {"c@d"}, "x");
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
}

TEST(AlertingEmail, SubjectAndHeaderSafety) {
  Notification n;
  n.group_labels = Labels{{"alertname", "A"}};
  NotifiedAlert a;
  a.labels = Labels{{"alertname", "A"}, {"x", "évil\r\nBcc: victim@x"}};
  n.alerts = {a};
  EXPECT_EQ(DefaultEmailSubject(n), "[FIRING:1] A (évil\r\nBcc: victim@x)");
  EmailConfig cfg;
  cfg.from = "a@b";
  cfg.to = "c@d";
  std::string msg = EmailMessage(n, cfg, kT0);
  // Label values may hold line breaks: harmless in the body, never in headers.
  std::string head = msg.substr(0, msg.find("\r\n\r\n"));
  EXPECT_EQ(head.find("Bcc:"), std::string::npos) << msg;
  EXPECT_EQ(HeaderOf(msg, "Subject").rfind("=?UTF-8?B?", 0), 0u);
  for (const auto& line : Split(msg, '\n')) EXPECT_LE(line.size(), 78u);
}

// ---------------------------------------------------------------------------
// The v2 API through a real HTTPS server, as amtool would call it.

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new net::testing::TempDir();
    ASSERT_TRUE(net::EnsurePki(dir_->path(), {}).ok());
    pki_ = net::PkiPathsFor(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    cfg_ = MustParse(R"(
receivers: [{name: default, webhook_configs: [{url: 'http://x/'}]},
            {name: db, webhook_configs: [{url: 'http://x/'}]}]
route:
  receiver: default
  group_by: [alertname]
  routes: [{matchers: [team=db], receiver: db}]
inhibit_rules:
  - {source_matchers: [severity=critical], target_matchers: [severity=warning], equal: [svc]}
)");
    AlertmanagerOptions o;
    o.clock = [this] { return now_.load(); };
    o.notifier_factory = [](const Integration&) { return nullptr; };
    am_ = std::make_unique<Alertmanager>(cfg_, o);
    net::Router router;
    am_->Mount(router, "/alertmanager");
    net::ServerOptions so;
    so.bind = "127.0.0.1";
    so.port = 0;
    so.cert_file = pki_.server_cert;
    so.key_file = pki_.server_key;
    server_ = std::make_unique<net::HttpsServer>(
        so, std::move(router), [](const std::string& t) -> std::optional<net::Identity> {
          if (t == "tok") return net::Identity{"amtool", {}};
          return std::nullopt;
        });
    ASSERT_TRUE(server_->Start().ok());
    net::ClientOptions co;
    co.port = server_->port();
    co.ca_file = pki_.ca_cert;
    co.bearer_token = "tok";
    client_ = std::make_unique<net::HttpsClient>(co);
  }
  void TearDown() override { server_->Stop(); }

  std::pair<int, json> Do(const std::string& method, const std::string& target,
                          const std::string& body = "") {
    auto res = client_->Do(method, "/alertmanager/api/v2" + target,
                           {{"Content-Type", "application/json"}}, body);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    if (!res.ok()) return {0, json()};
    json j = res->body.empty() ? json() : json::parse(res->body, nullptr, false);
    return {res->status, j};
  }

  static net::testing::TempDir* dir_;
  static net::PkiPaths pki_;
  std::atomic<int64_t> now_{kT0};
  std::shared_ptr<const Config> cfg_;
  std::unique_ptr<Alertmanager> am_;
  std::unique_ptr<net::HttpsServer> server_;
  std::unique_ptr<net::HttpsClient> client_;
};
net::testing::TempDir* ApiTest::dir_ = nullptr;
net::PkiPaths ApiTest::pki_;

TEST_F(ApiTest, AlertsPostAndQuery) {
  json post =
      json::array({{{"labels", {{"alertname", "Down"}, {"severity", "critical"}, {"svc", "api"}}},
                    {"annotations", {{"summary", "api down"}}},
                    {"generatorURL", "http://prom/x"}},
                   {{"labels", {{"alertname", "Slow"}, {"severity", "warning"}, {"svc", "api"}}},
                    {"startsAt", FormatTimeMs(kT0 - kMin)},
                    {"endsAt", FormatTimeMs(kT0 + kHour)}},
                   {{"labels", {{"alertname", "Disk"}, {"team", "db"}}}}});
  auto [code, body] = Do("POST", "/alerts", post.dump());
  EXPECT_EQ(code, 200);

  std::tie(code, body) = Do("GET", "/alerts");
  ASSERT_EQ(code, 200);
  ASSERT_EQ(body.size(), 3u);
  std::map<std::string, json> by_name;
  for (const auto& a : body) by_name[a["labels"]["alertname"].get<std::string>()] = a;
  json down = by_name["Down"];
  EXPECT_EQ(down["annotations"]["summary"], "api down");
  EXPECT_EQ(down["startsAt"], FormatTimeMs(kT0));
  EXPECT_EQ(down["endsAt"], FormatTimeMs(kT0 + 5 * kMin));  // resolve_timeout
  EXPECT_EQ(down["updatedAt"], FormatTimeMs(kT0));
  EXPECT_EQ(down["generatorURL"], "http://prom/x");
  EXPECT_EQ(down["receivers"], json::array({{{"name", "default"}}}));
  EXPECT_EQ(
      down["status"],
      json({{"state", "active"}, {"silencedBy", json::array()}, {"inhibitedBy", json::array()}}));
  EXPECT_EQ(down["fingerprint"].get<std::string>().size(), 16u);
  json slow = by_name["Slow"];
  EXPECT_EQ(slow["startsAt"], FormatTimeMs(kT0 - kMin));
  EXPECT_EQ(slow["status"]["state"], "suppressed");
  EXPECT_EQ(slow["status"]["inhibitedBy"], json::array({down["fingerprint"]}));
  EXPECT_EQ(by_name["Disk"]["receivers"], json::array({{{"name", "db"}}}));

  std::tie(code, body) = Do("GET", "/alerts?inhibited=false");
  EXPECT_EQ(body.size(), 2u);
  std::tie(code, body) = Do("GET", "/alerts?filter=" + net::PercentEncode("alertname=~\"D.*\""));
  EXPECT_EQ(body.size(), 2u);
  std::tie(code, body) = Do("GET", "/alerts?receiver=db");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["labels"]["alertname"], "Disk");
  std::tie(code, body) = Do("GET", "/alerts?filter=" + net::PercentEncode("bad matcher"));
  EXPECT_EQ(code, 400);
  EXPECT_TRUE(body.is_string());

  std::tie(code, body) = Do("GET", "/alerts/groups");
  ASSERT_EQ(code, 200);
  EXPECT_EQ(body.size(), 3u);

  // Bad alerts are refused with the reason; good ones in the batch stay.
  std::tie(code, body) = Do("POST", "/alerts", R"([{"labels":{}},{"labels":{"a":"b"},
      "startsAt":"2024-01-02T00:00:00Z","endsAt":"2024-01-01T00:00:00Z"}])");
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body,
            "alerts[0]: at least one label pair required; alerts[1]: start time must be "
            "before end time");
  std::tie(code, body) = Do("POST", "/alerts", "{not json");
  EXPECT_EQ(code, 400);
}

TEST_F(ApiTest, SilencesLifecycle) {
  am_->Send({MakeAlert({{"alertname", "Down"}, {"svc", "web"}}, kT0, kT0 + kHour)});
  json sil = {{"matchers", {{{"name", "svc"}, {"value", "web"}, {"isRegex", false}}}},
              {"startsAt", FormatTimeMs(kT0)},
              {"endsAt", FormatTimeMs(kT0 + 2 * kHour)},
              {"createdBy", "amtool-user"},
              {"comment", "deploy"}};
  auto [code, body] = Do("POST", "/silences", sil.dump());
  ASSERT_EQ(code, 200) << body.dump();
  std::string id = body["silenceID"].get<std::string>();
  EXPECT_EQ(id.size(), 36u);

  std::tie(code, body) = Do("GET", "/silence/" + id);
  ASSERT_EQ(code, 200);
  EXPECT_EQ(body["id"], id);
  EXPECT_EQ(body["status"]["state"], "active");
  EXPECT_EQ(
      body["matchers"],
      json::array({{{"name", "svc"}, {"value", "web"}, {"isRegex", false}, {"isEqual", true}}}));
  EXPECT_EQ(body["createdBy"], "amtool-user");
  EXPECT_EQ(body["comment"], "deploy");
  EXPECT_EQ(body["endsAt"], FormatTimeMs(kT0 + 2 * kHour));
  EXPECT_EQ(body["updatedAt"], FormatTimeMs(kT0));

  std::tie(code, body) = Do("GET", "/alerts");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["status"]["state"], "suppressed");
  EXPECT_EQ(body[0]["status"]["silencedBy"], json::array({id}));
  std::tie(code, body) = Do("GET", "/alerts?silenced=false");
  EXPECT_TRUE(body.empty());

  std::tie(code, body) = Do("GET", "/silences?filter=" + net::PercentEncode("svc=\"web\""));
  ASSERT_EQ(body.size(), 1u);
  std::tie(code, body) = Do("GET", "/silences?filter=" + net::PercentEncode("svc=\"db\""));
  EXPECT_TRUE(body.empty());

  now_ = kT0 + kMin;
  std::tie(code, body) = Do("DELETE", "/silence/" + id);
  EXPECT_EQ(code, 200);
  std::tie(code, body) = Do("GET", "/silences");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["status"]["state"], "expired");
  EXPECT_EQ(body[0]["endsAt"], FormatTimeMs(kT0 + kMin));
  std::tie(code, body) = Do("GET", "/alerts");
  EXPECT_EQ(body[0]["status"]["state"], "active");

  std::tie(code, body) = Do("GET", "/silence/00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(code, 404);
  std::tie(code, body) = Do("DELETE", "/silence/00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(code, 404);
  sil["matchers"] = json::array({{{"name", "svc"}, {"value", ".*"}, {"isRegex", true}}});
  std::tie(code, body) = Do("POST", "/silences", sil.dump());
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body, "silence invalid: at least one matcher must not match the empty string");
  sil.erase("matchers");
  std::tie(code, body) = Do("POST", "/silences", sil.dump());
  EXPECT_EQ(code, 400);
}

TEST_F(ApiTest, StatusReceiversAndErrors) {
  auto [code, body] = Do("GET", "/status");
  ASSERT_EQ(code, 200);
  EXPECT_EQ(body["cluster"]["status"], "disabled");
  EXPECT_EQ(body["config"]["original"], cfg_->original);
  EXPECT_EQ(body["uptime"], FormatTimeMs(kT0));
  for (const char* k : {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"})
    EXPECT_TRUE(body["versionInfo"][k].is_string()) << k;
  std::tie(code, body) = Do("GET", "/receivers");
  EXPECT_EQ(body, json::array({{{"name", "default"}}, {{"name", "db"}}}));
  std::tie(code, body) = Do("GET", "/nope");
  EXPECT_EQ(code, 404);
  std::tie(code, body) = Do("PUT", "/alerts");
  EXPECT_EQ(code, 405);
  auto res = client_->Do("GET", "/alertmanager/-/healthy");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace berth::monitor::alerting
