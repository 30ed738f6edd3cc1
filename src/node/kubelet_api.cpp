#include "node/kubelet_api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/file.h"
#include "core/time.h"
#include "node/exec.h"
#include "node/metrics_exporter.h"
#include "node/stats.h"
#include "node/portforward.h"
#include "net/http.h"
#include "node/pod_setup.h"
#include "node/pod_worker.h"

namespace berth::node {
namespace {

void ReplyError(net::ResponseWriter& w, const Status& st) {
  w.Reply(HttpCode(st.code()), {{"Content-Type", "application/json"}}, net::StatusJson(st));
}

std::vector<std::string> SplitPath(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Reads [from, to) of a file.
std::string ReadRange(const std::string& path, off_t from, off_t to) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  out.resize(static_cast<size_t>(to - from));
  ssize_t n = pread(fd, out.data(), out.size(), from);
  close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

bool Truthy(const std::string& v) { return v == "true" || v == "1"; }

void ServeLogs(net::Request& r, net::ResponseWriter& w, NodeContext* ctx, const PodLookup& lookup,
               const std::vector<std::string>& seg) {
  if (seg.size() != 4) return ReplyError(w, NotFound("use /containerLogs/{namespace}/{pod}/{container}"));
  auto worker = lookup(seg[1], seg[2]);
  if (!worker) return ReplyError(w, NotFound("pod \"" + seg[2] + "\" not found on this node"));
  bool previous = Truthy(r.Query("previous"));
  auto path = worker->LogPath(seg[3], previous);
  if (!path.ok()) return ReplyError(w, path.status());
  LogOptions opts;
  opts.timestamps = Truthy(r.Query("timestamps"));
  if (r.HasQuery("tailLines")) opts.tail_lines = atoll(r.Query("tailLines").c_str());
  if (r.HasQuery("limitBytes")) opts.limit_bytes = atoll(r.Query("limitBytes").c_str());
  if (r.HasQuery("sinceSeconds")) opts.since_unix_nanos = (NowSeconds() - atoll(r.Query("sinceSeconds").c_str())) * 1000000000LL;
  if (r.HasQuery("sinceTime")) {
    auto t = ParseRFC3339(r.Query("sinceTime"));
    if (t) opts.since_unix_nanos = *t * 1000000000LL;
  }
  bool follow = Truthy(r.Query("follow")) && !previous;
  off_t size = std::max<off_t>(FileSize(*path), 0);
  std::string text = ReadRange(*path, 0, size);
  // Only whole records; a partial last line waits for its newline.
  size_t cut = text.rfind('\n');
  off_t pos = cut == std::string::npos ? 0 : static_cast<off_t>(cut + 1);
  std::string first = RenderCriLog(std::string_view(text).substr(0, pos), opts);
  if (!follow) {
    w.Reply(200, {{"Content-Type", "text/plain"}}, first);
    return;
  }
  if (!w.Start(200, {{"Content-Type", "text/plain"}})) return;
  if (!first.empty() && !w.Write(first)) return;
  LogOptions more = opts;
  more.tail_lines = -1;
  int64_t sent = static_cast<int64_t>(first.size());
  std::string cname = seg[3];
  for (;;) {
    if (w.PeerClosed()) return;
    off_t now = FileSize(*path);
    if (now < pos) pos = 0;  // rotated: the new file starts over
    if (now > pos) {
      std::string chunk = ReadRange(*path, pos, now);
      size_t nl = chunk.rfind('\n');
      if (nl != std::string::npos) {
        pos += static_cast<off_t>(nl + 1);
        std::string out = RenderCriLog(std::string_view(chunk).substr(0, nl + 1), more);
        if (opts.limit_bytes >= 0 && sent + static_cast<int64_t>(out.size()) > opts.limit_bytes)
          out.resize(static_cast<size_t>(std::max<int64_t>(0, opts.limit_bytes - sent)));
        if (!out.empty() && !w.Write(out)) return;
        sent += static_cast<int64_t>(out.size());
        if (opts.limit_bytes >= 0 && sent >= opts.limit_bytes) break;
        continue;
      }
    }
    // The stream ends when the container has ended and the log is drained,
    // or when a newer attempt replaced it.
    auto cur = worker->LogPath(cname, false);
    if (worker->Done() || !cur.ok() || *cur != *path) break;
    // <pod dir>/logs/<c>/<n>.log belongs to the attempt dir <pod dir>/run/c/<c>/<n>.
    std::string attempt = path->substr(path->rfind('/') + 1);
    attempt = attempt.substr(0, attempt.find('.'));
    std::string cdir = ContainerStateRoot(path->substr(0, path->rfind("/logs/"))) + "/" + cname + "/" + attempt;
    if (FileExists(cdir + "/exit.json") && FileSize(*path) == pos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval of a follow stream
  }
  w.End();
}

// GET /exec/{ns}/{pod}/{container}?command=..&stdin=&stdout=&stderr=&tty=
// with a websocket upgrade. Errors before the upgrade are plain HTTP
// answers, which the API server relays and kubectl prints.
void ServeExec(net::Request& r, net::ResponseWriter& w, NodeContext* ctx, const PodLookup& lookup,
               const std::vector<std::string>& seg) {
  if (seg.size() != 4) return ReplyError(w, NotFound("use /exec/{namespace}/{pod}/{container}"));
  auto worker = lookup(seg[1], seg[2]);
  if (!worker) return ReplyError(w, NotFound("pod \"" + seg[2] + "\" not found on this node"));
  auto id = worker->RunningContainerId(seg[3]);
  if (!id.ok()) return ReplyError(w, id.status());
  ExecOptions opts;
  for (auto [it, end] = r.query.equal_range("command"); it != end; ++it) opts.command.push_back(it->second);
  if (opts.command.empty()) return ReplyError(w, BadRequest("you must specify at least one command for the container"));
  opts.want_stdin = Truthy(r.Query("stdin"));
  opts.want_stdout = !r.HasQuery("stdout") || Truthy(r.Query("stdout"));
  opts.tty = Truthy(r.Query("tty"));
  opts.want_stderr = Truthy(r.Query("stderr")) && !opts.tty;  // a terminal has one output
  opts.argv = ctx->runtime->ExecArgv(*id, opts.command, opts.tty);
  std::string proto = channel::Negotiate(r.Header("Sec-WebSocket-Protocol"));
  if (proto.empty())
    return ReplyError(w, BadRequest("exec needs a websocket upgrade with subprotocol v5.channel.k8s.io or "
                                     "v4.channel.k8s.io (SPDY exec is not supported)"));
  auto ws = w.UpgradeWebSocket(proto);
  if (!ws) {
    // Not an upgrade request at all (the writer is still unused then).
    ReplyError(w, BadRequest("exec needs a websocket upgrade"));
    return;
  }
  RunExecSession(ws.get(), opts, proto == "v5.channel.k8s.io");
}

// GET /stats/summary: usage of the node and of the running containers of
// the pods bound to it (asked from the API, as kubelet knows its pods).
void ServeStats(net::ResponseWriter& w, NodeContext* ctx, const PodLookup& lookup, StatsCollector* stats) {
  auto pods = ctx->api->Get("/api/v1/pods?fieldSelector=spec.nodeName%3D" + net::PercentEncode(ctx->node_name));
  if (!pods.ok()) return ReplyError(w, pods.status());
  std::vector<ContainerRef> refs;
  for (const auto& p : pods->value("items", Json::array())) {
    const Json& m = p["metadata"];
    auto worker = lookup(m.value("namespace", ""), m.value("name", ""));
    if (!worker) continue;
    for (const auto& [cname, cgroup] : worker->RunningCgroups())
      refs.push_back({m.value("namespace", ""), m.value("name", ""), m.value("uid", ""), cname, cgroup});
  }
  w.Reply(200, {{"Content-Type", "application/json"}}, stats->Summary(ctx->node_name, refs));
}

// The content type Prometheus asks for and node_exporter answers with.
constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

// GET /metrics/cadvisor: the running containers of the pods bound to this
// node, labelled with their pod (asked from the API, as for /stats/summary).
void ServeCadvisor(net::ResponseWriter& w, NodeContext* ctx, const PodLookup& lookup,
                   const MetricsExporter* exporter) {
  auto pods = ctx->api->Get("/api/v1/pods?fieldSelector=spec.nodeName%3D" +
                            net::PercentEncode(ctx->node_name));
  if (!pods.ok()) return ReplyError(w, pods.status());
  std::vector<ContainerMeta> metas;
  for (const auto& p : pods->value("items", Json::array())) {
    const Json& m = p["metadata"];
    auto worker = lookup(m.value("namespace", ""), m.value("name", ""));
    if (!worker) continue;
    // The image as the status reports it (what the runtime runs), else the spec's.
    std::map<std::string, std::string> images;
    for (const char* list : {"initContainers", "containers"})
      for (const auto& c : p.value("spec", Json::object()).value(list, Json::array()))
        images[c.value("name", "")] = c.value("image", "");
    const Json status = p.value("status", Json::object());
    for (const auto& cs : status.value("containerStatuses", Json::array()))
      if (!cs.value("image", "").empty()) images[cs.value("name", "")] = cs.value("image", "");
    for (const auto& [cname, cgroup] : worker->RunningCgroups())
      metas.push_back({m.value("namespace", ""), m.value("name", ""), m.value("uid", ""), cname,
                       images[cname], cgroup});
  }
  w.Reply(200, {{"Content-Type", kExpositionType}}, exporter->CadvisorMetrics(metas));
}

}  // namespace

std::string RenderCriLog(std::string_view text, const LogOptions& opts) {
  struct Rec {
    std::string_view ts, msg;
    bool full;
  };
  std::vector<Rec> recs;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view line = text.substr(i, j - i);
    i = j + 1;
    size_t a = line.find(' ');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    size_t c = line.find(' ', b + 1);
    std::string_view tag = line.substr(b + 1, (c == std::string_view::npos ? line.size() : c) - b - 1);
    std::string_view msg = c == std::string_view::npos ? std::string_view() : line.substr(c + 1);
    std::string_view ts = line.substr(0, a);
    if (opts.since_unix_nanos > 0) {
      auto secs = ParseRFC3339(std::string(ts));
      if (secs) {
        int64_t nanos = *secs * 1000000000LL;
        size_t dot = ts.find('.');
        if (dot != std::string_view::npos) {
          std::string frac(ts.substr(dot + 1, 9));
          while (!frac.empty() && !isdigit(static_cast<unsigned char>(frac.back()))) frac.pop_back();
          frac.resize(9, '0');
          nanos += atoll(frac.c_str());
        }
        if (nanos < opts.since_unix_nanos) continue;
      }
    }
    recs.push_back({ts, msg, tag != "P"});
  }
  // tailLines counts whole lines: a run of partial records plus their end.
  size_t start = 0;
  if (opts.tail_lines >= 0) {
    int64_t lines = 0;
    start = recs.size();
    while (start > 0) {
      if (recs[start - 1].full) {
        if (lines == opts.tail_lines) break;
        ++lines;
      }
      --start;
    }
  }
  std::string out;
  bool line_start = true;
  for (size_t k = start; k < recs.size(); ++k) {
    if (opts.timestamps && line_start) {
      out.append(recs[k].ts);
      out += ' ';
    }
    out.append(recs[k].msg);
    if (recs[k].full) out += '\n';
    line_start = recs[k].full;
    if (opts.limit_bytes >= 0 && static_cast<int64_t>(out.size()) >= opts.limit_bytes) {
      out.resize(static_cast<size_t>(opts.limit_bytes));
      break;
    }
  }
  return out;
}

void MountKubeletApi(net::Router& router, NodeContext* ctx, PodLookup lookup) {
  router.Handle("/healthz", [](net::Request&, net::ResponseWriter& w) {
    w.Reply(200, {{"Content-Type", "text/plain"}}, "ok");
  });
  router.Handle("/containerLogs/*", [ctx, lookup](net::Request& r, net::ResponseWriter& w) {
    ServeLogs(r, w, ctx, lookup, SplitPath(r.path));
  });
  router.Handle("/exec/*", [ctx, lookup](net::Request& r, net::ResponseWriter& w) {
    ServeExec(r, w, ctx, lookup, SplitPath(r.path));
  });
  router.Handle("/portForward/*", [ctx, lookup](net::Request& r, net::ResponseWriter& w) {
    auto seg = SplitPath(r.path);
    if (seg.size() != 3) return ReplyError(w, NotFound("use /portForward/{namespace}/{pod}"));
    auto worker = lookup(seg[1], seg[2]);
    if (!worker) return ReplyError(w, NotFound("pod \"" + seg[2] + "\" not found on this node"));
    PortForwardTarget t;
    t.pod = seg[1] + "/" + seg[2];
    t.pod_ip = worker->PodIP();
    if (ctx->network)
      if (auto st = ctx->network->Get(worker->uid()); st.ok()) t.netns_path = st->netns_path;
    if (t.netns_path.empty() && t.pod_ip.empty())
      return ReplyError(w, Status(Code::kUnavailable, "the network of pod " + t.pod + " is not set up"));
    ServePortForward(r, w, t);
  });
  // The collector's history lives as long as the router (the kubelet server).
  auto stats = std::make_shared<StatsCollector>();
  router.Handle("/stats/summary", [ctx, lookup, stats](net::Request&, net::ResponseWriter& w) {
    ServeStats(w, ctx, lookup, stats.get());
  });
  // Berth's own mounts (each pod's tmpfs, the netns directory) would add
  // series per pod that say nothing about the node's disks.
  MetricsExporterOptions mopts;
  mopts.excluded_mount_prefixes = {ctx->root + "/pods/", "/run/berth/"};
  auto exporter = std::make_shared<MetricsExporter>(std::move(mopts));
  router.Handle("/metrics/node", [exporter](net::Request&, net::ResponseWriter& w) {
    w.Reply(200, {{"Content-Type", kExpositionType}}, exporter->NodeMetrics());
  });
  router.Handle("/metrics/cadvisor", [ctx, lookup, exporter](net::Request&,
                                                             net::ResponseWriter& w) {
    ServeCadvisor(w, ctx, lookup, exporter.get());
  });
}

}  // namespace berth::node
