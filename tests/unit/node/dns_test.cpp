// DNS wire format (round trips, compression, hostile input) and the cluster
// zone's answers; a live UDP+TCP server on loopback (no root needed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "core/json.h"
#include "gtest/gtest.h"
#include "node/dns/dns_message.h"
#include "node/dns/dns_server.h"
#include "node/network/service_model.h"

namespace berth::node::dns {
namespace {

Record A(const std::string& name, uint8_t last) {
  Record r;
  r.name = name;
  r.type = type::kA;
  r.ttl = 5;
  r.a = {10, 43, 0, last};
  return r;
}

std::string Query(const std::string& name, uint16_t t, uint16_t id = 7, bool edns = false) {
  Message q;
  q.id = id;
  q.rd = true;
  q.questions.push_back({name, t, kClassIN});
  if (edns) {
    Record o;
    o.type = type::kOPT;
    o.klass = 4096;
    q.additional.push_back(o);
  }
  return EncodeMessage(q).value();
}

TEST(DnsMessageTest, RoundTrip) {
  Message m;
  m.id = 0xBEEF;
  m.qr = m.aa = m.rd = true;
  m.rcode = rcode::kNXDomain;
  m.questions.push_back({"web.default.svc.cluster.local", type::kSRV, kClassIN});
  m.answers.push_back(A("web.default.svc.cluster.local", 20));
  Record srv;
  srv.name = "_http._tcp.web.default.svc.cluster.local";
  srv.type = type::kSRV;
  srv.ttl = 5;
  srv.priority = 1, srv.weight = 2, srv.port = 8080;
  srv.target = "web-0.web.default.svc.cluster.local";
  m.answers.push_back(srv);
  Record cname;
  cname.name = "ext.default.svc.cluster.local";
  cname.type = type::kCNAME;
  cname.target = "example.com";
  m.answers.push_back(cname);
  Record soa;
  soa.name = "cluster.local";
  soa.type = type::kSOA;
  soa.target = "ns.dns.cluster.local";
  soa.rname = "hostmaster.cluster.local";
  soa.serial = 42, soa.refresh = 1, soa.retry = 2, soa.expire = 3, soa.minimum = 5;
  m.authority.push_back(soa);
  Record txt;
  txt.name = "weird\\.label\\000x.cluster.local";
  txt.type = type::kTXT;
  txt.raw = std::string(
      "\x03"
      "abc",
      4);
  m.additional.push_back(txt);

  auto wire = EncodeMessage(m);
  ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  auto p = ParseMessage(*wire);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, 0xBEEF);
  EXPECT_TRUE(p->qr && p->aa && p->rd && !p->tc);
  EXPECT_EQ(p->rcode, rcode::kNXDomain);
  ASSERT_EQ(p->answers.size(), 3u);
  EXPECT_EQ(p->answers[0].a, (std::array<uint8_t, 4>{10, 43, 0, 20}));
  EXPECT_EQ(p->answers[1].target, srv.target);
  EXPECT_EQ(p->answers[1].port, 8080);
  EXPECT_EQ(p->answers[1].weight, 2);
  EXPECT_EQ(p->answers[2].target, "example.com");
  EXPECT_EQ(p->authority[0].rname, "hostmaster.cluster.local");
  EXPECT_EQ(p->authority[0].serial, 42u);
  // Escaped label bytes survive: '.' inside a label and a zero byte.
  EXPECT_EQ(p->additional[0].name, "weird\\046label\\000x.cluster.local");
  EXPECT_EQ(p->additional[0].raw, txt.raw);
  // Re-encoding the parsed message gives the same bytes.
  EXPECT_EQ(EncodeMessage(*p).value(), *wire);
}

TEST(DnsMessageTest, CompressesNames) {
  Message m;
  m.questions.push_back({"a.default.svc.cluster.local", type::kA, kClassIN});
  for (uint8_t i = 0; i < 10; ++i) m.answers.push_back(A("a.default.svc.cluster.local", i));
  auto wire = EncodeMessage(m).value();
  // Header 12 + question (29 + 4) + 10 answers of (2-byte pointer + 14).
  EXPECT_EQ(wire.size(), 12u + 33u + 10u * 16u);
  EXPECT_EQ(static_cast<uint8_t>(wire[45]), 0xC0);
  EXPECT_EQ(static_cast<uint8_t>(wire[46]), 12);
  // A suffix shared with a different prefix is reused too, case-insensitively.
  Message m2;
  m2.questions.push_back({"x.svc.cluster.local", type::kA, kClassIN});
  m2.answers.push_back(A("Y.SVC.Cluster.Local", 1));
  auto w2 = EncodeMessage(m2).value();
  EXPECT_EQ(w2.size(), 12u + (21u + 4u) + (2u + 2u + 14u));  // Y + pointer, fixed fields, rdata
  auto p = ParseMessage(w2).value();
  EXPECT_EQ(p.answers[0].name, "Y.svc.cluster.local");
}

TEST(DnsMessageTest, RejectsMalformed) {
  std::string q = Query("web.default.svc.cluster.local", type::kA);
  // Every truncation fails cleanly.
  for (size_t n = 0; n < q.size(); ++n) EXPECT_FALSE(ParseMessage(q.substr(0, n)).ok()) << n;
  // A pointer to itself, a forward pointer, and a two-pointer loop.
  std::string hdr("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  EXPECT_FALSE(ParseMessage(hdr + std::string("\xC0\x0C\x00\x01\x00\x01", 6)).ok());
  EXPECT_FALSE(
      ParseMessage(hdr + std::string("\xC0\x20\x00\x01\x00\x01", 6) + std::string(40, 'a')).ok());
  EXPECT_FALSE(ParseMessage(hdr + std::string("\x01"
                                              "a"
                                              "\xC0\x0E"
                                              "\x01"
                                              "b"
                                              "\xC0\x0C"
                                              "\x00\x01\x00\x01",
                                              12))
                   .ok());
  // Huge counts in a tiny packet.
  std::string huge("\x00\x01\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 12);
  EXPECT_FALSE(ParseMessage(huge + "\x00\x00\x01\x00\x01").ok());
  // A label longer than 63 (0x40 is a reserved label type), and a name > 255.
  EXPECT_FALSE(
      ParseMessage(hdr + "\x40" + std::string(64, 'a') + std::string("\x00\x00\x01\x00\x01", 5))
          .ok());
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += "\x3F" + std::string(63, 'a');
  EXPECT_FALSE(ParseMessage(hdr + longname + std::string("\x00\x00\x01\x00\x01", 5)).ok());
  // An rdata name that runs past rdlength.
  std::string rr = hdr;
  rr[5] = 0, rr[7] = 1;  // 0 questions, 1 answer
  rr += std::string(
      "\x00\x00\x05\x00\x01\x00\x00\x00\x05\x00\x01"
      "\x03"
      "abc"
      "\x00",
      16);
  EXPECT_FALSE(ParseMessage(rr).ok());
  // The encoder refuses unencodable names instead of writing garbage.
  Message bad;
  bad.questions.push_back({std::string(64, 'a') + ".x", type::kA, kClassIN});
  EXPECT_FALSE(EncodeMessage(bad).ok());
  bad.questions[0].name = "a..b";
  EXPECT_FALSE(EncodeMessage(bad).ok());
}

TEST(DnsMessageTest, RandomInputNeverCrashes) {
  std::mt19937 rng(1234);
  network::ServiceModel s;
  ClusterZone zone;
  zone.Update({}, {});
  std::string base = Query("web.default.svc.cluster.local", type::kSRV, 1, true);
  for (int i = 0; i < 20000; ++i) {
    std::string w = base;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) w[rng() % w.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) w.resize(rng() % (w.size() + 1));
    if (rng() % 8 == 0) {
      w.clear();
      for (size_t k = rng() % 600; k > 0; --k) w.push_back(static_cast<char>(rng()));
    }
    auto p = ParseMessage(w);
    if (p.ok()) (void)EncodeMessage(*p);
    (void)zone.Handle(w, i % 2);
  }
}

// ---- zone ----------------------------------------------------------------------

Json J(const char* s) { return Json::parse(s); }

class ZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Json> svcs = {
        J(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.43.0.20",
              "ports":[{"name":"http","port":80,"protocol":"TCP"}]}})"),
        J(R"({"metadata":{"namespace":"default","name":"db"},"spec":{"clusterIP":"None",
              "ports":[{"name":"pg","port":5432}]}})"),
        J(R"({"metadata":{"namespace":"default","name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}})")};
    std::vector<Json> slices = {J(R"({"metadata":{"namespace":"default","name":"db-1",
        "labels":{"kubernetes.io/service-name":"db"}},"ports":[{"name":"pg","port":5432}],
        "endpoints":[{"addresses":["10.42.0.9"],"hostname":"db-0"},{"addresses":["10.42.0.10"]},
                     {"addresses":["10.42.0.11"],"conditions":{"ready":false}}]})")};
    std::vector<Json> pods = {
        J(R"({"metadata":{"namespace":"default","name":"p"},"status":{"phase":"Running","podIP":"10.42.0.9"}})"),
        J(R"({"metadata":{"namespace":"default","name":"q"},"status":{"phase":"Failed","podIP":"10.42.0.50"}})")};
    zone_.Update(network::BuildServiceModels(svcs, slices, {}), pods);
  }
  Message Ask(const std::string& name, uint16_t t, bool tcp = true) {
    std::string out = zone_.Handle(Query(name, t), tcp);
    auto m = ParseMessage(out);
    EXPECT_TRUE(m.ok());
    return m.ok() ? *m : Message{};
  }
  static std::string Ip(const Record& r) {
    return std::to_string(r.a[0]) + "." + std::to_string(r.a[1]) + "." + std::to_string(r.a[2]) +
           "." + std::to_string(r.a[3]);
  }
  ClusterZone zone_;
};

