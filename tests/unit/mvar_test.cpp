// mvar<T>: rules MV-1..MV-9 and the general rules G-2, G-5, G-7, G-8, G-9 as they apply to a one-slot box.
// Every test runs on both parking backends. "Registered" is established through mvar::waiting(), never by
// sleeping.
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::get_or_abort;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRaceIterations = 10'000;
#else
constexpr int kRaceIterations = 100'000;
#endif

using handoff_test::until;

template <class Sync>
class MvarTest : public ::testing::Test {};
TYPED_TEST_SUITE(MvarTest, handoff_test::real_backends, handoff_test::backend_names);

template <class T, class Sync>
using mvar = handoff::mvar<T, Sync>;

TYPED_TEST(MvarTest, EmptyAndFullConstruction) {  // MV-1, MV-8
  mvar<int, TypeParam> empty;
  mvar<int, TypeParam> full(7);
  EXPECT_TRUE(empty.is_empty());
  EXPECT_FALSE(full.is_empty());
  EXPECT_EQ(full.take(), 7);
  EXPECT_TRUE(full.is_empty());
}

TYPED_TEST(MvarTest, PutOnEmptyReturnsAtOnce) {  // MV-2, MV-5
  mvar<std::string, TypeParam> m;
  m.put("a");
  EXPECT_FALSE(m.is_empty());
  EXPECT_EQ(m.take(), "a");
  EXPECT_TRUE(m.is_empty());
}

TYPED_TEST(MvarTest, TryOperations) {  // MV-7
  mvar<std::unique_ptr<int>, TypeParam> m;
  EXPECT_FALSE(m.try_take().has_value());
  auto p = std::make_unique<int>(1);
  EXPECT_EQ(m.try_put(std::move(p)), status::ok);
  EXPECT_EQ(p, nullptr);
  auto q = std::make_unique<int>(2);
  EXPECT_EQ(m.try_put(std::move(q)), status::full);
  ASSERT_NE(q, nullptr) << "a failed try_put must leave the value with the caller (G-2)";
  EXPECT_EQ(*q, 2);
  auto got = m.try_take();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(**got, 1);
}

TYPED_TEST(MvarTest,
           BlockedPuttersEnterInOrderOnePerTake) {  // MV-4 (Lwt: three blocked putters, three takes)
  mvar<int, TypeParam> m(0);
  std::vector<std::future<void>> putters;
  for (int i = 1; i <= 3; ++i) {
    putters.push_back(std::async(std::launch::async, [&m, i] { m.put(int{i}); }));
    until([&] { return m.waiting().putters == static_cast<std::size_t>(i); }, "putter registered");
  }
  for (int i = 0; i <= 3; ++i) {
    EXPECT_EQ(m.take(), i) << "values go out one per take, in put order";
    if (i < 3) {
      EXPECT_FALSE(m.is_empty()) << "the oldest putter's value moved in: still full after take " << i;
    }
  }
  EXPECT_TRUE(m.is_empty());
  for (auto& p : putters) get_or_abort(std::move(p), "blocked put released by a take");
}

TYPED_TEST(MvarTest, PutHandsToOldestTaker) {  // MV-3, MV-6, G-3
  mvar<int, TypeParam> m;
  auto first = std::async(std::launch::async, [&] { return m.take(); });
  until([&] { return m.waiting().takers == 1; }, "first taker registered");
  auto second = std::async(std::launch::async, [&] { return m.take(); });
  until([&] { return m.waiting().takers == 2; }, "second taker registered");
  m.put(10);
  EXPECT_EQ(get_or_abort(std::move(first), "oldest taker"), 10);
  EXPECT_TRUE(m.is_empty()) << "the value went straight to the taker; the mvar stays empty";
  EXPECT_FALSE(m.try_take().has_value()) << "no one can barge past a hand-off";
  m.put(20);
  EXPECT_EQ(get_or_abort(std::move(second), "second taker"), 20);
}

TYPED_TEST(MvarTest, ReadCopiesWithoutTaking) {  // MV-9
  mvar<std::string, TypeParam> m;
  auto reader = std::async(std::launch::async, [&] { return m.read(); });
  until([&] { return m.waiting().readers == 1; }, "reader registered");
  m.put("x");
  EXPECT_EQ(get_or_abort(std::move(reader), "read"), "x");
  EXPECT_FALSE(m.is_empty());
  EXPECT_EQ(m.read(), "x");
  EXPECT_EQ(m.take(), "x");
}

