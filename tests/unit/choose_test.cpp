// choose (handoff/choose.hpp): one reader over several streams, on select. Real threads; handshakes are
// futures behind the watchdog, never sleeps.
#include <handoff/choose.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace {

using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

// Every value of every stream exactly once, each stream's values in its own order; ends when all closed.
TEST(Choose, ReadsEveryValueOnceInPerStreamOrderAndEndsWhenAllAreClosed) {
  handoff::stream<std::uint64_t> a{8}, b{0}, c{handoff::unbounded};
  constexpr std::uint64_t per = 2000;
  auto producer = [](handoff::stream<std::uint64_t>& s, std::uint64_t id) {
    return std::async(std::launch::async, [&s, id] {
      for (std::uint64_t i = 0; i < per; ++i) EXPECT_TRUE(s.push(id << 32 | i));
      s.close();
    });
  };
  auto pa = producer(a, 0), pb = producer(b, 1), pc = producer(c, 2);
  auto reader = handoff::choose(a, b, c);
  std::vector<std::uint64_t> next(3, 0);
  std::uint64_t n = 0;
  while (std::optional<std::uint64_t> v = reader.pop()) {
    const std::uint64_t id = *v >> 32, seq = *v & 0xffffffffu;
    ASSERT_LT(id, 3u);
    ASSERT_EQ(seq, next[id]) << "stream " << id << " out of order or duplicated";
    ++next[id];
    ++n;
  }
  EXPECT_EQ(n, 3 * per);
  EXPECT_EQ(reader.open(), 0u);
  EXPECT_EQ(reader.try_pop().status(), status::closed);
  get_or_abort(std::move(pa), "producer a");
  get_or_abort(std::move(pb), "producer b");
  get_or_abort(std::move(pc), "producer c");
}

// A closed stream drops out; the others still deliver; try_pop / pop_for say empty / timeout.
TEST(Choose, ClosedStreamDropsOutAndTheFormsAnswer) {
  handoff::stream<int> a{4}, b{4};
  auto reader = handoff::choose(handoff::biased, a, b);
  EXPECT_EQ(reader.try_pop().status(), status::empty);
  EXPECT_EQ(reader.pop_for(std::chrono::milliseconds(1)).status(), status::timeout);
  ASSERT_EQ(a.try_push(1), status::ok);
  ASSERT_EQ(b.try_push(2), status::ok);
  EXPECT_EQ(reader.pop(), std::optional<int>(1)) << "biased: the first ready stream";
  a.close();
  EXPECT_EQ(reader.pop(), std::optional<int>(2));
  EXPECT_EQ(reader.open(), 1u) << "biased: a was tried first, seen closed and drained, and dropped";
  EXPECT_EQ(reader.try_pop().status(), status::empty);
  auto f = std::async(std::launch::async, [&] { return reader.pop(); });
  until([&] { return b.waiting().poppers == 1; }, "reader waits on b");
  ASSERT_EQ(b.try_push(3), status::ok);
  EXPECT_EQ(get_or_abort(std::move(f), "reader"), std::optional<int>(3));
  b.close();
  EXPECT_EQ(reader.pop(), std::nullopt);
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(reader.pop(stopped.get_token()).status(), status::closed)
      << "closed outranks a stop: nothing to wait for";
}

}  // namespace
