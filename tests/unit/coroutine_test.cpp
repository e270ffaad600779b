// Coroutines on handoff channels (rules CR-1..CR-8 of docs/semantics.md; handoff/coroutine.hpp), on a
// manual single-thread executor the test drives (support/coroutine_support.hpp) and on real threads: one FIFO
// for threads and coroutines with direct hand-off (CR-1, CR-2), resumption only through the executor (CR-3),
// cancellation that consumes nothing and keeps the pusher's value (CR-4), never parking the executor's
// thread, also for a push or pop in flight in another thread (CR-5), no allocation per suspension (CR-6),
// close on both sides (CR-7), select (CR-8), and the thread pool. The interleavings are explored in
// det_coroutine_test.cpp; the mix under load in stress/coroutine_stress.cpp.
#include <handoff/condition.hpp>
#include <handoff/coroutine.hpp>
#include <handoff/executor.hpp>
#include <handoff/mvar.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <latch>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/coroutine_support.hpp"
#include "support/counting_new.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff::status;
using handoff_test::detached;
using handoff_test::manual_executor;
using executor_t = manual_executor::handle;

// What a coroutine saw, for the test to check once it ran.
template <class T>
struct seen {
  bool done = false;
  handoff::result<T> r{status::empty};
};
struct seen_status {
  bool done = false;
  status s = status::empty;
};

template <class S, class T>
detached pop_once(S& s, executor_t ex, seen<T>& out, std::stop_token st = {}) {
  out.r = co_await s.async_pop(ex, st);
  out.done = true;
}
template <class T>
detached push_once(handoff::stream<T>& s, T& v, executor_t ex, seen_status& out, std::stop_token st = {}) {
  out.s = co_await s.async_push(v, ex, st);
  out.done = true;
}
template <class T>
detached take_once(handoff::mvar<T>& m, executor_t ex, seen<T>& out, std::stop_token st = {}) {
  out.r = co_await m.async_take(ex, st);
  out.done = true;
}
template <class T>
detached put_once(handoff::mvar<T>& m, T& v, executor_t ex, seen_status& out, std::stop_token st = {}) {
  out.s = co_await m.async_put(v, ex, st);
  out.done = true;
}

// CR-2, CR-3: a value pushed to a waiting coroutine is handed over directly, and the coroutine runs only when
// its executor runs the posted item, never inside push().
TEST(CoroutineStream, PopIsHandedTheValueAndResumedThroughTheExecutor_CR2_CR3) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{4}}) {
    handoff::stream<int> s(cap);
    manual_executor ex;
    seen<int> got;
    pop_once(s, ex.executor(), got);
    EXPECT_FALSE(got.done);
    EXPECT_EQ(s.waiting().poppers, 1u);
    std::thread pusher([&] { EXPECT_TRUE(s.push(42)); });  // capacity 0: returns once handed over
    handoff_test::until([&] { return ex.pending() == 1; }, "the resumption is posted");
    pusher.join();
    EXPECT_FALSE(got.done);  // not inline (CR-3)
    EXPECT_EQ(ex.run_all(), 1u);
    ASSERT_TRUE(got.done);
    ASSERT_TRUE(got.r.has_value());
    EXPECT_EQ(*got.r, 42);
    EXPECT_EQ(s.try_pop().status(), status::empty);  // handed over, not buffered
  }
}

// A value already there: no suspension, nothing posted.
TEST(CoroutineStream, ReadyValueCompletesWithoutSuspending) {
  handoff::stream<int> s(4);
  manual_executor ex;
  ASSERT_TRUE(s.push(7));
  seen<int> got;
  pop_once(s, ex.executor(), got);
  EXPECT_TRUE(got.done);
  EXPECT_EQ(*got.r, 7);
  EXPECT_EQ(ex.pending(), 0u);
}

