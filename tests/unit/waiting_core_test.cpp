// The waiting core (include/handoff/detail/): parking backends, waiter node, FIFO waiter queue, slow lock.
// Typed over both real backends. Rules: G-1 (no lost wakeup), G-2/CO-7 (truthful hand-off), G-3 (FIFO),
// G-5 (no spurious return), G-6 (no allocation per wait), G-7 (deadlines, stop tokens).
#include <handoff/condition.hpp>
#include <handoff/detail/slow_lock.hpp>
#include <handoff/detail/sync.hpp>
#include <handoff/detail/waiter_queue.hpp>

#include <gtest/gtest.h>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/counting_new.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff::detail::deadline;
using handoff_test::get_or_abort;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRaceIterations = 10'000;
#else
constexpr int kRaceIterations = 100'000;
#endif

// A minimal primitive over the core, used only to exercise it: a queue of waiters behind a slow_lock, with
// the "anyone waiting?" count readable without the lock.
template <class Sync>
struct waiting_room {
  using node = handoff::detail::waiter<Sync>;
  handoff::detail::slow_lock<Sync> lock;
  handoff::detail::waiter_queue<Sync> queue;
  std::atomic<int> registered{0};

  // Registers `w` (slot = &payload) and waits; on timeout/cancel unlinks. Returns the outcome.
  typename node::outcome wait(node& w, int* payload, const deadline& d, const std::stop_token* st = nullptr) {
    w.slot = payload;
    lock.lock();
    queue.push_back(&w);
    registered.fetch_add(1);
    lock.unlock();
    typename node::outcome o;
    if (st) {
      handoff::detail::stop_interrupt<Sync> guard(*st, w);
      o = w.await(d);
    } else {
      o = w.await(d);
    }
    if (o != node::outcome::completed) {
      handoff::detail::slow_guard<Sync> g(lock);
      if (w.linked) queue.remove(&w);
    }
    return o;
  }

  // Hands `value` to the oldest waiter still waiting; true if one took it (the count is truthful).
  bool wake_one(int value) {
    lock.lock();
    node* w = queue.claim_oldest(nullptr);
    lock.unlock();
    if (!w) return false;
    *static_cast<int*>(w->slot) = value;
    w->complete(status::ok);
    return true;
  }

  int wake_all(int value) {
    lock.lock();
    std::vector<node*> claimed;
    while (node* w = queue.claim_oldest(nullptr)) claimed.push_back(w);
    lock.unlock();
    for (node* w : claimed) {
      *static_cast<int*>(w->slot) = value;
      w->complete(status::ok, static_cast<std::uint32_t>(claimed.size()));  // one call: a crowd wake
    }
    return static_cast<int>(claimed.size());
  }
};

template <class Sync>
class WaitingCore : public ::testing::Test {};
TYPED_TEST_SUITE(WaitingCore, handoff_test::real_backends, handoff_test::backend_names);

template <class Pred>
void until(Pred pred) {
  const auto give_up = std::chrono::steady_clock::now() + handoff_test::hang_bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) std::abort();
    std::this_thread::yield();
  }
}

TYPED_TEST(WaitingCore, ParkReturnsWhenWordDiffersAndWakeReachesSleeper) {  // parking contract, G-1
  typename TypeParam::template atomic<std::uint32_t> word{0};
  TypeParam::park(word, 1);  // word != expected: returns at once
  EXPECT_FALSE(TypeParam::park_until(word, 0, deadline::after(1ms))) << "times out when nobody wakes it";
  auto sleeper = std::async(std::launch::async, [&] {
    while (word.load() == 0) TypeParam::park(word, 0);
    return word.load();
  });
  word.store(5);
  TypeParam::unpark_all(word);
  EXPECT_EQ(get_or_abort(std::move(sleeper), "parked thread woken"), 5u);
}

TYPED_TEST(WaitingCore, SystemClockDeadlineIsHonoured) {  // G-7: system_clock deadlines stay absolute
  typename TypeParam::template atomic<std::uint32_t> word{0};
  EXPECT_FALSE(TypeParam::park_until(word, 0, deadline::at(std::chrono::system_clock::now() + 1ms)));
  EXPECT_FALSE(TypeParam::park_until(word, 0, deadline::at(std::chrono::system_clock::now() - 1h)));
}

TYPED_TEST(WaitingCore, WakeOrderIsFifo) {  // G-3
  waiting_room<TypeParam> room;
  constexpr int kWaiters = 6;
  std::vector<std::future<int>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(std::async(std::launch::async, [&room] {
      typename waiting_room<TypeParam>::node w;
      int payload = -1;
      room.wait(w, &payload, deadline::never());
      return payload;
    }));
    until([&] { return room.registered.load() == i + 1; });
  }
  for (int i = 0; i < kWaiters; ++i) EXPECT_TRUE(room.wake_one(i));
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(get_or_abort(std::move(waiters[i]), "fifo waiter"), i);
  EXPECT_FALSE(room.wake_one(99)) << "nobody left: the count says so";
}

