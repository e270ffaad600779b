// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/watch_list.hpp: the readiness watches of one side of one channel (rules WA-1..WA-7 of
// docs/semantics.md; the public face is handoff/readiness.hpp).
//
// Purpose: an event loop asks a channel "would a pop (push) block?" and, if so, to run its notifier once when
// that may have changed. A watch_link is one such question, living in the loop's watcher object; a
// watch_list is the channel's set of armed links for one side (readable or writable), guarded by the
// channel's slow_lock. The channel takes every armed link at the event (take_all, under its lock) and runs
// their notifiers afterwards (fire, outside every lock), so a notifier never runs under a channel's lock and
// may call back into the channel.
//
// A link's life, in its state word (bits: kPending, kUnwatching, and a count of firers holding the link):
//   idle --arm (lock)--> linked --take_all (lock)--> pending, held --fire: CAS kPending off--> calling, held
//     --notifier returns--> idle (hold released)
// Invariants:
//   1. `linked`, `prev`, `next` are guarded by the channel's lock; a linked link is not pending. take_all
//      unlinks every link, sets kPending and adds one hold (for the firer that will walk the chain), and
//      writes `fire_next`, under the lock.
//   2. A firer reads a link's fire_next before it clears kPending (its CAS), and touches the link after that
//      CAS only to release its hold. A link is relinked (and so its fire_next rewritten) only when not
//      pending (arm answers `armed` for a pending link without linking it: the pending call is still to come,
//      after the arm), so a chain being walked is never rewritten.
//   3. Exactly one notifier call per take: the firer's CAS clears kPending and calls; if unwatch cleared
//      kPending first (under the lock), nothing is called. So after unwatch returns no call starts.
//   4. unwatch waits (parking on the state word) until no firer holds the link: after it returns no call is
//   in
//      flight and no firer will read the link again, so the watcher may be destroyed (WA-5).
// Memory ordering: a firer releases its hold with release, unwatch reads the count with acquire, so the
// notifier's effects happen-before unwatch returns. A firer clears kPending with release and arm reads it
// with acquire, so a chain's fire_next_ is read before an arm relinks the link (Invariant 2). The event
// itself (the value pushed, the room made) is published by the channel before its firer runs, in the same
// thread, so a pop or push that the notified loop makes afterwards sees it through the channel's own acquire
// loads. Lifetime: the notifier's context must outlive the watcher (or the watcher's unwatch()).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff {

// What arm() answers: ready (a pop, or a push for arm_writable, would not block now: try it), or armed (the
// notifier will run once, WA-2).
enum class readiness { ready, armed };

// A callback run once per armed watch (WA-2): a plain function pointer and its argument, called outside
// every lock of the channel, in the thread that pushed, popped or closed. It must not throw (noexcept) and
// should not block: it runs inside that thread's push, pop or close. Writing an eventfd
// (handoff/eventfd_notifier.hpp), uv_async_send(&async) or asio::post(executor, ...) fit.
struct notifier {
  void (*call)(void* context) noexcept = nullptr;
  void* context = nullptr;
};

namespace detail {

template <class Sync>
class watch_list;

template <class Sync>
class watch_link {
 public:
  explicit watch_link(notifier n) noexcept : notifier_(n) {}
  watch_link(const watch_link&) = delete;
  watch_link& operator=(const watch_link&) = delete;

  // Under the channel's lock: armed (linked) or pending (a call is still to start), so arm need not link.
  bool armed_or_pending() const noexcept {
    // acquire: pairs with the release CAS in fire_one. A link seen not pending is relinked, and a later
    // take_all rewrites fire_next_: the firer's read of fire_next_ must happen-before that (Invariant 2;
    // found by review: with relaxed orders nothing ordered the two). A firer clearing kPending concurrently
    // is fine either way: a pending link seen as idle is relinked (one more call, never one less).
    return linked_ || (state_.load(std::memory_order_acquire) & kPending) != 0;
  }

  // Under the channel's lock: take the link out of `list` if linked, and cancel a call not yet started.
  // Then, outside the lock, wait_unheld().
  void disarm(watch_list<Sync>& list) noexcept;

  // Outside every lock, after disarm: wait until no firer holds the link (Invariant 4).
  void wait_unheld() noexcept {
    // acquire: pairs with release_hold's release (the notifier's effects are visible).
    std::uint32_t s = state_.load(std::memory_order_acquire);
    while (s >> kHoldShift) {
      // relaxed: the flag only asks the last firer to wake us; the acquire reload decides.
      if ((s & kUnwatching) || state_.compare_exchange_weak(s, s | kUnwatching, std::memory_order_relaxed,
                                                            std::memory_order_relaxed)) {
        Sync::park(state_, s | kUnwatching);
      }
      s = state_.load(std::memory_order_acquire);
    }
    // relaxed: no firer holds the link; the next arm happens under the channel's lock.
    state_.fetch_and(~kUnwatching, std::memory_order_relaxed);
  }

