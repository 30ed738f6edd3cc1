#include "monitor/alerting/config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "core/file.h"
#include "core/json.h"

namespace berth::monitor::alerting {
namespace {

std::string Field(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Rejects keys outside `allowed`, so a misspelt or unsupported option is an
// error instead of a silently different configuration.
Status CheckKeys(const Json& obj, const std::vector<std::string>& allowed,
                 const std::string& path) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      return Invalid(Field(path, it.key()) + ": field not supported");
  }
  return Status::Ok();
}

Status ExpectObject(const Json& j, const std::string& path) {
  if (!j.is_object()) return Invalid(path + ": expected a mapping");
  return Status::Ok();
}

// A YAML scalar as text: `severity: 1` is the label value "1".
Result<std::string> ScalarString(const Json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return std::string();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number()) return v.dump();
  return Invalid(path + ": expected a string");
}

Status GetString(const Json& obj, const char* key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  auto s = ScalarString(*it, Field(path, key));
  if (!s.ok()) return s.status();
  *out = std::move(s).value();
  return Status::Ok();
}

Status GetBool(const Json& obj, const char* key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return Invalid(Field(path, key) + ": expected true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status GetDuration(const Json& obj, const char* key, const std::string& path,
                   std::optional<int64_t>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  auto s = ScalarString(*it, Field(path, key));
  if (!s.ok()) return s.status();
  auto d = ParseDurationMs(*s);
  if (!d.ok()) return Invalid(Field(path, key) + ": " + d.status().message());
  *out = *d;
  return Status::Ok();
}

Result<std::vector<std::string>> StringList(const Json& obj, const char* key,
                                            const std::string& path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return Invalid(Field(path, key) + ": expected a list");
  for (size_t i = 0; i < it->size(); ++i) {
    auto s = ScalarString((*it)[i], Field(path, key) + "[" + std::to_string(i) + "]");
    if (!s.ok()) return s.status();
    out.push_back(std::move(s).value());
  }
  return out;
}

// matchers (new syntax), match (equality) and match_re (regex), under the
// given key names, appended to *out.
Status CollectMatchers(const Json& obj, const std::string& path, const char* matchers_key,
                       const char* match_key, const char* match_re_key, std::vector<Matcher>* out) {
  auto lines = StringList(obj, matchers_key, path);
  if (!lines.ok()) return lines.status();
  for (size_t i = 0; i < lines->size(); ++i) {
    auto ms = ParseMatchers((*lines)[i]);
    if (!ms.ok())
      return Invalid(Field(path, matchers_key) + "[" + std::to_string(i) +
                     "]: " + ms.status().message());
    for (auto& m : *ms) out->push_back(std::move(m));
  }
  for (const char* key : {match_key, match_re_key}) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) continue;
    if (!it->is_object()) return Invalid(Field(path, key) + ": expected a mapping");
    bool re = key == match_re_key;
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      std::string f = Field(path, key) + "." + kv.key();
      if (!IsValidLabelName(kv.key())) return Invalid(f + ": invalid label name");
      auto v = ScalarString(kv.value(), f);
      if (!v.ok()) return v.status();
      auto m = Matcher::Make(re ? Matcher::Op::kRe : Matcher::Op::kEq, kv.key(), *v);
      if (!m.ok()) return Invalid(f + ": " + m.status().message());
      out->push_back(std::move(m).value());
    }
  }
  return Status::Ok();
}

struct ParseState {
  std::set<std::string> receivers;
  int next_id = 0;
};

