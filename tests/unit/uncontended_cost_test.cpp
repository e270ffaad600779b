// G-6 "cheap when uncontended": an operation that does not have to wait takes no lock and makes no system
// call. Allocation is counted elsewhere (stream_test, topic_test, waiting_core_test); here every call the
// library makes through its Sync policy is counted on the calling thread (tests/support/counting_sync.hpp:
// park, park_until, unpark_one, unpark_all, yield, and each acquisition of a primitive's slow_lock), and a
// park on the path under test fails the test instead of hanging it. Each case runs many operations on one
// thread, so nothing can be contended: the counts must all be zero.
//
// Covered: mvar put / take / try_ / read / swap and their timed and stop-token forms on the uncontended path
// (empty box for put, full box for the rest), the stateless mvar of invariant 7; stream push / pop / try_ /
// timed forms / pop_some, bounded (capacities 1, 3, 4, 64) and unbounded within its ring, and the try_
// answers full and empty; condition signal / broadcast / broadcast_error / notify_* with nobody waiting;
// topic publish (every form) with one subscriber that has room, and that subscriber's pops.
// A failing try_ and a form whose deadline has passed (or stop was requested) answer without the lock on an
// idle mvar too (full for a put, empty for a take, read or swap), and on a full / empty stream (push, pop,
// pop_some, wait_closed; every capacity, rendezvous and unbounded included).
// The control test shows the counters see the slow path, so a zero is not a blind checker's zero.
#include <handoff/condition.hpp>
#include <handoff/mvar.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <utility>
#include <vector>

#include "support/backends.hpp"
#include "support/counting_sync.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::counted;
using handoff_test::sync_counts;

constexpr int kRounds = 1'000;
constexpr sync_counts none{};

template <class Base>
class UncontendedCost : public ::testing::Test {
 protected:
  using sync = handoff_test::counting_sync<Base>;
};
TYPED_TEST_SUITE(UncontendedCost, handoff_test::real_backends, handoff_test::backend_names);

// ---- control: the counters see the slow path (a checker that went blind would pass everything below)

TYPED_TEST(UncontendedCost, ControlCountersSeeTheSlowPath) {
  using sync = typename TestFixture::sync;
  handoff::mvar<int, sync> m;
  // waiting() takes the slow lock (mvar.hpp: "takes the slow-path lock").
  EXPECT_EQ(counted("waiting()", [&] { (void)m.waiting(); }).lock, 1u);

  // A take that has to wait registers under the lock and parks; in a no-park scope its park_until answers
  // "deadline passed" at once, so it comes back with timeout instead of hanging: what a broken fast path
  // would do in the tests below.
  const sync_counts waited =
      counted("control take_for", [&] { EXPECT_EQ(m.take_for(1h).status(), status::timeout); });
  EXPECT_GE(waited.lock, 1u) << waited;
  EXPECT_EQ(waited.park_until, 1u) << waited;

  // A taker that registers takes the lock; the put that serves it takes the lock too.
  auto taker = std::async(std::launch::async, [&] {
    const sync_counts before = handoff_test::this_thread_sync_counts;
    const int v = m.take();
    return std::pair{v, handoff_test::this_thread_sync_counts - before};
  });
  handoff_test::until([&] { return m.waiting().takers == 1; }, "taker registered");
  const sync_counts before_put = handoff_test::this_thread_sync_counts;
  m.put(7);
  const sync_counts put = handoff_test::this_thread_sync_counts - before_put;
  const auto [value, taker_counts] = handoff_test::get_or_abort(std::move(taker), "control taker");
  EXPECT_EQ(value, 7);
  EXPECT_GE(put.lock, 1u) << "serving a registered taker is the slow path: " << put;
  EXPECT_GE(taker_counts.lock, 1u) << "registering is the slow path: " << taker_counts;

  // Each Sync call is counted once (a park on a word that no longer holds `expected` returns at once).
  typename sync::template atomic<std::uint32_t> word{1};
  const sync_counts before = handoff_test::this_thread_sync_counts;
  sync::park(word, 0);
  (void)sync::park_until(word, 0, handoff::detail::deadline::never());
  sync::unpark_one(word);
  sync::unpark_all(word);
  sync::yield();
  EXPECT_EQ(handoff_test::this_thread_sync_counts - before, (sync_counts{1, 1, 1, 1, 1, 0}));
}

// ---- mvar (MV-2, MV-5, MV-7, MV-9 on the uncontended path; mvar.hpp invariant 4: one CAS to claim, one to
// release)

