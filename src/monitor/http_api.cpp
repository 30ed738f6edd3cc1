#include "monitor/http_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "monitor/promql/parser.h"
#include "net/http.h"

namespace berth::monitor {
namespace {

using promql::ErrorType;
using promql::FormatFloat;

// Prometheus's bounds for "no start"/"no end" (Go's time extremes it prints).
constexpr int64_t kMinTime = -9223309901257974LL;
constexpr int64_t kMaxTime = 9223309901257974LL;
constexpr int64_t kMaxPointsPerSeries = 11000;

void AppendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void AppendMetric(std::string& out, const Labels& ls) {
  out += '{';
  bool first = true;
  for (const auto& l : ls) {
    if (!first) out += ',';
    first = false;
    AppendQuoted(out, l.name);
    out += ':';
    AppendQuoted(out, l.value);
  }
  out += '}';
}

void AppendPoint(std::string& out, int64_t t, double v) {
  out += '[';
  out += FormatFloat(static_cast<double>(t) / 1000.0);
  out += ",\"";
  out += FormatFloat(v);
  out += "\"]";
}

// A native histogram point as Prometheus's API writes it: [t, {"count":..,
// "sum":.., "buckets":[[boundary rule, lower, upper, count], ...]}], the
// rule 0 for (lower, upper], 1 for [lower, upper), 2 for an open and 3 for a
// closed interval; empty buckets are left out, and so is "buckets" when none
// is left.
void AppendHistogramPoint(std::string& out, int64_t t, const FloatHistogram& h) {
  out += '[';
  out += FormatFloat(static_cast<double>(t) / 1000.0);
  out += ",{\"count\":\"";
  out += FormatFloat(h.count);
  out += "\",\"sum\":\"";
  out += FormatFloat(h.sum);
  out += '"';
  bool first = true;
  for (const HistogramBucket& b : AllBuckets(h)) {
    if (b.count == 0) continue;
    out += first ? ",\"buckets\":[" : ",";
    first = false;
    int rule = b.lower_inclusive ? (b.upper_inclusive ? 3 : 1) : (b.upper_inclusive ? 0 : 2);
    out += '[';
    out += std::to_string(rule);
    out += ",\"";
    out += FormatFloat(b.lower);
    out += "\",\"";
    out += FormatFloat(b.upper);
    out += "\",\"";
    out += FormatFloat(b.count);
    out += "\"]";
  }
  if (!first) out += ']';
  out += "}]";
}

void ReplyJson(net::ResponseWriter& w, int code, const std::string& body) {
  w.Reply(code, {{"Content-Type", "application/json"}}, body);
}

void ReplyError(net::ResponseWriter& w, ErrorType type, const std::string& msg) {
  static const char* kNames[] = {"bad_data", "execution", "timeout", "canceled"};
  static const int kCodes[] = {400, 422, 503, 503};
  Json j = {{"status", "error"}, {"errorType", kNames[static_cast<int>(type)]}, {"error", msg}};
  ReplyJson(w, kCodes[static_cast<int>(type)], j.dump());
}

void ReplyData(net::ResponseWriter& w, const Json& data) {
  Json j = {{"status", "success"}, {"data", data}};
  ReplyJson(w, 200, j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void ReplyNotFound(net::ResponseWriter& w, const std::string& endpoint) {
  Json j = {{"status", "error"},
            {"errorType", "not_found"},
            {"error", "unknown API endpoint " + endpoint}};
  ReplyJson(w, 404, j.dump());
}

// Query parameters, plus the form fields of a urlencoded POST.
struct Params {
  std::multimap<std::string, std::string> all;
  std::string Get(const std::string& k) const {
    auto it = all.find(k);
    return it == all.end() ? "" : it->second;
  }
  bool Has(const std::string& k) const { return all.count(k) > 0; }
  std::vector<std::string> List(const std::string& k) const {
    std::vector<std::string> out;
    auto [lo, hi] = all.equal_range(k);
    for (auto it = lo; it != hi; ++it) out.push_back(it->second);
    return out;
  }
};

Params ReadParams(const net::Request& req) {
  Params p{req.query};
  if (req.method == "POST" &&
      req.Header("Content-Type").find("application/x-www-form-urlencoded") != std::string::npos) {
    for (auto& kv : net::ParseQuery(req.body)) p.all.insert(kv);
  }
  return p;
}

// /api/v1/rules's filters, as Prometheus applies them: type=alert|record,
// rule_name[], rule_group[], file[] (any of the values), exclude_alerts.
// With a rule-level filter, groups left without rules are dropped.
Result<Json> FilterRules(Json data, const Params& p) {
  std::string type = p.Get("type");
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!type.empty() && type != "alert" && type != "record")
    return Invalid("not supported value \"" + type + "\"");
  std::string exclude = p.Get("exclude_alerts");
  if (!exclude.empty() && exclude != "true" && exclude != "false")
    return Invalid("parsing exclude_alerts: strconv.ParseBool: parsing \"" + exclude +
                   "\": invalid syntax");
  auto in = [](const std::vector<std::string>& set, const std::string& v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  std::vector<std::string> names = p.List("rule_name[]"), groups = p.List("rule_group[]"),
                           files = p.List("file[]");
  bool rule_filter = !type.empty() || !names.empty();
  Json out = Json::array();
  for (Json& g : data["groups"]) {
    if (!in(groups, g.value("name", "")) || !in(files, g.value("file", ""))) continue;
    Json rules = Json::array();
    for (Json& r : g["rules"]) {
      bool alert = r.value("type", "") == "alerting";
      if (!type.empty() && (type == "alert") != alert) continue;
      if (!in(names, r.value("name", ""))) continue;
      if (alert && exclude == "true") r.erase("alerts");
      rules.push_back(std::move(r));
    }
    if (rule_filter && rules.empty()) continue;
    g["rules"] = std::move(rules);
    out.push_back(std::move(g));
  }
  data["groups"] = std::move(out);
  return data;
}

std::string InvalidParam(const std::string& name, const std::string& msg) {
  return "invalid parameter \"" + name + "\": " + msg;
}

Result<int64_t> TimeParam(const Params& p, const std::string& name, int64_t def) {
  if (!p.Has(name) || p.Get(name).empty()) return def;
  auto t = ParseApiTime(p.Get(name));
  if (!t.ok()) return Invalid(InvalidParam(name, t.status().message()));
  return *t;
}

}  // namespace

Result<int64_t> ParseApiTime(std::string_view s) {
  std::string str(s);
  if (str == "-292273086-05-16T16:47:06Z") return kMinTime;
  if (str == "292277025-08-18T07:12:54.999999999Z") return kMaxTime;
  // Unix seconds, possibly with a fraction.
  {
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v)) {
      double secs = std::trunc(v);
      double ms = std::round((v - secs) * 1000.0);
      if (std::fabs(secs) > 9.2e15)
        return Invalid("cannot parse \"" + str + "\" to a valid timestamp");
      return static_cast<int64_t>(secs) * 1000 + static_cast<int64_t>(ms);
    }
  }
  // RFC 3339: 2006-01-02T15:04:05(.999999999)?(Z|±07:00)
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  int n = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
      n == 19) {
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t ms = 0;
    size_t i = 19;
    if (i < str.size() && str[i] == '.') {
      ++i;
      int digits = 0;
      int64_t frac = 0;
      while (i < str.size() && std::isdigit(static_cast<unsigned char>(str[i]))) {
        if (digits < 3) frac = frac * 10 + (str[i] - '0');
        ++digits;
        ++i;
      }
      if (digits == 0) return Invalid("cannot parse \"" + str + "\" to a valid timestamp");
      for (int k = digits; k < 3; ++k) frac *= 10;
      ms = frac;
    }
    int64_t tz = 0;
    if (i < str.size() && (str[i] == 'Z' || str[i] == 'z') && i + 1 == str.size()) {
      tz = 0;
    } else if (i + 6 == str.size() && (str[i] == '+' || str[i] == '-') && str[i + 3] == ':') {
      int th = 0, tmn = 0;
      if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &th, &tmn) != 2)
        return Invalid("cannot parse \"" + str + "\" to a valid timestamp");
      tz = (th * 3600 + tmn * 60) * (str[i] == '+' ? 1 : -1);
    } else {
      return Invalid("cannot parse \"" + str + "\" to a valid timestamp");
    }
    int64_t secs = static_cast<int64_t>(timegm(&tm)) - tz;
    return secs * 1000 + ms;
  }
  return Invalid("cannot parse \"" + str + "\" to a valid timestamp");
}

