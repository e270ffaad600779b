// ---------------------------------------------------------------------------------------------------------------
// handoff/status.hpp: the one result type shared by every primitive.
//
// Purpose: non-throwing operations (try_, _for, _until, stop-token forms) report why they did or did not
// complete. A status other than `ok` means the operation had no effect: a value offered by the caller is
// still the caller's (rule G-2), and nothing was taken. The one exception is a topic publish that gave up
// part-way (timeout, cancelled, closed): its publish_result says how many subscribers it reached.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

namespace handoff {

enum class status {
  ok,         // the operation completed
  empty,      // try_: nothing to take
  full,       // try_: no room (or, for a rendezvous, no waiting receiver)
  closed,     // the primitive was closed; nothing was transferred
  timeout,    // the deadline passed first
  cancelled,  // the std::stop_token was triggered first
};

// Lower-case name of the enumerator ("ok", "empty", ...); "unknown" for a value outside the enum.
const char* to_string(status s) noexcept;

}  // namespace handoff