// CR-1: one FIFO for blocked threads and coroutines: the oldest waiter gets the first value, whichever kind.
TEST(CoroutineStream, ThreadsAndCoroutinesPopInOneFifo_CR1) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
    handoff::stream<int> s(cap);
    manual_executor ex;
    seen<int> first, third;
    pop_once(s, ex.executor(), first);                                          // 1st waiter: a coroutine
    auto thread_pop = std::async(std::launch::async, [&] { return s.pop(); });  // 2nd: a thread
    handoff_test::until([&] { return s.waiting().poppers == 2; }, "the thread registered");
    pop_once(s, ex.executor(), third);  // 3rd: a coroutine
    EXPECT_EQ(s.waiting().poppers, 3u);
    std::thread pusher([&] {
      for (int v = 1; v <= 3; ++v) EXPECT_TRUE(s.push(v));
    });
    EXPECT_EQ(handoff_test::get_or_abort(std::move(thread_pop), "thread pop"), std::optional<int>(2));
    pusher.join();
    ex.run_all();
    ASSERT_TRUE(first.done && third.done);
    EXPECT_EQ(*first.r, 1);
    EXPECT_EQ(*third.r, 3);
  }
}

// CR-1 on the push side, and rendezvous (capacity 0) between a coroutine and a thread both ways.
TEST(CoroutineStream, PushersQueueFifoAndRendezvousWithThreads_CR1_CR2) {
  handoff::stream<int> s(0);
  manual_executor ex;
  int a = 1, b = 2;
  seen_status pa, pb;
  push_once(s, a, ex.executor(), pa);
  push_once(s, b, ex.executor(), pb);
  EXPECT_EQ(s.waiting().pushers, 2u);
  EXPECT_EQ(s.pop(), std::optional<int>(1));  // the oldest pusher's value, moved out of its frame
  EXPECT_EQ(s.pop(), std::optional<int>(2));
  EXPECT_EQ(ex.run_all(), 2u);
  EXPECT_TRUE(pa.done && pb.done);
  EXPECT_EQ(pa.s, status::ok);
  EXPECT_EQ(pb.s, status::ok);
}

// Coroutine to coroutine, on one executor: a rendezvous with both sides suspended in turn.
TEST(CoroutineStream, CoroutineToCoroutineRendezvous_CR2) {
  handoff::stream<int> s(0);
  manual_executor ex;
  seen<int> got;
  pop_once(s, ex.executor(), got);
  int v = 5;
  seen_status put;
  push_once(s, v, ex.executor(), put);  // finds the popper: hands over at once, no suspension
  EXPECT_TRUE(put.done);
  EXPECT_EQ(put.s, status::ok);
  EXPECT_EQ(ex.run_all(), 1u);
  EXPECT_TRUE(got.done);
  EXPECT_EQ(*got.r, 5);
}

// CR-4: a cancelled pop consumed nothing; a cancelled push still owns its value; both answer cancelled, and
// a stop requested before the co_await answers at once.
TEST(CoroutineStream, CancelledWaitsConsumeNothingAndKeepTheValue_CR4) {
  handoff::stream<int> s(1);
  manual_executor ex;
  std::stop_source stop_pop;
  seen<int> got;
  pop_once(s, ex.executor(), got, stop_pop.get_token());
  EXPECT_EQ(s.waiting().poppers, 1u);
  stop_pop.request_stop();
  EXPECT_EQ(ex.run_all(), 1u);
  ASSERT_TRUE(got.done);
  EXPECT_EQ(got.r.status(), status::cancelled);
  EXPECT_EQ(s.waiting().poppers, 0u);
  ASSERT_TRUE(s.push(1));
  EXPECT_EQ(*s.try_pop(), 1);  // the next value was not consumed by the cancelled pop

  ASSERT_TRUE(s.push(10));  // full
  std::stop_source stop_push;
  int v = 11;
  seen_status put;
  push_once(s, v, ex.executor(), put, stop_push.get_token());
  EXPECT_EQ(s.waiting().pushers, 1u);
  stop_push.request_stop();
  EXPECT_EQ(ex.run_all(), 1u);
  ASSERT_TRUE(put.done);
  EXPECT_EQ(put.s, status::cancelled);
  EXPECT_EQ(v, 11);  // still the caller's
  EXPECT_EQ(*s.try_pop(), 10);
  EXPECT_EQ(s.try_pop().status(), status::empty);

  seen<int> early;
  pop_once(s, ex.executor(), early, stop_pop.get_token());  // already stopped: no wait at all
  EXPECT_TRUE(early.done);
  EXPECT_EQ(early.r.status(), status::cancelled);
  EXPECT_EQ(ex.pending(), 0u);
}

