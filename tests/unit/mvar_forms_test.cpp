// mvar<T>: rule G-7 for every blocking operation (put, take, read, swap): try_, _for, _until, stop_token and
// deadline + stop_token forms, lvalue arguments, result<T>'s reasons, and "a deadline in the past or a stop
// already requested behaves exactly like try_", also when it meets an operation in flight (invariant 6).
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kAttempts = 3'000;
#else
constexpr int kAttempts = 20'000;
#endif

template <class Sync>
class MvarFormsTest : public ::testing::Test {};
TYPED_TEST_SUITE(MvarFormsTest, handoff_test::real_backends, handoff_test::backend_names);

template <class T, class Sync>
using mvar = handoff::mvar<T, Sync>;

std::stop_token stopped_token() {
  std::stop_source s;
  s.request_stop();
  return s.get_token();
}

// The reproduction: two threads keep the box full by swapping in a loop, so it is full or BUSY (a
// swap in flight) at every instant. try_take() always finds the value; so must every form whose deadline has
// passed or whose stop was requested (G-7), where before they answered "nothing" whenever they met BUSY.
TYPED_TEST(MvarFormsTest, PastDeadlineAndStopBehaveLikeTryAgainstSwapsInFlight) {  // G-7, MV-7, invariant 6
  mvar<int, TypeParam> m(0);
  std::atomic<bool> done{false};
  auto swapper = [&] {
    for (int i = 1; !done.load(std::memory_order_relaxed); ++i) (void)m.swap(i);
  };
  std::jthread a(swapper), b(swapper);
  const std::stop_token stopped = stopped_token();
  int misses[8] = {};
  for (int i = 0; i < kAttempts; ++i) {
    const int form = i % 8;
    handoff::result<int> r = form == 0   ? m.try_take()
                             : form == 1 ? m.take_for(0s)
                             : form == 2 ? m.take_for(-1s)
                             : form == 3 ? m.take_until(std::chrono::steady_clock::now() - 1s)
                             : form == 4 ? m.take_until(std::chrono::system_clock::now() - 1s)
                             : form == 5 ? m.take(stopped)
                             : form == 6 ? m.take_for(1h, stopped)
                                         : m.take_until(std::chrono::steady_clock::now() - 1s, stopped);
    if (!r) {
      ++misses[form];
      continue;
    }
    m.put(*r);  // the box was emptied only by us: put never waits here
  }
  done = true;
  for (int form = 0; form < 8; ++form) EXPECT_EQ(misses[form], 0) << "form " << form;
}

TYPED_TEST(MvarFormsTest, PastDeadlineReadAndSwapBehaveLikeTry) {  // G-7, MV-9
  mvar<int, TypeParam> m(0);
  std::atomic<bool> done{false};
  std::jthread a([&] {
    for (int i = 1; !done.load(std::memory_order_relaxed); ++i) (void)m.swap(i);
  });
  const std::stop_token stopped = stopped_token();
  int misses = 0;
  for (int i = 0; i < kAttempts / 2; ++i) {
    misses += !m.read_for(0s);
    misses += !m.read(stopped);
    misses += !m.swap_for(-i, 0s);
    misses += !m.swap(-i, stopped);
  }
  done = true;
  EXPECT_EQ(misses, 0);
}

TYPED_TEST(MvarFormsTest, ResultSaysWhyThereIsNoValue) {  // G-7, MV-7
  mvar<int, TypeParam> m;
  EXPECT_EQ(m.try_take().status(), status::empty);
  EXPECT_EQ(m.take_for(1ms).status(), status::timeout);
  EXPECT_EQ(m.take_until(std::chrono::steady_clock::now()).status(), status::timeout);
  EXPECT_EQ(m.take(stopped_token()).status(), status::cancelled);
  EXPECT_EQ(m.take_for(1h, stopped_token()).status(), status::cancelled);
  EXPECT_EQ(m.take_for(1ms, std::stop_token{}).status(), status::timeout);
  EXPECT_EQ(m.try_read().status(), status::empty);
  EXPECT_EQ(m.read_for(1ms).status(), status::timeout);
  EXPECT_EQ(m.read_until(std::chrono::system_clock::now()).status(), status::timeout);
  EXPECT_EQ(m.read(stopped_token()).status(), status::cancelled);
  EXPECT_EQ(m.try_swap(1).status(), status::empty);
  EXPECT_EQ(m.swap_for(1, 1ms).status(), status::timeout);
  EXPECT_EQ(m.swap_until(1, std::chrono::steady_clock::now()).status(), status::timeout);
  EXPECT_EQ(m.swap(1, stopped_token()).status(), status::cancelled);
  EXPECT_TRUE(m.is_empty()) << "no failed form may leave a value behind";

  m.put(5);
  handoff::result<int> r = m.try_read();
  EXPECT_EQ(r.status(), status::ok);
  EXPECT_EQ(r, 5);
  r = m.try_swap(6);
  EXPECT_EQ(r, 5);
  EXPECT_EQ(m.swap_for(7, 1h).value(), 6);
  EXPECT_EQ(m.swap_until(8, std::chrono::steady_clock::now() + 1h).value(), 7);
  EXPECT_EQ(m.read_for(1h, std::stop_token{}), 8);
  std::optional<int> as_optional = m.take_for(1h);  // a result is a std::optional
  EXPECT_EQ(as_optional, 8);
  EXPECT_EQ(m.try_put(1), status::ok);
  EXPECT_EQ(m.try_put(2), status::full);
  EXPECT_EQ(m.put_for(2, 1ms), status::timeout);
  EXPECT_EQ(m.put_until(2, std::chrono::system_clock::now()), status::timeout);
  EXPECT_EQ(m.put(2, stopped_token()), status::cancelled);
  EXPECT_EQ(m.put_for(2, 1h, stopped_token()), status::cancelled);
  EXPECT_EQ(m.put_until(2, std::chrono::steady_clock::now() + 1h, stopped_token()), status::cancelled);
  EXPECT_EQ(m.take(), 1);
}

