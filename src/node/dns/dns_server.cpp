#include "node/dns/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/log.h"
#include "node/kubeclient.h"

namespace berth::node::dns {

struct ClusterZone::Snapshot {
  std::map<std::string, network::ServiceModel> services;  // "name.ns"
  std::set<std::string> namespaces;                       // with services or pods
  std::set<std::pair<std::string, std::string>> pods;     // (ns, ip)
  uint32_t serial = 1;
};

namespace {

constexpr uint16_t kMaxEdnsPayload = 1232;  // the DNS flag day 2020 value

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string Dashed(const std::string& ip) {
  std::string d = ip;
  for (auto& c : d)
    if (c == '.') c = '-';
  return d;
}

std::optional<std::array<uint8_t, 4>> Ip4(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  std::array<uint8_t, 4> b;
  memcpy(b.data(), &a.s_addr, 4);
  return b;
}

// Everything that exists at one name.
struct Node {
  std::vector<Record> a, srv, extra;  // extra: additional-section A records for SRV targets
  std::optional<Record> cname;
};

}  // namespace

ClusterZone::ClusterZone(std::string domain, uint32_t ttl)
    : domain_(LowerName(domain)), ttl_(ttl) {}

bool ClusterZone::ready() const {
  std::lock_guard<std::mutex> l(mu_);
  return snap_ != nullptr;
}

void ClusterZone::Update(const std::vector<network::ServiceModel>& services,
                         const std::vector<Json>& pods) {
  auto s = std::make_shared<Snapshot>();
  for (const auto& m : services) {
    s->services[LowerName(m.name + "." + m.ns)] = m;
    s->namespaces.insert(LowerName(m.ns));
  }
  for (const auto& p : pods) {
    if (!p.is_object() || !p.contains("metadata") || !p["metadata"].is_object()) continue;
    std::string ns = LowerName(p["metadata"].value("namespace", ""));
    const Json& st = p.contains("status") ? p["status"] : Json();
    if (!st.is_object()) continue;
    std::string phase = st.value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") continue;
    std::set<std::string> ips;
    if (st.contains("podIP") && st["podIP"].is_string()) ips.insert(st["podIP"].get<std::string>());
    if (st.contains("podIPs") && st["podIPs"].is_array())
      for (const auto& x : st["podIPs"])
        if (x.is_object() && x.contains("ip") && x["ip"].is_string())
          ips.insert(x["ip"].get<std::string>());
    for (const auto& ip : ips)
      if (!ip.empty()) s->pods.insert({ns, ip});
    if (!ips.empty()) s->namespaces.insert(ns);
  }
  std::lock_guard<std::mutex> l(mu_);
  s->serial = snap_ ? snap_->serial + 1 : 1;
  snap_ = std::move(s);
}

Message ClusterZone::Answer(const Message& q) const {
  Message r;
  r.id = q.id;
  r.qr = true;
  r.opcode = q.opcode;
  r.rd = q.rd;
  if (!q.questions.empty()) r.questions.push_back(q.questions[0]);
  if (q.opcode != 0) {
    r.rcode = rcode::kNotImp;
    return r;
  }
  if (q.questions.size() != 1) {
    r.rcode = rcode::kFormErr;
    return r;
  }
  const Question& question = q.questions[0];
  std::string name = LowerName(question.name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  const std::string suffix = "." + domain_;
  bool in_zone =
      name == domain_ || (name.size() > suffix.size() &&
                          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
  if (!in_zone || (question.klass != kClassIN && question.klass != 255)) {
    r.rcode = rcode::kRefused;  // not ours, and we never recurse
    return r;
  }
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    snap = snap_;
  }
  if (!snap) {
    r.rcode = rcode::kServFail;
    return r;
  }
  r.aa = true;
  const std::string rel = name == domain_ ? "" : name.substr(0, name.size() - suffix.size());
  const std::vector<std::string> L = Split(rel);
  const size_t n = L.size();

  auto a_record = [&](const std::string& owner, const std::string& ip) -> std::optional<Record> {
    auto b = Ip4(ip);
    if (!b) return std::nullopt;
    Record rec;
    rec.name = owner;
    rec.type = type::kA;
    rec.ttl = ttl_;
    rec.a = *b;
    return rec;
  };
  auto srv_record = [&](const std::string& owner, int port, const std::string& target) {
    Record rec;
    rec.name = owner;
    rec.type = type::kSRV;
    rec.ttl = ttl_;
    rec.priority = 0;
    rec.weight = 100;
    rec.port = static_cast<uint16_t>(port);
    rec.target = target;
    return rec;
  };
  const std::string owner = question.name.empty() || question.name.back() != '.'
                                ? question.name
                                : question.name.substr(0, question.name.size() - 1);
  auto svc_fqdn = [&](const network::ServiceModel& s) {
    return LowerName(s.name + "." + s.ns + ".svc." + domain_);
  };
  // SRV records for one service port (headless: one per endpoint).
  auto add_srv = [&](Node* node, const network::ServiceModel& s,
                     const network::ServicePortModel& p) {
    if (!s.headless) {
      if (s.cluster_ip.empty()) return;
      node->srv.push_back(srv_record(owner, p.port, svc_fqdn(s)));
      if (auto a = a_record(svc_fqdn(s), s.cluster_ip)) node->extra.push_back(*a);
      return;
    }
    for (const auto& e : p.endpoints) {
      std::string host =
          LowerName((e.hostname.empty() ? Dashed(e.ip) : e.hostname) + "." + svc_fqdn(s));
      node->srv.push_back(srv_record(owner, e.port, host));
      if (auto a = a_record(host, e.ip)) node->extra.push_back(*a);
    }
  };

  std::optional<Node> node;  // nullopt = NXDOMAIN
  bool apex = n == 0;
  if (apex) {
    node = Node{};
  } else if (L.back() == "svc") {
    if (n == 1) {
      node = Node{};
    } else if (n == 2) {
      if (snap->namespaces.count(L[0])) node = Node{};
    } else {
      auto it = snap->services.find(L[n - 3] + "." + L[n - 2]);
      if (it != snap->services.end()) {
        const auto& s = it->second;
        if (n == 3) {
          node = Node{};
          if (s.type == "ExternalName" && !s.external_name.empty()) {
            Record c;
            c.name = owner;
            c.type = type::kCNAME;
            c.ttl = ttl_;
            c.target = s.external_name;
            node->cname = c;
          } else if (!s.headless) {
            if (auto a = a_record(owner, s.cluster_ip)) node->a.push_back(*a);
          } else {
            for (const auto& e : s.addresses)
              if (auto a = a_record(owner, e.ip)) node->a.push_back(*a);
          }
          for (const auto& p : s.ports)
            if (!p.name.empty()) add_srv(&*node, s, p);
        } else if (n == 4 && !L[0].empty() && L[0][0] == '_') {
          // _proto.SVC.NS.svc: an empty non-terminal if any port uses it.
          for (const auto& p : s.ports)
            if ("_" + LowerName(p.protocol) == L[0] && !p.name.empty()) node = Node{};
        } else if (n == 4) {
          for (const auto& e : s.addresses)
            if (LowerName(e.hostname) == L[0] || Dashed(e.ip) == L[0]) {
              if (!node) node = Node{};
              if (auto a = a_record(owner, e.ip)) node->a.push_back(*a);
            }
        } else if (n == 5 && L[0].size() > 1 && L[0][0] == '_' && L[1].size() > 1 &&
                   L[1][0] == '_') {
          for (const auto& p : s.ports)
            if (!p.name.empty() && LowerName(p.name) == L[0].substr(1) &&
                LowerName(p.protocol) == L[1].substr(1)) {
              if (!node) node = Node{};
              add_srv(&*node, s, p);
            }
        }
      }
    }
  } else if (L.back() == "pod") {
    if (n == 1) {
      node = Node{};
    } else if (n == 2) {
      if (snap->namespaces.count(L[0])) node = Node{};
    } else if (n == 3) {
      std::string ip = L[0];
      for (auto& c : ip)
        if (c == '-') c = '.';
      if (Ip4(ip) && snap->pods.count({L[1], ip})) {
        node = Node{};
        node->a.push_back(*a_record(owner, ip));
      }
    }
  }

  Record soa;
  soa.name = domain_;
  soa.type = type::kSOA;
  soa.ttl = ttl_;
  soa.target = "ns.dns." + domain_;
  soa.rname = "hostmaster." + domain_;
  soa.serial = snap->serial;
  soa.refresh = 7200;
  soa.retry = 1800;
  soa.expire = 86400;
  soa.minimum = ttl_;
  if (!node) {
    r.rcode = rcode::kNXDomain;
    r.authority.push_back(soa);
    return r;
  }
  const uint16_t qt = question.type;
  if (node->cname && qt != type::kCNAME) {
    r.answers.push_back(*node->cname);
    return r;
  }
  if (qt == type::kA || qt == type::kANY)
    r.answers.insert(r.answers.end(), node->a.begin(), node->a.end());
  if (qt == type::kSRV || qt == type::kANY) {
    r.answers.insert(r.answers.end(), node->srv.begin(), node->srv.end());
    r.additional.insert(r.additional.end(), node->extra.begin(), node->extra.end());
  }
  if (qt == type::kCNAME && node->cname) r.answers.push_back(*node->cname);
  if (apex && (qt == type::kSOA || qt == type::kANY)) r.answers.push_back(soa);
  if (apex && (qt == type::kNS || qt == type::kANY)) {
    Record ns;
    ns.name = domain_;
    ns.type = type::kNS;
    ns.ttl = ttl_;
    ns.target = soa.target;
    r.answers.push_back(ns);
  }
  if (r.answers.empty()) r.authority.push_back(soa);  // NODATA
  return r;
}

std::string ClusterZone::Handle(std::string_view wire, bool tcp) const {
  if (wire.size() < 12) return "";
  if (static_cast<uint8_t>(wire[2]) & 0x80) return "";  // a response: never answer those
  auto q = ParseMessage(wire);
  Message resp;
  const Record* opt = nullptr;
  if (!q.ok()) {
    resp.id =
        static_cast<uint16_t>((static_cast<uint8_t>(wire[0]) << 8) | static_cast<uint8_t>(wire[1]));
    resp.qr = true;
    resp.opcode = (static_cast<uint8_t>(wire[2]) >> 3) & 0xF;
    resp.rcode = rcode::kFormErr;
  } else {
    for (const auto& rec : q->additional)
      if (rec.type == type::kOPT) opt = &rec;
    resp = Answer(*q);
  }
  size_t max = 65535;
  if (!tcp) max = opt ? std::clamp<size_t>(opt->klass, 512, kMaxEdnsPayload) : 512;
  if (opt) {
    Record o;
    o.name = "";
    o.type = type::kOPT;
    o.klass = kMaxEdnsPayload;
    o.ttl = 0;
    resp.additional.push_back(o);
  }
  auto out = EncodeMessage(resp, max);
  if (out.ok()) return *out;
  // A name in our data that cannot be encoded: answer SERVFAIL, not silence.
  Message fail;
  fail.id = resp.id;
  fail.qr = true;
  fail.opcode = resp.opcode;
  fail.rcode = rcode::kServFail;
  auto f = EncodeMessage(fail, max);
  return f.ok() ? *f : "";
}

// ---- server ------------------------------------------------------------------

DnsServer::DnsServer(KubeClient* client, DnsServerConfig cfg)
    : client_(client), cfg_(std::move(cfg)), zone_(cfg_.domain, cfg_.ttl) {}

DnsServer::~DnsServer() { (void)Stop(); }

void DnsServer::Rebuild() {
  std::lock_guard<std::mutex> l(rebuild_mu_);
  if (!services_ || !services_->Synced() || !pods_->Synced() ||
      !(slices_->Synced() || endpoints_->Synced()))
    return;  // stay not-ready (SERVFAIL) rather than answer from a partial view
  dirty_ = false;
  zone_.Update(network::BuildServiceModels(services_->List(), slices_->List(), endpoints_->List()),
               pods_->List());
}

Status DnsServer::Start() {
  if (udp_thread_.joinable()) return Status::Ok();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, cfg_.listen_ip.c_str(), &addr.sin_addr) != 1)
    return Invalid("dns: bad listen address " + cfg_.listen_ip);
  auto fail = [&](const std::string& what) {
    Status st = Internal("dns: " + what + " " + cfg_.listen_ip + ":" + std::to_string(cfg_.port) +
                         ": " + strerror(errno));
    for (int* fd : {&udp_fd_, &tcp_fd_, &wake_fd_})
      if (*fd >= 0) close(*fd), *fd = -1;
    return st;
  };
  // With port 0 the UDP port is chosen first and TCP must get the same one;
  // retry a few times in case that port is taken for TCP.
  for (int attempt = 0; attempt < 20; ++attempt) {
    addr.sin_port = htons(static_cast<uint16_t>(cfg_.port));
    udp_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp_fd_ < 0 || bind(udp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return fail("bind udp");
    socklen_t len = sizeof addr;
    getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    tcp_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (tcp_fd_ >= 0 && bind(tcp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        listen(tcp_fd_, 64) == 0)
      break;
    if (cfg_.port != 0 || attempt == 19) return fail("bind tcp");
    close(udp_fd_), close(tcp_fd_);
    udp_fd_ = tcp_fd_ = -1;
    addr.sin_port = 0;
  }
  bound_port_ = ntohs(addr.sin_port);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return fail("eventfd");

  if (client_) {
    auto h = [this](const std::string&, const Json&) { dirty_ = true; };
    services_ = std::make_unique<Informer>(client_, "/api/v1/services", "", h);
    slices_ =
        std::make_unique<Informer>(client_, "/apis/discovery.k8s.io/v1/endpointslices", "", h);
    endpoints_ = std::make_unique<Informer>(client_, "/api/v1/endpoints", "", h);
    pods_ = std::make_unique<Informer>(client_, "/api/v1/pods", "", h);
    for (auto* i : {services_.get(), slices_.get(), endpoints_.get(), pods_.get()}) i->Start();
  }
  stop_ = false;
  udp_thread_ = std::thread([this] { ServeUdp(); });
  tcp_thread_ = std::thread([this] { ServeTcp(); });
  log::Info("dns: serving",
            log::Fields()("addr", cfg_.listen_ip)("port", bound_port_)("domain", cfg_.domain));
  return Status::Ok();
}

Status DnsServer::Stop() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (udp_thread_.joinable()) udp_thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
  for (auto* i : {services_.get(), slices_.get(), endpoints_.get(), pods_.get()})
    if (i) i->Stop();
  services_.reset(), slices_.reset(), endpoints_.reset(), pods_.reset();
  for (int* fd : {&udp_fd_, &tcp_fd_, &wake_fd_})
    if (*fd >= 0) close(*fd), *fd = -1;
  return Status::Ok();
}

void DnsServer::ServeUdp() {
  pthread_setname_np(pthread_self(), "dns-udp");
  std::vector<char> buf(65536);
  while (!stop_) {
    pollfd p[2] = {{udp_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(p, 2, 1000) <= 0) continue;
    if (p[1].revents) break;
    sockaddr_in from{};
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(udp_fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                         reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) continue;
    if (client_ && dirty_) Rebuild();
    std::string resp = zone_.Handle(std::string_view(buf.data(), static_cast<size_t>(n)), false);
    if (!resp.empty())
      (void)sendto(udp_fd_, resp.data(), resp.size(), MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&from), flen);
  }
}

namespace {
// Reads exactly n bytes, or fails on EOF, error or the socket timeout.
bool ReadFull(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r, n -= static_cast<size_t>(r);
  }
  return true;
}
bool WriteFull(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= static_cast<size_t>(w);
  }
  return true;
}
}  // namespace

