#include "registry/webhook.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/file.h"
#include "core/ids.h"
#include "core/log.h"
#include "net/client.h"

namespace berth::registry {
namespace {

constexpr int kAttempts = 3;
constexpr auto kAttemptLimit = std::chrono::seconds(10);

struct Url {
  bool https = false;
  std::string host, target;
  int port = 0;
};

std::optional<Url> ParseUrl(const std::string& s) {
  Url u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    u.https = true;
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  u.port = u.https ? 443 : 80;
  if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') u.port = std::atoi(hostport.c_str() + close + 2);
  } else if (size_t colon = hostport.rfind(':'); colon != std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = std::atoi(hostport.c_str() + colon + 1);
  } else {
    u.host = hostport;
  }
  if (u.host.empty() || u.port <= 0 || u.port > 65535) return std::nullopt;
  return u;
}

struct Delivery {
  std::string project;
  WebhookTarget target;
  std::string body;
};

}  // namespace

struct WebhookSender::Impl {
  std::string dir;
  std::function<void(const std::string&, const std::string&, const std::string&)> on_failure;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Delivery> queue;
  bool stopping = false;
  // The attempt in flight, for the watchdog.
  net::HttpsClient* current = nullptr;
  std::chrono::steady_clock::time_point started;
  std::thread worker, watchdog;

  Status Deliver(const Delivery& d) {
    auto url = ParseUrl(d.target.url);
    if (!url) return BadRequest("invalid webhook URL " + d.target.url);
    net::ClientOptions o;
    o.host = url->host;
    o.port = url->port;
    o.plain_http = !url->https;
    o.max_body_bytes = 1 << 20;
    if (url->https && !d.target.ca_pem.empty()) {
      std::string path = dir + "/ca-" + Sha256Hex(d.target.ca_pem).substr(0, 16) + ".pem";
      if (!FileExists(path)) BERTH_RETURN_IF_ERROR(WriteFileAtomic(path, d.target.ca_pem, 0600));
      o.ca_file = path;
    }
    net::HttpsClient client(o);
    net::Headers h = {{"Content-Type", "application/json"}};
    if (!d.target.auth_header.empty()) h["Authorization"] = d.target.auth_header;
    {
      std::lock_guard<std::mutex> lock(mu);
      current = &client;
      started = std::chrono::steady_clock::now();
    }
    auto res = client.Do("POST", url->target, h, d.body);
    {
      std::lock_guard<std::mutex> lock(mu);
      current = nullptr;
    }
    if (!res.ok()) return res.status();
    if (res->status < 200 || res->status >= 300) return Internal("HTTP " + std::to_string(res->status));
    return Status::Ok();
  }

  void Run() {
    pthread_setname_np(pthread_self(), "reg-webhooks");
    for (;;) {
      Delivery d;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        d = std::move(queue.front());
        queue.pop_front();
      }
      Status last;
      for (int attempt = 0; attempt < kAttempts; ++attempt) {
        last = Deliver(d);
        if (last.ok()) break;
        std::unique_lock<std::mutex> lock(mu);
        if (cv.wait_for(lock, std::chrono::seconds(1 << attempt), [&] { return stopping; })) return;
      }
      if (!last.ok()) {
        log::Warn("webhook not delivered", log::Fields()("project", d.project)("url", d.target.url)("err", last.ToString()));
        if (on_failure) on_failure(d.project, d.target.url, last.message());
      }
    }
  }

  // Interrupts an attempt that has taken longer than its limit.
  void Watch() {
    pthread_setname_np(pthread_self(), "reg-webhook-wd");
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping; })) {
      if (current != nullptr && std::chrono::steady_clock::now() - started > kAttemptLimit) current->Interrupt();
    }
    if (current != nullptr) current->Interrupt();
  }
};

WebhookSender::WebhookSender(std::string dir,
                             std::function<void(const std::string&, const std::string&, const std::string&)> on_failure)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
  impl_->on_failure = std::move(on_failure);
  impl_->worker = std::thread([this] { impl_->Run(); });
  impl_->watchdog = std::thread([this] { impl_->Watch(); });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
  impl_->watchdog.join();
}

void WebhookSender::Send(const std::string& project, const WebhookTarget& t, const Json& payload) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->queue.push_back(Delivery{project, t, payload.dump()});
  }
  impl_->cv.notify_all();
}

}  // namespace berth::registry
