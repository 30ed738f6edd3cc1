#include "api/patch.h"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace berth {
namespace {

using Path = std::vector<std::string>;

// Far deeper than any Kubernetes object. Every engine below recurses once per
// level, so bounding the depth up front keeps a hostile body off the stack.
constexpr int kMaxDepth = 256;

bool WithinMaxDepth(const Json& doc) {
  std::vector<std::pair<const Json*, int>> stack{{&doc, 1}};  // iterative on purpose
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxDepth) return false;
    if (value->is_structured()) {
      for (const Json& child : *value) stack.emplace_back(&child, depth + 1);
    }
  }
  return true;
}

// Runs one engine with the checks every entry point shares. nlohmann only throws
// on misuse (a bug here, not bad input); it still must not escape the module.
template <class Fn>
Result<Json> Guarded(const Json& original, const Json& patch, Fn&& fn) {
  if (!WithinMaxDepth(original) || !WithinMaxDepth(patch)) {
    return BadRequest("patch or object nests deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  try {
    return fn();
  } catch (const std::exception& e) {
    return Internal(std::string("applying patch: ") + e.what());
  }
}

// A value quoted in an error message; bytes that are not UTF-8 are replaced.
std::string Show(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string Join(const Path& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

// ---------------------------------------------------------------------------
// RFC 6902 JSON patch. Written against RFC 6901 pointers directly rather than
// with nlohmann's patch(): errors then name the failing operation the way the
// apiserver's (evanphx/json-patch) do, and no exception is used for control flow.

struct Pointer {
  std::string text;
  std::vector<std::string> tokens;  // unescaped reference tokens
};

std::optional<Pointer> ParsePointer(const std::string& text) {
  Pointer p{text, {}};
  if (text.empty()) return p;  // the whole document
  if (text[0] != '/') return std::nullopt;
  std::string token;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      p.tokens.push_back(std::move(token));
      token.clear();
    } else if (text[i] != '~') {
      token += text[i];
    } else if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
      token += text[++i] == '0' ? '~' : '/';
    } else {
      return std::nullopt;  // '~' must start "~0" or "~1"
    }
  }
  return p;
}

// RFC 6901 array index: "0" or digits without a leading zero.
std::optional<size_t> ArrayIndex(const std::string& token) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0')) return {};
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {};
  }
  return std::stoul(token);
}

Json* Find(Json& doc, std::span<const std::string> tokens) {
  Json* v = &doc;
  for (const auto& t : tokens) {
    if (v->is_object()) {
      auto it = v->find(t);
      if (it == v->end()) return nullptr;
      v = &*it;
    } else if (auto i = ArrayIndex(t); v->is_array() && i && *i < v->size()) {
      v = &(*v)[*i];
    } else {
      return nullptr;
    }
  }
  return v;
}

// The container holding the pointer's last token; null for the root pointer.
Json* Parent(Json& doc, const Pointer& p) {
  if (p.tokens.empty()) return nullptr;
  return Find(doc, std::span(p.tokens).first(p.tokens.size() - 1));
}

struct Operation {
  enum Kind { kAdd, kRemove, kReplace, kMove, kCopy, kTest } kind;
  Pointer path;
  Pointer from;                 // move and copy
  const Json* value = nullptr;  // add, replace and test
};

// One failed operation: the message becomes the cause of the 422 answer.
using OpError = std::optional<std::string>;

OpError Missing(std::string_view op, const Pointer& p) {
  return std::string(op) + " operation does not apply: doc is missing path: \"" + p.text +
         "\": missing value";
}

OpError Add(Json& doc, const Pointer& p, Json value) {
  if (p.tokens.empty()) {
    doc = std::move(value);
    return {};
  }
  Json* parent = Parent(doc, p);
  const std::string& last = p.tokens.back();
  if (parent && parent->is_object()) {
    (*parent)[last] = std::move(value);
    return {};
  }
  if (parent && parent->is_array()) {
    if (last == "-") {
      parent->push_back(std::move(value));
      return {};
    }
    if (auto i = ArrayIndex(last); i && *i <= parent->size()) {
      parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*i), std::move(value));
      return {};
    }
  }
  return Missing("add", p);
}

OpError Remove(Json& doc, const Pointer& p) {
  Json* parent = Parent(doc, p);
  if (parent && parent->is_object() && parent->erase(p.tokens.back()) == 1) return {};
  if (auto i = parent && parent->is_array() ? ArrayIndex(p.tokens.back()) : std::nullopt;
      i && *i < parent->size()) {
    parent->erase(*i);
    return {};
  }
  return Missing("remove", p);
}

