// stream<T> under the deterministic scheduler (tests/support/det_sync.hpp): the channel scenarios of
// tests/support/det_scenarios.hpp at capacities 0 (rendezvous), 1, 4 and unbounded, plus close racing push
// and pop (ST-5), each over its seed budget (HANDOFF_DET_SEEDS=N for more; a failure prints the
// HANDOFF_DET_SEED=<n> replay line). Every run checks conservation (G-2) and ends without DEADLOCK (G-1).
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <type_traits>
#include <vector>

#include "support/det_scenarios.hpp"
#include "support/det_sync.hpp"

namespace {

using handoff::status;
using handoff_test::det_expect_clean;
using handoff_test::det_sync;
using handoff_test::det_thread;
namespace sc = handoff_test::det_scenarios;

inline constexpr std::size_t unbounded_cap = std::numeric_limits<std::size_t>::max();

// The scenario adapter for stream<item> of capacity Cap (unbounded_cap: stream{handoff::unbounded}).
template <std::size_t Cap, class Sync = det_sync>
struct stream_adapter {
  using item = sc::item;
  using base = handoff::stream<item, Sync>;
  struct bounded_channel : base {
    bounded_channel() : base(Cap) {}
  };
  struct unbounded_channel : base {
    unbounded_channel() : base(handoff::unbounded) {}
  };
  using channel = std::conditional_t<Cap == unbounded_cap, unbounded_channel, bounded_channel>;
  static constexpr std::size_t capacity = Cap;

