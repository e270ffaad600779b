// Readiness for event loops (rules WA-1..WA-7 of docs/semantics.md; handoff/readiness.hpp,
// handoff/eventfd_notifier.hpp), on real threads. stream<T>: what arm() and arm_writable() answer at every
// capacity, exactly one notifier call per armed arm, close, unwatch waiting for a call in flight, a topic
// subscription, and an epoll loop fed by several producers through an eventfd. mvar<T> (invariant 9):
// readable when full, writable when empty, a put to a waiting taker, a stateless T, and a loop relaying
// between two mvars. The interleavings are explored in det_readiness_test.cpp.
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <handoff/eventfd_notifier.hpp>
#include <handoff/mvar.hpp>
#include <handoff/readiness.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace {

using handoff::readiness;
using handoff::status;

// A notifier that counts its calls.
struct counter {
  std::atomic<int> calls{0};
  handoff::notifier notifier() {
    return {[](void* self) noexcept { static_cast<counter*>(self)->calls.fetch_add(1); }, this};
  }
};

bool fd_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// WA-1: ready while a pop would not block; armed on an empty stream; one call per armed arm (WA-2).
TEST(StreamReadiness, ArmAnswersAndOneCallPerArm_WA1_WA2) {
  for (std::size_t cap : {std::size_t{2}, std::size_t{4}, std::size_t{1000}}) {
    handoff::stream<int> s(cap);
    counter c;
    auto w = s.watch(c.notifier());
    EXPECT_EQ(w.arm(), readiness::armed);
    EXPECT_EQ(w.arm(), readiness::armed);  // again: still one arm
    EXPECT_TRUE(s.push(1));
    EXPECT_EQ(c.calls.load(), 1);
    EXPECT_EQ(w.arm(), readiness::ready);  // a value is buffered
    EXPECT_TRUE(s.push(2));                // not armed: no call
    EXPECT_EQ(c.calls.load(), 1);
    EXPECT_EQ(*s.try_pop(), 1);
    EXPECT_EQ(*s.try_pop(), 2);
    EXPECT_EQ(w.arm(), readiness::armed);
    EXPECT_TRUE(s.push(3));
    EXPECT_TRUE(s.push(4));  // one call for the arm, not one per push
    EXPECT_EQ(c.calls.load(), 2);
  }
}

TEST(StreamReadiness, UnboundedAndOverflow_WA1_WA2) {
  handoff::stream<int> s(handoff::unbounded);
  counter c;
  auto w = s.watch(c.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::ready);  // WA-4: an unbounded push never blocks
  EXPECT_EQ(w.arm(), readiness::armed);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(s.push(i));  // past the ring into the overflow list
  EXPECT_EQ(c.calls.load(), 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(*s.try_pop(), i);
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_TRUE(s.push(7));
  EXPECT_EQ(c.calls.load(), 2);
}

// WA-2: close() runs the notifier; then arm() answers ready (a pop would report end-of-stream at once).
TEST(StreamReadiness, CloseNotifiesBothSides_WA2_WA4) {
  handoff::stream<int> s(1);
  counter readable, writable;
  auto r = s.watch(readable.notifier());
  EXPECT_EQ(r.arm(), readiness::armed);
  handoff::stream<int> full(1);
  ASSERT_TRUE(full.push(0));
  auto w = full.watch(writable.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  s.close();
  full.close();
  EXPECT_EQ(readable.calls.load(), 1);
  EXPECT_EQ(writable.calls.load(), 1);
  EXPECT_EQ(r.arm(), readiness::ready);
  EXPECT_EQ(w.arm_writable(), readiness::ready);
  EXPECT_EQ(s.try_pop().status(), status::closed);
}

// WA-4: writable on a full bounded stream; a pop that makes room calls once.
TEST(StreamReadiness, WritableAfterAPopMakesRoom_WA4) {
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{4}}) {
    handoff::stream<int> s(cap);
    counter c;
    auto w = s.watch(c.notifier());
    EXPECT_EQ(w.arm_writable(), readiness::ready);
    for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(s.try_push(static_cast<int>(i)), status::ok);
    EXPECT_EQ(w.arm_writable(), readiness::armed);
    EXPECT_EQ(*s.try_pop(), 0);
    EXPECT_EQ(c.calls.load(), 1);
    EXPECT_EQ(w.arm_writable(), readiness::ready);
    EXPECT_EQ(s.try_push(99), status::ok);
    EXPECT_EQ(w.arm_writable(), readiness::armed);
    std::vector<int> out;
    EXPECT_EQ(s.try_pop_some(std::back_inserter(out), 10), cap);  // a batch pop makes room too
    EXPECT_EQ(c.calls.load(), 2);
  }
}

