// A handoff Sync policy over Relacy (relacy-dev), so that a model check runs the library's real waiting code
// (include/handoff/detail/waiter.hpp) with its real memory orders, not a transcription of it.
//
// Include order matters: relacy.hpp defines macros named memory_order_relaxed, new, delete, ... . Include the
// handoff headers under test *before* this file: their templates are then tokenised without those macros,
// and only instantiated (with rl_sync) here. Code after this include uses std::memory_order::relaxed etc.
// (C++20 scoped names, which are not macros). relacy_std.hpp is not used: it does not compile with
// libstdc++ 12 (docs/reliability.md).
//
// Model of the parking layer: Relacy's futex model (rl::generic_atomic::wait/wake), with the futex
// syscall's full barrier (a seq_cst fence) before the value check and before the wake, exactly as
// relacy/stdlib/pthread.hpp models FUTEX_WAIT/FUTEX_WAKE. Waits may return spuriously; timed waits may time
// out whenever Relacy chooses. passed(d) is a nondeterministic choice (rl::rand).
//
// The Flavor parameter plants bugs for the self-check (tests/model/waiter_planted_model.cpp):
//   relaxed_exchange: every exchange is done relaxed (complete() loses its release).
//   no_wake:          unpark_one/unpark_all do nothing (a waker that ignores the sleeping bit).
//   relaxed_cas:      every compare-exchange is done relaxed (success and failure).
//   relaxed_rmw:      every fetch_add / fetch_sub / fetch_or / fetch_and is done relaxed (a firer's release
//   of
//                     its hold on a readiness watch loses its release:
//                     tests/model/watch_list_planted_model.cpp).
#pragma once

#include <handoff/detail/deadline.hpp>

#include <atomic>
#include <cstdint>
#include <relacy/relacy.hpp>

namespace handoff_model {

enum class flavor { correct, relaxed_exchange, no_wake, relaxed_cas, relaxed_rmw };

inline rl::memory_order to_rl(std::memory_order mo) {
  switch (mo) {
    case std::memory_order::relaxed:
      return rl::mo_relaxed;
    case std::memory_order::consume:
      return rl::mo_consume;
    case std::memory_order::acquire:
      return rl::mo_acquire;
    case std::memory_order::release:
      return rl::mo_release;
    case std::memory_order::acq_rel:
      return rl::mo_acq_rel;
    case std::memory_order::seq_cst:
      return rl::mo_seq_cst;
  }
  return rl::mo_seq_cst;
}

inline std::memory_order failure_order(std::memory_order mo) {
  return mo == std::memory_order::acq_rel   ? std::memory_order::acquire
         : mo == std::memory_order::release ? std::memory_order::relaxed
                                            : mo;
}

template <flavor F = flavor::correct>
struct rl_sync {
  // std::atomic's member API as the library uses it, forwarding the library's own memory orders to Relacy.
  template <class U>
  class atomic {
   public:
    atomic() : a_(U{}) {}
    atomic(U v)
        : a_(v) {}  // NOLINT: implicit, as std::atomic (not copyable: rl::atomic is not; no "= delete"
                    // here, relacy.hpp defines delete as a macro)

