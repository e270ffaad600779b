// condition<T> and condition<void>: rules CO-1..CO-8 and the general rules G-1, G-4, G-5, G-6, G-7, G-8, G-9
// as they apply to a queue of waiters. Every test runs on both parking backends. "Registered" is established
// through condition::waiting(), never by sleeping; hangs are caught by the watchdog (get_or_abort).
#include <handoff/condition.hpp>
#include <handoff/debug.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/counting_new.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff_test::get_or_abort;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRaceIterations = 10'000;
#else
constexpr int kRaceIterations = 100'000;
#endif

using handoff_test::until;

template <class Sync>
class ConditionTest : public ::testing::Test {};
TYPED_TEST_SUITE(ConditionTest, handoff_test::real_backends, handoff_test::backend_names);

template <class T, class Sync>
using condition = handoff::condition<T, Sync>;

// A BasicLockable (not a std::mutex, not a unique_lock) that records who holds it, so a test can check that
// wait(lock) holds it again on every way out (CO-6) and released it while waiting.
class recording_lock {
 public:
  void lock() {
    mutex_.lock();
    owner_.store(std::this_thread::get_id());
    locks_.fetch_add(1);
  }
  void unlock() {
    owner_.store(std::thread::id{});
    unlocks_.fetch_add(1);
    mutex_.unlock();
  }
  bool held_by_me() const { return owner_.load() == std::this_thread::get_id(); }
  int unlocks() const { return unlocks_.load(); }

 private:
  std::mutex mutex_;
  std::atomic<std::thread::id> owner_{};
  std::atomic<int> locks_{0}, unlocks_{0};
};

// ---- CO-1, CO-2, CO-3

TYPED_TEST(ConditionTest, CO1_CO3_SignalWithNobodyWaitingIsDiscarded) {
  condition<int, TypeParam> c;
  EXPECT_EQ(c.signal(1), 0u) << "nobody waits: the value is discarded";
  EXPECT_EQ(c.broadcast(5), 0u);
  EXPECT_EQ(c.waiting(), 0u);
  auto waiter = std::async(std::launch::async, [&] { return c.wait(); });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  EXPECT_EQ(c.signal(2), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiter), "wait after a discarded signal"), 2)
      << "a later wait does not see a discarded value (CO-3)";
}

TYPED_TEST(ConditionTest, CO2_WaitReturnsTheSignalledValueMoveOnly) {  // CO-2, G-8 (moved, never copied)
  condition<std::unique_ptr<std::string>, TypeParam> c;
  auto waiter = std::async(std::launch::async, [&] { return *c.wait(); });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  EXPECT_EQ(c.signal(std::make_unique<std::string>("hello")), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiter), "wait"), "hello");
  EXPECT_EQ(c.waiting(), 0u);
}

TYPED_TEST(ConditionTest, CO3_SignalWakesTheOldestWaiterFirst) {  // CO-3, G-3
  condition<int, TypeParam> c;
  std::vector<std::future<int>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::async(std::launch::async, [&] { return c.wait(); }));
    until([&] { return c.waiting() == static_cast<std::size_t>(i + 1); }, "waiter registered in order");
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.signal(10 * (i + 1)), 1u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(get_or_abort(std::move(waiters[i]), "waiter " + std::to_string(i)), 10 * (i + 1))
        << "signals go to waiters in registration order";
}

// ---- CO-4

TYPED_TEST(ConditionTest, CO4_BroadcastWakesExactlyTheWaitersRegisteredBeforeIt) {
  condition<std::string, TypeParam> c;
  std::vector<std::future<std::string>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::async(std::launch::async, [&] { return c.wait(); }));
    until([&] { return c.waiting() == static_cast<std::size_t>(i + 1); }, "waiter registered");
  }
  const std::string v = "broadcast value";
  EXPECT_EQ(c.broadcast(v), 3u);
  EXPECT_EQ(v, "broadcast value") << "broadcast copies; the caller's value is untouched";
  for (auto& w : waiters) EXPECT_EQ(get_or_abort(std::move(w), "broadcast waiter"), "broadcast value");
  auto late = std::async(std::launch::async, [&] { return c.wait(); });
  until([&] { return c.waiting() == 1; }, "late waiter registered");
  EXPECT_EQ(c.signal("next"), 1u);
  EXPECT_EQ(get_or_abort(std::move(late), "late waiter"), "next")
      << "a waiter that registered after the broadcast gets the next signal only";
}

