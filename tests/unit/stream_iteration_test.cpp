// Iteration over a stream (rule ST-7) never consumes a value it does not deliver (G-2): the lazy iterator of
// include/handoff/detail/pop_iterator.hpp under std::views::take, take_while, drop, a `break` and an
// exception thrown by the loop body, for streams, adapters (map, filter) and topic subscriptions; and
// values(stop_token), which also ends when stop is requested (G-7). Issue 16, break 5: with the eager
// iterator (pop in begin() and in ++), `s | std::views::take(3)` over 1..6 popped 4 and destroyed it, and
// over exactly 3 values of an open stream never ended. Both parking backends, a bounded and an unbounded
// stream. No sleeps: hangs are caught by the watchdog (support/watchdog.hpp), handshakes use waiting()
// snapshots.
#include <handoff/adapters.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <future>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

// clang 14 cannot compile libstdc++ 12's range adaptors at all (ref_view's view_interface fails its own
// constraints, even over a std::vector), so under clang < 15 with libstdc++ the tests that pipe through
// std::views are compiled out; the iterator's own steps (PopsHappenOnlyOnFetchOrSkip), break, exceptions and
// values() still run there.
#if defined(__clang__) && __clang_major__ < 15 && defined(__GLIBCXX__)
#define HANDOFF_TEST_VIEWS 0
#else
#define HANDOFF_TEST_VIEWS 1
#endif

