// core/v1 kinds: Namespace, Pod, Service, Endpoints, ConfigMap, Secret,
// ServiceAccount, Event, Node, PersistentVolume, PersistentVolumeClaim.
// Columns follow kubectl's printers.go; defaults pkg/apis/core/v1/defaults.go;
// validation the common checks of pkg/apis/core/validation.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "api/validation.h"
#include "core/time.h"
#include "kinds/groups.h"
#include "kinds/pod_spec.h"
#include "kinds/quantity.h"
#include "kinds/util.h"

namespace berth::kinds {
namespace {

using api::InvalidValue;
using api::NotSupported;
using api::Required;
using api::TableColumn;
using FieldFn = std::function<std::optional<std::string>(const Json&, const std::string&)>;

constexpr char kCore[] = "io.k8s.api.core.v1";

std::optional<std::string> BoolStr(bool b) { return b ? "true" : "false"; }

// Selectable fields given as field → JSON key path (values read as strings).
FieldFn PathFields(std::vector<std::pair<std::string, std::vector<std::string>>> table) {
  return [table = std::move(table)](const Json& o,
                                    const std::string& f) -> std::optional<std::string> {
    for (const auto& [name, path] : table) {
      if (name != f) continue;
      const Json* cur = &o;
      for (const auto& k : path) {
        if (!cur->is_object() || !cur->contains(k)) return std::string();
        cur = &(*cur)[k];
      }
      if (cur->is_string()) return cur->get<std::string>();
      if (cur->is_boolean()) return BoolStr(cur->get<bool>());
      if (cur->is_null()) return std::string();
      return cur->dump();
    }
    return std::nullopt;
  };
}

// ---- Namespace ----
api::KindInfo Namespace() {
  auto k = MakeKind({"", "v1", "Namespace", "namespaces", "namespace", false, {"ns"}, {}, kCore});
  k.name_rule = "label";
  k.status_subresource = true;
  k.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  k.columns = {Column("Status",
                      [](const Json& o) -> Json {
                        return Str(o, {"status", "phase"});
                      }),
               AgeColumn()};
  k.hooks.defaults = [](Json& o) {
    if (!Has(o, {"spec", "finalizers"})) Obj(o, {"spec"})["finalizers"] = {"kubernetes"};
    SetDefault(Obj(o, {"status"}), "phase", "Active");
    std::string name = Str(o, {"metadata", "name"});
    if (!name.empty()) Obj(o, {"metadata", "labels"})["kubernetes.io/metadata.name"] = name;
  };
  k.hooks.field = PathFields({{"status.phase", {"status", "phase"}}});
  return k;
}

// ---- Pod ----
api::KindInfo Pod() {
  auto k = MakeKind({"", "v1", "Pod", "pods", "pod", true, {"po"}, {"all"}, kCore});
  k.status_subresource = true;
  k.columns = {
      Column(
          "Ready", [](const Json& o) -> Json { return PodReady(o); }, 0, "string",
          "The aggregate readiness state of this pod for accepting traffic."),
      Column(
          "Status", [](const Json& o) -> Json { return PodStatusReason(o); }, 0, "string",
          "The aggregate status of the containers in this pod."),
      Column(
          "Restarts", [](const Json& o) -> Json { return PodRestarts(o); }, 0, "string",
          "The number of times the containers in this pod have been restarted and when the "
          "last container in this pod has restarted."),
      AgeColumn(),
      Column(
          "IP",
          [](const Json& o) -> Json {
            const Json* ips = At(o, {"status", "podIPs"});
            std::string ip = ips && ips->is_array() && !ips->empty() ? Str((*ips)[0], {"ip"}) : "";
            if (ip.empty()) ip = Str(o, {"status", "podIP"});
            return ip.empty() ? "<none>" : ip;
          },
          1, "string", "IP address allocated to the pod."),
      Column(
          "Node",
          [](const Json& o) -> Json {
            return Str(o, {"spec", "nodeName"}, "").empty() ? "<none>"
                                                            : Str(o, {"spec", "nodeName"});
          },
          1, "string", "Name of the Node this pod is assigned to."),
      Column(
          "Nominated Node",
          [](const Json& o) -> Json {
            std::string n = Str(o, {"status", "nominatedNodeName"});
            return n.empty() ? "<none>" : n;
          },
          1, "string", "Name of the node nominated for this pod by preemption."),
      Column(
          "Readiness Gates",
          [](const Json& o) -> Json {
            const Json* gates = At(o, {"spec", "readinessGates"});
            if (!gates || !gates->is_array() || gates->empty()) return "<none>";
            int64_t ok = 0;
            const Json* conds = At(o, {"status", "conditions"});
            for (const auto& g : *gates)
              if (conds && conds->is_array())
                for (const auto& c : *conds)
                  if (Str(c, {"type"}) == Str(g, {"conditionType"})) {
                    if (Str(c, {"status"}) == "True") ++ok;
                    break;
                  }
            return Ratio(ok, static_cast<int64_t>(gates->size()));
          },
          1, "string", "Pod readiness gates."),
  };
  k.hooks.defaults = [](Json& o) {
    if (o.contains("spec") && o["spec"].is_object()) DefaultPodSpec(o["spec"], true);
  };
  k.hooks.prepare_create = [](Json& o) {
    Json& status = Obj(o, {"status"});
    status["phase"] = "Pending";
    // QoS class is derived from the containers' resources at creation.
    bool any = false, guaranteed = true;
    if (const Json* cs = At(o, {"spec", "containers"}); cs && cs->is_array())
      for (const auto& c : *cs) {
        const Json* req = At(c, {"resources", "requests"});
        const Json* lim = At(c, {"resources", "limits"});
        any = any || (req && !req->empty()) || (lim && !lim->empty());
        for (const char* r : {"cpu", "memory"}) {
          const Json* l = lim ? At(*lim, {r}) : nullptr;
          const Json* q = req ? At(*req, {r}) : nullptr;
          if (!l || (q && *q != *l)) guaranteed = false;
        }
      }
    status["qosClass"] = !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
    return Status::Ok();
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    const Json* spec = At(o, {"spec"});
    ValidatePodSpec(spec ? *spec : Json(), "spec", causes);
    if (old && spec) {
      const Json* old_spec = At(*old, {"spec"});
      if (old_spec) ValidatePodSpecUpdate(*spec, *old_spec, causes);
    }
  };
  k.hooks.field = [](const Json& o, const std::string& f) -> std::optional<std::string> {
    if (f == "spec.nodeName") return Str(o, {"spec", "nodeName"});
    if (f == "spec.restartPolicy") return Str(o, {"spec", "restartPolicy"});
    if (f == "spec.schedulerName") return Str(o, {"spec", "schedulerName"});
    if (f == "spec.serviceAccountName") return Str(o, {"spec", "serviceAccountName"});
    if (f == "spec.hostNetwork") return BoolStr(Bool(o, {"spec", "hostNetwork"}));
    if (f == "status.phase") return Str(o, {"status", "phase"});
    if (f == "status.nominatedNodeName") return Str(o, {"status", "nominatedNodeName"});
    if (f == "status.podIP") {
      const Json* ips = At(o, {"status", "podIPs"});
      if (ips && ips->is_array() && !ips->empty()) return Str((*ips)[0], {"ip"});
      return Str(o, {"status", "podIP"});
    }
    return std::nullopt;
  };
  return k;
}

// ---- Service ----
std::string ServiceExternalIP(const Json& o) {
  std::string type = Str(o, {"spec", "type"}, "ClusterIP");
  std::vector<std::string> ext;
  if (const Json* e = At(o, {"spec", "externalIPs"}); e && e->is_array())
    for (const auto& x : *e) ext.push_back(x.get<std::string>());
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  if (type == "ClusterIP" || type == "NodePort") return ext.empty() ? "<none>" : join(ext);
  if (type == "ExternalName") return Str(o, {"spec", "externalName"});
  if (type == "LoadBalancer") {
    std::vector<std::string> ips;
    if (const Json* in = At(o, {"status", "loadBalancer", "ingress"}); in && in->is_array())
      for (const auto& i : *in) {
        if (!Str(i, {"ip"}).empty())
          ips.push_back(Str(i, {"ip"}));
        else if (!Str(i, {"hostname"}).empty())
          ips.push_back(Str(i, {"hostname"}));
      }
    std::string lb = join(ips);
    if (lb.size() > 16) lb = lb.substr(0, 13) + "...";  // non-wide truncation
    if (!ext.empty()) return lb.empty() ? join(ext) : lb + "," + join(ext);
    return lb.empty() ? "<pending>" : lb;
  }
  return "<unknown>";
}

std::string ServicePorts(const Json& o) {
  const Json* ports = At(o, {"spec", "ports"});
  if (!ports || !ports->is_array() || ports->empty()) return "<none>";
  std::string out;
  for (const auto& p : *ports) {
    std::string s = std::to_string(Int(p, {"port"}));
    if (Int(p, {"nodePort"}) > 0) s += ":" + std::to_string(Int(p, {"nodePort"}));
    s += "/" + Str(p, {"protocol"}, "TCP");
    out += (out.empty() ? "" : ",") + s;
  }
  return out;
}

void ValidateService(const Json& o, const Json* old, std::vector<Cause>& causes) {
  static const std::vector<std::string> kTypes = {"ClusterIP", "ExternalName", "LoadBalancer",
                                                  "NodePort"};
  std::string type = Str(o, {"spec", "type"}, "ClusterIP");
  if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    causes.push_back(NotSupported("spec.type", type, kTypes));
  std::string cip = Str(o, {"spec", "clusterIP"});
  const Json* ports = At(o, {"spec", "ports"});
  size_t n = ports && ports->is_array() ? ports->size() : 0;
  if (type == "ExternalName") {
    std::string en = Str(o, {"spec", "externalName"});
    if (en.empty()) {
      causes.push_back(Required("spec.externalName"));
    } else {
      std::string trimmed = en.back() == '.' ? en.substr(0, en.size() - 1) : en;
      for (auto& m : api::IsDNS1123Subdomain(trimmed))
        causes.push_back(InvalidValue("spec.externalName", en, m));
    }
  } else if (n == 0 && cip != "None") {
    causes.push_back(Required("spec.ports"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    const Json& p = (*ports)[i];
    std::string pp = Idx("spec.ports", i);
    std::string name = Str(p, {"name"});
    if (n > 1 && name.empty()) causes.push_back(Required(pp + ".name"));
    if (!name.empty()) {
      for (auto& m : api::IsDNS1123Label(name))
        causes.push_back(InvalidValue(pp + ".name", name, m));
      if (!names.insert(name).second) causes.push_back(api::Duplicate(pp + ".name", name));
    }
    int64_t port = Int(p, {"port"});
    for (auto& m : api::IsValidPortNum(port)) causes.push_back(InvalidValue(pp + ".port", port, m));
    std::string proto = Str(p, {"protocol"}, "TCP");
    if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      causes.push_back(NotSupported(pp + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
    if (const Json* tp = At(p, {"targetPort"})) {
      if (tp->is_number_integer()) {
        for (auto& m : api::IsValidPortNum(tp->get<int64_t>()))
          causes.push_back(InvalidValue(pp + ".targetPort", *tp, m));
      } else if (tp->is_string() && tp->get<std::string>().empty()) {
        causes.push_back(Required(pp + ".targetPort"));
      }
    }
    if (int64_t np = Int(p, {"nodePort"}); np != 0) {
      if (type == "ClusterIP" || type == "ExternalName")
        causes.push_back(
            api::Forbidden(pp + ".nodePort", "may not be used when `type` is '" + type + "'"));
      else
        for (auto& m : api::IsValidPortNum(np))
          causes.push_back(InvalidValue(pp + ".nodePort", np, m));
    }
  }
  std::string aff = Str(o, {"spec", "sessionAffinity"}, "None");
  if (aff != "None" && aff != "ClientIP")
    causes.push_back(NotSupported("spec.sessionAffinity", aff, {"ClientIP", "None"}));
  if (const Json* sel = At(o, {"spec", "selector"}); sel && sel->is_object())
    for (const auto& [key, v] : sel->items()) {
      for (auto& m : api::IsQualifiedName(key))
        causes.push_back(InvalidValue("spec.selector", key, m));
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& m : api::IsValidLabelValue(s))
        causes.push_back(InvalidValue("spec.selector", s, m));
    }
  for (const char* pol : {"externalTrafficPolicy", "internalTrafficPolicy"}) {
    std::string v = Str(o, {"spec", pol});
    if (!v.empty() && v != "Cluster" && v != "Local")
      causes.push_back(NotSupported(std::string("spec.") + pol, v, {"Cluster", "Local"}));
  }
  if (old) {
    std::string old_ip = Str(*old, {"spec", "clusterIP"});
    bool external_name = type == "ExternalName" || Str(*old, {"spec", "type"}) == "ExternalName";
    if (!external_name && !old_ip.empty() && !cip.empty() && cip != old_ip) {
      Json ips =
          Has(o, {"spec", "clusterIPs"}) ? *At(o, {"spec", "clusterIPs"}) : Json::array({cip});
      causes.push_back(InvalidValue("spec.clusterIPs[0]", ips, "may not change once set"));
    }
  }
}

api::KindInfo Service() {
  auto k = MakeKind({"", "v1", "Service", "services", "service", true, {"svc"}, {"all"}, kCore});
  k.name_rule = "dns1035";
  k.status_subresource = true;
  k.columns = {
      StrColumn("Type", {"spec", "type"}, 0,
                "The type of the service (ClusterIP, NodePort, LoadBalancer, ExternalName)."),
      Column(
          "Cluster-IP",
          [](const Json& o) -> Json {
            std::string ip = Str(o, {"spec", "clusterIP"});
            return ip.empty() ? "<none>" : ip;
          },
          0, "string", "The internal IP address of the service."),
      Column(
          "External-IP", [](const Json& o) -> Json { return ServiceExternalIP(o); }, 0, "string",
          "External IP addresses of the service."),
      Column(
          "Port(s)", [](const Json& o) -> Json { return ServicePorts(o); }, 0, "string",
          "The ports exposed by the service."),
      AgeColumn(),
      Column(
          "Selector",
          [](const Json& o) -> Json {
            return FormatLabels(At(o, {"spec", "selector"}));
          },
          1, "string",
          "Route service traffic to pods with label keys and values matching this selector."),
  };
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    SetDefault(spec, "sessionAffinity", "None");
    if (Str(spec, {"sessionAffinity"}) == "None") spec.erase("sessionAffinityConfig");
    if (Str(spec, {"sessionAffinity"}) == "ClientIP" &&
        !Has(spec, {"sessionAffinityConfig", "clientIP", "timeoutSeconds"}))
      Obj(spec, {"sessionAffinityConfig", "clientIP"})["timeoutSeconds"] = 10800;
    SetDefault(spec, "type", "ClusterIP");
    std::string type = Str(spec, {"type"});
    ForEach(spec, "ports", [](Json& p) {
      SetDefault(p, "protocol", "TCP");
      const Json* tp = At(p, {"targetPort"});
      if (!tp || (tp->is_number() && tp->get<int64_t>() == 0) ||
          (tp->is_string() && tp->get<std::string>().empty()))
        if (p.contains("port")) p["targetPort"] = p["port"];
    });
    bool external =
        type == "LoadBalancer" || type == "NodePort" ||
        (type == "ClusterIP" && Has(spec, {"externalIPs"}) && !spec["externalIPs"].empty());
    if (external) SetDefault(spec, "externalTrafficPolicy", "Cluster");
    if (type == "ClusterIP" || type == "NodePort" || type == "LoadBalancer")
      SetDefault(spec, "internalTrafficPolicy", "Cluster");
    if (type == "LoadBalancer") SetDefault(spec, "allocateLoadBalancerNodePorts", true);
    if (!Has(o, {"status"})) o["status"] = {{"loadBalancer", Json::object()}};
  };
  // Cluster IPs and node ports are allocated by kinds/service_alloc.cpp, which
  // needs the store; this hook only fills what follows from them.
  k.hooks.prepare_create = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    if (Str(spec, {"type"}, "ClusterIP") == "ExternalName") return Status::Ok();
    if (!Has(spec, {"clusterIPs"}) && !Str(spec, {"clusterIP"}).empty())
      spec["clusterIPs"] = Json::array({spec["clusterIP"]});
    SetDefault(spec, "ipFamilies", Json::array({"IPv4"}));
    SetDefault(spec, "ipFamilyPolicy", "SingleStack");
    return Status::Ok();
  };
  k.hooks.validate = ValidateService;
  return k;
}

// ---- Endpoints ----
api::KindInfo Endpoints() {
  auto k = MakeKind({"", "v1", "Endpoints", "endpoints", "endpoints", true, {"ep"}, {}, kCore});
  k.columns = {
      Column(
          "Endpoints",
          [](const Json& o) -> Json {
            const Json* subsets = At(o, {"subsets"});
            if (!subsets || !subsets->is_array() || subsets->empty()) return "<none>";
            std::vector<std::string> list;
            size_t count = 0, max = 3;
            bool more = false;
            for (const auto& ss : *subsets) {
              const Json* addrs = At(ss, {"addresses"});
              size_t na = addrs && addrs->is_array() ? addrs->size() : 0;
              const Json* ports = At(ss, {"ports"});
              if (!ports || !ports->is_array() || ports->empty()) {
                count += na;
                for (size_t i = 0; i < na; ++i) {
                  if (list.size() == max) {
                    more = true;
                    break;
                  }
                  list.push_back(Str((*addrs)[i], {"ip"}));
                }
                continue;
              }
              for (const auto& p : *ports) {
                count += na;
                for (size_t i = 0; i < na; ++i) {
                  if (list.size() == max) {
                    more = true;
                    break;
                  }
                  std::string ip = Str((*addrs)[i], {"ip"});
                  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
                  list.push_back(ip + ":" + std::to_string(Int(p, {"port"})));
                }
              }
            }
            std::string out;
            for (const auto& s : list) out += (out.empty() ? "" : ",") + s;
            if (more) out += " + " + std::to_string(count - max) + " more...";
            return out;
          },
          0, "string", "Endpoints of the service."),
      AgeColumn(),
  };
  k.hooks.defaults = [](Json& o) {
    ForEach(o, "subsets", [](Json& ss) {
      ForEach(ss, "ports", [](Json& p) { SetDefault(p, "protocol", "TCP"); });
    });
  };
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    const Json* subsets = At(o, {"subsets"});
    if (!subsets || !subsets->is_array()) return;
    for (size_t i = 0; i < subsets->size(); ++i) {
      std::string p = Idx("subsets", i);
      if (const Json* ps = At((*subsets)[i], {"ports"}); ps && ps->is_array())
        for (size_t j = 0; j < ps->size(); ++j) {
          int64_t port = Int((*ps)[j], {"port"});
          for (auto& m : api::IsValidPortNum(port))
            causes.push_back(InvalidValue(Idx(p + ".ports", j) + ".port", port, m));
        }
      if (const Json* as = At((*subsets)[i], {"addresses"}); as && as->is_array())
        for (size_t j = 0; j < as->size(); ++j)
          if (Str((*as)[j], {"ip"}).empty())
            causes.push_back(Required(Idx(p + ".addresses", j) + ".ip"));
    }
  };
  return k;
}

// ---- ConfigMap / Secret ----
void ValidateDataKeys(const Json& o, const char* field, std::set<std::string>& seen,
                      std::vector<Cause>& causes) {
  const Json* m = At(o, {field});
  if (!m || !m->is_object()) return;
  for (const auto& [key, v] : m->items()) {
    for (auto& msg : IsConfigMapKey(key)) causes.push_back(InvalidValue(field, key, msg));
    if (!seen.insert(key).second) causes.push_back(api::Duplicate(field, key));
  }
}

void ValidateImmutableData(const Json& o, const Json* old, std::vector<Cause>& causes) {
  if (!old || !Bool(*old, {"immutable"})) return;
  if (!Bool(o, {"immutable"}))
    causes.push_back(api::Forbidden("immutable", "field is immutable when `immutable` is set"));
  for (const char* f : {"data", "binaryData", "stringData"}) {
    const Json* a = At(o, {f});
    const Json* b = At(*old, {f});
    if ((a ? *a : Json::object()) != (b ? *b : Json::object()))
      causes.push_back(api::Forbidden(f, "field is immutable when `immutable` is set"));
  }
}

size_t DataSize(const Json& o, const char* field) {
  const Json* m = At(o, {field});
  size_t n = 0;
  if (m && m->is_object())
    for (const auto& [k, v] : m->items())
      n += v.is_string() ? v.get_ref<const std::string&>().size() : 0;
  return n;
}

api::KindInfo ConfigMap() {
  auto k = MakeKind({"", "v1", "ConfigMap", "configmaps", "configmap", true, {"cm"}, {}, kCore});
  k.columns = {Column(
                   "Data",
                   [](const Json& o) -> Json {
                     auto n = [&](const char* f) {
                       const Json* m = At(o, {f});
                       return m && m->is_object() ? m->size() : 0;
                     };
                     return static_cast<int64_t>(n("data") + n("binaryData"));
                   },
                   0, "string", "Number of data in configmap."),
               AgeColumn()};
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    std::set<std::string> seen;
    ValidateDataKeys(o, "data", seen, causes);
    ValidateDataKeys(o, "binaryData", seen, causes);
    if (DataSize(o, "data") + DataSize(o, "binaryData") > 1024 * 1024)
      causes.push_back(api::TooLong("", 1024 * 1024));
    ValidateImmutableData(o, old, causes);
  };
  return k;
}

bool IsBase64(const std::string& s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '=') {
      ++pad;
      if (pad > 2 || i < s.size() - 2) return false;
    } else if (pad || !(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) {
      return false;
    }
  }
  return true;
}

