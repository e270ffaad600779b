// topic<T>::subscription's pop family (rule ST-8: a subscription has stream<T>'s pop family), on both parking
// backends: lazy iteration (ST-7: std::views::take, a break and values(stop) consume only what they deliver),
// the result<T> and T& forms with deadlines and stop tokens (G-7: a passed deadline or a requested stop is a
// try; the result says why there is no value), the batch pops (ST-4) and wait_closed (ST-5). A pop whose move
// throws is in topic_exceptions_test.cpp. No sleeps: handshakes go through waiting() snapshots; every call
// that could hang runs under the watchdog.
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <iterator>
#include <optional>
#include <ranges>
#include <stop_token>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

template <class Sync>
class TopicPopTest : public ::testing::Test {};
TYPED_TEST_SUITE(TopicPopTest, handoff_test::real_backends, handoff_test::backend_names);

template <class F>
auto async(F f) {
  return std::async(std::launch::async, std::move(f));
}

std::stop_token stopped_token() {
  std::stop_source s;
  s.request_stop();
  return s.get_token();
}

template <class Topic>
void publish_range(Topic& t, int first, int last) {
  for (int i = first; i <= last; ++i) ASSERT_EQ(t.publish(i), 1u);
}

// clang 14 cannot compile libstdc++ 12's range adaptors (see stream_iteration_test.cpp): the views test is
// compiled out there; break, values() and the iterator's own steps still run.
#if !(defined(__clang__) && __clang_major__ < 15 && defined(__GLIBCXX__))
// ST-7: `sub | std::views::take(3)` over 1..6 delivers 1, 2, 3 and pops nothing more: 4 is still there.
TYPED_TEST(TopicPopTest, ST7_TakeThreeConsumesOnlyWhatItDelivers) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  publish_range(t, 1, 6);
  std::vector<int> got;
  for (int v : sub | std::views::take(3)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  const auto next = sub.try_pop();
  EXPECT_EQ(next.status(), status::ok);
  EXPECT_EQ(next, std::optional<int>(4));
  EXPECT_EQ(sub.size(), 2u);
}
#endif

// ST-7: a break consumes nothing after the value it breaks on.
TYPED_TEST(TopicPopTest, ST7_BreakConsumesNothingMore) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  publish_range(t, 1, 4);
  std::vector<int> got;
  for (int v : sub) {
    got.push_back(v);
    if (v == 2) break;
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(sub.try_pop(), std::optional<int>(3));
  t.close();
  for (int v : sub.values()) got.push_back(v);  // values() is the same range, until end-of-stream
  EXPECT_EQ(got, (std::vector<int>{1, 2, 4}));
}

// ST-7 + G-7: values(stop) ends once stop is requested, popping nothing after it; and a loop waiting on an
// empty buffer is woken by the stop request (G-1), having consumed nothing.
TYPED_TEST(TopicPopTest, ST7_ValuesWithStopEndsAtTheStopAndWakesAWaitingLoop) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  publish_range(t, 1, 3);
  std::stop_source stop;
  std::vector<int> got;
  for (int v : sub.values(stop.get_token())) {
    got.push_back(v);
    if (v == 2) stop.request_stop();
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(sub.try_pop(), std::optional<int>(3));

  std::stop_source later;
  auto loop = async([&] {
    std::vector<int> seen;
    for (int v : sub.values(later.get_token())) seen.push_back(v);
    return seen;
  });
  until([&] { return sub.waiting().poppers == 1; }, "the loop waits on the empty buffer");
  later.request_stop();
  EXPECT_EQ(get_or_abort(std::move(loop), "values(stop) loop"), std::vector<int>{});
  EXPECT_EQ(t.publish(4), 1u);  // the subscription is still subscribed and usable
  EXPECT_EQ(sub.try_pop(), std::optional<int>(4));
}

// G-7: every pop form says why it has no value: empty (try_), timeout (a passed deadline, which is a try),
// cancelled (a requested stop, also a try), closed (after the close, once drained); and takes a value when
// there is one, whatever its deadline or stop token.
TYPED_TEST(TopicPopTest, G7_ResultAndStatusFormsSayWhy) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  std::stop_source live;
  const auto far = std::chrono::steady_clock::now() + 1h;
  auto at_once = [](auto f, const char* what) { return get_or_abort(async(std::move(f)), what); };
  int out = 0;

  EXPECT_EQ(sub.try_pop().status(), status::empty);
  EXPECT_EQ(sub.try_pop(out), status::empty);
  EXPECT_EQ(sub.pop_for(0ms).status(), status::timeout);
  EXPECT_EQ(sub.pop_for(out, -1s), status::timeout);
  EXPECT_EQ(sub.pop_until(std::chrono::system_clock::now() - 1s).status(), status::timeout);
  EXPECT_EQ(sub.pop_until(out, std::chrono::steady_clock::now()), status::timeout);
  EXPECT_EQ(sub.pop_for(0ms, live.get_token()).status(), status::timeout);
  EXPECT_EQ(sub.pop_for(out, 0ms, live.get_token()), status::timeout);
  EXPECT_EQ(at_once([&] { return sub.pop(stopped_token()).status(); }, "pop(stopped)"), status::cancelled);
  EXPECT_EQ(at_once([&] { return sub.pop(out, stopped_token()); }, "pop(out, stopped)"), status::cancelled);
  EXPECT_EQ(at_once([&] { return sub.pop_for(1h, stopped_token()).status(); }, "pop_for(1h, stopped)"),
            status::cancelled);
  EXPECT_EQ(at_once([&] { return sub.pop_until(out, far, stopped_token()); }, "pop_until(out, far, stopped)"),
            status::cancelled);
  EXPECT_EQ(at_once([&] { return sub.pop_until(far, stopped_token()).status(); }, "pop_until(far, stopped)"),
            status::cancelled);
  EXPECT_EQ(at_once([&] { return sub.pop_for(out, 1h, stopped_token()); }, "pop_for(out, 1h, stopped)"),
            status::cancelled);

  publish_range(t, 1, 8);
  EXPECT_EQ(sub.pop_for(0ms), std::optional<int>(1));  // a passed deadline is a try: it takes what is there
  EXPECT_EQ(sub.pop(stopped_token()), std::optional<int>(2));
  EXPECT_EQ(sub.pop_for(1h, live.get_token()), std::optional<int>(3));
  EXPECT_EQ(sub.pop_until(far, live.get_token()), std::optional<int>(4));
  EXPECT_EQ(sub.pop_until(far), std::optional<int>(5));
  ASSERT_EQ(sub.pop_for(out, 1h, live.get_token()), status::ok);
  EXPECT_EQ(out, 6);
  ASSERT_EQ(sub.pop_until(out, far, live.get_token()), status::ok);
  EXPECT_EQ(out, 7);
  ASSERT_EQ(sub.pop(out, live.get_token()), status::ok);
  EXPECT_EQ(out, 8);

  t.close();
  EXPECT_EQ(sub.try_pop().status(), status::closed);
  EXPECT_EQ(sub.pop_for(1h).status(), status::closed);
  EXPECT_EQ(sub.pop(live.get_token()).status(), status::closed);
  EXPECT_EQ(sub.pop_until(out, far, live.get_token()), status::closed);
  EXPECT_EQ(sub.take_lag(), 0u);
}

