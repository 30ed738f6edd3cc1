// The three PATCH dialects of the Kubernetes API, plus the minimal merge behind
// server-side apply.
//
//   application/merge-patch+json           ApplyMergePatch           (RFC 7386)
//   application/json-patch+json            ApplyJsonPatch            (RFC 6902)
//   application/strategic-merge-patch+json ApplyStrategicMergePatch  (k8s SMP)
//   application/apply-patch+yaml           ApplyServerSideApply      (see below)
//
// Every function is pure: it returns a new document or a Status and never throws.
// Errors use the codes the apiserver answers with: a malformed patch is
// BadRequest (400); a well-formed JSON patch that does not apply is Invalid (422).
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth {

// How a list inside an object is patched. Kubernetes declares this per Go field
// with the struct tags `patchStrategy:"merge" patchMergeKey:"..."`.
struct ListStrategy {
  enum Type {
    kReplace,     // the patch's list replaces the live one (the default)
    kMergeByKey,  // items are objects identified by merge_key and merged pairwise
    kMergeSet,    // items are scalars; the patch adds to the set
  } type = kReplace;
  std::string merge_key;
};

// Per-field patch metadata. A path is the sequence of object field names from
// the document root; list indices are omitted, so the items of
// spec.template.spec.containers and of their env lists have the paths
// {"spec","template","spec","containers"} and {..., "containers","env"}.
class PatchSchema {
 public:
  virtual ~PatchSchema() = default;
  // Strategy of the list at `path`.
  virtual ListStrategy ForPath(const std::vector<std::string>& path) const = 0;
  // True where the Go type carries patchStrategy "retainKeys": the object at
  // `path` (or each object item of the list at `path`) is a union whose members
  // are cleared when a newer value names a different one.
  virtual bool RetainKeys(const std::vector<std::string>& path) const = 0;
};

// Patch metadata of the built-in Kubernetes kinds, matched by field name in
// context so that one table covers a Pod, every pod template (Deployment,
// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, PodTemplate) and the other
// core/apps/batch kinds. Custom resources have no such metadata: the apiserver
// refuses strategic merge patches for them, and callers must do the same.
const PatchSchema& BuiltinPatchSchema();

// RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything
// else replaces. `patch` must be a JSON object (Kubernetes patches objects).
Result<Json> ApplyMergePatch(const Json& original, const Json& patch);

// RFC 6902 JSON patch. A patch that is not an array of well-formed operations
// is BadRequest; an operation that does not apply (missing path, failed test)
// is Invalid with the apiserver's message "the server rejected our request due
// to an error in our request" and the specific reason as the single cause. More
// than 10000 operations is RequestEntityTooLarge, as in the apiserver.
Result<Json> ApplyJsonPatch(const Json& original, const Json& patch);

// Kubernetes strategic merge patch. Objects merge recursively and null deletes
// a key; lists follow `schema`. Directives:
//   {"$patch": "replace"}  on an object: the object is replaced by the rest of
//                          the patch object; as a list item: the list is
//                          replaced by the other items.
//   {"$patch": "delete"}   on an object: the key is removed; as a list item
//                          (with the merge key): that item is removed.
//   {"$patch": "merge"}    the default; accepted and ignored.
//   "$setElementOrder/f": [...]        final relative order of list f.
//   "$retainKeys": [...]               keys of this object to keep; all other
//                                      live keys are cleared.
//   "$deleteFromPrimitiveList/f": [...] values to remove from scalar list f.
// Directive keys never appear in the result; an unknown "$..." key is
// BadRequest. Values that are new to the document are patched onto nothing, so
// their nulls and directives are resolved too.
Result<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch,
                                      const PatchSchema& schema);

// Server-side apply, minimal: the applied configuration is merged onto the live
// object like a strategic merge patch without directives ("$" keys are plain
// data), lists merging by the schema's keys, retainKeys unions replacing their
// members, and null removing a field. Field ownership is NOT tracked yet: the
// last applier wins every
// field it names, fields it stops naming are kept rather than removed, and
// there are no 409 conflicts, so `force` has nothing to override.
Result<Json> ApplyServerSideApply(const Json& live, const Json& applied, const PatchSchema& schema);

}  // namespace berth
