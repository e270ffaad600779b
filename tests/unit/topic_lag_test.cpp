// topic<T> lag under drop_oldest (rule ST-8, topic.hpp "Lag" and invariant 6): per subscriber, values popped
// + values lagged + values left in its buffer == values published to it, and a subscriber that left and
// drained to end-of-stream reads all of its lag in one take_lag(), even while a publisher is dropping one of
// its values. Under the deterministic scheduler (tests/support/det_sync.hpp; a failure prints its
// HANDOFF_DET_SEED replay line): the drained-subscriber race (shared with topic_lag_planted_test.cpp, which
// shows the scenario catches both wrong count orders) and a randomized property over every seed; on real
// threads, the same property over seeded random runs (the seed is printed; HANDOFF_TOPIC_LAG_SEED replays
// it). No sleeps: threads are joined through futures with the watchdog (support/watchdog.hpp).
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/det_sync.hpp"
#include "support/topic_lag_scenarios.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff::overflow_policy;
using handoff::status;
using handoff_test::det_expect_clean;
using handoff_test::det_random;
using handoff_test::det_sync;
using handoff_test::det_thread;
using handoff_test::get_or_abort;
namespace ls = handoff_test::topic_lag_scenarios;

using det_topic = handoff::topic<int, det_sync>;

// ST-8 lag: a subscriber that unsubscribes and drains to end-of-stream while a drop_oldest publisher is
// between removing its oldest value and counting it reads that drop in its one take_lag() (issue 16, break 4:
// the count used to come after the value left, so this read could be one short).
TEST(DetTopicLag, ST8_DrainedSubscriberCountsADropInFlight) {
  det_expect_clean(ls::drained_subscriber_counts_drop_in_flight<det_topic>);
}

// One subscriber's reader for the property below: random try_pops and take_lags, optionally leaving at a
// random step, then a drain to end-of-stream and one last take_lag. Checks order (strictly increasing values:
// drops keep the order) and that the lag never runs ahead: popped + lag so far <= publishes started.
struct lag_reader {
  det_topic::subscription& sub;
  const int& started;  // publishes begun so far (det threads are serialised by the scheduler)
  bool leaves;         // unsubscribe at a random step (else: drain after the topic closes)
  std::uint64_t popped = 0;
  std::uint64_t lag = 0;
  int last = 0;

  void take(int v) {
    DET_CHECK_MSG(v > last, "out of order: " + std::to_string(v) + " after " + std::to_string(last));
    last = v;
    ++popped;
  }
  void read_lag() {
    lag += sub.take_lag();
    DET_CHECK_MSG(popped + lag <= static_cast<std::uint64_t>(started),
                  "lag runs ahead: popped " + std::to_string(popped) + " + lag " + std::to_string(lag) +
                      " > publishes started " + std::to_string(started));
  }
  void operator()() {
    const std::uint64_t steps = det_random() % 6;
    const std::uint64_t leave_at = leaves ? det_random() % (steps + 1) : steps + 1;
    for (std::uint64_t i = 0; i < steps; ++i) {
      if (i == leave_at) sub.unsubscribe();
      if (det_random() % 2) {
        if (auto v = sub.try_pop()) take(*v);
      } else {
        read_lag();
      }
    }
    if (leaves) sub.unsubscribe();
    while (auto v = sub.pop()) take(*v);
    read_lag();
  }
};

// ST-8 lag, property: random capacity (1-3), number of values (2-6) and reader behaviour per seed; a stable
// subscriber that drains after close() and one that leaves at a random step and drains. For each drained
// subscriber, popped + lag == published to it (the stable one: every value; the leaving one: what the
// publishes delivered beyond that).
TEST(DetTopicLag, ST8_PoppedPlusLagEqualsPublishedForEveryDrainedSubscriber) {
  det_expect_clean([] {
    const std::size_t capacity = 1 + det_random() % 3;
    const int values = 2 + static_cast<int>(det_random() % 5);
    det_topic t{capacity, overflow_policy::drop_oldest};
    auto stable = t.subscribe();
    auto leaving = t.subscribe();
    int started = 0;
    std::uint64_t delivered = 0;
    lag_reader stable_reader{stable, started, false};
    lag_reader leaving_reader{leaving, started, true};
    {
      det_thread publisher(
          [&] {
            for (int v = 1; v <= values; ++v) {
              ++started;
              delivered += t.publish(v);
            }
            t.close();
          },
          "publisher");
      det_thread stable_thread([&] { stable_reader(); }, "stable reader");
      det_thread leaving_thread([&] { leaving_reader(); }, "leaving reader");
    }
    const auto n = static_cast<std::uint64_t>(values);
    DET_CHECK_MSG(stable_reader.popped + stable_reader.lag == n,
                  "stable: popped " + std::to_string(stable_reader.popped) + " + lag " +
                      std::to_string(stable_reader.lag) + " != " + std::to_string(n));
    DET_CHECK(stable_reader.last == values);  // the newest value is never dropped
    DET_CHECK_MSG(leaving_reader.popped + leaving_reader.lag == delivered - n,
                  "leaving: popped " + std::to_string(leaving_reader.popped) + " + lag " +
                      std::to_string(leaving_reader.lag) + " != published to it " +
                      std::to_string(delivered - n));
  });
}