std::string Base64(const std::string& in) {
  static const char* kTab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kTab[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += std::string{kTab[(v >> 18) & 63], kTab[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kTab[(v >> 18) & 63], kTab[(v >> 12) & 63], kTab[(v >> 6) & 63], '='};
  }
  return out;
}

api::KindInfo Secret() {
  auto k = MakeKind({"", "v1", "Secret", "secrets", "secret", true, {}, {}, kCore});
  k.encrypt_at_rest = true;
  k.columns = {StrColumn("Type", {"type"}, 0,
                "The type of the secret."),
               Column(
                   "Data",
                   [](const Json& o) -> Json {
                     const Json* m = At(o, {"data"});
                     return static_cast<int64_t>(m && m->is_object() ? m->size() : 0);
                   },
                   0, "string", "The number of entries in the secret."),
               AgeColumn()};
  k.hooks.defaults = [](Json& o) {
    if (Str(o, {"type"}).empty()) o["type"] = "Opaque";
    // stringData is write-only: the apiserver folds it into data.
    if (const Json* sd = At(o, {"stringData"}); sd && sd->is_object()) {
      Json& data = Obj(o, {"data"});
      for (const auto& [key, v] : sd->items())
        if (v.is_string()) data[key] = Base64(v.get<std::string>());
      o.erase("stringData");
    }
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    std::set<std::string> seen;
    ValidateDataKeys(o, "data", seen, causes);
    if (const Json* d = At(o, {"data"}); d && d->is_object())
      for (const auto& [key, v] : d->items())
        if (!v.is_string() || !IsBase64(v.get<std::string>()))
          causes.push_back(InvalidValue("data[" + key + "]", "<secret contents redacted>",
                                        "illegal base64 data"));
    std::string type = Str(o, {"type"});
    auto require_key = [&](const char* key) {
      const Json* d = At(o, {"data"});
      if (!d || !d->contains(key)) causes.push_back(Required(std::string("data[") + key + "]"));
    };
    if (type == "kubernetes.io/tls") {
      require_key("tls.crt");
      require_key("tls.key");
    } else if (type == "kubernetes.io/dockerconfigjson") {
      require_key(".dockerconfigjson");
    } else if (type == "kubernetes.io/dockercfg") {
      require_key(".dockercfg");
    } else if (type == "kubernetes.io/service-account-token") {
      if (Str(o, {"metadata", "annotations", "kubernetes.io/service-account.name"}).empty())
        causes.push_back(Required("metadata.annotations[kubernetes.io/service-account.name]"));
    }
    if (DataSize(o, "data") > 1024 * 1024 * 4 / 3 + 4)
      causes.push_back(api::TooLong("data", 1024 * 1024));
    if (old && Str(*old, {"type"}) != type)
      causes.push_back(InvalidValue("type", type, "field is immutable"));
    ValidateImmutableData(o, old, causes);
  };
  k.hooks.field = PathFields({{"type", {"type"}}});
  return k;
}

// ---- ServiceAccount ----
api::KindInfo ServiceAccount() {
  auto k = MakeKind(
      {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, {"sa"}, {}, kCore});
  k.columns = {Column(
                   "Secrets",
                   [](const Json& o) -> Json {
                     const Json* s = At(o, {"secrets"});
                     return static_cast<int64_t>(s && s->is_array() ? s->size() : 0);
                   },
                   0, "string",
                   "Secrets is a list of the secrets in the same namespace that pods running using "
                   "this ServiceAccount are allowed to use."),
               AgeColumn()};
  return k;
}

// ---- Event ----
std::string SinceOrUnknown(const Json& o, std::initializer_list<std::string_view> path) {
  return AgeOf(o, path);
}

api::KindInfo Event() {
  auto k = MakeKind({"", "v1", "Event", "events", "event", true, {"ev"}, {}, kCore});
  k.table_name_column = false;  // kubectl prints LAST SEEN first; Name is a wide column
  auto first_seen = [](const Json& o) -> std::string {
    if (Has(o, {"firstTimestamp"})) return SinceOrUnknown(o, {"firstTimestamp"});
    return SinceOrUnknown(o, {"eventTime"});
  };
  k.columns = {
      Column(
          "Last Seen",
          [first_seen](const Json& o) -> Json {
            if (Has(o, {"series", "lastObservedTime"}))
              return SinceOrUnknown(o, {"series", "lastObservedTime"});
            if (Has(o, {"lastTimestamp"})) return SinceOrUnknown(o, {"lastTimestamp"});
            return first_seen(o);
          },
          0, "string", "Time when the event was last seen."),
      StrColumn("Type", {"type"}, 0,
                "Type of this event (Normal, Warning)."),
      StrColumn("Reason", {"reason"}, 0,
                "Short, machine understandable reason for the event."),
      Column(
          "Object",
          [](const Json& o) -> Json {
            std::string kind = Str(o, {"involvedObject", "kind"});
            for (char& c : kind) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
            std::string name = Str(o, {"involvedObject", "name"});
            return name.empty() ? kind : kind + "/" + name;
          },
          0, "string", "The object this event is about."),
      StrColumn("Subobject", {"involvedObject", "fieldPath"}, 1,
                "The part of the object this event is about."),
      Column(
          "Source",
          [](const Json& o) -> Json {
            std::string comp = Str(o, {"source", "component"});
            if (comp.empty()) comp = Str(o, {"reportingComponent"});
            std::string host = Str(o, {"source", "host"});
            if (host.empty()) host = Str(o, {"reportingInstance"});
            if (comp.empty()) return "<unknown>";  // TODO(berth): verify against printers.go
            return host.empty() ? comp : comp + ", " + host;
          },
          1, "string", "The component reporting this event."),
      Column(
          "Message",
          [](const Json& o) -> Json {
            std::string m = Str(o, {"message"});
            size_t b = m.find_first_not_of(" \t\r\n"), e = m.find_last_not_of(" \t\r\n");
            return b == std::string::npos ? "" : m.substr(b, e - b + 1);
          },
          0, "string", "A human-readable description of the status of this operation."),
      Column(
          "First Seen", [first_seen](const Json& o) -> Json { return first_seen(o); }, 1, "string",
          "The first time the event was seen."),
      Column(
          "Count",
          [](const Json& o) -> Json {
            if (Has(o, {"series"})) return Int(o, {"series", "count"});
            int64_t c = Int(o, {"count"});
            return c == 0 ? 1 : c;
          },
          1, "string", "The number of times this event has occurred."),
      StrColumn("Name", {"metadata", "name"}, 1,
                "The name of the event."),
  };
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    std::string ns = Str(o, {"metadata", "namespace"});
    std::string ons = Str(o, {"involvedObject", "namespace"});
    if (!ons.empty() && ons != ns)
      causes.push_back(
          InvalidValue("involvedObject.namespace", ons, "does not match event.namespace"));
    std::string type = Str(o, {"type"});
    if (!type.empty() && type != "Normal" && type != "Warning")
      causes.push_back(NotSupported("type", type, {"Normal", "Warning"}));
  };
  k.hooks.field = PathFields({
      {"involvedObject.kind", {"involvedObject", "kind"}},
      {"involvedObject.namespace", {"involvedObject", "namespace"}},
      {"involvedObject.name", {"involvedObject", "name"}},
      {"involvedObject.uid", {"involvedObject", "uid"}},
      {"involvedObject.apiVersion", {"involvedObject", "apiVersion"}},
      {"involvedObject.resourceVersion", {"involvedObject", "resourceVersion"}},
      {"involvedObject.fieldPath", {"involvedObject", "fieldPath"}},
      {"reason", {"reason"}},
      {"reportingComponent", {"reportingComponent"}},
      {"source", {"source", "component"}},
      {"type", {"type"}},
  });
  return k;
}

