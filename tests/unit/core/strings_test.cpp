#include "core/strings.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

using V = std::vector<std::string>;

TEST(StringsTest, SplitKeepsEmptyPieces) {
  EXPECT_EQ(Split("a::b", ':'), (V{"a", "", "b"}));
  EXPECT_EQ(Split("root:x:0:0::/root:", ':'), (V{"root", "x", "0", "0", "", "/root", ""}));
  EXPECT_EQ(Split("", ':'), (V{""}));
  EXPECT_EQ(Split("abc", ':'), (V{"abc"}));
}

TEST(StringsTest, SplitFieldsDropsEmptyPieces) {
  EXPECT_EQ(SplitFields("  tok  admin   system:masters ", ' '), (V{"tok", "admin", "system:masters"}));
  EXPECT_EQ(SplitFields(",a,,b,", ','), (V{"a", "b"}));
  EXPECT_TRUE(SplitFields("   ", ' ').empty());
}

TEST(StringsTest, LinesEndAtTheFinalNewline) {
  EXPECT_EQ(Lines("a\nb\n"), (V{"a", "b"}));
  EXPECT_EQ(Lines("a\n\nb"), (V{"a", "", "b"}));
  EXPECT_TRUE(Lines("").empty());
  EXPECT_EQ(Lines("\n"), (V{}));
}

TEST(StringsTest, OciPathComponents) {
  for (const char* ok : {"a", "busybox", "my-app", "my--app", "a.b", "a_b", "a__b", "x1", "0"})
    EXPECT_TRUE(IsOciPathComponent(ok)) << ok;
  for (const char* bad : {"", "A", "-a", "a-", "a.", ".a", "a..b", "a___b", "a-.b", "a._b", "a/b", "..", "a b"})
    EXPECT_FALSE(IsOciPathComponent(bad)) << bad;
  EXPECT_TRUE(IsOciPathComponent(std::string(255, 'a')));
  EXPECT_FALSE(IsOciPathComponent(std::string(256, 'a')));
}

}  // namespace
}  // namespace berth
