// Go's channel test programs, ported to handoff::stream (rules ST-2..ST-5, ST-7, G-1, G-7). Each test names
// its source in the Go repository (github.com/golang/go); they are rewritten, not copied. The translation:
//   make(chan T)       -> stream<T>{0} (rendezvous, ST-3)     make(chan T, n) -> stream<T>{n} (ST-2)
//   c <- v             -> push(v)                            v := <-c        -> pop()
//   close(c)           -> close()                            v, ok := <-c    -> pop() == nullopt when !ok
//   for v := range c   -> for (T v : c) (ST-7)               select+default  -> try_push / try_pop
//   len(c), cap(c)     -> size(), capacity()
// Where Go panics, handoff reports instead (documented differences, docs/semantics.md): a send on a closed
// channel returns closed and leaves the value with the caller; a second close is a no-op (ST-5).
// Go's tests use time.Sleep to let a goroutine block; here the handshake is the stream's own diagnostic
// snapshot (waiting()), and every test body runs under the watchdog (support/watchdog.hpp).
// Not ported: everything built on select over several channels (select*.go, doubleselect.go, TestSelfSelect,
// TestNonblockSelectRace, TestSelectStress, TestPseudoRandomSend), powser1/2.go (a 700-line power-series
// library), perm.go (compile-time direction checks), and the stack-shrinking tests (a Go runtime concern).
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;

// Runs a test body on a helper thread under the watchdog: a lost wakeup aborts naming the test.
void bounded(const std::string& what, std::function<void()> body) {
  handoff_test::get_or_abort(std::async(std::launch::async, std::move(body)), what);
}

using handoff_test::until;

template <class Sync>
class GoChan : public ::testing::Test {
 public:
  template <class T>
  using chan = handoff::stream<T, Sync>;
};
TYPED_TEST_SUITE(GoChan, handoff_test::real_backends, handoff_test::backend_names);

// ---- test/chan/fifo.go: AsynchFifo. A buffered channel is a FIFO (ST-2, ST-4).
TYPED_TEST(GoChan, FifoAsynch_ST4) {
  constexpr int N = 10;
  typename TestFixture::template chan<int> ch(N);
  for (int i = 0; i < N; ++i) ASSERT_EQ(ch.try_push(int{i}), status::ok) << "the buffer has room for N";
  for (int i = 0; i < N; ++i) EXPECT_EQ(ch.pop(), i);
}

// ---- test/chan/fifo.go: SynchFifo. N receivers on one unbuffered channel, each allowed to receive only
// after its predecessor received, via a daisy chain of unbuffered channels: they must get 0, 1, ..., N-1 in
// turn (ST-3 rendezvous, ST-4 FIFO).
TYPED_TEST(GoChan, FifoSynchDaisyChain_ST3_ST4) {
  bounded("SynchFifo", [] {
    constexpr int N = 10;
    using chan = typename TestFixture::template chan<int>;
    chan ch(0);
    std::vector<std::unique_ptr<chan>> links;
    for (int i = 0; i <= N; ++i) links.push_back(std::make_unique<chan>(0));
    std::atomic<int> wrong{0};
    std::vector<std::jthread> chain;
    for (int i = 0; i < N; ++i) {
      chain.emplace_back([&, i] {
        (void)links[i]->pop();  // wait for the predecessor
        if (ch.pop() != i) wrong.fetch_add(1);
        links[i + 1]->push(1);  // let the successor receive
      });
    }
    links[0]->push(0);
    for (int i = 0; i < N; ++i) ch.push(int{i});
    EXPECT_EQ(links[N]->pop(), 1);
    chain.clear();
    EXPECT_EQ(wrong.load(), 0) << "a receiver in the chain got another's value";
  });
}

