// handoff/asio_token.hpp with standalone asio (libasio-dev): completion tokens on handoff's channels. A
// callback is bound to the io_context with asio::bind_executor (unbound, it would run on asio's
// system_executor, as for asio::post(token)). What each test shows: values reach an asio::awaitable coroutine
// in order and run() does not return while an operation waits (the work guard); a handler is posted, never
// run inside the initiating call; asio's cancellation slot and a std::stop_token cancel a wait without effect
// on the channel (CR-4: a cancelled pop consumed nothing, a cancelled push still owns its value); a push
// waits for room and hands its value over; mvar and condition through use_awaitable; a move that throws
// reaches the coroutine as an exception. No sleeps: a thread that must see a coroutine registered first loops
// on an honest return value (signal's).
#include <asio.hpp>
#include <handoff/asio_token.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

using handoff::status;

#if defined(ASIO_HAS_CO_AWAIT)  // clang with libstdc++ 12: asio 1.22 declares no awaitable (no
                                // <experimental/coroutine>)
TEST(AsioToken, UseAwaitablePopsEveryValueInOrder) {
  asio::io_context io;
  handoff::stream<int> s(16);
  constexpr int n = 20'000;
  int received = 0;
  bool in_order = true;
  bool ended_closed = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          handoff::result<int> r = co_await handoff::async_pop(s, asio::use_awaitable);
          if (!r) {
            ended_closed = r.status() == status::closed;
            co_return;
          }
          if (*r != received) in_order = false;
          ++received;
        }
      },
      asio::detached);
  std::thread producer([&] {
    for (int i = 0; i < n; ++i)
      if (!s.push(i)) break;  // only a broken stream refuses: the count below fails
    s.close();
  });
  io.run();
  producer.join();
  EXPECT_EQ(received, n);
  EXPECT_TRUE(in_order);
  EXPECT_TRUE(ended_closed);
}

#endif  // ASIO_HAS_CO_AWAIT

TEST(AsioToken, TheHandlerIsPostedNeverRunInsideTheInitiatingCall) {
  asio::io_context io;
  handoff::stream<int> s(4);
  ASSERT_TRUE(s.push(7));  // the pop completes at once, inside async_pop
  bool called = false;
  handoff::result<int> got;
  handoff::async_pop(s, asio::bind_executor(io, [&](std::exception_ptr e, handoff::result<int> r) {
                       EXPECT_FALSE(e);
                       called = true;
                       got = std::move(r);
                     }));
  EXPECT_FALSE(called) << "the handler ran inside the initiating call";
  io.run();
  ASSERT_TRUE(called);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 7);
}

TEST(AsioToken, AWaitingOperationKeepsRunFromReturning) {
  asio::io_context io;
  handoff::stream<int> s(4);
  bool called = false;
  handoff::async_pop(s, asio::bind_executor(io, [&](std::exception_ptr, handoff::result<int> r) {
                       called = r.has_value() && *r == 5;
                     }));
  io.poll();  // runs out of ready work; without the operation's work guard the io_context would stop here
  EXPECT_FALSE(io.stopped()) << "the waiting operation did not hold the io_context's work";
  ASSERT_TRUE(s.push(5));
  io.run();
  EXPECT_TRUE(called);
}

// CR-4 through the slot: the cancelled pop left the FIFO before the push, so the value stays in the stream.
TEST(AsioToken, APushAfterACancellationStaysInTheStream) {
  asio::io_context io;
  handoff::stream<int> s(4);
  asio::cancellation_signal cancel;
  status seen = status::ok;
  handoff::async_pop(
      s, asio::bind_cancellation_slot(
             cancel.slot(), asio::bind_executor(
                                io, [&](std::exception_ptr, handoff::result<int> r) { seen = r.status(); })));
  io.poll();
  cancel.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(s.push(11));  // before the cancelled operation's handler runs
  io.run();
  EXPECT_EQ(seen, status::cancelled);
  auto v = s.try_pop();
  ASSERT_TRUE(v.has_value()) << "CR-4: the cancelled pop consumed the value pushed after its cancellation";
  EXPECT_EQ(*v, 11);
}

// CR-4 for a push: room made after the stop request is not taken by the cancelled push.
TEST(AsioToken, RoomMadeAfterAStopIsNotTakenByTheCancelledPush) {
  asio::io_context io;
  handoff::stream<int> s(1);
  ASSERT_TRUE(s.push(1));
  int v = 5;
  std::stop_source stop;
  status seen = status::ok;
  handoff::async_push(s, v, stop.get_token(),
                      asio::bind_executor(io, [&](std::exception_ptr, status st) { seen = st; }));
  io.poll();
  stop.request_stop();
  auto first = s.try_pop();  // room, before the cancelled push's handler runs
  ASSERT_TRUE(first.has_value());
  io.run();
  EXPECT_EQ(seen, status::cancelled);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(s.size(), 0u);
}

// A handler that throws leaves run(), as asio's own handlers do: from a wait that completed at once (the
// handler is posted) and from one that waited (the handler runs in handoff's resumption).
TEST(AsioToken, AHandlerThatThrowsLeavesRun) {
  for (bool waits : {false, true}) {
    asio::io_context io;
    handoff::stream<int> s(4);
    if (!waits) {
      ASSERT_TRUE(s.push(1));
    }
    handoff::async_pop(s, asio::bind_executor(io, [](std::exception_ptr, handoff::result<int>) {
                         throw std::runtime_error("handler");
                       }));
    if (waits) {
      io.poll();
      ASSERT_TRUE(s.push(1));
    }
    EXPECT_THROW(io.run(), std::runtime_error) << (waits ? "after a wait" : "completed at once");
    io.restart();
    io.run();  // nothing left behind
  }
}

