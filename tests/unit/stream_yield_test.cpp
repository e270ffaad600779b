// stream<T>'s opt-in yield phase (invariant 7 of include/handoff/stream.hpp): a blocking push on a full
// bounded stream or pop on an empty one yields up to Sync::yield_limit times, retrying the fast path after
// each, before it registers as a waiter; never for try_, a passed deadline, a stop already requested, an
// unbounded push or a rendezvous push. The Sync policy below counts the calling thread's yields and can run a
// hook at each one, so every case is exact and single-threaded up to the registration (G-6: the phase is
// bounded; G-7: a past deadline behaves as try_). No sleeps: a helper acts only once waiting() shows the
// registration.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <stop_token>
#include <thread>

#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::until;

// The phase is opt-in: the library's own policy never yields.
static_assert(handoff::default_yield_limit == 0 && handoff::default_sync::yield_limit == 0);

// The library's policy with the phase on, the calling thread's yields counted and an optional hook run at
// each yield.
struct counting_sync : handoff::default_sync {
  static constexpr unsigned yield_limit = 4;
  static inline thread_local unsigned yields = 0;
  static inline thread_local std::function<void()> on_yield;
  static void yield() noexcept {
    ++yields;
    if (on_yield) on_yield();
    handoff::default_sync::yield();
  }
};
static_assert(counting_sync::yield_limit >= 2, "the hook tests need a retry after the first yield");

using stream_t = handoff::stream<int, counting_sync>;

// Runs `body` on a fresh thread (so its thread_local counters start at 0) and returns its yield count.
template <class Body>
unsigned yields_of(Body body) {
  unsigned counted = 0;
  std::thread t([&] {
    body();
    counted = counting_sync::yields;
  });
  t.join();
  return counted;
}

TEST(StreamYield, PopOnEmptyYieldsTheBudgetThenRegisters) {
  stream_t s{4};
  std::stop_source stop;
  status r = status::ok;
  std::thread helper([&] {
    until([&] { return s.waiting().poppers == 1; }, "the pop registers");
    stop.request_stop();
  });
  const unsigned y = yields_of([&] {
    int out = 0;
    r = s.pop(out, stop.get_token());
  });
  helper.join();
  EXPECT_EQ(r, status::cancelled);
  EXPECT_EQ(y, counting_sync::yield_limit);
}

TEST(StreamYield, PushOnFullYieldsTheBudgetThenRegisters) {
  stream_t s{2};
  ASSERT_TRUE(s.push(1));
  ASSERT_TRUE(s.push(2));
  std::stop_source stop;
  status r = status::ok;
  int v = 3;
  std::thread helper([&] {
    until([&] { return s.waiting().pushers == 1; }, "the push registers");
    stop.request_stop();
  });
  const unsigned y = yields_of([&] { r = s.push(std::move(v), stop.get_token()); });
  helper.join();
  EXPECT_EQ(r, status::cancelled);
  EXPECT_EQ(v, 3);  // G-2: a failed push keeps its value
  EXPECT_EQ(y, counting_sync::yield_limit);
  EXPECT_EQ(s.size(), 2u);
}

TEST(StreamYield, ValueArrivingDuringThePhaseIsTakenWithoutRegistering) {
  stream_t s{4};
  std::optional<int> got;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] {
      if (counting_sync::yields == 1) {
        ASSERT_TRUE(s.push(42));
      }
    };
    got = s.pop();
    counting_sync::on_yield = nullptr;
  });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 42);
  EXPECT_EQ(y, 1u);  // the retry after the first yield found the value
  EXPECT_EQ(s.waiting().poppers, 0u);
}

TEST(StreamYield, RoomMadeDuringThePhaseIsUsedWithoutRegistering) {
  stream_t s{1};
  ASSERT_TRUE(s.push(1));
  std::optional<int> popped;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] {
      if (counting_sync::yields == 1) popped = s.try_pop();
    };
    EXPECT_TRUE(s.push(2));
    counting_sync::on_yield = nullptr;
  });
  EXPECT_EQ(popped, 1);
  EXPECT_EQ(y, 1u);
  EXPECT_EQ(s.try_pop(), 2);
}

TEST(StreamYield, StopRequestedDuringThePhaseEndsIt) {
  stream_t s{4};
  std::stop_source stop;
  status r = status::ok;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] { stop.request_stop(); };
    int out = 0;
    r = s.pop(out, stop.get_token());
    counting_sync::on_yield = nullptr;
  });
  EXPECT_EQ(r, status::cancelled);
  EXPECT_EQ(y, 1u);
}

TEST(StreamYield, CloseDuringThePhaseEndsThePop) {
  stream_t s{4};
  std::optional<int> got = 7;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] { s.close(); };
    got = s.pop();
    counting_sync::on_yield = nullptr;
  });
  EXPECT_FALSE(got.has_value());  // ST-5: end-of-stream, found by the retry after the first yield
  EXPECT_EQ(y, 1u);
}

TEST(StreamYield, NoYieldForTryOrPassedDeadlineOrStopRequested) {
  stream_t s{1};
  std::stop_source stopped;
  stopped.request_stop();
  const unsigned y = yields_of([&] {
    int out = 0;
    EXPECT_EQ(s.try_pop(out), status::empty);
    EXPECT_EQ(s.pop_for(out, 0ms), status::timeout);
    EXPECT_EQ(s.pop(out, stopped.get_token()), status::cancelled);
    ASSERT_TRUE(s.push(1));
    EXPECT_EQ(s.try_push(2), status::full);
    EXPECT_EQ(s.push_for(2, 0ms), status::timeout);
    EXPECT_EQ(s.push(2, stopped.get_token()), status::cancelled);
  });
  EXPECT_EQ(y, 0u);
}

TEST(StreamYield, UnboundedPushNeverYields) {
  stream_t s{handoff::unbounded};
  const int n = static_cast<int>(stream_t::unbounded_ring_size) * 3;  // well into the overflow blocks
  const unsigned y = yields_of([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(s.push(int{i}));
  });
  EXPECT_EQ(y, 0u);
  for (int i = 0; i < n; ++i) ASSERT_EQ(s.try_pop(), i);
}

TEST(StreamYield, RendezvousPushRegistersAtOnce) {
  stream_t s{0};
  std::stop_source stop;
  status r = status::ok;
  std::thread helper([&] {
    until([&] { return s.waiting().pushers == 1; }, "the push registers");
    stop.request_stop();
  });
  const unsigned y = yields_of([&] { r = s.push(5, stop.get_token()); });
  helper.join();
  EXPECT_EQ(r, status::cancelled);
  EXPECT_EQ(y, 0u);
}

}  // namespace
