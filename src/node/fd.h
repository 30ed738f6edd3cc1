// The node agent's name for the owned file descriptor of core/fd.h.
#pragma once

#include "core/fd.h"

namespace berth::node {
using berth::Fd;
}  // namespace berth::node
