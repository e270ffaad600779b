// ----------------------------------------------------------------------------------------------------------
// handoff/mvar.hpp: mvar<T>, a one-slot box (Lwt_mvar on OS threads; rules MV-1..MV-9 of the spec).
//
// Purpose: reader-driven hand-off. put on an empty box returns at once; on a full one it waits, putters queue
// FIFO and each take moves the oldest putter's value in. take on a full box returns at once; on an empty one
// it waits, takers queue FIFO, and a put hands its value straight to the oldest waiting taker (no barging,
// rule G-3). Beyond Lwt (Haskell's MVar): read() copies without emptying; swap() takes and puts in one step.
//
// State word (one Sync::atomic<uint32_t>): FULL (the storage holds a value), BUSY (one thread owns the
// storage), TAKERS / PUTTERS / READERS (that waiter queue is non-empty).
//
// Invariants:
// 1. The storage is touched only by the thread that set BUSY (a CAS from a state without BUSY).
// 2. Flag bits change only under lock_; they match the queues whenever BUSY is clear and lock_ is free.
// 3. With BUSY clear: TAKERS or READERS imply !FULL, PUTTERS implies FULL (nobody waits for what is there).
// 4. Nobody waits for BUSY to clear by spinning or parking on it. The uncontended path is one CAS that claims
//    the storage and one CAS that releases it, both expecting "no flags", so it takes no lock and makes no
//    system call (G-6). A thread that meets BUSY registers as a waiter instead (under lock_, with a CAS that
//    sets its flag: the protocol of detail/waiter.hpp). The BUSY holder's release CAS then fails, and it
//    serves every waiter that can be served, in queue order (serve_waiters): readers get copies, then the
//    oldest taker or swapper gets the value, then, if empty, the oldest putter's value moves in; repeated.
// 5. T's constructors and destructor never run under lock_: the server claims a waiter under the lock, drops
//    it, moves or copies while still holding BUSY, and re-takes the lock for the next step. Served waiters
//    are completed once BUSY is released, so the state a returning waiter observes already includes its step.
//    lock_ is held only for queue and flag updates, so waiting for it never means waiting for user code.
// 6. A try_ operation (MV-7) never waits for an operation to start. If it meets BUSY it registers as a "try"
//    waiter; the BUSY holder, once nothing more can be served, rejects every try waiter still queued (full /
//    empty). So a try_ waits at most for the one operation already in flight, and its answer is linearized at
//    that operation's release: it never reports "empty" for a box that stayed full throughout.
// 7. A stateless T (empty, trivially copyable, trivially default-constructible: an mvar<unit> used as a lock
//    or a token, as topic<T>'s publish token is) has nothing in the storage to move, so its uncontended take
//    and put skip BUSY: one CAS from exactly FULL to empty, or from exactly empty to FULL (acq_rel, as the
//    claim and release pair it replaces). Any flag or BUSY makes that CAS fail and the operation takes the
//    general path; the short path never touches the storage (its take returns a value-initialised T,
//    indistinguishable from any other T of such a type). So that the general paths always read a live
//    object, the storage of such a T holds one object for the mvar's whole life: constructed with the mvar,
//    replaced by placement new, never destroyed before the mvar (end_stored). topic_bench, 1 subscriber:
//    18.6M -> 22.8M deliveries/s on the 2-core VM.
//
// Exceptions (G-8): if moving or copying a T throws, the exception reaches the thread whose operation was in
// progress and the box is unchanged: a failed put leaves the value with the caller; a failed take leaves the
// value in the box. When the throw happens while serving a waiter, that waiter's call rethrows it.
// Memory ordering (G-4): everything a thread did before put/swap happens-before everything the thread that
// receives the value does after take/read/swap returns it: the storage is published by the release that
// clears BUSY and acquired by the CAS that next sets it; served waiters are published by waiter::complete
// (release) and await (acquire). Lifetime: an mvar must outlive every operation on it; destroying it while a
// thread waits is a precondition violation (checked in debug builds, G-9). Not copyable, not movable. T's
// move and copy must not wait for a thread that is itself inside an operation on the same mvar.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "detail/deadline.hpp"
#include "detail/precondition.hpp"
#include "detail/slow_lock.hpp"
#include "detail/sync.hpp"
#include "detail/waiter.hpp"
#include "detail/waiter_queue.hpp"
#include "status.hpp"

