// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/blocked_record.hpp: the blocked-thread record (rule OB-4): what a parked thread waits on.
//
// Purpose: each thread that ever parks in handoff gets one record, allocated at its first park and reused
// for every later one (never per wait; released for reuse when the thread exits). wait_core::await writes it
// just before the thread's first park of a wait and clears it when the wait ends: the primitives and
// operations it waits on (every case of a select), since when, its deadline, whether a stop token can end
// it. handoff/debug.hpp reads the records from any thread (dump_blocked, the deadlock watchdog).
//
// Invariants:
//   - Only the owning thread writes its record, with relaxed stores inside a sequence lock (the sequence is
//     odd while it writes); a reader copies the fields and retries if the sequence moved: a reader never
//     blocks the waiter, and the waiter never waits for a reader.
//   - The record points to channel_info objects; detail/channel_info.hpp (Invariants) says why a reader may
//     follow those pointers and why the waiter may still touch them after it was served.
//   - Nothing here runs on a fast path: note_blocked runs once per wait that parks (a system call follows),
//     with one clock read; note_unblocked reads the clock again only when block timing is on (OB-3).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

#include "channel_info.hpp"
#include "deadline.hpp"

namespace handoff::detail {

// The operation a thread waits in, as a report names it.
enum class wait_op : std::uint8_t { pop, push, take, put, read, wait, wait_closed };
const char* wait_op_name(wait_op op) noexcept;

// One primitive and operation a waiting thread waits on (a select has one per enabled case).
struct wait_site {
  const channel_info* channel = nullptr;
  wait_op op = wait_op::wait;
};

// The record of a wait that parks: written by note_blocked (lib/blocked_registry.cpp), cleared by
// note_unblocked, which also adds the parked time to every site's channel when block timing is on.
void note_blocked(const wait_site* sites, std::uint32_t count, const deadline& d, bool stoppable) noexcept;
void note_unblocked(const wait_site* sites, std::uint32_t count) noexcept;

// Block timing (OB-3), off by default: handoff::debug::set_block_timing.
void set_block_timing(bool on) noexcept;
bool block_timing_on() noexcept;

// Whether Sync's waits keep blocked-thread records: the OS policies do, a deterministic test scheduler may;
// a model checker's policy (Relacy), whose threads are not OS threads, does not.
template <class Sync>
inline constexpr bool records_blocked = requires {
  requires Sync::record_blocked;
};

// What a wait_core records when it parks: passed by the primitive to wait_core::await (its sites outlive the
// wait).
struct wait_description {
  const wait_site* sites = nullptr;
  std::uint32_t count = 0;
};

}  // namespace handoff::detail
