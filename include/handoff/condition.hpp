// ----------------------------------------------------------------------------------------------------------
// handoff/condition.hpp: condition<T> and condition<void> (Lwt_condition on OS threads; rules CO-1..CO-8).
//
// Purpose: a queue of waiting threads and nothing else (CO-1). wait() blocks until a signal or broadcast
// that happens after it registered and returns that call's value (CO-2). signal(v) hands v to the oldest
// waiter and returns 1, or discards v and returns 0 when nobody waits (CO-3); a later wait never sees a
// discarded value. broadcast(v) hands a copy of v to every waiter registered at that instant and returns how
// many (CO-4); broadcast_error(e) makes each of their waits throw e (CO-5); it leaves nothing behind, so a
// later wait does not throw. wait(lock) registers while the caller holds `lock`, releases it, and
// re-acquires it on every way out (CO-6). condition<void> adds the std::condition_variable(_any) vocabulary,
// for any BasicLockable, without spurious wakeups (CO-8, G-5).
//
// Every wait comes untimed, with a deadline (_for, _until), with a std::stop_token, and with both, each with
// and without a caller's lock. condition<T>'s timed and cancellable forms return result<T> (result.hpp): a
// std::optional<T> (so code written for the optional-returning forms compiles unchanged) whose status() is
// ok, timeout or cancelled.
// condition<void> answers bool where a form has two outcomes and result<void> where it has three:
//   - the std::condition_variable(_any) forms keep std's returns exactly (void, std::cv_status, pred's final
//     value), so ported code compiles and means the same (CO-8);
//   - wait_for(d), wait_until(t), wait(stop), wait(lock, stop): bool, true = notified (api.md); false has one
//     reason only;
//   - the deadline + stop forms (wait_for(d, stop), wait_until(t, stop), and their lock forms): result<void>.
//     Its explicit operator bool is the same "notified" as the bool forms', so `if (cv.wait_for(d, stop))`
//     reads the same; status() tells timeout from cancelled, which stop_requested() afterwards cannot (the
//     stop may have been requested after the deadline passed).
// [[nodiscard]]: every result of a timed or cancellable wait (ignoring it ignores whether anything arrived),
// and the counts of signal, broadcast and broadcast_error (CO-7: the count is the only sign that the value
// reached anyone; write `(void)c.signal(v);` to discard one on purpose). Not on notify_one()/notify_all()
// and not on the std::condition_variable(_any) wait forms: a drop-in must accept `cv.notify_one();` and
// `cv.wait_for(lock, 10ms);` without a warning, as std does.
//
// Invariants: the queue, the waiter count and the claim/deliver/give-back protocol live in
// detail/condition_core.hpp (its Invariants block). Each waiting thread's node and inbox (where a value or an
// error is delivered) are on its own stack: no allocation per wait or signal. Every blocking form follows the
// protocol of detail/waiter.hpp (register, then spin, then park; no lost wakeup). Counts are truthful (CO-7):
// a waiter is counted exactly when it was claimed, and a claimed waiter always returns what it was handed
// (but see Exceptions for wait() and wait(lock)); a waiter whose deadline or stop request came first was not
// claimed, is skipped, and is not counted.
// G-7: a stop token already stopped or a deadline already passed returns "nothing" (cancelled, resp.
// timeout; cancelled when both) at once, without registering and without releasing the caller's lock; a
// try_wait would be pointless, since a condition stores nothing. Deadlines take any std::chrono clock
// (detail/deadline.hpp).
//
// Memory ordering (G-4): everything a thread did before signal/broadcast/broadcast_error (or notify_*) that
// woke a waiter happens-before everything that waiter does after its wait returns: the value is written into
// the waiter's inbox before waiter::complete()'s release exchange, which the waiter's await() acquires. A
// signal that finds nobody waiting (one relaxed load of the count, no lock, no system call: G-6) synchronises
// with nothing. "Registered before a signal" means ordered before that signal's load of the count; the
// argument that such a waiter cannot be missed is in detail/condition_core.hpp. In particular the classic
// pattern (waiter: lock m, test the predicate, wait(m); notifier: lock m, change it, unlock m, notify_one)
// never loses the wakeup.
//
// Exceptions (G-8): values are moved, and copied only by broadcast, outside the internal lock.
//   - signal moves v once, in the signaller's thread, into the waiter's storage, before the waiter is
//     completed and counted. If that move throws, the exception reaches the signaller, v (signal's by-value
//     parameter) is destroyed, and the waiter is put back at the front of the queue, still waiting (it gets
//     the next signal).
//   - broadcast copies v into each waiter's storage in the broadcaster's thread. If a copy throws, the
//     exception reaches the broadcaster; the waiters already handed their copy return it; that waiter and
//     every later one in the snapshot go back to the front of the queue, in order, still waiting.
//   - The result<T> forms: the waiter's storage is the result<T> the wait returns (one named object, returned
//     by NRVO). The value moves exactly once, signaller to result, so no move of T runs after the hand-off.
//   - T wait() and T wait(lock) must construct their T return value themselves, from that storage, in the
//     waiter's thread: a second move, after the signaller counted the waiter and may have returned 1. If it
//     throws, the exception leaves the wait (wait(lock) has re-acquired the lock), the value is destroyed in
//     whatever state the failed move left it, and the count stands: the value reached the waiter, whose own
//     last move failed. The condition is unaffected and no other value is lost. The move cannot be avoided:
//     a function returning T by value constructs its return object itself, while the signaller, on another
//     thread, can only construct the value into storage that exists before it arrives (doing without the
//     move would take a default-constructed T for the signaller to assign to, plus NRVO, which C++ does not
//     guarantee). With a T whose move can throw, use a result form to lose nothing: wait(std::stop_token{})
//     waits exactly like wait() and moves once. (Converting a result<T> to a std::optional<T> is one more
//     move, the caller's: bind it with auto.)
//   - wait(lock): the caller's lock is re-acquired before any exception leaves. As with
//     std::condition_variable_any, a lock() that throws while re-acquiring, or an unlock() that throws
//     (BasicLockable forbids it), ends the program; calling wait(lock) on a std::unique_lock that does not
//     own its mutex is a checked precondition violation. A predicate that throws leaves with the lock held.
//   - broadcast_error(nullptr) throws std::invalid_argument and wakes nobody.
// Lifetime: a condition must outlive every operation on it. Destroying it while a thread waits is a
// precondition violation (checked in debug builds, G-9); a thread that a signal woke may destroy it once
// every signal/broadcast call that could still touch it has returned. Not copyable, not movable.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/async_forward.hpp"
#include "detail/condition_core.hpp"
#include "detail/deadline.hpp"
#include "detail/sync.hpp"
#include "name.hpp"
#include "result.hpp"
#include "status.hpp"

