// ----------------------------------------------------------------------------------------------------------
// handoff/condition.hpp: condition<T> and condition<void> (Lwt_condition on OS threads; rules CO-1..CO-8).
//
// Purpose: a queue of waiting threads and nothing else (CO-1). wait() blocks until a signal or broadcast
// that happens after it registered and returns that call's value (CO-2). signal(v) hands v to the oldest
// waiter and returns 1, or discards v and returns 0 when nobody waits (CO-3); a later wait never sees a
// discarded value. broadcast(v) hands a copy of v to every waiter registered at that instant and returns how
// many (CO-4); broadcast_error(e) makes each of their waits throw e (CO-5). wait(lock) registers while the
// caller holds `lock`, releases it, and re-acquires it on every way out (CO-6). condition<void> adds the
// std::condition_variable vocabulary, for any BasicLockable, without spurious wakeups (CO-8, G-5).
//
// Invariants: the queue, the waiter count and the claim/deliver/give-back protocol live in
// detail/condition_core.hpp (its Invariants block). Each waiting thread's node and inbox (where a value or an
// error is delivered) are on its own stack: no allocation per wait or signal. Every blocking form follows the
// protocol of detail/waiter.hpp (register, then spin, then park; no lost wakeup). Counts are truthful (CO-7):
// a waiter is counted exactly when it was claimed, and a claimed waiter always returns what it was handed; a
// waiter whose deadline or stop request came first was not claimed, is skipped, and is not counted.
// G-7: a deadline already passed or a stop token already stopped returns "nothing" at once without
// registering (and without releasing the caller's lock); a try_wait would be pointless, since a condition
// stores nothing. Deadlines take any std::chrono clock (detail/deadline.hpp).
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
//   - signal: if moving v into the waiter throws, the exception reaches the signaller and the waiter is put
//     back at the front of the queue, still waiting (it gets the next signal).
//   - broadcast: if copying v into a waiter throws, the exception reaches the broadcaster; the waiters
//   already
//     handed their copy return it; that waiter and every later one in the snapshot go back to the front of
//     the queue, in order, still waiting. The condition stays usable either way.
//   - a waiter whose own final move of the value out of its inbox throws gets that exception in its wait.
//   - wait(lock): the caller's lock is re-acquired before any exception leaves. As with
//     std::condition_variable_any, a lock() that throws while re-acquiring, or an unlock() that throws
//     (BasicLockable forbids it), ends the program; calling wait(lock) on a std::unique_lock that does not
//     own its mutex is a checked precondition violation.
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
#include <type_traits>
#include <utility>

#include "detail/condition_core.hpp"
#include "detail/deadline.hpp"
#include "detail/sync.hpp"
#include "status.hpp"

namespace handoff {

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
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition() = default;  // G-9: checked by the core

  // ---- waiting: CO-2, CO-6, G-7
  T wait() {
    inbox in;
    (void)run(in, detail::deadline::never(), nullptr);
    return std::move(*in.value);
  }
  template <detail::basic_lockable Lock>
  T wait(Lock& lock) {
    inbox in;
    (void)run_locked(lock, in, detail::deadline::never(), nullptr);
    return std::move(*in.value);
  }
  template <class Rep, class Period>
  std::optional<T> wait_for(std::chrono::duration<Rep, Period> d) {
    inbox in;
    (void)run(in, detail::deadline::after(d), nullptr);
    return in.release();
  }
  template <class Clock, class Duration>
  std::optional<T> wait_until(std::chrono::time_point<Clock, Duration> t) {
    inbox in;
    (void)run(in, detail::deadline::at(t), nullptr);
    return in.release();
  }
  std::optional<T> wait(std::stop_token st) {
    inbox in;
    (void)run(in, detail::deadline::never(), &st);
    return in.release();
  }

  // The same with the caller's lock released while waiting and held again on return (CO-6).
  template <detail::basic_lockable Lock, class Rep, class Period>
  std::optional<T> wait_for(Lock& lock, std::chrono::duration<Rep, Period> d) {
    inbox in;
    (void)run_locked(lock, in, detail::deadline::after(d), nullptr);
    return in.release();
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  std::optional<T> wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t) {
    inbox in;
    (void)run_locked(lock, in, detail::deadline::at(t), nullptr);
    return in.release();
  }
  template <detail::basic_lockable Lock>
  std::optional<T> wait(Lock& lock, std::stop_token st) {
    inbox in;
    (void)run_locked(lock, in, detail::deadline::never(), &st);
    return in.release();
  }

  // ---- waking: CO-3, CO-4, CO-5, CO-7
  // Moves v to the oldest waiter: 1. Nobody waiting: v is discarded, 0 (one load, no lock: G-6).
  std::size_t signal(T v) {
    return core_.signal_with([&v](node& w) { inbox_of(w).value.emplace(std::move(v)); });
  }
  // A copy of v to every waiter registered now; returns how many.
  std::size_t broadcast(const T& v) {
    static_assert(std::is_copy_constructible_v<T>, "condition<T>::broadcast copies: T must be copyable");
    return core_.broadcast_with([&v](node& w) { inbox_of(w).value.emplace(v); });
  }
  // Every waiter registered now throws e from its wait; returns how many.
  std::size_t broadcast_error(std::exception_ptr e) {
    detail::check_broadcast_error(e);
    return core_.broadcast_with([&e](node& w) noexcept { inbox_of(w).error = e; });
  }

