// The Alertmanager v2 HTTP API (api/v2/openapi.yaml): what amtool, Grafana
// and Prometheus's own alert sender speak. Errors are JSON strings, as the
// Go server's generated handlers write them.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "monitor/alerting/alertmanager.h"
#include "monitor/alerting/wire.h"
#include "net/http.h"

namespace berth::monitor::alerting {
namespace {

void ReplyJson(net::ResponseWriter& w, int code, const Json& j) {
  w.Reply(code, {{"Content-Type", "application/json"}},
          j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void ReplyError(net::ResponseWriter& w, int code, const std::string& msg) {
  ReplyJson(w, code, Json(msg));
}

void ReplyStatus(net::ResponseWriter& w, const Status& st) {
  int code = 500;
  switch (st.code()) {
    case Code::kNotFound:
      code = 404;
      break;
    case Code::kBadRequest:
    case Code::kInvalid:
      code = 400;
      break;
    default:
      break;
  }
  ReplyError(w, code, st.message());
}

Json LabelsObject(const Labels& ls) {
  Json j = Json::object();
  for (const auto& l : ls) j[l.name] = l.value;
  return j;
}

Result<bool> BoolParam(const net::Request& req, const std::string& name) {
  if (!req.HasQuery(name)) return true;
  std::string v = req.Query(name);
  if (v == "true" || v == "1" || v.empty()) return true;
  if (v == "false" || v == "0") return false;
  return Invalid("parsing " + name + " param: invalid boolean \"" + v + "\"");
}

Result<std::vector<Matcher>> FilterParam(const net::Request& req) {
  std::vector<Matcher> out;
  auto [lo, hi] = req.query.equal_range("filter");
  for (auto it = lo; it != hi; ++it) {
    auto ms = ParseMatchers(it->second);
    if (!ms.ok()) return Invalid("bad matcher format: " + it->second);
    for (auto& m : *ms) out.push_back(std::move(m));
  }
  return out;
}

Result<Labels> LabelsFromJson(const Json& j, const char* what) {
  if (j.is_null()) return Labels();
  if (!j.is_object()) return Invalid(std::string(what) + " must be an object");
  std::vector<Label> ls;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_string()) return Invalid(std::string(what) + "." + it.key() + " must be a string");
    ls.push_back({it.key(), it->get<std::string>()});
  }
  return Labels(std::move(ls));
}

}  // namespace

void Alertmanager::Mount(net::Router& router, const std::string& prefix) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  router.Handle(p + "/*", [this, p](net::Request& req, net::ResponseWriter& w) {
    Serve(req.path.substr(p.size()), req, w);
  });
}

void Alertmanager::Serve(const std::string& path, net::Request& req, net::ResponseWriter& w) {
  const std::string& m = req.method;
  auto only = [&](std::initializer_list<const char*> methods) {
    for (const char* x : methods)
      if (m == x) return true;
    ReplyError(w, 405, "method " + m + " not allowed");
    return false;
  };
  if (path == "/-/healthy" || path == "/-/ready") {
    if (only({"GET", "HEAD"})) w.Reply(200, {{"Content-Type", "text/plain"}}, "OK");
    return;
  }
  static const std::string kV2 = "/api/v2";
  if (path.compare(0, kV2.size(), kV2) != 0) {
    ReplyError(w, 404, "not found: " + path);
    return;
  }
  std::string ep = path.substr(kV2.size());
  if (ep == "/alerts") {
    if (!only({"GET", "POST"})) return;
    m == "GET" ? GetAlerts(req, w) : PostAlerts(req, w);
  } else if (ep == "/alerts/groups") {
    if (only({"GET"})) GetAlertGroups(req, w);
  } else if (ep == "/silences") {
    if (!only({"GET", "POST"})) return;
    m == "GET" ? GetSilences(req, w) : PostSilences(req, w);
  } else if (ep.rfind("/silence/", 0) == 0 && ep.size() > 9) {
    std::string id = ep.substr(9);
    if (!only({"GET", "DELETE"})) return;
    if (m == "GET") {
      auto s = silences_.Get(id);
      if (!s) return ReplyError(w, 404, "silence " + id + " not found");
      ReplyJson(w, 200, SilenceToJson(*s, Now()));
    } else {
      Status st = silences_.Expire(id, Now());
      if (!st.ok()) return ReplyStatus(w, st);
      w.Reply(200, {{"Content-Type", "application/json"}}, "");
    }
  } else if (ep == "/status") {
    if (only({"GET"})) GetStatus(req, w);
  } else if (ep == "/receivers") {
    if (only({"GET"})) GetReceivers(req, w);
  } else {
    ReplyError(w, 404, "not found: " + path);
  }
}

