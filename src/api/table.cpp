// Server-side Table rendering (meta.k8s.io/v1 Table), as `kubectl get` asks.
#include <nlohmann/json.hpp>

#include "api/internal.h"
#include "core/time.h"

namespace berth::api::internal {
namespace {

Json AgeCell(const Json& obj) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->contains("creationTimestamp") || !(*m)["creationTimestamp"].is_string())
    return "<unknown>";
  auto t = ParseRFC3339((*m)["creationTimestamp"].get<std::string>());
  if (!t) return "<unknown>";
  return HumanDuration(NowSeconds() - *t);
}

Json ColumnDef(const std::string& name, const std::string& type, const std::string& format,
               const std::string& desc, int priority) {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", desc}, {"priority", priority}};
}

}  // namespace

Json EvalSimpleJsonPath(const Json& obj, const std::string& path) {
  // Supports ".a.b", ".a[0].b" and "{.a.b}" — the forms printer columns use.
  std::string p = path;
  if (!p.empty() && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  const Json* cur = &obj;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '.') {
      ++i;
      size_t j = i;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      std::string key = p.substr(i, j - i);
      if (key.empty()) { i = j; continue; }
      if (!cur->is_object() || !cur->contains(key)) return nullptr;
      cur = &(*cur)[key];
      i = j;
    } else if (p[i] == '[') {
      size_t j = p.find(']', i);
      if (j == std::string::npos) return nullptr;
      std::string idx = p.substr(i + 1, j - i - 1);
      if (!cur->is_array()) return nullptr;
      char* end = nullptr;
      long n = std::strtol(idx.c_str(), &end, 10);
      if (!end || *end) return nullptr;
      if (n < 0) n += static_cast<long>(cur->size());
      if (n < 0 || static_cast<size_t>(n) >= cur->size()) return nullptr;
      cur = &(*cur)[static_cast<size_t>(n)];
      i = j + 1;
    } else {
      return nullptr;
    }
  }
  return *cur;
}

Json TableColumns(const KindInfo& k) {
  Json cols = Json::array();
  if (k.table_name_column)
    cols.push_back(ColumnDef("Name", "string", "name",
                             "Name must be unique within a namespace. Cannot be updated.", 0));
  if (k.columns.empty()) {
    cols.push_back(ColumnDef("Age", "string", "",
                             "CreationTimestamp is a timestamp representing the server time when this object was created.", 0));
  }
  for (const auto& c : k.columns) cols.push_back(ColumnDef(c.name, c.type, c.format, c.description, c.priority));
  return cols;
}

Json TableRow(const KindInfo& k, const Json& obj, bool include_object) {
  Json cells = Json::array();
  if (k.table_name_column) cells.push_back(obj.contains("metadata") ? obj["metadata"].value("name", "") : "");
  if (k.columns.empty()) {
    cells.push_back(AgeCell(obj));
  }
  for (const auto& c : k.columns) {
    Json v = c.cell ? c.cell(obj) : Json(nullptr);
    if (v.is_null()) v = c.type == "integer" || c.type == "number" ? Json(nullptr) : Json("<none>");
    cells.push_back(v);
  }
  Json row = {{"cells", cells}};
  if (include_object) {
    row["object"] = obj;
  } else {
    Json meta = obj.contains("metadata") ? obj["metadata"] : Json::object();
    meta.erase("managedFields");
    row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
  }
  return row;
}

}  // namespace berth::api::internal
