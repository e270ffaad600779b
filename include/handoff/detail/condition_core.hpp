// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/condition_core.hpp: the waiter queue behind condition<T> and condition<void>.
//
// Purpose: everything condition<T> and condition<void> share: the FIFO of waiters, the "anyone waiting?"
// count that makes a signal with nobody waiting one atomic load (G-6), registration, the timeout/cancel
// unlink, and the claim-deliver-complete sequence of signal and broadcast. The public headers add only the
// payload (a value, or nothing) and the API shapes.
//
// State: lock_ (slow_lock) guards queue_; waiters_ mirrors queue_.size() and is written only under lock_.
// Invariants:
//   1. waiters_ == queue_.size() whenever lock_ is free. queue_ may hold waiters that already left (deadline,
//      stop request) and have not yet taken lock_ to unlink themselves; claim_oldest() skips them (CO-7).
//   2. A claimed node is off the queue and owned by the claimer until complete() (delivered) or give_back():
//      a plain waiter is unclaimed and relinked at the front, under lock_, so it cannot return before it is
//      linked again (a waiter that leaves always takes lock_ and unlinks itself if `linked`); a select's
//      link (its core shared with links on other channels, detail/waiter.hpp) is completed with kRetry
//      after lock_ is released instead, and its select starts again.
//   3. While a node is claimed, the claimer uses its `next` field to chain claimed nodes (broadcast); the
//      queue no longer touches it and the waiter never reads it.
//   4. T's constructors never run under lock_: values are moved or copied after the claim, outside the lock.
//
// Why the fast path's load cannot miss a waiter that registered before the signal (a lock-based argument, no
// seq_cst needed): a waiter registers by linking its node and storing the new queue size into waiters_, both
// under lock_, before it releases lock_ and, for wait(lock), before it releases the caller's lock.
// "Registered before the signal" means that this store happens-before the signaller's load: through lock_
// (waiting(), an earlier signal), through the caller's lock (CO-6: the notifier took the lock the waiter
// released), or any other synchronisation. Then read-write coherence ([intro.races]) forces the load to
// return that store or one later in waiters_'s modification order. Every later store is a queue size written
// under lock_, so a load of 0 means the queue was empty at that point: our waiter was already claimed by
// another signal or had left. A waiter whose registration is not ordered before the load is concurrent with
// the signal and may or may not be woken by it (both outcomes are linearizable). A broadcast takes effect
// when it takes lock_ (its snapshot, CO-4), or at its load when that reads 0.
//
// Memory ordering (G-4): complete() publishes the payload with a release exchange on the node's state word;
// the waiter's await() reads `done` with acquire. Everything the signaller did before signal/broadcast
// happens-before the woken wait's return. waiters_ carries no data and is relaxed on both sides.
// Lifetime: the core must outlive every operation on it; see condition.hpp.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <exception>
#include <stop_token>
#include <string>

#include "../name.hpp"
#include "../stats.hpp"
#include "../status.hpp"
#include "channel_info.hpp"
#include "deadline.hpp"
#include "precondition.hpp"
#include "slow_lock.hpp"
#include "waiter.hpp"
#include "waiter_queue.hpp"

namespace handoff::detail {

// What condition's wait(lock) forms accept: anything with lock() and unlock() (BasicLockable).
template <class L>
concept basic_lockable = requires(L& l) {
  l.lock();
  l.unlock();
};

// The caller's lock, released after registration (CO-6). noexcept: BasicLockable's unlock() does not throw,
// and a node already linked cannot be abandoned safely, so one that throws ends the program.
// `info`: the condition's, for the message (OB-1).
template <class Lock>
void release_caller_lock(Lock& lock, [[maybe_unused]] const channel_info& info) noexcept {
  if constexpr (requires { lock.owns_lock(); }) {
    HANDOFF_PRECONDITION_ON(info, lock.owns_lock(), "wait(lock) called without holding the lock (CO-6)");
  }
  lock.unlock();
}

// Re-acquires the caller's lock on every way out of a wait(lock) form (CO-6). As for
// std::condition_variable_any, a lock() that throws here ends the program (destructors are noexcept).
template <class Lock>
class relock_on_exit {
 public:
  explicit relock_on_exit(Lock& lock) noexcept : lock_(lock) {}
  ~relock_on_exit() { lock_.lock(); }
  relock_on_exit(const relock_on_exit&) = delete;
  relock_on_exit& operator=(const relock_on_exit&) = delete;

 private:
  Lock& lock_;
};

template <class Sync>
class condition_core {
 public:
  using node = waiter<Sync>;
  using outcome = typename node::outcome;
  // What a select's link is completed with when the signal's delivery to it threw: nothing was delivered,
  // the select starts again (give_back). A plain waiter never sees it.
  static constexpr status kRetry = status::empty;

  condition_core() noexcept = default;
  explicit condition_core(handoff::name n) : info_(kind_name, this, &condition_core::describe, n) {}
  condition_core(const condition_core&) = delete;
  condition_core& operator=(const condition_core&) = delete;

