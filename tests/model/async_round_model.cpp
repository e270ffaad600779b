// Relacy model check of a round of an awaiting coroutine (include/handoff/detail/async_operation.hpp,
// invariants 1-3; rules CR-3, CR-4): the library's own wait_core (rearm, try_leave, interrupt_and_leave, the
// resume hook of complete()), waiter link and round_arrivals run over rl_sync (tests/model/rl_sync.hpp), so
// Relacy explores their real memory orders. The rest of async_operation is reduced to what a round does with
// them: the coroutine's thread expects two arrivals, rearms the core, registers its link with a channel
// (under the channel's lock, the library's slow_lock), may find a case ready and leave, and arrives; a
// channel claims the link if it is registered, writes its payload and completes it (the hook arrives); a stop
// callback marks the core and leaves the round if nobody claimed it (and then arrives). Whoever arrives
// second processes the round, inline (the coroutine's thread) or as the posted work item (the event's
// thread).
//
// What each suite proves (every interleaving Relacy explores; two processings of one round, or one that does
// not see what the arrivers wrote, is a DATA RACE or a failed assertion):
//   one_round:          a round with a channel and a stop callback racing; its registering code either waits
//                       or (Leave) finds a case ready and leaves. Exactly one event decides the round (the
//                       channel's claim, the coroutine's leave or the stop's leave; or the rearm fails
//                       because the stop came first); the round is processed exactly once when it was
//                       rearmed, by a thread that sees the registering code's writes and, when the channel
//                       won, its payload (CR-4: a value goes only to a claimed core, which then reports it).
//   stop_across_rounds: the coroutine leaves round 1 (a case ready) and, when it processes that round itself,
//                       starts round 2; a stop callback races with both. The stop is seen exactly once: it
//                       leaves round 1 (then round 1 ends cancelled), or the check before round 2 sees it, or
//                       makes round 2's rearm fail, or leaves round 2 (invariant 3).
//   retry_then_stop:    a channel claims round 1 and cannot hand over (a new round, started by whichever
//                       thread processes round 1) while a stop races; a stop that reaches the claimed core
//                       can neither leave it nor make the next rearm fail (complete() erases its mark), so
//                       only the check of the stop flag before each round ends the operation then (without
//                       that check this suite fails: round 2 waits for an event that never comes). Every
//                       rearmed round is processed exactly once.
// Not checked (the arrivals' acq_rel orders the same data on every path here): complete()'s release and
// resumed()'s acquire, interrupt_and_leave's orders, and rearm()'s release of expect_two() to a stop's
// arrival (Relacy orders each atomic's modifications as it executes them). docs/reliability.md says more.
// Run: build/dev/tests/async_round_model (ctest -R async_round_model). Exit 0 when every suite passes.
#include <handoff/detail/round_arrivals.hpp>
#include <handoff/detail/slow_lock.hpp>
#include <handoff/detail/waiter.hpp>
#include <handoff/status.hpp>

#include <cstdio>
#include <cstdlib>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

namespace handoff_model {

using handoff::status;

template <flavor F>
struct round_kit {
  using sync = rl_sync<F>;
  using core = handoff::detail::wait_core<sync>;
  using link = handoff::detail::waiter<sync>;
  using arrivals = handoff::detail::round_arrivals<sync>;
};
using channel_lock = handoff::detail::slow_lock<rl_sync<flavor::correct>>;

// How a round ended, as the processing thread finds it (async_operation::finish_round).
enum class ended { not_processed, by_channel, left_by_us, left_by_stop, rearm_failed, stop_seen };

// The parts of an awaiting coroutine a round touches, and the channel it waits on.
template <flavor F>
struct coroutine_round {
  typename round_kit<F>::core core;
  typename round_kit<F>::link link{core, 0};
  typename round_kit<F>::arrivals arrivals;
  channel_lock lock;
  bool registered = false;   // the channel's queue holds the link (guarded by lock)
  rl::var<int> round_field;  // written by the registering code before it arrives (the round's state)
  rl::var<int> payload;      // written by the channel before complete()
  rl::var<int> processed;    // the processing: two of one round (or one unordered with an arriver) race
  bool left_by_us = false;   // the coroutine's thread only, before its arrival
  ended outcome = ended::not_processed;
  bool channel_claimed = false;  // the channel's thread
  bool stop_left = false;        // the stop callback's thread
  int processings = 0;           // as `processed`, read by after()
  bool retry = false;            // the channel's hand-over failed (its retry status): a new round follows
  bool went_to_round_two = false;
  int rounds_rearmed = 0;
  // std::stop_source's flag (not the library's Sync: never planted). request_stop sets it before it runs the
  // callbacks; register_round looks at it before each round (async_operation.hpp, invariant 3).
  rl_sync<flavor::correct>::atomic<int> stop_requested{0};

