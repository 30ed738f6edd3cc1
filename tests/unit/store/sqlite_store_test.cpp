// Tests of the SQLite store against a real database in a temp directory.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "store/store.h"
#include "test_util.h"

namespace berth::store {
namespace {

using testing::TempDir;

ListOptions Opts(std::string prefix, std::string start_after = "", int64_t limit = 0,
                 int64_t revision = 0) {
  ListOptions o;
  o.prefix = std::move(prefix);
  o.start_after = std::move(start_after);
  o.limit = limit;
  o.revision = revision;
  return o;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(SqliteOptions o = {}) {
    if (o.path.empty()) o.path = dir_.File("state.db");
    auto r = OpenSqlite(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  static std::vector<std::string> Keys(const ListResult& r) {
    std::vector<std::string> out;
    for (const auto& kv : r.items) out.push_back(kv.key);
    return out;
  }

  // Collects exactly n events from a watch (bounded wait per call).
  static std::vector<Event> Collect(Watch* w, size_t n) {
    std::vector<Event> out;
    for (int i = 0; i < 200 && out.size() < n; ++i) {
      auto r = w->Next(5000);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        break;
      }
      for (auto& e : *r) out.push_back(std::move(e));
    }
    return out;
  }

  TempDir dir_;
};

TEST_F(SqliteStoreTest, CreateGetUpdateDelete) {
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 0);

  auto c = s->Create("/registry/pods/default/a", R"({"v":1})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->revision, 1);
  auto g = s->Get("/registry/pods/default/a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->value, R"({"v":1})");
  EXPECT_EQ(g->create_revision, 1);
  EXPECT_EQ(g->mod_revision, 1);

  auto u = s->Update("/registry/pods/default/a", R"({"v":2})", 1);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->revision, 2);
  EXPECT_EQ(u->prev.value, R"({"v":1})");
  EXPECT_EQ(u->prev.mod_revision, 1);
  g = s->Get("/registry/pods/default/a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->value, R"({"v":2})");
  EXPECT_EQ(g->create_revision, 1);
  EXPECT_EQ(g->mod_revision, 2);

  auto d = s->Delete("/registry/pods/default/a", 2);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->revision, 3);
  EXPECT_EQ(d->prev.value, R"({"v":2})");
  EXPECT_EQ(s->Get("/registry/pods/default/a").status().code(), Code::kNotFound);
  EXPECT_EQ(s->CurrentRevision(), 3);

  // Re-creating a deleted key starts a new lifetime.
  c = s->Create("/registry/pods/default/a", "{}");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision, 4);
  g = s->Get("/registry/pods/default/a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->create_revision, 4);

  // Binary-safe values.
  std::string bin("a\0b\xff", 4);
  ASSERT_TRUE(s->Create("/bin", bin).ok());
  EXPECT_EQ(s->Get("/bin")->value, bin);
}

TEST_F(SqliteStoreTest, CompareAndSwap) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/k", "1").ok());
  EXPECT_EQ(s->Create("/k", "x").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(s->Update("/missing", "x", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(s->Delete("/missing", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(s->Update("/k", "x", 7).status().code(), Code::kConflict);
  EXPECT_EQ(s->Delete("/k", 7).status().code(), Code::kConflict);
  // Failed writes consume no revision.
  EXPECT_EQ(s->CurrentRevision(), 1);
  EXPECT_EQ(s->Get("/k")->value, "1");

  // expected == 0 is unconditional.
  auto u = s->Update("/k", "2", 0);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->revision, 2);
  EXPECT_EQ(s->Update("/k", "3", 1).status().code(), Code::kConflict);
  ASSERT_TRUE(s->Update("/k", "3", 2).ok());
  EXPECT_EQ(s->Delete("/k", 2).status().code(), Code::kConflict);
  ASSERT_TRUE(s->Delete("/k", 3).ok());
  EXPECT_EQ(s->CurrentRevision(), 4);

  EXPECT_EQ(s->Create("", "x").status().code(), Code::kBadRequest);
}

TEST_F(SqliteStoreTest, ListPrefixAndPagination) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (const char* k : {"/a/3", "/a/1", "/ab", "/a/2", "/b/1", "/a/4", "/a/5"}) {
    ASSERT_TRUE(s->Create(k, k).ok());
  }
  auto all = s->List(Opts("/a/", "", 0, 0));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Keys(*all), (std::vector<std::string>{"/a/1", "/a/2", "/a/3", "/a/4", "/a/5"}));
  EXPECT_EQ(all->revision, 7);
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->items[0].value, "/a/1");
  EXPECT_EQ(all->items[0].mod_revision, 2);

  auto everything = s->List(Opts("", "", 0, 0));
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->items.size(), 7u);

  // Page through with limit 2.
  std::vector<std::string> paged;
  std::string after;
  int pages = 0;
  for (;;) {
    auto p = s->List(Opts("/a/", after, 2, 0));
    ASSERT_TRUE(p.ok());
    ++pages;
    for (auto& kv : p->items) paged.push_back(kv.key);
    if (!p->more) break;
    ASSERT_EQ(p->items.size(), 2u);
    after = p->items.back().key;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged, Keys(*all));

  // An exact fit has no `more`.
  auto exact = s->List(Opts("/a/", "", 5, 0));
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 5u);
  EXPECT_FALSE(exact->more);

