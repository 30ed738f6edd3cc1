#include "node/agent.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/file.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/time.h"
#include "node/context.h"
#include "node/image_pull.h"
#include "node/kubelet_api.h"
#include "node/kubeclient.h"
#include "node/pod_worker.h"
#include "node/process.h"
#include "node/services.h"
#include "net/server.h"

namespace berth::node {
namespace {

std::string MicroTimeNow() { return FormatRFC3339Micro(NowMicros()); }

int64_t MemTotalBytes() {
  auto s = ReadFile("/proc/meminfo");
  if (!s.ok()) return 0;
  size_t p = s->find("MemTotal:");
  return p == std::string::npos ? 0 : atoll(s->c_str() + p + 9) * 1024;
}

std::string ReadTrimmed(const std::string& path) {
  auto r = ReadFile(path);
  std::string s = r.ok() ? *r : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}


// As kubelet names events: "<object>.<unix nanos in hex>" (unique per node).
std::string EventName(const std::string& object) {
  static std::atomic<int64_t> last{0};
  int64_t t = NowMicros() * 1000, prev = last.load();
  while (!last.compare_exchange_weak(prev, std::max(t, prev + 1))) {
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(std::max(t, prev + 1)));
  return object + "." + buf;
}

}  // namespace

namespace {

// A core/v1 Event from the kubelet about `involved` (an ObjectReference), in `ns`.
Json KubeletEvent(const std::string& ns, Json involved, const std::string& node_name, const std::string& type,
                  const std::string& reason, const std::string& message) {
  std::string now = FormatRFC3339(NowSeconds());
  std::string name = EventName(involved.value("name", "object"));
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"involvedObject", std::move(involved)},
          {"reason", reason},
          {"message", message},
          {"type", type},
          {"source", {{"component", "kubelet"}, {"host", node_name}}},
          {"reportingComponent", "kubelet"},
          {"reportingInstance", node_name},
          {"firstTimestamp", now},
          {"lastTimestamp", now},
          {"count", 1}};
}

}  // namespace

void NodeContext::Event(const Json& pod, const std::string& type, const std::string& reason,
                        const std::string& message) const {
  const Json& md = pod["metadata"];
  std::string ns = md.value("namespace", "default");
  Json involved = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", md.value("name", "")}, {"namespace", ns},
                   {"uid", md.value("uid", "")}, {"resourceVersion", md.value("resourceVersion", "")}};
  if (events) events->Post(ns, KubeletEvent(ns, std::move(involved), node_name, type, reason, message));
}

std::string RuntimeRootFor(const std::string& data_dir) {
  std::error_code ec;
  std::string abs = std::filesystem::weakly_canonical(data_dir, ec).string();
  if (ec || abs.empty()) abs = data_dir;
  return "/run/berth/runtime-" + Sha256Hex(abs).substr(0, 12);
}

struct EventSink::Impl {
  KubeClient* api;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, Json>> queue;
  bool stop = false;
  std::thread thread;

  void Run() {
    pthread_setname_np(pthread_self(), "node-events");
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      cv.wait(l, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stopping and drained
      auto [ns, ev] = std::move(queue.front());
      queue.pop_front();
      l.unlock();
      auto r = api->Create("/api/v1/namespaces/" + ns + "/events", ev);
      if (!r.ok()) log::Debug("event not recorded", log::Fields()("reason", ev.value("reason", ""))("err", r.status().ToString()));
      l.lock();
    }
  }
};

EventSink::EventSink(KubeClient* api) : impl_(std::make_unique<Impl>()) {
  impl_->api = api;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

EventSink::~EventSink() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

void EventSink::Post(std::string ns, Json event) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->stop || impl_->queue.size() >= 1000) return;
  impl_->queue.emplace_back(std::move(ns), std::move(event));
  impl_->cv.notify_one();
}

