// Compiler for the schema notation described in schema_dsl.h. Two passes:
// parse every source into declarations, then resolve short type names (which
// needs the whole set) while emitting JSON.
#include "kinds/schema_dsl.h"

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace berth::kinds {
namespace {

constexpr char kRefPrefix[] = "#/components/schemas/";

struct FieldDecl {
  std::string name, type, desc;
  std::vector<std::string> flags;
};

struct TypeDecl {
  std::string pkg, name, desc;
  std::vector<std::string> flags;
  std::vector<FieldDecl> fields;
  std::string Full() const { return pkg + "." + name; }
};

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "key=value" flag lookup; returns "" if absent, "1" for a bare flag.
std::string Flag(const std::vector<std::string>& flags, const std::string& key) {
  for (const auto& f : flags) {
    if (f == key) return "1";
    if (f.size() > key.size() && f.compare(0, key.size(), key) == 0 && f[key.size()] == '=')
      return f.substr(key.size() + 1);
  }
  return "";
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? p : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

class Compiler {
 public:
  Status Parse(std::string_view src) {
    std::string pkg;
    TypeDecl* cur = nullptr;
    size_t lineno = 0;
    for (size_t pos = 0; pos <= src.size();) {
      size_t nl = src.find('\n', pos);
      std::string_view raw = src.substr(pos, nl == std::string_view::npos ? src.npos : nl - pos);
      pos = nl == std::string_view::npos ? src.size() + 1 : nl + 1;
      ++lineno;
      std::string line = Trim(raw);
      if (line.empty() || line[0] == '#') continue;
      bool indented = raw[0] == ' ' || raw[0] == '\t';
      std::string head = line, desc;
      if (size_t c = line.find(" : "); c != std::string::npos) {
        head = Trim(line.substr(0, c));
        desc = Trim(line.substr(c + 3));
      } else if (line.size() >= 2 && line.compare(line.size() - 2, 2, " :") == 0) {
        head = Trim(line.substr(0, line.size() - 2));
      }
      auto words = Words(head);
      auto err = [&](const std::string& m) {
        return BadRequest("schema dsl line " + std::to_string(lineno) + ": " + m + ": " + line);
      };
      if (!indented && words.size() == 2 && words[0] == "package") {
        pkg = words[1];
        continue;
      }
      if (!indented) {
        if (pkg.empty()) return err("type before package");
        types_.push_back(TypeDecl{pkg, words[0], desc, {words.begin() + 1, words.end()}, {}});
        cur = &types_.back();
        continue;
      }
      if (!cur || words.size() < 2) return err("field outside a type or without a type");
      cur->fields.push_back(FieldDecl{words[0], words[1], desc, {words.begin() + 2, words.end()}});
    }
    return Status::Ok();
  }

  Result<std::map<std::string, Json>> Emit() {
    for (const auto& t : types_) {
      if (!by_full_.emplace(t.Full(), &t).second)
        return BadRequest("schema dsl: duplicate type " + t.Full());
      by_short_[t.name].push_back(t.Full());
      if (!Flag(t.flags, "list").empty()) by_short_[t.name + "List"].push_back(t.Full() + "List");
    }
    std::map<std::string, Json> out;
    for (const auto& t : types_) {
      Json s;
      BERTH_RETURN_IF_ERROR(EmitType(t, s));
      out[t.Full()] = std::move(s);
      if (!Flag(t.flags, "list").empty()) out[t.Full() + "List"] = ListOf(t);
    }
    return out;
  }

 private:
  static Json GVK(const std::string& gv, const std::string& kind) {
    auto slash = gv.find('/');
    std::string group = slash == std::string::npos ? "" : gv.substr(0, slash);
    std::string version = slash == std::string::npos ? gv : gv.substr(slash + 1);
    return Json::array({{{"group", group}, {"version", version}, {"kind", kind}}});
  }

  static void AddTypeMeta(Json& props) {
    props["apiVersion"] = {{"type", "string"},
                           {"description",
                            "Versioned schema of this representation of the object, e.g. "
                            "\"apps/v1\". Servers reject versions they do not serve."}};
    props["kind"] = {{"type", "string"},
                     {"description",
                      "The REST type this object represents, in CamelCase, e.g. \"Deployment\"."}};
  }

  Json ListOf(const TypeDecl& t) const {
    Json props = Json::object();
    AddTypeMeta(props);
    props["metadata"] = Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                            "Standard list metadata (resourceVersion, continue).");
    props["items"] = {{"type", "array"},
                      {"description", "The " + t.name + " objects in this list."},
                      {"items", Ref(t.Full(), "")}};
    Json s = {{"type", "object"},
              {"description", t.name + "List is a list of " + t.name + " objects."},
              {"required", Json::array({"items"})},
              {"properties", props}};
    if (auto gv = Flag(t.flags, "gvk"); !gv.empty())
      s["x-kubernetes-group-version-kind"] = GVK(gv, t.name + "List");
    return s;
  }

  static Json Ref(const std::string& full, const std::string& desc) {
    Json r = {{"$ref", std::string(kRefPrefix) + full}};
    if (desc.empty()) return {{"allOf", Json::array({r})}};
    return {{"allOf", Json::array({r})}, {"description", desc}};
  }

  Result<std::string> ResolveName(const std::string& name, const std::string& pkg) const {
    if (name.find('.') != std::string::npos) {
      if (by_full_.count(name)) return name;
      return BadRequest("schema dsl: unknown type " + name);
    }
    std::string local = pkg + "." + name;
    if (by_full_.count(local) || (name.size() > 4 && name.ends_with("List") &&
                                  by_full_.count(local.substr(0, local.size() - 4))))
      return local;
    auto it = by_short_.find(name);
    if (it == by_short_.end()) return BadRequest("schema dsl: unknown type " + name + " in " + pkg);
    if (it->second.size() != 1)
      return BadRequest("schema dsl: ambiguous type " + name + " in " + pkg);
    return it->second[0];
  }

  // Schema of a type expression (no description attached).
  Result<Json> TypeExpr(const std::string& t, const std::string& pkg) const {
    static const std::map<std::string, Json> kPrim = {
        {"string", {{"type", "string"}}},
        {"bytes", {{"type", "string"}, {"format", "byte"}}},
        {"boolean", {{"type", "boolean"}}},
        {"integer", {{"type", "integer"}}},
        {"int32", {{"type", "integer"}, {"format", "int32"}}},
        {"int64", {{"type", "integer"}, {"format", "int64"}}},
        {"number", {{"type", "number"}}},
        {"double", {{"type", "number"}, {"format", "double"}}},
        {"object", {{"type", "object"}}},
        {"any", {{"x-kubernetes-preserve-unknown-fields", true}}},
    };
    if (auto it = kPrim.find(t); it != kPrim.end()) return it->second;
    if (t.starts_with("[]")) {
      BERTH_ASSIGN_OR_RETURN(Json items, TypeExpr(t.substr(2), pkg));
      return Json{{"type", "array"}, {"items", items}};
    }
    if (t.starts_with("map[") && t.ends_with("]")) {
      BERTH_ASSIGN_OR_RETURN(Json v, TypeExpr(t.substr(4, t.size() - 5), pkg));
      return Json{{"type", "object"}, {"additionalProperties", v}};
    }
    BERTH_ASSIGN_OR_RETURN(std::string full, ResolveName(t, pkg));
    return Ref(full, "");
  }

  Status EmitField(const TypeDecl& t, const FieldDecl& f, Json& out) const {
    BERTH_ASSIGN_OR_RETURN(out, TypeExpr(f.type, t.pkg));
    if (!f.desc.empty()) out["description"] = f.desc;
    const auto& fl = f.flags;
    if (auto k = Flag(fl, "merge"); !k.empty()) {
      out["x-kubernetes-patch-strategy"] = "merge";
      out["x-kubernetes-patch-merge-key"] = k;
    }
    if (auto k = Flag(fl, "mergeretain"); !k.empty()) {
      out["x-kubernetes-patch-strategy"] = "merge,retainKeys";
      out["x-kubernetes-patch-merge-key"] = k;
    }
    if (!Flag(fl, "mergeset").empty()) out["x-kubernetes-patch-strategy"] = "merge";
    if (!Flag(fl, "retain").empty()) out["x-kubernetes-patch-strategy"] = "retainKeys";
    if (auto k = Flag(fl, "map"); !k.empty()) {
      out["x-kubernetes-list-type"] = "map";
      out["x-kubernetes-list-map-keys"] = Split(k, ',');
    }
    if (!Flag(fl, "set").empty()) out["x-kubernetes-list-type"] = "set";
    if (!Flag(fl, "atomic").empty()) {
      if (f.type.starts_with("[]"))
        out["x-kubernetes-list-type"] = "atomic";
      else
        out["x-kubernetes-map-type"] = "atomic";
    }
    if (!Flag(fl, "preserve").empty()) out["x-kubernetes-preserve-unknown-fields"] = true;
    if (auto e = Flag(fl, "enum"); !e.empty()) out["enum"] = Split(e, '|');
    return Status::Ok();
  }

  Status EmitType(const TypeDecl& t, Json& s) const {
    const auto& fl = t.flags;
    if (auto scalar = Flag(fl, "scalar"); !scalar.empty()) {
      if (scalar == "intorstring") {
        s = {{"x-kubernetes-int-or-string", true}};
      } else {
        s = {{"type", scalar}};
      }
      if (auto f = Flag(fl, "format"); !f.empty()) s["format"] = f;
      if (!t.desc.empty()) s["description"] = t.desc;
      return Status::Ok();
    }
    s = {{"type", "object"}};
    if (!t.desc.empty()) s["description"] = t.desc;
    if (!Flag(fl, "preserve").empty()) s["x-kubernetes-preserve-unknown-fields"] = true;
    if (!Flag(fl, "atomic").empty()) s["x-kubernetes-map-type"] = "atomic";
    Json props = Json::object();
    Json required = Json::array();
    std::string gv = Flag(fl, "gvk");
    if (!gv.empty()) {
      AddTypeMeta(props);
      s["x-kubernetes-group-version-kind"] = GVK(gv, t.name);
    }
    for (const auto& f : t.fields) {
      Json p;
      BERTH_RETURN_IF_ERROR(EmitField(t, f, p));
      props[f.name] = std::move(p);
      if (!Flag(f.flags, "req").empty()) required.push_back(f.name);
    }
    if (!props.empty()) s["properties"] = std::move(props);
    if (!required.empty()) s["required"] = std::move(required);
    return Status::Ok();
  }

  std::vector<TypeDecl> types_;  // a vector is fine: filled before pointers are taken
  std::map<std::string, const TypeDecl*> by_full_;
  std::map<std::string, std::vector<std::string>> by_short_;
};

}  // namespace

Result<std::map<std::string, Json>> CompileSchemas(const std::vector<std::string_view>& sources) {
  Compiler c;
  for (auto src : sources) BERTH_RETURN_IF_ERROR(c.Parse(src));
  return c.Emit();
}

}  // namespace berth::kinds