  // A prefix whose range end needs a carry.
  ASSERT_TRUE(s->Create(std::string("/z\xff") + "1", "x").ok());
  ASSERT_TRUE(s->Create("/z\xff\xff", "y").ok());
  auto carry = s->List(Opts("/z\xff", "", 0, 0));
  ASSERT_TRUE(carry.ok());
  EXPECT_EQ(carry->items.size(), 2u);

  auto n = s->Count("/a/");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5);
  EXPECT_EQ(*s->Count(""), 9);
  EXPECT_EQ(*s->Count("/nothing/"), 0);
  EXPECT_GT(s->SizeBytes(), 0);
}

TEST_F(SqliteStoreTest, ListAtOldRevisionAndCompaction) {
  SqliteOptions o;
  o.auto_compact = false;
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/p/a", "a1").ok());     // 1
  ASSERT_TRUE(s->Create("/p/b", "b1").ok());     // 2
  ASSERT_TRUE(s->Update("/p/a", "a2", 1).ok());  // 3
  ASSERT_TRUE(s->Delete("/p/b", 2).ok());        // 4
  ASSERT_TRUE(s->Create("/p/c", "c1").ok());     // 5
  ASSERT_TRUE(s->Update("/p/a", "a3", 3).ok());  // 6
  ASSERT_TRUE(s->Create("/p/b", "b2").ok());     // 7

  auto at = [&](int64_t rev) {
    auto r = s->List(Opts("/p/", "", 0, rev));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok()) {
      EXPECT_EQ(r->revision, rev);
      for (auto& kv : r->items) out.push_back(kv.key + "=" + kv.value);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(at(1), (V{"/p/a=a1"}));
  EXPECT_EQ(at(2), (V{"/p/a=a1", "/p/b=b1"}));
  EXPECT_EQ(at(3), (V{"/p/a=a2", "/p/b=b1"}));
  EXPECT_EQ(at(4), (V{"/p/a=a2"}));
  EXPECT_EQ(at(6), (V{"/p/a=a3", "/p/c=c1"}));
  EXPECT_EQ(at(7), (V{"/p/a=a3", "/p/b=b2", "/p/c=c1"}));

  // Pagination at an old revision.
  auto page = s->List(Opts("/p/", "", 1, 3));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (V{"/p/a"}));
  EXPECT_TRUE(page->more);
  page = s->List(Opts("/p/", "/p/a", 1, 3));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (V{"/p/b"}));
  EXPECT_FALSE(page->more);

  EXPECT_EQ(s->List(Opts("", "", 0, 8)).status().code(), Code::kTimeout);

  ASSERT_TRUE(s->Compact(4).ok());
  EXPECT_EQ(s->CompactedRevision(), 4);
  EXPECT_EQ(s->List(Opts("/p/", "", 0, 3)).status().code(), Code::kGone);
  // The compaction point itself and everything after still read correctly.
  EXPECT_EQ(at(4), (V{"/p/a=a2"}));
  EXPECT_EQ(at(5), (V{"/p/a=a2", "/p/c=c1"}));
  EXPECT_EQ(at(6), (V{"/p/a=a3", "/p/c=c1"}));
  EXPECT_EQ(at(7), (V{"/p/a=a3", "/p/b=b2", "/p/c=c1"}));

  // Compacting to the head keeps every live value.
  ASSERT_TRUE(s->Compact(7).ok());
  EXPECT_EQ(at(7), (V{"/p/a=a3", "/p/b=b2", "/p/c=c1"}));
  EXPECT_EQ(s->Get("/p/a")->mod_revision, 6);
  EXPECT_TRUE(s->Compact(3).ok());  // already compacted: no-op
  EXPECT_EQ(s->CompactedRevision(), 7);
  EXPECT_EQ(s->Compact(100).code(), Code::kBadRequest);

  // Deleting and compacting past the tombstone keeps the revision counter.
  ASSERT_TRUE(s->Delete("/p/c", 0).ok());  // 8
  ASSERT_TRUE(s->Compact(8).ok());
  EXPECT_EQ(s->CurrentRevision(), 8);
  s->Close();
  s = Open(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 8);
  EXPECT_EQ(s->CompactedRevision(), 8);
  auto r = s->List(Opts("", "", 0, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, 8);
  EXPECT_EQ(Keys(*r), (V{"/p/a", "/p/b"}));
  EXPECT_EQ(s->Create("/p/d", "d").value().revision, 9);
}