namespace {

using handoff_test::get_or_abort;
using handoff_test::until;

// ---- the iterator and views are what the standard library's range adaptors need (ST-7)
using int_stream = handoff::stream<int>;
static_assert(std::input_iterator<int_stream::iterator>);
static_assert(!std::copyable<int_stream::iterator>, "a copy would deliver its cached value twice");
static_assert(std::sentinel_for<std::default_sentinel_t, int_stream::iterator>);
static_assert(std::same_as<std::iter_reference_t<int_stream::iterator>, int&&>);
static_assert(std::ranges::input_range<int_stream&>);
static_assert(!std::ranges::sized_range<int_stream&>, "size() is a snapshot, not the range's length");
#if HANDOFF_TEST_VIEWS
static_assert(std::ranges::viewable_range<int_stream&>);
static_assert(std::ranges::view<std::ranges::ref_view<int_stream>>);
#endif
static_assert(std::ranges::view<decltype(std::declval<int_stream&>().values())>);
static_assert(std::ranges::view<decltype(std::declval<int_stream&>().values(std::stop_token{}))>);
static_assert(std::ranges::borrowed_range<decltype(std::declval<int_stream&>().values())>);
static_assert(std::input_iterator<
              std::ranges::iterator_t<decltype(std::declval<int_stream&>().values(std::stop_token{}))>>);
static_assert(std::ranges::input_range<handoff::stream<std::unique_ptr<int>>&>);
using doubled_reader = handoff::map_reader<int_stream&, int (*)(int)>;
static_assert(std::ranges::input_range<doubled_reader&>);
static_assert(std::input_iterator<std::ranges::iterator_t<doubled_reader&>>);
static_assert(std::ranges::input_range<handoff::topic<int>::subscription&>);

constexpr long kUnbounded = -1;

template <class SyncT, long Capacity>
struct config {
  using sync = SyncT;
  static constexpr long capacity = Capacity;
  template <class T>
  static handoff::stream<T, SyncT> make() {
    if constexpr (Capacity == kUnbounded)
      return handoff::stream<T, SyncT>(handoff::unbounded);
    else
      return handoff::stream<T, SyncT>(static_cast<std::size_t>(Capacity));
  }
};

#if defined(HANDOFF_HAVE_FUTEX)
using futex = handoff::detail::futex_sync;
#endif
using portable = handoff::detail::portable_sync;

#if defined(HANDOFF_HAVE_FUTEX)
using futex_configs = ::testing::Types<config<futex, 8>, config<futex, kUnbounded>>;
#else
using futex_configs = ::testing::Types<>;
#endif
using configs =
    handoff_test::on_backends<futex_configs,
                              ::testing::Types<config<portable, 8>, config<portable, kUnbounded>>>;

struct config_names {
  template <class C>
  static std::string GetName(int) {
    std::string backend = handoff_test::backend_names::GetName<typename C::sync>(0);
    return backend + "_" + (C::capacity == kUnbounded ? "unbounded" : "cap" + std::to_string(C::capacity));
  }
};

template <class C>
class StreamIterationTest : public ::testing::Test {};
TYPED_TEST_SUITE(StreamIterationTest, configs, config_names);

#define MAKE_STREAM(name, T) auto name = TypeParam::template make<T>()

template <class S>
void push_range(S& s, int first, int last) {
  for (int i = first; i <= last; ++i) ASSERT_TRUE(s.push(int{i}));
}

template <class S>
std::vector<int> drain_now(S& s) {
  std::vector<int> out;
  while (auto v = s.try_pop()) out.push_back(*v);
  return out;
}

#if HANDOFF_TEST_VIEWS
// ST-7, G-2: issue 16 break 5. take(3) over 1..6 delivers 1 2 3 and leaves 4 5 6 in the stream.
TYPED_TEST(StreamIterationTest, TakeConsumesOnlyTheValuesItDelivers_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::vector<int> got;
  for (int v : s | std::views::take(3)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(drain_now(s), (std::vector<int>{4, 5, 6})) << "ST-7: the eager iterator popped 4 and lost it";
}

// ST-7: take(3) over exactly 3 values of an OPEN stream ends (the eager iterator waited for a 4th forever).
TYPED_TEST(StreamIterationTest, TakeOfExactlyTheBufferedValuesOfAnOpenStreamEnds_ST7) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 3);
  auto loop = std::async(std::launch::async, [&] {
    std::vector<int> got;
    for (int v : s | std::views::take(3)) got.push_back(v);
    return got;
  });
  EXPECT_EQ(get_or_abort(std::move(loop), "take(3) over 3 values of an open stream"),
            (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(s.is_closed());
  ASSERT_TRUE(s.push(4));
  EXPECT_EQ(drain_now(s), (std::vector<int>{4}));
}

// ST-7, G-2: take_while pops the first value its predicate rejects (the predicate must see it) and that value
// only: 3 is consumed, 4 5 6 stay.
TYPED_TEST(StreamIterationTest, TakeWhileConsumesExactlyTheFirstRejectedValue_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::vector<int> tested, got;
  auto below_three = [&](int x) {
    tested.push_back(x);
    return x < 3;
  };
  for (int v : s | std::views::take_while(below_three)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(tested, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(drain_now(s), (std::vector<int>{4, 5, 6}));
}

// ST-7: drop(n) skips exactly n values (it pops and destroys them), then take(2) delivers the next two.
TYPED_TEST(StreamIterationTest, DropSkipsExactlyNValues_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 7);
  std::vector<int> got;
  for (int v : s | std::views::drop(2) | std::views::take(2)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{3, 4}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{5, 6, 7}));
}
#endif  // HANDOFF_TEST_VIEWS

// ST-7, G-2: the loop std::views::take(3) runs, written out (so it runs under every compiler): ++ after the
// third value, then the count ends the loop; ++ must not pop the fourth value.
TYPED_TEST(StreamIterationTest, HandWrittenTakeConsumesOnlyWhatItDelivers_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::vector<int> got;
  int n = 3;
  for (auto it = s.begin(); n != 0 && it != s.end(); ++it, --n) got.push_back(*it);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{4, 5, 6})) << "ST-7: the eager iterator popped 4 and lost it";
}

// ST-7, G-2: a `break` consumes nothing after the value the body received.
TYPED_TEST(StreamIterationTest, BreakConsumesNothingMore_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::vector<int> got;
  for (int v : s) {
    got.push_back(v);
    if (v == 2) break;
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{3, 4, 5, 6}));
}

// ST-7, G-2: an exception thrown by the loop body consumes nothing after the value the body received.
TYPED_TEST(StreamIterationTest, ExceptionInTheBodyConsumesNothingMore_ST7_G2) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::vector<int> got;
  EXPECT_THROW(
      {
        for (int v : s) {
          got.push_back(v);
          if (v == 2) throw std::runtime_error("body");
        }
      },
      std::runtime_error);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{3, 4, 5, 6}));
}

