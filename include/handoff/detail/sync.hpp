// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/sync.hpp: the substitution point between handoff's algorithms and the machine.
//
// Every primitive is a template over a Sync policy (defaulted, so users write mvar<T>). The policy supplies:
//   template <class U> using atomic = ...;      the type of every shared word
//   static void park(atomic<uint32_t>&, uint32_t expected);      sleep while word == expected
//   static bool park_until(atomic<uint32_t>&, uint32_t expected, const deadline&);   false = deadline passed
//   static void unpark_one(atomic<uint32_t>&);  static void unpark_all(atomic<uint32_t>&);
//   static bool passed(const deadline&);        has the deadline passed (virtual time under a test scheduler)
//   static void relax();                        one step of a bounded spin
//   static constexpr unsigned spin_limit;       spin steps before parking
//   static constexpr bool adaptive_spin;        optional: registered waits adapt their budget per thread
//                                               (detail/spin_wait.hpp; os_sync: true, det_sync: absent)
//   static void yield();                        give the CPU to another runnable thread (sched_yield)
//   static constexpr unsigned yield_limit;      yields before a stream push / pop registers as a waiter
//   static constexpr unsigned wait_yield_limit; optional: yields of a registered wait between its spin and
//                                               its park (detail/spin_wait.hpp; absent: none)
//   static constexpr bool wait_yield_always;    optional: make them in every registered wait, not only
//                                               after a crowd wake (absent: false)
//   static constexpr bool record_blocked;       optional: parked waits keep blocked-thread records (OB-4)
//   static constexpr size_t unbounded_ring_slots;   optional: ring slots of an unbounded stream (default 256;
//                                               a power of two; the deterministic tests use 4, stream.hpp)
// os_sync<futex_parking> and os_sync<portable_parking> run on real threads; a test tree may substitute a
// deterministic scheduler with the same shape (the folly DeterministicSchedule pattern).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "deadline.hpp"
#include "parking.hpp"