TYPED_TEST(WaitingCore, WakeAllWakesExactlyTheRegistered) {  // CO-4's basis
  waiting_room<TypeParam> room;
  std::vector<std::future<int>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(std::async(std::launch::async, [&room] {
      typename waiting_room<TypeParam>::node w;
      int payload = -1;
      room.wait(w, &payload, deadline::never());
      return payload;
    }));
  }
  until([&] { return room.registered.load() == 4; });
  EXPECT_EQ(room.wake_all(7), 4);
  for (auto& f : waiters) EXPECT_EQ(get_or_abort(std::move(f), "woken by wake_all"), 7);
  EXPECT_EQ(room.wake_all(8), 0);
}

TYPED_TEST(WaitingCore, TimedOutWaiterLeavesAndIsNotCounted) {  // G-5, CO-7
  waiting_room<TypeParam> room;
  typename waiting_room<TypeParam>::node w;
  int payload = -1;
  EXPECT_EQ(room.wait(w, &payload, deadline::after(1ms)), waiting_room<TypeParam>::node::outcome::timed_out);
  EXPECT_EQ(payload, -1);
  EXPECT_TRUE(room.queue.empty());
  EXPECT_FALSE(room.wake_one(1));
}

#if defined(__linux__)
// The adaptive spin budget of registered waits (detail/spin_wait.hpp, wait_spin_budget), per thread. A fresh
// thread starts at Sync::spin_limit; a wait that parked and timed out 100 ms later (an idle wait) halves it.
TYPED_TEST(WaitingCore, AnIdleParkHalvesTheThreadsSpinBudget) {
  using budget = handoff::detail::wait_spin_budget<TypeParam>;
  static_assert(budget::adaptive, "the real backends adapt their spin budget on Linux");
  std::thread([] {
    EXPECT_EQ(budget::current(), TypeParam::spin_limit);
    waiting_room<TypeParam> room;
    typename waiting_room<TypeParam>::node w;
    int payload = -1;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(100ms)),
              waiting_room<TypeParam>::node::outcome::timed_out);
    ASSERT_EQ(budget::parks_reported(), 1u) << "a wait that parked reports once, when it returns";
    EXPECT_GE(budget::last_report().parked, budget::shrink_above);
    EXPECT_FALSE(budget::last_report().woken);
    EXPECT_EQ(budget::current(), TypeParam::spin_limit / 2) << "an idle wait halves the budget";
  }).join();
}

// Pins the calling thread to one CPU; false where the OS refuses.
bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The first `n` CPUs this process may run on and a thread may be pinned to (empty where it may not).
std::vector<int> pinnable_cpus(std::size_t n) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < n; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  bool pinned = false;
  if (!cpus.empty()) std::thread([&] { pinned = pin_to(cpus[0]); }).join();
  if (!pinned) cpus.clear();
  return cpus;
}

// A waiter woken by a thread on the CPU it parked on reports it (its spin would have delayed that thread,
// so the budget halves even after a short park); woken from another CPU, it does not. Counted only over
// waits that parked (a waiter woken in its spin phase reports nothing).
template <class Sync>
void expect_waker_cpu_reported(int waiter_cpu, int waker_cpu, bool same) {
  using budget = handoff::detail::wait_spin_budget<Sync>;
  constexpr int attempts = 1000;
  constexpr unsigned long enough = 20;
  waiting_room<Sync> room;
  std::atomic<unsigned long> parked{0};  // waits that parked, of the waiter's
  std::atomic<bool> waiter_gone{false};  // the waiter stopped waiting (enough parks, or a failure)
  std::thread waiter([&] {
    EXPECT_TRUE(pin_to(waiter_cpu));
    for (int attempt = 0; attempt < attempts && parked.load() < enough; ++attempt) {
      const unsigned long before = budget::parks_reported();
      const unsigned steps = budget::current();
      typename waiting_room<Sync>::node w;
      int payload = -1;
      const auto outcome = room.wait(w, &payload, deadline::after(handoff_test::hang_bound));
      EXPECT_EQ(outcome, waiting_room<Sync>::node::outcome::completed) << "attempt " << attempt;
      if (outcome != waiting_room<Sync>::node::outcome::completed) break;
      EXPECT_EQ(payload, attempt);
      if (budget::parks_reported() == before) continue;  // ended in the spin phase
      parked.fetch_add(1);
      EXPECT_EQ(budget::last_report().waker_took_my_cpu, same) << "attempt " << attempt;
      if (same) {
        EXPECT_EQ(budget::current(), std::max(steps / 2, budget::lowest_steps)) << "a local waker halves";
      }
    }
    waiter_gone.store(true);
  });
  std::thread waker([&] {
    EXPECT_TRUE(pin_to(waker_cpu));
    for (int attempt = 0; attempt < attempts; ++attempt) {
      until([&] { return room.registered.load() == attempt + 1 || waiter_gone.load(); });
      if (room.registered.load() != attempt + 1) break;
      // On another CPU, give the waiter time to park (a bounded spin, not synchronisation: a waiter that
      // is still spinning is served as well and only not counted).
      if (!same) {
        const auto until_park = std::chrono::steady_clock::now() + 200us;
        while (std::chrono::steady_clock::now() < until_park) handoff::detail::spin_pause();
      }
      until([&] { return room.wake_one(attempt) || waiter_gone.load(); });
    }
  });
  waiter.join();
  waker.join();
  EXPECT_GT(parked.load(), 0u) << "no wait parked in " << attempts << " attempts";
}

