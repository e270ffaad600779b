// stats() (handoff/stats.hpp, rule OB-2): the counts are exact. Each scenario runs under the deterministic
// scheduler (tests/support/det_sync.hpp) over its seed budget, with virtual time, so a timeout fires only
// when nothing else can run and every seed must end with the same counts. The planted twin at the end
// checks that the checker notices a count that is off by one.
#include <handoff/condition.hpp>
#include <handoff/mvar.hpp>
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stop_token>

#include "support/det_sync.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff::wait_stats;
using handoff_test::det_expect_clean;
using handoff_test::det_request_stop;
using handoff_test::det_sync;
using handoff_test::det_thread;
using handoff_test::det_yield;

constexpr std::uint64_t seeds = 300;

wait_stats expected(std::uint64_t waits, std::uint64_t served, std::uint64_t closed, std::uint64_t timeouts,
                    std::uint64_t cancellations, std::size_t peak) {
  return {waits, served, closed, timeouts, cancellations, peak};
}

// Two poppers wait, one push, one timeout: waits 2, served 1, timeouts 1 (the example). The older
// popper waits without a deadline, so the push serves it; the younger one's deadline may pass at any point
// of the schedule (the scheduler fires it whenever that is its choice), before or after the push.
TEST(StatsDet, TwoPoppersWaitOnePushOneTimeout_OB2) {
  det_expect_clean(
      [] {
        handoff::stream<int, det_sync> s(1);
        det_thread a([&] { DET_CHECK(s.pop() == 7); });
        while (s.waiting().poppers < 1) det_yield();
        std::atomic<bool> b_done{false};  // its deadline may pass before it even registers
        det_thread b([&] {
          DET_CHECK(s.pop_for(1h).status() == status::timeout);
          b_done = true;
        });
        while (s.waiting().poppers < 2 && !b_done) det_yield();
        DET_CHECK(s.push(7));
        a.join();
        b.join();
        const handoff::stream_stats st = s.stats();
        // b registered (peak 2, or 1 if its deadline passed after the push served a), or gave up before.
        DET_CHECK(st.pop == expected(2, 1, 0, 1, 0, 2) || st.pop == expected(2, 1, 0, 1, 0, 1) ||
                  st.pop == expected(1, 1, 0, 0, 0, 1));
        DET_CHECK(st.empty_events >= st.pop.waits);  // a popper finds it empty before it registers
        DET_CHECK(st.push == wait_stats{});
        DET_CHECK(st.full_events == 0);
      },
      {}, seeds);
}

// A cancelled popper and a popper that close() ends: cancellations 1, closed 1, nothing served.
TEST(StatsDet, CancelledAndClosedPoppers_OB2) {
  det_expect_clean(
      [] {
        handoff::stream<int, det_sync> s(1);
        std::stop_source stop;
        det_thread a([&] { DET_CHECK(s.pop(stop.get_token()).status() == status::cancelled); });
        while (s.waiting().poppers < 1) det_yield();
        det_thread b([&] { DET_CHECK(!s.pop().has_value()); });
        while (s.waiting().poppers < 2) det_yield();
        det_request_stop(stop);
        a.join();
        s.close();
        b.join();
        DET_CHECK(s.stats().pop == expected(2, 0, 1, 0, 1, 2));
      },
      {}, seeds);
}

// Push side: two pushers wait on a full stream, one pop serves the older, close() ends the other.
TEST(StatsDet, PushersServedAndClosed_OB2) {
  det_expect_clean(
      [] {
        handoff::stream<int, det_sync> s(1);
        DET_CHECK(s.push(0));
        det_thread a([&] { (void)s.push(1); });
        while (s.waiting().pushers < 1) det_yield();
        det_thread b([&] { (void)s.push(2); });
        while (s.waiting().pushers < 2) det_yield();
        DET_CHECK(s.pop() == 0);
        while (s.waiting().pushers > 1) det_yield();
        s.close();
        a.join();
        b.join();
        const handoff::stream_stats st = s.stats();
        DET_CHECK(st.push == expected(2, 1, 1, 0, 0, 2));
        DET_CHECK(st.full_events >= 2);
      },
      {}, seeds);
}

// mvar: two takers wait, one put serves the older; the younger one's deadline passes (before or after).
TEST(StatsDet, MvarTakersOneServedOneTimeout_OB2) {
  det_expect_clean(
      [] {
        handoff::mvar<int, det_sync> m;
        det_thread a([&] { DET_CHECK(m.take() == 5); });
        while (m.waiting().takers < 1) det_yield();
        std::atomic<bool> b_done{false};  // its deadline may pass before it even registers
        det_thread b([&] {
          DET_CHECK(m.take_for(1h).status() == status::timeout);
          b_done = true;
        });
        while (m.waiting().takers < 2 && !b_done) det_yield();
        m.put(5);
        a.join();
        b.join();
        const handoff::mvar_stats st = m.stats();
        DET_CHECK(st.take == expected(2, 1, 0, 1, 0, 2) || st.take == expected(2, 1, 0, 1, 0, 1) ||
                  st.take == expected(1, 1, 0, 0, 0, 1));
        DET_CHECK(st.put == wait_stats{});
        DET_CHECK(m.is_empty());
      },
      {}, seeds);
}

// condition: three waiters, one cancelled, then a broadcast reaches the other two.
TEST(StatsDet, ConditionBroadcastAndCancel_OB2) {
  det_expect_clean(
      [] {
        handoff::condition<int, det_sync> c;
        std::stop_source stop;
        det_thread a([&] { DET_CHECK(c.wait(stop.get_token()).status() == status::cancelled); });
        det_thread b([&] { DET_CHECK(c.wait() == 3); });
        det_thread d([&] { DET_CHECK(c.wait() == 3); });
        while (c.waiting() < 3) det_yield();
        det_request_stop(stop);
        a.join();
        DET_CHECK(c.broadcast(3) == 2);
        b.join();
        d.join();
        DET_CHECK(c.stats().wait == expected(3, 2, 0, 0, 1, 3));
      },
      {}, seeds);
}

// The planted twin: the same checker against a count that is one too high must fail on the first seed.
TEST(StatsDetPlanted, AnOffByOneCountIsCaught) {
  const handoff_test::det_sweep_result r = handoff_test::det_sweep(
      [] {
        handoff::stream<int, det_sync> s(1);
        det_thread a([&] { (void)s.pop_for(1h); });
        while (s.waiting().poppers < 1) det_yield();
        DET_CHECK(s.push(1));
        a.join();
        DET_CHECK(s.stats().pop == expected(1, 2, 0, 0, 0, 1));  // planted: served is 1
      },
      {}, 1);
  EXPECT_FALSE(r.failure.empty());
}

}  // namespace