// WA-1, WA-4 at capacity 0: readable once a pusher waits, writable once a popper waits.
TEST(StreamReadiness, RendezvousWaitersMakeTheOtherSideReady_WA1_WA4) {
  handoff::stream<int> s(0);
  counter c;
  auto w = s.watch(c.notifier());
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  auto pusher = std::async(std::launch::async, [&] { return s.push(5); });
  handoff_test::until([&] { return c.calls.load() == 1; }, "the waiting pusher's notification");
  EXPECT_EQ(w.arm(), readiness::ready);
  EXPECT_EQ(*s.try_pop(), 5);
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(pusher), "rendezvous push"));
  auto popper = std::async(std::launch::async, [&] { return s.pop(); });
  handoff_test::until([&] { return c.calls.load() == 2; }, "the waiting popper's notification");
  EXPECT_EQ(w.arm_writable(), readiness::ready);
  EXPECT_EQ(s.try_push(6), status::ok);
  EXPECT_EQ(*handoff_test::get_or_abort(std::move(popper), "rendezvous pop"), 6);
}

// A push handed straight to a waiting popper leaves the stream empty: the watcher stays armed (WA-3).
TEST(StreamReadiness, HandOffToAPopperKeepsTheWatchArmed_WA3) {
  handoff::stream<int> s(4);
  counter c;
  auto w = s.watch(c.notifier());
  auto popper = std::async(std::launch::async, [&] { return s.pop(); });
  handoff_test::until([&] { return s.waiting().poppers == 1; }, "popper registered");
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_TRUE(s.push(1));
  EXPECT_EQ(*handoff_test::get_or_abort(std::move(popper), "pop"), 1);
  EXPECT_EQ(c.calls.load(), 0);
  EXPECT_TRUE(s.push(2));
  EXPECT_EQ(c.calls.load(), 1);
}

// WA-4 at capacity 0: a hand-off whose move throws puts the claimed popper back in the queue; a writable
// watcher armed while it was claimed (no popper waiting then) is called, since a popper waits again.
struct move_hook_value {
  static inline std::function<void()> hook;  // run once, by the next move, which then throws
  int v = 0;
  explicit move_hook_value(int x) : v(x) {}
  move_hook_value(move_hook_value&& o) : v(o.v) {
    if (hook) {
      auto h = std::move(hook);
      hook = nullptr;
      h();
      throw std::runtime_error("move_hook_value: planned throw");
    }
  }
  move_hook_value& operator=(move_hook_value&&) = default;
};

TEST(StreamReadiness, PopperPutBackAfterAThrowingHandOff_WA4) {
  handoff::stream<move_hook_value> s(0);
  counter c;
  auto w = s.watch(c.notifier());
  auto popper = std::async(std::launch::async, [&] { return s.pop(); });
  handoff_test::until([&] { return s.waiting().poppers == 1; }, "popper registered");
  readiness during = readiness::ready;
  move_hook_value::hook = [&] { during = w.arm_writable(); };  // the popper is claimed: nobody waits now
  EXPECT_THROW((void)s.push(move_hook_value(1)), std::runtime_error);
  EXPECT_EQ(during, readiness::armed);
  EXPECT_EQ(c.calls.load(), 1);  // the popper waits again
  EXPECT_EQ(w.arm_writable(), readiness::ready);
  EXPECT_TRUE(s.push(move_hook_value(2)));
  auto got = handoff_test::get_or_abort(std::move(popper), "pop");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->v, 2);
}

// WA-5: after unwatch() no call starts; two watchers each get their call.
TEST(StreamReadiness, UnwatchAndTwoWatchers_WA5_WA7) {
  handoff::stream<int> s(8);
  counter a, b;
  auto wa = s.watch(a.notifier());
  auto wb = s.watch(b.notifier());
  EXPECT_EQ(wa.arm(), readiness::armed);
  EXPECT_EQ(wb.arm(), readiness::armed);
  wb.unwatch();
  EXPECT_TRUE(s.push(1));
  EXPECT_EQ(a.calls.load(), 1);
  EXPECT_EQ(b.calls.load(), 0);
  EXPECT_EQ(*s.try_pop(), 1);
  EXPECT_EQ(wa.arm(), readiness::armed);
  EXPECT_EQ(wb.arm(), readiness::armed);  // armed again after unwatch
  EXPECT_TRUE(s.push(2));
  EXPECT_EQ(a.calls.load(), 2);
  EXPECT_EQ(b.calls.load(), 1);
}

