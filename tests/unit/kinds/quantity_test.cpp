#include "kinds/quantity.h"

#include <gtest/gtest.h>

namespace berth::kinds {
namespace {

std::string Canon(const char* s) {
  auto q = Quantity::Parse(s);
  return q.ok() ? q->ToString() : "ERR";
}

TEST(Quantity, CanonicalForms) {
  EXPECT_EQ(Canon("100m"), "100m");
  EXPECT_EQ(Canon("1000m"), "1");
  EXPECT_EQ(Canon("1500m"), "1500m");
  EXPECT_EQ(Canon("0.5"), "500m");
  EXPECT_EQ(Canon("1.5"), "1500m");
  EXPECT_EQ(Canon("2000"), "2k");
  EXPECT_EQ(Canon("1200"), "1200");
  EXPECT_EQ(Canon("1Gi"), "1Gi");
  EXPECT_EQ(Canon("1024Mi"), "1Gi");
  EXPECT_EQ(Canon("1.5Gi"), "1536Mi");
  EXPECT_EQ(Canon("512Ki"), "512Ki");
  EXPECT_EQ(Canon("0.5Ki"), "512");
  EXPECT_EQ(Canon("2e3"), "2e3");
  EXPECT_EQ(Canon("1E6"), "1e6");
  EXPECT_EQ(Canon("12e2"), "1200");
  EXPECT_EQ(Canon("0"), "0");
  EXPECT_EQ(Canon("0Gi"), "0");
  EXPECT_EQ(Canon("-1"), "-1");
  EXPECT_EQ(Canon("0.1m"), "100u");
  EXPECT_EQ(Canon("1n"), "1n");
  EXPECT_EQ(Canon("0.0000000001"), "1n");  // finer than nano rounds up
  EXPECT_EQ(Canon("+3k"), "3k");
  EXPECT_EQ(Canon("128974848"), "128974848");
  EXPECT_EQ(Canon("129e6"), "129e6");
  EXPECT_EQ(Canon("129M"), "129M");
  EXPECT_EQ(Canon("123Mi"), "123Mi");
}

TEST(Quantity, RejectsGarbage) {
  for (const char* bad : {"", "abc", "1K", "1Gb", "--1", ".", "1e", "1ee3", "Gi", "1 Gi"}) {
    auto q = Quantity::Parse(bad);
    EXPECT_FALSE(q.ok()) << bad;
    if (!q.ok()) {
      EXPECT_EQ(q.status().message(), kQuantityFormatError) << bad;
    }
  }
}

TEST(Quantity, Compares) {
  EXPECT_TRUE(*Quantity::Parse("500m") < *Quantity::Parse("1"));
  EXPECT_TRUE(*Quantity::Parse("1Gi") == *Quantity::Parse("1024Mi"));
  EXPECT_TRUE(*Quantity::Parse("1G") < *Quantity::Parse("1Gi"));
  EXPECT_EQ(Quantity::Parse("1500m")->MilliValue(), 1500);
  EXPECT_EQ(Quantity::Parse("1500m")->Value(), 2);
  EXPECT_EQ(Quantity::Parse("1Ki")->Value(), 1024);
}

}  // namespace
}  // namespace berth::kinds