  ~condition_core() {
    // relaxed: a waiter this thread knows about registered happens-before this point (coherence, as above).
    HANDOFF_PRECONDITION_ON(info_, waiters_.load(std::memory_order_relaxed) == 0,
                            "destroyed while threads wait on it (G-9)");
  }

  const channel_info& info() const noexcept { return info_; }  // OB-1
  // OB-2: exact counts (handoff/stats.hpp), one lock.
  condition_stats stats() const {
    slow_guard<Sync> guard(lock_);
    return {queue_.counts(), info_.blocked_ns()};
  }

  // Diagnostic snapshot: linked waiters (including any that left and are about to unlink themselves).
  std::size_t waiting() const noexcept {
    slow_guard<Sync> guard(lock_);
    return queue_.size();
  }

  // G-7: a wait whose token is already stopped, or whose deadline already passed, returns at once without
  // registering (a condition stores nothing, CO-1, so "try" can only ever find nothing). When both hold, the
  // answer is cancelled, as in waiter::await (a stop request outranks a passed deadline).
  static bool gives_up_at_once(const deadline& d, const std::stop_token* st, outcome& o) noexcept {
    if (st && st->stop_requested()) {
      o = outcome::cancelled;
      return true;
    }
    if (!d.is_never() && Sync::passed(d)) {
      o = outcome::timed_out;
      return true;
    }
    return false;
  }

  // The status a result reports for an outcome: ok (a signal or broadcast reached the waiter), timeout, or
  // cancelled.
  static constexpr status status_of(outcome o) noexcept {
    switch (o) {
      case outcome::completed:
        return status::ok;
      case outcome::timed_out:
        return status::timeout;
      case outcome::cancelled:
        return status::cancelled;
    }
    return status::timeout;
  }

  // Registration: link `w` as the youngest waiter (a plain wait's node, or a select's link). From here on a
  // signal can claim it (CO-2).
  void enqueue(node& w) noexcept {
    slow_guard<Sync> guard(lock_);
    queue_.push_back(&w);
    publish_count();
  }

  // After enqueue (and after the caller's lock was released, CO-6): the protocol of detail/waiter.hpp. On a
  // timeout or cancellation the node was not claimed (waiter.hpp: leaving is a CAS from `waiting`), so it is
  // unlinked here if no signaller unlinked it already while skipping it.
  outcome await(node& w, const deadline& d, const std::stop_token* st) noexcept {
    const outcome o = await_with_stop(w.core(), d, st, {&site_, 1});
    if (o != outcome::completed) {
      slow_guard<Sync> guard(lock_);
      queue_.leave(w, [] {});
      queue_.count_gave_up(status_of(o));
      publish_count();
    }
    return o;
  }

  // A select's link that did not win through this condition: unlink it if a signaller did not (select.hpp).
  void delist(node& w) noexcept {
    slow_guard<Sync> guard(lock_);
    queue_.leave(w, [] {});
    publish_count();
  }

  // signal: claim the oldest waiter still waiting, run deliver(node&) outside the lock, complete it. If
  // deliver throws, the waiter goes back to the front of the queue, still waiting, and the exception reaches
  // the signaller (G-8). Returns how many waiters were woken (0 or 1).
  template <class Deliver>
  std::size_t signal_with(Deliver&& deliver) {
    // relaxed: carries no data; see "Why the fast path's load cannot miss" above.
    if (waiters_.load(std::memory_order_relaxed) == 0) return 0;  // CO-3, G-6: one load, no lock
    node* w;
    {
      slow_guard<Sync> guard(lock_);
      w = queue_.claim_oldest(&info_);
      publish_count();
    }
    if (!w) return 0;
    try {
      deliver(*w);
    } catch (...) {
      w->next = nullptr;
      give_back(w);
      throw;
    }
    w->complete(status::ok);  // the node may vanish now
    return 1;
  }

