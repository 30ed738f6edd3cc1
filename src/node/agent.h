// The node agent (Berth's kubelet). It talks to the API server only as an
// HTTPS client: registers its Node, renews its Lease, watches the pods bound
// to it and runs each through a PodWorker, and serves the kubelet API (logs,
// exec, port-forward, stats) on its own HTTPS port for the API server to
// proxy to. `berth server` embeds one; `berth agent` runs one alone.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "net/client.h"

namespace berth::node {

struct AgentConfig {
  std::string node_name;       // default: the host name
  std::string data_dir;        // the agent's state: DATA/node, images in DATA/images
  std::string images_dir;      // default: <data_dir>/../images
  net::ClientOptions api;      // how to reach and authenticate to the API server
  std::string node_ip = "127.0.0.1";  // InternalIP; the kubelet API binds it
  int kubelet_port = 0;        // 0 picks a free port (reported in the Node)
  std::string tls_cert, tls_key, client_ca;  // the kubelet API's TLS
  bool network = true;         // pod network on berth0; off = isolated pods
  std::string network_driver = "builtin";  // how pods attach: "builtin" (netlink) or "cni"
  std::string bridge = "berth0";
  std::string pod_subnet = "10.42.0.0/24";
  std::string cluster_cidr = "10.42.0.0/16";
  std::string cluster_dns_ip = "10.43.0.10";
  std::string runtime = "crun";
  std::string runtime_root = "/run/berth/runtime";
  bool services = true;        // run the service proxy and cluster DNS
  std::vector<std::string> insecure_registries;  // plain HTTP
  std::string registry_ca_file;
  // Image garbage collection, as kubelet's --image-gc-high-threshold and
  // --image-gc-low-threshold: once the image file system is fuller than
  // `high` percent, images no pod of this node uses are removed, least
  // recently used first, until it is below `low` percent. Checked every 10 s.
  // Images the agent has known for less than `min_age` are never removed
  // (kubelet's imageMinimumGCAge).
  int image_gc_high_percent = 85;
  int image_gc_low_percent = 80;
  int image_gc_min_age_seconds = 120;
};

// The OCI runtime's state directory for a node whose data lives in
// `data_dir`: on tmpfs (/run/berth/runtime-<hash of the path>), like the
// container state of containerd or CRI-O, one per data dir so that two
// servers on one machine never share containers.
std::string RuntimeRootFor(const std::string& data_dir);

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Start(const AgentConfig& cfg);
  ~Agent();
  // Stops the agent. Pods keep running and are adopted by the next start.
  void Stop();
  int kubelet_port() const;

 private:
  Agent();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Removes everything the node's pods left on this machine (containers,
// mounts, cgroups, network namespaces, IP allocations) without asking the
// API: for tests and for decommissioning a node. Containers are killed.
Status ResetNode(const AgentConfig& cfg);

}  // namespace berth::node
