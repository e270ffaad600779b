// Planted-bug self-check of topic_lag_test.cpp's drained-subscriber scenario (reliability principle 2). The
// stem contains "planted", so ctest marks every case WILL_FAIL: each case fails when det_sync catches its
// broken lag order within the CI seed budget, and if the scenario ever goes blind the case passes and CI
// fails. The broken fan-outs are tests/support/topic_lag_scenarios.hpp's planted_drop_topic (test tree only);
// topic_lag_test.cpp runs the same scenario on the real topic, which passes. Each case prints how many seeds
// it took.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "support/det_sync.hpp"
#include "support/topic_lag_scenarios.hpp"

namespace {

namespace ls = handoff_test::topic_lag_scenarios;

void expect_caught(const char* what, const std::function<void()>& body) {
  (void)handoff_test::det_expect_caught(what, body);
}

// ST-8 lag: the value leaves the buffer before its drop is counted; a subscriber that drains in between
// reads one too few.
TEST(TopicLagPlanted, DropThenCountUndercountsADrainedSubscriber_ST8) {
  expect_caught(
      "drop, then count",
      ls::drained_subscriber_counts_drop_in_flight<ls::planted_drop_topic<ls::lag_bug::drop_then_count>>);
}

// ST-8 lag: counting first and taking the count back when the drop found nothing lets a reader see a count
// for a value it then pops: one too many.
TEST(TopicLagPlanted, CountThenUncountOvercountsADrainedSubscriber_ST8) {
  expect_caught(
      "count, then drop, then uncount",
      ls::drained_subscriber_counts_drop_in_flight<ls::planted_drop_topic<ls::lag_bug::count_then_uncount>>);
}

}  // namespace
