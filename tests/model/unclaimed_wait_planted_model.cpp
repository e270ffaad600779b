// Planted-bug self-check of the unclaimed-wait model (reliability principle 2). The stem contains "planted",
// so ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects *every* planted variant
// below. Same suites as unclaimed_wait_model.cpp, same library code, with a broken Sync
// (tests/model/rl_sync.hpp):
//   no_wake:     wake_unclaimed's unpark does nothing. A pop that parked before the give-back is never woken:
//                DEADLOCK.
//   relaxed_cas: wake_unclaimed's read-modify-write of the slot's flags (a compare-exchange) loses its
//                release. The pop's mark reading from it no longer makes the pop see the tail at 0, so it may
//                park after the give-back found no bit: DEADLOCK. (A relaxed mark alone is not a bug where
//                the store-load fence follows it: that fence is also an acquire fence.)
//   no_store_load_fence: the publishing push stores the turn and reads the flags, the pop marks the flags
//                and reads the turn, neither with the fence between: each may miss the other's write (store
//                buffering), so the pop parks and the push does not wake it: DEADLOCK.
#define HANDOFF_MODEL_NO_MAIN
#include "unclaimed_wait_model.cpp"

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool no_wake_missed = run<give_back_suite<flavor::no_wake>>("planted give-back without wake",
                                                                    rl::fair_full_search_scheduler_type, 0);
  const bool relaxed_missed = run<give_back_suite<flavor::relaxed_cas>>("planted relaxed give-back serve",
                                                                        rl::random_scheduler_type, 200000);
  const bool fence_missed = run<publish_suite<flavor::no_store_load_fence>>(
      "planted step without the store-load fence", rl::fair_full_search_scheduler_type, 0);
  const bool all_caught = !no_wake_missed && !relaxed_missed && !fence_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