// ---- test/chan/goroutines.go: many threads threaded together by unbuffered channels, each passing one value
// from its right to its left neighbour; torn down cleanly (G-1: every hand-off wakes the next thread).
TYPED_TEST(GoChan, GoroutinesChain_G1) {
  bounded("goroutines chain", [] {
    constexpr int n = 100;  // Go's default is 10000 goroutines; these are OS threads on a 2-core runner
    using chan = typename TestFixture::template chan<int>;
    std::vector<std::unique_ptr<chan>> c;
    for (int i = 0; i <= n; ++i) c.push_back(std::make_unique<chan>(0));
    std::vector<std::jthread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        std::optional<int> v = c[i + 1]->pop();
        c[i]->push(std::move(*v));
      });
    }
    std::jthread rightmost([&] { c[n]->push(1); });
    EXPECT_EQ(c[0]->pop(), 1);
  });
}

// ---- test/chan/sieve1.go: the primes below 100 from a daisy chain of divisibility filters over unbuffered
// channels, each filter reading with `for (int v : in)` (ST-7). Go's program just exits; here the main thread
// closes every channel (ST-5), so every push fails and every range loop ends.
TYPED_TEST(GoChan, Sieve1_ST3_ST5_ST7) {
  bounded("sieve1", [] {
    using chan = typename TestFixture::template chan<int>;
    const std::array<int, 25> expected{2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                       43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    std::vector<std::unique_ptr<chan>> chans;  // every channel, for the teardown
    std::vector<std::jthread> threads;
    struct closer {  // destroyed first, on every path (a failed ASSERT too): then the threads can be joined
      std::vector<std::unique_ptr<chan>>& chans;
      ~closer() {
        for (auto& c : chans) c->close();
      }
    } close_all{chans};
    chans.push_back(std::make_unique<chan>(0));
    threads.emplace_back([out = chans.back().get()] {  // Generate: 2, 3, 4, ... until closed
      for (int i = 2; out->push(int{i}); ++i) {
      }
    });
    chan* ch = chans.back().get();
    for (int expect : expected) {
      const std::optional<int> prime = ch->pop();
      ASSERT_TRUE(prime.has_value());
      EXPECT_EQ(*prime, expect);
      chans.push_back(std::make_unique<chan>(0));
      chan* next = chans.back().get();
      threads.emplace_back([in = ch, out = next, p = *prime] {  // Filter
        for (int v : *in)
          if (v % p != 0 && !out->push(int{v})) return;
      });
      ch = next;
    }
    for (auto& c : chans) c->close();
    threads.clear();  // joins: every thread ended on a closed stream
    for (auto& c : chans) EXPECT_EQ(c->waiting().pushers + c->waiting().poppers, 0u);
  });
}

// ---- test/chan/nonblock.go: non-blocking send and receive (select with default -> try_push / try_pop) on
// unbuffered and 1-buffered channels of several element types. An empty channel's try_pop fails; once a
// receiver waits, try_push succeeds even on an unbuffered channel (ST-3: it hands the value over), and once a
// sender waits (or has buffered its value), try_pop succeeds. Go polls with sleeps; we wait for waiting().
template <class Sync, class T>
void nonblock_case(std::size_t buffer, T to_receiver, T from_sender) {
  handoff::stream<T, Sync> c(buffer);
  handoff::stream<bool, Sync> strobe(0);
  T out{};
  EXPECT_EQ(c.try_pop(out), status::empty) << "buffer " << buffer << ": receive from an empty channel";

  std::jthread receiver([&] {
    EXPECT_EQ(c.pop(), to_receiver);
    strobe.push(true);
  });
  until([&] { return c.waiting().poppers == 1; }, "the receiver waits");
  T v = to_receiver;
  EXPECT_EQ(c.try_push(std::move(v)), status::ok) << "buffer " << buffer << ": a receiver was waiting";
  EXPECT_EQ(strobe.pop(), true);
  receiver.join();

  std::jthread sender([&] {
    c.push(T(from_sender));
    strobe.push(true);
  });
  if (buffer > 0) {
    EXPECT_EQ(strobe.pop(), true);  // the send completed into the buffer
  } else {
    until([&] { return c.waiting().pushers == 1; }, "the sender waits");
  }
  EXPECT_EQ(c.try_pop(out), status::ok) << "buffer " << buffer << ": a value was there";
  EXPECT_EQ(out, from_sender);
  if (buffer == 0) {
    EXPECT_EQ(strobe.pop(), true);
  }
}

TYPED_TEST(GoChan, NonBlock_ST3_G7) {
  bounded("nonblock", [] {
    for (std::size_t buffer = 0; buffer < 2; ++buffer) {
      nonblock_case<TypeParam, std::int32_t>(buffer, 123, 234);
      nonblock_case<TypeParam, std::int64_t>(buffer, 123456, 234567);
      nonblock_case<TypeParam, bool>(buffer, true, true);
      nonblock_case<TypeParam, std::string>(buffer, "hello", "hello again");
    }
  });
}

// ---- test/closedchan.go: receive from a closed channel, by every receive form (Go: <-c, v, ok := <-c,
// select with default, and select forms; here pop(), pop(out, stop_token), try_pop, pop_for(0)). A closed
// unbuffered channel reports end-of-stream at once, every time; a closed buffered channel first yields the
// value it holds (ST-5). A send on the closed channel fails (Go panics) and the value is not delivered.
template <class Sync>
void closed_checks(handoff::stream<int, Sync>& c) {
  std::stop_source never;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.pop(), std::nullopt) << "Recv on closed";
    int out = -1;
    EXPECT_EQ(c.pop(out, never.get_token()), status::closed) << "Recv2 on closed";
    EXPECT_EQ(c.try_pop(out), status::closed) << "Nbrecv on closed: selected, not default";
    EXPECT_EQ(c.pop_for(out, 0s), status::closed) << "Nbrecv2 on closed";
    EXPECT_EQ(out, -1) << "a failed pop wrote its output";
  }
  int v = 1;
  EXPECT_EQ(c.try_push(std::move(v)), status::closed) << "Nbsend on closed (Go panics)";
  EXPECT_EQ(v, 1) << "the failed send left its value with the caller (G-2)";
  EXPECT_EQ(c.pop(), std::nullopt) << "the value of the failed send was discarded, not delivered";
  EXPECT_FALSE(c.push(2)) << "Send on closed (Go panics)";
  EXPECT_EQ(c.pop(), std::nullopt);
  c.close();  // Go panics on a second close; ST-5: idempotent
  EXPECT_TRUE(c.is_closed());
  EXPECT_EQ(c.size(), 0u);
}

