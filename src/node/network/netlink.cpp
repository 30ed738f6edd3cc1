#include "node/network/netlink.h"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::node::network {
namespace {

// One request being built: a netlink header, a fixed payload and attributes,
// each padded to 4 bytes; nested attributes get their length when closed.
class Message {
 public:
  Message(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    Append(&h, sizeof h);
  }
  template <class T>
  void Put(const T& v) {
    Append(&v, sizeof v);
  }
  void Attr(uint16_t type, const void* data, size_t n) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<uint16_t>(RTA_LENGTH(n));
    buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
    Append(data, n);
  }
  void AttrStr(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  void AttrU32(uint16_t type, uint32_t v) { Attr(type, &v, sizeof v); }
  size_t Begin(uint16_t type) {
    size_t at = buf_.size();
    rtattr a{};
    a.rta_type = type;
    Append(&a, sizeof a);
    return at;
  }
  void End(size_t at) {
    uint16_t len = static_cast<uint16_t>(buf_.size() - at);
    std::memcpy(&buf_[at] + offsetof(rtattr, rta_len), &len, sizeof len);
  }
  std::string Finish(uint32_t seq) {
    uint32_t len = static_cast<uint32_t>(buf_.size());
    std::memcpy(&buf_[0] + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
    std::memcpy(&buf_[0] + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
    return buf_;
  }

 private:
  void Append(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    buf_.append(NLMSG_ALIGN(buf_.size()) - buf_.size(), '\0');
  }
  std::string buf_;
};

Status ErrnoStatus(int err, const std::string& what) {
  std::string m = what + ": " + strerror(err);
  if (err == EEXIST) return AlreadyExists(m);
  if (err == ENODEV || err == ENOENT) return NotFound(m);
  return Internal(m);
}

}  // namespace

Result<Netlink> Netlink::Open() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Internal(std::string("netlink socket: ") + strerror(errno));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    int e = errno;
    close(fd);
    return Internal(std::string("netlink bind: ") + strerror(e));
  }
  return Netlink(fd);
}

Netlink::Netlink(Netlink&& o) noexcept : fd_(o.fd_), seq_(o.seq_) { o.fd_ = -1; }
Netlink& Netlink::operator=(Netlink&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    seq_ = o.seq_;
    o.fd_ = -1;
  }
  return *this;
}
Netlink::~Netlink() {
  if (fd_ >= 0) close(fd_);
}

Status Netlink::Transact(std::string msg, const std::string& what) {
  const uint32_t seq = ++seq_;
  std::memcpy(&msg[0] + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return ErrnoStatus(errno, what);
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int pr = poll(&p, 1, 5000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return Internal(what + ": no answer from the kernel");
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, what);
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return Status::Ok();
        return ErrnoStatus(-e->error, what);
      }
    }
  }
}

Status Netlink::AddVeth(const std::string& host, const std::string& peer, int peer_netns_fd, int master_index,
                        int mtu) {
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.Put(ifinfomsg{});
  m.AttrStr(IFLA_IFNAME, host);
  if (mtu > 0) m.AttrU32(IFLA_MTU, static_cast<uint32_t>(mtu));
  if (master_index > 0) m.AttrU32(IFLA_MASTER, static_cast<uint32_t>(master_index));
  size_t info = m.Begin(IFLA_LINKINFO);
  m.AttrStr(IFLA_INFO_KIND, "veth");
  size_t data = m.Begin(IFLA_INFO_DATA);
  size_t p = m.Begin(VETH_INFO_PEER);
  m.Put(ifinfomsg{});
  m.AttrStr(IFLA_IFNAME, peer);
  m.AttrU32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  if (mtu > 0) m.AttrU32(IFLA_MTU, static_cast<uint32_t>(mtu));
  m.End(p);
  m.End(data);
  m.End(info);
  return Transact(m.Finish(0), "create veth " + host);
}

Status Netlink::DeleteLink(const std::string& name) {
  Message m(RTM_DELLINK, 0);
  m.Put(ifinfomsg{});
  m.AttrStr(IFLA_IFNAME, name);
  Status st = Transact(m.Finish(0), "delete link " + name);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

Status Netlink::SetLinkUp(int index) {
  Message m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.Put(ifi);
  return Transact(m.Finish(0), "set link " + std::to_string(index) + " up");
}

Status Netlink::AddAddress(int index, uint32_t ip, int prefix_len) {
  Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  ifaddrmsg a{};
  a.ifa_family = AF_INET;
  a.ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  a.ifa_scope = RT_SCOPE_UNIVERSE;
  a.ifa_index = static_cast<uint32_t>(index);
  m.Put(a);
  uint32_t be = htonl(ip);
  m.Attr(IFA_LOCAL, &be, sizeof be);
  m.Attr(IFA_ADDRESS, &be, sizeof be);
  uint32_t bcast = htonl(ip | (prefix_len >= 32 ? 0 : ~uint32_t{0} >> prefix_len));
  m.Attr(IFA_BROADCAST, &bcast, sizeof bcast);
  return Transact(m.Finish(0), "add address");
}

Status Netlink::AddDefaultRoute(uint32_t gateway, int index) {
  Message m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  m.Put(r);
  uint32_t gw = htonl(gateway);
  m.Attr(RTA_GATEWAY, &gw, sizeof gw);
  m.AttrU32(RTA_OIF, static_cast<uint32_t>(index));
  return Transact(m.Finish(0), "add default route");
}

Result<int> LinkIndex(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return NotFound("no link " + name);
  return static_cast<int>(idx);
}

}  // namespace berth::node::network
