// The Kubernetes API front end: mounts /api, /apis, /openapi, /version on the
// router and maps HTTP requests onto ObjectStore operations. Kind-agnostic.
#pragma once

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

  // Open watch streams, for /metrics.
  int64_t open_watches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Shared with other modules that answer in Kubernetes form.
std::string StatusBody(const Status& st, const std::string& group = "",
                       const std::string& resource = "", const std::string& name = "");
void ReplyStatus(net::ResponseWriter& w, const Status& st, const std::string& group = "",
                 const std::string& resource = "", const std::string& name = "");

}  // namespace berth::api
