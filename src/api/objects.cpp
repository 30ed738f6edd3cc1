#include "api/objects.h"

#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/encryption.h"
#include "api/patch.h"
#include "api/schema_check.h"
#include "api/selector.h"
#include "api/validation.h"
#include "core/ids.h"
#include "core/time.h"

namespace berth::api {
namespace {

constexpr int kMaxRetries = 16;

std::string Name(const Json& obj) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return "";
  return m->value("name", "");
}

Json& Meta(Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  return obj["metadata"];
}

// Everything except metadata and status: the part whose change bumps generation.
Json SpecPart(const Json& obj) {
  Json s = obj;
  if (s.is_object()) {
    s.erase("metadata");
    s.erase("status");
    s.erase("apiVersion");
    s.erase("kind");
  }
  return s;
}

bool HasFinalizers(const Json& obj) {
  auto m = obj.find("metadata");
  if (m == obj.end()) return false;
  auto f = m->find("finalizers");
  return f != m->end() && f->is_array() && !f->empty();
}

bool IsDeleting(const Json& obj) {
  auto m = obj.find("metadata");
  return m != obj.end() && m->contains("deletionTimestamp") && !(*m)["deletionTimestamp"].is_null();
}

void AddFinalizer(Json& obj, const std::string& f) {
  Json& m = Meta(obj);
  if (!m.contains("finalizers") || !m["finalizers"].is_array()) m["finalizers"] = Json::array();
  for (const auto& x : m["finalizers"])
    if (x == f) return;
  m["finalizers"].push_back(f);
}

// A body must be an object of the kind the URL names (apiVersion and kind may
// be left out).
Status CheckTypeMeta(const KindInfo& k, const Json& obj) {
  if (!obj.is_object()) return BadRequest("the body of the request was not an object");
  if (obj.contains("apiVersion") && obj["apiVersion"].is_string() && obj["apiVersion"] != k.ApiVersion())
    return BadRequest("the API version in the data (" + obj["apiVersion"].get<std::string>() +
                      ") does not match the expected API version (" + k.ApiVersion() + ")");
  if (obj.contains("kind") && obj["kind"].is_string() && obj["kind"] != k.kind)
    return BadRequest("the kind in the data (" + obj["kind"].get<std::string>() +
                      ") does not match the expected kind (" + k.kind + ")");
  return Status::Ok();
}

struct Selectors {
  std::optional<LabelSelector> labels;
  std::optional<FieldSelector> fields;
};

Result<Selectors> ParseSelectors(const ObjectStore& os, const KindInfo& k, const ListParams& p) {
  Selectors s;
  if (!p.label_selector.empty()) {
    auto ls = LabelSelector::Parse(p.label_selector);
    if (!ls.ok()) return ls.status();
    s.labels = std::move(ls).value();
  }
  if (!p.field_selector.empty()) {
    auto fs = FieldSelector::Parse(p.field_selector);
    if (!fs.ok()) return fs.status();
    // Reject fields the kind does not index, as the apiserver does.
    Json probe = {{"metadata", {{"name", ""}, {"namespace", ""}}}};
    for (const auto& f : fs->Fields())
      if (!os.FieldValue(k, probe, f))
        return BadRequest("field label not supported: " + f);
    s.fields = std::move(fs).value();
  }
  return s;
}

bool Matches(const ObjectStore& os, const KindInfo& k, const Selectors& s, const Json& obj) {
  if (s.labels) {
    static const Json kEmpty = Json::object();
    const Json* labels = &kEmpty;
    auto m = obj.find("metadata");
    if (m != obj.end() && m->contains("labels") && (*m)["labels"].is_object()) labels = &(*m)["labels"];
    if (!s.labels->Matches(*labels)) return false;
  }
  if (s.fields) {
    if (!s.fields->Matches([&](std::string_view f) { return os.FieldValue(k, obj, std::string(f)); })) return false;
  }
  return true;
}

// Continue tokens carry the snapshot revision and the last key returned.
std::string EncodeContinue(int64_t rev, const std::string& key) {
  Json j = {{"v", "meta.k8s.io/v1"}, {"rv", rev}, {"start", key}};
  return Base64Encode(j.dump());
}

Result<std::pair<int64_t, std::string>> DecodeContinue(const std::string& tok) {
  auto raw = Base64Decode(tok);
  if (!raw) return BadRequest("continue key is not valid: illegal base64 data");
  auto j = ParseJson(*raw);
  if (!j.ok() || !j->is_object() || !(*j)["rv"].is_number_integer() || !(*j)["start"].is_string())
    return BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  return std::make_pair((*j)["rv"].get<int64_t>(), (*j)["start"].get<std::string>());
}

Result<int64_t> ParseRV(const std::string& rv) {
  if (rv.empty()) return int64_t{0};
  char* end = nullptr;
  long long v = std::strtoll(rv.c_str(), &end, 10);
  if (!end || *end != '\0' || v < 0) return BadRequest("invalid resource version \"" + rv + "\"");
  return static_cast<int64_t>(v);
}

}  // namespace

