#include "api/selector.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace berth {
namespace {

Json J(const char* text) { return Json::parse(text); }

LabelSelector MustParse(const char* text) {
  auto r = LabelSelector::Parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : LabelSelector::Nothing();
}

// ---- label selectors: string form -----------------------------------------------

TEST(LabelSelector, EveryOperatorMatches) {
  const Json labels = J(R"({"app": "web", "tier": "fe", "n": "5"})");
  struct Case {
    const char* selector;
    bool matches;
  } cases[] = {
      {"", true},
      {"app=web", true},
      {"app=api", false},
      {"app==web", true},
      {"app!=web", false},
      {"missing!=x", true},
      {"app", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"tier in (fe,be)", true},
      {"tier in (be)", false},
      {"tier notin (be)", true},
      {"tier notin (fe)", false},
      {"missing notin (fe)", true},
      {"n>4", true},
      {"n>5", false},
      {"n<6", true},
      {"app>1", false},
      {"app=web,tier=fe", true},
      {"app=web,tier=be", false},
      {"  app = web ,  tier in ( fe , x ) ,!gone ", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MustParse(c.selector).Matches(labels), c.matches) << c.selector;
  }
  EXPECT_TRUE(MustParse("").SelectsEverything());
  EXPECT_FALSE(MustParse("a").Matches(Json()));
  EXPECT_TRUE(MustParse("!a").Matches(Json()));
}

TEST(LabelSelector, EmptyValuesAndKeywordsAsValues) {
  EXPECT_TRUE(MustParse("a=").Matches(J(R"({"a": ""})")));
  EXPECT_TRUE(MustParse("a in ()").Matches(J(R"({"a": ""})")));
  EXPECT_TRUE(MustParse("a in (x,)").Matches(J(R"({"a": ""})")));
  EXPECT_TRUE(MustParse("a=in").Matches(J(R"({"a": "in"})")));
  EXPECT_TRUE(MustParse("in=notin").Matches(J(R"({"in": "notin"})")));
}

TEST(LabelSelector, RendersCanonically) {
  EXPECT_EQ(MustParse("tier in (b,a,b),app=web,!old,x!=y,n>3,k").ToString(),
            "app=web,k,n>3,!old,tier in (a,b),x!=y");
  for (const char* s : {"a==b", "a in ()", "a=", "a notin (x,y)", "example.com/a=b"}) {
    EXPECT_EQ(MustParse(s).ToString(), s);
    EXPECT_EQ(MustParse(MustParse(s).ToString().c_str()).ToString(), s);
  }
}

TEST(LabelSelector, RejectsBadSyntaxWithApiserverMessages) {
  std::map<std::string, std::string> cases = {
      {"=b", "found '=', expected: !, identifier, or 'end of string'"},
      {"a=b,", "found '', expected: identifier after ','"},
      {"a=b c", "found 'c', expected: ',' or 'end of string'"},
      {"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"},
      {"a in (x", "unable to parse requirement: found '', expected: ',' or ')'"},
      {"a in x", "unable to parse requirement: found 'x' expected: '('"},
      {"a=(", "unable to parse requirement: found '(', expected: identifier"},
      {"!a=b", "unable to parse requirement: found '=', expected: ',' or 'end of string'"},
      {"!", "unable to parse requirement: found '', expected: identifier"},
  };
  for (const auto& [selector, message] : cases) {
    auto r = LabelSelector::Parse(selector);
    ASSERT_FALSE(r.ok()) << selector;
    EXPECT_EQ(r.status().code(), Code::kBadRequest);
    EXPECT_EQ(r.status().message(), message) << selector;
  }
}

TEST(LabelSelector, ValidatesKeysAndValues) {
  for (const char* bad :
       {"a/b/c=d", "/a=b", "Example.com/a=b", "-a=b", "a=-b", "a=b_", "a>x", "a in (ok,b@d)"}) {
    auto r = LabelSelector::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kBadRequest);
    EXPECT_TRUE(r.status().message().starts_with("unable to parse requirement: ")) << bad;
  }
  EXPECT_EQ(LabelSelector::Parse("a/b/c").status().message(),
            "unable to parse requirement: key: Invalid value: \"a/b/c\": a qualified name must "
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
            "subdomain prefix and '/' (e.g. 'example.com/MyName')");

  const std::string n63(63, 'x');
  EXPECT_TRUE(LabelSelector::Parse("app.kubernetes.io/name=" + n63).ok());
  EXPECT_FALSE(LabelSelector::Parse("a=" + n63 + "x").ok());
  EXPECT_FALSE(LabelSelector::Parse(n63 + "x").ok());
  EXPECT_EQ(LabelValueErrors(n63 + "x"),
            std::vector<std::string>{"must be no more than 63 characters"});
  EXPECT_TRUE(QualifiedNameErrors("k8s.io/My_Name.1").empty());
  // Bytes that are not UTF-8 are quoted in the message, never thrown on.
  EXPECT_EQ(LabelSelector::Parse("\xfb=b").status().code(), Code::kBadRequest);
  EXPECT_TRUE(LabelValueErrors("").empty());
}

// ---- label selectors: metav1.LabelSelector ------------------------------------

