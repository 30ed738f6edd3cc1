// Tests for DecodeKubernetesProtobuf.
//
// The golden files in testdata/protobuf/ come from the real kubectl 1.32
// (capture.sh there regenerates them): <name>.pb is the body `kubectl create ...`
// POSTed and <name>.json is what `kubectl create ... --dry-run=client -o json`
// printed for the same command, i.e. the JSON a JSON client would have sent.
#include "api/protobuf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/ids.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

// Located from this source file so the test works from any build directory.
fs::path TestdataDir() { return fs::path(__FILE__).parent_path() / "testdata" / "protobuf"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Golden {
  std::string name;
  std::string pb;
  Json json;
};

std::vector<Golden> LoadGoldens() {
  std::vector<Golden> out;
  for (const auto& entry : fs::directory_iterator(TestdataDir())) {
    if (entry.path().extension() != ".pb") continue;
    fs::path json_path = entry.path();
    json_path.replace_extension(".json");
    out.push_back(
        {entry.path().stem().string(), ReadFile(entry.path()), Json::parse(ReadFile(json_path))});
  }
  std::sort(out.begin(), out.end(),
            [](const Golden& a, const Golden& b) { return a.name < b.name; });
  return out;
}

// The one normalisation the comparison needs: Go prints a nil slice that lacks
// omitempty as `null` (ClusterRole's `"rules": null`), while protobuf has no way
// to say "absent list" other than leaving it out. Kubernetes' JSON decoding
// treats null and absent alike, so null members are dropped from both sides.
// Everything else (including `"creationTimestamp": null`, `"resources": {}`,
// `"status": {}` and `"strategy": {}`) is reproduced by the decoder exactly and
// compared as-is.
Json DropNulls(const Json& j) {
  if (j.is_object()) {
    Json out = Json::object();
    for (const auto& [k, v] : j.items()) {
      if (!v.is_null()) out[k] = DropNulls(v);
    }
    return out;
  }
  if (j.is_array()) {
    Json out = Json::array();
    for (const auto& v : j) out.push_back(DropNulls(v));
    return out;
  }
  return j;
}

TEST(ProtobufSchema, SelfCheckPasses) {
  Status s = internal::ProtobufSchemaSelfCheck();
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ProtobufGolden, EveryKubectlBodyDecodesToItsJson) {
  std::vector<Golden> goldens = LoadGoldens();
  // Guard against a missing or moved testdata directory passing vacuously.
  std::set<std::string> names;
  for (const Golden& g : goldens) names.insert(g.name);
  for (const char* required : {"namespace",
                               "configmap",
                               "secret_generic",
                               "secret_tls",
                               "secret_docker",
                               "deployment",
                               "deployment_two_images",
                               "service_clusterip",
                               "service_nodeport",
                               "service_externalname",
                               "job",
                               "cronjob",
                               "serviceaccount",
                               "quota",
                               "priorityclass",
                               "role",
                               "rolebinding",
                               "ingress",
                               "pdb",
                               "clusterrole",
                               "clusterrolebinding"}) {
    EXPECT_TRUE(names.count(required)) << "missing golden " << required << " in " << TestdataDir();
  }
  for (const Golden& g : goldens) {
    SCOPED_TRACE(g.name);
    Result<Json> got = DecodeKubernetesProtobuf(g.pb);
    ASSERT_TRUE(got.ok()) << got.status().message();
    Json want = DropNulls(g.json);
    Json have = DropNulls(*got);
    EXPECT_EQ(have, want) << "patch from expected to decoded: " << Json::diff(want, have).dump();
  }
}

// Spot checks on the goldens that pin down the special encodings, so a
// regenerated golden cannot silently hide a regression in one of them.
class ProtobufGoldenDetail : public ::testing::Test {
 protected:
  Json Decode(const std::string& name) {
    Result<Json> r = DecodeKubernetesProtobuf(ReadFile(TestdataDir() / (name + ".pb")));
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().message();
    return r.ok() ? *r : Json();
  }
};

TEST_F(ProtobufGoldenDetail, NamespaceHasOnlyWhatTheClientSet) {
  Json ns = Decode("namespace");
  EXPECT_EQ(ns["apiVersion"], "v1");
  EXPECT_EQ(ns["kind"], "Namespace");
  EXPECT_EQ(ns["metadata"]["name"], "team-a");
  // gogo writes "" / 0 for every unset ObjectMeta scalar; they must not surface.
  for (const char* absent :
       {"namespace", "generateName", "selfLink", "uid", "resourceVersion", "generation"}) {
    EXPECT_FALSE(ns["metadata"].contains(absent)) << absent;
  }
  EXPECT_TRUE(ns["metadata"]["creationTimestamp"].is_null());
}

TEST_F(ProtobufGoldenDetail, BytesBecomeBase64) {
  Json cm = Decode("configmap");
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(cm["binaryData"]["blob"], Base64Encode(all_bytes));
  EXPECT_EQ(cm["data"]["greeting"], "hello world");
  EXPECT_EQ(cm["metadata"]["namespace"], "team-a");
  Json secret = Decode("secret_generic");
  EXPECT_EQ(secret["data"]["password"], Base64Encode("s3cr3t!"));
  EXPECT_EQ(secret["type"], "Opaque");
}

TEST_F(ProtobufGoldenDetail, AnnotationsAreByteExact) {
  Json cm = Decode("configmap_savecfg");
  const std::string& last =
      cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
          .get_ref<const std::string&>();
  EXPECT_EQ(last.back(), '\n');
  EXPECT_TRUE(Json::parse(last).is_object());
}

TEST_F(ProtobufGoldenDetail, PointerZerosSurviveOmitemptyZerosDoNot) {
  EXPECT_EQ(Decode("deployment")["spec"]["replicas"], 3);
  // --replicas=0 is a *int32 in Go: the explicit zero must reach the server.
  EXPECT_EQ(Decode("deployment_cmd")["spec"]["replicas"], 0);
  Json pc = Decode("priorityclass_default");
  EXPECT_EQ(pc["value"], 0);  // `json:"value"` has no omitempty
  EXPECT_EQ(pc["globalDefault"], true);
  EXPECT_FALSE(Decode("priorityclass").contains("globalDefault"));
}

TEST_F(ProtobufGoldenDetail, IntOrStringKeepsItsJsonType) {
  EXPECT_EQ(Decode("service_clusterip")["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(Decode("service_loadbalancer")["spec"]["ports"][0]["targetPort"], "https");
  EXPECT_EQ(Decode("service_nodeport")["spec"]["ports"][0]["nodePort"], 30080);
  EXPECT_EQ(Decode("pdb")["spec"]["minAvailable"], "50%");
  EXPECT_EQ(Decode("pdb_max")["spec"]["maxUnavailable"], 1);
}

TEST_F(ProtobufGoldenDetail, QuantitiesAndInlineStructs) {
  Json quota = Decode("quota");
  EXPECT_EQ(quota["spec"]["hard"]["memory"], "1G");
  EXPECT_EQ(quota["spec"]["hard"]["requests.storage"], "500m");
  Json ing = Decode("ingress");
  // IngressRuleValue is inline: "http" sits directly in the rule.
  EXPECT_EQ(ing["spec"]["rules"][0]["host"], "foo.com");
  EXPECT_TRUE(ing["spec"]["rules"][0]["http"]["paths"].is_array());
  EXPECT_EQ(ing["spec"]["ingressClassName"], "nginx");
}

// Every prefix and many corruptions of every golden must decode or fail
// cleanly, and anything that decodes must serialise (no invalid UTF-8 left in
// it). Run under ASan (BERTH_SANITIZE=ON) this also proves no out-of-bounds read.
TEST(ProtobufMalformed, TruncationsOfEveryGoldenAreSafe) {
  for (const Golden& g : LoadGoldens()) {
    SCOPED_TRACE(g.name);
    size_t errors = 0;
    for (size_t n = 0; n < g.pb.size(); ++n) {
      // A copy, so ASan sees the exact end of the buffer.
      std::string prefix = g.pb.substr(0, n);
      Result<Json> r = DecodeKubernetesProtobuf(prefix);
      if (r.ok()) {
        EXPECT_NO_THROW(r->dump());
      } else {
        ++errors;
        EXPECT_EQ(r.status().code(), Code::kBadRequest) << n << ": " << r.status().message();
      }
    }
    // Cutting inside the envelope's raw field breaks its length, so almost all
    // prefixes must be rejected; only cuts at envelope field boundaries survive.
    EXPECT_GE(errors, g.pb.size() - 4);
  }
}

TEST(ProtobufMalformed, ByteCorruptionsOfEveryGoldenAreSafe) {
  for (const Golden& g : LoadGoldens()) {
    SCOPED_TRACE(g.name);
    for (size_t i = 0; i < g.pb.size(); ++i) {
      for (uint8_t x : {0x01, 0x07, 0x80, 0xff}) {
        std::string mutated = g.pb;
        mutated[i] = static_cast<char>(mutated[i] ^ x);
        Result<Json> r = DecodeKubernetesProtobuf(mutated);
        if (r.ok()) {
          EXPECT_NO_THROW(r->dump());
        }
      }
    }
  }
}

// ---- hand-built bodies ----

// Minimal protobuf encoder for test inputs.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint32_t number, uint32_t wire_type) { return Varint(number << 3 | wire_type); }
std::string VarintField(uint32_t number, uint64_t v) { return Tag(number, 0) + Varint(v); }
std::string LenField(uint32_t number, const std::string& bytes) {
  return Tag(number, 2) + Varint(bytes.size()) + bytes;
}
std::string MapEntry(uint32_t number, const std::string& k, const std::string& v) {
  return LenField(number, LenField(1, k) + LenField(2, v));
}
std::string Envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw, const std::string& extra = "") {
  return std::string("k8s\0", 4) + LenField(1, LenField(1, api_version) + LenField(2, kind)) +
         LenField(2, raw) + extra;
}
std::string Meta(const std::string& name) { return LenField(1, LenField(1, name)); }

Result<Json> DecodeRaw(const std::string& api_version, const std::string& kind,
                       const std::string& raw) {
  return DecodeKubernetesProtobuf(Envelope(api_version, kind, raw));
}

void ExpectBadRequest(const std::string& body, const char* why) {
  Result<Json> r = DecodeKubernetesProtobuf(body);
  ASSERT_FALSE(r.ok()) << why;
  EXPECT_EQ(r.status().code(), Code::kBadRequest) << why << ": " << r.status().message();
}

TEST(ProtobufMalformed, EnvelopeErrors) {
  ExpectBadRequest("", "empty body");
  ExpectBadRequest("k8s", "short magic");
  ExpectBadRequest("{\"kind\":\"Namespace\"}", "JSON, not protobuf");
  ExpectBadRequest(std::string("k8s\0", 4), "no TypeMeta");
  ExpectBadRequest(
      std::string("k8s\0", 4) + LenField(1, LenField(2, "Namespace")) + LenField(2, Meta("x")),
      "no apiVersion");
  ExpectBadRequest(std::string("k8s\0", 4) + VarintField(1, 5), "TypeMeta as a varint");
}

TEST(ProtobufMalformed, WireFormatErrors) {
  const std::string ok = Envelope("v1", "Namespace", Meta("x"));
  ASSERT_TRUE(DecodeKubernetesProtobuf(ok).ok());
  ExpectBadRequest(ok + "\x80", "truncated key varint");
  ExpectBadRequest(ok + Tag(9, 0) + "\xff\xff", "truncated value varint");
  ExpectBadRequest(ok + Tag(9, 0) + std::string(10, '\xff') + "\x01", "11-byte varint");
  ExpectBadRequest(ok + Tag(9, 0) + std::string(9, '\xff') + "\x02", "varint over 64 bits");
  ExpectBadRequest(ok + Tag(9, 2) + Varint(100) + "abc", "length past the end");
  ExpectBadRequest(ok + Tag(9, 2) + Varint(uint64_t{1} << 63), "huge length");
  ExpectBadRequest(ok + Tag(9, 1) + "1234567", "truncated fixed64");
  ExpectBadRequest(ok + Tag(9, 5) + "123", "truncated fixed32");
  for (uint32_t wt : {3u, 4u, 6u, 7u}) ExpectBadRequest(ok + Tag(9, wt), "bad wire type");
  ExpectBadRequest(ok + Tag(0, 0) + Varint(1), "field number 0");
  ExpectBadRequest(ok + Varint(uint64_t{1} << 35), "field number over 29 bits");
  // Errors deep inside the object surface too.
  ExpectBadRequest(Envelope("v1", "Namespace", LenField(1, VarintField(1, 7))),
                   "ObjectMeta.name as a varint");
  ExpectBadRequest(Envelope("v1", "Namespace", LenField(1, LenField(1, "x") + Tag(3, 2) + "\x05")),
                   "namespace length past the end of ObjectMeta");
  ExpectBadRequest(Envelope("v1", "Namespace", LenField(1, LenField(1, "\xc3\x28"))),
                   "invalid UTF-8");
  ExpectBadRequest(Envelope("v1", "Namespace", LenField(1, LenField(1, "\xed\xa0\x80"))),
                   "UTF-16 surrogate");
  ExpectBadRequest(Envelope("v1", "Namespace", LenField(1, MapEntry(11, "\xff", "v"))),
                   "invalid UTF-8 map key");
}

TEST(ProtobufMalformed, UnsupportedIsNotBadRequest) {
  Result<Json> r = DecodeRaw("v1", "Node", Meta("n1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupportedMediaType);
  r = DecodeKubernetesProtobuf(Envelope("v1", "Namespace", Meta("x"), LenField(3, "gzip")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupportedMediaType);
}

TEST(ProtobufMalformed, DeepUnknownNestingIsSkippedNotRecursed) {
  // The schema has no cycles, so real nesting is bounded by it (about 12 levels);
  // unknown fields are skipped as opaque bytes whatever they contain.
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep = LenField(1, deep);
  Result<Json> r = DecodeRaw("v1", "Namespace", Meta("x") + LenField(99, deep));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["metadata"]["name"], "x");
}

TEST(ProtobufDecode, UnknownFieldsOfEveryWireTypeAreSkipped) {
  std::string meta = LenField(1, "x") + VarintField(1000, 5) + Tag(1001, 1) + "12345678" +
                     Tag(1002, 5) + "1234" + LenField(1003, "junk");
  Result<Json> r = DecodeRaw("v1", "Namespace", LenField(1, meta) + VarintField(50, 1));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, Json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}})"));
}

TEST(ProtobufDecode, LastScalarWinsAndMessagesMerge) {
  std::string raw = LenField(1, LenField(1, "a") + MapEntry(11, "k1", "v1")) +
                    LenField(1, LenField(1, "b") + MapEntry(11, "k2", "v2"));
  Result<Json> r = DecodeRaw("v1", "Namespace", raw);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"], Json::parse(R"({"name":"b","labels":{"k1":"v1","k2":"v2"}})"));
}

TEST(ProtobufDecode, Time) {
  auto decode = [](const std::string& time_msg) {
    return DecodeRaw("v1", "Namespace", LenField(1, LenField(8, time_msg)));
  };
  Result<Json> r = decode(VarintField(1, 1735689600) + VarintField(2, 5));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["creationTimestamp"], "2025-01-01T00:00:00Z");
  r = decode(VarintField(1, 0));  // explicitly the epoch, not "unset"
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["creationTimestamp"], "1970-01-01T00:00:00Z");
  r = decode(VarintField(1, static_cast<uint64_t>(int64_t{-62135596800})));  // Go's zero time
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["creationTimestamp"], "0001-01-01T00:00:00Z");
  r = decode(VarintField(1, 253402300799));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["metadata"]["creationTimestamp"], "9999-12-31T23:59:59Z");
  EXPECT_FALSE(decode(VarintField(1, 253402300800)).ok());
  EXPECT_FALSE(decode(VarintField(1, static_cast<uint64_t>(INT64_MIN))).ok());
  EXPECT_FALSE(decode(LenField(1, "x")).ok());
}

