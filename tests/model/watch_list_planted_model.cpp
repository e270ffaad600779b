// Planted-bug self-check of the readiness-watch model (reliability principle 2). The stem contains
// "planted", so ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted
// variant below. Same suite as watch_list_model.cpp, same library code, with a broken Sync
// (tests/model/rl_sync.hpp) for the watch (the channel's lock stays correct):
//   no_wake:     release_hold's unpark_all does nothing. An unwatch that parked while the firer still held
//                the link is never woken: DEADLOCK.
//   relaxed_rmw: release_hold's fetch_sub is relaxed. wait_unheld's acquire load no longer synchronises with
//                it, so the notifier's accesses are not ordered before what the unwatcher does once unwatch
//                returned: DATA RACE (first found on the watcher's destroyed mark, which the notifier reads).
#define HANDOFF_MODEL_NO_MAIN
#include "watch_list_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool no_wake_missed = run<fire_vs_unwatch_suite<flavor::no_wake>>(
      "planted unwatch without wake", rl::fair_context_bound_scheduler_type, 0, 3);
  const bool relaxed_missed = run<fire_vs_unwatch_suite<flavor::relaxed_rmw>>(
      "planted relaxed hold release", rl::fair_context_bound_scheduler_type, 0, 3);
  const bool all_caught = !no_wake_missed && !relaxed_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
