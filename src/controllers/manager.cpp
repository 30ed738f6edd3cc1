#include <pthread.h>

#include <nlohmann/json.hpp>
#include <mutex>
#include <thread>

#include "controllers/base.h"
#include "controllers/controllers.h"
#include "controllers/kinds.h"
#include "core/log.h"

namespace berth::controllers {

struct Manager::Impl {
  api::ObjectStore* os;
  std::vector<std::unique_ptr<Controller>> ctrls;
  std::thread feeder;
  std::atomic<bool> stop{false};
  std::mutex watch_mu;  // guards `watch` between the feeder and Stop()
  std::unique_ptr<store::Watch> watch;

  api::KindPtr KindForKey(const std::string& key) {
    // /registry/<group>/<resource>/...
    size_t a = key.find('/', 10);
    if (key.rfind("/registry/", 0) != 0 || a == std::string::npos) return nullptr;
    std::string group = key.substr(10, a - 10);
    size_t b = key.find('/', a + 1);
    if (b == std::string::npos) return nullptr;
    std::string resource = key.substr(a + 1, b - a - 1);
    if (group == "core") group.clear();
    for (const auto& k : os->kinds()->All())
      if (k->group == group && k->resource == resource) return k;
    return nullptr;
  }

  void Dispatch(const api::KindInfo& k, const std::string& type, const Json& obj) {
    for (auto& c : ctrls)
      if (c->Interested(k)) c->Observe(k, type, obj);
  }

  // Lists everything once (so every controller starts from the full state),
  // then follows one watch over the whole registry from that revision.
  void Run() {
    pthread_setname_np(pthread_self(), "ctrl-feeder");
    int64_t from = 0;
    for (;;) {
      if (stop) return;
      if (!watch) {
        auto list = os->raw()->List({"/registry/", "", 0, 0});
        if (!list.ok()) {
          log::Warn("controller list failed", log::Fields()("err", list.status().ToString()));
          std::this_thread::sleep_for(std::chrono::milliseconds(200));  // back-off before re-listing
          continue;
        }
        from = list->revision;
        for (const auto& kv : list->items) {
          auto k = KindForKey(kv.key);
          if (!k) continue;
          auto obj = os->DecodeForWatch(*k, kv);
          if (obj.ok()) Dispatch(*k, "ADDED", *obj);
        }
        auto w = os->raw()->WatchPrefix("/registry/", from);
        if (!w.ok()) continue;
        std::lock_guard<std::mutex> l(watch_mu);
        if (stop) return;
        watch = std::move(w).value();
      }
      auto evs = watch->Next(500);
      if (!evs.ok()) {
        if (stop) return;
        log::Info("controller watch restarted", log::Fields()("err", evs.status().ToString()));
        std::lock_guard<std::mutex> l(watch_mu);
        watch.reset();
        continue;
      }
      for (const auto& e : *evs) {
        auto k = KindForKey(e.kv.key);
        if (!k) continue;
        auto obj = os->DecodeForWatch(*k, e.kv);
        if (!obj.ok()) continue;
        std::string type = e.type == store::Event::Type::kDelete ? "DELETED" : e.is_create ? "ADDED" : "MODIFIED";
        Dispatch(*k, type, *obj);
      }
    }
  }
};

Manager::Manager(api::ObjectStore* os) : impl_(std::make_unique<Impl>()) {
  impl_->os = os;
  impl_->ctrls = NewControllers(os);
}

Manager::Manager(api::ObjectStore* os, const ServerOptions& opts) : impl_(std::make_unique<Impl>()) {
  impl_->os = os;
  impl_->ctrls = NewControllers(os);
  impl_->ctrls.push_back(NewVolumeBinder(os, opts.volume_dir));
  impl_->ctrls.push_back(NewServiceAccountController(os, opts.root_ca_pem));
  impl_->ctrls.push_back(NewApiServerServiceController(os, opts.api_endpoint_ip, opts.api_port));
}

Manager::Manager(api::ObjectStore* os, std::vector<std::unique_ptr<Controller>> controllers)
    : impl_(std::make_unique<Impl>()) {
  impl_->os = os;
  impl_->ctrls = std::move(controllers);
}

Manager::~Manager() { Stop(); }

void Manager::Add(std::unique_ptr<Controller> c) { impl_->ctrls.push_back(std::move(c)); }

void Manager::Start() {
  for (auto& c : impl_->ctrls) c->Start();
  impl_->feeder = std::thread([this] { impl_->Run(); });
}

void Manager::Stop() {
  impl_->stop = true;
  {
    // Wakes the feeder from its blocking Next().
    std::lock_guard<std::mutex> l(impl_->watch_mu);
    if (impl_->watch) impl_->watch->Close();
  }
  if (impl_->feeder.joinable()) impl_->feeder.join();
  for (auto& c : impl_->ctrls) c->Stop();
}

}  // namespace berth::controllers