TEST(ProtobufDecode, IntegersAndPackedRepeated) {
  // PodSecurityContext: runAsUser (2, *int64), supplementalGroups (4, repeated
  // int64, here packed; 300 takes two bytes); PodSpec.priority (25, *int32) sent
  // as a negative 10-byte varint.
  std::string psc = VarintField(2, 0) + Tag(4, 2) + Varint(4) + Varint(1) + Varint(2) +
                    Varint(300) + VarintField(4, 7);
  std::string spec = LenField(14, psc) + VarintField(25, static_cast<uint64_t>(int64_t{-5}));
  Result<Json> r = DecodeRaw("v1", "Pod", Meta("p") + LenField(2, spec));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["spec"]["securityContext"],
            Json::parse(R"({"runAsUser":0,"supplementalGroups":[1,2,300,7]})"));
  EXPECT_EQ((*r)["spec"]["priority"], -5);
}

TEST(ProtobufDecode, PodWithInlineStructsAndProbes) {
  std::string env = LenField(1, "CFG") +
                    LenField(3, LenField(3, LenField(1, LenField(1, "cm")) + LenField(2, "key")));
  std::string probe =
      LenField(1, LenField(2, LenField(1, "/healthz") +
                                  LenField(2, VarintField(1, 1) + LenField(3, "http")))) +
      VarintField(2, 3);
  std::string resources =
      MapEntry(1, "cpu", LenField(1, "500m")) + MapEntry(2, "memory", LenField(1, "64Mi"));
  std::string container = LenField(1, "app") + LenField(2, "nginx") + LenField(7, env) +
                          LenField(8, resources) + LenField(11, probe) +
                          LenField(9, LenField(1, "data") + LenField(3, "/data"));
  std::string volume = LenField(1, "data") + LenField(2, LenField(2, ""));
  std::string spec = LenField(1, volume) + LenField(2, container);
  Result<Json> r = DecodeRaw("v1", "Pod", Meta("p") + LenField(2, spec) + LenField(3, ""));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
    "spec": {
      "volumes": [{"name": "data", "emptyDir": {}}],
      "containers": [{
        "name": "app", "image": "nginx",
        "env": [{"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "key"}}}],
        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                           "initialDelaySeconds": 3},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]
      }]
    },
    "status": {}
  })"));
}