TEST_F(SqliteStoreTest, AutoCompactionKeepsAWindow) {
  SqliteOptions o;
  o.history_window = 10;
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/k", "0").ok());
  for (int i = 1; i < 300; ++i) ASSERT_TRUE(s->Update("/k", std::to_string(i), 0).ok());
  // Compaction triggered by a batch runs before the next batch, so after one
  // more write every earlier trigger has completed.
  ASSERT_TRUE(s->Create("/k2", "x").ok());
  int64_t cur = s->CurrentRevision();
  EXPECT_EQ(cur, 301);
  EXPECT_GT(s->CompactedRevision(), 0);
  EXPECT_GE(s->CompactedRevision(), cur - 10 - 64 - 1);
  EXPECT_LE(s->CompactedRevision(), cur - 10);
  EXPECT_EQ(s->List(Opts("", "", 0, 5)).status().code(), Code::kGone);
  EXPECT_TRUE(s->List(Opts("", "", 0, cur - 10)).ok());
  EXPECT_EQ(s->Get("/k")->value, "299");
}

TEST_F(SqliteStoreTest, WatchReplayLiveAndPrefix) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/w/a", "a1").ok());     // 1
  ASSERT_TRUE(s->Create("/x/a", "x1").ok());     // 2
  ASSERT_TRUE(s->Update("/w/a", "a2", 1).ok());  // 3

  auto w = s->WatchPrefix("/w/", 1);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto ev = Collect(w->get(), 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kv.mod_revision, 3);
  EXPECT_EQ(ev[0].type, Event::Type::kPut);
  EXPECT_FALSE(ev[0].is_create);
  ASSERT_TRUE(ev[0].prev.has_value());
  EXPECT_EQ(ev[0].prev->value, "a1");

  // Live events, in order, only under the prefix.
  ASSERT_TRUE(s->Create("/x/b", "x").ok());      // 4
  ASSERT_TRUE(s->Create("/w/b", "b1").ok());     // 5
  ASSERT_TRUE(s->Delete("/w/a", 3).ok());        // 6
  ASSERT_TRUE(s->Create("/wx", "no").ok());      // 7
  ASSERT_TRUE(s->Update("/w/b", "b2", 5).ok());  // 8
  ev = Collect(w->get(), 3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kv.mod_revision, 5);
  EXPECT_TRUE(ev[0].is_create);
  EXPECT_FALSE(ev[0].prev.has_value());
  EXPECT_EQ(ev[1].kv.mod_revision, 6);
  EXPECT_EQ(ev[1].type, Event::Type::kDelete);
  EXPECT_EQ(ev[1].kv.key, "/w/a");
  EXPECT_EQ(ev[1].kv.value, "a2");  // the last value
  EXPECT_EQ(ev[1].kv.create_revision, 1);
  EXPECT_EQ(ev[2].kv.mod_revision, 8);
  EXPECT_EQ(ev[2].kv.value, "b2");

  // Nothing more: Next times out with an empty batch.
  auto none = (*w)->Next(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // from == 0: only changes after now.
  auto now = s->WatchPrefix("/", 0);
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(s->Create("/w/c", "c").ok());  // 9
  ev = Collect(now->get(), 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kv.mod_revision, 9);

  // Replay from revision 1 over everything is complete and ordered.
  auto all = s->WatchPrefix("", 1);
  ASSERT_TRUE(all.ok());
  ev = Collect(all->get(), 8);
  ASSERT_EQ(ev.size(), 8u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].kv.mod_revision, 2 + int64_t(i));
}