namespace handoff {
namespace detail {
struct select_access;  // handoff/select.hpp
}

namespace detail {
// A null exception_ptr cannot be rethrown: broadcast_error rejects it up front.
inline void check_broadcast_error(const std::exception_ptr& e) {
  if (!e) throw std::invalid_argument("handoff::condition::broadcast_error: e is a null exception_ptr");
}
}  // namespace detail

template <class T = void, class Sync = default_sync>
class condition {
  static_assert(std::is_move_constructible_v<T>, "condition<T> needs a move-constructible T (G-8)");
  static_assert(!std::is_reference_v<T> && std::is_destructible_v<T>, "condition<T> carries objects");

  using core_t = detail::condition_core<Sync>;
  using node = typename core_t::node;
  using outcome = typename core_t::outcome;

 public:
  condition() noexcept = default;
  // Named (OB-1): the name shows in handoff/debug.hpp's reports and in precondition messages.
  explicit condition(handoff::name n) : core_(n) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition() = default;                                                 // G-9: checked by the core
  std::string_view name() const noexcept { return core_.info().name(); }  // OB-1: empty when not named
  condition_stats stats() const { return core_.stats(); }                 // OB-2 (handoff/stats.hpp)

  // ---- waiting for the value itself: CO-2, CO-6. Two moves of the value (see Exceptions).
  T wait() {
    result<T> r = receive(detail::deadline::never(), nullptr);
    return std::move(*r);  // the second move, in this thread: see Exceptions
  }
  template <detail::basic_lockable Lock>
  T wait(Lock& lock) {
    result<T> r = receive_locked(lock, detail::deadline::never(), nullptr);
    return std::move(*r);  // the lock is held again already; the second move: see Exceptions
  }