TYPED_TEST(UncontendedCost, G6_MvarPutTakeNoLockNoSyscall) {
  handoff::mvar<int, typename TestFixture::sync> m;
  long sum = 0;
  const sync_counts c = counted("mvar put/take", [&] {
    for (int i = 0; i < kRounds; ++i) {
      m.put(int{i});    // MV-2
      sum += m.take();  // MV-5
    }
  });
  EXPECT_EQ(c, none) << "G-6: uncontended mvar put/take";
  EXPECT_EQ(sum, static_cast<long>(kRounds) * (kRounds - 1) / 2);
}

TYPED_TEST(UncontendedCost, G6_MvarReadSwapTryAndTimedFormsNoLockNoSyscall) {
  handoff::mvar<int, typename TestFixture::sync> m;
  std::stop_source stop;  // stop_possible(): the stop-token forms take their stop path, not the plain one
  const auto far = std::chrono::steady_clock::now() + 1h;
  const sync_counts c = counted("mvar forms", [&] {
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(m.try_put(int{i}), status::ok);
      ASSERT_EQ(m.read(), i);
      ASSERT_EQ(*m.try_read(), i);
      ASSERT_EQ(*m.read_for(1h), i);
      ASSERT_EQ(*m.read_until(far, stop.get_token()), i);
      ASSERT_EQ(*m.read(stop.get_token()), i);
      ASSERT_EQ(m.swap(i + 1), i);
      ASSERT_EQ(*m.try_swap(i + 2), i + 1);
      ASSERT_EQ(*m.swap_for(i + 3, 1h), i + 2);
      ASSERT_EQ(*m.swap_until(i + 4, far), i + 3);
      ASSERT_EQ(*m.swap(i + 5, stop.get_token()), i + 4);
      ASSERT_EQ(*m.try_take(), i + 5);
      ASSERT_EQ(m.put_for(int{i}, 1h, stop.get_token()), status::ok);
      ASSERT_EQ(*m.take_for(1h), i);
      ASSERT_EQ(m.put_until(int{i}, far), status::ok);
      ASSERT_EQ(*m.take_until(far, stop.get_token()), i);
      ASSERT_EQ(m.put(int{i}, stop.get_token()), status::ok);
      ASSERT_EQ(*m.take(stop.get_token()), i);
      const int lvalue = i;
      m.put(lvalue);  // the lvalue forms copy, then take the same path
      ASSERT_EQ(m.take(), i);
    }
  });
  EXPECT_EQ(c, none) << "G-6: uncontended mvar try_/read/swap/timed/stop forms";
}

// A failing try_ (and a form whose deadline has passed or whose stop was requested) on an idle mvar answers
// from one load of the state word, without the lock (mvar.hpp answers_without_lock).
TYPED_TEST(UncontendedCost, G6_MvarFailingTryAndPassedDeadlineNoLockNoSyscall) {
  handoff::mvar<int, typename TestFixture::sync> m;
  std::stop_source stopped;
  stopped.request_stop();
  const auto past = std::chrono::steady_clock::now() - 1h;
  const sync_counts c = counted("mvar failing forms", [&] {
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(m.try_take().status(), status::empty);
      ASSERT_EQ(m.try_read().status(), status::empty);
      ASSERT_EQ(m.try_swap(i).status(), status::empty);
      ASSERT_EQ(m.take_for(0s).status(), status::timeout);
      ASSERT_EQ(m.take_until(past).status(), status::timeout);
      ASSERT_EQ(m.take(stopped.get_token()).status(), status::cancelled);
      ASSERT_EQ(m.try_put(int{i}), status::ok);
      ASSERT_EQ(m.try_put(int{i}), status::full);
      ASSERT_EQ(m.put_for(int{i}, 0s), status::timeout);
      ASSERT_EQ(m.put_until(int{i}, past), status::timeout);
      ASSERT_EQ(m.put(int{i}, stopped.get_token()), status::cancelled);
      ASSERT_EQ(*m.try_take(), i);
    }
  });
  EXPECT_EQ(c, none) << "G-6: failing try_ and passed-deadline answers on an idle mvar";
}

// mvar.hpp invariant 7: a stateless T takes and puts with one CAS.
TYPED_TEST(UncontendedCost, G6_StatelessMvarNoLockNoSyscall) {
  struct token {};
  handoff::mvar<token, typename TestFixture::sync> m;
  const sync_counts c = counted("stateless mvar put/take", [&] {
    for (int i = 0; i < kRounds; ++i) {
      m.put(token{});
      (void)m.take();
      ASSERT_EQ(m.try_put(token{}), status::ok);
      ASSERT_TRUE(m.try_take().has_value());
    }
  });
  EXPECT_EQ(c, none) << "G-6: uncontended stateless mvar";
}

