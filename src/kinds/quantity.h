// Quantities live in core/ (the node agent needs them too); kinds/ code keeps
// its spelling.
#pragma once

#include "core/quantity.h"

namespace berth::kinds {
using berth::kQuantityFormatError;
using berth::Quantity;
}  // namespace berth::kinds