Status ParseRoute(const Json& j, const std::string& path, const Route* parent, ParseState& st,
                  Route* r) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  BERTH_RETURN_IF_ERROR(
      CheckKeys(j,
                {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
                 "matchers", "match", "match_re", "continue", "routes"},
                path));
  r->id = st.next_id++;
  if (parent != nullptr) {
    r->receiver = parent->receiver;
    r->group_by = parent->group_by;
    r->group_by_all = parent->group_by_all;
    r->group_wait_ms = parent->group_wait_ms;
    r->group_interval_ms = parent->group_interval_ms;
    r->repeat_interval_ms = parent->repeat_interval_ms;
  }
  std::string receiver;
  BERTH_RETURN_IF_ERROR(GetString(j, "receiver", path, &receiver));
  if (!receiver.empty()) {
    if (st.receivers.count(receiver) == 0)
      return Invalid(Field(path, "receiver") + ": undefined receiver \"" + receiver + "\"");
    r->receiver = receiver;
  } else if (parent == nullptr) {
    return Invalid(Field(path, "receiver") + ": root route must specify a default receiver");
  }

  if (j.contains("group_by") && !j["group_by"].is_null()) {
    auto gb = StringList(j, "group_by", path);
    if (!gb.ok()) return gb.status();
    std::vector<std::string> names = std::move(gb).value();
    r->group_by.clear();
    r->group_by_all = false;
    std::set<std::string> seen;
    for (const auto& n : names) {
      if (n == "...") {
        if (names.size() != 1)
          return Invalid(Field(path, "group_by") +
                         ": cannot have wildcard group_by (`...`) and other labels at the same "
                         "time");
        r->group_by_all = true;
        continue;
      }
      if (!IsValidLabelName(n))
        return Invalid(Field(path, "group_by") + ": invalid label name \"" + n + "\"");
      if (!seen.insert(n).second)
        return Invalid(Field(path, "group_by") + ": duplicated label \"" + n + "\"");
      r->group_by.push_back(n);
    }
    std::sort(r->group_by.begin(), r->group_by.end());
  }

  std::optional<int64_t> gw, gi, ri;
  BERTH_RETURN_IF_ERROR(GetDuration(j, "group_wait", path, &gw));
  BERTH_RETURN_IF_ERROR(GetDuration(j, "group_interval", path, &gi));
  BERTH_RETURN_IF_ERROR(GetDuration(j, "repeat_interval", path, &ri));
  if (gw) r->group_wait_ms = *gw;
  if (gi) {
    if (*gi == 0) return Invalid(Field(path, "group_interval") + ": cannot be zero");
    r->group_interval_ms = *gi;
  }
  if (ri) {
    if (*ri == 0) return Invalid(Field(path, "repeat_interval") + ": cannot be zero");
    r->repeat_interval_ms = *ri;
  }

  BERTH_RETURN_IF_ERROR(CollectMatchers(j, path, "matchers", "match", "match_re", &r->matchers));
  BERTH_RETURN_IF_ERROR(GetBool(j, "continue", path, &r->continue_matching));
  if (parent == nullptr) {
    if (!r->matchers.empty()) return Invalid(path + ": root route must not have any matchers");
    if (r->continue_matching) return Invalid(path + ": cannot have continue in root route");
    r->key = "{}";
  } else {
    r->key = parent->key + "/" + MatchersString(r->matchers);
  }

  auto it = j.find("routes");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Invalid(Field(path, "routes") + ": expected a list");
    for (size_t i = 0; i < it->size(); ++i) {
      Route child;
      BERTH_RETURN_IF_ERROR(ParseRoute(
          (*it)[i], Field(path, "routes") + "[" + std::to_string(i) + "]", r, st, &child));
      r->routes.push_back(std::move(child));
    }
  }
  return Status::Ok();
}

