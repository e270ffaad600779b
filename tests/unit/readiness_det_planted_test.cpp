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
//   two_loops_and_a_pusher(3, 2)       writable_check_then_arm  WritableArmFromAStaleCheck_WA4
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "support/det_sync.hpp"
#include "support/det_watch_box.hpp"
#include "support/readiness_det_scenarios.hpp"

namespace {

using handoff_test::watch_box;
using handoff_test::watch_bug;
namespace rs = handoff_test::readiness_scenarios;

void expect_caught(const char* what, const std::function<void()>& body) {
  (void)handoff_test::det_expect_caught(what, body);
}

template <watch_bug Bug>
using P = handoff_test::watch_box_adapter<watch_box<Bug>>;

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
TEST(ReadinessDetPlanted, WritableArmFromAStaleCheck_WA4) {
  expect_caught("writable_check_then_arm",
                [] { rs::two_loops_and_a_pusher<P<watch_bug::writable_check_then_arm>>(3, 2); });
}
TEST(ReadinessDetPlanted, CloseForgetsAWritingLoop_WA4) {
  expect_caught("close_forgets_writable",
                [] { rs::loop_writes_to_a_consumer<P<watch_bug::close_forgets_writable>>(6, 2); });
}

}  // namespace