// Forty parked waiters: each signal reaches exactly the oldest one, and one broadcast wakes all the rest.
TYPED_TEST(ConditionTest, CO3_CO4_FortyWaitersSignalledInOrderThenBroadcast) {
  constexpr int kWaiters = 40, kSignalled = 20;
  condition<int, TypeParam> c;
  std::vector<std::future<int>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(std::async(std::launch::async, [&] { return c.wait(); }));
    until([&] { return c.waiting() == static_cast<std::size_t>(i + 1); }, "waiter registered in order");
  }
  for (int i = 0; i < kSignalled; ++i) {
    EXPECT_EQ(c.signal(i + 1), 1u);
    EXPECT_EQ(get_or_abort(std::move(waiters[i]), "signalled waiter " + std::to_string(i)), i + 1)
        << "each signal reaches the oldest waiter";
  }
  EXPECT_EQ(c.waiting(), static_cast<std::size_t>(kWaiters - kSignalled));
  EXPECT_EQ(c.broadcast(-1), static_cast<std::size_t>(kWaiters - kSignalled));
  for (int i = kSignalled; i < kWaiters; ++i)
    EXPECT_EQ(get_or_abort(std::move(waiters[i]), "broadcast waiter " + std::to_string(i)), -1);
}

// ---- CO-5

TYPED_TEST(ConditionTest, CO5_BroadcastErrorMakesEveryWaitThrow) {
  condition<int, TypeParam> c;
  std::mutex m;
  std::vector<std::future<int>> waiters;
  waiters.push_back(std::async(std::launch::async, [&] { return c.wait(); }));
  waiters.push_back(std::async(std::launch::async, [&] { return c.wait_for(1h).value_or(-1); }));
  waiters.push_back(std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    return c.wait(lock);
  }));
  std::stop_source source;
  waiters.push_back(std::async(std::launch::async, [&] { return c.wait(source.get_token()).value_or(-1); }));
  until([&] { return c.waiting() == 4; }, "four waiters registered");
  EXPECT_EQ(c.broadcast_error(std::make_exception_ptr(std::runtime_error("boom"))), 4u);
  for (auto& w : waiters) {
    try {
      (void)get_or_abort(std::move(w), "waiter woken by broadcast_error");
      ADD_FAILURE() << "a wait woken by broadcast_error returned instead of throwing";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom");
    }
  }
  EXPECT_THROW((void)c.broadcast_error(nullptr), std::invalid_argument);
  EXPECT_EQ(c.broadcast_error(std::make_exception_ptr(std::runtime_error("x"))), 0u) << "nobody waits";
}

TYPED_TEST(ConditionTest, CO5_BroadcastErrorOnConditionVoid) {
  condition<void, TypeParam> c;
  auto waiter = std::async(std::launch::async, [&] { c.wait(); });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  EXPECT_EQ(c.broadcast_error(std::make_exception_ptr(std::logic_error("void boom"))), 1u);
  EXPECT_THROW(get_or_abort(std::move(waiter), "void waiter"), std::logic_error);
}

// CO-5 reaches the waiters registered at the call and nobody else: the error does not stay behind. Every wait
// after a broadcast_error (one that woke a waiter, and one that found nobody) returns normally: at once for
// the G-7 forms, on a timeout, or with the next signal's value.
TYPED_TEST(ConditionTest, CO5_BroadcastErrorIsNotSticky) {
  condition<int, TypeParam> c;
  condition<void, TypeParam> v;
  std::mutex m;
  std::stop_source stopped;
  stopped.request_stop();
  auto boom = [] { return std::make_exception_ptr(std::runtime_error("boom")); };
  // A waiter that throws at once never registers: stop looking for it then.
  auto returned = [](auto& f) { return f.wait_for(0s) == std::future_status::ready; };
  auto waits_normally_afterwards = [&](const char* after) {
    SCOPED_TRACE(after);
    try {
      EXPECT_EQ(c.wait_for(0s).status(), handoff::status::timeout);
      EXPECT_EQ(c.wait(stopped.get_token()).status(), handoff::status::cancelled);
      EXPECT_EQ(c.wait_for(1ms).status(), handoff::status::timeout);
      EXPECT_FALSE(v.wait_for(0s));
      EXPECT_FALSE(v.wait_for(1ms));
      std::unique_lock lock(m);
      EXPECT_EQ(c.wait_for(lock, 1ms).status(), handoff::status::timeout);
      EXPECT_EQ(v.wait_for(lock, 1ms), std::cv_status::timeout);
    } catch (const std::runtime_error&) {
      ADD_FAILURE() << "a wait after broadcast_error threw its error";
    }
    auto typed = std::async(std::launch::async, [&] { return c.wait(); });
    until([&] { return c.waiting() == 1 || returned(typed); },
          "typed waiter registered after broadcast_error");
    EXPECT_EQ(c.signal(5), 1u);
    EXPECT_NO_THROW(EXPECT_EQ(get_or_abort(std::move(typed), "typed wait after broadcast_error"), 5))
        << "the next wait gets the next signal's value, not the old error";
    auto untyped = std::async(std::launch::async, [&] {
      std::unique_lock lock(m);
      v.wait(lock);
    });
    until([&] { return v.waiting() == 1 || returned(untyped); },
          "void waiter registered after broadcast_error");
    EXPECT_EQ(v.signal(), 1u);
    EXPECT_NO_THROW(get_or_abort(std::move(untyped), "void wait after broadcast_error"));
  };

  EXPECT_EQ(c.broadcast_error(boom()), 0u);
  EXPECT_EQ(v.broadcast_error(boom()), 0u);
  waits_normally_afterwards("after a broadcast_error that found nobody");

  auto typed = std::async(std::launch::async, [&] { return c.wait(); });
  auto untyped = std::async(std::launch::async, [&] { v.wait(); });
  until([&] { return (c.waiting() == 1 || returned(typed)) && (v.waiting() == 1 || returned(untyped)); },
        "waiters registered");
  EXPECT_EQ(c.broadcast_error(boom()), 1u);
  EXPECT_EQ(v.broadcast_error(boom()), 1u);
  EXPECT_THROW((void)get_or_abort(std::move(typed), "typed waiter woken by broadcast_error"),
               std::runtime_error);
  EXPECT_THROW(get_or_abort(std::move(untyped), "void waiter woken by broadcast_error"), std::runtime_error);
  waits_normally_afterwards("after a broadcast_error that woke a waiter");
}