TEST_F(SqliteStoreTest, WatchReplayFromDatabaseBeyondTheRing) {
  SqliteOptions o;
  o.history_window = 4;  // ring of 4 events
  o.auto_compact = false;
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/r/k", "0").ok());
  ASSERT_TRUE(s->Create("/other", "0").ok());
  for (int i = 1; i < 20; ++i) ASSERT_TRUE(s->Update("/r/k", std::to_string(i), 0).ok());
  ASSERT_TRUE(s->Delete("/r/k", 0).ok());  // 22

  auto check = [&](Store* st) {
    auto w = st->WatchPrefix("/r/", 1);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto ev = Collect(w->get(), 20);
    ASSERT_EQ(ev.size(), 20u);
    for (int i = 0; i < 19; ++i) {
      EXPECT_EQ(ev[i].kv.mod_revision, 3 + i);
      EXPECT_EQ(ev[i].kv.value, std::to_string(i + 1));
      ASSERT_TRUE(ev[i].prev.has_value());
      EXPECT_EQ(ev[i].prev->value, std::to_string(i));
    }
    EXPECT_EQ(ev[19].type, Event::Type::kDelete);
    EXPECT_EQ(ev[19].kv.value, "19");
    EXPECT_EQ(ev[19].kv.mod_revision, 22);
    // Live events continue seamlessly after the replay.
    ASSERT_TRUE(st->Create("/r/k", "again").ok());
    ev = Collect(w->get(), 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0].is_create);
    EXPECT_EQ(ev[0].kv.mod_revision, st->CurrentRevision());
  };
  check(s.get());
  // After a restart the ring is empty: everything comes from the database.
  s->Close();
  s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Delete("/r/k", 0).ok());  // 24; and the replay must include 23, 24
  auto w = s->WatchPrefix("/r/", 21);
  ASSERT_TRUE(w.ok());
  auto ev = Collect(w->get(), 3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kv.mod_revision, 22);
  EXPECT_EQ(ev[1].kv.mod_revision, 23);
  EXPECT_EQ(ev[2].kv.mod_revision, 24);
}

TEST_F(SqliteStoreTest, WatchHandoffUnderConcurrentWritesLosesNothing) {
  SqliteOptions o;
  o.history_window = 8;  // a tiny ring: most watches replay from the database
  o.auto_compact = false;
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Create("/h/k", "0").ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; !stop; ++i) {
      if (!s->Update("/h/k", std::to_string(i), 0).ok()) break;
    }
  });
  // Watches opened while writes flow, from old (database), recent (ring) and
  // current revisions, must each see a gap-free, duplicate-free sequence.
  for (int round = 0; round < 20; ++round) {
    int64_t cur = s->CurrentRevision();
    int64_t from = round % 3 == 0 ? 1 : round % 3 == 1 ? std::max<int64_t>(1, cur - 4) : cur;
    auto w = s->WatchPrefix("/h/", from);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    int64_t expect = from + 1;
    // Read until we have seen revisions past the head at registration time.
    while (expect <= cur + 3) {
      auto r = (*w)->Next(5000);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_FALSE(r->empty()) << "no event within 5 s";
      for (const Event& e : *r) {
        ASSERT_EQ(e.kv.mod_revision, expect) << "round " << round << " from " << from;
        ++expect;
      }
    }
  }
  stop = true;
  writer.join();
}