  static void send(channel& c, item&& v) { DET_CHECK(c.push(std::move(v))); }
  static item receive(channel& c) {
    auto v = c.pop();
    DET_CHECK_MSG(v.has_value(), "pop reported end-of-stream on an open stream");
    return v ? std::move(*v) : item{};
  }
  static std::optional<item> try_receive(channel& c) { return c.try_pop(); }
  static std::optional<item> receive_for(channel& c, std::chrono::hours d) {
    item out;
    const status st = c.pop_for(out, d);
    DET_CHECK(st == status::ok || st == status::timeout);
    if (st == status::ok) return std::optional<item>(std::move(out));
    return std::nullopt;
  }
  static std::optional<item> receive(channel& c, std::stop_token st) {
    item out;
    const status r = c.pop(out, std::move(st));
    DET_CHECK(r == status::ok || r == status::cancelled);
    if (r == status::ok) return std::optional<item>(std::move(out));
    return std::nullopt;
  }
  static status send_for(channel& c, item& v, std::chrono::hours d) { return c.push_for(std::move(v), d); }
  static status send(channel& c, item& v, std::stop_token st) { return c.push(std::move(v), std::move(st)); }
  static std::size_t waiting_senders(channel& c) { return c.waiting().pushers; }
};

using rendezvous = stream_adapter<0>;
using cap1 = stream_adapter<1>;
using cap3 = stream_adapter<3>;  // a ring of 4 slots: room is decided from the head (copy), not the slot turn
using cap4 = stream_adapter<4>;
using unbounded = stream_adapter<unbounded_cap>;
// Unbounded with a ring of 4 slots: values beyond it go to the overflow list, and come back through the
// refill (stream.hpp invariant 4).
using unbounded_ring4 = stream_adapter<unbounded_cap, handoff_test::det_small_ring_sync>;

// One test per scenario and capacity, named <Scenario>_<capacity>, so a replay line selects exactly one.
#define DET_STREAM_ONE(Name, Capacity, Adapter, Rules, ...) \
  TEST(DetStream, Name##_##Capacity##_##Rules) {            \
    using A = Adapter;                                      \
    det_expect_clean([] { __VA_ARGS__; });                  \
  }
// Bounded capacities (an unbounded push never waits, so push-side scenarios use only these).
#define DET_STREAM_BOUNDED_SCENARIO(Name, Rules, ...)        \
  DET_STREAM_ONE(Name, Cap0, rendezvous, Rules, __VA_ARGS__) \
  DET_STREAM_ONE(Name, Cap1, cap1, Rules, __VA_ARGS__)       \
  DET_STREAM_ONE(Name, Cap3, cap3, Rules, __VA_ARGS__)       \
  DET_STREAM_ONE(Name, Cap4, cap4, Rules, __VA_ARGS__)
#define DET_STREAM_SCENARIO(Name, Rules, ...)                    \
  DET_STREAM_BOUNDED_SCENARIO(Name, Rules, __VA_ARGS__)          \
  DET_STREAM_ONE(Name, Unbounded, unbounded, Rules, __VA_ARGS__) \
  DET_STREAM_ONE(Name, UnboundedRing4, unbounded_ring4, Rules, __VA_ARGS__)

// ST-3, ST-4, G-1
DET_STREAM_SCENARIO(HandOffToWaitingPopper, ST4_G1, sc::handoff_to_waiting_receiver<A>())
// G-2 with pop_for / pop(stop_token) racing a push
DET_STREAM_SCENARIO(PopForTimeoutRacingPush, G2, sc::receive_gives_up_racing_send<A>(sc::give_up::timeout))
DET_STREAM_SCENARIO(StopRequestRacingHandOffToPopper, G2,
                    sc::receive_gives_up_racing_send<A>(sc::give_up::stop))
// ST-2, ST-4, G-2, G-3: two producers, two consumers, per-producer order
DET_STREAM_SCENARIO(TwoProducersTwoConsumers, ST4_G2_G3, sc::producers_consumers<A>(3))

// ST-2, ST-3, G-3: pushers that wait for room enter in FIFO order
DET_STREAM_BOUNDED_SCENARIO(FifoOfThreeBlockedPushers, ST2_G3, sc::fifo_of_blocked_senders<A>(3))
// G-2 with push_for / push(stop_token) on a full stream racing a pop
DET_STREAM_BOUNDED_SCENARIO(PushForTimeoutRacingPop, G2,
                            sc::send_gives_up_racing_receive<A>(sc::give_up::timeout))
DET_STREAM_BOUNDED_SCENARIO(StopRequestRacingBlockedPusher, G2,
                            sc::send_gives_up_racing_receive<A>(sc::give_up::stop))

// ST-5: close racing a pusher and a popper. Values buffered before close are drained, then end-of-stream;
// a push that fails keeps its value; every value pushed successfully is popped exactly once.
template <class A>
void close_races_push_and_pop() {
  typename A::channel ch;
  const std::size_t pre = sc::prefill_count<A>() > 0 ? 1 : 0;
  std::vector<std::uint64_t> pushed;
  for (std::size_t i = 0; i < pre; ++i) {
    A::send(ch, sc::make(100 + i));
    pushed.push_back(100 + i);
  }
  sc::item a = sc::make(1), b = sc::make(2);
  bool a_ok = false, b_ok = false;
  std::vector<std::uint64_t> popped;
  det_thread pusher(
      [&] {
        a_ok = ch.push(std::move(a));
        b_ok = ch.push(std::move(b));
      },
      "pusher");
  det_thread popper(
      [&] {
        while (auto v = ch.pop()) popped.push_back(sc::value_of(*v));
      },
      "popper");
  ch.close();
  pusher.join();
  popper.join();
  DET_CHECK(a_ok == (a == nullptr));
  DET_CHECK(b_ok == (b == nullptr));
  DET_CHECK(!b_ok || a_ok);  // FIFO per producer: b cannot get in after a was refused
  if (a_ok) pushed.push_back(1);
  if (b_ok) pushed.push_back(2);
  DET_CHECK_MSG(popped == pushed, "popped " + sc::show(popped) + " pushed " + sc::show(pushed));
  DET_CHECK(!ch.pop().has_value());  // end-of-stream, forever
  sc::item c = sc::make(3);
  DET_CHECK(!ch.push(std::move(c)) && c != nullptr);
}

DET_STREAM_SCENARIO(CloseRacingPushAndPop, ST5_G2, close_races_push_and_pop<A>())

// Invariant 4, the refill: a ring of 4 full and 6 values in the overflow list; two poppers drain it while a
// pusher adds 6 more, so that pops that move list values into the ring race each other and the push that
// takes the list back into the ring and clears OVERFLOW. Every value comes out once (G-2), and each popper
// sees the values in FIFO order (ST-2): the prefilled ones, in order, before any of the pusher's, in order.
void refill_races_pushes_and_pops() {
  handoff::stream<sc::item, handoff_test::det_small_ring_sync> s(handoff::unbounded);
  constexpr std::uint64_t prefilled = 10, pushed = 6;
  for (std::uint64_t i = 0; i < prefilled; ++i) DET_CHECK(s.push(sc::make(100 + i)));
  std::vector<std::uint64_t> seen[2];
  auto popper = [&](int k) {
    for (std::uint64_t i = 0; i < (prefilled + pushed) / 2; ++i) {
      auto v = s.pop();
      DET_CHECK_MSG(v.has_value(), "pop reported end-of-stream on an open stream");
      if (v) seen[k].push_back(sc::value_of(*v));
    }
  };
  det_thread p0([&] { popper(0); }, "popper 0");
  det_thread p1([&] { popper(1); }, "popper 1");
  det_thread pusher(
      [&] {
        for (std::uint64_t i = 1; i <= pushed; ++i) DET_CHECK(s.push(sc::make(i)));
      },
      "pusher");
  p0.join();
  p1.join();
  pusher.join();
  std::vector<std::uint64_t> all;
  for (const auto& v : seen) {
    // FIFO rank: the prefilled values (100 ..) come before the pusher's (1 ..).
    auto rank = [](std::uint64_t x) { return x >= 100 ? x - 100 : prefilled + x; };
    for (std::size_t j = 1; j < v.size(); ++j)
      DET_CHECK_MSG(rank(v[j - 1]) < rank(v[j]), "a popper saw " + sc::show(v) + " (not FIFO)");
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 1; i <= pushed; ++i) want.push_back(i);
  for (std::uint64_t i = 0; i < prefilled; ++i) want.push_back(100 + i);
  DET_CHECK_MSG(all == want, "popped " + sc::show(all));
  DET_CHECK(s.size() == 0);
}
TEST(DetStream, RefillRacingPushesAndPops_UnboundedRing4_ST2_G2) {
  det_expect_clean([] { refill_races_pushes_and_pops(); });
}

// G-1, G-8: a push whose move throws gives its claimed index back (the stream is as before) while a popper
// that read the head before the give-back, and the tail after the claim, tries to claim that index. If it
// could (the head word unchanged by the give-back), it would wait on a slot that no push will fill, and
// close() would not wake it: DEADLOCK. The give-back epoch of stream.hpp prevents it.
struct move_throws {
  bool poison = false;
  std::uint64_t value = 0;
  move_throws(bool p, std::uint64_t v) : poison(p), value(v) {}
  move_throws(move_throws&& o) : poison(o.poison), value(o.value) {
    if (poison) {
      handoff_test::det_yield();
      throw std::runtime_error("move_throws: poisoned");
    }
  }
};

// Push a value whose move throws; the push must throw (G-8).
void push_poisoned(handoff::stream<move_throws, det_sync>& s, std::uint64_t value) {
  move_throws bad(true, value);
  bool threw = false;
  try {
    (void)s.push(std::move(bad));
  } catch (const std::runtime_error&) {
    threw = true;
  }
  DET_CHECK(threw);
}

// A stream of capacity Cap and a popper that drains it until end-of-stream (join it after close()).
template <std::size_t Cap>
struct drained_stream {
  handoff::stream<move_throws, det_sync> s{Cap};
  std::vector<std::uint64_t> popped;
  det_thread popper{[this] {
                      while (auto v = s.pop()) popped.push_back(v->value);
                    },
                    "popper"};
};

template <std::size_t Cap>
void give_back_racing_a_popper() {
  drained_stream<Cap> d;
  push_poisoned(d.s, 1);
  DET_CHECK(d.s.size() == 0);  // given back: the stream is as before the push (nothing else raced it)
  DET_CHECK(d.s.push(move_throws(false, 2)));
  d.s.close();
  d.popper.join();
  DET_CHECK_MSG(d.popped == std::vector<std::uint64_t>{2}, "popped " + sc::show(d.popped));
}

// G-1, G-8, invariant 9 of stream.hpp: two pushes claim indices i and i + 1 and their moves throw; a popper
// that finds i unpublished with the tail at i + 2 waits for it without claiming i (parked on the slot's
// turn). Both claims are given back (i + 1 first, then i), so that turn never moves; then the stream is
// closed. The give-back must wake the popper (wake_unclaimed) and the popper must re-read the words after
// marking itself asleep, or it sleeps through the close: DEADLOCK.
template <std::size_t Cap>
void given_back_claims_wake_an_unclaimed_popper() {
  drained_stream<Cap> d;
  det_thread second([&] { push_poisoned(d.s, 2); }, "second pusher");
  push_poisoned(d.s, 1);
  second.join();
  d.s.close();
  d.popper.join();
  DET_CHECK_MSG(d.popped.empty(), "popped " + sc::show(d.popped));
}

// G-1, G-2, G-8 on a full stream: a pusher whose move throws and a second pusher both block (a room batch of
// 2 slots at capacity 16, invariant 8), a popper takes two values. Every prefilled value is popped once and
// in order, the throwing push leaves no hole, and the second push's value comes last if it went in.
template <std::size_t Cap>
void blocked_push_throws_on_a_full_stream() {
  handoff::stream<move_throws, det_sync> s(Cap);
  for (std::uint64_t i = 0; i < Cap; ++i)
    DET_CHECK(s.try_push(move_throws(false, 10 + i)) == handoff::status::ok);
  std::vector<std::uint64_t> popped;
  det_thread popper(
      [&] {
        for (int k = 0; k < 2; ++k) {
          auto v = s.pop();
          if (!v) break;
          popped.push_back(v->value);
        }
      },
      "popper");
  bool second_pushed = false;
  det_thread second_pusher(
      [&] {
        const handoff::status r = s.push_for(move_throws(false, 99), std::chrono::hours(1));
        DET_CHECK(r == handoff::status::ok || r == handoff::status::timeout);  // det_sync injects timeouts
        second_pushed = r == handoff::status::ok;
      },
      "second pusher");
  move_throws bad(true, 1);
  bool threw = false;
  handoff::status r = handoff::status::ok;
  try {
    r = s.push_for(std::move(bad), std::chrono::hours(1));
  } catch (const std::runtime_error&) {
    threw = true;
  }
  DET_CHECK(threw || r == handoff::status::timeout);
  second_pusher.join();
  s.close();
  popper.join();
  while (auto v = s.try_pop()) popped.push_back(v->value);
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 0; i < Cap; ++i) want.push_back(10 + i);
  if (second_pushed) want.push_back(99);
  DET_CHECK_MSG(popped == want, "popped " + sc::show(popped));
}

