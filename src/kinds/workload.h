// Checks and cells shared by the controllers' kinds (apps/v1 and batch/v1):
// selector vs template labels, replica counts, immutable selectors, and
// percent-or-int fields such as maxSurge.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth::kinds {

// spec.selector required, non-empty, well-formed, and matching
// spec.template.metadata.labels. `kind_lower` names the kind in the
// "empty selector is invalid for deployment" message.
void ValidateSelectorMatchesTemplate(const Json& obj, const std::string& kind_lower, bool required,
                                     std::vector<Cause>& causes);
// `path`: Invalid value when the integer at obj/key is negative.
void ValidateNonNegative(const Json& parent, const char* key, const std::string& path,
                         std::vector<Cause>& causes);
// spec.selector must not change on update.
void ValidateSelectorImmutable(const Json& obj, const Json& old, std::vector<Cause>& causes);
// An IntOrString that must be a non-negative int or a percentage (≤100% if
// `max100`). Returns the integer or percent value (-1 when absent/invalid).
int64_t ValidateIntOrPercent(const Json& parent, const char* key, const std::string& path,
                             bool max100, std::vector<Cause>& causes);

}  // namespace berth::kinds
