// mvar<T> while a copy of T is in flight in another thread (MV-7, G-7; invariants 5 and 6 of mvar.hpp): a
// try_read / try_take of a full mvar during a read() sees the value, and a take_for returns on its own
// deadline while a put copies its value for a reader (T's copies never run under lock_).
// Each test is deterministic: a T whose copy constructor blocks on a gate holds one thread inside a copy at a
// chosen point, and the test then observes what a try_ or timed operation does.
// Provenance: regression tests for the findings of an independent review of the waiting core and mvar<T>
// (this file was review_core_test).
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff_test::get_or_abort;

// Copyable value whose copy constructor, while `armed`, announces itself and blocks until the gate opens.
struct gated {
  static inline std::atomic<bool> armed{false};
  static inline std::atomic<bool> gate_open{false};
  static inline std::atomic<int> in_copy{0};

  int value = 0;
  explicit gated(int v) : value(v) {}
  gated(gated&& o) noexcept : value(o.value) {}
  gated(const gated& o) : value(o.value) {
    if (armed.load()) {
      in_copy.fetch_add(1);
      while (!gate_open.load()) std::this_thread::yield();
    }
  }
  gated& operator=(const gated&) = delete;

  static void reset() {
    armed = false;
    gate_open = false;
    in_copy = 0;
  }
};

using handoff_test::until;

template <class Sync>
class MvarCopyInFlightTest : public ::testing::Test {
 protected:
  void SetUp() override { gated::reset(); }
  void TearDown() override { gated::reset(); }
};
TYPED_TEST_SUITE(MvarCopyInFlightTest, handoff_test::real_backends, handoff_test::backend_names);

// MV-7 (linearizability of try_), invariant 6 of mvar.hpp: the mvar is full for the whole test (read() never
// empties it). A try_read / try_take that overlaps another thread's read() meets BUSY. It must not answer
// "nothing" for a box that stayed full: it registers as a try waiter, and the read() in flight answers it
// when it releases the box. Found by review: the first design treated BUSY as "empty". The copy gate is
// opened by a third thread once both try_ calls are queued, so the test cannot pass by waiting for the gate
// itself.
TYPED_TEST(MvarCopyInFlightTest, TryReadAndTryTakeSeeTheValueOfAFullMvarDuringARead) {
  handoff::mvar<gated, TypeParam> m(gated{5});
  gated::armed = true;
  auto reader = std::async(std::launch::async, [&] { return m.read().value; });
  until([] { return gated::in_copy.load() == 1; }, "reader inside its copy (holding BUSY)");
  EXPECT_FALSE(m.is_empty()) << "snapshot: the mvar is full";

  auto opener = std::async(std::launch::async, [&] {
    until([&] { return m.waiting().readers + m.waiting().takers >= 1; }, "try_read queued behind the read()");
    gated::armed = false;  // the copies made for try_read itself must not block
    gated::gate_open = true;
  });
  auto r = m.try_read();
  EXPECT_TRUE(r.has_value()) << "MV-7: try_read on a full mvar returned nothing (met BUSY of a read())";
  auto t = m.try_take();
  EXPECT_TRUE(t.has_value()) << "MV-7: try_take on a full mvar returned nothing";
  EXPECT_TRUE(m.is_empty());
  get_or_abort(std::move(opener), "opener");
  EXPECT_EQ(get_or_abort(std::move(reader), "read"), 5);
}

// G-7 (deadlines) and invariant 5 of mvar.hpp: T's copies never run under lock_. Interleaving: R: read() on
// empty -> registers;  P: put(v) -> serves R, copying v for it (blocked in the copy, holding BUSY);
// C: take_for(1ms) meets BUSY, registers and must time out on its own deadline while P is still copying.
// Found by review: the first design copied under lock_, so C blocked on lock_ for as long as the user's copy
// ran. The gate opens only after take_for has returned, so a take_for that waits for the copy hangs and the
// watchdog names it; no timing is asserted.
TYPED_TEST(MvarCopyInFlightTest, TimedTakeReturnsWhileAPutCopiesForAReader) {
  handoff::mvar<gated, TypeParam> m;
  auto reader = std::async(std::launch::async, [&] { return m.read().value; });
  until([&] { return m.waiting().readers == 1; }, "reader registered");

  gated::armed = true;
  auto putter = std::async(std::launch::async, [&] { m.put(gated{1}); });
  until([] { return gated::in_copy.load() == 1; }, "put copying for the reader");

  auto timed_taker = std::async(std::launch::async, [&] { return m.take_for(1ms).has_value(); });
  const bool got = get_or_abort(std::move(timed_taker), "take_for(1ms) while a copy is in flight");
  EXPECT_FALSE(got) << "take_for got the value while the putter was still copying it for the reader";

  gated::armed = false;
  gated::gate_open = true;
  get_or_abort(std::move(putter), "put");
  EXPECT_EQ(get_or_abort(std::move(reader), "read"), 1);
  auto v = m.try_take();
  ASSERT_TRUE(v.has_value()) << "the put's value stays in the box after serving the reader";
  EXPECT_EQ(v->value, 1);
}

}  // namespace