// ---- Node ----
std::string NodeAddress(const Json& o, const std::string& type) {
  if (const Json* as = At(o, {"status", "addresses"}); as && as->is_array())
    for (const auto& a : *as)
      if (Str(a, {"type"}) == type) return Str(a, {"address"});
  return "<none>";
}

api::KindInfo Node() {
  auto k = MakeKind({"", "v1", "Node", "nodes", "node", false, {"no"}, {}, kCore});
  k.status_subresource = true;
  auto info = [](const char* f) {
    return [f](const Json& o) -> Json {
      std::string v = Str(o, {"status", "nodeInfo", f});
      return v.empty() ? "<unknown>" : v;
    };
  };
  k.columns = {
      Column(
          "Status",
          [](const Json& o) -> Json {
            std::string s;
            if (const Json* cs = At(o, {"status", "conditions"}); cs && cs->is_array())
              for (const auto& c : *cs)
                if (Str(c, {"type"}) == "Ready")
                  s = Str(c, {"status"}) == "True" ? "Ready" : "NotReady";
            if (s.empty()) s = "Unknown";
            if (Bool(o, {"spec", "unschedulable"})) s += ",SchedulingDisabled";
            return s;
          },
          0, "string", "The status of the node."),
      Column(
          "Roles",
          [](const Json& o) -> Json {
            std::set<std::string> roles;
            if (const Json* ls = At(o, {"metadata", "labels"}); ls && ls->is_object())
              for (const auto& [key, v] : ls->items()) {
                const std::string prefix = "node-role.kubernetes.io/";
                if (key.starts_with(prefix) && key.size() > prefix.size())
                  roles.insert(key.substr(prefix.size()));
                else if (key == "kubernetes.io/role" && v.is_string() &&
                         !v.get<std::string>().empty())
                  roles.insert(v.get<std::string>());
              }
            std::string out;
            for (const auto& r : roles) out += (out.empty() ? "" : ",") + r;
            return out.empty() ? "<none>" : out;
          },
          0, "string", "The roles of the node."),
      AgeColumn(),
      StrColumn("Version", {"status", "nodeInfo", "kubeletVersion"}, 0,
                "Kubelet Version reported by the node."),
      Column(
          "Internal-IP", [](const Json& o) -> Json { return NodeAddress(o, "InternalIP"); }, 1,
          "string", "List of internal IPs."),
      Column(
          "External-IP", [](const Json& o) -> Json { return NodeAddress(o, "ExternalIP"); }, 1,
          "string", "List of external IPs."),
      Column("OS-Image", info("osImage"), 1, "string", "OS image reported by the node."),
      Column("Kernel-Version", info("kernelVersion"), 1, "string",
             "Kernel version reported by the node."),
      Column("Container-Runtime", info("containerRuntimeVersion"), 1, "string",
             "Container runtime version reported by the node."),
  };
  k.hooks.defaults = [](Json& o) {
    // SetDefaults_NodeStatus: allocatable falls back to capacity.
    if (const Json* cap = At(o, {"status", "capacity"}); cap && !Has(o, {"status", "allocatable"}))
      o["status"]["allocatable"] = *cap;
  };
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    if (const Json* ts = At(o, {"spec", "taints"}); ts && ts->is_array())
      for (size_t i = 0; i < ts->size(); ++i) {
        std::string p = Idx("spec.taints", i);
        std::string key = Str((*ts)[i], {"key"}), eff = Str((*ts)[i], {"effect"});
        if (key.empty())
          causes.push_back(Required(p + ".key"));
        else
          for (auto& m : api::IsQualifiedName(key))
            causes.push_back(InvalidValue(p + ".key", key, m));
        if (eff.empty())
          causes.push_back(Required(p + ".effect"));
        else if (eff != "NoSchedule" && eff != "PreferNoSchedule" && eff != "NoExecute")
          causes.push_back(
              NotSupported(p + ".effect", eff, {"NoExecute", "NoSchedule", "PreferNoSchedule"}));
      }
  };
  k.hooks.field = [](const Json& o, const std::string& f) -> std::optional<std::string> {
    if (f == "spec.unschedulable") return BoolStr(Bool(o, {"spec", "unschedulable"}));
    return std::nullopt;
  };
  return k;
}

