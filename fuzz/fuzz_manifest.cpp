// libFuzzer target for what the registry parses from clients: manifests (with
// each Content-Type it accepts), digests, and the challenge headers and error
// bodies the registry client reads from other registries. Besides not
// crashing: an accepted manifest's references are valid digests, and a digest
// that parses prints back as itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "net/registry_client.h"
#include "registry/digest.h"
#include "registry/manifest.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace berth::registry;
  for (const char* ct : {"", kOciManifest, kOciIndex, kDockerManifest, kDockerManifestList}) {
    auto m = ParseManifest(in, ct);
    if (!m.ok()) continue;
    for (const auto& [d, n] : m->refs.blobs) Check(ParseDigest(d).ok() && n >= 0);
    for (const auto& d : m->refs.manifests) Check(ParseDigest(d).ok());
    if (!m->subject.empty()) Check(ParseDigest(m->subject).ok());
  }
  auto d = ParseDigest(in);
  if (d.ok()) Check(d->str() == in);
  std::string scheme;
  std::map<std::string, std::string> params;
  berth::net::ParseChallenge(std::string(in), &scheme, &params);
  std::string code;
  (void)berth::net::RegistryErrorMessage(std::string(in), &code);
  (void)berth::net::ParseUrl(std::string(in));
  return 0;
}
