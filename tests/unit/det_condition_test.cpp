// condition<T> / condition<void> under the deterministic scheduler (tests/support/det_sync.hpp): truthful
// counts when a signal or broadcast races a timeout or stop request (CO-7), the classic
// lock / test / wait vs lock / change / unlock / notify pattern (CO-6, G-1), FIFO signalling of registered
// waiters (CO-3, G-3). Each over det_default_seeds interleavings (HANDOFF_DET_SEEDS=N for more; a failure
// prints the HANDOFF_DET_SEED=<n> replay line). A lost wakeup is a DEADLOCK of the run.
#include <handoff/condition.hpp>
#include <handoff/detail/slow_lock.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <vector>

#include "support/det_scenarios.hpp"
#include "support/det_sync.hpp"

namespace {

using handoff_test::det_expect_clean;
using handoff_test::det_request_stop;
using handoff_test::det_sync;
using handoff_test::det_thread;
using handoff_test::det_yield;
namespace sc = handoff_test::det_scenarios;

template <class T>
using condition = handoff::condition<T, det_sync>;
// A BasicLockable the scheduler sees through: the library's own slow_lock over det_sync.
using det_mutex = handoff::detail::slow_lock<det_sync>;

// CO-7, G-2: signal racing a timed (or cancellable) wait. signal returns 1 exactly when the waiter returned
// its value; otherwise the value was discarded (CO-3) and the waiter returned nothing.
void signal_races_giving_up(sc::give_up how) {
  condition<std::uint64_t> c;
  std::stop_source stop;
  std::optional<std::uint64_t> got;
  std::size_t counted = 0;
  det_thread waiter(
      [&] { got = how == sc::give_up::timeout ? c.wait_for(sc::far) : c.wait(stop.get_token()); }, "waiter");
  det_thread stopper;
  if (how == sc::give_up::stop) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
  counted = c.signal(42);
  waiter.join();
  stopper.join();
  DET_CHECK(counted <= 1);
  DET_CHECK_MSG((counted == 1) == got.has_value(), "signal counted " + std::to_string(counted) + ", waiter " +
                                                       (got ? "got a value" : "got nothing"));
  DET_CHECK(!got || *got == 42);
  DET_CHECK(c.waiting() == 0);
}

TEST(DetCondition, SignalRacingWaitForIsTruthful_CO7) {  // CO-7, CO-3, G-2
  det_expect_clean([] { signal_races_giving_up(sc::give_up::timeout); });
}

TEST(DetCondition, SignalRacingStopRequestIsTruthful_CO7) {  // CO-7, G-7 stop_token form
  det_expect_clean([] { signal_races_giving_up(sc::give_up::stop); });
}

// CO-4, CO-7: a broadcast racing two timed waiters: its count equals the number of waiters that returned its
// value.
TEST(DetCondition, BroadcastCountMatchesWaitersWoken_CO4_CO7) {
  det_expect_clean([] {
    condition<std::uint64_t> c;
    std::optional<std::uint64_t> got[2];
    det_thread w0([&] { got[0] = c.wait_for(sc::far); }, "waiter 0");
    det_thread w1([&] { got[1] = c.wait_for(sc::far); }, "waiter 1");
    const std::size_t counted = c.broadcast(7);
    w0.join();
    w1.join();
    std::size_t woken = 0;
    for (auto& g : got) {
      if (g) {
        DET_CHECK(*g == 7);
        ++woken;
      }
    }
    DET_CHECK_MSG(counted == woken,
                  "broadcast counted " + std::to_string(counted) + ", woken " + std::to_string(woken));
  });
}

// CO-6, CO-8, G-1: the std::condition_variable pattern never loses the wakeup. Waiter: lock, test, wait(m);
// notifier: lock, change, unlock, notify_one. The predicate is guarded by the det-visible mutex.
TEST(DetCondition, ClassicLockTestWaitPatternNeverLosesWakeup_CO6_G1) {
  det_expect_clean([] {
    condition<void> c;
    det_mutex m;
    bool ready = false;  // guarded by m
    bool seen = false;
    det_thread waiter(
        [&] {
          m.lock();
          while (!ready) c.wait(m);
          seen = ready;
          m.unlock();
        },
        "waiter");
    m.lock();
    ready = true;
    m.unlock();
    (void)c.notify_one();
    waiter.join();
    DET_CHECK(seen);
  });
}

// CO-3, G-3: signals go to registered waiters oldest first; each signal that found a waiter returns 1.
TEST(DetCondition, SignalsServeRegisteredWaitersInOrder_CO3_G3) {
  det_expect_clean([] {
    condition<std::uint64_t> c;
    std::uint64_t got[2] = {0, 0};
    det_thread w0([&] { got[0] = c.wait(); }, "waiter 0");
    while (c.waiting() < 1) det_yield();
    det_thread w1([&] { got[1] = c.wait(); }, "waiter 1");
    while (c.waiting() < 2) det_yield();
    DET_CHECK(c.signal(1) == 1);
    DET_CHECK(c.signal(2) == 1);
    w0.join();
    w1.join();
    DET_CHECK_MSG(got[0] == 1 && got[1] == 2,
                  "waiters got " + std::to_string(got[0]) + ", " + std::to_string(got[1]));
    DET_CHECK(c.signal(3) == 0);  // nobody waits: discarded
  });
}

}  // namespace