TYPED_TEST(WaitingCore, AWaiterReportsWhetherItsWakerRanOnItsCpu) {
  const std::vector<int> cpus = pinnable_cpus(2);
  if (cpus.empty()) GTEST_SKIP() << "this process cannot pin a thread to a CPU";
  if (handoff::detail::current_cpu() < 0) GTEST_SKIP() << "the OS does not say which CPU a thread runs on";
  expect_waker_cpu_reported<TypeParam>(cpus[0], cpus[0], true);
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU: the remote case needs two";
  expect_waker_cpu_reported<TypeParam>(cpus[0], cpus[1], false);
}

// A thread preempted since its previous park reports it at its next park, and its budget halves. The
// preemption comes from a busy thread pinned to the same CPU (the scheduler must share the CPU).
TYPED_TEST(WaitingCore, AParkAfterAPreemptionReportsIt) {
  using budget = handoff::detail::wait_spin_budget<TypeParam>;
  const std::vector<int> cpus = pinnable_cpus(1);
  if (cpus.empty()) GTEST_SKIP() << "this process cannot pin a thread to a CPU";
  if (handoff::detail::involuntary_switches() < 0) GTEST_SKIP() << "the OS does not count preemptions";
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    EXPECT_TRUE(pin_to(cpus[0]));
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  std::thread([&] {
    EXPECT_TRUE(pin_to(cpus[0]));
    EXPECT_FALSE(budget::preempted_since_last_park()) << "the first look has nothing to compare with";
    const long before = handoff::detail::involuntary_switches();
    until([&] { return handoff::detail::involuntary_switches() > before; });
    waiting_room<TypeParam> room;
    typename waiting_room<TypeParam>::node w;
    int payload = -1;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(100ms)),
              waiting_room<TypeParam>::node::outcome::timed_out);
    ASSERT_EQ(budget::parks_reported(), 1u);
    EXPECT_TRUE(budget::last_report().preempted);
    EXPECT_EQ(budget::current(), TypeParam::spin_limit / 2);
  }).join();
  stop.store(true);
  busy.join();
}

// Counts relax steps per thread: how long a wait's spin phase was.
thread_local unsigned relax_steps = 0;
struct relax_counting_sync : handoff::default_sync {
  static void relax() noexcept {
    ++relax_steps;
    handoff::default_sync::relax();
  }
};

// A registered wait spins its thread's current budget, not the constant: set to the lowest by idle reports,
// then to 256 by short woken ones, a wait that nobody ends spins exactly that many steps before it parks.
TEST(WaitSpinBudget, AWaitSpinsTheThreadsCurrentBudget) {
  using budget = handoff::detail::wait_spin_budget<relax_counting_sync>;
  static_assert(budget::adaptive);
  std::thread([] {
    waiting_room<relax_counting_sync> room;
    const auto timed_wait = [&] {
      typename waiting_room<relax_counting_sync>::node w;
      int payload = -1;
      relax_steps = 0;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(100ms)),
                waiting_room<relax_counting_sync>::node::outcome::timed_out);
      return relax_steps;
    };
    for (int i = 0; i < 4; ++i) budget::after_park({budget::shrink_above * 2, false, false});
    ASSERT_EQ(budget::current(), budget::lowest_steps);
    EXPECT_EQ(timed_wait(), budget::lowest_steps);
    for (int i = 0; i < 3; ++i) budget::after_park({budget::grow_below / 2, false, false});
    ASSERT_EQ(budget::current(), budget::lowest_steps * 8);
    EXPECT_EQ(timed_wait(), budget::lowest_steps * 8);
  }).join();
}

