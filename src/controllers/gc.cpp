// Garbage collector: deletes dependents whose owners are gone (background
// propagation), orphans dependents of owners deleted with the "orphan"
// finalizer, and deletes dependents first for the "foregroundDeletion"
// finalizer. An index owner uid → dependents is kept from the watch; before
// deleting anything the owner's absence is confirmed against the store.
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "controllers/kinds.h"
#include "core/log.h"

namespace berth::controllers {
namespace {

struct Node {
  api::KindPtr kind;
  std::string ns, name;
  std::vector<Json> owners;  // ownerReferences
};

bool HasFinalizer(const Json& obj, const std::string& f) {
  const Json& fs = Field(obj, "metadata", "finalizers");
  if (!fs.is_array()) return false;
  for (const auto& x : fs)
    if (x == f) return true;
  return false;
}

class GarbageCollector : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "garbage-collector"; }
  bool Interested(const api::KindInfo& k) const override { return k.kind != "Event"; }

  void Observe(const api::KindInfo& k, const std::string& type, const Json& obj) override {
    std::string uid = Field(obj, "metadata", "uid").is_string() ? obj["metadata"]["uid"].get<std::string>() : "";
    if (uid.empty()) return;
    std::vector<std::string> push;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto old = nodes_.find(uid);
      if (old != nodes_.end())
        for (const auto& o : old->second.owners) {
          auto d = dependents_.find(o.value("uid", ""));
          if (d == dependents_.end()) continue;
          d->second.erase(uid);
          if (d->second.empty()) dependents_.erase(d);
        }
      if (type == "DELETED") {
        nodes_.erase(uid);
        // Its dependents may now be orphans.
        auto d = dependents_.find(uid);
        if (d != dependents_.end())
          for (const auto& dep : d->second) push.push_back(dep);
      } else {
        Node n{KindOf(os_, k.group, k.resource), obj["metadata"].value("namespace", ""),
               obj["metadata"].value("name", ""), {}};
        const Json& refs = Field(obj, "metadata", "ownerReferences");
        if (refs.is_array())
          for (const auto& r : refs) {
            n.owners.push_back(r);
            dependents_[r.value("uid", "")].insert(uid);
          }
        if (!n.owners.empty()) push.push_back(uid);
        if (HasFinalizer(obj, "orphan") || HasFinalizer(obj, "foregroundDeletion")) push.push_back(uid);
        nodes_[uid] = std::move(n);
      }
    }
    for (const auto& p : push) queue().Push(p);
  }

  Status Reconcile(const std::string& uid) override {
    Node n;
    std::set<std::string> deps;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = nodes_.find(uid);
      if (it == nodes_.end()) return Status::Ok();
      n = it->second;
      auto d = dependents_.find(uid);
      if (d != dependents_.end()) deps = d->second;
    }
    if (!n.kind) return Status::Ok();
    auto obj = os_->Get(*n.kind, n.ns, n.name);
    if (!obj.ok()) return obj.status();
    if (obj->value("metadata", Json::object()).value("uid", "") != uid) return Status::Ok();
    if (!Field(*obj, "metadata", "deletionTimestamp").is_null()) {
      if (HasFinalizer(*obj, "orphan")) return Orphan(*n.kind, *obj, uid, deps);
      if (HasFinalizer(*obj, "foregroundDeletion")) return Foreground(*n.kind, *obj, uid, deps);
    }
    return CheckOwners(n, *obj);
  }

 private:
  // Removes the owner's reference from every dependent, then the finalizer.
  Status Orphan(const api::KindInfo& k, const Json& owner, const std::string& uid, const std::set<std::string>& deps) {
    for (const auto& d : deps) {
      Node dn;
      if (!Lookup(d, &dn)) continue;
      auto r = os_->Mutate(*dn.kind, dn.ns, dn.name, [&](Json& o) {
        Json& refs = o["metadata"]["ownerReferences"];
        Json kept = Json::array();
        for (const auto& ref : refs)
          if (ref.value("uid", "") != uid) kept.push_back(ref);
        if (kept.empty()) o["metadata"].erase("ownerReferences");
        else refs = kept;
        return Status::Ok();
      });
      if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    }
    return RemoveFinalizer(k, owner, "orphan");
  }

  // Deletes dependents (foreground, recursively) and waits until none remain.
  Status Foreground(const api::KindInfo& k, const Json& owner, const std::string& uid, const std::set<std::string>& deps) {
    size_t remaining = 0;
    for (const auto& d : deps) {
      Node dn;
      if (!Lookup(d, &dn)) continue;
      auto cur = os_->Get(*dn.kind, dn.ns, dn.name);
      if (!cur.ok()) continue;
      ++remaining;
      if (!Field(*cur, "metadata", "deletionTimestamp").is_null()) continue;
      api::DeleteParams dp;
      dp.propagation = "Foreground";
      os_->Delete(*dn.kind, dn.ns, dn.name, dp, api::WriteOptions{});
    }
    if (remaining > 0) return Status(Code::kUnavailable, "waiting for dependents to be deleted");
    return RemoveFinalizer(k, owner, "foregroundDeletion");
  }

  Status RemoveFinalizer(const api::KindInfo& k, const Json& owner, const std::string& f) {
    auto r = os_->Mutate(k, owner["metadata"].value("namespace", ""), owner["metadata"].value("name", ""),
                         [&](Json& o) {
                           Json kept = Json::array();
                           for (const auto& x : o["metadata"]["finalizers"])
                             if (x != f) kept.push_back(x);
                           if (kept.empty()) o["metadata"].erase("finalizers");
                           else o["metadata"]["finalizers"] = kept;
                           return Status::Ok();
                         });
    return r.ok() || r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  }

  // Deletes an object all of whose owners are gone; drops dangling references
  // when some owner still exists.
  Status CheckOwners(const Node& n, const Json& obj) {
    const Json& refs = Field(obj, "metadata", "ownerReferences");
    if (!refs.is_array() || refs.empty()) return Status::Ok();
    std::vector<std::string> gone;
    for (const auto& r : refs) {
      std::string api_version = r.value("apiVersion", "");
      std::string group, version;
      auto slash = api_version.find('/');
      if (slash == std::string::npos) version = api_version;
      else {
        group = api_version.substr(0, slash);
        version = api_version.substr(slash + 1);
      }
      auto ok = os_->kinds()->FindByKind(group, version, r.value("kind", ""));
      if (!ok) continue;  // unknown owner kind: leave it alone, as k8s does
      auto owner = os_->Get(*ok, ok->namespaced ? n.ns : "", r.value("name", ""));
      if (owner.ok() && (*owner)["metadata"].value("uid", "") == r.value("uid", "")) continue;
      if (!owner.ok() && owner.status().code() != Code::kNotFound) return owner.status();
      gone.push_back(r.value("uid", ""));
    }
    if (gone.empty()) return Status::Ok();
    if (gone.size() == refs.size()) {
      api::DeleteParams dp;
      dp.propagation = "Background";
      dp.precondition_uid = obj["metadata"].value("uid", "");
      auto r = os_->Delete(*n.kind, n.ns, n.name, dp, api::WriteOptions{});
      return r.ok() || r.status().code() == Code::kNotFound || r.status().code() == Code::kConflict ? Status::Ok() : r.status();
    }
    auto r = os_->Mutate(*n.kind, n.ns, n.name, [&](Json& o) {
      Json kept = Json::array();
      for (const auto& ref : o["metadata"]["ownerReferences"])
        if (std::find(gone.begin(), gone.end(), ref.value("uid", "")) == gone.end()) kept.push_back(ref);
      o["metadata"]["ownerReferences"] = kept;
      return Status::Ok();
    });
    return r.ok() || r.status().code() == Code::kNotFound ? Status::Ok() : r.status();
  }

  bool Lookup(const std::string& uid, Node* out) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end() || !it->second.kind) return false;
    *out = it->second;
    return true;
  }

  std::mutex mu_;
  std::map<std::string, Node> nodes_;                       // uid → object
  std::map<std::string, std::set<std::string>> dependents_;  // owner uid → dependent uids
};

}  // namespace

std::unique_ptr<Controller> NewGarbageCollector(api::ObjectStore* os) {
  return std::make_unique<GarbageCollector>(os);
}

}  // namespace berth::controllers
