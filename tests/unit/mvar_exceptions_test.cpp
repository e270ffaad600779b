// mvar<T> with a T whose move constructor throws (G-8, MV-5, MV-6, MV-9): a failed take leaves the value in
// the box, a failed swap leaves the old value in the box and v with the caller, and no value is ever lost,
// whichever move throws. The value must leave the box with exactly one move, into what the call returns
// (mvar.hpp invariant 8), on the uncontended path and when a waiting taker is served by a put.
//
// How: `flaky` counts the moves made by the current thread; a test arms it to throw on the (k+1)-th move
// from now, for k = 0, 1, 2, and checks after every call that the value 42 is in exactly one place: the box
// or the caller's hands.
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <thread>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

struct move_failure : std::runtime_error {
  move_failure() : std::runtime_error("flaky: planned move failure") {}
};

// Moves made by this thread from now on until one throws; -1 = disarmed.
thread_local int moves_until_throw = -1;

struct flaky {
  int value = 0;
  explicit flaky(int v) : value(v) {}
  flaky(const flaky&) = default;
  flaky(flaky&& other) : value(other.value) {  // NOLINT: deliberately not noexcept
    if (moves_until_throw >= 0 && moves_until_throw-- == 0) throw move_failure();
    other.value = -1;  // a moved-from flaky is recognisable
  }
  flaky& operator=(const flaky&) = default;
  flaky& operator=(flaky&&) = default;
};
static_assert(!std::is_nothrow_move_constructible_v<flaky>);

void arm(int k) {
  moves_until_throw = k;
}
void disarm() {
  moves_until_throw = -1;
}

template <class Sync>
class MvarExceptionsTest : public ::testing::Test {};
TYPED_TEST_SUITE(MvarExceptionsTest, handoff_test::real_backends, handoff_test::backend_names);

template <class Sync>
using box = handoff::mvar<flaky, Sync>;

// What the box holds now (emptying it), for the bookkeeping after each call.
template <class Sync>
std::optional<int> drain(box<Sync>& m) {
  disarm();
  auto v = m.try_take();
  return v ? std::optional<int>(v->value) : std::nullopt;
}

// The one check: 42 is either returned (then the box is empty) or still in the box (then the call threw).
template <class Sync>
void expect_exactly_once(box<Sync>& m, const std::optional<int>& returned, bool threw, int k) {
  const std::optional<int> left = drain(m);
  if (threw) {
    EXPECT_FALSE(returned) << "k=" << k;
    EXPECT_EQ(left, 42) << "k=" << k << ": a failed take must leave the value in the box";
  } else {
    EXPECT_EQ(returned, 42) << "k=" << k;
    EXPECT_EQ(left, std::nullopt) << "k=" << k;
  }
}

TYPED_TEST(MvarExceptionsTest, TakeOnFullBoxLosesNothingWhicheverMoveThrows) {  // G-8, MV-5
  for (int k = 0; k <= 2; ++k) {
    box<TypeParam> m{flaky(42)};
    std::optional<int> got;
    bool threw = false;
    arm(k);
    try {
      got = m.take().value;
    } catch (const move_failure&) {
      threw = true;
    }
    expect_exactly_once(m, got, threw, k);
  }
}

TYPED_TEST(MvarExceptionsTest, ResultFormsLoseNothingWhicheverMoveThrows) {  // G-8, MV-5, MV-7, G-7
  for (int form = 0; form < 4; ++form) {
    for (int k = 0; k <= 2; ++k) {
      box<TypeParam> m{flaky(42)};
      std::optional<int> got;
      bool threw = false;
      arm(k);
      try {
        std::stop_source never_stopped;
        handoff::result<flaky> r = form == 0   ? m.try_take()
                                   : form == 1 ? m.take_for(1h)
                                   : form == 2 ? m.take(never_stopped.get_token())
                                               : m.take_for(1h, never_stopped.get_token());
        disarm();
        ASSERT_EQ(r.status(), status::ok);
        got = r->value;
      } catch (const move_failure&) {
        threw = true;
      }
      SCOPED_TRACE(form);
      expect_exactly_once(m, got, threw, k);
    }
  }
}