// ---- PersistentVolume(Claim) ----
std::string AccessModes(const Json* modes) {
  if (!modes || !modes->is_array()) return "";
  auto has = [&](const char* m) {
    return std::find(modes->begin(), modes->end(), Json(m)) != modes->end();
  };
  std::string out;
  for (auto [full, abbr] : {std::pair{"ReadWriteOnce", "RWO"},
                            {"ReadOnlyMany", "ROX"},
                            {"ReadWriteMany", "RWX"},
                            {"ReadWriteOncePod", "RWOP"}})
    if (has(full)) out += (out.empty() ? "" : ",") + std::string(abbr);
  return out;
}

std::string StorageOf(const Json* m) {
  const Json* s = m ? At(*m, {"storage"}) : nullptr;
  if (!s) return "0";
  auto q = Quantity::Parse(s->is_string() ? s->get<std::string>() : s->dump());
  return q.ok() ? q->ToString() : (s->is_string() ? s->get<std::string>() : s->dump());
}

std::string StorageClassOf(const Json& o) {
  std::string c = Str(o, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  return c.empty() ? Str(o, {"spec", "storageClassName"}) : c;
}

std::string Unset(const Json& o, std::initializer_list<std::string_view> path) {
  const Json* v = At(o, path);
  return v && v->is_string() ? v->get<std::string>() : "<unset>";
}

void ValidateAccessModes(const Json& o, const std::string& path, bool required,
                         std::vector<Cause>& causes) {
  static const std::vector<std::string> kModes = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                                  "ReadWriteOncePod"};
  const Json* modes = At(o, {"spec", "accessModes"});
  if (required && (!modes || !modes->is_array() || modes->empty()))
    causes.push_back(Required(path, "at least 1 access mode is required"));
  if (modes && modes->is_array())
    for (const auto& m : *modes)
      if (!m.is_string() ||
          std::find(kModes.begin(), kModes.end(), m.get<std::string>()) == kModes.end())
        causes.push_back(NotSupported(path, m, kModes));
}

