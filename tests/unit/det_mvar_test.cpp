// mvar<T> under the deterministic scheduler (tests/support/det_sync.hpp): the core scenarios of
// tests/support/det_scenarios.hpp plus the mvar-only read/swap/try_ ones, each over det_default_seeds
// interleavings (HANDOFF_DET_SEEDS=N for more; a failure prints the HANDOFF_DET_SEED=<n> replay line).
// Every run checks conservation (no value lost or duplicated, G-2) and ends without DEADLOCK (G-1).
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <vector>

#include "support/det_box.hpp"
#include "support/det_scenarios.hpp"
#include "support/det_sync.hpp"

namespace {

using handoff::status;
using handoff_test::det_check;
using handoff_test::det_expect_clean;
using handoff_test::det_sync;
using handoff_test::det_thread;
namespace sc = handoff_test::det_scenarios;

// The scenario adapter for mvar (see det_scenarios.hpp).
struct mvar_adapter {
  using item = sc::item;
  using channel = handoff::mvar<item, det_sync>;
  static constexpr std::size_t capacity = 1;

  static void send(channel& c, item&& v) { c.put(std::move(v)); }
  static item receive(channel& c) { return c.take(); }
  static std::optional<item> try_receive(channel& c) { return c.try_take(); }
  static std::optional<item> receive_for(channel& c, std::chrono::hours d) { return c.take_for(d); }
  static std::optional<item> receive(channel& c, std::stop_token st) { return c.take(std::move(st)); }
  static status send_for(channel& c, item& v, std::chrono::hours d) { return c.put_for(std::move(v), d); }
  static status send(channel& c, item& v, std::stop_token st) { return c.put(std::move(v), std::move(st)); }
  static std::size_t waiting_senders(channel& c) { return c.waiting().putters; }
};

// The same scenarios on an mvar whose T has a move constructor that may throw (it never does here): a
// waiting taker is then served by being handed BUSY on the full box and moving the value out itself (mvar.hpp
// invariant 8), a different protocol from the move into its result that a nothrow T gets.
struct handed_item {
  sc::item p;
  explicit handed_item(sc::item&& i) noexcept : p(std::move(i)) {}
  handed_item(handed_item&& other) noexcept(false) : p(std::move(other.p)) {}  // NOLINT: deliberately
};
static_assert(!std::is_nothrow_move_constructible_v<handed_item>);

struct mvar_hand_over_adapter {
  using item = sc::item;
  using channel = handoff::mvar<handed_item, det_sync>;
  static constexpr std::size_t capacity = 1;

