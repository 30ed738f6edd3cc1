#include "kinds/service_alloc.h"

#include <arpa/inet.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "api/validation.h"
#include "core/ids.h"
#include "core/time.h"

namespace berth::kinds {
namespace {

constexpr uint32_t kCidrBase = (10u << 24) | (43u << 16);  // 10.43.0.0/16
constexpr uint32_t kCidrSize = 1u << 16;
constexpr int kNodePortMin = 30000, kNodePortMax = 32767;
constexpr int64_t kReserveSeconds = 60;

std::string IpString(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::optional<uint32_t> ParseIp(const std::string& s) {
  in_addr a;
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

class Allocator {
 public:
  explicit Allocator(api::ObjectStore* os) : os_(os) {}

  Status Allocate(Json& svc) {
    Json& spec = svc["spec"];
    std::string type = spec.value("type", "ClusterIP");
    if (type == "ExternalName") return Status::Ok();
    std::lock_guard<std::mutex> l(mu_);
    std::set<uint32_t> ips;
    std::set<int64_t> ports;
    BERTH_RETURN_IF_ERROR(Used(&ips, &ports));
    std::string name = svc["metadata"].value("name", "");
    std::string cip = spec.value("clusterIP", "");
    if (cip.empty()) {
      // Start from a hash of the identity so names map to stable-looking
      // addresses, then probe for a free one. .0 is the network, .1 is kept
      // for the `kubernetes` service and .10 for cluster DNS.
      std::string id = svc["metadata"].value("namespace", "") + "/" + name;
      uint32_t start = Fnv32a(id) % kCidrSize;
      std::optional<uint32_t> got;
      for (uint32_t i = 0; i < kCidrSize; ++i) {
        uint32_t off = (start + i) % kCidrSize;
        if (off == 0 || off == 1 || off == 10 || off == kCidrSize - 1) continue;
        if (!ips.count(kCidrBase + off)) {
          got = kCidrBase + off;
          break;
        }
      }
      if (!got) return Status(Code::kInternal, "Internal error occurred: failed to allocate a serviceIP: range is full");
      spec["clusterIP"] = IpString(*got);
      Reserve(*got);
    } else if (cip != "None") {
      auto ip = ParseIp(cip);
      if (!ip) return Status::Ok();  // validation reports the bad address
      if ((*ip & 0xffff0000u) != kCidrBase)
        return api::InvalidStatus("Service", "", name,
                                  {api::InvalidValue("spec.clusterIPs", Json::array({cip}),
                                                     "failed to allocate IP " + cip +
                                                         ": the provided IP (" + cip +
                                                         ") is not in the valid range. The range of valid IPs is 10.43.0.0/16")});
      if (ips.count(*ip))
        return api::InvalidStatus("Service", "", name,
                                  {api::InvalidValue("spec.clusterIPs", Json::array({cip}),
                                                     "failed to allocate IP " + cip + ": provided IP is already allocated")});
      Reserve(*ip);
    }
    if (!spec.contains("clusterIPs")) spec["clusterIPs"] = Json::array({spec["clusterIP"]});
    if (type == "NodePort" || type == "LoadBalancer") {
      std::string id = svc["metadata"].value("namespace", "") + "/" + name;
      int idx = 0;
      for (auto& p : spec["ports"]) {
        int64_t np = p.value("nodePort", int64_t{0});
        if (np != 0) {
          if (ports.count(np))
            return api::InvalidStatus("Service", "", name,
                                      {api::InvalidValue("spec.ports[" + std::to_string(idx) + "].nodePort", np,
                                                         "provided port is already allocated")});
        } else {
          int64_t range = kNodePortMax - kNodePortMin + 1;
          int64_t start = Fnv32a(id + "#" + std::to_string(idx)) % range;
          for (int64_t i = 0; i < range; ++i) {
            int64_t cand = kNodePortMin + (start + i) % range;
            if (!ports.count(cand)) {
              np = cand;
              break;
            }
          }
          if (np == 0) return Status(Code::kInternal, "Internal error occurred: failed to allocate a nodePort: range is full");
          p["nodePort"] = np;
        }
        ports.insert(np);
        reserved_ports_[np] = NowSeconds();
        ++idx;
      }
    }
    return Status::Ok();
  }

  static void Preserve(Json& svc, const Json& old) {
    if (!svc.contains("spec") || !svc["spec"].is_object() || !old.contains("spec")) return;
    Json& spec = svc["spec"];
    const Json& os = old["spec"];
    if (spec.value("clusterIP", "").empty() && os.contains("clusterIP")) spec["clusterIP"] = os["clusterIP"];
    if (!spec.contains("clusterIPs") && os.contains("clusterIPs")) spec["clusterIPs"] = os["clusterIPs"];
    if (!spec.contains("ports") || !os.contains("ports")) return;
    for (auto& p : spec["ports"]) {
      if (p.value("nodePort", int64_t{0}) != 0) continue;
      for (const auto& q : os["ports"])
        if (q.value("port", int64_t{-1}) == p.value("port", int64_t{-2}) && q.value("protocol", "TCP") == p.value("protocol", "TCP") &&
            q.contains("nodePort"))
          p["nodePort"] = q["nodePort"];
    }
  }

 private:
  void Reserve(uint32_t ip) { reserved_ips_[ip] = NowSeconds(); }

  Status Used(std::set<uint32_t>* ips, std::set<int64_t>* ports) {
    auto k = os_->kinds()->Find("", "v1", "services");
    if (!k) return Status::Ok();
    auto list = os_->List(*k, api::ListParams{});
    if (!list.ok()) return list.status();
    for (const auto& s : list->items) {
      const Json& spec = s.value("spec", Json::object());
      if (auto ip = ParseIp(spec.value("clusterIP", ""))) ips->insert(*ip);
      for (const auto& p : spec.value("ports", Json::array()))
        if (p.value("nodePort", int64_t{0}) != 0) ports->insert(p["nodePort"].get<int64_t>());
    }
    int64_t now = NowSeconds();
    for (auto it = reserved_ips_.begin(); it != reserved_ips_.end();) {
      if (now - it->second > kReserveSeconds) it = reserved_ips_.erase(it);
      else ips->insert((it++)->first);
    }
    for (auto it = reserved_ports_.begin(); it != reserved_ports_.end();) {
      if (now - it->second > kReserveSeconds) it = reserved_ports_.erase(it);
      else ports->insert((it++)->first);
    }
    return Status::Ok();
  }

  api::ObjectStore* os_;
  std::mutex mu_;
  std::map<uint32_t, int64_t> reserved_ips_;    // ip → reserved at (unix seconds)
  std::map<int64_t, int64_t> reserved_ports_;
};

}  // namespace

void InstallServiceAllocator(api::ObjectStore* os) {
  auto k = os->kinds()->Find("", "v1", "services");
  if (!k) return;
  api::KindInfo info = *k;
  auto alloc = std::make_shared<Allocator>(os);
  auto prev = info.hooks.prepare_create;
  info.hooks.prepare_create = [alloc, prev](Json& obj) -> Status {
    BERTH_RETURN_IF_ERROR(alloc->Allocate(obj));
    return prev ? prev(obj) : Status::Ok();
  };
  auto prev_update = info.hooks.prepare_update;
  info.hooks.prepare_update = [prev_update](Json& obj, const Json& old) {
    Allocator::Preserve(obj, old);
    if (prev_update) prev_update(obj, old);
  };
  os->kinds()->Register(std::move(info));
}

}  // namespace berth::kinds
