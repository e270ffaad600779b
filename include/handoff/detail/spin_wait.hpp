// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/spin_wait.hpp: the one spin-then-park wait on a 32-bit word, written once. Every place in
// handoff where a thread waits for another thread's step on a word uses these two pieces:
//   spin_until(word, order, done[, limit])   the spin phase: up to `limit` (Sync::spin_limit) relax steps,
//                                   reading the word until done(value) holds. The only spin loop of a wait:
//                                   a wait policy (how long to spin, whether to yield) is changed here.
//   wait_spin_budget<Sync>          the spin budget of a registered wait (wait_core::await): per thread,
//                                   adapted from what the thread's parks say (below); a policy without
//                                   `adaptive_spin` (a deterministic scheduler's) keeps Sync::spin_limit.
//   wait_yield_phase<Sync>          the yield phase of a registered wait, after its spin: a few yields, each
//                                   timed, after a crowd wake only, paused per thread while yields feed a
//                                   busy thread (below).
//   park_until_ready(word, bit, ready)   spin_until, then the park phase of the wake protocol below, until
//                                   ready(value without `bit`) holds. Used by the stream ring's slot turns
//                                   and the topic's lag wait; wait_core::await (waiter.hpp) adds deadlines,
//                                   stop requests and leaving to the same two phases and calls mark_sleeping
//                                   itself.
//
// The wake protocol (waiter.hpp, point 2; no lost wakeup): the waiter sets `bit` in the word with a
// compare-exchange from the value it just read and parks expecting the value it wrote; the parking layer
// sleeps only while the word still holds it. A waker changes the word with an exchange (or another
// read-modify-write) and wakes when the old value had `bit`. Either the waker's RMW comes first in the word's
// modification order (the waiter's compare-exchange fails, or its park returns at once) or the waiter's does
// (the waker reads `bit` and makes the wake call). Spurious returns from park are absorbed by re-reading.
//
// Memory ordering: spin_until loads with the caller's order (acquire where the value read publishes data,
// relaxed where it is a hint and the caller re-reads); park_until_ready reads with acquire, pairing with the
// waker's release RMW, so what the waker wrote before it is visible once ready() holds. mark_sleeping's
// compare-exchange is relaxed: the bit only asks for a wake; ordering comes from the acquire re-read after
// the park returns.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "cpu_signals.hpp"