TYPED_TEST(MvarFormsTest, LvaluesAreCopiedAndStayWithTheCaller) {  // G-2, G-7
  mvar<std::string, TypeParam> m;
  const std::string a = "a";
  std::string b = "b";
  EXPECT_EQ(m.put_for(a, 1h), status::ok);
  EXPECT_EQ(m.put_for(b, 1ms), status::timeout);
  EXPECT_EQ(b, "b");
  EXPECT_EQ(m.put_until(b, std::chrono::steady_clock::now()), status::timeout);
  EXPECT_EQ(m.put(b, stopped_token()), status::cancelled);
  EXPECT_EQ(m.try_put(b), status::full);
  EXPECT_EQ(b, "b");
  EXPECT_EQ(m.swap(b), "a");
  EXPECT_EQ(m.try_swap(a).value(), "b");
  EXPECT_EQ(m.swap_for(b, 1h).value(), "a");
  EXPECT_EQ(a, "a");
  EXPECT_EQ(b, "b");
  int x = 3;
  mvar<int, TypeParam> n;
  EXPECT_EQ(n.put_for(x, 1h), status::ok);
  EXPECT_EQ(n.take(), 3);
}

// Deadline + stop token together: whichever comes first ends the wait; a value that comes first wins.
TYPED_TEST(MvarFormsTest, DeadlineAndStopTogether) {  // G-7, G-5
  mvar<int, TypeParam> m;
  {  // the stop comes first
    std::stop_source src;
    auto taker = std::async(std::launch::async, [&] { return m.take_for(1h, src.get_token()).status(); });
    until([&] { return m.waiting().takers == 1; }, "the taker registered");
    src.request_stop();
    EXPECT_EQ(get_or_abort(std::move(taker), "take_for(1h, stop)"), status::cancelled);
  }
  {  // the deadline comes first
    std::stop_source src;
    EXPECT_EQ(m.take_for(1ms, src.get_token()).status(), status::timeout);
    EXPECT_EQ(m.read_until(std::chrono::steady_clock::now() + 1ms, src.get_token()).status(),
              status::timeout);
  }
  {  // the value comes first
    std::stop_source src;
    auto taker = std::async(std::launch::async, [&] {
      return m.take_until(std::chrono::steady_clock::now() + 1h, src.get_token());
    });
    until([&] { return m.waiting().takers == 1; }, "the taker registered");
    m.put(9);
    EXPECT_EQ(get_or_abort(std::move(taker), "take_until(t, stop)"), 9);
  }
  {  // a waiting putter, stopped
    m.put(1);
    std::stop_source src;
    auto putter = std::async(std::launch::async, [&] { return m.put_for(2, 1h, src.get_token()); });
    until([&] { return m.waiting().putters == 1; }, "the putter registered");
    src.request_stop();
    EXPECT_EQ(get_or_abort(std::move(putter), "put_for(v, 1h, stop)"), status::cancelled);
    EXPECT_EQ(m.take(), 1);
    EXPECT_TRUE(m.is_empty());
  }
  {  // a waiting swapper and a waiting reader, each served
    auto swapper = std::async(std::launch::async, [&] { return m.swap_for(20, 1h, std::stop_token{}); });
    until([&] { return m.waiting().takers == 1; }, "the swapper registered");
    auto reader = std::async(std::launch::async, [&] { return m.read_for(1h, std::stop_token{}); });
    until([&] { return m.waiting().readers == 1; }, "the reader registered");
    m.put(10);
    EXPECT_EQ(get_or_abort(std::move(reader), "read_for"), 10);
    EXPECT_EQ(get_or_abort(std::move(swapper), "swap_for"), 10);
    EXPECT_EQ(m.take(), 20);
  }
}

}  // namespace
