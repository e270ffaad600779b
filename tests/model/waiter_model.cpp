// Relacy model check of the waiter protocol (include/handoff/detail/waiter.hpp): the library's own waiter
// template runs over rl_sync (tests/model/rl_sync.hpp), so Relacy explores its real memory orders under the
// C++ memory model, with a futex model for park/unpark.
//
// What each suite proves (for every interleaving and every value a relaxed load may read that Relacy
// explores; see docs/reliability.md for the limits):
//   handoff:        waiter + waker, untimed. The waiter always completes (no lost wakeup, G-1: a lost wake is
//                   a Relacy DEADLOCK), and reads the payload the waker wrote before complete() without a
//                   data race (G-4: complete's release exchange pairs with await's acquire load).
//   unclaim:        the waker claims, puts the node back (unclaim, as after a throwing move), claims again
//   and
//                   completes; the waiter still ends completed with the payload.
//   claim_vs_leave: waiter (timed, so it may leave), waker (claim + complete) and a stop request (interrupt),
//                   three threads. Exactly one of "claimed" and "left" wins (G-2, the truthful hand-off):
//                   completed <=> the waker's claim succeeded, and then the payload is visible.
// Run: build/dev/tests/waiter_model (ctest -R waiter_model). Exit 0 when every suite passes.
#include <handoff/detail/deadline.hpp>
#include <handoff/detail/waiter.hpp>
#include <handoff/status.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

namespace handoff_model {

using handoff::status;

template <flavor F>
using waiter_t = handoff::detail::waiter<rl_sync<F>>;

// waiter + waker, untimed.
template <flavor F>
struct handoff_suite : rl::test_suite<handoff_suite<F>, 2> {
  waiter_t<F> node;
  rl::var<int> payload;
  int outcome = -1;

  void before() { payload(RL_INFO) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      outcome = static_cast<int>(node.await(handoff::detail::deadline::never()));
      if (outcome == static_cast<int>(waiter_t<F>::outcome::completed)) {
        RL_ASSERT(payload(RL_INFO) == 42);  // a data race here is G-4 broken
        RL_ASSERT(node.result == status::ok);
      }
    } else {
      RL_ASSERT(node.try_claim());
      payload(RL_INFO) = 42;
      node.complete(status::ok);
    }
  }
  void after() { RL_ASSERT(outcome == static_cast<int>(waiter_t<F>::outcome::completed)); }
};

// claim, unclaim, claim again, complete.
template <flavor F>
struct unclaim_suite : rl::test_suite<unclaim_suite<F>, 2> {
  waiter_t<F> node;
  rl::var<int> payload;
  int outcome = -1;

  void before() { payload(RL_INFO) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      outcome = static_cast<int>(node.await(handoff::detail::deadline::never()));
      if (outcome == static_cast<int>(waiter_t<F>::outcome::completed)) RL_ASSERT(payload(RL_INFO) == 7);
    } else {
      RL_ASSERT(node.try_claim());
      node.unclaim();
      RL_ASSERT(node.try_claim());
      payload(RL_INFO) = 7;
      node.complete(status::ok);
    }
  }
  void after() { RL_ASSERT(outcome == static_cast<int>(waiter_t<F>::outcome::completed)); }
};

// timed waiter vs claiming waker vs stop request.
template <flavor F>
struct claim_vs_leave_suite : rl::test_suite<claim_vs_leave_suite<F>, 3> {
  waiter_t<F> node;
  rl::var<int> payload;
  int outcome = -1;
  bool claimed = false;

  void before() { payload(RL_INFO) = 0; }
  void thread(unsigned index) {
    if (index == 0) {
      outcome = static_cast<int>(node.await(handoff::detail::deadline::after(std::chrono::hours(1))));
      if (outcome == static_cast<int>(waiter_t<F>::outcome::completed)) RL_ASSERT(payload(RL_INFO) == 42);
    } else if (index == 1) {
      claimed = node.try_claim();
      if (claimed) {
        payload(RL_INFO) = 42;
        node.complete(status::ok);
      }
    } else {
      node.interrupt();
    }
  }
  void after() {
    const bool completed = outcome == static_cast<int>(waiter_t<F>::outcome::completed);
    RL_ASSERT(completed == claimed);  // G-2: exactly one side won
  }
};

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  // Exhaustive where it terminates (full search); bounded exhaustive (every schedule with at most 4
  // preemptions) plus a random sample where it does not. About 6 s in all at -O2.
  ok &= run<handoff_suite<flavor::correct>>("handoff", rl::fair_full_search_scheduler_type, 0);
  ok &= run<unclaim_suite<flavor::correct>>("unclaim", rl::fair_context_bound_scheduler_type, 0, 4);
  ok &= run<claim_vs_leave_suite<flavor::correct>>("claim vs leave", rl::fair_context_bound_scheduler_type, 0,
                                                   4);
  ok &= run<claim_vs_leave_suite<flavor::correct>>("claim vs leave", rl::random_scheduler_type, 1000000);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