  // ---- timed and cancellable: the value (status ok), or none with status timeout or cancelled. G-7. The
  // value moves once, from the signaller straight into the returned result.
  template <class Rep, class Period>
  [[nodiscard]] result<T> wait_for(std::chrono::duration<Rep, Period> d) {
    return receive(detail::deadline::after(d), nullptr);
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> wait_until(std::chrono::time_point<Clock, Duration> t) {
    return receive(detail::deadline::at(t), nullptr);
  }
  [[nodiscard]] result<T> wait(std::stop_token st) { return receive(detail::deadline::never(), &st); }
  template <class Rep, class Period>
  [[nodiscard]] result<T> wait_for(std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return receive(detail::deadline::after(d), &st);
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> wait_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return receive(detail::deadline::at(t), &st);
  }

  // The same with the caller's lock released while waiting and held again on return (CO-6).
  template <detail::basic_lockable Lock, class Rep, class Period>
  [[nodiscard]] result<T> wait_for(Lock& lock, std::chrono::duration<Rep, Period> d) {
    return receive_locked(lock, detail::deadline::after(d), nullptr);
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  [[nodiscard]] result<T> wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t) {
    return receive_locked(lock, detail::deadline::at(t), nullptr);
  }
  template <detail::basic_lockable Lock>
  [[nodiscard]] result<T> wait(Lock& lock, std::stop_token st) {
    return receive_locked(lock, detail::deadline::never(), &st);
  }
  template <detail::basic_lockable Lock, class Rep, class Period>
  [[nodiscard]] result<T> wait_for(Lock& lock, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return receive_locked(lock, detail::deadline::after(d), &st);
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  [[nodiscard]] result<T> wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t,
                                     std::stop_token st) {
    return receive_locked(lock, detail::deadline::at(t), &st);
  }

  // ---- coroutines (handoff/coroutine.hpp, CR-1..CR-8): co_await in a coroutine that `ex` resumes; waits in
  // the same FIFO as blocked threads. -> result<T>: the signalled value (ok) or cancelled.
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_receive_result, wait_case<T, Sync>>
  async_wait(Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, wait_case<T, Sync>(*this)};
  }

  // ---- waking: CO-3, CO-4, CO-5, CO-7
  // Moves v to the oldest waiter: 1. Nobody waiting: v is discarded, 0 (one load, no lock: G-6).
  [[nodiscard]] std::size_t signal(T v) {
    return core_.signal_with([&v](node& w) { inbox_of(w).value.emplace(std::move(v)); });
  }
  // A copy of v to every waiter registered now; returns how many.
  [[nodiscard]] std::size_t broadcast(const T& v) {
    static_assert(std::is_copy_constructible_v<T>, "condition<T>::broadcast copies: T must be copyable");
    return core_.broadcast_with([&v](node& w) { inbox_of(w).value.emplace(v); });
  }
  // Every waiter registered now throws e from its wait; returns how many. Nothing stays behind (CO-5).
  [[nodiscard]] std::size_t broadcast_error(std::exception_ptr e) {
    detail::check_broadcast_error(e);
    return core_.broadcast_with([&e](node& w) noexcept { inbox_of(w).error = e; });
  }

  // Diagnostic snapshot: how many threads are registered (takes the internal lock; not for hot paths).
  std::size_t waiting() const noexcept { return core_.waiting(); }

 private:
  friend struct detail::select_access;  // handoff/select.hpp: a select's wait case (the inbox, the core)

  // Where a waker delivers: on the waiting thread's stack, reached through waiter::slot. `value` is the
  // optional part of the result the wait returns, so the waker constructs the value in its final place.
  struct inbox {
    std::optional<T>& value;
    std::exception_ptr error;  // broadcast_error
  };
  static inbox& inbox_of(node& w) noexcept { return *static_cast<inbox*>(w.slot); }

  // One named result on every path that returns (NRVO): the waker's move into it is the only move.
  result<T> receive(const detail::deadline& d, const std::stop_token* st) {
    result<T> r;
    inbox in{detail::result_access::value_slot(r), nullptr};
    detail::result_access::set_status(r, core_t::status_of(run(in, d, st)));
    return r;
  }
  template <class Lock>
  result<T> receive_locked(Lock& lock, const detail::deadline& d, const std::stop_token* st) {
    result<T> r;
    inbox in{detail::result_access::value_slot(r), nullptr};
    detail::result_access::set_status(r, core_t::status_of(run_locked(lock, in, d, st)));
    return r;
  }

  outcome run(inbox& in, const detail::deadline& d, const std::stop_token* st) {
    outcome o;
    if (core_t::gives_up_at_once(d, st, o)) return o;
    node w;
    w.slot = &in;
    core_.enqueue(w);
    o = core_.await(w, d, st);
    if (in.error) std::rethrow_exception(in.error);
    return o;
  }