// A park's report to the spin budget says how soon the waker completed the wait (`answered`, what the budget
// grows by), apart from how soon the thread ran again (`parked`): the kernel's wake latency (long for a
// halted vCPU) says nothing about how soon the partner came. The probe's
// park adds kSlowWake after every return that finds the wait completed (a slow wake, made of busy waiting:
// nothing here is synchronized by time), so the waker completed the wait at least kSlowWake before the
// thread returned, and the report leaves that out. Only once completed: a return while the waker is still
// between its claim and its completion (the claim changed the word) would start the delay before the
// waker's clock reading, by as long as the waker was descheduled there; the waiter parks again instead.
constexpr auto kSlowWake = 20ms;
struct slow_wake_sync : handoff::default_sync {
  static inline std::atomic<unsigned> parks{0};
  static void slow_wake(const atomic<std::uint32_t>& word) noexcept {
    // The wait core's phase is the word's low two bits, `done` = 2 (detail/waiter.hpp, wait_core).
    if ((word.load() & 3u) != 2u) return;  // not completed: a spurious return, or a claim in progress
    const auto until = std::chrono::steady_clock::now() + kSlowWake;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    parks.fetch_add(1);
    handoff::default_sync::park(word, expected);
    slow_wake(word);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected, const deadline& d) noexcept {
    parks.fetch_add(1);
    const bool woken = handoff::default_sync::park_until(word, expected, d);
    slow_wake(word);
    return woken;
  }
};
TEST(WaitSpinBudget, AParkReportsWhenTheWakerCameApartFromTheWake) {
  using budget = handoff::detail::wait_spin_budget<slow_wake_sync>;
  static_assert(budget::adaptive);
  using node = waiting_room<slow_wake_sync>::node;
  slow_wake_sync::parks.store(0);  // a fresh count under --gtest_repeat
  waiting_room<slow_wake_sync> room;
  std::thread waiter([&] {
    node w;
    int payload = -1;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(room.wait(w, &payload, deadline::after(handoff_test::hang_bound)), node::outcome::completed);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(payload, 7);
    ASSERT_EQ(budget::parks_reported(), 1u);
    const auto report = budget::last_report();
    EXPECT_TRUE(report.woken);
    EXPECT_LE(report.answered, took - kSlowWake) << "timed to the thread's return, with the slow wake";
    EXPECT_GE(report.parked, kSlowWake) << "the park itself is timed to the return";
  });
  until([&] { return slow_wake_sync::parks.load() >= 1; });  // parked, its sleeping bit set
  EXPECT_TRUE(room.wake_one(7));
  waiter.join();
}
#endif  // __linux__

// The policy's steps, on a fresh thread: doubles after a short park that a waker ended, up to
// highest_steps; halves after an idle one, or a short one whose waker took this thread's CPU, or one after a
// preemption, down to lowest_steps; unchanged between the thresholds or after a short timed-out park.
TEST(WaitSpinBudget, FollowsTheParkReports) {
  using budget = handoff::detail::wait_spin_budget<handoff::default_sync>;
  if (!budget::adaptive) GTEST_SKIP() << "no CPU signals on this platform: the budget is the constant";
  std::thread([] {
    ASSERT_EQ(budget::current(), handoff::default_spin_limit);
    const auto short_park = budget::grow_below / 2;
    budget::after_park({short_park, false, false});
    EXPECT_EQ(budget::current(), 2 * handoff::default_spin_limit);
    budget::after_park({short_park, false, false, /*woken=*/false});
    EXPECT_EQ(budget::current(), 2 * handoff::default_spin_limit)
        << "a short timed-out park does not grow it";
    for (int i = 0; i < 20; ++i) budget::after_park({short_park, false, false});
    EXPECT_EQ(budget::current(), budget::highest_steps);
    budget::after_park({(budget::grow_below + budget::shrink_above) / 2, false, false});
    EXPECT_EQ(budget::current(), budget::highest_steps) << "between the thresholds: unchanged";
    budget::after_park({short_park, true, false});
    EXPECT_EQ(budget::current(), budget::highest_steps / 2) << "the waker took this CPU";
    budget::after_park({short_park, false, true});
    EXPECT_EQ(budget::current(), budget::highest_steps / 4) << "preempted since the last park";
    budget::after_park({budget::shrink_above * 2, false, false, /*woken=*/false});
    EXPECT_EQ(budget::current(), budget::highest_steps / 8) << "an idle park";
    for (int i = 0; i < 20; ++i) budget::after_park({budget::shrink_above * 2, false, false});
    EXPECT_EQ(budget::current(), budget::lowest_steps);
    EXPECT_EQ(budget::parks_reported(), 46u);
    static_assert(budget::lowest_steps <= handoff::default_spin_limit,
                  "an idle waiter spins no more than before");
  }).join();
}

// Growth follows how soon the waker came (`answered`), shrinking how long the thread was away (`parked`): a
// park answered within grow_below of its start grows the budget if the thread ran again within
// resumed_within of the answer (a slow wake of an idle CPU, not a wait for one behind other threads), and
// one that kept the thread away longer than shrink_above halves it however soon the waker came.
TEST(WaitSpinBudget, GrowsByTheWakersAnswerAndShrinksByTheTimeAway) {
  using budget = handoff::detail::wait_spin_budget<handoff::default_sync>;
  if (!budget::adaptive) GTEST_SKIP() << "no CPU signals on this platform: the budget is the constant";
  std::thread([] {
    ASSERT_EQ(budget::current(), handoff::default_spin_limit);
    const auto quick_answer = budget::grow_below / 2;
    const auto slow_wake = quick_answer + budget::resumed_within / 2;  // above grow_below: not grown before
    static_assert(budget::grow_below / 2 + budget::resumed_within / 2 > budget::grow_below);
    budget::after_park({slow_wake, false, false, true, quick_answer});
    EXPECT_EQ(budget::current(), 2 * handoff::default_spin_limit) << "the waker came quickly";
    const auto between = (budget::grow_below + budget::shrink_above) / 2;
    budget::after_park({between, false, false, true, between});
    EXPECT_EQ(budget::current(), 2 * handoff::default_spin_limit) << "the waker came between the thresholds";
    budget::after_park({quick_answer + budget::resumed_within * 2, false, false, true, quick_answer});
    EXPECT_EQ(budget::current(), 2 * handoff::default_spin_limit) << "ran again long after the answer";
    budget::after_park({budget::shrink_above * 2, false, false, true, quick_answer});
    EXPECT_EQ(budget::current(), handoff::default_spin_limit) << "away longer than shrink_above";
  }).join();
}

