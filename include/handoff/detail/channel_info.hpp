// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/channel_info.hpp: what a primitive tells the reports of handoff/debug.hpp about itself.
//
// Purpose: every primitive holds one channel_info: its kind ("stream", "mvar", ...), its optional name
// (OB-1), a describe hook that writes the facts a deadlock report prints (closed? values buffered? waiters on
// each side?), and the time its waiters spent parked when block timing is on (OB-3). A thread that parks on
// the primitive records a pointer to this object in its blocked-thread record (detail/blocked_record.hpp).
//
// Invariants (lifetime, the one subtle point: a report must never follow a pointer to a destroyed
// primitive, and a waiter must never touch a primitive that its partner may already have destroyed):
//   1. A waiter's record names channel_info objects only while its wait is in progress; the waiter clears it
//      (the sequence lock's last store, seq_cst) before it returns, and before it unpins (3).
//   2. While a waiter is linked in a primitive's queue, the primitive outlives the wait (G-9: destroying it
//      then is a precondition violation). So is it while the waiter gives up (it takes the primitive's lock
//      to unlink itself) and while a select delists its losing links.
//   3. The exception: a partner that served the waiter may destroy the primitive at once, before the served
//      thread runs again (std::condition_variable allows the same). A waiter that parks marks its core
//      `recorded` (detail/waiter.hpp); the claimer, which is inside an operation on the primitive, sees the
//      mark in its claim and pins this channel_info (pin(): `pending` + 1) before it completes the waiter;
//      the waiter unpins it after clearing its record (and after adding its parked time, OB-3). The
//      destructor waits for `pending` to drop to 0: a bounded wait on a thread that was just woken.
//   4. Readers (reports) hold the registry's mutex while they read records and follow their pointers, and
//      announce themselves first in a seq_cst counter (reports_in_progress). The destructor, after (3),
//      loads that counter (seq_cst) and passes through the mutex only if a report is in progress. Why that
//      is enough: the waiter's clear (seq_cst) happens-before the destructor's load, so if the load reads
//      0, a report that starts later (seq_cst increment after the load in the single total order) reads the
//      record's sequence (seq_cst) after the clear and never sees this channel; one already running holds
//      the counter above 0 and the destructor waits for its mutex.
//   - kind, name and the describe hook never change after construction.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "../name.hpp"

namespace handoff::detail {

// Waits until no report is reading records (lib/blocked_registry.cpp): see Invariants, 4.
void forget_channel() noexcept;
// Yields until `pending` is 0 (Invariants, 3): its waiters were woken and are about to unpin.
void await_unpinned(const std::atomic<std::uint32_t>& pending) noexcept;

class channel_info {
 public:
  // Writes the facts a deadlock report shows ("closed, 0 buffered, 1 popper waiting"); called with no lock of
  // the primitive held (it takes what it needs) and never on a fast path.
  using describe_fn = void (*)(const void* channel, std::string& out);

  channel_info(const char* kind, const void* channel, describe_fn describe) noexcept
      : kind_(kind), channel_(channel), describe_(describe) {}
  channel_info(const char* kind, const void* channel, describe_fn describe, handoff::name n)
      : channel_info(kind, channel, describe) {
    const std::string_view text = n.text();
    name_ = std::make_unique<char[]>(text.size() + 1);  // the one allocation of a name (OB-1)
    std::memcpy(name_.get(), text.data(), text.size());
    name_[text.size()] = '\0';
  }
  channel_info(const channel_info&) = delete;
  channel_info& operator=(const channel_info&) = delete;
  ~channel_info() {
    // acquire: pairs with unpin()'s release (the waiter's record clear and parked-time add come before).
    if (pending_.load(std::memory_order_acquire) != 0) await_unpinned(pending_);
    forget_channel();
  }

  const char* kind() const noexcept { return kind_; }
  std::string_view name() const noexcept {
    return name_ ? std::string_view(name_.get()) : std::string_view();
  }
  // "stream \"rx\"", or "stream 0x7ff..." for an unnamed one.
  std::string label() const;
  void describe(std::string& out) const {
    if (describe_) describe_(channel_, out);
  }

  // Invariants, 3: the claimer of a recorded waiter pins (inside an operation on this primitive), the
  // waiter unpins when it no longer needs this object.
  void pin() const noexcept {
    pending_.fetch_add(1, std::memory_order_relaxed);  // relaxed: the pinning thread itself destroys later
  }
  void unpin() const noexcept {
    // release: the waiter's last uses of this object (its record clear, add_blocked_ns) come before; pairs
    // with the destructor's acquire.
    pending_.fetch_sub(1, std::memory_order_release);
  }
  // Block timing (OB-3): nanoseconds parked, summed over the waits that ended.
  void add_blocked_ns(std::uint64_t ns) const noexcept {
    blocked_ns_.fetch_add(ns, std::memory_order_relaxed);  // relaxed: a statistic, read as a snapshot
  }
  std::uint64_t blocked_ns() const noexcept { return blocked_ns_.load(std::memory_order_relaxed); }

 private:
  const char* kind_;
  const void* channel_;
  describe_fn describe_;
  std::unique_ptr<char[]> name_;                   // nullptr: no name (no allocation)
  mutable std::atomic<std::uint32_t> pending_{0};  // Invariants, 3 (written through a record's const sites)
  mutable std::atomic<std::uint64_t> blocked_ns_{0};
};

}  // namespace handoff::detail
