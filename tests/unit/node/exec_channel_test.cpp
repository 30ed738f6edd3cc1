#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node/exec.h"

namespace berth::node {
namespace {

TEST(ExecChannelTest, FramePrefixesTheChannel) {
  EXPECT_EQ(channel::Frame(channel::kStdout, "hi"), std::string("\x01hi"));
  EXPECT_EQ(channel::Frame(channel::kStdin, ""), std::string(1, '\0'));
  EXPECT_EQ(channel::Frame(channel::kClose, std::string(1, '\0')), std::string("\xff\x00", 2));
}

TEST(ExecChannelTest, SuccessStatus) {
  auto j = nlohmann::json::parse(channel::ExitStatus(0, {"true"}));
  EXPECT_EQ(j["status"], "Success");
  EXPECT_TRUE(j["metadata"].is_object());
}

TEST(ExecChannelTest, ExitCodeBecomesNonZeroExitCodeCause) {
  auto j = nlohmann::json::parse(channel::ExitStatus(3, {"sh", "-c", "exit 3"}));
  EXPECT_EQ(j["status"], "Failure");
  EXPECT_EQ(j["reason"], "NonZeroExitCode");
  ASSERT_EQ(j["details"]["causes"].size(), 1u);
  EXPECT_EQ(j["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(j["details"]["causes"][0]["message"], "3");
  EXPECT_NE(j["message"].get<std::string>().find("sh -c exit 3"), std::string::npos);
}

TEST(ExecChannelTest, ErrorStatusIsAFailure) {
  auto j = nlohmann::json::parse(channel::ErrorStatus("boom"));
  EXPECT_EQ(j["status"], "Failure");
  EXPECT_EQ(j["message"], "boom");
}

TEST(ExecChannelTest, ParsesResize) {
  uint16_t w = 0, h = 0;
  ASSERT_TRUE(channel::ParseResize(R"({"Width":120,"Height":40})", &w, &h));
  EXPECT_EQ(w, 120);
  EXPECT_EQ(h, 40);
  EXPECT_FALSE(channel::ParseResize("nope", &w, &h));
  EXPECT_FALSE(channel::ParseResize(R"({"Width":-1,"Height":40})", &w, &h));
  EXPECT_FALSE(channel::ParseResize(R"({"Width":70000,"Height":40})", &w, &h));
}

TEST(ExecChannelTest, NegotiatesTheNewestChannelProtocol) {
  EXPECT_EQ(channel::Negotiate("v5.channel.k8s.io"), "v5.channel.k8s.io");
  EXPECT_EQ(channel::Negotiate("v4.channel.k8s.io, v5.channel.k8s.io"), "v5.channel.k8s.io");
  EXPECT_EQ(channel::Negotiate("channel.k8s.io,v4.channel.k8s.io"), "v4.channel.k8s.io");
  EXPECT_EQ(channel::Negotiate("base64.channel.k8s.io"), "");
  EXPECT_EQ(channel::Negotiate(""), "");
}

}  // namespace
}  // namespace berth::node