namespace handoff::detail {

// The spin phase: reads `word` with `order` up to Sync::spin_limit + 1 times, one Sync::relax() apart, and
// returns the first value for which done(value) holds, or the last value read.
template <class Sync, class Done>
std::uint32_t spin_until(const typename Sync::template atomic<std::uint32_t>& word, std::memory_order order,
                         Done done, unsigned limit = Sync::spin_limit) noexcept {
  std::uint32_t v = word.load(order);
  for (unsigned spins = 0; spins < limit && !done(v); ++spins) {
    Sync::relax();
    v = word.load(order);
  }
  return v;
}

// The spin budget of a registered waiter (wait_core::await), per thread, for a Sync policy that opts in with
// `static constexpr bool adaptive_spin = true` (os_sync, and the policies derived from it; a deterministic
// scheduler keeps its constant), on a platform that answers the two questions of cpu_signals.hpp.
// Looked at only when a wait parks (a wait that ends in the spin phase changes nothing):
// - a waker completed the wait within grow_below of the park (`answered`: timed to the waker's completion,
//   which reads the clock when its peek finds the sleeping bit, before it stores `done` and makes its wake
//   call; 0 when the peek came before the bit, the waker then makes no wake call): a longer spin might have
//   ended the wait without the two system calls, so the budget doubles (up to highest_steps). Not timed to
//   the thread's return: the kernel's wake latency (tens of microseconds for a halted vCPU) says nothing
//   about how soon the partner came, and timing it kept a budget that had fallen to lowest_steps there
//   (mvar ping-pong is 25x slower at 32 steps than at 128; rendezvous SPSC swung 0.4-3.7M msgs/s); and the
//   thread ran again within resumed_within of that answer: one that waited longer for a CPU had more
//   runnable threads than cores around it, where a longer spin takes time from them (MPMC 8x8 capacity 1
//   lost 0.8x without this check);
// - but not when spinning longer would have delayed the very thread that woke us: the waker ran on the CPU
//   this thread parked on (parking gave it the core), or this thread was preempted since its last park
//   (more runnable threads than cores: a spin takes a time slice from a thread that has work). Either
//   halves the budget, as does a park longer than shrink_above to the thread's return (`parked`: an idle
//   wait, or a long wait for a CPU once woken, more runnable threads than cores);
// - a park that a deadline or a stop request ended only ever halves it (a short timed wait says nothing
//   about how soon a waker comes);
// - down to lowest_steps, below Sync::spin_limit: an idle or oversubscribed waiter spins less than with the
//   constant budget.
// lowest_steps and highest_steps keep a policy's own spin_limit inside them (spin_limit 0 never spins).
// thread_local: no line is shared between threads.
template <class Sync>
struct wait_spin_budget {
  static constexpr bool adaptive = cpu_signals_available && requires { requires Sync::adaptive_spin; };
  static constexpr unsigned min_steps = 32;
  static constexpr unsigned max_steps = 512;
  static constexpr unsigned lowest_steps = Sync::spin_limit < min_steps ? Sync::spin_limit : min_steps;
  static constexpr unsigned highest_steps = Sync::spin_limit > max_steps ? Sync::spin_limit : max_steps;
  static constexpr std::chrono::nanoseconds grow_below{20'000};
  static constexpr std::chrono::nanoseconds shrink_above{200'000};
  static constexpr std::chrono::nanoseconds resumed_within{50'000};

  // What one park of a wait says about the spin before it.
  struct park_report {
    std::chrono::nanoseconds parked;             // from the park to the thread's return
    bool waker_took_my_cpu;                      // the waker ran on the CPU this thread parked on
    bool preempted;                              // this thread was preempted since its previous park
    bool woken = true;                           // a waker ended the wait (not a deadline or a stop request)
    std::chrono::nanoseconds answered = parked;  // woken: from the park to the waker's completion
  };

  static unsigned current() noexcept {
    if constexpr (adaptive)
      return mine().steps;
    else
      return Sync::spin_limit;
  }
  static void after_park(const park_report& r) noexcept {
    state& st = mine();
    st.last = r;
    ++st.parks;
    if (r.parked > shrink_above || r.waker_took_my_cpu || r.preempted)
      st.steps = st.steps / 2 <= lowest_steps ? lowest_steps : st.steps / 2;
    else if (r.woken && r.answered < grow_below && r.parked - r.answered < resumed_within)
      st.steps = st.steps >= highest_steps / 2 ? highest_steps : st.steps * 2;
  }
  // This thread's last report and how many it has made (for tests and diagnostics).
  static park_report last_report() noexcept { return mine().last; }
  static unsigned long parks_reported() noexcept { return mine().parks; }
  // Preemptions of this thread since the previous call (false the first time, or where the OS cannot say).
  static bool preempted_since_last_park() noexcept {
    const long now = involuntary_switches();
    state& st = mine();
    const bool preempted = st.switches >= 0 && now > st.switches;
    st.switches = now;
    return preempted;
  }

 private:
  struct state {
    unsigned steps = Sync::spin_limit;
    long switches = -1;
    park_report last{};
    unsigned long parks = 0;
  };
  static state& mine() noexcept {
    thread_local state st;
    return st;
  }
};

// The yield phase of a registered wait (wait_core::await), between the spin and the park, for a Sync policy
// with `wait_yield_limit` above 0 (os_sync: default_wait_yield_limit, 4; a deterministic scheduler's has
// none: no phase): up to that many Sync::yield() calls, each followed by one more look at the word, as
// crossbeam's Backoff::snooze. Why: with more runnable threads than cores (a broadcast to 8 on 2 cores),
// the thread that will complete this wait often needs this CPU; a yield hands it over without the futex
// sleep and wake of a park (figures: sync.hpp, default_wait_yield_limit).
// When (the gate): only while this thread's last park was ended by a crowd wake, one call that completed at
// least as many waiters as there are CPUs and at least 2 (cpu_signals.hpp, is_crowd; wait_core::await
// reports each park through after_park; condition broadcasts pass their count to complete()), or while it
// has just made such a call itself (after_waking_a_crowd, until one of its waits goes on to park): right
// then more threads of one team are runnable than there are cores, and they wake each other again soon. A
// policy with `wait_yield_always = true` yields in every registered wait instead (the opt-in of before). Not
// the other signals, measured: yielding whenever the waker ran on this CPU kept ping-pong partners packed on
// one core while the other idled (a park lets the kernel's wake placement spread them; mvar ping-pong
// unpinned 0.25x), and yielding in every wait fed unrelated busy threads (sync.hpp). The gate's signal is
// refreshed only by parks, so a thread whose waits keep ending in the yield phase skips the phase once after
// resample_after of them: its next park says whether the crowd is still there. And each yield is timed: one
// that took longer than slow_yield (it fed a thread that kept the CPU) stops the phase and pauses it for this
// thread (thread_local) for `pause`, which doubles from first_pause up to longest_pause while the yields that
// probe after each pause stay slow, and restarts at first_pause after a phase whose yields were all quick. A
// thread beside a busy one thus spends one slow yield per pause (at most 1 in about 100 ms at first, 1 in 1.6
// s later) instead of one per wait. Correctness does not depend on it: the waiter has not set its sleeping
// bit, so a waker that completes the wait meanwhile makes no wake call and the next look sees `done`.
template <class Sync>
struct wait_yield_phase {
  static constexpr unsigned limit = [] {
    if constexpr (requires { Sync::wait_yield_limit; })
      return unsigned{Sync::wait_yield_limit};
    else
      return 0u;
  }();
  static constexpr bool always = [] {
    if constexpr (requires { Sync::wait_yield_always; })
      return bool{Sync::wait_yield_always};
    else
      return false;
  }();
  static constexpr std::chrono::nanoseconds slow_yield{200'000};
  static constexpr std::chrono::milliseconds first_pause{100};
  static constexpr std::chrono::milliseconds longest_pause{1600};
  static constexpr unsigned resample_after = 8;

  // Yields while !done(v) (v: the last value read of `word`), up to `limit` times, if the gate is open (or
  // the policy yields always); returns the last value read. `order`: as spin_until's. Whenever it returns
  // a value that is not done (the wait goes on to park), the broadcaster's flag is spent.
  template <class Done>
  static std::uint32_t yield_until(const typename Sync::template atomic<std::uint32_t>& word,
                                   std::memory_order order, Done done, std::uint32_t v) noexcept {
    if constexpr (limit == 0) {
      return v;
    } else {
      if (done(v)) return v;
      state& st = mine();
      if (!(always || st.woken_in_crowd || st.woke_a_crowd)) return v;
      if (!always && st.ended_in_row >= resample_after) {  // park once: re-sample the crowd signal
        st.ended_in_row = 0;
        st.woke_a_crowd = false;
        return v;
      }
      auto before = std::chrono::steady_clock::now();
      if (before < st.paused_until) {
        st.woke_a_crowd = false;
        return v;
      }
      for (unsigned k = 0; k < limit; ++k) {
        Sync::yield();
        const auto after = std::chrono::steady_clock::now();
        v = word.load(order);
        if (after - before > slow_yield) {  // the CPU went to a thread that kept it: pause the phase
          st.pause = st.pause.count() == 0 ? first_pause : (std::min)(st.pause * 2, longest_pause);
          st.paused_until = after + st.pause;
          st.ended_in_row = 0;
          st.woke_a_crowd = false;
          return v;
        }
        if (done(v)) break;
        before = after;
      }
      st.pause = {};  // every yield of this phase was quick
      st.ended_in_row = done(v) ? st.ended_in_row + 1 : 0;
      if (!done(v)) st.woke_a_crowd = false;  // the park that follows re-samples
      return v;
    }
  }
  // This thread has just completed a crowd of waiters itself (a condition broadcast): its next waits yield
  // too, until one of them goes on to park (those it woke need the CPUs, and one of them will likely
  // complete its next wait).
  static void after_waking_a_crowd() noexcept {
    if constexpr (limit > 0) mine().woke_a_crowd = true;
  }
  // What a park of this thread's registered waits said: whether a crowd wake ended it (wait_core::await,
  // for every wait that parked; a deadline or a stop request never counts).
  static void after_park(bool woken_in_crowd) noexcept {
    if constexpr (limit > 0) mine().woken_in_crowd = woken_in_crowd;
  }
  // Whether this thread's last park was ended by a crowd wake (for tests and diagnostics).
  static bool last_park_woken_in_crowd() noexcept { return mine().woken_in_crowd; }
  // This thread's current pause length (0: the last phase's yields were quick), for tests and diagnostics.
  static std::chrono::milliseconds current_pause() noexcept { return mine().pause; }

 private:
  struct state {
    std::chrono::steady_clock::time_point paused_until{};
    std::chrono::milliseconds pause{};
    unsigned ended_in_row = 0;    // consecutive phases that ended the wait (the gate's signal not refreshed)
    bool woken_in_crowd = false;  // after_park: the last park was ended by a crowd wake
    bool woke_a_crowd = false;    // after_waking_a_crowd() since a wait of this thread last went on to park
  };
  static state& mine() noexcept {
    thread_local state st;
    return st;
  }
};

// Sets `bit` in `word`, last read as `v`, so that the next waker makes the wake call. Returns true with `v`
// updated to the value to park on; false (with `v` reloaded, relaxed) when the word moved: re-check it.
template <class Sync>
bool mark_sleeping(typename Sync::template atomic<std::uint32_t>& word, std::uint32_t& v,
                   std::uint32_t bit) noexcept {
  if (v & bit) return true;  // already marked (by this thread before a spurious return, or another waiter)
  // relaxed: see the header comment (ordering comes from the caller's acquire re-read after park).
  if (!word.compare_exchange_weak(v, v | bit, std::memory_order_relaxed)) return false;
  v |= bit;
  return true;
}

// Waits until ready(word value without `bit`) holds: the spin phase, then park with the wake protocol.
// Returns the value (with `bit` as read) that satisfied ready(). acquire: pairs with the waker's release RMW.
template <class Sync, class Ready>
std::uint32_t park_until_ready(typename Sync::template atomic<std::uint32_t>& word, std::uint32_t bit,
                               Ready ready) noexcept {
  std::uint32_t v =
      spin_until<Sync>(word, std::memory_order_acquire, [&](std::uint32_t w) { return ready(w & ~bit); });
  while (!ready(v & ~bit)) {
    if (mark_sleeping<Sync>(word, v, bit)) Sync::park(word, v);
    v = word.load(std::memory_order_acquire);
  }
  return v;
}

}  // namespace handoff::detail
