// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/waiter.hpp: one waiting thread, and the protocol every blocking operation follows.
//
// Purpose: a waiter is a node on the waiting thread's stack (no allocation per wait). A primitive links it
// into one of its waiter_queues under its slow_lock; another thread later claims it and hands it a payload.
//
// State word (the node's only shared field besides what the primitive's lock guards):
//   bits 0-1 phase: waiting -> claimed -> done    (a waker won: the payload is, then has been, delivered)
//                   waiting -> left               (the waiter gave up: deadline passed or stop requested)
//   bit 2 sleeping:    the waiter is (about to be) parked on this word; a waker must make the syscall.
//   bit 3 interrupted: a stop request arrived (set from std::stop_callback, any thread).
// Invariants:
//   - waiting -> claimed and waiting -> left are both compare-exchanges from `waiting`, so exactly one of the
//   waker
//     and the waiter wins: the truthful hand-off. A waker that claimed always delivers (complete) or puts the
//     node back (unclaim, used only when moving the payload threw). A waiter that left never receives
//     anything and its payload slot is untouched: its value (if it offered one) is still its own (rule G-2).
//   - `linked`, `prev`, `next`, `slot`, `result` are guarded by the owning primitive's slow_lock, except that
//   after a
//     successful claim the claimer owns `slot` and `result` until it publishes `done`.
//   - Once `done` is visible the waker never reads the node again; it may still call unpark on the word's
//   address,
//     which the parking layer allows (parking.hpp).
//
// No lost wakeup, the argument (written once; every blocking operation in handoff follows it):
//   1. Decide-and-register is atomic. A thread decides to wait while holding the primitive's slow_lock, and
//   it
//      validates that decision with a compare-exchange on the primitive's state word, the same word every
//      lock-free fast path updates with a compare-exchange. So the fast path's update either comes first (the
//      registration CAS fails, the thread re-reads and does not wait) or second (its CAS sees the waiter flag
//      set by registration and diverts to the slow path, which takes the lock and finds the waiter in the
//      queue). Every fast-path/slow-path race is decided by the modification order of one word: no
//      fence-based Dekker argument is needed.
//   2. Park-and-wake cannot cross. The waiter sets `sleeping` with a CAS and parks with the expected value it
//   just
//      wrote; the futex (or the portable slot mutex) sleeps only if the word still holds it. A waker changes
//      the word with an exchange before waking. If the exchange comes first, the waiter's CAS fails or the
//      park returns at once; if it comes second, it returns `sleeping` and the waker wakes the waiter.
//   3. Spurious returns from park are absorbed by the await loop, which returns only on done, on a passed
//   deadline,
//      or on a stop request (rule G-5).
// Memory ordering: complete() publishes the payload with a release exchange; await() reads `done` with
// acquire, so everything the waker did before handing over happens-before the waiter's return (rule G-4).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstdint>
#include <stop_token>

#include "../status.hpp"
#include "deadline.hpp"

namespace handoff::detail {

template <class Sync>
class waiter {
 public:
  enum class outcome { completed, timed_out, cancelled };

  waiter() = default;
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  // ---- Fields guarded by the owning primitive's slow_lock (see Invariants)
  // --------------------------------------
  waiter* prev = nullptr;
  waiter* next = nullptr;
  bool linked = false;
  void* slot = nullptr;        // primitive-defined: the value offered, or the place to put the value received
  status result = status::ok;  // written by the claimer before done: ok, closed, ...
  std::uint32_t kind = 0;      // primitive-defined tag (e.g. which operation is waiting)

  // ---- Waker side
  // -----------------------------------------------------------------------------------------------

