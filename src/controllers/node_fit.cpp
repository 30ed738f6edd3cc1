#include "controllers/node_fit.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controllers/base.h"
#include "core/quantity.h"

namespace berth::controllers {
namespace {

// A quantity at `key` of a resource map, in millis (cpu) or units; 0 when absent
// or unparseable (validation already refused bad quantities).
int64_t Amount(const Json& m, const char* key, bool milli) {
  if (!m.is_object()) return 0;
  auto it = m.find(key);
  if (it == m.end()) return 0;
  std::string s = it->is_string() ? it->get<std::string>() : it->dump();
  auto q = Quantity::Parse(s);
  if (!q.ok()) return 0;
  return milli ? q->MilliValue() : q->Value();
}

Resources FromMap(const Json& m) {
  Resources r;
  r.milli_cpu = Amount(m, "cpu", true);
  r.memory = Amount(m, "memory", false);
  r.ephemeral = Amount(m, "ephemeral-storage", false);
  r.pods = Amount(m, "pods", false);
  return r;
}

Resources Max(const Resources& a, const Resources& b) {
  return {std::max(a.milli_cpu, b.milli_cpu), std::max(a.memory, b.memory),
          std::max(a.ephemeral, b.ephemeral), std::max(a.pods, b.pods)};
}

Resources ContainerRequests(const Json& c) { return FromMap(Field(c, "resources", "requests")); }

// One node selector requirement against a label map (or the node's fields).
bool RequirementMatches(const Json& req, const Json& values_by_key) {
  std::string key = req.value("key", ""), op = req.value("operator", "");
  auto it = values_by_key.is_object() ? values_by_key.find(key) : values_by_key.end();
  bool present = values_by_key.is_object() && it != values_by_key.end() && it->is_string();
  std::string val = present ? it->get<std::string>() : "";
  const Json vals = req.value("values", Json::array());
  auto in = [&] {
    for (const auto& v : vals)
      if (v.is_string() && v.get<std::string>() == val) return true;
    return false;
  };
  if (op == "In") return present && in();
  if (op == "NotIn") return !present || !in();
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || vals.size() != 1 || !vals[0].is_string()) return false;
    char* end = nullptr;
    long long have = std::strtoll(val.c_str(), &end, 10);
    if (*end) return false;
    long long want = std::strtoll(vals[0].get<std::string>().c_str(), &end, 10);
    if (*end) return false;
    return op == "Gt" ? have > want : have < want;
  }
  return false;
}

// A NodeSelectorTerm: its expressions and fields ANDed; an empty term
// matches nothing, as in the apiserver's nodeaffinity helper.
bool TermMatches(const Json& term, const Json& node) {
  const Json& exprs = Field(term, "matchExpressions");
  const Json& fields = Field(term, "matchFields");
  bool any = (exprs.is_array() && !exprs.empty()) || (fields.is_array() && !fields.empty());
  if (!any) return false;
  const Json& labels = Field(node, "metadata", "labels");
  if (exprs.is_array())
    for (const auto& r : exprs)
      if (!RequirementMatches(r, labels)) return false;
  if (fields.is_array()) {
    Json node_fields = {{"metadata.name", node["metadata"].value("name", "")}};
    for (const auto& r : fields)
      if (r.value("key", "") != "metadata.name" || !RequirementMatches(r, node_fields)) return false;
  }
  return true;
}

}  // namespace

Resources& Resources::operator+=(const Resources& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral += o.ephemeral;
  pods += o.pods;
  return *this;
}

Resources PodRequests(const Json& spec) {
  Resources sum;
  const Json& cs = Field(spec, "containers");
  if (cs.is_array())
    for (const auto& c : cs) sum += ContainerRequests(c);
  // Sidecars (restartable init containers) keep running beside the app
  // containers; ordinary init containers run one at a time before them.
  Resources sidecars, init_peak;
  const Json& ics = Field(spec, "initContainers");
  if (ics.is_array())
    for (const auto& c : ics) {
      Resources r = ContainerRequests(c);
      if (c.value("restartPolicy", "") == "Always") {
        sum += r;
        sidecars += r;
        r = sidecars;
      } else {
        r += sidecars;
      }
      init_peak = Max(init_peak, r);
    }
  Resources out = Max(sum, init_peak);
  out += FromMap(Field(spec, "overhead"));
  out.pods = 1;
  return out;
}

Resources NodeAllocatable(const Json& node) {
  const Json& a = Field(node, "status", "allocatable");
  return FromMap(a.is_object() && !a.empty() ? a : Field(node, "status", "capacity"));
}