// G-7, invariant 9 of stream.hpp (issue 16, break 2): a pop whose deadline has passed, or whose stop was
// requested, finding the head's push in flight behind a later published push, claims the head index (and
// waits in take() for that one push, as try_pop does) instead of waiting unclaimed for its publication. Push
// A claims index 0 and stalls inside its move (a gate the scenario holds closed); push B publishes index 1;
// popper P, in one of the forms below, must claim index 0 at once, which the main thread sees as the head
// moving (size() drops to 1); then a try_pop takes B's value at index 1 while A still stalls. Without the
// claim branch, P waits unclaimed on index 0 (the head never moves while A stalls) and the scenario ends in
// STEP BOUND.
struct stalling {
  bool stall = false;
  std::uint64_t value = 0;
  bool* entered = nullptr;  // set when the stalling move starts (A has claimed its index)
  bool* release = nullptr;  // the gate
  stalling(bool s, std::uint64_t v, bool* e, bool* r) : stall(s), value(v), entered(e), release(r) {}
  stalling(stalling&& o) : stall(o.stall), value(o.value), entered(o.entered), release(o.release) {
    if (!stall) return;
    *entered = true;
    while (!*release) handoff_test::det_yield();
  }
  stalling& operator=(stalling&& o) noexcept {
    value = o.value;
    return *this;
  }
};

