#include "node/spdy.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace berth::node::spdy {
namespace {

// Two consecutive header blocks of one connection, as a zlib user with the
// SPDY/3 dictionary writes them (the second reuses the first's window):
// {port: 8080, requestid: 0, streamtype: error}, then streamtype: data.
const std::string kErrorBlock(
    "\x78\xf9\xe3\xc6\xa7\xc2\x02\x25\x3a\x48\xf9\x5b\x04\x4e\xea\x16\x06\x16\x06\x40\x9a\xb3\x08"
    "\x12\x5f"
    "\x99\xa0\x74\xcc\x68\x00\x4e\x89\x25\x45\xa9\x89\xb9\xd0\xc2\x86\x35\x15\x14\x15\x00\x00\x00"
    "\x00\xff\xff",
    51);
const std::string kDataBlock("\x22\x53\x33\xa8\xa4\x4a\x04\x00\x00\x00\xff\xff", 12);

TEST(SpdyTest, DictionaryIsTheSpdy3One) {
  std::string_view d = Dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), std::string_view("\0\0\0\x07options", 11));
  EXPECT_EQ(d.substr(d.size() - 6), "enq=0.");
  // The dictionary id every SPDY/3 header stream carries in its zlib header.
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())),
            0xe3c6a7c2u);
}

TEST(SpdyTest, DecompressesKnownHeaderBlocksInOrder) {
  Framer f;
  auto a = f.DecompressHeaders(kErrorBlock);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  HeaderBlock want_a = {{"port", "8080"}, {"requestid", "0"}, {"streamtype", "error"}};
  EXPECT_EQ(*a, want_a);
  auto b = f.DecompressHeaders(kDataBlock);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  HeaderBlock want_b = {{"port", "8080"}, {"requestid", "0"}, {"streamtype", "data"}};
  EXPECT_EQ(*b, want_b);
}

TEST(SpdyTest, CompressedBlocksStartWithTheDictionaryId) {
  Framer f;
  auto c = f.CompressHeaders({{"a", "b"}});
  ASSERT_TRUE(c.ok());
  ASSERT_GE(c->size(), 6u);
  EXPECT_EQ(static_cast<uint8_t>((*c)[1]) & 0x20, 0x20);  // FDICT
  EXPECT_EQ(c->substr(2, 4), std::string("\xe3\xc6\xa7\xc2", 4));
  // Sync flush: every block ends on a byte boundary with an empty stored block.
  EXPECT_EQ(c->substr(c->size() - 4), std::string("\x00\x00\xff\xff", 4));
}

// Frames encoded by one end decode identically at the other, across several
// header blocks sharing the compression context.
TEST(SpdyTest, FramesRoundTrip) {
  Framer writer, reader;
  std::vector<Frame> frames;
  Frame syn;
  syn.control = true;
  syn.type = kSynStream;
  syn.stream_id = 1;
  syn.associated_id = 0;
  syn.priority = 3;
  syn.flags = kFlagUnidirectional;
  syn.headers = {{"streamtype", "error"}, {"port", "80"}, {"requestid", "7"}};
  frames.push_back(syn);
  syn.stream_id = 3;
  syn.flags = 0;
  syn.headers = {{"streamtype", "data"}, {"port", "80"}, {"requestid", "7"}};
  frames.push_back(syn);
  frames.push_back(SynReply(1));
  frames.push_back(SynReply(3, kFlagFin));
  frames.push_back(Data(3, "hello", 0));
  frames.push_back(Data(3, "", kFlagFin));
  frames.push_back(Data(5, std::string(100000, 'x')));
  frames.push_back(RstStream(3, kCancel));
  frames.push_back(Ping(2));
  frames.push_back(GoAway(3, 0));
  Frame wu;
  wu.control = true;
  wu.type = kWindowUpdate;
  wu.stream_id = 3;
  wu.delta_window = 65536;
  frames.push_back(wu);
  Frame settings;
  settings.control = true;
  settings.type = kSettings;
  settings.settings = {{7, 65536}, {(1u << 24) | 4, 100}};
  frames.push_back(settings);

  std::string wire;
  for (const auto& f : frames) {
    auto b = writer.Encode(f);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    wire += *b;
  }
  // Delivered in awkward pieces, as a socket would.
  size_t i = 0;
  std::vector<Frame> got;
  while (i < wire.size()) {
    size_t n = std::min<size_t>(7 + (i % 13), wire.size() - i);
    reader.Feed(std::string_view(wire).substr(i, n));
    i += n;
    Frame f;
    for (;;) {
      auto more = reader.Next(&f);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      got.push_back(f);
    }
  }
  ASSERT_EQ(got.size(), frames.size());
  for (size_t k = 0; k < frames.size(); ++k) {
    SCOPED_TRACE(k);
    const Frame &a = frames[k], &b = got[k];
    EXPECT_EQ(a.control, b.control);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.stream_id, b.stream_id);
    EXPECT_EQ(a.priority, b.priority);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.ping_id, b.ping_id);
    EXPECT_EQ(a.delta_window, b.delta_window);
    EXPECT_EQ(a.headers, b.headers);
    EXPECT_EQ(a.settings, b.settings);
    EXPECT_EQ(a.data, b.data);
  }
  EXPECT_EQ(got[0].Header("StreamType"), "error");
  EXPECT_EQ(got[1].Header("requestid"), "7");
  EXPECT_EQ(got[1].Header("missing"), "");
}

TEST(SpdyTest, KnownFrameBytes) {
  Framer f;
  auto ping = f.Encode(Ping(1));
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(*ping, std::string("\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  auto data = f.Encode(Data(5, "ab", kFlagFin));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, std::string("\x00\x00\x00\x05\x01\x00\x00\x02"
                               "ab",
                               10));
  auto rst = f.Encode(RstStream(3, kCancel));
  ASSERT_TRUE(rst.ok());
  EXPECT_EQ(*rst,
            std::string("\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x05", 16));
}

TEST(SpdyTest, RejectsOtherVersionsAndCorruptHeaders) {
  Framer f;
  f.Feed(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  Frame fr;
  EXPECT_FALSE(f.Next(&fr).ok());

  Framer g;
  std::string syn(
      "\x80\x03\x00\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "junk",
      22);
  g.Feed(syn);
  EXPECT_FALSE(g.Next(&fr).ok());
}

TEST(SpdyTest, WaitsForWholeFrames) {
  Framer f;
  f.Feed(
      std::string("\x00\x00\x00\x01\x00\x00\x00\x03"
                  "ab",
                  10));
  Frame fr;
  auto r = f.Next(&fr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  f.Feed("c");
  r = f.Next(&fr);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(fr.data, "abc");
}

}  // namespace
}  // namespace berth::node::spdy