OpError Apply(Json& doc, const Operation& op) {
  switch (op.kind) {
    case Operation::kAdd:
      return Add(doc, op.path, *op.value);
    case Operation::kRemove:
      return Remove(doc, op.path);
    case Operation::kReplace: {
      Json* target = Find(doc, op.path.tokens);
      if (!target) {
        return "replace operation does not apply: doc is missing key: " + op.path.text +
               ": missing value";
      }
      *target = *op.value;
      return {};
    }
    case Operation::kMove:
    case Operation::kCopy: {
      const char* name = op.kind == Operation::kMove ? "move" : "copy";
      Json* source = Find(doc, op.from.tokens);
      if (!source) {
        return std::string(name) +
               " operation does not apply: doc is missing from path: " + op.from.text +
               ": missing value";
      }
      Json value = *source;
      if (op.kind == Operation::kMove) {
        if (op.path.text == op.from.text) return {};
        if (op.path.text.starts_with(op.from.text + "/")) {
          return "move operation does not apply: cannot move " + op.from.text +
                 " into its own child " + op.path.text;
        }
        if (OpError e = Remove(doc, op.from)) return e;
      }
      return Add(doc, op.path, std::move(value));
    }
    case Operation::kTest: {
      const Json* actual = Find(doc, op.path.tokens);
      if (!actual || *actual != *op.value) {
        return "testing value " + op.path.text + " failed: test failed";
      }
      return {};
    }
  }
  return "unknown operation";
}