// "subject" → "Subject", "x-priority" → "X-Priority": Go's canonical MIME
// header form, so a configured header replaces the default one.
std::string CanonicalHeader(std::string_view s) {
  std::string out(s);
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

Status ParseHttpConfig(const Json& j, const std::string& path, HttpClientConfig* h) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  BERTH_RETURN_IF_ERROR(CheckKeys(
      j, {"bearer_token", "authorization", "basic_auth", "tls_config", "follow_redirects"}, path));
  BERTH_RETURN_IF_ERROR(GetString(j, "bearer_token", path, &h->bearer_token));
  if (auto it = j.find("authorization"); it != j.end() && !it->is_null()) {
    std::string p = Field(path, "authorization");
    BERTH_RETURN_IF_ERROR(ExpectObject(*it, p));
    BERTH_RETURN_IF_ERROR(CheckKeys(*it, {"type", "credentials"}, p));
    BERTH_RETURN_IF_ERROR(GetString(*it, "type", p, &h->authorization_type));
    BERTH_RETURN_IF_ERROR(GetString(*it, "credentials", p, &h->authorization_credentials));
    if (h->authorization_type.empty()) h->authorization_type = "Bearer";
  }
  if (auto it = j.find("basic_auth"); it != j.end() && !it->is_null()) {
    std::string p = Field(path, "basic_auth");
    BERTH_RETURN_IF_ERROR(ExpectObject(*it, p));
    BERTH_RETURN_IF_ERROR(CheckKeys(*it, {"username", "password"}, p));
    BERTH_RETURN_IF_ERROR(GetString(*it, "username", p, &h->basic_auth_username));
    BERTH_RETURN_IF_ERROR(GetString(*it, "password", p, &h->basic_auth_password));
  }
  if (auto it = j.find("tls_config"); it != j.end() && !it->is_null()) {
    std::string p = Field(path, "tls_config");
    BERTH_RETURN_IF_ERROR(ExpectObject(*it, p));
    BERTH_RETURN_IF_ERROR(CheckKeys(
        *it, {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"}, p));
    BERTH_RETURN_IF_ERROR(GetString(*it, "ca_file", p, &h->ca_file));
    BERTH_RETURN_IF_ERROR(GetString(*it, "cert_file", p, &h->cert_file));
    BERTH_RETURN_IF_ERROR(GetString(*it, "key_file", p, &h->key_file));
    BERTH_RETURN_IF_ERROR(GetString(*it, "server_name", p, &h->server_name));
    BERTH_RETURN_IF_ERROR(GetBool(*it, "insecure_skip_verify", p, &h->insecure_skip_verify));
  }
  int auths = !h->bearer_token.empty() + !h->authorization_credentials.empty() +
              !h->basic_auth_username.empty();
  if (auths > 1)
    return Invalid(path + ": at most one of basic_auth, bearer_token and authorization may be set");
  return Status::Ok();
}

Status ParseEmail(const Json& j, const std::string& path, const GlobalConfig& g, EmailConfig* e) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  BERTH_RETURN_IF_ERROR(CheckKeys(
      j, {"send_resolved", "to", "from", "smarthost", "hello", "headers", "require_tls"}, path));
  e->from = g.smtp_from;
  e->smarthost = g.smtp_smarthost;
  e->hello = g.smtp_hello;
  e->require_tls = g.smtp_require_tls;
  BERTH_RETURN_IF_ERROR(GetBool(j, "send_resolved", path, &e->send_resolved));
  BERTH_RETURN_IF_ERROR(GetString(j, "to", path, &e->to));
  BERTH_RETURN_IF_ERROR(GetString(j, "from", path, &e->from));
  BERTH_RETURN_IF_ERROR(GetString(j, "smarthost", path, &e->smarthost));
  BERTH_RETURN_IF_ERROR(GetString(j, "hello", path, &e->hello));
  BERTH_RETURN_IF_ERROR(GetBool(j, "require_tls", path, &e->require_tls));
  if (auto it = j.find("headers"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid(Field(path, "headers") + ": expected a mapping");
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      auto v = ScalarString(kv.value(), Field(path, "headers") + "." + kv.key());
      if (!v.ok()) return v.status();
      std::string name = CanonicalHeader(kv.key());
      if (e->headers.count(name))
        return Invalid(Field(path, "headers") + ": duplicate header \"" + name + "\"");
      e->headers[name] = *v;
    }
  }
  if (e->to.empty()) return Invalid(Field(path, "to") + ": missing to address in email config");
  if (e->from.empty())
    return Invalid(Field(path, "from") + ": no global SMTP from set and none in the email config");
  if (e->smarthost.empty())
    return Invalid(Field(path, "smarthost") +
                   ": no global SMTP smarthost set and none in the email config");
  size_t colon = e->smarthost.rfind(':');
  if (colon == std::string::npos || colon + 1 == e->smarthost.size())
    return Invalid(Field(path, "smarthost") + ": \"" + e->smarthost + "\" lacks a port");
  std::string port = e->smarthost.substr(colon + 1);
  if (!std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c); }))
    return Invalid(Field(path, "smarthost") + ": bad port \"" + port + "\"");
  // Only plain SMTP is implemented; refusing here beats sending mail in the
  // clear to a server the operator expected to be reached over TLS.
  if (port == "465")
    return Invalid(Field(path, "smarthost") + ": SMTPS (port 465) is not supported");
  if (e->require_tls)
    return Invalid(Field(path, "require_tls") +
                   ": STARTTLS is not supported; set require_tls (or global smtp_require_tls) "
                   "to false");
  return Status::Ok();
}