namespace handoff {

// Spin budget before a waiting thread parks: the constant for the waits on a word (stream slot turns, the
// slow lock) and the starting budget of a registered wait (waiter.hpp, wait_core::await), which os_sync
// adapts per thread (`adaptive_spin`; detail/spin_wait.hpp, wait_spin_budget): doubled, up to 512 steps,
// after a park that a thread on another CPU ended within 20 us; halved, down to 32, after an idle park
// (over 200 us), after a park that the waker ended from the CPU this thread parked on (the spin would have
// delayed it), or after a preemption since the previous park (more runnable threads than cores). A fixed
// count of spin steps is a different wait on each machine (PAUSE costs 22 ns on the Intel Xeon VM of
// 2026-12-03, under 10 ns on the AMD EPYC before it); what a thread's waits saw is not.
// History (issue 20; interleaved A/B on the 2-core VMs, medians):
// - A yield phase between this spin and the park (4 sched_yield calls, each followed by one more look, as
//   crossbeam's Backoff::snooze), for registered waiters only, was rejected on the AMD VM: mvar ping-pong
//   0.43 pinned, 0.49 unpinned; SPSC capacity 0 0.79 / 0.64; 2x2 capacity 1 0.91 / 0.58; 1x1 beside a busy
//   thread 0.23 (a yield hands the busy thread a time slice). Re-measured 2026-12-05 on the AMD VM against
//   0416a7c (the same 4 yields in wait_core::await, 5-6 interleaved rounds, medians new/old, unpinned /
//   pinned): broadcast to 8 3.04 / 3.99 (2.1x / 2.7x std::condition_variable: issue 20's target), condition
//   ping-pong 2.45 / 1.96, mvar ping-pong 3.59 / 1.04, SPSC capacity 0 2.00 / 1.82, 2x2 capacity 1 stream
//   2.17 / 2.08 (mvar 0.89 / 1.18), 8x8 capacity 1 0.97 / 1.32; and SPSC capacity 1024 beside a busy thread
//   (stream_yield/1x1+busy) 0.13. Timing each yield and pausing the phase after a slow one (the
//   wait_yield_phase that exists now) brought the busy rows to 0.66-0.72 and kept broadcast at 2.58 / 3.78,
//   with losses on capacity-1 mvar rows: an opt-in then. The signal that tells a team oversubscribed by its
//   own threads (a yield helps) from an unrelated busy thread (a yield feeds it), found the same day: the
//   thread was woken by a crowd wake (default_wait_yield_limit below, with the signals that lost).
// - Adaptive budgets on the Intel VM (constant 128: mvar ping-pong 241k round trips/s, 571k at 512): growing
//   on short parks alone (cap 2048, or cap 512 with a trial that kept a doubling only if it ended more waits
//   in the spin phase) made two-thread hand-offs 1.4-6.2x but a mutex + deque over condition<void> at 2x2-8x8
//   capacity 1 0.11-0.75x (a park is short there because parking gave the partner this core: the budget grew
//   to where it only burnt the partners' time). The waker's CPU as the signal for that fixed 2x2-4x4 but left
//   8x8 capacity 1 unpinned at 0.48-0.63x and broadcast pinned at 0.67-0.80x; the preemption count added for
//   oversubscription brought both to 1.0x or better (the policy above).
// - Buffered streams' waits kept at the constant (they wait for a batch, not a hand-off in flight): not
//   measurably different (capacity-1024 rows within an A/A spread of 0.84-1.22x over 15 rounds), not kept.
inline constexpr unsigned default_spin_limit = 128;

// Yields before a blocking stream push (full) or pop (empty) registers as a waiter, each followed by one more
// try of the fast path (stream.hpp, invariant 7: bounded streams of capacity 16 or more only). One yield
// lets the thread on the other side move a batch of values before this one becomes a waiter that it must
// serve through the slow path. Measured on the 2-core VM (bench/queue_bench.cpp, stream_yield rows and an
// A/B of this constant, 1,000,000 messages per run, medians): capacity 1024, 1 against 0: SPSC 23.5M ->
// 81.3M msgs/s, 2x2 25.5M -> 69.6M, 8x8 21.4M -> 45.1M; with one unrelated busy thread beside the team
// neutral (1x1 33.9M -> 32.2M, 8x8 27.0M -> 25.2M). More yields do not help more and risk the busy
// neighbour: 4 yields gave SPSC beside a busy thread 1.4-3.2M msgs/s in one run (a yield can hand that
// thread a whole time slice). Set 0 with a policy derived from this one
// (`struct my_sync : handoff::default_sync { static constexpr unsigned yield_limit = 0; };`, then
// stream<T, my_sync>) to register at once.
inline constexpr unsigned default_yield_limit = 1;

// Yields a registered wait makes after its spin and before it parks (detail/spin_wait.hpp,
// wait_yield_phase), each followed by one more look, when the thread's last park was ended by a crowd wake
// (one call that completed at least as many waiters as there are CPUs, and at least 2: a condition
// broadcast to 8 waiters on 2 cores) or the thread has just made such a call itself and none of its waits
// has gone on to park since; a thread whose yields take long (they fed a busy thread) stops making them for
// a while. Set
// 0 to park right after the spin; `static constexpr bool wait_yield_always = true` in a policy yields in
// every registered wait (for teams that share few cores and wake each other one at a time).
// Measured with scripts/ab.sh on the 2-core AMD VM against 033ba29 (paired medians new/old of interleaved
// rounds, unpinned / pinned; the floors are peer rows of the same runs that nothing here moves):
// - 4 yields in every registered wait (the opt-in of f3fa196, 6 rounds): broadcast to 8 2.58 / 3.78 (2.2x /
//   2.4x std::condition_variable), condition ping-pong 2.79 / 1.17, mvar ping-pong 1.86 / 1.08; but SPSC
//   capacity 1024 beside a busy thread 0.72 (8x8 beside one 0.66), MPMC 2x2 capacity 1 mvar 0.97 / 0.73,
//   8x8 capacity 1 mvar 0.79 / 0.98, signal-latency rounds 0.73 / 0.66 (moodycamel 0.82-0.98). Not a default.
// - Only when the last park's waker ran on the CPU the thread parked on (6 rounds): broadcast 1.01 / 1.89,
//   but mvar ping-pong unpinned 0.25 with 2.8x the CPU per round trip: two partners that yield to each
//   other stay packed on one core while the other idles, where a park and wake lets the kernel place the
//   woken thread on the idle core. Only when the thread ran on its waker's CPU once woken (no idle core was
//   found for it; re-sampled by a park every 8 waits; 6 rounds): nothing lost (0.89-1.39 against floors of
//   0.84-1.09) but broadcast only 1.15 / 1.67. That signal with the crowd one (6 rounds, then 10 on the
//   rows in doubt): broadcast 4.42 / 5.38, but MPMC 2x2 capacity 1 mvar pinned 0.66 and 0.85, SPSC capacity
//   1 mvar unpinned 0.81 and 0.78.
// - The crowd gate alone (ad8a5ef; 8 rounds): broadcast 2.31 / 3.39 (1.9x / 2.5x
//   std::condition_variable in the same runs), its latency rounds 2.28 / 2.95; the other rows that wait
//   (ping-pongs, capacity 0 and 1, MPSC 2x1, beside a busy thread) 0.68-1.57 against floors of 0.88-1.07,
//   where nothing but a broadcast's waiters can yield (the low ones, condition ping-pong unpinned 0.68 at a
//   spread of 14.6x and MPSC 2x1 0.85 / 0.87, run code that the gate keeps out of the phase).
// - Plus the broadcaster: a thread whose broadcast woke a crowd yields in its next waits until one parks
//   (the default since 2026-12-05; against ad8a5ef, 8 rounds): broadcast to 8 1.51 / 1.34 more (condition<T>
//   41.6k / 48.0k rounds/s, 3.3x / 3.6x std::condition_variable's 12.5k / 13.5k in the same runs), latency
//   rounds 1.17 / 1.03; the signal-only rows 0.79-1.31 (ping-pongs, capacity 1; std::condition_variable's
//   rows 0.93-1.23).
// - Tried on 2026-12-05 against 062e0ea and not adopted: the gate refreshed by every completed wait, parked
//   or not (complete() recording its count always, no forced park every 8 waits), with the broadcaster
//   yielding 4 times per CPU's worth of the waiters it woke (16 for 8 on 2 CPUs; 8 rounds): broadcast to 8
//   0.70-1.17 (std::atomic::notify_all's row 0.90 / 0.99), latency to the last of 8 0.67 / 0.75,
//   capacity-1024 stream rows 0.65-0.92 beside moodycamel 0.91-1.10; the refresh alone (8 rounds): broadcast
//   0.72-1.41, pinned up and unpinned down in both rows. A round's cost (perf stat: 2-6 futex calls, 11-15
//   yields and 12-18 context switches per round against std::atomic's 2-3, 10-13, 10-13) is not its system
//   calls.
inline constexpr unsigned default_wait_yield_limit = 4;

namespace detail {

// One step of a bounded spin (PAUSE / YIELD). Not named cpu_relax: Boost.Fiber defines a function-like macro
// of that name (boost/fiber/detail/cpu_relax.hpp), and users include both.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::this_thread::yield();
#endif
}

template <class Parking>
struct os_sync {
  template <class U>
  using atomic = std::atomic<U>;