TEST(AsioToken, ACancellationSlotCancelsAPopThatConsumesNothing) {
  asio::io_context io;
  handoff::stream<int> s(4);
  asio::cancellation_signal cancel;
  status seen = status::ok;
  bool called = false;
  auto handler = [&](std::exception_ptr e, handoff::result<int> r) {
    EXPECT_FALSE(e);
    called = true;
    seen = r.status();
  };
  handoff::async_pop(s, asio::bind_cancellation_slot(cancel.slot(), asio::bind_executor(io, handler)));
  io.poll();  // nothing to run: the pop waits in the stream's FIFO
  EXPECT_FALSE(called);
  EXPECT_EQ(s.waiting().poppers, 1u);
  cancel.emit(asio::cancellation_type::terminal);
  io.run();
  ASSERT_TRUE(called);
  EXPECT_EQ(seen, status::cancelled);
  EXPECT_EQ(s.waiting().poppers, 0u);
  ASSERT_TRUE(s.push(11));  // CR-4: the cancelled pop took nothing, so this value is still there
  auto v = s.try_pop();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 11);
}

TEST(AsioToken, AStopTokenCancelsAPushThatKeepsItsValue) {
  asio::io_context io;
  handoff::stream<int> s(1);
  ASSERT_TRUE(s.push(1));  // full
  int v = 5;
  std::stop_source stop;
  status seen = status::ok;
  handoff::async_push(s, v, stop.get_token(), asio::bind_executor(io, [&](std::exception_ptr e, status st) {
                        EXPECT_FALSE(e);
                        seen = st;
                      }));
  io.poll();
  stop.request_stop();
  io.run();
  EXPECT_EQ(seen, status::cancelled);
  EXPECT_EQ(v, 5) << "CR-4: a cancelled push still owns its value";
  EXPECT_EQ(s.size(), 1u);
  auto first = s.try_pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, 1);
}

TEST(AsioToken, APushWaitsForRoomAndHandsItsValueOver) {
  asio::io_context io;
  handoff::stream<int> s(1);
  ASSERT_TRUE(s.push(1));
  int v = 2;
  status seen = status::empty;
  handoff::async_push(s, v, asio::bind_executor(io, [&](std::exception_ptr e, status st) {
                        EXPECT_FALSE(e);
                        seen = st;
                      }));
  std::vector<int> popped;
  std::thread consumer([&] {
    for (int i = 0; i < 2; ++i) {
      auto r = s.pop();
      ASSERT_TRUE(r.has_value());
      popped.push_back(*r);
    }
  });
  io.run();  // until the push completed
  consumer.join();
  EXPECT_EQ(seen, status::ok);
  EXPECT_EQ(popped, (std::vector<int>{1, 2}));
}

#if defined(ASIO_HAS_CO_AWAIT)
TEST(AsioToken, MvarAndConditionThroughUseAwaitable) {
  asio::io_context io;
  handoff::mvar<int> to_coroutine, from_coroutine;  // two boxes: a partner's take cannot take its own put
  handoff::condition<int> ready;
  std::vector<int> log;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        handoff::result<int> taken = co_await handoff::async_take(to_coroutine, asio::use_awaitable);
        log.push_back(taken.has_value() ? *taken : -1);
        int reply = taken.has_value() ? *taken + 1 : -1;
        const status put = co_await handoff::async_put(from_coroutine, reply, asio::use_awaitable);
        log.push_back(put == status::ok ? 0 : -1);
        handoff::result<int> signalled = co_await handoff::async_wait(ready, asio::use_awaitable);
        log.push_back(signalled.has_value() ? *signalled : -1);
      },
      asio::detached);
  std::thread partner([&] {
    to_coroutine.put(41);
    auto reply = from_coroutine.take_for(std::chrono::seconds(60));  // a bound on a hang, not a timing
    EXPECT_EQ(reply.has_value() ? *reply : -1, 42);
    // signal() says whether a waiter heard it: loop until the coroutine waits (it registers after its put),
    // for at most a minute (a coroutine that never waits fails the test instead of hanging it).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (ready.signal(99) == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  });
  io.run();
  partner.join();
  EXPECT_EQ(log, (std::vector<int>{41, 0, 99}));
}

// A value whose move throws when armed (G-8): the exception reaches the awaitable coroutine.
struct fragile {
  static inline int armed = 0;  // touched only by the io thread once the value is in the stream
  int v = 0;
  explicit fragile(int x) : v(x) {}
  fragile(fragile&& o) : v(o.v) {
    if (armed) {
      armed = 0;
      throw std::runtime_error("fragile: armed move");
    }
  }
  fragile& operator=(fragile&& o) {
    v = o.v;
    return *this;
  }
};

TEST(AsioToken, AMoveThatThrowsReachesTheCoroutine) {
  asio::io_context io;
  handoff::stream<fragile> s(4);
  ASSERT_TRUE(s.push(fragile(3)));
  bool caught = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        fragile::armed = 1;  // the pop's first move throws
        try {
          (void)co_await handoff::async_pop(s, asio::use_awaitable);
        } catch (const std::runtime_error&) {
          caught = true;
        }
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(caught);
  EXPECT_EQ(fragile::armed, 0);
}
#endif  // ASIO_HAS_CO_AWAIT

}  // namespace