  static void on_event(void* self) noexcept { (void)static_cast<coroutine_round*>(self)->arrive(1); }

  void init() {
    core.set_resume_hook(&on_event, this);
    (void)core.try_leave();  // no round yet, as await_suspend
    round_field(RL_INFO) = 0;
    payload(RL_INFO) = 0;
    processed(RL_INFO) = 0;
  }

  // Steps 2-3 of a round (register_round). `ready`: a case turns out ready while registering.
  enum class step { stopped, suspended, processed };
  step register_and_arrive(bool ready, int field) {
    // acquire: as std::stop_token::stop_requested (libstdc++).
    if (stop_requested.load(std::memory_order::acquire)) {
      outcome = ended::stop_seen;  // cancelled before the round
      return step::stopped;
    }
    arrivals.expect_two();
    if (!core.rearm()) {
      outcome = ended::rearm_failed;  // the stop came first: cancelled, nothing to process
      return step::stopped;
    }
    ++rounds_rearmed;
    round_field(RL_INFO) = field;
    lock.lock();
    registered = true;
    lock.unlock();
    left_by_us = ready && core.try_leave();
    // From here the round belongs to whoever arrives second: if not this thread, it touches nothing more.
    return arrive(left_by_us ? 2 : 1) ? step::processed : step::suspended;
  }

  // Invariant 1: the second arrival processes the round (inline or as the posted work item). True when this
  // call processed it.
  bool arrive(std::uint32_t count) {
    if (!arrivals.arrive(count)) return false;
    processed(RL_INFO) = processed(RL_INFO) + 1;
    ++processings;
    // Unregister (the channel's lock), then look at the core (finish_round).
    lock.lock();
    registered = false;
    lock.unlock();
    RL_ASSERT(round_field(RL_INFO) != 0);  // the registering code's writes are visible
    if (core.resumed()) {
      RL_ASSERT(payload(RL_INFO) == 42);  // G-4 through the hook: the payload is visible
      outcome = ended::by_channel;
    } else {
      outcome = left_by_us ? ended::left_by_us : ended::left_by_stop;
    }
    if (outcome == ended::by_channel && retry) {
      // finish_round: the channel could not hand over; a new round starts, here (the posted work item).
      // Only a stop can end it (the channel made its one claim).
      retry = false;
      went_to_round_two = true;
      outcome = ended::not_processed;
      left_by_us = false;
      (void)register_and_arrive(false, 2);
    }
    return true;
  }

  // The channel: claims the link if it is registered, delivers and completes it outside the lock.
  void channel(bool hand_over_fails = false) {
    lock.lock();
    const bool claim = registered && link.try_claim();
    if (claim) registered = false;  // claim_oldest unlinks it
    lock.unlock();
    if (!claim) return;
    channel_claimed = true;
    retry = hand_over_fails;
    payload(RL_INFO) = 42;
    link.complete(status::ok);  // runs the hook: the channel's arrival
  }

  // The stop callback (async_operation::stopper).
  void stop() {
    // acq_rel: as std::stop_source::request_stop's read-modify-write (libstdc++).
    stop_requested.fetch_or(1, std::memory_order::acq_rel);
    stop_left = core.interrupt_and_leave();
    if (stop_left) (void)arrive(1);
  }
};

template <flavor F, bool Leave>
struct one_round_suite : rl::test_suite<one_round_suite<F, Leave>, 3> {
  coroutine_round<F> r;
  bool rearmed = false;

