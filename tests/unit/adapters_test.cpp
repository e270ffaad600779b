// Lwt's traversors as adapters over one reader (<handoff/adapters.hpp>, ST-8): map/filter are lazy and run in
// the consumer's thread, iter/fold run until end-of-stream, adapters compose and own rvalue sources. The
// seed's multiplexing example (two traversors plus a plain reader on one Lwt stream, where the traversors
// each see every value and plain readers share them) is rewritten the safe way with a topic: each consumer
// has its own subscription and sees every value exactly once. Both parking backends; no sleeps (watchdog for
// hangs).
#include <handoff/adapters.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff_test::get_or_abort;

template <class Sync>
class AdaptersTest : public ::testing::Test {};
TYPED_TEST_SUITE(AdaptersTest, handoff_test::real_backends, handoff_test::backend_names);

template <class F>
auto async(F f) {
  return std::async(std::launch::async, std::move(f));
}

// A reader that is neither a stream nor a subscription: adapters accept anything with optional<V> pop().
struct countdown {
  int left;
  std::optional<int> pop() { return left > 0 ? std::optional<int>(left--) : std::nullopt; }
};
static_assert(handoff::reader<countdown>);
static_assert(!handoff::reader<int>);

// ST-8: map's f runs only when the adapter is popped, once per value, in the popping thread.
TYPED_TEST(AdaptersTest, ST8_MapIsLazyAndRunsInTheConsumerThread) {
  handoff::stream<int, TypeParam> s{8};
  std::atomic<int> calls{0};
  std::atomic<std::thread::id> ran_on{};
  auto doubled = handoff::map(s, [&](int x) {
    ++calls;
    ran_on = std::this_thread::get_id();
    return 2 * x;
  });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(s.push(i));
  EXPECT_EQ(calls.load(), 0);  // nothing ran ahead of a pop
  auto consumer = async([&] {
    const auto v = doubled.pop();
    return std::pair{v, std::this_thread::get_id()};
  });
  const auto [v, consumer_id] = get_or_abort(std::move(consumer), "pop through map");
  EXPECT_EQ(v, 2);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(ran_on.load(), consumer_id);
  EXPECT_EQ(s.size(), 2u);  // the other values are still in the stream, unmapped
  s.close();
  std::vector<int> rest;
  for (int x : doubled) rest.push_back(x);
  EXPECT_EQ(rest, (std::vector<int>{4, 6}));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(doubled.pop(), std::nullopt);  // end-of-stream of the source is end-of-stream of the adapter
}

// ST-8: filter tests each value once, when popped, and skips the ones that fail.
TYPED_TEST(AdaptersTest, ST8_FilterIsLazyAndTestsEachValueOnce) {
  handoff::stream<int, TypeParam> s{handoff::unbounded};
  std::vector<int> tested;
  auto even = handoff::filter(s, [&](const int& x) {
    tested.push_back(x);
    return x % 2 == 0;
  });
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(s.push(i));
  EXPECT_TRUE(tested.empty());
  EXPECT_EQ(even.pop(), 2);  // 1 tested and dropped, 2 passes
  EXPECT_EQ(tested, (std::vector<int>{1, 2}));
  EXPECT_EQ(s.size(), 3u);
  s.close();
  EXPECT_EQ(even.pop(), 4);
  EXPECT_EQ(even.pop(), std::nullopt);  // 5 tested, dropped, then end-of-stream
  EXPECT_EQ(tested, (std::vector<int>{1, 2, 3, 4, 5}));
}

// iter runs f in the caller's thread on each value until end-of-stream and returns the count; fold returns
// its accumulator at end-of-stream.
TYPED_TEST(AdaptersTest, ST8_IterAndFoldRunUntilEndOfStream) {
  handoff::stream<int, TypeParam> s{4};
  auto producer = async([&] {
    for (int i = 1; i <= 100; ++i)
      if (!s.push(i)) return false;
    s.close();
    return true;
  });
  const auto caller = std::this_thread::get_id();
  bool all_in_caller = true;
  int sum = 0;
  const std::size_t n = handoff::iter(s, [&](int x) {
    all_in_caller = all_in_caller && std::this_thread::get_id() == caller;
    sum += x;
  });
  EXPECT_EQ(n, 100u);
  EXPECT_EQ(sum, 5050);
  EXPECT_TRUE(all_in_caller);
  EXPECT_TRUE(get_or_abort(std::move(producer), "producer"));

  countdown c{4};  // 4 3 2 1
  EXPECT_EQ(handoff::fold(
                c, [](std::string acc, int x) { return acc + std::to_string(x); }, std::string(">")),
            ">4321");
  EXPECT_EQ(handoff::fold(
                c, [](int acc, int x) { return acc + x; }, 7),
            7);  // already at end
}