TYPED_TEST(GoChan, ClosedChan_ST5) {
  {  // closedsync
    handoff::stream<int, TypeParam> c(0);
    c.close();
    closed_checks(c);
  }
  // closedasync: make(chan int, 2); c <- 1; close(c), then the last value by each receive form
  // (testasync1..4)
  for (int form = 0; form < 4; ++form) {
    handoff::stream<int, TypeParam> c(2);
    ASSERT_EQ(c.try_push(1), status::ok);
    c.close();
    int out = 0;
    std::stop_source never;
    switch (form) {
      case 0:
        EXPECT_EQ(c.pop(), 1);
        break;
      case 1:
        EXPECT_EQ(c.pop(out, never.get_token()), status::ok);
        EXPECT_EQ(out, 1);
        break;
      case 2:
        EXPECT_EQ(c.try_pop(out), status::ok);
        EXPECT_EQ(out, 1);
        break;
      default:
        EXPECT_EQ(c.pop_for(out, 0s), status::ok);
        EXPECT_EQ(out, 1);
        break;
    }
    closed_checks(c);
  }
}

// ---- src/runtime/chan_test.go: TestChan, for every capacity 0..19 (Go's -short range).
TYPED_TEST(GoChan, TestChanPerCapacity_ST2_ST3_ST4_ST5) {
  bounded("TestChan", [] {
    using chan = typename TestFixture::template chan<int>;
    for (std::size_t cap = 0; cap < 20; ++cap) {
      SCOPED_TRACE("chan[" + std::to_string(cap) + "]");
      {  // receive from an empty channel blocks; a non-blocking receive does not
        chan c(cap);
        std::atomic<bool> recv1{false}, recv2{false};
        std::jthread r1([&] {
          (void)c.pop();
          recv1.store(true);
        });
        std::jthread r2([&] {
          int out;
          EXPECT_EQ(c.pop(out, std::stop_token{}), status::ok);
          recv2.store(true);
        });
        until([&] { return c.waiting().poppers == 2; }, "both receivers wait");
        EXPECT_FALSE(recv1.load() || recv2.load()) << "receive from an empty chan";
        int out;
        EXPECT_EQ(c.try_pop(out), status::empty);
        EXPECT_EQ(c.try_pop(out), status::empty);
        c.push(0);
        c.push(0);
      }
      {  // send to a full channel blocks; a non-blocking send does not
        chan c(cap);
        for (std::size_t i = 0; i < cap; ++i) c.push(static_cast<int>(i));
        std::atomic<bool> sent{false};
        std::jthread s([&] {
          c.push(0);
          sent.store(true);
        });
        until([&] { return c.waiting().pushers == 1; }, "the sender waits");
        EXPECT_FALSE(sent.load()) << "send to a full chan";
        int v = 0;
        EXPECT_EQ(c.try_push(std::move(v)), status::full);
        (void)c.pop();
      }
      {  // a closed channel yields its buffered values in order, then end-of-stream
        chan c(cap);
        for (std::size_t i = 0; i < cap; ++i) c.push(static_cast<int>(i));
        c.close();
        for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(c.pop(), static_cast<int>(i));
        EXPECT_EQ(c.pop(), std::nullopt);
        EXPECT_EQ(c.pop(), std::nullopt);
      }
      {  // close unblocks a receive
        chan c(cap);
        std::jthread r([&] { EXPECT_EQ(c.pop(), std::nullopt); });
        until([&] { return c.waiting().poppers == 1; }, "the receiver waits");
        c.close();
      }
      {  // 100 integers, received uncorrupted in FIFO order, by pop() and by pop(out, stop_token)
        chan c(cap);
        for (int form = 0; form < 2; ++form) {
          std::jthread s([&] {
            for (int i = 0; i < 100; ++i) c.push(int{i});
          });
          for (int i = 0; i < 100; ++i) {
            if (form == 0) {
              EXPECT_EQ(c.pop(), i);
            } else {
              int v = -1;
              EXPECT_EQ(c.pop(v, std::stop_token{}), status::ok);
              EXPECT_EQ(v, i);
            }
          }
        }
        // 1000 integers from each of 4 senders, received by 4 receivers: every value P times.
        constexpr int P = 4, L = 1000;
        std::vector<std::jthread> threads;
        for (int p = 0; p < P; ++p)
          threads.emplace_back([&] {
            for (int i = 0; i < L; ++i) c.push(int{i});
          });
        std::vector<std::map<int, int>> got(P);
        for (int p = 0; p < P; ++p)
          threads.emplace_back([&, p] {
            for (int i = 0; i < L; ++i) ++got[p][*c.pop()];
          });
        threads.clear();
        std::map<int, int> all;
        for (auto& m : got)
          for (auto [k, n] : m) all[k] += n;
        EXPECT_EQ(all.size(), static_cast<std::size_t>(L));
        for (auto [k, n] : all) EXPECT_EQ(n, P) << "value " << k;
      }
      {  // len / cap
        chan c(cap);
        EXPECT_EQ(c.size(), 0u);
        EXPECT_EQ(c.capacity(), cap);
        for (std::size_t i = 0; i < cap; ++i) c.push(static_cast<int>(i));
        EXPECT_EQ(c.size(), cap);
        EXPECT_EQ(c.capacity(), cap);
      }
    }
  });
}