  // Tried and rejected (issue 20, 2026-12-03): every plain wait of a condition parked on one shared futex
  // word with a bit of its own (FUTEX_WAIT_BITSET; a signal wakes its waiter's bit, a broadcast every bit
  // with one call, the waiter reading the shared word before its marking compare-exchange; Relacy-checked,
  // with a planted twin). condition_bench, interleaved rounds on the 2-core VM, paired medians new/old,
  // unpinned / pinned: broadcast to 8 waiters 1.02 / 1.09 (condition<T>) and 1.06 / 1.12 (condition<void>),
  // CPU per round -10%; but ping-pong 0.95 / 1.02 (condition<T>) and 0.86 / 0.70 (condition<void> with a
  // mutex), the std rows of the same runs 0.91-1.13 (the group word is one more line that the waiter reads
  // and the signaller writes on every hand-off). With 9 threads on 2 cores a broadcast round's cost is the
  // waiters' spin phases (spin_limit = 0 cut its CPU by a third) and the mutex they take again, not the n
  // wake calls.
  // Also tried and rejected (the same day): only the oldest waiter spins, a younger one parks at once (a
  // signal goes to the oldest first). Broadcast to 8 waiters 1.18 / 1.19 rounds/s at 0.65 / 0.63 of the CPU
  // per round, ping-pong 1.07-1.31; but a mutex + deque queue over condition<void> (queue_bench's
  // mutex+handoff.condition peer, 6 rounds, its mutex+condvar rows 0.83-1.30 as the noise floor), unpinned:
  // MPSC 2x1 capacity 1 0.45, MPMC 4x4 capacity 1 0.76, 8x8 capacity 1024 0.68 (pinned 0.83): a younger
  // waiter's spin is what catches the next of a burst of notifies.
  //
  // broadcast: claim every waiter queued now (the snapshot, CO-4), then deliver to each in FIFO order outside
  // the lock and complete it at once. If deliver throws for one of them, the exception reaches the
  // broadcaster (G-8); the waiters already completed keep their values; that one and every later one in the
  // snapshot go back to the front of the queue, in order, still waiting. Returns how many were woken.
  // Each waiter learns how many this call claimed, and a broadcast to a crowd (at least as many waiters as
  // there are CPUs) makes the broadcaster's next waits yield too: the yield phase's gate (spin_wait.hpp).
  template <class Deliver>
  std::size_t broadcast_with(Deliver&& deliver) {
    // relaxed: as in signal_with.
    if (waiters_.load(std::memory_order_relaxed) == 0) return 0;
    node* chain = nullptr;  // claimed, oldest first, linked through `next` (invariant 3)
    std::uint32_t claimed = 0;
    {
      slow_guard<Sync> guard(lock_);
      node** tail = &chain;
      while (node* w = queue_.claim_oldest(&info_)) {
        *tail = w;
        tail = &w->next;
        ++claimed;
      }
      *tail = nullptr;
      publish_count();
    }
    std::size_t woken = 0;
    while (node* w = chain) {
      try {
        deliver(*w);
      } catch (...) {
        give_back(chain);
        throw;
      }
      chain = w->next;                   // read before complete(): the node may vanish after it
      w->complete(status::ok, claimed);  // CO-7: counted exactly when delivered
      ++woken;
    }
    if constexpr (wait_yield_phase<Sync>::limit > 0) {
      if (is_crowd(claimed)) wait_yield_phase<Sync>::after_waking_a_crowd();
    }
    return woken;
  }

 private:
  // Under lock_: mirror the queue size for the fast path (invariant 1).
  void publish_count() noexcept {
    // relaxed: read by the fast paths, which need only coherence (see above); lock_ orders the slow paths.
    waiters_.store(queue_.size(), std::memory_order_relaxed);
  }

  // Unclaim a chain of claimed, undelivered nodes (oldest first, through `next`) and relink them at the front
  // in the same order. Both steps under lock_ (invariant 2). A select's link cannot be unclaimed
  // (detail/waiter.hpp): it is completed with kRetry after lock_ is released, and its select starts again.
  void give_back(node* chain) noexcept {
    node* reversed = nullptr;
    node* retry = nullptr;
    while (chain) {
      node* next = chain->next;
      if (chain->may_unclaim()) {
        chain->next = reversed;
        reversed = chain;
      } else {
        chain->next = retry;
        retry = chain;
      }
      chain = next;
    }
    {
      slow_guard<Sync> guard(lock_);
      while (reversed) {
        node* next = reversed->next;
        // A waiter whose deadline passed meanwhile now leaves, and needs lock_ to unlink.
        reversed->unclaim(&info_);
        queue_.push_front(reversed);
        reversed = next;
      }
      publish_count();
    }
    while (node* w = retry) {
      retry = w->next;  // read before complete(): the node may vanish after it
      w->complete(kRetry);
    }
  }

  static constexpr const char* kind_name = "condition";

  // The facts a deadlock report prints (detail/channel_info.hpp): a condition stores nothing, so only who
  // waits: "2 waiters (a signal or broadcast wakes them)".
  static void describe(const void* self, std::string& out) {
    const std::size_t n = static_cast<const condition_core*>(self)->waiting();
    out = std::to_string(n) + (n == 1 ? " waiter" : " waiters") + " (only a signal or broadcast wakes them)";
  }

  // alignas(64): the object starts a cache line, so two conditions side by side (a ping-pong's pair, members
  // of one struct) never share the line their waiters_ and lock_ live on. condition_bench, 8 interleaved
  // rounds, paired medians aligned/unaligned, unpinned / pinned: ping-pong 1.47 / 1.45 (condition<T>), 1.87
  // / 2.80 (condition<void> with a mutex); broadcast 0.97-1.14; queue_bench's mutex+handoff.condition rows
  // 0.75-1.38 (5 rounds); the std rows of the same runs 0.74-1.33.
  alignas(64) typename Sync::template atomic<std::size_t> waiters_{0};
  mutable slow_lock<Sync> lock_;
  waiter_queue<Sync> queue_;
  channel_info info_{kind_name, this, &condition_core::describe};  // OB-1: kind, name, facts for reports
  const wait_site site_{&info_, wait_op::wait};  // what a waiter's record names (the same for every wait)
};

}  // namespace handoff::detail