enum class give_up_form {
  pop_for_result,
  pop_until_result,
  pop_for_out,
  pop_stop_result,
  pop_stop_out,
  pop_for_stop_result
};

std::optional<std::uint64_t> pop_giving_up(handoff::stream<stalling, det_sync>& s, give_up_form f) {
  std::stop_source stopped;
  stopped.request_stop();
  stalling out(false, 0, nullptr, nullptr);
  status st = status::empty;
  switch (f) {
    case give_up_form::pop_for_result:
      if (auto r = s.pop_for(std::chrono::seconds(0))) return r->value;
      return std::nullopt;
    case give_up_form::pop_until_result:
      if (auto r = s.pop_until(std::chrono::steady_clock::now() - std::chrono::seconds(1))) return r->value;
      return std::nullopt;
    case give_up_form::pop_for_out:
      st = s.pop_for(out, std::chrono::seconds(0));
      break;
    case give_up_form::pop_stop_result:
      if (auto r = s.pop(stopped.get_token())) return r->value;
      return std::nullopt;
    case give_up_form::pop_stop_out:
      st = s.pop(out, stopped.get_token());
      break;
    case give_up_form::pop_for_stop_result:  // a far deadline, a stop already requested
      if (auto r = s.pop_for(std::chrono::hours(1), stopped.get_token())) return r->value;
      return std::nullopt;
  }
  if (st == status::ok) return out.value;
  return std::nullopt;
}

