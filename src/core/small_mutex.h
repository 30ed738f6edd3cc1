// A mutex of four bytes, for objects that exist by the hundred thousand and
// each need their own lock (a std::mutex is 40 bytes). Uncontended lock and
// unlock are one atomic operation each; waiters sleep on a futex.
//
// The three-state design of Ulrich Drepper's "Futexes Are Tricky" (2011):
// 0 unlocked, 1 locked, 2 locked with possible waiters. Meets Lockable, so
// std::lock_guard and std::unique_lock work with it. Linux only.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace berth {

class SmallMutex {
 public:
  SmallMutex() = default;
  SmallMutex(const SmallMutex&) = delete;
  SmallMutex& operator=(const SmallMutex&) = delete;

  void lock() {
    uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      Futex(FUTEX_WAIT_PRIVATE, 2);
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }
  bool try_lock() {
    uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) Futex(FUTEX_WAKE_PRIVATE, 1);
  }

 private:
  void Futex(int op, uint32_t val) {
    static_assert(sizeof(state_) == sizeof(uint32_t));
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), op, val, nullptr, nullptr, 0);
  }
  std::atomic<uint32_t> state_{0};
};

}  // namespace berth
