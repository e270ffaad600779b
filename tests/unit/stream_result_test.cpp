// The one result shape of stream's receives (issue 16): result<T> from try_pop, pop_for, pop_until and
// pop(stop_token), the deadline + stop token forms of pop and push (G-7: whichever comes first; a passed
// deadline or a stop already requested behaves as try_), and the lvalue (const T&) forms of the timed and
// cancellable pushes (G-2: the caller's object never changes). Both parking backends; capacities 0, 2 and
// unbounded where a rule depends on it. No sleeps, no timing assertions: waits are bounded by the watchdog
// and sequenced by waiting() snapshots.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::result;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

// The result<T> forms, and the optional a result slices to (code written for the old try_pop compiles).
using S = handoff::stream<int>;
static_assert(std::is_same_v<decltype(std::declval<S&>().try_pop()), result<int>>);
static_assert(std::is_same_v<decltype(std::declval<S&>().pop_for(1ms)), result<int>>);
static_assert(
    std::is_same_v<decltype(std::declval<S&>().pop_until(std::chrono::steady_clock::now())), result<int>>);
static_assert(std::is_same_v<decltype(std::declval<S&>().pop(std::stop_token{})), result<int>>);
static_assert(std::is_same_v<decltype(std::declval<S&>().pop_for(1ms, std::stop_token{})), result<int>>);
static_assert(std::is_same_v<decltype(std::declval<S&>().pop()), std::optional<int>>);
static_assert(std::is_convertible_v<result<int>, std::optional<int>>);

template <class Sync>
class StreamResultTest : public ::testing::Test {};
TYPED_TEST_SUITE(StreamResultTest, handoff_test::real_backends, handoff_test::backend_names);

// ---- result<T> pops: status() says why there is no value (G-7, ST-5)
TYPED_TEST(StreamResultTest, TryPopSaysEmptyOkThenClosed_G7_ST5) {
  handoff::stream<int, TypeParam> s{2};
  result<int> r = s.try_pop();
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(r.status(), status::empty);
  ASSERT_TRUE(s.push(5));
  r = s.try_pop();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.status(), status::ok);
  EXPECT_EQ(*r, 5);
  ASSERT_TRUE(s.push(6));
  s.close();
  std::optional<int> sliced = s.try_pop();  // drains first (ST-5)
  EXPECT_EQ(sliced, 6);
  EXPECT_EQ(s.try_pop().status(), status::closed);
}

TYPED_TEST(StreamResultTest, TimedAndCancellablePopsSayWhy_G7) {
  handoff::stream<int, TypeParam> s{2};
  EXPECT_EQ(s.pop_for(0ms).status(), status::timeout);
  EXPECT_EQ(s.pop_for(-1s).status(), status::timeout);
  EXPECT_EQ(s.pop_until(std::chrono::steady_clock::now()).status(), status::timeout);
  EXPECT_EQ(s.pop_until(std::chrono::system_clock::now() - 1s).status(), status::timeout);
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(s.pop(stopped.get_token()).status(), status::cancelled);
  EXPECT_EQ(s.pop_for(1h, stopped.get_token()).status(), status::cancelled);
  EXPECT_EQ(s.pop_until(std::chrono::steady_clock::now() + 1h, stopped.get_token()).status(),
            status::cancelled);

  // G-7: with a value available, a passed deadline or a stop already requested still takes it (as try_pop).
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(s.push(int{10 + i}));
  auto a = s.pop_for(0ms);
  EXPECT_EQ(a.status(), status::ok);
  EXPECT_EQ(a, 10);
  auto b = s.pop(stopped.get_token());
  EXPECT_EQ(b.status(), status::ok);
  EXPECT_EQ(b, 11);
  s.close();
  EXPECT_EQ(s.pop_for(1h).status(), status::closed);
  EXPECT_EQ(s.pop(std::stop_token{}).status(), status::closed);
  EXPECT_EQ(s.pop_for(1h, stopped.get_token()).status(), status::closed);
}

