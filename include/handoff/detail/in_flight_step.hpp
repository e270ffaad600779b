// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/in_flight_step.hpp: what a coroutine's try step reports when its operation would wait for a
// step already in flight in another thread (stream.hpp invariant 12): the ring slot (or the next overflow
// cell) and the turn it saw there. The coroutine hooks that turn and is resumed when it moves, instead of
// parking its executor's thread on it (docs/semantics.md CR-5).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstdint>

namespace handoff::detail {

struct in_flight_step {
  bool overflow = false;    // the next overflow cell (being written), not a ring slot
  bool pop = false;         // a publication a pop waits for (its push may still give the index back)
  std::uint32_t index = 0;  // the ring index whose slot the step is on
  std::uint32_t seen = 0;   // that slot's turn as the try read it (flags dropped)
  bool install = false;     // the overflow list's block install (a push met its sentinel); seen: its turn
};

// Null for every thread's operation: only a coroutine's try asks for the step instead of waiting for it.
using inflight_step_ptr = in_flight_step*;

}  // namespace handoff::detail