TEST_F(SqliteStoreTest, WatchTooOldIsGone) {
  SqliteOptions o;
  o.auto_compact = false;
  auto s = Open(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->Create("/g/" + std::to_string(i), "v").ok());
  ASSERT_TRUE(s->Compact(6).ok());
  EXPECT_EQ(s->WatchPrefix("/g/", 5).status().code(), Code::kGone);
  auto w = s->WatchPrefix("/g/", 6);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Collect(w->get(), 4).size(), 4u);
}

TEST_F(SqliteStoreTest, SlowWatcherIsClosedWithGone) {
  SqliteOptions o;
  o.watch_queue_limit = 5;
  auto s = Open(o);
  ASSERT_TRUE(s);
  auto slow = s->WatchPrefix("/s/", 0);
  auto other = s->WatchPrefix("/t/", 0);
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(other.ok());
  // Writers are never held up by the watcher that does not read.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->Create("/s/" + std::to_string(i), "v").ok());
  auto r = (*slow)->Next(0);
  EXPECT_EQ(r.status().code(), Code::kGone);
  // A watcher on another prefix is unaffected.
  auto o2 = (*other)->Next(0);
  ASSERT_TRUE(o2.ok());
  EXPECT_TRUE(o2->empty());
}

TEST_F(SqliteStoreTest, CloseWakesABlockedNext) {
  auto s = Open();
  ASSERT_TRUE(s);
  auto w = s->WatchPrefix("/", 0);
  ASSERT_TRUE(w.ok());
  Watch* watch = w->get();
  std::atomic<int> code{-1};
  std::thread t([&] { code = static_cast<int>(watch->Next(-1).status().code()); });
  watch->Close();  // whether Next is already blocked or not, it must return
  t.join();
  EXPECT_EQ(code.load(), static_cast<int>(Code::kUnavailable));

  // Closing the store ends every watch.
  auto w2 = s->WatchPrefix("/", 0);
  ASSERT_TRUE(w2.ok());
  std::thread t2([&] { code = static_cast<int>((*w2)->Next(-1).status().code()); });
  s->Close();
  t2.join();
  EXPECT_EQ(code.load(), static_cast<int>(Code::kUnavailable));
  EXPECT_EQ(s->Get("/x").status().code(), Code::kUnavailable);
  EXPECT_EQ(s->Create("/x", "y").status().code(), Code::kUnavailable);
  EXPECT_EQ(s->WatchPrefix("/", 0).status().code(), Code::kUnavailable);
}

TEST_F(SqliteStoreTest, ConcurrentWritersGetDistinctRevisions) {
  auto s = Open();
  ASSERT_TRUE(s);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  ASSERT_TRUE(s->Create("/counter", "0").ok());
  auto w = s->WatchPrefix("/c/", 1);
  ASSERT_TRUE(w.ok());

  std::vector<std::vector<int64_t>> revs(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = s->Create("/c/" + std::to_string(t) + "/" + std::to_string(i), std::to_string(i));
        if (!r.ok()) {
          ++errors;
          continue;
        }
        revs[t].push_back(r->revision);
        // A read-modify-write loop on a shared key: CAS must serialise them.
        for (;;) {
          auto cur = s->Get("/counter");
          if (!cur.ok()) {
            ++errors;
            break;
          }
          auto u =
              s->Update("/counter", std::to_string(std::stoi(cur->value) + 1), cur->mod_revision);
          if (u.ok()) break;
          if (u.status().code() != Code::kConflict) {
            ++errors;
            break;
          }
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);

  std::set<int64_t> all;
  for (auto& v : revs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), size_t(kThreads * kPerThread));
  EXPECT_EQ(*s->Count("/c/"), kThreads * kPerThread);
  EXPECT_EQ(s->Get("/counter")->value, std::to_string(kThreads * kPerThread));
  EXPECT_EQ(s->CurrentRevision(), 1 + 2 * kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto g = s->Get("/c/" + std::to_string(t) + "/" + std::to_string(i));
      ASSERT_TRUE(g.ok());
      EXPECT_EQ(g->mod_revision, revs[t][i]);
    }
  }
  // The watch saw every create exactly once, in revision order.
  auto ev = Collect(w->get(), kThreads * kPerThread);
  ASSERT_EQ(ev.size(), size_t(kThreads * kPerThread));
  for (size_t i = 1; i < ev.size(); ++i) {
    EXPECT_LT(ev[i - 1].kv.mod_revision, ev[i].kv.mod_revision);
  }
}