// CR-4 against a racing push: whichever wins, the value is either the coroutine's (ok) or still in the
// stream (cancelled), never lost or duplicated.
TEST(CoroutineStream, CancelRacingAPushLosesNothing_CR4) {
  for (int round = 0; round < 200; ++round) {
    handoff::stream<int> s(0);
    handoff::thread_pool pool(1);
    std::stop_source stop;
    std::promise<handoff::result<int>> result;
    struct runner {
      static detached go(handoff::stream<int>& s, handoff::thread_pool::executor_type ex, std::stop_token st,
                         std::promise<handoff::result<int>>& p) {
        p.set_value(co_await s.async_pop(ex, st));
      }
    };
    runner::go(s, pool.executor(), stop.get_token(), result);
    std::thread pusher([&] { (void)s.push_for(round, std::chrono::seconds(60)); });
    stop.request_stop();
    const handoff::result<int> r = handoff_test::get_or_abort(result.get_future(), "async_pop");
    if (r.status() == status::ok) {
      EXPECT_EQ(*r, round);
      pusher.join();
    } else {
      EXPECT_EQ(r.status(), status::cancelled);
      // The push is still waiting (or about to): its value must be there for a plain pop.
      EXPECT_EQ(handoff_test::get_or_abort(std::async(std::launch::async, [&] { return s.pop(); }), "pop"),
                std::optional<int>(round));
      pusher.join();
    }
  }
}

// CR-7: close completes coroutine poppers with closed (after draining) and coroutine pushers with closed
// (value untouched).
TEST(CoroutineStream, CloseEndsCoroutineWaitersOnBothSides_CR7) {
  handoff::stream<int> empty(2);
  handoff::stream<int> full(1);
  manual_executor ex;
  seen<int> got;
  pop_once(empty, ex.executor(), got);
  ASSERT_TRUE(full.push(1));
  int v = 2;
  seen_status put;
  push_once(full, v, ex.executor(), put);
  empty.close();
  full.close();
  EXPECT_EQ(ex.run_all(), 2u);
  ASSERT_TRUE(got.done && put.done);
  EXPECT_EQ(got.r.status(), status::closed);
  EXPECT_EQ(put.s, status::closed);
  EXPECT_EQ(v, 2);
  EXPECT_EQ(*full.try_pop(), 1);  // drained after close
}

