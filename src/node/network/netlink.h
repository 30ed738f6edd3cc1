// A minimal rtnetlink client: the few link, address and route operations the
// pod network needs, done in-process instead of exec'ing `ip` or a CNI plugin.
// A socket acts in the network namespace of the thread that opened it, so
// code that configures a pod opens one on a thread inside the pod's namespace.
// Internal to node/network.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace berth::node::network {

class Netlink {
 public:
  // A NETLINK_ROUTE socket in the calling thread's network namespace.
  static Result<Netlink> Open();
  Netlink(Netlink&& o) noexcept;
  Netlink& operator=(Netlink&& o) noexcept;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  ~Netlink();

  // A veth pair: `host` stays here, attached to the bridge `master_index`
  // (0: none); `peer` is created directly in the namespace `peer_netns_fd`.
  // mtu 0 = the kernel's default. AlreadyExists if `host` exists.
  Status AddVeth(const std::string& host, const std::string& peer, int peer_netns_fd, int master_index, int mtu);
  // OK if there is no such link.
  Status DeleteLink(const std::string& name);
  Status SetLinkUp(int index);
  // ip is in host byte order.
  Status AddAddress(int index, uint32_t ip, int prefix_len);
  Status AddDefaultRoute(uint32_t gateway, int index);

 private:
  explicit Netlink(int fd) : fd_(fd) {}
  // Sends one request and waits for its acknowledgement.
  Status Transact(std::string msg, const std::string& what);
  int fd_ = -1;
  uint32_t seq_ = 0;
};

// The index of a link in the calling thread's namespace; NotFound if absent.
Result<int> LinkIndex(const std::string& name);

}  // namespace berth::node::network
