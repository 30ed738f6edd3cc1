// Building blocks shared by the controllers: a de-duplicating work queue, an
// object reference type, event recording and small object accessors.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/objects.h"

namespace berth::controllers {

struct ObjectRef {
  api::KindPtr kind;
  std::string ns, name;
  bool operator<(const ObjectRef& o) const {
    return std::tie(kind->group, kind->resource, ns, name) < std::tie(o.kind->group, o.kind->resource, o.ns, o.name);
  }
};

// Keys ("ns/name") waiting for reconcile; a key queued twice is processed once.
// Retries of failed keys come back after `delay` with the next Push.
class WorkQueue {
 public:
  void Push(const std::string& key);
  // Blocks until a key is ready or the queue is shut down (returns false).
  bool Pop(std::string* key, int timeout_ms);
  void Done(const std::string& key);
  void ShutDown();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_, processing_, dirty_;
  bool down_ = false;
};

// A reconcile loop: one worker thread draining one queue.
class Controller {
 public:
  explicit Controller(api::ObjectStore* os) : os_(os) {}
  virtual ~Controller() = default;
  virtual const char* name() const = 0;
  api::ObjectStore* store() const { return os_; }
  // Kinds whose changes this controller reacts to, as (group, resource).
  virtual bool Interested(const api::KindInfo& k) const = 0;
  // Maps a change ("ADDED", "MODIFIED", "DELETED") of an object of an
  // interesting kind to the keys to reconcile (default: the object's own key).
  virtual void Observe(const api::KindInfo& k, const std::string& type, const Json& obj);
  virtual Status Reconcile(const std::string& key) = 0;
  // Called every resync period with nothing changed (deadlines, retries).
  virtual void Resync() {}

  void Start();
  void Stop();
  WorkQueue& queue() { return queue_; }

 protected:
  api::ObjectStore* os_;

 private:
  WorkQueue queue_;
  std::thread worker_;
  std::atomic<bool> stopping_{false};
  std::vector<std::string> retry_;  // worker thread only
};

// Unix seconds. Controllers with deadlines or schedules take one so tests can
// move time forward instead of waiting.
using Clock = std::function<int64_t()>;
Clock RealClock();

std::string KeyOf(const Json& obj);  // "ns/name" or "name"
void SplitKey(const std::string& key, std::string* ns, std::string* name);
const Json& Field(const Json& obj, const char* a, const char* b = nullptr, const char* c = nullptr);
int64_t IntField(const Json& obj, const char* a, const char* b = nullptr, int64_t def = 0);
// The uid of the controller ownerReference, or "".
std::string ControllerUid(const Json& obj);
Json OwnerRef(const api::KindInfo& owner_kind, const Json& owner, bool controller);

// Records a core/v1 Event about `obj` (aggregating repeats by count).
void RecordEvent(api::ObjectStore* os, const api::KindInfo& k, const Json& obj, const std::string& type,
                 const std::string& reason, const std::string& message, const std::string& component);

}  // namespace berth::controllers
