// Planted-bug self-check of the select scenarios (reliability principle 2). The stem contains "planted", so
// ctest marks every case WILL_FAIL: each case fails when the deterministic scheduler catches its bug within
// the seed budget (kSeeds, always in full: det_sweep, not det_expect_clean), and if the scenarios ever go
// blind the case passes and CI fails. Each case prints the seed that caught it and the replay line. Every
// scenario of tests/support/select_det_scenarios.hpp has at least one case here (its planted twin), and each
// case runs one bug against one scenario, so that a twin gone blind is not hidden by another that still
// catches.
//
// The broken selects live here, in the test tree only: planted_run is the loop of handoff/select.hpp
// (detail::run_select: try every case, register one link per case, wait on the core, unregister, finish the
// winner) rebuilt from detail::select_access's public steps (try_now / enlist / delist / finish) and the
// real wait_core, with one planted change each:
//   register_past_ready        (i)    a case found ready while registering is skipped and registration goes
//                                     on; the select then waits although that value is there: DEADLOCK.
//   take_ready_without_leaving (ii)   a case found ready while registering is taken at once, before the core
//                                     leaves and the links registered so far are unregistered: a push on an
//                                     earlier channel hands its value to such a stale, still claimable link
//                                     while the select completes the ready case: two cases complete, and the
//                                     caller, reading the reported one, loses the other value.
//   first_case_wins            (iii)  finish ignores the core's winner and finishes case 0: the case index
//                                     and the value the caller reads are wrong.
//   recheck_after_registering  (iv)   after registering every case, every case is tried once more before
//                                     waiting (a "double check"): on a rendezvous, its push case meets its
//                                     own pop link and the select matches itself (SE-5).
//   closed_before_drained      (v)    the try step reports a pop case closed as soon as its stream is closed,
//                                     before popping what is still buffered (SE-6, ST-5).
//   closed_push_loses_value    (vi)   a push link completed by close is treated as taken: the caller's value
//                                     is moved out and dropped although the case reports closed (SE-6, SE-1).
//   losing_push_consumed       (vii)  unregistering a push link that did not win (another case won, or the
//                                     select gave up) moves the caller's value out and drops it (SE-1, G-2).
//   give_up_by_the_clock       (viii) after the core completed, the select still reports cancelled (stop
//                                     requested) or timeout (deadline passed) by looking at the stop token
//                                     and the clock, not at the claim word that decided: the delivered value
//                                     is dropped (a pop case's value is left unread, a push case's is gone)
//                                     (SE-3, G-7).
//   link_at_the_front          (ix)   each link, once registered, is moved from the back to the front of its
//                                     channel's waiter queue (under the channel's lock): a plain waiter
//                                     registered before the select is served after it (SE-2, G-3).
// (v) and (ix) need a case's channel and a channel's lock and queues, which select_access does not hand out:
// they reach them through the explicit-instantiation access rule (grant, below). The others use only the
// steps and the link fields (a registered push link's slot is the caller's value).
// About the literal "skip the delist of the losing links": with the library's one-shot claim word it loses
// no value (a later server's claim_oldest finds the core done, unlinks the stale link and moves on); it is a
// use-after-scope of the links on the select's stack instead, which det_sync cannot report reliably (ASan's
// job). The stale link that does lose a value is one whose core can still be claimed: (ii). Memory orders
// (G-4, happens-before) are out of reach here: det_sync runs one thread at a time (tests/model/ covers them).
//
// Planted twins: every scenario of select_det_scenarios.hpp (17 functions; the 16 cases of
// select_det_test.cpp run them) -> the bug that it catches -> the case here. In the dev build each
// is caught within its first 114 seeds of 10^4 (most at seed 1-11), and the file runs in under a second.
//   scenario (arguments)                     bug     case
//   two_pushes_race_for_one_selector(1, 1)   (ii)    TakeAReadyCaseBeforeLeaving_SE1_G2
//   two_pushes_race_for_one_selector(0, 0)   (iii)   FinishIgnoresTheWinner_SE1
//   stale_link_on_the_losing_channel(1)      (ii)    StaleLinkTakesTheLosingValue_SE1_G3
//   give_up_races_a_push(1, timeout)         (viii)  DeadlineReportedAfterAClaim_SE3_G2
//   give_up_races_a_push(0, both)            (viii)  StopOrDeadlineReportedAfterAClaim_SE3_G7
//   give_up_races_a_pop(0, stop)             (viii)  StopReportedAfterAClaim_SE3_G7
//   give_up_races_a_pop(1, timeout)          (vii)   TimedOutPushCaseLosesItsValue_SE1_G2
//   values_arrive_during_registration        (ii)    ValuesDuringRegistrationStaleLink_SE1_G1
//   value_arrives_at_the_last_case           (i)     RegisterPastAReadyCase_SE1_G1
//   close_during_select_pop_drains_first(2)  (v)     ClosedReportedBeforeDrained_SE6_ST5
//   close_during_select_push_keeps_value(1)  (vi)    ClosedPushCaseLosesItsValue_SE6_SE1
//   plain_popper_ahead_is_served_first(1)    (ix)    SelectPopperJumpsThePlainPopper_SE2_G3
//   plain_pusher_ahead_is_served_first(1)    (ix)    SelectPusherJumpsThePlainPusher_SE2_ST4
//   plain_taker_ahead_is_served_first        (ix)    SelectTakerJumpsThePlainTaker_SE2_MV3
//   self_match_alone_times_out               (iv)    RecheckAfterRegisteringMatchesItself_SE5
//   self_match_with_a_partner                (iv)    RecheckMatchesItselfBeforeThePartner_SE5
//   self_match_two_selectors                 (iv)    RecheckMatchesItselfNotTheOther_SE5
//   crossed_selectors_meet_once              (ii)    CrossedSelectorsMeetTwice_SE1_SE5
//   mixed_cases_signal_races_a_push<take>    (iii)   MixedTakeCaseWrongWinner_SE1
//   mixed_cases_signal_races_a_push<put>     (iii)   MixedPutCaseWrongWinner_SE1
//   eight_streams_eight_pushers(1)           (iii)   EightStreamsWrongWinner_SE1_G2
// Swept against every scenario (2,000 seeds each), the registration bugs (i)-(iv) are caught by neither the
// three FIFO scenarios (only (ix) is) nor the two give-up ones (only (vii) and (viii) are), and (v) only by
// the close scenario with a buffer: at capacity 0 nothing is buffered when the close comes.
#include <handoff/select.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <stop_token>
#include <tuple>
#include <utility>

