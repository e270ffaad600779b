// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/async_access.hpp: the coroutine steps of each select case (handoff/select.hpp), for
// detail/async_operation.hpp. A coroutine waits exactly as a select does (register one link per case with the
// channel's decide-and-register step, the first channel to claim its core wins, unregister the rest), so the
// enlist, delist and finish steps are select_access's. What differs is the try step, which must never park
// the coroutine's thread (CR-5):
//   try_now:      done (s: ok or closed), not_ready (register), or in_flight: a stream's try met a step in
//                 flight in another thread (a slot not yet published or freed: stream.hpp invariant 12) and
//                 recorded it in `step`; an mvar's try that met BUSY answers not_ready (its registration is
//                 served by the BUSY holder: mvar.hpp invariant 4).
//   enlist_step:  hook that step and link w in the stream's step_waiters_ until it is done (false: it is
//                 done already, try again). delist_step: unlink it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <optional>
#include <type_traits>

#include "../select.hpp"
#include "in_flight_step.hpp"

namespace handoff::detail {

struct async_access {
  enum class attempt { done, not_ready, in_flight };

  template <class T, class Sync>
  static attempt stream_answer(status s) noexcept {
    if (s == stream<T, Sync>::kInFlight) return attempt::in_flight;
    return (s == status::ok || s == status::closed) ? attempt::done : attempt::not_ready;
  }

  template <class T, class Sync>
  static attempt try_now(pop_case<T, Sync>& c, status& s, in_flight_step& step) {
    if (!c.channel_) return attempt::not_ready;  // disabled: never ready, registered nowhere
    s = c.channel_->async_try_pop(c.value, step);
    return stream_answer<T, Sync>(s);
  }
  template <class T, class Sync>
  static attempt try_now(push_case<T, Sync>& c, status& s, in_flight_step& step) {
    if (!c.channel_) return attempt::not_ready;
    s = c.channel_->async_try_push(*c.value_, step);
    return stream_answer<T, Sync>(s);
  }
  template <class T, class Sync>
  static attempt try_now(subscription_pop_case<T, Sync>& c, status& s, in_flight_step& step) {
    s = c.sub_->counted([&] { return c.buffer_->async_try_pop(c.value, step); });
    return stream_answer<T, Sync>(s);
  }
  template <class T, class Sync>
  static attempt try_now(take_case<T, Sync>& c, status& s, in_flight_step&) {
    s = c.channel_->async_try_take(c.value);
    return s == status::ok ? attempt::done : attempt::not_ready;  // empty, or BUSY: register
  }
  template <class T, class Sync>
  static attempt try_now(put_case<T, Sync>& c, status& s, in_flight_step&) {
    s = c.channel_->async_try_put(*c.value_);
    return s == status::ok ? attempt::done : attempt::not_ready;  // full, or BUSY: register
  }
  template <class T, class Sync>
  static attempt try_now(wait_case<T, Sync>&, status&, in_flight_step&) noexcept {
    return attempt::not_ready;  // a condition stores nothing (CO-1)
  }

  // Only a stream's cases report a step in flight.
  template <class T, class Sync>
  static stream<T, Sync>* stream_of(pop_case<T, Sync>& c) noexcept {
    return c.channel_;
  }
  template <class T, class Sync>
  static stream<T, Sync>* stream_of(push_case<T, Sync>& c) noexcept {
    return c.channel_;
  }
  template <class T, class Sync>
  static stream<T, Sync>* stream_of(subscription_pop_case<T, Sync>& c) noexcept {
    return c.buffer_;
  }
  template <class Case>
  static void* stream_of(Case&) noexcept {
    return nullptr;
  }

  template <class Case, class Sync>
  static bool enlist_step(Case& c, waiter<Sync>& w, const in_flight_step& step) {
    if constexpr (std::is_same_v<decltype(stream_of(c)), void*>) {
      return false;  // never reported (try_now above): try again
    } else {
      return stream_of(c)->async_enlist_step(w, step);
    }
  }
  template <class Case, class Sync>
  static void delist_step(Case& c, waiter<Sync>& w) noexcept {
    if constexpr (!std::is_same_v<decltype(stream_of(c)), void*>) stream_of(c)->async_delist_step(w);
  }
};

}  // namespace handoff::detail
