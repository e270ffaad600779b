// Planted-bug self-check of the readiness scenarios (reliability principle 2). The stem contains "planted",
// so ctest marks every case WILL_FAIL: each case fails when the deterministic scheduler catches its bug
// within the seed budget (det_sweep: always in full), and if a scenario goes blind the case passes and CI
// fails. The broken channels are tests/support/det_watch_box.hpp's planted forms; det_readiness_test.cpp runs
// the correct form through the same scenarios. Planted twins, scenario -> bug -> case:
//   loop_reads_pushes(1, 3)            check_then_arm           ArmAfterACheckUnderAnotherLock_WA1
//   loop_reads_pushes(2, 2)            fire_before_publish      FireBeforeTheValueIsIn_WA2
//   close_wakes_the_loop               check_then_arm           CloseBetweenCheckAndArm_WA2
//   two_watchers_share_a_channel       notify_every_push        LevelTriggeredWatchers_WA2
//   unwatch_racing_a_push              unwatch_without_waiting  UnwatchReturnsDuringACall_WA5
//   loop_writes_to_a_consumer(4)       room_not_fired           RoomNotFired_WA4
//   loop_writes_to_a_consumer(6, 2)    close_forgets_writable   CloseForgetsAWritingLoop_WA4
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "support/det_sync.hpp"
#include "support/det_watch_box.hpp"
#include "support/readiness_det_scenarios.hpp"

namespace {

using handoff::status;
using handoff_test::watch_box;
using handoff_test::watch_bug;
namespace rs = handoff_test::readiness_scenarios;

template <watch_bug Bug>
struct planted {
  using channel = watch_box<Bug>;
  using watcher = typename channel::watcher;
  static constexpr std::size_t capacity = channel::capacity;
  static status try_push(channel& c, std::uint64_t v) { return c.try_push(v); }
  static status try_pop(channel& c, std::uint64_t& out) { return c.try_pop(out); }
  static bool push(channel& c, std::uint64_t v) { return c.push(v); }
  static std::optional<std::uint64_t> pop(channel& c) { return c.pop(); }
  static void close(channel& c) { c.close(); }
};

void expect_caught(const char* what, const std::function<void()>& body) {
  const auto r = handoff_test::det_sweep(body);
  if (r.failure.empty()) {
    std::printf("[ planted  ] %s: NOT caught in %llu seeds: the scenario is blind\n", what,
                static_cast<unsigned long long>(r.seeds_run));
    return;  // the case passes, and WILL_FAIL turns that into a CI failure
  }
  std::printf("[ planted  ] %s: caught at seed %llu, after %llu seed(s)\n", what,
              static_cast<unsigned long long>(r.failing_seed), static_cast<unsigned long long>(r.seeds_run));
  ADD_FAILURE() << "planted bug caught (expected): " << what << "\n"
                << r.failure << "\n"
                << handoff_test::det_replay_line(r.failing_seed);
}

template <watch_bug Bug>
using P = planted<Bug>;

TEST(ReadinessDetPlanted, ArmAfterACheckUnderAnotherLock_WA1) {
  expect_caught("check_then_arm", [] { rs::loop_reads_pushes<P<watch_bug::check_then_arm>>(1, 3); });
}
TEST(ReadinessDetPlanted, FireBeforeTheValueIsIn_WA2) {
  expect_caught("fire_before_publish",
                [] { rs::loop_reads_pushes<P<watch_bug::fire_before_publish>>(2, 2); });
}
TEST(ReadinessDetPlanted, CloseBetweenCheckAndArm_WA2) {
  expect_caught("check_then_arm (close)", [] { rs::close_wakes_the_loop<P<watch_bug::check_then_arm>>(); });
}
TEST(ReadinessDetPlanted, LevelTriggeredWatchers_WA2) {
  expect_caught("notify_every_push",
                [] { rs::two_watchers_share_a_channel<P<watch_bug::notify_every_push>>(); });
}
TEST(ReadinessDetPlanted, UnwatchReturnsDuringACall_WA5) {
  expect_caught("unwatch_without_waiting",
                [] { rs::unwatch_racing_a_push<P<watch_bug::unwatch_without_waiting>>(); });
}
TEST(ReadinessDetPlanted, RoomNotFired_WA4) {
  expect_caught("room_not_fired", [] { rs::loop_writes_to_a_consumer<P<watch_bug::room_not_fired>>(4); });
}
TEST(ReadinessDetPlanted, CloseForgetsAWritingLoop_WA4) {
  expect_caught("close_forgets_writable",
                [] { rs::loop_writes_to_a_consumer<P<watch_bug::close_forgets_writable>>(6, 2); });
}

}  // namespace