// ---- stream (stream.hpp invariant 1: one CAS on its own word plus the slot protocol)

// Fills the stream to `depth` and drains it, kRounds times, with every push and pop form.
template <class Stream>
void push_pop_rounds(Stream& s, std::size_t depth) {
  std::stop_source stop;
  const auto far = std::chrono::steady_clock::now() + 1h;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t k = 0; k < depth; ++k) {
      switch ((round + static_cast<int>(k)) % 5) {
        case 0:
          ASSERT_TRUE(s.push(int{next_in}));
          break;
        case 1:
          ASSERT_EQ(s.try_push(int{next_in}), status::ok);
          break;
        case 2:
          ASSERT_EQ(s.push_for(int{next_in}, 1h), status::ok);
          break;
        case 3:
          ASSERT_EQ(s.push_until(int{next_in}, far, stop.get_token()), status::ok);
          break;
        default:
          ASSERT_EQ(s.push(int{next_in}, stop.get_token()), status::ok);
          break;
      }
      ++next_in;
    }
    std::size_t k = 0;
    if (round % 3 == 0 && depth > 1) {  // the batch forms take part of the backlog
      std::vector<int> got;
      k += s.pop_some(std::back_inserter(got), depth / 2);
      for (int v : got) ASSERT_EQ(v, next_out++);
    }
    for (; k < depth; ++k) {
      switch ((round + static_cast<int>(k)) % 5) {
        case 0:
          ASSERT_EQ(*s.pop(), next_out);
          break;
        case 1:
          ASSERT_EQ(*s.try_pop(), next_out);
          break;
        case 2:
          ASSERT_EQ(*s.pop_for(1h), next_out);
          break;
        case 3:
          ASSERT_EQ(*s.pop_until(far, stop.get_token()), next_out);
          break;
        default:
          ASSERT_EQ(*s.pop(stop.get_token()), next_out);
          break;
      }
      ++next_out;
    }
  }
}

TYPED_TEST(UncontendedCost, G6_BoundedStreamNoLockNoSyscall) {
  using stream_t = handoff::stream<int, typename TestFixture::sync>;
  // 1 (ring of 64 for one value), 3 (ring of 4: room read from the head word), 4 (ring exactly the capacity),
  // 64 (at least min_yield_capacity: the yield phase exists, and must not run when nothing blocks).
  for (std::size_t capacity : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{64}}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    stream_t s(capacity);
    const sync_counts c = counted("bounded stream push/pop", [&] { push_pop_rounds(s, capacity); });
    EXPECT_EQ(c, none) << "G-6: uncontended bounded stream push/pop";
  }
}

// ST-1, stream.hpp invariant 4: within its ring, an unbounded stream is the ring's fast path.
TYPED_TEST(UncontendedCost, G6_UnboundedStreamWithinItsRingNoLockNoSyscall) {
  using stream_t = handoff::stream<int, typename TestFixture::sync>;
  stream_t s(handoff::unbounded);
  const sync_counts c =
      counted("unbounded stream push/pop", [&] { push_pop_rounds(s, stream_t::unbounded_ring_size); });
  EXPECT_EQ(c, none) << "G-6: unbounded stream within its ring";
}

