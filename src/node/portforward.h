// kubectl port-forward on the kubelet side. The client speaks SPDY/3.1
// (node/spdy.h), either tunnelled in websocket binary messages (subprotocol
// "SPDY/3.1+portforward.k8s.io", kubectl ≥ 1.30) or over a connection
// upgraded with "Upgrade: SPDY/3.1" (the fallback). For each local
// connection it opens two streams with headers `streamtype` ("error" or
// "data"), `port` and `requestid`; once both of a request id exist the
// kubelet connects to 127.0.0.1:port inside the pod's network namespace and
// copies bytes between that socket and the data stream. A failure is
// written to the error stream; both streams end with FIN when the pod side
// is done.
//
// Flow control is not enforced (spdystream, the only client, does not
// enforce it either); SETTINGS and WINDOW_UPDATE are accepted and ignored.
#pragma once

#include <string>

#include "net/http.h"

namespace berth::node {

struct PortForwardTarget {
  std::string netns_path;  // the pod's network namespace; empty = connect to `pod_ip`
  std::string pod_ip;
  std::string pod;  // "ns/name", for messages
};

// Answers GET (websocket) or POST (SPDY upgrade) /portForward/{ns}/{pod}.
void ServePortForward(net::Request& r, net::ResponseWriter& w, const PortForwardTarget& target);

// Runs a port-forward session over an established byte stream until the
// client goes away. Exposed for tests.
void RunPortForwardSession(net::DuplexStream* conn, const PortForwardTarget& target);

}  // namespace berth::node
