#include "berth/server.h"

#include <signal.h>
#include <atomic>
#include <sys/prctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/apiserver.h"
#include "api/crd.h"
#include "api/encryption.h"
#include "api/kubelet_proxy.h"
#include "api/serviceaccount_token.h"
#include "controllers/controllers.h"
#include "core/file.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strings.h"
#include "core/time.h"
#include "kinds/kinds.h"
#include "kinds/service_account.h"
#include "kinds/service_alloc.h"
#include "net/server.h"
#include "net/tls.h"
#include "node/agent.h"
#include "monitor/kubernetes/discovery.h"
#include "monitor/monitor.h"
#include "registry/registry.h"
#include "store/store.h"

namespace berth {
namespace {

std::string Kubeconfig(const std::string& server, const std::string& ca, const std::string& cert,
                       const std::string& key) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: " + server +
         "\n    certificate-authority-data: " + Base64Encode(ca) +
         "\ncontexts:\n- name: berth\n  context:\n    cluster: berth\n    user: admin\n    namespace: default\n"
         "current-context: berth\nusers:\n- name: admin\n  user:\n    client-certificate-data: " +
         Base64Encode(cert) + "\n    client-key-data: " + Base64Encode(key) + "\n";
}

// Static bearer tokens: "<token> <user> <group,group>" per line, mode 0600.
// The admin token is created on first start; later issues add service-account
// and robot tokens through the API.
Result<std::map<std::string, net::Identity>> LoadTokens(const std::string& path) {
  if (!FileExists(path)) {
    std::string line = HexEncode(RandomBytes(24)) + " admin system:masters\n";
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(path, line, 0600));
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::map<std::string, net::Identity> out;
  for (const auto& line : Lines(*text)) {
    std::vector<std::string> f = SplitFields(line, ' ');
    if (f.size() < 2 || f[0][0] == '#') continue;
    net::Identity id;
    id.user = f[1];
    if (f.size() > 2) id.groups = SplitFields(f[2], ',');
    out[f[0]] = id;
  }
  return out;
}

void EnsureNamespace(api::ObjectStore& os, const std::string& name) {
  auto k = os.kinds()->Find("", "v1", "namespaces");
  if (!k || os.Get(*k, "", name).ok()) return;
  Json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  auto r = os.Create(*k, "", ns, api::WriteOptions{});
  if (!r.ok() && r.status().code() != Code::kAlreadyExists)
    log::Warn("cannot create namespace", log::Fields()("name", name)("err", r.status().ToString()));
}

// The embedded agent's client certificate: user system:node:<name> in group
// system:nodes, as kubelets authenticate.
Result<std::pair<std::string, std::string>> EnsureNodeCert(const net::PkiPaths& pki, const std::string& node) {
  std::string cert = pki.dir + "/node.crt", key = pki.dir + "/node.key";
  if (FileExists(cert) && FileExists(key)) return std::make_pair(cert, key);
  BERTH_ASSIGN_OR_RETURN(auto ca, net::LoadCertKey(pki.ca_cert, pki.ca_key));
  std::string name = node;
  if (name.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    name = host;
  }
  BERTH_ASSIGN_OR_RETURN(auto ck, net::IssueClientCert(ca, "system:node:" + name, {"system:nodes"}));
  BERTH_RETURN_IF_ERROR(net::WriteCertKey(ck, cert, key));
  return std::make_pair(cert, key);
}

}  // namespace

// The embedded node's pod-network gateway (first address of its default
// pod subnet 10.42.0.0/24, node::AgentConfig::pod_subnet).
constexpr const char* kPodGateway = "10.42.0.1";