// The yield phase of a registered wait (detail/spin_wait.hpp, wait_yield_phase), on fresh threads: counts
// of this thread's yields and parks, a hook that runs inside a yield (a thread that ran on this CPU during
// it), and yields that take a slice (a busy thread kept the CPU: simulated by a 1 ms sleep, far above
// slow_yield). yield_probe_sync yields in every wait (wait_yield_always); gated_probe_sync only after a
// crowd wake, as the default policy.
thread_local unsigned yields_made = 0;
thread_local unsigned parks_made = 0;
thread_local std::function<void()>* during_yield = nullptr;
thread_local bool yields_take_a_slice = false;
struct yield_probe_sync : handoff::default_sync {
  static constexpr unsigned wait_yield_limit = 4;
  static constexpr bool wait_yield_always = true;  // not only after a crowd wake
  static void yield() noexcept {
    ++yields_made;
    if (during_yield) (*during_yield)();
    if (yields_take_a_slice) std::this_thread::sleep_for(1ms);
  }
  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    ++parks_made;
    handoff::default_sync::park(word, expected);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected, const deadline& d) noexcept {
    ++parks_made;
    return handoff::default_sync::park_until(word, expected, d);
  }
};
struct no_yield_sync : yield_probe_sync {
  static constexpr unsigned wait_yield_limit = 0;
};
struct gated_probe_sync : yield_probe_sync {
  static constexpr bool wait_yield_always = false;  // the default gate (sync.hpp, default_wait_yield_limit)
};
using yield_phase = handoff::detail::wait_yield_phase<yield_probe_sync>;
using probe_node = waiting_room<yield_probe_sync>::node;

// A wait that nobody ends yields `limit` times (each yield quick), then parks until its deadline.
TEST(WaitYieldPhase, AWaitNobodyEndsYieldsTheLimitThenParks) {
  static_assert(yield_phase::limit == 4);
  std::thread([] {
    waiting_room<yield_probe_sync> room;
    probe_node w;
    int payload = -1;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(5ms)), probe_node::outcome::timed_out);
    EXPECT_GE(parks_made, 1u);
    if (yield_phase::current_pause().count() == 0) {
      EXPECT_EQ(yields_made, yield_phase::limit) << "no yield was slow, so the phase made them all";
    }
  }).join();
}

// A waker that runs during a yield (on this CPU) ends the wait at the look after it: no park.
TEST(WaitYieldPhase, AWakerDuringAYieldEndsTheWaitWithoutAPark) {
  std::thread([] {
    waiting_room<yield_probe_sync> room;
    probe_node w;
    int payload = -1;
    std::function<void()> wake = [&] {
      during_yield = nullptr;
      EXPECT_TRUE(room.wake_one(7));
    };
    during_yield = &wake;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(handoff_test::hang_bound)),
              probe_node::outcome::completed);
    EXPECT_EQ(payload, 7);
    EXPECT_EQ(yields_made, 1u);
    EXPECT_EQ(parks_made, 0u) << "the look after the yield saw the completion";
  }).join();
}

// A yield that took a slice (the CPU went to a thread that kept it) ends the phase and pauses it.
TEST(WaitYieldPhase, ASlowYieldEndsThePhaseAndPausesIt) {
  std::thread([] {
    waiting_room<yield_probe_sync> room;
    probe_node w;
    int payload = -1;
    yields_take_a_slice = true;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(5ms)), probe_node::outcome::timed_out);
    EXPECT_EQ(yields_made, 1u) << "the phase goes on after a slow yield";
    EXPECT_EQ(yield_phase::current_pause(), yield_phase::first_pause);
  }).join();
}

// A policy with wait_yield_limit = 0 (or without the knob, as the deterministic scheduler's) never yields.
TEST(WaitYieldPhase, APolicyWithoutYieldsNeverYields) {
  static_assert(handoff::detail::wait_yield_phase<no_yield_sync>::limit == 0);
  static_assert(handoff::detail::wait_yield_phase<handoff::default_sync>::limit ==
                handoff::default_wait_yield_limit);
  static_assert(!handoff::detail::wait_yield_phase<handoff::default_sync>::always, "after a crowd wake only");
  std::thread([] {
    waiting_room<no_yield_sync> room;
    waiting_room<no_yield_sync>::node w;
    int payload = -1;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(5ms)),
              waiting_room<no_yield_sync>::node::outcome::timed_out);
    EXPECT_EQ(yields_made, 0u);
  }).join();
}

