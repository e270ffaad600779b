// Planted-bug self-check of the select scenarios (reliability principle 2). The stem contains "planted", so
// ctest marks every case WILL_FAIL: each case fails when the deterministic scheduler catches its bug within
// the seed budget (kSeeds, always in full: det_sweep, not det_expect_clean), and if the scenarios ever go
// blind the case passes and CI fails. Each case prints the seed that caught it and the replay line.
//
// The broken selects live here, in the test tree only: planted_run is the loop of handoff/select.hpp
// (detail::run_select: try every case, register one link per case, wait on the core, unregister, finish the
// winner) rebuilt from detail::select_access's public steps (try_now / enlist / delist / finish) and the
// real wait_core, with one planted change each:
//   register_past_ready        (i)   a case found ready while registering is skipped and registration goes
//                                    on; the select then waits although that value is there: DEADLOCK.
//   take_ready_without_leaving (ii)  a case found ready while registering is taken at once, before the core
//                                    leaves and the links registered so far are unregistered: a push on an
//                                    earlier channel hands its value to such a stale, still claimable link
//                                    while the select completes the ready case: two cases complete, and the
//                                    caller, reading the reported one, loses the other value.
//   first_case_wins            (iii) finish ignores the core's winner and finishes case 0: the case index
//                                    and the value the caller reads are wrong.
//   recheck_after_registering  (iv)  after registering every case, every case is tried once more before
//                                    waiting (a "double check"): on a rendezvous, its push case meets its own
//                                    pop link and the select matches itself (SE-5).
// About the literal "skip the delist of the losing links": with the library's one-shot claim word it loses
// no value (a later server's claim_oldest finds the core done, unlinks the stale link and moves on); it is a
// use-after-scope of the links on the select's stack instead, which det_sync cannot report reliably (ASan's
// job). The stale link that does lose a value is one whose core can still be claimed: (ii).
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
  recheck_after_registering
};

template <select_bug Bug, class... Cases>
selected planted_run(const hd::deadline& d, const std::stop_token* st, Cases&... cs) {
  using Sync = sd::sync;
  using access = hd::select_access;
  using core_type = hd::wait_core<Sync>;
  constexpr std::size_t n = sizeof...(Cases);
  auto cases = std::tie(cs...);
  constexpr auto idx = std::index_sequence_for<Cases...>{};
  auto on = [&](std::size_t i, auto&& f) { return hd::with_case(i, cases, f, idx); };
  for (;;) {
    const std::size_t start = hd::select_start<Sync>(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
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

    typename core_type::outcome o{};
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
    }
    for (std::size_t i = 0; i < n; ++i)
      if (linked[i]) on(i, [&](auto& c) { access::delist(c, links[i]); });
    if (taken) return *taken;
    if (restart) continue;
    if (o == core_type::outcome::timed_out) return {selected::none, status::timeout};
    if (o == core_type::outcome::cancelled) return {selected::none, status::cancelled};
    const std::size_t won =
        Bug == select_bug::first_case_wins ? 0 : core.winner()->case_index;  // PLANTED (iii)
    status s = status::ok;
    if (on(won, [&](auto& c) { return access::finish(c, links[won], s); })) return {won, s};
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
  const auto r = handoff_test::det_sweep(body, {}, kSeeds);
  if (r.failure.empty()) {
    std::printf("[ planted  ] %s: NOT caught in %llu seeds (%.2f s): the scenarios are blind\n", what,
                static_cast<unsigned long long>(r.seeds_run), r.seconds);
    return;  // the case passes, and WILL_FAIL turns that into a CI failure
  }
  std::printf("[ planted  ] %s: caught at seed %llu, after %llu seed(s), %.2f s\n", what,
              static_cast<unsigned long long>(r.failing_seed), static_cast<unsigned long long>(r.seeds_run),
              r.seconds);
  ADD_FAILURE() << "planted bug caught (expected): " << what << "\n"
                << r.failure << "\n"
                << handoff_test::det_replay_line(r.failing_seed);
}

// (i) G-1, SE-2: registering past a ready case waits although its value is there: DEADLOCK.
TEST(SelectDetPlanted, RegisterPastAReadyCase_SE1_G1) {
  sd::outcome_tally seen;
  expect_caught("register past a ready case (the value is never delivered)", [&] {
    sd::value_arrives_at_the_last_case<planted_select<select_bug::register_past_ready>>(seen);
  });
}

// (ii) SE-1, G-2: a ready case taken before leaving the core: a stale link still takes a value (lost).
TEST(SelectDetPlanted, TakeAReadyCaseBeforeLeaving_SE1_G2) {
  expect_caught("take a ready case before leaving (a stale link takes a value)", [] {
    sd::two_pushes_race_for_one_selector<planted_select<select_bug::take_ready_without_leaving>>(1, 1);
  });
}

// (iii) SE-1: finishing case 0 whoever won: the wrong case and value.
TEST(SelectDetPlanted, FinishIgnoresTheWinner_SE1) {
  expect_caught("finish case 0 whoever won (wrong case, lost value)", [] {
    sd::two_pushes_race_for_one_selector<planted_select<select_bug::first_case_wins>>(0, 0);
  });
}

// (iv) SE-5: re-trying every case after registering matches the select's push with its own pop link.
TEST(SelectDetPlanted, RecheckAfterRegisteringMatchesItself_SE5) {
  expect_caught("re-try after registering (rendezvous self-match)",
                sd::self_match_alone_times_out<planted_select<select_bug::recheck_after_registering>>);
}

}  // namespace
