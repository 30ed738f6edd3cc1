#include "api/apiserver.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "api/internal.h"
#include "api/patch.h"
#include "api/protobuf.h"
#include "api/selector.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"

namespace berth::api {

using net::Headers;
using net::Request;
using net::ResponseWriter;

namespace {

constexpr char kJson[] = "application/json";
constexpr char kAggregatedType[] = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
constexpr int kDefaultWatchSeconds = 1800;

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void ReplyJson(ResponseWriter& w, int code, const Json& body) {
  w.Reply(code, Headers{{"Content-Type", kJson}}, body.dump());
}

bool WantsTable(const Request& r) { return r.Header("Accept").find("as=Table") != std::string::npos; }

// What the request addresses, after /api/v1 or /apis/G/V.
struct Target {
  std::string group, version;
  KindPtr kind;
  std::string ns;
  std::string name;
  std::string sub;  // "", "status", "scale", "finalize"
};

}  // namespace

std::string StatusBody(const Status& st, const std::string& group, const std::string& resource,
                       const std::string& name) {
  Json j = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}};
  if (st.ok()) {
    j["status"] = "Success";
    j["code"] = 200;
    return j.dump();
  }
  j["status"] = "Failure";
  j["message"] = st.message();
  j["reason"] = ReasonString(st.code());
  Json details = Json::object();
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  if (!resource.empty()) details["kind"] = resource;
  if (!st.causes().empty()) {
    Json causes = Json::array();
    for (const auto& c : st.causes())
      causes.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    details["causes"] = causes;
  }
  if (!details.empty()) j["details"] = details;
  j["code"] = HttpCode(st.code());
  return j.dump();
}

void ReplyStatus(ResponseWriter& w, const Status& st, const std::string& group,
                 const std::string& resource, const std::string& name) {
  w.Reply(HttpCode(st.code()), Headers{{"Content-Type", kJson}}, StatusBody(st, group, resource, name));
}

Result<Json> DecodeRequestBody(const net::Request& r) {
  std::string ct = r.Header("Content-Type");
  auto semi = ct.find(';');
  std::string base = ct.substr(0, semi);
  if (base == "application/vnd.kubernetes.protobuf") return DecodeKubernetesProtobuf(r.body);
  if (base == "application/json" || base.empty()) return ParseJson(r.body);
  if (base == "application/yaml") return ParseYamlOrJson(r.body);
  return Status(Code::kUnsupportedMediaType, "the body of the request was in an unknown format - accepted "
                                             "media types include: application/json, application/yaml, "
                                             "application/vnd.kubernetes.protobuf");
}

struct ApiServer::Impl {
  ObjectStore* os;
  std::atomic<int64_t> watches{0};
  // (group, resource, subresource) -> handler, for subresources served by
  // other modules (pods/log, pods/exec, ...). Filled before Mount().
  std::map<std::tuple<std::string, std::string, std::string>, SubresourceHandler> extra;
  // (group, version, resource) -> handler, for resources not kept in the
  // store (metrics.k8s.io).
  std::map<std::tuple<std::string, std::string, std::string>, ResourceHandler> virtual_resources;

  // ---- request decoding ----

  Result<Json> DecodeBody(const Request& r) { return DecodeRequestBody(r); }

  static Result<WriteOptions> Options(const Request& r) {
    WriteOptions o;
    for (auto [it, end] = r.query.equal_range("dryRun"); it != end; ++it) {
      if (it->second != "All")
        return Invalid("Invalid dry run value: \"" + it->second + "\"").AddCause(
            {"FieldValueNotSupported", "Unsupported value: \"" + it->second + "\": supported values: \"All\"", "dryRun"});
      o.dry_run = true;
    }
    o.field_manager = r.Query("fieldManager");
    o.field_validation = r.Query("fieldValidation");
    if (!o.field_validation.empty() && o.field_validation != "Strict" && o.field_validation != "Warn" &&
        o.field_validation != "Ignore")
      return BadRequest("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"" +
                        o.field_validation + "\"");
    o.user = r.identity.user;
    return o;
  }

  // ---- routing ----

