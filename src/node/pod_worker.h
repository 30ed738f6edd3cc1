// One pod on this node, driven to its spec by one thread: sandbox (network
// namespace), volumes, images, init containers, containers with their restart
// policy and back-off, probes, graceful termination, and the pod's status.
//
// Level-triggered and restart-safe: everything it knows is read back from the
// pod object, the pod's directory (DATA/node/pods/<uid>) and the runtime's
// state files, so a new worker adopts the containers of a previous process.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/json.h"
#include "node/context.h"

namespace berth::node {

class PodWorker {
 public:
  PodWorker(NodeContext* ctx, const Json& pod);
  ~PodWorker();
  PodWorker(const PodWorker&) = delete;
  PodWorker& operator=(const PodWorker&) = delete;

  // A newer version of the pod object.
  void Update(const Json& pod);
  // The pod object is gone from the API (deleted with grace 0 by someone):
  // stop everything at once and clean up.
  void Removed();
  // True once the worker has torn the pod down and may be dropped.
  bool Done() const;
  void Stop();  // stops the thread, leaving containers running (agent shutdown)

  const std::string& uid() const { return uid_; }
  // The log file of a container (the previous attempt if `previous`), for the
  // kubelet API. NotFound if the container has no such attempt.
  Result<std::string> LogPath(const std::string& container, bool previous) const;
  // The runtime id of a running container, for exec and port-forward.
  Result<std::string> RunningContainerId(const std::string& container) const;
  // The pod IP (empty before the sandbox is up).
  std::string PodIP() const;
  // The image references of the pod's containers (init containers included).
  std::vector<std::string> ImageRefs() const;
  // For metrics: runtime ids and cgroup paths of running containers.
  std::vector<std::pair<std::string, std::string>> RunningCgroups() const;
  std::string pod_cgroup() const { return "/berth/pod" + uid_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string uid_;
};

// Removes what a pod left on the node without a worker (orphan cleanup at
// start-up): kills and deletes its containers, unmounts, removes its netns and
// its directory.
void CleanupOrphanPod(NodeContext* ctx, const std::string& uid);

}  // namespace berth::node