int RunServer(const ServerConfig& cfg) {
  const int64_t t0 = MonotonicNanos();
  if (cfg.log_level == "debug") log::SetLevel(log::Level::kDebug);
  else if (cfg.log_level == "warn") log::SetLevel(log::Level::kWarn);
  else if (cfg.log_level == "error") log::SetLevel(log::Level::kError);

  // Signals are taken synchronously by the main thread; every other thread
  // inherits the blocked mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  // SIGCHLD too, in every thread: the node agent's orphan reaper takes it
  // from a signalfd (children are spawned with an empty mask).
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Containers started later are our descendants: reap orphans (PID 1 here is not an init).
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  if (Status s = MakeDirs(cfg.data_dir, 0700); !s.ok()) {
    log::Error("cannot create data dir", log::Fields()("dir", cfg.data_dir)("err", s.ToString()));
    return 1;
  }
  net::PkiOptions pki_opts;
  if (cfg.advertise != "127.0.0.1" && cfg.advertise != "localhost") {
    if (cfg.advertise.find_first_not_of("0123456789.:") == std::string::npos) pki_opts.extra_ips.push_back(cfg.advertise);
    else pki_opts.extra_dns.push_back(cfg.advertise);
  }
  if (Status s = net::EnsurePki(cfg.data_dir, pki_opts); !s.ok()) {
    log::Error("cannot set up PKI", log::Fields()("err", s.ToString()));
    return 1;
  }
  net::PkiPaths pki = net::PkiPathsFor(cfg.data_dir);
  auto tokens = LoadTokens(pki.dir + "/tokens");
  if (!tokens.ok()) {
    log::Error("cannot load tokens", log::Fields()("err", tokens.status().ToString()));
    return 1;
  }
  auto enc = api::Encryptor::LoadOrCreate(pki.dir + "/encryption.key");
  if (!enc.ok()) {
    log::Error("cannot load encryption key", log::Fields()("err", enc.status().ToString()));
    return 1;
  }
  store::SqliteOptions so;
  so.path = cfg.data_dir + "/state.db";
  auto st = store::OpenSqlite(so);
  if (!st.ok()) {
    log::Error("cannot open state store", log::Fields()("path", so.path)("err", st.status().ToString()));
    return 1;
  }
  std::unique_ptr<store::Store> db = std::move(st).value();

  api::KindRegistry kinds;
  api::SchemaRegistry schemas;
  kinds::RegisterBuiltins(kinds, schemas);
  api::ObjectStore objects(db.get(), &kinds, &schemas, enc->get());
  kinds::InstallServiceAllocator(&objects);
  if (Status s = api::InstallCustomResources(&objects); !s.ok())
    log::Warn("custom resources are not served", log::Fields()("err", s.ToString()));
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) EnsureNamespace(objects, ns);

  auto issuer = api::TokenIssuer::LoadOrCreate(pki.dir + "/service-account.key");
  if (!issuer.ok()) {
    log::Error("cannot load the service-account signing key", log::Fields()("err", issuer.status().ToString()));
    return 1;
  }
  kinds::InstallServiceAccountAdmission(&objects);
  // Bearer tokens: the static ones in pki/tokens, then service-account JWTs.
  auto token_map = std::move(tokens).value();
  api::ObjectStore* osp = &objects;
  const api::TokenIssuer* iss = issuer->get();
  net::TokenAuthenticator authenticate = [token_map, osp, iss](const std::string& t) -> std::optional<net::Identity> {
    auto it = token_map.find(t);
    if (it != token_map.end()) return it->second;
    return api::AuthenticateServiceAccountToken(osp, *iss, t);
  };

  api::ApiServer apiserver(&objects);
  api::InstallAuthenticationApi(&apiserver, &objects, iss, authenticate);
  // The API server reaches kubelets with its own client certificate.
  net::ClientOptions kubelet_client;
  kubelet_client.ca_file = pki.ca_cert;
  kubelet_client.cert_file = pki.admin_cert;
  kubelet_client.key_file = pki.admin_key;
  kubelet_client.server_name = "127.0.0.1";
  api::InstallKubeletProxy(&apiserver, &objects, kubelet_client);
  net::Router router;
  apiserver.Mount(router);
  registry::Options ro;
  ro.dir = cfg.data_dir + "/registry";
  ro.token_key_path = pki.dir + "/registry-token.key";
  auto reg = registry::Registry::Open(ro, &objects, authenticate);
  if (!reg.ok()) {
    log::Error("cannot open the registry", log::Fields()("err", reg.status().ToString()));
    return 1;
  }
  (*reg)->Mount(router);
  monitor::Options mon_opts;
  mon_opts.dir = cfg.data_dir + "/monitor";
  mon_opts.config_file = cfg.monitor_config;
  mon_opts.alertmanager_config = cfg.alertmanager_config;
  mon_opts.retention_ms = cfg.monitor_retention_days * 86400LL * 1000;
  mon_opts.retention_bytes = cfg.monitor_retention_bytes;
  mon_opts.out_of_order_window_ms = cfg.monitor_out_of_order_seconds * 1000LL;
  mon_opts.self_scrape_interval_ms = cfg.monitor_self_scrape_seconds * 1000LL;
  mon_opts.external_url = "https://" + cfg.advertise + ":" + std::to_string(cfg.port);
  auto mon = monitor::Monitor::Open(mon_opts);
  if (!mon.ok()) {
    log::Error("cannot open the monitoring storage", log::Fields()("err", mon.status().ToString()));
    return 1;
  }
  (*mon)->Mount(router);
  std::atomic<bool> ready{false};
  router.Handle("/version", [](net::Request&, net::ResponseWriter& w) {
    Json v = {{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0-berth"}, {"gitCommit", ""},
              {"gitTreeState", "clean"}, {"buildDate", "2026-11-26T00:00:00Z"}, {"goVersion", "n/a"},
              {"compiler", "gcc"}, {"platform", "linux/amd64"}};
    w.Reply(200, {{"Content-Type", "application/json"}}, v.dump());
  });
  auto health = [&ready](net::Request&, net::ResponseWriter& w) {
    if (ready) w.Reply(200, {{"Content-Type", "text/plain"}}, "ok");
    else w.Reply(503, {{"Content-Type", "text/plain"}}, "not ready");
  };
  router.Handle("/readyz", health);
  router.Handle("/livez", health);
  router.Handle("/healthz", health);
  store::Store* dbp = db.get();
  metrics::GaugeFunc("apiserver_storage_size_bytes", "Size of the state database in bytes.",
                     [dbp] { return static_cast<double>(dbp->SizeBytes()); });
  metrics::GaugeFunc("berth_store_revision", "Current revision of the state store.",
                     [dbp] { return static_cast<double>(dbp->CurrentRevision()); });
  router.Handle("/metrics", [](net::Request&, net::ResponseWriter& w) {
    w.Reply(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics::Render());
  });

  net::ServerOptions opts;
  opts.bind = cfg.bind;
  opts.port = cfg.port;
  opts.cert_file = pki.server_cert;
  opts.key_file = pki.server_key;
  opts.client_ca_file = pki.ca_cert;
  // The registry answers its own 401 challenges and anonymous pulls.
  opts.anonymous_paths = registry::Registry::AnonymousPaths();
  // The discovery documents name the port, which is known only once bound.
  auto bound_port = std::make_shared<std::atomic<int>>(cfg.port);
  api::MountOidcDiscovery(router, iss, [bound_port, host = cfg.advertise] {
    return "https://" + host + ":" + std::to_string(bound_port->load());
  });
  net::HttpsServer server(opts, std::move(router), authenticate);
  if (Status s = server.Start(); !s.ok()) {
    log::Error("cannot start HTTPS server", log::Fields()("err", s.ToString()));
    return 1;
  }

  auto root_ca = ReadFile(pki.ca_cert);
  controllers::Manager::ServerOptions mo;
  mo.volume_dir = cfg.data_dir + "/volumes";
  mo.root_ca_pem = root_ca.ok() ? *root_ca : "";
  mo.api_port = server.port();
  // Where pods reach this API server (the `kubernetes` Service's endpoint):
  // the advertised address, or else this node's pod-network gateway when the
  // server listens on it; nowhere when it listens on loopback only.
  bool loopback_advertise = cfg.advertise == "127.0.0.1" || cfg.advertise == "localhost" || cfg.advertise == "::1";
  if (!loopback_advertise) mo.api_endpoint_ip = cfg.advertise;
  else if (cfg.agent && cfg.pod_network && (cfg.bind == "0.0.0.0" || cfg.bind == kPodGateway))
    mo.api_endpoint_ip = kPodGateway;
  controllers::Manager ctrl(&objects, mo);
  for (auto& c : (*reg)->NewControllers()) ctrl.Add(std::move(c));
  // Scrape targets from pods, services, ServiceMonitors, PodMonitors, nodes.
  if (Status s = monitor::kubernetes::EnsureOperatorCrds(&objects); !s.ok())
    log::Warn("the Prometheus Operator's kinds are not served", log::Fields()("err", s.ToString()));
  monitor::kubernetes::DiscoveryOptions dopts;
  dopts.default_interval_ms = cfg.monitor_self_scrape_seconds * 1000LL;
  dopts.kubelet_tls.ca_file = pki.ca_cert;
  dopts.kubelet_tls.cert_file = pki.admin_cert;
  dopts.kubelet_tls.key_file = pki.admin_key;
  ctrl.Add(monitor::kubernetes::NewDiscoveryController(&objects, (*mon)->scrapes(), dopts));
  ctrl.Add(monitor::kubernetes::NewRuleController(&objects, (*mon)->rules()));
  ctrl.Start();

  bound_port->store(server.port());
  (*mon)->set_self_instance(cfg.advertise + ":" + std::to_string(server.port()));
  if (Status s = (*mon)->Start(); !s.ok()) {
    log::Error("cannot start monitoring", log::Fields()("err", s.ToString()));
    server.Stop();
    ctrl.Stop();
    db->Close();
    return 1;
  }
  std::string url = "https://" + cfg.advertise + ":" + std::to_string(server.port());
  auto ca = ReadFile(pki.ca_cert);
  auto cert = ReadFile(pki.admin_cert);
  auto key = ReadFile(pki.admin_key);
  std::string kubeconfig = cfg.data_dir + "/kubeconfig.yaml";
  if (!ca.ok() || !cert.ok() || !key.ok() ||
      !WriteFileAtomic(kubeconfig, Kubeconfig(url, *ca, *cert, *key), 0600).ok()) {
    log::Error("cannot write kubeconfig", log::Fields()("path", kubeconfig));
    return 1;
  }
  std::unique_ptr<node::Agent> agent;
  if (cfg.agent) {
    auto node_cert = EnsureNodeCert(pki, cfg.node_name);
    node::AgentConfig ac;
    ac.node_name = cfg.node_name;
    ac.data_dir = cfg.data_dir + "/node";
    ac.images_dir = cfg.data_dir + "/images";
    ac.api.host = "127.0.0.1";
    ac.api.port = server.port();
    ac.api.ca_file = pki.ca_cert;
    ac.api.cert_file = node_cert.ok() ? node_cert->first : pki.admin_cert;
    ac.api.key_file = node_cert.ok() ? node_cert->second : pki.admin_key;
    // Per data dir, so that two servers on one machine never share containers.
    ac.runtime_root = node::RuntimeRootFor(cfg.data_dir);
    ac.tls_cert = pki.server_cert;
    ac.tls_key = pki.server_key;
    ac.client_ca = pki.ca_cert;
    ac.network = cfg.pod_network;
    ac.network_driver = cfg.pod_network_driver;
    ac.image_gc_high_percent = cfg.image_gc_high_percent;
    ac.image_gc_low_percent = cfg.image_gc_low_percent;
    ac.image_gc_min_age_seconds = cfg.image_gc_min_age_seconds;
    ac.services = cfg.pod_network;
    ac.insecure_registries = cfg.insecure_registries;
    // The embedded registry's certificate is signed by the cluster CA.
    ac.registry_ca_file = pki.ca_cert;
    auto a = node::Agent::Start(ac);
    if (!a.ok()) {
      log::Error("cannot start the node agent", log::Fields()("err", a.status().ToString()));
      server.Stop();
      ctrl.Stop();
      db->Close();
      return 1;
    }
    agent = std::move(a).value();
  }
  ready = true;
  log::Info("berth server ready",
            log::Fields()("url", url)("kubeconfig", kubeconfig)("port", server.port())(
                "startup_ms", (MonotonicNanos() - t0) / 1000000));
  std::printf("berth server is ready at %s\n  export KUBECONFIG=%s\n  kubectl get namespaces\n", url.c_str(),
              kubeconfig.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&sigs, &sig);
  log::Info("shutting down", log::Fields()("signal", sig));
  ready = false;
  if (agent) agent->Stop();
  server.Stop();
  (*mon)->Stop();
  ctrl.Stop();
  db->Close();
  log::Info("stopped");
  return 0;
}

}  // namespace berth
