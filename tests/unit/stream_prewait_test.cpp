// What a blocked stream<T> push or pop does before it registers as a waiter (include/handoff/stream.hpp):
//   invariant 8: a push on a full stream whose ring is as large as its capacity spins (Sync::spin_limit relax
//     steps at most) until room_batch slots (an eighth of the ring, 1 to 256) are free, then tries again;
//   invariant 7 (1 yield in the library's policy): a push on a full bounded stream of capacity >=
//     min_yield_capacity, or a pop on such a stream when empty, yields up to Sync::yield_limit times,
//     retrying the fast path after each.
// Neither happens for try_, a passed deadline or a stop already requested; no yields below
// min_yield_capacity (rendezvous included) or on an unbounded stream, and neither phase for a rendezvous or
// unbounded push. The Sync policy below counts the calling thread's relax steps and yields and can run a
// hook at each, so every case is exact and single-threaded up to the registration (G-6: both phases are
// bounded; G-7: a past deadline behaves as try_). No sleeps: a helper acts only once waiting() shows the
// registration; a call that could wait for good if the phase were wrong has a bounded deadline instead.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "support/hooked_sync.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::until;

// The library's policy yields once (detail/sync.hpp).
static_assert(handoff::default_yield_limit == 1 && handoff::default_sync::yield_limit == 1);

// The library's policy with more yields, the calling thread's relax steps and yields counted and an
// optional hook run at each (support/hooked_sync.hpp).
struct counting_sync : handoff_test::hooked_sync {
  static constexpr unsigned yield_limit = 4;
};
static_assert(counting_sync::yield_limit >= 2, "the hook tests need a retry after the first yield");

using stream_t = handoff::stream<int, counting_sync>;
constexpr std::size_t yield_capacity = stream_t::min_yield_capacity;  // the smallest that yields

// Pushes 0, 1, ... until `s` is full (its capacity).
void fill(stream_t& s) {
  for (int i = 0; i < static_cast<int>(s.capacity()); ++i) ASSERT_EQ(s.try_push(int{i}), status::ok);
}

// What a thread did before it registered (or returned): its yields and relax steps.
struct prewait_counts {
  unsigned yields = 0;
  unsigned relaxes = 0;
};

// Runs `body` on a fresh thread (so its thread_local counters start at 0) and returns its counts.
template <class Body>
prewait_counts counts_of(Body body) {
  prewait_counts counted;
  std::thread t([&] {
    body();
    counted = {counting_sync::yields, counting_sync::relaxes};
  });
  t.join();
  return counted;
}

template <class Body>
unsigned yields_of(Body body) {
  return counts_of(body).yields;
}

enum class side { popper, pusher };

struct blocked_outcome {
  status result = status::ok;
  unsigned yields = 0;
};

// Runs `op(token)` (a blocking pop or push of `who`) on a fresh thread; a helper requests stop once
// s.waiting() shows it registered. Returns op's status (cancelled, if it registered) and its yields before
// registering.
template <class Op>
blocked_outcome until_registered_then_stopped(stream_t& s, side who, Op op) {
  std::stop_source stop;
  std::thread helper([&] {
    until(
        [&] {
          const auto w = s.waiting();
          return (who == side::popper ? w.poppers : w.pushers) == 1;
        },
        who == side::popper ? "the pop registers" : "the push registers");
    stop.request_stop();
  });
  blocked_outcome out;
  out.yields = yields_of([&] { out.result = op(stop.get_token()); });
  helper.join();
  return out;
}

status pop_with(stream_t& s, std::stop_token token) {
  int out = 0;
  return s.pop(out, token);
}

// ---- invariant 7: the yields

TEST(StreamYield, PopOnEmptyYieldsTheBudgetThenRegisters) {
  stream_t s{yield_capacity};
  const blocked_outcome o =
      until_registered_then_stopped(s, side::popper, [&](std::stop_token t) { return pop_with(s, t); });
  EXPECT_EQ(o.result, status::cancelled);
  EXPECT_EQ(o.yields, counting_sync::yield_limit);
}

