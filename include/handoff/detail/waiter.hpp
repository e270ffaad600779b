// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/waiter.hpp: the waiting core. One waiting thread is one wait_core (the claim word, the
// winning link, the completion); it waits in one or more queues through links (waiter: the queue linkage,
// the payload slot, the case index). A plain single-channel wait is one waiter object that is both (it embeds
// its own core); a select (handoff/select.hpp) is one core shared by one link per case, so the first channel
// to claim the core wins and every other link is stale (as Go's sudog + selectDone, crossbeam's Context +
// Entry).
//
// Purpose: a node on the waiting thread's stack (no allocation per wait). A primitive links it into one of
// its waiter_queues under its slow_lock; another thread later claims it and hands it a payload.
//
// Core state word (the only shared field besides what the primitives' locks guard):
//   bits 0-1 phase: waiting -> claimed -> done    (a waker won: the payload is, then has been, delivered)
//                   waiting -> left               (the waiter gave up: deadline passed, stop requested, or a
//                                                  select found a case ready while registering)
//   bit 2 sleeping:    the waiter is (about to be) parked on this word; a waker must make the syscall.
//   bit 3 interrupted: a stop request arrived (set from std::stop_callback, any thread).
// Invariants:
//   - waiting -> claimed and waiting -> left are both compare-exchanges from `waiting`, so exactly one of the
//     wakers (through whichever link) and the waiter wins: the truthful hand-off. A waker that claimed always
//     delivers (complete) or, for a core with one link only, puts the node back (unclaim, used only when
//     moving the payload threw). A core shared by several links is never unclaimed: a waker that skipped one
//     of its other links meanwhile has unlinked it (claim_oldest), so the select would miss that channel; it
//     is completed with the primitive's retry status instead and the select starts again. A waiter that left
//     never receives anything and its payload slots are untouched: its value (if it offered one) is still its
//     own (rule G-2).
//   - A link's `linked`, `prev`, `next`, `slot`, `result` are guarded by the owning primitive's slow_lock,
//     except that after a successful claim the claimer owns `slot` and `result` until it publishes `done`.
//     The core's `winner`, `waker_cpu`, `woken_at` and `woken_together` are written only by the claimer,
//     before `done`.
//   - Once `done` is visible the waker never reads the node again; it may still call unpark on the word's
//     address, which the parking layer allows (parking.hpp).
//   - complete() runs after the primitive released its slow_lock, everywhere: completion is the one hook
//     through which a later core kind (a coroutine, an event-loop watcher) is resumed, and that must never
//     run under a channel's lock.
//
// No lost wakeup, the argument (written once; every blocking operation in handoff follows it):
//   1. Decide-and-register is atomic. A thread decides to wait while holding the primitive's slow_lock and
//      validates that decision with a compare-exchange on the primitive's state word, the same word every
//      lock-free fast path updates with a compare-exchange. So the fast path's update either comes first (the
//      registration CAS fails, the thread re-reads and does not wait) or second (its CAS sees the waiter flag
//      set by registration and diverts to the slow path, which takes the lock and finds the waiter in the
//      queue). Every fast-path/slow-path race is decided by the modification order of one word: no
//      fence-based Dekker argument is needed. A select registers its cases one channel at a time, each by
//      this same step; a case found ready instead ends the registration (the core leaves, every link is
//      unregistered, and the select tries every case again), so no channel's event can fall between two
//      registrations unseen.
//   2. Park-and-wake cannot cross (written once, in detail/spin_wait.hpp). The waiter sets `sleeping` with a
//      CAS and parks with the expected value it just wrote; the futex (or the portable slot mutex) sleeps
//      only if the word still holds it. A waker changes the word with an exchange before waking. If the
//      exchange comes first, the waiter's CAS fails or the park returns at once; if it comes second, it
//      returns `sleeping` and the waker wakes the waiter.
//   3. Spurious returns from park are absorbed by the await loop, which returns only on done, on a passed
//      deadline, or on a stop request (rule G-5).
// Memory ordering: complete() publishes the payload with a release exchange; await() reads `done` with
// acquire, so everything the waker did before handing over happens-before the waiter's return (rule G-4).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stop_token>

