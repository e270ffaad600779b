// G-4 for stream and topic: everything a thread did before push / publish / close happens-before everything
// the receiving thread does after the pop that returns that value or reports that end-of-stream. The
// producer writes plain (non-atomic) memory, a payload of its own, then hands over a plain struct (message)
// that points to it; the consumer reads the payload after its pop returns. Nothing else orders the two
// threads: the consumer thread starts before the payload is written, handshakes are waiting() snapshots
// taken by the producer (they order the consumer's registration before the write, never the write before
// the read) or relaxed atomics (which order nothing), and the threads are joined only after the reads.
// So under ThreadSanitizer (preset tsan) a broken release / acquire pair in the library is a data race
// report on the payload or on the message; in other builds the tests check the payloads' contents only.
//
// Paths (each rule of the Memory ordering table that concerns stream and topic):
//   fast path (ring slot turn: release in stream_ring::publish, acquire in await_turn), pop_some's batch
//   claim, the hand-off to a waiting popper (waiter::complete / await), the rendezvous both ways (popper
//   waits first: complete / await; pusher waits first: the pusher's node is published by the slow lock),
//   the unbounded overflow cells (their own turn words), close() before end-of-stream (a pop that does not
//   wait reads CLOSED with acquire; one that waits is completed), before a push that fails and before
//   wait_closed(); topic publish to subscribers (running and waiting) and topic close().
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

// Written by the producer before the hand-over, read by the consumer after it: plain memory.
struct payload {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
  std::array<unsigned char, 48> bytes{};
};

// The value handed over: a plain struct too (it lives in a ring slot, an overflow cell or a waiter's node).
struct message {
  payload* p = nullptr;
  std::uint64_t seq = 0;
};

void write_payload(payload& p, std::uint64_t seq) {
  p.seq = seq;
  p.check = ~seq;
  p.bytes.fill(static_cast<unsigned char>(seq * 7 + 1));
}

bool payload_ok(const payload& p, std::uint64_t seq) {
  return p.seq == seq && p.check == ~seq && std::all_of(p.bytes.begin(), p.bytes.end(), [&](unsigned char b) {
           return b == static_cast<unsigned char>(seq * 7 + 1);
         });
}
bool message_ok(const message& m, std::uint64_t seq) {
  return m.seq == seq && m.p && payload_ok(*m.p, seq);
}

constexpr long kUnbounded = -1;

template <class Sync>
std::unique_ptr<handoff::stream<message, Sync>> make_stream(long capacity) {
  if (capacity == kUnbounded) return std::make_unique<handoff::stream<message, Sync>>(handoff::unbounded);
  return std::make_unique<handoff::stream<message, Sync>>(static_cast<std::size_t>(capacity));
}

std::string name(long capacity) {
  return capacity == kUnbounded ? "unbounded" : "capacity " + std::to_string(capacity);
}

template <class Sync>
class StreamHappensBefore : public ::testing::Test {};
TYPED_TEST_SUITE(StreamHappensBefore, handoff_test::real_backends, handoff_test::backend_names);

// The ring's fast path (and whatever a running consumer meets: a waiting popper now and then), with pop and
// with pop_some's batch claim (a message* output: nothing can throw, so it claims several slots at once).
TYPED_TEST(StreamHappensBefore, G4_PushThenPop) {
  for (long capacity : {1L, 4L, 1024L, kUnbounded}) {
    SCOPED_TRACE(name(capacity));
    constexpr int n = 2'000;
    auto s = make_stream<TypeParam>(capacity);
    std::vector<payload> pool(n);
    auto consumer = std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < n;) {
        if (i % 3 == 2) {
          std::array<message, 8> batch;
          const std::size_t k = s->pop_some(batch.data(), std::min<std::size_t>(batch.size(), n - i));
          for (std::size_t j = 0; j < k; ++j) ok += message_ok(batch[j], static_cast<std::uint64_t>(i) + j);
          i += static_cast<int>(k);
        } else {
          const auto m = s->pop();
          ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
          ++i;
        }
      }
      return ok;
    });
    for (int i = 0; i < n; ++i) {
      write_payload(pool[i], static_cast<std::uint64_t>(i));
      EXPECT_TRUE(s->push(message{&pool[i], static_cast<std::uint64_t>(i)}));
    }
    EXPECT_EQ(get_or_abort(std::move(consumer), "consumer"), n) << "G-4: a payload read after pop was wrong";
  }
}

