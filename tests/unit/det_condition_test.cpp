// condition<T> / condition<void> under the deterministic scheduler (tests/support/det_sync.hpp): truthful
// counts when a signal or broadcast races a timeout or stop request (CO-7), the classic
// lock / test / wait vs lock / change / unlock / notify pattern (CO-6, G-1), FIFO signalling of registered
// waiters (CO-3, G-3), the deadline + stop forms (CO-7, G-7), waits that give up at once never registering
// (G-7), and std::condition_variable_any's interruptible predicate waits (CO-8). Each over det_default_seeds
// interleavings (HANDOFF_DET_SEEDS=N for more; a failure prints the HANDOFF_DET_SEED=<n> replay line). A lost
// wakeup is a DEADLOCK of the run.
#include <handoff/condition.hpp>
#include <handoff/detail/slow_lock.hpp>
#include <handoff/result.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
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

// How often each status came back over a sweep: a race that never produced one of them exercised nothing.
struct status_tally {
  std::size_t ok = 0, timeout = 0, cancelled = 0;
  void add(handoff::status s) {
    if (s == handoff::status::ok) ++ok;
    if (s == handoff::status::timeout) ++timeout;
    if (s == handoff::status::cancelled) ++cancelled;
  }
};

// Checks that a sweep of many seeds saw every outcome (a replay of one seed sees only one).
void expect_every_outcome(const handoff_test::det_sweep_result& sweep, const status_tally& seen) {
  if (sweep.seeds_run < 100) return;
  EXPECT_GT(seen.ok, 0u) << "no seed delivered: the race exercised nothing";
  EXPECT_GT(seen.timeout, 0u) << "no seed timed out";
  EXPECT_GT(seen.cancelled, 0u) << "no seed was cancelled";
}

// CO-7, G-2, G-7: a signal racing a wait that has a deadline and a stop token at once (the deadline may pass,
// the stop may be requested, in any order). The result is ok exactly when signal counted the waiter, with its
// value; otherwise timeout, or cancelled only after the stop was requested. With and without the lock.
void signal_races_deadline_and_stop(bool with_lock, status_tally& seen) {
  condition<std::uint64_t> c;
  det_mutex m;
  std::stop_source stop;
  handoff::result<std::uint64_t> got;
  det_thread waiter(
      [&] {
        if (with_lock) {
          m.lock();
          got = c.wait_until(m, std::chrono::steady_clock::now() + sc::far, stop.get_token());
          m.unlock();
        } else {
          got = c.wait_for(sc::far, stop.get_token());
        }
      },
      "waiter");
  det_thread stopper([&] { det_request_stop(stop); }, "stopper");
  const std::size_t counted = c.signal(42);
  waiter.join();
  stopper.join();
  DET_CHECK(counted <= 1);
  DET_CHECK_MSG((counted == 1) == got.has_value(), "signal counted " + std::to_string(counted) + ", waiter " +
                                                       (got ? "got a value" : "got nothing"));
  DET_CHECK(got.has_value() == (got.status() == handoff::status::ok));
  DET_CHECK(!got || *got == 42);
  DET_CHECK(got.status() != handoff::status::cancelled || stop.stop_requested());
  DET_CHECK(c.waiting() == 0);
  seen.add(got.status());
}

TEST(DetCondition, SignalRacingDeadlineAndStopIsTruthful_CO7_G7) {  // CO-7, G-2, G-7
  status_tally seen;
  expect_every_outcome(det_expect_clean([&] { signal_races_deadline_and_stop(false, seen); }), seen);
}

TEST(DetCondition, SignalRacingLockedDeadlineAndStopIsTruthful_CO7_CO6) {  // CO-7, CO-6, G-7
  status_tally seen;
  expect_every_outcome(det_expect_clean([&] { signal_races_deadline_and_stop(true, seen); }), seen);
}

// CO-7, CO-8: notify_one racing condition<void>'s deadline + stop form: status ok exactly when counted.
TEST(DetCondition, NotifyRacingVoidDeadlineAndStopIsTruthful_CO7_CO8) {
  status_tally seen;
  const auto sweep = det_expect_clean([&] {
    condition<void> c;
    std::stop_source stop;
    handoff::result<void> got;
    det_thread waiter([&] { got = c.wait_for(sc::far, stop.get_token()); }, "waiter");
    det_thread stopper([&] { det_request_stop(stop); }, "stopper");
    const std::size_t counted = c.notify_one();
    waiter.join();
    stopper.join();
    DET_CHECK_MSG(
        (counted == 1) == (got.status() == handoff::status::ok),
        "notify counted " + std::to_string(counted) + ", waiter got " + handoff::to_string(got.status()));
    DET_CHECK(got.status() != handoff::status::cancelled || stop.stop_requested());
    DET_CHECK(c.waiting() == 0);
    seen.add(got.status());
  });
  expect_every_outcome(sweep, seen);
}

