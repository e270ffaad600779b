// ---------------------------------------------------------------------------------------------------------------
// handoff/stats.hpp: the statistics a primitive's stats() returns (rules OB-2, OB-3 of docs/semantics.md).
//
// Exact and free on the fast path: every count below changes only under the primitive's slow-path lock, at
// an event that takes that lock anyway (a thread registers as a waiter, is served, times out, is cancelled,
// is ended by close), so an operation that completes on the lock-free fast path is never counted and costs
// nothing more. stats() takes the lock once and copies the counts: a consistent snapshot.
//
//   waits          operations that registered as waiters on this side (a select counts once per case it
//                  registered, each time it registers)
//   served         waiters a partner claimed to serve: a value handed over (or taken from them), a signal
//                  delivered. When the hand-off's move throws (G-8) and the waiter starts again, the claim
//                  still counts, and the waiter's new registration counts as a new wait.
//   closed         waiters that close() ended (streams)
//   timeouts, cancellations   waiters whose deadline passed or whose stop token fired before anyone served
//                  them (a blocking form's; a select that times out or is cancelled is not counted per case)
//   peak_waiters   the most waiters queued on this side at once
// blocked_ns: nanoseconds that this primitive's waiters spent parked, summed over waits that ended; counted
// only while handoff::debug::set_block_timing(true) (one more clock read per parked wait), 0 otherwise. A
// wait that ended in the spin phase never parked and adds nothing.
//
// Left out on purpose: a high-water mark of buffered values (it would cost a read on every fast push; a
// stream's size() is the snapshot), and counts of fast-path operations (push, pop, signal with nobody
// waiting), which would cost an atomic increment on every call.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <cstdint>

namespace handoff {

struct wait_stats {
  std::uint64_t waits = 0;
  std::uint64_t served = 0;
  std::uint64_t closed = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t cancellations = 0;
  std::size_t peak_waiters = 0;
  friend bool operator==(const wait_stats&, const wait_stats&) = default;
};

struct stream_stats {
  wait_stats pop, push, wait_closed;
  // Slow-path pushes that found a bounded stream full (or pushers already queued; capacity 0: no popper
  // waiting), and slow-path pops that found it empty, each time they looked under the lock (a retry after
  // the state moved looks again). try_push / try_pop that answer full / empty on the fast path are not
  // counted.
  std::uint64_t full_events = 0;
  std::uint64_t empty_events = 0;
  // An unbounded stream's overflow blocks linked now (each holds stream<T>::overflow_block_values: 31 to
  // 127).
  std::size_t overflow_blocks = 0;
  std::uint64_t blocked_ns = 0;
};

struct mvar_stats {
  wait_stats take, put, read;  // take counts swap too
  std::uint64_t blocked_ns = 0;
};

struct condition_stats {
  wait_stats wait;  // served: waiters a signal or broadcast reached
  std::uint64_t blocked_ns = 0;
};

}  // namespace handoff