// A push that finds a popper registered hands the value to it (stream.hpp invariant 3; capacity 0: the
// rendezvous with the popper first). The producer writes only once waiting() shows the popper registered.
TYPED_TEST(StreamHappensBefore, G4_PushHandsToAWaitingPopper) {
  for (long capacity : {0L, 1L, 4L, kUnbounded}) {
    SCOPED_TRACE(name(capacity));
    constexpr int n = 200;
    auto s = make_stream<TypeParam>(capacity);
    std::vector<payload> pool(n);
    auto consumer = std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < n; ++i) {
        const auto m = s->pop();
        ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
      }
      return ok;
    });
    for (int i = 0; i < n; ++i) {
      until([&] { return s->waiting().poppers == 1; }, "popper registered");
      write_payload(pool[i], static_cast<std::uint64_t>(i));
      EXPECT_TRUE(s->push(message{&pool[i], static_cast<std::uint64_t>(i)}));
    }
    EXPECT_EQ(get_or_abort(std::move(consumer), "consumer"), n);
  }
}

// ST-3, the pusher first: the popper takes the value from the waiting pusher's node. The handshake runs on
// a third thread (this one): it sees the pusher registered and the previous value popped, and tells the
// popper to go through a relaxed store, which orders nothing, so only the library orders payload and pop.
TYPED_TEST(StreamHappensBefore, G4_RendezvousPopTakesFromAWaitingPusher) {
  constexpr int n = 200;
  auto s = make_stream<TypeParam>(0);
  std::vector<payload> pool(n);
  std::atomic<int> go{0}, popped{0};
  auto producer = std::async(std::launch::async, [&] {
    for (int i = 0; i < n; ++i) {
      write_payload(pool[i], static_cast<std::uint64_t>(i));
      EXPECT_TRUE(s->push(message{&pool[i], static_cast<std::uint64_t>(i)}));
    }
  });
  auto consumer = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      // relaxed: a go signal that must not synchronise (see above).
      while (go.load(std::memory_order_relaxed) <= i) std::this_thread::yield();
      const auto m = s->pop();
      ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
      popped.store(i + 1, std::memory_order_relaxed);
    }
    return ok;
  });
  for (int i = 0; i < n; ++i) {
    until([&] { return popped.load(std::memory_order_relaxed) == i && s->waiting().pushers == 1; },
          "pusher registered");
    go.store(i + 1, std::memory_order_relaxed);
  }
  get_or_abort(std::move(producer), "producer");
  EXPECT_EQ(get_or_abort(std::move(consumer), "consumer"), n);
}

// ST-1 beyond the ring: values wait in overflow cells, each published through its own turn word. The
// consumer starts only once the ring is full and hundreds of values are in the overflow list (a relaxed go
// flag), then runs alongside the rest.
TYPED_TEST(StreamHappensBefore, G4_UnboundedOverflow) {
  using stream_t = handoff::stream<message, TypeParam>;
  constexpr int before_go = static_cast<int>(stream_t::unbounded_ring_size) + 300;
  constexpr int n = before_go + 700;
  stream_t s(handoff::unbounded);
  std::vector<payload> pool(n);
  std::atomic<bool> go{false};
  auto consumer = std::async(std::launch::async, [&] {
    while (!go.load(std::memory_order_relaxed)) std::this_thread::yield();  // relaxed: orders nothing
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      const auto m = s.pop();
      ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
    }
    return ok;
  });
  for (int i = 0; i < n; ++i) {
    write_payload(pool[i], static_cast<std::uint64_t>(i));
    EXPECT_TRUE(s.push(message{&pool[i], static_cast<std::uint64_t>(i)}));
    if (i + 1 == before_go) {
      EXPECT_EQ(s.size(), static_cast<std::size_t>(before_go)) << "the overflow list holds values";
      go.store(true, std::memory_order_relaxed);
    }
  }
  EXPECT_EQ(get_or_abort(std::move(consumer), "consumer"), n);
}

