// WatchHub: the in-memory half of Watch, shared by store backends.
//
// It keeps a ring of the most recent committed events (contiguous revisions)
// and the set of live watchers. The single writer publishes each committed
// batch once; Publish never blocks on a watcher: every watcher has a bounded
// queue and one that overflows is closed with Gone (the client re-lists).
//
// Registering a watcher is split so that a backend can replay history that
// the ring no longer holds from its own storage without holding the hub lock:
// TryRegister succeeds only when the ring covers every event after `from`;
// otherwise the backend reads (from, R] from storage and retries with from=R.
// Revisions a watcher has already been given are never given again, so
// replay and live delivery neither lose nor duplicate an event.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace berth::store {

using EventPtr = std::shared_ptr<const Event>;

class WatchHub {
 public:
  // ring_capacity: events kept for replay; queue_limit: live events a watcher
  // may have pending before it is closed with Gone.
  WatchHub(size_t ring_capacity, size_t queue_limit);
  ~WatchHub();

  // Sets the revision already committed when the hub starts empty (open).
  void Reset(int64_t published_revision);

  // Publishes committed events, ascending and contiguous after the last
  // published revision.
  void Publish(const std::vector<EventPtr>& events);

  int64_t published_revision() const;

  // Registers a watcher for `prefix` receiving events with revision > from,
  // preceded by `replay` (already filtered, ascending, all <= from).
  // from == 0 means "after the latest published revision". Returns nullptr
  // when the ring does not reach back to from + 1; the caller then replays
  // from storage. Fails Gone if from < compacted (checked under the lock).
  Result<std::unique_ptr<Watch>> TryRegister(const std::string& prefix, int64_t from,
                                             int64_t compacted, std::vector<EventPtr>* replay);

  // Ends every watch with `status` and refuses new ones.
  void CloseAll(const Status& status);

  size_t watcher_count();

 private:
  struct Watcher;
  class WatchHandle;

  mutable std::mutex mu_;
  std::deque<EventPtr> ring_;
  const size_t ring_capacity_;
  const size_t queue_limit_;
  int64_t published_ = 0;
  bool closed_ = false;
  Status closed_status_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
};

inline bool HasPrefix(const std::string& key, const std::string& prefix) {
  return key.size() >= prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace berth::store
