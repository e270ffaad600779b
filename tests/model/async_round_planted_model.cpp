// Planted-bug self-check of the async-round model (reliability principle 2). The stem contains "planted", so
// ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted variant
// below. Same suites as async_round_model.cpp, same library code, with a broken Sync
// (tests/model/rl_sync.hpp) for the coroutine's core, link and arrivals (the channel's lock stays correct):
//   relaxed_rmw: every arrival's fetch_sub is relaxed (and the stop's fetch_or). The thread that arrives
//                second no longer sees what the first arriver did: it may find the core not completed by the
//                channel that claimed it and report the round as left by the stop (a failed assertion), or
//                read the round's state or the payload unordered (a DATA RACE).
// Not planted: a relaxed rearm(). The argument that its release publishes expect_two() to a stop callback's
// arrival rests on the modification order of the arrival count, and Relacy orders each atomic's modifications
// as it executes them, so a relaxed rearm passes here (a channel's arrival is ordered by the channel's lock
// anyway). That argument is checked by review only (detail/round_arrivals.hpp).
#define HANDOFF_MODEL_NO_MAIN
#include "async_round_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool relaxed_arrival_missed = run<one_round_suite<flavor::relaxed_rmw, false>>(
      "planted relaxed arrival", rl::fair_context_bound_scheduler_type, 0, 2);
  const bool all_caught = !relaxed_arrival_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
