// discovery.k8s.io/v1 EndpointSlice. Columns from kubectl's printers.go
// (formatDiscoveryPorts / formatDiscoveryEndpoints), checks from
// pkg/apis/discovery/validation.
#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "kinds/groups.h"
#include "kinds/util.h"

namespace berth::kinds {
namespace {

std::string ListWithMore(const std::vector<std::string>& list, size_t count) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ",") + s;
  if (count > 3) return out + " + " + std::to_string(count - 3) + " more...";
  return out.empty() ? "<unset>" : out;
}

}  // namespace

void RegisterDiscoveryV1(api::KindRegistry& reg) {
  auto k = MakeKind({"discovery.k8s.io",
                     "v1",
                     "EndpointSlice",
                     "endpointslices",
                     "endpointslice",
                     true,
                     {},
                     {},
                     "io.k8s.api.discovery.v1"});
  k.columns = {
      StrColumn("AddressType", {"addressType"}, 0,
                "The type of address held by the slice."),
      Column(
          "Ports",
          [](const Json& o) -> Json {
            std::vector<std::string> list;
            size_t count = 0;
            if (const Json* ps = At(o, {"ports"}); ps && ps->is_array())
              for (const auto& p : *ps) {
                if (list.size() < 3) {
                  std::string n = "*";
                  if (Has(p, {"port"}))
                    n = std::to_string(Int(p, {"port"}));
                  else if (Has(p, {"name"}))
                    n = Str(p, {"name"});
                  list.push_back(n);
                }
                ++count;
              }
            return ListWithMore(list, count);
          },
          0, "string", "The ports of the endpoints."),
      Column(
          "Endpoints",
          [](const Json& o) -> Json {
            std::vector<std::string> list;
            size_t count = 0;
            if (const Json* es = At(o, {"endpoints"}); es && es->is_array())
              for (const auto& e : *es)
                if (const Json* as = At(e, {"addresses"}); as && as->is_array())
                  for (const auto& a : *as) {
                    if (list.size() < 3) list.push_back(a.is_string() ? a.get<std::string>() : "");
                    ++count;
                  }
            return ListWithMore(list, count);
          },
          0, "string", "Addresses of the endpoints."),
      AgeColumn(),
  };
  k.hooks.defaults = [](Json& o) {
    ForEach(o, "ports", [](Json& p) {
      SetDefault(p, "name", "");
      SetDefault(p, "protocol", "TCP");
    });
  };
  k.hooks.validate = [](const Json& o, const Json* old, std::vector<Cause>& causes) {
    std::string at = Str(o, {"addressType"});
    if (at.empty())
      causes.push_back(api::Required("addressType"));
    else if (at != "IPv4" && at != "IPv6" && at != "FQDN")
      causes.push_back(api::NotSupported("addressType", at, {"FQDN", "IPv4", "IPv6"}));
    if (old && Str(*old, {"addressType"}) != at)
      causes.push_back(api::InvalidValue("addressType", at, "field is immutable"));
    const Json* eps = At(o, {"endpoints"});
    if (eps && eps->is_array()) {
      if (eps->size() > 1000)
        causes.push_back(
            Cause{"FieldValueTooMany",
                  "Too many: " + std::to_string(eps->size()) + ": must have at most 1000 items",
                  "endpoints"});
      for (size_t i = 0; i < eps->size(); ++i) {
        const Json* as = At((*eps)[i], {"addresses"});
        std::string p = Idx("endpoints", i) + ".addresses";
        if (!as || !as->is_array() || as->empty())
          causes.push_back(api::Required(p, "must contain at least 1 address"));
        else if (as->size() > 100)
          causes.push_back(Cause{
              "FieldValueTooMany",
              "Too many: " + std::to_string(as->size()) + ": must have at most 100 items", p});
      }
    }
    if (const Json* ps = At(o, {"ports"}); ps && ps->is_array())
      for (size_t i = 0; i < ps->size(); ++i) {
        const Json& pt = (*ps)[i];
        std::string p = Idx("ports", i);
        if (Has(pt, {"port"}))
          for (auto& m : api::IsValidPortNum(Int(pt, {"port"})))
            causes.push_back(api::InvalidValue(p + ".port", Int(pt, {"port"}), m));
        std::string proto = Str(pt, {"protocol"}, "TCP");
        if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
          causes.push_back(api::NotSupported(p + ".protocol", proto, {"SCTP", "TCP", "UDP"}));
        std::string name = Str(pt, {"name"});
        if (!name.empty())
          for (auto& m : api::IsDNS1123Label(name))
            causes.push_back(api::InvalidValue(p + ".name", name, m));
      }
  };
  reg.Register(std::move(k));
}

}  // namespace berth::kinds
