#include "node/kubeclient.h"

#include <pthread.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "core/log.h"

namespace berth::node {
namespace {

Code CodeForReason(const std::string& reason, int http) {
  static const std::map<std::string, Code> kReasons = {
      {"BadRequest", Code::kBadRequest},     {"Unauthorized", Code::kUnauthorized},
      {"Forbidden", Code::kForbidden},       {"NotFound", Code::kNotFound},
      {"AlreadyExists", Code::kAlreadyExists}, {"Conflict", Code::kConflict},
      {"Expired", Code::kGone},              {"Gone", Code::kGone},
      {"Invalid", Code::kInvalid},           {"TooManyRequests", Code::kTooManyRequests},
      {"ServiceUnavailable", Code::kUnavailable}, {"Timeout", Code::kTimeout}};
  auto it = kReasons.find(reason);
  if (it != kReasons.end()) return it->second;
  switch (http) {
    case 400: return Code::kBadRequest;
    case 401: return Code::kUnauthorized;
    case 403: return Code::kForbidden;
    case 404: return Code::kNotFound;
    case 409: return Code::kConflict;
    case 410: return Code::kGone;
    case 422: return Code::kInvalid;
    case 429: return Code::kTooManyRequests;
    case 503: return Code::kUnavailable;
    default: return Code::kInternal;
  }
}

Status StatusFromResponse(const net::ClientResponse& r) {
  auto j = ParseJson(r.body);
  std::string reason, message = r.body;
  if (j.ok() && j->is_object()) {
    reason = j->value("reason", "");
    message = j->value("message", r.body);
  }
  return Status(CodeForReason(reason, r.status), message);
}

}  // namespace

std::string ObjectKey(const Json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const Json& md = obj["metadata"];
  std::string ns = md.value("namespace", "");
  std::string name = md.value("name", "");
  return ns.empty() ? name : ns + "/" + name;
}

KubeClient::KubeClient(net::ClientOptions opts) : opts_(std::move(opts)) {}
KubeClient::~KubeClient() = default;

std::unique_ptr<net::HttpsClient> KubeClient::Take() {
  std::lock_guard<std::mutex> l(mu_);
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  return std::make_unique<net::HttpsClient>(opts_);
}

void KubeClient::Give(std::unique_ptr<net::HttpsClient> c) {
  std::lock_guard<std::mutex> l(mu_);
  if (idle_.size() < 4) idle_.push_back(std::move(c));
}

Result<net::ClientResponse> KubeClient::Raw(const std::string& method, const std::string& target,
                                            const std::string& body, const std::string& content_type) {
  auto c = Take();
  net::Headers h = {{"Accept", "application/json"}};
  if (!content_type.empty()) h["Content-Type"] = content_type;
  auto r = c->Do(method, target, h, body);
  if (r.ok()) Give(std::move(c));
  return r;
}

namespace {
Result<Json> JsonResult(Result<net::ClientResponse> r) {
  if (!r.ok()) return Status(Code::kUnavailable, r.status().message());
  if (r->status < 200 || r->status >= 300) return StatusFromResponse(*r);
  return ParseJson(r->body);
}
}  // namespace

Result<Json> KubeClient::Get(const std::string& path) { return JsonResult(Raw("GET", path)); }

Result<Json> KubeClient::Create(const std::string& collection_path, const Json& obj) {
  return JsonResult(Raw("POST", collection_path, obj.dump(), "application/json"));
}

Result<Json> KubeClient::Update(const std::string& path, const Json& obj) {
  return JsonResult(Raw("PUT", path, obj.dump(), "application/json"));
}

Result<Json> KubeClient::MergePatch(const std::string& path, const Json& patch) {
  return JsonResult(Raw("PATCH", path, patch.dump(), "application/merge-patch+json"));
}

Status KubeClient::Delete(const std::string& path, const std::string& query) {
  auto r = JsonResult(Raw("DELETE", query.empty() ? path : path + "?" + query));
  return r.ok() ? Status::Ok() : r.status();
}

// ---- Informer ----

Informer::Informer(KubeClient* client, std::string collection_path, std::string query, Handler h)
    : client_(client), path_(std::move(collection_path)), query_(std::move(query)), handler_(std::move(h)) {}

Informer::~Informer() { Stop(); }

void Informer::Start() { thread_ = std::thread([this] { Run(); }); }

void Informer::Stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> l(stream_mu_);
    if (stream_) stream_->Interrupt();
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<Json> Informer::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Json> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(*v);
  return out;
}

