// Services joined with their endpoints, as the proxy and the DNS server need
// them. Built from API objects by a pure function so both can be tested
// without an API server.
//
// Endpoints come from discovery.k8s.io/v1 EndpointSlices (label
// kubernetes.io/service-name); a Service with no slice at all falls back to its
// core/v1 Endpoints object, so either controller can feed us.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace berth::node::network {

struct ServiceEndpoint {
  std::string ip;
  int port = 0;          // target port for this service port
  std::string hostname;  // endpoint hostname (StatefulSet pods), may be empty
  bool ready = true;
};

struct ServicePortModel {
  std::string name;      // may be empty for single-port services
  std::string protocol;  // TCP | UDP | SCTP
  int port = 0;
  int node_port = 0;                       // 0 = none
  std::vector<ServiceEndpoint> endpoints;  // ready ones only, sorted, unique
};

struct ServiceModel {
  std::string ns, name;
  std::string type;        // ClusterIP | NodePort | LoadBalancer | ExternalName
  std::string cluster_ip;  // empty for headless ("None") and ExternalName
  bool headless = false;
  std::string external_name;
  std::vector<ServicePortModel> ports;
  // Every ready endpoint address once (for headless A records and hostnames),
  // sorted by ip.
  std::vector<ServiceEndpoint> addresses;
};

std::vector<ServiceModel> BuildServiceModels(const std::vector<Json>& services,
                                             const std::vector<Json>& endpoint_slices,
                                             const std::vector<Json>& endpoints);

}  // namespace berth::node::network
