// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/async_operation.hpp: the awaiter behind every co_await on a handoff channel (async_pop,
// async_push, async_take, async_put, async_wait, async_select: handoff/coroutine.hpp; rules CR-1..CR-8).
//
// Purpose: a suspended coroutine waits in the same FIFO as blocked threads and select links, and is handed
// its value directly, because it is a select with a different completion: one wait_core in the awaiter
// (so in the coroutine frame: no allocation per suspension), one link per case, and a resume hook in place
// of a parked thread. The hook runs in whichever thread completed the wait, outside every lock
// (detail/waiter.hpp), and only posts a work item to the coroutine's executor (CR-3): the rest of the
// operation (unregister, finish, resume) runs there.
//
// Rounds. An operation runs in rounds, each on the coroutine's thread: 1. try every case without waiting
// (async_access::try_now, which never parks: CR-5); 2. rearm the core and register every case (a case whose
// try met a step in flight registers a step link instead, on the stream's step_waiters_); a case found ready
// while registering ends the registration, and the core leaves; 3. suspend until the round's completion;
// 4. unregister every case, then: a winner that finished (ok or closed) ends the operation; a channel that
// could not hand over (its retry status), a completed step link, or a round this coroutine left, start a new
// round; a round a stop request left ends it with cancelled.
//
// Invariants:
//   1. A round completes exactly once, by two arrivals on `arrivals_` (detail/round_arrivals.hpp; expecting
//      two before the core is rearmed; model: tests/model/async_round_model.cpp):
//      the registering code arrives when it has finished touching the round, and the round's one event
//      arrives: the channel that claimed the core (its complete() runs the hook), or a stop callback that
//      left it (wait_core::interrupt_and_leave), or the registering code itself when it left (then it
//      arrives twice). Whoever arrives second processes the round: the registering code inline (the
//      coroutine then never suspends: await_suspend returns false), an event by posting a work item. So the
//      awaiter is never touched by two threads at once, and never after the coroutine was resumed.
//   2. The core's claim word decides the round's event exactly once (waiter.hpp): a channel's claim, the
//      coroutine's own try_leave and a stop callback's leave are compare-exchanges from `waiting`.
//   3. A stop request is seen exactly once: rearm() fails once the core is marked interrupted, and a stop
//      callback that marks a round in progress leaves it; the round loop also checks the token before each
//      round (a mark may be erased by the exchange that completes a claimed round).
//   4. Nothing is consumed by a round that does not end the operation (SE-8, CR-4): a channel hands a value
//      only to a claimed core; a core left (by the coroutine or by a stop) was claimed by nobody.
// Memory ordering: the hook's completion is complete()'s release exchange; each arrival is an acq_rel
// fetch_sub, so the thread that processes a round sees the registering code's writes and the channel's
// payload; posting and running the work item is ordered by the executor (handoff/executor.hpp).
// Exceptions: a move that throws in a try or finish step (G-8) is caught in the round and rethrown from
// await_resume, in the coroutine; no case is registered at that point.
// Lifetime: the awaiter lives in the coroutine frame until await_resume returns; the channels must outlive
// the operation (G-9), and the executor must run every item posted to it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stop_token>
#include <tuple>
#include <utility>

#include "../executor.hpp"
#include "../select.hpp"
#include "async_access.hpp"
#include "in_flight_step.hpp"
#include "round_arrivals.hpp"
#include "waiter.hpp"

