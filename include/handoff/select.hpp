// ---------------------------------------------------------------------------------------------------------------
// handoff/select.hpp: wait on several channels at once; exactly one case completes (rules SE-1..SE-9 in
// docs/semantics.md).
//
//   handoff::stream<request> requests{64};
//   handoff::mvar<int> shutdown;
//   handoff::condition<config> reload;
//   auto req = handoff::on_pop(requests);
//   auto stop = handoff::on_take(shutdown);
//   auto cfg = handoff::on_wait(reload);
//   handoff::selected r = handoff::select(req, stop, cfg);
//   if (r.index() == 0 && r.status() == handoff::status::ok) serve(std::move(*req.value));
//
// Cases (each names one operation on one channel; a case object holds what the operation receives):
//   on_pop(stream)        pop: `value` (std::optional<T>) holds the value when this case won with ok;
//                         status closed when the stream is closed and drained.
//   on_push(stream, v)    push of the caller's object v (T&): moved from only when this case won with ok;
//                         status closed when the stream is closed (v untouched).
//   on_take(mvar)         take: `value` holds the value.        on_put(mvar, v)   put of v (T&), as on_push.
//   on_wait(condition)    wait: `value` holds the signalled value (condition<void>: no value).
//   on_pop(subscription)  pop from a topic subscription (its buffer), as on_pop(stream); a value lost to a
//                         throwing move counts as lag, as in the subscription's own pops.
// Any mix, any number: the cases and their links live on the caller's stack; select never allocates.
// All channels of one select must use the same Sync (the default unless a test substitutes one).
//
// Forms (G-7), every one also with handoff::biased as the first case argument:
//   selected select(cases...)                          waits until one case completes
//   selected try_select(cases...)                      never waits: index() none and status empty if no case
//                                                      could complete now
//   selected select_for(d, cases...), select_until(t, cases...), select(stop, cases...),
//            select_for(d, stop, cases...), select_until(t, stop, cases...)
//                                                      timeout / cancelled (index() none) when nothing
//                                                      completed first; a passed deadline or a stop already
//                                                      requested makes them a try_select that answers
//                                                      timeout / cancelled (cancelled when both)
// selected: index() (the case that completed, or selected::none), status() (ok, closed: that case's channel
// is closed; or none's reason: empty, timeout, cancelled).
//
// Fairness: select tries the cases starting at a random one, so each of k always-ready cases wins about 1/k
// of the time; select(handoff::biased, ...) tries them in argument order and picks the first ready one.
// Per channel, a select's link waits in the channel's FIFO like any other waiter (G-3, ST-4, MV-3): a plain
// waiter registered before it is served first.
//
// How (detail/waiter.hpp has the core): 1. try every case without waiting (the primitive's try_ path);
// 2. register one link per case, one channel lock at a time, with that channel's decide-and-register step
//    (a channel whose operation could complete now instead ends the registration: the core leaves, and the
//    select starts again at 1); 3. wait on the core; the first channel to claim it (through any link) hands
//    its value over directly (a pop's value into `value`, a push's value out of v); 4. unregister every link
//    (one channel lock at a time; the winner's server already unlinked it). A link whose channel claimed the
//    core but could not hand over (T's move threw: the exception went to the other side) is completed with
//    "retry" and the select starts again at 1: nothing was consumed (SE-8). An mvar put case whose value's
//    move throws while a taker serves it rethrows from select, the value still in v (as mvar::put does).
//    A select never holds two channel locks, and never matches its own push with its own pop (a link of the
//    same core does not count as a waiting partner: SE-5).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

#include "condition.hpp"
#include "detail/async_forward.hpp"  // the case templates, declared
#include "detail/deadline.hpp"
#include "detail/waiter.hpp"
#include "mvar.hpp"
#include "status.hpp"
#include "stream.hpp"
#include "topic.hpp"