Status NotFoundError(const KindInfo& k, const std::string& name) {
  return NotFound(k.QualifiedResource() + " \"" + name + "\" not found");
}
Status AlreadyExistsError(const KindInfo& k, const std::string& name) {
  return AlreadyExists(k.QualifiedResource() + " \"" + name + "\" already exists");
}
Status ConflictError(const KindInfo& k, const std::string& name) {
  return Conflict("Operation cannot be fulfilled on " + k.QualifiedResource() + " \"" + name +
                  "\": the object has been modified; please apply your changes to the latest "
                  "version and try again");
}

struct ObjectStore::Decoded {
  Json object;
  std::string json;
};

// Recent decoded watch events, so N watchers of one change cost one decode and
// one serialisation. Bounded FIFO: entries are only useful for a moment.
struct ObjectStore::DecodeCache {
  static constexpr size_t kMax = 1024;
  std::mutex mu;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const Decoded>> entries;
  std::deque<std::pair<std::string, int64_t>> order;
};

ObjectStore::ObjectStore(store::Store* store, KindRegistry* kinds, SchemaRegistry* schemas,
                         Encryptor* enc)
    : decode_cache_(std::make_shared<DecodeCache>()), store_(store), kinds_(kinds), schemas_(schemas), enc_(enc) {}

std::shared_ptr<const ObjectStore::Decoded> ObjectStore::DecodeShared(const KindInfo& k, const store::KeyValue& kv) {
  auto id = std::make_pair(kv.key, kv.mod_revision);
  {
    std::lock_guard<std::mutex> l(decode_cache_->mu);
    auto it = decode_cache_->entries.find(id);
    if (it != decode_cache_->entries.end()) return it->second;
  }
  auto obj = Decode(k, kv);
  if (!obj.ok()) return nullptr;
  auto d = std::make_shared<Decoded>();
  d->json = obj->dump();
  d->object = std::move(obj).value();
  std::lock_guard<std::mutex> l(decode_cache_->mu);
  auto [it, inserted] = decode_cache_->entries.emplace(id, d);
  if (inserted) {
    decode_cache_->order.push_back(id);
    if (decode_cache_->order.size() > DecodeCache::kMax) {
      decode_cache_->entries.erase(decode_cache_->order.front());
      decode_cache_->order.pop_front();
    }
  }
  return it->second;
}

std::string ObjectStore::Key(const KindInfo& k, const std::string& ns, const std::string& name) const {
  std::string key = "/registry/" + (k.group.empty() ? std::string("core") : k.group) + "/" + k.resource + "/";
  if (k.namespaced && !ns.empty()) key += ns + "/";
  key += name;
  return key;
}

Result<Json> ObjectStore::Decode(const KindInfo& k, const store::KeyValue& kv) const {
  std::string plain;
  if (enc_ && Encryptor::IsEncrypted(kv.value)) {
    auto d = enc_->Decrypt(kv.value);
    if (!d.ok()) return d.status();
    plain = std::move(d).value();
  } else {
    plain = kv.value;
  }
  auto j = ParseJson(plain);
  if (!j.ok()) return Internal("stored object " + kv.key + " is corrupt");
  Json obj = std::move(j).value();
  obj["apiVersion"] = k.ApiVersion();
  obj["kind"] = k.kind;
  Meta(obj)["resourceVersion"] = std::to_string(kv.mod_revision);
  return obj;
}

Result<std::string> ObjectStore::Encode(const KindInfo& k, const Json& obj) const {
  Json copy = obj;
  if (copy.contains("metadata") && copy["metadata"].is_object()) {
    copy["metadata"].erase("resourceVersion");
    copy["metadata"].erase("selfLink");
  }
  std::string s = copy.dump();
  if (k.encrypt_at_rest && enc_) return enc_->Encrypt(s);
  return s;
}

