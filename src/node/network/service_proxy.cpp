#include "node/network/service_proxy.h"

#include <pthread.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/log.h"
#include "node/kubeclient.h"
#include "node/process.h"

namespace berth::node::network {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// nft identifiers allow letters, digits and / \ _ . -; Kubernetes names are
// DNS labels, so only the separators need care.
std::string Ident(const std::string& s) {
  std::string o;
  for (char c : s)
    o += isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ? c : '_';
  return o;
}

bool Proxied(const std::string& proto) { return proto == "TCP" || proto == "UDP"; }

}  // namespace

std::string DeleteTableScript(const std::string& family, const std::string& table) {
  return "table " + family + " " + table + "\ndelete table " + family + " " + table + "\n";
}

std::string BuildProxyRuleset(const ProxyRulesConfig& cfg,
                              const std::vector<ServiceModel>& services) {
  std::ostringstream svc_ips, no_ep_ips, node_ports, no_ep_nodeports, chains;
  std::map<std::pair<std::string, int>, bool> used_node_ports;
  for (const auto& s : services) {
    if (s.cluster_ip.empty() && s.type != "NodePort" && s.type != "LoadBalancer") continue;
    for (const auto& p : s.ports) {
      if (!Proxied(p.protocol)) continue;
      std::string proto = Lower(p.protocol);
      std::string port_id = p.name.empty() ? std::to_string(p.port) : p.name;
      std::string chain =
          "svc-" + Ident(s.ns) + "/" + Ident(s.name) + "/" + proto + "/" + Ident(port_id);
      bool has_eps = !p.endpoints.empty();
      const char* verdict = has_eps ? "goto " : "goto ";
      std::string target = has_eps ? chain : std::string("reject-chain");
      if (!s.cluster_ip.empty()) {
        auto& os = has_eps ? svc_ips : no_ep_ips;
        os << "      " << s.cluster_ip << " . " << proto << " . " << p.port << " : " << verdict
           << target << ",\n";
      }
      if (p.node_port > 0 && p.node_port <= 65535 && !used_node_ports[{proto, p.node_port}]) {
        used_node_ports[{proto, p.node_port}] = true;
        auto& os = has_eps ? node_ports : no_ep_nodeports;
        os << "      " << proto << " . " << p.node_port << " : " << verdict << target << ",\n";
      }
      if (!has_eps) continue;
      std::vector<std::string> ep_chains;
      for (const auto& e : p.endpoints) {
        std::string ec = "ep-" + Ident(s.ns) + "/" + Ident(s.name) + "/" + proto + "/" +
                         Ident(port_id) + "__" + e.ip + "/" + std::to_string(e.port);
        ep_chains.push_back(ec);
        chains << "  chain " << ec << " {\n    meta l4proto " << proto << " dnat to " << e.ip << ":"
               << e.port << "\n  }\n";
      }
      chains << "  chain " << chain << " {\n";
      if (ep_chains.size() == 1) {
        chains << "    goto " << ep_chains[0] << "\n";
      } else {
        chains << "    numgen random mod " << ep_chains.size() << " vmap {";
        for (size_t i = 0; i < ep_chains.size(); ++i)
          chains << (i ? ", " : " ") << i << " : goto " << ep_chains[i];
        chains << " }\n";
      }
      chains << "  }\n";
    }
  }
  auto map = [](std::ostringstream& o, const std::string& name, const std::string& type,
                const std::ostringstream& elems) {
    o << "  map " << name << " {\n    type " << type << " : verdict\n";
    std::string e = elems.str();
    if (!e.empty()) o << "    elements = {\n" << e << "    }\n";
    o << "  }\n";
  };
  std::ostringstream o;
  o << DeleteTableScript("ip", cfg.table);
  o << "table ip " << cfg.table << " {\n";
  map(o, "service-ips", "ipv4_addr . inet_proto . inet_service", svc_ips);
  map(o, "service-nodeports", "inet_proto . inet_service", node_ports);
  map(o, "no-endpoint-services", "ipv4_addr . inet_proto . inet_service", no_ep_ips);
  map(o, "no-endpoint-nodeports", "inet_proto . inet_service", no_ep_nodeports);
  // 127.0.0.0/8 is excluded: DNAT of loopback-sourced packets to a pod would
  // need route_localnet, which we leave alone.
  o << "  chain reject-chain {\n    meta l4proto tcp reject with tcp reset\n    reject\n  }\n"
    << "  chain endpoints-check {\n"
    << "    ip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
    << "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
       "@no-endpoint-nodeports\n  }\n"
    << "  chain filter-input {\n    type filter hook input priority -110; policy accept;\n"
    << "    ct state new jump endpoints-check\n  }\n"
    << "  chain filter-forward {\n    type filter hook forward priority -110; policy accept;\n"
    << "    ct state new jump endpoints-check\n  }\n"
    << "  chain filter-output {\n    type filter hook output priority -110; policy accept;\n"
    << "    ct state new jump endpoints-check\n  }\n"
    << "  chain services {\n"
    << "    ip daddr . meta l4proto . th dport vmap @service-ips\n"
    << "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
       "@service-nodeports\n  }\n"
    << "  chain nat-prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
    << "    jump services\n  }\n"
    << "  chain nat-output {\n    type nat hook output priority -100; policy accept;\n"
    << "    jump services\n  }\n"
    // Pod -> service -> pod on the same bridge: without br_netfilter the
    // backend's reply would cross the bridge directly with its own address,
    // so the client would drop it. Masquerading routes the reply via us.
    << "  chain nat-postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n"
    << "    ct status dnat iifname \"" << cfg.bridge << "\" oifname \"" << cfg.bridge
    << "\" masquerade\n  }\n";
  o << chains.str();
  o << "}\n";
  return o.str();
}