TEST_F(ZoneTest, ServiceRecords) {
  auto m = Ask("web.default.svc.cluster.local", type::kA);
  EXPECT_EQ(m.id, 7);
  EXPECT_TRUE(m.qr && m.aa && m.rd && !m.ra);
  EXPECT_EQ(m.rcode, rcode::kNoError);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(Ip(m.answers[0]), "10.43.0.20");
  EXPECT_EQ(m.answers[0].ttl, 5u);
  // Case-insensitive, trailing dot allowed; the owner keeps the query's case.
  m = Ask("WEB.default.svc.cluster.local.", type::kA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name, "WEB.default.svc.cluster.local");

  m = Ask("db.default.svc.cluster.local", type::kA);  // headless: ready endpoints only
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(Ip(m.answers[0]), "10.42.0.10");
  EXPECT_EQ(Ip(m.answers[1]), "10.42.0.9");
  m = Ask("db-0.db.default.svc.cluster.local", type::kA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(Ip(m.answers[0]), "10.42.0.9");
  m = Ask("10-42-0-10.db.default.svc.cluster.local", type::kA);
  ASSERT_EQ(m.answers.size(), 1u);

  m = Ask("_http._tcp.web.default.svc.cluster.local", type::kSRV);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].port, 80);
  EXPECT_EQ(m.answers[0].target, "web.default.svc.cluster.local");
  ASSERT_EQ(m.additional.size(), 1u);
  EXPECT_EQ(Ip(m.additional[0]), "10.43.0.20");
  m = Ask("_pg._tcp.db.default.svc.cluster.local", type::kSRV);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[1].target, "db-0.db.default.svc.cluster.local");
  EXPECT_EQ(m.answers[0].target, "10-42-0-10.db.default.svc.cluster.local");

  m = Ask("ext.default.svc.cluster.local", type::kA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, type::kCNAME);
  EXPECT_EQ(m.answers[0].target, "example.com");
}