Json Alertmanager::AlertJson(const AlertView& v) const {
  Json receivers = Json::array();
  for (const auto& r : v.receivers) receivers.push_back({{"name", r}});
  bool suppressed = !v.silenced_by.empty() || !v.inhibited_by.empty();
  Json j = {{"labels", LabelsObject(v.alert.labels)},
            {"annotations", LabelsObject(v.alert.annotations)},
            {"receivers", std::move(receivers)},
            {"fingerprint", v.fingerprint},
            {"startsAt", FormatTimeMs(v.alert.starts_at_ms)},
            {"endsAt", FormatTimeMs(v.alert.ends_at_ms)},
            {"updatedAt", FormatTimeMs(v.updated_at_ms)},
            {"status",
             {{"state", suppressed ? "suppressed" : "active"},
              {"silencedBy", v.silenced_by},
              {"inhibitedBy", v.inhibited_by}}}};
  if (!v.alert.generator_url.empty()) j["generatorURL"] = v.alert.generator_url;
  return j;
}

void Alertmanager::GetAlerts(net::Request& req, net::ResponseWriter& w) {
  bool show[4];
  const char* names[] = {"active", "silenced", "inhibited", "unprocessed"};
  for (int i = 0; i < 4; ++i) {
    auto b = BoolParam(req, names[i]);
    if (!b.ok()) return ReplyError(w, 400, b.status().message());
    show[i] = *b;
  }
  auto filter = FilterParam(req);
  if (!filter.ok()) return ReplyError(w, 400, filter.status().message());
  std::optional<Matcher> receiver;
  if (req.HasQuery("receiver")) {
    auto re = Matcher::Make(Matcher::Op::kRe, "receiver", req.Query("receiver"));
    if (!re.ok())
      return ReplyError(w, 400, "failed to parse receiver param: " + re.status().message());
    receiver = std::move(re).value();
  }
  Json out = Json::array();
  for (const AlertView& v : Alerts(Now())) {
    if (v.resolved) continue;
    bool silenced = !v.silenced_by.empty(), inhibited = !v.inhibited_by.empty();
    if (!show[0] && !silenced && !inhibited) continue;
    if (!show[1] && silenced) continue;
    if (!show[2] && inhibited) continue;
    if (!MatchesAll(v.alert.labels, *filter)) continue;
    if (receiver && std::none_of(v.receivers.begin(), v.receivers.end(),
                                 [&](const std::string& r) { return receiver->Matches(r); }))
      continue;
    out.push_back(AlertJson(v));
  }
  ReplyJson(w, 200, out);
}

void Alertmanager::PostAlerts(net::Request& req, net::ResponseWriter& w) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ReplyError(w, 400, body.status().message());
  if (!body->is_array()) return ReplyError(w, 400, "alerts in body must be of type array");
  int64_t now = Now();
  std::vector<Alert> valid;
  std::vector<std::string> errors;
  for (size_t i = 0; i < body->size(); ++i) {
    const Json& a = (*body)[i];
    std::string at = "alerts[" + std::to_string(i) + "]: ";
    if (!a.is_object()) {
      errors.push_back(at + "must be an object");
      continue;
    }
    Alert alert;
    auto ls = LabelsFromJson(a.value("labels", Json()), "labels");
    auto an = LabelsFromJson(a.value("annotations", Json()), "annotations");
    if (!ls.ok() || !an.ok()) {
      errors.push_back(at + (!ls.ok() ? ls.status() : an.status()).message());
      continue;
    }
    alert.labels = std::move(ls).value();
    alert.annotations = std::move(an).value();
    if (alert.labels.empty()) {
      errors.push_back(at + "at least one label pair required");
      continue;
    }
    bool bad = false;
    for (const auto& l : alert.labels)
      if (!IsValidLabelName(l.name)) {
        errors.push_back(at + "invalid label name \"" + std::string(l.name) + "\"");
        bad = true;
        break;
      }
    for (auto [key, out] :
         {std::pair{"startsAt", &alert.starts_at_ms}, {"endsAt", &alert.ends_at_ms}}) {
      if (bad || !a.contains(key) || a[key].is_null()) continue;
      if (!a[key].is_string()) {
        errors.push_back(at + key + " must be a string");
        bad = true;
        continue;
      }
      auto t = ParseTimeMs(a[key].get<std::string>());
      if (!t.ok()) {
        errors.push_back(at + key + ": " + t.status().message());
        bad = true;
        continue;
      }
      *out = *t;
    }
    if (bad) continue;
    if (a.contains("generatorURL") && a["generatorURL"].is_string())
      alert.generator_url = a["generatorURL"].get<std::string>();
    // Alertmanager's defaults: a missing start is now, or the end if that
    // is already past.
    if (alert.starts_at_ms == 0)
      alert.starts_at_ms = alert.ends_at_ms != 0 && alert.ends_at_ms < now ? alert.ends_at_ms : now;
    if (alert.ends_at_ms != 0 && alert.ends_at_ms < alert.starts_at_ms) {
      errors.push_back(at + "start time must be before end time");
      continue;
    }
    valid.push_back(std::move(alert));
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& a : valid) InsertLocked(std::move(a), now);
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "; ") + e;
    return ReplyError(w, 400, msg);
  }
  w.Reply(200, {{"Content-Type", "application/json"}}, "");
}