namespace handoff::detail {

// What the co_await expression yields, from the round's outcome and the cases.
struct async_select_result {
  template <class... Cases>
  static selected make(const selected& o, std::tuple<Cases...>&) noexcept {
    return o;
  }
};
// One receiving case (pop, take, wait): result<T>, the value moved from the case.
struct async_receive_result {
  template <class Case>
  static auto make(const selected& o, std::tuple<Case>& cases) {
    auto& c = std::get<0>(cases);
    using value_type = typename std::remove_reference_t<decltype(c.value)>::value_type;
    if (o.index() == selected::none || o.status() != status::ok) return result<value_type>(o.status());
    return result<value_type>(std::in_place, std::move(*c.value));
  }
};
// condition<void>'s wait: result<void>.
struct async_void_result {
  template <class Case>
  static result<void> make(const selected& o, std::tuple<Case>&) noexcept {
    return result<void>(o.index() == selected::none ? o.status() : status::ok);
  }
};
// One sending case (push, put): its status (the value moved from the caller's object only on ok).
struct async_send_result {
  template <class Case>
  static status make(const selected& o, std::tuple<Case>&) noexcept {
    return o.status();
  }
};

// Cases: case objects (a single operation owns its case) or lvalue references to the caller's cases
// (async_select: the caller reads their values afterwards).
template <class Executor, class Result, class... Cases>
class async_operation {
  static_assert(executor<Executor>, "handoff: the executor must satisfy handoff::executor (executor.hpp)");
  using Sync = typename std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Cases...>>>::sync_type;
  static_assert((std::is_same_v<Sync, typename std::remove_cvref_t<Cases>::sync_type> && ...),
                "async_select: every channel must use the same Sync");
  static constexpr std::size_t n = sizeof...(Cases);
  static_assert(n > 0, "async_select needs at least one case");
  using core_type = wait_core<Sync>;
  using attempt = async_access::attempt;

 public:
  async_operation(Executor ex, std::stop_token st, bool in_order, Cases... cs)
      : ex_(std::move(ex)),
        stop_(std::move(st)),
        cases_(std::forward<Cases>(cs)...),
        links_(make_links<Sync, n>(core_, std::index_sequence_for<Cases...>{})),
        in_order_(in_order) {}
  async_operation(const async_operation&) = delete;
  async_operation& operator=(const async_operation&) = delete;

  // A stop already requested answers cancelled without trying (as a select's); else the try step.
  bool await_ready() {
    if (stop_.stop_requested()) {
      outcome_ = selected(selected::none, status::cancelled);
      return true;
    }
    return try_all();
  }

  bool await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    core_.set_resume_hook(&on_event, this);
    (void)core_.try_leave();  // no round yet: a stop callback that runs now only marks the core
    if (stop_.stop_possible()) stop_callback_.emplace(stop_, stopper{this});
    return !register_round();  // finished already: resume at once, on this thread
  }

  decltype(auto) await_resume() {
    // A stop callback that arrived may still be returning on its thread: wait for its last store before the
    // callback object goes (~stop_callback would wait too, but outside Sync, where the deterministic
    // scheduler cannot see it). Bounded by the few instructions after its arrival.
    while (stopper_state_.load(std::memory_order_acquire) == stopper_running) Sync::yield();
    stop_callback_.reset();
    if (error_) std::rethrow_exception(error_);
    return Result::make(outcome_, cases_);
  }

 private:
  struct stopper {
    async_operation* op;
    void operator()() const noexcept {
      // std::atomic, not Sync's: no scheduling point between the callback's start and this store.
      // release / acquire: await_resume's wait reads the last store, after which op is not touched.
      std::atomic<std::uint32_t>& state = op->stopper_state_;
      state.store(stopper_running, std::memory_order_relaxed);
      if (op->core_.interrupt_and_leave()) op->arrive(1);  // invariant 3
      state.store(stopper_done, std::memory_order_release);
    }
  };
  static constexpr std::uint32_t stopper_idle = 0, stopper_running = 1, stopper_done = 2;

  // The completion hook (a channel claimed and completed the core) and the stop callback's leave.
  static void on_event(void* self) noexcept { static_cast<async_operation*>(self)->arrive(1); }

  // Invariant 1. The second arrival of an event posts the rest of the round to the executor.
  void arrive(std::uint32_t count) noexcept {
    if (!arrivals_.arrive(count)) return;
    Executor ex = ex_;  // a copy: once posted, the item may run (and the frame go) before post() returns
    ex.post(work_item{&resume_round, this});
  }

  static void resume_round(void* self) noexcept {
    auto* op = static_cast<async_operation*>(self);
    if (op->finish_round() || op->register_round()) op->handle_.resume();
  }

