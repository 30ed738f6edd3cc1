// Workload checks shared by apps/v1 and batch/v1; wording from
// pkg/apis/apps/validation and pkg/apis/core/validation.
#include "kinds/workload.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "kinds/util.h"

namespace berth::kinds {

void ValidateSelectorMatchesTemplate(const Json& obj, const std::string& kind_lower, bool required,
                                     std::vector<Cause>& causes) {
  const Json* sel = At(obj, {"spec", "selector"});
  if (!sel) {
    if (required) causes.push_back(api::Required("spec.selector"));
    return;
  }
  const Json* ml = At(*sel, {"matchLabels"});
  const Json* me = At(*sel, {"matchExpressions"});
  bool empty = (!ml || !ml->is_object() || ml->empty()) && (!me || !me->is_array() || me->empty());
  if (empty) {
    causes.push_back(Cause{
        "FieldValueInvalid",
        "Invalid value: " + GoLabelSelector(sel) + ": empty selector is invalid for " + kind_lower,
        "spec.selector"});
    return;
  }
  size_t before = causes.size();
  ValidateLabelSelector(*sel, "spec.selector", causes);
  if (causes.size() != before) return;
  const Json* labels = At(obj, {"spec", "template", "metadata", "labels"});
  if (!SelectorMatches(*sel, labels))
    causes.push_back(api::InvalidValue("spec.template.metadata.labels",
                                       labels ? *labels : Json::object(),
                                       "`selector` does not match template `labels`"));
}

void ValidateNonNegative(const Json& parent, const char* key, const std::string& path,
                         std::vector<Cause>& causes) {
  const Json* v = At(parent, {key});
  if (v && v->is_number() && v->get<int64_t>() < 0)
    causes.push_back(api::InvalidValue(path, *v, "must be greater than or equal to 0"));
}

void ValidateSelectorImmutable(const Json& obj, const Json& old, std::vector<Cause>& causes) {
  const Json* a = At(obj, {"spec", "selector"});
  const Json* b = At(old, {"spec", "selector"});
  if ((a ? *a : Json()) != (b ? *b : Json()))
    causes.push_back(Cause{"FieldValueInvalid",
                           "Invalid value: " + GoLabelSelector(a) + ": field is immutable",
                           "spec.selector"});
}

int64_t ValidateIntOrPercent(const Json& parent, const char* key, const std::string& path,
                             bool max100, std::vector<Cause>& causes) {
  const Json* v = At(parent, {key});
  if (!v) return -1;
  if (v->is_number_integer()) {
    if (v->get<int64_t>() < 0) {
      causes.push_back(api::InvalidValue(path, *v, "must be greater than or equal to 0"));
      return -1;
    }
    return v->get<int64_t>();
  }
  std::string s = v->is_string() ? v->get<std::string>() : v->dump();
  bool ok = s.size() >= 2 && s.back() == '%';
  int64_t n = 0;
  for (size_t i = 0; ok && i + 1 < s.size(); ++i) {
    ok = isdigit(static_cast<unsigned char>(s[i])) && s.size() < 12;
    n = n * 10 + (s[i] - '0');
  }
  if (!ok) {
    causes.push_back(api::InvalidValue(
        path, s,
        "a valid percent string must be a numeric string followed by an ending '%' "
        "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    return -1;
  }
  if (max100 && n > 100) {
    causes.push_back(api::InvalidValue(path, s, "must not be greater than 100%"));
    return -1;
  }
  return n;
}

}  // namespace berth::kinds