namespace handoff {

namespace detail {

struct async_access;  // detail/async_access.hpp: the coroutine try step of each case

// The one friend of the primitives and the cases: each case's four steps, on the primitive's private hooks.
//   try_now:  the operation without waiting; true when it completed (s: ok or closed).
//   enlist:   register link w with the channel's decide-and-register step; false (nothing registered) when
//             the operation could complete now.
//   delist:   unregister w (a no-op when its server already unlinked it).
//   finish:   after the core completed through w: true when the case completed (s: ok or closed), false when
//             the channel could not hand over (the select starts again).
struct select_access {
  // Class templates, not alias templates: clang 14 checks an alias template's access where it is used (the
  // case classes, not friends), a member typedef's where it is declared (here, a friend).
  template <class T, class Sync>
  struct mvar_slots {
    using receive = typename mvar<T, Sync>::receive_slot;
    using put = typename mvar<T, Sync>::put_slot;
  };
  template <class T, class Sync>
  using mvar_receive_slot = typename mvar_slots<T, Sync>::receive;
  template <class T, class Sync>
  using mvar_put_slot = typename mvar_slots<T, Sync>::put;

  template <class T, class Sync>
  static bool try_now(pop_case<T, Sync>& c, status& s) {
    return c.channel_ && c.channel_->select_try_pop(c.value, s);
  }
  template <class T, class Sync>
  static bool enlist(pop_case<T, Sync>& c, waiter<Sync>& w) {
    if (!c.channel_) return true;  // disabled: registered nowhere, never ready
    w.slot = &c.value;
    return c.channel_->select_enlist_pop(w);
  }
  template <class T, class Sync>
  static void delist(pop_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    if (c.channel_) c.channel_->select_delist(w, false);
  }
  template <class T, class Sync>
  static bool finish(pop_case<T, Sync>& c, waiter<Sync>& w, status& s) noexcept {
    return c.channel_->select_finish(w, s);
  }

  template <class T, class Sync>
  static bool try_now(push_case<T, Sync>& c, status& s) {
    return c.channel_ && c.channel_->select_try_push(*c.value_, s);
  }
  template <class T, class Sync>
  static bool enlist(push_case<T, Sync>& c, waiter<Sync>& w) {
    if (!c.channel_) return true;  // disabled
    w.slot = c.value_;
    return c.channel_->select_enlist_push(w);
  }
  template <class T, class Sync>
  static void delist(push_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    if (c.channel_) c.channel_->select_delist(w, true);
  }
  template <class T, class Sync>
  static bool finish(push_case<T, Sync>& c, waiter<Sync>& w, status& s) noexcept {
    return c.channel_->select_finish(w, s);
  }

  template <class T, class Sync>
  static bool try_now(take_case<T, Sync>& c, status& s) {
    return c.channel_->select_try_take(c.value, s);
  }
  template <class T, class Sync>
  static bool enlist(take_case<T, Sync>& c, waiter<Sync>& w) {
    c.slot_ = mvar_receive_slot<T, Sync>{&c.value, nullptr, nullptr};
    return c.channel_->select_enlist_take(w, c.slot_);
  }
  template <class T, class Sync>
  static void delist(take_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    c.channel_->select_delist(w, false);
  }
  template <class T, class Sync>
  static bool finish(take_case<T, Sync>& c, waiter<Sync>& w, status& s) {
    return c.channel_->select_finish_take(w, c.slot_, s);
  }

  template <class T, class Sync>
  static bool try_now(put_case<T, Sync>& c, status& s) {
    return c.channel_->select_try_put(*c.value_, s);
  }
  template <class T, class Sync>
  static bool enlist(put_case<T, Sync>& c, waiter<Sync>& w) {
    c.slot_ = mvar_put_slot<T, Sync>{c.value_, nullptr};
    return c.channel_->select_enlist_put(w, c.slot_);
  }
  template <class T, class Sync>
  static void delist(put_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    c.channel_->select_delist(w, true);
  }
  template <class T, class Sync>
  static bool finish(put_case<T, Sync>& c, waiter<Sync>& w, status& s) {
    return c.channel_->select_finish_put(w, c.slot_, s);
  }

