// select (handoff/select.hpp) under the deterministic scheduler (tests/support/det_sync.hpp): the scenarios
// of tests/support/select_det_scenarios.hpp, each swept over kSeeds interleavings (10^4; HANDOFF_DET_SEEDS=N
// overrides it, HANDOFF_DET_SEED_PERCENT scales it under the sanitizer presets, and a failure prints the
// HANDOFF_DET_SEED=<n> replay line). Every run checks conservation (per-producer sequence numbers, receipts,
// checksum: G-2), that exactly one case completed (SE-1), its scenario's rule, and that nobody is left
// waiting (G-1: a lost wakeup is a DEADLOCK). Channels use det_select_sync, so the unbiased select's
// starting case comes from the run's PRNG and replays with the seed.
//
// Each sweep prints its seconds ("[ det      ] ... s") and, where it races outcomes, how often each came
// back (a sweep that never produced one of them fails: the race exercised nothing). Measured in the dev
// preset on the 2-core VM while other builds ran (load average 8-13): 1.2-11.8 s per scenario at 10^4 seeds;
// (j) 22 s at 10^4 on the idle VM. The planted twins
// (select_det_planted_test.cpp) run the same bodies over broken select loops and must fail.
#include <handoff/select.hpp>

#include <gtest/gtest.h>

#include <cstdint>

#include "support/det_sync.hpp"
#include "support/select_det_scenarios.hpp"

