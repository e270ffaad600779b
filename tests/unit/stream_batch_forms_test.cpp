// G-7 for the batch pops and wait_closed: pop_some_for / pop_some_until / pop_some(stop) and the deadline +
// stop forms of wait_closed, on a stream and on a topic subscription. Each answers ok with the count (the
// first value waited for, the rest taken without waiting, FIFO), or closed, timeout or cancelled with
// nothing written; a passed deadline or a requested stop behaves like try_ (cancelled when both).
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <iterator>
#include <stop_token>
#include <vector>

#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

std::stop_token stopped() {
  std::stop_source s;
  s.request_stop();
  return s.get_token();
}

TEST(StreamBatchForms, G7_TimedAndCancellableBatchPopsSayWhy) {  // G-7, ST-4, ST-5
  handoff::stream<int> s{8};
  std::vector<int> got;
  EXPECT_EQ(s.pop_some_for(std::back_inserter(got), 4, 1ms).status(), status::timeout);
  EXPECT_EQ(s.pop_some_until(std::back_inserter(got), 4, std::chrono::steady_clock::now()).status(),
            status::timeout);
  EXPECT_EQ(s.pop_some(std::back_inserter(got), 4, stopped()).status(), status::cancelled);
  EXPECT_EQ(s.pop_some_for(std::back_inserter(got), 4, -1s, stopped()).status(), status::cancelled);
  EXPECT_TRUE(got.empty());
  for (int v = 1; v <= 5; ++v) ASSERT_TRUE(s.push(v));
  handoff::result<std::size_t> n = s.pop_some_for(std::back_inserter(got), 3, 1h, std::stop_token{});
  EXPECT_EQ(n.status(), status::ok);
  EXPECT_EQ(n, 3u);
  // A passed deadline or a stop requested behaves like try_: what is there is taken.
  EXPECT_EQ(s.pop_some_for(std::back_inserter(got), 1, 0s), 1u);
  EXPECT_EQ(s.pop_some(std::back_inserter(got), 9, stopped()), 1u);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
  s.close();
  EXPECT_EQ(s.pop_some_until(std::back_inserter(got), 4, std::chrono::steady_clock::now() + 1h).status(),
            status::closed);
  EXPECT_EQ(s.try_pop_some(std::back_inserter(got), 4), 0u);
}

TEST(StreamBatchForms, G7_AWaitingBatchPopEndsAtTheStopOrTheValue) {  // G-7, G-5, ST-4
  handoff::stream<int> s{8};
  std::stop_source src;
  std::vector<int> got;
  auto waiting = std::async(std::launch::async, [&] {
    return s.pop_some_for(std::back_inserter(got), 4, 1h, src.get_token()).status();
  });
  until([&] { return s.waiting().poppers == 1; }, "the batch pop registered");
  src.request_stop();
  EXPECT_EQ(get_or_abort(std::move(waiting), "pop_some_for(stop)"), status::cancelled);
  EXPECT_TRUE(got.empty());
  auto served = std::async(std::launch::async, [&] {
    return s.pop_some_until(std::back_inserter(got), 4, std::chrono::steady_clock::now() + 1h);
  });
  until([&] { return s.waiting().poppers == 1; }, "the batch pop registered again");
  ASSERT_TRUE(s.push(7));
  EXPECT_EQ(get_or_abort(std::move(served), "pop_some_until"), 1u);
  EXPECT_EQ(got, std::vector<int>{7});
}

TEST(StreamBatchForms, G7_WaitClosedWithDeadlineAndStop) {  // G-7, ST-5
  handoff::stream<int> s{2};
  EXPECT_EQ(s.wait_closed_for(1ms, std::stop_token{}), status::timeout);
  EXPECT_EQ(s.wait_closed_until(std::chrono::steady_clock::now() + 1h, stopped()), status::cancelled);
  std::stop_source src;
  auto waiting = std::async(std::launch::async, [&] { return s.wait_closed_for(1h, src.get_token()); });
  until([&] { return s.is_closed() || s.waiting().poppers + s.waiting().pushers == 0; }, "started");
  s.close();
  EXPECT_EQ(get_or_abort(std::move(waiting), "wait_closed_for(d, stop)"), status::ok);
  EXPECT_EQ(s.wait_closed_for(0s, stopped()), status::ok);  // closed: ok even when the stop is requested
}

TEST(StreamBatchForms, G7_SubscriptionForwardsTheForms) {  // G-7, ST-8
  handoff::topic<int> t{4};
  auto sub = t.subscribe();
  std::vector<int> got;
  EXPECT_EQ(sub.pop_some_for(std::back_inserter(got), 2, 1ms).status(), status::timeout);
  EXPECT_EQ(t.publish(1), 1u);
  EXPECT_EQ(t.publish(2), 1u);
  EXPECT_EQ(sub.pop_some(std::back_inserter(got), 8, std::stop_token{}), 2u);
  EXPECT_EQ(
      sub.pop_some_until(std::back_inserter(got), 2, std::chrono::steady_clock::now(), stopped()).status(),
      status::cancelled);
  EXPECT_EQ(sub.wait_closed_for(1ms, std::stop_token{}), status::timeout);
  t.close();
  EXPECT_EQ(sub.wait_closed_until(std::chrono::steady_clock::now() + 1h, std::stop_token{}), status::ok);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

}  // namespace