Status ParseWebhook(const Json& j, const std::string& path, WebhookConfig* w) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  BERTH_RETURN_IF_ERROR(
      CheckKeys(j, {"send_resolved", "url", "max_alerts", "timeout", "http_config"}, path));
  BERTH_RETURN_IF_ERROR(GetBool(j, "send_resolved", path, &w->send_resolved));
  BERTH_RETURN_IF_ERROR(GetString(j, "url", path, &w->url));
  if (w->url.empty()) return Invalid(Field(path, "url") + ": one of url or url_file must be set");
  if (w->url.rfind("http://", 0) != 0 && w->url.rfind("https://", 0) != 0)
    return Invalid(Field(path, "url") + ": unsupported scheme in \"" + w->url + "\"");
  if (auto it = j.find("max_alerts"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return Invalid(Field(path, "max_alerts") + ": expected a non-negative integer");
    w->max_alerts = static_cast<int>(it->get<int64_t>());
  }
  std::optional<int64_t> timeout;
  BERTH_RETURN_IF_ERROR(GetDuration(j, "timeout", path, &timeout));
  if (timeout) w->timeout_ms = *timeout;
  if (auto it = j.find("http_config"); it != j.end() && !it->is_null())
    BERTH_RETURN_IF_ERROR(ParseHttpConfig(*it, Field(path, "http_config"), &w->http));
  return Status::Ok();
}

Status ParseGlobal(const Json& j, GlobalConfig* g) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, "global"));
  for (auto it = j.begin(); it != j.end(); ++it) {
    // Defaults of integrations Berth lacks are harmless (no receiver can use
    // them); SMTP settings Berth cannot honour are not.
    if (it.key().rfind("smtp_auth", 0) == 0)
      return Invalid("global." + it.key() + ": SMTP authentication is not supported");
  }
  std::optional<int64_t> rt;
  BERTH_RETURN_IF_ERROR(GetDuration(j, "resolve_timeout", "global", &rt));
  if (rt) g->resolve_timeout_ms = *rt;
  BERTH_RETURN_IF_ERROR(GetString(j, "smtp_from", "global", &g->smtp_from));
  BERTH_RETURN_IF_ERROR(GetString(j, "smtp_smarthost", "global", &g->smtp_smarthost));
  BERTH_RETURN_IF_ERROR(GetString(j, "smtp_hello", "global", &g->smtp_hello));
  BERTH_RETURN_IF_ERROR(GetBool(j, "smtp_require_tls", "global", &g->smtp_require_tls));
  return Status::Ok();
}

Status ParseReceiver(const Json& j, const std::string& path, const GlobalConfig& g, Receiver* r) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "name" && k != "email_configs" && k != "webhook_configs") {
      if (k.size() > 8 && k.compare(k.size() - 8, 8, "_configs") == 0)
        return Invalid(Field(path, k) +
                       ": receiver type not supported (only email_configs and "
                       "webhook_configs)");
      return Invalid(Field(path, k) + ": field not supported");
    }
  }
  BERTH_RETURN_IF_ERROR(GetString(j, "name", path, &r->name));
  if (r->name.empty()) return Invalid(Field(path, "name") + ": missing name in receiver");
  for (const char* key : {"email_configs", "webhook_configs"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_array()) return Invalid(Field(path, key) + ": expected a list");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string p = Field(path, key) + "[" + std::to_string(i) + "]";
      if (std::string_view(key) == "email_configs") {
        EmailConfig e;
        BERTH_RETURN_IF_ERROR(ParseEmail((*it)[i], p, g, &e));
        r->email_configs.push_back(std::move(e));
      } else {
        WebhookConfig w;
        BERTH_RETURN_IF_ERROR(ParseWebhook((*it)[i], p, &w));
        r->webhook_configs.push_back(std::move(w));
      }
    }
  }
  return Status::Ok();
}