  // 1. The try step, from a random case (SE-4) or in order. True when a case completed (outcome_ set).
  bool try_all() {
    in_flight_.fill(false);
    const std::size_t start = in_order_ ? 0 : select_start<Sync>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      status s = status::ok;
      const attempt a = with_case(
          i, cases_, [&](auto& c) { return async_access::try_now(c, s, steps_[i]); }, indices);
      if (a == attempt::done) {
        outcome_ = selected(i, s);
        return true;
      }
      in_flight_[i] = (a == attempt::in_flight);
    }
    return false;
  }

  // Rounds until one suspends (false) or the operation ends (true: outcome_ or error_ set).
  bool register_round() noexcept {
    try {
      for (;;) {
        if (stop_.stop_requested()) {  // invariant 3
          outcome_ = selected(selected::none, status::cancelled);
          return true;
        }
        // 2. Register. The arrivals first: an event of this round may arrive as soon as the core is rearmed.
        arrivals_.expect_two();
        if (!core_.rearm()) {
          outcome_ = selected(selected::none, status::cancelled);
          return true;
        }
        enlisted_ = 0;
        bool ready = false;
        while (enlisted_ < n && !ready) {
          const std::size_t i = enlisted_;
          const bool linked = with_case(
              i, cases_,
              [&](auto& c) {
                return in_flight_[i] ? async_access::enlist_step(c, links_[i], steps_[i])
                                     : select_access::enlist(c, links_[i]);
              },
              indices);
          if (linked)
            ++enlisted_;
          else
            ready = true;
        }
        left_by_us_ = ready && core_.try_leave();
        // 3. Arrive; from here this round belongs to whoever arrives second (invariant 1).
        const std::uint32_t count = left_by_us_ ? 2 : 1;
        if (!arrivals_.arrive(count)) return false;  // suspended
        if (finish_round()) return true;             // else a new round (its try step ran in finish_round)
      }
    } catch (...) {
      error_ = std::current_exception();  // from a try or finish step: nothing is registered (Exceptions)
      return true;
    }
  }

  // 4. Unregister every case of the round; true when the operation ended (outcome_ or error_ set), false
  // when a new round must start (the try step already ran: it found nothing ready).
  bool finish_round() noexcept {
    try {
      for (std::size_t i = 0; i < enlisted_; ++i)
        with_case(
            i, cases_,
            [&](auto& c) {
              if (in_flight_[i])
                async_access::delist_step(c, links_[i]);
              else
                select_access::delist(c, links_[i]);
            },
            indices);
      enlisted_ = 0;
      if (core_.resumed()) {
        const std::size_t won = core_.winner()->case_index;
        status s = status::ok;
        const bool finished =
            !in_flight_[won] &&
            with_case(
                won, cases_, [&](auto& c) { return select_access::finish(c, links_[won], s); }, indices);
        if (finished) {
          outcome_ = selected(won, s);
          return true;
        }
      } else if (!left_by_us_) {  // a stop request left the round
        outcome_ = selected(selected::none, status::cancelled);
        return true;
      }
      return try_all();  // a new round (a step done, a hand-off that threw, a case ready at registration)
    } catch (...) {
      error_ = std::current_exception();
      return true;
    }
  }

  static constexpr auto indices = std::index_sequence_for<Cases...>{};

  Executor ex_;
  std::stop_token stop_;
  std::tuple<Cases...> cases_;
  core_type core_;
  std::array<waiter<Sync>, n> links_;
  std::array<in_flight_step, n> steps_{};
  std::array<bool, n> in_flight_{};
  round_arrivals<Sync> arrivals_;
  std::size_t enlisted_ = 0;
  bool left_by_us_ = false;
  bool in_order_;
  selected outcome_{selected::none, status::empty};
  std::exception_ptr error_;
  std::coroutine_handle<> handle_;
  std::atomic<std::uint32_t> stopper_state_{stopper_idle};
  std::optional<std::stop_callback<stopper>> stop_callback_;
};

}  // namespace handoff::detail