// The default gate: no yields until the thread's last park was ended by a crowd wake; after one, the next
// wait yields; a park that no crowd ended (here: a deadline) closes the gate again. Deadlines of 50 ms: a
// wait that a preemption kept in its spin past the deadline makes no park, so the checks that need a park
// look at the park count first.
constexpr auto kShortWait = 50ms;
TEST(WaitYieldPhase, TheDefaultGateYieldsOnlyAfterACrowdWake) {
  using gated = handoff::detail::wait_yield_phase<gated_probe_sync>;
  using outcome = waiting_room<gated_probe_sync>::node::outcome;
  std::thread([] {
    waiting_room<gated_probe_sync> room;
    int payload = -1;
    {
      waiting_room<gated_probe_sync>::node w;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
      EXPECT_EQ(yields_made, 0u) << "no crowd wake yet";
    }
    gated::after_park(/*woken_in_crowd=*/true);
    EXPECT_TRUE(gated::last_park_woken_in_crowd());
    const unsigned parks_before = parks_made;
    {
      waiting_room<gated_probe_sync>::node w;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
    }
    EXPECT_GE(yields_made, 1u) << "the last park was ended by a crowd wake";
    if (gated::current_pause().count() == 0) {
      EXPECT_EQ(yields_made, gated::limit);
    }
    if (parks_made == parks_before) return;  // the deadline passed in the spin: no park reported
    EXPECT_FALSE(gated::last_park_woken_in_crowd()) << "a deadline ended the park";
    const unsigned before = yields_made;
    {
      waiting_room<gated_probe_sync>::node w;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
      EXPECT_EQ(yields_made, before) << "the timed-out park reported no crowd";
    }
  }).join();
}

// A thread whose waits keep ending in the yield phase skips it once after resample_after of them, so that a
// park re-samples the crowd signal (which only parks refresh).
TEST(WaitYieldPhase, WaitsThatKeepEndingInTheYieldPhaseParkOnceToResample) {
  using gated = handoff::detail::wait_yield_phase<gated_probe_sync>;
  using outcome = waiting_room<gated_probe_sync>::node::outcome;
  std::thread([] {
    gated::after_park(/*woken_in_crowd=*/true);
    waiting_room<gated_probe_sync> room;
    std::function<void()> wake = [&] { EXPECT_TRUE(room.wake_one(7)); };
    for (unsigned i = 0; i < gated::resample_after; ++i) {
      during_yield = &wake;  // the waker runs inside the first yield: the phase ends the wait
      waiting_room<gated_probe_sync>::node w;
      int payload = -1;
      const outcome o = room.wait(w, &payload, deadline::after(kShortWait));
      during_yield = nullptr;
      if (o != outcome::completed || gated::current_pause().count() != 0) {
        GTEST_SKIP() << "a yield took a time slice (a loaded machine): the phase paused, wait " << i;
      }
      ASSERT_EQ(yields_made, i + 1) << "wait " << i << " ended in its first yield";
    }
    ASSERT_EQ(parks_made, 0u);
    waiting_room<gated_probe_sync>::node w;
    int payload = -1;
    EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
    EXPECT_EQ(yields_made, gated::resample_after) << "the phase was skipped";
  }).join();
}

// The broadcaster's side of a crowd wake: a thread whose broadcast completed at least as many waiters as
// there are CPUs yields in its next wait (one of those it woke will likely complete it); once a wait of its
// went on to park, the flag is spent.
TEST(WaitYieldPhase, AThreadThatWokeACrowdYieldsInItsNextWait) {
  const unsigned cpus = handoff::detail::online_cpus();
  if (cpus < 2 || cpus > 64) GTEST_SKIP() << "one CPU, an unknown count, or too many threads to start";
  using outcome = waiting_room<gated_probe_sync>::node::outcome;
  std::thread([cpus] {
    handoff::condition<int, gated_probe_sync> cv;
    std::vector<std::thread> waiters;
    for (unsigned i = 0; i < cpus; ++i) waiters.emplace_back([&] { EXPECT_EQ(cv.wait(), 5); });
    until([&] { return cv.waiting() == cpus; });
    EXPECT_EQ(cv.broadcast(5), cpus);
    for (auto& t : waiters) t.join();
    EXPECT_EQ(yields_made, 0u) << "the broadcaster has not waited yet";
    waiting_room<gated_probe_sync> room;
    int payload = -1;
    {
      waiting_room<gated_probe_sync>::node w;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
    }
    EXPECT_GE(yields_made, 1u) << "it woke a crowd";
    const unsigned before = yields_made;
    {
      waiting_room<gated_probe_sync>::node w;
      EXPECT_EQ(room.wait(w, &payload, deadline::after(kShortWait)), outcome::timed_out);
    }
    EXPECT_EQ(yields_made, before) << "the wait before went on to park: the flag is spent";
  }).join();
}