  void Handle(Request& r, ResponseWriter& w) {
    int64_t start = MonotonicNanos();
    std::string verb = "", resource = "";
    int code = Serve(r, w, &verb, &resource);
    double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
    std::string labels = "verb=\"" + verb + "\",resource=\"" + metrics::EscapeLabel(resource) + "\"";
    metrics::Add("apiserver_request_total", labels + ",code=\"" + std::to_string(code) + "\"");
    if (verb != "WATCH") metrics::Observe("apiserver_request_duration_seconds", labels, secs);
  }

  int Fail(ResponseWriter& w, const Status& st, const Target* t = nullptr, const std::string& name = "") {
    // As in k8s, details.kind is the resource except for Invalid, which names
    // the Kind (kubectl prints `The Deployment "x" is invalid: ...`).
    if (t && t->kind)
      ReplyStatus(w, st, t->kind->group, st.code() == Code::kInvalid ? t->kind->kind : t->kind->resource,
                  name.empty() ? t->name : name);
    else
      ReplyStatus(w, st);
    return HttpCode(st.code());
  }

  int Serve(Request& r, ResponseWriter& w, std::string* verb, std::string* resource) {
    auto seg = Split(r.path);
    *verb = r.method;
    if (seg.empty()) return Fail(w, NotFound("the server could not find the requested resource"));
    if (seg[0] == "openapi") return ServeOpenApi(r, w, seg);
    Target t;
    size_t i;
    if (seg[0] == "api") {
      if (seg.size() == 1) {
        if (r.method != "GET") return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"));
        return ServeDiscovery(r, w, true);
      }
      t.version = seg[1];
      i = 2;
    } else if (seg[0] == "apis") {
      if (seg.size() == 1) {
        if (r.method != "GET") return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"));
        return ServeDiscovery(r, w, false);
      }
      t.group = seg[1];
      if (seg.size() == 2) {
        Json g = internal::LegacyGroup(*os->kinds(), t.group);
        if (g.is_null()) return Fail(w, NotFound("the server could not find the requested resource"));
        ReplyJson(w, 200, g);
        return 200;
      }
      t.version = seg[2];
      i = 3;
    } else {
      return Fail(w, NotFound("the server could not find the requested resource"));
    }
    if (i == seg.size()) {
      Json rl = internal::LegacyResourceList(*os->kinds(), t.group, t.version);
      if (rl.is_null()) return Fail(w, NotFound("the server could not find the requested resource"));
      ReplyJson(w, 200, rl);
      return 200;
    }
    std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
    // /namespaces/{ns}/{resource}... unless it is the namespace's own subresource.
    std::string res;
    if (rest[0] == "namespaces" && rest.size() >= 3 && !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
      t.ns = rest[1];
      res = rest[2];
      rest.erase(rest.begin(), rest.begin() + 3);
    } else {
      res = rest[0];
      rest.erase(rest.begin());
    }
    if (rest.size() > 2) return Fail(w, NotFound("the server could not find the requested resource"));
    if (!rest.empty()) t.name = rest[0];
    if (rest.size() == 2) t.sub = rest[1];
    *resource = res;
    t.kind = os->kinds()->Find(t.group, t.version, res);
    if (!t.kind) return Fail(w, NotFound("the server could not find the requested resource"));
    if (!t.kind->namespaced && !t.ns.empty())
      return Fail(w, NotFound("the server could not find the requested resource"));
    if (t.sub.empty()) {
      auto vr = virtual_resources.find({t.group, t.version, t.kind->resource});
      if (vr != virtual_resources.end()) {
        // The kind's verbs say which methods its handler serves.
        const auto& verbs = t.kind->verbs;
        auto serves = [&verbs](const char* v) { return std::find(verbs.begin(), verbs.end(), v) != verbs.end(); };
        bool allowed = r.method == "GET"    ? serves(t.name.empty() ? "list" : "get")
                       : r.method == "POST" ? t.name.empty() && serves("create")
                                            : false;
        if (!allowed)
          return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"));
        *verb = r.method == "POST" ? "CREATE" : t.name.empty() ? "LIST" : "GET";
        vr->second(r, w, t.ns, t.name);
        return 200;
      }
    }
    if (!t.sub.empty()) {
      auto ex = extra.find({t.group, t.kind->resource, t.sub});
      if (ex != extra.end()) {
        *verb = r.method == "GET" ? "GET" : r.method == "POST" ? "CREATE" : r.method;
        ex->second(r, w, t.ns, t.name);
        return 200;
      }
    }
    if (!t.sub.empty() && !(t.sub == "status" && t.kind->status_subresource) &&
        !(t.sub == "scale" && t.kind->scale) && !(t.sub == "finalize" && t.kind->kind == "Namespace"))
      return Fail(w, NotFound("the server could not find the requested resource"));
    return ServeResource(r, w, t, verb);
  }