TEST(StreamYield, PushOnFullYieldsTheBudgetThenRegisters) {
  stream_t s{yield_capacity};
  fill(s);
  int v = 99;
  const blocked_outcome o = until_registered_then_stopped(
      s, side::pusher, [&](std::stop_token t) { return s.push(std::move(v), t); });
  EXPECT_EQ(o.result, status::cancelled);
  EXPECT_EQ(v, 99);  // G-2: a failed push keeps its value
  EXPECT_EQ(o.yields, counting_sync::yield_limit);
  EXPECT_EQ(s.size(), yield_capacity);
}

TEST(StreamYield, ValueArrivingDuringThePhaseIsTakenWithoutRegistering) {
  stream_t s{yield_capacity};
  std::optional<int> got;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] {
      if (counting_sync::yields == 1) {
        ASSERT_TRUE(s.push(42));
      }
    };
    int out = 0;
    // Bounded: a pop that ignored the retry's value would register and wait for good.
    if (s.pop_for(out, handoff_test::hang_bound) == status::ok) got = out;
    counting_sync::on_yield = nullptr;
  });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 42);
  EXPECT_EQ(y, 1u);  // the retry after the first yield found the value
  EXPECT_EQ(s.waiting().poppers, 0u);
}

TEST(StreamYield, RoomMadeDuringThePhaseIsUsedWithoutRegistering) {
  stream_t s{yield_capacity};
  fill(s);
  std::optional<int> popped;
  const unsigned y = yields_of([&] {
    counting_sync::on_yield = [&] {
      if (counting_sync::yields == 1) popped = s.try_pop();
    };
    // Bounded: a push that ignored the retry's room would register and wait for good.
    EXPECT_EQ(s.push_for(99, handoff_test::hang_bound), status::ok);
    counting_sync::on_yield = nullptr;
  });
  EXPECT_EQ(popped, 0);
  EXPECT_EQ(y, 1u);
  EXPECT_EQ(s.size(), yield_capacity);
  EXPECT_EQ(s.waiting().pushers, 0u);
  for (int i = 1; i < static_cast<int>(yield_capacity); ++i) ASSERT_EQ(s.try_pop(), i);
  EXPECT_EQ(s.try_pop(), 99);
}

TEST(StreamYield, StopRequestedDuringThePhaseEndsIt) {
  stream_t s{yield_capacity};
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
  stream_t s{yield_capacity};
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
  stream_t s{yield_capacity};
  std::stop_source stopped;
  stopped.request_stop();
  const unsigned y = yields_of([&] {
    int out = 0;
    EXPECT_EQ(s.try_pop(out), status::empty);
    EXPECT_EQ(s.pop_for(out, 0ms), status::timeout);
    EXPECT_EQ(s.pop(out, stopped.get_token()), status::cancelled);
    fill(s);
    EXPECT_EQ(s.try_push(2), status::full);
    EXPECT_EQ(s.push_for(2, 0ms), status::timeout);
    EXPECT_EQ(s.push(2, stopped.get_token()), status::cancelled);
  });
  EXPECT_EQ(y, 0u);
}

// Below min_yield_capacity a blocked pop or push registers without yielding: its batch would be one value.
TEST(StreamYield, NoYieldBelowTheMinimumCapacity) {
  for (const std::size_t capacity : {std::size_t{0}, std::size_t{1}, std::size_t{2}, yield_capacity - 1}) {
    SCOPED_TRACE(capacity);
    stream_t s{capacity};
    const blocked_outcome popped =
        until_registered_then_stopped(s, side::popper, [&](std::stop_token t) { return pop_with(s, t); });
    EXPECT_EQ(popped.result, status::cancelled);
    EXPECT_EQ(popped.yields, 0u);

    fill(s);
    const blocked_outcome pushed =
        until_registered_then_stopped(s, side::pusher, [&](std::stop_token t) { return s.push(99, t); });
    EXPECT_EQ(pushed.result, status::cancelled);
    EXPECT_EQ(pushed.yields, 0u);
  }
}

TEST(StreamYield, UnboundedPopNeverYields) {
  stream_t s{handoff::unbounded};
  const blocked_outcome o =
      until_registered_then_stopped(s, side::popper, [&](std::stop_token t) { return pop_with(s, t); });
  EXPECT_EQ(o.result, status::cancelled);
  EXPECT_EQ(o.yields, 0u);
}