  // Diagnostic snapshot: how many threads are registered (takes the internal lock; not for hot paths).
  std::size_t waiting() const noexcept { return core_.waiting(); }

 private:
  // Where a waker delivers: on the waiting thread's stack, reached through waiter::slot.
  struct inbox {
    std::optional<T> value;
    std::exception_ptr error;  // broadcast_error
    // Engaged-only move: returning the optional itself trips g++ 12's -Wmaybe-uninitialized on the
    // disengaged payload of a trivial T at -O1 and above (a false positive that -Werror users would hit).
    std::optional<T> release() {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
      if (!value) return std::nullopt;
      return std::optional<T>(std::move(*value));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    }
  };
  static inbox& inbox_of(node& w) noexcept {
    return *static_cast<inbox*>(w.slot);
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
    if (core_t::gives_up_at_once(d, st, o)) return o;
    {
      node w;
      w.slot = &in;
      core_.enqueue(w);  // registered while the caller still holds `lock` (CO-6)
      detail::release_caller_lock(lock);
      detail::relock_on_exit<Lock> relock(lock);
      o = core_.await(w, d, st);
    }
    if (in.error) std::rethrow_exception(in.error);
    return o;
  }

  core_t core_;
};

// condition<void>: wakes without a value; a drop-in for std::condition_variable(_any) patterns (CO-8).
template <class Sync>
class condition<void, Sync> {
  using core_t = detail::condition_core<Sync>;
  using node = typename core_t::node;
  using outcome = typename core_t::outcome;

 public:
  condition() noexcept = default;
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition() = default;  // G-9: checked by the core

  // ---- Lwt-style forms: CO-2; the bool forms return true when notified, false on timeout / stop request.
  void wait() { (void)run(detail::deadline::never(), nullptr); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return run(detail::deadline::after(d), nullptr) == outcome::completed;
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> t) {
    return run(detail::deadline::at(t), nullptr) == outcome::completed;
  }
  bool wait(std::stop_token st) { return run(detail::deadline::never(), &st) == outcome::completed; }

  // ---- std::condition_variable vocabulary, any BasicLockable (CO-6, CO-8). No spurious wakeups (G-5):
  // wait(lock) returns only after a notification; the predicate forms re-test pred only after one.
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
    return status_of(run_locked(lock, detail::deadline::after(d), nullptr));
  }
  template <detail::basic_lockable Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t) {
    return status_of(run_locked(lock, detail::deadline::at(t), nullptr));
  }
  // pred's final value (true: it held; false: the deadline passed with it false). One deadline for the loop.
  template <detail::basic_lockable Lock, class Rep, class Period, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_for(Lock& lock, std::chrono::duration<Rep, Period> d, Predicate pred) {
    return wait_pred(lock, detail::deadline::after(d), pred);
  }
  template <detail::basic_lockable Lock, class Clock, class Duration, class Predicate>
  requires std::predicate<Predicate&>
  bool wait_until(Lock& lock, std::chrono::time_point<Clock, Duration> t, Predicate pred) {
    return wait_pred(lock, detail::deadline::at(t), pred);
  }
  // true when notified, false when the stop request came first.
  template <detail::basic_lockable Lock>
  bool wait(Lock& lock, std::stop_token st) {
    return run_locked(lock, detail::deadline::never(), &st) == outcome::completed;
  }
  // As std::condition_variable_any::wait(lock, stoken, pred): pred's final value.
  template <detail::basic_lockable Lock, class Predicate>
  requires std::predicate<Predicate&>
  bool wait(Lock& lock, std::stop_token st, Predicate pred) {
    while (!pred()) {
      if (run_locked(lock, detail::deadline::never(), &st) != outcome::completed) return pred();
    }
    return true;
  }

  // ---- waking: CO-3, CO-4, CO-5, CO-7. Each returns how many waiters it woke; with nobody waiting, one
  // relaxed load and no lock or system call (G-6).
  std::size_t signal() {
    return core_.signal_with([](node&) noexcept {});
  }
  std::size_t broadcast() {
    return core_.broadcast_with([](node&) noexcept {});
  }
  std::size_t notify_one() { return signal(); }
  std::size_t notify_all() { return broadcast(); }
  std::size_t broadcast_error(std::exception_ptr e) {
    detail::check_broadcast_error(e);
    return core_.broadcast_with([&e](node& w) noexcept { *static_cast<std::exception_ptr*>(w.slot) = e; });
  }

  // Diagnostic snapshot: how many threads are registered (takes the internal lock; not for hot paths).
  std::size_t waiting() const noexcept { return core_.waiting(); }

 private:
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
    if (core_t::gives_up_at_once(d, st, o)) return o;
    std::exception_ptr error;
    {
      node w;
      w.slot = &error;
      core_.enqueue(w);  // registered while the caller still holds `lock` (CO-6)
      detail::release_caller_lock(lock);
      detail::relock_on_exit<Lock> relock(lock);
      o = core_.await(w, d, st);
    }
    if (error) std::rethrow_exception(error);
    return o;
  }

  template <class Lock, class Predicate>
  bool wait_pred(Lock& lock, const detail::deadline& d, Predicate& pred) {
    while (!pred()) {
      if (run_locked(lock, d, nullptr) != outcome::completed) return pred();
    }
    return true;
  }

  static std::cv_status status_of(outcome o) noexcept {
    return o == outcome::completed ? std::cv_status::no_timeout : std::cv_status::timeout;
  }

  core_t core_;
};

}  // namespace handoff