// G-7: a wait whose deadline already passed, or whose token is already stopped, never registers, so no
// signal racing it can ever count it or hand it a value (a registered-then-leaving waiter could be claimed in
// between). The lock forms never release the caller's lock: a thread waiting for it cannot get in while the
// waiter is inside the call.
TEST(DetCondition, PassedDeadlineOrStoppedTokenNeverRegisters_G7) {
  det_expect_clean([] {
    condition<std::uint64_t> c;
    det_mutex m;
    std::stop_source stopped, never;
    stopped.request_stop();  // before any det thread: no callback to run
    constexpr int kWaits = 6;
    handoff::result<std::uint64_t> got[kWaits];
    bool inside = false;  // guarded by m: the waiter is inside a lock form
    bool intruded = false;
    det_thread waiter(
        [&] {
          const auto past = std::chrono::steady_clock::now() - sc::far;
          got[0] = c.wait_for(-sc::far);
          got[1] = c.wait(stopped.get_token());
          got[2] = c.wait_until(past, never.get_token());
          m.lock();
          inside = true;
          got[3] = c.wait_for(m, -sc::far);
          got[4] = c.wait(m, stopped.get_token());
          got[5] = c.wait_until(m, past, stopped.get_token());
          inside = false;
          m.unlock();
        },
        "waiter");
    det_thread intruder(
        [&] {
          m.lock();
          intruded = inside;
          m.unlock();
        },
        "intruder");
    std::size_t counted = 0;
    for (std::uint64_t v = 1; v <= kWaits; ++v) counted += c.signal(std::uint64_t{v});
    waiter.join();
    intruder.join();
    DET_CHECK_MSG(counted == 0, "signals counted " + std::to_string(counted) + " waiters that never waited");
    for (const auto& r : got) DET_CHECK(!r.has_value());
    DET_CHECK(got[0].status() == handoff::status::timeout && got[2].status() == handoff::status::timeout &&
              got[3].status() == handoff::status::timeout);
    DET_CHECK(got[1].status() == handoff::status::cancelled &&
              got[4].status() == handoff::status::cancelled && got[5].status() == handoff::status::cancelled);
    DET_CHECK_MSG(!intruded, "the caller's lock was released by a wait that gave up at once");
    DET_CHECK(c.waiting() == 0);
  });
}

// CO-6, CO-8, G-1: std::condition_variable_any's interruptible predicate waits in the classic pattern. The
// answer is pred's final value, and false only when the stop was requested (or, timed, the deadline passed:
// virtual time). Untimed and with a token nobody stops, a lost wakeup is a DEADLOCK of the run.
void interruptible_predicate_wait(bool with_stopper, bool timed) {
  condition<void> c;
  det_mutex m;
  std::stop_source stop;
  bool ready = false;  // guarded by m
  bool answer = false, ready_at_return = false;
  det_thread waiter(
      [&] {
        m.lock();
        auto pred = [&] { return ready; };
        answer = timed ? c.wait_until(m, stop.get_token(), std::chrono::steady_clock::now() + sc::far, pred)
                       : c.wait(m, stop.get_token(), pred);
        ready_at_return = ready;
        m.unlock();
      },
      "waiter");
  det_thread stopper;
  if (with_stopper) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
  m.lock();
  ready = true;
  m.unlock();
  (void)c.notify_one();
  waiter.join();
  stopper.join();
  DET_CHECK_MSG(answer == ready_at_return, "the answer is not pred's final value");
  DET_CHECK(answer || stop.stop_requested() || timed);
  DET_CHECK(c.waiting() == 0);
}

TEST(DetCondition, InterruptiblePredicateWaitNeverLosesWakeup_CO8_G1) {
  det_expect_clean([] { interruptible_predicate_wait(false, false); });
}

TEST(DetCondition, InterruptiblePredicateWaitAnswersPredsFinalValue_CO8) {  // CO-8, CO-6, G-7
  det_expect_clean([] { interruptible_predicate_wait(true, false); });
  det_expect_clean([] { interruptible_predicate_wait(true, true); });
  det_expect_clean([] { interruptible_predicate_wait(false, true); });
}

}  // namespace
