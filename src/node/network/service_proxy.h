// The Service data path, modelled on kube-proxy's nftables mode: Services and
// their endpoints (service_model.h) become one nftables table, `ip berth`,
// rewritten whole in one atomic `nft -f -` transaction per sync.
//
//   nat prerouting/output -> services: vmap ClusterIP . proto . port and, for
//     local destinations other than 127/8, vmap proto . nodePort
//     -> svc chain: numgen random mod N vmap -> endpoint chain: dnat
//   filter input/forward/output (new connections): services without ready
//     endpoints -> reject (TCP reset, else ICMP port unreachable)
//   nat postrouting: DNATed traffic that enters and leaves the pod bridge is
//     masqueraded so the backend answers through the host (no br_netfilter).
//
// NodePorts work for traffic from the host and from pods; traffic arriving on
// other interfaces is not forwarded because the host's ip_forward stays 0.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "node/network/service_model.h"

namespace berth::node {
class KubeClient;
class Informer;
}  // namespace berth::node

namespace berth::node::network {

struct ProxyRulesConfig {
  std::string table = "berth";    // nft table `ip <table>`
  std::string bridge = "berth0";  // the pod bridge, for hairpin masquerade
};

// The complete `nft -f -` script for these services. Pure and deterministic.
std::string BuildProxyRuleset(const ProxyRulesConfig& cfg,
                              const std::vector<ServiceModel>& services);
// The script that removes the table (succeeds whether or not it exists).
std::string DeleteTableScript(const std::string& family, const std::string& table);
// Runs `nft -f -` with the script.
Status ApplyNftScript(const std::string& script);

struct ServiceProxyConfig {
  ProxyRulesConfig rules;
  std::chrono::milliseconds min_interval{100};  // coalesces bursts of changes
  std::chrono::seconds resync{60};              // re-applies even without changes
};

class ServiceProxy {
 public:
  ServiceProxy(KubeClient* client, ServiceProxyConfig cfg);
  ~ServiceProxy();  // Stop()

  // Starts informers for Services, EndpointSlices and Endpoints and the sync
  // thread. Rules are written once the caches are synced, then within
  // min_interval..1s of any change.
  Status Start();
  // Stops watching; leaves the rules in place so service traffic continues
  // across a restart.
  Status Stop();
  // Stop() and delete the table.
  Status Remove();

  // Number of successful applies so far, and the last error (for tests/status).
  uint64_t syncs() const { return syncs_; }
  Status last_error() const;

 private:
  void Run();
  void MarkDirty();
  Status SyncOnce(bool force);

  KubeClient* client_;
  ServiceProxyConfig cfg_;
  std::unique_ptr<Informer> services_, slices_, endpoints_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;
  bool stop_ = false;
  std::string applied_;  // last script applied
  Status last_error_;
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace berth::node::network
