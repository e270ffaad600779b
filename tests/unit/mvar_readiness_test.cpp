// Readiness for event loops on mvar<T> (rules WA-1..WA-5 of docs/semantics.md; mvar.hpp invariant 9), on
// real threads: what arm() (a take would not block) and arm_writable() (a put would not block) answer, one
// notifier call per armed arm, a put handed to a waiting taker, a stateless T, and a loop that only tries.
// The interleavings are explored in det_readiness_test.cpp (the Mvar cases).
#include <poll.h>
#include <handoff/eventfd_notifier.hpp>
#include <handoff/mvar.hpp>
#include <handoff/readiness.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "support/watchdog.hpp"

namespace {

using handoff::readiness;
using handoff::status;

struct counter {
  std::atomic<int> calls{0};
  handoff::notifier notifier() {
    return {[](void* self) noexcept { static_cast<counter*>(self)->calls.fetch_add(1); }, this};
  }
};

// WA-1, WA-2: readable = full; the put that fills the box calls once.
TEST(MvarReadiness, ReadableWhenFull_WA1_WA2) {
  handoff::mvar<std::string> m;
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_EQ(m.try_put("a"), status::ok);
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm(), readiness::ready);
  EXPECT_EQ(*m.try_take(), "a");
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put("b");
  EXPECT_EQ(c.calls.load(), 2);
  EXPECT_EQ(m.take(), "b");
  EXPECT_EQ(c.calls.load(), 2);  // not armed any more: the take calls nobody
}

// WA-4: writable = empty; the take that empties the box calls once; a take refilled by a waiting putter
// leaves the box full (no call).
TEST(MvarReadiness, WritableWhenEmpty_WA4) {
  handoff::mvar<int> m(1);
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  auto putter = std::async(std::launch::async, [&] { m.put(2); });
  handoff_test::until([&] { return m.waiting().putters == 1; }, "putter queued");
  EXPECT_EQ(m.take(), 1);  // the putter's 2 moves in: still full
  handoff_test::get_or_abort(std::move(putter), "put");
  EXPECT_EQ(c.calls.load(), 0);
  EXPECT_EQ(m.take(), 2);  // now empty
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm_writable(), readiness::ready);
}

// WA-3: a put handed straight to a waiting taker leaves the box empty: the readable watcher stays armed.
TEST(MvarReadiness, PutToAWaitingTakerKeepsTheWatchArmed_WA3) {
  handoff::mvar<int> m;
  counter c;
  auto w = m.watch(c.notifier());
  auto taker = std::async(std::launch::async, [&] { return m.take(); });
  handoff_test::until([&] { return m.waiting().takers == 1; }, "taker queued");
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put(7);
  EXPECT_EQ(handoff_test::get_or_abort(std::move(taker), "take"), 7);
  EXPECT_EQ(c.calls.load(), 0);
  m.put(8);
  EXPECT_EQ(c.calls.load(), 1);
}

// Invariant 7's one-CAS paths of a stateless T give way to the general path while a watcher is armed.
TEST(MvarReadiness, StatelessTokenMvar_WA1_WA4) {
  struct token {};
  handoff::mvar<token> m;
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::ready);
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put(token{});
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  (void)m.take();
  EXPECT_EQ(c.calls.load(), 2);
  w.unwatch();
  m.put(token{});  // nothing armed: the one-CAS path again, no call
  EXPECT_EQ(c.calls.load(), 2);
}

// WA-2, WA-4: a loop that never blocks passes values from one mvar to another, both watched; 2 threads
// feed and drain with blocking calls. Every value arrives once and in order.
TEST(MvarReadiness, LoopRelaysBetweenTwoMvars_WA2_WA4) {
  constexpr int count = 20000;
  handoff::mvar<int> in, out;
  handoff::eventfd_notifier n;
  auto feeder = std::async(std::launch::async, [&] {
    for (int i = 0; i < count; ++i) in.put(i);
  });
  auto drainer = std::async(std::launch::async, [&] {
    for (int i = 0; i < count; ++i)
      if (out.take() != i) return false;
    return true;
  });
  auto win = in.watch(n.notifier());
  auto wout = out.watch(n.notifier());
  int held = 0;  // the value in the loop's hands, when `holding`
  bool holding = false;
  for (int moved = 0; moved < count;) {
    if (!holding) {
      if (auto v = in.try_take()) {
        held = *v;
        holding = true;
      }
    }
    if (holding && out.try_put(int{held}) == status::ok) {
      holding = false;
      ++moved;
      continue;
    }
    const bool armed = holding ? wout.arm_writable() == readiness::armed : win.arm() == readiness::armed;
    if (!armed) continue;
    pollfd p{n.fd(), POLLIN, 0};  // the loop's sleep
    ASSERT_EQ(::poll(&p, 1, static_cast<int>(handoff_test::hang_bound.count() * 1000)), 1)
        << "WATCHDOG: no notification after " << moved << " values (lost notification?)";
    n.consume();
  }
  handoff_test::get_or_abort(std::move(feeder), "feeder");
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(drainer), "drainer"));
}

}  // namespace
