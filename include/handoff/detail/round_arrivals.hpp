// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/round_arrivals.hpp: who finishes a round of an awaiting coroutine
// (detail/async_operation.hpp, invariant 1), written once so that the Relacy model of the round
// (tests/model/async_round_model.cpp) runs the code as shipped.
//
// Purpose: a round of an async operation ends with exactly two arrivals: the registering code, when it has
// finished touching the round, and the round's one event (a channel's completion hook, a stop callback that
// left the round, or the registering code itself when it left: then it arrives with 2). The arrival that
// brings the count to zero processes the round; the other never touches the operation again.
// Invariants: expect_two() runs before the core is rearmed (wait_core::rearm), so no event of the round can
// arrive before it; each round sees exactly two units of arrival.
// Memory ordering: each arrival is an acq_rel fetch_sub, so the processing thread sees everything both
// arrivers wrote before arriving (the registering code's fields, the channel's payload). expect_two's store
// is relaxed: rearm()'s release compare-exchange on the core word publishes it to every event of the round
// (a channel's claim reads that word with acquire; a stop callback's leave with acq_rel).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff::detail {

template <class Sync>
class round_arrivals {
 public:
  // Before the core is rearmed for a new round.
  void expect_two() noexcept {
    // relaxed: published by wait_core::rearm()'s release (see the header comment).
    pending_.store(2, std::memory_order_relaxed);
  }
  // Arrive with `count` (1, or 2 for registering code that left its own round). True for the arrival that
  // completes the round: its caller processes the round.
  bool arrive(std::uint32_t count) noexcept {
    // acq_rel: the second arrival sees the first's writes (the round's fields, the channel's payload).
    return pending_.fetch_sub(count, std::memory_order_acq_rel) == count;
  }

 private:
  typename Sync::template atomic<std::uint32_t> pending_{0};
};

}  // namespace handoff::detail