  template <class Lock>
  outcome run_locked(Lock& lock, inbox& in, const detail::deadline& d, const std::stop_token* st) {
    outcome o;
    if (core_t::gives_up_at_once(d, st, o)) return o;  // G-7: the caller's lock is never released
    {
      node w;
      w.slot = &in;
      core_.enqueue(w);  // registered while the caller still holds `lock` (CO-6)
      detail::release_caller_lock(lock, core_.info());
      detail::relock_on_exit<Lock> relock(lock);
      o = core_.await(w, d, st);
    }
    if (in.error) std::rethrow_exception(in.error);
    return o;
  }

  core_t core_;
};

// condition<void>: wakes without a value; a drop-in for std::condition_variable(_any) patterns (CO-8).
// Returns: bool for two outcomes, result<void> for three, std's own for std's forms (see the top of the
// file).
template <class Sync>
class condition<void, Sync> {
  using core_t = detail::condition_core<Sync>;
  using node = typename core_t::node;
  using outcome = typename core_t::outcome;

 public:
  condition() noexcept = default;
  // Named (OB-1): the name shows in handoff/debug.hpp's reports and in precondition messages.
  explicit condition(handoff::name n) : core_(n) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition() = default;                                                 // G-9: checked by the core
  std::string_view name() const noexcept { return core_.info().name(); }  // OB-1: empty when not named
  condition_stats stats() const { return core_.stats(); }                 // OB-2 (handoff/stats.hpp)

  // ---- Lwt-style forms: CO-2, G-7. bool: true when notified, false on timeout / stop request.
  void wait() { (void)run(detail::deadline::never(), nullptr); }
  template <class Rep, class Period>
  [[nodiscard]] bool wait_for(std::chrono::duration<Rep, Period> d) {
    return run(detail::deadline::after(d), nullptr) == outcome::completed;
  }
  template <class Clock, class Duration>
  [[nodiscard]] bool wait_until(std::chrono::time_point<Clock, Duration> t) {
    return run(detail::deadline::at(t), nullptr) == outcome::completed;
  }
  [[nodiscard]] bool wait(std::stop_token st) {
    return run(detail::deadline::never(), &st) == outcome::completed;
  }
  // A deadline and a stop token: ok (notified), timeout or cancelled.
  template <class Rep, class Period>
  [[nodiscard]] result<void> wait_for(std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return core_t::status_of(run(detail::deadline::after(d), &st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<void> wait_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return core_t::status_of(run(detail::deadline::at(t), &st));
  }

  // ---- std::condition_variable(_any) vocabulary, any BasicLockable (CO-6, CO-8): std's signatures and
  // returns, no [[nodiscard]] (a drop-in). No spurious wakeups (G-5): wait(lock) returns only after a
  // notification; the predicate forms re-test pred only after one, or when the deadline passed or stop was
  // requested.
  template <detail::basic_lockable Lock>
  void wait(Lock& lock) {
    (void)run_locked(lock, detail::deadline::never(), nullptr);
  }
  template <detail::basic_lockable Lock, class Predicate>
  requires std::predicate<Predicate&>
  void wait(Lock& lock, Predicate pred) {
    while (!pred()) wait(lock);
  }
  template <detail::basic_lockable Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, std::chrono::duration<Rep, Period> d) {
    return cv_status_of(run_locked(lock, detail::deadline::after(d), nullptr));
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t) {
    return cv_status_of(run_locked(lock, detail::deadline::at(t), nullptr));
  }
  // pred's final value (true: it held; false: the deadline passed with it false). One deadline for the loop.
  template <detail::basic_lockable Lock, class Rep, class Period, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_for(Lock& lock, std::chrono::duration<Rep, Period> d, Predicate pred) {
    return wait_pred(lock, detail::deadline::after(d), nullptr, pred);
  }
  template <detail::basic_lockable Lock, class Clock, class Duration, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t, Predicate pred) {
    return wait_pred(lock, detail::deadline::at(t), nullptr, pred);
  }
  // C++20 std::condition_variable_any's interruptible waits, same argument order and semantics:
  //   while (!st.stop_requested()) { if (pred()) return true; wait (until t); if it timed out return pred();
  //   } return pred();
  // so the answer is pred's final value, whether notified, stopped or timed out.
  template <detail::basic_lockable Lock, class Predicate>
  requires std::predicate<Predicate&>
  bool wait(Lock& lock, std::stop_token st, Predicate pred) {
    return wait_pred(lock, detail::deadline::never(), &st, pred);
  }
  template <detail::basic_lockable Lock, class Rep, class Period, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_for(Lock& lock, std::stop_token st, std::chrono::duration<Rep, Period> d, Predicate pred) {
    return wait_pred(lock, detail::deadline::after(d), &st, pred);
  }
  template <detail::basic_lockable Lock, class Clock, class Duration, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_until(Lock& lock, std::stop_token st, std::chrono::time_point<Clock, Duration> t,
                  Predicate pred) {
    return wait_pred(lock, detail::deadline::at(t), &st, pred);
  }