TYPED_TEST(MvarExceptionsTest, TakerServedByAPutLosesNothingWhicheverMoveThrows) {  // G-8, MV-3, MV-6
  for (int k = 0; k <= 2; ++k) {
    box<TypeParam> m;
    auto taker = std::async(std::launch::async, [&]() -> std::optional<int> {
      arm(k);  // only the taker's own moves count
      try {
        const int v = m.take().value;
        disarm();
        return v;
      } catch (const move_failure&) {
        disarm();
        return std::nullopt;
      }
    });
    until([&] { return m.waiting().takers == 1; }, "the taker registered");
    m.put(flaky(42));
    const std::optional<int> got = get_or_abort(std::move(taker), "take() served by put()");
    expect_exactly_once(m, got, !got.has_value(), k);
  }
}

TYPED_TEST(MvarExceptionsTest, SwapLosesNothingWhicheverMoveThrows) {  // G-8, MV-9
  for (int k = 0; k <= 3; ++k) {
    box<TypeParam> m{flaky(42)};
    flaky mine(7);
    std::optional<int> got;
    arm(k);
    try {
      got = m.swap(std::move(mine)).value;
    } catch (const move_failure&) {
    }
    disarm();
    const std::optional<int> left = drain(m);
    if (got) {
      EXPECT_EQ(*got, 42) << "k=" << k;
      EXPECT_EQ(left, 7) << "k=" << k;
    } else {
      EXPECT_EQ(left, 42) << "k=" << k << ": a failed swap leaves the old value in the box";
      EXPECT_EQ(mine.value, 7) << "k=" << k << ": and v with the caller";
    }
  }
}

TYPED_TEST(MvarExceptionsTest, WaitingSwapperLosesNothingWhicheverMoveThrows) {  // G-8, MV-9, MV-6
  for (int k = 0; k <= 3; ++k) {
    box<TypeParam> m;
    flaky mine(7);
    auto swapper = std::async(std::launch::async, [&]() -> std::optional<int> {
      arm(k);
      try {
        const int v = m.swap(std::move(mine)).value;
        disarm();
        return v;
      } catch (const move_failure&) {
        disarm();
        return std::nullopt;
      }
    });
    until([&] { return m.waiting().takers == 1; }, "the swapper registered");
    m.put(flaky(42));
    const std::optional<int> got = get_or_abort(std::move(swapper), "swap() served by put()");
    const std::optional<int> left = drain(m);
    if (got) {
      EXPECT_EQ(*got, 42) << "k=" << k;
      EXPECT_EQ(left, 7) << "k=" << k;
    } else {
      EXPECT_EQ(left, 42) << "k=" << k;
      EXPECT_EQ(mine.value, 7) << "k=" << k;
    }
  }
}

TYPED_TEST(MvarExceptionsTest, ReadLeavesTheBoxAsItWas) {  // G-8, MV-9
  for (int k = 0; k <= 2; ++k) {
    box<TypeParam> m{flaky(42)};
    arm(k);
    try {
      EXPECT_EQ(m.read().value, 42);
    } catch (const move_failure&) {
    }
    EXPECT_EQ(drain(m), 42) << "k=" << k;
  }
}

// A box served by hand-over (invariant 8) keeps serving: takers queued behind the one whose move threw get
// later values in order, and the box is usable afterwards.
TYPED_TEST(MvarExceptionsTest, HandOverKeepsFifoAfterAThrow) {  // G-8, G-3, MV-6
  box<TypeParam> m;
  auto first = std::async(std::launch::async, [&]() -> std::optional<int> {
    arm(0);
    try {
      return m.take().value;
    } catch (const move_failure&) {
      disarm();
      return std::nullopt;
    }
  });
  until([&] { return m.waiting().takers == 1; }, "the first taker registered");
  auto second = std::async(std::launch::async, [&] { return m.take().value; });
  until([&] { return m.waiting().takers == 2; }, "the second taker registered");
  m.put(flaky(1));  // handed to the first taker, whose move throws: 1 stays in the box
  EXPECT_EQ(get_or_abort(std::move(first), "first take"), std::nullopt);
  // The first taker left; the box still holds 1, which belongs to the next taker in line.
  EXPECT_EQ(get_or_abort(std::move(second), "second take"), 1);
  EXPECT_TRUE(m.is_empty());
  m.put(flaky(2));
  EXPECT_EQ(m.take().value, 2);
}

}  // namespace