Status ApplyNftScript(const std::string& script) {
  const char* nft = access("/usr/sbin/nft", X_OK) == 0 ? "/usr/sbin/nft" : "/sbin/nft";
  return RunChecked({nft, "-f", "-"}, script);
}

ServiceProxy::ServiceProxy(KubeClient* client, ServiceProxyConfig cfg)
    : client_(client), cfg_(std::move(cfg)) {}

ServiceProxy::~ServiceProxy() { (void)Stop(); }

void ServiceProxy::MarkDirty() {
  {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

Status ServiceProxy::Start() {
  if (thread_.joinable()) return Status::Ok();
  auto h = [this](const std::string&, const Json&) { MarkDirty(); };
  services_ = std::make_unique<Informer>(client_, "/api/v1/services", "", h);
  slices_ = std::make_unique<Informer>(client_, "/apis/discovery.k8s.io/v1/endpointslices", "", h);
  endpoints_ = std::make_unique<Informer>(client_, "/api/v1/endpoints", "", h);
  services_->Start();
  slices_->Start();
  endpoints_->Start();
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

Status ServiceProxy::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto* inf : {services_.get(), slices_.get(), endpoints_.get()})
    if (inf) inf->Stop();
  services_.reset();
  slices_.reset();
  endpoints_.reset();
  return Status::Ok();
}

Status ServiceProxy::Remove() {
  BERTH_RETURN_IF_ERROR(Stop());
  return ApplyNftScript(DeleteTableScript("ip", cfg_.rules.table));
}

Status ServiceProxy::last_error() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_error_;
}

Status ServiceProxy::SyncOnce(bool force) {
  auto models = BuildServiceModels(services_->List(), slices_->List(), endpoints_->List());
  std::string script = BuildProxyRuleset(cfg_.rules, models);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!force && script == applied_) return Status::Ok();
  }
  Status st = ApplyNftScript(script);
  std::lock_guard<std::mutex> l(mu_);
  last_error_ = st;
  if (st.ok()) {
    applied_ = script;
    ++syncs_;
  }
  return st;
}

void ServiceProxy::Run() {
  pthread_setname_np(pthread_self(), "svc-proxy");
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto last_sync = Clock::time_point{};
  auto last_full = Clock::now();
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::milliseconds(500), [&] { return stop_ || dirty_; });
    if (stop_) break;
    // Writing rules from a partial view would reject traffic to services
    // whose endpoints are not listed yet: wait for the caches (EndpointSlices
    // or Endpoints may be unavailable; give up waiting for one after 10 s).
    bool svc_ok = services_->Synced();
    bool eps_ok = slices_->Synced() && endpoints_->Synced();
    if (!eps_ok && Clock::now() - started > std::chrono::seconds(10))
      eps_ok = slices_->Synced() || endpoints_->Synced();
    if (!svc_ok || !eps_ok) {
      // dirty_ may already be set: wait on stop_ alone, or this loop spins
      // with the lock held until the caches sync.
      cv_.wait_for(l, std::chrono::milliseconds(100), [&] { return stop_; });
      continue;
    }
    bool force = Clock::now() - last_full > cfg_.resync;
    if (!dirty_ && !force) continue;
    // Coalesce: at most one apply per min_interval.
    auto next = last_sync + cfg_.min_interval;
    if (Clock::now() < next) {
      cv_.wait_until(l, next, [&] { return stop_; });
      if (stop_) break;
    }
    dirty_ = false;
    l.unlock();
    Status st = SyncOnce(force);
    last_sync = Clock::now();
    if (force) last_full = last_sync;
    if (!st.ok()) {
      log::Warn("service proxy: sync failed", log::Fields()("err", st.message()));
      last_sync += std::chrono::seconds(1);  // back off before retrying
      l.lock();
      dirty_ = true;
      continue;
    }
    l.lock();
  }
}

}  // namespace berth::node::network