TEST(LabelSelector, FromLabelSelectorObject) {
  auto r = LabelSelector::FromJson(J(R"({
      "matchLabels": {"app": "web"},
      "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["fe", "be"]},
        {"key": "env", "operator": "NotIn", "values": ["prod"]},
        {"key": "canary", "operator": "DoesNotExist"},
        {"key": "team", "operator": "Exists", "values": []}]})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ToString(), "app=web,!canary,env notin (prod),team,tier in (be,fe)");
  EXPECT_TRUE(r->Matches(J(R"({"app": "web", "tier": "fe", "team": "x"})")));
  EXPECT_FALSE(r->Matches(J(R"({"app": "web", "tier": "fe", "team": "x", "env": "prod"})")));
  EXPECT_FALSE(r->Matches(J(R"({"app": "web", "tier": "fe", "team": "x", "canary": "1"})")));

  // The string form is what kubectl sends back for `logs deploy/x`.
  EXPECT_EQ(LabelSelector::FromJson(J(R"({"matchLabels": {"app": "x"}})"))->ToString(), "app=x");

  EXPECT_TRUE(LabelSelector::FromJson(J("{}"))->SelectsEverything());
  EXPECT_TRUE(LabelSelector::FromJson(Json())->SelectsNothing());
  EXPECT_FALSE(LabelSelector::FromJson(Json())->Matches(J(R"({"a": "b"})")));
}

TEST(LabelSelector, LabelSelectorObjectErrorsCarryCauses) {
  auto r = LabelSelector::FromJson(J(R"({
      "matchLabels": {"bad key": "v"},
      "matchExpressions": [
        {"key": "a", "operator": "In", "values": []},
        {"key": "b", "operator": "Exists", "values": ["x"]},
        {"key": "c", "operator": "Gt", "values": ["1"]}]})"),
                                   "spec.selector");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  const auto& causes = r.status().causes();
  ASSERT_EQ(causes.size(), 4u);
  EXPECT_EQ(causes[0].field, "spec.selector.matchLabels");
  EXPECT_EQ(causes[1].reason, "FieldValueRequired");
  EXPECT_EQ(causes[1].field, "spec.selector.matchExpressions[0].values");
  EXPECT_EQ(causes[1].message,
            "Required value: must be specified when `operator` is 'In' or 'NotIn'");
  EXPECT_EQ(causes[2].reason, "FieldValueForbidden");
  EXPECT_EQ(causes[3].field, "spec.selector.matchExpressions[2].operator");
  EXPECT_EQ(causes[3].message, "Invalid value: \"Gt\": not a valid selector operator");

  EXPECT_EQ(LabelSelector::FromJson(J(R"({"matchLabels": {"a": 1}})")).status().code(),
            Code::kInvalid);
  EXPECT_EQ(LabelSelector::FromJson(J(R"("app=x")")).status().code(), Code::kInvalid);
}

// ---- field selectors --------------------------------------------------------------

FieldSelector::Getter Fields(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view f) -> std::optional<std::string> {
    auto it = values.find(std::string(f));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(FieldSelector, MatchesEqualityAndInequality) {
  auto get = Fields({{"metadata.name", "web"}, {"metadata.namespace", "default"}});
  auto s = FieldSelector::Parse("metadata.name=web,metadata.namespace!=kube-system");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Matches(get));
  EXPECT_FALSE(FieldSelector::Parse("metadata.name==api")->Matches(get));
  EXPECT_FALSE(FieldSelector::Parse("metadata.name!=web")->Matches(get));
  EXPECT_TRUE(FieldSelector::Parse("spec.nodeName=")->Matches(get)) << "absent compares as \"\"";
  EXPECT_TRUE(FieldSelector::Parse("")->SelectsEverything());
  EXPECT_TRUE(FieldSelector::Parse(",")->Matches(get));
}

TEST(FieldSelector, EscapedValues) {
  auto s = FieldSelector::Parse(R"(a=x\,y\=z\\w,b!=\,)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->terms().size(), 2u);
  EXPECT_EQ(s->terms()[0].value, R"(x,y=z\w)");
  EXPECT_FALSE(s->terms()[1].equals);
  EXPECT_EQ(s->terms()[1].value, ",");
  EXPECT_TRUE(s->Matches(Fields({{"a", R"(x,y=z\w)"}, {"b", "q"}})));
  EXPECT_EQ(s->ToString(), R"(a=x\,y\=z\\w,b!=\,)");
  EXPECT_EQ(FieldSelector::Parse(s->ToString())->ToString(), s->ToString());
}

TEST(FieldSelector, RejectsMalformedTerms) {
  std::map<std::string, std::string> cases = {
      {"abc", "invalid selector: 'abc'; can't understand 'abc'"},
      {"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
      {"a=b=c", "invalid field selector: unescaped character in value: ="},
      {R"(a=\q)", R"(invalid field selector: invalid escape sequence: \q)"},
      {R"(a=b\)", R"(invalid field selector: invalid escape sequence: \)"},
  };
  for (const auto& [selector, message] : cases) {
    auto r = FieldSelector::Parse(selector);
    ASSERT_FALSE(r.ok()) << selector;
    EXPECT_EQ(r.status().code(), Code::kBadRequest);
    EXPECT_EQ(r.status().message(), message);
  }
}

TEST(FieldSelector, ReportsFieldsForTheCallerToCheck) {
  auto s = FieldSelector::Parse(
      "involvedObject.uid=u,involvedObject.name=x,involvedObject.name!=y,spec.nodeName=n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Fields(), (std::vector<std::string>{"involvedObject.name", "involvedObject.uid",
                                                   "spec.nodeName"}));
  EXPECT_EQ(s->RequiresExactMatch("involvedObject.name"), "x");
  EXPECT_EQ(s->RequiresExactMatch("metadata.name"), std::nullopt);
  Status st = s->CheckFields([](std::string_view f) { return f.starts_with("involvedObject."); });
  EXPECT_EQ(st.code(), Code::kBadRequest);
  EXPECT_EQ(st.message(), "field label not supported: spec.nodeName");
  EXPECT_TRUE(s->CheckFields([](std::string_view) { return true; }).ok());
}

}  // namespace
}  // namespace berth
