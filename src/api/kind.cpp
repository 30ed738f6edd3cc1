#include "api/kind.h"

#include <nlohmann/json.hpp>

namespace berth::api {
namespace {
std::string Key(const std::string& g, const std::string& v, const std::string& r) {
  return g + "/" + v + "/" + r;
}
}  // namespace

void KindRegistry::Register(KindInfo info) {
  if (info.list_kind.empty()) info.list_kind = info.kind + "List";
  // The key is built before `info` is moved from (C++17 sequences the right
  // side of an assignment first).
  const std::string key = Key(info.group, info.version, info.resource);
  auto ptr = std::make_shared<const KindInfo>(std::move(info));
  std::lock_guard<std::mutex> l(mu_);
  by_resource_[key] = std::move(ptr);
  ++generation_;
}

void KindRegistry::Unregister(const std::string& group, const std::string& version,
                              const std::string& resource) {
  std::lock_guard<std::mutex> l(mu_);
  if (by_resource_.erase(Key(group, version, resource))) ++generation_;
}

KindPtr KindRegistry::Find(const std::string& group, const std::string& version,
                           const std::string& resource) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_resource_.find(Key(group, version, resource));
  return it == by_resource_.end() ? nullptr : it->second;
}

KindPtr KindRegistry::FindByKind(const std::string& group, const std::string& version,
                                 const std::string& kind) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [k, v] : by_resource_)
    if (v->group == group && v->version == version && v->kind == kind) return v;
  return nullptr;
}

std::vector<KindPtr> KindRegistry::All() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<KindPtr> out;
  out.reserve(by_resource_.size());
  for (const auto& [k, v] : by_resource_) out.push_back(v);
  return out;
}

uint64_t KindRegistry::generation() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

void SchemaRegistry::Add(const std::string& name, const Json& schema) {
  auto p = std::make_shared<const Json>(schema);
  std::lock_guard<std::mutex> l(mu_);
  schemas_[name] = std::move(p);
  ++generation_;
}

void SchemaRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  if (schemas_.erase(name)) ++generation_;
}

std::shared_ptr<const Json> SchemaRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : it->second;
}

std::vector<std::string> SchemaRegistry::Names() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : schemas_) out.push_back(k);
  return out;
}

uint64_t SchemaRegistry::generation() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

}  // namespace berth::api
