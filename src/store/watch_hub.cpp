#include "store/watch_hub.h"

#include <algorithm>
#include <chrono>

namespace berth::store {

// State shared between the hub (producer) and one Watch handle (consumer).
struct WatchHub::Watcher {
  std::string prefix;
  size_t limit = 0;  // pending events allowed before the watcher is dropped

  std::mutex mu;
  std::condition_variable cv;
  std::deque<EventPtr> queue;
  int64_t last_rev = 0;  // highest revision delivered or skipped
  bool closed = false;
  Status end;  // why the watch ended, returned once the queue is drained
};

class WatchHub::WatchHandle final : public Watch {
 public:
  explicit WatchHandle(std::shared_ptr<Watcher> w) : w_(std::move(w)) {}
  ~WatchHandle() override { Close(); }

  Result<std::vector<Event>> Next(int timeout_ms) override {
    std::unique_lock<std::mutex> l(w_->mu);
    auto ready = [&] { return !w_->queue.empty() || w_->closed; };
    if (timeout_ms < 0) {
      w_->cv.wait(l, ready);
    } else {
      w_->cv.wait_for(l, std::chrono::milliseconds(timeout_ms), ready);
    }
    if (!w_->queue.empty()) {
      std::vector<Event> out;
      out.reserve(w_->queue.size());
      for (const EventPtr& e : w_->queue) out.push_back(*e);
      w_->queue.clear();
      return out;
    }
    if (w_->closed) return w_->end;
    return std::vector<Event>{};
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> l(w_->mu);
      if (!w_->closed) {
        w_->closed = true;
        w_->end = Status(Code::kUnavailable, "watch closed");
      }
      w_->queue.clear();
    }
    w_->cv.notify_all();
    // The hub drops closed watchers on its next Publish; no back-pointer is
    // needed, so a handle may safely outlive its store.
  }

 private:
  std::shared_ptr<Watcher> w_;
};

WatchHub::WatchHub(size_t ring_capacity, size_t queue_limit)
    : ring_capacity_(std::max<size_t>(ring_capacity, 1)),
      queue_limit_(std::max<size_t>(queue_limit, 1)) {}

WatchHub::~WatchHub() { CloseAll(Status(Code::kUnavailable, "store closed")); }

void WatchHub::Reset(int64_t published_revision) {
  std::lock_guard<std::mutex> l(mu_);
  ring_.clear();
  published_ = published_revision;
}

int64_t WatchHub::published_revision() const {
  std::lock_guard<std::mutex> l(mu_);
  return published_;
}

size_t WatchHub::watcher_count() {
  std::lock_guard<std::mutex> l(mu_);
  return watchers_.size();
}

void WatchHub::Publish(const std::vector<EventPtr>& events) {
  if (events.empty()) return;
  std::lock_guard<std::mutex> l(mu_);
  for (const EventPtr& e : events) {
    ring_.push_back(e);
    if (ring_.size() > ring_capacity_) ring_.pop_front();
  }
  published_ = events.back()->kv.mod_revision;

  // One lock per watcher per batch; the writer holds each only long enough to
  // append pointers, so a slow consumer costs the writer nothing.
  size_t keep = 0;
  for (size_t i = 0; i < watchers_.size(); ++i) {
    Watcher& w = *watchers_[i];
    bool notify = false;
    bool alive = true;
    {
      std::lock_guard<std::mutex> wl(w.mu);
      if (w.closed) {
        alive = false;
      } else {
        for (const EventPtr& e : events) {
          int64_t rev = e->kv.mod_revision;
          if (rev <= w.last_rev) continue;
          w.last_rev = rev;
          if (!HasPrefix(e->kv.key, w.prefix)) continue;
          if (w.queue.size() >= w.limit) {
            w.closed = true;
            w.end = Gone("watch fell behind by more than " + std::to_string(w.limit) +
                         " events; re-list and watch again");
            w.queue.clear();
            alive = false;
            notify = true;
            break;
          }
          w.queue.push_back(e);
          notify = true;
        }
      }
    }
    if (notify) w.cv.notify_all();
    if (alive) watchers_[keep++] = std::move(watchers_[i]);
  }
  watchers_.resize(keep);
}

Result<std::unique_ptr<Watch>> WatchHub::TryRegister(const std::string& prefix, int64_t from,
                                                     int64_t compacted,
                                                     std::vector<EventPtr>* replay) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return closed_status_;
  if (from == 0) from = published_;
  if (from < compacted) {
    return Gone("too old resource version: " + std::to_string(from) + " (compacted at " +
                std::to_string(compacted) + ")");
  }
  // The ring holds (published_ - size, published_]; it covers `from` when
  // every event after it is either in the ring or not yet published.
  int64_t floor = published_ - static_cast<int64_t>(ring_.size());
  if (from < floor) return std::unique_ptr<Watch>();

  auto w = std::make_shared<Watcher>();
  w->prefix = prefix;
  if (from < published_) {
    // Events are contiguous by revision, so the first one after `from` is at
    // a known offset.
    size_t start = static_cast<size_t>(from - floor);
    for (size_t i = start; i < ring_.size(); ++i) {
      if (HasPrefix(ring_[i]->kv.key, prefix)) replay->push_back(ring_[i]);
    }
  }
  w->last_rev = std::max(from, published_);
  w->limit = replay->size() + queue_limit_;
  w->queue.assign(replay->begin(), replay->end());
  watchers_.push_back(w);
  return std::unique_ptr<Watch>(new WatchHandle(std::move(w)));
}

void WatchHub::CloseAll(const Status& status) {
  std::vector<std::shared_ptr<Watcher>> ws;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!closed_) {
      closed_ = true;
      closed_status_ = status;
    }
    ws.swap(watchers_);
  }
  for (auto& w : ws) {
    {
      std::lock_guard<std::mutex> wl(w->mu);
      if (!w->closed) {
        w->closed = true;
        w->end = status;
      }
    }
    w->cv.notify_all();
  }
}

}  // namespace berth::store
