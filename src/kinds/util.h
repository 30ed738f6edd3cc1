// Small helpers shared by the per-group kind files: null-safe reads of JSON
// objects, defaulting of absent fields, and the cell formatting kubectl's
// printers use (ages, label maps, selectors, container lists).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "api/kind.h"
#include "api/validation.h"
#include "core/json.h"

namespace berth::kinds {

// The value at a key path, or nullptr when any step is missing or not an object.
const Json* At(const Json& obj, std::initializer_list<std::string_view> path);
std::string Str(const Json& obj, std::initializer_list<std::string_view> path,
                const std::string& def = "");
int64_t Int(const Json& obj, std::initializer_list<std::string_view> path, int64_t def = 0);
bool Bool(const Json& obj, std::initializer_list<std::string_view> path, bool def = false);
// True when the path exists with a non-null value.
bool Has(const Json& obj, std::initializer_list<std::string_view> path);
// The object at the path, created (replacing null/non-objects) as needed.
Json& Obj(Json& obj, std::initializer_list<std::string_view> path);
// Sets obj[key] = value when the key is absent or null.
void SetDefault(Json& obj, const std::string& key, const Json& value);
// Iterates the elements of an array field (no-op if absent).
void ForEach(Json& obj, const char* key, const std::function<void(Json&)>& fn);

// "<unknown>" or HumanDuration(now - t) of an RFC 3339 timestamp at path.
std::string AgeOf(const Json& obj, std::initializer_list<std::string_view> path);
// Age of the object (metadata.creationTimestamp).
std::string Age(const Json& obj);
// "a=b,c=d" (keys sorted) or "<none>", as labels.FormatLabels.
std::string FormatLabels(const Json* labels);
// metav1.FormatLabelSelector: "app=x,tier in (a,b)", "<none>" for empty.
std::string FormatSelector(const Json* selector);
// Comma-joined container names / images of a pod spec.
std::string ContainerNames(const Json* pod_spec);
std::string ContainerImages(const Json* pod_spec);
// Go's "%d/%d".
std::string Ratio(int64_t a, int64_t b);

api::TableColumn Column(std::string name, std::function<Json(const Json&)> cell, int priority = 0,
                        std::string type = "string", std::string description = "");
// An integer column read from a fixed path; absent counts as 0.
api::TableColumn IntColumn(std::string name, std::vector<std::string> path, int priority,
                           std::string description);
// A string column read from a fixed path; absent counts as "".
api::TableColumn StrColumn(std::string name, std::vector<std::string> path, int priority,
                           std::string description);
// Age column (type "string": kubectl prints our pre-rendered cell).
api::TableColumn AgeColumn();

// "spec.containers[0]"
inline std::string Idx(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
// Validates a map's keys as ConfigMap/Secret keys: [-._a-zA-Z0-9]+, ≤253, not
// "." or "..".
std::vector<std::string> IsConfigMapKey(const std::string& key);
// Label selector validity (operators, values, label syntax) at `path`.
void ValidateLabelSelector(const Json& sel, const std::string& path, std::vector<Cause>& causes);
// Whether a label selector (matchLabels + matchExpressions) selects `labels`.
bool SelectorMatches(const Json& sel, const Json* labels);
// Go's %#v of a metav1.LabelSelector, used in "field is immutable" messages.
std::string GoLabelSelector(const Json* sel);

}  // namespace berth::kinds
