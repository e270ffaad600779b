// ---------------------------------------------------------------------------------------------------------------
// lib/blocked_registry.hpp: the registry of blocked-thread records (internal to lib/; the records are
// described in include/handoff/detail/blocked_record.hpp). The reports of handoff/debug.hpp read it through
// visit_records(), which holds the registry's mutex for the whole visit (detail/channel_info.hpp,
// Invariants).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/detail/blocked_record.hpp>

#include <cstdint>
#include <functional>

namespace handoff::detail {

// One consistent copy of a record, taken under its sequence lock.
struct record_copy {
  static constexpr std::uint32_t max_sites = 8;  // a select's cases beyond the eighth are counted, not listed
  long thread_id = 0;
  bool blocked = false;
  std::uint64_t waits = 0;    // parked waits begun by this thread so far (progress, for the watchdog)
  std::int64_t since_ns = 0;  // steady_clock, at the park (kept after the wait ends)
  deadline::clock_kind deadline_kind = deadline::clock_kind::never;
  std::int64_t deadline_ns = 0;  // since the epoch of deadline_kind's clock
  bool stoppable = false;
  std::uint32_t count = 0;  // sites of the wait (may exceed max_sites)
  wait_site sites[max_sites]{};
};

// Calls f(copy) for every record in use, holding the registry's mutex: the channel_info pointers in a copy
// may be followed (and their describe hooks called) inside f only.
void visit_records(const std::function<void(const record_copy&)>& f);

// Acquires the calling thread's record now (handoff::debug::reserve_thread_record).
bool reserve_this_thread_record() noexcept;

// The OS thread id of the calling thread (gettid() on Linux).
long current_thread_id() noexcept;

// Monotonic nanoseconds (steady_clock), the clock of record_copy::since_ns.
std::int64_t steady_now_ns() noexcept;

}  // namespace handoff::detail