namespace handoff {

template <class T, class Sync = default_sync>
class mvar {
  static_assert(std::is_move_constructible_v<T>, "mvar<T> needs a move-constructible T (G-8)");
  static_assert(!std::is_reference_v<T> && std::is_destructible_v<T>, "mvar<T> holds objects");

 public:
  mvar() noexcept {                                  // MV-1: empty
    if constexpr (kStateless) ::new (storage_) T();  // invariant 7: its one object lives from here on
  }
  explicit mvar(T value) {  // MV-1: full
    ::new (storage()) T(std::move(value));
    // relaxed: the constructor is not concurrent with anything.
    state_.store(kFull, std::memory_order_relaxed);
  }
  mvar(const mvar&) = delete;
  mvar& operator=(const mvar&) = delete;

  ~mvar() {
    HANDOFF_PRECONDITION(takers_.empty() && putters_.empty() && readers_.empty(),
                         "mvar destroyed while threads wait on it (G-9)");
    if constexpr (!kStateless) {  // invariant 7: a stateless T's object is trivially destructible
      if (state_.load(std::memory_order_acquire) & kFull) storage()->~T();
    }
  }

  // ---- put: MV-2, MV-3, MV-4
  void put(T&& v) { (void)put_impl(v, mode::wait, detail::deadline::never(), nullptr); }
  void put(const T& v) { put(T(v)); }
  status try_put(T&& v) { return put_impl(v, mode::try_only, detail::deadline::never(), nullptr); }  // MV-7
  status try_put(const T& v) {
    T copy(v);
    return try_put(std::move(copy));
  }
  template <class Rep, class Period>
  status put_for(T&& v, std::chrono::duration<Rep, Period> d) {
    return put_impl(v, mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Clock, class Duration>
  status put_until(T&& v, std::chrono::time_point<Clock, Duration> t) {
    return put_impl(v, mode::wait, detail::deadline::at(t), nullptr);
  }
  status put(T&& v, std::stop_token st) { return put_impl(v, mode::wait, detail::deadline::never(), &st); }

  // ---- take: MV-5, MV-6
  T take() {
    std::optional<T> out;
    (void)take_impl(out, op::take, nullptr, mode::wait, detail::deadline::never(), nullptr);
    return std::move(*out);
  }
  std::optional<T> try_take() {  // MV-7 (Lwt take_available)
    std::optional<T> out;
    (void)take_impl(out, op::take, nullptr, mode::try_only, detail::deadline::never(), nullptr);
    return out;
  }
  template <class Rep, class Period>
  std::optional<T> take_for(std::chrono::duration<Rep, Period> d) {
    std::optional<T> out;
    (void)take_impl(out, op::take, nullptr, mode::wait, detail::deadline::after(d), nullptr);
    return out;
  }
  template <class Clock, class Duration>
  std::optional<T> take_until(std::chrono::time_point<Clock, Duration> t) {
    std::optional<T> out;
    (void)take_impl(out, op::take, nullptr, mode::wait, detail::deadline::at(t), nullptr);
    return out;
  }
  std::optional<T> take(std::stop_token st) {
    std::optional<T> out;
    (void)take_impl(out, op::take, nullptr, mode::wait, detail::deadline::never(), &st);
    return out;
  }

  // ---- MV-8, MV-9
  bool is_empty() const noexcept {
    // acquire: a snapshot; pairs with the release that last cleared BUSY, for callers that act on it.
    return (state_.load(std::memory_order_acquire) & kFull) == 0;
  }

  // Diagnostic snapshot of how many threads wait, by operation (takes the slow-path lock; not for hot paths).
  struct waiting_counts {
    std::size_t takers, putters, readers;  // takers includes swappers
  };
  waiting_counts waiting() const noexcept {
    detail::slow_guard<Sync> guard(lock_);
    return {takers_.size(), putters_.size(), readers_.size()};
  }

  // Waits until full and returns a copy, leaving the value in place (atomic with respect to other
  // operations).
  T read() {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::read needs a copyable T");
    std::optional<T> out;
    (void)take_impl(out, op::read, nullptr, mode::wait, detail::deadline::never(), nullptr);
    return std::move(*out);
  }
  std::optional<T> try_read() {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::try_read needs a copyable T");
    std::optional<T> out;
    (void)take_impl(out, op::read, nullptr, mode::try_only, detail::deadline::never(), nullptr);
    return out;
  }

  // Waits until full, then takes the value and puts v in its place in one step: no other operation sees the
  // mvar empty in between.
  T swap(T&& v) {
    std::optional<T> out;
    (void)take_impl(out, op::swap, &v, mode::wait, detail::deadline::never(), nullptr);
    return std::move(*out);
  }

 private:
  using word = std::uint32_t;
  using waiter_t = detail::waiter<Sync>;
  using queue_t = detail::waiter_queue<Sync>;

  // Invariant 7: a T with nothing to move.
  static constexpr bool kStateless =
      std::is_empty_v<T> && std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>;
  static constexpr word kFull = 1, kBusy = 2, kTakers = 4, kPutters = 8, kReaders = 16;
  static constexpr word kFlags = kTakers | kPutters | kReaders;

  enum class mode { try_only, wait };
  enum class op : std::uint32_t { take, read, swap };
  // waiter::kind: the operation, plus kTryKind for a try_ that met BUSY (invariant 6).
  static constexpr std::uint32_t kind_take = 0, kind_read = 1, kind_swap = 2, kind_put = 3, kTryKind = 8;

  // What a waiter's slot points to. `error` carries an exception thrown while serving it.
  struct receive_slot {
    std::optional<T>* out;
    T* swap_in;  // swap only: the value to put in place of the one received
    std::exception_ptr error;
  };
  struct put_slot {
    T* value;
    std::exception_ptr error;
  };

  T* storage() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }
  // The value moved out of the storage ends. For a stateless T nothing ends (invariant 7): the short path
  // fills the box without constructing, so the object must stay alive for the general paths that read it;
  // a placement new over it replaces it (trivially destructible).
  void end_stored() noexcept {
    if constexpr (!kStateless) storage()->~T();
  }

  // ---- the BUSY protocol

  // Set BUSY on a state equal to `expected`. acquire: pairs with the release that last cleared BUSY, so the
  // storage (and its value, if FULL) is visible.
  bool claim(word expected) noexcept {
    return state_.compare_exchange_strong(expected, expected | kBusy, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Invariant 7, stateless T only: a whole take (FULL -> empty) or put (empty -> FULL) in one CAS, valid only
  // with no flag and no BUSY. acq_rel: as claim() (acquire) and release() (release) together: a take sees
  // everything before the put that filled the box, a put everything before the take that emptied it.
  bool flip(word from, word to) noexcept {
    return state_.compare_exchange_strong(from, to, std::memory_order_acq_rel, std::memory_order_relaxed);
  }

  // Clear BUSY, leaving the storage full or empty. If waiters registered meanwhile, serve them first.
  void release(bool full) {
    word s = state_.load(std::memory_order_relaxed);
    while (!(s & kFlags)) {
      // release: publishes the storage; pairs with the acquire CAS in claim().
      if (state_.compare_exchange_weak(s, full ? kFull : 0, std::memory_order_release,
                                       std::memory_order_relaxed))
        return;
    }
    lock_.lock();
    serve_waiters(full);
  }

  // Entered with lock_ and BUSY held; returns with both released (invariants 4-6). One step per turn: claim
  // under the lock, move or copy without it, complete the waiter, and look again.
  void serve_waiters(bool full) noexcept {
    // Served waiters are completed only after the state word shows the result of serving them, so a thread
    // whose take returned never sees the box still full in is_empty() (found by the review test under TSan).
    waiter_t* served = nullptr;
    for (;;) {
      waiter_t* batch = nullptr;  // claimed nodes, chained through `next`
      if (full) {
        while (waiter_t* r = readers_.claim_oldest()) push(batch, r);
        if (!batch) {
          if (waiter_t* w = takers_.claim_oldest()) push(batch, w);
        }
      } else if (waiter_t* p = putters_.claim_oldest()) {
        push(batch, p);
      }
      if (!batch) break;
      lock_.unlock();
      while (batch) {
        waiter_t* w = pop(batch);
        full = serve_one(*w);
        push(served, w);  // claimed and off every queue: nobody else touches it until complete()
      }
      lock_.lock();
    }
    // Nothing more can be served: every try_ still queued gets its answer now (invariant 6).
    waiter_t* rejected = nullptr;
    reject_tries(readers_, rejected, status::empty);
    reject_tries(takers_, rejected, status::empty);
    reject_tries(putters_, rejected, status::full);
    const word next = (full ? kFull : 0) | (takers_.empty() ? 0 : kTakers) |
                      (putters_.empty() ? 0 : kPutters) | (readers_.empty() ? 0 : kReaders);
    // release: publishes the storage; pairs with the acquire CAS in claim(). A plain store is enough: while
    // BUSY is set nobody else writes the word except flag updates, which need lock_ (held here); the one-CAS
    // take and put of invariant 7 expect a word without BUSY, so they fail and write nothing.
    state_.store(next, std::memory_order_release);
    lock_.unlock();
    while (served) pop(served)->complete(status::ok);  // each node may vanish once completed
    while (rejected) {
      waiter_t* w = pop(rejected);
      w->complete(w->result);
    }
  }

  // Serve one claimed waiter (BUSY held, lock_ free). Returns whether the storage is full afterwards. If T
  // throws, the storage is as before and the waiter's call will rethrow.
  bool serve_one(waiter_t& w) noexcept {
    if ((w.kind & ~kTryKind) == kind_put) {
      auto* slot = static_cast<put_slot*>(w.slot);
      try {
        ::new (storage()) T(std::move(*slot->value));
        return true;
      } catch (...) {
        slot->error = std::current_exception();
        return false;
      }
    }
    auto* slot = static_cast<receive_slot*>(w.slot);
    const std::uint32_t kind = w.kind & ~kTryKind;
    try {
      if (kind == kind_read) {
        if constexpr (std::is_copy_constructible_v<T>) slot->out->emplace(*storage());
        return true;
      }
      slot->out->emplace(std::move(*storage()));
    } catch (...) {
      slot->error = std::current_exception();
      return true;  // the value is still in the box
    }
    end_stored();
    if (kind != kind_swap) return false;
    try {
      ::new (storage()) T(std::move(*slot->swap_in));
    } catch (...) {
      slot->error = std::current_exception();
      restore_from(**slot->out);  // the swap did not happen: the old value goes back
      slot->out->reset();
    }
    return true;
  }

  // Under lock_: claim every try_ waiter of q and chain it for completion with `answer`.
  static void reject_tries(queue_t& q, waiter_t*& rejected, status answer) noexcept {
    for (waiter_t* w = q.front(); w;) {
      waiter_t* next = w->next;
      if (w->kind & kTryKind) {
        q.remove(w);
        if (w->try_claim()) {
          w->result = answer;
          push(rejected, w);
        }
      }
      w = next;
    }
  }

  static void push(waiter_t*& chain, waiter_t* w) noexcept {
    w->next = chain;
    chain = w;
  }
  static waiter_t* pop(waiter_t*& chain) noexcept {
    waiter_t* w = chain;
    chain = w->next;
    return w;
  }

  // Undo a half-done swap. If T's move throws here too, nothing sound remains: noexcept makes that terminate.
  void restore_from(T& from) noexcept { ::new (storage()) T(std::move(from)); }

  // ---- registration and waiting (the protocol of detail/waiter.hpp)

  // Under lock_: add `flag` to the state word seen as `s` (CAS, so a concurrent fast path cannot slip between
  // the decision to wait and the registration). False if the word changed: the caller decides again.
  bool flag_locked(word s, word flag) noexcept {
    // relaxed: registration publishes nothing to the fast path; lock_ orders it with the thread that serves
    // us.
    return state_.compare_exchange_strong(s, s | flag, std::memory_order_relaxed, std::memory_order_relaxed);
  }

  // Link, unlock, wait. Returns the status the server set (ok, or the try_ rejection), or timeout/cancelled
  // (then unlinked again).
  status park(waiter_t& w, queue_t& q, word flag, const detail::deadline& d, const std::stop_token* st) {
    q.push_back(&w);
    lock_.unlock();
    typename waiter_t::outcome o;
    if (st) {
      detail::stop_interrupt<Sync> interrupt(*st, w);
      o = w.await(d);
    } else {
      o = w.await(d);
    }
    if (o == waiter_t::outcome::completed) return w.result;
    detail::slow_guard<Sync> guard(lock_);
    if (w.linked) {
      q.remove(&w);
      // relaxed: an RMW, so it continues the release sequence of the last BUSY release.
      if (q.empty()) state_.fetch_and(~flag, std::memory_order_relaxed);
    }
    return o == waiter_t::outcome::timed_out ? status::timeout : status::cancelled;
  }

  // When the operation would have to wait for the box to change: the answer it gives instead, or nullopt if
  // it may wait. A past deadline behaves like try_ (G-7); so does an already-stopped token.
  std::optional<status> would_wait(mode m, status try_answer, const detail::deadline& d,
                                   const std::stop_token* st) const noexcept {
    if (m == mode::try_only) return try_answer;
    if (!d.is_never() && Sync::passed(d)) return status::timeout;
    if (st && st->stop_requested()) return status::cancelled;
    return std::nullopt;
  }

  status put_impl(T& v, mode m, const detail::deadline& d, const std::stop_token* st) {
    for (bool first = true;; first = false) {
      if constexpr (kStateless) {  // invariant 7 (claim(0) would expect the same word: not tried again)
        if (first && flip(0, kFull)) return status::ok;
      } else {
        if (first && claim(0)) return put_owned(v);  // MV-2, uncontended
      }
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if (!(s & (kBusy | kFull))) {
        // Empty (takers may wait: the release that follows hands them the value, MV-3).
        if (!claim(s)) {
          lock_.unlock();
          continue;
        }
        lock_.unlock();
        return put_owned(v);
      }
      const bool meets_busy = (s & kBusy) != 0;
      std::uint32_t kind = kind_put;
      if (meets_busy && m == mode::try_only) {
        kind |= kTryKind;  // wait for the operation in flight to answer (invariant 6)
      } else if (auto answer = would_wait(m, status::full, d, st)) {
        lock_.unlock();
        return *answer;
      }
      if (!flag_locked(s, kPutters)) {
        lock_.unlock();
        continue;
      }
      waiter_t w;
      put_slot slot{std::addressof(v), nullptr};
      w.kind = kind;
      w.slot = &slot;
      const status r = park(w, putters_, kPutters, (kind & kTryKind) ? detail::deadline::never() : d, st);
      if (slot.error) std::rethrow_exception(slot.error);
      return r;
    }
  }

  // BUSY held on an empty box: move v in and release.
  status put_owned(T& v) {
    try {
      ::new (storage()) T(std::move(v));
    } catch (...) {
      release(false);
      throw;
    }
    release(true);
    return status::ok;
  }

  status take_impl(std::optional<T>& out, op o, T* swap_in, mode m, const detail::deadline& d,
                   const std::stop_token* st) {
    const bool short_path = kStateless && o == op::take;  // invariant 7 (then claim(kFull) is not tried)
    for (bool first = true;; first = false) {
      if constexpr (kStateless) {
        if (first && short_path && flip(kFull, 0)) {
          out.emplace();
          return status::ok;
        }
      }
      if (first && !short_path && claim(kFull)) {  // MV-5, uncontended
        take_owned(out, o, swap_in);
        return status::ok;
      }
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if ((s & kFull) && !(s & kBusy)) {
        if (!claim(s)) {
          lock_.unlock();
          continue;
        }
        lock_.unlock();
        take_owned(out, o, swap_in);
        return status::ok;
      }
      const bool meets_busy = (s & kBusy) != 0;
      std::uint32_t kind = (o == op::read) ? kind_read : (o == op::swap ? kind_swap : kind_take);
      if (meets_busy && m == mode::try_only) {
        kind |= kTryKind;
      } else if (auto answer = would_wait(m, status::empty, d, st)) {
        lock_.unlock();
        return *answer;
      }
      const word flag = (o == op::read) ? kReaders : kTakers;
      if (!flag_locked(s, flag)) {
        lock_.unlock();
        continue;
      }
      waiter_t w;
      receive_slot slot{&out, swap_in, nullptr};
      w.kind = kind;
      w.slot = &slot;
      const status r = park(w, o == op::read ? readers_ : takers_, flag,
                            (kind & kTryKind) ? detail::deadline::never() : d, st);
      if (slot.error) std::rethrow_exception(slot.error);
      return r;
    }
  }

  // BUSY held on a full box: take, read or swap, then release (serving anyone who registered meanwhile).
  void take_owned(std::optional<T>& out, op o, T* swap_in) {
    try {
      if constexpr (std::is_copy_constructible_v<T>) {
        if (o == op::read) out.emplace(*storage());
      }
      if (o != op::read) out.emplace(std::move(*storage()));
    } catch (...) {
      release(true);  // the value is still there
      throw;
    }
    if (o == op::read) {
      release(true);
      return;
    }
    end_stored();
    if (o == op::swap) {
      try {
        ::new (storage()) T(std::move(*swap_in));
      } catch (...) {
        restore_from(*out);  // the swap did not happen: the old value goes back, the caller keeps v
        out.reset();
        release(true);
        throw;
      }
    }
    release(o == op::swap);
  }

  typename Sync::template atomic<word> state_{0};
  mutable detail::slow_lock<Sync> lock_;
  queue_t takers_;   // takers and swappers, FIFO (MV-6)
  queue_t putters_;  // FIFO (MV-4)
  queue_t readers_;  // read(): all served, with copies, whenever a value is present
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace handoff
