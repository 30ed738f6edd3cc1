#include "node/pod_setup.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"
#include "core/quantity.h"
#include "core/strings.h"
#include "core/time.h"
#include "node/json_util.h"

namespace berth::node {
namespace {


Status WriteFileMode(const std::string& path, const std::string& data, mode_t mode) {
  BERTH_RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/')), 0755));
  FILE* f = fopen(path.c_str(), "we");
  if (!f) return Internal("cannot write " + path + ": " + strerror(errno));
  fwrite(data.data(), 1, data.size(), f);
  fclose(f);
  chmod(path.c_str(), mode);
  return Status::Ok();
}

// A relative path inside a volume: no absolute paths, no "..".
bool SafeRelPath(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (p.compare(i, j - i, "..") == 0) return false;
    i = j + 1;
  }
  return true;
}

std::string Ns(const Json& pod) { return Str(At(pod, "metadata"), "namespace"); }

Result<Json> GetObject(NodeContext* ctx, const std::string& ns, const std::string& resource, const std::string& name) {
  return ctx->api->Get("/api/v1/namespaces/" + ns + "/" + resource + "/" + name);
}

// The data of a ConfigMap or Secret, decoded.
Result<std::map<std::string, std::string>> SourceData(NodeContext* ctx, const Json& pod, bool secret,
                                                       const std::string& name, bool optional) {
  std::map<std::string, std::string> out;
  auto obj = GetObject(ctx, Ns(pod), secret ? "secrets" : "configmaps", name);
  if (!obj.ok()) {
    if (obj.status().code() == Code::kNotFound && optional) return out;
    return Status(obj.status().code(), std::string(secret ? "secret" : "configmap") + " \"" + name +
                                           "\" not found");
  }
  for (auto it = At(*obj, "data").begin(); At(*obj, "data").is_object() && it != At(*obj, "data").end(); ++it) {
    if (!it->is_string()) continue;
    if (secret) {
      auto d = Base64Decode(it->get<std::string>());
      out[it.key()] = d ? *d : std::string();
    } else {
      out[it.key()] = it->get<std::string>();
    }
  }
  if (!secret && At(*obj, "binaryData").is_object())
    for (auto it = At(*obj, "binaryData").begin(); it != At(*obj, "binaryData").end(); ++it) {
      auto d = Base64Decode(it->get<std::string>());
      if (d) out[it.key()] = *d;
    }
  return out;
}

// A downward API field of the pod ("metadata.name", "metadata.labels['a']"...).
std::string FieldValue(NodeContext* ctx, const Json& pod, const std::string& path, const std::string& pod_ip) {
  const Json& md = At(pod, "metadata");
  auto map_key = [&](const char* field) -> std::string {
    std::string prefix = std::string("metadata.") + field + "['";
    if (path.rfind(prefix, 0) != 0) return "";
    std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
    return Str(At(md, field), key.c_str());
  };
  if (path == "metadata.name") return Str(md, "name");
  if (path == "metadata.namespace") return Str(md, "namespace");
  if (path == "metadata.uid") return Str(md, "uid");
  if (path == "spec.nodeName") return ctx->node_name;
  if (path == "spec.serviceAccountName") return Str(At(pod, "spec"), "serviceAccountName", "default");
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx->node_ip;
  if (path == "status.podIP" || path == "status.podIPs") return pod_ip;
  if (path.rfind("metadata.labels['", 0) == 0) return map_key("labels");
  if (path.rfind("metadata.annotations['", 0) == 0) return map_key("annotations");
  if (path == "metadata.labels" || path == "metadata.annotations") {
    std::string out;
    const Json& m = At(md, path == "metadata.labels" ? "labels" : "annotations");
    if (m.is_object())
      for (auto it = m.begin(); it != m.end(); ++it) out += it.key() + "=\"" + it->get<std::string>() + "\"\n";
    return out;
  }
  return "";
}

// requests.cpu, limits.memory... of a container, with divisor.
std::string ResourceValue(const Json& pod, const Json& ctr, const Json& ref) {
  std::string res = Str(ref, "resource");
  size_t dot = res.find('.');
  if (dot == std::string::npos) return "";
  std::string kind = res.substr(0, dot), name = res.substr(dot + 1);
  const Json& v = At(At(At(ctr, "resources"), kind.c_str()), name.c_str());
  std::string val = v.is_string() ? v.get<std::string>() : (v.is_number() ? v.dump() : "");
  if (val.empty() && kind == "limits") {
    // Unset limits report the node's allocatable, as kubelet does.
    if (name == "cpu") val = std::to_string(sysconf(_SC_NPROCESSORS_ONLN));
    else if (name == "memory") val = std::to_string(int64_t(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE));
  }
  if (val.empty()) return "0";
  auto q = Quantity::Parse(val);
  if (!q.ok()) return val;
  std::string div = Str(ref, "divisor", name == "cpu" ? "1" : "1");
  auto d = Quantity::Parse(div);
  if (!d.ok() || d->IsZero()) return std::to_string(q->Value());
  // Round up, as kubelet does (cpu: 250m / 1 → 1).
  int64_t qm = q->MilliValue(), dm = d->MilliValue();
  return std::to_string((qm + dm - 1) / dm);
}

Status WriteDownwardItems(NodeContext* ctx, const Json& pod, const Json& items, const std::string& dir,
                          const std::string& pod_ip, int default_mode) {
  for (const auto& it : items) {
    std::string path = Str(it, "path");
    if (!SafeRelPath(path)) return Invalid("downwardAPI path \"" + path + "\" must be relative without ..");
    std::string value;
    if (At(it, "fieldRef").is_object()) value = FieldValue(ctx, pod, Str(At(it, "fieldRef"), "fieldPath"), pod_ip);
    else if (At(it, "resourceFieldRef").is_object()) {
      const Json& ref = At(it, "resourceFieldRef");
      for (const auto& c : At(At(pod, "spec"), "containers"))
        if (Str(c, "name") == Str(ref, "containerName")) value = ResourceValue(pod, c, ref);
    }
    int mode = At(it, "mode").is_number_integer() ? At(it, "mode").get<int>() : default_mode;
    BERTH_RETURN_IF_ERROR(WriteFileMode(dir + "/" + path, value, mode));
  }
  return Status::Ok();
}

// Writes a ConfigMap's or Secret's keys (or the selected items) into dir.
Status WriteKeyFiles(const std::map<std::string, std::string>& data, const Json& items, const std::string& dir,
                     int default_mode, bool optional, const std::string& what) {
  if (items.is_array() && !items.empty()) {
    for (const auto& it : items) {
      std::string key = Str(it, "key"), path = Str(it, "path", key);
      if (!SafeRelPath(path)) return Invalid(what + ": item path \"" + path + "\" must be relative without ..");
      auto d = data.find(key);
      if (d == data.end()) {
        if (optional) continue;
        return Invalid(what + ": couldn't find key " + key);
      }
      int mode = At(it, "mode").is_number_integer() ? At(it, "mode").get<int>() : default_mode;
      BERTH_RETURN_IF_ERROR(WriteFileMode(dir + "/" + path, d->second, mode));
    }
    return Status::Ok();
  }
  for (const auto& [k, v] : data) BERTH_RETURN_IF_ERROR(WriteFileMode(dir + "/" + k, v, default_mode));
  return Status::Ok();
}

Result<std::string> PvcPath(NodeContext* ctx, const Json& pod, const std::string& claim) {
  auto pvc = GetObject(ctx, Ns(pod), "persistentvolumeclaims", claim);
  if (!pvc.ok()) return Status(Code::kNotFound, "persistentvolumeclaim \"" + claim + "\" not found");
  std::string pv_name = Str(At(*pvc, "spec"), "volumeName");
  if (pv_name.empty() || Str(At(*pvc, "status"), "phase") != "Bound")
    return Status(Code::kUnavailable, "persistentvolumeclaim \"" + claim + "\" is not bound");
  auto pv = ctx->api->Get("/api/v1/persistentvolumes/" + pv_name);
  if (!pv.ok()) return Status(Code::kNotFound, "persistentvolume \"" + pv_name + "\" not found");
  const Json& spec = At(*pv, "spec");
  std::string path = Str(At(spec, "hostPath"), "path");
  if (path.empty()) path = Str(At(spec, "local"), "path");
  if (path.empty()) return Status(Code::kInvalid, "persistentvolume \"" + pv_name + "\" has no local or hostPath source");
  BERTH_RETURN_IF_ERROR(MakeDirs(path, 0777));
  return path;
}

// Looks a user or group name up in the image's /etc/passwd or /etc/group
// (topmost layer that has the file).
std::optional<std::pair<uint32_t, uint32_t>> LookupUser(const images::ImageInfo& img, const std::string& name,
                                                        bool group) {
  for (auto it = img.layer_dirs.rbegin(); it != img.layer_dirs.rend(); ++it) {
    auto text = ReadFile(*it + (group ? "/etc/group" : "/etc/passwd"));
    if (!text.ok()) continue;
    for (const auto& line : Lines(*text)) {
      std::vector<std::string> f = Split(line, ':');
      if (f.size() >= 3 && f[0] == name) {
        uint32_t id = static_cast<uint32_t>(atoi(f[2].c_str()));
        uint32_t gid = (!group && f.size() >= 4) ? static_cast<uint32_t>(atoi(f[3].c_str())) : id;
        return std::make_pair(id, gid);
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

bool IsNumber(const std::string& s) { return !s.empty() && std::all_of(s.begin(), s.end(), ::isdigit); }

}  // namespace

std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i];
      continue;
    }
    if (in[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (in[i + 1] == '(') {
      size_t close = in.find(')', i + 2);
      if (close != std::string::npos) {
        auto it = env.find(in.substr(i + 2, close - i - 2));
        if (it != env.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += in[i];
  }
  return out;
}

std::string PodRunDir(const std::string& dir) { return dir + "/run"; }
std::string ContainerStateRoot(const std::string& dir) { return dir + "/run/c"; }

Status EnsurePodRunDir(const std::string& dir) {
  // Bounded: generated files and small state only (a ConfigMap or Secret is
  // at most 1 MiB).
  return EnsureTmpfs(PodRunDir(dir), "mode=0700,size=64m");
}

Status PreparePodFiles(NodeContext* ctx, const Json& pod, const std::string& dir, const std::string& pod_ip,
                       PodFiles* out) {
  BERTH_RETURN_IF_ERROR(EnsurePodRunDir(dir));
  const Json& spec = At(pod, "spec");
  const Json& md = At(pod, "metadata");
  std::string name = Str(md, "name"), ns = Str(md, "namespace");
  out->etc_dir = PodRunDir(dir) + "/etc";
  out->pod_ip = pod_ip;
  out->tokens.clear();  // a retry after a failed pass starts over
  BERTH_RETURN_IF_ERROR(MakeDirs(out->etc_dir, 0755));
  std::string hostname = Str(spec, "hostname", name);
  std::string fqdn = hostname;
  if (!Str(spec, "subdomain").empty())
    fqdn = hostname + "." + Str(spec, "subdomain") + "." + ns + ".svc." + ctx->cluster_domain;
  std::string hosts = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!pod_ip.empty()) hosts += pod_ip + "\t" + fqdn + (fqdn != hostname ? "\t" + hostname : "") + "\n";
  for (const auto& ha : At(spec, "hostAliases")) {
    hosts += Str(ha, "ip");
    for (const auto& h : At(ha, "hostnames")) hosts += "\t" + h.get<std::string>();
    hosts += "\n";
  }
  BERTH_RETURN_IF_ERROR(WriteFileMode(out->etc_dir + "/hosts", hosts, 0644));
  BERTH_RETURN_IF_ERROR(WriteFileMode(out->etc_dir + "/hostname", hostname + "\n", 0644));
  std::string policy = Str(spec, "dnsPolicy", "ClusterFirst");
  std::string resolv;
  if (policy == "None") {
    const Json& dc = At(spec, "dnsConfig");
    for (const auto& s : At(dc, "nameservers")) resolv += "nameserver " + s.get<std::string>() + "\n";
    std::string search;
    for (const auto& s : At(dc, "searches")) search += " " + s.get<std::string>();
    if (!search.empty()) resolv += "search" + search + "\n";
  } else if (policy == "Default") {
    auto host = ReadFile("/etc/resolv.conf");
    resolv = host.ok() ? *host : "";
  } else {
    resolv = "search " + ns + ".svc." + ctx->cluster_domain + " svc." + ctx->cluster_domain + " " +
             ctx->cluster_domain + "\nnameserver " + ctx->cluster_dns_ip + "\noptions ndots:5\n";
  }
  BERTH_RETURN_IF_ERROR(WriteFileMode(out->etc_dir + "/resolv.conf", resolv, 0644));

  for (const auto& v : At(spec, "volumes")) {
    std::string vname = Str(v, "name");
    // Generated volumes go to the tmpfs; emptyDirs stay on disk.
    std::string vdir = (At(v, "emptyDir").is_object() ? dir : PodRunDir(dir)) + "/volumes/" + vname;
    if (At(v, "emptyDir").is_object()) {
      BERTH_RETURN_IF_ERROR(MakeDirs(vdir, 0777));
      chmod(vdir.c_str(), 0777);
      if (Str(At(v, "emptyDir"), "medium") == "Memory") {
        std::string opts = "mode=1777";
        auto q = Quantity::Parse(Str(At(v, "emptyDir"), "sizeLimit", ""));
        if (q.ok() && !q->IsZero()) opts += ",size=" + std::to_string(q->Value());
        if (mount("tmpfs", vdir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
          return Internal("emptyDir " + vname + ": mount tmpfs: " + strerror(errno));
        out->mounts.push_back(vdir);
      }
      out->volumes[vname] = vdir;
    } else if (At(v, "hostPath").is_object()) {
      const Json& hp = At(v, "hostPath");
      std::string path = Str(hp, "path"), type = Str(hp, "type");
      struct stat st;
      bool exists = stat(path.c_str(), &st) == 0;
      if (type == "DirectoryOrCreate" && !exists) BERTH_RETURN_IF_ERROR(MakeDirs(path, 0755));
      else if (type == "FileOrCreate" && !exists) BERTH_RETURN_IF_ERROR(WriteFileMode(path, "", 0644));
      else if (type == "Directory" && (!exists || !S_ISDIR(st.st_mode)))
        return Invalid("hostPath type check failed: " + path + " is not a directory");
      else if (type == "File" && (!exists || !S_ISREG(st.st_mode)))
        return Invalid("hostPath type check failed: " + path + " is not a file");
      else if (type == "Socket" && (!exists || !S_ISSOCK(st.st_mode)))
        return Invalid("hostPath type check failed: " + path + " is not a socket");
      out->volumes[vname] = path;
    } else if (At(v, "configMap").is_object() || At(v, "secret").is_object()) {
      bool secret = At(v, "secret").is_object();
      const Json& src = At(v, secret ? "secret" : "configMap");
      std::string sname = Str(src, secret ? "secretName" : "name");
      bool optional = At(src, "optional").is_boolean() && At(src, "optional").get<bool>();
      BERTH_ASSIGN_OR_RETURN(auto data, SourceData(ctx, pod, secret, sname, optional));
      int mode = At(src, "defaultMode").is_number_integer() ? At(src, "defaultMode").get<int>() : 0644;
      BERTH_RETURN_IF_ERROR(MakeDirs(vdir, 0755));
      BERTH_RETURN_IF_ERROR(WriteKeyFiles(data, At(src, "items"), vdir, mode, optional,
                                          std::string(secret ? "secret " : "configmap ") + sname));
      out->volumes[vname] = vdir;
      out->read_only_volumes.insert(vname);
    } else if (At(v, "downwardAPI").is_object()) {
      BERTH_RETURN_IF_ERROR(MakeDirs(vdir, 0755));
      int mode = At(At(v, "downwardAPI"), "defaultMode").is_number_integer()
                     ? At(At(v, "downwardAPI"), "defaultMode").get<int>() : 0644;
      BERTH_RETURN_IF_ERROR(WriteDownwardItems(ctx, pod, At(At(v, "downwardAPI"), "items"), vdir, pod_ip, mode));
      out->volumes[vname] = vdir;
      out->read_only_volumes.insert(vname);
    } else if (At(v, "projected").is_object()) {
      const Json& pj = At(v, "projected");
      int mode = At(pj, "defaultMode").is_number_integer() ? At(pj, "defaultMode").get<int>() : 0644;
      BERTH_RETURN_IF_ERROR(MakeDirs(vdir, 0755));
      for (const auto& s : At(pj, "sources")) {
        if (At(s, "configMap").is_object() || At(s, "secret").is_object()) {
          bool secret = At(s, "secret").is_object();
          const Json& src = At(s, secret ? "secret" : "configMap");
          bool optional = At(src, "optional").is_boolean() && At(src, "optional").get<bool>();
          BERTH_ASSIGN_OR_RETURN(auto data, SourceData(ctx, pod, secret, Str(src, "name"), optional));
          BERTH_RETURN_IF_ERROR(WriteKeyFiles(data, At(src, "items"), vdir, mode, optional, Str(src, "name")));
        } else if (At(s, "downwardAPI").is_object()) {
          BERTH_RETURN_IF_ERROR(WriteDownwardItems(ctx, pod, At(At(s, "downwardAPI"), "items"), vdir, pod_ip, mode));
        } else if (At(s, "serviceAccountToken").is_object()) {
          const Json& t = At(s, "serviceAccountToken");
          std::string path = Str(t, "path", "token");
          if (!SafeRelPath(path)) return Invalid("serviceAccountToken path must be relative");
          out->tokens.push_back({vdir + "/" + path, Str(t, "audience"), Int(t, "expirationSeconds", 3600), mode});
        }
      }
      out->volumes[vname] = vdir;
      out->read_only_volumes.insert(vname);
    } else if (At(v, "persistentVolumeClaim").is_object()) {
      std::string claim = Str(At(v, "persistentVolumeClaim"), "claimName");
      BERTH_ASSIGN_OR_RETURN(auto path, PvcPath(ctx, pod, claim));
      out->volumes[vname] = path;
      if (At(At(v, "persistentVolumeClaim"), "readOnly").is_boolean() &&
          At(At(v, "persistentVolumeClaim"), "readOnly").get<bool>())
        out->read_only_volumes.insert(vname);
    } else {
      return Invalid("volume \"" + vname + "\": this volume type is not supported on this node");
    }
  }
  return Status::Ok();
}

Status WriteServiceAccountTokens(NodeContext* ctx, const Json& pod, PodFiles* files) {
  if (files->tokens.empty()) return Status::Ok();
  const Json& md = At(pod, "metadata");
  std::string sa = Str(At(pod, "spec"), "serviceAccountName", "default");
  int64_t shortest = 0;
  for (const auto& t : files->tokens) {
    Json req = {{"apiVersion", "authentication.k8s.io/v1"},
                {"kind", "TokenRequest"},
                {"spec",
                 {{"expirationSeconds", t.expiration_seconds},
                  {"boundObjectRef",
                   {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", Str(md, "name")}, {"uid", Str(md, "uid")}}}}}};
    if (!t.audience.empty()) req["spec"]["audiences"] = Json::array({t.audience});
    auto resp = ctx->api->Create("/api/v1/namespaces/" + Ns(pod) + "/serviceaccounts/" + sa + "/token", req);
    if (!resp.ok())
      return Status(resp.status().code(), "cannot get a token for service account \"" + sa + "\": " +
                                              resp.status().message());
    std::string token = Str(At(*resp, "status"), "token");
    int64_t ttl = Int(At(*resp, "spec"), "expirationSeconds", t.expiration_seconds);
    if (token.empty()) return Internal("the token request for service account \"" + sa + "\" returned no token");
    // Renamed into place so that a reader never sees half a token; a token
    // lost in a crash is simply requested again.
    BERTH_RETURN_IF_ERROR(WriteFileMode(t.file + ".tmp", token, static_cast<mode_t>(t.mode)));
    if (rename((t.file + ".tmp").c_str(), t.file.c_str()) != 0)
      return Internal("cannot write " + t.file + ": " + strerror(errno));
    if (shortest == 0 || ttl < shortest) shortest = ttl;
  }
  files->tokens_refresh_at = NowSeconds() + shortest * 8 / 10;
  return Status::Ok();
}

void ReleasePodFiles(PodFiles* files, const std::string& dir) {
  for (const auto& m : files->mounts) umount2(m.c_str(), MNT_DETACH);
  files->mounts.clear();
}

std::vector<PullSecret> PullSecrets(NodeContext* ctx, const Json& pod) {
  std::vector<PullSecret> out;
  for (const auto& ref : At(At(pod, "spec"), "imagePullSecrets")) {
    auto s = GetObject(ctx, Ns(pod), "secrets", Str(ref, "name"));
    if (!s.ok()) continue;
    const Json& data = At(*s, "data");
    std::string b64 = Str(data, ".dockerconfigjson", Str(data, ".dockercfg"));
    auto d = Base64Decode(b64);
    if (d) out.push_back({*d});
  }
  return out;
}

Status BuildContainerConfig(NodeContext* ctx, const Json& pod, const Json& c, const images::ImageInfo& image,
                            const PodFiles& files, ContainerConfig* cfg) {
  const Json& spec = At(pod, "spec");
  const Json& md = At(pod, "metadata");
  const std::string& pod_ip = files.pod_ip;
  // Environment: image defaults, then the container's (later wins), in order.
  std::vector<std::string> order;
  std::map<std::string, std::string> env;
  auto set = [&](const std::string& k, const std::string& v) {
    if (!env.count(k)) order.push_back(k);
    env[k] = v;
  };
  for (const auto& kv : image.env) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos) set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (!env.count("PATH")) set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  set("HOSTNAME", Str(spec, "hostname", Str(md, "name")));
  std::string job_index = Str(At(md, "annotations"), "batch.kubernetes.io/job-completion-index");
  if (!job_index.empty()) set("JOB_COMPLETION_INDEX", job_index);
  // Service links (enableServiceLinks, default true): FOO_SERVICE_HOST/PORT
  // for the namespace's Services; the API server's `kubernetes` Service
  // (KUBERNETES_SERVICE_HOST/PORT) in every pod, as kubelet does.
  {
    Json links = Json::array();
    if (!At(spec, "enableServiceLinks").is_boolean() || At(spec, "enableServiceLinks").get<bool>()) {
      auto svcs = ctx->api->Get("/api/v1/namespaces/" + Ns(pod) + "/services");
      if (svcs.ok() && At(*svcs, "items").is_array()) links = At(*svcs, "items");
    }
    if (Ns(pod) != "default" || links.empty()) {
      auto master = ctx->api->Get("/api/v1/namespaces/default/services/kubernetes");
      if (master.ok()) links.push_back(*master);
    }
    for (const auto& s : links) {
      std::string ip = Str(At(s, "spec"), "clusterIP");
      if (ip.empty() || ip == "None") continue;
      std::string n = Str(At(s, "metadata"), "name");
      std::transform(n.begin(), n.end(), n.begin(), [](char ch) { return ch == '-' ? '_' : ::toupper(ch); });
      const Json& ports = At(At(s, "spec"), "ports");
      if (!ports.is_array() || ports.empty()) continue;
      std::string port = std::to_string(ports[0].value("port", 0));
      set(n + "_SERVICE_HOST", ip);
      set(n + "_SERVICE_PORT", port);
      set(n + "_PORT", "tcp://" + ip + ":" + port);
    }
  }
  for (const auto& ef : At(c, "envFrom")) {
    bool secret = At(ef, "secretRef").is_object();
    const Json& ref = At(ef, secret ? "secretRef" : "configMapRef");
    if (!ref.is_object()) continue;
    bool optional = At(ref, "optional").is_boolean() && At(ref, "optional").get<bool>();
    BERTH_ASSIGN_OR_RETURN(auto data, SourceData(ctx, pod, secret, Str(ref, "name"), optional));
    for (const auto& [k, v] : data) set(Str(ef, "prefix") + k, v);
  }
  for (const auto& e : At(c, "env")) {
    std::string k = Str(e, "name");
    if (At(e, "value").is_string()) {
      set(k, ExpandVars(At(e, "value").get<std::string>(), env));
      continue;
    }
    const Json& vf = At(e, "valueFrom");
    if (!vf.is_object()) {
      set(k, "");
      continue;
    }
    if (At(vf, "configMapKeyRef").is_object() || At(vf, "secretKeyRef").is_object()) {
      bool secret = At(vf, "secretKeyRef").is_object();
      const Json& ref = At(vf, secret ? "secretKeyRef" : "configMapKeyRef");
      bool optional = At(ref, "optional").is_boolean() && At(ref, "optional").get<bool>();
      BERTH_ASSIGN_OR_RETURN(auto data, SourceData(ctx, pod, secret, Str(ref, "name"), optional));
      auto it = data.find(Str(ref, "key"));
      if (it == data.end()) {
        if (optional) continue;
        return Invalid("couldn't find key " + Str(ref, "key") + " in " + (secret ? "Secret " : "ConfigMap ") +
                       Ns(pod) + "/" + Str(ref, "name"));
      }
      set(k, it->second);
    } else if (At(vf, "fieldRef").is_object()) {
      set(k, FieldValue(ctx, pod, Str(At(vf, "fieldRef"), "fieldPath"), pod_ip));
    } else if (At(vf, "resourceFieldRef").is_object()) {
      set(k, ResourceValue(pod, c, At(vf, "resourceFieldRef")));
    }
  }
  cfg->env.clear();
  for (const auto& k : order) cfg->env.push_back(k + "=" + env[k]);

  // Command: the container's command replaces the entrypoint; its args replace cmd.
  std::vector<std::string> entry = image.entrypoint, cmd = image.cmd;
  if (At(c, "command").is_array()) {
    entry.clear();
    for (const auto& a : At(c, "command")) entry.push_back(ExpandVars(a.get<std::string>(), env));
    cmd.clear();
  }
  if (At(c, "args").is_array()) {
    cmd.clear();
    for (const auto& a : At(c, "args")) cmd.push_back(ExpandVars(a.get<std::string>(), env));
  }
  cfg->args = entry;
  cfg->args.insert(cfg->args.end(), cmd.begin(), cmd.end());
  if (cfg->args.empty()) return Invalid("no command specified: the image has no entrypoint or cmd");
  cfg->cwd = Str(c, "workingDir", image.working_dir.empty() ? "/" : image.working_dir);
  cfg->hostname = Str(spec, "hostname", Str(md, "name"));
  cfg->netns_path = files.netns_path;

  // User and security context (the container's settings win over the pod's).
  const Json& psc = At(spec, "securityContext");
  const Json& sc = At(c, "securityContext");
  auto pick = [&](const char* k) -> const Json& { return At(sc, k).is_null() ? At(psc, k) : At(sc, k); };
  uint32_t uid = 0, gid = 0;
  if (!image.user.empty()) {
    std::string u = image.user, g;
    size_t colon = u.find(':');
    if (colon != std::string::npos) {
      g = u.substr(colon + 1);
      u = u.substr(0, colon);
    }
    if (IsNumber(u)) uid = static_cast<uint32_t>(atol(u.c_str()));
    else if (auto r = LookupUser(image, u, false)) {
      uid = r->first;
      gid = r->second;
    } else
      return Invalid("unable to find user " + u + ": no matching entries in passwd file");
    if (!g.empty()) {
      if (IsNumber(g)) gid = static_cast<uint32_t>(atol(g.c_str()));
      else if (auto r = LookupUser(image, g, true)) gid = r->first;
    }
  }
  if (pick("runAsUser").is_number_integer()) uid = pick("runAsUser").get<uint32_t>();
  if (pick("runAsGroup").is_number_integer()) gid = pick("runAsGroup").get<uint32_t>();
  if (pick("runAsNonRoot").is_boolean() && pick("runAsNonRoot").get<bool>() && uid == 0)
    return Invalid("container has runAsNonRoot and image will run as root (pod: \"" + Str(md, "name") + "_" +
                   Ns(pod) + "(" + Str(md, "uid") + ")\", container: " + Str(c, "name") + ")");
  cfg->uid = uid;
  cfg->gid = gid;
  for (const auto& g : At(psc, "supplementalGroups")) cfg->supplementary_gids.push_back(g.get<uint32_t>());
  if (At(psc, "fsGroup").is_number_integer()) cfg->supplementary_gids.push_back(At(psc, "fsGroup").get<uint32_t>());
  cfg->privileged = At(sc, "privileged").is_boolean() && At(sc, "privileged").get<bool>();
  cfg->read_only_rootfs = At(sc, "readOnlyRootFilesystem").is_boolean() && At(sc, "readOnlyRootFilesystem").get<bool>();
  // no_new_privs unless escalation is asked for explicitly.
  cfg->no_new_privileges = !(At(sc, "allowPrivilegeEscalation").is_boolean() &&
                             At(sc, "allowPrivilegeEscalation").get<bool>());
  for (const auto& a : At(At(sc, "capabilities"), "add")) cfg->cap_add.push_back(a.get<std::string>());
  for (const auto& d : At(At(sc, "capabilities"), "drop")) cfg->cap_drop.push_back(d.get<std::string>());
  for (auto* v : {&cfg->cap_add, &cfg->cap_drop})
    for (auto& cap : *v)
      if (cap.rfind("CAP_", 0) == 0) cap = cap.substr(4);
  const Json& seccomp = pick("seccompProfile");
  cfg->seccomp_default = Str(seccomp, "type", "RuntimeDefault") != "Unconfined";

  // Resources → cgroup limits.
  const Json& lim = At(At(c, "resources"), "limits");
  const Json& req = At(At(c, "resources"), "requests");
  if (auto q = Quantity::Parse(Str(lim, "memory", "")); q.ok()) cfg->memory_limit = q->Value();
  if (auto q = Quantity::Parse(Str(lim, "cpu", "")); q.ok()) cfg->cpu_quota_us = std::max<int64_t>(1000, q->MilliValue() * 100);
  std::string cpu_req = Str(req, "cpu", Str(lim, "cpu", ""));
  if (auto q = Quantity::Parse(cpu_req); q.ok()) cfg->cpu_shares = std::max<int64_t>(2, q->MilliValue() * 1024 / 1000);
  else cfg->cpu_shares = 2;
  cfg->pids_limit = 4096;
  return Status::Ok();
}

Status PrepareRootfs(const images::ImageInfo& image, const std::string& ctr_dir, const std::string& layer_dir,
                     std::string* rootfs) {
  std::string upper = layer_dir + "/upper", work = layer_dir + "/work";
  *rootfs = ctr_dir + "/rootfs";
  for (const auto& d : {upper, work, *rootfs}) BERTH_RETURN_IF_ERROR(MakeDirs(d, 0755));
  if (image.layer_dirs.empty()) return Invalid("image " + image.ref + " has no layers");
  std::string lower;
  for (auto it = image.layer_dirs.rbegin(); it != image.layer_dirs.rend(); ++it)
    lower += (lower.empty() ? "" : ":") + *it;
  std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (mount("overlay", rootfs->c_str(), "overlay", 0, opts.c_str()) != 0)
    return Internal("mount overlay root file system: " + std::string(strerror(errno)));
  return Status::Ok();
}

Status MountVolumes(const PodFiles& files, const Json& c, const std::string& rootfs, ContainerConfig* cfg) {
  for (const auto& vm : At(c, "volumeMounts")) {
    std::string vname = Str(vm, "name");
    auto it = files.volumes.find(vname);
    if (it == files.volumes.end()) return Invalid("volumeMount \"" + vname + "\": no such volume in the pod");
    std::string src = it->second;
    std::string sub = Str(vm, "subPath");
    if (!sub.empty()) {
      if (!SafeRelPath(sub)) return Invalid("subPath \"" + sub + "\" must be relative without ..");
      src += "/" + sub;
      struct stat st;
      if (stat(src.c_str(), &st) != 0) BERTH_RETURN_IF_ERROR(MakeDirs(src, 0755));
    }
    BindMount m;
    m.source = src;
    m.destination = Str(vm, "mountPath");
    m.read_only = files.read_only_volumes.count(vname) ||
                  (At(vm, "readOnly").is_boolean() && At(vm, "readOnly").get<bool>());
    cfg->mounts.push_back(m);
  }
  bool has = false;
  for (const char* f : {"hosts", "hostname", "resolv.conf"}) {
    for (const auto& m : cfg->mounts) has |= m.destination == std::string("/etc/") + f;
    if (has) continue;
    BindMount m;
    m.source = files.etc_dir + "/" + f;
    m.destination = std::string("/etc/") + f;
    cfg->mounts.push_back(m);
  }
  // /dev/termination-log: the container may write why it ended.
  std::string tl = cfg->dir + "/termination-log";
  WriteFileMode(tl, "", 0666);
  BindMount t;
  t.source = tl;
  t.destination = Str(c, "terminationMessagePath", "/dev/termination-log");
  cfg->mounts.push_back(t);
  return Status::Ok();
}

}  // namespace berth::node