struct Agent::Impl {
  AgentConfig cfg;
  std::unique_ptr<KubeClient> api;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<images::ImageStore> images;
  std::unique_ptr<network::PodNetwork> network;
  std::unique_ptr<Services> services;
  std::unique_ptr<EventSink> events;
  NodeContext ctx;
  std::unique_ptr<Informer> pods;
  std::unique_ptr<net::HttpsServer> kubelet;
  std::mutex mu;
  std::map<std::string, std::shared_ptr<PodWorker>> workers;  // uid -> worker
  std::map<std::string, std::string> uid_by_key;              // ns/name -> uid
  std::condition_variable cv;
  bool stopping = false;
  std::thread heartbeat;
  bool orphans_checked = false;
  std::map<std::string, int64_t> image_last_used;   // image id -> monotonic ns (mu)
  std::map<std::string, int64_t> image_first_seen;  // image id -> monotonic ns (mu)
  std::string last_gc_failure;

  Json NodeObject() const {
    utsname u;
    uname(&u);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t mem = MemTotalBytes();
    std::string mem_ki = std::to_string(mem / 1024) + "Ki";
    // Allocatable keeps back what the system and Berth itself need.
    std::string alloc_ki = std::to_string(std::max<int64_t>(0, mem - (256LL << 20)) / 1024) + "Ki";
    Json labels = {{"kubernetes.io/hostname", cfg.node_name},
                   {"kubernetes.io/os", "linux"},
                   {"kubernetes.io/arch", "amd64"},
                   {"beta.kubernetes.io/os", "linux"},
                   {"beta.kubernetes.io/arch", "amd64"},
                   {"node-role.kubernetes.io/control-plane", ""}};
    Json status = {
        {"capacity", {{"cpu", std::to_string(cpus)}, {"memory", mem_ki}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}}},
        {"allocatable", {{"cpu", std::to_string(cpus)}, {"memory", alloc_ki}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}}},
        {"addresses", {{{"type", "InternalIP"}, {"address", cfg.node_ip}}, {{"type", "Hostname"}, {"address", cfg.node_name}}}},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", kubelet ? kubelet->port() : 0}}}}},
        {"nodeInfo",
         {{"kubeletVersion", "v1.32.0-berth"},
          {"kubeProxyVersion", "v1.32.0-berth"},
          {"containerRuntimeVersion", runtime->name() + "://" + RuntimeVersion()},
          {"operatingSystem", "linux"},
          {"architecture", "amd64"},
          {"kernelVersion", u.release},
          {"osImage", OsImage()},
          {"machineID", ReadTrimmed("/etc/machine-id")},
          {"systemUUID", ""},
          {"bootID", ReadTrimmed("/proc/sys/kernel/random/boot_id")}}},
        {"conditions", Conditions()}};
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", cfg.node_name}, {"labels", labels}}},
            {"spec", {{"podCIDR", cfg.pod_subnet}, {"podCIDRs", {cfg.pod_subnet}}}},
            {"status", status}};
  }

  std::string RuntimeVersion() const {
    auto r = RunProcess({runtime->binary(), "--version"}, "", 5000);
    if (!r.ok()) return "unknown";
    std::string line = r->out.substr(0, r->out.find('\n'));
    size_t sp = line.rfind(' ');
    return sp == std::string::npos ? line : line.substr(sp + 1);
  }

  static std::string OsImage() {
    auto s = ReadFile("/etc/os-release");
    if (!s.ok()) return "Linux";
    size_t p = s->find("PRETTY_NAME=\"");
    if (p == std::string::npos) return "Linux";
    p += 13;
    return s->substr(p, s->find('"', p) - p);
  }

  Json Conditions() const {
    std::string now = FormatRFC3339(NowSeconds());
    auto c = [&](const char* type, const char* status, const char* reason, const char* msg) {
      return Json{{"type", type}, {"status", status}, {"reason", reason}, {"message", msg},
                  {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
    };
    return {c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            c("Ready", "True", "KubeletReady", "kubelet is posting ready status")};
  }

  Status Register() {
    Json node = NodeObject();
    auto r = api->Create("/api/v1/nodes", node);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists && r.status().code() != Code::kConflict) return r.status();
    if (!r.ok()) {
      // Labels and spec may have changed since the last start.
      auto p = api->MergePatch("/api/v1/nodes/" + cfg.node_name,
                               {{"metadata", {{"labels", node["metadata"]["labels"]}}}, {"spec", node["spec"]}});
      if (!p.ok()) return p.status();
    }
    auto s = api->MergePatch("/api/v1/nodes/" + cfg.node_name + "/status", {{"status", node["status"]}});
    return s.ok() ? Status::Ok() : s.status();
  }

  void RenewLease() {
    std::string path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + cfg.node_name;
    Json spec = {{"holderIdentity", cfg.node_name}, {"leaseDurationSeconds", 40}, {"renewTime", MicroTimeNow()}};
    auto r = api->MergePatch(path, {{"spec", spec}});
    if (r.ok()) return;
    if (r.status().code() == Code::kNotFound) {
      Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", cfg.node_name}, {"namespace", "kube-node-lease"}}},
                    {"spec", spec}};
      auto c = api->Create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease);
      if (!c.ok()) log::Debug("lease create failed", log::Fields()("err", c.status().ToString()));
    }
  }

  void Heartbeat() {
    pthread_setname_np(pthread_self(), "node-heartbeat");
    int64_t last_status = MonotonicNanos();
    bool registered = false;
    std::unique_lock<std::mutex> l(mu);
    while (!stopping) {
      l.unlock();
      if (!registered) {
        Status s = Register();
        registered = s.ok();
        if (!s.ok()) log::Warn("node registration failed", log::Fields()("err", s.ToString()));
      }
      RenewLease();
      if (MonotonicNanos() - last_status > 60LL * 1000000000) {
        last_status = MonotonicNanos();
        api->MergePatch("/api/v1/nodes/" + cfg.node_name + "/status", {{"status", {{"conditions", Conditions()}}}});
      }
      runtime->ReapShims();
      CollectImages();
      l.lock();
      ReapWorkers();
      cv.wait_for(l, std::chrono::seconds(registered ? 10 : 1), [&] { return stopping; });
    }
  }

  // Percent of the image file system in use, or -1.
  int ImageDiskPercent() const {
    struct statvfs v;
    if (statvfs(cfg.images_dir.c_str(), &v) != 0 || v.f_blocks == 0) return -1;
    return static_cast<int>(100 - (100 * v.f_bavail) / v.f_blocks);
  }

  // Kubelet's image GC: above the high threshold, remove unused images
  // (least recently used first) until below the low one.
  void CollectImages() {
    // Without the full list of this node's pods, any image might be needed.
    if (!pods || !pods->Synced()) return;
    // Image ids the node's pods need (running, starting or terminating); they
    // count as used now.
    std::set<std::string> in_use;
    std::vector<std::string> refs;
    {
      std::lock_guard<std::mutex> l(mu);
      for (const auto& [uid, w] : workers)
        for (auto& ref : w->ImageRefs()) refs.push_back(std::move(ref));
    }
    for (const auto& pod : pods->List()) {
      if (!pod.contains("spec") || !pod["spec"].is_object()) continue;
      for (const char* list : {"initContainers", "containers"})
        if (pod["spec"].contains(list) && pod["spec"][list].is_array())
          for (const auto& c : pod["spec"][list])
            if (c.is_object() && c.contains("image") && c["image"].is_string()) refs.push_back(c["image"]);
    }
    for (const auto& ref : refs)
      if (auto img = images->Get(ref); img.ok()) in_use.insert(img->id);
    const int64_t now = MonotonicNanos();
    std::vector<images::ImageInfo> all = images->List();
    {
      std::lock_guard<std::mutex> l(mu);
      for (const auto& id : in_use) image_last_used[id] = now;
      for (const auto& img : all) image_first_seen.emplace(img.id, now);
    }
    int used = ImageDiskPercent();
    if (used < 0 || used < cfg.image_gc_high_percent) return;
    // Images seen for less than the minimum age are spared: a pod about to
    // use a just-pulled or just-imported image may not be known yet.
    std::vector<images::ImageInfo> unused;
    for (auto& img : all) {
      if (in_use.count(img.id)) continue;
      std::lock_guard<std::mutex> l(mu);
      if (now - image_first_seen[img.id] < int64_t{cfg.image_gc_min_age_seconds} * 1000000000) continue;
      unused.push_back(std::move(img));
    }
    std::sort(unused.begin(), unused.end(), [this](const images::ImageInfo& a, const images::ImageInfo& b) {
      return LastUsed(a.id) < LastUsed(b.id);
    });
    int64_t freed = 0;
    size_t removed = 0;
    for (const auto& img : unused) {
      if (ImageDiskPercent() < cfg.image_gc_low_percent) break;
      if (!images->Remove(img.id).ok()) continue;
      auto st = images->GarbageCollect(in_use);
      if (st.ok()) freed += st->bytes_freed;
      ++removed;
      log::Info("image garbage collection: removed", log::Fields()("image", img.ref.empty() ? img.id : img.ref)(
                                                        "disk_percent", used));
    }
    if (ImageDiskPercent() >= cfg.image_gc_low_percent) {
      std::string msg = "Failed to garbage collect required amount of images. Attempted to free down to " +
                        std::to_string(cfg.image_gc_low_percent) + "% of the image file system, removed " +
                        std::to_string(removed) + " images (" + std::to_string(freed) + " bytes)";
      if (msg != last_gc_failure) NodeEvent("Warning", "FreeDiskSpaceFailed", msg);
      last_gc_failure = msg;
    } else {
      last_gc_failure.clear();
    }
  }

  // An Event about this Node (in "default", where kubelet puts them).
  void NodeEvent(const std::string& type, const std::string& reason, const std::string& message) {
    Json involved = {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", cfg.node_name}, {"uid", cfg.node_name}};
    log::Warn(message, log::Fields()("reason", reason));
    if (events) events->Post("default", KubeletEvent("default", std::move(involved), cfg.node_name, type, reason, message));
  }

  // When a pod of this node last started a container of the image (0: not
  // since this agent started, so those go first).
  int64_t LastUsed(const std::string& image_id) {
    std::lock_guard<std::mutex> l(mu);
    auto it = image_last_used.find(image_id);
    return it == image_last_used.end() ? 0 : it->second;
  }

  // Drops workers that finished (mu held).
  void ReapWorkers() {
    for (auto it = workers.begin(); it != workers.end();) {
      if (it->second->Done()) {
        for (auto k = uid_by_key.begin(); k != uid_by_key.end();) {
          if (k->second == it->first) k = uid_by_key.erase(k);
          else ++k;
        }
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  }

  void OnPod(const std::string& type, const Json& pod) {
    if (!pod.is_object() || !pod.contains("metadata")) return;
    const Json& md = pod["metadata"];
    std::string uid = md.value("uid", "");
    if (uid.empty()) return;
    std::string key = md.value("namespace", "") + "/" + md.value("name", "");
    std::lock_guard<std::mutex> l(mu);
    if (stopping) return;
    ReapWorkers();
    auto it = workers.find(uid);
    if (type == "DELETED") {
      if (it != workers.end()) it->second->Removed();
      return;
    }
    if (it == workers.end()) {
      log::Debug("pod arrived", log::Fields()("pod", key));
      workers[uid] = std::make_shared<PodWorker>(&ctx, pod);
      uid_by_key[key] = uid;
    } else {
      it->second->Update(pod);
    }
    if (!orphans_checked && pods && pods->Synced()) CheckOrphansLocked();
  }

  // Pods on disk that the API no longer has (deleted while we were down).
  void CheckOrphansLocked() {
    orphans_checked = true;
    DIR* d = opendir((ctx.root + "/pods").c_str());
    if (!d) return;
    std::vector<std::string> orphans;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      if (!workers.count(e->d_name)) orphans.push_back(e->d_name);
    }
    closedir(d);
    for (const auto& uid : orphans) {
      log::Info("removing orphaned pod", log::Fields()("uid", uid));
      CleanupOrphanPod(&ctx, uid);
    }
    if (network) {
      std::set<std::string> live;
      for (const auto& [uid, w] : workers) live.insert(uid);
      network->Cleanup(live);
    }
  }

  std::shared_ptr<PodWorker> WorkerFor(const std::string& ns, const std::string& name) {
    auto it = uid_by_key.find(ns + "/" + name);
    if (it == uid_by_key.end()) return nullptr;
    auto w = workers.find(it->second);
    return w == workers.end() ? nullptr : w->second;
  }
};

Agent::Agent() : impl_(std::make_unique<Impl>()) {}
Agent::~Agent() { Stop(); }

int Agent::kubelet_port() const { return impl_->kubelet ? impl_->kubelet->port() : 0; }

Result<std::unique_ptr<Agent>> Agent::Start(const AgentConfig& config) {
  std::unique_ptr<Agent> agent(new Agent());
  Impl& a = *agent->impl_;
  a.cfg = config;
  if (a.cfg.node_name.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    a.cfg.node_name = host;
    for (auto& ch : a.cfg.node_name) ch = static_cast<char>(tolower(ch));
  }
  if (a.cfg.images_dir.empty()) a.cfg.images_dir = a.cfg.data_dir + "/../images";
  BERTH_RETURN_IF_ERROR(MakeDirs(a.cfg.data_dir + "/pods", 0700));
  a.api = std::make_unique<KubeClient>(a.cfg.api);

  // Orphans re-parented to this process (it is a child subreaper) are reaped.
  StartOrphanReaper();
  RuntimeOptions ro;
  ro.preferred = a.cfg.runtime;
  ro.state_root = a.cfg.runtime_root;
  BERTH_ASSIGN_OR_RETURN(a.runtime, Runtime::Open(ro));
  BERTH_ASSIGN_OR_RETURN(a.images, images::ImageStore::Open(a.cfg.images_dir));
  if (a.cfg.network) {
    network::PodNetworkConfig nc;
    nc.bridge = a.cfg.bridge;
    nc.subnet = a.cfg.pod_subnet;
    nc.cluster_cidr = a.cfg.cluster_cidr;
    nc.cluster_dns_ip = a.cfg.cluster_dns_ip;
    nc.state_dir = a.cfg.data_dir + "/network";
    nc.driver = a.cfg.network_driver;
    a.network = std::make_unique<network::PodNetwork>(nc);
    BERTH_RETURN_IF_ERROR(a.network->Init());
  }
  a.events = std::make_unique<EventSink>(a.api.get());
  a.ctx.events = a.events.get();
  a.ctx.api = a.api.get();
  a.ctx.runtime = a.runtime.get();
  a.ctx.images = a.images.get();
  a.ctx.network = a.network.get();
  a.ctx.node_name = a.cfg.node_name;
  a.ctx.node_ip = a.cfg.node_ip;
  a.ctx.root = a.cfg.data_dir;
  a.ctx.cluster_dns_ip = a.cfg.cluster_dns_ip;
  images::ImageStore* store = a.images.get();
  AgentConfig cfg = a.cfg;
  a.ctx.pull = [store, cfg](const std::string& ref, const std::vector<PullSecret>& secrets) {
    return PullImage(store, ref, secrets, cfg.insecure_registries, cfg.registry_ca_file);
  };

  // The kubelet API, for the API server's pods/log, exec and port-forward.
  net::Router router;
  Impl* impl = &a;
  MountKubeletApi(router, &a.ctx, [impl](const std::string& ns, const std::string& name) -> std::shared_ptr<PodWorker> {
    std::lock_guard<std::mutex> l(impl->mu);
    return impl->WorkerFor(ns, name);
  });
  net::ServerOptions so;
  so.bind = a.cfg.node_ip;
  so.port = a.cfg.kubelet_port;
  so.cert_file = a.cfg.tls_cert;
  so.key_file = a.cfg.tls_key;
  so.client_ca_file = a.cfg.client_ca;
  // Only client certificates signed by the cluster CA: no tokens.
  a.kubelet = std::make_unique<net::HttpsServer>(so, std::move(router),
                                                 [](const std::string&) { return std::optional<net::Identity>(); });
  BERTH_RETURN_IF_ERROR(a.kubelet->Start());

  if (a.cfg.services && a.network) {
    auto svc = Services::Start(a.api.get(), a.network.get(), a.cfg.cluster_dns_ip);
    if (!svc.ok()) log::Warn("service proxy and DNS not started", log::Fields()("err", svc.status().ToString()));
    else a.services = std::move(svc).value();
  }

  a.heartbeat = std::thread([impl] { impl->Heartbeat(); });
  a.pods = std::make_unique<Informer>(a.api.get(), "/api/v1/pods",
                                      "fieldSelector=spec.nodeName%3D" + net::PercentEncode(a.cfg.node_name),
                                      [impl](const std::string& type, const Json& pod) { impl->OnPod(type, pod); });
  a.pods->Start();
  log::Info("node agent started", log::Fields()("node", a.cfg.node_name)("runtime", a.runtime->name())(
                                      "kubelet_port", a.kubelet->port()));
  return agent;
}

Status ResetNode(const AgentConfig& cfg) {
  RuntimeOptions ro;
  ro.preferred = cfg.runtime;
  ro.state_root = cfg.runtime_root;
  BERTH_ASSIGN_OR_RETURN(auto runtime, Runtime::Open(ro));
  NodeContext ctx;
  ctx.runtime = runtime.get();
  ctx.root = cfg.data_dir;
  std::unique_ptr<network::PodNetwork> net;
  if (cfg.network) {
    network::PodNetworkConfig nc;
    nc.bridge = cfg.bridge;
    nc.subnet = cfg.pod_subnet;
    nc.state_dir = cfg.data_dir + "/network";
    net = std::make_unique<network::PodNetwork>(nc);
    ctx.network = net.get();
  }
  DIR* d = opendir((cfg.data_dir + "/pods").c_str());
  if (d) {
    std::vector<std::string> uids;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') uids.push_back(e->d_name);
    closedir(d);
    for (const auto& uid : uids) CleanupOrphanPod(&ctx, uid);
  }
  if (net) BERTH_RETURN_IF_ERROR(net->Cleanup({}));
  RemoveTmpfsIfEmpty(cfg.runtime_root);
  return Status::Ok();
}

void Agent::Stop() {
  Impl& a = *impl_;
  {
    std::lock_guard<std::mutex> l(a.mu);
    if (a.stopping) return;
    a.stopping = true;
    a.cv.notify_all();
  }
  if (a.pods) a.pods->Stop();
  if (a.heartbeat.joinable()) a.heartbeat.join();
  if (a.kubelet) a.kubelet->Stop();
  if (a.services) a.services->Stop();
  std::map<std::string, std::shared_ptr<PodWorker>> workers;
  {
    std::lock_guard<std::mutex> l(a.mu);
    workers.swap(a.workers);
  }
  for (auto& [uid, w] : workers) w->Stop();
  a.events.reset();  // sends what is queued
  // The runtime's state directory goes when no container is left in it.
  RemoveTmpfsIfEmpty(a.cfg.runtime_root);
}

}  // namespace berth::node