// ---- CO-6

// The classic flag + mutex + notify pattern, as a two-thread ping-pong, 10^4 rounds. Each side changes the
// turn under the mutex and notifies (inside or outside the lock, alternately); the other waits with
// wait(lock, pred). A notifier that took the lock after the waiter released it must find it (CO-6, G-1).
TYPED_TEST(ConditionTest, CO6_WaitLockNeverMissesANotifierThatTakesTheLock) {
  condition<void, TypeParam> to_a, to_b;
  std::mutex m;
  int turn = 0;  // guarded by m: 0 = a's turn, 1 = b's turn
  constexpr int kRounds = 10'000;
  auto side = [&](int me, condition<void, TypeParam>& mine, condition<void, TypeParam>& other) {
    for (int i = 0; i < kRounds; ++i) {
      std::unique_lock lock(m);
      mine.wait(lock, [&] { return turn == me; });
      turn = 1 - me;
      if (i % 2) {
        lock.unlock();
        other.notify_one();
      } else {
        other.notify_one();
      }
    }
  };
  auto a = std::async(std::launch::async, side, 0, std::ref(to_a), std::ref(to_b));
  auto b = std::async(std::launch::async, side, 1, std::ref(to_b), std::ref(to_a));
  get_or_abort(std::move(a), "ping-pong side a (lost wakeup?)");
  get_or_abort(std::move(b), "ping-pong side b (lost wakeup?)");
}

// The typed form: a waiter that registered under the lock is found by every signaller that takes the lock
// after it: signal must return 1 in every round, never 0 (the fast path's load cannot miss it).
TYPED_TEST(ConditionTest, CO6_SignalAfterTakingTheLockAlwaysFindsTheWaiter) {
  condition<int, TypeParam> c;
  std::mutex m;
  bool ready = false;  // guarded by m
  constexpr int kRounds = 5'000;
  auto waiter = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRounds; ++i) {
      std::unique_lock lock(m);
      ready = true;
      if (c.wait(lock) != i) return false;
      if (!lock.owns_lock()) return false;
    }
    return true;
  });
  for (int i = 0; i < kRounds; ++i) {
    for (;;) {
      std::lock_guard lock(m);
      if (ready) {
        ready = false;
        break;
      }
    }
    if (c.signal(int{i}) != 1) {
      // The waiter would now wait forever: report and stop here rather than hang in the future's destructor.
      ADD_FAILURE() << "round " << i << ": signal missed a waiter that registered before releasing the lock";
      std::abort();
    }
  }
  EXPECT_TRUE(get_or_abort(std::move(waiter), "waiter loop"));
}

TYPED_TEST(ConditionTest, CO6_WaitLockRelocksOnValuePath) {
  condition<int, TypeParam> c;
  recording_lock lk;
  auto waiter = std::async(std::launch::async, [&] {
    lk.lock();
    const int v = c.wait(lk);
    const bool held = lk.held_by_me();
    lk.unlock();
    return held ? v : -1;
  });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  lk.lock();  // the waiter released it while waiting
  lk.unlock();
  EXPECT_EQ(c.signal(7), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiter), "wait(lock)"), 7) << "-1: lock not held on return";
}