  static constexpr unsigned spin_limit = default_spin_limit;
  static constexpr bool adaptive_spin = true;  // registered waits: detail/spin_wait.hpp, wait_spin_budget
  static constexpr unsigned yield_limit = default_yield_limit;
  static constexpr unsigned wait_yield_limit = default_wait_yield_limit;  // detail/spin_wait.hpp
  static constexpr bool record_blocked = true;                            // detail/blocked_record.hpp

  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    Parking::wait(word, expected);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected, const deadline& d) noexcept {
    return Parking::wait_until(word, expected, d);
  }
  static void unpark_one(atomic<std::uint32_t>& word) noexcept { Parking::wake_one(word); }
  static void unpark_all(atomic<std::uint32_t>& word) noexcept { Parking::wake_all(word); }
  static bool passed(const deadline& d) noexcept { return d.passed(); }
  static void relax() noexcept { spin_pause(); }
  static void yield() noexcept { std::this_thread::yield(); }
};

#if defined(HANDOFF_HAVE_FUTEX)
using futex_sync = os_sync<futex_parking>;
#endif
using portable_sync = os_sync<portable_parking>;

}  // namespace detail

#if defined(HANDOFF_PARK_BACKEND_PORTABLE) || !defined(HANDOFF_HAVE_FUTEX)
using default_sync = detail::portable_sync;
#else
using default_sync = detail::futex_sync;
#endif

}  // namespace handoff
