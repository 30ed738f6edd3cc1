// Cluster DNS: an authoritative server for `cluster.local` (UDP and TCP),
// answering from Services, their endpoints and Pods as CoreDNS's kubernetes
// plugin does:
//   SVC.NS.svc.DOMAIN             A   ClusterIP, or ready endpoint IPs if headless
//   HOST.SVC.NS.svc.DOMAIN        A   endpoint with that hostname (or dashed IP)
//   _PORT._PROTO.SVC.NS.svc.DOMAIN SRV per named port (headless: per endpoint)
//   A-B-C-D.NS.pod.DOMAIN         A   if a pod in NS has that IP
// Unknown names in the zone: NXDOMAIN (or NODATA) with the SOA in authority.
// Names outside the zone: REFUSED; nothing is ever forwarded upstream.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "node/dns/dns_message.h"
#include "node/network/service_model.h"

namespace berth::node {
class KubeClient;
class Informer;
}  // namespace berth::node

namespace berth::node::dns {

// The zone's data and the answering logic. Thread-safe: Update swaps in an
// immutable snapshot; Answer never blocks on an update.
class ClusterZone {
 public:
  explicit ClusterZone(std::string domain = "cluster.local", uint32_t ttl = 5);
  void Update(const std::vector<network::ServiceModel>& services, const std::vector<Json>& pods);
  // The response to a parsed query.
  Message Answer(const Message& query) const;
  // Wire query -> wire response. Over UDP the response fits 512 bytes, or
  // the client's EDNS payload size up to 1232, else it is cut and TC set.
  // Empty when the input is not worth answering (shorter than a header, or a
  // response rather than a query).
  std::string Handle(std::string_view wire, bool tcp) const;
  // Until the first Update the zone answers SERVFAIL rather than NXDOMAIN,
  // which clients would cache.
  bool ready() const;

 private:
  struct Snapshot;
  std::string domain_;
  uint32_t ttl_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snap_;
};

struct DnsServerConfig {
  std::string listen_ip = "10.42.0.1";  // the pod bridge's gateway address
  int port = 53;                        // 0 = any free port (tests)
  std::string domain = "cluster.local";
  uint32_t ttl = 5;
};

class DnsServer {
 public:
  // `client` may be null: the zone is then fed only through zone().
  DnsServer(KubeClient* client, DnsServerConfig cfg);
  ~DnsServer();  // Stop()

  // Binds UDP and TCP, starts informers (Services, EndpointSlices, Endpoints,
  // Pods) and the two serving threads. Needs the listen address to exist
  // (start after PodNetwork::Init).
  Status Start();
  Status Stop();
  int port() const { return bound_port_; }
  ClusterZone& zone() { return zone_; }

 private:
  void ServeUdp();
  void ServeTcp();
  void ServeTcpConn(int fd);
  void Rebuild();

  KubeClient* client_;
  DnsServerConfig cfg_;
  ClusterZone zone_;
  std::unique_ptr<Informer> services_, slices_, endpoints_, pods_;
  std::atomic<bool> dirty_{false};
  std::mutex rebuild_mu_;
  int udp_fd_ = -1, tcp_fd_ = -1, wake_fd_ = -1;
  int bound_port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread udp_thread_, tcp_thread_;
};

// Creates (or corrects) the Service kube-system/kube-dns with ClusterIP
// `dns_ip`, ports 53/UDP "dns" and 53/TCP "dns-tcp" and no selector, plus its
// Endpoints and EndpointSlice pointing at server_ip:server_port, so the
// service proxy routes dns_ip:53 to this node's DNS server.
Status EnsureDnsService(KubeClient* client, const std::string& dns_ip,
                        const std::string& server_ip = "10.42.0.1", int server_port = 53);

// /etc/resolv.conf for a pod in namespace `ns`.
std::string ResolvConf(const std::string& ns, const std::string& dns_ip = "10.43.0.10",
                       const std::string& domain = "cluster.local");

}  // namespace berth::node::dns
