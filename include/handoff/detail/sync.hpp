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
inline constexpr unsigned default_spin_limit = 128;

// Yields before a blocking stream push (full) or pop (empty) registers as a waiter, each followed by one more
// try of the fast path (stream.hpp, invariant 7). Off by default. Opt in with a policy derived from this one
// (`struct my_sync : handoff::default_sync { static constexpr unsigned yield_limit = 4; };`, then
// stream<T, my_sync>) only where the stream's threads have the cores to themselves: on the 2-core VM, 4
// yields doubled 8 producers x 8 consumers (22M -> 44M msgs/s) and raised SPSC, but with one unrelated
// busy process beside them SPSC fell from 11-22M to 1.4-3.2M msgs/s, because sched_yield hands the core to
// that process for its whole time slice, where a parked thread is woken and scheduled at once.
// bench/queue_bench.cpp's stream_yield rows measure 0 ... 16 (bench/README.md).
inline constexpr unsigned default_yield_limit = 0;

namespace detail {

inline void cpu_relax() noexcept {
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

  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    Parking::wait(word, expected);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected, const deadline& d) noexcept {
    return Parking::wait_until(word, expected, d);
  }
  static void unpark_one(atomic<std::uint32_t>& word) noexcept { Parking::wake_one(word); }
  static void unpark_all(atomic<std::uint32_t>& word) noexcept { Parking::wake_all(word); }
  static bool passed(const deadline& d) noexcept { return d.passed(); }
  static void relax() noexcept { cpu_relax(); }
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
