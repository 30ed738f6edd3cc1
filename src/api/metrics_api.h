// metrics.k8s.io/v1beta1 (what `kubectl top` reads), served by the API
// server itself instead of an aggregated metrics-server: PodMetrics and
// NodeMetrics are registered as kinds (so discovery and OpenAPI list them)
// whose get and list ask each node's kubelet for GET /stats/summary and
// reshape the answer. Nothing is stored; the rates come from the kubelets.
#pragma once

#include "api/apiserver.h"
#include "api/objects.h"
#include "net/client.h"

namespace berth::api {

void InstallMetricsApi(ApiServer* api, ObjectStore* os, const net::ClientOptions& kubelet_client);

}  // namespace berth::api
