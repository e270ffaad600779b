// ---------------------------------------------------------------------------------------------------------------
// handoff/mvar.hpp: mvar<T>, a one-slot box (Lwt_mvar on OS threads; rules MV-1..MV-9 of the spec).
//
// Purpose: reader-driven hand-off. put on an empty box returns at once; on a full one it waits, putters queue
// FIFO and each take moves the oldest putter's value in. take on a full box returns at once; on an empty one
// it waits, takers queue FIFO, and a put hands its value straight to the oldest waiting taker (no barging,
// rule G-3). Beyond Lwt (Haskell's MVar): read() copies without emptying; swap() takes and puts in one step.
//
// State word (one Sync::atomic<uint32_t>): FULL (the storage holds a value), BUSY (one thread owns the
// storage), TAKERS / PUTTERS / READERS (that waiter queue is non-empty). Invariants:
//   - The storage is touched only by the thread that set BUSY (with a CAS from a state without BUSY).
//   - The flag bits change only under lock_, and match the queues whenever BUSY is clear and lock_ is free.
//   - With BUSY clear: TAKERS or READERS ⇒ !FULL, and PUTTERS ⇒ FULL (nobody waits for what is there).
//   - Nobody ever waits for BUSY. The uncontended path is one CAS to claim the storage and one CAS to release
//   it,
//     expecting "no flags"; a thread that finds BUSY registers as a waiter instead (under lock_, with a CAS
//     that sets its flag), and the BUSY holder, whose release CAS then fails, takes lock_ and serves every
//     waiter that can be served (settle()). So there is no lock and no system call on the uncontended path
//     (G-6), and the "decide to wait, register" step follows the protocol in detail/waiter.hpp.
//   - settle() hands values to waiters in queue order: readers (copies), then the oldest taker or swapper,
//   then, if
//     empty, the oldest putter's value moves in; repeated until no waiter can be served.
// Exceptions (G-8): if moving or copying a T throws in the caller's own step, the exception reaches the
// caller and nothing changed (a failed put leaves the value with the caller). If it throws while settle()
// serves a waiter on that waiter's behalf, that waiter is woken to redo its own operation in its own thread
// (where the exception, if it recurs, reaches it); it loses its place in the queue only in that case. try_
// operations that meet BUSY (another thread is moving a value in or out at that instant) answer full / empty
// rather than wait: a try_ never waits (MV-7).
// Memory ordering: everything a thread did before put/swap happens-before everything the thread that receives
// the value does after take/read/swap returns it (G-4): the storage is published by the release that clears
// BUSY and acquired by the CAS that next sets it; direct hand-offs go through waiter::complete (release) /
// await (acquire). Lifetime: an mvar must outlive every operation on it; destroying it while a thread waits
// is a precondition violation (checked in debug builds, G-9). Not copyable, not movable.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
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
  mvar() noexcept = default;  // MV-1: empty
  explicit mvar(T value) {    // MV-1: full
    ::new (storage()) T(std::move(value));
    state_.store(kFull,
                 std::memory_order_relaxed);  // relaxed: the constructor is not concurrent with anything
  }
  mvar(const mvar&) = delete;
  mvar& operator=(const mvar&) = delete;

  ~mvar() {
    HANDOFF_PRECONDITION(takers_.empty() && putters_.empty() && readers_.empty(),
                         "mvar destroyed while threads wait on it (G-9)");
    if (state_.load(std::memory_order_acquire) & kFull) storage()->~T();
  }

  // ---- put: MV-2, MV-3, MV-4
  // ------------------------------------------------------------------------------------
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
  // -----------------------------------------------------------------------------------------
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
  // -----------------------------------------------------------------------------------------------
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

  static constexpr word kFull = 1, kBusy = 2, kTakers = 4, kPutters = 8, kReaders = 16;
  static constexpr word kFlags = kTakers | kPutters | kReaders;

  enum class mode { try_only, wait };
  enum class op : std::uint32_t { take, read, swap };
  // waiter::kind values
  static constexpr std::uint32_t kind_take = 0, kind_read = 1, kind_swap = 2, kind_put = 3, kind_retry = 4;

  // What a take/read/swap waiter's slot points to.
  struct receive_slot {
    std::optional<T>* out;
    T* swap_in;  // swap only: the value to put in place of the one received
  };

  T* storage() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }

  // ---- the BUSY protocol
  // ----------------------------------------------------------------------------------------

  // Try to set BUSY on a state equal to `expected` (no flags). acquire: pairs with the release that last
  // cleared BUSY, so the storage (and its value, if FULL) is visible.
  bool claim_uncontended(word expected) noexcept {
    return state_.compare_exchange_strong(expected, expected | kBusy, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Clear BUSY, leaving the storage full or empty. If waiters registered meanwhile, serve them first.
  void release(bool full) {
    word s = state_.load(std::memory_order_relaxed);
    while (!(s & kFlags)) {
      // release: publishes the storage; pairs with the acquire CAS in claim_uncontended / claim_locked.
      if (state_.compare_exchange_weak(s, full ? kFull : 0, std::memory_order_release,
                                       std::memory_order_relaxed))
        return;
    }
    lock_.lock();
    release_locked(full);
  }

  // Under lock_ with BUSY held: serve waiters, publish the new state, unlock, then wake whoever was served.
  void release_locked(bool full) noexcept {
    waiter_t* served = nullptr;
    const word next = settle(full, served);
    // release: publishes the storage; pairs with the acquire CAS of the next thread to set BUSY. A plain
    // store is enough: while BUSY is set no one else changes the word except flag updates, which need lock_
    // (held here).
    state_.store(next, std::memory_order_release);
    lock_.unlock();
    while (served) {
      waiter_t* w = served;
      served = w->next;
      w->complete(status::ok);  // the node may vanish now
    }
  }

  // Under lock_ with BUSY held (see the Invariants). Returns the new state word (BUSY clear). Served waiters
  // are chained through `next` (they are unlinked) for completion after unlock.
  word settle(bool full, waiter_t*& served) noexcept {
    auto serve = [&served](waiter_t* w) {
      w->next = served;
      served = w;
    };
    for (;;) {
      if (full) {
        while (waiter_t* r = readers_.claim_oldest()) {
          auto* slot = static_cast<receive_slot*>(r->slot);
          if (!copy_into(*slot->out, *storage())) r->kind = kind_retry;
          serve(r);
        }
        waiter_t* w = takers_.claim_oldest();
        if (!w) break;
        auto* slot = static_cast<receive_slot*>(w->slot);
        if (!move_into(*slot->out, *storage())) {
          w->kind = kind_retry;  // the value is still in the storage
          serve(w);
          continue;
        }
        storage()->~T();
        if (w->kind == kind_swap && !construct_from(*slot->swap_in)) {
          // The swapper's value would not move in: put the received one back and let the swapper retry
          // itself.
          restore_from(**slot->out);
          slot->out->reset();
          w->kind = kind_retry;
        } else {
          full = (w->kind == kind_swap);
        }
        serve(w);
      } else {
        waiter_t* p = putters_.claim_oldest();
        if (!p) break;
        if (construct_from(*static_cast<T*>(p->slot)))
          full = true;
        else
          p->kind = kind_retry;
        serve(p);
      }
    }
    return (full ? kFull : 0) | (takers_.empty() ? 0 : kTakers) | (putters_.empty() ? 0 : kPutters) |
           (readers_.empty() ? 0 : kReaders);
  }

  // Moves/copies on a waiter's behalf: false if T's constructor threw (the source is left as T leaves it).
  static bool move_into(std::optional<T>& out, T& from) noexcept {
    try {
      out.emplace(std::move(from));
      return true;
    } catch (...) {
      return false;
    }
  }
  static bool copy_into(std::optional<T>& out, const T& from) noexcept {
    if constexpr (std::is_copy_constructible_v<T>) {
      try {
        out.emplace(from);
        return true;
      } catch (...) {
        return false;
      }
    } else {
      (void)out, (void)from;
      return false;  // unreachable: read() requires a copyable T
    }
  }
  bool construct_from(T& from) noexcept {
    try {
      ::new (storage()) T(std::move(from));
      return true;
    } catch (...) {
      return false;
    }
  }
  // Undo a half-done swap. If T's move throws here too, nothing sound remains: noexcept makes that terminate.
  void restore_from(T& from) noexcept { ::new (storage()) T(std::move(from)); }

  // ---- registration and waiting (the protocol of detail/waiter.hpp)
  // ---------------------------------------------

  // Under lock_: add `flag` to the state word seen as `s` (CAS, so a concurrent fast path cannot slip between
  // the decision to wait and the registration). False if the word changed: the caller re-decides.
  bool flag_locked(word s, word flag) noexcept {
    // relaxed: registration publishes nothing to the fast path; lock_ orders it with the thread that serves
    // us.
    return state_.compare_exchange_strong(s, s | flag, std::memory_order_relaxed, std::memory_order_relaxed);
  }

  // Link, unlock, wait. Returns ok (served; check w.kind for retry), timeout or cancelled (unlinked again).
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
    if (o == waiter_t::outcome::completed) return status::ok;
    detail::slow_guard<Sync> guard(lock_);
    if (w.linked) {
      q.remove(&w);
      // relaxed: an RMW, so it continues the release sequence of the last BUSY release.
      if (q.empty()) state_.fetch_and(~flag, std::memory_order_relaxed);
    }
    return o == waiter_t::outcome::timed_out ? status::timeout : status::cancelled;
  }

  // The answer when the operation would have to wait but may not, or nullopt when it may wait.
  std::optional<status> would_wait(mode m, status try_answer, const detail::deadline& d,
                                   const std::stop_token* st) const noexcept {
    if (m == mode::try_only) return try_answer;
    if (!d.is_never() && Sync::passed(d)) return status::timeout;  // G-7: a past deadline behaves like try_
    if (st && st->stop_requested()) return status::cancelled;
    return std::nullopt;
  }

  status put_impl(T& v, mode m, const detail::deadline& d, const std::stop_token* st) {
    if (claim_uncontended(0)) {  // MV-2, uncontended
      try {
        ::new (storage()) T(std::move(v));
      } catch (...) {
        release(false);
        throw;
      }
      release(true);
      return status::ok;
    }
    for (;;) {
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if (!(s & (kBusy | kFull))) {
        // Empty: store, then settle() hands the value to the oldest taker if any (MV-3) or keeps it (MV-2).
        // acquire: pairs with the release that last cleared BUSY (the storage is free).
        word expected = s;
        if (!state_.compare_exchange_strong(expected, s | kBusy, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
          lock_.unlock();
          continue;
        }
        try {
          ::new (storage()) T(std::move(v));
        } catch (...) {
          release_locked(false);
          throw;
        }
        release_locked(true);
        return status::ok;
      }
      // Full, or another thread holds the storage: wait in line (MV-4). A try_ meeting BUSY answers full.
      if (auto answer = would_wait(m, status::full, d, st)) {
        lock_.unlock();
        return *answer;
      }
      if (!flag_locked(s, kPutters)) {
        lock_.unlock();
        continue;
      }
      waiter_t w;
      w.kind = kind_put;
      w.slot = std::addressof(v);
      const status r = park(w, putters_, kPutters, d, st);
      if (r == status::ok && w.kind == kind_retry) continue;  // our value never moved: redo the put ourselves
      return r;
    }
  }

  status take_impl(std::optional<T>& out, op o, T* swap_in, mode m, const detail::deadline& d,
                   const std::stop_token* st) {
    if (claim_uncontended(kFull)) {  // MV-5, uncontended
      take_owned(out, o, swap_in);
      return status::ok;
    }
    for (;;) {
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if ((s & kFull) && !(s & kBusy)) {
        word expected = s;
        // acquire: pairs with the release that last cleared BUSY (the value is visible).
        if (!state_.compare_exchange_strong(expected, s | kBusy, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
          lock_.unlock();
          continue;
        }
        lock_.unlock();
        take_owned(out, o, swap_in);
        return status::ok;
      }
      if (auto answer = would_wait(m, status::empty, d, st)) {
        lock_.unlock();
        return *answer;
      }
      const word flag = (o == op::read) ? kReaders : kTakers;
      if (!flag_locked(s, flag)) {
        lock_.unlock();
        continue;
      }
      waiter_t w;
      receive_slot slot{&out, swap_in};
      w.kind = (o == op::read) ? kind_read : (o == op::swap ? kind_swap : kind_take);
      w.slot = &slot;
      const status r = park(w, o == op::read ? readers_ : takers_, flag, d, st);
      if (r == status::ok && w.kind == kind_retry) continue;  // serve ourselves, so a throw reaches us
      return r;
    }
  }

  // With BUSY held on a full mvar: take, read or swap, then release (serving anyone who registered
  // meanwhile).
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
    storage()->~T();
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
