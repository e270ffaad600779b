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
//   static void yield();                        give the CPU to another runnable thread (sched_yield)
//   static constexpr unsigned yield_limit;      yields before a stream push / pop registers as a waiter
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

// Spin budget before a waiting thread parks. A hand-off between two running threads completes in well under a
// microsecond; 128 relax steps (~1-4 us with PAUSE) cover that without burning a time slice when the partner
// is descheduled, which on a 2-core machine under oversubscription is the common case. Beyond the budget the
// thread parks in the kernel. Tune it with bench/ (it is the only knob between latency and CPU time).
// Tried and rejected (issue 20): a yield phase between this spin and the park (4 sched_yield calls, each
// followed by one more look, as crossbeam's Backoff::snooze), for registered waiters only. Interleaved A/B on
// the 2-core VM, 8 rounds, paired medians with / without: mvar ping-pong 0.43 pinned, 0.49 unpinned; SPSC
// capacity 0 0.79 / 0.64; 2x2 capacity 1 0.91 / 0.58; 1x1 beside a busy thread 0.23 (a yield hands the busy
// thread a time slice); select over 2 rendezvous streams 1.21 / 0.77; capacity 1024 rows within noise.
// Tried and not committed (issue 20, 2026-12-03, on an Intel Xeon VM where PAUSE costs 22 ns and mvar
// ping-pong made 241k round trips/s at 128 steps, 571k at 512): a per-thread adaptive budget for registered
// waits (wait_core::await; thread_local, two clock reads around a wait's first park): double after a park
// woken within 20 us, halve after one longer than 200 us (floor 32 steps). Interleaved A/B, 3-4 rounds,
// medians new/old (moodycamel rows as the floor, 0.86-1.35):
//   - cap 2048: two-thread hand-offs 1.5-6.2x at 0.3-0.8x the CPU, but mutex + deque over condition<void>
//     at 2x2 / 4x4 capacity 1 0.11-0.47x (CPU 3-10x: a park is short there because parking gave the partner
//     this core, so the budget grew to where it only burnt the partners' time), broadcast/8 0.48-0.85x.
//   - cap 512, and a doubling kept only if its next 4 waits end in the spin phase more often than the 4
//     before it (else halve, and no new trial for 16 parks): ping-pong 1.4-3.5x (mvar, stream(1),
//     condition), one-slot SPSC 1.6-2.0x, rendezvous 1.6-1.8x, mutex + deque over condition<void> SPSC /
//     MPSC 2.0-5.9x, all at lower CPU; broadcast 0.90-1.23x; but that queue at 2x2-8x8 capacity 1 still
//     0.51-0.75x (CPU 1.3-1.8x) and mvar 2x2 capacity 1 0.73-0.87x. Fewer spin endings is not the cost that
//     matters there: the partners' lost CPU is. What the next attempt needs is a signal for "my spin delays
//     the thread I wait for", not a bigger cap. A third variant used one (complete() records the waker's
//     CPU; a short park whose waker ran on the CPU the waiter parked on halves the budget): that queue at
//     2x2 capacity 1 2.9-3.4x, two-thread hand-offs 1.6-4.7x; but 8x8 capacity 1 unpinned 0.48x, broadcast
//     pinned 0.67-0.71x and the capacity-1024 stream rows 0.57-0.75x (CPU 1.3-1.7x). A fourth records the
//     waker's CPU only when a peek at the state word finds the waiter parked: two-thread hand-offs 1.5-3.1x
//     at 0.5-0.8x the CPU, the queue over condition<void> 1.0-4.7x from 1x1 to 4x4, capacity-1 mvar and
//     stream 0.94-1.61x everywhere; left: that queue at 8x8 capacity 1 unpinned 0.63x, SPSC capacity 1024
//     unpinned 0.69x, broadcast pinned 0.77-0.80x. The closest so far: start there.
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
  static constexpr unsigned yield_limit = default_yield_limit;
  static constexpr bool record_blocked = true;  // detail/blocked_record.hpp

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