std::optional<std::string> ObjectStore::FieldValue(const KindInfo& k, const Json& obj,
                                                   const std::string& field) const {
  const Json& m = obj.contains("metadata") ? obj["metadata"] : Json::object();
  if (field == "metadata.name") return m.is_object() ? m.value("name", "") : "";
  if (field == "metadata.namespace") return m.is_object() ? m.value("namespace", "") : "";
  if (k.hooks.field) return k.hooks.field(obj, field);
  return std::nullopt;
}

Result<Json> ObjectStore::Get(const KindInfo& k, const std::string& ns, const std::string& name) {
  auto kv = store_->Get(Key(k, ns, name));
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return NotFoundError(k, name);
    return kv.status();
  }
  return Decode(k, *kv);
}

Result<ObjectList> ObjectStore::List(const KindInfo& k, const ListParams& p) {
  auto sel = ParseSelectors(*this, k, p);
  if (!sel.ok()) return sel.status();
  std::string prefix = Key(k, k.namespaced ? p.ns : "", "");
  store::ListOptions lo;
  lo.prefix = prefix;
  if (!p.continue_token.empty()) {
    auto c = DecodeContinue(p.continue_token);
    if (!c.ok()) return c.status();
    lo.revision = c->first;
    lo.start_after = prefix + c->second;
  } else if (!p.resource_version.empty() && p.resource_version != "0") {
    auto rv = ParseRV(p.resource_version);
    if (!rv.ok()) return rv.status();
    // An exact-revision list must be served from history; newer than now is
    // simply "current" for a single server.
    if (*rv < store_->CurrentRevision()) lo.revision = *rv;
  }
  ObjectList out;
  const bool filtered = sel->labels || sel->fields;
  // With selectors, read in pages until `limit` matches are found so a
  // selective list does not return empty pages with a continue token.
  int64_t want = p.limit > 0 ? p.limit : 0;
  for (;;) {
    if (want > 0) lo.limit = filtered ? std::max<int64_t>(want * 2, 64) : want - static_cast<int64_t>(out.items.size());
    auto r = store_->List(lo);
    if (!r.ok()) {
      if (r.status().code() == Code::kGone && !p.continue_token.empty())
        return Gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
      return r.status();
    }
    out.revision = r->revision;
    lo.revision = r->revision;
    std::string last_key;
    bool stopped_early = false;
    for (auto& kv : r->items) {
      last_key = kv.key;
      auto obj = Decode(k, kv);
      if (!obj.ok()) return obj.status();
      if (!Matches(*this, k, *sel, *obj)) continue;
      out.items.push_back(std::move(obj).value());
      if (want > 0 && static_cast<int64_t>(out.items.size()) >= want) {
        stopped_early = (&kv != &r->items.back()) || r->more;
        break;
      }
    }
    if (want > 0 && static_cast<int64_t>(out.items.size()) >= want) {
      if (stopped_early) out.continue_token = EncodeContinue(out.revision, last_key.substr(prefix.size()));
      break;
    }
    if (!r->more) break;
    lo.start_after = last_key;
  }
  return out;
}

Status ObjectStore::CheckNamespace(const KindInfo& k, const std::string& ns, const std::string& name) {
  if (!k.namespaced) return Status::Ok();
  auto nsk = kinds_->Find("", "v1", "namespaces");
  if (!nsk) return Status::Ok();
  auto n = Get(*nsk, "", ns);
  if (!n.ok()) {
    if (n.status().code() == Code::kNotFound) return NotFound("namespaces \"" + ns + "\" not found");
    return n.status();
  }
  if (IsDeleting(*n))
    return Status(Code::kForbidden, k.resource + " \"" + name + "\" is forbidden: unable to create new content in namespace " +
                                        ns + " because it is being terminated");
  return Status::Ok();
}

Status ObjectStore::CheckUnknownFields(const KindInfo& k, Json& obj, const WriteOptions& o) {
  if (k.schema_ref.empty()) return Status::Ok();
  auto schema = schemas_->Get(k.schema_ref);
  if (!schema) return Status::Ok();
  bool strict = o.field_validation == "Strict";
  // Custom resources drop unknown fields (pruning) unless Strict; built-in
  // kinds ignore them as the typed decoder would.
  if (!strict && !k.from_crd) return Status::Ok();
  std::vector<std::string> unknown;
  FindUnknownFields(obj, *schema, *schemas_, unknown, /*prune=*/k.from_crd);
  if (strict && !unknown.empty()) {
    std::string msg = k.kind + " in version \"" + k.version + "\" cannot be handled as a " + k.kind +
                      ": strict decoding error: ";
    for (size_t i = 0; i < unknown.size(); ++i) msg += (i ? ", " : "") + std::string("unknown field \"") + unknown[i] + "\"";
    return BadRequest(msg);
  }
  return Status::Ok();
}