// WA-5: unwatch() waits for a call in flight in another thread.
TEST(StreamReadiness, UnwatchWaitsForACallInFlight_WA5) {
  handoff::stream<int> s(1);
  struct blocking {
    std::atomic<bool> entered{false}, release{false}, finished{false};
  } n;
  auto w = s.watch({[](void* p) noexcept {
                      auto* b = static_cast<blocking*>(p);
                      b->entered.store(true);
                      while (!b->release.load()) std::this_thread::yield();
                      b->finished.store(true);
                    },
                    &n});
  EXPECT_EQ(w.arm(), readiness::armed);
  auto pusher = std::async(std::launch::async, [&] { return s.push(1); });
  handoff_test::until([&] { return n.entered.load(); }, "the notifier entered");
  auto unwatcher = std::async(std::launch::async, [&] {
    w.unwatch();
    return n.finished.load();  // must be true: the call was in flight when unwatch began
  });
  n.release.store(true);
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(unwatcher), "unwatch"));
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(pusher), "push"));
}

// WA-1, WA-2 on a topic subscription: its buffer is watched; a publish reaching it calls once, the close too.
TEST(StreamReadiness, TopicSubscriptionIsWatchable_WA1_WA2) {
  handoff::topic<int> t(4);
  auto sub = t.subscribe();
  counter c;
  {
    auto w = sub.watch(c.notifier());
    EXPECT_EQ(w.arm(), readiness::armed);
    EXPECT_EQ(t.publish(1), 1u);
    EXPECT_EQ(t.publish(2), 1u);
    EXPECT_EQ(c.calls.load(), 1);
    EXPECT_EQ(w.arm(), readiness::ready);
    EXPECT_EQ(*sub.try_pop(), 1);
    EXPECT_EQ(*sub.try_pop(), 2);
    EXPECT_EQ(w.arm(), readiness::armed);
    t.close();
    EXPECT_EQ(c.calls.load(), 2);
    EXPECT_EQ(w.arm(), readiness::ready);
  }  // the watcher goes before the subscription
  EXPECT_EQ(sub.try_pop().status(), status::closed);
}

// WA-6: the eventfd notifier makes its descriptor readable; consume() makes it not readable.
TEST(EventfdNotifier, ReadableAfterANotification_WA6) {
  handoff::eventfd_notifier e;
  EXPECT_FALSE(fd_readable(e.fd()));
  handoff::stream<int> s(2);
  auto w = s.watch(e.notifier());
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_FALSE(fd_readable(e.fd()));
  EXPECT_TRUE(s.push(1));
  EXPECT_TRUE(fd_readable(e.fd()));
  EXPECT_TRUE(e.consume());
  EXPECT_FALSE(fd_readable(e.fd()));
  EXPECT_FALSE(e.consume());
}

// WA-7: an epoll loop that never blocks in a pop drains 4 producers; every value arrives once, in each
// producer's order, and the loop is woken far fewer times than values were pushed.
TEST(EventfdNotifier, EpollLoopDrainsProducers_WA7) {
  constexpr int producers = 4, per_producer = 20000;
  handoff::stream<std::uint64_t> s(64);
  handoff::eventfd_notifier e;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, e.fd(), &ev), 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < per_producer; ++i) ASSERT_TRUE(s.push((std::uint64_t(p) << 32) | i));
    });
  auto closer = std::async(std::launch::async, [&] {
    for (auto& t : threads) t.join();
    s.close();
  });
  std::vector<std::uint64_t> next(producers, 0);
  std::uint64_t received = 0, wakeups = 0;
  auto watch = s.watch(e.notifier());
  bool open = true;
  while (open) {
    for (;;) {
      auto v = s.try_pop();
      if (v.status() == status::closed) {
        open = false;
        break;
      }
      if (!v) break;
      const auto p = static_cast<std::size_t>(*v >> 32);
      ASSERT_LT(p, next.size());
      ASSERT_EQ(*v & 0xffffffffu, next[p]) << "producer " << p << " out of order";
      ++next[p];
      ++received;
    }
    if (!open) break;
    if (watch.arm() == readiness::armed) {
      epoll_event out{};
      const int n = ::epoll_wait(ep, &out, 1, static_cast<int>(handoff_test::hang_bound.count() * 1000));
      ASSERT_EQ(n, 1) << "WATCHDOG: the loop was never notified (lost notification?) after " << received;
      e.consume();
      ++wakeups;
    }
  }
  handoff_test::get_or_abort(std::move(closer), "producers and close");
  ::close(ep);
  EXPECT_EQ(received, std::uint64_t{producers} * per_producer);
  for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], std::uint64_t{per_producer});
  EXPECT_LE(wakeups, received);
  std::printf("[ readiness] %llu values, %llu loop wakeups\n", static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(wakeups));
}