// CR-5: a pop whose value's push is in flight in another thread (claimed, not yet published) does not park
// the executor's thread: it suspends, and the publish resumes it. Also for an overflow cell still being
// written, and for a push whose slot's previous pop is still moving its value out.
TEST(CoroutineStream, StepInFlightSuspendsInsteadOfParking_CR5) {
  {  // ring slot not yet published
    handoff_test::stall_gate gate;
    handoff::stream<handoff_test::stalling> s(4);
    manual_executor ex;
    gate.arm();
    std::thread pusher([&] { EXPECT_TRUE(s.push(handoff_test::stalling(9, &gate))); });
    gate.wait_entered();  // the push claimed its index and is moving the value in
    seen<handoff_test::stalling> got;
    pop_once(s, ex.executor(), got);  // returns: this thread did not park
    EXPECT_FALSE(got.done);
    EXPECT_EQ(ex.pending(), 0u);
    gate.release();
    pusher.join();
    handoff_test::until([&] { return ex.pending() == 1; }, "the publish posts the resumption");
    ex.run_all();
    ASSERT_TRUE(got.done);
    EXPECT_EQ(got.r->value, 9);
  }
  {  // overflow cell still being written
    handoff_test::stall_gate gate;
    handoff::stream<handoff_test::stalling> s(handoff::unbounded);
    manual_executor ex;
    const std::size_t ring = handoff::stream<handoff_test::stalling>::unbounded_ring_size;
    for (std::size_t k = 0; k < ring; ++k) ASSERT_TRUE(s.push(handoff_test::stalling(0, nullptr)));  // full
    gate.arm();
    std::thread pusher([&] { EXPECT_TRUE(s.push(handoff_test::stalling(77, &gate))); });
    gate.wait_entered();
    for (std::size_t k = 0; k < ring; ++k) ASSERT_TRUE(s.try_pop().has_value());
    seen<handoff_test::stalling> got;
    pop_once(s, ex.executor(), got);
    EXPECT_FALSE(got.done);
    gate.release();
    pusher.join();
    handoff_test::until([&] { return ex.pending() == 1; }, "the cell's publish posts the resumption");
    ex.run_all();
    ASSERT_TRUE(got.done);
    EXPECT_EQ(got.r->value, 77);
  }
  {  // push into a slot whose previous value is still being moved out
    handoff_test::stall_gate gate;
    handoff::stream<handoff_test::stalling> s(4);
    manual_executor ex;
    for (int k = 0; k < 4; ++k) ASSERT_TRUE(s.push(handoff_test::stalling(k, &gate)));
    gate.arm();
    std::thread popper([&] { EXPECT_EQ(s.pop()->value, 0); });
    gate.wait_entered();  // the pop claimed index 0 and is moving its value out: the slot is not free yet
    handoff_test::stalling v(4, nullptr);
    seen_status put;
    push_once(s, v, ex.executor(), put);
    EXPECT_FALSE(put.done);
    gate.release();
    popper.join();
    handoff_test::until([&] { return ex.pending() == 1; }, "the freed slot posts the resumption");
    ex.run_all();
    ASSERT_TRUE(put.done);
    EXPECT_EQ(put.s, status::ok);
    for (int k = 1; k <= 4; ++k) EXPECT_EQ(s.try_pop()->value, k);
  }
}

// CR-5 with G-8: the push whose publication a coroutine waits for throws and gives its index back. The
// coroutine must not wait for a publication that will never come: it tries again, registers as a popper,
// and a later push or a close reaches it (found by review: it once stayed hooked on the slot for ever).
TEST(CoroutineStream, StepGivenBackByAThrowingPushResumesTheCoroutine_CR5) {
  for (bool close_after : {false, true}) {
    handoff_test::stall_gate gate;
    handoff::stream<handoff_test::stalling> s(4);
    manual_executor ex;
    gate.throw_on_release.store(true);
    gate.arm();
    std::thread pusher(
        [&] { EXPECT_THROW((void)s.push(handoff_test::stalling(1, &gate)), std::runtime_error); });
    gate.wait_entered();
    seen<handoff_test::stalling> got;
    pop_once(s, ex.executor(), got);  // the try sees index 0 in flight and hooks its slot
    EXPECT_FALSE(got.done);
    gate.release();
    pusher.join();  // the index is given back: the hook resumes the coroutine, which registers as a popper
    handoff_test::until([&] { return ex.pending() == 1; }, "the give-back posts the retry");
    ex.run_all();
    EXPECT_FALSE(got.done);
    EXPECT_EQ(s.waiting().poppers, 1u);
    if (close_after) {
      s.close();
    } else {
      ASSERT_TRUE(s.push(handoff_test::stalling(2, nullptr)));
    }
    ex.run_all();
    ASSERT_TRUE(got.done);
    if (close_after) {
      EXPECT_EQ(got.r.status(), status::closed);
    } else {
      EXPECT_EQ(got.r->value, 2);
    }
  }
}