TEST(ProtobufDecode, MapEntryDefaultsAndIntOrStringErrors) {
  // A map entry without a value is Go's zero value; one without a key has key "".
  std::string raw = LenField(
      1, LenField(1, "x") + LenField(11, LenField(1, "k")) + LenField(11, LenField(2, "v")));
  Result<Json> r = DecodeRaw("v1", "Namespace", raw);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["metadata"]["labels"], Json::parse(R"({"k":"","":"v"})"));
  // IntOrString type must be 0 (int) or 1 (string).
  std::string port = LenField(4, VarintField(1, 2));
  EXPECT_FALSE(DecodeRaw("v1", "Service", LenField(2, LenField(1, port))).ok());
}

TEST(ProtobufDecode, TokenRequest) {
  std::string spec = LenField(1, "api") + VarintField(4, 3600) +
                     LenField(3, LenField(1, "Pod") + LenField(3, "p") + LenField(4, "u-1"));
  Result<Json> r =
      DecodeRaw("authentication.k8s.io/v1", "TokenRequest", Meta("sa") + LenField(2, spec));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["spec"], Json::parse(R"({"audiences":["api"],"expirationSeconds":3600,
                                          "boundObjectRef":{"kind":"Pod","name":"p","uid":"u-1"}})"));
}

TEST(ProtobufDecode, DecodableKindsListsTheGeneratorKinds) {
  std::vector<std::string_view> kinds = ProtobufDecodableKinds();
  std::set<std::string_view> set(kinds.begin(), kinds.end());
  for (const char* k : {"v1/Namespace", "v1/Secret", "apps/v1/Deployment", "batch/v1/CronJob",
                        "networking.k8s.io/v1/Ingress", "rbac.authorization.k8s.io/v1/Role"}) {
    EXPECT_TRUE(set.count(k)) << k;
  }
}

}  // namespace
}  // namespace berth