void ValidateStorage(const Json* storage, const std::string& path, bool required,
                     std::vector<Cause>& causes) {
  if (!storage) {
    if (required) causes.push_back(Required(path));
    return;
  }
  std::string s = storage->is_string() ? storage->get<std::string>() : storage->dump();
  auto q = Quantity::Parse(s);
  if (!q.ok())
    causes.push_back(InvalidValue(path, s, kQuantityFormatError));
  else if (q->IsNegative() || (required && q->IsZero()))
    causes.push_back(InvalidValue(path, s, "must be greater than zero"));
}

api::KindInfo PersistentVolume() {
  auto k = MakeKind({"",
                     "v1",
                     "PersistentVolume",
                     "persistentvolumes",
                     "persistentvolume",
                     false,
                     {"pv"},
                     {},
                     kCore});
  k.status_subresource = true;
  k.columns = {
      Column(
          "Capacity",
          [](const Json& o) -> Json {
            return StorageOf(At(o, {"spec", "capacity"}));
          },
          0, "string", "The storage capacity of the volume."),
      Column(
          "Access Modes",
          [](const Json& o) -> Json {
            return AccessModes(At(o, {"spec", "accessModes"}));
          },
          0, "string", "How the volume can be mounted."),
      StrColumn("Reclaim Policy", {"spec", "persistentVolumeReclaimPolicy"}, 0,
                "What happens to the volume when released from its claim."),
      Column(
          "Status",
          [](const Json& o) -> Json {
            return Has(o, {"metadata", "deletionTimestamp"}) ? "Terminating"
                                                             : Str(o, {"status", "phase"});
          },
          0, "string", "The phase of the volume."),
      Column(
          "Claim",
          [](const Json& o) -> Json {
            if (!Has(o, {"spec", "claimRef"})) return "";
            return Str(o, {"spec", "claimRef", "namespace"}) + "/" +
                   Str(o, {"spec", "claimRef", "name"});
          },
          0, "string", "The claim bound to the volume."),
      Column(
          "StorageClass", [](const Json& o) -> Json { return StorageClassOf(o); }, 0, "string",
          "The storage class of the volume."),
      Column(
          "VolumeAttributesClass",
          [](const Json& o) -> Json {
            return Unset(o, {"spec", "volumeAttributesClassName"});
          },
          0, "string", "The volume attributes class of the volume."),
      StrColumn("Reason", {"status", "reason"}, 0,
                "Reason for the volume's phase."),
      AgeColumn(),
      Column(
          "VolumeMode",
          [](const Json& o) -> Json {
            return Unset(o, {"spec", "volumeMode"});
          },
          1, "string", "Filesystem or Block."),
  };
  k.hooks.defaults = [](Json& o) {
    Json& spec = Obj(o, {"spec"});
    SetDefault(spec, "persistentVolumeReclaimPolicy", "Retain");
    SetDefault(spec, "volumeMode", "Filesystem");
    SetDefault(Obj(o, {"status"}), "phase", "Pending");
  };
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    ValidateAccessModes(o, "spec.accessModes", true, causes);
    ValidateStorage(At(o, {"spec", "capacity", "storage"}), "spec.capacity", true, causes);
    static const char* kSources[] = {"hostPath",
                                     "local",
                                     "nfs",
                                     "csi",
                                     "gcePersistentDisk",
                                     "awsElasticBlockStore",
                                     "glusterfs",
                                     "rbd",
                                     "iscsi",
                                     "cinder",
                                     "cephfs",
                                     "fc",
                                     "flocker",
                                     "flexVolume",
                                     "azureFile",
                                     "vsphereVolume",
                                     "quobyte",
                                     "azureDisk",
                                     "photonPersistentDisk",
                                     "portworxVolume",
                                     "scaleIO",
                                     "storageos"};
    int n = 0;
    for (const char* s : kSources)
      if (Has(o, {"spec", s}) && ++n > 1)
        causes.push_back(
            api::Forbidden(std::string("spec.") + s, "may not specify more than 1 volume type"));
    if (n == 0) causes.push_back(Required("spec", "must specify a volume type"));
    std::string rp = Str(o, {"spec", "persistentVolumeReclaimPolicy"});
    if (!rp.empty() && rp != "Retain" && rp != "Delete" && rp != "Recycle")
      causes.push_back(
          NotSupported("spec.persistentVolumeReclaimPolicy", rp, {"Delete", "Recycle", "Retain"}));
  };
  return k;
}