Status ObjectStore::ValidateAll(const KindInfo& k, const Json& obj, const Json* old) {
  std::vector<Cause> causes;
  ValidateObjectMeta(obj, k.namespaced, k.name_rule, causes);
  if (old) {
    const Json& om = (*old)["metadata"];
    const Json& nm = obj["metadata"];
    if (om.value("name", "") != nm.value("name", "")) causes.push_back(Immutable("metadata.name"));
    if (om.value("namespace", "") != nm.value("namespace", "")) causes.push_back(Immutable("metadata.namespace"));
    // A deleting object may drop finalizers but not gain new ones, as in k8s.
    if (IsDeleting(*old) && nm.contains("finalizers") && nm["finalizers"].is_array()) {
      std::string added;
      for (const auto& f : nm["finalizers"]) {
        bool had = false;
        if (om.contains("finalizers") && om["finalizers"].is_array())
          for (const auto& g : om["finalizers"]) had = had || g == f;
        if (!had) added += (added.empty() ? "" : ", ") + f.dump();
      }
      if (!added.empty())
        causes.push_back(Forbidden("metadata.finalizers",
                                   "no new finalizers can be added if the object is being deleted, found new finalizers []string{" +
                                       added + "}"));
    }
  }
  if (k.from_crd && !k.schema_ref.empty()) {
    if (auto schema = schemas_->Get(k.schema_ref)) {
      Json body = obj;
      body.erase("metadata");
      body.erase("apiVersion");
      body.erase("kind");
      ValidateSchema(body, *schema, *schemas_, causes);
    }
  }
  if (k.hooks.validate) k.hooks.validate(obj, old, causes);
  if (causes.empty()) return Status::Ok();
  return InvalidStatus(k.kind, k.group, Name(obj), std::move(causes));
}

Result<Json> ObjectStore::Create(const KindInfo& k, const std::string& ns, Json obj,
                                 const WriteOptions& o) {
  BERTH_RETURN_IF_ERROR(CheckTypeMeta(k, obj));
  BERTH_RETURN_IF_ERROR(CheckUnknownFields(k, obj, o));
  obj["apiVersion"] = k.ApiVersion();
  obj["kind"] = k.kind;
  Json& m = Meta(obj);
  if (k.namespaced) {
    std::string body_ns = m.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns)
      return BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    m["namespace"] = ns;
  } else {
    m.erase("namespace");
  }
  bool generated = false;
  if (m.value("name", "").empty() && m.contains("generateName") && m["generateName"].is_string() &&
      !m["generateName"].get<std::string>().empty()) {
    m["name"] = m["generateName"].get<std::string>() + RandomSuffix(5);
    generated = true;
  }
  m["uid"] = NewUUID();
  m["creationTimestamp"] = FormatRFC3339(NowSeconds());
  m.erase("resourceVersion");
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m.erase("selfLink");
  m.erase("managedFields");
  if (k.track_generation) m["generation"] = 1;
  else m.erase("generation");
  if (k.status_subresource && k.kind != "Node") obj.erase("status");
  if (k.hooks.defaults) k.hooks.defaults(obj);
  if (k.hooks.prepare_create) BERTH_RETURN_IF_ERROR(k.hooks.prepare_create(obj));
  BERTH_RETURN_IF_ERROR(ValidateAll(k, obj, nullptr));
  BERTH_RETURN_IF_ERROR(CheckNamespace(k, ns, Name(obj)));
  std::string name = Name(obj);
  if (o.dry_run) {
    auto existing = store_->Get(Key(k, ns, name));
    if (existing.ok()) return AlreadyExistsError(k, name);
    return obj;
  }
  for (int attempt = 0;; ++attempt) {
    auto enc = Encode(k, obj);
    if (!enc.ok()) return enc.status();
    auto w = store_->Create(Key(k, ns, name), *enc);
    if (w.ok()) {
      Meta(obj)["resourceVersion"] = std::to_string(w->revision);
      if (k.hooks.after_write) k.hooks.after_write("create", obj);
      return obj;
    }
    if (w.status().code() != Code::kAlreadyExists) return w.status();
    if (!generated || attempt >= 8) return AlreadyExistsError(k, name);
    name = Meta(obj)["generateName"].get<std::string>() + RandomSuffix(5);
    Meta(obj)["name"] = name;
  }
}

