#include "controllers/base.h"

#include <pthread.h>

#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "core/time.h"

namespace berth::controllers {

void WorkQueue::Push(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  if (down_) return;
  if (processing_.count(key)) {
    dirty_.insert(key);  // re-queued when the current reconcile finishes
    return;
  }
  if (queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

bool WorkQueue::Pop(std::string* key, int timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return down_ || !queue_.empty(); });
  if (down_ || queue_.empty()) return false;
  *key = queue_.front();
  queue_.pop_front();
  queued_.erase(*key);
  processing_.insert(*key);
  return true;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  processing_.erase(key);
  if (dirty_.erase(key) && !down_ && queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> l(mu_);
  down_ = true;
  cv_.notify_all();
}

void Controller::Observe(const api::KindInfo&, const std::string&, const Json& obj) { queue_.Push(KeyOf(obj)); }

void Controller::Start() {
  worker_ = std::thread([this] {
    pthread_setname_np(pthread_self(), (std::string("ctrl-") + name()).substr(0, 15).c_str());
    std::string key;
    int64_t last_resync = MonotonicNanos();
    for (;;) {
      if (queue_.Pop(&key, 1000)) {
        Status s = Reconcile(key);
        queue_.Done(key);
        // Failed keys are retried on the next pass; NotFound means the object
        // went away, which is the end state.
        if (!s.ok() && s.code() != Code::kNotFound) {
          log::Debug("reconcile failed, will retry",
                     log::Fields()("controller", name())("key", key)("err", s.ToString()));
          retry_.push_back(key);
        }
      }
      if (stopping_) return;
      if (MonotonicNanos() - last_resync > 1000000000LL) {
        last_resync = MonotonicNanos();
        for (const auto& k : std::exchange(retry_, {})) queue_.Push(k);
        Resync();
      }
    }
  });
}

void Controller::Stop() {
  stopping_ = true;
  queue_.ShutDown();
  if (worker_.joinable()) worker_.join();
}

Clock RealClock() {
  return [] { return NowSeconds(); };
}

std::string KeyOf(const Json& obj) {
  const Json& m = obj["metadata"];
  std::string ns = m.value("namespace", "");
  return ns.empty() ? m.value("name", "") : ns + "/" + m.value("name", "");
}

void SplitKey(const std::string& key, std::string* ns, std::string* name) {
  auto p = key.find('/');
  if (p == std::string::npos) {
    ns->clear();
    *name = key;
  } else {
    *ns = key.substr(0, p);
    *name = key.substr(p + 1);
  }
}

const Json& Field(const Json& obj, const char* a, const char* b, const char* c) {
  static const Json kNull;
  const Json* cur = &obj;
  for (const char* k : {a, b, c}) {
    if (!k) break;
    if (!cur->is_object()) return kNull;
    auto it = cur->find(k);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

int64_t IntField(const Json& obj, const char* a, const char* b, int64_t def) {
  const Json& v = Field(obj, a, b);
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

std::string ControllerUid(const Json& obj) {
  const Json& refs = Field(obj, "metadata", "ownerReferences");
  if (!refs.is_array()) return "";
  for (const auto& r : refs)
    if (r.value("controller", false)) return r.value("uid", "");
  return "";
}

Json OwnerRef(const api::KindInfo& k, const Json& owner, bool controller) {
  return {{"apiVersion", k.ApiVersion()}, {"kind", k.kind}, {"name", owner["metadata"].value("name", "")},
          {"uid", owner["metadata"].value("uid", "")}, {"controller", controller},
          {"blockOwnerDeletion", true}};
}

void RecordEvent(api::ObjectStore* os, const api::KindInfo& k, const Json& obj, const std::string& type,
                 const std::string& reason, const std::string& message, const std::string& component) {
  auto ek = os->kinds()->Find("", "v1", "events");
  if (!ek) return;
  const Json& m = obj["metadata"];
  std::string ns = m.value("namespace", "");
  if (ns.empty()) ns = "default";
  std::string now = FormatRFC3339(NowSeconds());
  Json ev = {{"metadata", {{"name", m.value("name", "") + "." + HexEncode(RandomBytes(8))}, {"namespace", ns}}},
             {"involvedObject", {{"kind", k.kind}, {"namespace", m.value("namespace", "")}, {"name", m.value("name", "")},
                                 {"uid", m.value("uid", "")}, {"apiVersion", k.ApiVersion()},
                                 {"resourceVersion", m.value("resourceVersion", "")}}},
             {"reason", reason}, {"message", message}, {"type", type}, {"count", 1},
             {"firstTimestamp", now}, {"lastTimestamp", now},
             {"source", {{"component", component}}}, {"reportingComponent", component},
             {"reportingInstance", ""}};
  if (m.value("namespace", "").empty()) ev["involvedObject"].erase("namespace");
  auto r = os->Create(*ek, ns, ev, api::WriteOptions{});
  if (!r.ok()) log::Debug("event not recorded", log::Fields()("reason", reason)("err", r.status().ToString()));
}

}  // namespace berth::controllers
