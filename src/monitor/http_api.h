// Prometheus's HTTP API (/api/v1/...) over a Storage and the PromQL engine:
// what Grafana, promtool and other Prometheus clients call. Replies use
// Prometheus's JSON envelope ({"status":"success","data":...}) and its error
// form ({"status":"error","errorType":"bad_data","error":"..."}).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "monitor/promql/engine.h"
#include "monitor/storage.h"

namespace berth::net {
class Router;
struct Request;
class ResponseWriter;
}  // namespace berth::net

namespace berth::monitor {

// The parts of the API that other subsystems answer: scrape targets and
// metric metadata (scrape/), rules and alerts (rules/), remote write.
struct ApiProviders {
  std::function<Json()> targets;                                       // data of /api/v1/targets
  std::function<Json(const std::string& metric, int limit)> metadata;  // /api/v1/metadata
  std::function<Json()> rules;                                         // data of /api/v1/rules
  std::function<Json()> alerts;                                        // data of /api/v1/alerts
  // /api/v1/write: the decoded body's status (BadRequest → 400).
  std::function<Status(std::string_view snappy_protobuf)> remote_write;
};

class HttpApi {
 public:
  HttpApi(Storage* storage, const promql::Engine* engine, ApiProviders providers);

  // Serves /api/v1/<endpoint> for Prometheus's endpoint names (next to the
  // Kubernetes API, whose /api/v1 resources never use those names), /federate,
  // and the whole API again under /prometheus/ for clients configured with a
  // prefix.
  void Mount(net::Router& router);

  // One request, routed by the path after /api/v1/ (exposed for tests).
  void Serve(const std::string& endpoint, net::Request& req, net::ResponseWriter& w);

  // The endpoint names served under /api/v1/.
  static std::vector<std::string> Endpoints();

 private:
  void Federate(net::Request& req, net::ResponseWriter& w);
  Storage* storage_;
  const promql::Engine* engine_;
  ApiProviders providers_;
};

// Prometheus's time and duration parameters: RFC 3339 or Unix seconds with
// a fraction; durations as "5m" or float seconds. Milliseconds out.
Result<int64_t> ParseApiTime(std::string_view s);
Result<int64_t> ParseApiDuration(std::string_view s);

// The result of a query as Prometheus's `data` object text.
std::string QueryResultJson(const promql::QueryResult& r);

}  // namespace berth::monitor