Result<Json> ObjectStore::Commit(const KindInfo& k, const Json& old, Json next, int64_t rev, bool dry_run) {
  const std::string ns = next["metadata"].value("namespace", "");
  const std::string name = Name(next);
  bool ns_finalizers = false;
  if (k.kind == "Namespace" && k.group.empty()) {
    auto sp = next.find("spec");
    ns_finalizers = sp != next.end() && sp->contains("finalizers") && (*sp)["finalizers"].is_array() &&
                    !(*sp)["finalizers"].empty();
  }
  // An update that leaves a deleted object without finalizers completes the
  // deletion, unless a graceful deletion is still running (a pod whose node
  // is stopping it: deletionGracePeriodSeconds > 0 until the node deletes it
  // with grace 0), as Kubernetes' ShouldDeleteDuringUpdate decides.
  const Json& old_md = old.is_object() && old.contains("metadata") ? old["metadata"] : Json();
  bool grace_pending = old_md.is_object() && old_md.contains("deletionGracePeriodSeconds") &&
                       old_md["deletionGracePeriodSeconds"].is_number_integer() &&
                       old_md["deletionGracePeriodSeconds"].get<int64_t>() > 0;
  if (IsDeleting(next) && !HasFinalizers(next) && !ns_finalizers && !grace_pending) {
    if (dry_run) return next;
    auto d = store_->Delete(Key(k, ns, name), rev);
    if (!d.ok()) return d.status();
    Meta(next)["resourceVersion"] = std::to_string(d->revision);
    if (k.hooks.after_write) k.hooks.after_write("delete", next);
    return next;
  }
  if (dry_run) return next;
  auto enc = Encode(k, next);
  if (!enc.ok()) return enc.status();
  auto w = store_->Update(Key(k, ns, name), *enc, rev);
  if (!w.ok()) return w.status();
  Meta(next)["resourceVersion"] = std::to_string(w->revision);
  if (k.hooks.after_write) k.hooks.after_write("update", next);
  return next;
}

Result<Json> ObjectStore::UpdateOnce(const KindInfo& k, const std::string& ns, const std::string& name,
                                     Json obj, const WriteOptions& o, Subresource sub,
                                     bool* retryable) {
  *retryable = false;
  auto kv = store_->Get(Key(k, ns, name));
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return NotFoundError(k, name);
    return kv.status();
  }
  auto cur = Decode(k, *kv);
  if (!cur.ok()) return cur.status();
  Json& old = *cur;
  std::string want_rv = obj["metadata"].value("resourceVersion", "");
  if (!want_rv.empty() && want_rv != std::to_string(kv->mod_revision)) return ConflictError(k, name);
  *retryable = want_rv.empty();

  Json next;
  if (sub == Subresource::kStatus) {
    next = old;
    if (obj.contains("status")) next["status"] = obj["status"];
    else next.erase("status");
  } else if (sub == Subresource::kFinalize) {
    next = old;
    if (obj.contains("spec") && obj["spec"].is_object() && obj["spec"].contains("finalizers"))
      next["spec"]["finalizers"] = obj["spec"]["finalizers"];
    else  // empty, not absent: the Namespace defaults would put "kubernetes" back
      next["spec"]["finalizers"] = Json::array();
  } else {
    next = std::move(obj);
    if (k.status_subresource) {
      if (old.contains("status")) next["status"] = old["status"];
      else next.erase("status");
    }
    Json& nm = Meta(next);
    const Json& om = old["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
      if (om.contains(f)) nm[f] = om[f];
      else nm.erase(f);
    }
    nm.erase("managedFields");
    nm.erase("selfLink");
    if (k.namespaced) nm["namespace"] = ns;
    if (!nm.contains("name")) nm["name"] = name;
    // A deleting object may drop finalizers but not gain new ones, as in k8s.
  }
  next["apiVersion"] = k.ApiVersion();
  next["kind"] = k.kind;
  if (sub == Subresource::kMain && k.hooks.prepare_update) k.hooks.prepare_update(next, old);
  if (k.hooks.defaults) k.hooks.defaults(next);
  BERTH_RETURN_IF_ERROR(ValidateAll(k, next, &old));

  if (k.track_generation && SpecPart(next) != SpecPart(old)) {
    Meta(next)["generation"] = old["metadata"].value("generation", int64_t{1}) + 1;
  }
  Meta(next)["resourceVersion"] = std::to_string(kv->mod_revision);
  if (next == old) return old;  // no-op: no write, no new revision
  return Commit(k, old, std::move(next), kv->mod_revision, o.dry_run);
}