TEST_F(ZoneTest, PodsNegativeAndRefused) {
  auto m = Ask("10-42-0-9.default.pod.cluster.local", type::kA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(Ip(m.answers[0]), "10.42.0.9");
  EXPECT_EQ(Ask("10-42-0-50.default.pod.cluster.local", type::kA).rcode,
            rcode::kNXDomain);  // failed pod
  EXPECT_EQ(Ask("10-42-0-9.other.pod.cluster.local", type::kA).rcode, rcode::kNXDomain);

  m = Ask("nope.default.svc.cluster.local", type::kA);
  EXPECT_EQ(m.rcode, rcode::kNXDomain);
  EXPECT_TRUE(m.aa);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, type::kSOA);
  EXPECT_EQ(m.authority[0].name, "cluster.local");
  // NODATA: the name exists, the type does not.
  m = Ask("web.default.svc.cluster.local", type::kAAAA);
  EXPECT_EQ(m.rcode, rcode::kNoError);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(Ask("default.svc.cluster.local", type::kA).rcode, rcode::kNoError);
  EXPECT_EQ(Ask("nons.svc.cluster.local", type::kA).rcode, rcode::kNXDomain);
  EXPECT_EQ(Ask("cluster.local", type::kSOA).answers.size(), 1u);
  // Outside the zone: refused, never forwarded.
  m = Ask("example.com", type::kA);
  EXPECT_EQ(m.rcode, rcode::kRefused);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(Ask("notcluster.local", type::kA).rcode, rcode::kRefused);
  // A malformed query with a readable header gets FORMERR; responses are ignored.
  std::string bad = Query("web.default.svc.cluster.local", type::kA);
  bad.resize(20);
  auto fe = ParseMessage(zone_.Handle(bad, false));
  ASSERT_TRUE(fe.ok());
  EXPECT_EQ(fe->rcode, rcode::kFormErr);
  std::string resp = Query("x.cluster.local", type::kA);
  resp[2] = static_cast<char>(resp[2] | 0x80);
  EXPECT_EQ(zone_.Handle(resp, false), "");
}

