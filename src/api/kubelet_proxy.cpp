#include "api/kubelet_proxy.h"

#include <pthread.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/metrics_api.h"

namespace berth::api {
namespace {

struct Target {
  net::ClientOptions client;
  std::string container;
  std::string phase;
};

// The node and container a pod subresource goes to (no container for
// port-forward, which addresses the pod's network namespace).
Result<Target> Resolve(ObjectStore* os, const net::ClientOptions& base, const std::string& ns,
                       const std::string& name, const std::string& container, bool need_container = true) {
  auto pods = os->kinds()->Find("", "v1", "pods");
  auto nodes = os->kinds()->Find("", "v1", "nodes");
  BERTH_ASSIGN_OR_RETURN(Json pod, os->Get(*pods, ns, name));
  std::string node = pod["spec"].value("nodeName", "");
  if (node.empty()) return BadRequest("pod " + name + " does not have a host assigned");
  Target t;
  t.container = container;
  if (pod.contains("status")) t.phase = pod["status"].value("phase", "");
  if (!need_container) {
  } else if (t.container.empty()) {
    const Json& cs = pod["spec"]["containers"];
    if (cs.size() == 1) {
      t.container = cs[0].value("name", "");
    } else {
      std::string names;
      for (const auto& c : cs) names += (names.empty() ? "" : " ") + c.value("name", "");
      return BadRequest("a container name must be specified for pod " + name + ", choose one of: [" + names + "]");
    }
  } else {
    bool found = false;
    for (const char* list : {"containers", "initContainers", "ephemeralContainers"})
      if (pod["spec"].contains(list))
        for (const auto& c : pod["spec"][list]) found |= c.value("name", "") == t.container;
    if (!found) return BadRequest("container " + t.container + " is not valid for pod " + name);
  }
  auto n = os->Get(*nodes, "", node);
  if (!n.ok()) return Status(Code::kUnavailable, "node " + node + " of pod " + name + " is not registered");
  BERTH_ASSIGN_OR_RETURN(t.client, KubeletEndpoint(*n, base));
  return t;
}

std::string Encode(const std::string& s) { return net::PercentEncode(s); }

void ServeLog(net::Request& r, net::ResponseWriter& w, ObjectStore* os, const net::ClientOptions& base,
              const std::string& ns, const std::string& name) {
  if (r.method != "GET") return ReplyStatus(w, Status(Code::kMethodNotAllowed, "only GET is allowed on pods/log"));
  auto t = Resolve(os, base, ns, name, r.Query("container"));
  if (!t.ok()) return ReplyStatus(w, t.status(), "", "pods", name);
  std::string target = "/containerLogs/" + Encode(ns) + "/" + Encode(name) + "/" + Encode(t->container);
  std::string q;
  for (const char* k : {"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"})
    if (r.HasQuery(k)) q += std::string(q.empty() ? "?" : "&") + k + "=" + Encode(r.Query(k));
  net::HttpsClient client(t->client);
  bool started = false;
  auto resp = client.Stream("GET", target + q, {}, "", [&](std::string_view chunk) {
    if (!started) {
      if (!w.Start(200, {{"Content-Type", "text/plain"}})) return false;
      started = true;
    }
    return w.Write(chunk);
  });
  if (!resp.ok()) {
    if (!started) ReplyStatus(w, Status(Code::kUnavailable, "cannot reach the node of pod " + name + ": " +
                                                              resp.status().message()));
    return;
  }
  if (resp->status < 200 || resp->status >= 300) {
    w.Reply(resp->status, {{"Content-Type", "application/json"}}, resp->body);
    return;
  }
  if (!started) w.Reply(200, {{"Content-Type", "text/plain"}}, "");
  else w.End();
}

// Headers of an upgrade request the kubelet needs. Everything else, the
// client's credentials above all, stays here: the kubelet trusts the API
// server's client certificate instead.
constexpr const char* kUpgradeRequestHeaders[] = {"Connection", "Upgrade", "Sec-WebSocket-Key",
                                                  "Sec-WebSocket-Version", "X-Stream-Protocol-Version"};
constexpr const char* kUpgradeResponseHeaders[] = {"Connection", "Upgrade", "Sec-WebSocket-Accept",
                                                   "Sec-WebSocket-Protocol", "X-Stream-Protocol-Version"};

// Drops the bearer-token subprotocols browsers use to authenticate websockets.
std::string OfferedProtocols(const std::string& offered) {
  std::string out;
  size_t pos = 0;
  while (pos <= offered.size()) {
    size_t comma = offered.find(',', pos);
    if (comma == std::string::npos) comma = offered.size();
    std::string p = offered.substr(pos, comma - pos);
    while (!p.empty() && p.front() == ' ') p.erase(0, 1);
    while (!p.empty() && p.back() == ' ') p.pop_back();
    if (!p.empty() && p.rfind("base64url.bearer.authorization.k8s.io.", 0) != 0) out += (out.empty() ? "" : ", ") + p;
    pos = comma + 1;
  }
  return out;
}

// Forwards an upgrade request (exec's websocket, port-forward's websocket or
// SPDY) to the kubelet and, once it switched protocols, relays bytes both
// ways until either side ends, as kube-apiserver's upgrade-aware proxy does.
// The API server never parses the session, so every protocol the kubelet
// speaks passes unchanged.
void RelayUpgrade(net::Request& r, net::ResponseWriter& w, const net::ClientOptions& kubelet,
                  const std::string& target, const std::string& name) {
  net::Headers h;
  for (const char* k : kUpgradeRequestHeaders)
    if (r.headers.count(k)) h[k] = r.Header(k);
  std::string protos = OfferedProtocols(r.Header("Sec-WebSocket-Protocol"));
  if (!protos.empty()) h["Sec-WebSocket-Protocol"] = protos;
  net::HttpsClient client(kubelet);
  auto up = client.Upgrade(r.method, target, h);
  if (!up.ok())
    return ReplyStatus(w, Status(Code::kUnavailable, "cannot reach the node of pod " + name + ": " + up.status().message()));
  if (up->response.status != 101 || !up->stream) {
    std::string ct = up->response.Header("Content-Type");
    w.Reply(up->response.status, {{"Content-Type", ct.empty() ? "application/json" : ct}}, up->response.body);
    return;
  }
  net::Headers rh;
  for (const char* k : kUpgradeResponseHeaders) {
    std::string v = up->response.Header(k);
    if (!v.empty()) rh[k] = v;
  }
  std::unique_ptr<net::DuplexStream> down = w.UpgradeRaw(101, rh);
  if (!down) return;
  net::DuplexStream* node = up->stream.get();
  std::thread upstream([&] {
    pthread_setname_np(pthread_self(), "berth-relay");
    std::string buf;
    while (down->Read(&buf))
      if (!node->Write(buf)) break;
    node->Shutdown();
  });
  std::string buf;
  while (node->Read(&buf))
    if (!down->Write(buf)) break;
  // Either side ended: end the other, which also stops the upstream thread.
  down->Shutdown();
  node->Shutdown();
  upstream.join();
}

// The part of the request target after '?', passed to the kubelet as is.
std::string RawQuery(const net::Request& r) {
  size_t q = r.target.find('?');
  return q == std::string::npos ? "" : r.target.substr(q);
}

void ServeExec(net::Request& r, net::ResponseWriter& w, ObjectStore* os, const net::ClientOptions& base,
               const std::string& ns, const std::string& name) {
  if (r.method != "GET" && r.method != "POST")
    return ReplyStatus(w, Status(Code::kMethodNotAllowed, "only GET and POST are allowed on pods/exec"));
  auto t = Resolve(os, base, ns, name, r.Query("container"));
  if (!t.ok()) return ReplyStatus(w, t.status(), "", "pods", name);
  if (t->phase == "Succeeded" || t->phase == "Failed")
    return ReplyStatus(w, BadRequest("cannot exec into a container in a completed pod; current phase is " + t->phase));
  RelayUpgrade(r, w, t->client,
               "/exec/" + Encode(ns) + "/" + Encode(name) + "/" + Encode(t->container) + RawQuery(r), name);
}

void ServePortForward(net::Request& r, net::ResponseWriter& w, ObjectStore* os, const net::ClientOptions& base,
                      const std::string& ns, const std::string& name) {
  if (r.method != "GET" && r.method != "POST")
    return ReplyStatus(w, Status(Code::kMethodNotAllowed, "only GET and POST are allowed on pods/portforward"));
  auto t = Resolve(os, base, ns, name, "", false);
  if (!t.ok()) return ReplyStatus(w, t.status(), "", "pods", name);
  if (t->phase != "Running")
    return ReplyStatus(w, BadRequest("unable to forward port because pod is not running. Current status=" + t->phase));
  RelayUpgrade(r, w, t->client, "/portForward/" + Encode(ns) + "/" + Encode(name) + RawQuery(r), name);
}

}  // namespace

Result<net::ClientOptions> KubeletEndpoint(const Json& node, const net::ClientOptions& base) {
  std::string ip;
  const Json& status = node.contains("status") ? node["status"] : Json::object();
  for (const auto& a : status.value("addresses", Json::array()))
    if (a.value("type", "") == "InternalIP") ip = a.value("address", "");
  int port = 0;
  if (status.contains("daemonEndpoints") && status["daemonEndpoints"].contains("kubeletEndpoint"))
    port = status["daemonEndpoints"]["kubeletEndpoint"].value("Port", 0);
  std::string name = node.contains("metadata") ? node["metadata"].value("name", "") : "";
  if (ip.empty() || port <= 0) return Status(Code::kUnavailable, "node " + name + " has no kubelet endpoint");
  net::ClientOptions c = base;
  c.host = ip;
  c.port = port;
  return c;
}

void InstallKubeletProxy(ApiServer* api, ObjectStore* os, const net::ClientOptions& kubelet_client) {
  api->HandleSubresource("", "pods", "log",
                         [os, kubelet_client](net::Request& r, net::ResponseWriter& w, const std::string& ns,
                                              const std::string& name) { ServeLog(r, w, os, kubelet_client, ns, name); });
  api->HandleSubresource("", "pods", "exec",
                         [os, kubelet_client](net::Request& r, net::ResponseWriter& w, const std::string& ns,
                                              const std::string& name) { ServeExec(r, w, os, kubelet_client, ns, name); });
  api->HandleSubresource("", "pods", "portforward",
                         [os, kubelet_client](net::Request& r, net::ResponseWriter& w, const std::string& ns,
                                              const std::string& name) {
                           ServePortForward(r, w, os, kubelet_client, ns, name);
                         });
  // Resource metrics come from the same kubelets, with the same credentials.
  InstallMetricsApi(api, os, kubelet_client);
}

}  // namespace berth::api
