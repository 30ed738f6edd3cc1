// The kubelet API of the node agent, on its own HTTPS port (client
// certificates of the cluster CA only). The API server proxies kubectl's
// pods/log, pods/exec, pods/portforward and metrics requests here:
//
//   GET /containerLogs/{ns}/{pod}/{container}?follow&tailLines&sinceSeconds&
//       sinceTime&timestamps&previous&limitBytes
//   GET /exec/{ns}/{pod}/{container}?command=..&stdin&stdout&stderr&tty
//       websocket v5/v4.channel.k8s.io (node/exec.h)
//   GET|POST /portForward/{ns}/{pod}  websocket SPDY/3.1+portforward.k8s.io
//       or SPDY/3.1 upgrade (node/portforward.h)
//   GET /stats/summary  node and container usage (node/stats.h)
//   GET /metrics/node, /metrics/cadvisor  Prometheus text: node_exporter and
//       cAdvisor series (node/metrics_exporter.h)
//   GET /healthz
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "net/http.h"
#include "node/context.h"

namespace berth::node {

class PodWorker;
// Finds the worker of a pod on this node (null if none).
using PodLookup = std::function<std::shared_ptr<PodWorker>(const std::string& ns, const std::string& name)>;

void MountKubeletApi(net::Router& router, NodeContext* ctx, PodLookup lookup);

// Turns CRI log lines into what `kubectl logs` shows. Exposed for tests.
struct LogOptions {
  bool timestamps = false;
  int64_t tail_lines = -1;       // -1 = all
  int64_t since_unix_nanos = 0;  // 0 = from the start
  int64_t limit_bytes = -1;
};
// Renders complete CRI records of `text` (a whole file or a tail of it).
std::string RenderCriLog(std::string_view text, const LogOptions& opts);

}  // namespace berth::node
