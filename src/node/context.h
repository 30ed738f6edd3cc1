// What every pod worker of a node shares: the API client, the runtime, the
// image store, the pod network and the node's identity. Internal to node/.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/json.h"
#include "node/images/store.h"
#include "node/kubeclient.h"
#include "node/network/pod_network.h"
#include "node/runtime.h"

namespace berth::node {

struct PullSecret {
  std::string docker_config_json;  // the .dockerconfigjson of an imagePullSecret
};

// Sends Events in order from one thread; a bounded queue (events are
// best-effort in Kubernetes too: a flood drops the newest).
class EventSink {
 public:
  explicit EventSink(KubeClient* api);
  ~EventSink();
  void Post(std::string ns, Json event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct NodeContext {
  KubeClient* api = nullptr;
  Runtime* runtime = nullptr;
  images::ImageStore* images = nullptr;
  network::PodNetwork* network = nullptr;  // null: pods get their own isolated netns
  std::string node_name;
  std::string node_ip = "127.0.0.1";
  std::string root;  // DATA/node: pods/<uid>/...
  std::string cluster_dns_ip = "10.43.0.10";
  std::string cluster_domain = "cluster.local";
  // Pulls `ref` into the store (registry auth from the pull secrets).
  std::function<Result<images::ImageInfo>(const std::string& ref, const std::vector<PullSecret>& secrets)> pull;

  // Records a core/v1 Event about a pod, from the kubelet. Asynchronous:
  // events go out from their own thread so a pod's start does not wait for
  // them (set `events` to enable; without it they are dropped).
  void Event(const Json& pod, const std::string& type, const std::string& reason, const std::string& message) const;
  class EventSink* events = nullptr;
};

}  // namespace berth::node
