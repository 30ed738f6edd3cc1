#include "core/small_mutex.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace berth {
namespace {

// Threads that hold the lock across a non-atomic read-modify-write with a
// yield in the middle lose updates unless the lock excludes them, and they
// contend enough to make waiters sleep on the futex.
TEST(SmallMutex, ExcludesAndWakesWaiters) {
  SmallMutex mu;
  EXPECT_EQ(sizeof(mu), 4u);
  long counter = 0;
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lk(mu);
        long seen = counter;
        if (i % 64 == 0) std::this_thread::yield();
        counter = seen + 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, long{kThreads} * kRounds);
}

TEST(SmallMutex, TryLockFailsWhileHeld) {
  SmallMutex mu;
  std::unique_lock lk(mu);
  bool got = true;
  std::thread([&] { got = mu.try_lock(); }).join();
  EXPECT_FALSE(got);
  lk.unlock();
  std::thread([&] {
    got = mu.try_lock();
    if (got) mu.unlock();
  }).join();
  EXPECT_TRUE(got);
}

}  // namespace
}  // namespace berth
