// Planted-bug self-check of the unclaimed-wait model (reliability principle 2). The stem contains "planted",
// so ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted variant
// below. Same suites as unclaimed_wait_model.cpp, same library code, with a broken Sync
// (tests/model/rl_sync.hpp):
//   no_wake:     wake_unclaimed's unpark does nothing. A pop that parked before the give-back is never woken:
//                DEADLOCK.
//   no_wake, claimed suite: a pop waiting in take() (or the next lap's push in fill()) parked is never woken
//                by the step it waits for: DEADLOCK.
//   relaxed_cas: await_step marks itself asleep with a relaxed compare-exchange. Reading the give-back's
//                fetch_and no longer makes the pop see the tail at 0, so it may park after the give-back
//                cleared the bit: DEADLOCK.
#define HANDOFF_MODEL_NO_MAIN
#include "unclaimed_wait_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool no_wake_missed = run<give_back_suite<flavor::no_wake>>("planted give-back without wake",
                                                                    rl::fair_full_search_scheduler_type, 0);
  const bool relaxed_missed = run<give_back_suite<flavor::relaxed_cas>>("planted relaxed await_step CAS",
                                                                        rl::random_scheduler_type, 200000);
  const bool claimed_missed = run<claimed_suite<flavor::no_wake, false>>(
      "planted step without wake (claimed)", rl::random_scheduler_type, 200000);
  const bool all_caught = !no_wake_missed && !relaxed_missed && !claimed_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
