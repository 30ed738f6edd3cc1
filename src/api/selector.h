// Label and field selectors with the syntax, validation, messages and
// rendering of k8s.io/apimachinery (labels.Parse, metav1.LabelSelectorAsSelector,
// fields.ParseSelector), so kubectl's `-l` and `--field-selector` strings and the
// errors they produce behave as against a real apiserver.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth {

// Label syntax checks, one message per problem (empty when valid). Keys are
// qualified names: an optional DNS-1123 subdomain prefix and '/', then a name of
// at most 63 characters of [A-Za-z0-9._-] that starts and ends alphanumeric.
// Values follow the name rule but may be empty.
std::vector<std::string> QualifiedNameErrors(std::string_view key);
std::vector<std::string> LabelValueErrors(std::string_view value);

struct LabelRequirement {
  enum Op {
    kEquals,        // a=b
    kDoubleEquals,  // a==b
    kNotEquals,     // a!=b   (also true when a is absent)
    kIn,            // a in (x,y)
    kNotIn,         // a notin (x,y)   (also true when a is absent)
    kExists,        // a
    kDoesNotExist,  // !a
    kGreaterThan,   // a>3    (integer comparison)
    kLessThan,      // a<3
  };
  std::string key;
  Op op = kExists;
  std::vector<std::string> values;  // sorted and unique

  // `labels` is a metadata.labels object; anything else counts as no labels.
  bool Matches(const Json& labels) const;
  std::string ToString() const;
};

class LabelSelector {
 public:
  LabelSelector() = default;  // selects everything
  static LabelSelector Nothing();

  // Parses the string form (`a=b,c in (x,y),!d`). Errors are BadRequest with the
  // apiserver's messages, e.g. "unable to parse requirement: found '', expected: identifier".
  static Result<LabelSelector> Parse(std::string_view text);

  // Converts a metav1.LabelSelector ({"matchLabels":{...},"matchExpressions":[...]}).
  // Null selects nothing and {} everything, as in the apiserver. Validation
  // failures are Invalid, one Cause per problem with fields under `field_path`.
  static Result<LabelSelector> FromJson(const Json& selector,
                                        std::string_view field_path = "selector");

  bool Matches(const Json& labels) const;
  bool SelectsEverything() const { return !nothing_ && requirements_.empty(); }
  bool SelectsNothing() const { return nothing_; }

  // The canonical string form (requirements sorted by key, values sorted), as
  // in Scale's status.selector. Parse(ToString()) gives back an equal selector,
  // except that the Nothing selector renders as "" like the apiserver's.
  std::string ToString() const;

  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;  // ANDed, sorted by key
  bool nothing_ = false;
};

class FieldSelector {
 public:
  struct Term {
    std::string field;
    bool equals = true;  // false for "!="
    std::string value;   // unescaped
  };
  // Value of a field of the object being tested; nullopt when it has none,
  // which compares like "" as in the apiserver's field sets.
  using Getter = std::function<std::optional<std::string>(std::string_view field)>;

  FieldSelector() = default;  // selects everything

  // Parses `a=b,c!=d` (`==` means `=`). In values, `\,` `\=` and `\\` stand for
  // the literal characters; an unescaped ',' or '=' is an error. Fields are not
  // checked here: see CheckFields.
  static Result<FieldSelector> Parse(std::string_view text);

  bool Matches(const Getter& get) const;
  bool SelectsEverything() const { return terms_.empty(); }

  // Distinct field paths in use, so a caller can reject those it does not index.
  std::vector<std::string> Fields() const;
  // BadRequest "field label not supported: X" for the first field `supported`
  // refuses.
  Status CheckFields(const std::function<bool(std::string_view)>& supported) const;
  // The value `field` must equal, when the selector pins it (as
  // metadata.name=x does); lets a caller look the object up instead of scanning.
  std::optional<std::string> RequiresExactMatch(std::string_view field) const;

  std::string ToString() const;  // canonical: terms sorted, values escaped
  const std::vector<Term>& terms() const { return terms_; }

 private:
  std::vector<Term> terms_;  // ANDed
};

}  // namespace berth