TYPED_TEST(MvarTest, SwapTakesAndPutsInOneStep) {  // MV-9
  mvar<int, TypeParam> m(1);
  EXPECT_EQ(m.swap(2), 1);
  EXPECT_EQ(m.take(), 2);
  auto swapper = std::async(std::launch::async, [&] { return m.swap(4); });
  until([&] { return m.waiting().takers == 1; }, "swapper registered");
  m.put(3);
  EXPECT_EQ(get_or_abort(std::move(swapper), "swap"), 3);
  EXPECT_EQ(m.take(), 4) << "the swapper's value is in place of the one it received";
}

TYPED_TEST(MvarTest, PastDeadlineBehavesLikeTry) {  // G-7
  mvar<int, TypeParam> m;
  EXPECT_FALSE(m.take_for(0s).has_value());
  EXPECT_FALSE(m.take_until(std::chrono::steady_clock::now() - 1h).has_value());
  EXPECT_EQ(m.put_for(1, -1s), status::ok) << "an empty mvar accepts even with a past deadline";
  EXPECT_EQ(m.put_until(2, std::chrono::system_clock::now() - 1h), status::timeout);
  EXPECT_EQ(m.waiting().putters, 0u);
  EXPECT_EQ(m.take_for(std::chrono::hours::max()), 1) << "a huge duration saturates, it does not overflow";
}

TYPED_TEST(MvarTest, TimedWaitsExpire) {  // G-7, G-5 (returns only because the deadline passed)
  mvar<int, TypeParam> m;
  EXPECT_FALSE(m.take_for(2ms).has_value());
  EXPECT_FALSE(m.take_until(std::chrono::system_clock::now() + 2ms).has_value());
  m.put(1);
  EXPECT_EQ(m.put_for(5, 2ms), status::timeout);
  EXPECT_EQ(m.waiting().putters, 0u) << "a waiter that timed out left the queue";
  EXPECT_EQ(m.take(), 1);
  EXPECT_TRUE(m.is_empty()) << "the timed-out put's value never entered";
}

TYPED_TEST(MvarTest, StopRequestWakesParkedTaker) {  // G-7 stop_token form
  mvar<int, TypeParam> m;
  std::stop_source source;
  auto taker = std::async(std::launch::async, [&] { return m.take(source.get_token()); });
  until([&] { return m.waiting().takers == 1; }, "taker registered");
  source.request_stop();
  EXPECT_FALSE(get_or_abort(std::move(taker), "stopped take").has_value());
  EXPECT_EQ(m.waiting().takers, 0u);
  m.put(3);
  EXPECT_EQ(m.try_take(), 3) << "a cancelled taker swallowed no value";
}

TYPED_TEST(MvarTest, StopRequestWakesParkedPutterValueKept) {  // G-2 on cancellation
  mvar<std::unique_ptr<int>, TypeParam> m(std::make_unique<int>(0));
  std::stop_source source;
  auto v = std::make_unique<int>(5);
  auto putter = std::async(std::launch::async, [&] { return m.put(std::move(v), source.get_token()); });
  until([&] { return m.waiting().putters == 1; }, "putter registered");
  source.request_stop();
  EXPECT_EQ(get_or_abort(std::move(putter), "stopped put"), status::cancelled);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 5);
}

// G-2 under a race: a timed take against a put, hammered. Either the taker got the value (and the mvar is
// empty) or it timed out (and the value is in the mvar). Never both, never neither.
TYPED_TEST(MvarTest, TimeoutRacingPutNeverLosesOrDuplicates) {  // G-2, MV-3
  mvar<int, TypeParam> m;
  std::barrier sync(2);
  std::atomic<int> taken{0}, left_in_box{0};
  std::mt19937 rng(12345);
  std::vector<int> waits(kRaceIterations);
  for (auto& w : waits) w = static_cast<int>(rng() % 20);
  auto taker = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRaceIterations; ++i) {
      sync.arrive_and_wait();
      if (auto v = m.take_for(std::chrono::microseconds(waits[i]))) {
        if (*v != i) std::abort();
        taken.fetch_add(1);
      }
      sync.arrive_and_wait();
    }
  });
  for (int i = 0; i < kRaceIterations; ++i) {
    sync.arrive_and_wait();
    m.put(int{i});
    sync.arrive_and_wait();
    if (auto v = m.try_take()) {
      ASSERT_EQ(*v, i);
      left_in_box.fetch_add(1);
    }
  }
  get_or_abort(std::move(taker), "taker loop");
  EXPECT_EQ(taken.load() + left_in_box.load(), kRaceIterations);
  EXPECT_EQ(m.waiting().takers, 0u);
}