#include "support/det_sync.hpp"
#include "support/select_det_scenarios.hpp"

namespace {

namespace hd = handoff::detail;
namespace sd = handoff_test::select_det;
using handoff::selected;
using handoff::status;

constexpr std::uint64_t kSeeds = 10'000;

enum class select_bug {
  register_past_ready,
  take_ready_without_leaving,
  first_case_wins,
  recheck_after_registering,
  closed_before_drained,
  closed_push_loses_value,
  losing_push_consumed,
  give_up_by_the_clock,
  link_at_the_front
};

// The caller's object a registered push link offers (select_access::enlist pointed the link's slot at it),
// moved out and dropped: what (vi) and (vii) do to a push case's value. Other case kinds keep theirs.
template <class Case>
void drop_offered(Case&, hd::waiter<sd::sync>&) {}
template <class T>
void drop_offered(handoff::push_case<T, sd::sync>&, hd::waiter<sd::sync>& w) {
  const T gone = std::move(*static_cast<T*>(w.slot));
  (void)gone;
}

// (v) and (ix) reach a case's channel and a channel's lock and waiter queues, which select_access does not
// hand out, through the explicit-instantiation access rule (C++20 [temp.spec]/6: the names in an explicit
// instantiation are not access-checked): grant<Tag, &Class::member> defines member(Tag), which returns that
// member pointer. Only for the types the scenarios use (item over det_select_sync).
template <class Tag, typename Tag::type Member>
struct grant {
  friend typename Tag::type member(Tag) { return Member; }
};
using pop_case_t = handoff::pop_case<sd::item, sd::sync>;
using push_case_t = handoff::push_case<sd::item, sd::sync>;
using take_case_t = handoff::take_case<sd::item, sd::sync>;
using stream_t = sd::stream<sd::item>;
using mvar_t = sd::mvar<sd::item>;
using lock_t = hd::slow_lock<sd::sync>;
using queue_t = hd::waiter_queue<sd::sync>;
struct pop_channel {
  using type = stream_t* pop_case_t::*;
  friend type member(pop_channel);
};
struct push_channel {
  using type = stream_t* push_case_t::*;
  friend type member(push_channel);
};
struct take_channel {
  using type = mvar_t* take_case_t::*;
  friend type member(take_channel);
};
struct stream_lock {
  using type = lock_t stream_t::*;
  friend type member(stream_lock);
};
struct stream_poppers {
  using type = queue_t stream_t::*;
  friend type member(stream_poppers);
};
struct stream_pushers {
  using type = queue_t stream_t::*;
  friend type member(stream_pushers);
};
struct mvar_lock {
  using type = lock_t mvar_t::*;
  friend type member(mvar_lock);
};
struct mvar_takers {
  using type = queue_t mvar_t::*;
  friend type member(mvar_takers);
};
template struct grant<pop_channel, &pop_case_t::channel_>;
template struct grant<push_channel, &push_case_t::channel_>;
template struct grant<take_channel, &take_case_t::channel_>;
template struct grant<stream_lock, &stream_t::lock_>;
template struct grant<stream_poppers, &stream_t::poppers_>;
template struct grant<stream_pushers, &stream_t::pushers_>;
template struct grant<mvar_lock, &mvar_t::lock_>;
template struct grant<mvar_takers, &mvar_t::takers_>;

// (v): whether a pop case's stream is closed (buffered values or not). Other case kinds: never.
template <class Case>
bool stream_closed(Case&) {
  return false;
}
bool stream_closed(pop_case_t& c) {
  return (c.*member(pop_channel{}))->is_closed();
}

// (ix): the link, just registered at the back of its channel's queue, moved to the front (under the lock).
void to_front(lock_t& lock, queue_t& q, hd::waiter<sd::sync>& w) {
  hd::slow_guard<sd::sync> guard(lock);
  if (!w.linked) return;  // already served
  q.remove(&w);
  q.push_front(&w);
}
template <class Case>
void move_to_front(Case&, hd::waiter<sd::sync>&) {}  // other case kinds: left at the back
void move_to_front(pop_case_t& c, hd::waiter<sd::sync>& w) {
  stream_t& s = *(c.*member(pop_channel{}));
  to_front(s.*member(stream_lock{}), s.*member(stream_poppers{}), w);
}
void move_to_front(push_case_t& c, hd::waiter<sd::sync>& w) {
  stream_t& s = *(c.*member(push_channel{}));
  to_front(s.*member(stream_lock{}), s.*member(stream_pushers{}), w);
}
void move_to_front(take_case_t& c, hd::waiter<sd::sync>& w) {
  mvar_t& m = *(c.*member(take_channel{}));
  to_front(m.*member(mvar_lock{}), m.*member(mvar_takers{}), w);
}

template <select_bug Bug, class... Cases>
selected planted_run(const hd::deadline& d, const std::stop_token* st, Cases&... cs) {
  using Sync = sd::sync;
  using access = hd::select_access;
  using core_type = hd::wait_core<Sync>;
  using outcome = typename core_type::outcome;
  constexpr std::size_t n = sizeof...(Cases);
  auto cases = std::tie(cs...);
  constexpr auto idx = std::index_sequence_for<Cases...>{};
  auto on = [&](std::size_t i, auto&& f) { return hd::with_case(i, cases, f, idx); };
  for (;;) {
    const std::size_t start = hd::select_start<Sync>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      if constexpr (Bug == select_bug::closed_before_drained) {  // PLANTED (v)
        if (on(i, [&](auto& c) { return stream_closed(c); })) return {i, status::closed};
      }
      status s = status::ok;
      if (on(i, [&](auto& c) { return access::try_now(c, s); })) return {i, s};
    }
    if (st && st->stop_requested()) return {selected::none, status::cancelled};
    if (Sync::passed(d)) return {selected::none, status::timeout};

    core_type core;
    std::array<hd::waiter<Sync>, n> links = hd::make_links<Sync, n>(core, idx);
    std::array<bool, n> linked{};
    bool ready = false;
    std::optional<selected> taken;
    for (std::size_t i = 0; i < n && !ready && !taken; ++i) {
      if (on(i, [&](auto& c) { return access::enlist(c, links[i]); })) {
        linked[i] = true;
        if constexpr (Bug == select_bug::link_at_the_front)  // PLANTED (ix)
          on(i, [&](auto& c) { move_to_front(c, links[i]); });
        continue;
      }
      if constexpr (Bug == select_bug::register_past_ready) continue;  // PLANTED (i)
      if constexpr (Bug == select_bug::take_ready_without_leaving) {   // PLANTED (ii)
        status s = status::ok;
        if (on(i, [&](auto& c) { return access::try_now(c, s); })) {
          taken = selected{i, s};
          break;
        }
      }
      ready = true;
    }
    if constexpr (Bug == select_bug::recheck_after_registering) {  // PLANTED (iv)
      for (std::size_t i = 0; i < n && !ready && !taken; ++i) {
        status s = status::ok;
        if (on(i, [&](auto& c) { return access::try_now(c, s); })) taken = selected{i, s};
      }
    }

    outcome o = outcome::timed_out;
    bool restart = false;
    if (taken) {
      // Tidy up so that no claimer touches the core after it is gone (the value it delivered is lost: the
      // bug).
      if (!core.try_leave()) (void)core.await(hd::deadline::never());
    } else if (ready) {
      if (core.try_leave())
        restart = true;
      else
        o = core.await(hd::deadline::never());
    } else {
      o = hd::await_with_stop(core, d, st);
      if constexpr (Bug == select_bug::give_up_by_the_clock) {  // PLANTED (viii)
        if (o == outcome::completed && st && st->stop_requested())
          o = outcome::cancelled;
        else if (o == outcome::completed && Sync::passed(d))
          o = outcome::timed_out;
      }
    }
    const bool completed = !taken && !restart && o == outcome::completed;
    const std::size_t winner = completed ? core.winner()->case_index : selected::none;
    for (std::size_t i = 0; i < n; ++i) {
      if (!linked[i]) continue;
      on(i, [&](auto& c) { access::delist(c, links[i]); });
      if constexpr (Bug == select_bug::losing_push_consumed) {  // PLANTED (vii)
        if (!taken && !restart && i != winner) on(i, [&](auto& c) { drop_offered(c, links[i]); });
      }
    }
    if (taken) return *taken;
    if (restart) continue;
    if (o == outcome::timed_out) return {selected::none, status::timeout};
    if (o == outcome::cancelled) return {selected::none, status::cancelled};
    const std::size_t won = Bug == select_bug::first_case_wins ? 0 : winner;  // PLANTED (iii)
    status s = status::ok;
    if (on(won, [&](auto& c) { return access::finish(c, links[won], s); })) {
      if constexpr (Bug == select_bug::closed_push_loses_value) {  // PLANTED (vi)
        if (s == status::closed) on(won, [&](auto& c) { drop_offered(c, links[won]); });
      }
      return {won, s};
    }
  }
}

