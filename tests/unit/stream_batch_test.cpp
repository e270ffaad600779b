// Batch pops and waiting for the close (issue 16; Lwt's get_available, get_available_up_to, nget and
// closed): try_pop_some never waits and takes up to max values available now, oldest first; pop_some waits
// for one value or end-of-stream and then takes more without waiting; wait_closed waits for close() without
// consuming. Rules: ST-4 (FIFO, each value to one popper), ST-5 (drain, then end-of-stream), G-1, G-2, G-7.
// Both the batch claim (invariant 10 of stream.hpp: a raw array of a nothrow type) and the one-at-a-time path
// (a std::back_inserter, which may throw) run every test. Concurrent producers use per-producer sequence
// numbers (value = producer << 32 | seq). No sleeps; hangs are caught by the watchdog.
//
// The suites are typed over the backend only; each batch test body runs every (capacity, sink) case of its
// backend in turn at run time (for_each_case), because the capacity is a constructor argument (stream<T,
// Sync> is one type for all of them) and the sink only picks a branch of take(): with both in the type list
// every body compiled once per case, most of this file's compile time. Each case runs under a SCOPED_TRACE
// that names it; the watchdog and take()'s checks, which run on helper threads, name it too.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <iterator>
#include <limits>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::until;

constexpr long kUnbounded = -1;

// Writes through a raw array (batch claims: int's move and the pointer's assignment are noexcept) or through
// std::back_inserter (one claim per value: push_back may throw).
enum class sink { array, back_inserter };

struct batch_case {
  long capacity;
  sink how;

  template <class T, class Sync>
  handoff::stream<T, Sync> make() const {  // by guaranteed copy elision: streams are not movable
    if (capacity == kUnbounded) return handoff::stream<T, Sync>(handoff::unbounded);
    return handoff::stream<T, Sync>(static_cast<std::size_t>(capacity));
  }

  std::string describe() const {
    return (capacity == kUnbounded ? "capacity unbounded" : "capacity " + std::to_string(capacity)) +
           (how == sink::array ? ", array sink" : ", back_inserter sink");
  }

  // Calls try_pop_some or pop_some with this case's sink and appends what it wrote to `got`. It runs on
  // helper threads too, where the SCOPED_TRACE of for_each_case does not reach: its checks name the case.
  template <class S, class T>
  std::size_t take(S& s, std::vector<T>& got, std::size_t max, bool wait) const {
    if (how == sink::back_inserter) {
      const std::size_t before = got.size();
      const std::size_t n =
          wait ? s.pop_some(std::back_inserter(got), max) : s.try_pop_some(std::back_inserter(got), max);
      EXPECT_EQ(got.size() - before, n) << "the count is what was written (" << describe() << ")";
      return n;
    } else {
      std::vector<T> buffer(max + 1, T{});
      const std::size_t n = wait ? s.pop_some(buffer.data(), max) : s.try_pop_some(buffer.data(), max);
      EXPECT_LE(n, max) << describe();
      got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
      return n;
    }
  }
};

// The cases each backend runs (the configs of the suite when they were types, unchanged).
constexpr batch_case kFutexCases[] = {{0, sink::array},
                                      {1, sink::array},
                                      {4, sink::array},
                                      {64, sink::array},
                                      {kUnbounded, sink::array},
                                      {4, sink::back_inserter},
                                      {kUnbounded, sink::back_inserter}};
constexpr batch_case kPortableCases[] = {{0, sink::array},
                                         {4, sink::array},
                                         {kUnbounded, sink::array},
                                         {1, sink::back_inserter},
                                         {64, sink::back_inserter}};

template <class Sync>
constexpr std::span<const batch_case> cases_of() {
  if constexpr (std::is_same_v<Sync, handoff::detail::portable_sync>)
    return kPortableCases;
  else
    return kFutexCases;
}

bool is_rendezvous(const batch_case& c) {
  return c.capacity == 0;
}
// Rendezvous or unbounded: no full buffer for pushers to wait on.
bool never_full(const batch_case& c) {
  return c.capacity == 0 || c.capacity == kUnbounded;
}

// The case whose body is running, for the watchdog's message (the test name names only the backend).
// Written and read by the test's main thread only.
std::string running_case;

template <class Future>
auto get_or_abort(Future&& f, const std::string& what) {
  return handoff_test::get_or_abort(std::forward<Future>(f),
                                    running_case.empty() ? what : what + " (" + running_case + ")");
}