TEST_F(SqliteStoreTest, ConcurrentReadsSeeConsistentSnapshots) {
  auto s = Open();
  ASSERT_TRUE(s);
  // Two keys always updated together by one writer: a = b at every revision
  // where both were written. Readers list both and must see a snapshot in
  // which a's revision and b's revision are from the same round.
  ASSERT_TRUE(s->Create("/snap/a", "0").ok());
  ASSERT_TRUE(s->Create("/snap/b", "0").ok());
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done) {
      auto r = s->List(Opts("/snap/", "", 0, 0));
      if (!r.ok() || r->items.size() != 2) {
        ++bad;
        continue;
      }
      int a = std::stoi(r->items[0].value), b = std::stoi(r->items[1].value);
      // b is written right after a, so a snapshot has a == b or a == b + 1.
      if (!(a == b || a == b + 1)) ++bad;
      if (r->revision < r->items[0].mod_revision || r->revision < r->items[1].mod_revision) ++bad;
    }
  });
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(s->Update("/snap/a", std::to_string(i), 0).ok());
    ASSERT_TRUE(s->Update("/snap/b", std::to_string(i), 0).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(SqliteStoreTest, ReopenPreservesDataAndRevision) {
  {
    auto s = Open();
    ASSERT_TRUE(s);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(s->Create("/re/" + std::to_string(i), "v").ok());
    ASSERT_TRUE(s->Update("/re/0", "changed", 0).ok());
    ASSERT_TRUE(s->Delete("/re/1", 0).ok());
  }  // destructor closes
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 52);
  EXPECT_EQ(*s->Count("/re/"), 49);
  EXPECT_EQ(s->Get("/re/0")->value, "changed");
  EXPECT_EQ(s->Get("/re/1").status().code(), Code::kNotFound);
  EXPECT_EQ(s->Create("/re/new", "v")->revision, 53);
}

TEST_F(SqliteStoreTest, BadPathsGiveClearErrors) {
  auto r = OpenSqlite({.path = dir_.File("no/such/dir/state.db")});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no/such/dir"), std::string::npos);

  std::string junk = dir_.File("junk.db");
  {
    std::ofstream f(junk, std::ios::binary);
    for (int i = 0; i < 1000; ++i) f << "this is not a database file at all ";
  }
  r = OpenSqlite({.path = junk});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a database"), std::string::npos)
      << r.status().ToString();

  // A directory where the database file should be.
  r = OpenSqlite({.path = dir_.path()});
  EXPECT_FALSE(r.ok());

  // One owner at a time.
  auto s = Open();
  ASSERT_TRUE(s);
  r = OpenSqlite({.path = dir_.File("state.db")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  s->Close();
  EXPECT_TRUE(OpenSqlite({.path = dir_.File("state.db")}).ok());
}

TEST_F(SqliteStoreTest, CorruptedPagesNeverCrash) {
  std::string path = dir_.File("state.db");
  {
    auto s = Open();
    ASSERT_TRUE(s);
    std::string big(3000, 'x');
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(s->Create("/k/" + std::to_string(i), big).ok());
  }
  {
    // Scribble over everything after the first page (the header stays valid).
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(0, std::ios::end);
    std::streamoff size = f.tellg();
    ASSERT_GT(size, 8192);
    for (std::streamoff off = 4096; off < size; off += 512) {
      f.seekp(off);
      f.write("\xde\xad\xbe\xef garbage garbage", 20);
    }
  }
  auto r = OpenSqlite({.path = path});
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), Code::kInternal) << r.status().ToString();
    return;
  }
  // Opened (the schema page survived): every call returns a Status.
  auto& s = *r;
  auto g = s->Get("/k/1");
  auto l = s->List(Opts("/k/", "", 0, 0));
  auto c = s->Create("/k/new", "v");
  for (const Status* st : {&g.status(), &l.status(), &c.status()}) {
    if (!st->ok()) {
      EXPECT_EQ(st->code(), Code::kInternal) << st->ToString();
    }
  }
  EXPECT_FALSE(g.ok() && l.ok() && c.ok());
}

}  // namespace
}  // namespace berth::store
