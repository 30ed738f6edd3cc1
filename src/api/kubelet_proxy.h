// Subresources answered by the node that runs a pod: the API server finds the
// pod's node (its InternalIP and kubelet port from the Node object) and
// forwards the request to that node's kubelet API over HTTPS, authenticated
// with the API server's kubelet client certificate, as kube-apiserver does.
//
//   GET pods/{name}/log          -> /containerLogs/{ns}/{name}/{container}
//   GET|POST pods/{name}/exec    -> /exec/{ns}/{name}/{container}?command=..  (upgrade)
//   GET|POST pods/{name}/portforward -> /portForward/{ns}/{name}          (upgrade)
//
// Upgrades (websocket, SPDY) are relayed as raw bytes after the kubelet's
// 101, so the API server does not need to speak the session protocols.
// It also installs metrics.k8s.io (api/metrics_api.h), served from the
// kubelets' /stats/summary.
#pragma once

#include "api/apiserver.h"
#include "api/objects.h"
#include "core/json.h"
#include "net/client.h"

namespace berth::api {

void InstallKubeletProxy(ApiServer* api, ObjectStore* os, const net::ClientOptions& kubelet_client);

// How to reach a Node's kubelet: its InternalIP and daemonEndpoints port,
// with `base`'s credentials. Unavailable if the node reports neither.
Result<net::ClientOptions> KubeletEndpoint(const Json& node, const net::ClientOptions& base);

}  // namespace berth::api