void DnsServer::ServeTcpConn(int fd) {
  // One connection at a time with short timeouts: a slow or idle client can
  // delay TCP answers by at most the timeout; UDP is unaffected.
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::vector<char> buf(65535);
  for (int i = 0; i < 64 && !stop_; ++i) {
    unsigned char len_bytes[2];
    if (!ReadFull(fd, reinterpret_cast<char*>(len_bytes), 2)) break;
    size_t len = (static_cast<size_t>(len_bytes[0]) << 8) | len_bytes[1];
    if (len == 0 || !ReadFull(fd, buf.data(), len)) break;
    if (client_ && dirty_) Rebuild();
    std::string resp = zone_.Handle(std::string_view(buf.data(), len), true);
    if (resp.empty()) break;
    unsigned char hdr[2] = {static_cast<unsigned char>(resp.size() >> 8),
                            static_cast<unsigned char>(resp.size() & 0xFF)};
    if (!WriteFull(fd, reinterpret_cast<char*>(hdr), 2) || !WriteFull(fd, resp.data(), resp.size()))
      break;
  }
  close(fd);
}

void DnsServer::ServeTcp() {
  pthread_setname_np(pthread_self(), "dns-tcp");
  while (!stop_) {
    pollfd p[2] = {{tcp_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(p, 2, 1000) <= 0) continue;
    if (p[1].revents) break;
    int c = accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) ServeTcpConn(c);
  }
}