namespace {

using handoff_test::det_expect_clean;
using handoff_test::det_sweep_result;
namespace sd = handoff_test::select_det;
using sel = sd::library_select;

// The seed budget of every scenario here (det_expect_clean scales it by HANDOFF_DET_SEED_PERCENT).
constexpr std::uint64_t kSeeds = 10'000;

// A sweep that ran many seeds must have produced every outcome it names, or the race exercised nothing.
bool enough(const det_sweep_result& r) {
  return r.seeds_run >= 500 && r.failure.empty();
}

// One of n variants (capacities, case kinds), drawn from the run's PRNG: a sweep spreads its seeds over them
// and a replay line replays the same one.
std::size_t pick(std::size_t n) {
  return static_cast<std::size_t>(handoff_test::det_random() % n);
}

// ---- (a) SE-1, G-2: two pushes race for one selector (capacities 0/0, 1/1, 0/1, 1/0 per seed).
TEST(SelectDet, TwoPushesRaceForOneSelector_SE1_G2) {
  det_expect_clean([] { sd::two_pushes_race_for_one_selector<sel>(pick(2), pick(2)); }, {}, kSeeds);
}

// ---- (b) SE-1, G-3: a later push on the losing channel goes past the stale link (B of capacity 0 or 1).
TEST(SelectDet, StaleLinkOnTheLosingChannel_SE1_G3) {
  det_expect_clean([] { sd::stale_link_on_the_losing_channel<sel>(pick(2)); }, {}, kSeeds);
}

// ---- (c), (d) SE-6, G-2, G-7: a deadline, a stop request, or both, racing a claim; per seed a pop case
// racing a push or a push case racing a pop, on capacity 0 or 1.
void give_up_sweep(sd::give_up how) {
  sd::outcome_tally seen;
  const auto r = det_expect_clean(
      [&] {
        const std::size_t cap = pick(2);
        if (pick(2) == 0)
          sd::give_up_races_a_push<sel>(cap, how, seen);
        else
          sd::give_up_races_a_pop<sel>(cap, how, seen);
      },
      {}, kSeeds);
  std::printf("[ outcomes ] ok %llu, timeout %llu, cancelled %llu\n",
              static_cast<unsigned long long>(seen.ok), static_cast<unsigned long long>(seen.timeout),
              static_cast<unsigned long long>(seen.cancelled));
  if (!enough(r)) return;
  EXPECT_GT(seen.ok, 0u) << "no seed let the claim win";
  if (how != sd::give_up::stop) {
    EXPECT_GT(seen.timeout, 0u) << "no seed timed out";
  }
  if (how != sd::give_up::timeout) {
    EXPECT_GT(seen.cancelled, 0u) << "no seed was cancelled";
  }
}
TEST(SelectDet, DeadlineRacingAClaim_SE3_G2) {
  give_up_sweep(sd::give_up::timeout);
}
TEST(SelectDet, StopRacingAClaim_SE3_G7) {
  give_up_sweep(sd::give_up::stop);
}
TEST(SelectDet, DeadlineAndStopRacingAClaim_SE3_G7) {
  give_up_sweep(sd::give_up::both);
}

// ---- (e) SE-2, G-1: values arriving while the select registers.
TEST(SelectDet, ValuesArriveDuringRegistration_SE1_G1) {
  sd::outcome_tally seen;
  const auto r = det_expect_clean([&] { sd::values_arrive_during_registration<sel>(seen); }, {}, kSeeds);
  std::printf("[ coverage ] %llu of %llu runs aborted a registration and started again\n",
              static_cast<unsigned long long>(seen.restarts), static_cast<unsigned long long>(seen.runs));
  if (enough(r)) {
    EXPECT_GT(seen.restarts, 0u) << "no seed made a case ready during registration";
  }
}
TEST(SelectDet, ValueArrivesAtTheLastCase_SE1_G1) {
  sd::outcome_tally seen;
  const auto r = det_expect_clean([&] { sd::value_arrives_at_the_last_case<sel>(seen); }, {}, kSeeds);
  std::printf("[ coverage ] %llu of %llu runs aborted a registration and started again\n",
              static_cast<unsigned long long>(seen.restarts), static_cast<unsigned long long>(seen.runs));
  if (enough(r)) {
    EXPECT_GT(seen.restarts, 0u) << "no seed made the case ready during registration";
  }
}

// ---- (f) SE-7, ST-5: close during a select: a pop case drains first (capacity 0 or 2), a push case keeps
// its value (capacity 0 or 1).
TEST(SelectDet, CloseDuringSelectPopCaseDrainsFirst_SE6_ST5) {
  det_expect_clean([] { sd::close_during_select_pop_drains_first<sel>(pick(2) * 2); }, {}, kSeeds);
}
TEST(SelectDet, CloseDuringSelectPushCaseKeepsValue_SE6_ST5) {
  sd::outcome_tally seen;
  const auto r =
      det_expect_clean([&] { sd::close_during_select_push_keeps_value<sel>(pick(2), seen); }, {}, kSeeds);
  std::printf("[ outcomes ] ok %llu, closed %llu\n", static_cast<unsigned long long>(seen.ok),
              static_cast<unsigned long long>(seen.closed));
  if (!enough(r)) return;
  EXPECT_GT(seen.ok, 0u);
  EXPECT_GT(seen.closed, 0u);
}

// ---- (g) G-3, SE-9: FIFO with a plain waiter ahead of the selector's link: per seed a popper (capacity 0
// or 1), a pusher (capacity 0 or 1) or an mvar taker.
TEST(SelectDet, PlainWaiterAheadIsServedFirst_SE2_G3) {
  det_expect_clean(
      [] {
        switch (pick(5)) {
          case 0:
          case 1:
            sd::plain_popper_ahead_is_served_first<sel>(pick(2));
            break;
          case 2:
          case 3:
            sd::plain_pusher_ahead_is_served_first<sel>(pick(2));
            break;
          default:
            sd::plain_taker_ahead_is_served_first<sel>();
        }
      },
      {}, kSeeds);
}

// ---- (h) SE-5: rendezvous self-match.
TEST(SelectDet, SelfMatchAloneTimesOut_SE5) {
  det_expect_clean(sd::self_match_alone_times_out<sel>, {}, kSeeds);
}
TEST(SelectDet, SelfMatchWithAPartner_SE5) {
  sd::outcome_tally seen;
  det_expect_clean([&] { sd::self_match_with_a_partner<sel>(seen); }, {}, kSeeds);
}
TEST(SelectDet, SelfMatchTwoSelectorsMeetEachOther_SE5) {
  det_expect_clean(sd::self_match_two_selectors<sel>, {}, kSeeds);
}

TEST(SelectDet, CrossedSelectorsMeetOnce_SE1_SE5) {
  det_expect_clean(sd::crossed_selectors_meet_once<sel>, {}, kSeeds);
}

// ---- (i) SE-1, CO-3, CO-7, MV-3: mvar (take or put), stream and condition cases; a signal racing a push.
TEST(SelectDet, MixedCasesSignalRacingAPush_SE1_SE9_CO7) {
  sd::outcome_tally seen;
  const auto r = det_expect_clean(
      [&] {
        if (pick(2) == 0)
          sd::mixed_cases_signal_races_a_push<sel, false>(seen);  // take case racing a putter
        else
          sd::mixed_cases_signal_races_a_push<sel, true>(seen);  // put case racing a plain taker
      },
      {}, kSeeds);
  std::printf(
      "[ coverage ] the signal reached someone in %llu of %llu runs; wins: take %llu, put %llu, pop %llu, "
      "wait %llu\n",
      static_cast<unsigned long long>(seen.signalled), static_cast<unsigned long long>(seen.runs),
      static_cast<unsigned long long>(seen.wins[0]), static_cast<unsigned long long>(seen.wins[3]),
      static_cast<unsigned long long>(seen.wins[1]), static_cast<unsigned long long>(seen.wins[2]));
  if (!enough(r)) return;
  EXPECT_GT(seen.signalled, 0u);
  EXPECT_LT(seen.signalled, seen.runs);
  for (auto w : seen.wins) EXPECT_GT(w, 0u) << "a case kind never won";
}

// ---- (j) SE-1, SE-2, G-2, G-3: 8 streams x 8 pushers (one value each), two selecting consumers. About 8x
// the scheduling points of the other scenarios per seed (each select tries and registers 8 cases, ~600
// points per seed): 10^4 seeds took 22 s on the idle 2-core VM (446 seeds/s), 30-65 s while other builds ran.
TEST(SelectDet, EightStreamsEightPushers_SE1_SE2_G2) {
  det_expect_clean([] { sd::eight_streams_eight_pushers<sel>(1); }, {}, kSeeds);
}

}  // namespace
