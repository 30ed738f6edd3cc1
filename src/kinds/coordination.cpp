// coordination.k8s.io/v1 Lease: leader election and node heartbeats.
#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "kinds/groups.h"
#include "kinds/util.h"

namespace berth::kinds {

void RegisterCoordinationV1(api::KindRegistry& reg) {
  auto k = MakeKind({"coordination.k8s.io",
                     "v1",
                     "Lease",
                     "leases",
                     "lease",
                     true,
                     {},
                     {},
                     "io.k8s.api.coordination.v1"});
  k.columns = {StrColumn("Holder", {"spec", "holderIdentity"}, 0,
                "The holder of the lease."),
               AgeColumn()};
  k.hooks.validate = [](const Json& o, const Json*, std::vector<Cause>& causes) {
    const Json* spec = At(o, {"spec"});
    if (!spec) return;
    if (const Json* d = At(*spec, {"leaseDurationSeconds"});
        d && d->is_number() && d->get<int64_t>() <= 0)
      causes.push_back(
          api::InvalidValue("spec.leaseDurationSeconds", *d, "must be greater than 0"));
    if (const Json* t = At(*spec, {"leaseTransitions"});
        t && t->is_number() && t->get<int64_t>() < 0)
      causes.push_back(
          api::InvalidValue("spec.leaseTransitions", *t, "must be greater than or equal to 0"));
    std::string strategy = Str(*spec, {"strategy"});
    if (!strategy.empty() && strategy != "OldestEmulationVersion")
      causes.push_back(api::NotSupported("spec.strategy", strategy, {"OldestEmulationVersion"}));
  };
  reg.Register(std::move(k));
}

}  // namespace berth::kinds
