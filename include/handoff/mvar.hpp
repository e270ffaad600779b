// ----------------------------------------------------------------------------------------------------------
// handoff/mvar.hpp: mvar<T>, a one-slot box (Lwt_mvar on OS threads; rules MV-1..MV-9 of the spec).
//
// Purpose: reader-driven hand-off. put on an empty box returns at once; on a full one it waits, putters queue
// FIFO and each take moves the oldest putter's value in. take on a full box returns at once; on an empty one
// it waits, takers queue FIFO, and a put hands its value straight to the oldest waiting taker (no barging,
// rule G-3). Beyond Lwt (Haskell's MVar): read() copies without emptying; swap() takes and puts in one step.
//
// State word (one Sync::atomic<uint32_t>): FULL (the storage holds a value), BUSY (one thread owns the
// storage), TAKERS / PUTTERS / READERS (that waiter queue is non-empty), WATCHED (a readiness watcher is
// armed: invariant 9).
//
// Invariants:
// 1. The storage is touched only by the thread that set BUSY (a CAS from a state without BUSY).
// 2. Flag bits change only under lock_; they match the queues whenever BUSY is clear and lock_ is free.
// 3. With BUSY clear: TAKERS or READERS imply !FULL, PUTTERS implies FULL (nobody waits for what is there).
// 4. Nobody waits for BUSY to clear by parking on it. The uncontended path is one CAS that claims the storage
//    and one CAS that releases it, both expecting "no flags", so it takes no lock and makes no system call
//    (G-6). A thread that meets BUSY registers as a waiter instead (under lock_, with a CAS that sets its
//    flag: the protocol of detail/waiter.hpp), after at most the bounded watch of invariant 10 (a blocking
//    form that meets BUSY with no flag set may see it clear there and claim the box without registering). The
//    BUSY holder's release CAS then fails, and it serves every waiter that can be served, in queue order
//    (serve_waiters): readers get copies, then the oldest taker or swapper gets the value, then, if empty,
//    the oldest putter's value moves in; repeated.
// 5. T's constructors and destructor never run under lock_: the server claims a waiter under the lock, drops
//    it, moves or copies while still holding BUSY, and re-takes the lock for the next step. Served waiters
//    are completed once BUSY is released, so the state a returning waiter observes already includes its step.
//    lock_ is held only for queue and flag updates, so waiting for it never means waiting for user code.
// 6. A try_ operation (MV-7) never waits for an operation to start. If it meets BUSY it registers as a "try"
//    waiter; the BUSY holder, once nothing more can be served, rejects every try waiter still queued (full /
//    empty). So a try_ waits at most for the one operation already in flight, and its answer is linearized at
//    that operation's release: it never reports "empty" for a box that stayed full throughout. A form whose
//    deadline has passed or whose stop was requested is a try_ in every respect (G-7): it registers as a try
//    waiter when it meets BUSY, and its answer is then timeout or cancelled instead of empty or full. On an
//    idle box (no BUSY) such an operation answers from one load of the state word, without the lock (G-6).
// 7. A stateless T (empty, trivially copyable, trivially default-constructible: an mvar<unit> used as a lock
//    or a token, as topic<T>'s publish token is) has nothing in the storage to move, so its uncontended take
//    and put skip BUSY: one CAS from exactly FULL to empty, or from exactly empty to FULL (acq_rel, as the
//    claim and release pair it replaces). Any flag or BUSY makes that CAS fail and the operation takes the
//    general path; the short path never touches the storage (its take returns a value-initialised T,
//    indistinguishable from any other T of such a type). So that the general paths always read a live
//    object, the storage of such a T holds one object for the mvar's whole life: constructed with the mvar,
//    replaced by placement new, never destroyed before the mvar (end_stored). topic_bench, 1 subscriber:
//    18.6M -> 22.8M deliveries/s on the 2-core VM.
// 8. A value leaves the box with exactly one move (read: one copy), into the object the call returns: T from
//    take/read/swap is constructed in place from the storage, a result<T> is filled in place and returned
//    without a move. So if that move throws, the value is still in the box. A waiting taker or swapper is
//    served by a move into its result when T's move constructor is noexcept (it cannot throw there); when it
//    may throw, the server instead hands the waiter BUSY on the full box (hand_over) and the waiter moves the
//    value out itself, once, and releases, so the box is busy while that thread wakes up. A coroutine taker
//    (handoff/coroutine.hpp) is never handed BUSY: it runs only when its executor gets to it, and the box
//    would stay busy that long (try_ forms wait for BUSY: invariant 6); it is served by a move into its slot,
//    and if that move throws, the value stays in the box and the coroutine's co_await rethrows. Readers are
//    always served a copy: a copy or move that throws on their side leaves the box as it was.
// 9. Readiness watchers (handoff/readiness.hpp, WA-1..WA-7): arm() (a take would not block: full and not
//    BUSY) and arm_writable() (a put would not block: empty and not BUSY) decide under lock_ and, when the
//    answer is "armed", set WATCHED with flag_locked, as a waiter registers. WATCHED is one of the flags, so
//    while it is set every uncontended take and put misses its one-CAS paths and every release goes through
//    serve_waiters, which, once nothing more can be served, takes the watchers of the side the box ended on
//    (full: readable, empty: writable) and runs their notifiers after the state is published and lock_ is
//    released; WATCHED stays while watchers of the other side remain. A put handed straight to a waiting
//    taker leaves the box empty: readable watchers stay armed. A BUSY box is not ready: its release decides.
// 10. A blocking form (not try_, not a passed deadline or a requested stop) that finds the box not as it
//    needs it (empty for a take / read / swap, full for a put, BUSY included) first watches the state word
//    for up to Sync::spin_limit relax steps (fewer when the thread's adaptive budget has shrunk below that,
//    detail/spin_wait.hpp) before it registers, and claims the box with its one CAS if it turns
//    full (empty) and idle with no flag meanwhile: a partner that answers within the spin hands over
//    through the uncontended path, with no lock on either side. The spin ends at the first flag (a waiter
//    registered, of either kind, or a watcher armed): the thread then registers behind that waiter, so a
//    registered waiter is never passed over (G-3; as for a stream's yield, "oldest" counts from joining).
//    Two spinning threads race for the box as two uncontended calls would. mvar_bench ping-pong: see the
//    commit that added it.
//
// Exceptions (G-8): if moving or copying a T throws, the exception reaches the thread whose operation was in
// progress and the box is unchanged: a failed put leaves the value with the caller; a failed take leaves the
// value in the box (invariant 8: whichever move throws); a failed swap leaves the old value in the box and v
// with the caller. When the throw happens while serving a waiter, that waiter's call rethrows it.
//
// Forms (G-7): put/take/read/swap each have try_, _for(d), _until(t), (stop_token) and deadline + stop_token
// forms (_for(d, stop), _until(t, stop): whichever comes first). Receiving forms return result<T> (a
// std::optional<T> with status(): ok, empty for try_, timeout, cancelled); putting forms return status. Every
// put and swap form also takes an lvalue, which it copies: the caller keeps its object.
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
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/async_forward.hpp"
#include "detail/channel_info.hpp"
#include "detail/deadline.hpp"
#include "detail/precondition.hpp"
#include "detail/slow_lock.hpp"
#include "detail/sync.hpp"
#include "detail/waiter.hpp"
#include "detail/waiter_queue.hpp"
#include "name.hpp"
#include "readiness.hpp"
#include "result.hpp"
#include "stats.hpp"
#include "status.hpp"