// G-7: deadline + stop token, whichever first. A stop request ends a pop waiting with a far deadline.
TYPED_TEST(StreamResultTest, DeadlineAndStopPopEndsAtTheStop_G7_G1) {
  handoff::stream<int, TypeParam> s{2};
  std::stop_source source;
  auto waiting = std::async(std::launch::async, [&] { return s.pop_for(1h, source.get_token()); });
  until([&] { return s.waiting().poppers == 1; }, "pop_for(1h, stop) registered");
  source.request_stop();
  const result<int> r = get_or_abort(std::move(waiting), "pop_for(1h, stop) after request_stop");
  EXPECT_EQ(r.status(), status::cancelled);
  EXPECT_FALSE(r.has_value());
  ASSERT_TRUE(s.push(1));  // nothing was consumed by the cancelled pop
  EXPECT_EQ(s.try_pop(), 1);
}

// G-7: ... and the deadline ends it when no stop comes (the status only; no timing assertion).
TYPED_TEST(StreamResultTest, DeadlineAndStopPopEndsAtTheDeadline_G7) {
  handoff::stream<int, TypeParam> s{2};
  std::stop_source source;
  EXPECT_EQ(s.pop_for(1ms, source.get_token()).status(), status::timeout);
  EXPECT_EQ(s.pop_until(std::chrono::system_clock::now() + 1ms, source.get_token()).status(),
            status::timeout);
  int out = -1;
  EXPECT_EQ(s.pop_for(out, 1ms, source.get_token()), status::timeout);
  EXPECT_EQ(s.pop_until(out, std::chrono::steady_clock::now() + 1ms, source.get_token()), status::timeout);
  EXPECT_EQ(out, -1);
}

// G-7, ST-4: ... and a value ends it, handed to the waiting pop; the out-parameter forms likewise.
TYPED_TEST(StreamResultTest, DeadlineAndStopPopTakesAValue_G7_ST4) {
  handoff::stream<int, TypeParam> s{2};
  std::stop_source source;
  auto waiting = std::async(std::launch::async, [&] {
    return s.pop_until(std::chrono::steady_clock::now() + 1h, source.get_token());
  });
  until([&] { return s.waiting().poppers == 1; }, "pop_until(t, stop) registered");
  ASSERT_TRUE(s.push(7));
  const result<int> r = get_or_abort(std::move(waiting), "pop_until(t, stop) after push");
  EXPECT_EQ(r.status(), status::ok);
  EXPECT_EQ(r, 7);

  auto out_form = std::async(std::launch::async, [&] {
    int out = 0;
    const status st = s.pop_for(out, 1h, source.get_token());
    return std::pair{st, out};
  });
  until([&] { return s.waiting().poppers == 1; }, "pop_for(out, d, stop) registered");
  s.close();
  const auto [st, out] = get_or_abort(std::move(out_form), "pop_for(out, d, stop) after close");
  EXPECT_EQ(st, status::closed);
  EXPECT_EQ(out, 0);
}

// ---- pushes: lvalues are copied in, the caller's object never changes (G-2); deadline + stop forms (G-7)
TYPED_TEST(StreamResultTest, LvaluePushesCopyInAndLeaveTheCallerItsObject_G2) {
  handoff::stream<std::string, TypeParam> s{2};
  const std::string a = "first value, long enough not to fit a small-string buffer";
  std::string b = "second value, long enough not to fit a small-string buffer";
  EXPECT_EQ(s.push_for(a, 1h), status::ok);
  EXPECT_EQ(s.push_until(b, std::chrono::steady_clock::now() + 1h), status::ok);
  EXPECT_EQ(b, "second value, long enough not to fit a small-string buffer");
  std::stop_source stopped;
  stopped.request_stop();
  // Full: a passed deadline or a stop already requested answers at once; the lvalue is untouched.
  EXPECT_EQ(s.push_for(b, 0ms), status::timeout);
  EXPECT_EQ(s.push_until(b, std::chrono::system_clock::now() - 1s), status::timeout);
  EXPECT_EQ(s.push(b, stopped.get_token()), status::cancelled);
  EXPECT_EQ(s.push_for(b, 1h, stopped.get_token()), status::cancelled);
  EXPECT_EQ(s.push_until(b, std::chrono::steady_clock::now() + 1h, stopped.get_token()), status::cancelled);
  EXPECT_EQ(b, "second value, long enough not to fit a small-string buffer");
  EXPECT_EQ(s.pop(), a);
  EXPECT_EQ(s.pop(), b);
  // With room, a stop already requested still pushes (G-7: as try_push).
  EXPECT_EQ(s.push(b, stopped.get_token()), status::ok);
  s.close();
  EXPECT_EQ(s.push_for(b, 1h), status::closed);
  EXPECT_EQ(s.push(b, std::stop_token{}), status::closed);
  EXPECT_EQ(b, "second value, long enough not to fit a small-string buffer");
}