// Adapters compose; built from an rvalue they own it; values are moved through (move-only T works).
TYPED_TEST(AdaptersTest, ST8_ComposedAdaptersOwnRvalueSourcesAndMove) {
  handoff::stream<std::unique_ptr<int>, TypeParam> s{8};
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(s.push(std::make_unique<int>(i)));
  s.close();
  auto big_squares = handoff::map(handoff::filter(s, [](const std::unique_ptr<int>& p) { return *p > 3; }),
                                  [](std::unique_ptr<int> p) { return std::to_string(*p * *p); });
  std::vector<std::string> seen;
  for (std::string v : big_squares) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<std::string>{"16", "25", "36"}));
  EXPECT_EQ(handoff::fold(handoff::map(countdown{3}, [](int x) { return x * 10; }), std::plus<>{}, 0), 60);
}

// If f throws, pop() throws, the value being mapped is gone, and the adapter goes on with the next value.
TYPED_TEST(AdaptersTest, ST8_ThrowingFunctionReachesTheCallerOfPop) {
  handoff::stream<int, TypeParam> s{4};
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(s.push(i));
  auto m = handoff::map(s, [](int x) {
    if (x == 2) throw std::runtime_error("no twos");
    return x;
  });
  EXPECT_EQ(m.pop(), 1);
  EXPECT_THROW((void)m.pop(), std::runtime_error);
  EXPECT_EQ(m.pop(), 3);
}

// The seed's multiplexing example, the safe way. In Lwt, `map`+`iter` and `filter`+`iter` on a stream each
// see every value while a plain `get` on the same stream takes values from the others' view, and two pending
// readers can receive the same value. Here each consumer has its own subscription: two traversor pipelines
// and one plain reader, each sees every published value exactly once, in order.
TYPED_TEST(AdaptersTest, ST8_SeedMultiplexingWithATopicEachConsumerSeesEveryValueOnce) {
  constexpr int kValues = 2'000;
  handoff::topic<int, TypeParam> t{16};
  auto for_map = t.subscribe();
  auto for_filter = t.subscribe();
  auto plain = t.subscribe();

  auto mapped = async([&] {  // Lwt_stream.iter print (Lwt_stream.map (fun x -> x * 2) s)
    std::vector<int> out;
    handoff::iter(handoff::map(for_map, [](int x) { return 2 * x; }), [&](int y) { out.push_back(y); });
    return out;
  });
  auto filtered = async([&] {  // Lwt_stream.iter print (Lwt_stream.filter odd s)
    std::vector<int> tested, out;
    handoff::iter(handoff::filter(for_filter,
                                  [&](const int& x) {
                                    tested.push_back(x);
                                    return x % 2 == 1;
                                  }),
                  [&](int x) { out.push_back(x); });
    return std::pair{tested, out};
  });
  auto reader = async([&] {  // Lwt_stream.get s, in a loop
    std::vector<int> out;
    while (auto v = plain.pop()) out.push_back(*v);
    return out;
  });
  for (int i = 1; i <= kValues; ++i) ASSERT_EQ(t.publish(i), 3u);
  t.close();

  std::vector<int> all(kValues), doubled(kValues), odd;
  std::iota(all.begin(), all.end(), 1);
  for (int i = 0; i < kValues; ++i) doubled[i] = 2 * all[i];
  for (int x : all)
    if (x % 2 == 1) odd.push_back(x);
  EXPECT_EQ(get_or_abort(std::move(mapped), "map+iter consumer"), doubled);
  const auto [tested, passed] = get_or_abort(std::move(filtered), "filter+iter consumer");
  EXPECT_EQ(tested, all);  // the filter saw every value once
  EXPECT_EQ(passed, odd);
  EXPECT_EQ(get_or_abort(std::move(reader), "plain reader"), all);
}

// ST-8's other half: on ONE stream, a traversor and a plain reader share the values (a work queue): each
// value reaches exactly one of them, never both. This is why fan-out needs a topic.
TYPED_TEST(AdaptersTest, ST8_OneStreamIsAWorkQueueNotAFanOut) {
  constexpr int kValues = 2'000;
  handoff::stream<int, TypeParam> s{16};
  auto via_map = async([&] {
    std::vector<int> out;
    handoff::iter(handoff::map(s, [](int x) { return x; }), [&](int x) { out.push_back(x); });
    return out;
  });
  auto plain = async([&] {
    std::vector<int> out;
    while (auto v = s.pop()) out.push_back(*v);
    return out;
  });
  for (int i = 0; i < kValues; ++i) ASSERT_TRUE(s.push(i));
  s.close();
  std::vector<int> a = get_or_abort(std::move(via_map), "map reader");
  std::vector<int> b = get_or_abort(std::move(plain), "plain reader");
  std::vector<int> count(kValues, 0);
  for (int x : a) ++count[x];
  for (int x : b) ++count[x];
  for (int i = 0; i < kValues; ++i) ASSERT_EQ(count[i], 1) << "value " << i;
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

}  // namespace