// close() happens-before every pop that reports end-of-stream because of it, every push that fails because
// of it, and every wait_closed() that returns (the Memory ordering table).
TYPED_TEST(StreamHappensBefore, G4_CloseHappensBeforeEndOfStream) {
  constexpr std::uint64_t seq = 42;
  for (long capacity : {0L, 1L, 4L, kUnbounded}) {
    SCOPED_TRACE(name(capacity));
    {  // a popper that never waits: try_pop until it answers closed (the acquire load of CLOSED)
      // close() also releases on the head word (clearing flags), which try_pop reads first; only a close
      // that falls between those two loads leaves CLOSED's own acquire as the one edge. So many rounds, one
      // stream each, the popper spinning without a yield when the close comes (a relaxed flag says so).
      constexpr int rounds = 300;
      std::vector<std::unique_ptr<handoff::stream<message, TypeParam>>> streams;
      for (int r = 0; r < rounds; ++r) streams.push_back(make_stream<TypeParam>(capacity));
      std::vector<payload> pool(rounds);
      std::atomic<int> spinning_on{-1};
      auto popper = std::async(std::launch::async, [&] {
        int ok = 0;
        for (int r = 0; r < rounds; ++r) {
          spinning_on.store(r, std::memory_order_relaxed);  // relaxed: orders nothing (see above)
          while (streams[r]->try_pop().status() != status::closed) {
          }
          ok += payload_ok(pool[r], seq + r);
        }
        return ok;
      });
      for (int r = 0; r < rounds; ++r) {
        until([&] { return spinning_on.load(std::memory_order_relaxed) == r; }, "popper spinning");
        write_payload(pool[r], seq + r);
        streams[r]->close();
      }
      EXPECT_EQ(get_or_abort(std::move(popper), "try_pop until closed"), rounds)
          << "G-4: close -> try_pop closed";
    }
    {  // a popper waiting in pop(): completed by close()
      auto s = make_stream<TypeParam>(capacity);
      payload p;
      auto popper = std::async(std::launch::async, [&] { return !s->pop() && payload_ok(p, seq); });
      until([&] { return s->waiting().poppers == 1; }, "popper registered");
      write_payload(p, seq);
      s->close();
      EXPECT_TRUE(get_or_abort(std::move(popper), "waiting pop"))
          << "G-4: close -> waiting pop's end-of-stream";
    }
    {  // a pusher waiting on a full stream: its push fails because of the close
      auto s = make_stream<TypeParam>(capacity);
      if (capacity != kUnbounded) {
        for (long k = 0; k < capacity; ++k) ASSERT_EQ(s->try_push(message{}), status::ok);
        payload p;
        auto pusher =
            std::async(std::launch::async, [&] { return !s->push(message{}) && payload_ok(p, seq); });
        until([&] { return s->waiting().pushers == 1; }, "pusher registered");
        write_payload(p, seq);
        s->close();
        EXPECT_TRUE(get_or_abort(std::move(pusher), "waiting push")) << "G-4: close -> the push it fails";
      }
    }
    {  // wait_closed(), registered or not
      auto s = make_stream<TypeParam>(capacity);
      payload p;
      auto closer_waiter = std::async(std::launch::async, [&] {
        s->wait_closed();
        return payload_ok(p, seq);
      });
      write_payload(p, seq);
      s->close();
      EXPECT_TRUE(get_or_abort(std::move(closer_waiter), "wait_closed")) << "G-4: close -> wait_closed";
    }
  }
}

// publish(v) happens-before each subscriber's pop that returns its copy of v; topic close() before each
// subscriber's end-of-stream. Two subscribers on their own threads, each reading every payload.
TYPED_TEST(StreamHappensBefore, G4_TopicPublishThenSubscribersPop) {
  constexpr int n = 1'000;
  handoff::topic<message, TypeParam> t(4);
  auto sub1 = t.subscribe();
  auto sub2 = t.subscribe();
  std::vector<payload> pool(n + 1);  // the last one is written before close()
  auto reader = [&](auto& sub) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      const auto m = sub.pop();
      ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
    }
    ok += !sub.pop() && payload_ok(pool[n], n);  // end-of-stream, after the close
    return ok;
  };
  auto c1 = std::async(std::launch::async, [&] { return reader(sub1); });
  auto c2 = std::async(std::launch::async, [&] { return reader(sub2); });
  for (int i = 0; i < n; ++i) {
    write_payload(pool[i], static_cast<std::uint64_t>(i));
    EXPECT_EQ(t.publish(message{&pool[i], static_cast<std::uint64_t>(i)}), 2u);
  }
  write_payload(pool[n], n);
  t.close();
  EXPECT_EQ(get_or_abort(std::move(c1), "subscriber 1"), n + 1);
  EXPECT_EQ(get_or_abort(std::move(c2), "subscriber 2"), n + 1);
}

// A publish that finds the subscriber waiting in pop hands the copy to it (its buffer's waiting popper).
TYPED_TEST(StreamHappensBefore, G4_TopicPublishToAWaitingSubscriber) {
  constexpr int n = 200;
  handoff::topic<message, TypeParam> t(4);
  auto sub = t.subscribe();
  std::vector<payload> pool(n);
  auto consumer = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      const auto m = sub.pop();
      ok += m && message_ok(*m, static_cast<std::uint64_t>(i));
    }
    return ok;
  });
  for (int i = 0; i < n; ++i) {
    until([&] { return sub.waiting().poppers == 1; }, "subscriber waiting");
    write_payload(pool[i], static_cast<std::uint64_t>(i));
    EXPECT_EQ(t.publish(message{&pool[i], static_cast<std::uint64_t>(i)}), 1u);
  }
  EXPECT_EQ(get_or_abort(std::move(consumer), "subscriber"), n);
}

}  // namespace
