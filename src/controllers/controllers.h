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
#include "controllers/base.h"

namespace berth::controllers {

class Controller;

class Manager {
 public:
  // Runs every controller the server has (kinds.h NewControllers).
  explicit Manager(api::ObjectStore* os);
  // The server's set: also the local volume provisioner (claims without a
  // matching volume get a hostPath PersistentVolume in a directory under
  // `volume_dir`), the per-namespace service account and CA ConfigMap, and
  // the `kubernetes` Service pointing at the API server.
  struct ServerOptions {
    std::string volume_dir;
    std::string root_ca_pem;
    std::string api_endpoint_ip;  // where pods reach the API server; empty: nowhere
    int api_port = 0;
  };
  Manager(api::ObjectStore* os, const ServerOptions& opts);
  // Runs the given controllers only (tests pick theirs, with fake clocks).
  Manager(api::ObjectStore* os, std::vector<std::unique_ptr<Controller>> controllers);
  ~Manager();
  // Adds a controller of another module (the registry's); before Start().
  void Add(std::unique_ptr<Controller> c);
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::controllers