// Validates the whole operation list before anything is applied, so that a
// malformed patch is always BadRequest whatever the document holds.
Result<std::vector<Operation>> DecodeJsonPatch(const Json& patch) {
  constexpr size_t kMaxOperations = 10000;  // the apiserver's limit
  if (!patch.is_array()) {
    return BadRequest(std::string("json: cannot unmarshal ") + patch.type_name() +
                      " into Go value of type jsonpatch.Patch");
  }
  if (patch.size() > kMaxOperations) {
    return Status(Code::kRequestTooLarge,
                  "The allowed maximum operations in a JSON patch is 10000, got " +
                      std::to_string(patch.size()));
  }
  static const std::pair<const char*, Operation::Kind> kKinds[] = {
      {"add", Operation::kAdd},   {"remove", Operation::kRemove}, {"replace", Operation::kReplace},
      {"move", Operation::kMove}, {"copy", Operation::kCopy},     {"test", Operation::kTest}};
  std::vector<Operation> ops;
  for (size_t i = 0; i < patch.size(); ++i) {
    const Json& raw = patch[i];
    auto bad = [&](const std::string& why) {
      return BadRequest("invalid JSON patch: operation " + std::to_string(i) + ": " + why);
    };
    if (!raw.is_object()) return bad("not an object");
    auto op_it = raw.find("op");
    if (op_it == raw.end() || !op_it->is_string()) return bad("missing \"op\"");
    const auto* kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                                    [&](const auto& k) { return *op_it == k.first; });
    if (kind == std::end(kKinds)) return bad("Unexpected kind: " + op_it->get<std::string>());
    Operation op{kind->second, {}, {}, nullptr};

    auto pointer = [&](const char* member, Pointer& out) -> Status {
      auto it = raw.find(member);
      if (it == raw.end() || !it->is_string()) {
        return bad(std::string("missing \"") + member + "\"");
      }
      auto p = ParsePointer(it->get<std::string>());
      if (!p) return bad("invalid JSON pointer \"" + it->get<std::string>() + "\" in " + member);
      out = std::move(*p);
      return Status::Ok();
    };
    BERTH_RETURN_IF_ERROR(pointer("path", op.path));
    if (op.kind == Operation::kMove || op.kind == Operation::kCopy) {
      BERTH_RETURN_IF_ERROR(pointer("from", op.from));
    }
    if (op.kind == Operation::kAdd || op.kind == Operation::kReplace ||
        op.kind == Operation::kTest) {
      auto it = raw.find("value");
      if (it == raw.end()) return bad("missing \"value\"");
      op.value = &*it;
    }
    if (op.kind == Operation::kRemove && op.path.tokens.empty()) {
      return bad("cannot remove the whole document");
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// ---------------------------------------------------------------------------
// Strategic merge patch and server-side apply share one engine; apply simply
// reads "$" keys as data.

constexpr std::string_view kPatchKey = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool IsDeleteDirective(const Json& v) {
  if (!v.is_object()) return false;
  auto it = v.find(kPatchKey);
  return it != v.end() && *it == "delete";
}

// What identifies a list item: the merge key's value, or for scalar sets the
// item itself. Null when the item has no identity (it then matches nothing).
const Json* Identity(const Json& item, const std::string& merge_key) {
  if (merge_key.empty()) return &item;
  if (!item.is_object()) return nullptr;
  auto it = item.find(merge_key);
  return it == item.end() ? nullptr : &*it;
}

template <class List>
std::ptrdiff_t IndexOf(const List& list, const Json& item, const std::string& merge_key) {
  const Json* id = Identity(item, merge_key);
  if (!id) return -1;
  std::ptrdiff_t i = 0;
  for (const auto& entry : list) {
    const Json* other = Identity(entry, merge_key);
    if (other && *other == *id) return i;
    ++i;
  }
  return -1;
}

// Orders a merged list as the apiserver does: items named by `order` (the
// patch's items, or $setElementOrder) follow that order, the others keep their
// live order, and the two runs are interleaved by live position.
Json OrderList(Json merged, const std::vector<Json>& order, const Json& live,
               const std::string& merge_key) {
  struct Ranked {
    Json value;
    std::ptrdiff_t rank;  // position in `order` (named) or in `live` (the rest)
    std::ptrdiff_t live;
  };
  std::vector<Ranked> named, rest;
  for (Json& v : merged) {
    std::ptrdiff_t in_order = IndexOf(order, v, merge_key);
    std::ptrdiff_t in_live = IndexOf(live, v, merge_key);
    if (in_order >= 0) {
      named.push_back({std::move(v), in_order, in_live});
    } else {
      rest.push_back({std::move(v), in_live, in_live});
    }
  }
  auto by_rank = [](const Ranked& a, const Ranked& b) { return a.rank < b.rank; };
  std::stable_sort(named.begin(), named.end(), by_rank);
  std::stable_sort(rest.begin(), rest.end(), by_rank);
  Json out = Json::array();
  size_t i = 0, j = 0;
  while (i < rest.size() || j < named.size()) {
    bool take_rest = i < rest.size() &&
                     (j == named.size() ||
                      (rest[i].live >= 0 && named[j].live >= 0 && rest[i].live < named[j].live));
    out.push_back(std::move(take_rest ? rest[i++].value : named[j++].value));
  }
  return out;
}

class Merger {
 public:
  Merger(const PatchSchema& schema, bool directives) : schema_(schema), directives_(directives) {}

  // Patches `target` with the object `patch`; a target that is not an object is
  // patched as if it were empty.
  Status MergeObject(Json& target, const Json& patch) {
    if (!target.is_object()) target = Json::object();
    if (!directives_) {
      // Apply names the whole value of a union, so members it omits go.
      if (schema_.RetainKeys(path_)) {
        PruneKeys(target, [&](const std::string& k) { return patch.contains(k); });
      }
    } else {
      if (auto it = patch.find(kPatchKey); it != patch.end()) {
        if (*it == "replace" || *it == "delete") {
          target = Json::object();
          if (*it == "delete") return Status::Ok();  // reached only at the root
        } else if (*it != "merge") {
          return BadRequest("unknown patch type: " + Show(*it) + " in map: " + Show(patch));
        }
      }
      BERTH_RETURN_IF_ERROR(RetainKeys(target, patch));
    }
    // Deletions run before additions so that a value both removed and re-added
    // by one patch ends up present.
    for (const auto& [key, value] : patch.items()) {
      if (directives_ && key.starts_with(kDeleteFromPrimitiveList)) {
        BERTH_RETURN_IF_ERROR(
            DeleteFromList(target, key.substr(kDeleteFromPrimitiveList.size()), value));
      }
    }
    for (const auto& [key, value] : patch.items()) {
      if (directives_ && key.starts_with('$')) {
        BERTH_RETURN_IF_ERROR(OrderOnlyOrUnknown(target, patch, key, value));
      } else {
        BERTH_RETURN_IF_ERROR(MergeField(target, key, value, OrderFor(patch, key)));
      }
    }
    return Status::Ok();
  }

 private:
  // Keeps path_ equal to the field being merged.
  class Descend {
   public:
    Descend(Path& path, const std::string& key) : path_(path) { path_.push_back(key); }
    ~Descend() { path_.pop_back(); }

   private:
    Path& path_;
  };

  template <class Keep>
  static void PruneKeys(Json& target, Keep keep) {
    for (auto it = target.begin(); it != target.end();) {
      it = keep(it.key()) ? std::next(it) : target.erase(it);
    }
  }

  Status RetainKeys(Json& target, const Json& patch) {
    auto it = patch.find(kRetainKeys);
    if (it == patch.end()) return Status::Ok();
    const Json& keep = *it;
    if (!keep.is_array()) return BadRequest("invalid patch format of retainKeys");
    auto kept = [&](const std::string& k) {
      return std::find(keep.begin(), keep.end(), Json(k)) != keep.end();
    };
    // The patch may only set keys it retains; otherwise it contradicts itself.
    for (const auto& [key, value] : patch.items()) {
      if (!value.is_null() && !key.starts_with('$') && !kept(key)) {
        return BadRequest("invalid patch format of retainKeys");
      }
    }
    PruneKeys(target, kept);
    return Status::Ok();
  }

  const Json* OrderFor(const Json& patch, const std::string& key) const {
    if (!directives_) return nullptr;
    auto it = patch.find(std::string(kSetElementOrder) + key);
    return it == patch.end() ? nullptr : &*it;
  }

  // A "$" key met while merging: $setElementOrder without a list next to it
  // reorders the live list; the other known directives were handled already.
  Status OrderOnlyOrUnknown(Json& target, const Json& patch, const std::string& key,
                            const Json& order) {
    if (key == kPatchKey || key == kRetainKeys || key.starts_with(kDeleteFromPrimitiveList)) {
      return Status::Ok();
    }
    if (!key.starts_with(kSetElementOrder)) {
      return BadRequest("unknown strategic merge patch directive \"" + key + "\"");
    }
    std::string field = key.substr(kSetElementOrder.size());
    if (patch.contains(field)) return Status::Ok();  // ordered while merging `field`
    auto it = target.find(field);
    if (it == target.end() || !it->is_array()) return Status::Ok();  // nothing to order
    Descend d(path_, field);
    return MergeList(*it, nullptr, &order);
  }

  Status DeleteFromList(Json& target, const std::string& field, const Json& values) {
    if (!values.is_array()) return BadRequest("invalid patch format of primitive list");
    auto it = target.find(field);
    if (it == target.end() || !it->is_array()) return Status::Ok();
    Json kept = Json::array();
    for (Json& v : *it) {
      if (std::find(values.begin(), values.end(), v) == values.end()) kept.push_back(std::move(v));
    }
    *it = std::move(kept);
    return Status::Ok();
  }

  Status MergeField(Json& target, const std::string& key, const Json& value, const Json* order) {
    Descend d(path_, key);
    if (value.is_null() || (directives_ && IsDeleteDirective(value))) {
      target.erase(key);
      return Status::Ok();
    }
    if (value.is_object()) return MergeObject(target[key], value);
    if (value.is_array()) {
      Json& list = target[key];
      if (!list.is_array()) list = Json::array();
      return MergeList(list, &value, order);
    }
    target[key] = value;
    return Status::Ok();
  }

  // The value a patch item takes when there is nothing to merge it onto: its
  // nulls dropped and its directives resolved.
  Result<Json> Fresh(const Json& item) {
    Json out;
    if (item.is_object()) {
      BERTH_RETURN_IF_ERROR(MergeObject(out, item));
    } else if (item.is_array()) {
      out = Json::array();
      BERTH_RETURN_IF_ERROR(MergeList(out, &item, nullptr));
    } else {
      out = item;
    }
    return out;
  }

  Status NoMergeKey(const Json& item, const std::string& merge_key) {
    return BadRequest("map: " + Show(item) + " does not contain declared merge key: " + merge_key);
  }

  // Patches the list `target` with `patch` (null when only $setElementOrder
  // names the list) and orders it by `order` when given.
  Status MergeList(Json& target, const Json* patch, const Json* order) {
    const ListStrategy strategy = schema_.ForPath(path_);
    const std::string& merge_key = strategy.merge_key;
    const bool by_key = strategy.type == ListStrategy::kMergeByKey;
    if (order && (!order->is_array() ||
                  (by_key && std::any_of(order->begin(), order->end(), [&](const Json& o) {
                     return !Identity(o, merge_key);
                   })))) {
      return BadRequest("invalid patch format of setElementOrder list");
    }

    // Directive items act on the list as a whole and are not items themselves.
    bool replace = strategy.type == ListStrategy::kReplace;
    static const Json kNoItems = Json::array();
    std::vector<Json> items;
    for (const Json& item : patch ? *patch : kNoItems) {
      auto directive = directives_ && item.is_object() ? item.find(kPatchKey) : item.end();
      if (directive == item.end()) {
        items.push_back(item);
      } else if (*directive == "replace") {
        replace = true;
      } else if (*directive == "delete") {
        if (!by_key) {
          return BadRequest("$patch: delete on an item of list " + Join(path_) +
                            ", which has no merge key");
        }
        const Json* id = Identity(item, merge_key);
        if (!id) return NoMergeKey(item, merge_key);
        auto& list = target.get_ref<Json::array_t&>();
        std::erase_if(list, [&](const Json& e) {
          const Json* other = Identity(e, merge_key);
          return other && *other == *id;
        });
      } else if (*directive != "merge") {
        return BadRequest("unknown patch type: " + Show(*directive) + " in map: " + Show(item));
      }
    }

    if (replace) {
      if (!patch) return Status::Ok();  // an order alone never empties a list
      Json out = Json::array();
      for (const Json& item : items) {
        BERTH_ASSIGN_OR_RETURN(Json fresh, Fresh(item));
        out.push_back(std::move(fresh));
      }
      target = std::move(out);
      return Status::Ok();
    }

    const Json live = target;
    if (by_key) {
      for (const Json& item : items) {
        const Json* id = Identity(item, merge_key);
        if (!id) return NoMergeKey(item, merge_key);
        auto match = std::find_if(target.begin(), target.end(), [&](const Json& e) {
          const Json* other = Identity(e, merge_key);
          return other && *other == *id;
        });
        if (match != target.end()) {
          BERTH_RETURN_IF_ERROR(MergeObject(*match, item));
        } else {
          BERTH_ASSIGN_OR_RETURN(Json fresh, Fresh(item));
          target.push_back(std::move(fresh));
        }
      }
    } else {  // a set of scalars: the union, without duplicates
      if (std::any_of(items.begin(), items.end(),
                      [](const Json& v) { return v.is_structured(); })) {
        return BadRequest("cannot merge lists without merge key for " + Join(path_));
      }
      Json merged = Json::array();
      auto add = [&](const Json& v) {
        if (std::find(merged.begin(), merged.end(), v) == merged.end()) merged.push_back(v);
      };
      std::for_each(live.begin(), live.end(), add);
      std::for_each(items.begin(), items.end(), add);
      target = std::move(merged);
    }
    std::vector<Json> order_items = order ? order->get<std::vector<Json>>() : std::move(items);
    target = OrderList(std::move(target), order_items, live, merge_key);
    return Status::Ok();
  }

  const PatchSchema& schema_;
  const bool directives_;
  Path path_;
};

Result<Json> RunMerger(const Json& original, const Json& patch, const PatchSchema& schema,
                       bool directives) {
  if (!patch.is_object()) {
    return BadRequest(directives ? "strategic merge patch must be a JSON object"
                                 : "apply configuration must be a JSON object");
  }
  return Guarded(original, patch, [&]() -> Result<Json> {
    Json out = original.is_object() ? original : Json::object();
    BERTH_RETURN_IF_ERROR(Merger(schema, directives).MergeObject(out, patch));
    return out;
  });
}

// ---------------------------------------------------------------------------
// Built-in schema: the patchStrategy/patchMergeKey tags of k8s.io/api, keyed by
// the field names leading to each list.

class BuiltinSchema final : public PatchSchema {
 public:
  BuiltinSchema() {
    using T = ListStrategy;
    // A pattern matches the tail of a path ("^" anchors it at the root); "a|b"
    // matches either name. Pod specs sit under "spec" in a Pod and in every pod
    // template, so "spec.containers" covers Pods, Deployments, Jobs, CronJobs...
    const std::string kContainers = "containers|initContainers|ephemeralContainers";
    Add("metadata.ownerReferences", T::kMergeByKey, "uid");
    Add("metadata.finalizers", T::kMergeSet);
    // PodSpec.
    Add("spec." + kContainers, T::kMergeByKey, "name");
    Add("spec.volumes", T::kMergeByKey, "name", /*retain_keys=*/true);
    Add("spec.imagePullSecrets", T::kMergeByKey, "name");
    Add("spec.hostAliases", T::kMergeByKey, "ip");
    Add("spec.topologySpreadConstraints", T::kMergeByKey, "topologyKey");
    Add("spec.resourceClaims", T::kMergeByKey, "name", /*retain_keys=*/true);
    Add("spec.schedulingGates", T::kMergeByKey, "name");
    // Container and EphemeralContainer.
    Add(kContainers + ".ports", T::kMergeByKey, "containerPort");
    Add(kContainers + ".env", T::kMergeByKey, "name");
    Add(kContainers + ".volumeMounts", T::kMergeByKey, "mountPath");
    Add(kContainers + ".volumeDevices", T::kMergeByKey, "devicePath");
    // Fields of one kind, anchored at the root.
    Add("^spec.ports", T::kMergeByKey, "port");         // Service
    Add("^spec.podCIDRs", T::kMergeSet);                // Node
    Add("^spec.strategy", T::kReplace, "", true);       // Deployment (a union)
    Add("^secrets", T::kMergeByKey, "name");            // ServiceAccount
    Add("^status.conditions", T::kMergeByKey, "type");  // every kind with conditions
    Add("^status.addresses", T::kMergeByKey, "type");   // Node
    Add("^status.podIPs", T::kMergeByKey, "ip");        // Pod
    Add("^status.hostIPs", T::kMergeByKey, "ip");       // Pod
    Add("^status.resourceClaimStatuses", T::kMergeByKey, "name", true);  // Pod
  }

  ListStrategy ForPath(const Path& path) const override {
    for (const auto& r : rules_) {
      if (r.strategy.type != ListStrategy::kReplace && r.Matches(path)) return r.strategy;
    }
    return {};
  }

  bool RetainKeys(const Path& path) const override {
    return std::any_of(rules_.begin(), rules_.end(),
                       [&](const Rule& r) { return r.retain_keys && r.Matches(path); });
  }

 private:
  struct Rule {
    bool anchored = false;
    std::vector<std::vector<std::string>> segments;  // alternatives per path element
    ListStrategy strategy;
    bool retain_keys = false;

    bool Matches(const Path& path) const {
      if (path.size() < segments.size() || (anchored && path.size() != segments.size())) {
        return false;
      }
      const size_t offset = path.size() - segments.size();
      for (size_t i = 0; i < segments.size(); ++i) {
        const auto& alts = segments[i];
        if (std::find(alts.begin(), alts.end(), path[offset + i]) == alts.end()) return false;
      }
      return true;
    }
  };

  static std::vector<std::string> Split(std::string_view s, char sep) {
    std::vector<std::string> out;
    for (size_t start = 0;;) {
      size_t end = s.find(sep, start);
      out.emplace_back(s.substr(start, end - start));
      if (end == std::string_view::npos) return out;
      start = end + 1;
    }
  }

  void Add(std::string_view pattern, ListStrategy::Type type, std::string key = "",
           bool retain_keys = false) {
    Rule r{pattern.starts_with('^'), {}, {type, std::move(key)}, retain_keys};
    if (r.anchored) pattern.remove_prefix(1);
    for (const auto& segment : Split(pattern, '.')) r.segments.push_back(Split(segment, '|'));
    rules_.push_back(std::move(r));
  }

  std::vector<Rule> rules_;
};

}  // namespace

const PatchSchema& BuiltinPatchSchema() {
  static const BuiltinSchema* schema = new BuiltinSchema();  // never destroyed
  return *schema;
}

Result<Json> ApplyMergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object()) return BadRequest("merge patch must be a JSON object");
  return Guarded(original, patch, [&]() -> Result<Json> {
    Json out = original;
    out.merge_patch(patch);
    return out;
  });
}

Result<Json> ApplyJsonPatch(const Json& original, const Json& patch) {
  return Guarded(original, patch, [&]() -> Result<Json> {
    BERTH_ASSIGN_OR_RETURN(std::vector<Operation> ops, DecodeJsonPatch(patch));
    Json doc = original;
    for (const Operation& op : ops) {
      if (OpError error = Apply(doc, op)) {
        // The apiserver's answer for a patch that does not apply (422).
        return Invalid("the server rejected our request due to an error in our request")
            .AddCause({"UnexpectedServerResponse", *error, ""});
      }
    }
    return doc;
  });
}

Result<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch,
                                      const PatchSchema& schema) {
  return RunMerger(original, patch, schema, /*directives=*/true);
}

Result<Json> ApplyServerSideApply(const Json& live, const Json& applied,
                                  const PatchSchema& schema) {
  return RunMerger(live, applied, schema, /*directives=*/false);
}

}  // namespace berth