// CR-6: a suspension and resumption allocate nothing (the links live in the coroutine frame; this executor
// queues into a fixed array).
TEST(CoroutineStream, SuspensionAllocatesNothing_CR6) {
  if (!handoff_test::allocation_counting) GTEST_SKIP() << "operator new is the sanitizer's here";
  handoff::stream<int> s(4);
  manual_executor ex;
  std::stop_source stop;
  struct loop {
    static detached go(handoff::stream<int>& s, executor_t ex, std::stop_token st, long& sum, int n) {
      for (int k = 0; k < n; ++k) sum += *co_await s.async_pop(ex, st);
    }
  };
  long sum = 0;
  loop::go(s, ex.executor(), stop.get_token(), sum, 100);  // the frame is allocated here, once
  const long before = handoff_test::allocation_count();
  for (int k = 0; k < 100; ++k) {
    ASSERT_TRUE(s.push(k));
    ASSERT_EQ(ex.run_all(), 1u);
  }
  EXPECT_EQ(handoff_test::allocation_count() - before, 0);
  EXPECT_EQ(sum, 4950);
}

// A topic subscription's async_pop.
TEST(CoroutineTopic, SubscriptionPop) {
  handoff::topic<int> t(4);
  auto sub = t.subscribe();
  manual_executor ex;
  seen<int> got;
  pop_once(sub, ex.executor(), got);
  EXPECT_FALSE(got.done);
  t.publish(3);
  ex.run_all();
  ASSERT_TRUE(got.done);
  EXPECT_EQ(*got.r, 3);
}

// mvar: take and put in one FIFO with threads (CR-1, CR-2), cancellation (CR-4), and BUSY met by a
// coroutine: it registers and the BUSY holder serves it, the executor's thread never parks (CR-5).
TEST(CoroutineMvar, TakeAndPutWithThreads_CR1_CR2_CR4) {
  handoff::mvar<int> m;
  manual_executor ex;
  seen<int> got;
  take_once(m, ex.executor(), got);
  EXPECT_FALSE(got.done);
  std::thread putter([&] { m.put(5); });
  handoff_test::until([&] { return ex.pending() == 1; }, "the put posts the taker's resumption");
  putter.join();
  ex.run_all();
  ASSERT_TRUE(got.done);
  EXPECT_EQ(*got.r, 5);

  m.put(1);  // full
  int a = 2, b = 3;
  seen_status pa, pb;
  put_once(m, a, ex.executor(), pa);
  auto thread_put = std::async(std::launch::async, [&] { m.put(4); });
  std::stop_source stop;
  put_once(m, b, ex.executor(), pb, stop.get_token());
  stop.request_stop();  // the third putter leaves, keeping its value
  ex.run_all();
  EXPECT_EQ(pb.s, status::cancelled);
  EXPECT_EQ(b, 3);
  // FIFO: the coroutine's put (2) was registered before the thread's (4)... unless the thread had not
  // registered when the coroutine did; the coroutine registered first by construction here.
  EXPECT_EQ(m.take(), 1);
  EXPECT_EQ(m.take(), 2);
  handoff_test::get_or_abort(std::move(thread_put), "thread put");  // 4 is in now, or the thread waits
  EXPECT_EQ(m.take(), 4);
  ex.run_all();
  EXPECT_EQ(pa.s, status::ok);
}

TEST(CoroutineMvar, BusyBoxIsServedWithoutParking_CR5) {
  handoff_test::stall_gate gate;
  handoff::mvar<handoff_test::stalling> m;
  m.put(handoff_test::stalling(1, &gate));
  manual_executor ex;
  gate.arm();
  std::thread taker([&] { EXPECT_EQ(m.take().value, 1); });  // holds BUSY while moving the value out
  gate.wait_entered();
  handoff_test::stalling v(2, nullptr);
  seen_status put;
  put_once(m, v, ex.executor(), put);  // meets BUSY: registers instead of waiting for it
  EXPECT_FALSE(put.done);
  gate.release();
  taker.join();
  handoff_test::until([&] { return ex.pending() == 1; }, "the BUSY holder serves the coroutine");
  ex.run_all();
  ASSERT_TRUE(put.done);
  EXPECT_EQ(put.s, status::ok);
  EXPECT_EQ(m.take().value, 2);
}