void Alertmanager::GetAlertGroups(net::Request& req, net::ResponseWriter& w) {
  bool show[3];
  const char* names[] = {"active", "silenced", "inhibited"};
  for (int i = 0; i < 3; ++i) {
    auto b = BoolParam(req, names[i]);
    if (!b.ok()) return ReplyError(w, 400, b.status().message());
    show[i] = *b;
  }
  auto filter = FilterParam(req);
  if (!filter.ok()) return ReplyError(w, 400, filter.status().message());
  std::optional<Matcher> receiver;
  if (req.HasQuery("receiver")) {
    auto re = Matcher::Make(Matcher::Op::kRe, "receiver", req.Query("receiver"));
    if (!re.ok())
      return ReplyError(w, 400, "failed to parse receiver param: " + re.status().message());
    receiver = std::move(re).value();
  }
  int64_t now = Now();
  std::map<std::string, AlertView> views;
  for (AlertView& v : Alerts(now)) views[v.fingerprint] = std::move(v);
  Json out = Json::array();
  for (const GroupView& grp : Groups()) {
    if (receiver && !receiver->Matches(grp.receiver)) continue;
    Json alerts = Json::array();
    for (const std::string& fp : grp.fingerprints) {
      auto it = views.find(fp);
      if (it == views.end() || it->second.resolved) continue;
      const AlertView& v = it->second;
      bool silenced = !v.silenced_by.empty(), inhibited = !v.inhibited_by.empty();
      if (!show[0] && !silenced && !inhibited) continue;
      if (!show[1] && silenced) continue;
      if (!show[2] && inhibited) continue;
      if (!MatchesAll(v.alert.labels, *filter)) continue;
      alerts.push_back(AlertJson(v));
    }
    if (alerts.empty()) continue;
    Json group = Json::object();
    group["labels"] = LabelsObject(grp.labels);
    group["receiver"] = Json{{"name", grp.receiver}};
    group["alerts"] = std::move(alerts);
    out.push_back(std::move(group));
  }
  ReplyJson(w, 200, out);
}

void Alertmanager::GetSilences(net::Request& req, net::ResponseWriter& w) {
  auto filter = FilterParam(req);
  if (!filter.ok()) return ReplyError(w, 400, filter.status().message());
  int64_t now = Now();
  std::vector<Silence> list;
  for (Silence& s : silences_.List()) {
    // A filter selects silences whose matchers, read as labels, satisfy it.
    std::vector<Label> ls;
    for (const auto& m : s.matchers) ls.push_back({m.name(), m.value()});
    if (!MatchesAll(Labels(std::move(ls)), *filter)) continue;
    list.push_back(std::move(s));
  }
  // Active first (ending soonest first), then pending (starting soonest
  // first), then expired (most recently ended first), as Alertmanager lists.
  auto rank = [&](const Silence& s) {
    switch (s.StateAt(now)) {
      case Silence::State::kActive:
        return 0;
      case Silence::State::kPending:
        return 1;
      case Silence::State::kExpired:
        return 2;
    }
    return 2;
  };
  std::sort(list.begin(), list.end(), [&](const Silence& a, const Silence& b) {
    int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 0) return a.ends_at_ms < b.ends_at_ms;
    if (ra == 1) return a.starts_at_ms < b.starts_at_ms;
    return a.ends_at_ms > b.ends_at_ms;
  });
  Json out = Json::array();
  for (const auto& s : list) out.push_back(SilenceToJson(s, now));
  ReplyJson(w, 200, out);
}

void Alertmanager::PostSilences(net::Request& req, net::ResponseWriter& w) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return ReplyError(w, 400, body.status().message());
  auto s = SilenceFromJson(*body);
  if (!s.ok()) return ReplyError(w, 400, s.status().message());
  auto id = silences_.Set(std::move(s).value(), Now());
  if (!id.ok()) return ReplyStatus(w, id.status());
  ReplyJson(w, 200, Json{{"silenceID", *id}});
}

void Alertmanager::GetStatus(net::Request&, net::ResponseWriter& w) {
  auto cfg = config();
  Json j = {{"cluster", {{"name", ""}, {"status", "disabled"}, {"peers", Json::array()}}},
            {"versionInfo",
             {{"version", "berth"},
              {"revision", ""},
              {"branch", ""},
              {"buildUser", ""},
              {"buildDate", ""},
              {"goVersion", ""}}},
            {"config", {{"original", cfg->original}}},
            {"uptime", FormatTimeMs(started_ms_)}};
  ReplyJson(w, 200, j);
}

void Alertmanager::GetReceivers(net::Request&, net::ResponseWriter& w) {
  auto cfg = config();
  Json out = Json::array();
  for (const auto& r : cfg->receivers) out.push_back({{"name", r.name}});
  ReplyJson(w, 200, out);
}

}  // namespace berth::monitor::alerting