  static std::optional<item> unwrap(handoff::result<handed_item>&& r) {
    if (!r) return std::nullopt;
    return std::move(r->p);
  }
  // The value goes back to the caller's item when the put fails (G-2).
  template <class Put>
  static status wrapped_put(item& v, Put put) {
    handed_item h(std::move(v));
    const status s = put(h);
    if (s != status::ok) v = std::move(h.p);
    return s;
  }
  static void send(channel& c, item&& v) { c.put(handed_item(std::move(v))); }
  static item receive(channel& c) { return std::move(c.take().p); }
  static std::optional<item> try_receive(channel& c) { return unwrap(c.try_take()); }
  static std::optional<item> receive_for(channel& c, std::chrono::hours d) { return unwrap(c.take_for(d)); }
  static std::optional<item> receive(channel& c, std::stop_token st) { return unwrap(c.take(std::move(st))); }
  static status send_for(channel& c, item& v, std::chrono::hours d) {
    return wrapped_put(v, [&](handed_item& h) { return c.put_for(std::move(h), d); });
  }
  static status send(channel& c, item& v, std::stop_token st) {
    return wrapped_put(v, [&](handed_item& h) { return c.put(std::move(h), st); });
  }
  static std::size_t waiting_senders(channel& c) { return c.waiting().putters; }
};

TEST(DetMvarHandOver, HandOffToWaitingTaker_MV3_G1) {  // MV-3, G-1, invariant 8
  det_expect_clean(sc::handoff_to_waiting_receiver<mvar_hand_over_adapter>);
}

TEST(DetMvarHandOver, FifoOfThreeBlockedPutters_MV4_G3) {  // MV-4, G-3, invariant 8
  det_expect_clean([] { sc::fifo_of_blocked_senders<mvar_hand_over_adapter>(3); });
}

TEST(DetMvarHandOver, TakeForTimeoutRacingPutIsTruthful_G2) {  // G-2, G-7, invariant 8
  det_expect_clean([] { sc::receive_gives_up_racing_send<mvar_hand_over_adapter>(sc::give_up::timeout); });
}

TEST(DetMvarHandOver, StopRequestRacingHandOffToTaker_G2) {  // G-2, G-7, invariant 8
  det_expect_clean([] { sc::receive_gives_up_racing_send<mvar_hand_over_adapter>(sc::give_up::stop); });
}

TEST(DetMvarHandOver, TwoProducersTwoConsumersConserveValues_G2_G3) {  // G-2, G-3, invariant 8
  det_expect_clean([] { sc::producers_consumers<mvar_hand_over_adapter>(3); });
}

TEST(DetMvar, HandOffToWaitingTaker_MV3_G1) {  // MV-3, G-1
  det_expect_clean(sc::handoff_to_waiting_receiver<mvar_adapter>);
}

TEST(DetMvar, FifoOfThreeBlockedPutters_MV4_G3) {  // MV-4, G-3
  det_expect_clean([] { sc::fifo_of_blocked_senders<mvar_adapter>(3); });
}

TEST(DetMvar, TakeForTimeoutRacingPutIsTruthful_G2) {  // G-2, G-7
  det_expect_clean([] { sc::receive_gives_up_racing_send<mvar_adapter>(sc::give_up::timeout); });
}

TEST(DetMvar, PutForTimeoutRacingTakeIsTruthful_G2) {  // G-2, G-7
  det_expect_clean([] { sc::send_gives_up_racing_receive<mvar_adapter>(sc::give_up::timeout); });
}

TEST(DetMvar, StopRequestRacingHandOffToTaker_G2) {  // G-2, G-7 stop_token form
  det_expect_clean([] { sc::receive_gives_up_racing_send<mvar_adapter>(sc::give_up::stop); });
}

TEST(DetMvar, StopRequestRacingPutterOnFullBox_G2) {  // G-2, G-7 stop_token form
  det_expect_clean([] { sc::send_gives_up_racing_receive<mvar_adapter>(sc::give_up::stop); });
}

TEST(DetMvar, TwoProducersTwoConsumersConserveValues_G2_G3) {  // G-2, G-3, MV-4, MV-6
  det_expect_clean([] { sc::producers_consumers<mvar_adapter>(3); });
}

// MV-9 with MV-4/MV-5: read and swap race a take and a put on a box that starts full with 1. Values in:
// 1 (initial), 2 (swap), 3 (put); out: what swap and take return; the box ends full with the third. read
// returns one of them, and swap/take never see a value twice.
TEST(DetMvar, ReadAndSwapRacingTakeAndPut_MV9_G2) {
  det_expect_clean([] {
    handoff::mvar<std::uint64_t, det_sync> m(1);
    std::uint64_t read_v = 0, swap_v = 0, take_v = 0;
    det_thread reader([&] { read_v = m.read(); }, "reader");
    det_thread swapper([&] { swap_v = m.swap(2); }, "swapper");
    det_thread taker([&] { take_v = m.take(); }, "taker");
    m.put(3);
    reader.join();
    swapper.join();
    taker.join();
    const auto left = m.try_take();
    DET_CHECK(left.has_value());
    DET_CHECK(m.is_empty());
    const std::vector<std::uint64_t> out{swap_v, take_v, left.value_or(0)};
    DET_CHECK_MSG(sc::same_multiset(out, {1, 2, 3}), "swap/take/left " + sc::show(out));
    DET_CHECK(read_v >= 1 && read_v <= 3);
    DET_CHECK(swap_v != 2);  // swap cannot receive its own value
  });
}

// MV-7, invariant 6 of mvar.hpp: a box that stays full throughout (only read and swap touch it) is never
// reported empty by try_read, even when the try meets BUSY of a read or swap in flight.
TEST(DetMvar, TryReadNeverSeesAFullBoxEmpty_MV7) {
  det_expect_clean([] {
    handoff::mvar<std::uint64_t, det_sync> m(1);
    std::uint64_t read_v = 0, swap_v = 0;
    det_thread reader([&] { read_v = m.read(); }, "reader");
    det_thread swapper([&] { swap_v = m.swap(2); }, "swapper");
    const auto got = m.try_read();
    reader.join();
    swapper.join();
    DET_CHECK_MSG(got.has_value(), "try_read reported empty on a box that was full throughout");
    DET_CHECK(got.value_or(0) == 1 || got.value_or(0) == 2);
    DET_CHECK(read_v == 1 || read_v == 2);
    const auto left = m.try_take();
    DET_CHECK(swap_v == 1 && left.value_or(0) == 2);
  });
}

// MV-7 vs MV-3: try_put racing a waiting taker and a second taker: try_put's answer is truthful (ok means
// exactly one taker or the box got the value; full means it stayed with the caller).
TEST(DetMvar, TryPutRacingTakersIsTruthful_MV7_G2) {
  det_expect_clean([] {
    handoff::mvar<sc::item, det_sync> m;
    std::optional<sc::item> got;
    std::stop_source stop;
    det_thread taker([&] { got = m.take(stop.get_token()); }, "taker");
    det_thread putter([&] { m.put(sc::make(1)); }, "putter");
    sc::item mine = sc::make(2);
    const status st = m.try_put(std::move(mine));
    DET_CHECK(st == status::ok || st == status::full);
    DET_CHECK((st == status::ok) == (mine == nullptr));
    // Stop the taker if it still waits, then take what is left (the putter may wait for room until then).
    std::vector<std::uint64_t> seen;
    if (mine) seen.push_back(*mine);
    handoff_test::det_request_stop(stop);
    taker.join();
    if (got && *got) seen.push_back(**got);
    while (seen.size() < 2) seen.push_back(sc::value_of(m.take()));
    putter.join();
    DET_CHECK(m.is_empty());
    DET_CHECK_MSG(sc::same_multiset(seen, {1, 2}), "values seen " + sc::show(seen));
  });
}

// Invariant 7 of mvar.hpp: an mvar of an empty type used as a lock. Three threads take it (plain take,
// try_take in a loop, a take that a read and a swap race with), hold it across a scheduling point and put it
// back; the main thread takes it last. At most one holder at any time, nobody left waiting (a short-path put
// that filled the box past a registered taker would leave it parked: DEADLOCK), and the box ends empty.
TEST(DetMvar, StatelessTokenExcludesAndHandsOver_MV3_MV5) {
  det_expect_clean([] {
    struct unit {};
    handoff::mvar<unit, det_sync> token{unit{}};
    int holder = -1;  // only a thread that took the token writes it
    int turns = 0;
    auto hold = [&](int me) {
      DET_CHECK_MSG(holder == -1, "two holders: " + std::to_string(holder) + " and " + std::to_string(me));
      holder = me;
      det_sync::relax();  // a scheduling point inside the critical section
      DET_CHECK(holder == me);
      holder = -1;
      ++turns;
      token.put(unit{});
    };
    det_thread a(
        [&] {
          for (int i = 0; i < 2; ++i) {
            (void)token.take();
            hold(0);
          }
        },
        "take");
    det_thread b(
        [&] {
          for (int i = 0; i < 2; ++i) {
            while (!token.try_take()) det_sync::relax();
            hold(1);
          }
        },
        "try_take");
    det_thread c(
        [&] {
          (void)token.read();  // BUSY on a stateless box: the others take the general path meanwhile
          (void)token.swap(unit{});
          (void)token.take();
          hold(2);
        },
        "read/swap/take");
    a.join();
    b.join();
    c.join();
    (void)token.take();
    DET_CHECK(turns == 5);
    DET_CHECK(token.is_empty());
    DET_CHECK(!token.try_take().has_value());
  });
}

// The checker's positive control: the correct tiny_box passes the scenarios whose broken forms
// det_planted_test.cpp must catch over the same seed budget (reliability principle 2).
TEST(DetChecker, CorrectBoxHandOffPasses_G1) {  // G-1
  det_expect_clean(handoff_test::box_scenarios::handoff<handoff_test::tiny_box<det_sync>>);
}

TEST(DetChecker, CorrectBoxTwoPuttersPasses_G2) {  // G-2
  det_expect_clean(handoff_test::box_scenarios::two_putters<handoff_test::tiny_box<det_sync>>);
}

}  // namespace
