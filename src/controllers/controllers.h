// The control loops that need no node: namespace lifecycle, garbage
// collection, Deployment → ReplicaSet → Pod, CRD status. Each is level-triggered:
// a work queue of object keys fed by one watch over the whole store, and an
// idempotent Reconcile that reads current state and writes status.
#pragma once

#include <memory>

#include "api/objects.h"

namespace berth::controllers {

class Manager {
 public:
  explicit Manager(api::ObjectStore* os);
  ~Manager();
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::controllers