TYPED_TEST(MvarTest, StopRacingHandOffIsTruthful) {  // G-2 with cancellation
  mvar<int, TypeParam> m;
  std::barrier sync(3);
  std::atomic<int> taken{0}, left_in_box{0};
  std::stop_source sources[2];
  auto taker = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRaceIterations / 4; ++i) {
      sync.arrive_and_wait();
      if (auto v = m.take(sources[i % 2].get_token())) {
        if (*v != i) std::abort();
        taken.fetch_add(1);
      }
      sync.arrive_and_wait();
    }
  });
  auto stopper = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRaceIterations / 4; ++i) {
      sync.arrive_and_wait();
      sources[i % 2].request_stop();
      sync.arrive_and_wait();
      sources[i % 2] =
          std::stop_source{};  // only this thread touches it between the two barriers... and main
    }
  });
  for (int i = 0; i < kRaceIterations / 4; ++i) {
    sync.arrive_and_wait();
    (void)m.try_put(int{i});
    sync.arrive_and_wait();
    if (auto v = m.try_take()) {
      ASSERT_EQ(*v, i);
      left_in_box.fetch_add(1);
    }
  }
  get_or_abort(std::move(taker), "taker loop");
  get_or_abort(std::move(stopper), "stopper loop");
  EXPECT_EQ(taken.load() + left_in_box.load(), kRaceIterations / 4);
}

// A type whose move constructor throws when armed (G-8).
struct fragile {
  static inline thread_local bool throw_on_move = false;
  int value = 0;
  explicit fragile(int v) : value(v) {}
  fragile(const fragile&) = default;
  fragile(fragile&& o) : value(o.value) {
    if (throw_on_move) throw std::runtime_error("move failed");
  }
};

TYPED_TEST(MvarTest, ThrowingMoveLeavesMvarUsable) {  // G-8
  mvar<fragile, TypeParam> m;
  fragile f(1);
  fragile::throw_on_move = true;
  EXPECT_THROW(m.put(std::move(f)), std::runtime_error);
  fragile::throw_on_move = false;
  EXPECT_TRUE(m.is_empty()) << "a put whose move threw stored nothing";
  m.put(fragile(2));
  fragile::throw_on_move = true;
  EXPECT_THROW((void)m.take(), std::runtime_error);
  fragile::throw_on_move = false;
  EXPECT_FALSE(m.is_empty()) << "a take whose move threw took nothing";
  EXPECT_EQ(m.take().value, 2);
}

TYPED_TEST(MvarTest, ThrowOnBehalfOfWaiterIsRedoneByTheWaiter) {  // G-8 during a hand-off
  mvar<fragile, TypeParam> m;
  auto taker = std::async(std::launch::async, [&] {
    fragile::throw_on_move = false;  // the taker's own moves succeed
    return m.take().value;
  });
  until([&] { return m.waiting().takers == 1; }, "taker registered");
  fragile::throw_on_move = true;  // the putter's thread: its own move into the mvar throws
  EXPECT_THROW(m.put(fragile(9)), std::runtime_error);
  fragile::throw_on_move = false;
  EXPECT_EQ(m.waiting().takers, 1u) << "the taker is still waiting, in place";
  m.put(fragile(10));
  EXPECT_EQ(get_or_abort(std::move(taker), "taker after a failed put"), 10);
}

#if HANDOFF_CHECKED
TYPED_TEST(MvarTest, DestroyWhileWaitingIsCaught) {  // G-9
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto destroy_while_waiting = [] {
    auto* m = new mvar<int, TypeParam>;
    std::thread t([m] { (void)m->take_for(std::chrono::hours(1)); });
    until([&] { return m->waiting().takers == 1; }, "taker registered");
    delete m;
    t.join();
  };
  EXPECT_DEATH(destroy_while_waiting(), "mvar destroyed while threads wait");
}
#endif

TYPED_TEST(MvarTest, PingPongManyRoundsNoLostWakeup) {  // G-1
  mvar<int, TypeParam> ping, pong;
  constexpr int kRounds = 20'000;
  auto partner = std::async(std::launch::async, [&] {
    for (int i = 0; i < kRounds; ++i) pong.put(ping.take() + 1);
  });
  for (int i = 0; i < kRounds; ++i) {
    ping.put(int{i});
    ASSERT_EQ(pong.take(), i + 1);
  }
  get_or_abort(std::move(partner), "ping-pong partner");
}