// Invariant 8 (mvar.hpp): a T whose move may throw is handed to a waiting thread taker as BUSY on the full
// box; a coroutine taker is never handed BUSY (it runs only when its executor gets to it): it is served by a
// move, so a try_take by anyone meanwhile answers at once instead of waiting for the coroutine's executor.
TEST(CoroutineMvar, ThrowingMoveTypeIsNotHandedBusyToACoroutine_CR5) {
  handoff::mvar<handoff_test::stalling> m;  // stalling's move is not noexcept: the hand-over case
  manual_executor ex;
  seen<handoff_test::stalling> got;
  take_once(m, ex.executor(), got);
  m.put(handoff_test::stalling(3, nullptr));  // served straight into the coroutine's slot
  EXPECT_EQ(ex.pending(), 1u);                // not run yet
  auto probe = std::async(std::launch::async, [&] { return m.try_take().status(); });
  EXPECT_EQ(
      handoff_test::get_or_abort(std::move(probe), "try_take while the coroutine waits for its executor"),
      status::empty);
  ex.run_all();
  ASSERT_TRUE(got.done);
  EXPECT_EQ(got.r->value, 3);
}

// condition: a coroutine waiter counts as heard (signal's honest count) and gets the value.
TEST(CoroutineCondition, SignalAndBroadcastReachCoroutines_CR2) {
  handoff::condition<int> c;
  manual_executor ex;
  struct waiter_coro {
    static detached go(handoff::condition<int>& c, executor_t ex, seen<int>& out) {
      out.r = co_await c.async_wait(ex);
      out.done = true;
    }
  };
  seen<int> a, b, d;
  waiter_coro::go(c, ex.executor(), a);
  waiter_coro::go(c, ex.executor(), b);
  EXPECT_EQ(c.signal(1), 1u);  // the oldest
  EXPECT_EQ(c.broadcast(2), 1u);
  ex.run_all();
  EXPECT_EQ(*a.r, 1);
  EXPECT_EQ(*b.r, 2);
  EXPECT_EQ(c.signal(3), 0u);  // nobody waits: discarded

  handoff::condition<> ping;
  std::stop_source stop;
  struct void_coro {
    static detached go(handoff::condition<>& c, executor_t ex, std::stop_token st, status& out) {
      out = (co_await c.async_wait(ex, st)).status();
    }
  };
  status s1 = status::empty, s2 = status::empty;
  void_coro::go(ping, ex.executor(), {}, s1);
  void_coro::go(ping, ex.executor(), stop.get_token(), s2);
  stop.request_stop();
  ex.run_all();
  EXPECT_EQ(s2, status::cancelled);
  EXPECT_EQ(ping.broadcast(), 1u);
  ex.run_all();
  EXPECT_EQ(s1, status::ok);
  (void)d;
}

// CR-8: async_select over a stream, an mvar and a condition; the winner's value is in its case.
TEST(CoroutineSelect, FirstReadyCaseWinsAndTheOthersConsumeNothing_CR8) {
  handoff::stream<int> s(2);
  handoff::mvar<int> m;
  handoff::condition<int> c;
  manual_executor ex;
  struct selector {
    static detached go(handoff::stream<int>& s, handoff::mvar<int>& m, handoff::condition<int>& c,
                       executor_t ex, std::size_t& index, int& value) {
      auto pop = handoff::on_pop(s);
      auto take = handoff::on_take(m);
      auto wait = handoff::on_wait(c);
      const handoff::selected r = co_await handoff::async_select(ex, pop, take, wait);
      index = r.index();
      if (r.index() == 0) value = *pop.value;
      if (r.index() == 1) value = *take.value;
      if (r.index() == 2) value = *wait.value;
    }
  };
  for (int which = 0; which < 3; ++which) {
    std::size_t index = handoff::selected::none;
    int value = -1;
    selector::go(s, m, c, ex.executor(), index, value);
    EXPECT_EQ(index, handoff::selected::none);
    if (which == 0) {
      ASSERT_TRUE(s.push(10));
    } else if (which == 1) {
      m.put(11);
    } else {
      EXPECT_EQ(c.signal(12), 1u);
    }
    ex.run_all();
    EXPECT_EQ(index, static_cast<std::size_t>(which));
    EXPECT_EQ(value, 10 + which);
    // The losing cases left nothing behind: no waiter, nothing consumed.
    EXPECT_EQ(s.waiting().poppers, 0u);
    EXPECT_EQ(s.try_pop().status(), status::empty);
    EXPECT_EQ(m.try_take().status(), status::empty);
    EXPECT_EQ(c.signal(0), 0u);
  }
}