  // waiting -> claimed. False if the waiter already left (or was claimed by someone else).
  bool try_claim() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & phase_mask) != waiting) return false;
      // acquire: pairs with the waiter's release CAS in await() (setting `sleeping`) only for tidiness; the
      // fields the claimer reads were published by the slow_lock when the node was linked.
      if (state_.compare_exchange_weak(s, (s & ~phase_mask) | claimed, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    }
  }

  // claimed -> done, publishing the payload written into `slot` and result `r`. The node may vanish at once.
  void complete(status r) noexcept {
    result = r;
    // release: publishes the payload and `result`; pairs with the acquire load in await() (rule G-4).
    const std::uint32_t old = state_.exchange(done, std::memory_order_release);
    if (old & sleeping) Sync::unpark_one(state_);
  }

  // claimed -> waiting: the hand-off could not be made (moving the payload threw). The caller re-links the
  // node.
  void unclaim() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    // relaxed: the waiter only needs to see `waiting` again; nothing was published.
    while (!state_.compare_exchange_weak(s, waiting | (s & interrupted), std::memory_order_relaxed)) {
    }
    if (s & sleeping)
      Sync::unpark_one(state_);  // it sleeps untimed while claimed: let it re-arm its deadline
  }

  // Called by a std::stop_callback from any thread: ask the waiter to leave if it has not been claimed.
  void interrupt() noexcept {
    // relaxed: the stop request itself is synchronised by std::stop_token; the waiter only needs the bit.
    const std::uint32_t old = state_.fetch_or(interrupted, std::memory_order_relaxed);
    if (old & sleeping) Sync::unpark_one(state_);
  }

  // ---- Waiter side
  // ----------------------------------------------------------------------------------------------

  // Spin, then park, until claimed-and-done (completed) or until the deadline passes / a stop request arrives
  // while still unclaimed (timed_out / cancelled: the node is still linked and the caller must unlink it
  // under the lock).
  outcome await(const deadline& d) noexcept {
    unsigned spins = 0;
    bool deadline_seen = false;
    for (;;) {
      // acquire: pairs with the release exchange in complete().
      std::uint32_t s = state_.load(std::memory_order_acquire);
      const std::uint32_t phase = s & phase_mask;
      if (phase == done) return outcome::completed;
      if (phase == waiting && ((s & interrupted) || deadline_seen)) {
        // relaxed: leaving publishes nothing; the waker's claim CAS on this word decides who won.
        if (state_.compare_exchange_strong(s, left, std::memory_order_relaxed))
          return (s & interrupted) ? outcome::cancelled : outcome::timed_out;
        continue;  // a waker claimed us first: wait for done
      }
      if (spins < Sync::spin_limit) {
        ++spins;
        Sync::relax();
        if (phase == waiting && !d.is_never() && spins == Sync::spin_limit && Sync::passed(d))
          deadline_seen = true;
        continue;
      }
      if (!(s & sleeping)) {
        // relaxed: the futex compares values; ordering with the waker comes from the exchange in complete().
        if (!state_.compare_exchange_weak(s, s | sleeping, std::memory_order_relaxed)) continue;
        s |= sleeping;
      }
      if (phase == waiting && !d.is_never()) {
        if (!Sync::park_until(state_, s, d)) deadline_seen = true;
      } else {
        Sync::park(state_, s);  // claimed: the waker is delivering right now, no deadline applies any more
      }
    }
  }

 private:
  static constexpr std::uint32_t waiting = 0, claimed = 1, done = 2, left = 3;
  static constexpr std::uint32_t phase_mask = 3, sleeping = 4, interrupted = 8;

  typename Sync::template atomic<std::uint32_t> state_{waiting};
};

// The stop token a waiting form should watch: nullptr for one that can never be stopped (a defaulted
// std::stop_token{}), so such a wait registers no stop callback.
inline const std::stop_token* stop_ptr(const std::stop_token& st) noexcept {
  return st.stop_possible() ? &st : nullptr;
}

// RAII: while alive, a stop request on `token` interrupts `w`. Declare it after the waiter so that it is
// destroyed first: ~stop_callback waits for a callback running on another thread, so the node outlives every
// interrupt().
template <class Sync>
class stop_interrupt {
  struct interrupter {
    waiter<Sync>* node;
    void operator()() const noexcept { node->interrupt(); }
  };

 public:
  stop_interrupt(const std::stop_token& token, waiter<Sync>& w) : callback_(token, interrupter{&w}) {}

 private:
  std::stop_callback<interrupter> callback_;
};

}  // namespace handoff::detail