// ---- src/runtime/chan_test.go: TestNonblockRecvRace. A 1-buffered channel holding a value is closed while
// another thread does a non-blocking receive: that receive gets the value or end-of-stream, never "empty"
// (close does not make a ready channel look not ready, ST-5).
TYPED_TEST(GoChan, NonblockRecvRace_ST5) {
  bounded("NonblockRecvRace", [] {
    for (int i = 0; i < 3000; ++i) {  // Go: 10000, -short 100
      typename TestFixture::template chan<int> c(1);
      ASSERT_EQ(c.try_push(1), status::ok);
      status seen = status::ok;
      int out = 0;
      std::jthread t([&] { seen = c.try_pop(out); });
      c.close();
      const std::optional<int> mine = c.pop();
      t.join();
      ASSERT_NE(seen, status::empty) << "iteration " << i << ": chan is not ready";
      EXPECT_TRUE(seen == status::ok ? !mine.has_value() && out == 1 : seen == status::closed && mine == 1)
          << "iteration " << i << ": the value went to exactly one receiver";
    }
  });
}

// ---- src/runtime/chan_test.go: TestMultiConsumer. 23 workers range over a work channel (ST-7) and forward
// every value to a result channel; the feeder closes the work channel, waits for the workers, closes the
// results. Every value arrives exactly once (count and sum).
TYPED_TEST(GoChan, MultiConsumer_ST5_ST7) {
  bounded("MultiConsumer", [] {
    constexpr int nwork = 23;
    constexpr int niter = 100000;  // Go: 271828; fewer keeps the TSan run short
    const std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    typename TestFixture::template chan<int> q(nwork * 3), r(nwork * 3);
    std::vector<std::jthread> workers;
    for (int w = 0; w < nwork; ++w) {
      workers.emplace_back([&, w] {
        for (int v : q) {
          if (pn[w % pn.size()] == v) std::this_thread::yield();  // mess with the FIFO-ish nature of range
          r.push(int{v});
        }
      });
    }
    long long expect = 0;
    std::jthread feeder([&] {
      for (int i = 0; i < niter; ++i) {
        const int v = pn[i % pn.size()];
        expect += v;
        q.push(int{v});
      }
      q.close();        // no more work
      workers.clear();  // workers done
      r.close();        // so there can be no more results
    });
    long long n = 0, s = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    feeder.join();
    EXPECT_EQ(n, niter);
    EXPECT_EQ(s, expect);
  });
}

