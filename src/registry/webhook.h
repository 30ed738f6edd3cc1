// Delivers registry events to the HTTP endpoints projects configure
// (spec.webhooks): a JSON POST per event, in Harbor's payload shape, from one
// background thread, retried three times, with a 10 s limit per attempt.
// Failures are logged and recorded as a WebhookFailed event on the project.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/json.h"

namespace berth::registry {

struct WebhookTarget {
  std::string url;
  std::string ca_pem;       // extra trust for https URLs
  std::string auth_header;  // sent as Authorization when set
};

class WebhookSender {
 public:
  // `dir` holds CA bundles written for https targets; `on_failure` is called
  // (on the sender's thread) with the project, URL and error of an event
  // that could not be delivered.
  WebhookSender(std::string dir,
                std::function<void(const std::string& project, const std::string& url, const std::string& err)> on_failure);
  ~WebhookSender();  // stops after the delivery in progress
  void Send(const std::string& project, const WebhookTarget& t, const Json& payload);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