  int ServeDiscovery(const Request& r, ResponseWriter& w, bool core) {
    std::string accept = r.Header("Accept");
    if (accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
        accept.find("v=v2;") != std::string::npos) {
      w.Reply(200, Headers{{"Content-Type", kAggregatedType}, {"Vary", "Accept"}},
              internal::AggregatedDiscovery(*os->kinds(), core).dump());
      return 200;
    }
    ReplyJson(w, 200, core ? internal::LegacyApiVersions() : internal::LegacyGroupList(*os->kinds()));
    return 200;
  }

  int ServeOpenApi(const Request& r, ResponseWriter& w, const std::vector<std::string>& seg) {
    if (seg.size() >= 2 && seg[1] == "v3") {
      if (seg.size() == 2) {
        w.Reply(200, Headers{{"Content-Type", kJson}}, internal::OpenApiIndex(*os->kinds(), *os->schemas()));
        return 200;
      }
      std::string gv;
      for (size_t i = 2; i < seg.size(); ++i) gv += (i > 2 ? "/" : "") + seg[i];
      std::string doc = internal::OpenApiGroupVersion(*os->kinds(), *os->schemas(), gv);
      if (doc.empty()) return Fail(w, NotFound("the server could not find the requested resource"));
      w.Reply(200, Headers{{"Content-Type", kJson}, {"Cache-Control", "public, immutable"}}, doc);
      return 200;
    }
    if (seg.size() == 2 && seg[1] == "v2") {
      // A schema-less OpenAPI v2 document. kubectl validates `kind: List`
      // files and kinds it cannot find in v3 (wrong apiVersion/kind) with
      // the v2 validator, which skips kinds without a schema; a 404 instead
      // fails the command with "failed to download openapi".
      if (r.Header("Accept").find("protobuf") != std::string::npos) {
        // openapi_v2.Document{swagger: "2.0", info: {title: "Kubernetes", version: "v1.32.0"}}
        static const std::string kDoc = std::string("\x0a\x03" "2.0" "\x12\x15" "\x0a\x0a" "Kubernetes" "\x12\x07" "v1.32.0");
        w.Reply(200, Headers{{"Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"}}, kDoc);
        return 200;
      }
      ReplyJson(w, 200, Json{{"swagger", "2.0"}, {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                             {"paths", Json::object()}, {"definitions", Json::object()}});
      return 200;
    }
    return Fail(w, NotFound("the server could not find the requested resource"));
  }

  // ---- resources ----

  int ServeResource(Request& r, ResponseWriter& w, const Target& t, std::string* verb) {
    const KindInfo& k = *t.kind;
    if (k.namespaced && t.ns.empty() && (!t.name.empty() || r.method == "POST"))
      return Fail(w, NotFound("the server could not find the requested resource"), &t);
    if (r.method == "GET") {
      if (t.name.empty()) {
        bool watch = r.Query("watch") == "true" || r.Query("watch") == "1";
        *verb = watch ? "WATCH" : "LIST";
        return watch ? ServeWatch(r, w, t) : ServeList(r, w, t);
      }
      *verb = "GET";
      return ServeGet(r, w, t);
    }
    auto opts = Options(r);
    if (!opts.ok()) return Fail(w, opts.status(), &t);
    if (r.method == "POST") {
      *verb = "POST";
      if (!t.name.empty()) return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"), &t);
      auto body = DecodeBody(r);
      if (!body.ok()) return Fail(w, body.status(), &t);
      std::string name = body->is_object() && body->contains("metadata") && (*body)["metadata"].is_object()
                             ? (*body)["metadata"].value("name", "") : "";
      auto res = os->Create(k, t.ns, std::move(body).value(), *opts);
      if (!res.ok()) return Fail(w, res.status(), &t, name);
      return Reply(r, w, t, 201, *res);
    }
    if (r.method == "PUT") {
      *verb = "PUT";
      if (t.name.empty()) return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"), &t);
      auto body = DecodeBody(r);
      if (!body.ok()) return Fail(w, body.status(), &t);
      if (t.sub == "scale") return UpdateScale(r, w, t, std::move(body).value(), *opts);
      auto res = os->Update(k, t.ns, t.name, std::move(body).value(), *opts, SubOf(t));
      if (!res.ok()) return Fail(w, res.status(), &t);
      return Reply(r, w, t, 200, *res);
    }
    if (r.method == "PATCH") {
      *verb = "PATCH";
      if (t.name.empty()) return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"), &t);
      std::string ct = r.Header("Content-Type");
      ct = ct.substr(0, ct.find(';'));
      PatchType pt;
      if (ct == "application/json-patch+json") pt = PatchType::kJson;
      else if (ct == "application/merge-patch+json") pt = PatchType::kMerge;
      else if (ct == "application/strategic-merge-patch+json") pt = PatchType::kStrategic;
      else if (ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json") pt = PatchType::kApply;
      else
        return Fail(w, Status(Code::kUnsupportedMediaType,
                              "the body of the request was in an unknown format - accepted media types include: "
                              "application/json-patch+json, application/merge-patch+json, "
                              "application/strategic-merge-patch+json, application/apply-patch+yaml"), &t);
      if (pt == PatchType::kApply && r.Query("fieldManager").empty())
        return Fail(w, Invalid("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                           .AddCause({"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"}), &t);
      if (t.sub == "scale") return PatchScale(r, w, t, pt, *opts);
      auto res = os->Patch(k, t.ns, t.name, pt, r.body, *opts, SubOf(t));
      if (!res.ok()) return Fail(w, res.status(), &t);
      return Reply(r, w, t, res->second ? 201 : 200, res->first);
    }
    if (r.method == "DELETE") {
      *verb = t.name.empty() ? "DELETECOLLECTION" : "DELETE";
      DeleteParams dp;
      if (!r.body.empty()) {
        auto body = DecodeBody(r);
        if (!body.ok()) return Fail(w, body.status(), &t);
        const Json& b = *body;
        if (!b.is_object()) return Fail(w, BadRequest("DeleteOptions must be an object"), &t);
        if (b.contains("propagationPolicy") && b["propagationPolicy"].is_string()) dp.propagation = b["propagationPolicy"];
        if (b.contains("orphanDependents") && b["orphanDependents"].is_boolean())
          dp.propagation = b["orphanDependents"].get<bool>() ? "Orphan" : "Background";
        if (b.contains("gracePeriodSeconds") && b["gracePeriodSeconds"].is_number_integer())
          dp.grace_period_seconds = b["gracePeriodSeconds"].get<int64_t>();
        if (b.contains("preconditions") && b["preconditions"].is_object()) {
          dp.precondition_uid = b["preconditions"].value("uid", "");
          dp.precondition_rv = b["preconditions"].value("resourceVersion", "");
        }
        if (b.contains("dryRun") && b["dryRun"].is_array() && !b["dryRun"].empty()) opts->dry_run = true;
      }
      if (r.HasQuery("propagationPolicy")) dp.propagation = r.Query("propagationPolicy");
      if (r.HasQuery("gracePeriodSeconds")) dp.grace_period_seconds = std::atoll(r.Query("gracePeriodSeconds").c_str());
      if (!t.name.empty()) {
        bool removed = false;
        auto res = os->Delete(k, t.ns, t.name, dp, *opts, &removed);
        if (!res.ok()) return Fail(w, res.status(), &t);
        return Reply(r, w, t, removed || opts->dry_run ? 200 : 202, *res);
      }
      ListParams lp = ListFrom(r, t);
      auto list = os->List(k, lp);
      if (!list.ok()) return Fail(w, list.status(), &t);
      Json items = Json::array();
      for (const auto& item : list->items) {
        auto res = os->Delete(k, item["metadata"].value("namespace", ""), item["metadata"].value("name", ""), dp, *opts);
        if (res.ok()) items.push_back(*res);
      }
      ReplyJson(w, 200, {{"kind", k.list_kind}, {"apiVersion", k.ApiVersion()},
                         {"metadata", {{"resourceVersion", std::to_string(os->raw()->CurrentRevision())}}},
                         {"items", items}});
      return 200;
    }
    return Fail(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"), &t);
  }

  static Subresource SubOf(const Target& t) {
    if (t.sub == "status") return Subresource::kStatus;
    if (t.sub == "finalize") return Subresource::kFinalize;
    return Subresource::kMain;
  }

  int Reply(const Request& r, ResponseWriter& w, const Target& t, int code, const Json& obj) {
    if (t.sub == "scale") {
      ReplyJson(w, code, ToScale(*t.kind, obj));
      return code;
    }
    if (WantsTable(r) && code < 300) {
      Json table = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"},
                    {"metadata", {{"resourceVersion", obj["metadata"].value("resourceVersion", "")}}},
                    {"columnDefinitions", internal::TableColumns(*t.kind)},
                    {"rows", Json::array({internal::TableRow(*t.kind, obj, r.Query("includeObject") == "Object")})}};
      ReplyJson(w, code, table);
      return code;
    }
    ReplyJson(w, code, obj);
    return code;
  }

  ListParams ListFrom(const Request& r, const Target& t) {
    ListParams lp;
    lp.ns = t.ns;
    lp.label_selector = r.Query("labelSelector");
    lp.field_selector = r.Query("fieldSelector");
    lp.limit = std::atoll(r.Query("limit", "0").c_str());
    lp.continue_token = r.Query("continue");
    lp.resource_version = r.Query("resourceVersion");
    return lp;
  }

  int ServeGet(const Request& r, ResponseWriter& w, const Target& t) {
    auto obj = os->Get(*t.kind, t.ns, t.name);
    if (!obj.ok()) return Fail(w, obj.status(), &t);
    return Reply(r, w, t, 200, *obj);
  }

  int ServeList(const Request& r, ResponseWriter& w, const Target& t) {
    const KindInfo& k = *t.kind;
    ListParams lp = ListFrom(r, t);
    if (lp.limit < 0) return Fail(w, BadRequest("limit must be non-negative"), &t);
    auto list = os->List(k, lp);
    if (!list.ok()) return Fail(w, list.status(), &t);
    Json meta = {{"resourceVersion", std::to_string(list->revision)}};
    if (!list->continue_token.empty()) meta["continue"] = list->continue_token;
    if (WantsTable(r)) {
      bool include = r.Query("includeObject") == "Object";
      Json rows = Json::array();
      for (const auto& item : list->items) rows.push_back(internal::TableRow(k, item, include));
      ReplyJson(w, 200, {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta},
                         {"columnDefinitions", internal::TableColumns(k)}, {"rows", rows}});
      return 200;
    }
    Json items = Json::array();
    for (auto& item : list->items) items.push_back(std::move(item));
    ReplyJson(w, 200, {{"kind", k.list_kind}, {"apiVersion", k.ApiVersion()}, {"metadata", meta}, {"items", items}});
    return 200;
  }

  int ServeWatch(const Request& r, ResponseWriter& w, const Target& t) {
    const KindInfo& k = *t.kind;
    ListParams lp = ListFrom(r, t);
    lp.limit = 0;
    lp.continue_token.clear();
    int64_t timeout = kDefaultWatchSeconds;
    if (r.HasQuery("timeoutSeconds")) timeout = std::max<int64_t>(0, std::atoll(r.Query("timeoutSeconds").c_str()));
    bool bookmarks = r.Query("allowWatchBookmarks") == "true";
    bool table = WantsTable(r);
    bool include = r.Query("includeObject") == "Object";
    auto watch = os->Watch(k, lp);
    if (!watch.ok()) {
      // A watch that cannot start answers 200 with one ERROR event, as the
      // apiserver does for expired versions, so informers re-list.
      if (watch.status().code() != Code::kGone) return Fail(w, watch.status(), &t);
      w.Start(200, Headers{{"Content-Type", kJson}});
      w.Write(Json{{"type", "ERROR"}, {"object", Json::parse(StatusBody(watch.status()))}}.dump() + "\n");
      w.End();
      return 200;
    }
    watches++;
    metrics::Set("apiserver_longrunning_requests", "verb=\"WATCH\"", static_cast<double>(watches.load()));
    w.Start(200, Headers{{"Content-Type", kJson}});
    bool first_table = true;
    const int64_t deadline = MonotonicNanos() + timeout * 1000000000LL;
    int64_t last_bookmark = MonotonicNanos();
    for (;;) {
      int64_t now = MonotonicNanos();
      if (now >= deadline) break;
      int wait_ms = static_cast<int>(std::min<int64_t>((deadline - now) / 1000000 + 1, 1000));
      auto evs = (*watch)->Next(wait_ms);
      if (!evs.ok()) {
        w.Write(Json{{"type", "ERROR"}, {"object", Json::parse(StatusBody(evs.status()))}}.dump() + "\n");
        break;
      }
      std::string out;
      for (const auto& e : *evs) {
        out += "{\"type\":\"" + e.type + "\",\"object\":";
        if (table) {
          Json obj = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", {{"resourceVersion", (*e.object)["metadata"].value("resourceVersion", "")}}},
                      {"columnDefinitions", first_table ? internal::TableColumns(k) : Json::array()},
                      {"rows", Json::array({internal::TableRow(k, *e.object, include)})}};
          first_table = false;
          out += obj.dump();
        } else if (e.json) {
          out += *e.json;  // serialised once for every watcher of this change
        } else {
          out += e.object->dump();
        }
        out += "}\n";
      }
      if (!out.empty()) {
        if (!w.Write(out)) break;
        continue;
      }
      if (w.PeerClosed()) break;
      if (bookmarks && MonotonicNanos() - last_bookmark > 10LL * 1000000000) {
        last_bookmark = MonotonicNanos();
        Json bm = {{"type", "BOOKMARK"},
                   {"object", {{"kind", k.kind}, {"apiVersion", k.ApiVersion()},
                               {"metadata", {{"resourceVersion", std::to_string((*watch)->LastRevision())}}}}}};
        if (!w.Write(bm.dump() + "\n")) break;
      }
    }
    (*watch)->Close();
    w.End();
    watches--;
    metrics::Set("apiserver_longrunning_requests", "verb=\"WATCH\"", static_cast<double>(watches.load()));
    return 200;
  }

  // ---- scale subresource (autoscaling/v1 Scale) ----

  static Json ToScale(const KindInfo& k, const Json& obj) {
    const ScaleInfo& s = *k.scale;
    auto at = [&](const std::string& ptr) -> Json {
      Json::json_pointer p(ptr);
      return obj.contains(p) ? obj[p] : Json(nullptr);
    };
    Json spec_replicas = at(s.spec_replicas_path);
    Json status_replicas = at(s.status_replicas_path);
    std::string selector;
    Json sel = at(s.label_selector_path);
    if (sel.is_object()) {
      auto ls = LabelSelector::FromJson(sel);
      if (ls.ok()) selector = ls->ToString();
    }
    const Json& m = obj["metadata"];
    Json meta = {{"name", m.value("name", "")}, {"resourceVersion", m.value("resourceVersion", "")},
                 {"uid", m.value("uid", "")}, {"creationTimestamp", m.value("creationTimestamp", "")}};
    if (m.contains("namespace")) meta["namespace"] = m["namespace"];
    return {{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", meta},
            {"spec", {{"replicas", spec_replicas.is_number() ? spec_replicas : Json(0)}}},
            {"status", {{"replicas", status_replicas.is_number() ? status_replicas : Json(0)}, {"selector", selector}}}};
  }

  int ApplyScale(const Request& r, ResponseWriter& w, const Target& t, const Json& scale, const WriteOptions& o) {
    if (!scale.is_object() || !scale.contains("spec") || !scale["spec"].is_object())
      return Fail(w, BadRequest("the body of the request was not a Scale object"), &t);
    Json replicas = scale["spec"].value("replicas", Json(0));
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0)
      return Fail(w, Invalid("Scale.autoscaling \"" + t.name + "\" is invalid: spec.replicas: Invalid value: " +
                             replicas.dump() + ": must be greater than or equal to 0")
                         .AddCause({"FieldValueInvalid", "Invalid value: " + replicas.dump() + ": must be greater than or equal to 0", "spec.replicas"}), &t);
    std::string want_rv = scale.contains("metadata") && scale["metadata"].is_object()
                              ? scale["metadata"].value("resourceVersion", "") : "";
    const std::string path = t.kind->scale->spec_replicas_path;
    Result<Json> res = Json();
    if (!want_rv.empty()) {
      auto cur = os->Get(*t.kind, t.ns, t.name);
      if (!cur.ok()) return Fail(w, cur.status(), &t);
      Json next = *cur;
      next[Json::json_pointer(path)] = replicas;
      next["metadata"]["resourceVersion"] = want_rv;
      res = os->Update(*t.kind, t.ns, t.name, std::move(next), o);
    } else {
      res = os->Mutate(*t.kind, t.ns, t.name, [&](Json& obj) {
        obj[Json::json_pointer(path)] = replicas;
        return Status::Ok();
      });
    }
    if (!res.ok()) return Fail(w, res.status(), &t);
    ReplyJson(w, 200, ToScale(*t.kind, *res));
    return 200;
  }

  int UpdateScale(const Request& r, ResponseWriter& w, const Target& t, Json body, const WriteOptions& o) {
    return ApplyScale(r, w, t, body, o);
  }

  int PatchScale(const Request& r, ResponseWriter& w, const Target& t, PatchType pt, const WriteOptions& o) {
    auto cur = os->Get(*t.kind, t.ns, t.name);
    if (!cur.ok()) return Fail(w, cur.status(), &t);
    Json scale = ToScale(*t.kind, *cur);
    std::string cur_rv = scale["metadata"]["resourceVersion"];
    Result<Json> patched = Json();
    auto patch = pt == PatchType::kApply ? ParseYamlOrJson(r.body) : ParseJson(r.body);
    if (!patch.ok()) return Fail(w, patch.status(), &t);
    switch (pt) {
      case PatchType::kJson: patched = ApplyJsonPatch(scale, *patch); break;
      case PatchType::kMerge: patched = ApplyMergePatch(scale, *patch); break;
      case PatchType::kStrategic: patched = ApplyStrategicMergePatch(scale, *patch, BuiltinPatchSchema()); break;
      case PatchType::kApply: patched = ApplyServerSideApply(scale, *patch, BuiltinPatchSchema()); break;
    }
    if (!patched.ok()) return Fail(w, patched.status(), &t);
    // Keep the resourceVersion only when the patch set one (a precondition).
    if ((*patched)["metadata"].value("resourceVersion", "") == cur_rv) (*patched)["metadata"].erase("resourceVersion");
    return ApplyScale(r, w, t, *patched, o);
  }
};

ApiServer::ApiServer(ObjectStore* objects) : impl_(std::make_unique<Impl>()) {
  impl_->os = objects;
  metrics::Describe("apiserver_request_total", metrics::Type::kCounter,
                    "Counter of apiserver requests broken out for each verb, resource and HTTP response code.");
  metrics::Describe("apiserver_request_duration_seconds", metrics::Type::kHistogram,
                    "Response latency distribution in seconds for each verb and resource.");
  metrics::Describe("apiserver_longrunning_requests", metrics::Type::kGauge,
                    "Number of open long-running requests (watches).");
}

ApiServer::~ApiServer() = default;

int64_t ApiServer::open_watches() const { return impl_->watches.load(); }

void ApiServer::HandleSubresource(const std::string& group, const std::string& resource, const std::string& sub,
                                  SubresourceHandler h) {
  impl_->extra[{group, resource, sub}] = std::move(h);
}

void ApiServer::HandleResource(const std::string& group, const std::string& version, const std::string& resource,
                               ResourceHandler h) {
  impl_->virtual_resources[{group, version, resource}] = std::move(h);
}

void ApiServer::Mount(net::Router& router) {
  Impl* impl = impl_.get();
  auto h = [impl](Request& r, ResponseWriter& w) { impl->Handle(r, w); };
  router.Handle("/api", h);
  router.Handle("/api/*", h);
  router.Handle("/apis", h);
  router.Handle("/apis/*", h);
  router.Handle("/openapi/*", h);
}

}  // namespace berth::api