TYPED_TEST(ConditionTest, CO6_WaitLockRelocksOnTimeoutAndPastDeadline) {  // CO-6, G-7
  condition<int, TypeParam> c;
  recording_lock lk;
  lk.lock();
  EXPECT_FALSE(c.wait_for(lk, 1ms).has_value());
  EXPECT_TRUE(lk.held_by_me()) << "timeout path re-acquires the lock";
  EXPECT_EQ(lk.unlocks(), 1) << "the lock was released while waiting";
  EXPECT_FALSE(c.wait_until(lk, std::chrono::system_clock::now() + 1ms).has_value());
  EXPECT_TRUE(lk.held_by_me());
  EXPECT_FALSE(c.wait_for(lk, -1s).has_value());
  EXPECT_FALSE(c.wait_until(lk, std::chrono::steady_clock::now() - 1h).has_value());
  EXPECT_TRUE(lk.held_by_me());
  EXPECT_EQ(lk.unlocks(), 2) << "a past deadline returns at once without releasing the lock (G-7)";
  EXPECT_EQ(c.waiting(), 0u);
  lk.unlock();
}

TYPED_TEST(ConditionTest, CO6_WaitLockRelocksOnCancellation) {
  condition<int, TypeParam> c;
  recording_lock lk;
  std::stop_source source;
  auto waiter = std::async(std::launch::async, [&] {
    lk.lock();
    const auto v = c.wait(lk, source.get_token());
    const bool held = lk.held_by_me();
    lk.unlock();
    return held && !v.has_value();
  });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  source.request_stop();
  EXPECT_TRUE(get_or_abort(std::move(waiter), "cancelled wait(lock, token)"))
      << "cancelled: no value and the lock held again";
  EXPECT_EQ(c.waiting(), 0u);
  EXPECT_EQ(c.signal(1), 0u) << "a cancelled waiter swallows no signal";
}

TYPED_TEST(ConditionTest, CO6_WaitLockRelocksOnException) {  // CO-6, CO-5
  condition<void, TypeParam> c;
  recording_lock lk;
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock<recording_lock> lock(lk);
    try {
      c.wait(lock);
    } catch (const std::runtime_error&) {
      return lk.held_by_me() && lock.owns_lock();
    }
    return false;
  });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  EXPECT_EQ(c.broadcast_error(std::make_exception_ptr(std::runtime_error("e"))), 1u);
  EXPECT_TRUE(get_or_abort(std::move(waiter), "wait(lock) woken by an error"));
}

// ---- CO-7: races, hammered

// A timed wait racing a signal: if signal returned 1 the waiter got exactly that value; if 0 it timed out.
// Never both, never neither.
TYPED_TEST(ConditionTest, CO7_TimeoutRacingSignalIsTruthful) {
  condition<int, TypeParam> c;
  std::barrier sync(2);
  std::atomic<bool> waiter_returned{false};
  std::vector<int> got(kRaceIterations, -1);
  std::mt19937 rng(4242);
  std::vector<int> waits(kRaceIterations), delays(kRaceIterations);
  for (auto& w : waits) w = static_cast<int>(rng() % 20);
  for (auto& d : delays) d = static_cast<int>(rng() % 3);
  auto waiter = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRaceIterations; ++i) {
      sync.arrive_and_wait();
      if (auto v = c.wait_for(std::chrono::microseconds(waits[i]))) got[i] = *v;
      waiter_returned.store(true);
      sync.arrive_and_wait();
    }
  });
  int delivered = 0, discarded = 0;
  std::vector<int> untruthful;
  for (int i = 0; i < kRaceIterations; ++i) {
    sync.arrive_and_wait();
    // Usually let the waiter register first (then the signal races only its deadline); sometimes not.
    if (delays[i] != 0) {
      while (c.waiting() == 0 && !waiter_returned.load()) std::this_thread::yield();
    }
    const std::size_t n = c.signal(int{i});
    sync.arrive_and_wait();
    waiter_returned.store(false);
    // A failed check is counted, not asserted: returning early would leave the waiter at the barrier.
    if (n == 1) {
      ++delivered;
      if (got[i] != i) untruthful.push_back(i);
    } else {
      ++discarded;
      if (n != 0 || got[i] != -1) untruthful.push_back(i);
    }
  }
  get_or_abort(std::move(waiter), "timed waiter loop");
  EXPECT_TRUE(untruthful.empty()) << untruthful.size() << " rounds where signal's count and the waiter "
                                  << "disagree, first " << untruthful.front();
  EXPECT_EQ(c.waiting(), 0u);
  EXPECT_GT(delivered, 0) << "the race never delivered: the test exercised nothing";
  EXPECT_GT(discarded, 0) << "the race never timed out: the test exercised nothing";
}