Result<Json> ObjectStore::Update(const KindInfo& k, const std::string& ns, const std::string& name,
                                 Json obj, const WriteOptions& o, Subresource sub) {
  BERTH_RETURN_IF_ERROR(CheckTypeMeta(k, obj));
  Json& m = Meta(obj);
  std::string body_name = m.value("name", "");
  if (!body_name.empty() && body_name != name)
    return BadRequest("the name of the object (" + body_name + ") does not match the name on the URL (" + name + ")");
  if (k.namespaced) {
    std::string body_ns = m.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns)
      return BadRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  if (sub == Subresource::kMain) BERTH_RETURN_IF_ERROR(CheckUnknownFields(k, obj, o));
  for (int i = 0; i < kMaxRetries; ++i) {
    bool retryable = false;
    auto r = UpdateOnce(k, ns, name, obj, o, sub, &retryable);
    if (r.ok() || r.status().code() != Code::kConflict || !retryable) {
      if (!r.ok() && r.status().code() == Code::kConflict) return ConflictError(k, name);
      return r;
    }
  }
  return ConflictError(k, name);
}

Result<std::pair<Json, bool>> ObjectStore::Patch(const KindInfo& k, const std::string& ns,
                                                 const std::string& name, PatchType type,
                                                 const std::string& body, const WriteOptions& o,
                                                 Subresource sub) {
  Json patch;
  if (type == PatchType::kApply) {
    auto j = ParseYamlOrJson(body);
    if (!j.ok()) return j.status();
    patch = std::move(j).value();
  } else {
    auto j = ParseJson(body);
    if (!j.ok()) return j.status();
    patch = std::move(j).value();
  }
  if (type != PatchType::kJson && !patch.is_object())
    return BadRequest("the body of the request was not a JSON object");
  if (type == PatchType::kStrategic && k.from_crd)
    return Status(Code::kUnsupportedMediaType,
                  "the body of the request was in an unknown format - accepted media types include: "
                  "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  for (int i = 0; i < kMaxRetries; ++i) {
    auto cur = Get(k, ns, name);
    if (!cur.ok()) {
      if (cur.status().code() == Code::kNotFound && type == PatchType::kApply && sub == Subresource::kMain) {
        Json obj = patch;
        if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
        if (!obj["metadata"].contains("name")) obj["metadata"]["name"] = name;
        if (obj["metadata"].value("name", "") != name)
          return BadRequest("the name of the object (" + obj["metadata"].value("name", "") +
                            ") does not match the name on the URL (" + name + ")");
        auto c = Create(k, ns, std::move(obj), o);
        if (c.ok()) return std::make_pair(std::move(c).value(), true);
        if (c.status().code() == Code::kAlreadyExists) continue;  // raced with a creator
        return c.status();
      }
      return cur.status();
    }
    const std::string cur_rv = (*cur)["metadata"].value("resourceVersion", "");
    Result<Json> patched = Json();
    switch (type) {
      case PatchType::kMerge: patched = ApplyMergePatch(*cur, patch); break;
      case PatchType::kJson: patched = ApplyJsonPatch(*cur, patch); break;
      case PatchType::kStrategic: patched = ApplyStrategicMergePatch(*cur, patch, BuiltinPatchSchema()); break;
      case PatchType::kApply: patched = ApplyServerSideApply(*cur, patch, BuiltinPatchSchema()); break;
    }
    if (!patched.ok()) return patched.status();
    if (!patched->is_object()) return BadRequest("the patch result is not an object");
    // A resourceVersion in the patch is a precondition (kubectl diff/edit).
    std::string patched_rv;
    if (patched->contains("metadata") && (*patched)["metadata"].is_object())
      patched_rv = (*patched)["metadata"].value("resourceVersion", "");
    bool precondition = !patched_rv.empty() && patched_rv != cur_rv;
    if (precondition) return ConflictError(k, name);
    Meta(*patched)["resourceVersion"] = cur_rv;
    bool explicit_rv = patch.is_object() && patch.contains("metadata") && patch["metadata"].is_object() &&
                       patch["metadata"].contains("resourceVersion");
    auto r = Update(k, ns, name, std::move(patched).value(), o, sub);
    if (r.ok()) return std::make_pair(std::move(r).value(), false);
    if (r.status().code() == Code::kConflict && !explicit_rv) continue;
    return r.status();
  }
  return ConflictError(k, name);
}