// An lvalue int works with every timed and cancellable push (issue 16: `int x = 1; s.push_for(x, 1ms)`).
TYPED_TEST(StreamResultTest, LvalueIntPushes_G7) {
  handoff::stream<int, TypeParam> s{handoff::unbounded};
  int x = 1;
  const int y = 2;
  std::stop_source source;
  EXPECT_EQ(s.push_for(x, 1ms), status::ok);
  EXPECT_EQ(s.push_until(y, std::chrono::steady_clock::now() + 1ms), status::ok);
  EXPECT_EQ(s.push(x, source.get_token()), status::ok);
  EXPECT_EQ(s.push_for(y, 1ms, source.get_token()), status::ok);
  EXPECT_EQ(s.push_until(x, std::chrono::system_clock::now() + 1ms, source.get_token()), status::ok);
  EXPECT_EQ(s.try_push(x), status::ok);
  int got[6] = {};
  EXPECT_EQ(s.try_pop_some(got, 6), 6u);
  EXPECT_EQ(got[0] + got[1] + got[2] + got[3] + got[4] + got[5], 1 + 2 + 1 + 2 + 1 + 1);
}

// G-7, G-2: a push waiting with a far deadline ends at a stop request and keeps its value (rvalue and lvalue
// forms), or at a pop that makes room.
TYPED_TEST(StreamResultTest, DeadlineAndStopPushEndsAtTheStopOrTheRoom_G7_G2) {
  handoff::stream<std::unique_ptr<int>, TypeParam> s{1};
  ASSERT_TRUE(s.push(std::make_unique<int>(0)));
  std::stop_source source;
  auto rvalue = std::async(std::launch::async, [&] {
    auto v = std::make_unique<int>(1);
    const status st = s.push_for(std::move(v), 1h, source.get_token());
    return std::pair{st, std::move(v)};
  });
  until([&] { return s.waiting().pushers == 1; }, "push_for(v, 1h, stop) registered");
  source.request_stop();
  auto [st, v] = get_or_abort(std::move(rvalue), "push_for(v, 1h, stop) after request_stop");
  EXPECT_EQ(st, status::cancelled);
  ASSERT_NE(v, nullptr) << "G-2: a cancelled push keeps its value";
  EXPECT_EQ(*v, 1);

  handoff::stream<std::string, TypeParam> t{1};
  ASSERT_TRUE(t.push(std::string("x")));
  std::stop_source never;
  const std::string mine = "mine";
  auto lvalue = std::async(std::launch::async, [&] {
    return t.push_until(mine, std::chrono::steady_clock::now() + 1h, never.get_token());
  });
  until([&] { return t.waiting().pushers == 1; }, "push_until(const T&, t, stop) registered");
  EXPECT_EQ(t.pop(), "x");
  EXPECT_EQ(get_or_abort(std::move(lvalue), "push_until(const T&, t, stop) after a pop"), status::ok);
  EXPECT_EQ(t.pop(), "mine");
  EXPECT_EQ(mine, "mine");
}

// ST-3 with the new forms: a rendezvous push_for(const T&, d, stop) completes only with a popper.
TEST(StreamResultRendezvous, LvaluePushWithDeadlineAndStopMeetsAPopper_ST3) {
  handoff::stream<int> s{0};
  const int x = 42;
  std::stop_source source;
  EXPECT_EQ(s.push_for(x, 0ms, source.get_token()), status::timeout);  // nobody waits: as try_push
  auto popper = std::async(std::launch::async, [&] { return s.pop_for(1h, source.get_token()); });
  until([&] { return s.waiting().poppers == 1; }, "rendezvous pop_for registered");
  EXPECT_EQ(s.push_for(x, 1h, source.get_token()), status::ok);
  const result<int> r = get_or_abort(std::move(popper), "rendezvous pop_for(d, stop)");
  EXPECT_EQ(r.status(), status::ok);
  EXPECT_EQ(r, 42);
}

}  // namespace