 private:
  friend class watch_list<Sync>;
  template <class S>
  friend void fire(watch_link<S>* chain) noexcept;

  static constexpr std::uint32_t kPending = 1, kUnwatching = 2, kHoldShift = 2;
  static constexpr std::uint32_t kHold = std::uint32_t{1} << kHoldShift;

  // The firer: Invariants 2 and 3. Returns the next link of the chain.
  watch_link* fire_one() noexcept {
    watch_link* const next = fire_next_;  // before the CAS: after it the link may be relinked
    const notifier n = notifier_;
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    bool call = false;
    // release: the read of fire_next_ above happens-before an arm that sees kPending clear (acquire in
    // armed_or_pending) and so before the take_all that may rewrite it. The CAS decides between this firer
    // and unwatch (which holds the channel's lock); the event the notifier reports was published by this
    // thread before it.
    while (s & kPending) {
      if (state_.compare_exchange_weak(s, s & ~kPending, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        call = true;
        break;
      }
    }
    if (call) n.call(n.context);
    release_hold();
    return next;
  }

  void release_hold() noexcept {
    // release: the notifier's effects and this firer's reads of the link happen-before unwatch's acquire.
    const std::uint32_t old = state_.fetch_sub(kHold, std::memory_order_release);
    if ((old & kUnwatching) && (old >> kHoldShift) == 1) Sync::unpark_all(state_);
  }

  notifier notifier_;
  watch_link* prev_ = nullptr;       // guarded by the channel's lock
  watch_link* next_ = nullptr;       // guarded by the channel's lock
  watch_link* fire_next_ = nullptr;  // written by take_all (lock), read by the firer of that chain
  bool linked_ = false;              // guarded by the channel's lock
  typename Sync::template atomic<std::uint32_t> state_{0};
};

// The armed links of one side of one channel. Every member runs under the channel's lock.
template <class Sync>
class watch_list {
 public:
  using link = watch_link<Sync>;

  bool empty() const noexcept { return head_ == nullptr; }

  void push_back(link& l) noexcept {
    l.prev_ = tail_;
    l.next_ = nullptr;
    (tail_ ? tail_->next_ : head_) = &l;
    tail_ = &l;
    l.linked_ = true;
  }

  void remove(link& l) noexcept {
    (l.prev_ ? l.prev_->next_ : head_) = l.next_;
    (l.next_ ? l.next_->prev_ : tail_) = l.prev_;
    l.prev_ = l.next_ = nullptr;
    l.linked_ = false;
  }

  // Unlink every armed link into a chain for fire() (Invariant 1), appended to `chain`.
  void take_all(link*& chain) noexcept {
    while (link* l = head_) {
      remove(*l);
      // relaxed: under the lock; the firer's CAS and unwatch (also under the lock) read it.
      l->state_.fetch_add(link::kHold | link::kPending, std::memory_order_relaxed);
      l->fire_next_ = chain;
      chain = l;
    }
  }

 private:
  link* head_ = nullptr;
  link* tail_ = nullptr;
};

template <class Sync>
void watch_link<Sync>::disarm(watch_list<Sync>& list) noexcept {
  if (linked_) list.remove(*this);
  // relaxed: under the lock (Invariant 3); the firer's CAS loses if this comes first.
  state_.fetch_and(~kPending, std::memory_order_relaxed);
}

// Run the notifiers of a chain taken by take_all, outside every lock (Invariants 2-4).
template <class Sync>
void fire(watch_link<Sync>* chain) noexcept {
  while (chain) chain = chain->fire_one();
}

// A chain that fires when it goes out of scope (or earlier, by run()): the channel takes links into it under
// its lock and lets it fire once the lock is released and the event is published.
template <class Sync>
class watch_firing {
 public:
  watch_firing() = default;
  watch_firing(const watch_firing&) = delete;
  watch_firing& operator=(const watch_firing&) = delete;
  ~watch_firing() { run(); }

  watch_link<Sync>*& chain() noexcept { return chain_; }
  void run() noexcept {
    watch_link<Sync>* c = chain_;
    chain_ = nullptr;
    fire(c);
  }

 private:
  watch_link<Sync>* chain_ = nullptr;
};

}  // namespace detail
}  // namespace handoff
