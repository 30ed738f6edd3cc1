// Durability across a real crash: a forked child writes under load and
// reports each acknowledged write through a pipe; the parent SIGKILLs it mid
// load, reopens the database and checks that every acknowledged write is there.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "store/store.h"
#include "test_util.h"

namespace berth::store {
namespace {

struct Ack {
  int32_t thread;
  int32_t seq;
  int64_t revision;
  int64_t op;  // 0 create, 1 update
};
static_assert(sizeof(Ack) <= PIPE_BUF, "a pipe write of one Ack must be atomic");

std::string Key(int t, int i) { return "/crash/" + std::to_string(t) + "/" + std::to_string(i); }

[[noreturn]] void ChildMain(const std::string& path, int fd) {
  auto opened = OpenSqlite({.path = path});
  if (!opened.ok()) _exit(2);
  Store* s = opened->get();
  constexpr int kThreads = 4;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([s, fd, t] {
      std::string value(512, 'v');
      for (int i = 0;; ++i) {
        // Creates, and updates of the previous key, so that both the
        // insert and the current-table update paths are exercised.
        auto c = s->Create(Key(t, i), value + std::to_string(i));
        if (!c.ok()) _exit(3);
        Ack a{t, i, c->revision, 0};
        if (write(fd, &a, sizeof a) != sizeof a) _exit(4);
        auto u = s->Update(Key(t, i), "updated" + std::to_string(i), c->revision);
        if (!u.ok()) _exit(5);
        a = Ack{t, i, u->revision, 1};
        if (write(fd, &a, sizeof a) != sizeof a) _exit(4);
      }
    });
  }
  for (auto& th : ts) th.join();
  _exit(0);
}

TEST(SqliteStoreCrash, AcknowledgedWritesSurviveSigkill) {
  testing::TempDir dir;
  std::string path = dir.File("state.db");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    ChildMain(path, fds[1]);
  }
  close(fds[1]);

  std::vector<Ack> acks;
  Ack a;
  bool killed = false;
  // Kill once enough writes have been acknowledged that the WAL, group
  // commits and a checkpoint or two are all in play; keep reading after the
  // kill: acks already in the pipe were acknowledged before the crash.
  while (read(fds[0], &a, sizeof a) == sizeof a) {
    acks.push_back(a);
    if (!killed && acks.size() >= 600) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(killed) << "child exited early, status " << wstatus;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << wstatus;

  auto s = OpenSqlite({.path = path});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  int64_t max_rev = 0;
  for (const Ack& ack : acks) {
    max_rev = std::max(max_rev, ack.revision);
    auto g = (*s)->Get(Key(ack.thread, ack.seq));
    ASSERT_TRUE(g.ok()) << Key(ack.thread, ack.seq) << ": " << g.status().ToString();
    // The key holds this write or a later one (the update may have landed
    // without its ack reaching us).
    EXPECT_GE(g->mod_revision, ack.revision);
    if (ack.op == 1) {
      EXPECT_EQ(g->mod_revision, ack.revision);
      EXPECT_EQ(g->value, "updated" + std::to_string(ack.seq));
    }
  }
  EXPECT_GE((*s)->CurrentRevision(), max_rev);
  // The revision counter continues after the highest durable revision.
  auto c = (*s)->Create("/after-crash", "x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision, (*s)->CurrentRevision());
  EXPECT_GT(c->revision, max_rev);
}

}  // namespace
}  // namespace berth::store