    U load(std::memory_order mo = std::memory_order::seq_cst) const { return a_.load(to_rl(mo), RL_INFO); }
    void store(U v, std::memory_order mo = std::memory_order::seq_cst) { a_.store(v, to_rl(mo), RL_INFO); }
    U exchange(U v, std::memory_order mo = std::memory_order::seq_cst) {
      if constexpr (F == flavor::relaxed_exchange) mo = std::memory_order::relaxed;  // planted
      return a_.exchange(v, to_rl(mo), RL_INFO);
    }
    bool compare_exchange_weak(U& e, U d, std::memory_order s, std::memory_order f) {
      if constexpr (F == flavor::relaxed_cas) s = f = std::memory_order::relaxed;  // planted
      return a_.compare_exchange_weak(e, d, to_rl(s), RL_INFO, to_rl(f), RL_INFO);
    }
    bool compare_exchange_weak(U& e, U d, std::memory_order mo = std::memory_order::seq_cst) {
      return compare_exchange_weak(e, d, mo, failure_order(mo));
    }
    bool compare_exchange_strong(U& e, U d, std::memory_order s, std::memory_order f) {
      if constexpr (F == flavor::relaxed_cas) s = f = std::memory_order::relaxed;  // planted
      return a_.compare_exchange_strong(e, d, to_rl(s), RL_INFO, to_rl(f), RL_INFO);
    }
    bool compare_exchange_strong(U& e, U d, std::memory_order mo = std::memory_order::seq_cst) {
      return compare_exchange_strong(e, d, mo, failure_order(mo));
    }
    U fetch_add(U v, std::memory_order mo = std::memory_order::seq_cst) {
      if constexpr (F == flavor::relaxed_rmw) mo = std::memory_order::relaxed;  // planted
      return a_.fetch_add(v, to_rl(mo), RL_INFO);
    }
    U fetch_sub(U v, std::memory_order mo = std::memory_order::seq_cst) {
      if constexpr (F == flavor::relaxed_rmw) mo = std::memory_order::relaxed;  // planted
      return a_.fetch_sub(v, to_rl(mo), RL_INFO);
    }
    U fetch_or(U v, std::memory_order mo = std::memory_order::seq_cst) {
      if constexpr (F == flavor::relaxed_rmw) mo = std::memory_order::relaxed;  // planted
      return a_.fetch_or(v, to_rl(mo), RL_INFO);
    }
    U fetch_and(U v, std::memory_order mo = std::memory_order::seq_cst) {
      if constexpr (F == flavor::relaxed_rmw) mo = std::memory_order::relaxed;  // planted
      return a_.fetch_and(v, to_rl(mo), RL_INFO);
    }

    // The futex model (see the header comment).
    bool futex_wait(std::uint32_t expected, bool timed) {
      rl::context& c = rl::ctx();
      c.sched();
      c.atomic_thread_fence_seq_cst();
      U v;
      {
        rl::preemption_disabler pd(c);
        v = a_.load(rl::mo_acquire, RL_INFO);
      }
      if (v != expected) return true;
      return a_.wait(c, timed, true, RL_INFO) != rl::unpark_reason_timeout;
    }
    void futex_wake(unsigned count) {
      rl::context& c = rl::ctx();
      c.sched();
      c.atomic_thread_fence_seq_cst();
      a_.wake(c, count, RL_INFO);
    }

   private:
    rl::atomic<U> a_;
  };

  static constexpr unsigned spin_limit = 2;
  static constexpr unsigned yield_limit = 1;

  static void park(atomic<std::uint32_t>& w, std::uint32_t expected) { (void)w.futex_wait(expected, false); }
  static bool park_until(atomic<std::uint32_t>& w, std::uint32_t expected,
                         const handoff::detail::deadline& d) {
    return w.futex_wait(expected, !d.is_never());
  }
  static void unpark_one(atomic<std::uint32_t>& w) {
    if constexpr (F != flavor::no_wake) w.futex_wake(1);
  }
  static void unpark_all(atomic<std::uint32_t>& w) {
    if constexpr (F != flavor::no_wake) w.futex_wake(1000);
  }
  static bool passed(const handoff::detail::deadline& d) { return !d.is_never() && rl::rand(2) == 1; }
  // Relacy lets a thread that yielded read only the latest values, which would hide the stale read the
  // relaxed_cas variant exists to show; so in that variant a spin step does not yield (spins are bounded).
  static void relax() {
    if constexpr (F != flavor::relaxed_cas) rl::yield(1, RL_INFO);
  }
  static void yield() { rl::yield(1, RL_INFO); }
};

}  // namespace handoff_model
