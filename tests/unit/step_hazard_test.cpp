// The step hazard records (include/handoff/detail/step_hazard.hpp): a ring is not freed under a step that is
// still between its store and its last access (stream_ring.hpp, "Invariants"), and the one-shot reply
// channel that needs it (the popper destroys the stream as soon as its pop returned).
#include <handoff/detail/step_hazard.hpp>
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

namespace {

using handoff::detail::await_no_step_on;
using handoff::detail::step_window;

// A destructor's wait returns only after the window on its ring closed (invariant 2). The destroyer announces
// that it is about to wait; the stepper then yields a while (no timing is asserted: the yields only make it
// likely that a wait which does not wait returns first) and closes. Order is taken from one counter.
TEST(StepHazardTest, DestructorWaitsForAnOpenWindow) {
  int ring_stand_in = 0;
  std::atomic<int> order{0};
  std::atomic<bool> destroyer_waiting{false};
  int closed_at = 0;
  int returned_at = 0;
  {
    std::optional<step_window> window(std::in_place, &ring_stand_in);
    std::thread destroyer([&] {
      destroyer_waiting.store(true);
      await_no_step_on(&ring_stand_in);
      returned_at = ++order;
    });
    while (!destroyer_waiting.load()) std::this_thread::yield();
    for (int i = 0; i < 2000; ++i) std::this_thread::yield();
    closed_at = ++order;
    window.reset();
    destroyer.join();
  }
  EXPECT_LT(closed_at, returned_at) << "await_no_step_on returned while a window named the ring";
}

// A window names only its own ring, and a nested window (a step made inside another step's hook) restores
// the outer name when it closes (invariant 1): a wait on another ring, or on the outer ring after both
// closed, returns at once.
TEST(StepHazardTest, NestedWindowsRestoreTheOuterName) {
  int outer = 0;
  int inner = 0;
  {
    step_window a(&outer);
    { step_window b(&inner); }
    await_no_step_on(&inner);  // must not wait: the inner window closed
    std::atomic<bool> done{false};
    std::thread other([&] {
      await_no_step_on(&inner);
      done = true;
    });
    other.join();
    EXPECT_TRUE(done.load());
  }
  await_no_step_on(&outer);  // both closed
  SUCCEED();
}

// The one-shot reply channel: the popper destroys the stream as soon as its pop returned, while the pusher
// may still be inside its step. Under AddressSanitizer a step touching a freed ring is reported; the value
// must always arrive.
TEST(StepHazardTest, PopperDestroysTheStreamRightAfterItsPop) {
  const int rounds = 2000;
  for (int round = 0; round < rounds; ++round) {
    auto s = std::make_unique<handoff::stream<int>>(1);
    std::thread pusher([p = s.get(), round] { ASSERT_TRUE(p->push(round)); });
    std::optional<int> v = s->pop();
    s.reset();  // the pusher may not have returned from push yet
    pusher.join();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, round);
  }
}

}  // namespace
