// The node's share of Services: the data path (ServiceProxy: ClusterIP and
// NodePort rules in berth's nftables table) and the cluster DNS server, both
// fed by watches of Services and EndpointSlices, as kube-proxy and CoreDNS are.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "node/kubeclient.h"
#include "node/network/pod_network.h"

namespace berth::node {

class Services {
 public:
  static Result<std::unique_ptr<Services>> Start(KubeClient* api, network::PodNetwork* net,
                                                 const std::string& cluster_dns_ip);
  ~Services();
  // Stops watching; the rules stay so that traffic flows across a restart.
  void Stop();

 private:
  Services();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::node