TEST(ZoneNotReadyTest, ServFailUntilFirstUpdate) {
  ClusterZone z;
  auto m = ParseMessage(z.Handle(Query("web.default.svc.cluster.local", type::kA), false)).value();
  EXPECT_EQ(m.rcode, rcode::kServFail);
}

TEST(ZoneTruncationTest, LargeAnswersSetTcOverUdp) {
  std::string eps;
  for (int i = 1; i <= 60; ++i)
    eps += std::string(i > 1 ? "," : "") + "\"10.42.1." + std::to_string(i) + "\"";
  auto slice = Json::parse(
      R"({"metadata":{"namespace":"default","name":"big-1","labels":{"kubernetes.io/service-name":"big"}},
      "endpoints":[{"addresses":[)" +
      eps + "]}]}");
  auto svc = Json::parse(
      R"({"metadata":{"namespace":"default","name":"big"},"spec":{"clusterIP":"None"}})");
  ClusterZone z;
  z.Update(network::BuildServiceModels({svc}, {slice}, {}), {});
  auto udp =
      ParseMessage(z.Handle(Query("big.default.svc.cluster.local", type::kA), false)).value();
  EXPECT_TRUE(udp.tc);
  EXPECT_TRUE(udp.answers.empty());
  // With EDNS the client may take 1232 bytes: 60 compressed A records fit.
  auto edns =
      ParseMessage(z.Handle(Query("big.default.svc.cluster.local", type::kA, 7, true), false))
          .value();
  EXPECT_FALSE(edns.tc);
  EXPECT_EQ(edns.answers.size(), 60u);
  auto tcp = ParseMessage(z.Handle(Query("big.default.svc.cluster.local", type::kA), true)).value();
  EXPECT_EQ(tcp.answers.size(), 60u);
}

TEST(ResolvConfTest, Text) {
  EXPECT_EQ(
      ResolvConf("team-a"),
      "search team-a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\n"
      "options ndots:5\n");
}

// ---- live server on loopback ------------------------------------------------------

TEST(DnsServerTest, AnswersOverUdpAndTcp) {
  DnsServer server(nullptr, {"127.0.0.1", 0, "cluster.local", 5});
  ASSERT_TRUE(server.Start().ok());
  auto svc = Json::parse(
      R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.43.0.20"}})");
  server.zone().Update(network::BuildServiceModels({svc}, {}, {}), {});
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(server.port()));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  timeval tv{2, 0};

  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // Garbage first: the server must survive it and keep answering.
  (void)sendto(u, "\xff\xff", 2, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  std::string q = Query("web.default.svc.cluster.local", type::kA, 99);
  ASSERT_EQ(sendto(u, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
            static_cast<ssize_t>(q.size()));
  char buf[1500];
  ssize_t n = recv(u, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  auto m = ParseMessage(std::string_view(buf, n));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->id, 99);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].a, (std::array<uint8_t, 4>{10, 43, 0, 20}));
  close(u);

  int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(connect(t, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  for (int i = 0; i < 2; ++i) {  // two queries on one connection
    std::string framed =
        std::string(1, static_cast<char>(q.size() >> 8)) + static_cast<char>(q.size() & 0xFF) + q;
    ASSERT_EQ(write(t, framed.data(), framed.size()), static_cast<ssize_t>(framed.size()));
    unsigned char len[2];
    ASSERT_EQ(recv(t, len, 2, MSG_WAITALL), 2);
    size_t L = (len[0] << 8) | len[1];
    std::string body(L, '\0');
    ASSERT_EQ(recv(t, body.data(), L, MSG_WAITALL), static_cast<ssize_t>(L));
    auto tm = ParseMessage(body);
    ASSERT_TRUE(tm.ok());
    EXPECT_EQ(tm->answers.size(), 1u);
  }
  close(t);
  EXPECT_TRUE(server.Stop().ok());
}

}  // namespace
}  // namespace berth::node::dns