// Invariant 7 of mvar.hpp: an mvar of an empty, trivially copyable type takes and puts in one CAS when
// uncontended. Used as a lock, it must still exclude (TSan sees the plain counter race if a short-path take
// does not acquire what the last put released) and hand over to registered waiters (a short-path put that
// ignored TAKERS would leave them parked: the bounded waits report it).
struct unit {};

TYPED_TEST(MvarTest, StatelessTokenIsALock) {  // MV-2, MV-5, G-4, invariant 7
  mvar<unit, TypeParam> token{unit{}};
  constexpr int kThreads = 4;
  constexpr int kRounds = kRaceIterations / 10;
  long long counter = 0;       // guarded by the token alone: TSan sees a missing acquire/release as a race
  std::atomic<int> inside{0};  // exclusion itself, checked without relying on the token's ordering
  std::atomic<int> overlaps{0};
  std::latch start(kThreads);
  std::vector<std::future<void>> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.push_back(std::async(std::launch::async, [&, t] {
      start.arrive_and_wait();  // all four contend from the first round
      for (int i = 0; i < kRounds; ++i) {
        switch ((t + i) % 4) {  // every way in: the short path, the general take, timed ones that give up
          case 0:
            (void)token.take();
            break;
          case 1:
            while (!token.try_take()) std::this_thread::yield();
            break;
          case 2:
            while (!token.take_for(50us)) {  // short: timeouts and their unregistering race the puts
            }
            break;
          default:
            (void)token.read();  // BUSY on the box while others take the short path
            while (!token.take_for(1h)) {
            }
            break;
        }
        // relaxed: a counter of holders; the token's own ordering is what the plain counter tests.
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0)
          overlaps.fetch_add(1, std::memory_order_relaxed);
        ++counter;
        std::this_thread::yield();  // let the others reach the box while it is held
        inside.fetch_sub(1, std::memory_order_relaxed);
        token.put(unit{});
      }
    }));
  }
  for (auto& w : workers) get_or_abort(std::move(w), "token worker");
  EXPECT_EQ(overlaps.load(), 0) << "two threads held the token at once";
  EXPECT_EQ(counter, static_cast<long long>(kThreads) * kRounds);
  EXPECT_FALSE(token.is_empty()) << "every take was followed by a put";
}

TYPED_TEST(MvarTest, StatelessTokenServesWaitersInOrder) {  // MV-3, MV-4, G-3, invariant 7
  mvar<unit, TypeParam> m;
  EXPECT_FALSE(m.try_take().has_value());
  std::atomic<int> served{0};
  auto first = std::async(std::launch::async, [&] {
    (void)m.take();
    return served.fetch_add(1, std::memory_order_relaxed);  // relaxed: the takes order the two calls
  });
  until([&] { return m.waiting().takers == 1; }, "first taker registered");
  auto second = std::async(std::launch::async, [&] {
    (void)m.take();
    return served.fetch_add(1, std::memory_order_relaxed);
  });
  until([&] { return m.waiting().takers == 2; }, "second taker registered");
  m.put(unit{});  // TAKERS is set: the short path must not fill the box past them
  EXPECT_EQ(get_or_abort(std::move(first), "oldest taker"), 0);
  EXPECT_TRUE(m.is_empty()) << "the put went straight to the oldest taker";
  EXPECT_FALSE(m.try_take().has_value()) << "no one can barge past a hand-off";
  m.put(unit{});
  EXPECT_EQ(get_or_abort(std::move(second), "second taker"), 1);
  EXPECT_TRUE(m.is_empty());

  EXPECT_EQ(m.try_put(unit{}), status::ok);
  EXPECT_EQ(m.try_put(unit{}), status::full);
  auto putter = std::async(std::launch::async, [&] { m.put(unit{}); });
  until([&] { return m.waiting().putters == 1; }, "putter registered");
  EXPECT_TRUE(m.try_take().has_value()) << "a take on a full box with a waiting putter";
  EXPECT_FALSE(m.is_empty()) << "the waiting putter's token moved in (MV-4), not lost to the short path";
  get_or_abort(std::move(putter), "putter released by the take");
  EXPECT_TRUE(m.try_take().has_value());
  EXPECT_TRUE(m.is_empty());
}

}  // namespace
