// Go's regexp template expansion ($1, ${1}, $name, ${name}, $$), which
// Prometheus uses for relabeling replacements and label_replace().
#pragma once

#include <string>
#include <string_view>

namespace re2 {
class RE2;
class StringPiece;
}  // namespace re2

namespace berth::monitor {

// Writes into *out (replacing it) the expansion of `tmpl` from a match's
// groups: "$$" is a literal "$", a reference is the longest run of word
// characters or ${name}, an unknown or unmatched group expands to nothing,
// and a "$" that starts no reference is kept as text.
void ExpandTemplate(std::string_view tmpl, const re2::RE2& re, const re2::StringPiece* groups,
                    int ngroups, std::string* out);

// Matches `text` against `re` as a whole (the caller anchors it) and, on a
// match, writes the expansion of `tmpl` into *out. A reference to a group
// that does not exist or did not take part expands to nothing; a `$` that
// starts no valid reference is kept literally, as Go does.
bool MatchAndExpand(const re2::RE2& re, std::string_view text, std::string_view tmpl,
                    std::string* out);

}  // namespace berth::monitor