  // A topic subscription's pop case: a pop case on the subscriber's buffer (a stream), whose try step counts
  // a value lost to a throwing move as lag, as the subscription's own pops do (topic.hpp, Exceptions).
  template <class T, class Sync>
  static stream<T, Sync>* buffer_of(typename topic<T, Sync>::subscription& sub) {
    return &sub.buffer();
  }
  template <class T, class Sync>
  static bool try_now(subscription_pop_case<T, Sync>& c, status& s) {
    return c.sub_->counted([&] { return c.buffer_->select_try_pop(c.value, s); });
  }
  template <class T, class Sync>
  static bool enlist(subscription_pop_case<T, Sync>& c, waiter<Sync>& w) {
    w.slot = &c.value;
    return c.buffer_->select_enlist_pop(w);
  }
  template <class T, class Sync>
  static void delist(subscription_pop_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    c.buffer_->select_delist(w, false);
  }
  template <class T, class Sync>
  static bool finish(subscription_pop_case<T, Sync>& c, waiter<Sync>& w, status& s) noexcept {
    return c.buffer_->select_finish(w, s);
  }

  // What the blocked-thread record names for each case while the select is parked (OB-4); a disabled case
  // names nothing.
  template <class T, class Sync>
  static wait_site site(const pop_case<T, Sync>& c) noexcept {
    return {c.channel_ ? &c.channel_->info_ : nullptr, wait_op::pop};
  }
  template <class T, class Sync>
  static wait_site site(const push_case<T, Sync>& c) noexcept {
    return {c.channel_ ? &c.channel_->info_ : nullptr, wait_op::push};
  }
  template <class T, class Sync>
  static wait_site site(const take_case<T, Sync>& c) noexcept {
    return {&c.channel_->info_, wait_op::take};
  }
  template <class T, class Sync>
  static wait_site site(const put_case<T, Sync>& c) noexcept {
    return {&c.channel_->info_, wait_op::put};
  }
  template <class T, class Sync>
  static wait_site site(const subscription_pop_case<T, Sync>& c) noexcept {
    return {&c.buffer_->info_, wait_op::pop};
  }
  template <class T, class Sync>
  static wait_site site(const wait_case<T, Sync>& c) noexcept {
    return {&c.channel_->core_.info(), wait_op::wait};
  }

  // A condition stores nothing (CO-1): its case is never ready before it waits, and always registers.
  template <class T, class Sync>
  struct condition_slots {
    using inbox = typename condition<T, Sync>::inbox;
  };
  template <class T, class Sync>
  using condition_inbox = typename condition_slots<T, Sync>::inbox;

  template <class T, class Sync>
  static bool try_now(wait_case<T, Sync>&, status&) noexcept {
    return false;
  }
  template <class T, class Sync>
  static bool enlist(wait_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    if constexpr (std::is_void_v<T>) {
      c.error_ = nullptr;
      w.slot = &c.error_;  // condition<void>'s slot: the broadcast_error
    } else {
      c.inbox_.error = nullptr;
      w.slot = &c.inbox_;
    }
    c.channel_->core_.enqueue(w);
    return true;
  }
  template <class T, class Sync>
  static void delist(wait_case<T, Sync>& c, waiter<Sync>& w) noexcept {
    c.channel_->core_.delist(w);
  }
  template <class T, class Sync>
  static bool finish(wait_case<T, Sync>& c, waiter<Sync>& w, status& s) {
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>)
      error = c.error_;
    else
      error = c.inbox_.error;
    if (error) std::rethrow_exception(error);
    s = status::ok;
    return w.result == status::ok;  // else the condition's kRetry: the delivery to us threw
  }
};

}  // namespace detail

// What a select returns: which case completed (index()) and how (status()).
class selected {
 public:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  constexpr selected(std::size_t index, handoff::status s) noexcept : index_(index), status_(s) {}
  constexpr std::size_t index() const noexcept { return index_; }
  constexpr handoff::status status() const noexcept { return status_; }
  // True when a case completed with ok.
  constexpr explicit operator bool() const noexcept {
    return index_ != none && status_ == handoff::status::ok;
  }

 private:
  std::size_t index_;
  handoff::status status_;
};

// select(biased, cases...): try the cases in argument order (the first ready one wins).
inline constexpr struct biased_t { explicit biased_t() = default; } biased{};

// ---- cases

template <class T, class Sync>
class pop_case {
 public:
  using sync_type = Sync;
  explicit pop_case(stream<T, Sync>& s) noexcept : channel_(&s) {}
  std::optional<T> value;  // the value popped, when this case won with ok
  // A disabled case never completes and registers nothing (Go's nil channel): e.g. a stream already seen
  // closed, in a loop that selects until every stream is done (handoff::choose does this).
  void disable() noexcept { channel_ = nullptr; }
  bool enabled() const noexcept { return channel_ != nullptr; }

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  stream<T, Sync>* channel_;
};

