// The Kubernetes API front end: mounts /api, /apis, /openapi, /version on the
// router and maps HTTP requests onto ObjectStore operations. Kind-agnostic.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/objects.h"
#include "net/http.h"

namespace berth::api {

class ApiServer {
 public:
  explicit ApiServer(ObjectStore* objects);
  ~ApiServer();
  void Mount(net::Router& router);

  // Serves a subresource of a kind through another module's handler
  // (pods/log, pods/exec, pods/portforward ...). The handler answers the
  // request itself, with a metav1.Status on errors. Call before serving.
  using SubresourceHandler = std::function<void(net::Request&, net::ResponseWriter&, const std::string& ns,
                                                const std::string& name)>;
  void HandleSubresource(const std::string& group, const std::string& resource, const std::string& sub,
                         SubresourceHandler h);

  // Serves get and list of a resource that is not stored (metrics.k8s.io):
  // the kind is registered in the KindRegistry as usual (discovery, OpenAPI)
  // and every request on /apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}]
  // goes to `h` (name empty = list; ns empty = all namespaces or cluster
  // scope). Call before serving.
  using ResourceHandler = SubresourceHandler;
  void HandleResource(const std::string& group, const std::string& version, const std::string& resource,
                      ResourceHandler h);

  // Open watch streams, for /metrics.
  int64_t open_watches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Shared with other modules that answer in Kubernetes form.
std::string StatusBody(const Status& st, const std::string& group = "",
                       const std::string& resource = "", const std::string& name = "");
// A request body as JSON, from JSON, YAML or Kubernetes protobuf (by Content-Type).
Result<Json> DecodeRequestBody(const net::Request& r);

void ReplyStatus(net::ResponseWriter& w, const Status& st, const std::string& group = "",
                 const std::string& resource = "", const std::string& name = "");

}  // namespace berth::api