TEST(StreamYield, UnboundedPushNeverYields) {
  stream_t s{handoff::unbounded};
  const int n = static_cast<int>(stream_t::unbounded_ring_size) * 3;  // well into the overflow blocks
  const prewait_counts c = counts_of([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(s.push(int{i}));
  });
  EXPECT_EQ(c.yields, 0u);
  EXPECT_EQ(c.relaxes, 0u);  // no room-batch spin either
  for (int i = 0; i < n; ++i) ASSERT_EQ(s.try_pop(), i);
}

TEST(StreamYield, RendezvousPushRegistersAtOnce) {
  stream_t s{0};
  // Yields only: relax steps cannot tell a room-batch spin before registering from the waiter's own spin
  // after it (both at most spin_limit).
  const blocked_outcome o =
      until_registered_then_stopped(s, side::pusher, [&](std::stop_token t) { return s.push(5, t); });
  EXPECT_EQ(o.result, status::cancelled);
  EXPECT_EQ(o.yields, 0u);
}

// ---- invariant 8: the room batch

TEST(StreamRoomBatch, BlockedPushWaitsForABatchOfRoomThenPushesWithoutRegistering) {
  constexpr int capacity = 64;  // a power of two: ring == capacity; batch = 64 / 8 = 8
  stream_t s{capacity};
  for (int i = 0; i < capacity; ++i) ASSERT_TRUE(s.push(int{i}));
  std::vector<int> popped;
  unsigned relaxes = 0;
  std::thread([&] {
    counting_sync::on_relax = [&] {
      if (auto v = s.try_pop()) popped.push_back(*v);
    };
    EXPECT_TRUE(s.push(capacity));
    counting_sync::on_relax = nullptr;
    relaxes = counting_sync::relaxes;
  }).join();
  // One relax step per pop until the eighth slot is free; then the fast path (a registered pusher would have
  // been served by the first pop instead).
  EXPECT_EQ(relaxes, 8u);
  ASSERT_EQ(popped.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(popped[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(s.size(), static_cast<std::size_t>(capacity - 8 + 1));
  for (int i = 8; i <= capacity; ++i) ASSERT_EQ(s.try_pop(), i);  // ST-4: order kept
}

// Fills a stream of `capacity`, then a blocked push(stop) on a fresh thread; a helper requests stop once the
// push has registered. Returns the push's relax steps before its first yield (invariant 8's spin, as
// invariant 7 comes next; so `capacity` >= min_yield_capacity), after checking that the push was cancelled.
unsigned relaxes_before_first_yield(int capacity) {
  stream_t s{static_cast<std::size_t>(capacity)};
  fill(s);
  unsigned relaxes = 1000;
  const blocked_outcome o = until_registered_then_stopped(s, side::pusher, [&](std::stop_token t) {
    counting_sync::on_yield = [&] {  // thread_local: runs on the pushing thread
      if (counting_sync::yields == 1) relaxes = counting_sync::relaxes;
    };
    const status r = s.push(int{capacity}, t);
    counting_sync::on_yield = nullptr;
    return r;
  });
  EXPECT_EQ(o.result, status::cancelled);
  return relaxes;
}

TEST(StreamRoomBatch, BoundedByTheSpinBudget) {
  // No pop frees the 2 slots of the batch (capacity 16): the whole budget, then on to the yields.
  EXPECT_EQ(relaxes_before_first_yield(16), counting_sync::spin_limit);
}

TEST(StreamRoomBatch, NoneForTryOrPassedDeadline) {
  stream_t full{16};
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(full.push(int{i}));
  unsigned relaxes = 0;
  std::thread([&] {
    EXPECT_EQ(full.try_push(16), status::full);
    EXPECT_EQ(full.push_for(16, 0ms), status::timeout);
    std::stop_source stopped;
    stopped.request_stop();
    EXPECT_EQ(full.push(16, stopped.get_token()), status::cancelled);
    relaxes = counting_sync::relaxes;
  }).join();
  EXPECT_EQ(relaxes, 0u);
}

TEST(StreamRoomBatch, NoneForACapacityBelowItsRing) {
  // Ring of 32 for 31 values: a free slot does not prove room, so the push goes on to the yields at once
  // (with the batch wait it would watch the slot of index tail + 2, which no pop frees here).
  EXPECT_EQ(relaxes_before_first_yield(31), 0u);
}

}  // namespace
