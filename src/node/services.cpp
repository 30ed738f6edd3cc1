#include "node/services.h"

#include "core/log.h"
#include "node/dns/dns_server.h"
#include "node/network/service_proxy.h"

namespace berth::node {

struct Services::Impl {
  std::unique_ptr<network::ServiceProxy> proxy;
  std::unique_ptr<dns::DnsServer> dns;
};

Services::Services() : impl_(std::make_unique<Impl>()) {}
Services::~Services() { Stop(); }

void Services::Stop() {
  if (impl_->dns) impl_->dns->Stop();
  if (impl_->proxy) impl_->proxy->Stop();
}

Result<std::unique_ptr<Services>> Services::Start(KubeClient* api, network::PodNetwork* net,
                                                  const std::string& cluster_dns_ip) {
  std::unique_ptr<Services> s(new Services());
  network::ServiceProxyConfig pc;
  pc.rules.bridge = net->config().bridge;
  s->impl_->proxy = std::make_unique<network::ServiceProxy>(api, pc);
  BERTH_RETURN_IF_ERROR(s->impl_->proxy->Start());
  // Cluster DNS listens on the bridge's gateway address; the kube-dns Service
  // (ClusterIP cluster_dns_ip, no selector) points there, so the proxy routes
  // pods' queries to it like any other Service.
  std::string gateway = net->config().gateway;
  if (gateway.empty()) {
    std::string subnet = net->config().subnet;
    std::string base = subnet.substr(0, subnet.find('/'));
    gateway = base.substr(0, base.rfind('.') + 1) + std::to_string(atoi(base.substr(base.rfind('.') + 1).c_str()) + 1);
  }
  dns::DnsServerConfig dc;
  dc.listen_ip = gateway;
  s->impl_->dns = std::make_unique<dns::DnsServer>(api, dc);
  BERTH_RETURN_IF_ERROR(s->impl_->dns->Start());
  Status st = dns::EnsureDnsService(api, cluster_dns_ip, gateway, s->impl_->dns->port());
  if (!st.ok()) log::Warn("cluster DNS service not created", log::Fields()("err", st.ToString()));
  return s;
}

}  // namespace berth::node
