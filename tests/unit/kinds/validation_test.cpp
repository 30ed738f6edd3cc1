// Generic validators: exact apiserver wording.
#include "api/validation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::api {
namespace {

TEST(Validation, DNS1123Subdomain) {
  auto errs = IsDNS1123Subdomain("Foo");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0],
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  EXPECT_TRUE(IsDNS1123Subdomain("a.b-c.d").empty());
  EXPECT_EQ(IsDNS1123Subdomain(std::string(254, 'a'))[0], "must be no more than 253 characters");
}

TEST(Validation, DNS1123Label) {
  EXPECT_TRUE(IsDNS1123Label("nginx-1").empty());
  EXPECT_EQ(IsDNS1123Label("a.b"), std::vector<std::string>{"must not contain dots"});
  auto errs = IsDNS1123Label("-x");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

TEST(Validation, DNS1035AndQualifiedNames) {
  EXPECT_FALSE(IsDNS1035Label("1abc").empty());
  EXPECT_TRUE(IsDNS1035Label("abc-1").empty());
  EXPECT_TRUE(IsQualifiedName("app.kubernetes.io/name").empty());
  EXPECT_TRUE(IsQualifiedName("App_Name").empty());
  auto errs = IsQualifiedName("a/b/c");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].substr(0, 17), "a qualified name ");
  EXPECT_EQ(IsQualifiedName("/x")[0], "prefix part must be non-empty");
  EXPECT_TRUE(IsValidLabelValue("").empty());
  EXPECT_FALSE(IsValidLabelValue("-bad").empty());
  EXPECT_EQ(IsValidPortNum(0)[0], "must be between 1 and 65535, inclusive");
  EXPECT_EQ(IsValidPathSegmentName(".."), std::vector<std::string>{"may not be '..'"});
}

TEST(Validation, CauseMessages) {
  Cause c = InvalidValue("metadata.name", "Foo", "bad");
  EXPECT_EQ(c.reason, "FieldValueInvalid");
  EXPECT_EQ(c.message, "Invalid value: \"Foo\": bad");
  EXPECT_EQ(Required("spec.selector").message, "Required value");
  EXPECT_EQ(NotSupported("spec.type", "Foo", {"ClusterIP", "NodePort"}).message,
            "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\"");
  EXPECT_EQ(Duplicate("x", "a").message, "Duplicate value: \"a\"");
  EXPECT_EQ(Forbidden("x", "no").message, "Forbidden: no");
  EXPECT_EQ(InvalidValue("x", 70000, "m").message, "Invalid value: 70000: m");
  Json labels = {{"app", "x"}, {"tier", "web"}};
  EXPECT_EQ(InvalidValue("x", labels, "d").message,
            "Invalid value: map[string]string{\"app\":\"x\", \"tier\":\"web\"}: d");
}

TEST(Validation, InvalidStatusAggregates) {
  Status one = InvalidStatus("Deployment", "apps", "web", {Required("spec.selector")});
  EXPECT_EQ(one.code(), Code::kInvalid);
  EXPECT_EQ(one.message(), "Deployment.apps \"web\" is invalid: spec.selector: Required value");
  Status two = InvalidStatus(
      "Pod", "", "p", {Required("spec.containers"), InvalidValue("metadata.name", "P", "x")});
  EXPECT_EQ(two.message(),
            "Pod \"p\" is invalid: [spec.containers: Required value, metadata.name: Invalid "
            "value: \"P\": x]");
  EXPECT_EQ(two.causes().size(), 2u);
}

TEST(Validation, ObjectMeta) {
  std::vector<Cause> causes;
  Json obj = {
      {"metadata", {{"name", "Foo"}, {"namespace", "default"}, {"labels", {{"ok", "-bad"}}}}}};
  ValidateObjectMeta(obj, true, "subdomain", causes);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_EQ(causes[1].field, "metadata.labels");

  causes.clear();
  ValidateObjectMeta(Json{{"metadata", {{"generateName", "web-"}, {"namespace", "x"}}}}, true,
                     "subdomain", causes);
  EXPECT_TRUE(causes.empty());

  causes.clear();
  ValidateObjectMeta(Json{{"metadata", Json::object()}}, true, "subdomain", causes);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].message, "Required value: name or generateName is required");
  EXPECT_EQ(causes[1].field, "metadata.namespace");

  causes.clear();
  ValidateObjectMeta(Json{{"metadata", {{"name", "n"}, {"namespace", "x"}}}}, false, "label",
                     causes);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message, "Forbidden: not allowed on this type");

  causes.clear();
  ValidateObjectMeta(Json{{"metadata", {{"name", "my.svc"}, {"namespace", "x"}}}}, true, "dns1035",
                     causes);
  EXPECT_EQ(causes.size(), 1u);
}

}  // namespace
}  // namespace berth::api