template <class T, class Sync>
class push_case {
 public:
  using sync_type = Sync;
  push_case(stream<T, Sync>& s, T& v) noexcept : channel_(&s), value_(&v) {}
  void disable() noexcept { channel_ = nullptr; }  // as pop_case::disable
  bool enabled() const noexcept { return channel_ != nullptr; }

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  stream<T, Sync>* channel_;
  T* value_;  // the caller's object: moved from only when this case won with ok
};

template <class T, class Sync>
class take_case {
 public:
  using sync_type = Sync;
  explicit take_case(mvar<T, Sync>& m) noexcept : channel_(&m) {}
  std::optional<T> value;  // the value taken, when this case won with ok

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  mvar<T, Sync>* channel_;
  typename detail::select_access::mvar_receive_slot<T, Sync> slot_{};
};

template <class T, class Sync>
class put_case {
 public:
  using sync_type = Sync;
  put_case(mvar<T, Sync>& m, T& v) noexcept : channel_(&m), value_(&v) {}

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  mvar<T, Sync>* channel_;
  T* value_;
  typename detail::select_access::mvar_put_slot<T, Sync> slot_{};
};

template <class T, class Sync>
class wait_case {
 public:
  using sync_type = Sync;
  explicit wait_case(condition<T, Sync>& c) noexcept : channel_(&c) {}
  wait_case(const wait_case& other) noexcept : channel_(other.channel_) {}  // inbox_ refers to its own value
  std::optional<T> value;  // the signalled value, when this case won with ok

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  condition<T, Sync>* channel_;
  typename detail::select_access::condition_inbox<T, Sync> inbox_{value, nullptr};
};

template <class Sync>
class wait_case<void, Sync> {
 public:
  using sync_type = Sync;
  explicit wait_case(condition<void, Sync>& c) noexcept : channel_(&c) {}

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  condition<void, Sync>* channel_;
  std::exception_ptr error_;  // broadcast_error
};

// A pop from a topic subscription (ST-8): `value` holds the value when this case won with ok; status
// closed when the subscription's buffer is closed (topic closed or unsubscribed) and drained.
template <class T, class Sync>
class subscription_pop_case {
 public:
  using sync_type = Sync;
  explicit subscription_pop_case(typename topic<T, Sync>::subscription& sub)
      : sub_(&sub), buffer_(detail::select_access::buffer_of<T, Sync>(sub)) {}
  std::optional<T> value;

 private:
  friend struct detail::select_access;
  friend struct detail::async_access;
  typename topic<T, Sync>::subscription* sub_;
  stream<T, Sync>* buffer_;
};

template <class T, class Sync>
pop_case<T, Sync> on_pop(stream<T, Sync>& s) noexcept {
  return pop_case<T, Sync>(s);
}
// on_pop(subscription): the subscription must outlive the select; unsubscribed (moved from) is a precondition
// violation (G-9).
template <class Sub>
requires requires {
  typename Sub::topic_type;
} && std::same_as<Sub, typename Sub::topic_type::subscription>
    subscription_pop_case<typename Sub::value_type, typename Sub::topic_type::sync_type> on_pop(Sub& sub) {
  return subscription_pop_case<typename Sub::value_type, typename Sub::topic_type::sync_type>(sub);
}
template <class T, class Sync>
push_case<T, Sync> on_push(stream<T, Sync>& s, T& v) noexcept {
  return push_case<T, Sync>(s, v);
}
template <class T, class Sync>
take_case<T, Sync> on_take(mvar<T, Sync>& m) noexcept {
  return take_case<T, Sync>(m);
}
template <class T, class Sync>
put_case<T, Sync> on_put(mvar<T, Sync>& m, T& v) noexcept {
  return put_case<T, Sync>(m, v);
}
template <class T, class Sync>
wait_case<T, Sync> on_wait(condition<T, Sync>& c) noexcept {
  return wait_case<T, Sync>(c);
}

