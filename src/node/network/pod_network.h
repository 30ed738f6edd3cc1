// The pod network of one node: a Linux bridge (`berth0`) with the gateway
// address, one network namespace per pod attached to it by a veth pair, and
// hostPorts as DNAT rules in our own nftables table `inet berth`.
//
// Two drivers attach a pod. "builtin" (the default) does it in-process over
// rtnetlink and allocates addresses itself, in host-local's file layout, so a
// pod is attached in about a millisecond. "cni" execs the CNI `bridge` plugin
// (veth + `host-local` IPAM) of containernetworking-plugins, as kubelet would;
// each exec of those Go programs costs 10-20 ms per pod.
//
// Only our bridge, our namespaces and our table are touched. The global
// net.ipv4.ip_forward stays as it is: forwarding is enabled on the bridge
// alone, which is enough for packets that enter from pods; the bridge plugin
// runs with isGateway=false and ipMasq=false so it never changes host sysctls
// or iptables. hostPorts are not given to the CNI `portmap` plugin because the
// Debian build (1.1.1) only speaks iptables, which would create the host's
// `ip nat` table.
//
// State (host-local's IP allocations, one JSON record per pod) lives under
// config.state_dir, so a restarted node can adopt or clean up what a crashed
// one left behind.
//
// Thread-safe: SetUp/TearDown for different pods may run concurrently; calls
// for the same pod are serialised.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace berth::node::network {

struct PodNetworkConfig {
  std::string bridge = "berth0";
  std::string subnet = "10.42.0.0/24";        // this node's pod CIDR (node.spec.podCIDR)
  std::string gateway;                        // empty = first address of `subnet`
  std::string cluster_cidr = "10.42.0.0/16";  // all pods of the cluster
  std::string cluster_dns_ip = "10.43.0.10";
  std::string cni_bin_dir = "/usr/lib/cni";
  std::string state_dir;  // required: DATA/network
  std::string netns_dir = "/run/berth/netns";
  std::string network_name = "berth";    // CNI network name (host-local's data subdir)
  std::string hostport_table = "berth";  // nft table `inet <name>` for hostPorts
  int mtu = 0;                           // 0 = the kernel's (or plugin's) default
  std::string driver = "builtin";        // "builtin" or "cni"
};

struct HostPort {
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "TCP";  // TCP | UDP
  std::string host_ip;           // empty = every local address
};

struct PodNetRequest {
  std::string uid;  // pod metadata.uid; the key of everything below
  std::string ns;
  std::string name;
  std::vector<HostPort> host_ports;
};

struct PodNetStatus {
  std::string netns_path;  // for the OCI spec's network namespace
  std::string ip;          // pod IP, no prefix length
  std::string gateway;
  std::string interface = "eth0";
};

class PodNetwork {
 public:
  explicit PodNetwork(PodNetworkConfig cfg);
  ~PodNetwork();

  // Creates/configures the bridge (idempotent), checks the plugins exist and
  // re-applies hostPorts of pods recorded in state_dir. Call before SetUp.
  Status Init();

  // Creates the pod's namespace `berth-<uid>` and attaches it (CNI ADD). If
  // the pod is already set up (a restart), returns its recorded status. On
  // failure nothing is left behind.
  Result<PodNetStatus> SetUp(const PodNetRequest& req);
  // CNI DEL + namespace removal + hostPort rules. OK if already gone; safe
  // after a crash even when the namespace no longer exists.
  Status TearDown(const std::string& uid);
  // The recorded status of a set-up pod; NotFound otherwise.
  Result<PodNetStatus> Get(const std::string& uid) const;

  // Tears down every pod we know about (records, namespaces, IP allocations)
  // whose uid is not in `live_pod_uids`.
  Status Cleanup(const std::set<std::string>& live_pod_uids);
  // Removes the hostPort table and, if asked, the bridge. Pods should be torn
  // down first; the bridge is kept when pods are still recorded.
  Status Shutdown(bool remove_bridge);

  const PodNetworkConfig& config() const { return cfg_; }
  std::string NetnsName(const std::string& uid) const;

 private:
  struct PodRecord;
  Status EnsureBridge();
  Status ApplyHostPorts();  // rewrites table `inet <hostport_table>` from records_
  Result<std::string> CniConfig() const;
  Result<PodNetStatus> CniAdd(const PodNetRequest& req, const std::string& netns_path);
  Status CniDel(const std::string& uid, const std::string& netns_path);
  // The builtin driver: address, veth, pod-side configuration.
  Result<PodNetStatus> BuiltinAdd(const PodNetRequest& req, const std::string& netns_path);
  Status BuiltinDel(const std::string& uid);
  Result<uint32_t> AllocateIp(const std::string& uid);
  Status ReleaseIp(const std::string& uid);
  std::string IpamDir() const;
  // Undoes an attachment by either driver.
  Status Detach(const std::string& uid, const std::string& netns_path);
  void LockPod(const std::string& uid);
  void UnlockPod(const std::string& uid);
  std::string RecordPath(const std::string& uid) const;

  PodNetworkConfig cfg_;
  mutable std::mutex mu_;  // records_, busy_
  std::map<std::string, std::shared_ptr<PodRecord>> records_;
  std::set<std::string> busy_;
  std::condition_variable busy_cv_;
  std::mutex nft_mu_;  // one hostPort table rewrite at a time
  std::mutex ipam_mu_;  // builtin address allocation
};

// The host end of a pod's veth pair under the builtin driver: "veth" and 11
// hex digits of the uid's SHA-256, so it can be found again from the uid.
std::string HostVethName(const std::string& uid);

// CNI result/error handling, exposed for tests: parses a plugin's stdout for
// a successful ADD into (ip, gateway), or its error JSON into a Status.
Result<PodNetStatus> ParseCniResult(const std::string& stdout_json);
Status CniErrorStatus(const std::string& plugin, int exit_code, const std::string& out,
                      const std::string& err);

// The `inet <table>` nft script for a set of hostPort mappings (pod IP ->
// mappings), rewriting the table atomically. Pure; exposed for tests.
std::string HostPortRuleset(const std::string& table, const std::string& bridge,
                            const std::map<std::string, std::vector<HostPort>>& by_pod_ip);

}  // namespace berth::node::network