// Runs body(c) for each case of the backend Sync in turn, under a SCOPED_TRACE naming it, except the cases
// where `skipped(c)` holds: those were skipped (GTEST_SKIP, with the reason `why`) when the case was a type
// parameter, and are skipped still; on a backend where every case is skipped the test reports as skipped,
// never as a vacuous pass. A body joins its threads (its futures are waited for) before it returns, so no
// case's threads overlap the next one's. An ASSERT_ failure ends that case's run only, as it ended that
// config's test before.
template <class Sync, class Skipped, class Body>
void for_each_case_except(Skipped skipped, const char* why, Body body) {
  bool ran = false;
  for (const batch_case& c : cases_of<Sync>()) {
    if (skipped(c)) continue;
    ran = true;
    SCOPED_TRACE(c.describe());
    running_case = c.describe();
    body(c);
  }
  running_case.clear();
  if (!ran) GTEST_SKIP() << why;
}

template <class Sync, class Body>
void for_each_case(Body body) {
  for_each_case_except<Sync>([](const batch_case&) { return false; }, "", body);
}

template <class Sync>
class StreamBatchTest : public ::testing::Test {};
TYPED_TEST_SUITE(StreamBatchTest, handoff_test::real_backends, handoff_test::backend_names);

// ST-4, ST-5: up to max values available now, oldest first; 0 when none (open) and at end-of-stream.
TYPED_TEST(StreamBatchTest, TryPopSomeTakesWhatIsAvailableInOrder_ST4_ST5) {
  // Skips the rendezvous cases, as their configs did.
  for_each_case_except<TypeParam>(
      is_rendezvous, "a rendezvous buffers nothing; see RendezvousBatch", [](const batch_case& c) {
        auto s = c.make<int, TypeParam>();
        const int n = c.capacity == kUnbounded ? 600 : static_cast<int>(c.capacity);  // 600: overflow
        for (int i = 0; i < n; ++i) ASSERT_EQ(s.try_push(int{i}), status::ok);
        std::vector<int> got;
        const std::size_t first = std::max<std::size_t>(1, static_cast<std::size_t>(n) / 2);
        EXPECT_EQ(c.take(s, got, first, false), first);
        EXPECT_EQ(c.take(s, got, static_cast<std::size_t>(n) + 10, false),
                  static_cast<std::size_t>(n) - first);
        std::vector<int> want(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = i;
        EXPECT_EQ(got, want);
        EXPECT_EQ(c.take(s, got, 5, false), 0u) << "empty and open: nothing, at once";
        EXPECT_EQ(c.take(s, got, 0, false), 0u);
        ASSERT_EQ(s.try_push(99), status::ok);
        s.close();
        EXPECT_EQ(c.take(s, got, 5, false), 1u) << "ST-5: drains after close";
        EXPECT_EQ(got.back(), 99);
        EXPECT_EQ(c.take(s, got, 5, false), 0u);
        EXPECT_EQ(c.take(s, got, 5, true), 0u) << "ST-5: pop_some at end-of-stream returns 0 at once";
      });
}

// ST-2, ST-4: on a full bounded stream with waiting pushers, a batch takes the buffered values and the
// pushers' values enter in FIFO order behind them.
TYPED_TEST(StreamBatchTest, BatchOnAFullStreamLetsWaitingPushersIn_ST2_ST4) {
  // Skips the rendezvous and unbounded cases, as their configs did.
  for_each_case_except<TypeParam>(
      never_full, "pushers wait only on a full bounded stream", [](const batch_case& c) {
        auto s = c.make<int, TypeParam>();
        const int cap = static_cast<int>(c.capacity);
        for (int i = 0; i < cap; ++i) ASSERT_EQ(s.try_push(int{i}), status::ok);
        std::vector<std::future<bool>> pushers;
        for (int k = 0; k < 2; ++k) {
          pushers.push_back(std::async(std::launch::async, [&s, v = cap + k] { return s.push(int{v}); }));
          until([&] { return s.waiting().pushers == static_cast<std::size_t>(k + 1); }, "pusher registered");
        }
        std::vector<int> got;
        while (got.size() < static_cast<std::size_t>(cap) + 2) {
          const std::size_t n = c.take(s, got, static_cast<std::size_t>(cap) + 2, false);
          if (n == 0) std::this_thread::yield();  // a waiting pusher's value is being moved in
        }
        for (auto& p : pushers) EXPECT_TRUE(get_or_abort(std::move(p), "pusher"));
        std::vector<int> want(static_cast<std::size_t>(cap) + 2);
        for (int i = 0; i < cap + 2; ++i) want[static_cast<std::size_t>(i)] = i;
        EXPECT_EQ(got, want);
      });
}

// G-1, ST-4: pop_some waits for the first value (handed to it by a push), then returns what it has.
TYPED_TEST(StreamBatchTest, PopSomeWaitsForTheFirstValue_G1_ST4) {
  for_each_case<TypeParam>([](const batch_case& c) {
    auto s = c.make<int, TypeParam>();
    auto popper = std::async(std::launch::async, [&] {
      std::vector<int> got;
      const std::size_t n = c.take(s, got, 8, true);
      return std::pair{n, got};
    });
    until([&] { return s.waiting().poppers == 1; }, "pop_some registered");
    ASSERT_TRUE(s.push(1));
    const auto [n, got] = get_or_abort(std::move(popper), "pop_some after a push");
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(got, (std::vector<int>{1}));
  });
}

// ST-5, G-1: pop_some waiting on an empty stream returns 0 when it is closed.
TYPED_TEST(StreamBatchTest, PopSomeReturnsZeroAtTheClose_ST5_G1) {
  for_each_case<TypeParam>([](const batch_case& c) {
    auto s = c.make<int, TypeParam>();
    auto popper = std::async(std::launch::async, [&] {
      std::vector<int> got;
      return c.take(s, got, 8, true);
    });
    until([&] { return s.waiting().poppers == 1; }, "pop_some registered");
    s.close();
    EXPECT_EQ(get_or_abort(std::move(popper), "pop_some after close"), 0u);
  });
}

// ST-4, G-2: producers with per-producer sequence numbers, consumers using pop_some and try_pop_some with
// varying max: every value received exactly once, each consumer sees each producer's values in order.
TYPED_TEST(StreamBatchTest, ConcurrentProducersAndBatchConsumers_ST4_G2) {
  for_each_case<TypeParam>([](const batch_case& c) {
    constexpr unsigned kProducers = 3, kConsumers = 3;
    constexpr std::uint64_t kPerProducer = 4000;
    auto s = c.make<std::uint64_t, TypeParam>();
    std::vector<std::future<void>> producers;
    for (unsigned p = 0; p < kProducers; ++p)
      producers.push_back(std::async(std::launch::async, [&s, p, c] {
        for (std::uint64_t i = 0; i < kPerProducer; ++i)
          ASSERT_TRUE(s.push(std::uint64_t{p} << 32 | i)) << c.describe();  // a helper thread: name the case
      }));
    std::vector<std::future<std::vector<std::uint64_t>>> consumers;
    for (unsigned k = 0; k < kConsumers; ++k)
      consumers.push_back(std::async(std::launch::async, [&s, k, c] {
        std::vector<std::uint64_t> got;
        for (std::size_t round = 0;; ++round) {
          const std::size_t max = 1 + (round * 7 + k) % 19;
          if ((round + k) % 3 == 0) {
            if (c.take(s, got, max, false) == 0 && s.is_closed()) {
              if (c.take(s, got, max, true) == 0) break;  // closed and drained
            }
          } else if (c.take(s, got, max, true) == 0) {
            break;
          }
        }
        return got;
      }));
    for (auto& p : producers) get_or_abort(std::move(p), "producer");
    s.close();
    std::vector<std::vector<std::uint8_t>> seen(kProducers, std::vector<std::uint8_t>(kPerProducer, 0));
    for (auto& consumer : consumers) {
      const std::vector<std::uint64_t> got = get_or_abort(std::move(consumer), "batch consumer");
      std::vector<std::int64_t> last(kProducers, -1);
      for (std::uint64_t v : got) {
        const std::uint64_t p = v >> 32, seq = v & 0xffffffffu;
        ASSERT_LT(p, kProducers) << "G-2: an invented value";
        ASSERT_LT(seq, kPerProducer) << "G-2: an invented value";
        EXPECT_GT(static_cast<std::int64_t>(seq), last[p]) << "ST-4: producer " << p << " out of order";
        last[p] = static_cast<std::int64_t>(seq);
        ++seen[p][seq];
      }
    }
    for (unsigned p = 0; p < kProducers; ++p)
      for (std::uint64_t i = 0; i < kPerProducer; ++i)
        ASSERT_EQ(seen[p][i], 1) << "G-2: value " << i << " of producer " << p << " received "
                                 << int(seen[p][i]) << " times";
  });
}

// ST-3: on a rendezvous stream, try_pop_some takes a waiting pusher's value; pop_some waits for one.
TEST(RendezvousBatch, TakesWaitingPushersValues_ST3) {
  handoff::stream<int> s{0};
  int out[4] = {};
  EXPECT_EQ(s.try_pop_some(out, 4), 0u);
  auto pusher = std::async(std::launch::async, [&] { return s.push(1); });
  until([&] { return s.waiting().pushers == 1; }, "rendezvous pusher registered");
  EXPECT_EQ(s.try_pop_some(out, 4), 1u);
  EXPECT_EQ(out[0], 1);
  EXPECT_TRUE(get_or_abort(std::move(pusher), "rendezvous pusher"));
  auto later = std::async(std::launch::async, [&] { return s.push(2); });
  EXPECT_EQ(s.pop_some(out, 4), 1u);
  EXPECT_EQ(out[0], 2);
  EXPECT_TRUE(get_or_abort(std::move(later), "second rendezvous pusher"));
}

// ---- wait_closed (Lwt's `closed`): returns once close() was called, consumes nothing (ST-5, G-1, G-7)
template <class Sync>
class StreamWaitClosedTest : public ::testing::Test {};
TYPED_TEST_SUITE(StreamWaitClosedTest, handoff_test::real_backends, handoff_test::backend_names);

TYPED_TEST(StreamWaitClosedTest, WaitersWakeAtTheCloseAndConsumeNothing_ST5_G1) {
  handoff::stream<int, TypeParam> s{4};
  ASSERT_TRUE(s.push(1));
  std::stop_source never;
  auto plain = std::async(std::launch::async, [&] { s.wait_closed(); });
  auto timed = std::async(std::launch::async, [&] { return s.wait_closed_for(1h); });
  auto until_form = std::async(std::launch::async,
                               [&] { return s.wait_closed_until(std::chrono::system_clock::now() + 1h); });
  auto stop_form = std::async(std::launch::async, [&] { return s.wait_closed(never.get_token()); });
  until([&] { return s.waiting().close_waiters == 4; }, "four wait_closed registered");
  EXPECT_EQ(s.size(), 1u);
  s.close();
  get_or_abort(std::move(plain), "wait_closed()");
  EXPECT_EQ(get_or_abort(std::move(timed), "wait_closed_for"), status::ok);
  EXPECT_EQ(get_or_abort(std::move(until_form), "wait_closed_until"), status::ok);
  EXPECT_EQ(get_or_abort(std::move(stop_form), "wait_closed(stop)"), status::ok);
  EXPECT_EQ(s.waiting().close_waiters, 0u);
  EXPECT_EQ(s.pop(), 1) << "wait_closed consumed nothing";
  s.wait_closed();  // closed already: at once
  EXPECT_EQ(s.wait_closed_for(0ms), status::ok);
}

TYPED_TEST(StreamWaitClosedTest, TimeoutAndCancellation_G7) {
  handoff::stream<int, TypeParam> s{handoff::unbounded};
  EXPECT_EQ(s.wait_closed_for(0ms), status::timeout) << "G-7: a passed deadline answers at once";
  EXPECT_EQ(s.wait_closed_until(std::chrono::steady_clock::now() - 1s), status::timeout);
  EXPECT_EQ(s.wait_closed_for(1ms), status::timeout);
  std::stop_source source;
  auto waiter = std::async(std::launch::async, [&] { return s.wait_closed(source.get_token()); });
  until([&] { return s.waiting().close_waiters == 1; }, "wait_closed(stop) registered");
  source.request_stop();
  EXPECT_EQ(get_or_abort(std::move(waiter), "wait_closed(stop) after request_stop"), status::cancelled);
  EXPECT_EQ(s.waiting().close_waiters, 0u) << "a cancelled waiter unregisters";
  EXPECT_EQ(s.wait_closed(source.get_token()), status::cancelled) << "G-7: a stop already requested";
  EXPECT_FALSE(s.is_closed());
  s.close();
  EXPECT_EQ(s.wait_closed(source.get_token()), status::ok) << "closed wins over a requested stop, as try_";
}

}  // namespace