namespace detail {

template <class C>
concept select_case = requires {
  typename std::remove_cvref_t<C>::sync_type;
}
&&requires(std::remove_cvref_t<C>& c, waiter<typename std::remove_cvref_t<C>::sync_type>& w, status& s) {
  { select_access::try_now(c, s) } -> std::same_as<bool>;
  { select_access::enlist(c, w) } -> std::same_as<bool>;
  select_access::delist(c, w);
  { select_access::finish(c, w, s) } -> std::same_as<bool>;
};

template <class A>
concept select_arg = select_case<A> || std::same_as<std::remove_cvref_t<A>, biased_t>;

enum class select_mode { try_only, wait };

// Where the unbiased select starts trying: the Sync's own generator when it has one (the deterministic
// scheduler's, so that a seed replays), else a per-thread xorshift.
template <class Sync>
std::size_t select_start(std::size_t n) noexcept {
  if (n <= 1) return 0;
  if constexpr (requires {
                  { Sync::select_random() } -> std::convertible_to<std::uint64_t>;
                }) {
    return static_cast<std::size_t>(Sync::select_random() % n);
  } else {
    thread_local std::uint64_t x =
        0x9e3779b97f4a7c15ULL ^ reinterpret_cast<std::uintptr_t>(&x);  // a distinct seed per thread
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<std::size_t>((x >> 11) % n);
  }
}

// Run f(case I) for the case with runtime index i.
template <class Tuple, class F, std::size_t... I>
decltype(auto) with_case(std::size_t i, Tuple& cases, F&& f, std::index_sequence<I...>) {
  using R = decltype(f(std::get<0>(cases)));
  if constexpr (std::is_void_v<R>) {
    (void)((i == I ? (f(std::get<I>(cases)), true) : false) || ...);
  } else {
    R r{};
    (void)((i == I ? (r = f(std::get<I>(cases)), true) : false) || ...);
    return r;
  }
}

template <class Sync, std::size_t N, std::size_t... I>
std::array<waiter<Sync>, N> make_links(wait_core<Sync>& core, std::index_sequence<I...>) noexcept {
  return {{waiter<Sync>(core, static_cast<std::uint32_t>(I))...}};  // guaranteed elision: links never move
}

template <class Sync, class... Cases>
selected run_select(bool in_order, select_mode m, const deadline& d, const std::stop_token* st,
                    Cases&... cs) {
  constexpr std::size_t n = sizeof...(Cases);
  static_assert(n > 0, "select needs at least one case");
  auto cases = std::tie(cs...);
  constexpr auto idx = std::index_sequence_for<Cases...>{};
  // 1. Try every case without waiting, from a random one (SE-4) or in order (biased).
  std::optional<selected> done;
  auto try_all = [&] {
    const std::size_t start = in_order ? 0 : select_start<Sync>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      status s = status::ok;
      if (with_case(
              i, cases, [&](auto& c) { return select_access::try_now(c, s); }, idx)) {
        done.emplace(i, s);
        return true;
      }
    }
    return false;
  };
  for (;;) {
    if (try_all()) return *done;
    if (m == select_mode::try_only) return {selected::none, status::empty};
    if (st && st->stop_requested()) return {selected::none, status::cancelled};  // cancelled when both
    if (Sync::passed(d)) return {selected::none, status::timeout};
    // As a blocked stream push or pop does (stream invariant 7), yield up to Sync::yield_limit times before
    // registering, trying every case again after each: with more threads than cores the thread that would
    // make a case ready usually needs this very core, and registering on every channel, then unregistering,
    // costs each channel its lock twice (measured, bench/results/select.md: the selecting consumer of 2
    // channels parked 21-32 times per 1000 messages without it, about 50x less with it). Until it
    // registers, a select is not a waiter: per-channel FIFO (SE-2) counts from registration.
    for (unsigned k = 0; k < Sync::yield_limit && !done; ++k) {
      if ((st && st->stop_requested()) || Sync::passed(d)) break;
      Sync::yield();
      if (try_all()) return *done;
    }

    // 2. Register one link per case, one channel at a time; stop at a case that could complete now.
    wait_core<Sync> core;
    const std::array<wait_site, n> sites{select_access::site(cs)...};
    const wait_description what{sites.data(), static_cast<std::uint32_t>(n)};  // the record's cases (OB-4)
    std::array<waiter<Sync>, n> links = make_links<Sync, n>(core, idx);
    std::size_t enlisted = 0;
    bool ready = false;
    while (enlisted < n && !ready) {
      if (with_case(
              enlisted, cases, [&](auto& c) { return select_access::enlist(c, links[enlisted]); }, idx))
        ++enlisted;
      else
        ready = true;
    }

    // 3. Wait for a claim, or leave at once if a case was ready (unless a channel claimed us meanwhile).
    typename wait_core<Sync>::outcome o = wait_core<Sync>::outcome::timed_out;
    bool restart = false;
    if (ready) {
      if (core.try_leave())
        restart = true;
      else
        o = core.await(deadline::never(), false, what);  // claimed: the claimer is delivering
    } else {
      o = await_with_stop(core, d, st, what);
    }

    // 4. Unregister every link (the winner's is already unlinked: delist is then a no-op).
    for (std::size_t i = 0; i < enlisted; ++i)
      with_case(
          i, cases, [&](auto& c) { select_access::delist(c, links[i]); }, idx);
    if (restart) continue;
    if (o == wait_core<Sync>::outcome::timed_out) return {selected::none, status::timeout};
    if (o == wait_core<Sync>::outcome::cancelled) return {selected::none, status::cancelled};
    const std::size_t won = core.winner()->case_index;
    status s = status::ok;
    if (with_case(
            won, cases, [&](auto& c) { return select_access::finish(c, links[won], s); }, idx))
      return {won, s};
    // The channel claimed us but could not hand over (a move threw on its side): nothing was consumed.
  }
}