Status ParseInhibitRule(const Json& j, const std::string& path, InhibitRule* r) {
  BERTH_RETURN_IF_ERROR(ExpectObject(j, path));
  BERTH_RETURN_IF_ERROR(CheckKeys(j,
                                  {"source_matchers", "target_matchers", "source_match",
                                   "source_match_re", "target_match", "target_match_re", "equal"},
                                  path));
  BERTH_RETURN_IF_ERROR(CollectMatchers(j, path, "source_matchers", "source_match",
                                        "source_match_re", &r->source_matchers));
  BERTH_RETURN_IF_ERROR(CollectMatchers(j, path, "target_matchers", "target_match",
                                        "target_match_re", &r->target_matchers));
  auto eq = StringList(j, "equal", path);
  if (!eq.ok()) return eq.status();
  for (const auto& n : *eq)
    if (!IsValidLabelName(n))
      return Invalid(Field(path, "equal") + ": invalid label name \"" + n + "\"");
  r->equal = std::move(eq).value();
  return Status::Ok();
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<const Route*> Route::Match(const Labels& ls) const {
  std::vector<const Route*> out;
  if (!MatchesAll(ls, matchers)) return out;
  for (const Route& child : routes) {
    auto m = child.Match(ls);
    if (m.empty()) continue;
    out.insert(out.end(), m.begin(), m.end());
    if (!child.continue_matching) break;
  }
  if (out.empty()) out.push_back(this);
  return out;
}

const Receiver* Config::FindReceiver(std::string_view name) const {
  for (const auto& r : receivers)
    if (r.name == name) return &r;
  return nullptr;
}

Result<Matcher> ParseMatcher(std::string_view in) {
  std::string_view s = Trim(in);
  std::string text(in);
  if (s.empty() || !IsNameStart(s[0])) return Invalid("bad matcher format: " + text);
  size_t i = 1;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  std::string name(s.substr(0, i));
  std::string_view rest = Trim(s.substr(i));
  Matcher::Op op;
  if (rest.rfind("=~", 0) == 0) {
    op = Matcher::Op::kRe;
    rest.remove_prefix(2);
  } else if (rest.rfind("!~", 0) == 0) {
    op = Matcher::Op::kNre;
    rest.remove_prefix(2);
  } else if (rest.rfind("!=", 0) == 0) {
    op = Matcher::Op::kNeq;
    rest.remove_prefix(2);
  } else if (rest.rfind("=", 0) == 0) {
    op = Matcher::Op::kEq;
    rest.remove_prefix(1);
  } else {
    return Invalid("bad matcher format: " + text);
  }
  rest = Trim(rest);
  std::string value;
  if (!rest.empty() && rest.front() == '"') {
    if (rest.size() < 2 || rest.back() != '"')
      return Invalid("matcher value contains unescaped double quote: " + text);
    std::string_view body = rest.substr(1, rest.size() - 2);
    for (size_t k = 0; k < body.size(); ++k) {
      char c = body[k];
      if (c == '\\' && k + 1 < body.size()) {
        char n = body[k + 1];
        if (n == '"' || n == '\\') {
          value += n;
          ++k;
          continue;
        }
        if (n == 'n') {
          value += '\n';
          ++k;
          continue;
        }
      } else if (c == '"') {
        return Invalid("matcher value contains unescaped double quote: " + text);
      }
      value += c;
    }
  } else {
    if (rest.find('"') != std::string_view::npos)
      return Invalid("matcher value contains unescaped double quote: " + text);
    value = std::string(rest);
  }
  auto m = Matcher::Make(op, std::move(name), std::move(value));
  if (!m.ok()) return Invalid("bad matcher " + std::string(Trim(in)) + ": " + m.status().message());
  return m;
}

Result<std::vector<Matcher>> ParseMatchers(std::string_view in) {
  std::string_view s = Trim(in);
  if (!s.empty() && s.front() == '{') s.remove_prefix(1);
  if (!s.empty() && s.back() == '}') s.remove_suffix(1);
  std::vector<Matcher> out;
  std::string cur;
  bool quoted = false;
  auto flush = [&]() -> Status {
    if (Trim(cur).empty()) {
      cur.clear();
      return Status::Ok();
    }
    auto m = ParseMatcher(cur);
    if (!m.ok()) return m.status();
    out.push_back(std::move(m).value());
    cur.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\' && i + 1 < s.size()) {
      cur += c;
      cur += s[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      BERTH_RETURN_IF_ERROR(flush());
      continue;
    }
    cur += c;
  }
  if (quoted) return Invalid("unterminated quoted value in matchers: " + std::string(in));
  BERTH_RETURN_IF_ERROR(flush());
  return out;
}

std::string MatchersString(const std::vector<Matcher>& ms) {
  std::string out = "{";
  for (size_t i = 0; i < ms.size(); ++i) {
    if (i > 0) out += ',';
    out += ms[i].String();
  }
  return out + "}";
}

Result<int64_t> ParseDurationMs(std::string_view s) {
  std::string text(s);
  if (s == "0") return int64_t{0};
  if (s.empty()) return Invalid("empty duration string");
  // Units in the only order Prometheus accepts them, each at most once.
  static const std::pair<const char*, int64_t> kUnits[] = {{"y", 365LL * 86'400'000},
                                                           {"w", 7LL * 86'400'000},
                                                           {"d", 86'400'000},
                                                           {"h", 3'600'000},
                                                           {"m", 60'000},
                                                           {"s", 1000},
                                                           {"ms", 1}};
  int64_t total = 0;
  size_t next_unit = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[i])))
      return Invalid("not a valid duration string: \"" + text + "\"");
    int64_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n > (int64_t{1} << 50)) return Invalid("duration out of range: \"" + text + "\"");
      n = n * 10 + (s[i++] - '0');
    }
    size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    std::string_view unit = s.substr(i, j - i);
    i = j;
    size_t u = next_unit;
    while (u < std::size(kUnits) && unit != kUnits[u].first) ++u;
    if (u == std::size(kUnits)) return Invalid("not a valid duration string: \"" + text + "\"");
    next_unit = u + 1;
    total += n * kUnits[u].second;
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  static const std::pair<const char*, int64_t> kUnits[] = {{"y", 365LL * 86'400'000},
                                                           {"w", 7LL * 86'400'000},
                                                           {"d", 86'400'000},
                                                           {"h", 3'600'000},
                                                           {"m", 60'000},
                                                           {"s", 1000},
                                                           {"ms", 1}};
  for (const auto& [u, len] : kUnits) {
    if (ms >= len) {
      out += std::to_string(ms / len) + u;
      ms %= len;
    }
  }
  return out;
}