namespace handoff {
namespace detail {
struct select_access;  // handoff/select.hpp
struct async_access;   // handoff/detail/async_access.hpp (coroutines)
}  // namespace detail

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
  // Named (OB-1): the name shows in handoff/debug.hpp's reports and in precondition messages.
  explicit mvar(handoff::name n) : info_(kind_name, this, &mvar::describe, n) {
    if constexpr (kStateless) ::new (storage_) T();
  }
  mvar(T value, handoff::name n) : info_(kind_name, this, &mvar::describe, n) {
    ::new (storage()) T(std::move(value));
    state_.store(kFull, std::memory_order_relaxed);  // relaxed: as in mvar(T)
  }
  mvar(const mvar&) = delete;
  mvar& operator=(const mvar&) = delete;

  ~mvar() {
    HANDOFF_PRECONDITION_ON(info_, takers_.empty() && putters_.empty() && readers_.empty(),
                            "destroyed while threads wait on it (G-9)");
    HANDOFF_PRECONDITION_ON(info_, readable_watches_.empty() && writable_watches_.empty(),
                            "destroyed while a watcher is armed on it (G-9, WA-5)");
    if constexpr (!kStateless) {  // invariant 7: a stateless T's object is trivially destructible
      if (state_.load(std::memory_order_acquire) & kFull) storage()->~T();
    }
  }