// ---- mvar<T> (mvar.hpp invariant 9): readable = full and idle, writable = empty and idle

// WA-1, WA-2: readable = full; the put that fills the box calls once.
TEST(MvarReadiness, ReadableWhenFull_WA1_WA2) {
  handoff::mvar<std::string> m;
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_EQ(w.arm(), readiness::armed);
  EXPECT_EQ(m.try_put("a"), status::ok);
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm(), readiness::ready);
  EXPECT_EQ(*m.try_take(), "a");
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put("b");
  EXPECT_EQ(c.calls.load(), 2);
  EXPECT_EQ(m.take(), "b");
  EXPECT_EQ(c.calls.load(), 2);  // not armed any more: the take calls nobody
}

// WA-4: writable = empty; the take that empties the box calls once; a take refilled by a waiting putter
// leaves the box full (no call).
TEST(MvarReadiness, WritableWhenEmpty_WA4) {
  handoff::mvar<int> m(1);
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  auto putter = std::async(std::launch::async, [&] { m.put(2); });
  handoff_test::until([&] { return m.waiting().putters == 1; }, "putter queued");
  EXPECT_EQ(m.take(), 1);  // the putter's 2 moves in: still full
  handoff_test::get_or_abort(std::move(putter), "put");
  EXPECT_EQ(c.calls.load(), 0);
  EXPECT_EQ(m.take(), 2);  // now empty
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm_writable(), readiness::ready);
}

// WA-3: a put handed straight to a waiting taker leaves the box empty: the readable watcher stays armed.
TEST(MvarReadiness, PutToAWaitingTakerKeepsTheWatchArmed_WA3) {
  handoff::mvar<int> m;
  counter c;
  auto w = m.watch(c.notifier());
  auto taker = std::async(std::launch::async, [&] { return m.take(); });
  handoff_test::until([&] { return m.waiting().takers == 1; }, "taker queued");
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put(7);
  EXPECT_EQ(handoff_test::get_or_abort(std::move(taker), "take"), 7);
  EXPECT_EQ(c.calls.load(), 0);
  m.put(8);
  EXPECT_EQ(c.calls.load(), 1);
}

// Invariant 7's one-CAS paths of a stateless T give way to the general path while a watcher is armed.
TEST(MvarReadiness, StatelessTokenMvar_WA1_WA4) {
  struct token {};
  handoff::mvar<token> m;
  counter c;
  auto w = m.watch(c.notifier());
  EXPECT_EQ(w.arm_writable(), readiness::ready);
  EXPECT_EQ(w.arm(), readiness::armed);
  m.put(token{});
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(w.arm_writable(), readiness::armed);
  (void)m.take();
  EXPECT_EQ(c.calls.load(), 2);
  w.unwatch();
  m.put(token{});  // nothing armed: the one-CAS path again, no call
  EXPECT_EQ(c.calls.load(), 2);
}

// WA-2, WA-4: a loop that never blocks passes values from one mvar to another, both watched; 2 threads
// feed and drain with blocking calls. Every value arrives once and in order.
TEST(MvarReadiness, LoopRelaysBetweenTwoMvars_WA2_WA4) {
  constexpr int count = 20000;
  handoff::mvar<int> in, out;
  handoff::eventfd_notifier n;
  auto feeder = std::async(std::launch::async, [&] {
    for (int i = 0; i < count; ++i) in.put(i);
  });
  auto drainer = std::async(std::launch::async, [&] {
    for (int i = 0; i < count; ++i)
      if (out.take() != i) return false;
    return true;
  });
  auto win = in.watch(n.notifier());
  auto wout = out.watch(n.notifier());
  int held = 0;  // the value in the loop's hands, when `holding`
  bool holding = false;
  for (int moved = 0; moved < count;) {
    if (!holding) {
      if (auto v = in.try_take()) {
        held = *v;
        holding = true;
      }
    }
    if (holding && out.try_put(int{held}) == status::ok) {
      holding = false;
      ++moved;
      continue;
    }
    const bool armed = holding ? wout.arm_writable() == readiness::armed : win.arm() == readiness::armed;
    if (!armed) continue;
    pollfd p{n.fd(), POLLIN, 0};  // the loop's sleep
    ASSERT_EQ(::poll(&p, 1, static_cast<int>(handoff_test::hang_bound.count() * 1000)), 1)
        << "WATCHDOG: no notification after " << moved << " values (lost notification?)";
    n.consume();
  }
  handoff_test::get_or_abort(std::move(feeder), "feeder");
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(drainer), "drainer"));
}

}  // namespace