// G-1 + G-7: a result pop waiting with a deadline and a stop token is woken by the stop (cancelled) and by a
// publish (the value).
TYPED_TEST(TopicPopTest, G7_WaitingPopEndsAtStopOrValue) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  std::stop_source stop;
  auto cancelled = async([&] { return sub.pop_for(1h, stop.get_token()); });
  until([&] { return sub.waiting().poppers == 1; }, "pop_for waits");
  stop.request_stop();
  EXPECT_EQ(get_or_abort(std::move(cancelled), "pop_for, stopped").status(), status::cancelled);
  std::stop_source never;
  auto served =
      async([&] { return sub.pop_until(std::chrono::system_clock::now() + 1h, never.get_token()); });
  until([&] { return sub.waiting().poppers == 1; }, "pop_until waits");
  EXPECT_EQ(t.publish(9), 1u);
  EXPECT_EQ(get_or_abort(std::move(served), "pop_until, served"), std::optional<int>(9));
}

// ST-4: batch pops take the oldest values first; try_pop_some never waits (0 when empty); pop_some waits for
// the first value, then takes what is there; 0 only at end-of-stream.
TYPED_TEST(TopicPopTest, ST4_BatchPopsTakeTheOldestFirst) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  std::vector<int> got;
  EXPECT_EQ(sub.try_pop_some(std::back_inserter(got), 4), 0u);
  publish_range(t, 1, 5);
  EXPECT_EQ(sub.try_pop_some(std::back_inserter(got), 3), 3u);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(sub.pop_some(std::back_inserter(got), 10), 2u);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
  auto waiting = async([&] {
    std::vector<int> more;
    const std::size_t n = sub.pop_some(std::back_inserter(more), 4);
    return std::make_pair(n, more);
  });
  until([&] { return sub.waiting().poppers == 1; }, "pop_some waits for the first value");
  EXPECT_EQ(t.publish(6), 1u);
  const auto [n, more] = get_or_abort(std::move(waiting), "pop_some");
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(more, std::vector<int>{6});
  t.close();
  EXPECT_EQ(sub.pop_some(std::back_inserter(got), 4), 0u);  // end-of-stream
}

// ST-5 via ST-8: wait_closed returns once the subscription's buffer is closed, by unsubscribe() or by the
// topic's close(), without consuming; its timed and stop forms answer timeout / cancelled before that.
TYPED_TEST(TopicPopTest, ST5_WaitClosedReturnsOnUnsubscribeOrClose) {
  handoff::topic<int, TypeParam> t{8};
  auto leaving = t.subscribe();
  auto staying = t.subscribe();
  EXPECT_EQ(t.publish(1), 2u);
  EXPECT_EQ(leaving.wait_closed_for(0ms), status::timeout);
  EXPECT_EQ(leaving.wait_closed_until(std::chrono::steady_clock::now()), status::timeout);
  EXPECT_EQ(get_or_abort(async([&] { return leaving.wait_closed(stopped_token()); }), "wait_closed(stopped)"),
            status::cancelled);
  auto waiter = async([&] { leaving.wait_closed(); });
  until([&] { return leaving.waiting().close_waiters == 1; }, "wait_closed waits");
  leaving.unsubscribe();
  get_or_abort(std::move(waiter), "wait_closed after unsubscribe");
  EXPECT_EQ(leaving.pop(), std::optional<int>(1));  // nothing consumed by the wait
  EXPECT_EQ(leaving.pop(), std::nullopt);

  std::stop_source never;
  auto staying_waiter = async([&] { return staying.wait_closed(never.get_token()); });
  until([&] { return staying.waiting().close_waiters == 1; }, "wait_closed(stop) waits");
  t.close();
  EXPECT_EQ(get_or_abort(std::move(staying_waiter), "wait_closed after close"), status::ok);
  EXPECT_EQ(staying.wait_closed_for(1h), status::ok);
  EXPECT_EQ(staying.pop(), std::optional<int>(1));
}

}  // namespace