// A stop request racing a signal (three threads): same truthfulness as above. Each round has three barriers:
// start; all three done (the waiter always returns: its token is stopped); the main thread checked and
// replaced the stop source.
TYPED_TEST(ConditionTest, CO7_StopRequestRacingSignalIsTruthful) {
  condition<int, TypeParam> c;
  constexpr int kRounds = kRaceIterations / 2;
  std::barrier sync(3);
  std::stop_source source;
  std::vector<int> got(kRounds, -1);
  auto waiter = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();
      if (auto v = c.wait(source.get_token())) got[i] = *v;
      sync.arrive_and_wait();
      sync.arrive_and_wait();
    }
  });
  auto stopper = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();
      source.request_stop();
      sync.arrive_and_wait();
      sync.arrive_and_wait();
    }
  });
  int delivered = 0, cancelled = 0;
  std::vector<int> untruthful;
  for (int i = 0; i < kRounds; ++i) {
    sync.arrive_and_wait();
    const std::size_t n = c.signal(int{i});
    sync.arrive_and_wait();
    if (n == 1) {
      ++delivered;
      if (got[i] != i) untruthful.push_back(i);
    } else {
      ++cancelled;
      if (got[i] != -1) untruthful.push_back(i);
    }
    source = std::stop_source{};
    sync.arrive_and_wait();
  }
  get_or_abort(std::move(waiter), "stop waiter loop");
  get_or_abort(std::move(stopper), "stopper loop");
  EXPECT_TRUE(untruthful.empty()) << untruthful.size() << " rounds where signal's count and the waiter "
                                  << "disagree, first " << untruthful.front();
  EXPECT_EQ(c.waiting(), 0u);
  EXPECT_GT(cancelled, 0) << "the stop request never won: the test exercised nothing";
}

// broadcast racing waiters that time out: its count equals the number of waiters that returned its value.
TYPED_TEST(ConditionTest, CO7_BroadcastCountEqualsWaitersThatGotTheValue) {
  condition<int, TypeParam> c;
  constexpr int kWaiters = 2;
  constexpr int kRounds = kRaceIterations / 4;  // two timed waits per round race each broadcast
  std::barrier sync(kWaiters + 1);
  std::vector<std::vector<int>> got(kWaiters, std::vector<int>(kRounds, -1));
  std::vector<std::future<void>> waiters;
  for (int w = 0; w < kWaiters; ++w) {
    waiters.push_back(std::async(std::launch::async, [&, w] {
      std::mt19937 rng(77 + w);
      for (int i = 0; i < kRounds; ++i) {
        const auto timeout = std::chrono::microseconds(rng() % 20);
        sync.arrive_and_wait();
        if (auto v = c.wait_for(timeout)) got[w][i] = *v;
        sync.arrive_and_wait();
      }
    }));
  }
  std::mt19937 rng(99);
  std::size_t total = 0;
  std::vector<int> untruthful;
  for (int i = 0; i < kRounds; ++i) {
    sync.arrive_and_wait();
    for (unsigned spin = rng() % 8; spin != 0; --spin) std::this_thread::yield();
    const std::size_t n = c.broadcast(int{i});
    sync.arrive_and_wait();
    std::size_t returned = 0;
    bool invented = false;
    for (int w = 0; w < kWaiters; ++w) {
      if (got[w][i] == i) ++returned;
      invented |= got[w][i] != i && got[w][i] != -1;
    }
    if (n != returned || invented) untruthful.push_back(i);  // counted, not asserted: see above
    total += n;
  }
  for (auto& w : waiters) get_or_abort(std::move(w), "timed broadcast waiter");
  EXPECT_TRUE(untruthful.empty()) << untruthful.size() << " rounds where broadcast's count is not the "
                                  << "number of waiters that returned its value, first "
                                  << untruthful.front();
  EXPECT_GT(total, 0u) << "no broadcast ever reached a waiter: the test exercised nothing";
  EXPECT_EQ(c.waiting(), 0u);
}

// ---- G-8: a T whose move or copy throws on demand

struct fragile {
  static inline thread_local bool throw_on_move = false;
  static inline thread_local int copies_before_throw = -1;  // -1: never throw; n: the copy after n throws
  int value = 0;
  explicit fragile(int v) : value(v) {}
  fragile(const fragile& o) : value(o.value) {
    if (copies_before_throw == 0) throw std::runtime_error("copy failed");
    if (copies_before_throw > 0) --copies_before_throw;
  }
  fragile(fragile&& o) : value(o.value) {
    if (throw_on_move) throw std::runtime_error("move failed");
  }
};