template <class... Cases>
selected run_checked(bool in_order, select_mode m, const deadline& d, const std::stop_token* st,
                     Cases&... cs) {
  using Sync = typename std::tuple_element_t<0, std::tuple<Cases...>>::sync_type;
  static_assert((std::is_same_v<Sync, typename Cases::sync_type> && ...),
                "select: every channel must use the same Sync");
  return run_select<Sync>(in_order, m, d, st, cs...);
}

template <class First, class... Rest>
selected dispatch(select_mode m, const deadline& d, const std::stop_token* st, First&& first,
                  Rest&&... rest) {
  if constexpr (std::is_same_v<std::remove_cvref_t<First>, biased_t>) {
    static_assert(sizeof...(Rest) > 0, "select needs at least one case");
    return run_checked(true, m, d, st, rest...);
  } else {
    return run_checked(false, m, d, st, first, rest...);
  }
}

}  // namespace detail

// ---- the forms (cases may be lvalues, to read their value afterwards, or temporaries)

template <detail::select_arg... Args>
selected select(Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::never(), nullptr,
                          std::forward<Args>(args)...);
}
template <detail::select_arg... Args>
[[nodiscard]] selected select(std::stop_token st, Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::never(), detail::stop_ptr(st),
                          std::forward<Args>(args)...);
}
template <detail::select_arg... Args>
[[nodiscard]] selected try_select(Args&&... args) {
  return detail::dispatch(detail::select_mode::try_only, detail::deadline::never(), nullptr,
                          std::forward<Args>(args)...);
}
template <class Rep, class Period, detail::select_arg... Args>
[[nodiscard]] selected select_for(std::chrono::duration<Rep, Period> d, Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::after(d), nullptr,
                          std::forward<Args>(args)...);
}
template <class Rep, class Period, detail::select_arg... Args>
[[nodiscard]] selected select_for(std::chrono::duration<Rep, Period> d, std::stop_token st, Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::after(d), detail::stop_ptr(st),
                          std::forward<Args>(args)...);
}
template <class Clock, class Duration, detail::select_arg... Args>
[[nodiscard]] selected select_until(std::chrono::time_point<Clock, Duration> t, Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::at(t), nullptr,
                          std::forward<Args>(args)...);
}
template <class Clock, class Duration, detail::select_arg... Args>
[[nodiscard]] selected select_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st,
                                    Args&&... args) {
  return detail::dispatch(detail::select_mode::wait, detail::deadline::at(t), detail::stop_ptr(st),
                          std::forward<Args>(args)...);
}

}  // namespace handoff
