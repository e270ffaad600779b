// The bound on an unbounded stream's backlog (stream.hpp, Memory; detail/stream_overflow.hpp invariant 6): a
// push that would take the backlog past it throws std::length_error with its value untouched (G-2), the
// values before it stay in order, and the stream goes on once pops made room. The library's bound is 2^28
// values (about 2 GB of int backlog and minutes to reach); these tests lower it with the policy knob
// Sync::overflow_max_backlog_positions, the same code path with a smaller constant.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using handoff::status;

// 256 list positions: 2 to 8 blocks (stream::overflow_block_positions each: its values and a sentinel).
struct small_backlog_sync : handoff::default_sync {
  static constexpr std::uint32_t overflow_max_backlog_positions = 256;
};
using stream_type = handoff::stream<std::unique_ptr<int>, small_backlog_sync>;

// Pushes 0, 1, 2, ... until a push throws length_error; returns how many went in. Fails the test if none
// throws within `ceiling` pushes (the bound does not hold).
int fill_to_the_limit(stream_type& s, int ceiling) {
  for (int next = 0; next < ceiling; ++next) {
    auto v = std::make_unique<int>(next);
    try {
      if (!s.push(std::move(v))) {
        ADD_FAILURE() << "push reported closed";
        return next;
      }
    } catch (const std::length_error&) {
      EXPECT_NE(v, nullptr) << "G-2: the value stays with the caller";
      if (v) {
        EXPECT_EQ(*v, next);
      }
      return next;
    }
  }
  ADD_FAILURE() << "no length_error within " << ceiling << " pushes";
  return ceiling;
}

TEST(StreamBacklogLimit, APushPastTheLimitThrowsAndKeepsItsValue) {
  stream_type s(handoff::unbounded);
  const int ring = static_cast<int>(stream_type::unbounded_ring_size);
  const int pushed = fill_to_the_limit(s, ring + 10'000);
  // The check runs when a push claims a block's last cell (invariant 6), so the list stops at the first
  // last cell at or past position 256: at most a block past it (each B positions hold B - 1 values).
  constexpr int block = static_cast<int>(stream_type::overflow_block_positions);
  EXPECT_GE(pushed, ring + 256 - 256 / block) << "threw before the limit";
  EXPECT_LT(pushed, ring + 256 + block) << "went more than a block past the limit";
  EXPECT_EQ(s.size(), static_cast<std::size_t>(pushed)) << "nothing added, nothing lost";

  // Every form that can reach the list reports the same, and still loses nothing.
  auto v = std::make_unique<int>(pushed);
  EXPECT_THROW((void)s.try_push(std::move(v)), std::length_error);
  ASSERT_NE(v, nullptr);
  EXPECT_THROW((void)s.push(std::move(v)), std::length_error);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(s.size(), static_cast<std::size_t>(pushed));

  // Pops make room (their refills move the list's head on); the failed value goes in after the others.
  int expected = 0;
  for (; expected < 2 * ring; ++expected) {
    auto got = s.pop();
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(**got, expected);
  }
  ASSERT_TRUE(s.push(std::move(v)));
  for (; expected <= pushed; ++expected) {
    auto got = s.pop();
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(**got, expected) << "FIFO kept across the failures";
  }
  EXPECT_EQ(s.size(), 0u);
}

// Producers running into the limit while a consumer drains: a producer whose push throws keeps its value
// and pushes it again; the consumer sees every value of every producer once, in each producer's order. The
// wait on each side is bounded by the other's progress (no sleeps): a producer retries only after the
// consumer's count moved or yields, and the consumer pops until it has every value.
TEST(StreamBacklogLimit, ProducersAtTheLimitLoseNothingAndKeepTheirOrder) {
  constexpr int producers = 3;
  constexpr int per_producer = 20'000;
  stream_type s(handoff::unbounded);
  std::vector<long> refused(producers, 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&s, &refused, p] {
      for (int k = 0; k < per_producer; ++k) {
        auto v = std::make_unique<int>(p * per_producer + k);
        for (;;) {
          try {
            ASSERT_TRUE(s.push(std::move(v)));
            break;
          } catch (const std::length_error&) {
            ASSERT_NE(v, nullptr) << "producer " << p << " lost its value " << k;
            ++refused[static_cast<std::size_t>(p)];
            std::this_thread::yield();  // the consumer's progress is what makes room
          }
        }
      }
    });
  }
  std::vector<int> next(producers, 0);
  for (int received = 0; received < producers * per_producer; ++received) {
    auto got = s.pop_for(std::chrono::seconds(60));  // a bound on a lost wakeup, not a timing assertion
    ASSERT_TRUE(got.has_value()) << "the consumer waited 60 s with " << received << " values received; "
                                 << "per producer: " << next[0] << ", " << next[1] << ", " << next[2];
    const int p = **got / per_producer;
    const int k = **got % per_producer;
    ASSERT_GE(p, 0);
    ASSERT_LT(p, producers);
    ASSERT_EQ(k, next[static_cast<std::size_t>(p)])
        << "producer " << p << ": dropped, duplicated or reordered";
    ++next[static_cast<std::size_t>(p)];
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(s.size(), 0u);
  long total_refused = 0;
  for (long r : refused) total_refused += r;
  // Not asserted (it depends on the schedule): how often the limit was met.
  RecordProperty("refused_pushes", std::to_string(total_refused));
}

}  // namespace