// ---- kube-dns Service ---------------------------------------------------------

Status EnsureDnsService(KubeClient* client, const std::string& dns_ip, const std::string& server_ip,
                        int server_port) {
  const std::string ns = "kube-system", name = "kube-dns";
  auto nsr =
      client->Create("/api/v1/namespaces",
                     {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!nsr.ok() && nsr.status().code() != Code::kAlreadyExists) return nsr.status();

  Json ports = Json::array(
      {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", server_port}},
       {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}, {"targetPort", server_port}}});
  Json svc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"k8s-app", "kube-dns"}}}}},
      {"spec", {{"clusterIP", dns_ip}, {"ports", ports}}}};
  const std::string svc_path = "/api/v1/namespaces/" + ns + "/services/" + name;
  auto cur = client->Get(svc_path);
  if (cur.ok()) {
    // clusterIP is immutable: a Service with another address is replaced.
    if ((*cur)["spec"].value("clusterIP", "") != dns_ip) {
      BERTH_RETURN_IF_ERROR(client->Delete(svc_path));
      cur = NotFound("replaced");
    } else {
      auto pr = client->MergePatch(svc_path, {{"spec", {{"ports", ports}}}});
      if (!pr.ok()) return pr.status();
    }
  } else if (cur.status().code() != Code::kNotFound) {
    return cur.status();
  }
  if (!cur.ok()) {
    auto cr = client->Create("/api/v1/namespaces/" + ns + "/services", svc);
    if (!cr.ok() && cr.status().code() != Code::kAlreadyExists) return cr.status();
  }

  Json ep_ports = Json::array({{{"name", "dns"}, {"port", server_port}, {"protocol", "UDP"}},
                               {{"name", "dns-tcp"}, {"port", server_port}, {"protocol", "TCP"}}});
  Json subsets =
      Json::array({{{"addresses", Json::array({{{"ip", server_ip}}})}, {"ports", ep_ports}}});
  const std::string ep_path = "/api/v1/namespaces/" + ns + "/endpoints/" + name;
  auto ep = client->MergePatch(ep_path, {{"subsets", subsets}});
  if (!ep.ok() && ep.status().code() == Code::kNotFound) {
    ep = client->Create("/api/v1/namespaces/" + ns + "/endpoints",
                        {{"apiVersion", "v1"},
                         {"kind", "Endpoints"},
                         {"metadata", {{"name", name}, {"namespace", ns}}},
                         {"subsets", subsets}});
  }
  if (!ep.ok() && ep.status().code() != Code::kAlreadyExists) return ep.status();

  // managed-by keeps an EndpointSlice controller from adopting or deleting it.
  const std::string slice_name = "kube-dns-berth";
  Json slice_body = {
      {"addressType", "IPv4"},
      {"endpoints",
       Json::array({{{"addresses", Json::array({server_ip})}, {"conditions", {{"ready", true}}}}})},
      {"ports", ep_ports}};
  const std::string slice_coll = "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices";
  auto sl = client->MergePatch(slice_coll + "/" + slice_name, slice_body);
  if (!sl.ok() && sl.status().code() == Code::kNotFound) {
    Json full = slice_body;
    full["apiVersion"] = "discovery.k8s.io/v1";
    full["kind"] = "EndpointSlice";
    full["metadata"] = {{"name", slice_name},
                        {"namespace", ns},
                        {"labels",
                         {{"kubernetes.io/service-name", name},
                          {"endpointslice.kubernetes.io/managed-by", "berth-node"}}}};
    sl = client->Create(slice_coll, full);
  }
  if (!sl.ok() && sl.status().code() != Code::kAlreadyExists) return sl.status();
  return Status::Ok();
}

std::string ResolvConf(const std::string& ns, const std::string& dns_ip,
                       const std::string& domain) {
  return "search " + ns + ".svc." + domain + " svc." + domain + " " + domain + "\nnameserver " +
         dns_ip + "\noptions ndots:5\n";
}

}  // namespace berth::node::dns