TYPED_TEST(ConditionTest, G8_SignalWhoseMoveThrowsLeavesTheWaiterWaiting) {
  condition<fragile, TypeParam> c;
  auto waiter = std::async(std::launch::async, [&] { return c.wait().value; });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  fragile::throw_on_move = true;  // this thread's moves throw; the waiter's own moves do not
  EXPECT_THROW((void)c.signal(fragile(9)), std::runtime_error) << "the exception reaches the signaller";
  fragile::throw_on_move = false;
  EXPECT_EQ(c.waiting(), 1u) << "the waiter is still waiting, in place";
  EXPECT_EQ(c.signal(fragile(10)), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiter), "waiter after a failed signal"), 10);
  EXPECT_EQ(c.signal(fragile(11)), 0u) << "the condition is usable and empty";
}

// Documented behaviour: waiters handed their copy before the throw return it; the rest go back to the front
// of the queue, in order, and keep waiting.
TYPED_TEST(ConditionTest, G8_BroadcastWhoseCopyThrowsPutsTheRestBackInOrder) {
  condition<fragile, TypeParam> c;
  std::vector<std::future<int>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::async(std::launch::async, [&] { return c.wait().value; }));
    until([&] { return c.waiting() == static_cast<std::size_t>(i + 1); }, "waiter registered");
  }
  const fragile v(5);
  fragile::copies_before_throw = 1;  // the first copy succeeds, the second throws
  EXPECT_THROW((void)c.broadcast(v), std::runtime_error);
  fragile::copies_before_throw = -1;
  EXPECT_EQ(get_or_abort(std::move(waiters[0]), "waiter served before the throw"), 5);
  EXPECT_EQ(c.waiting(), 2u) << "the waiters not served are back in the queue";
  waiters.push_back(std::async(std::launch::async, [&] { return c.wait().value; }));
  until([&] { return c.waiting() == 3; }, "a newer waiter registered behind them");
  EXPECT_EQ(c.signal(fragile(20)), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiters[1]), "second waiter"), 20) << "put back at the front, in order";
  EXPECT_EQ(c.signal(fragile(30)), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiters[2]), "third waiter"), 30);
  EXPECT_EQ(c.broadcast(fragile(40)), 1u);
  EXPECT_EQ(get_or_abort(std::move(waiters[3]), "newer waiter"), 40);
}

TYPED_TEST(ConditionTest, G8_TimedWaiterPutBackAfterAFailedSignalStillTimesOut) {  // G-8, G-7
  condition<fragile, TypeParam> c;
  auto waiter = std::async(std::launch::async, [&] { return c.wait_for(20ms).has_value(); });
  until([&] { return c.waiting() == 1; }, "timed waiter registered");
  fragile::throw_on_move = true;
  EXPECT_THROW((void)c.signal(fragile(1)), std::runtime_error);
  fragile::throw_on_move = false;
  EXPECT_FALSE(get_or_abort(std::move(waiter), "timed waiter after a failed signal"))
      << "put back, it re-arms its deadline and times out";
  EXPECT_EQ(c.waiting(), 0u);
}

// ---- G-9

#if HANDOFF_CHECKED
TYPED_TEST(ConditionTest, G9_DestroyWhileWaitingIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto destroy_while_waiting = [] {
    auto* c = new condition<int, TypeParam>;
    std::thread t([c] { (void)c->wait_for(std::chrono::hours(1)); });
    until([&] { return c->waiting() == 1; }, "waiter registered");
    delete c;
    t.join();
  };
  EXPECT_DEATH(destroy_while_waiting(), "condition destroyed while threads wait");
}
#endif

// ---- G-6: no allocation per wait or signal; nobody waiting costs no lock (checked by the benchmark)

TYPED_TEST(ConditionTest, G6_NoAllocationPerWaitOrSignal) {
  if (!handoff_test::allocation_counting)
    GTEST_SKIP() << "operator new is the sanitizer runtime's in this build";
  condition<int, TypeParam> c, nobody;
  condition<void, TypeParam> v;
  std::mutex m;
  std::barrier sync(2);
  constexpr int kRounds = 2'000;
  auto waiter = std::async(std::launch::async, [&] {
    // The thread's blocked-thread record (OB-4) is allocated once, at its first park; take it now, outside
    // the counted window.
    EXPECT_TRUE(handoff::debug::reserve_thread_record());
    sync.arrive_and_wait();
    long sum = 0;
    for (int i = 0; i < kRounds; ++i) {
      if (i % 2) {
        sum += c.wait();
      } else {
        std::unique_lock lock(m);
        v.wait(lock);
      }
    }
    sync.arrive_and_wait();
    return sum;
  });
  sync.arrive_and_wait();
  const long before = handoff_test::allocation_count();
  long expected = 0;
  std::size_t woken = 0, discarded = 0;
  for (int i = 0; i < kRounds; ++i) {
    discarded += nobody.signal(-1) + nobody.broadcast(-1);  // nobody waits: the fast path
    if (i % 2) {
      until([&] { return c.waiting() == 1; }, "typed waiter registered");
      woken += c.signal(int{i});
      expected += i;
    } else {
      until([&] { return v.waiting() == 1; }, "void waiter registered");
      woken += v.notify_all();
    }
  }
  sync.arrive_and_wait();
  const long after = handoff_test::allocation_count();
  EXPECT_EQ(get_or_abort(std::move(waiter), "allocation waiter"), expected);
  EXPECT_EQ(woken, static_cast<std::size_t>(kRounds));
  EXPECT_EQ(discarded, 0u);
  EXPECT_EQ(after - before, 0) << "waits, signals and wakes allocated";
}