// ST-7: the iterator's steps, one by one: begin() pops nothing, a comparison or a dereference pops once (and
// only once however often repeated), ++ after delivery pops nothing, ++ on an unfetched iterator skips one.
TYPED_TEST(StreamIterationTest, PopsHappenOnlyOnFetchOrSkip_ST7) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 5);
  auto it = s.begin();
  EXPECT_EQ(s.size(), 5u) << "begin() pops nothing";
  ASSERT_TRUE(it != s.end());
  EXPECT_EQ(s.size(), 4u);
  ASSERT_TRUE(it != s.end());
  EXPECT_EQ(*it, 1);
  EXPECT_EQ(*it, 1);
  EXPECT_EQ(s.size(), 4u) << "the cached value is delivered again, not popped again";
  ++it;
  EXPECT_EQ(s.size(), 4u) << "++ after a fetch only drops the cache";
  ++it;  // unfetched: skips 2
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(*it, 3);
  EXPECT_EQ(s.size(), 2u);
  it++;
  s.close();
  EXPECT_EQ(*it, 4);
  ++it;
  EXPECT_EQ(*it, 5);
  ++it;
  EXPECT_TRUE(it == s.end());
  ++it;  // at end: stays at end
  EXPECT_TRUE(it == s.end());
}

#if HANDOFF_TEST_VIEWS
// ST-7: move-only values through views; the loop variable takes each value by move, nothing is lost.
TYPED_TEST(StreamIterationTest, MoveOnlyValuesThroughViews_ST7_G2) {
  MAKE_STREAM(s, std::unique_ptr<int>);
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(s.push(std::make_unique<int>(i)));
  std::vector<int> got;
  for (std::unique_ptr<int> p : s | std::views::drop(1) | std::views::take(2)) got.push_back(*p);
  EXPECT_EQ(got, (std::vector<int>{2, 3}));
  for (auto&& p : s | std::views::take_while([](const std::unique_ptr<int>& p) { return *p < 5; }))
    got.push_back(*p);
  EXPECT_EQ(got, (std::vector<int>{2, 3, 4}));  // 5 was rejected by take_while: consumed
  auto rest = s.try_pop();
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(**rest, 6);
}
#endif  // HANDOFF_TEST_VIEWS

// ST-7, ST-5: values() is the same range as the stream: until end-of-stream.
TYPED_TEST(StreamIterationTest, ValuesIsTheStreamAsARange_ST7_ST5) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 4);
  s.close();
  std::vector<int> got;
  for (int v : s.values()) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
  for (int v : s.values()) got.push_back(v);  // closed and drained: nothing
  EXPECT_EQ(got.size(), 4u);
}

// G-7, ST-7: values(stop) ends once stop is requested, and pops nothing after it (checked before each pop).
TYPED_TEST(StreamIterationTest, ValuesWithStopEndsAtTheStopAndConsumesNothingAfter_G7_ST7) {
  MAKE_STREAM(s, int);
  push_range(s, 1, 6);
  std::stop_source source;
  std::vector<int> got;
  for (int v : s.values(source.get_token())) {
    got.push_back(v);
    if (v == 2) source.request_stop();
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{3, 4, 5, 6}));

  push_range(s, 7, 8);
  for (int v : s.values(source.get_token())) got.push_back(v);  // stopped before the loop: pops nothing
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(s.size(), 2u);

  std::stop_source fresh;  // and at end-of-stream
  s.close();
  for (int v : s.values(fresh.get_token())) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 7, 8}));
}

// G-7, G-1: a loop over values(stop) waiting on an empty open stream ends when stop is requested; the stream
// keeps what is pushed later.
TYPED_TEST(StreamIterationTest, ValuesWithStopWakesAWaitingLoop_G7_G1) {
  MAKE_STREAM(s, int);
  std::stop_source source;
  auto loop = std::async(std::launch::async, [&] {
    std::vector<int> got;
    for (int v : s.values(source.get_token())) got.push_back(v);
    return got;
  });
  ASSERT_TRUE(s.push(1));
  until([&] { return s.size() == 0 && s.waiting().poppers == 1; }, "the loop waits for a second value");
  source.request_stop();
  EXPECT_EQ(get_or_abort(std::move(loop), "values(stop) loop after request_stop"), (std::vector<int>{1}));
  ASSERT_TRUE(s.push(2));
  EXPECT_EQ(drain_now(s), (std::vector<int>{2}));
}