template <select_bug Bug>
struct planted_select {
  template <class... C>
  static selected select(C&... cs) {
    return planted_run<Bug>(hd::deadline::never(), nullptr, cs...);
  }
  template <class... C>
  static selected select(std::stop_token st, C&... cs) {
    return planted_run<Bug>(hd::deadline::never(), hd::stop_ptr(st), cs...);
  }
  template <class... C>
  static selected select_for(std::chrono::hours d, C&... cs) {
    return planted_run<Bug>(hd::deadline::after(d), nullptr, cs...);
  }
  template <class... C>
  static selected select_for(std::chrono::hours d, std::stop_token st, C&... cs) {
    return planted_run<Bug>(hd::deadline::after(d), hd::stop_ptr(st), cs...);
  }
};

void expect_caught(const char* what, const std::function<void()>& body) {
  (void)handoff_test::det_expect_caught(what, body, kSeeds);
}

template <select_bug Bug>
using planted = planted_select<Bug>;
using sd::give_up;

// ---- (i) register_past_ready

// value_arrives_at_the_last_case (G-1, SE-2): registering past a ready case waits although its value is
// there: DEADLOCK.
TEST(SelectDetPlanted, RegisterPastAReadyCase_SE1_G1) {
  sd::outcome_tally seen;
  expect_caught("register past a ready case (the value is never delivered)",
                [&] { sd::value_arrives_at_the_last_case<planted<select_bug::register_past_ready>>(seen); });
}