api::KindInfo PersistentVolumeClaim() {
  auto k = MakeKind({"",
                     "v1",
                     "PersistentVolumeClaim",
                     "persistentvolumeclaims",
                     "persistentvolumeclaim",
                     true,
                     {"pvc"},
                     {},
                     kCore});
  k.status_subresource = true;
  auto bound = [](const Json& o) { return !Str(o, {"spec", "volumeName"}).empty(); };
  k.columns = {
      Column(
          "Status",
          [](const Json& o) -> Json {
            return Has(o, {"metadata", "deletionTimestamp"}) ? "Terminating"
                                                             : Str(o, {"status", "phase"});
          },
          0, "string", "The phase of the claim."),
      StrColumn("Volume", {"spec", "volumeName"}, 0,
                "The volume bound to the claim."),
      Column(
          "Capacity",
          [bound](const Json& o) -> Json {
            return bound(o) ? StorageOf(At(o, {"status", "capacity"})) : "";
          },
          0, "string", "The capacity of the bound volume."),
      Column(
          "Access Modes",
          [bound](const Json& o) -> Json {
            return bound(o) ? AccessModes(At(o, {"status", "accessModes"})) : "";
          },
          0, "string", "The access modes of the bound volume."),
      Column(
          "StorageClass", [](const Json& o) -> Json { return StorageClassOf(o); }, 0, "string",
          "The storage class of the claim."),
      Column(
          "VolumeAttributesClass",
          [](const Json& o) -> Json {
            return Unset(o, {"spec", "volumeAttributesClassName"});
          },
          0, "string", "The volume attributes class of the claim."),
      AgeColumn(),
      Column(
          "VolumeMode",
          [](const Json& o) -> Json {
            return Unset(o, {"spec", "volumeMode"});
          },
          1, "string", "Filesystem or Block."),
  };
  k.hooks.defaults = [](Json& o) {
    SetDefault(Obj(o, {"spec"}), "volumeMode", "Filesystem");
    SetDefault(Obj(o, {"status"}), "phase", "Pending");
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    ValidateAccessModes(o, "spec.accessModes", true, causes);
    ValidateStorage(At(o, {"spec", "resources", "requests", "storage"}), "spec.resources[storage]",
                    true, causes);
    if (const Json* sel = At(o, {"spec", "selector"}))
      ValidateLabelSelector(*sel, "spec.selector", causes);
    if (old) {
      // Only the storage request (growth) and volumeAttributesClassName are mutable.
      Json a = o.value("spec", Json::object()), b = old->value("spec", Json::object());
      for (Json* s : {&a, &b}) {
        if (s->contains("resources") && (*s)["resources"].is_object())
          (*s)["resources"].erase("requests");
        s->erase("volumeAttributesClassName");
        if (Str(*old, {"spec", "volumeName"}).empty()) s->erase("volumeName");
      }
      if (a != b)
        causes.push_back(
            api::Forbidden("spec",
                           "spec is immutable after creation except resources.requests "
                           "and volumeAttributesClassName for bound claims"));
    }
  };
  return k;
}

}  // namespace

void RegisterCoreV1(api::KindRegistry& reg) {
  for (auto make : {Namespace, Pod, Service, Endpoints, ConfigMap, Secret, ServiceAccount, Event,
                    Node, PersistentVolume, PersistentVolumeClaim})
    reg.Register(make());
}

}  // namespace berth::kinds