#if HANDOFF_TEST_VIEWS
// ST-7, ST-3: over a rendezvous stream, take(1) takes one pusher's value and leaves the next pusher waiting
// with its value (the eager iterator took the second value and lost it).
TEST(StreamIterationRendezvous, TakeLeavesTheNextPusherWaiting_ST7_ST3) {
  handoff::stream<int> s{0};
  auto pusher = std::async(std::launch::async, [&] { return s.push(1) && s.push(2); });
  std::vector<int> got;
  for (int v : s | std::views::take(1)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1}));
  EXPECT_EQ(s.pop(), 2);
  EXPECT_TRUE(get_or_abort(std::move(pusher), "rendezvous pusher"));
}
#endif  // HANDOFF_TEST_VIEWS

// ---- adapters (ST-7, ST-8): map and filter readers iterate lazily too: f / pred run only for values the
// loop receives (plus take_while's rejected one).
template <class Sync>
class AdapterIterationTest : public ::testing::Test {};
TYPED_TEST_SUITE(AdapterIterationTest, handoff_test::real_backends, handoff_test::backend_names);

#if HANDOFF_TEST_VIEWS
TYPED_TEST(AdapterIterationTest, MapUnderTakeMapsAndConsumesOnlyWhatItDelivers_ST7_G2) {
  handoff::stream<int, TypeParam> s{8};
  push_range(s, 1, 6);
  int calls = 0;
  auto doubled = handoff::map(s, [&](int x) {
    ++calls;
    return 2 * x;
  });
  std::vector<int> got;
  for (int v : doubled | std::views::take(3)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{2, 4, 6}));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(drain_now(s), (std::vector<int>{4, 5, 6}));
}

TYPED_TEST(AdapterIterationTest, FilterUnderBreakAndTakeWhile_ST7_G2) {
  handoff::stream<int, TypeParam> s{16};
  push_range(s, 1, 10);
  auto odd = handoff::filter(s, [](const int& x) { return x % 2 == 1; });
  std::vector<int> got;
  for (int v : odd) {
    got.push_back(v);
    if (v == 3) break;
  }
  EXPECT_EQ(got, (std::vector<int>{1, 3}));
  EXPECT_EQ(s.size(), 7u);  // 4..10
  for (int v : odd | std::views::take_while([](int x) { return x < 7; })) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 3, 5}));  // 4, 6 filtered out; 7 rejected by take_while (consumed)
  EXPECT_EQ(drain_now(s), (std::vector<int>{8, 9, 10}));
}
#endif  // HANDOFF_TEST_VIEWS

TYPED_TEST(AdapterIterationTest, ExceptionInTheBodyOverAMapConsumesNothingMore_ST7_G2) {
  handoff::stream<int, TypeParam> s{8};
  push_range(s, 1, 4);
  auto same = handoff::map(s, [](int x) { return x; });
  std::vector<int> got;
  EXPECT_THROW(
      {
        for (int v : same) {
          got.push_back(v);
          throw std::runtime_error("body");
        }
      },
      std::runtime_error);
  EXPECT_EQ(got, (std::vector<int>{1}));
  EXPECT_EQ(drain_now(s), (std::vector<int>{2, 3, 4}));
}

#if HANDOFF_TEST_VIEWS
// ---- topic subscriptions (ST-7, ST-8): the subscription's range is its buffer's lazy range.
TYPED_TEST(AdapterIterationTest, SubscriptionUnderTakeConsumesOnlyWhatItDelivers_ST7_G2) {
  handoff::topic<int, TypeParam> t{8};
  auto sub = t.subscribe();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(t.publish(i), 1u);
  std::vector<int> got;
  for (int v : sub | std::views::take(2)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  t.close();
  for (int v : sub) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
}
#endif  // HANDOFF_TEST_VIEWS

}  // namespace
