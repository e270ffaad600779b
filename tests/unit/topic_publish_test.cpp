// topic<T> publish forms (rule G-7 as topic.hpp's "Publish forms" applies it, with ST-8's lag and G-2's
// truthful results): publish_for / publish_until with a stop token, a passed deadline or a stop already
// requested (never waits: nobody receives the value while another publish holds the token; with the token
// free, subscribers with room receive it and full ones get lag), on both parking backends, and the deadline +
// stop form racing a pop and a stop request under the deterministic scheduler (tests/support/det_sync.hpp).
// No sleeps: handshakes go through waiting() snapshots; every call that could hang runs under the watchdog.
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <ostream>
#include <stop_token>
#include <vector>

#include "support/backends.hpp"
#include "support/det_sync.hpp"
#include "support/watchdog.hpp"

namespace handoff {
// Readable failures for publish_result (found by GoogleTest through argument-dependent lookup).
inline void PrintTo(const publish_result& r, std::ostream* os) {
  *os << "{" << to_string(r.result) << ", delivered " << r.delivered << "}";
}
}  // namespace handoff

namespace {

using namespace std::chrono_literals;
using handoff::overflow_policy;
using handoff::publish_result;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

template <class Sync>
class TopicPublishTest : public ::testing::Test {};
TYPED_TEST_SUITE(TopicPublishTest, handoff_test::real_backends, handoff_test::backend_names);

template <class F>
auto async(F f) {
  return std::async(std::launch::async, std::move(f));
}

std::stop_token stopped_token() {
  std::stop_source s;
  s.request_stop();
  return s.get_token();
}

// G-7 + invariant 2: while a publish in progress holds the token, every form whose deadline has passed or
// whose stop is already requested returns at once, reaches nobody and moves no lag; which of the two gave up
// is what it answers. Each call runs under the watchdog: one that waited for its far deadline would hang.
TYPED_TEST(TopicPublishTest, G7_PassedDeadlineOrStoppedTokenAgainstAHeldTokenReachesNobody) {
  handoff::topic<int, TypeParam> t{1};
  auto full = t.subscribe();
  ASSERT_EQ(t.publish(1), 1u);
  auto first = async([&] { return t.publish(2); });
  until([&] { return full.waiting().pushers == 1; },
        "first publisher holds the token, waiting on the full buffer");

  std::stop_source never_stopped;
  const std::stop_token live = never_stopped.get_token();
  const auto now_steady = std::chrono::steady_clock::now();
  const auto now_system = std::chrono::system_clock::now();
  auto at_once = [](auto f, const char* what) { return get_or_abort(async(std::move(f)), what); };
  const publish_result timeout{status::timeout, 0}, cancelled{status::cancelled, 0};
  EXPECT_EQ(at_once([&] { return t.publish_for(3, 0ms); }, "publish_for 0"), timeout);
  EXPECT_EQ(at_once([&] { return t.publish_for(3, -1s, live); }, "publish_for past, live stop"), timeout);
  EXPECT_EQ(at_once([&] { return t.publish_until(3, now_steady - 1s); }, "publish_until past steady"),
            timeout);
  EXPECT_EQ(at_once([&] { return t.publish_until(3, now_system - 1s, live); }, "publish_until past system"),
            timeout);
  EXPECT_EQ(at_once([&] { return t.publish(3, stopped_token()); }, "publish stopped"), cancelled);
  EXPECT_EQ(at_once([&] { return t.publish_for(3, 1h, stopped_token()); }, "publish_for far, stopped"),
            cancelled);
  EXPECT_EQ(
      at_once([&] { return t.publish_until(3, now_steady + 1h, stopped_token()); }, "until far, stopped"),
      cancelled);
  EXPECT_EQ(
      at_once([&] { return t.publish_until(3, now_system + 1h, stopped_token()); }, "until far, stopped"),
      cancelled);
  EXPECT_EQ(at_once([&] { return t.try_publish(3); }, "try_publish"), (publish_result{status::full, 0}));
  EXPECT_EQ(full.lagged(), 0u);

  EXPECT_EQ(full.pop(), 1);
  EXPECT_EQ(get_or_abort(std::move(first), "first publish"), 1u);
  EXPECT_EQ(full.pop(), 2);
  EXPECT_EQ(full.try_pop(), std::nullopt);  // no 3 from any of the forms above
  EXPECT_EQ(full.take_lag(), 0u);
}

// G-7: with the token free, a passed deadline or a stop already requested behaves exactly like try_publish,
// all or nothing (topic.hpp, Publish forms): with one buffer full nobody receives the value and no lag moves;
// the answer is timeout / cancelled where try_publish answers full. With room everywhere it delivers to all.
TYPED_TEST(TopicPublishTest, G7_PassedDeadlineOrStoppedTokenWithTheTokenFreeIsATryPublish) {
  handoff::topic<int, TypeParam> t{1};
  auto full = t.subscribe();
  auto roomy = t.subscribe();
  ASSERT_EQ(t.publish(1), 2u);
  ASSERT_EQ(roomy.pop(), 1);
  auto at_once = [](auto f, const char* what) { return get_or_abort(async(std::move(f)), what); };
  EXPECT_EQ(at_once([&] { return t.try_publish(2); }, "try_publish"), (publish_result{status::full, 0}));
  std::stop_source never_stopped;
  EXPECT_EQ(at_once([&] { return t.publish_for(3, 0ms, never_stopped.get_token()); }, "for 0"),
            (publish_result{status::timeout, 0}));
  EXPECT_EQ(at_once([&] { return t.publish(4, stopped_token()); }, "stopped"),
            (publish_result{status::cancelled, 0}));
  EXPECT_EQ(
      at_once([&] { return t.publish_until(5, std::chrono::system_clock::now() + 1h, stopped_token()); },
              "until far, stopped"),
      (publish_result{status::cancelled, 0}));
  EXPECT_EQ(at_once([&] { return t.publish_for(5, -1s, stopped_token()); }, "passed and stopped"),
            (publish_result{status::cancelled, 0}));  // cancelled when both
  EXPECT_EQ(roomy.try_pop().status(), status::empty) << "nothing reached the subscriber with room";
  EXPECT_EQ(full.take_lag(), 0u) << "no lag: the value reached nobody";
  EXPECT_EQ(roomy.take_lag(), 0u);
  EXPECT_EQ(full.pop(), 1);
  EXPECT_EQ(full.try_pop(), std::nullopt);
  // Every buffer has room: each form delivers to both, stopped or passed or not.
  EXPECT_EQ(t.publish(6, stopped_token()), (publish_result{status::ok, 2}));
  EXPECT_EQ(roomy.pop(), 6);
  EXPECT_EQ(full.pop(), 6);
  EXPECT_EQ(t.publish_for(7, -1s), (publish_result{status::ok, 2}));
  EXPECT_EQ(roomy.pop(), 7);
  EXPECT_EQ(full.pop(), 7);
}

// G-7: a deadline + stop publish waiting on a full subscriber ends at whichever comes first: the stop
// (cancelled) or the deadline (timeout); the value reached the subscriber with room, the full one gets lag.
TYPED_TEST(TopicPublishTest, G7_DeadlineAndStopEndAWaitingPublishWhicheverComesFirst) {
  handoff::topic<int, TypeParam> t{1};
  auto full = t.subscribe();
  auto roomy = t.subscribe();
  ASSERT_EQ(t.publish(1), 2u);
  ASSERT_EQ(roomy.pop(), 1);
  {
    std::stop_source stop;
    auto publisher = async([&] { return t.publish_for(2, 1h, stop.get_token()); });
    until([&] { return full.waiting().pushers == 1; }, "publish_for waits on the full subscriber");
    stop.request_stop();
    EXPECT_EQ(get_or_abort(std::move(publisher), "publish_for, stopped"),
              (publish_result{status::cancelled, 1}));
    EXPECT_EQ(roomy.pop(), 2);
  }
  {
    std::stop_source stop;
    auto publisher =
        async([&] { return t.publish_until(3, std::chrono::steady_clock::now() + 1h, stop.get_token()); });
    until([&] { return full.waiting().pushers == 1; }, "publish_until waits on the full subscriber");
    stop.request_stop();
    EXPECT_EQ(get_or_abort(std::move(publisher), "publish_until, stopped"),
              (publish_result{status::cancelled, 1}));
    EXPECT_EQ(roomy.pop(), 3);
  }
  std::stop_source never_stopped;
  EXPECT_EQ(get_or_abort(async([&] { return t.publish_for(4, 1ms, never_stopped.get_token()); }),
                         "publish_for 1ms"),
            (publish_result{status::timeout, 1}));
  EXPECT_EQ(roomy.pop(), 4);
  EXPECT_EQ(full.take_lag(), 3u);
  EXPECT_EQ(full.pop(), 1);
  EXPECT_EQ(
      get_or_abort(async([&] { return t.publish_for(5, 1h, never_stopped.get_token()); }), "publish_for 5"),
      (publish_result{status::ok, 2}));
}

// G-7 under drop_oldest: nothing waits for a subscriber, so the deadline + stop forms deliver everywhere.
TYPED_TEST(TopicPublishTest, G7_DropOldestDeadlineAndStopFormsNeverWaitForASubscriber) {
  handoff::topic<int, TypeParam> t{1, overflow_policy::drop_oldest};
  auto a = t.subscribe();
  ASSERT_EQ(t.publish(1), 1u);
  std::stop_source stop;
  EXPECT_EQ(t.publish_for(2, 1h, stop.get_token()), (publish_result{status::ok, 1}));
  EXPECT_EQ(t.publish_until(3, std::chrono::steady_clock::now() + 1h, stop.get_token()),
            (publish_result{status::ok, 1}));
  EXPECT_EQ(a.take_lag(), 2u);
  EXPECT_EQ(a.pop(), 3);
}

// ---- under the deterministic scheduler
using handoff_test::det_expect_clean;
using handoff_test::det_sync;
using handoff_test::det_thread;
constexpr auto kFar = std::chrono::hours(1);  // under det_sync only the scheduler decides when it passes

// G-2 + G-7: publish_for(v, d, stop) on a full subscriber racing its pop and a stop request: the answer is
// truthful. ok: the subscriber got the value and no lag; timeout / cancelled: it did not, and has lag 1 if
// the publish waited for it, or 0 if the stop came first and the publish was a try_publish that reached
// nobody (G-7).
TEST(DetTopicPublish, G7_DeadlineAndStopRacingAPopIsTruthful) {
  det_expect_clean([] {
    handoff::topic<int, det_sync> t{1};
    auto s = t.subscribe();
    DET_CHECK(t.publish(1) == 1);
    std::stop_source stop;
    publish_result r;
    std::optional<int> first;
    {
      det_thread publisher([&] { r = t.publish_for(2, kFar, stop.get_token()); }, "publisher");
      det_thread stopper([&] { handoff_test::det_request_stop(stop); }, "stopper");
      det_thread popper([&] { first = s.pop(); }, "popper");
    }
    t.close();
    std::vector<int> rest;
    while (auto v = s.pop()) rest.push_back(*v);
    const std::uint64_t lag = s.take_lag();
    DET_CHECK(first == 1);
    if (r.result == status::ok) {
      DET_CHECK(r.delivered == 1 && rest == std::vector<int>{2} && lag == 0);
    } else {
      DET_CHECK(r.result == status::timeout || r.result == status::cancelled);
      DET_CHECK(r.delivered == 0 && rest.empty() && lag <= 1);
    }
  });
}

}  // namespace
