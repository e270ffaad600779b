// select (handoff/select.hpp), rules SE-1..SE-9 of docs/semantics.md, on real threads. Handshakes are
// waiting() snapshots and futures behind the watchdog (support/watchdog.hpp), never sleeps; the only
// deadlines are those of the timed forms under test, and no test asserts how long anything took.
// Interleavings (a value arriving during registration, two pushes racing for one selector, close, deadline
// and stop against a claim) are swept by the deterministic scenarios in select_det_test.cpp.
#include <handoff/select.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace {

using handoff::selected;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;
using namespace std::chrono_literals;

// SE-3: try_select never waits and says "empty" when no case can complete now.
TEST(Select, SE3_TrySelectAnswersEmptyAndTouchesNothing) {
  handoff::stream<int> a{4}, rendezvous{0};
  handoff::mvar<int> m;
  handoff::condition<int> c;
  handoff::condition<> cv;
  int v = 5;
  auto pa = handoff::on_pop(a);
  const selected r =
      handoff::try_select(pa, handoff::on_pop(rendezvous), handoff::on_take(m),
                          handoff::on_push(rendezvous, v), handoff::on_wait(c), handoff::on_wait(cv));
  EXPECT_EQ(r.index(), selected::none);
  EXPECT_EQ(r.status(), status::empty);
  EXPECT_FALSE(r);
  EXPECT_FALSE(pa.value.has_value());
  EXPECT_EQ(v, 5);
  EXPECT_EQ(a.waiting().poppers, 0u);
  EXPECT_EQ(rendezvous.waiting().pushers, 0u);
  EXPECT_EQ(c.waiting(), 0u);
}

// SE-1: exactly one case completes; the others have no effect (values stay where they were).
TEST(Select, SE1_OneReadyCaseCompletesAndTheOthersHaveNoEffect) {
  handoff::stream<int> a{4}, b{4}, out{1};
  handoff::mvar<int> m;
  ASSERT_EQ(a.try_push(1), status::ok);
  ASSERT_EQ(b.try_push(2), status::ok);
  ASSERT_EQ(m.try_put(3), status::ok);
  int v = 4;
  auto pa = handoff::on_pop(a);
  auto pb = handoff::on_pop(b);
  auto tm = handoff::on_take(m);
  auto po = handoff::on_push(out, v);
  const selected r = handoff::select(pa, pb, tm, po);
  ASSERT_TRUE(r);
  ASSERT_LT(r.index(), 4u);
  const std::size_t consumed =
      (a.size() == 0) + (b.size() == 0) + !m.try_read().has_value() + (out.size() == 1);
  EXPECT_EQ(consumed, 1u) << "exactly one case took effect";
  EXPECT_EQ(pa.value.has_value(), r.index() == 0);
  EXPECT_EQ(pb.value.has_value(), r.index() == 1);
  EXPECT_EQ(tm.value.has_value(), r.index() == 2);
  if (r.index() != 3) {
    EXPECT_EQ(v, 4) << "a losing push's value is still the caller's";
  }
}

