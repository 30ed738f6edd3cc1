// Alertmanager's configuration file (alertmanager.yml), the subset Berth
// implements: global SMTP settings and resolve_timeout, the route tree,
// inhibit_rules, and receivers with email_configs and webhook_configs.
// Parsing resolves inheritance (a child route takes its parent's receiver,
// group_by and timings unless it sets them) and global defaults, so the
// dispatcher reads final values only. Unknown or unsupported fields are
// errors rather than silently ignored: a receiver kind Berth cannot deliver
// to must not look configured.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor::alerting {

struct HttpClientConfig {
  std::string bearer_token;        // sent as Authorization: Bearer
  std::string authorization_type;  // authorization.type (default Bearer)
  std::string authorization_credentials;
  std::string basic_auth_username, basic_auth_password;
  std::string ca_file, cert_file, key_file, server_name;
  bool insecure_skip_verify = false;
};

struct EmailConfig {
  bool send_resolved = false;
  std::string to;
  std::string from;       // global smtp_from unless set
  std::string smarthost;  // host:port; global smtp_smarthost unless set
  std::string hello;      // EHLO name; global smtp_hello unless set
  bool require_tls = false;
  // Extra and overriding headers (Subject, To, From, ...), by canonical name.
  std::map<std::string, std::string> headers;
};

struct WebhookConfig {
  bool send_resolved = true;
  std::string url;
  int max_alerts = 0;      // 0: all
  int64_t timeout_ms = 0;  // 0: the notifier's default
  HttpClientConfig http;
};

struct Receiver {
  std::string name;
  std::vector<EmailConfig> email_configs;
  std::vector<WebhookConfig> webhook_configs;
};

// A node of the route tree with inherited values filled in.
struct Route {
  std::string receiver;
  std::vector<std::string> group_by;  // sorted; empty with group_by_all
  bool group_by_all = false;          // group_by: ['...']
  int64_t group_wait_ms = 30'000;
  int64_t group_interval_ms = 300'000;
  int64_t repeat_interval_ms = 4 * 3'600'000;
  std::vector<Matcher> matchers;  // match, match_re and matchers together
  bool continue_matching = false;
  std::vector<Route> routes;
  // Alertmanager's route key, "{}" for the root and parent/"{matchers}" below
  // it: the prefix of group keys that webhook receivers see.
  std::string key;
  int id = 0;  // unique within the tree, in depth-first order

  // The routes an alert is delivered through: the deepest matching ones,
  // left to right, continuing past a match only where `continue` is set.
  // Empty only if this route's own matchers fail.
  std::vector<const Route*> Match(const Labels& ls) const;
};

struct InhibitRule {
  std::vector<Matcher> source_matchers;
  std::vector<Matcher> target_matchers;
  std::vector<std::string> equal;
};

struct GlobalConfig {
  int64_t resolve_timeout_ms = 300'000;
  std::string smtp_from;
  std::string smtp_smarthost;
  std::string smtp_hello = "localhost";
  bool smtp_require_tls = true;
};

struct Config {
  GlobalConfig global;
  Route route;
  std::vector<InhibitRule> inhibit_rules;
  std::vector<Receiver> receivers;
  std::string original;  // the YAML text, for /api/v2/status

  const Receiver* FindReceiver(std::string_view name) const;
};

// Parses and validates a configuration. Errors are Invalid with a message
// naming the offending field (e.g. `route.routes[1]: undefined receiver "x"`).
Result<std::shared_ptr<const Config>> ParseConfig(std::string_view yaml);
Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path);

// Alertmanager's matcher syntax: `name="value"`, `name=~"re"`, `name!=v`,
// `name!~"re"`; the value may be unquoted, quoted values use \" \n \\.
Result<Matcher> ParseMatcher(std::string_view s);
// A comma-separated list, optionally inside braces: `{a="b", c=~"d|e"}`.
Result<std::vector<Matcher>> ParseMatchers(std::string_view s);
// "{a=\"b\",c=~\"d\"}" as route keys print them.
std::string MatchersString(const std::vector<Matcher>& ms);

// Prometheus durations: "1h30m", "5m", "10s", "250ms", "1d", "1w", "1y".
Result<int64_t> ParseDurationMs(std::string_view s);
std::string FormatDurationMs(int64_t ms);

}  // namespace berth::monitor::alerting