// ---- G-7, G-5

TYPED_TEST(ConditionTest, G7_PastDeadlinesAndStoppedTokensReturnAtOnce) {
  condition<int, TypeParam> c;
  condition<void, TypeParam> v;
  EXPECT_FALSE(c.wait_for(0s).has_value());
  EXPECT_FALSE(c.wait_for(-1s).has_value());
  EXPECT_FALSE(c.wait_until(std::chrono::steady_clock::now() - 1h).has_value());
  EXPECT_FALSE(c.wait_until(std::chrono::system_clock::now() - 1h).has_value());
  EXPECT_FALSE(v.wait_for(0s));
  std::stop_source source;
  source.request_stop();
  EXPECT_FALSE(c.wait(source.get_token()).has_value());
  EXPECT_FALSE(v.wait(source.get_token()));
  EXPECT_EQ(c.waiting(), 0u) << "nobody registered";
  EXPECT_EQ(v.waiting(), 0u);
}

TYPED_TEST(ConditionTest, G7_TimedWaitsExpireAndLeave) {  // G-7, G-5 (returns only on its deadline)
  condition<int, TypeParam> c;
  EXPECT_FALSE(c.wait_for(2ms).has_value());
  EXPECT_FALSE(c.wait_until(std::chrono::system_clock::now() + 2ms).has_value());
  EXPECT_EQ(c.waiting(), 0u) << "a waiter that timed out left the queue";
  EXPECT_EQ(c.signal(3), 0u) << "and swallows no later signal";
}

TYPED_TEST(ConditionTest, G7_HugeDurationSaturatesAndStopTokenWakes) {
  condition<int, TypeParam> c;
  auto forever = std::async(std::launch::async, [&] { return c.wait_for(std::chrono::hours::max()); });
  until([&] { return c.waiting() == 1; }, "waiter with a huge duration registered");
  EXPECT_EQ(c.signal(4), 1u);
  EXPECT_EQ(get_or_abort(std::move(forever), "huge-duration wait"), 4);
  std::stop_source source;
  auto stopped = std::async(std::launch::async, [&] { return c.wait(source.get_token()); });
  until([&] { return c.waiting() == 1; }, "stoppable waiter registered");
  source.request_stop();
  EXPECT_FALSE(get_or_abort(std::move(stopped), "stopped wait").has_value());
  EXPECT_EQ(c.waiting(), 0u);
}

// G-5: a waiter returns only because of a notification meant for it, whatever else happens around it
// (another condition's traffic, which on the portable backend shares parking slots).
TYPED_TEST(ConditionTest, G5_NoSpuriousWakeup) {
  condition<void, TypeParam> c, other;
  std::atomic<bool> notified{false};
  auto waiter = std::async(std::launch::async, [&] {
    c.wait();
    return notified.load();
  });
  until([&] { return c.waiting() == 1; }, "waiter registered");
  std::atomic<bool> done{false};
  auto noise = std::async(std::launch::async, [&] {
    while (!done.load()) (void)other.wait_for(50us);
  });
  for (int i = 0; i < 2'000; ++i) (void)other.notify_all();
  done.store(true);
  get_or_abort(std::move(noise), "noise waiter");
  notified.store(true);
  EXPECT_EQ(c.notify_one(), 1u);
  EXPECT_TRUE(get_or_abort(std::move(waiter), "waiter")) << "woke before it was notified";
}

// ---- CO-8: the std::condition_variable vocabulary on condition<void>

TYPED_TEST(ConditionTest, CO8_ConditionVariableVocabulary) {
  condition<void, TypeParam> cv;
  std::mutex m;
  bool ready = false;  // guarded by m
  {
    std::unique_lock lock(m);
    EXPECT_EQ(cv.wait_for(lock, 1ms), std::cv_status::timeout);
    EXPECT_TRUE(lock.owns_lock());
    EXPECT_EQ(cv.wait_until(lock, std::chrono::steady_clock::now() + 1ms), std::cv_status::timeout);
    EXPECT_FALSE(cv.wait_for(lock, 1ms, [&] { return ready; })) << "pred's final value";
    EXPECT_FALSE(cv.wait_until(lock, std::chrono::system_clock::now() + 1ms, [&] { return ready; }));
    ready = true;
    EXPECT_TRUE(cv.wait_for(lock, 0s, [&] { return ready; })) << "pred already true: no wait";
    cv.wait(lock, [&] { return ready; });
    ready = false;
  }
  EXPECT_EQ(cv.notify_one(), 0u);
  EXPECT_EQ(cv.notify_all(), 0u);

  std::vector<std::future<bool>> waiters;
  waiters.push_back(std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return ready; });
    return lock.owns_lock();
  }));
  waiters.push_back(std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 1h, [&] { return ready; });
  }));
  waiters.push_back(std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    while (!ready) {
      if (cv.wait_until(lock, std::chrono::steady_clock::now() + 1h) == std::cv_status::timeout) return false;
    }
    return true;
  }));
  std::stop_source never_stopped;
  waiters.push_back(std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    return cv.wait(lock, never_stopped.get_token(), [&] { return ready; });
  }));
  until([&] { return cv.waiting() == 4; }, "four cv waiters registered");
  {
    std::lock_guard lock(m);
    ready = true;
  }
  EXPECT_EQ(cv.notify_all(), 4u);
  for (auto& w : waiters) EXPECT_TRUE(get_or_abort(std::move(w), "cv-style waiter"));
}