// SE-1 with waiting: the case whose channel acts wins; the value goes straight to the selector.
TEST(Select, SE1_WaitsForTheFirstChannelThatActs) {
  for (int which = 0; which < 4; ++which) {
    handoff::stream<int> a{4}, b{0};
    handoff::mvar<int> m;
    handoff::condition<int> c;
    auto pa = handoff::on_pop(a);
    auto pb = handoff::on_pop(b);
    auto tm = handoff::on_take(m);
    auto wc = handoff::on_wait(c);
    auto f = std::async(std::launch::async, [&] { return handoff::select(pa, pb, tm, wc); });
    until([&] { return c.waiting() == 1; }, "the selector registered on the condition (its last case)");
    switch (which) {
      case 0:
        ASSERT_EQ(a.try_push(10), status::ok);
        break;
      case 1:
        ASSERT_TRUE(b.push(11));
        break;
      case 2:
        ASSERT_EQ(m.try_put(12), status::ok);
        break;
      case 3:
        ASSERT_EQ(c.signal(13), 1u);
        break;
    }
    const selected r = get_or_abort(std::move(f), "select woken by case " + std::to_string(which));
    ASSERT_TRUE(r);
    EXPECT_EQ(r.index(), static_cast<std::size_t>(which));
    const std::optional<int>* got[] = {&pa.value, &pb.value, &tm.value, &wc.value};
    ASSERT_TRUE(got[which]->has_value());
    EXPECT_EQ(**got[which], 10 + which);
    // Every link is gone: the channels are as if the select never waited on them.
    EXPECT_EQ(a.waiting().poppers, 0u);
    EXPECT_EQ(b.waiting().poppers, 0u);
    EXPECT_EQ(c.waiting(), 0u);
    EXPECT_EQ(c.signal(1), 0u) << "a signal after the select returned reaches nobody";
    EXPECT_EQ(m.waiting().takers, 0u);
  }
}

// SE-1: a push case and a put case that lose keep the caller's value; the winner's value is moved.
TEST(Select, SE1_LosingPushAndPutKeepTheCallersValues) {
  handoff::stream<std::string> full{1}, other{1};
  handoff::mvar<std::string> box;
  ASSERT_EQ(full.try_push("x"), status::ok);
  ASSERT_EQ(box.try_put("y"), status::ok);
  std::string pushed = "push me", put = "put me";
  auto pp = handoff::on_push(full, pushed);
  auto pm = handoff::on_put(box, put);
  auto po = handoff::on_pop(other);
  auto f = std::async(std::launch::async, [&] { return handoff::select(pp, pm, po); });
  until([&] { return other.waiting().poppers == 1; }, "the selector registered its pop case");
  ASSERT_EQ(other.try_push("z"), status::ok);
  const selected r = get_or_abort(std::move(f), "select woken by the pop case");
  ASSERT_EQ(r.index(), 2u);
  EXPECT_EQ(*po.value, "z");
  EXPECT_EQ(pushed, "push me");
  EXPECT_EQ(put, "put me");
  EXPECT_EQ(full.size(), 1u);
  EXPECT_EQ(box.try_take().value(), "y");
  ASSERT_EQ(box.try_put("w"), status::ok);  // full again: the put case must wait

  // Now the push case wins: a pop makes room and takes the selector's value straight from `pushed`.
  auto f2 = std::async(std::launch::async, [&] { return handoff::select(pp, pm); });
  until([&] { return full.waiting().pushers == 1; }, "the selector registered its push case");
  EXPECT_EQ(full.pop().value(), "x");
  const selected r2 = get_or_abort(std::move(f2), "select woken by room");
  ASSERT_EQ(r2.index(), 0u);
  EXPECT_EQ(full.pop().value(), "push me");
  EXPECT_EQ(put, "put me") << "the put case lost: its value stays";
  EXPECT_EQ(box.waiting().putters, 0u);
}