// Stream.hpp invariant 4: values beyond an unbounded stream's ring go to the overflow list, whose pushes
// claim their cells on the tail word without the lock (only the first list value of a stream, which sets
// OVERFLOW and links the first block, takes it), and they come back into the ring in runs under the lock.
//  - A pop that drains the ring takes its own value from the list and moves up to overflow_refill_values more
//    into the ring: the pops after it are fast again (one lock per run). On one thread the ring never drains:
//    every top_up_values-th pop finds room for a run and tops the ring up (one try_lock per run, asked for
//    only when the ring has that room; OVERFLOW is cleared under the same hold when the run empties the
//    list).
// Values stay in FIFO order throughout, and size() is exact at every step (single thread).
TYPED_TEST(UncontendedCost, G6_UnboundedStreamRefillLeavesTheSlowPath) {
  using stream_t = handoff::stream<int, typename TestFixture::sync>;
  constexpr int ring = static_cast<int>(stream_t::unbounded_ring_size);
  constexpr int run = static_cast<int>(stream_t::overflow_refill_values);
  stream_t s(handoff::unbounded);
  int next_in = 0, next_out = 0;
  auto push_n = [&](int n) {
    for (int k = 0; k < n; ++k) ASSERT_TRUE(s.push(int{next_in++}));
  };
  auto pop_n = [&](int n) {
    for (int k = 0; k < n; ++k) {
      const std::optional<int> v = s.pop();
      ASSERT_TRUE(v.has_value());
      ASSERT_EQ(*v, next_out++) << "FIFO through the ring, the overflow list and the refill";
      ASSERT_EQ(s.size(), static_cast<std::size_t>(next_in - next_out));
    }
  };

  // Pop side: the ring full and 2 runs in the list. On one thread the ring never drains: the pops of the
  // 64th indices that find room for a run top it up (2 runs, plus one lock to clear OVERFLOW at the end);
  // with other poppers a pop that finds the ring drained refills it instead (take_from_overflow).
  push_n(ring);
  static_assert(2 * run > static_cast<int>(stream_t::overflow_block_values), "the pushes cross an install");
  EXPECT_EQ(counted("overflow pushes", [&] { push_n(2 * run); }), (sync_counts{.lock = 2}))
      << "the first list value takes the lock twice (it allocates the first block outside it); the others, "
         "block installs included, claim their cells on the tail word";
  const sync_counts drain = counted("drain through the refill", [&] { pop_n(ring + 2 * run); });
  EXPECT_LE(drain.lock, 2u) << "one lock per refilled run, not one per value: " << drain;
  EXPECT_EQ(drain.park + drain.park_until + drain.yield, 0u) << drain;

  // The top-up: the ring full and 10 values in the list; the pops that make room for a run take the list
  // back themselves (one try_lock, one lock to clear OVERFLOW), and the pushes after them are fast again.
  constexpr int top_up = static_cast<int>(stream_t::top_up_values);
  static_assert(ring / 2 >= 2 * top_up, "ring / 2 pops pass an index where the ring has room for a run");
  push_n(ring + 10);
  EXPECT_EQ(counted("pops that make room for a run", [&] { pop_n(ring / 2); }).lock, 1u)
      << "the top-up's try_lock, under which its run empties the list and OVERFLOW goes";
  EXPECT_EQ(counted("pushes after them", [&] { push_n(ring / 4); }), none)
      << "OVERFLOW cleared: pushes within the ring are fast again";
  EXPECT_EQ(counted("pops of the rest", [&] { pop_n(next_in - next_out); }), none)
      << "every value is in the ring again";

  // With OVERFLOW set and pops short of a run (no top-up, no lock asked for), pushes go on to the list
  // without the lock, and the pops of the rest take it back in runs.
  static_assert(ring / 8 < top_up, "pops short of a run");
  push_n(ring + 10);
  EXPECT_EQ(counted("pops short of a run", [&] { pop_n(ring / 8); }), none);
  EXPECT_EQ(counted("pushes onto the list", [&] { push_n(ring / 16); }), none)
      << "OVERFLOW set: pushes claim list cells on the tail word";
  EXPECT_LE(counted("pops of the rest", [&] { pop_n(next_in - next_out); }).lock, 1u)
      << "the list comes back in one top-up";
  EXPECT_EQ(s.size(), 0u);
}

// The try_ answers of a stream are taken on the fast path too: full and empty with no lock.
TYPED_TEST(UncontendedCost, G6_StreamTryAnswersFullAndEmptyNoLockNoSyscall) {
  using stream_t = handoff::stream<int, typename TestFixture::sync>;
  for (std::size_t capacity : {std::size_t{1}, std::size_t{4}, std::size_t{64}}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    stream_t s(capacity);
    const sync_counts c = counted("stream try_ full/empty", [&] {
      for (int round = 0; round < kRounds / 10; ++round) {
        ASSERT_EQ(s.try_pop().status(), status::empty);
        std::vector<int> none_out;
        ASSERT_EQ(s.try_pop_some(std::back_inserter(none_out), 4), 0u);
        for (std::size_t k = 0; k < capacity; ++k) ASSERT_EQ(s.try_push(int{round}), status::ok);
        ASSERT_EQ(s.try_push(int{round}), status::full);
        std::vector<int> out;
        ASSERT_EQ(s.try_pop_some(std::back_inserter(out), capacity), capacity);
      }
    });
    EXPECT_EQ(c, none) << "G-6: a stream's try_ answers";
  }
}

