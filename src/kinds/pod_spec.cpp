// Pod spec defaults, validation and the kubectl STATUS/READY/RESTARTS cells.
// Messages use the apiserver's wording so users recognise them.
#include "kinds/pod_spec.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/validation.h"
#include "core/time.h"
#include "kinds/quantity.h"
#include "kinds/util.h"

namespace berth::kinds {
namespace {

using api::Duplicate;
using api::Forbidden;
using api::InvalidValue;
using api::NotSupported;
using api::Required;

// Every volume source field; exactly one may be set.
const char* const kVolumeSources[] = {"hostPath",
                                      "emptyDir",
                                      "secret",
                                      "configMap",
                                      "persistentVolumeClaim",
                                      "projected",
                                      "downwardAPI",
                                      "csi",
                                      "ephemeral",
                                      "nfs",
                                      "image",
                                      "gcePersistentDisk",
                                      "awsElasticBlockStore",
                                      "gitRepo",
                                      "iscsi",
                                      "glusterfs",
                                      "rbd",
                                      "flexVolume",
                                      "cinder",
                                      "cephfs",
                                      "flocker",
                                      "fc",
                                      "azureFile",
                                      "azureDisk",
                                      "vsphereVolume",
                                      "quobyte",
                                      "photonPersistentDisk",
                                      "portworxVolume",
                                      "scaleIO",
                                      "storageos"};

Cause NotFound(const std::string& field, const Json& value) {
  std::string v = value.is_string() ? Json(value).dump() : value.dump();
  return Cause{"FieldValueNotFound", "Not found: " + v, field};
}

// imagePullPolicy default: Always for ":latest" or untagged (non-digest) images.
std::string DefaultPullPolicy(const std::string& image) {
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "Always";
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void DefaultProbe(Json& p) {
  if (!p.is_object()) return;
  SetDefault(p, "timeoutSeconds", 1);
  SetDefault(p, "periodSeconds", 10);
  SetDefault(p, "successThreshold", 1);
  SetDefault(p, "failureThreshold", 3);
  if (Json* h = p.contains("httpGet") ? &p["httpGet"] : nullptr; h && h->is_object()) {
    if (Str(*h, {"path"}).empty()) (*h)["path"] = "/";
    SetDefault(*h, "scheme", "HTTP");
  }
}

void DefaultHandler(Json& h) {
  if (!h.is_object()) return;
  if (Json* g = h.contains("httpGet") ? &h["httpGet"] : nullptr; g && g->is_object()) {
    if (Str(*g, {"path"}).empty()) (*g)["path"] = "/";
    SetDefault(*g, "scheme", "HTTP");
  }
}

void DefaultContainer(Json& c, bool is_pod, bool host_network) {
  if (!c.is_object()) return;
  SetDefault(c, "terminationMessagePath", "/dev/termination-log");
  SetDefault(c, "terminationMessagePolicy", "File");
  if (Str(c, {"imagePullPolicy"}).empty())
    c["imagePullPolicy"] = DefaultPullPolicy(Str(c, {"image"}));
  ForEach(c, "ports", [&](Json& p) {
    SetDefault(p, "protocol", "TCP");
    if (host_network && !Has(p, {"hostPort"}) && Has(p, {"containerPort"}))
      p["hostPort"] = p["containerPort"];
  });
  ForEach(c, "env", [](Json& e) {
    if (Json* f = const_cast<Json*>(At(e, {"valueFrom", "fieldRef"})); f && f->is_object())
      SetDefault(*f, "apiVersion", "v1");
  });
  for (const char* p : {"livenessProbe", "readinessProbe", "startupProbe"})
    if (c.contains(p)) DefaultProbe(c[p]);
  if (Json* lc = const_cast<Json*>(At(c, {"lifecycle"}))) {
    for (const char* h : {"postStart", "preStop"})
      if (lc->contains(h)) DefaultHandler((*lc)[h]);
  }
  if (is_pod) {
    // A container that states only limits requests exactly its limits.
    const Json* limits = At(c, {"resources", "limits"});
    if (limits && limits->is_object() && !limits->empty()) {
      Json& req = Obj(c, {"resources", "requests"});
      for (const auto& [k, v] : limits->items())
        if (!req.contains(k)) req[k] = v;
    }
  }
}

void DefaultItemsMode(Json& src) { SetDefault(src, "defaultMode", 420); }

void DefaultVolume(Json& v) {
  if (!v.is_object()) return;
  bool any = false;
  for (const char* s : kVolumeSources) any = any || Has(v, {s});
  if (!any) v["emptyDir"] = Json::object();
  for (const char* s : {"secret", "configMap", "downwardAPI", "projected"})
    if (v.contains(s) && v[s].is_object()) DefaultItemsMode(v[s]);
  if (v.contains("hostPath") && v["hostPath"].is_object()) SetDefault(v["hostPath"], "type", "");
  if (Json* p = const_cast<Json*>(At(v, {"projected"}))) {
    ForEach(*p, "sources", [](Json& src) {
      if (Json* t = const_cast<Json*>(At(src, {"serviceAccountToken"})))
        SetDefault(*t, "expirationSeconds", 3600);
      if (Json* d = const_cast<Json*>(At(src, {"downwardAPI"})))
        ForEach(*d, "items", [](Json& it) {
          if (Json* f = const_cast<Json*>(At(it, {"fieldRef"}))) SetDefault(*f, "apiVersion", "v1");
        });
    });
  }
  if (Json* d = const_cast<Json*>(At(v, {"downwardAPI"})))
    ForEach(*d, "items", [](Json& it) {
      if (Json* f = const_cast<Json*>(At(it, {"fieldRef"}))) SetDefault(*f, "apiVersion", "v1");
    });
  if (Json* s = const_cast<Json*>(At(v, {"ephemeral", "volumeClaimTemplate", "spec"})))
    SetDefault(*s, "volumeMode", "Filesystem");
}

// validation.IsValidPortName (IANA_SVC_NAME).
std::vector<std::string> IsValidPortName(const std::string& p) {
  std::vector<std::string> errs;
  if (p.size() > 15) errs.push_back("must be no more than 15 characters");
  bool charset = !p.empty(), letter = false;
  for (char c : p) {
    charset = charset && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    letter = letter || (c >= 'a' && c <= 'z');
  }
  if (!charset)
    errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!letter) errs.push_back("must contain at least one letter (a-z)");
  if (p.find("--") != std::string::npos) errs.push_back("must not contain consecutive hyphens");
  if (!p.empty() && (p.front() == '-' || p.back() == '-'))
    errs.push_back("must not begin or end with a hyphen");
  return errs;
}

void ValidateMode(const Json& src, const char* key, const std::string& path,
                  std::vector<Cause>& causes) {
  const Json* m = At(src, {key});
  if (m && m->is_number_integer() && (m->get<int64_t>() < 0 || m->get<int64_t>() > 0777))
    causes.push_back(InvalidValue(path + "." + key, *m,
                                  "must be a number between 0 and 0777 (octal), both inclusive"));
}

void ValidateKeyToPaths(const Json& src, const std::string& path, std::vector<Cause>& causes) {
  const Json* items = At(src, {"items"});
  if (!items || !items->is_array()) return;
  for (size_t i = 0; i < items->size(); ++i) {
    const Json& it = (*items)[i];
    std::string p = Idx(path + ".items", i);
    if (Str(it, {"key"}).empty()) causes.push_back(Required(p + ".key"));
    std::string rel = Str(it, {"path"});
    if (rel.empty()) {
      causes.push_back(Required(p + ".path"));
    } else if (rel.front() == '/') {
      causes.push_back(InvalidValue(p + ".path", rel, "must be a relative path"));
    } else if (rel == ".." || rel.starts_with("../") || rel.find("/../") != std::string::npos ||
               rel.ends_with("/..")) {
      causes.push_back(InvalidValue(p + ".path", rel, "must not contain '..'"));
    }
    ValidateMode(it, "mode", p, causes);
  }
}

void ValidateVolumes(const Json* vols, const std::string& path, std::set<std::string>& names,
                     std::vector<Cause>& causes) {
  if (!vols || !vols->is_array()) return;
  for (size_t i = 0; i < vols->size(); ++i) {
    const Json& v = (*vols)[i];
    std::string p = Idx(path, i);
    std::string name = Str(v, {"name"});
    if (name.empty()) {
      causes.push_back(Required(p + ".name"));
    } else {
      for (auto& m : api::IsDNS1123Label(name))
        causes.push_back(InvalidValue(p + ".name", name, m));
      if (!names.insert(name).second) causes.push_back(Duplicate(p + ".name", name));
    }
    int count = 0;
    for (const char* s : kVolumeSources) {
      if (!Has(v, {s})) continue;
      if (++count > 1)
        causes.push_back(Forbidden(p + "." + s, "may not specify more than 1 volume type"));
    }
    if (count == 0) causes.push_back(Required(p, "must specify a volume type"));
    if (const Json* h = At(v, {"hostPath"})) {
      if (Str(*h, {"path"}).empty()) causes.push_back(Required(p + ".hostPath.path"));
      static const std::vector<std::string> kTypes = {
          "",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
          "File", "FileOrCreate", "Socket"};
      std::string t = Str(*h, {"type"});
      if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end())
        causes.push_back(NotSupported(p + ".hostPath.type", t, kTypes));
    }
    if (const Json* c = At(v, {"persistentVolumeClaim"}); c && Str(*c, {"claimName"}).empty())
      causes.push_back(Required(p + ".persistentVolumeClaim.claimName"));
    if (const Json* c = At(v, {"configMap"})) {
      ValidateKeyToPaths(*c, p + ".configMap", causes);
      ValidateMode(*c, "defaultMode", p + ".configMap", causes);
    }
    if (const Json* c = At(v, {"secret"})) {
      ValidateKeyToPaths(*c, p + ".secret", causes);
      ValidateMode(*c, "defaultMode", p + ".secret", causes);
    }
    if (const Json* e = At(v, {"emptyDir"})) {
      std::string medium = Str(*e, {"medium"});
      if (!medium.empty() && medium != "Memory" && !medium.starts_with("HugePages"))
        causes.push_back(NotSupported(p + ".emptyDir.medium", medium, {"", "Memory", "HugePages"}));
      if (const Json* sl = At(*e, {"sizeLimit"})) {
        std::string s = sl->is_string() ? sl->get<std::string>() : sl->dump();
        if (!Quantity::Parse(s).ok())
          causes.push_back(InvalidValue(p + ".emptyDir.sizeLimit", s, kQuantityFormatError));
      }
    }
    if (const Json* c = At(v, {"csi"}); c && Str(*c, {"driver"}).empty())
      causes.push_back(Required(p + ".csi.driver"));
    if (const Json* pr = At(v, {"projected"})) {
      ValidateMode(*pr, "defaultMode", p + ".projected", causes);
      if (const Json* srcs = At(*pr, {"sources"}); srcs && srcs->is_array())
        for (size_t j = 0; j < srcs->size(); ++j) {
          const Json& s = (*srcs)[j];
          std::string sp = Idx(p + ".projected.sources", j);
          for (const char* k : {"secret", "configMap"})
            if (const Json* x = At(s, {k})) ValidateKeyToPaths(*x, sp + "." + k, causes);
          if (const Json* t = At(s, {"serviceAccountToken"})) {
            if (Str(*t, {"path"}).empty())
              causes.push_back(Required(sp + ".serviceAccountToken.path"));
            int64_t exp = Int(*t, {"expirationSeconds"}, 3600);
            if (exp < 600)
              causes.push_back(InvalidValue(sp + ".serviceAccountToken.expirationSeconds", exp,
                                            "may not specify a duration less than 10 minutes"));
          }
        }
    }
  }
}

void ValidateProbe(const Json* probe, const std::string& path, bool liveness_like,
                   std::vector<Cause>& causes) {
  if (!probe) return;
  int handlers = 0;
  for (const char* h : {"exec", "httpGet", "tcpSocket", "grpc"}) {
    if (!Has(*probe, {h})) continue;
    if (++handlers > 1)
      causes.push_back(Forbidden(path + "." + h, "may not specify more than 1 handler type"));
  }
  if (handlers == 0) causes.push_back(Required(path, "must specify a handler type"));
  for (const char* k : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                        "successThreshold", "failureThreshold"}) {
    const Json* v = At(*probe, {k});
    if (v && v->is_number() && v->get<int64_t>() < 0)
      causes.push_back(InvalidValue(path + "." + k, *v, "must be greater than or equal to 0"));
  }
  if (liveness_like) {
    const Json* st = At(*probe, {"successThreshold"});
    if (st && st->is_number() && st->get<int64_t>() != 1)
      causes.push_back(InvalidValue(path + ".successThreshold", *st, "must be 1"));
  }
  auto port = [&](const Json* p, const std::string& pp) {
    if (!p) {
      causes.push_back(Required(pp));
    } else if (p->is_number_integer()) {
      for (auto& m : api::IsValidPortNum(p->get<int64_t>()))
        causes.push_back(InvalidValue(pp, *p, m));
    } else if (p->is_string()) {
      for (auto& m : IsValidPortName(p->get<std::string>()))
        causes.push_back(InvalidValue(pp, *p, m));
    }
  };
  if (const Json* h = At(*probe, {"httpGet"})) {
    port(At(*h, {"port"}), path + ".httpGet.port");
    std::string scheme = Str(*h, {"scheme"}, "HTTP");
    if (scheme != "HTTP" && scheme != "HTTPS")
      causes.push_back(NotSupported(path + ".httpGet.scheme", scheme, {"HTTP", "HTTPS"}));
  }
  if (const Json* t = At(*probe, {"tcpSocket"})) port(At(*t, {"port"}), path + ".tcpSocket.port");
  if (const Json* g = At(*probe, {"grpc"})) port(At(*g, {"port"}), path + ".grpc.port");
  if (const Json* e = At(*probe, {"exec"}); e && !Has(*e, {"command"}))
    causes.push_back(Required(path + ".exec.command"));
}