  // ---- beyond std, with the caller's lock: true when notified, false when the stop request came first;
  // and the deadline + stop forms: ok, timeout or cancelled.
  template <detail::basic_lockable Lock>
  [[nodiscard]] bool wait(Lock& lock, std::stop_token st) {
    return run_locked(lock, detail::deadline::never(), &st) == outcome::completed;
  }
  template <detail::basic_lockable Lock, class Rep, class Period>
  [[nodiscard]] result<void> wait_for(Lock& lock, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return core_t::status_of(run_locked(lock, detail::deadline::after(d), &st));
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  [[nodiscard]] result<void> wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t,
                                        std::stop_token st) {
    return core_t::status_of(run_locked(lock, detail::deadline::at(t), &st));
  }

  // ---- coroutines (handoff/coroutine.hpp, CR-1..CR-8): as condition<T>'s; -> result<void>: ok or cancelled.
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_void_result, wait_case<void, Sync>>
  async_wait(Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, wait_case<void, Sync>(*this)};
  }

  // ---- waking: CO-3, CO-4, CO-5, CO-7. Each returns how many waiters it woke; with nobody waiting, one
  // relaxed load and no lock or system call (G-6).
  [[nodiscard]] std::size_t signal() {
    return core_.signal_with([](node&) noexcept {});
  }
  [[nodiscard]] std::size_t broadcast() {
    return core_.broadcast_with([](node&) noexcept {});
  }
  // The same counts, deliberately not [[nodiscard]]: a drop-in for std::condition_variable, whose
  // notify_one()/notify_all() return void, must accept `cv.notify_one();` without a warning.
  std::size_t notify_one() { return signal(); }
  std::size_t notify_all() { return broadcast(); }
  // Every waiter registered now throws e from its wait; returns how many. Nothing stays behind (CO-5).
  [[nodiscard]] std::size_t broadcast_error(std::exception_ptr e) {
    detail::check_broadcast_error(e);
    return core_.broadcast_with([&e](node& w) noexcept { *static_cast<std::exception_ptr*>(w.slot) = e; });
  }

  // Diagnostic snapshot: how many threads are registered (takes the internal lock; not for hot paths).
  std::size_t waiting() const noexcept { return core_.waiting(); }

 private:
  friend struct detail::select_access;  // handoff/select.hpp: a select's wait case (the core)

  // A waiter's slot points to its std::exception_ptr (broadcast_error); there is no value.
  outcome run(const detail::deadline& d, const std::stop_token* st) {
    outcome o;
    if (core_t::gives_up_at_once(d, st, o)) return o;
    std::exception_ptr error;
    node w;
    w.slot = &error;
    core_.enqueue(w);
    o = core_.await(w, d, st);
    if (error) std::rethrow_exception(error);
    return o;
  }

  template <class Lock>
  outcome run_locked(Lock& lock, const detail::deadline& d, const std::stop_token* st) {
    outcome o;
    if (core_t::gives_up_at_once(d, st, o)) return o;  // G-7: the caller's lock is never released
    std::exception_ptr error;
    {
      node w;
      w.slot = &error;
      core_.enqueue(w);  // registered while the caller still holds `lock` (CO-6)
      detail::release_caller_lock(lock, core_.info());
      detail::relock_on_exit<Lock> relock(lock);
      o = core_.await(w, d, st);
    }
    if (error) std::rethrow_exception(error);
    return o;
  }

  // The predicate loop of std::condition_variable_any, one deadline and one token for all of it. Without a
  // token: while (!pred()) { wait until d; if it timed out return pred(); } return true.
  template <class Lock, class Predicate>
  bool wait_pred(Lock& lock, const detail::deadline& d, const std::stop_token* st, Predicate& pred) {
    while (!(st && st->stop_requested())) {
      if (pred()) return true;
      if (run_locked(lock, d, st) != outcome::completed) return pred();
    }
    return pred();
  }

  static std::cv_status cv_status_of(outcome o) noexcept {
    return o == outcome::completed ? std::cv_status::no_timeout : std::cv_status::timeout;
  }

  core_t core_;
};

}  // namespace handoff