Result<int64_t> ParseApiDuration(std::string_view s) {
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
    if (!std::isfinite(v) || std::fabs(v * 1000) > 9.2e18)
      return Invalid("cannot parse \"" + std::string(s) +
                     "\" to a valid duration. It overflows int64");
    return static_cast<int64_t>(std::round(v * 1000));
  }
  auto d = promql::ParseDuration(s);
  if (!d.ok()) return Invalid("cannot parse \"" + std::string(s) + "\" to a valid duration");
  return *d;
}

std::string QueryResultJson(const promql::QueryResult& r) {
  std::string out = "{\"resultType\":";
  switch (r.type) {
    case promql::ValueType::kScalar:
      out += "\"scalar\",\"result\":";
      AppendPoint(out, r.scalar.t, r.scalar.v);
      break;
    case promql::ValueType::kString:
      out += "\"string\",\"result\":[";
      out += FormatFloat(static_cast<double>(r.scalar.t) / 1000.0);
      out += ',';
      AppendQuoted(out, r.str);
      out += ']';
      break;
    case promql::ValueType::kVector: {
      out += "\"vector\",\"result\":[";
      bool first = true;
      for (const auto& s : r.vector) {
        if (!first) out += ',';
        first = false;
        out += "{\"metric\":";
        AppendMetric(out, s.metric);
        if (s.h) {
          out += ",\"histogram\":";
          AppendHistogramPoint(out, s.t, *s.h);
        } else {
          out += ",\"value\":";
          AppendPoint(out, s.t, s.v);
        }
        out += '}';
      }
      out += ']';
      break;
    }
    default: {
      out += "\"matrix\",\"result\":[";
      bool first = true;
      for (const auto& s : r.matrix) {
        if (!first) out += ',';
        first = false;
        out += "{\"metric\":";
        AppendMetric(out, s.metric);
        // Floats under "values", native histograms under "histograms"; a
        // key without points is left out.
        bool floats = false, hists = false;
        for (const auto& p : s.points) {
          if (p.h) continue;
          out += floats ? "," : ",\"values\":[";
          floats = true;
          AppendPoint(out, p.t, p.v);
        }
        if (floats) out += ']';
        for (const auto& p : s.points) {
          if (!p.h) continue;
          out += hists ? "," : ",\"histograms\":[";
          hists = true;
          AppendHistogramPoint(out, p.t, *p.h);
        }
        if (hists) out += ']';
        out += '}';
      }
      out += ']';
    }
  }
  out += '}';
  return out;
}