// ---- the same property on real threads (both parking backends), for the memory orders (run it under TSan)
template <class Sync>
class TopicLagTest : public ::testing::Test {};
TYPED_TEST_SUITE(TopicLagTest, handoff_test::real_backends, handoff_test::backend_names);

std::uint64_t property_seed() {
  if (const char* s = std::getenv("HANDOFF_TOPIC_LAG_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// What one real-thread reader saw; `broken` names the first broken rule (empty: none).
struct reader_tally {
  std::uint64_t popped = 0;
  std::uint64_t lag = 0;
  std::string broken;
};

template <class Subscription>
reader_tally read_randomly(Subscription& sub, std::uint64_t seed, bool leaves) {
  std::mt19937_64 rng(seed);
  reader_tally r;
  int last = -1;
  auto take = [&](int v) {
    if (v <= last && r.broken.empty()) r.broken = "out of order";
    last = v;
    ++r.popped;
  };
  const std::uint64_t steps = rng() % 64;
  const std::uint64_t leave_at = rng() % (steps + 1);
  for (std::uint64_t i = 0; i < steps; ++i) {
    if (leaves && i == leave_at) sub.unsubscribe();
    switch (rng() % 3) {
      case 0:
        if (auto v = sub.try_pop()) take(*v);
        break;
      case 1:
        r.lag += sub.take_lag();
        break;
      default:
        std::this_thread::yield();  // lets the publisher run ahead (not for synchronisation)
    }
  }
  if (leaves) sub.unsubscribe();
  while (auto v = sub.pop()) take(*v);
  r.lag += sub.take_lag();
  return r;
}

// ST-8 lag, property on real threads: per run a random capacity (1-4) and number of values (1-300), a
// stable subscriber and one that leaves at a random step; both drain to end-of-stream and take their lag.
// popped + lag == published to each.
TYPED_TEST(TopicLagTest, ST8_PoppedPlusLagEqualsPublishedForEveryDrainedSubscriber) {
  const std::uint64_t seed = property_seed();
  std::printf("[ seed     ] HANDOFF_TOPIC_LAG_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  constexpr int kRuns = 200;
  for (int run = 0; run < kRuns; ++run) {
    const std::size_t capacity = 1 + rng() % 4;
    const int values = 1 + static_cast<int>(rng() % 300);
    handoff::topic<int, TypeParam> t{capacity, overflow_policy::drop_oldest};
    auto stable = t.subscribe();
    auto leaving = t.subscribe();
    const std::uint64_t stable_seed = rng(), leaving_seed = rng();
    auto stable_reader =
        std::async(std::launch::async, [&] { return read_randomly(stable, stable_seed, false); });
    auto leaving_reader =
        std::async(std::launch::async, [&] { return read_randomly(leaving, leaving_seed, true); });
    std::uint64_t delivered = 0;
    for (int v = 0; v < values; ++v) delivered += t.publish(v);
    t.close();
    const reader_tally s = get_or_abort(std::move(stable_reader), "stable reader drains");
    const reader_tally l = get_or_abort(std::move(leaving_reader), "leaving reader drains");
    const auto n = static_cast<std::uint64_t>(values);
    ASSERT_EQ(s.broken, "") << "run " << run;
    ASSERT_EQ(l.broken, "") << "run " << run;
    ASSERT_EQ(s.popped + s.lag, n) << "stable subscriber, run " << run << ", capacity " << capacity;
    ASSERT_EQ(l.popped + l.lag, delivered - n)
        << "leaving subscriber, run " << run << ", capacity " << capacity;
  }
}

}  // namespace