Result<std::shared_ptr<const Config>> ParseConfig(std::string_view yaml) {
  auto parsed = ParseYamlOrJson(yaml);
  if (!parsed.ok()) return Invalid("alertmanager config: " + parsed.status().message());
  const Json& j = *parsed;
  if (j.is_null()) return Invalid("alertmanager config: empty configuration");
  if (!j.is_object()) return Invalid("alertmanager config: expected a mapping at the top level");
  auto cfg = std::make_shared<Config>();
  cfg->original = std::string(yaml);
  // Exceptions from nlohmann's accessors cannot escape the module boundary.
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k == "templates") {
        if (!it->is_null() && !(it->is_array() && it->empty()))
          return Invalid("templates: notification templates are not supported");
      } else if (k == "time_intervals" || k == "mute_time_intervals") {
        if (!it->is_null() && !(it->is_array() && it->empty()))
          return Invalid(k + ": time intervals are not supported");
      } else if (k != "global" && k != "route" && k != "inhibit_rules" && k != "receivers") {
        return Invalid(k + ": field not supported");
      }
    }
    if (auto it = j.find("global"); it != j.end() && !it->is_null())
      BERTH_RETURN_IF_ERROR(ParseGlobal(*it, &cfg->global));

    ParseState st;
    if (auto it = j.find("receivers"); it != j.end() && !it->is_null()) {
      if (!it->is_array()) return Invalid("receivers: expected a list");
      for (size_t i = 0; i < it->size(); ++i) {
        Receiver r;
        BERTH_RETURN_IF_ERROR(
            ParseReceiver((*it)[i], "receivers[" + std::to_string(i) + "]", cfg->global, &r));
        if (!st.receivers.insert(r.name).second)
          return Invalid("receivers[" + std::to_string(i) + "]: notification config name \"" +
                         r.name + "\" is not unique");
        cfg->receivers.push_back(std::move(r));
      }
    }

    auto rit = j.find("route");
    if (rit == j.end() || rit->is_null()) return Invalid("route: no routes provided");
    BERTH_RETURN_IF_ERROR(ParseRoute(*rit, "route", nullptr, st, &cfg->route));

    if (auto it = j.find("inhibit_rules"); it != j.end() && !it->is_null()) {
      if (!it->is_array()) return Invalid("inhibit_rules: expected a list");
      for (size_t i = 0; i < it->size(); ++i) {
        InhibitRule r;
        BERTH_RETURN_IF_ERROR(
            ParseInhibitRule((*it)[i], "inhibit_rules[" + std::to_string(i) + "]", &r));
        cfg->inhibit_rules.push_back(std::move(r));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Invalid(std::string("alertmanager config: ") + e.what());
  }
  return std::shared_ptr<const Config>(std::move(cfg));
}

Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto cfg = ParseConfig(*text);
  if (!cfg.ok()) return Invalid(path + ": " + cfg.status().message());
  return cfg;
}

}  // namespace berth::monitor::alerting
