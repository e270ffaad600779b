// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/step_hazard.hpp: which ring each thread is making a step on, so that no ring is freed under
// a step.
//
// Purpose: a stream ring's step (detail/stream_ring.hpp) is a plain store of the slot's turn followed by a
// load of the slot's flags. The partner that waits for the store may return at once, and the stream may be
// destroyed as soon as its last operation returned (a one-shot reply channel: the popper destroys it while
// the pusher is still between its store and its load). Each thread therefore names the ring it is stepping
// on in a record of its own (a hazard pointer), and a ring's destructor waits until no record names it.
// Invariants:
//   1. A step_window is open from before the step's store until after its last access to the ring; its
//      record names the ring throughout (the previous name is restored at the end, for a step made inside
//      another one's hook).
//   2. await_no_step_on(ring) returns only when no record names the ring. A record names it only inside a
//      window, so the wait is bounded by the stepping threads' progress (a few instructions each, unless the
//      thread is descheduled inside: then it yields).
//   3. Records live as long as the process (reused by later threads after their thread ends), so reading one
//      never touches freed memory. The first 256 are static (a thread's first step allocates nothing: G-6);
//      a thread that finds no free record and no memory for one shares one record that counts open windows.
// Memory ordering: the record's store of the ring is relaxed and comes before the step's release store of the
// turn, so a thread that read that turn with acquire (the partner), and every thread that synchronised with
// it afterwards (the destroyer), sees the name or a later value; the window's end is a release store and the
// destructor's read an acquire load, so the step's last accesses happen-before the ring is freed.
// Cost: two relaxed stores to a line only this thread writes, per step; the destructor scans every record
// under one mutex (lib/step_hazard.cpp).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>

namespace handoff::detail {

struct alignas(64) step_record {
  std::atomic<const void*> ring{nullptr};  // the ring this thread is stepping on, or null
  std::atomic<bool> in_use{false};         // owned by a live thread (guarded by the registry's mutex)
  // The one shared record (for a thread that could not get one of its own: no memory): it counts the
  // windows open on any ring instead of naming one, and every ring's destructor waits for the count.
  bool shared = false;
  std::atomic<long> open_windows{0};
};

// This thread's record, null until its first step. constinit: a plain thread-local load, no guard.
inline constinit thread_local step_record* this_thread_step_record = nullptr;

// lib/step_hazard.cpp: give this thread a record (reused or new; released when the thread ends).
step_record* register_stepping_thread() noexcept;
// lib/step_hazard.cpp: wait until no thread is inside a step_window on `ring` (invariant 2).
void await_no_step_on(const void* ring) noexcept;

class step_window {
 public:
  explicit step_window(const void* ring) noexcept
      : record_(this_thread_step_record ? this_thread_step_record : register_stepping_thread()) {
    if (record_->shared) [[unlikely]] {
      // relaxed: as the store below (ordered before the step's release store).
      record_->open_windows.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // relaxed: only this thread writes its record's name.
    previous_ = record_->ring.load(std::memory_order_relaxed);
    // release (review): a destroyer that reads this name must see the end of this thread's previous window
    // too (a release sequence no longer continues through plain stores); free on x86.
    record_->ring.store(ring, std::memory_order_release);
  }
  ~step_window() {
    // release: the step's accesses to the ring happen-before a destructor's acquire read of the name.
    if (record_->shared) [[unlikely]]
      record_->open_windows.fetch_sub(1, std::memory_order_release);
    else
      record_->ring.store(previous_, std::memory_order_release);
  }
  step_window(const step_window&) = delete;
  step_window& operator=(const step_window&) = delete;

 private:
  step_record* record_;
  const void* previous_ = nullptr;
};

}  // namespace handoff::detail