  // ---- put: MV-2, MV-3, MV-4. Every form but put(v) answers ok, or why not (the value stays the caller's):
  // full (try_), timeout, cancelled. An lvalue is copied in; the caller keeps its object either way.
  void put(T&& v) { (void)put_impl(v, mode::wait, detail::deadline::never(), nullptr); }
  void put(const T& v) { put(T(v)); }
  [[nodiscard]] status try_put(T&& v) {
    return put_impl(v, mode::try_only, detail::deadline::never(), nullptr);
  }
  [[nodiscard]] status try_put(const T& v) {
    return with_copy(v, [&](T& c) { return try_put(std::move(c)); });
  }
  template <class Rep, class Period>
  [[nodiscard]] status put_for(T&& v, std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return put_impl(v, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Rep, class Period>
  [[nodiscard]] status put_for(const T& v, std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return with_copy(v, [&](T& c) { return put_for(std::move(c), d, std::move(st)); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] status put_until(T&& v, std::chrono::time_point<Clock, Duration> t, std::stop_token st = {}) {
    return put_impl(v, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] status put_until(const T& v, std::chrono::time_point<Clock, Duration> t,
                                 std::stop_token st = {}) {
    return with_copy(v, [&](T& c) { return put_until(std::move(c), t, std::move(st)); });
  }
  [[nodiscard]] status put(T&& v, std::stop_token st) {
    return put_impl(v, mode::wait, detail::deadline::never(), &st);
  }
  [[nodiscard]] status put(const T& v, std::stop_token st) {
    return with_copy(v, [&](T& c) { return put(std::move(c), std::move(st)); });
  }

  // ---- take: MV-5, MV-6. The value leaves the box with exactly one move, into what the call returns; if
  // that move throws, the value stays in the box (G-8). The result forms say why there is no value: empty
  // (try_), timeout, cancelled.
  T take() {
    if constexpr (!kStateless) {
      if (claim(kFull)) return value_out(op::take);  // MV-5, uncontended: inline, one CAS to claim
    }
    return receive_value(op::take, nullptr);
  }
  [[nodiscard]] result<T> try_take() {  // MV-7 (Lwt take_available)
    return receive(op::take, nullptr, mode::try_only, detail::deadline::never(), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> take_for(std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return receive(op::take, nullptr, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> take_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st = {}) {
    return receive(op::take, nullptr, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  [[nodiscard]] result<T> take(std::stop_token st) {
    return receive(op::take, nullptr, mode::wait, detail::deadline::never(), &st);
  }

  // ---- MV-8, MV-9
  [[nodiscard]] bool is_empty() const noexcept {
    // acquire: a snapshot; pairs with the release that last cleared BUSY, for callers that act on it.
    return (state_.load(std::memory_order_acquire) & kFull) == 0;
  }

  // ---- readiness for event loops (WA-1..WA-7, handoff/readiness.hpp; invariant 9): arm() answers whether a
  // take would block and, if it would, runs `n` once after the box next ends an operation full;
  // arm_writable(), whether a put would block (once after it next ends empty).
  using sync_type = Sync;
  [[nodiscard]] watcher<mvar> watch(notifier n) noexcept { return watcher<mvar>(*this, n); }

  // ---- coroutines (handoff/coroutine.hpp, CR-1..CR-8): co_await them in a coroutine that `ex` resumes;
  // served in the same FIFO as blocked threads. async_take -> result<T>: ok or cancelled (nothing taken).
  // async_put(v) -> status: ok (v moved from) or cancelled (v untouched).
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_receive_result, take_case<T, Sync>>
  async_take(Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, take_case<T, Sync>(*this)};
  }
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_send_result, put_case<T, Sync>> async_put(
      T& v, Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, put_case<T, Sync>(*this, v)};
  }

  // Diagnostic snapshot of how many threads wait, by operation (takes the slow-path lock; not for hot paths).
  struct waiting_counts {
    std::size_t takers, putters, readers;  // takers includes swappers
  };
  waiting_counts waiting() const noexcept {
    detail::slow_guard<Sync> guard(lock_);
    return {takers_.size(), putters_.size(), readers_.size()};
  }
  std::string_view name() const noexcept { return info_.name(); }  // OB-1: empty when not named
  // OB-2: exact counts of the waits on each side, one lock (handoff/stats.hpp).
  mvar_stats stats() const {
    detail::slow_guard<Sync> guard(lock_);
    return {takers_.counts(), putters_.counts(), readers_.counts(), info_.blocked_ns()};
  }

  // read: waits until full and returns a copy, leaving the value in place (atomic with respect to other
  // operations). A copy or move that throws leaves the box as it was.
  T read() {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::read needs a copyable T");
    return receive_value(op::read, nullptr);
  }
  [[nodiscard]] result<T> try_read() {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::try_read needs a copyable T");
    return receive(op::read, nullptr, mode::try_only, detail::deadline::never(), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> read_for(std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::read_for needs a copyable T");
    return receive(op::read, nullptr, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> read_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st = {}) {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::read_until needs a copyable T");
    return receive(op::read, nullptr, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  [[nodiscard]] result<T> read(std::stop_token st) {
    static_assert(std::is_copy_constructible_v<T>, "mvar<T>::read needs a copyable T");
    return receive(op::read, nullptr, mode::wait, detail::deadline::never(), &st);
  }

  // swap: waits until full, then takes the value and puts v in its place in one step (no other operation
  // sees the mvar empty in between). Returns the old value. If a move throws, nothing happened: the box holds
  // its old value and v is still the caller's. The result forms: ok with the old value, or empty (try_),
  // timeout, cancelled, with v untouched.
  T swap(T&& v) { return receive_value(op::swap, &v); }
  T swap(const T& v) {
    T copy(v);
    return swap(std::move(copy));
  }
  [[nodiscard]] result<T> try_swap(T&& v) {
    return receive(op::swap, &v, mode::try_only, detail::deadline::never(), nullptr);
  }
  [[nodiscard]] result<T> try_swap(const T& v) {
    return with_copy(v, [&](T& c) { return try_swap(std::move(c)); });
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> swap_for(T&& v, std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return receive(op::swap, &v, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> swap_for(const T& v, std::chrono::duration<Rep, Period> d,
                                   std::stop_token st = {}) {
    return with_copy(v, [&](T& c) { return swap_for(std::move(c), d, std::move(st)); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> swap_until(T&& v, std::chrono::time_point<Clock, Duration> t,
                                     std::stop_token st = {}) {
    return receive(op::swap, &v, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> swap_until(const T& v, std::chrono::time_point<Clock, Duration> t,
                                     std::stop_token st = {}) {
    return with_copy(v, [&](T& c) { return swap_until(std::move(c), t, std::move(st)); });
  }
  [[nodiscard]] result<T> swap(T&& v, std::stop_token st) {
    return receive(op::swap, &v, mode::wait, detail::deadline::never(), &st);
  }
  [[nodiscard]] result<T> swap(const T& v, std::stop_token st) {
    return with_copy(v, [&](T& c) { return swap(std::move(c), std::move(st)); });
  }

 private:
  using word = std::uint32_t;
  using waiter_t = detail::waiter<Sync>;
  using queue_t = detail::waiter_queue<Sync>;

  // Invariant 7: a T with nothing to move.
  static constexpr bool kStateless =
      std::is_empty_v<T> && std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>;
  static constexpr word kFull = 1, kBusy = 2, kTakers = 4, kPutters = 8, kReaders = 16, kWatched = 32;
  static constexpr word kFlags = kTakers | kPutters | kReaders | kWatched;

  // try_no_wait: a coroutine's try (CR-5), which answers kBusyNow where a try_ would wait for the BUSY
  // holder.
  enum class mode { try_only, try_no_wait, wait };
  enum class op : std::uint32_t { take, read, swap };
  // waiter::kind: the operation, plus kTryKind for a try_ that met BUSY (invariant 6).
  static constexpr std::uint32_t kind_take = 0, kind_read = 1, kind_swap = 2, kind_put = 3, kTryKind = 8;
  // Invariant 8: a T whose move may throw is never moved out of the box on a waiting taker's behalf; the
  // taker (or swapper) is handed BUSY on the full box and moves the value out itself, once.
  static constexpr bool kHandOver = !std::is_nothrow_move_constructible_v<T>;
  // take_impl's answer when the caller now holds BUSY on a full box and must finish the operation itself
  // (finish_into, receive_value); never returned to users.
  static constexpr status kOwned = static_cast<status>(0x4f);
  // A coroutine's try met BUSY (mode::try_no_wait): it registers as a waiter instead, and the BUSY holder
  // serves it (invariant 4). Never returned to users.
  static constexpr status kBusyNow = static_cast<status>(0x4e);

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

  // Invariant 10: before a blocking operation registers, it watches the word for up to Sync::spin_limit relax
  // steps while nobody is registered (no flag) and the box is not yet as it needs it (`want`: kFull for a
  // take, read or swap; 0 for a put). True when the box became `want` and idle with no flag: the caller
  // tries its one-CAS claim again. False when a flag appeared (a waiter of either kind or a watcher: the
  // caller registers behind it, so no thread that joined is passed over, G-3) or the budget ran out.
  // relaxed: a hint; the claim CAS acquires.
  // A stop request ends the watch at the next step (the caller then registers and answers cancelled, as a
  // registered wait's spin does); a deadline is looked at before it only (a clock read per step would cost
  // more than the step), so one that passes during it is reported after it, as by wait_core::await.
  bool spin_before_registering(word want, const std::stop_token* st) const noexcept {
    // The thread's adaptive budget when it is below the constant (detail/spin_wait.hpp: it has shrunk
    // because this thread's spins delayed the threads it waits for), else the constant.
    const unsigned budget = detail::wait_spin_budget<Sync>::current();
    const word s = detail::spin_until<Sync>(
        state_, std::memory_order_relaxed,
        [want, st](word v) {
          return (v & kFlags) != 0 || (v & (kFull | kBusy)) == want || (st && st->stop_requested());
        },
        budget < Sync::spin_limit ? budget : Sync::spin_limit);
    return s == want;
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
        while (waiter_t* r = readers_.claim_oldest(&info_)) push(batch, r);
        if (!batch) {
          if (waiter_t* w = takers_.claim_oldest(&info_)) {
            if constexpr (kHandOver) {
              // Invariant 8; but never to a coroutine: BUSY would stay set until its executor runs it, and
              // try_ forms (invariant 6) would wait for that. A coroutine is served by a move into its slot
              // (serve_one: if it throws, the value stays in the box and the coroutine rethrows).
              if (!w->resumes_by_hook()) {
                hand_over(w, served);
                return;
              }
            }
            push(batch, w);
          }
        }
      } else if (waiter_t* p = putters_.claim_oldest(&info_)) {
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
    // Invariant 9: the watchers of the side the box ends on, fired once the state is published.
    detail::watch_firing<Sync> fire;
    (full ? readable_watches_ : writable_watches_).take_all(fire.chain());
    const word next = (full ? kFull : 0) | (takers_.empty() ? 0 : kTakers) |
                      (putters_.empty() ? 0 : kPutters) | (readers_.empty() ? 0 : kReaders) | watched_flag();
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

  // Invariant 8. Under lock_, BUSY held, the box full; `owner` is a claimed taker or swapper. BUSY passes to
  // it: the state word keeps BUSY (and gets the queue flags), the lock is dropped, the waiters served so far
  // are completed, and then the owner, which finishes the operation itself (finish_into, receive_value) and
  // releases BUSY. Try waiters stay queued: the owner's release answers them (invariant 6).
  void hand_over(waiter_t* owner, waiter_t* served) noexcept {
    const word next = kFull | kBusy | (takers_.empty() ? 0 : kTakers) | (putters_.empty() ? 0 : kPutters) |
                      (readers_.empty() ? 0 : kReaders) | watched_flag();
    // relaxed: BUSY stays set, so no fast path reads the storage through this store; the owner acquires the
    // storage through waiter::complete (release) and await (acquire), and lock_ orders the flags.
    state_.store(next, std::memory_order_relaxed);
    lock_.unlock();
    while (served) pop(served)->complete(status::ok);
    owner->complete(kOwned);
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
  void reject_tries(queue_t& q, waiter_t*& rejected, status answer) noexcept {
    for (waiter_t* w = q.front(); w;) {
      waiter_t* next = w->next;
      if (w->kind & kTryKind) {
        q.remove(w);
        q.uncount_wait();  // OB-2: a try_ that queued for its answer is not a wait
        if (w->try_claim(&info_)) {
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

  // ---- select (handoff/select.hpp): the steps of a select's take and put cases (detail::select_access)
  friend struct detail::select_access;

  bool select_try_take(std::optional<T>& out, status& s) {
    s = take_impl(out, op::take, nullptr, mode::try_only, detail::deadline::never(), nullptr);
    if (s == kOwned) {
      finish_into(out, op::take, nullptr);
      s = status::ok;
    }
    return s == status::ok;
  }
  bool select_try_put(T& v, status& s) {
    s = put_impl(v, mode::try_only, detail::deadline::never(), nullptr);
    return s == status::ok;
  }

  // The decide-and-register step of take_impl / put_impl for a select's link: false, registering nothing,
  // when the box is idle and the operation could run now; otherwise the link waits as a taker / putter (the
  // BUSY holder serves it, invariant 4).
  bool select_enlist(waiter_t& w, void* slot, bool put) {
    for (;;) {
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      const bool ready = !(s & kBusy) && ((s & kFull) != 0) != put;
      const word flag = put ? kPutters : kTakers;
      if (ready) {
        lock_.unlock();
        return false;
      }
      if (!flag_locked(s, flag)) {
        lock_.unlock();
        continue;
      }
      w.kind = put ? kind_put : kind_take;
      w.slot = slot;
      (put ? putters_ : takers_).push_back(&w);
      lock_.unlock();
      return true;
    }
  }
  bool select_enlist_take(waiter_t& w, receive_slot& slot) { return select_enlist(w, &slot, false); }
  bool select_enlist_put(waiter_t& w, put_slot& slot) { return select_enlist(w, &slot, true); }

  void select_delist(waiter_t& w, bool put) noexcept {
    detail::slow_guard<Sync> guard(lock_);
    const word flag = put ? kPutters : kTakers;
    // relaxed: as in park().
    (put ? putters_ : takers_).leave(w, [&] { state_.fetch_and(~flag, std::memory_order_relaxed); });
  }

  // After a server completed the select through w: served (ok), or handed BUSY on the full box (kOwned,
  // invariant 8: the value moves once, from the box into the case's optional). A move that threw while
  // serving rethrows here, as in take() / put().
  bool select_finish_take(waiter_t& w, receive_slot& slot, status& s) {
    if (slot.error) std::rethrow_exception(slot.error);
    if (w.result == kOwned) finish_into(*slot.out, op::take, nullptr);
    s = status::ok;
    return true;
  }
  bool select_finish_put(waiter_t&, put_slot& slot, status& s) {
    if (slot.error) std::rethrow_exception(slot.error);
    s = status::ok;
    return true;
  }

  // ---- coroutines (handoff/coroutine.hpp): the try step of an awaiting take or put (detail::async_access).
  // Its registration and finish are a select's (above): a coroutine that met BUSY registers as a taker or
  // putter and the BUSY holder serves it, so no coroutine waits for BUSY by parking (CR-5).
  friend struct detail::async_access;

  // ok (done), empty / full (register), or kBusyNow (register: the holder will serve it).
  status async_try_take(std::optional<T>& out) {
    status s = take_impl(out, op::take, nullptr, mode::try_no_wait, detail::deadline::never(), nullptr);
    if (s == kOwned) {
      finish_into(out, op::take, nullptr);
      s = status::ok;
    }
    return s;
  }
  status async_try_put(T& v) { return put_impl(v, mode::try_no_wait, detail::deadline::never(), nullptr); }

  // ---- readiness (invariant 9): the steps of a watcher (detail::watch_access)
  friend struct detail::watch_access;
  using watch_link = detail::watch_link<Sync>;

  // Under lock_: WATCHED while any watcher is armed.
  word watched_flag() const noexcept {
    return readable_watches_.empty() && writable_watches_.empty() ? 0 : kWatched;
  }

  // WA-1 (readable: `full` true) and WA-4: under lock_, ready if the operation would not block (the box idle
  // and full, or idle and empty); else link l and set WATCHED with flag_locked (valid only if the word is
  // unchanged: no operation slipped between the decision and the flag).
  readiness watch_arm(watch_link& l, bool full) {
    detail::slow_guard<Sync> guard(lock_);
    if (l.armed_or_pending()) return readiness::armed;  // a call is still to come (watch_list.hpp)
    for (;;) {
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if (!(s & kBusy) && ((s & kFull) != 0) == full) return readiness::ready;
      if ((s & kWatched) || flag_locked(s, kWatched)) break;
    }
    (full ? readable_watches_ : writable_watches_).push_back(l);
    return readiness::armed;
  }
  readiness watch_arm_readable(watch_link& l) { return watch_arm(l, true); }
  readiness watch_arm_writable(watch_link& l) { return watch_arm(l, false); }

  // WA-5: under lock_, unlink both links and cancel calls not yet started; WATCHED goes with the last
  // watcher. The caller then waits for calls in flight (watch_link::wait_unheld).
  void watch_disarm(watch_link& readable, watch_link& writable) noexcept {
    detail::slow_guard<Sync> guard(lock_);
    readable.disarm(readable_watches_);
    writable.disarm(writable_watches_);
    // relaxed: as park()'s flag updates (lock_ orders them).
    if (!watched_flag()) state_.fetch_and(~kWatched, std::memory_order_relaxed);
  }

  // ---- registration and waiting (the protocol of detail/waiter.hpp)

  // Under lock_: add `flag` to the state word seen as `s` (CAS, so a concurrent fast path cannot slip between
  // the decision to wait and the registration). False if the word changed: the caller decides again.
  bool flag_locked(word s, word flag) noexcept {
    // relaxed: registration publishes nothing to the fast path; lock_ orders it with the thread that serves
    // us.
    return state_.compare_exchange_strong(s, s | flag, std::memory_order_relaxed, std::memory_order_relaxed);
  }

  // Link, unlock, wait (waiter_queue::wait_linked). Returns the status the server set (ok, or the try_
  // rejection), or timeout/cancelled (then unlinked again, and `flag` cleared if q became empty).
  status park(waiter_t& w, queue_t& q, word flag, const detail::deadline& d, const std::stop_token* st) {
    // relaxed: an RMW, so it continues the release sequence of the last BUSY release.
    const detail::wait_op op = &q == &putters_   ? detail::wait_op::put
                               : &q == &readers_ ? detail::wait_op::read
                                                 : detail::wait_op::take;
    return q.wait_linked(lock_, w, d, st, {&info_, op},
                         [&] { state_.fetch_and(~flag, std::memory_order_relaxed); });
  }

  // What an operation that may not wait answers instead of waiting: the try_ answer for try_, cancelled for a
  // stop already requested, timeout for a deadline already passed (G-7: these behave exactly like try_,
  // including invariant 6's wait for an operation in flight). nullopt: it may wait.
  std::optional<status> give_up_answer(mode m, status try_answer, const detail::deadline& d,
                                       const std::stop_token* st) const noexcept {
    if (m != mode::wait) return try_answer;
    if (st && st->stop_requested()) return status::cancelled;  // cancelled when both, as waiter::await
    if (!d.is_never() && Sync::passed(d)) return status::timeout;
    return std::nullopt;
  }

  // True when the box is idle (no BUSY) and its FULL bit is `full_bit`: then an operation that may not wait
  // has its answer (full for a put, empty for a take) without the lock (G-6: a failing try_ is uncontended
  // too). The load is that answer's linearization point; relaxed: the answer publishes and reads nothing.
  bool answers_without_lock(word full_bit) const noexcept {
    return (state_.load(std::memory_order_relaxed) & (kFull | kBusy)) == full_bit;
  }

  // Copy an lvalue argument and run the rvalue form on the copy: the caller's object is never touched.
  template <class F>
  static auto with_copy(const T& v, F&& f) {
    T copy(v);
    return std::forward<F>(f)(copy);
  }

  status put_impl(T& v, mode m, const detail::deadline& d, const std::stop_token* st) {
    for (bool first = true;; first = false) {
      if constexpr (kStateless) {  // invariant 7 (claim(0) would expect the same word: not tried again)
        if (first && flip(0, kFull)) return status::ok;
      } else {
        if (first && claim(0)) return put_owned(v);  // MV-2, uncontended
      }
      if (first) {
        // The state load first: it is the answer's linearization point. The answer is asked once (it may
        // read the clock).
        const bool full_and_idle = answers_without_lock(kFull);
        const std::optional<status> give_up = give_up_answer(m, status::full, d, st);
        if (give_up && full_and_idle) return *give_up;
        // Invariant 10; not for a form that may not wait (a passed deadline or a requested stop on a BUSY
        // box registers as a try waiter at once: invariant 6).
        if (!give_up && spin_before_registering(0, st)) {
          if constexpr (kStateless) {
            if (flip(0, kFull)) return status::ok;
          } else {
            if (claim(0)) return put_owned(v);
          }
        }
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
      std::uint32_t kind = kind_put;
      const std::optional<status> give_up = give_up_answer(m, status::full, d, st);
      if (give_up && (s & kBusy) && m == mode::try_no_wait) {
        lock_.unlock();
        return kBusyNow;
      } else if (give_up && (s & kBusy)) {
        kind |= kTryKind;  // wait for the operation in flight to answer (invariants 4, 6; G-7)
      } else if (give_up) {
        lock_.unlock();
        return *give_up;
      }
      if (!flag_locked(s, kPutters)) {
        lock_.unlock();
        continue;
      }
      waiter_t w;
      put_slot slot{std::addressof(v), nullptr};
      w.kind = kind;
      w.slot = &slot;
      const status r = park(w, putters_, kPutters, (kind & kTryKind) ? detail::deadline::never() : d,
                            (kind & kTryKind) ? nullptr : st);
      if (slot.error) std::rethrow_exception(slot.error);
      return r == status::full ? *give_up : r;  // a try waiter's rejection, in this form's words
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

  // Acquire the box for a take, read or swap: kOwned (the caller holds BUSY on a full box and finishes the
  // operation: finish_into or receive_value), ok (a server already put the result in `out`: a reader's copy,
  // a taker's or swapper's value when T moves without throwing; or invariant 7's one-CAS take), or why not.
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
      if (first && !short_path && claim(kFull)) return kOwned;  // MV-5, uncontended
      if (first) {
        // As in put_impl: the state load first, the answer asked once.
        const bool empty_and_idle = answers_without_lock(0);
        const std::optional<status> give_up = give_up_answer(m, status::empty, d, st);
        if (give_up && empty_and_idle) return *give_up;
        // Invariant 10; not for a form that may not wait (as in put_impl).
        if (!give_up && spin_before_registering(kFull, st)) {
          if constexpr (kStateless) {
            if (short_path && flip(kFull, 0)) {
              out.emplace();
              return status::ok;
            }
          }
          if (!short_path && claim(kFull)) return kOwned;
        }
      }
      lock_.lock();
      const word s = state_.load(std::memory_order_relaxed);  // relaxed: validated by the CAS below
      if ((s & kFull) && !(s & kBusy)) {
        const bool owned = claim(s);
        lock_.unlock();
        if (owned) return kOwned;
        continue;
      }
      std::uint32_t kind = (o == op::read) ? kind_read : (o == op::swap ? kind_swap : kind_take);
      const std::optional<status> give_up = give_up_answer(m, status::empty, d, st);
      if (give_up && (s & kBusy) && m == mode::try_no_wait) {
        lock_.unlock();
        return kBusyNow;
      } else if (give_up && (s & kBusy)) {
        kind |= kTryKind;  // wait for the operation in flight to answer (invariants 4, 6; G-7)
      } else if (give_up) {
        lock_.unlock();
        return *give_up;
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
      const status r =
          park(w, o == op::read ? readers_ : takers_, flag, (kind & kTryKind) ? detail::deadline::never() : d,
               (kind & kTryKind) ? nullptr : st);
      if (slot.error) std::rethrow_exception(slot.error);
      return r == status::empty ? *give_up : r;  // a try waiter's rejection, in this form's words
    }
  }

  // The result forms: acquire, finish if we own the box, and say why not otherwise. One named result, so
  // that the caller's result is this one (NRVO) and the value moves once, from the box into it.
  result<T> receive(op o, T* swap_in, mode m, const detail::deadline& d, const std::stop_token* st) {
    result<T> r;
    std::optional<T>& out = detail::result_access::value_slot(r);
    status why = take_impl(out, o, swap_in, m, d, st);
    if (why == kOwned) {
      finish_into(out, o, swap_in);
      why = status::ok;
    }
    detail::result_access::set_status(r, why);
    return r;
  }

  // The forms that return T (take, read, swap): the value is moved (read: copied) from the box straight into
  // the caller's object, so a throwing move leaves it in the box (G-8, invariant 8).
  T receive_value(op o, T* swap_in) {
    std::optional<T> out;
    const status why = take_impl(out, o, swap_in, mode::wait, detail::deadline::never(), nullptr);
    if (why != kOwned)
      return std::move(*out);  // served: only a copy (read) or a T that moves without throwing
    if (o == op::swap) return swap_out(*swap_in);
    return value_out(o);
  }

  // BUSY held on a full box: the value (take) or a copy of it (read) becomes the caller's object, constructed
  // in place by the return statement (guaranteed elision). The guard runs after that construction: on success
  // a take ends the stored object and releases the box empty; if the move or copy threw, the box is released
  // as it was.
  T value_out(op o) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      if (o == op::take) {  // nothing can throw: no guard (std::uncaught_exceptions costs two TLS calls)
        T v(std::move(*storage()));
        end_stored();
        release(false);
        return v;  // NRVO, or a move that cannot throw
      }
      if constexpr (std::is_nothrow_copy_constructible_v<T>) {
        if (o == op::read) {
          T v(std::as_const(*storage()));
          release(true);
          return v;
        }
      }
    }
    struct finish {
      mvar& m;
      bool take;
      int exceptions = std::uncaught_exceptions();
      ~finish() {
        if (take && std::uncaught_exceptions() == exceptions) {
          m.end_stored();
          m.release(false);
        } else {
          m.release(true);
        }
      }
    } guard{*this, o == op::take};
    if constexpr (std::is_copy_constructible_v<T>) {
      if (o == op::read) return T(std::as_const(*storage()));
    }
    return T(std::move(*storage()));
  }

  // BUSY held on a full box: the old value moves into `old`, which is returned without a move (NRVO: the only
  // object this function returns); then v moves in. If that throws, the old value goes back.
  T swap_out(T& v) {
    T old = [&]() -> T {
      try {
        return T(std::move(*storage()));
      } catch (...) {
        release(true);  // the box still holds its value
        throw;
      }
    }();
    end_stored();
    try {
      ::new (storage()) T(std::move(v));
    } catch (...) {
      restore_from(old);  // the swap did not happen: the old value goes back, the caller keeps v
      release(true);
      throw;
    }
    release(true);
    return old;
  }

  // BUSY held on a full box: take, read or swap into `out`, then release (serving anyone who registered
  // meanwhile). One move (read: one copy) from the box into `out`.
  void finish_into(std::optional<T>& out, op o, T* swap_in) {
    try {
      if constexpr (std::is_copy_constructible_v<T>) {
        if (o == op::read) out.emplace(std::as_const(*storage()));
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

  static constexpr const char* kind_name = "mvar";

  // The facts a deadlock report prints (detail/channel_info.hpp): "empty; waiting: 1 taker, 0 putters, 0
  // readers".
  static void describe(const void* self, std::string& out) {
    const mvar& m = *static_cast<const mvar*>(self);
    const waiting_counts w = m.waiting();
    out = m.is_empty() ? "empty" : "full";
    out += "; waiting: " + std::to_string(w.takers) + (w.takers == 1 ? " taker, " : " takers, ") +
           std::to_string(w.putters) + (w.putters == 1 ? " putter, " : " putters, ") +
           std::to_string(w.readers) + (w.readers == 1 ? " reader" : " readers");
  }

  typename Sync::template atomic<word> state_{0};
  mutable detail::slow_lock<Sync> lock_;
  queue_t takers_;                             // takers and swappers, FIFO (MV-6)
  queue_t putters_;                            // FIFO (MV-4)
  queue_t readers_;                            // read(): all served, with copies, whenever a value is present
  detail::watch_list<Sync> readable_watches_;  // guarded by lock_ (invariant 9)
  detail::watch_list<Sync> writable_watches_;  // guarded by lock_
  alignas(T) unsigned char storage_[sizeof(T)];
  detail::channel_info info_{kind_name, this, &mvar::describe};  // OB-1: kind, name, facts for reports
};

}  // namespace handoff