void giving_up_pop_claims_past_a_stalled_push(give_up_form f) {
  handoff::stream<stalling, det_sync> s{4};
  bool entered = false, release = false;
  det_thread a([&] { DET_CHECK(s.push(stalling(true, 1, &entered, &release))); }, "stalled pusher");
  while (!entered) handoff_test::det_yield();
  DET_CHECK(s.push(stalling(false, 2, nullptr, nullptr)));  // index 1, published
  std::optional<std::uint64_t> got;
  det_thread p([&] { got = pop_giving_up(s, f); }, "popper giving up");
  while (s.size() != 1) handoff_test::det_yield();  // P claimed index 0 (invariant 9's claim branch)
  auto b = s.try_pop();
  DET_CHECK_MSG(b.has_value() && b->value == 2, "try_pop did not take the published index 1");
  release = true;
  a.join();
  p.join();
  DET_CHECK_MSG(got == std::optional<std::uint64_t>(1), "the popper that claimed index 0 got another value");
  DET_CHECK(s.size() == 0);
}

TEST(DetStream, PassedDeadlinePopClaimsPastAStalledPush_PopForResult_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_for_result); });
}
TEST(DetStream, PassedDeadlinePopClaimsPastAStalledPush_PopUntilResult_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_until_result); });
}
TEST(DetStream, PassedDeadlinePopClaimsPastAStalledPush_PopForOut_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_for_out); });
}
TEST(DetStream, StoppedPopClaimsPastAStalledPush_PopStopResult_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_stop_result); });
}
TEST(DetStream, StoppedPopClaimsPastAStalledPush_PopStopOut_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_stop_out); });
}
TEST(DetStream, StoppedPopClaimsPastAStalledPush_PopForStopResult_G7) {
  det_expect_clean([] { giving_up_pop_claims_past_a_stalled_push(give_up_form::pop_for_stop_result); });
}

TEST(DetStream, BlockedPushThrowsOnAFullStream_Cap1_G1_G2_G8) {
  det_expect_clean([] { blocked_push_throws_on_a_full_stream<1>(); });
}
TEST(DetStream, BlockedPushThrowsOnAFullStream_Cap2_G1_G2_G8) {
  det_expect_clean([] { blocked_push_throws_on_a_full_stream<2>(); });
}
TEST(DetStream, BlockedPushThrowsOnAFullStream_Cap16_G1_G2_G8) {
  det_expect_clean([] { blocked_push_throws_on_a_full_stream<16>(); });
}

TEST(DetStream, GivenBackClaimsWakeAnUnclaimedPopper_Cap2_G1_G8) {
  det_expect_clean([] { given_back_claims_wake_an_unclaimed_popper<2>(); });
}
TEST(DetStream, GivenBackClaimsWakeAnUnclaimedPopper_Cap4_G1_G8) {
  det_expect_clean([] { given_back_claims_wake_an_unclaimed_popper<4>(); });
}

TEST(DetStream, GiveBackRacingAPopper_Cap1_G1_G8) {
  det_expect_clean([] { give_back_racing_a_popper<1>(); });
}
TEST(DetStream, GiveBackRacingAPopper_Cap16_G1_G8) {
  det_expect_clean([] { give_back_racing_a_popper<16>(); });
}
TEST(DetStream, GiveBackRacingAPopper_Cap4_G1_G8) {
  det_expect_clean([] { give_back_racing_a_popper<4>(); });
}

}  // namespace
