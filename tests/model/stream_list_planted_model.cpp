// Planted-bug self-check of the overflow list model (reliability principle 2). The stem contains "planted",
// so ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted variant
// below. Same suites as stream_list_model.cpp, same library code, with a broken Sync
// (tests/model/rl_sync.hpp):
//   relaxed_cas:      every compare-exchange is relaxed: the claim of a list cell no longer acquires the
//                     install that moved L into the cell's lap (nor the lock what its last holder wrote).
//                     Relacy reports an access to an uninitialised variable within a few iterations.
//   relaxed_exchange: every exchange is relaxed: a cell's or slot's publish, and the lock's release, no
//                     longer release what came before them. Relacy reports a livelock (a waiter that never
//                     sees the step it waits for) within a few dozen iterations.
#define HANDOFF_MODEL_NO_MAIN
#include "stream_list_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool cas_missed = run<two_pushers_popper<flavor::relaxed_cas>>("planted relaxed claims",
                                                                       rl::random_scheduler_type, 100000);
  const bool exchange_missed = run<two_pushers_popper<flavor::relaxed_exchange>>(
      "planted relaxed publish", rl::random_scheduler_type, 100000);
  const bool all_caught = !cas_missed && !exchange_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