// The crowd signal end to end: a condition broadcast to as many parked waiters as there are CPUs is
// reported as a crowd wake by each waiter that parked; a signal to one waiter is not.
struct crowd_probe_sync : handoff::default_sync {
  static inline std::atomic<unsigned> parks{0};  // every thread's parks (parks_made: this thread's)
  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    ++parks_made;
    parks.fetch_add(1);
    handoff::default_sync::park(word, expected);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected, const deadline& d) noexcept {
    ++parks_made;
    parks.fetch_add(1);
    return handoff::default_sync::park_until(word, expected, d);
  }
};
TEST(WaitYieldPhase, ABroadcastToAsManyWaitersAsCPUsIsACrowdWake) {
  using phase = handoff::detail::wait_yield_phase<crowd_probe_sync>;
  const unsigned cpus = handoff::detail::online_cpus();
  if (cpus < 2 || cpus > 64) GTEST_SKIP() << "one CPU, an unknown count, or too many threads to start";
  const unsigned n = cpus;
  handoff::condition<int, crowd_probe_sync> cv;
  struct seen {
    bool parked = false;
    bool crowd = false;
  };
  std::vector<seen> broadcast_round(n), single_round(n);
  std::barrier round_done(static_cast<std::ptrdiff_t>(n) + 1);
  std::vector<std::thread> waiters;
  const unsigned parks_at_start = crowd_probe_sync::parks.load();
  for (unsigned i = 0; i < n; ++i) {
    waiters.emplace_back([&, i] {
      for (auto* round : {&broadcast_round, &single_round}) {
        const unsigned before = parks_made;
        EXPECT_EQ(cv.wait(), round == &broadcast_round ? 1 : 2);
        (*round)[i] = {parks_made != before, phase::last_park_woken_in_crowd()};
        round_done.arrive_and_wait();
      }
    });
  }
  // Round 1: one broadcast wakes all n once every one of them registered and went to park.
  until([&] { return cv.waiting() == n && crowd_probe_sync::parks.load() >= parks_at_start + n; });
  EXPECT_EQ(cv.broadcast(1), n);
  const unsigned parks_before = crowd_probe_sync::parks.load();  // before round 2 can start: the barrier
  round_done.arrive_and_wait();
  // Round 2: one signal per waiter.
  until([&] { return cv.waiting() == n && crowd_probe_sync::parks.load() >= parks_before + n; });
  for (unsigned i = 0; i < n; ++i) EXPECT_EQ(cv.signal(2), 1u);
  round_done.arrive_and_wait();
  for (auto& t : waiters) t.join();
  unsigned parked = 0;
  for (unsigned i = 0; i < n; ++i) {
    if (broadcast_round[i].parked) {
      ++parked;
      EXPECT_TRUE(broadcast_round[i].crowd) << "waiter " << i << ", woken by a broadcast to " << n;
    }
    if (single_round[i].parked) {
      EXPECT_FALSE(single_round[i].crowd) << "waiter " << i << ", woken by a signal";
    }
  }
  EXPECT_GE(parked, 1u) << "the broadcast came only after they went to park";
}

// A policy's own spin_limit stays inside the bounds: 0 never spins, a budget above 512 is reachable.
struct no_spin_sync : handoff::default_sync {
  static constexpr unsigned spin_limit = 0;
};
struct long_spin_sync : handoff::default_sync {
  static constexpr unsigned spin_limit = 2048;
};
TEST(WaitSpinBudget, KeepsAPolicysOwnSpinLimitInsideItsBounds) {
  using none = handoff::detail::wait_spin_budget<no_spin_sync>;
  using lots = handoff::detail::wait_spin_budget<long_spin_sync>;
  if (!none::adaptive) GTEST_SKIP() << "no CPU signals on this platform: the budget is the constant";
  std::thread([] {
    for (int i = 0; i < 5; ++i) none::after_park({none::grow_below / 2, false, false});
    EXPECT_EQ(none::current(), 0u);
    for (int i = 0; i < 5; ++i) lots::after_park({lots::grow_below / 2, false, false});
    EXPECT_EQ(lots::current(), 2048u);
    lots::after_park({lots::shrink_above * 2, false, false});
    EXPECT_EQ(lots::current(), 1024u);
  }).join();
}

// A fixed-budget policy (a deterministic scheduler's, or a user's) keeps Sync::spin_limit.
struct fixed_spin_sync : handoff::default_sync {
  static constexpr unsigned spin_limit = 7;
  static constexpr bool adaptive_spin = false;
};
TEST(WaitSpinBudget, AFixedPolicyKeepsItsConstant) {
  using budget = handoff::detail::wait_spin_budget<fixed_spin_sync>;
  static_assert(!budget::adaptive);
  budget::after_park({budget::grow_below / 2, false, false});
  EXPECT_EQ(budget::current(), 7u);
}

TYPED_TEST(WaitingCore, StopRequestWakesParkedWaiter) {  // G-7 stop_token
  waiting_room<TypeParam> room;
  std::stop_source source;
  auto waiter = std::async(std::launch::async, [&] {
    typename waiting_room<TypeParam>::node w;
    int payload = -1;
    const auto token = source.get_token();
    return room.wait(w, &payload, deadline::never(), &token);
  });
  until([&] { return room.registered.load() == 1; });
  source.request_stop();
  EXPECT_EQ(get_or_abort(std::move(waiter), "stopped waiter"),
            waiting_room<TypeParam>::node::outcome::cancelled);
  EXPECT_TRUE(room.queue.empty());
}