HttpApi::HttpApi(Storage* storage, const promql::Engine* engine, ApiProviders providers)
    : storage_(storage), engine_(engine), providers_(std::move(providers)) {}

std::vector<std::string> HttpApi::Endpoints() {
  return {"query",  "query_range",  "query_exemplars", "series", "labels",
          "label",  "metadata",     "targets",         "rules",  "alerts",
          "status", "format_query", "parse_query",     "write"};
}

void HttpApi::Mount(net::Router& router) {
  for (const auto& e : Endpoints()) {
    auto h = [this, e](net::Request& req, net::ResponseWriter& w) {
      std::string_view path = req.path;
      size_t at = path.find("/api/v1/");
      Serve(std::string(path.substr(at + 8)), req, w);
    };
    router.Handle("/api/v1/" + e, h);
    router.Handle("/api/v1/" + e + "/*", h);
  }
  router.Handle("/federate",
                [this](net::Request& req, net::ResponseWriter& w) { Federate(req, w); });
  router.Handle("/prometheus/federate",
                [this](net::Request& req, net::ResponseWriter& w) { Federate(req, w); });
  router.Handle("/prometheus/api/v1/*", [this](net::Request& req, net::ResponseWriter& w) {
    Serve(req.path.substr(std::string("/prometheus/api/v1/").size()), req, w);
  });
}

