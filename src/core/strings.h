// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth {

// Splits at every `sep`, keeping empty pieces ("a::b" -> "a", "", "b"; "" -> "").
std::vector<std::string> Split(std::string_view s, char sep);
// Splits at runs of `sep`, dropping empty pieces ("  a  b " -> "a", "b").
std::vector<std::string> SplitFields(std::string_view s, char sep);
// The lines of a text, without their '\n'; a final newline ends the last
// line rather than starting an empty one.
std::vector<std::string> Lines(std::string_view text);

// A path component of an OCI repository name: [a-z0-9]+ joined by '.', '_',
// '__' or runs of '-' (the distribution specification's grammar), at most 255
// characters. Registry project and robot names follow it too.
bool IsOciPathComponent(std::string_view s);

// Well-formed UTF-8: no stray continuation bytes, overlong forms, surrogates
// or code points past U+10FFFF.
bool IsValidUtf8(std::string_view s);

}  // namespace berth