bool NodeReady(const Json& node) {
  const Json& conds = Field(node, "status", "conditions");
  if (!conds.is_array()) return false;
  for (const auto& c : conds)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

bool Tolerates(const Json& tolerations, const Json& taint) {
  if (!tolerations.is_array()) return false;
  const std::string key = taint.value("key", ""), value = taint.value("value", ""),
                    effect = taint.value("effect", "");
  for (const auto& t : tolerations) {
    std::string te = t.value("effect", "");
    if (!te.empty() && te != effect) continue;
    std::string tk = t.value("key", ""), op = t.value("operator", "Equal");
    // An empty key with Exists tolerates every taint.
    if (tk.empty() && op == "Exists") return true;
    if (tk != key) continue;
    if (op == "Exists") return true;
    if (op == "Equal" && t.value("value", "") == value) return true;
  }
  return false;
}

bool MatchesNodeSelectorAndAffinity(const Json& spec, const Json& node) {
  const Json& sel = Field(spec, "nodeSelector");
  if (sel.is_object()) {
    const Json& labels = Field(node, "metadata", "labels");
    for (auto it = sel.begin(); it != sel.end(); ++it) {
      const Json& l = Field(labels, it.key().c_str());
      if (!l.is_string() || l != *it) return false;
    }
  }
  const Json& req = Field(Field(spec, "affinity", "nodeAffinity"), "requiredDuringSchedulingIgnoredDuringExecution");
  if (req.is_object()) {
    const Json& terms = Field(req, "nodeSelectorTerms");
    if (!terms.is_array()) return true;
    for (const auto& t : terms)
      if (TermMatches(t, node)) return true;
    return false;
  }
  return true;
}

const Json* UntoleratedTaint(const Json& spec, const Json& node, const std::vector<std::string>& effects) {
  const Json& taints = Field(node, "spec", "taints");
  if (!taints.is_array()) return nullptr;
  const Json& tols = Field(spec, "tolerations");
  for (const auto& t : taints) {
    if (std::find(effects.begin(), effects.end(), t.value("effect", "")) == effects.end()) continue;
    if (!Tolerates(tols, t)) return &t;
  }
  return nullptr;
}

std::vector<std::string> FitFailures(const Json& spec, const Resources& req, const Json& node,
                                     const Resources& used) {
  // The default filter plugins in kube-scheduler's order; the first failing
  // plugin names the reason, except resources, which lists each shortfall.
  const Json& tols = Field(spec, "tolerations");
  if (Field(node, "spec", "unschedulable") == Json(true) &&
      !Tolerates(tols, {{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}}))
    return {"node(s) were unschedulable"};
  // A node not reporting Ready carries the not-ready taint in Kubernetes
  // (TaintNodesByCondition); Berth checks the condition itself.
  if (!NodeReady(node) && !Tolerates(tols, {{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}}))
    return {"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"};
  if (const Json* t = UntoleratedTaint(spec, node, {"NoSchedule", "NoExecute"}))
    return {"node(s) had untolerated taint {" + t->value("key", "") + ": " + t->value("value", "") + "}"};
  if (!MatchesNodeSelectorAndAffinity(spec, node)) return {"node(s) didn't match Pod's node affinity/selector"};
  Resources alloc = NodeAllocatable(node);
  std::vector<std::string> out;
  if (used.pods + 1 > alloc.pods) out.push_back("Too many pods");
  if (req.milli_cpu > 0 && used.milli_cpu + req.milli_cpu > alloc.milli_cpu) out.push_back("Insufficient cpu");
  if (req.memory > 0 && used.memory + req.memory > alloc.memory) out.push_back("Insufficient memory");
  if (req.ephemeral > 0 && used.ephemeral + req.ephemeral > alloc.ephemeral)
    out.push_back("Insufficient ephemeral-storage");
  return out;
}

std::string FailedSchedulingMessage(size_t nodes, const std::vector<std::vector<std::string>>& failures) {
  std::map<std::string, int> counts;
  for (const auto& f : failures)
    for (const auto& r : f) ++counts[r];
  std::vector<std::string> parts;
  for (const auto& [reason, n] : counts) parts.push_back(std::to_string(n) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string msg = "0/" + std::to_string(nodes) + " nodes are available";
  if (parts.empty()) return msg + ".";
  msg += ": ";
  for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
  return msg + ".";
}

}  // namespace berth::controllers