// /federate: the newest sample (within the 5-minute lookback) of every series
// matching any match[] selector, in the text exposition format with explicit
// timestamps, for another Prometheus to scrape with honor_labels.
void HttpApi::Federate(net::Request& req, net::ResponseWriter& w) {
  Params p = ReadParams(req);
  std::vector<std::vector<Matcher>> sets;
  for (const auto& m : p.List("match[]")) {
    auto ms = promql::ParseMatchers(m);
    if (!ms.ok()) {
      w.Reply(400, {{"Content-Type", "text/plain"}}, ms.status().message() + "\n");
      return;
    }
    sets.push_back(std::move(*ms));
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000;
  int64_t lookback = engine_->options().lookback_ms;
  std::map<Labels, Sample> latest;
  auto querier = storage_->NewQuerier();
  for (const auto& ms : sets) {
    auto sel = querier->Select(now - lookback + 1, now, ms);
    if (!sel.ok()) {
      w.Reply(500, {{"Content-Type", "text/plain"}}, sel.status().message() + "\n");
      return;
    }
    for (auto& ss : *sel)
      if (!ss.samples.empty() && !IsStaleNaN(ss.samples.back().v))
        latest[ss.labels] = ss.samples.back();
  }
  std::string out, last_name;
  for (const auto& [ls, smp] : latest) {
    std::string name(ls.Name());
    if (name != last_name) {
      out += "# TYPE " + name + " untyped\n";
      last_name = name;
    }
    out += ls.MetricString();
    out += ' ';
    out += FormatFloat(smp.v);
    out += ' ';
    out += std::to_string(smp.t);
    out += '\n';
  }
  w.Reply(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, out);
}

void HttpApi::Serve(const std::string& endpoint, net::Request& req, net::ResponseWriter& w) {
  if (req.method != "GET" && req.method != "POST") {
    Json j = {{"status", "error"}, {"errorType", "bad_data"}, {"error", "method not allowed"}};
    ReplyJson(w, 405, j.dump());
    return;
  }
  Params p = ReadParams(req);
  int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000;

  if (endpoint == "query" || endpoint == "query_range") {
    std::string q = p.Get("query");
    if (!p.Has("query"))
      return ReplyError(w, ErrorType::kBadData, InvalidParam("query", "query must not be empty"));
    promql::QueryError err{};
    auto querier = storage_->NewQuerier();
    Result<promql::QueryResult> res = Invalid("");
    if (endpoint == "query") {
      auto t = TimeParam(p, "time", now);
      if (!t.ok()) return ReplyError(w, ErrorType::kBadData, t.status().message());
      res = engine_->Instant(*querier, q, *t, &err);
    } else {
      auto start = TimeParam(p, "start", 0);
      if (!p.Has("start"))
        start = Invalid(InvalidParam("start", "cannot parse \"\" to a valid timestamp"));
      if (!start.ok()) return ReplyError(w, ErrorType::kBadData, start.status().message());
      auto end = TimeParam(p, "end", 0);
      if (!p.Has("end"))
        end = Invalid(InvalidParam("end", "cannot parse \"\" to a valid timestamp"));
      if (!end.ok()) return ReplyError(w, ErrorType::kBadData, end.status().message());
      if (*end < *start)
        return ReplyError(w, ErrorType::kBadData,
                          InvalidParam("end", "end timestamp must not be before start time"));
      auto step = ParseApiDuration(p.Get("step"));
      if (!step.ok())
        return ReplyError(w, ErrorType::kBadData, InvalidParam("step", step.status().message()));
      if (*step <= 0)
        return ReplyError(w, ErrorType::kBadData,
                          InvalidParam("step",
                                       "zero or negative query resolution step widths are not "
                                       "accepted. Try a positive integer"));
      if ((*end - *start) / *step > kMaxPointsPerSeries)
        return ReplyError(w, ErrorType::kBadData,
                          "exceeded maximum resolution of 11,000 points per timeseries. Try "
                          "decreasing the query resolution (?step=XX)");
      res = engine_->Range(*querier, q, *start, *end, *step, &err);
    }
    if (!res.ok()) {
      std::string msg = err.type == ErrorType::kBadData &&
                                res.status().message().find("parse error") != std::string::npos
                            ? InvalidParam("query", res.status().message())
                            : res.status().message();
      return ReplyError(w, err.type, msg);
    }
    std::string body = "{\"status\":\"success\",\"data\":" + QueryResultJson(*res);
    auto notes = [&body](const char* key, const std::vector<std::string>& v) {
      if (v.empty()) return;
      body += ",\"";
      body += key;
      body += "\":[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) body += ',';
        AppendQuoted(body, v[i]);
      }
      body += ']';
    };
    notes("warnings", res->warnings);
    notes("infos", res->infos);
    body += '}';
    return ReplyJson(w, 200, body);
  }

  if (endpoint == "series" || endpoint == "labels" ||
      (endpoint.rfind("label/", 0) == 0 && endpoint.size() > 13 &&
       endpoint.compare(endpoint.size() - 7, 7, "/values") == 0)) {
    auto start = TimeParam(p, "start", kMinTime);
    if (!start.ok()) return ReplyError(w, ErrorType::kBadData, start.status().message());
    auto end = TimeParam(p, "end", kMaxTime);
    if (!end.ok()) return ReplyError(w, ErrorType::kBadData, end.status().message());
    std::vector<std::vector<Matcher>> sets;
    for (const auto& m : p.List("match[]")) {
      auto ms = promql::ParseMatchers(m);
      if (!ms.ok())
        return ReplyError(w, ErrorType::kBadData, InvalidParam("match[]", ms.status().message()));
      sets.push_back(std::move(*ms));
    }
    int64_t limit = 0;
    if (p.Has("limit")) {
      auto l = std::from_chars(p.Get("limit").data(), p.Get("limit").data() + p.Get("limit").size(),
                               limit);
      if (l.ec != std::errc() || limit < 0)
        return ReplyError(
            w, ErrorType::kBadData,
            InvalidParam("limit", "cannot parse \"" + p.Get("limit") + "\": invalid syntax"));
    }
    auto querier = storage_->NewQuerier();
    if (endpoint == "series") {
      if (sets.empty()) return ReplyError(w, ErrorType::kBadData, "no match[] parameter provided");
      std::set<Labels> all;
      for (const auto& ms : sets) {
        auto s = querier->Series(*start, *end, ms);
        if (!s.ok()) return ReplyError(w, ErrorType::kExecution, s.status().message());
        all.insert(s->begin(), s->end());
      }
      Json data = Json::array();
      for (const auto& ls : all) {
        if (limit > 0 && static_cast<int64_t>(data.size()) >= limit) break;
        Json m = Json::object();
        for (const auto& l : ls) m[l.name] = l.value;
        data.push_back(std::move(m));
      }
      return ReplyData(w, data);
    }
    std::set<std::string> out;
    if (sets.empty()) sets.emplace_back();
    std::string name;
    if (endpoint != "labels") {
      name = net::PercentDecode(endpoint.substr(6, endpoint.size() - 13), false);
      // UTF-8 names arrive as U__ escapes (Prometheus 3).
      if (name.rfind("U__", 0) == 0) {
        std::string dec;
        for (size_t i = 3; i < name.size(); ++i) {
          if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
            dec += '_';
            ++i;
          } else if (name[i] == '_') {
            size_t close = name.find('_', i + 1);
            if (close == std::string::npos) break;
            unsigned cp = std::stoul(name.substr(i + 1, close - i - 1), nullptr, 16);
            if (cp < 0x80)
              dec += static_cast<char>(cp);
            else if (cp < 0x800) {
              dec += static_cast<char>(0xc0 | (cp >> 6));
              dec += static_cast<char>(0x80 | (cp & 0x3f));
            } else {
              dec += static_cast<char>(0xe0 | (cp >> 12));
              dec += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
              dec += static_cast<char>(0x80 | (cp & 0x3f));
            }
            i = close;
          } else {
            dec += name[i];
          }
        }
        name = dec;
      }
      if (name.empty()) return ReplyError(w, ErrorType::kBadData, "invalid label name: \"\"");
    }
    for (const auto& ms : sets) {
      auto r = endpoint == "labels" ? querier->LabelNames(*start, *end, ms)
                                    : querier->LabelValues(name, *start, *end, ms);
      if (!r.ok()) return ReplyError(w, ErrorType::kExecution, r.status().message());
      out.insert(r->begin(), r->end());
    }
    Json data = Json::array();
    for (const auto& s : out) {
      if (limit > 0 && static_cast<int64_t>(data.size()) >= limit) break;
      data.push_back(s);
    }
    return ReplyData(w, data);
  }

  if (endpoint == "format_query") {
    auto e = promql::Parse(p.Get("query"));
    if (!e.ok())
      return ReplyError(w, ErrorType::kBadData, InvalidParam("query", e.status().message()));
    return ReplyData(w, promql::Format(**e));
  }

  if (endpoint == "query_exemplars") return ReplyData(w, Json::array());

  if (endpoint == "metadata") {
    int limit = -1;
    if (p.Has("limit")) limit = std::atoi(p.Get("limit").c_str());
    return ReplyData(
        w, providers_.metadata ? providers_.metadata(p.Get("metric"), limit) : Json::object());
  }
  if (endpoint == "targets") {
    return ReplyData(w, providers_.targets ? providers_.targets()
                                           : Json{{"activeTargets", Json::array()},
                                                  {"droppedTargets", Json::array()}});
  }
  if (endpoint == "targets/metadata") return ReplyData(w, Json::array());
  if (endpoint == "rules") {
    Json data = providers_.rules ? providers_.rules() : Json{{"groups", Json::array()}};
    auto filtered = FilterRules(std::move(data), p);
    if (!filtered.ok()) return ReplyError(w, ErrorType::kBadData, filtered.status().message());
    return ReplyData(w, *filtered);
  }
  if (endpoint == "alerts")
    return ReplyData(w, providers_.alerts ? providers_.alerts() : Json{{"alerts", Json::array()}});

  if (endpoint == "status/buildinfo") {
    return ReplyData(w, Json{{"version", "3.0.0"},
                             {"revision", "berth"},
                             {"branch", "main"},
                             {"buildUser", "berth"},
                             {"buildDate", "20261127-00:00:00"},
                             {"goVersion", "n/a"}});
  }
  if (endpoint == "status/runtimeinfo") {
    return ReplyData(w, Json{{"startTime", ""},
                             {"CWD", "/"},
                             {"reloadConfigSuccess", true},
                             {"lastConfigTime", ""},
                             {"corruptionCount", 0},
                             {"goroutineCount", 0},
                             {"GOMAXPROCS", 0},
                             {"GOGC", ""},
                             {"GODEBUG", ""},
                             {"storageRetention", "15d"}});
  }
  if (endpoint == "status/flags") return ReplyData(w, Json::object());
  if (endpoint == "status/config") return ReplyData(w, Json{{"yaml", ""}});

  if (endpoint == "write") {
    if (req.method != "POST") return ReplyError(w, ErrorType::kBadData, "remote write needs POST");
    if (!providers_.remote_write) return ReplyNotFound(w, endpoint);
    Status st = providers_.remote_write(req.body);
    if (!st.ok()) {
      w.Reply(st.code() == Code::kInternal ? 500 : 400, {{"Content-Type", "text/plain"}},
              st.message() + "\n");
      return;
    }
    w.Reply(204, {}, "");
    return;
  }
  ReplyNotFound(w, endpoint);
}

}  // namespace berth::monitor
