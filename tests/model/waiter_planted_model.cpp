// Planted-bug self-check of the Relacy model (reliability principle 2). The stem contains "planted", so ctest
// marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted variant below, so a
// model that goes blind to one of them fails CI. Same suites as waiter_model.cpp, same library code
// (include/handoff/detail/waiter.hpp), with a broken Sync (tests/model/rl_sync.hpp):
//   relaxed_exchange: complete()'s release exchange done relaxed. The waiter's read of the payload is then
//                     not ordered after the waker's write: Relacy reports a DATA RACE (G-4).
//   no_wake:          unpark_one does nothing, as if complete() ignored the sleeping bit. A waiter that
//   parked
//                     is never woken: Relacy reports a DEADLOCK (G-1).
#define HANDOFF_MODEL_NO_MAIN
#include "waiter_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool race_missed = run<handoff_suite<flavor::relaxed_exchange>>("planted relaxed complete()",
                                                                        rl::random_scheduler_type, 200000);
  const bool wake_missed = run<handoff_suite<flavor::no_wake>>("planted complete() without wake",
                                                               rl::fair_full_search_scheduler_type, 0);
  const bool all_caught = !race_missed && !wake_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