// The thread pool: every item posted runs, also items posted by items, before the destructor returns.
TEST(ThreadPool, RunsEveryItemIncludingItemsPostedByItems) {
  std::atomic<int> ran{0};
  struct chain {
    handoff::thread_pool::executor_type ex;
    std::atomic<int>* ran;
    int left;
    static void step(void* self) noexcept {
      auto* c = static_cast<chain*>(self);
      c->ran->fetch_add(1);
      if (--c->left > 0) c->ex.post({&chain::step, c});
    }
  };
  std::vector<chain> chains;
  {
    handoff::thread_pool pool(2);
    chains.assign(8, chain{pool.executor(), &ran, 100});
    for (chain& c : chains) pool.executor().post({&chain::step, &c});
  }
  EXPECT_EQ(ran.load(), 800);
  EXPECT_THROW(handoff::thread_pool(0), std::invalid_argument);
}

// Threads and coroutines on a pool, end to end: 2 coroutine producers and 2 thread producers into one
// stream, 2 coroutine consumers and 1 thread consumer, every value exactly once.
TEST(CoroutineStream, MixedProducersAndConsumersOnAPool_CR1) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
    handoff::stream<std::uint32_t> s(cap);
    constexpr std::uint32_t per_producer = 2000;
    std::atomic<std::uint64_t> sum{0};
    std::atomic<std::uint32_t> count{0};
    std::latch coroutines_done(2);
    struct coro {
      static detached produce(handoff::stream<std::uint32_t>& s, handoff::thread_pool::executor_type ex,
                              std::uint32_t base, std::latch& done) {
        for (std::uint32_t k = 0; k < per_producer; ++k) {
          std::uint32_t v = base + k;
          EXPECT_EQ(co_await s.async_push(v, ex), status::ok);
        }
        done.count_down();
      }
      static detached consume(handoff::stream<std::uint32_t>& s, handoff::thread_pool::executor_type ex,
                              std::atomic<std::uint64_t>& sum, std::atomic<std::uint32_t>& count,
                              std::latch& done) {
        while (auto v = co_await s.async_pop(ex)) {
          sum.fetch_add(*v);
          count.fetch_add(1);
        }
        done.count_down();
      }
    };
    {
      handoff::thread_pool pool(2);
      coro::consume(s, pool.executor(), sum, count, coroutines_done);
      coro::consume(s, pool.executor(), sum, count, coroutines_done);
      std::thread consumer([&] {
        while (auto v = s.pop()) {
          sum.fetch_add(*v);
          count.fetch_add(1);
        }
      });
      std::latch producers_done(2);
      coro::produce(s, pool.executor(), 0, producers_done);
      coro::produce(s, pool.executor(), per_producer, producers_done);
      std::thread t1([&] {
        for (std::uint32_t k = 0; k < per_producer; ++k) {
          EXPECT_TRUE(s.push(2 * per_producer + k));
        }
      });
      std::thread t2([&] {
        for (std::uint32_t k = 0; k < per_producer; ++k) {
          EXPECT_TRUE(s.push(3 * per_producer + k));
        }
      });
      t1.join();
      t2.join();
      handoff_test::get_or_abort(std::async(std::launch::async, [&] { producers_done.wait(); }),
                                 "coroutine producers");
      s.close();
      consumer.join();
      handoff_test::get_or_abort(std::async(std::launch::async, [&] { coroutines_done.wait(); }),
                                 "coroutine consumers");
    }
    const std::uint64_t n = 4 * per_producer;
    EXPECT_EQ(count.load(), n) << "capacity " << cap;
    EXPECT_EQ(sum.load(), n * (n - 1) / 2) << "capacity " << cap;
  }
}

}  // namespace