// ---- (ii) take_ready_without_leaving

// two_pushes_race_for_one_selector (SE-1, G-2): a stale link still takes a value (lost).
TEST(SelectDetPlanted, TakeAReadyCaseBeforeLeaving_SE1_G2) {
  expect_caught("take a ready case before leaving (a stale link takes a value)", [] {
    sd::two_pushes_race_for_one_selector<planted<select_bug::take_ready_without_leaving>>(1, 1);
  });
}

// stale_link_on_the_losing_channel (SE-1, G-3): B's push reaches the select's stale link instead of the plain
// popper, which waits forever.
TEST(SelectDetPlanted, StaleLinkTakesTheLosingValue_SE1_G3) {
  expect_caught("take a ready case before leaving (B's value goes to the stale link)", [] {
    sd::stale_link_on_the_losing_channel<planted<select_bug::take_ready_without_leaving>>(1);
  });
}

// values_arrive_during_registration (SE-1, G-1): both values go to the selector, one of them lost.
TEST(SelectDetPlanted, ValuesDuringRegistrationStaleLink_SE1_G1) {
  sd::outcome_tally seen;
  expect_caught("take a ready case before leaving (three cases, two values during registration)", [&] {
    sd::values_arrive_during_registration<planted<select_bug::take_ready_without_leaving>>(seen);
  });
}

