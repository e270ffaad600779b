// handoff/asio_token.hpp with Boost.Asio (Boost 1.74's asio 1.18: no per-operation cancellation slots, so a
// std::stop_token is the way to cancel): the same bridge through boost::asio's namespace. Shows values
// reaching a boost::asio::awaitable coroutine in order while run() waits for them, and a stop request
// cancelling a pop that consumed nothing (CR-4). asio_token_test.cpp covers the rest with standalone asio.
#include <utility>  // before Boost 1.74's asio: its awaitable.hpp uses std::exchange without it (g++ 12)

#include <boost/asio.hpp>
#include <handoff/asio_token.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <stop_token>
#include <thread>

namespace {

namespace net = boost::asio;
using handoff::status;

#if defined(BOOST_ASIO_HAS_CO_AWAIT)  // clang with libstdc++ 12: Boost 1.74's asio declares no awaitable
TEST(AsioTokenBoost, UseAwaitablePopsEveryValueInOrder) {
  net::io_context io;
  handoff::stream<int> s(16);
  constexpr int n = 10'000;
  int received = 0;
  bool in_order = true;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        for (;;) {
          handoff::result<int> r = co_await handoff::async_pop(s, net::use_awaitable);
          if (!r) co_return;
          if (*r != received) in_order = false;
          ++received;
        }
      },
      net::detached);
  std::thread producer([&] {
    for (int i = 0; i < n; ++i)
      if (!s.push(i)) break;  // only a broken stream refuses: the count below fails
    s.close();
  });
  io.run();
  producer.join();
  EXPECT_EQ(received, n);
  EXPECT_TRUE(in_order);
}
#endif

TEST(AsioTokenBoost, AStopTokenCancelsAPopThatConsumesNothing) {
  net::io_context io;
  handoff::stream<int> s(4);
  std::stop_source stop;
  status seen = status::ok;
  handoff::async_pop(s, stop.get_token(),
                     net::bind_executor(io, [&](std::exception_ptr e, handoff::result<int> r) {
                       EXPECT_FALSE(e);
                       seen = r.status();
                     }));
  io.poll();
  EXPECT_EQ(s.waiting().poppers, 1u);
  EXPECT_FALSE(io.stopped()) << "the waiting operation did not hold the io_context's work";
  stop.request_stop();
  ASSERT_TRUE(s.push(3));  // before the cancelled operation's handler runs: CR-4 keeps it in the stream
  io.run();
  EXPECT_EQ(seen, status::cancelled);
  auto v = s.try_pop();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 3);
}

}  // namespace