// SE-2: per-channel FIFO holds with selectors in the queue: a plain popper registered first is served first.
TEST(Select, SE2_PlainPopperAheadOfASelectorIsServedFirst) {
  handoff::stream<int> s{0};
  handoff::stream<int> idle{4};
  auto plain = std::async(std::launch::async, [&] { return s.pop(); });
  until([&] { return s.waiting().poppers == 1; }, "plain popper registered");
  auto ps = handoff::on_pop(s);
  auto pi = handoff::on_pop(idle);
  auto sel = std::async(std::launch::async, [&] { return handoff::select(ps, pi); });
  until([&] { return s.waiting().poppers == 2; }, "selector registered behind it");
  ASSERT_TRUE(s.push(1));
  EXPECT_EQ(get_or_abort(std::move(plain), "plain popper"), std::optional<int>(1));
  ASSERT_TRUE(s.push(2));
  const selected r = get_or_abort(std::move(sel), "selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(ps.value, std::optional<int>(2));
}

// SE-2, the other way: a selector registered first is served before a plain taker of the same mvar.
TEST(Select, SE2_SelectorAheadOfAPlainTakerIsServedFirst) {
  handoff::mvar<int> m;
  handoff::stream<int> idle{4};
  auto tm = handoff::on_take(m);
  auto pi = handoff::on_pop(idle);
  auto sel = std::async(std::launch::async, [&] { return handoff::select(tm, pi); });
  until([&] { return idle.waiting().poppers == 1; }, "selector registered (both cases)");
  auto plain = std::async(std::launch::async, [&] { return m.take(); });
  until([&] { return m.waiting().takers == 2; }, "plain taker registered behind the selector");
  m.put(1);
  const selected r = get_or_abort(std::move(sel), "selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(tm.value, std::optional<int>(1));
  m.put(2);
  EXPECT_EQ(get_or_abort(std::move(plain), "plain taker"), 2);
}

// SE-4: unbiased selection over k always-ready cases picks each about 1/k of the time; biased, the first.
TEST(Select, SE4_UnbiasedPicksEveryReadyCaseEvenlyAndBiasedPicksTheFirst) {
  constexpr int k = 4;
  constexpr int rounds = 100000;
  std::array<handoff::stream<int>, k> s{handoff::stream<int>{2}, handoff::stream<int>{2},
                                        handoff::stream<int>{2}, handoff::stream<int>{2}};
  for (auto& x : s) ASSERT_EQ(x.try_push(0), status::ok);
  std::array<int, k> wins{};
  auto c0 = handoff::on_pop(s[0]);
  auto c1 = handoff::on_pop(s[1]);
  auto c2 = handoff::on_pop(s[2]);
  auto c3 = handoff::on_pop(s[3]);
  for (int i = 0; i < rounds; ++i) {
    const selected r = handoff::select(c0, c1, c2, c3);
    ASSERT_TRUE(r);
    ++wins[r.index()];
    ASSERT_EQ(s[r.index()].try_push(0), status::ok);  // every case stays ready
  }
  for (int i = 0; i < k; ++i) {
    // 1/k = 0.25; the standard deviation of a share over 10^5 draws is 0.0014, so 0.02 is 14 of them.
    EXPECT_NEAR(static_cast<double>(wins[i]) / rounds, 1.0 / k, 0.02) << "case " << i;
  }
  for (int i = 0; i < 1000; ++i) {
    const selected r = handoff::select(handoff::biased, c0, c1, c2, c3);
    ASSERT_EQ(r.index(), 0u);
    ASSERT_EQ(s[0].try_push(0), status::ok);
  }
  const selected r = handoff::try_select(handoff::biased, c1, c2, c0);
  EXPECT_EQ(r.index(), 0u) << "biased try_select: argument order";
}

// SE-5: a select never matches its own push with its own pop on one rendezvous stream.
TEST(Select, SE5_NoSelfMatchOnARendezvousStream) {
  handoff::stream<int> s{0};
  int v = 7;
  auto push = handoff::on_push(s, v);
  auto pop = handoff::on_pop(s);
  const selected r = handoff::select_for(20ms, push, pop);
  EXPECT_EQ(r.status(), status::timeout);
  EXPECT_EQ(r.index(), selected::none);
  EXPECT_EQ(v, 7);
  EXPECT_FALSE(pop.value.has_value());
  EXPECT_EQ(s.waiting().poppers, 0u);
  EXPECT_EQ(s.waiting().pushers, 0u);

  // With both links waiting, another thread's pop meets the push case, or its push meets the pop case.
  for (int other_pushes = 0; other_pushes < 2; ++other_pushes) {
    auto sel = std::async(std::launch::async, [&] { return handoff::select(push, pop); });
    until([&] { return s.waiting().poppers == 1 && s.waiting().pushers == 1; }, "both links registered");
    if (other_pushes) {
      ASSERT_TRUE(s.push(8));
      const selected r2 = get_or_abort(std::move(sel), "selector met by a push");
      EXPECT_EQ(r2.index(), 1u);
      EXPECT_EQ(pop.value, std::optional<int>(8));
      EXPECT_EQ(v, 7);
    } else {
      EXPECT_EQ(s.pop(), std::optional<int>(7));
      const selected r2 = get_or_abort(std::move(sel), "selector met by a pop");
      EXPECT_EQ(r2.index(), 0u);
    }
    EXPECT_EQ(s.waiting().poppers, 0u);
    EXPECT_EQ(s.waiting().pushers, 0u);
  }
}

// SE-6: close completes a pop case (after the buffered values) and a push case (value returned).
TEST(Select, SE6_CloseCompletesPopAfterDrainingAndPushWithTheValueReturned) {
  handoff::stream<int> s{4};
  handoff::mvar<int> idle;
  ASSERT_EQ(s.try_push(1), status::ok);
  s.close();
  auto pop = handoff::on_pop(s);
  selected r = handoff::select(pop, handoff::on_take(idle));
  ASSERT_TRUE(r);
  EXPECT_EQ(pop.value, std::optional<int>(1));
  pop.value.reset();
  r = handoff::select(pop, handoff::on_take(idle));
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(r.status(), status::closed);

  handoff::stream<int> waited{0};
  auto wpop = handoff::on_pop(waited);
  auto f = std::async(std::launch::async, [&] { return handoff::select(wpop, handoff::on_take(idle)); });
  until([&] { return waited.waiting().poppers == 1; }, "selector waits on the rendezvous stream");
  waited.close();
  r = get_or_abort(std::move(f), "close wakes the selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(r.status(), status::closed);

  handoff::stream<int> full{1};
  ASSERT_EQ(full.try_push(0), status::ok);
  int v = 9;
  auto push = handoff::on_push(full, v);
  auto g = std::async(std::launch::async, [&] { return handoff::select(push, handoff::on_take(idle)); });
  until([&] { return full.waiting().pushers == 1; }, "selector waits to push");
  full.close();
  r = get_or_abort(std::move(g), "close wakes the pushing selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(r.status(), status::closed);
  EXPECT_EQ(v, 9) << "the value of a push refused by close stays with the caller";
}

// SE-3: every timed and cancellable form; a passed deadline or a stop already requested is a try_select
// (a ready case still completes); cancelled when both.
TEST(Select, SE3_TimedAndCancellableForms) {
  handoff::stream<int> s{2};
  handoff::mvar<int> m;
  auto pop = handoff::on_pop(s);
  auto take = handoff::on_take(m);
  EXPECT_EQ(handoff::select_for(1ms, pop, take).status(), status::timeout);
  EXPECT_EQ(handoff::select_until(std::chrono::steady_clock::now() + 1ms, pop, take).status(),
            status::timeout);
  EXPECT_EQ(handoff::select_until(std::chrono::system_clock::now() - 1s, pop, take).status(),
            status::timeout);
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(handoff::select(stopped.get_token(), pop, take).status(), status::cancelled);
  EXPECT_EQ(handoff::select_for(-1s, stopped.get_token(), pop, take).status(), status::cancelled)
      << "cancelled when both";
  EXPECT_EQ(
      handoff::select_until(std::chrono::steady_clock::now() - 1s, stopped.get_token(), pop, take).status(),
      status::cancelled);
  ASSERT_EQ(s.try_push(3), status::ok);
  const selected ready = handoff::select(stopped.get_token(), pop, take);
  EXPECT_TRUE(ready) << "a stop already requested is a try_select: a ready case completes";
  EXPECT_EQ(pop.value, std::optional<int>(3));
  EXPECT_EQ(s.waiting().poppers, 0u);

  // A stop requested while the select waits cancels it and leaves every channel untouched.
  std::stop_source source;
  auto f = std::async(std::launch::async, [&] { return handoff::select(source.get_token(), pop, take); });
  until([&] { return s.waiting().poppers == 1; }, "selector registered");
  source.request_stop();
  EXPECT_EQ(get_or_abort(std::move(f), "stop wakes the selector").status(), status::cancelled);
  EXPECT_EQ(s.waiting().poppers, 0u);
  EXPECT_EQ(m.try_put(1), status::ok) << "the take case left no taker behind";
}

// SE-9: a condition's signal count stays truthful with selectors: a signal returns 1 exactly when a
// waiter (plain or selecting) received the value, and never counts a selector that already won elsewhere.
TEST(Select, SE9_SignalCountsOnlySelectorsThatReceive) {
  handoff::condition<int> c;
  handoff::stream<int> s{4};
  auto wc = handoff::on_wait(c);
  auto ps = handoff::on_pop(s);
  auto f = std::async(std::launch::async, [&] { return handoff::select(wc, ps); });
  until([&] { return s.waiting().poppers == 1; }, "selector registered on both");
  EXPECT_EQ(c.signal(5), 1u);
  const selected r = get_or_abort(std::move(f), "signal wakes the selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(wc.value, std::optional<int>(5));
  EXPECT_EQ(c.signal(6), 0u);

  // condition<void> too, with broadcast.
  handoff::condition<> cv;
  auto g = std::async(std::launch::async, [&] { return handoff::select(handoff::on_wait(cv), ps); });
  until([&] { return cv.waiting() == 1; }, "selector registered on condition<void>");
  EXPECT_EQ(cv.broadcast(), 1u);
  EXPECT_EQ(get_or_abort(std::move(g), "broadcast wakes the selector").index(), 0u);
}

// SE-7 in brief (tests under tsan): plain memory written before the push is visible after the select.
TEST(Select, SE7_HappensBeforeFromTheWinningPeer) {
  struct msg {
    std::vector<int>* data;
  };
  handoff::stream<msg> s{0};
  handoff::mvar<int> idle;
  auto pop = handoff::on_pop(s);
  std::vector<int> data;
  auto f = std::async(std::launch::async, [&] {
    const selected r = handoff::select(pop, handoff::on_take(idle));
    return r.index() == 0 ? (*pop.value->data)[99] : -1;
  });
  until([&] { return s.waiting().poppers == 1; }, "selector registered");
  data.assign(100, 42);
  ASSERT_TRUE(s.push(msg{&data}));
  EXPECT_EQ(get_or_abort(std::move(f), "selector"), 42);
}

// SE-8: a move that throws while a pusher hands its value to a selector loses nothing: the pusher gets the
// exception with its value, and the selector starts again (it is then served by the next push).
struct fragile {
  int v = 0;
  bool throw_on_move = false;
  fragile() = default;
  explicit fragile(int x, bool t = false) : v(x), throw_on_move(t) {}
  fragile(fragile&& o) : v(o.v), throw_on_move(false) {
    if (o.throw_on_move) throw std::runtime_error("move");
  }
  fragile& operator=(fragile&& o) {
    if (o.throw_on_move) throw std::runtime_error("move");
    v = o.v;
    return *this;
  }
};

TEST(Select, SE8_ThrowingHandOffToASelectorLosesNothing) {
  handoff::stream<fragile> s{0};
  handoff::mvar<int> idle;
  auto pop = handoff::on_pop(s);
  auto f = std::async(std::launch::async, [&] { return handoff::select(pop, handoff::on_take(idle)); });
  until([&] { return s.waiting().poppers == 1; }, "selector registered");
  fragile bad(1, true);
  EXPECT_THROW((void)s.push(std::move(bad)), std::runtime_error);
  EXPECT_EQ(bad.v, 1) << "the pusher keeps its value";
  until([&] { return s.waiting().poppers == 1; }, "selector registered again");
  ASSERT_TRUE(s.push(fragile(2)));
  const selected r = get_or_abort(std::move(f), "selector after the throw");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(pop.value->v, 2);
}

TEST(Select, SE8_ThrowingSignalToASelectorRestartsIt) {
  handoff::condition<fragile> c;
  handoff::mvar<int> idle;
  auto wc = handoff::on_wait(c);
  auto f = std::async(std::launch::async, [&] { return handoff::select(wc, handoff::on_take(idle)); });
  until([&] { return c.waiting() == 1; }, "selector registered");
  EXPECT_THROW((void)c.signal(fragile(1, true)), std::runtime_error);
  until([&] { return c.waiting() == 1; }, "selector registered again");
  EXPECT_EQ(c.signal(fragile(2)), 1u);
  EXPECT_EQ(get_or_abort(std::move(f), "selector").index(), 0u);
  EXPECT_EQ(wc.value->v, 2);
}

// A T whose n-th move or copy (counted over the whole test) throws: n = 0 never.
struct countdown {
  static inline std::atomic<int> until_throw{0};
  int v = 0;
  countdown() = default;
  explicit countdown(int x) : v(x) {}
  countdown(countdown&& o) : v(o.v) { tick(); }
  countdown(const countdown& o) : v(o.v) { tick(); }
  countdown& operator=(countdown&& o) {
    tick();
    v = o.v;
    return *this;
  }
  countdown& operator=(const countdown&) = default;
  static void tick() {
    if (until_throw.load() > 0 && until_throw.fetch_sub(1) == 1) throw std::runtime_error("countdown");
  }
};

// SE-8 / mvar invariant 8: a take case of a T whose move may throw is handed the full box and moves the value
// out itself; if that move throws, select throws and the value is still in the box.
TEST(Select, SE8_MvarTakeCaseHandedTheBoxMovesOnceAndKeepsTheValueOnAThrow) {
  for (const bool fail : {false, true}) {
    handoff::mvar<countdown> m;
    handoff::stream<int> idle{1};
    auto take = handoff::on_take(m);
    auto f = std::async(std::launch::async, [&] { return handoff::select(take, handoff::on_pop(idle)); });
    until([&] { return m.waiting().takers == 1; }, "selector registered its take case");
    countdown::until_throw = fail ? 2 : 0;  // move 1: into the box (put); move 2: out of it, in the selector
    m.put(countdown(7));
    if (fail) {
      EXPECT_THROW(get_or_abort(std::move(f), "take case handed the box"), std::runtime_error);
      countdown::until_throw = 0;
      auto left = m.try_take();
      ASSERT_TRUE(left.has_value()) << "the value whose move threw is still in the box";
      EXPECT_EQ(left->v, 7);
    } else {
      const selected r = get_or_abort(std::move(f), "take case handed the box");
      EXPECT_EQ(r.index(), 0u);
      ASSERT_TRUE(take.value.has_value());
      EXPECT_EQ(take.value->v, 7);
      EXPECT_FALSE(m.try_take().has_value());
    }
    EXPECT_EQ(idle.waiting().poppers, 0u);
  }
}

// SE-8 / SE-2 with broadcast: a copy that throws while delivering to a plain waiter ahead of a selector puts
// the plain waiter back at the front and restarts the selector behind it; later signals serve them in order.
TEST(Select, SE8_ThrowingBroadcastKeepsThePlainWaiterFirstAndRestartsTheSelector) {
  handoff::condition<countdown> c;
  handoff::stream<int> idle{1};
  auto plain = std::async(std::launch::async, [&] { return c.wait().v; });
  until([&] { return c.waiting() == 1; }, "plain waiter registered");
  auto wc = handoff::on_wait(c);
  auto sel = std::async(std::launch::async, [&] { return handoff::select(wc, handoff::on_pop(idle)); });
  until([&] { return c.waiting() == 2 && idle.waiting().poppers == 1; }, "selector registered behind it");
  const countdown v(1);
  countdown::until_throw = 1;  // the copy into the first (plain) waiter throws
  EXPECT_THROW((void)c.broadcast(v), std::runtime_error);
  countdown::until_throw = 0;
  until([&] { return c.waiting() == 2; }, "both waiting again");
  EXPECT_EQ(c.signal(countdown(2)), 1u);
  EXPECT_EQ(get_or_abort(std::move(plain), "plain waiter"), 2) << "the plain waiter kept its place";
  EXPECT_EQ(c.signal(countdown(3)), 1u);
  EXPECT_EQ(get_or_abort(std::move(sel), "selector").index(), 0u);
  EXPECT_EQ(wc.value->v, 3);
}

// A topic subscription as a pop case: a publish reaches the selecting subscriber (and every other one);
// close ends the case after its buffer is drained.
TEST(Select, SubscriptionPopCase) {
  handoff::topic<int> t{4};
  auto sub = t.subscribe();
  auto other = t.subscribe();
  handoff::mvar<int> idle;
  auto pop = handoff::on_pop(sub);
  auto f = std::async(std::launch::async, [&] { return handoff::select(pop, handoff::on_take(idle)); });
  until([&] { return sub.waiting().poppers == 1; }, "selector registered on the subscription");
  EXPECT_EQ(t.publish(5), 2u);
  const selected r = get_or_abort(std::move(f), "publish wakes the selector");
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(pop.value, std::optional<int>(5));
  EXPECT_EQ(other.try_pop().value(), 5) << "every subscriber gets every value (ST-8)";
  pop.value.reset();
  EXPECT_EQ(t.publish(6), 2u);
  t.close();
  EXPECT_EQ(handoff::select(pop, handoff::on_take(idle)).status(), status::ok);
  EXPECT_EQ(pop.value, std::optional<int>(6));
  const selected end = handoff::select(pop, handoff::on_take(idle));
  EXPECT_EQ(end.index(), 0u);
  EXPECT_EQ(end.status(), status::closed);
}

// mvar cases: a put case waits for room; a take case is served by a put (MV-3 order holds).
TEST(Select, MvarPutCaseWaitsForRoomAndTakeCaseIsServedByAPut) {
  handoff::mvar<int> m;
  handoff::stream<int> idle{1};
  ASSERT_EQ(m.try_put(1), status::ok);
  int v = 2;
  auto put = handoff::on_put(m, v);
  auto f = std::async(std::launch::async, [&] { return handoff::select(put, handoff::on_pop(idle)); });
  until([&] { return idle.waiting().poppers == 1; }, "selector registered");
  EXPECT_EQ(m.take(), 1);
  EXPECT_EQ(get_or_abort(std::move(f), "put case").index(), 0u);
  EXPECT_EQ(m.take(), 2);
}

// Any number of cases, on the stack: twelve streams, the value arrives on the last one.
TEST(Select, TwelveCases) {
  std::deque<handoff::stream<int>> s;
  for (int i = 0; i < 12; ++i) s.emplace_back(1);
  auto f = std::async(std::launch::async, [&] {
    return handoff::select(handoff::on_pop(s[0]), handoff::on_pop(s[1]), handoff::on_pop(s[2]),
                           handoff::on_pop(s[3]), handoff::on_pop(s[4]), handoff::on_pop(s[5]),
                           handoff::on_pop(s[6]), handoff::on_pop(s[7]), handoff::on_pop(s[8]),
                           handoff::on_pop(s[9]), handoff::on_pop(s[10]), handoff::on_pop(s[11]));
  });
  until([&] { return s[11].waiting().poppers == 1; }, "selector registered on all twelve");
  ASSERT_EQ(s[11].try_push(1), status::ok);
  EXPECT_EQ(get_or_abort(std::move(f), "twelve-case select").index(), 11u);
  for (auto& x : s) EXPECT_EQ(x.waiting().poppers, 0u);
}

}  // namespace