Result<Json> ObjectStore::Delete(const KindInfo& k, const std::string& ns, const std::string& name,
                                 const DeleteParams& p, const WriteOptions& o, bool* removed) {
  if (removed) *removed = false;
  for (int i = 0; i < kMaxRetries; ++i) {
    auto kv = store_->Get(Key(k, ns, name));
    if (!kv.ok()) {
      if (kv.status().code() == Code::kNotFound) return NotFoundError(k, name);
      return kv.status();
    }
    auto cur = Decode(k, *kv);
    if (!cur.ok()) return cur.status();
    Json obj = std::move(cur).value();
    const Json& m = obj["metadata"];
    if (!p.precondition_uid.empty() && p.precondition_uid != m.value("uid", ""))
      return Conflict("Precondition failed: UID in precondition: " + p.precondition_uid +
                      ", UID in object meta: " + m.value("uid", ""));
    if (!p.precondition_rv.empty() && p.precondition_rv != m.value("resourceVersion", ""))
      return Conflict("Precondition failed: ResourceVersion in precondition: " + p.precondition_rv +
                      ", ResourceVersion in object meta: " + m.value("resourceVersion", ""));
    std::string prop = p.propagation.empty() ? "Background" : p.propagation;
    if (prop != "Background" && prop != "Foreground" && prop != "Orphan")
      return BadRequest("propagationPolicy: Unsupported value: \"" + prop +
                        "\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
    Json next = obj;
    if (prop == "Orphan") AddFinalizer(next, "orphan");
    if (prop == "Foreground") AddFinalizer(next, "foregroundDeletion");
    bool ns_lifecycle = k.kind == "Namespace" && k.group.empty();
    // Pods bound to a node terminate gracefully: the node agent stops the
    // containers, then deletes the object with grace period 0.
    bool graceful = false;
    int64_t grace = 0;
    if (k.kind == "Pod" && k.group.empty() && !obj["spec"].value("nodeName", "").empty()) {
      grace = p.grace_period_seconds.value_or(obj["spec"].value("terminationGracePeriodSeconds", int64_t{30}));
      graceful = grace > 0 && obj.value("status", Json::object()).value("phase", "") != "Succeeded" &&
                 obj.value("status", Json::object()).value("phase", "") != "Failed";
    }
    bool already = IsDeleting(obj);
    if (HasFinalizers(next) || ns_lifecycle || graceful) {
      Json& nm = Meta(next);
      if (!already) {
        nm["deletionTimestamp"] = FormatRFC3339(NowSeconds() + (graceful ? grace : 0));
        nm["deletionGracePeriodSeconds"] = graceful ? grace : 0;
      } else if (p.grace_period_seconds && *p.grace_period_seconds == 0) {
        // kubectl delete --force --grace-period=0 on a terminating pod (or
        // the node, done stopping it): no grace left, so removing the last
        // finalizer removes it.
        graceful = false;
        if (nm.contains("deletionGracePeriodSeconds")) nm["deletionGracePeriodSeconds"] = 0;
      }
      if (ns_lifecycle) {
        if (!next.contains("status") || !next["status"].is_object()) next["status"] = Json::object();
        next["status"]["phase"] = "Terminating";
      }
      if (HasFinalizers(next) || ns_lifecycle || graceful) {
        if (next == obj) return obj;  // already terminating
        if (o.dry_run) return next;
        auto enc = Encode(k, next);
        if (!enc.ok()) return enc.status();
        auto w = store_->Update(Key(k, ns, name), *enc, kv->mod_revision);
        if (!w.ok()) {
          if (w.status().code() == Code::kConflict) continue;
          return w.status();
        }
        Meta(next)["resourceVersion"] = std::to_string(w->revision);
        if (k.hooks.after_write) k.hooks.after_write("update", next);
        return next;
      }
    }
    if (o.dry_run) return obj;
    auto d = store_->Delete(Key(k, ns, name), kv->mod_revision);
    if (!d.ok()) {
      if (d.status().code() == Code::kConflict) continue;
      if (d.status().code() == Code::kNotFound) return NotFoundError(k, name);
      return d.status();
    }
    if (removed) *removed = true;
    Meta(obj)["resourceVersion"] = std::to_string(d->revision);
    if (k.hooks.after_write) k.hooks.after_write("delete", obj);
    return obj;
  }
  return ConflictError(k, name);
}

Result<Json> ObjectStore::Mutate(const KindInfo& k, const std::string& ns, const std::string& name,
                                 const std::function<Status(Json&)>& fn, Subresource sub) {
  for (int i = 0; i < kMaxRetries; ++i) {
    auto cur = Get(k, ns, name);
    if (!cur.ok()) return cur.status();
    Json obj = *cur;
    BERTH_RETURN_IF_ERROR(fn(obj));
    Meta(obj)["resourceVersion"] = (*cur)["metadata"]["resourceVersion"];
    auto r = Update(k, ns, name, std::move(obj), WriteOptions{}, sub);
    if (r.ok() || r.status().code() != Code::kConflict) return r;
  }
  return ConflictError(k, name);
}

namespace {

class FilteredWatch : public ObjectWatch {
 public:
  FilteredWatch(ObjectStore* os, KindPtr kind, Selectors sel, std::unique_ptr<store::Watch> w,
                std::vector<WatchEvent> initial, int64_t rev)
      : os_(os), kind_(std::move(kind)), sel_(std::move(sel)), w_(std::move(w)),
        pending_(std::move(initial)), last_rev_(rev) {}

  Result<std::vector<WatchEvent>> Next(int timeout_ms) override {
    if (!pending_.empty()) return std::exchange(pending_, {});
    auto evs = w_->Next(timeout_ms);
    if (!evs.ok()) return evs.status();
    std::vector<WatchEvent> out;
    for (auto& e : *evs) {
      last_rev_ = e.kv.mod_revision;
      auto dec = os_->DecodeShared(*kind_, e.kv);
      if (!dec) continue;
      const bool filtered = sel_.labels || sel_.fields;
      bool now = !filtered || Matches(*os_, *kind_, sel_, dec->object);
      bool before = true;
      if (e.is_create) {
        before = false;
      } else if (e.prev && filtered) {
        auto p = os_->DecodeShared(*kind_, *e.prev);
        before = p && Matches(*os_, *kind_, sel_, p->object);
      }
      WatchEvent we;
      we.revision = e.kv.mod_revision;
      if (e.type == store::Event::Type::kDelete) {
        if (!now && !before) continue;
        we.type = "DELETED";
      } else if (e.is_create) {
        if (!now) continue;
        we.type = "ADDED";
      } else if (now && before) {
        we.type = "MODIFIED";
      } else if (now) {
        we.type = "ADDED";
      } else if (before) {
        we.type = "DELETED";
      } else {
        continue;
      }
      we.object = std::shared_ptr<const Json>(dec, &dec->object);
      we.json = std::shared_ptr<const std::string>(dec, &dec->json);
      out.push_back(std::move(we));
    }
    return out;
  }
  int64_t LastRevision() const override { return last_rev_; }
  void Close() override { w_->Close(); }

 private:
  ObjectStore* os_;
  KindPtr kind_;
  Selectors sel_;
  std::unique_ptr<store::Watch> w_;
  std::vector<WatchEvent> pending_;
  int64_t last_rev_;
};

}  // namespace

Result<Json> ObjectStore::DecodeForWatch(const KindInfo& k, const store::KeyValue& kv) const {
  return Decode(k, kv);
}

Result<std::unique_ptr<ObjectWatch>> ObjectStore::Watch(const KindInfo& k, const ListParams& p) {
  auto sel = ParseSelectors(*this, k, p);
  if (!sel.ok()) return sel.status();
  KindPtr kind = kinds_->Find(k.group, k.version, k.resource);
  if (!kind) kind = std::make_shared<const KindInfo>(k);
  std::string prefix = Key(k, k.namespaced ? p.ns : "", "");
  std::vector<WatchEvent> initial;
  int64_t from = 0;
  if (p.resource_version.empty() || p.resource_version == "0") {
    // Synthetic ADDED events for the current state, then changes after it.
    ListParams lp = p;
    lp.limit = 0;
    lp.continue_token.clear();
    lp.resource_version.clear();
    auto l = List(k, lp);
    if (!l.ok()) return l.status();
    from = l->revision;
    for (auto& item : l->items) {
      WatchEvent we;
      we.type = "ADDED";
      we.revision = std::stoll(item["metadata"].value("resourceVersion", "0"));
      we.object = std::make_shared<Json>(std::move(item));
      initial.push_back(std::move(we));
    }
  } else {
    auto rv = ParseRV(p.resource_version);
    if (!rv.ok()) return rv.status();
    from = *rv;
  }
  auto w = store_->WatchPrefix(prefix, from);
  if (!w.ok()) {
    if (w.status().code() == Code::kGone)
      return Gone("too old resource version: " + std::to_string(from) + " (" +
                  std::to_string(store_->CompactedRevision()) + ")");
    return w.status();
  }
  return std::unique_ptr<ObjectWatch>(new FilteredWatch(this, kind, std::move(sel).value(),
                                                        std::move(w).value(), std::move(initial), from));
}

}  // namespace berth::api