TYPED_TEST(ConditionTest, CO8_AnyBasicLockable) {  // std::mutex itself, and a custom lock
  condition<void, TypeParam> cv;
  std::mutex m;
  recording_lock lk;
  int stage = 0;  // guarded by m
  auto waiter = std::async(std::launch::async, [&] {
    m.lock();
    cv.wait(m, [&] { return stage == 1; });  // std::mutex is BasicLockable
    m.unlock();
    lk.lock();
    const bool notified = cv.wait_for(lk, 1h) == std::cv_status::no_timeout;
    const bool held = lk.held_by_me();
    lk.unlock();
    return notified && held;
  });
  until([&] { return cv.waiting() == 1; }, "waiter on std::mutex registered");
  {
    std::lock_guard lock(m);
    stage = 1;
  }
  EXPECT_EQ(cv.notify_one(), 1u);
  until([&] { return cv.waiting() == 1 && lk.unlocks() == 1; }, "waiter on the custom lock registered");
  EXPECT_EQ(cv.signal(), 1u);
  EXPECT_TRUE(get_or_abort(std::move(waiter), "custom-lock waiter"));
}

TYPED_TEST(ConditionTest, CO8_StopTokenWithPredicate) {
  condition<void, TypeParam> cv;
  std::mutex m;
  std::stop_source source;
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock lock(m);
    const bool r = cv.wait(lock, source.get_token(), [] { return false; });
    return !r && lock.owns_lock();
  });
  until([&] { return cv.waiting() == 1; }, "waiter registered");
  source.request_stop();
  EXPECT_TRUE(get_or_abort(std::move(waiter), "stopped predicate wait")) << "returns pred()'s final value";
}

// ---- G-4: what the signaller wrote before signal is visible after the wait returns (checked by TSan too)

TYPED_TEST(ConditionTest, G4_SignalPublishesWhatCameBefore) {
  condition<int*, TypeParam> c;
  constexpr int kRounds = 2'000;
  std::vector<int> plain(kRounds, 0);  // written without synchronisation before each signal
  auto waiter = std::async(std::launch::async, [&] {
    long sum = 0;
    for (int i = 0; i < kRounds; ++i) sum += *c.wait();
    return sum;
  });
  long expected = 0;
  for (int i = 0; i < kRounds; ++i) {
    plain[i] = i + 1;
    expected += i + 1;
    until([&] { return c.waiting() == 1; }, "waiter registered");
    ASSERT_EQ(c.signal(&plain[i]), 1u);
  }
  EXPECT_EQ(get_or_abort(std::move(waiter), "publishing waiter"), expected);
}

// A trivially copyable T returned through wait(stop_token) in a loop: g++ 12 at -O1 and above reported a
// false -Wmaybe-uninitialized inside condition.hpp for this pattern, which breaks -Werror builds (the tsan
// preset compiles this file at -O1 with -Werror, so the regression is a build failure).
TYPED_TEST(ConditionTest, CO2_WaitStopTokenLoopOfTrivialValues) {
  condition<int, TypeParam> c;
  std::stop_source stop;
  auto waiter = std::async(std::launch::async, [&] {
    long sum = 0;
    while (auto v = c.wait(stop.get_token())) {
      sum += *v;
      if (sum >= 6) break;
    }
    return sum;
  });
  for (int v = 1; v <= 3; ++v)
    while (c.signal(int{v}) == 0) std::this_thread::yield();
  EXPECT_EQ(get_or_abort(std::move(waiter), "wait(stop_token) loop"), 6);
}

}  // namespace