// crossed_selectors_meet_once (SE-1, SE-5): the two selectors meet twice.
TEST(SelectDetPlanted, CrossedSelectorsMeetTwice_SE1_SE5) {
  expect_caught("take a ready case before leaving (crossed selectors meet twice)",
                sd::crossed_selectors_meet_once<planted<select_bug::take_ready_without_leaving>>);
}

// ---- (iii) first_case_wins

// two_pushes_race_for_one_selector (SE-1): the wrong case and value.
TEST(SelectDetPlanted, FinishIgnoresTheWinner_SE1) {
  expect_caught("finish case 0 whoever won (wrong case, lost value)",
                [] { sd::two_pushes_race_for_one_selector<planted<select_bug::first_case_wins>>(0, 0); });
}

// mixed_cases_signal_races_a_push, take case (SE-1, SE-9): a pop or wait win reported as the take.
TEST(SelectDetPlanted, MixedTakeCaseWrongWinner_SE1) {
  sd::outcome_tally seen;
  expect_caught("finish case 0 whoever won (mvar take, stream pop, condition wait)", [&] {
    sd::mixed_cases_signal_races_a_push<planted<select_bug::first_case_wins>, false>(seen);
  });
}

// mixed_cases_signal_races_a_push, put case (SE-1, SE-9): a pop or wait win reported as the put.
TEST(SelectDetPlanted, MixedPutCaseWrongWinner_SE1) {
  sd::outcome_tally seen;
  expect_caught("finish case 0 whoever won (mvar put, stream pop, condition wait)", [&] {
    sd::mixed_cases_signal_races_a_push<planted<select_bug::first_case_wins>, true>(seen);
  });
}

// eight_streams_eight_pushers (SE-1, G-2): a value reported under case 0, the producer's case unread.
TEST(SelectDetPlanted, EightStreamsWrongWinner_SE1_G2) {
  expect_caught("finish case 0 whoever won (8 streams x 8 pushers)",
                [] { sd::eight_streams_eight_pushers<planted<select_bug::first_case_wins>>(1); });
}

// ---- (iv) recheck_after_registering

// self_match_alone_times_out (SE-5): the select's push meets its own pop link.
TEST(SelectDetPlanted, RecheckAfterRegisteringMatchesItself_SE5) {
  expect_caught("re-try after registering (rendezvous self-match)",
                sd::self_match_alone_times_out<planted<select_bug::recheck_after_registering>>);
}

// self_match_with_a_partner (SE-5): the select meets itself, and the partner waits forever.
TEST(SelectDetPlanted, RecheckMatchesItselfBeforeThePartner_SE5) {
  sd::outcome_tally seen;
  expect_caught("re-try after registering (self-match with a partner waiting)",
                [&] { sd::self_match_with_a_partner<planted<select_bug::recheck_after_registering>>(seen); });
}

