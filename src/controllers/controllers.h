// The control loops that need no node: namespace lifecycle, garbage
// collection, Deployment → ReplicaSet → Pod, CRD status, the scheduler,
// Endpoints/EndpointSlices, Job, CronJob, StatefulSet, DaemonSet and node
// lifecycle. Each is level-triggered:
// a work queue of object keys fed by one watch over the whole store, and an
// idempotent Reconcile that reads current state and writes status.
#pragma once

#include <memory>
#include <string>

#include <vector>

#include "api/objects.h"

namespace berth::controllers {

class Controller;

class Manager {
 public:
  // Runs every controller the server has (kinds.h NewControllers).
  explicit Manager(api::ObjectStore* os);
  // The server's set: also the local volume provisioner (claims without a
  // matching volume get a hostPath PersistentVolume in a directory under
  // `volume_dir`) and the per-namespace service account and CA ConfigMap.
  Manager(api::ObjectStore* os, const std::string& volume_dir, const std::string& root_ca_pem);
  // Runs the given controllers only (tests pick theirs, with fake clocks).
  Manager(api::ObjectStore* os, std::vector<std::unique_ptr<Controller>> controllers);
  ~Manager();
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::controllers