bool Informer::Get(const std::string& key, Json* out) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  *out = *it->second;
  return true;
}

bool Informer::ListOnce(std::string* rv) {
  std::string target = path_ + (query_.empty() ? "" : "?" + query_);
  auto r = client_->Get(target);
  if (!r.ok()) {
    log::Debug("informer list failed", log::Fields()("path", path_)("err", r.status().ToString()));
    return false;
  }
  *rv = (*r)["metadata"].value("resourceVersion", "");
  std::map<std::string, std::shared_ptr<const Json>> fresh;
  std::string kind = r->value("kind", "");
  if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) kind.resize(kind.size() - 4);
  for (auto& item : (*r)["items"]) {
    // Lists omit kind/apiVersion on items; consumers want whole objects.
    if (!item.contains("kind")) item["kind"] = kind;
    if (!item.contains("apiVersion")) item["apiVersion"] = r->value("apiVersion", "v1");
    std::string key = ObjectKey(item);  // before the move below
    fresh[key] = std::make_shared<const Json>(std::move(item));
  }
  std::map<std::string, std::shared_ptr<const Json>> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    old.swap(cache_);
    cache_ = fresh;
  }
  for (const auto& [k, v] : old)
    if (!fresh.count(k)) Deliver("DELETED", *v);
  for (const auto& [k, v] : fresh) Deliver(old.count(k) ? "MODIFIED" : "ADDED", *v);
  synced_ = true;
  return true;
}

void Informer::Deliver(const std::string& type, const Json& obj) {
  try {
    handler_(type, obj);
  } catch (const std::exception& e) {
    log::Error("informer handler failed", log::Fields()("path", path_)("type", type)("err", e.what()));
  }
}

void Informer::Run() {
  pthread_setname_np(pthread_self(), "informer");
  auto watch_client = std::make_unique<net::HttpsClient>(client_->options());
  {
    std::lock_guard<std::mutex> l(stream_mu_);
    stream_ = watch_client.get();
  }
  std::string rv;
  int backoff_ms = 100;
  while (!stop_) {
    if (rv.empty() && !ListOnce(&rv)) {
      // The API may be starting or briefly away: retry with a capped back-off.
      for (int waited = 0; waited < backoff_ms && !stop_; waited += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff_ms = std::min(backoff_ms * 2, 2000);
      continue;
    }
    backoff_ms = 100;
    std::string target = path_ + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=" + rv +
                         (query_.empty() ? "" : "&" + query_);
    bool restart = false;
    auto r = watch_client->StreamLines("GET", target, {{"Accept", "application/json"}}, [&](std::string_view line) {
      if (stop_) return false;
      auto ev = ParseJson(line);
      if (!ev.ok() || !ev->is_object()) return true;
      std::string type = ev->value("type", "");
      Json& obj = (*ev)["object"];
      if (type == "ERROR") {
        restart = true;  // 410 Expired and friends: re-list
        return false;
      }
      if (obj.is_object() && obj.contains("metadata")) rv = obj["metadata"].value("resourceVersion", rv);
      if (type == "BOOKMARK") return true;
      std::string key = ObjectKey(obj);
      {
        std::lock_guard<std::mutex> l(mu_);
        if (type == "DELETED") cache_.erase(key);
        else cache_[key] = std::make_shared<const Json>(obj);
      }
      Deliver(type, obj);
      return true;
    });
    watch_client->Close();
    if (stop_) break;
    if (!r.ok() || r->status != 200 || restart) rv.clear();
  }
  std::lock_guard<std::mutex> l(stream_mu_);
  stream_ = nullptr;
}

}  // namespace berth::node
