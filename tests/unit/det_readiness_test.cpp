// Readiness (WA-1..WA-7) under the deterministic scheduler (tests/support/det_sync.hpp): the scenarios of
// tests/support/readiness_det_scenarios.hpp on stream<T> at capacities 0 (rendezvous), 1, 3 (a ring larger
// than the capacity), 4 and unbounded, on mvar<T> (the scenarios without close), and on the test tree's
// correct watch_box (whose planted twins
// readiness_det_planted_test.cpp must catch). Each case runs readiness_seeds seeds (HANDOFF_DET_SEEDS=N for
// another count; a failure prints the HANDOFF_DET_SEED=<n> replay line).
#include <handoff/mvar.hpp>
#include <handoff/readiness.hpp>
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "support/det_sync.hpp"
#include "support/det_watch_box.hpp"
#include "support/readiness_det_scenarios.hpp"

namespace {

using handoff::status;
using handoff_test::det_expect_clean;
using handoff_test::det_sync;
namespace rs = handoff_test::readiness_scenarios;

// Seeds per scenario and channel in CI: 1,000 (det_expect_clean scales it by the preset's seed share). The 49
// cases cost ~25 s of CPU per 1,000 seeds on the 2-core VM, so the 10^4-seed sweep of issue 18 runs by hand
// (HANDOFF_DET_SEEDS=10000 build/dev/tests/det_readiness_test: ~190 s), before a change to the readiness
// protocol lands (docs/reliability.md, "CI budget").
inline constexpr std::uint64_t readiness_seeds = 1'000;
inline constexpr std::size_t unbounded_cap = std::numeric_limits<std::size_t>::max();

template <std::size_t Cap>
struct stream_adapter {
  using base = handoff::stream<std::uint64_t, det_sync>;
  struct bounded_channel : base {
    bounded_channel() : base(Cap) {}
  };
  struct unbounded_channel : base {
    unbounded_channel() : base(handoff::unbounded) {}
  };
  using channel = std::conditional_t<Cap == unbounded_cap, unbounded_channel, bounded_channel>;
  using watcher = handoff::watcher<base>;
  static constexpr std::size_t capacity = Cap;

  static status try_push(channel& c, std::uint64_t v) { return c.try_push(std::move(v)); }
  static status try_pop(channel& c, std::uint64_t& out) { return c.try_pop(out); }
  static bool push(channel& c, std::uint64_t v) { return c.push(std::move(v)); }
  static std::optional<std::uint64_t> pop(channel& c) { return c.pop(); }
  static void close(channel& c) { c.close(); }
};

// mvar<T>: a box of one (capacity 1). It has no close, so it runs the scenarios without one.
struct mvar_adapter {
  using channel = handoff::mvar<std::uint64_t, det_sync>;
  using watcher = handoff::watcher<channel>;
  static status try_push(channel& c, std::uint64_t v) { return c.try_put(std::move(v)); }
  static status try_pop(channel& c, std::uint64_t& out) {
    auto r = c.try_take();
    if (r) out = *r;
    return r.status();
  }
  static bool push(channel& c, std::uint64_t v) {
    c.put(std::move(v));
    return true;
  }
  static std::optional<std::uint64_t> pop(channel& c) { return c.take(); }
  static void close(channel&) { DET_CHECK_MSG(false, "an mvar scenario must not close (mvar has no close)"); }
};

using rendezvous = stream_adapter<0>;
using cap1 = stream_adapter<1>;
using cap3 = stream_adapter<3>;
using cap4 = stream_adapter<4>;
using unbounded = stream_adapter<unbounded_cap>;
using box = handoff_test::watch_box_adapter<handoff_test::watch_box<>>;

#define DET_READINESS_ONE(Name, Channel, Adapter, Rules, ...)   \
  TEST(DetReadiness, Name##_##Channel##_##Rules) {              \
    using A = Adapter;                                          \
    det_expect_clean([] { __VA_ARGS__; }, {}, readiness_seeds); \
  }
#define DET_READINESS_BOUNDED(Name, Rules, ...)                 \
  DET_READINESS_ONE(Name, Cap0, rendezvous, Rules, __VA_ARGS__) \
  DET_READINESS_ONE(Name, Cap1, cap1, Rules, __VA_ARGS__)       \
  DET_READINESS_ONE(Name, Cap3, cap3, Rules, __VA_ARGS__)       \
  DET_READINESS_ONE(Name, Cap4, cap4, Rules, __VA_ARGS__)       \
  DET_READINESS_ONE(Name, Box, box, Rules, __VA_ARGS__)
#define DET_READINESS_ALL(Name, Rules, ...)       \
  DET_READINESS_BOUNDED(Name, Rules, __VA_ARGS__) \
  DET_READINESS_ONE(Name, Unbounded, unbounded, Rules, __VA_ARGS__)

// Arm racing push: one producer, then two (several pushes per loop sleep).
DET_READINESS_ALL(LoopReadsOneProducer, WA1_WA2, rs::loop_reads_pushes<A>(1, 3))
DET_READINESS_ALL(LoopReadsTwoProducers, WA1_WA2_G2, rs::loop_reads_pushes<A>(2, 2))
// mvar: the scenarios without close.
DET_READINESS_ONE(LoopReadsOneProducer, Mvar, mvar_adapter, WA1_WA2, rs::loop_reads_pushes<A>(1, 3))
DET_READINESS_ONE(LoopReadsTwoProducers, Mvar, mvar_adapter, WA1_WA2_G2, rs::loop_reads_pushes<A>(2, 2))
DET_READINESS_ONE(UnwatchRacingAPush, Mvar, mvar_adapter, WA5, rs::unwatch_racing_a_push<A>())
DET_READINESS_ONE(LoopWritesToAConsumer, Mvar, mvar_adapter, WA4_WA2, rs::loop_writes_to_a_consumer<A>(4))
// A writing loop, a reading loop and a blocking pusher (bounded, capacity >= 1).
DET_READINESS_ONE(TwoLoopsAndAPusher, Cap1, cap1, WA4_WA1, rs::two_loops_and_a_pusher<A>(3, 2))
DET_READINESS_ONE(TwoLoopsAndAPusher, Cap3, cap3, WA4_WA1, rs::two_loops_and_a_pusher<A>(3, 2))
DET_READINESS_ONE(TwoLoopsAndAPusher, Cap4, cap4, WA4_WA1, rs::two_loops_and_a_pusher<A>(4, 3))
DET_READINESS_ONE(TwoLoopsAndAPusher, Box, box, WA4_WA1, rs::two_loops_and_a_pusher<A>(3, 2))
DET_READINESS_ONE(TwoLoopsAndAPusher, Mvar, mvar_adapter, WA4_WA1, rs::two_loops_and_a_pusher<A>(3, 2))
// Arm racing close.
DET_READINESS_ALL(CloseWakesTheLoop, WA2_ST5, rs::close_wakes_the_loop<A>())
// Two watchers on one channel.
DET_READINESS_ALL(TwoWatchersShareAChannel, WA7_G2, rs::two_watchers_share_a_channel<A>())
// Unwatch racing a push.
DET_READINESS_ALL(UnwatchRacingAPush, WA5, rs::unwatch_racing_a_push<A>())
// Writable: room made by pops, rendezvous poppers, and close.
DET_READINESS_BOUNDED(LoopWritesToAConsumer, WA4_WA2, rs::loop_writes_to_a_consumer<A>(4))
DET_READINESS_BOUNDED(ConsumerClosesOnAWritingLoop, WA4_ST5, rs::loop_writes_to_a_consumer<A>(6, 2))

}  // namespace