// A form whose deadline has passed or whose stop was requested, on a full (push) or empty (pop, pop_some) or
// open (wait_closed) stream, answers as try_ does: from the fast path's loads, no lock (stream.hpp push_impl
// and pop_after_fast; cancelled when both, as every form).
TYPED_TEST(UncontendedCost, G6_StreamPassedDeadlineAndStopAnswerWithoutTheLock) {
  using stream_t = handoff::stream<int, typename TestFixture::sync>;
  std::stop_source stopped;
  stopped.request_stop();
  const auto past = std::chrono::steady_clock::now() - 1h;
  for (long capacity : {0L, 1L, 4L, 64L, -1L}) {
    SCOPED_TRACE(capacity < 0 ? std::string("unbounded") : "capacity " + std::to_string(capacity));
    stream_t s = capacity < 0 ? stream_t(handoff::unbounded) : stream_t(static_cast<std::size_t>(capacity));
    const sync_counts c = counted("stream passed-deadline and stopped forms", [&] {
      for (int round = 0; round < kRounds / 10; ++round) {
        ASSERT_EQ(s.pop_for(0s).status(), status::timeout);
        ASSERT_EQ(s.pop_until(past).status(), status::timeout);
        ASSERT_EQ(s.pop(stopped.get_token()).status(), status::cancelled);
        ASSERT_EQ(s.pop_for(1h, stopped.get_token()).status(), status::cancelled);
        std::vector<int> out;
        ASSERT_EQ(s.pop_some_for(std::back_inserter(out), 4, 0s).status(), status::timeout);
        ASSERT_EQ(s.wait_closed_for(0s), status::timeout);
        ASSERT_EQ(s.wait_closed(stopped.get_token()), status::cancelled);
        if (capacity < 0) continue;  // an unbounded push never waits
        for (long k = 0; k < capacity; ++k) ASSERT_EQ(s.try_push(int{round}), status::ok);
        ASSERT_EQ(s.push_for(int{round}, 0s), status::timeout);
        ASSERT_EQ(s.push_until(int{round}, past), status::timeout);
        ASSERT_EQ(s.push(int{round}, stopped.get_token()), status::cancelled);
        for (long k = 0; k < capacity; ++k) ASSERT_EQ(s.try_pop().status(), status::ok);
      }
    });
    EXPECT_EQ(c, none) << "G-6: a stream's passed-deadline and stopped answers";
  }
}

// ---- condition (CO-3, CO-4, CO-5 with nobody waiting: one relaxed load, condition_core.hpp)

TYPED_TEST(UncontendedCost, G6_ConditionWithNobodyWaitingNoLockNoSyscall) {
  handoff::condition<int, typename TestFixture::sync> c;
  handoff::condition<void, typename TestFixture::sync> cv;
  const std::exception_ptr error = std::make_exception_ptr(std::runtime_error("unused"));
  const sync_counts counts = counted("condition signal/broadcast, nobody waiting", [&] {
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(c.signal(int{i}), 0u);
      ASSERT_EQ(c.broadcast(i), 0u);
      ASSERT_EQ(c.broadcast_error(error), 0u);
      ASSERT_EQ(cv.signal(), 0u);
      ASSERT_EQ(cv.broadcast(), 0u);
      ASSERT_EQ(cv.notify_one(), 0u);
      ASSERT_EQ(cv.notify_all(), 0u);
      ASSERT_EQ(cv.broadcast_error(error), 0u);
    }
  });
  EXPECT_EQ(counts, none) << "G-6: a signal with nobody waiting";
}

// ---- topic: publish to one subscriber with room, and its pops (topic.hpp invariants 2, 3)

TYPED_TEST(UncontendedCost, G6_TopicPublishWithRoomNoLockNoSyscall) {
  handoff::topic<int, typename TestFixture::sync> t(8);
  auto sub = t.subscribe();
  // The first publish after a subscribe refreshes the publisher's snapshot of the list under list_lock
  // (invariant 3): that is the subscribe's cost, paid once, not the publish's.
  ASSERT_EQ(t.publish(-1), 1u);
  ASSERT_EQ(*sub.pop(), -1);
  std::stop_source stop;
  const auto far = std::chrono::steady_clock::now() + 1h;
  const sync_counts c = counted("topic publish/pop, one subscriber with room", [&] {
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(t.publish(i), 1u);
      ASSERT_EQ(t.try_publish(i), (handoff::publish_result{status::ok, 1}));
      ASSERT_EQ(t.publish_for(i, 1h), (handoff::publish_result{status::ok, 1}));
      ASSERT_EQ(t.publish_until(i, far), (handoff::publish_result{status::ok, 1}));
      ASSERT_EQ(t.publish(i, stop.get_token()), (handoff::publish_result{status::ok, 1}));
      for (int k = 0; k < 5; ++k) {
        if (k % 2) {
          ASSERT_EQ(*sub.pop(), i);
        } else {
          int out = -1;
          ASSERT_EQ(sub.try_pop(out), status::ok);
          ASSERT_EQ(out, i);
        }
      }
    }
  });
  EXPECT_EQ(c, none) << "G-6: topic publish with room, and its pops";
}

}  // namespace