// ---- test/chan/sendstmt.go: chanchan. A channel of channels: receive a channel and send on it, both
// non-blocking (select with default -> try_). Streams are not movable, so the outer stream carries pointers.
TYPED_TEST(GoChan, SendStmtChanOfChan_ST2) {
  using chan = typename TestFixture::template chan<int>;
  handoff::stream<chan*, TypeParam> cc(1);
  chan c(1);
  ASSERT_EQ(cc.try_push(&c), status::ok);
  chan* got = nullptr;
  ASSERT_EQ(cc.try_pop(got), status::ok) << "nonblock";
  ASSERT_EQ(got->try_push(2), status::ok) << "nonblock";
  EXPECT_EQ(c.pop(), 2);
  handoff::stream<bool, TypeParam> b(1);  // sendprec: c <- false || true
  ASSERT_TRUE(b.push(false || true));
  EXPECT_EQ(b.pop(), true);
}

// ---- test/chan/zerosize.go: channels of zero-sized element types (Go: [0]byte and struct{}), unbuffered and
// buffered; here they also carry one value each way.
TYPED_TEST(GoChan, ZeroSizeElements_ST2_ST3) {
  struct empty {};
  using zero_array = std::array<std::byte, 0>;
  handoff::stream<zero_array, TypeParam> a0(0), a1(1);
  handoff::stream<empty, TypeParam> e0(0), e1(1);
  EXPECT_EQ(a1.try_push(zero_array{}), status::ok);
  EXPECT_TRUE(a1.pop().has_value());
  EXPECT_EQ(e1.try_push(empty{}), status::ok);
  EXPECT_TRUE(e1.pop().has_value());
  bounded("zerosize rendezvous", [&] {
    std::jthread t([&] {
      EXPECT_TRUE(a0.push(zero_array{}));
      EXPECT_TRUE(e0.push(empty{}));
    });
    EXPECT_TRUE(a0.pop().has_value());
    EXPECT_TRUE(e0.pop().has_value());
  });
}

}  // namespace