  void before() { r.init(); }
  void thread(unsigned index) {
    if (index == 0)
      rearmed = r.register_and_arrive(Leave, 1) != coroutine_round<F>::step::stopped;
    else if (index == 1)
      r.channel();
    else
      r.stop();
  }
  void after() {
    // Exactly one event decided the round (invariant 2), and the processing says which.
    const int events = (r.channel_claimed ? 1 : 0) + (r.left_by_us ? 1 : 0) + (r.stop_left ? 1 : 0);
    if (!rearmed) {
      RL_ASSERT((r.outcome == ended::rearm_failed || r.outcome == ended::stop_seen) && events == 0 &&
                r.processings == 0);
      return;
    }
    RL_ASSERT(events == 1);
    RL_ASSERT(r.processings == 1);  // invariant 1: exactly once
    RL_ASSERT(r.outcome == (r.channel_claimed ? ended::by_channel
                            : r.left_by_us    ? ended::left_by_us
                                              : ended::left_by_stop));
    RL_ASSERT(Leave || !r.left_by_us);
  }
};

// The stop ended the operation exactly once: it left a round, or a round's rearm failed, or the check before
// a round saw it (invariant 3); and every round that was rearmed was processed exactly once (none waits for
// an event that never comes).
template <flavor F>
void check_stopped_once(const coroutine_round<F>& r) {
  RL_ASSERT(r.outcome == ended::left_by_stop || r.outcome == ended::rearm_failed ||
            r.outcome == ended::stop_seen);
  RL_ASSERT(r.processings == r.rounds_rearmed);
}

template <flavor F>
struct stop_across_rounds_suite : rl::test_suite<stop_across_rounds_suite<F>, 2> {
  coroutine_round<F> r;

  void before() { r.init(); }
  void thread(unsigned index) {
    if (index == 0) {
      // Round 1: a case is ready, the coroutine leaves (unless the stop left first). The coroutine's thread
      // goes on only if it processed round 1 itself and had left it (finish_round starts a new round);
      // otherwise round 1 ended cancelled, processed by whichever thread arrived second.
      using step = typename coroutine_round<F>::step;
      const step first = r.register_and_arrive(true, 1);
      if (first != step::processed || r.outcome != ended::left_by_us) return;
      r.went_to_round_two = true;
      r.outcome = ended::not_processed;
      r.left_by_us = false;
      (void)r.register_and_arrive(false, 2);  // round 2: waits (no channel here); only the stop ends it
    } else {
      r.stop();
    }
  }
  void after() { check_stopped_once(r); }
};

// A channel claims round 1 and cannot hand over (its retry status: a new round) while a stop races. The stop
// may reach the core while it is claimed: it cannot leave that round, and complete()'s exchange erases its
// mark, so the next rearm succeeds; only the check of the stop flag before each round (register_round) then
// ends the operation. Without it the coroutine would wait in round 2 for an event that never comes.
template <flavor F>
struct retry_then_stop_suite : rl::test_suite<retry_then_stop_suite<F>, 3> {
  coroutine_round<F> r;

  void before() { r.init(); }
  void thread(unsigned index) {
    if (index == 0)
      (void)r.register_and_arrive(false, 1);
    else if (index == 1)
      r.channel(true);
    else
      r.stop();
  }
  void after() { check_stopped_once(r); }
};

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  // Every schedule with at most 4 preemptions plus a random sample (the three-thread suites), a full search
  // of the two-thread one: about 2 s at -O2.
  ok &= run<one_round_suite<flavor::correct, false>>("async round: wait",
                                                     rl::fair_context_bound_scheduler_type, 0, 4);
  ok &= run<one_round_suite<flavor::correct, false>>("async round: wait", rl::random_scheduler_type, 200000);
  ok &= run<one_round_suite<flavor::correct, true>>("async round: leave",
                                                    rl::fair_context_bound_scheduler_type, 0, 4);
  ok &= run<one_round_suite<flavor::correct, true>>("async round: leave", rl::random_scheduler_type, 200000);
  ok &= run<stop_across_rounds_suite<flavor::correct>>("async round: stop across rounds",
                                                       rl::fair_full_search_scheduler_type, 0);
  ok &= run<retry_then_stop_suite<flavor::correct>>("async round: retry, then stop",
                                                    rl::fair_context_bound_scheduler_type, 0, 3);
  ok &= run<retry_then_stop_suite<flavor::correct>>("async round: retry, then stop",
                                                    rl::random_scheduler_type, 200000);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
