// Relacy model check of a select's shared waiting core (include/handoff/detail/waiter.hpp): one real
// wait_core over rl_sync (tests/model/rl_sync.hpp) with two links (waiter(core, case_index)), as select.hpp
// builds them, and two wakers, each claiming the core through its own link (as each channel's server does
// through claim_oldest) and delivering a payload into that link's slot before complete().
//
// What each suite proves, for every interleaving Relacy explores (real memory orders, futex model):
//   two_wakers:      the selector awaits untimed, then "unregisters": it resets the losing link's slot, as a
//                    select's delist touches the losing links. Exactly one waker's claim succeeds (SE-1: one
//                    delivery); winner() is that waker's link; the selector reads that link's payload without
//                    a data race (G-4), and resetting the loser's slot races with nobody (the loser never
//                    wrote it: a double delivery is a Relacy DATA RACE as well as a failed count).
//   leave_vs_wakers: the selector found a case ready while registering and tries to leave (try_leave), racing
//                    both wakers: it left and nobody delivered, or exactly one waker claimed and the
//                    selector's await returns completed with that payload (SE-2, G-2).
//   timed_vs_wakers: the selector's await has a deadline (Relacy decides when it passes) racing both wakers:
//                    timed_out with no delivery, or completed with exactly one (SE-6, G-2).
// The suites are templates over a Kit (core and link types), so that select_core_planted_model.cpp runs the
// same bodies over a test-tree copy of the core whose claim is a plain store; that copy must fail.
// Run: build/<preset>/tests/select_core_model (ctest -R select_core_model). Exit 0 when every suite passes.
#include <handoff/detail/deadline.hpp>
#include <handoff/detail/waiter.hpp>
#include <handoff/status.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

namespace handoff_model {

using handoff::status;

// The library's own core and links.
struct real_kit {
  using sync = rl_sync<flavor::correct>;
  using core = handoff::detail::wait_core<sync>;
  using link = handoff::detail::waiter<sync>;
  using outcome = core::outcome;
};

// Selector + two wakers; the selector's step is `Mode` (0: await untimed; 1: try_leave, then await if a
// waker won; 2: await with a deadline).
template <class Kit, int Mode>
struct select_core_suite : rl::test_suite<select_core_suite<Kit, Mode>, 3> {
  typename Kit::core core;
  typename Kit::link links[2] = {typename Kit::link(core, 0), typename Kit::link(core, 1)};
  rl::var<int> slot[2];  // each link's payload slot (the case's value)
  bool claimed[2] = {false, false};
  int outcome = -1;  // the selector's await outcome, -1 when it left without waiting
  bool left = false;

  void before() {
    slot[0](RL_INFO) = 0;
    slot[1](RL_INFO) = 0;
  }

  void thread(unsigned index) {
    if (index == 0) {
      selector();
    } else {
      const unsigned me = index - 1;
      claimed[me] = links[me].try_claim();
      if (claimed[me]) {
        slot[me](RL_INFO) = 100 + static_cast<int>(me);  // deliver into the case's slot
        links[me].complete(status::ok);
      }
    }
  }

  void selector() {
    using outcome_t = typename Kit::outcome;
    outcome_t o = outcome_t::completed;
    if constexpr (Mode == 1) {
      left = core.try_leave();
      if (left) return;
      o = core.await(handoff::detail::deadline::never());  // a waker won the claim: it is delivering
    } else if constexpr (Mode == 2) {
      o = core.await(handoff::detail::deadline::after(std::chrono::hours(1)));
    } else {
      o = core.await(handoff::detail::deadline::never());
    }
    outcome = static_cast<int>(o);
    if (o != outcome_t::completed) return;
    const auto* w = core.winner();
    RL_ASSERT(w == &links[0] || w == &links[1]);
    const unsigned won = w == &links[0] ? 0 : 1;
    RL_ASSERT(w->case_index == won);
    RL_ASSERT(w->result == status::ok);
    RL_ASSERT(slot[won](RL_INFO) == 100 + static_cast<int>(won));  // the winner's payload (G-4)
    slot[1 - won](RL_INFO) = -1;  // unregister the loser: nobody else may have written its slot
  }

  void after() {
    const int deliveries = (claimed[0] ? 1 : 0) + (claimed[1] ? 1 : 0);
    const bool completed = outcome == static_cast<int>(Kit::outcome::completed);
    RL_ASSERT(deliveries <= 1);                 // SE-1: one core, one claim
    RL_ASSERT(completed == (deliveries == 1));  // G-2: completed exactly when a waker delivered
    if constexpr (Mode == 0) RL_ASSERT(completed);
    if (left) RL_ASSERT(deliveries == 0);
  }
};

template <class Kit>
using two_wakers = select_core_suite<Kit, 0>;
template <class Kit>
using leave_vs_wakers = select_core_suite<Kit, 1>;
template <class Kit>
using timed_vs_wakers = select_core_suite<Kit, 2>;

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  // Three threads: bounded exhaustive (every schedule with at most 3 preemptions; 2 for the timed suite,
  // whose deadline choices multiply the schedules: bound 3 took 6.1M iterations, 33 s) plus a random sample.
  // About 5 s in all at -O2 on the 2-core VM.
  ok &= run<two_wakers<real_kit>>("select core: two wakers", rl::fair_context_bound_scheduler_type, 0, 3);
  ok &= run<two_wakers<real_kit>>("select core: two wakers", rl::random_scheduler_type, 200000);
  ok &= run<leave_vs_wakers<real_kit>>("select core: leave vs wakers", rl::fair_context_bound_scheduler_type,
                                       0, 3);
  ok &= run<leave_vs_wakers<real_kit>>("select core: leave vs wakers", rl::random_scheduler_type, 200000);
  ok &= run<timed_vs_wakers<real_kit>>("select core: timed vs wakers", rl::fair_context_bound_scheduler_type,
                                       0, 2);
  ok &= run<timed_vs_wakers<real_kit>>("select core: timed vs wakers", rl::random_scheduler_type, 1000000);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
