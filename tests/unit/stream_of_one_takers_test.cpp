// ST-6, the taker side: stream<T>{1} behaves as an mvar for put/take sequences, the same trace as MV-2..MV-6.
// stream_test's StreamOfOneBehavesAsAnMvar checks the putter side (putters queue FIFO behind a full box);
// this file checks the takers: takers that wait on an empty stream{1} queue FIFO (MV-6), a push hands its
// value straight to the oldest of them and returns with the box still empty (MV-3), a taker that leaves
// (stop request) gives up its place without swallowing a value (G-2, G-3), a try_ take while takers wait
// answers empty without jumping the queue (MV-7), and a push that finds no taker stores its value (MV-2).
// The same sequence runs on an mvar and on a stream{1}; the traces must be equal, and equal to Lwt_mvar's.
// Handshakes are waiting() snapshots, never sleeps; each thread is joined through the watchdog.
#include <handoff/mvar.hpp>
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff_test::get_or_abort;
using handoff_test::until;

// The two boxes behind one interface: put, take (plain and with a stop token), try_take, and snapshots.
template <class Sync>
struct mvar_box {
  handoff::mvar<int, Sync> m;
  void put(int v) { m.put(int{v}); }
  int take() { return m.take(); }
  std::optional<int> take(std::stop_token st) { return m.take(std::move(st)); }
  std::optional<int> try_take() { return m.try_take(); }
  bool full() const { return !m.is_empty(); }
  std::size_t takers() const { return m.waiting().takers; }
};

template <class Sync>
struct stream_box {
  handoff::stream<int, Sync> s{1};
  void put(int v) { ASSERT_TRUE(s.push(int{v})); }
  int take() { return s.pop().value(); }
  std::optional<int> take(std::stop_token st) { return s.pop(std::move(st)); }
  std::optional<int> try_take() { return s.try_pop(); }
  bool full() const { return s.size() == 1; }
  std::size_t takers() const { return s.waiting().poppers; }
};

std::string got(const std::optional<int>& v) {
  return v ? "got " + std::to_string(*v) : "got nothing";
}

// Takers T1, T2 (cancellable) and T3 wait in that order; puts and a cancellation follow.
template <class Box>
std::vector<std::string> takers_trace(Box& b) {
  std::vector<std::string> t;
  auto snap = [&](const std::string& what) {
    t.push_back(what + ": " + (b.full() ? "full" : "empty") + ", takers " + std::to_string(b.takers()));
  };
  auto registered = [&](std::size_t n, const char* what) { until([&] { return b.takers() == n; }, what); };
  std::stop_source stop_t2;
  auto t1 = std::async(std::launch::async, [&] { return std::optional<int>(b.take()); });
  registered(1, "T1 waiting");
  auto t2 = std::async(std::launch::async, [&] { return b.take(stop_t2.get_token()); });
  registered(2, "T2 waiting");
  auto t3 = std::async(std::launch::async, [&] { return std::optional<int>(b.take()); });
  registered(3, "T3 waiting");
  snap("T1, T2, T3 wait");
  t.push_back("try_take " + got(b.try_take()));  // MV-7: empty, and nobody's place is taken
  snap("after try_take");
  b.put(10);  // MV-3: to T1, the oldest
  snap("put 10");
  auto t4 = std::async(std::launch::async, [&] { return std::optional<int>(b.take()); });
  registered(3, "T4 waiting");
  snap("T4 waits");
  stop_t2.request_stop();  // T2 leaves its place (G-2: it receives nothing)
  registered(2, "T2 gone");
  snap("T2 cancelled");
  b.put(20);  // to T3: the oldest still waiting
  snap("put 20");
  b.put(30);  // to T4
  snap("put 30");
  b.put(40);  // MV-2: nobody waits, stored
  snap("put 40");
  t.push_back("T1 " + got(get_or_abort(std::move(t1), "T1")));
  t.push_back("T2 " + got(get_or_abort(std::move(t2), "T2")));
  t.push_back("T3 " + got(get_or_abort(std::move(t3), "T3")));
  t.push_back("T4 " + got(get_or_abort(std::move(t4), "T4")));
  t.push_back("take " + std::to_string(b.take()));  // MV-5
  snap("after take");
  return t;
}

template <class Sync>
class StreamOfOneTakers : public ::testing::Test {};
TYPED_TEST_SUITE(StreamOfOneTakers, handoff_test::real_backends, handoff_test::backend_names);

TYPED_TEST(StreamOfOneTakers, ST6_WaitingTakersQueueFifoAndAPushHandsToTheOldest) {
  stream_box<TypeParam> s;
  mvar_box<TypeParam> m;
  const auto from_stream = takers_trace(s);
  const auto from_mvar = takers_trace(m);
  EXPECT_EQ(from_stream, from_mvar) << "ST-6: stream{1} and mvar disagree on the taker side";
  // Lwt_mvar on the same sequence (a cancelled take leaves the queue; put resolves the oldest reader).
  const std::vector<std::string> lwt = {
      "T1, T2, T3 wait: empty, takers 3",
      "try_take got nothing",
      "after try_take: empty, takers 3",
      "put 10: empty, takers 2",
      "T4 waits: empty, takers 3",
      "T2 cancelled: empty, takers 2",
      "put 20: empty, takers 1",
      "put 30: empty, takers 0",
      "put 40: full, takers 0",
      "T1 got 10",
      "T2 got nothing",
      "T3 got 20",
      "T4 got 30",
      "take 40",
      "after take: empty, takers 0",
  };
  EXPECT_EQ(from_stream, lwt) << "ST-6 / MV-3, MV-6: the stream's trace";
  EXPECT_EQ(from_mvar, lwt) << "MV-3, MV-6: the mvar's trace";
}

}  // namespace
