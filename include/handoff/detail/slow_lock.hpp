// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/slow_lock.hpp: the lock that guards a primitive's waiter queues, taken only on slow paths.
//
// Purpose: registering, unregistering and claiming waiters. Uncontended operations never take it (rule G-6).
// Invariants: word is 0 (free), 1 (held), 2 (held, a thread may be parked). Three-state futex mutex; bounded
// spin, then park. It is not fair, and need not be: fairness between waiters comes from waiter_queue order,
// and the lock is held only for a few pointer updates and compare-exchanges.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff::detail {

template <class Sync>
class slow_lock {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    // acquire: pairs with the release exchange in unlock(); the queues become visible.
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    for (unsigned i = 0; i < Sync::spin_limit; ++i) {
      Sync::relax();
      expected = 0;
      if (word_.load(std::memory_order_relaxed) == 0 &&
          word_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
    // acquire: as above. Marking 2 makes the holder's unlock wake someone.
    while (word_.exchange(2, std::memory_order_acquire) != 0) Sync::park(word_, 2);
  }

  // One attempt, no spin and no park (a thread with optional work under the lock: stream's top-up).
  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    // acquire: as in lock().
    return word_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }

  void unlock() noexcept {
    // release: publishes the queue changes; pairs with the acquire in lock().
    if (word_.exchange(0, std::memory_order_release) == 2) Sync::unpark_one(word_);
  }

 private:
  typename Sync::template atomic<std::uint32_t> word_{0};
};

template <class Sync>
class slow_guard {
 public:
  explicit slow_guard(slow_lock<Sync>& l) noexcept : lock_(l) { lock_.lock(); }
  ~slow_guard() { lock_.unlock(); }
  slow_guard(const slow_guard&) = delete;
  slow_guard& operator=(const slow_guard&) = delete;

 private:
  slow_lock<Sync>& lock_;
};

// Tag: the guard takes over a lock its caller already holds (after a successful try_lock).
struct adopt_held_lock {};

// A guard that can drop and re-take the lock (slow paths unlock before running T's constructors or parking).
// The destructor unlocks only if held, so every exit path, exceptions included, leaves the lock free.

template <class Sync>
class relockable_guard {
 public:
  explicit relockable_guard(slow_lock<Sync>& l) noexcept : lock_(l) { lock(); }
  relockable_guard(slow_lock<Sync>& l, adopt_held_lock) noexcept : lock_(l), held_(true) {}
  ~relockable_guard() {
    if (held_) lock_.unlock();
  }
  relockable_guard(const relockable_guard&) = delete;
  relockable_guard& operator=(const relockable_guard&) = delete;

  void lock() noexcept {
    lock_.lock();
    held_ = true;
  }
  void unlock() noexcept {
    held_ = false;
    lock_.unlock();
  }
  bool owns_lock() const noexcept { return held_; }

 private:
  slow_lock<Sync>& lock_;
  bool held_ = false;
};

}  // namespace handoff::detail