void ValidateEnv(const Json& c, const std::string& path, std::vector<Cause>& causes) {
  const Json* env = At(c, {"env"});
  if (!env || !env->is_array()) return;
  for (size_t i = 0; i < env->size(); ++i) {
    const Json& e = (*env)[i];
    std::string p = Idx(path + ".env", i);
    std::string name = Str(e, {"name"});
    if (name.empty()) {
      causes.push_back(Required(p + ".name"));
    } else {
      bool ok = true;
      for (unsigned char ch : name) ok = ok && ch >= 32 && ch <= 126 && ch != '=';
      if (!ok)
        causes.push_back(InvalidValue(p + ".name", name,
                                      "a valid environment variable name must consist only of "
                                      "printable ASCII characters other than '='"));
    }
    const Json* vf = At(e, {"valueFrom"});
    if (!vf) continue;
    if (!Str(e, {"value"}).empty())
      causes.push_back(
          InvalidValue(p + ".valueFrom", "", "may not be specified when `value` is not empty"));
    int n = 0;
    for (const char* k : {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"})
      n += Has(*vf, {k}) ? 1 : 0;
    if (n == 0) {
      causes.push_back(InvalidValue(p + ".valueFrom", "",
                                    "must specify one of: `fieldRef`, "
                                    "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
    } else if (n > 1) {
      causes.push_back(InvalidValue(p + ".valueFrom", "",
                                    "may not have more than one field specified at a time"));
    }
    for (const char* k : {"configMapKeyRef", "secretKeyRef"}) {
      const Json* r = At(*vf, {k});
      if (!r) continue;
      std::string rp = p + ".valueFrom." + k;
      if (Str(*r, {"name"}).empty()) causes.push_back(Required(rp + ".name"));
      std::string key = Str(*r, {"key"});
      if (key.empty()) {
        causes.push_back(Required(rp + ".key"));
      } else {
        for (auto& m : IsConfigMapKey(key)) causes.push_back(InvalidValue(rp + ".key", key, m));
      }
    }
    if (const Json* f = At(*vf, {"fieldRef"}); f && Str(*f, {"fieldPath"}).empty())
      causes.push_back(Required(p + ".valueFrom.fieldRef.fieldPath"));
    if (const Json* f = At(*vf, {"resourceFieldRef"}); f && Str(*f, {"resource"}).empty())
      causes.push_back(Required(p + ".valueFrom.resourceFieldRef.resource"));
  }
}

void ValidateContainer(const Json& c, const std::string& path, const std::set<std::string>& volumes,
                       bool init, std::vector<Cause>& causes) {
  if (Str(c, {"image"}).empty()) {
    causes.push_back(Required(path + ".image"));
  } else {
    std::string img = Str(c, {"image"});
    if (isspace(static_cast<unsigned char>(img.front())) ||
        isspace(static_cast<unsigned char>(img.back())))
      causes.push_back(
          InvalidValue(path + ".image", img, "must not have leading or trailing whitespace"));
  }
  // Ports.
  if (const Json* ports = At(c, {"ports"}); ports && ports->is_array()) {
    std::set<std::string> port_names;
    for (size_t i = 0; i < ports->size(); ++i) {
      const Json& p = (*ports)[i];
      std::string pp = Idx(path + ".ports", i);
      std::string name = Str(p, {"name"});
      if (!name.empty()) {
        for (auto& m : IsValidPortName(name)) causes.push_back(InvalidValue(pp + ".name", name, m));
        if (!port_names.insert(name).second) causes.push_back(Duplicate(pp + ".name", name));
      }
      int64_t cp = Int(p, {"containerPort"});
      if (cp == 0) {
        causes.push_back(Required(pp + ".containerPort"));
      } else {
        for (auto& m : api::IsValidPortNum(cp))
          causes.push_back(InvalidValue(pp + ".containerPort", cp, m));
      }
      if (int64_t hp = Int(p, {"hostPort"}); hp != 0)
        for (auto& m : api::IsValidPortNum(hp))
          causes.push_back(InvalidValue(pp + ".hostPort", hp, m));
      std::string proto = Str(p, {"protocol"}, "TCP");
      if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
        causes.push_back(NotSupported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
    }
  }
  ValidateEnv(c, path, causes);
  if (const Json* ef = At(c, {"envFrom"}); ef && ef->is_array())
    for (size_t i = 0; i < ef->size(); ++i) {
      const Json& e = (*ef)[i];
      std::string p = Idx(path + ".envFrom", i);
      bool cm = Has(e, {"configMapRef"}), sec = Has(e, {"secretRef"});
      if (cm && sec)
        causes.push_back(
            InvalidValue(p, "", "may not have more than one field specified at a time"));
      if (cm && Str(e, {"configMapRef", "name"}).empty())
        causes.push_back(Required(p + ".configMapRef.name"));
      if (sec && Str(e, {"secretRef", "name"}).empty())
        causes.push_back(Required(p + ".secretRef.name"));
    }
  if (const Json* r = At(c, {"resources"})) ValidateResources(*r, path + ".resources", causes);
  // Volume mounts.
  if (const Json* vms = At(c, {"volumeMounts"}); vms && vms->is_array()) {
    std::set<std::string> paths;
    for (size_t i = 0; i < vms->size(); ++i) {
      const Json& m = (*vms)[i];
      std::string p = Idx(path + ".volumeMounts", i);
      std::string name = Str(m, {"name"}), mp = Str(m, {"mountPath"});
      if (name.empty()) {
        causes.push_back(Required(p + ".name"));
      } else if (!volumes.count(name)) {
        causes.push_back(NotFound(p + ".name", name));
      }
      if (mp.empty()) {
        causes.push_back(Required(p + ".mountPath"));
      } else if (!paths.insert(mp).second) {
        causes.push_back(InvalidValue(p + ".mountPath", mp, "must be unique"));
      }
      std::string sp = Str(m, {"subPath"});
      if (!sp.empty() && sp.front() == '/')
        causes.push_back(InvalidValue(p + ".subPath", sp, "must be a relative path"));
      std::string prop = Str(m, {"mountPropagation"});
      if (!prop.empty() && prop != "None" && prop != "HostToContainer" && prop != "Bidirectional")
        causes.push_back(NotSupported(p + ".mountPropagation", prop,
                                      {"Bidirectional", "HostToContainer", "None"}));
    }
  }
  bool sidecar = init && Str(c, {"restartPolicy"}) == "Always";
  if (!init || sidecar) {
    ValidateProbe(At(c, {"livenessProbe"}), path + ".livenessProbe", true, causes);
    ValidateProbe(At(c, {"readinessProbe"}), path + ".readinessProbe", false, causes);
    ValidateProbe(At(c, {"startupProbe"}), path + ".startupProbe", true, causes);
  } else {
    for (const char* pr : {"livenessProbe", "readinessProbe", "startupProbe"})
      if (Has(c, {pr}))
        causes.push_back(Forbidden(path + "." + pr, "may not be set for init containers"));
  }
  if (!init && Has(c, {"restartPolicy"}))
    causes.push_back(Forbidden(path + ".restartPolicy", "may not be set for non-init containers"));
  else if (init && Has(c, {"restartPolicy"}) && !sidecar)
    causes.push_back(NotSupported(path + ".restartPolicy", Str(c, {"restartPolicy"}), {"Always"}));
  std::string pull = Str(c, {"imagePullPolicy"});
  if (!pull.empty() && pull != "Always" && pull != "IfNotPresent" && pull != "Never")
    causes.push_back(
        NotSupported(path + ".imagePullPolicy", pull, {"Always", "IfNotPresent", "Never"}));
  std::string tmp = Str(c, {"terminationMessagePolicy"});
  if (!tmp.empty() && tmp != "File" && tmp != "FallbackToLogsOnError")
    causes.push_back(
        NotSupported(path + ".terminationMessagePolicy", tmp, {"File", "FallbackToLogsOnError"}));
}

void ValidateTolerations(const Json* tols, const std::string& path, std::vector<Cause>& causes) {
  if (!tols || !tols->is_array()) return;
  for (size_t i = 0; i < tols->size(); ++i) {
    const Json& t = (*tols)[i];
    std::string p = Idx(path, i);
    std::string key = Str(t, {"key"}), op = Str(t, {"operator"}, "Equal"), eff = Str(t, {"effect"});
    if (!key.empty())
      for (auto& m : api::IsQualifiedName(key)) causes.push_back(InvalidValue(p + ".key", key, m));
    if (key.empty() && op != "Exists")
      causes.push_back(InvalidValue(p + ".operator", op,
                                    "operator must be Exists when `key` is empty, which means "
                                    "\"match all values and all keys\""));
    if (op == "Exists" && !Str(t, {"value"}).empty())
      causes.push_back(InvalidValue(p + ".operator", Str(t, {"value"}),
                                    "value must be empty when `operator` is 'Exists'"));
    if (op != "Equal" && op != "Exists")
      causes.push_back(NotSupported(p + ".operator", op, {"Equal", "Exists"}));
    if (!eff.empty() && eff != "NoSchedule" && eff != "PreferNoSchedule" && eff != "NoExecute")
      causes.push_back(
          NotSupported(p + ".effect", eff, {"NoExecute", "NoSchedule", "PreferNoSchedule"}));
  }
}

bool IsStandardContainerResource(const std::string& name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
         name.starts_with("hugepages-") || name.find('/') != std::string::npos;
}

}  // namespace

void DefaultPodSpec(Json& spec, bool is_pod) {
  if (!spec.is_object()) return;
  SetDefault(spec, "restartPolicy", "Always");
  SetDefault(spec, "dnsPolicy", "ClusterFirst");
  SetDefault(spec, "terminationGracePeriodSeconds", 30);
  SetDefault(spec, "securityContext", Json::object());
  SetDefault(spec, "schedulerName", "default-scheduler");
  // The v1 conversion keeps the deprecated serviceAccount mirror in sync.
  std::string sa = Str(spec, {"serviceAccountName"});
  if (sa.empty()) sa = Str(spec, {"serviceAccount"});
  if (sa.empty() && is_pod) sa = "default";  // ServiceAccount admission
  if (!sa.empty()) spec["serviceAccountName"] = spec["serviceAccount"] = sa;
  bool host_net = Bool(spec, {"hostNetwork"});
  ForEach(spec, "containers", [&](Json& c) { DefaultContainer(c, is_pod, host_net && is_pod); });
  ForEach(spec, "initContainers",
          [&](Json& c) { DefaultContainer(c, is_pod, host_net && is_pod); });
  ForEach(spec, "ephemeralContainers", [&](Json& c) { DefaultContainer(c, false, false); });
  ForEach(spec, "volumes", DefaultVolume);
  if (is_pod) SetDefault(spec, "enableServiceLinks", true);
}

void DefaultPodTemplate(Json& tmpl) {
  if (!tmpl.is_object()) return;
  if (tmpl.contains("spec") && tmpl["spec"].is_object()) DefaultPodSpec(tmpl["spec"], false);
}

void ValidateResources(const Json& res, const std::string& path, std::vector<Cause>& causes) {
  std::map<std::string, Quantity> limits;
  for (const char* kind : {"limits", "requests"}) {
    const Json* m = At(res, {kind});
    if (!m || !m->is_object()) continue;
    for (const auto& [name, v] : m->items()) {
      std::string p = path + "." + kind + "[" + name + "]";
      if (!IsStandardContainerResource(name)) {
        causes.push_back(InvalidValue(p, name, "must be a standard resource for containers"));
        continue;
      }
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      auto q = Quantity::Parse(s);
      if (!q.ok()) {
        causes.push_back(InvalidValue(p, s, kQuantityFormatError));
        continue;
      }
      if (q->IsNegative()) {
        causes.push_back(InvalidValue(p, q->ToString(), "must be greater than or equal to 0"));
        continue;
      }
      if (std::string(kind) == "limits") {
        limits.emplace(name, *q);
      } else if (auto l = limits.find(name); l != limits.end() && l->second < *q) {
        causes.push_back(InvalidValue(
            p, q->ToString(),
            "must be less than or equal to " + name + " limit of " + l->second.ToString()));
      }
    }
  }
}

void ValidatePodSpec(const Json& spec, const std::string& path, std::vector<Cause>& causes) {
  if (!spec.is_object()) {
    causes.push_back(Required(path));
    return;
  }
  std::set<std::string> volumes;
  ValidateVolumes(At(spec, {"volumes"}), path + ".volumes", volumes, causes);

  std::set<std::string> names;
  auto check_name = [&](const Json& c, const std::string& p) {
    std::string name = Str(c, {"name"});
    if (name.empty()) {
      causes.push_back(Required(p + ".name"));
      return;
    }
    for (auto& m : api::IsDNS1123Label(name)) causes.push_back(InvalidValue(p + ".name", name, m));
    if (!names.insert(name).second) causes.push_back(Duplicate(p + ".name", name));
  };
  const Json* cs = At(spec, {"containers"});
  if (!cs || !cs->is_array() || cs->empty()) {
    causes.push_back(Required(path + ".containers"));
  }
  if (const Json* ics = At(spec, {"initContainers"}); ics && ics->is_array())
    for (size_t i = 0; i < ics->size(); ++i) {
      std::string p = Idx(path + ".initContainers", i);
      check_name((*ics)[i], p);
      ValidateContainer((*ics)[i], p, volumes, true, causes);
    }
  if (cs && cs->is_array())
    for (size_t i = 0; i < cs->size(); ++i) {
      std::string p = Idx(path + ".containers", i);
      check_name((*cs)[i], p);
      ValidateContainer((*cs)[i], p, volumes, false, causes);
    }

  std::string rp = Str(spec, {"restartPolicy"});
  if (!rp.empty() && rp != "Always" && rp != "OnFailure" && rp != "Never")
    causes.push_back(NotSupported(path + ".restartPolicy", rp, {"Always", "OnFailure", "Never"}));
  std::string dns = Str(spec, {"dnsPolicy"});
  if (!dns.empty() && dns != "ClusterFirstWithHostNet" && dns != "ClusterFirst" &&
      dns != "Default" && dns != "None")
    causes.push_back(NotSupported(path + ".dnsPolicy", dns,
                                  {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}));
  if (dns == "None" && !Has(spec, {"dnsConfig"}))
    causes.push_back(
        Required(path + ".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"));
  if (const Json* ns = At(spec, {"nodeSelector"}); ns && ns->is_object())
    for (const auto& [k, v] : ns->items()) {
      for (auto& m : api::IsQualifiedName(k))
        causes.push_back(InvalidValue(path + ".nodeSelector", k, m));
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& m : api::IsValidLabelValue(s))
        causes.push_back(InvalidValue(path + ".nodeSelector", s, m));
    }
  if (const Json* t = At(spec, {"terminationGracePeriodSeconds"});
      t && t->is_number() && t->get<int64_t>() < 0)
    causes.push_back(InvalidValue(path + ".terminationGracePeriodSeconds", *t,
                                  "must be greater than or equal to 0"));
  if (const Json* t = At(spec, {"activeDeadlineSeconds"});
      t && t->is_number() && t->get<int64_t>() <= 0)
    causes.push_back(InvalidValue(path + ".activeDeadlineSeconds", *t,
                                  "must be between 1 and 2147483647, inclusive"));
  for (const char* k : {"hostname", "subdomain"}) {
    std::string v = Str(spec, {k});
    if (!v.empty())
      for (auto& m : api::IsDNS1123Label(v)) causes.push_back(InvalidValue(path + "." + k, v, m));
  }
  std::string sa = Str(spec, {"serviceAccountName"});
  if (!sa.empty())
    for (auto& m : api::IsDNS1123Subdomain(sa))
      causes.push_back(InvalidValue(path + ".serviceAccountName", sa, m));
  ValidateTolerations(At(spec, {"tolerations"}), path + ".tolerations", causes);
  if (const Json* tsc = At(spec, {"topologySpreadConstraints"}); tsc && tsc->is_array())
    for (size_t i = 0; i < tsc->size(); ++i) {
      const Json& c = (*tsc)[i];
      std::string p = Idx(path + ".topologySpreadConstraints", i);
      if (Int(c, {"maxSkew"}) <= 0)
        causes.push_back(
            InvalidValue(p + ".maxSkew", Int(c, {"maxSkew"}), "must be greater than zero"));
      if (Str(c, {"topologyKey"}).empty())
        causes.push_back(Required(p + ".topologyKey", "can not be empty"));
      std::string wu = Str(c, {"whenUnsatisfiable"});
      if (wu != "DoNotSchedule" && wu != "ScheduleAnyway")
        causes.push_back(
            NotSupported(p + ".whenUnsatisfiable", wu, {"DoNotSchedule", "ScheduleAnyway"}));
    }
  if (const Json* r = At(spec, {"resources"})) ValidateResources(*r, path + ".resources", causes);
}

void ValidatePodTemplate(const Json& tmpl, const std::string& path, std::vector<Cause>& causes) {
  if (!tmpl.is_object()) {
    causes.push_back(Required(path));
    return;
  }
  if (const Json* labels = At(tmpl, {"metadata", "labels"}); labels && labels->is_object())
    for (const auto& [k, v] : labels->items()) {
      for (auto& m : api::IsQualifiedName(k))
        causes.push_back(InvalidValue(path + ".metadata.labels", k, m));
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& m : api::IsValidLabelValue(s))
        causes.push_back(InvalidValue(path + ".metadata.labels", s, m));
    }
  if (const Json* ann = At(tmpl, {"metadata", "annotations"}); ann && ann->is_object())
    for (const auto& [k, v] : ann->items()) {
      std::string lower = k;
      for (char& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
      for (auto& m : api::IsQualifiedName(lower))
        causes.push_back(InvalidValue(path + ".metadata.annotations", k, m));
    }
  const Json* spec = At(tmpl, {"spec"});
  ValidatePodSpec(spec ? *spec : Json(), path + ".spec", causes);
}

void ValidatePodSpecUpdate(const Json& spec, const Json& old_spec, std::vector<Cause>& causes) {
  // Start from the old spec, apply every change that is allowed, and require
  // the result to equal the new spec.
  Json allowed = old_spec;
  for (const char* list : {"containers", "initContainers"}) {
    const Json* nc = At(spec, {list});
    if (!nc || !nc->is_array() || !allowed.contains(list) || !allowed[list].is_array()) continue;
    auto& oc = allowed[list];
    for (size_t i = 0; i < oc.size() && i < nc->size(); ++i)
      if ((*nc)[i].contains("image")) oc[i]["image"] = (*nc)[i]["image"];
  }
  auto copy = [&](const char* k) {
    if (spec.contains(k))
      allowed[k] = spec[k];
    else
      allowed.erase(k);
  };
  copy("activeDeadlineSeconds");
  copy("ephemeralContainers");
  // Bindings write nodeName once; scheduling gates may only be removed.
  if (Str(old_spec, {"nodeName"}).empty()) copy("nodeName");
  copy("schedulingGates");
  if (const Json* ot = At(old_spec, {"tolerations"}); ot && ot->is_array()) {
    const Json* nt = At(spec, {"tolerations"});
    bool superset = nt && nt->is_array();
    for (const auto& t : *ot)
      superset = superset && std::find(nt->begin(), nt->end(), t) != nt->end();
    if (superset) copy("tolerations");
  } else {
    copy("tolerations");
  }
  if (Int(old_spec, {"terminationGracePeriodSeconds"}, 0) < 0 &&
      Int(spec, {"terminationGracePeriodSeconds"}, 0) == 1)
    copy("terminationGracePeriodSeconds");
  if (allowed != spec)
    causes.push_back(Forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)"));
}

namespace {
bool IsSidecar(const Json& pod, const std::string& name) {
  const Json* ics = At(pod, {"spec", "initContainers"});
  if (!ics || !ics->is_array()) return false;
  for (const auto& c : *ics)
    if (Str(c, {"name"}) == name) return Str(c, {"restartPolicy"}) == "Always";
  return false;
}

bool HasTrueCondition(const Json& pod, const std::string& type) {
  const Json* conds = At(pod, {"status", "conditions"});
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : *conds)
    if (Str(c, {"type"}) == type) return Str(c, {"status"}) == "True";
  return false;
}

struct PodSummary {
  std::string reason;
  int64_t ready = 0, total = 0, restarts = 0, last_restart = 0;
};

PodSummary Summarize(const Json& pod) {
  PodSummary s;
  const Json* ctrs = At(pod, {"spec", "containers"});
  s.total = ctrs && ctrs->is_array() ? static_cast<int64_t>(ctrs->size()) : 0;
  s.reason = Str(pod, {"status", "phase"});
  if (!Str(pod, {"status", "reason"}).empty()) s.reason = Str(pod, {"status", "reason"});
  if (const Json* conds = At(pod, {"status", "conditions"}); conds && conds->is_array())
    for (const auto& c : *conds)
      if (Str(c, {"type"}) == "PodScheduled" && Str(c, {"reason"}) == "SchedulingGated")
        s.reason = "SchedulingGated";
  const Json* ics = At(pod, {"spec", "initContainers"});
  size_t n_init = ics && ics->is_array() ? ics->size() : 0;
  if (ics && ics->is_array())
    for (const auto& c : *ics)
      if (Str(c, {"restartPolicy"}) == "Always") ++s.total;

  auto finished_at = [](const Json& st) -> int64_t {
    auto t = ParseRFC3339(Str(st, {"lastState", "terminated", "finishedAt"}));
    return t ? *t : 0;
  };
  int64_t sidecar_restarts = 0, sidecar_last = 0;
  bool initializing = false;
  if (const Json* iss = At(pod, {"status", "initContainerStatuses"}); iss && iss->is_array()) {
    for (size_t i = 0; i < iss->size(); ++i) {
      const Json& st = (*iss)[i];
      int64_t rc = Int(st, {"restartCount"});
      s.restarts += rc;
      s.last_restart = std::max(s.last_restart, finished_at(st));
      bool sidecar = IsSidecar(pod, Str(st, {"name"}));
      if (sidecar) {
        sidecar_restarts += rc;
        sidecar_last = std::max(sidecar_last, finished_at(st));
      }
      const Json* term = At(st, {"state", "terminated"});
      const Json* wait = At(st, {"state", "waiting"});
      if (term && Int(*term, {"exitCode"}) == 0) continue;
      if (sidecar && Bool(st, {"started"})) {
        if (Bool(st, {"ready"})) ++s.ready;
        continue;
      }
      if (term) {
        std::string r = Str(*term, {"reason"});
        if (r.empty()) {
          int64_t sig = Int(*term, {"signal"});
          r = sig ? "Signal:" + std::to_string(sig)
                  : "ExitCode:" + std::to_string(Int(*term, {"exitCode"}));
        }
        s.reason = "Init:" + r;
      } else if (wait && !Str(*wait, {"reason"}).empty() &&
                 Str(*wait, {"reason"}) != "PodInitializing") {
        s.reason = "Init:" + Str(*wait, {"reason"});
      } else {
        s.reason = "Init:" + std::to_string(i) + "/" + std::to_string(n_init);
      }
      initializing = true;
      break;
    }
  }
  if (!initializing || HasTrueCondition(pod, "Initialized")) {
    s.restarts = sidecar_restarts;
    s.last_restart = sidecar_last;
    bool has_running = false;
    if (const Json* css = At(pod, {"status", "containerStatuses"}); css && css->is_array()) {
      for (size_t k = css->size(); k-- > 0;) {
        const Json& st = (*css)[k];
        s.restarts += Int(st, {"restartCount"});
        s.last_restart = std::max(s.last_restart, finished_at(st));
        const Json* term = At(st, {"state", "terminated"});
        const Json* wait = At(st, {"state", "waiting"});
        if (wait && !Str(*wait, {"reason"}).empty()) {
          s.reason = Str(*wait, {"reason"});
        } else if (term && !Str(*term, {"reason"}).empty()) {
          s.reason = Str(*term, {"reason"});
        } else if (term) {
          int64_t sig = Int(*term, {"signal"});
          s.reason = sig ? "Signal:" + std::to_string(sig)
                         : "ExitCode:" + std::to_string(Int(*term, {"exitCode"}));
        } else if (Bool(st, {"ready"}) && Has(st, {"state", "running"})) {
          has_running = true;
          ++s.ready;
        }
      }
    }
    if (s.reason == "Completed" && has_running)
      s.reason = HasTrueCondition(pod, "Ready") ? "Running" : "NotReady";
  }
  std::string phase = Str(pod, {"status", "phase"});
  if (Has(pod, {"metadata", "deletionTimestamp"})) {
    if (Str(pod, {"status", "reason"}) == "NodeLost")
      s.reason = "Unknown";
    else if (phase != "Succeeded" && phase != "Failed")
      s.reason = "Terminating";
  }
  return s;
}
}  // namespace

std::string PodStatusReason(const Json& pod) { return Summarize(pod).reason; }

std::string PodReady(const Json& pod) {
  auto s = Summarize(pod);
  return Ratio(s.ready, s.total);
}

std::string PodRestarts(const Json& pod) {
  auto s = Summarize(pod);
  std::string out = std::to_string(s.restarts);
  if (s.restarts != 0 && s.last_restart != 0)
    out += " (" + HumanDuration(NowSeconds() - s.last_restart) + " ago)";
  return out;
}

}  // namespace berth::kinds