// self_match_two_selectors (SE-5): a selector meets itself instead of the other one.
TEST(SelectDetPlanted, RecheckMatchesItselfNotTheOther_SE5) {
  expect_caught("re-try after registering (two selectors on one rendezvous)",
                sd::self_match_two_selectors<planted<select_bug::recheck_after_registering>>);
}

// ---- (v) closed_before_drained

// close_during_select_pop_drains_first (SE-6, ST-5): closed reported while values are still buffered.
TEST(SelectDetPlanted, ClosedReportedBeforeDrained_SE6_ST5) {
  expect_caught("report a pop case closed before its stream is drained", [] {
    sd::close_during_select_pop_drains_first<planted<select_bug::closed_before_drained>>(2);
  });
}

// ---- (vi) closed_push_loses_value

// close_during_select_push_keeps_value (SE-6, SE-1): a push case reporting closed has lost the caller's
// value.
TEST(SelectDetPlanted, ClosedPushCaseLosesItsValue_SE6_SE1) {
  sd::outcome_tally seen;
  expect_caught("a push case completed by close drops the caller's value", [&] {
    sd::close_during_select_push_keeps_value<planted<select_bug::closed_push_loses_value>>(1, seen);
  });
}

// ---- (vii) losing_push_consumed

// give_up_races_a_pop (SE-1, G-2): a push case that timed out has lost the caller's value.
TEST(SelectDetPlanted, TimedOutPushCaseLosesItsValue_SE1_G2) {
  sd::outcome_tally seen;
  expect_caught("a push link that did not win drops the caller's value", [&] {
    sd::give_up_races_a_pop<planted<select_bug::losing_push_consumed>>(1, give_up::timeout, seen);
  });
}

// ---- (viii) give_up_by_the_clock (one case per give-up form of select_det_test.cpp)

// give_up_races_a_push, deadline (SE-3, G-2): timeout reported, the popped value left in the case.
TEST(SelectDetPlanted, DeadlineReportedAfterAClaim_SE3_G2) {
  sd::outcome_tally seen;
  expect_caught("timeout reported after a push completed the pop case", [&] {
    sd::give_up_races_a_push<planted<select_bug::give_up_by_the_clock>>(1, give_up::timeout, seen);
  });
}

// give_up_races_a_pop, stop (SE-3, G-7): cancelled reported, the pushed value gone from the caller.
TEST(SelectDetPlanted, StopReportedAfterAClaim_SE3_G7) {
  sd::outcome_tally seen;
  expect_caught("cancelled reported after a pop took the push case's value", [&] {
    sd::give_up_races_a_pop<planted<select_bug::give_up_by_the_clock>>(0, give_up::stop, seen);
  });
}

// give_up_races_a_push, deadline and stop (SE-3, G-7).
TEST(SelectDetPlanted, StopOrDeadlineReportedAfterAClaim_SE3_G7) {
  sd::outcome_tally seen;
  expect_caught("timeout or cancelled reported after a push completed the pop case", [&] {
    sd::give_up_races_a_push<planted<select_bug::give_up_by_the_clock>>(0, give_up::both, seen);
  });
}

// ---- (ix) link_at_the_front (one case per plain waiter of select_det_test.cpp's FIFO scenario)

// plain_popper_ahead_is_served_first (SE-2, G-3, ST-4).
TEST(SelectDetPlanted, SelectPopperJumpsThePlainPopper_SE2_G3) {
  expect_caught("register the select's pop link at the front (plain popper served second)",
                [] { sd::plain_popper_ahead_is_served_first<planted<select_bug::link_at_the_front>>(1); });
}

// plain_pusher_ahead_is_served_first (SE-2, G-3, ST-4).
TEST(SelectDetPlanted, SelectPusherJumpsThePlainPusher_SE2_ST4) {
  expect_caught("register the select's push link at the front (plain pusher served second)",
                [] { sd::plain_pusher_ahead_is_served_first<planted<select_bug::link_at_the_front>>(1); });
}

// plain_taker_ahead_is_served_first (SE-2, MV-3).
TEST(SelectDetPlanted, SelectTakerJumpsThePlainTaker_SE2_MV3) {
  expect_caught("register the select's take link at the front (plain taker served second)",
                sd::plain_taker_ahead_is_served_first<planted<select_bug::link_at_the_front>>);
}

}  // namespace
