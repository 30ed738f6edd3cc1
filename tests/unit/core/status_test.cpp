#include "core/status.h"

#include <gtest/gtest.h>

#include "core/ids.h"
#include "core/json.h"
#include "core/time.h"

#include <nlohmann/json.hpp>

namespace berth {
namespace {

TEST(Status, CodesMapToHttp) {
  EXPECT_EQ(HttpCode(Code::kInvalid), 422);
  EXPECT_EQ(std::string(ReasonString(Code::kGone)), "Expired");
  Status s = Invalid("bad").AddCause({"FieldValueRequired", "Required value", "metadata.name"});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.causes().size(), 1u);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> a = 3;
  Result<int> b = NotFound("x");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 3);
  EXPECT_EQ(b.status().code(), Code::kNotFound);
}

TEST(Time, RoundTripsRFC3339) {
  EXPECT_EQ(FormatRFC3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(*ParseRFC3339("2025-01-01T00:00:00Z"), 1735689600);
  EXPECT_EQ(*ParseRFC3339("2025-01-01T01:00:00.5+01:00"), 1735689600);
  EXPECT_FALSE(ParseRFC3339("2025-13-01T00:00:00Z"));
  EXPECT_EQ(HumanDuration(5), "5s");
  EXPECT_EQ(HumanDuration(185), "3m5s");
  EXPECT_EQ(HumanDuration(3 * 86400), "3d");
}

TEST(Ids, Base64RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "hello world\n"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64Decode("@@@"));
  EXPECT_EQ(NewUUID().size(), 36u);
}

TEST(Json, YamlTypesFollowCoreSchema) {
  auto j = ParseYamlOrJson("a: 1\nb: \"1\"\nc: true\nd: null\ne: 1.5\nf: [x, 'y']\n");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_EQ((*j)["b"], "1");
  EXPECT_EQ((*j)["c"], true);
  EXPECT_TRUE((*j)["d"].is_null());
  EXPECT_EQ((*j)["e"], 1.5);
  EXPECT_EQ((*j)["f"][1], "y");
  EXPECT_FALSE(ParseYamlOrJson("a: [").ok());
}

TEST(Json, OutOfRangeNumbersAreBadRequestNotACrash) {
  // Found by fuzz_json_yaml: nlohmann throws out_of_range, not parse_error.
  auto j = ParseJson("9e+800");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kBadRequest);
  // YAML has no float range: the out-of-range scalar stays a string, never inf.
  auto y = ParseYamlOrJson("{\"a\": 9e+800}");
  ASSERT_TRUE(y.ok());
  EXPECT_TRUE((*y)["a"].is_string());
}

}  // namespace
}  // namespace berth