// The truthful hand-off, hammered: a waker hands a payload while the waiter's deadline expires. Exactly one
// outcome: the waiter got it and the waker counted it, or the waiter left and the waker did not count it.
TYPED_TEST(WaitingCore, HandOffRacingTimeoutIsTruthful) {  // G-2, CO-7
  waiting_room<TypeParam> room;
  std::barrier sync(2);
  long delivered_by_waker = 0, received_by_waiter = 0;
  auto waiter = std::async(std::launch::async, [&] {
    long received = 0;
    for (int i = 0; i < kRaceIterations; ++i) {
      typename waiting_room<TypeParam>::node w;
      int payload = -1;
      sync.arrive_and_wait();
      // Every fifth round the deadline is far away, so that round must end in a delivery (no timing
      // involved).
      const auto d = (i % 5 == 0) ? deadline::after(std::chrono::hours(1))
                                  : deadline::after(std::chrono::microseconds(i % 7));
      const auto o = room.wait(w, &payload, d);
      if (o == waiting_room<TypeParam>::node::outcome::completed) {
        if (payload != i) std::abort();
        ++received;
      } else if (payload != -1) {
        std::abort();  // left, yet the payload was written: a lie
      }
      sync.arrive_and_wait();
    }
    return received;
  });
  for (int i = 0; i < kRaceIterations; ++i) {
    sync.arrive_and_wait();
    if (i % 3 == 0 || i % 5 == 0)
      until([&] { return room.registered.load() == i + 1; });  // after registration
    if (room.wake_one(i))
      ++delivered_by_waker;
    else
      until([&] { return room.registered.load() == i + 1; });  // (it may not have registered yet)
    sync.arrive_and_wait();
  }
  received_by_waiter = get_or_abort(std::move(waiter), "race waiter");
  EXPECT_EQ(delivered_by_waker, received_by_waiter);
  EXPECT_GE(delivered_by_waker, kRaceIterations / 5) << "the far-deadline rounds must all deliver";
}

TYPED_TEST(WaitingCore, SlowLockExcludes) {  // the queue lock is a lock
  handoff::detail::slow_lock<TypeParam> lock;
  long counter = 0;
  auto work = [&] {
    for (int i = 0; i < 20'000; ++i) {
      handoff::detail::slow_guard<TypeParam> g(lock);
      ++counter;
    }
  };
  auto a = std::async(std::launch::async, work);
  auto b = std::async(std::launch::async, work);
  get_or_abort(std::move(a), "lock user a");
  get_or_abort(std::move(b), "lock user b");
  EXPECT_EQ(counter, 40'000);
}

TYPED_TEST(WaitingCore, NoAllocationPerWait) {  // G-6: the waiter node lives on the stack
  if (!handoff_test::allocation_counting)
    GTEST_SKIP() << "operator new is the sanitizer runtime's in this build";
  waiting_room<TypeParam> room;
  std::barrier sync(2);
  constexpr int kRounds = 2'000;
  auto waiter = std::async(std::launch::async, [&] {
    sync.arrive_and_wait();
    for (int i = 0; i < kRounds; ++i) {
      typename waiting_room<TypeParam>::node w;
      int payload = -1;
      room.wait(w, &payload, deadline::never());
    }
    sync.arrive_and_wait();
  });
  sync.arrive_and_wait();
  const long before = handoff_test::allocation_count();
  for (int i = 0; i < kRounds; ++i) {
    while (!room.wake_one(i)) until([&] { return room.registered.load() > i; });
  }
  sync.arrive_and_wait();
  const long after = handoff_test::allocation_count();
  get_or_abort(std::move(waiter), "allocation waiter");
  EXPECT_EQ(after - before, 0) << "waits, parks and wakes allocated";
}

struct my_clock {  // a user clock whose now() is always 1 s after its epoch
  using rep = long;
  using period = std::milli;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<my_clock>;
  [[maybe_unused]] static constexpr bool is_steady = false;
  static time_point now() { return time_point(duration(1000)); }
};

TEST(Deadline, ConversionsSaturateAndKeepClocks) {  // G-7
  EXPECT_TRUE(deadline::after(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(deadline::at(std::chrono::steady_clock::time_point::max()).is_never());
  EXPECT_EQ(deadline::at(std::chrono::system_clock::now()).kind(), deadline::clock_kind::system);
  EXPECT_EQ(deadline::after(1s).kind(), deadline::clock_kind::steady);
  EXPECT_TRUE(deadline::after(std::chrono::hours::min()).passed());
  EXPECT_TRUE(deadline::after(-1ns).passed());
  EXPECT_FALSE(deadline::after(1h).passed());
  // A user clock is measured against its own now() once, at the call.
  EXPECT_TRUE(deadline::at(my_clock::time_point(my_clock::duration(0))).passed());
  EXPECT_FALSE(deadline::at(my_clock::time_point(my_clock::duration(1'000'000))).passed());
}

TEST(Status, Names) {
  EXPECT_STREQ(handoff::to_string(status::ok), "ok");
  EXPECT_STREQ(handoff::to_string(status::empty), "empty");
  EXPECT_STREQ(handoff::to_string(status::full), "full");
  EXPECT_STREQ(handoff::to_string(status::closed), "closed");
  EXPECT_STREQ(handoff::to_string(status::timeout), "timeout");
  EXPECT_STREQ(handoff::to_string(status::cancelled), "cancelled");
  EXPECT_STREQ(handoff::to_string(static_cast<status>(42)), "unknown");
}

}  // namespace
