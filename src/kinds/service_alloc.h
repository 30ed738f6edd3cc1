// Cluster IPs (from the service CIDR 10.43.0.0/16) and node ports (30000-32767)
// for Services, unique among the Services stored. The apiserver keeps
// allocation bitmaps; Berth derives the used set from the stored Services
// (one list per allocation) plus a short-lived in-memory reservation for
// creates still in flight, which is exact for a single API server.
#pragma once

#include "api/objects.h"

namespace berth::kinds {

// Wraps the Service kind's prepare_create (allocate what is empty, refuse what
// is taken) and prepare_update (carry clusterIP and node ports over when a
// client's PUT leaves them out). Call once after RegisterBuiltins.
void InstallServiceAllocator(api::ObjectStore* os);

}  // namespace berth::kinds