#include "../status.hpp"
#include "blocked_record.hpp"
#include "deadline.hpp"
#include "precondition.hpp"
#include "spin_wait.hpp"

namespace handoff::detail {

template <class Sync>
class waiter;

// The claim word and completion of one waiting thread (see the header comment).
template <class Sync>
class wait_core {
 public:
  enum class outcome { completed, timed_out, cancelled };

  wait_core() = default;
  wait_core(const wait_core&) = delete;
  wait_core& operator=(const wait_core&) = delete;

  // ---- Waker side

  // waiting -> claimed. False if the waiter already left (or was claimed by someone else, through any link).
  // `owner`: the channel whose queue holds the link being claimed (the claimer is inside an operation on
  // it). A core whose thread may have parked with a record (a primitive's wait) must be claimed with its
  // owner; nullptr only where no wait was described (tests of the core alone).
  bool try_claim(const channel_info* owner = nullptr) noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & phase_mask) != waiting) return false;
      // acquire: stronger than needed and kept (a weaker claim owes a Relacy/det round): no store of the
      // waiter's to this word publishes data (mark_sleeping's and `recorded`'s CASes are relaxed); the fields
      // the claimer reads were published by the slow_lock when the link was linked.
      if (state_.compare_exchange_weak(s, (s & ~phase_mask) | claimed, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        // A waiter that parked names this channel in its record: keep the channel alive until it has
        // cleared the record (detail/channel_info.hpp, Invariants 3). The claimer pins its own channel,
        // never reads the waiter's description: no cache line of the waiter's stack on the hand-off path.
        if constexpr (records_blocked<Sync>) {
          if (s & recorded) owner->pin();
        }
        return true;
      }
    }
  }

  // claimed -> done through link `by` (its slot and result already written). This is the one completion
  // point of every hand-off: a parked thread is woken here, and a core with a resume hook (a waiter that is
  // not a blocked thread: a coroutine, an event-loop watcher) has the hook run here instead, once, after
  // the payload is published and outside every channel lock. A thread's core (and every link of it) may
  // vanish as soon as `done` is stored; a hooked core lives until its hook has run.
  void complete(waiter<Sync>* by, std::uint32_t woken_together = 1) noexcept {
    winner_ = by;
    if constexpr (wait_spin_budget<Sync>::adaptive || wait_yield_phase<Sync>::limit > 0) {
      // The waker's CPU, for the waiter's adaptive spin budget, and how many waiters this call completes
      // (`woken_together`: a broadcast's count), for its yield phase's gate (spin_wait.hpp): written before
      // the release exchange below (the waiter may return as soon as it reads `done`), and only when the
      // waiter has parked. relaxed: a peek; a waiter that sets `sleeping` after it reads "no CPU" (a remote
      // waker) and no crowd.
      if (state_.load(std::memory_order_relaxed) & sleeping) {
        if constexpr (wait_spin_budget<Sync>::adaptive) {
          waker_cpu_ = current_cpu();
          // A vDSO read beside the wake call below. Before `done`, never after: the waiter's core may vanish
          // as soon as it reads `done`.
          woken_at_ = std::chrono::steady_clock::now();
        }
        woken_together_ = woken_together;
      }
    }
    const resume_hook hook = resume_;  // read before `done`: a thread's core may vanish right after it
    void* const context = resume_context_;
    // release: publishes the payload, the link's result and winner_; pairs with the acquire load in await()
    // and with the hook's own acquire (resumed()) (rule G-4). acquire: a stop callback's interrupt_and_leave
    // that marked this claimed core (it cannot leave it; this exchange erases its mark) released the stop
    // request before its mark, and the hook's owner starts its next round on this thread, where
    // register_round must see that request (async_operation.hpp, invariant 3; the mark no longer makes the
    // next rearm fail). On x86 the same instruction as release alone.
    const std::uint32_t old = state_.exchange(done, std::memory_order_acq_rel);
    if (hook)
      hook(context);
    else if (old & sleeping)
      Sync::unpark_one(state_);
  }

  // A core completed by running `hook(context)` instead of waking a parked thread. Set before the core's
  // first link is registered; such a core is never awaited (the hook's owner checks resumed()).
  using resume_hook = void (*)(void*) noexcept;
  void set_resume_hook(resume_hook hook, void* context) noexcept {
    resume_ = hook;
    resume_context_ = context;
  }
  // Whether completion runs a hook (a coroutine, not a parked thread). Read by a server under the channel's
  // lock, which orders it after set_resume_hook (before the first registration).
  bool has_resume_hook() const noexcept { return resume_ != nullptr; }
  // Whether the core was completed; acquire: pairs with complete()'s release, so the payload is visible.
  bool resumed() const noexcept { return (state_.load(std::memory_order_acquire) & phase_mask) == done; }

  // claimed -> waiting: the hand-off could not be made (moving the payload threw). Only for a core with one
  // link (see Invariants); the caller re-links the node.
  void unclaim(const channel_info* owner = nullptr) noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    // relaxed: the waiter only needs to see `waiting` again; nothing was published. `recorded` stays, so
    // the next claim pins again; this claim's pin goes.
    while (!state_.compare_exchange_weak(s, waiting | (s & (interrupted | recorded)),
                                         std::memory_order_relaxed)) {
    }
    if constexpr (records_blocked<Sync>) {
      if (s & recorded) owner->unpin();
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

  // ---- A core that one awaiting coroutine reuses, round after round (detail/async_operation.hpp)

  // left or done -> waiting, for a new round of registrations (no link of the core is linked anywhere).
  // False, the word unchanged, once a stop request marked the core (interrupt_and_leave): the coroutine is
  // cancelled instead. Decided on this one word, so a stop request that finds the round waiting either
  // leaves it or makes this rearm fail: never both, never neither. A mark on a claimed core is erased by
  // complete(): the coroutine sees that request through its stop token before the next round
  // (async_operation.hpp, invariant 3; tests/model/async_round_model.cpp, retry_then_stop).
  bool rearm() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (s & interrupted) return false;
      // release: the round's fields (written before) are visible to a stop callback whose acquire
      // read-modify-write reads this value; the registrations that follow are ordered by the channels' locks.
      if (state_.compare_exchange_weak(s, waiting, std::memory_order_release, std::memory_order_relaxed))
        return true;
    }
  }

  // From a stop callback (any thread): mark the core interrupted and leave the round in progress if no
  // channel claimed it. True when this call left it (its caller then stands in for the completion).
  bool interrupt_and_leave() noexcept {
    // acq_rel: pairs with rearm()'s release (the round this leaves is the one rearmed) and orders the stop
    // request before the word's later values.
    std::uint32_t s = state_.fetch_or(interrupted, std::memory_order_acq_rel) | interrupted;
    while ((s & phase_mask) == waiting) {
      if (state_.compare_exchange_weak(s, left | interrupted, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  // ---- Waiter side

  // waiting -> left without waiting (a select that found a case ready while registering). False when a
  // waker claimed the core first: then await() returns completed soon (the waker is delivering).
  bool try_leave() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while ((s & phase_mask) == waiting) {
      // relaxed: as in await(): leaving publishes nothing; the claim CAS on this word decides who won.
      if (state_.compare_exchange_weak(s, left | (s & interrupted), std::memory_order_relaxed)) return true;
    }
    return false;
  }

  // Spin, then park, until claimed-and-done (completed) or until the deadline passes / a stop request arrives
  // while still unclaimed (timed_out / cancelled: the links are still linked and the caller must unlink them
  // under the lock).
  // `stoppable`: a stop token can end this wait (the blocked-thread record says so). `what`: the primitives
  // and operations the blocked-thread record names while the thread is parked (OB-4; its sites must
  // outlive the wait, and site i must be the channel of the link with case_index i); empty: no record.
  outcome await(const deadline& d, bool stoppable = false, wait_description what = {}) noexcept {
    parked_record record(*this, d, stoppable, what);
    // The spin phase (spin_wait.hpp), until done, or a stop request while unclaimed. acquire: pairs with the
    // release exchange in complete() (a `done` read here returns at once with the payload visible).
    using budget = wait_spin_budget<Sync>;
    const auto ends_the_wait = [](std::uint32_t v) {
      return (v & phase_mask) == done || ((v & phase_mask) == waiting && (v & interrupted));
    };
    std::uint32_t s = spin_until<Sync>(state_, std::memory_order_acquire, ends_the_wait, budget::current());
    // The yield phase (spin_wait.hpp): a few yields, each followed by a look, if this thread's last park was
    // ended by a crowd wake or it has just woken a crowd itself (or the policy yields always), unless its
    // yields lately fed a busy thread. acquire: as the spin phase.
    s = wait_yield_phase<Sync>::yield_until(state_, std::memory_order_acquire, ends_the_wait, s);
    // What the wait's first park says about its spin, for the thread's adaptive budget (spin_wait.hpp,
    // wait_spin_budget), reported when await returns: how long it parked, whether the thread that woke it
    // ran on the CPU it parked on, and whether it was preempted since its previous park; and to the yield
    // phase's gate, whether the waking call woke a crowd.
    struct park_timer {
      // Its waker_cpu_, woken_at_ and woken_together_: written by complete() before `done`.
      const wait_core& core;
      std::chrono::steady_clock::time_point parked_at{};
      int park_cpu = -1;
      bool preempted = false;
      bool armed = false;
      bool parked = false;
      bool woken = false;  // await returns completed
      // Before the sleeping bit is set (a waker that comes meanwhile makes no wake call); once per wait.
      void before_park() noexcept {
        if constexpr (budget::adaptive) {
          if (armed) return;
          armed = true;
          preempted = budget::preempted_since_last_park();
          park_cpu = current_cpu();
          parked_at = std::chrono::steady_clock::now();
        }
      }
      ~park_timer() {
        if (!parked) return;
        if constexpr (budget::adaptive) {
          // How long until the thread ran again, and (woken) until the waker completed the wait
          // (spin_wait.hpp); 0 when the waker completed it before it could see the sleeping bit (its peek
          // came first: no time recorded).
          using clock = std::chrono::steady_clock;
          using std::chrono::duration_cast, std::chrono::nanoseconds;
          const clock::duration parked_for = clock::now() - parked_at;
          const clock::duration answered =
              woken ? (std::max)(core.woken_at_ - parked_at, clock::duration::zero()) : parked_for;
          budget::after_park({duration_cast<nanoseconds>(parked_for),
                              park_cpu >= 0 && core.waker_cpu_ == park_cpu, preempted, woken,
                              duration_cast<nanoseconds>(answered)});
        }
        if constexpr (wait_yield_phase<Sync>::limit > 0) {
          wait_yield_phase<Sync>::after_park(woken && is_crowd(core.woken_together_));
        }
      }
    } timer{*this};
    // The deadline is looked at once after the spin (a clock read per spin step would cost more than the
    // spin), then by park_until.
    bool deadline_seen = (s & phase_mask) == waiting && !d.is_never() && Sync::passed(d);
    for (;;) {
      const std::uint32_t phase = s & phase_mask;
      if (phase == done) {
        timer.woken = true;
        return outcome::completed;
      }
      if (phase == waiting && ((s & interrupted) || deadline_seen)) {
        // relaxed: leaving publishes nothing; the waker's claim CAS on this word decides who won.
        if (state_.compare_exchange_strong(s, left, std::memory_order_relaxed))
          return (s & interrupted) ? outcome::cancelled : outcome::timed_out;
      } else if (record.before_park(s) && (timer.before_park(), mark_sleeping<Sync>(state_, s, sleeping))) {
        timer.parked = true;
        if (phase == waiting && !d.is_never()) {
          if (!Sync::park_until(state_, s, d)) deadline_seen = true;
        } else {
          Sync::park(state_, s);  // claimed: the waker is delivering right now, no deadline applies any more
        }
      }
      // acquire: as above.
      s = state_.load(std::memory_order_acquire);
    }
  }

  // The link that completed the core; valid after await() returned completed.
  waiter<Sync>* winner() const noexcept { return winner_; }

 private:
  // The record of one await() (detail/blocked_record.hpp): written at the first park only (a wait that the
  // spin phase ends writes nothing), cleared when await() returns. Order (detail/channel_info.hpp,
  // Invariants 3): first `recorded` is set in the state word, so that from then on a claimer pins the
  // channel it claims through; only then does the record name the channels; the record is cleared before
  // that pin is dropped.
  class parked_record {
   public:
    parked_record(wait_core& core, const deadline& d, bool stoppable, wait_description what) noexcept
        : core_(core), d_(d), what_(what), stoppable_(stoppable) {}
    parked_record(const parked_record&) = delete;
    parked_record& operator=(const parked_record&) = delete;
    // Before a park, with `s` the state just read. False when the state moved (`s` reloaded): look again.
    bool before_park(std::uint32_t& s) noexcept {
      if constexpr (records_blocked<Sync>) {
        if (noted_ || !what_.sites || (s & phase_mask) != waiting) return true;
        // relaxed: the claimer reads nothing of ours for the pin (it pins its own channel); the bit only has
        // to be in the word the claim CAS reads.
        if (!core_.state_.compare_exchange_strong(s, s | recorded, std::memory_order_relaxed)) return false;
        s |= recorded;
        note_blocked(what_.sites, what_.count, d_, stoppable_);
        noted_ = true;
      }
      return true;
    }
    ~parked_record() {
      if constexpr (records_blocked<Sync>) {
        if (!noted_) return;
        note_unblocked(what_.sites, what_.count);
        // Completed: the claimer pinned the channel it claimed through (a claim that was undone unpinned).
        // acquire: as in await(); `done` is final.
        if ((core_.state_.load(std::memory_order_acquire) & phase_mask) == done)
          what_.sites[core_.winner_->case_index].channel->unpin();
      }
    }

   private:
    wait_core& core_;
    const deadline& d_;
    const wait_description what_;
    bool stoppable_;
    bool noted_ = false;
  };

  static constexpr std::uint32_t waiting = 0, claimed = 1, done = 2, left = 3;
  // recorded: the waiter parked with a blocked-thread record naming its channels (parked_record).
  static constexpr std::uint32_t phase_mask = 3, sleeping = 4, interrupted = 8, recorded = 16;

  typename Sync::template atomic<std::uint32_t> state_{waiting};
  waiter<Sync>* winner_ = nullptr;  // written by the claimer before `done` (release), read after it (acquire)
  int waker_cpu_ = -1;  // complete() before `done` (release), await() after it (acquire); spin_wait.hpp
  std::uint32_t woken_together_ = 0;  // as waker_cpu_: how many waiters the waking call completed
  // As waker_cpu_: when the waker, finding the sleeping bit, completed the wait. The epoch
  // (value-initialised, a new core per wait) when its peek came before the bit: the report then clamps the
  // answer to 0.
  std::chrono::steady_clock::time_point woken_at_{};
  resume_hook resume_ = nullptr;  // written before registration, read by the claimer (the lock orders it)
  void* resume_context_ = nullptr;
};

// A link: one place in one queue of one channel, for one wait_core. Default-constructed, it is a whole
// single-channel waiter (it owns its core); constructed with a shared core, it is one case of a select.
template <class Sync>
class waiter {
 public:
  using outcome = typename wait_core<Sync>::outcome;

  waiter() noexcept : core_(&own_core_) {}
  waiter(wait_core<Sync>& shared, std::uint32_t case_index) noexcept
      : case_index(case_index), core_(&shared) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  // ---- Fields guarded by the owning primitive's slow_lock (see Invariants)
  waiter* prev = nullptr;
  waiter* next = nullptr;
  bool linked = false;
  void* slot = nullptr;        // primitive-defined: the value offered, or the place to put the value received
  status result = status::ok;  // written by the claimer before done: ok, closed, ...
  std::uint32_t kind = 0;      // primitive-defined tag (e.g. which operation is waiting)
  std::uint32_t case_index = 0;  // a select's case this link stands for (0 for a plain wait)

  // ---- Waker side (through the core)
  bool try_claim(const channel_info* owner = nullptr) noexcept { return core_->try_claim(owner); }
  // Deliver `r` through this link (its slot already filled); the core and this link may vanish at once.
  void complete(status r, std::uint32_t woken_together = 1) noexcept {
    result = r;
    core_->complete(this, woken_together);
  }
  // Only a link that owns its core may be unclaimed and relinked (see Invariants); a select link is completed
  // with the primitive's retry status instead.
  bool may_unclaim() const noexcept { return core_ == &own_core_; }
  void unclaim(const channel_info* owner = nullptr) noexcept {
    HANDOFF_PRECONDITION(may_unclaim(), "handoff internal: a select link cannot be unclaimed");
    core_->unclaim(owner);
  }
  // Whether the waiter is resumed through a hook (a coroutine): such a waiter cannot be handed work to
  // finish under a channel's ownership (mvar's BUSY): it runs only when its executor gets to it.
  bool resumes_by_hook() const noexcept { return core_->has_resume_hook(); }
  // Whether two links belong to one waiting thread (a select must not meet itself: rendezvous self-match).
  bool same_waiter(const waiter& other) const noexcept { return core_ == other.core_; }

  // ---- Waiter side
  void interrupt() noexcept { core_->interrupt(); }
  outcome await(const deadline& d) noexcept { return core_->await(d); }
  wait_core<Sync>& core() noexcept { return *core_; }

 private:
  wait_core<Sync>* core_;
  wait_core<Sync> own_core_;  // unused by a select link
};

// The stop token a waiting form should watch: nullptr for one that can never be stopped (a defaulted
// std::stop_token{}), so such a wait registers no stop callback.
inline const std::stop_token* stop_ptr(const std::stop_token& st) noexcept {
  return st.stop_possible() ? &st : nullptr;
}

// RAII: while alive, a stop request on `token` interrupts `core`. Declare it after the core's links so that
// it is destroyed first: ~stop_callback waits for a callback running on another thread, so the core outlives
// every interrupt().
template <class Sync>
class stop_interrupt {
  struct interrupter {
    wait_core<Sync>* core;
    void operator()() const noexcept { core->interrupt(); }
  };

 public:
  stop_interrupt(const std::stop_token& token, wait_core<Sync>& c) : callback_(token, interrupter{&c}) {}
  stop_interrupt(const std::stop_token& token, waiter<Sync>& w) : stop_interrupt(token, w.core()) {}

 private:
  std::stop_callback<interrupter> callback_;
};

// await() watching an optional stop token: the one "wait" step of every blocking operation.
template <class Sync>
typename wait_core<Sync>::outcome await_with_stop(wait_core<Sync>& c, const deadline& d,
                                                  const std::stop_token* st,
                                                  wait_description what = {}) noexcept {
  if (!st) return c.await(d, false, what);
  stop_interrupt<Sync> interrupt(*st, c);
  return c.await(d, true, what);
}

}  // namespace handoff::detail
