// detail::deadline: rule G-7 ("deadlines use any std::chrono clock; a deadline in the past behaves like
// try_") at the edges of every representation. Each conversion must saturate without signed overflow: a
// duration or time point too far ahead (max() of its type, or beyond ~146 years) is never(), one too far
// behind (min()) has already passed. Clocks covered: steady, system, high_resolution, file_clock (whose epoch
// lies in the future on libstdc++, so its now() is negative), and user clocks defined here with a negative
// epoch, an unsigned, a floating-point, a 32-bit and a huge-period representation. The last tests go through
// mvar's public take_until/take_for. Registration is established through mvar::waiting(), never by sleeping,
// and no assertion depends on how long anything takes beyond the one-hour margins of "ordinary" deadlines.
#include <handoff/detail/deadline.hpp>
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <ratio>
#include <type_traits>

#include "support/watchdog.hpp"

// The user clocks live in a named namespace: clang flags an unused `is_steady` of a class in an unnamed one.
namespace deadline_test_clocks {

inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// now() is about -6.9e18 ns (2^62 + 2^61 before its epoch): t - now() overflows int64 for any t beyond
// about +2.3e18 ns, max() included.
struct negative_epoch_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<negative_epoch_clock>;
  static constexpr bool is_steady = true;
  static constexpr rep offset = (rep{1} << 62) + (rep{1} << 61);
  static time_point now() noexcept { return time_point(duration(steady_ns() - offset)); }
};

// Unsigned ticks: t - now() of a past t wraps around to a huge positive difference instead of a negative one.
struct unsigned_clock {
  using rep = std::uint64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<unsigned_clock>;
  static constexpr bool is_steady = true;
  // Two hours past the epoch at boot, so now() - 1h is representable however recently the machine started.
  static time_point now() noexcept {
    return time_point(duration(static_cast<rep>(steady_ns()) + rep{7'200'000'000'000}));
  }
};

// Floating-point seconds: max() is DBL_MAX seconds, min() is -DBL_MAX.
struct double_seconds_clock {
  using rep = double;
  using period = std::ratio<1>;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<double_seconds_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept { return time_point(duration(static_cast<double>(steady_ns()) / 1e9)); }
};

// 32-bit seconds: max() is only 68 years away, representable in nanoseconds, yet max() still means never.
struct int32_seconds_clock {
  using rep = std::int32_t;
  using period = std::ratio<1>;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<int32_seconds_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    return time_point(duration(static_cast<rep>(steady_ns() / 1'000'000'000 + 7'200)));
  }
};

// A tick of 10^18 seconds: converting it to nanoseconds with std::ratio arithmetic overflows at compile time.
using eon = std::chrono::duration<std::int64_t, std::ratio<1'000'000'000'000'000'000>>;
struct eon_clock {
  using rep = eon::rep;
  using period = eon::period;
  using duration = eon;
  using time_point = std::chrono::time_point<eon_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept { return time_point(duration(0)); }
};

}  // namespace deadline_test_clocks

namespace {

using namespace std::chrono_literals;
using namespace deadline_test_clocks;
using handoff::status;
using handoff::detail::deadline;
using handoff_test::get_or_abort;
using handoff_test::until;

// ---------------------------------------------------------------- durations: after()

template <class D>
class DeadlineDurationTest : public ::testing::Test {};
using duration_types = ::testing::Types<std::chrono::nanoseconds,                             // int64 ns
                                        std::chrono::duration<std::int32_t>,                  // int32 s
                                        std::chrono::duration<std::int16_t, std::ratio<60>>,  // int16 min
                                        std::chrono::duration<double>,                        // double s
                                        std::chrono::duration<float, std::milli>,             // float ms
                                        std::chrono::duration<long double, std::nano>,     // long double ns
                                        std::chrono::duration<std::uint32_t, std::milli>,  // unsigned ms
                                        std::chrono::duration<std::uint64_t, std::nano>,   // unsigned ns
                                        std::chrono::hours, eon>;
TYPED_TEST_SUITE(DeadlineDurationTest, duration_types);

TYPED_TEST(DeadlineDurationTest, G7_MaxDurationIsNever) {
  EXPECT_TRUE(deadline::after((TypeParam::max)()).is_never());
  EXPECT_FALSE(deadline::after((TypeParam::max)()).passed());
}

TYPED_TEST(DeadlineDurationTest, G7_MinAndZeroDurationHavePassedAtOnce) {
  // For an unsigned rep min() is zero: both are "now", which has passed by the time passed() looks.
  EXPECT_FALSE(deadline::after((TypeParam::min)()).is_never());
  EXPECT_TRUE(deadline::after((TypeParam::min)()).passed());
  EXPECT_TRUE(deadline::after(TypeParam::zero()).passed());
}

TYPED_TEST(DeadlineDurationTest, G7_OrdinaryDurationIsFiniteAndPending) {
  // One hour in the type's own ticks (rounded up, so never zero); a tick larger than that is simply further.
  const deadline d = deadline::after(std::chrono::ceil<TypeParam>(std::chrono::hours(1)));
  if constexpr (std::is_same_v<TypeParam, eon>) {
    EXPECT_TRUE(d.is_never());  // one tick, 10^18 s, is beyond any representable deadline
    return;
  }
  EXPECT_FALSE(d.is_never());
  EXPECT_EQ(d.kind(), deadline::clock_kind::steady);
  EXPECT_FALSE(d.passed());
  EXPECT_GT(d.nanoseconds_since_epoch(), steady_ns());
}

TEST(DeadlineDuration, G7_NegativeDurationHasPassed) {
  EXPECT_TRUE(deadline::after(-1h).passed());
  EXPECT_TRUE(deadline::after(std::chrono::duration<double>(-1e300)).passed());
  EXPECT_TRUE(deadline::after(eon(-1)).passed());
  EXPECT_TRUE(deadline::after(std::chrono::duration<std::int64_t, std::ratio<INTMAX_MAX>>(-1)).passed());
}

TEST(DeadlineDuration, G7_BeyondRepresentableIsNever) {
  EXPECT_TRUE(deadline::after(eon(1)).is_never());
  EXPECT_TRUE(deadline::after(std::chrono::duration<std::int64_t, std::ratio<INTMAX_MAX>>(1)).is_never());
  EXPECT_TRUE(deadline::after(std::chrono::duration<double>(1e300)).is_never());
  EXPECT_TRUE(deadline::after(std::chrono::hours(1'000'000'000)).is_never());
}

TEST(DeadlineDuration, G7_InfiniteFloatingDurations) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(deadline::after(std::chrono::duration<double>(inf)).is_never());
  EXPECT_TRUE(deadline::after(std::chrono::duration<double>(-inf)).passed());
}

// ---------------------------------------------------------------- time points: at()

template <class Clock>
class DeadlineClockTest : public ::testing::Test {};
using clock_types =
    ::testing::Types<std::chrono::steady_clock, std::chrono::system_clock, std::chrono::high_resolution_clock,
                     std::chrono::file_clock, negative_epoch_clock, unsigned_clock, double_seconds_clock,
                     int32_seconds_clock>;
TYPED_TEST_SUITE(DeadlineClockTest, clock_types);

TYPED_TEST(DeadlineClockTest, G7_MaxTimePointIsNever) {
  const deadline d = deadline::at((TypeParam::time_point::max)());
  EXPECT_TRUE(d.is_never());
  EXPECT_FALSE(d.passed());
}

TYPED_TEST(DeadlineClockTest, G7_MinTimePointHasPassedAtOnce) {
  const deadline d = deadline::at((TypeParam::time_point::min)());
  EXPECT_FALSE(d.is_never());
  EXPECT_TRUE(d.passed());
}

TYPED_TEST(DeadlineClockTest, G7_OrdinaryTimePointsAreFinite) {
  const deadline ahead = deadline::at(TypeParam::now() + 1h);
  EXPECT_FALSE(ahead.is_never());
  EXPECT_FALSE(ahead.passed());
  const deadline behind = deadline::at(TypeParam::now() - 1h);
  EXPECT_FALSE(behind.is_never());
  EXPECT_TRUE(behind.passed());
}

TYPED_TEST(DeadlineClockTest, G7_TimePointsOfOtherDurationsSaturate) {
  // Time points of the clock with a duration other than its own: far-reaching and floating-point ones.
  using hours_point = std::chrono::time_point<TypeParam, std::chrono::hours>;
  using double_point = std::chrono::time_point<TypeParam, std::chrono::duration<double>>;
  using eon_point = std::chrono::time_point<TypeParam, eon>;
  EXPECT_TRUE(deadline::at((hours_point::max)()).is_never());
  EXPECT_TRUE(deadline::at((hours_point::min)()).passed());
  EXPECT_TRUE(deadline::at((double_point::max)()).is_never());
  EXPECT_TRUE(deadline::at((double_point::min)()).passed());
  EXPECT_TRUE(deadline::at((eon_point::max)()).is_never());
  EXPECT_TRUE(deadline::at((eon_point::min)()).passed());
  EXPECT_TRUE(deadline::at(eon_point(eon(1'000))).is_never());
  EXPECT_TRUE(deadline::at(eon_point(eon(-1'000))).passed());
}

TEST(DeadlineClock, G7_SteadyAndSystemKeepTheirClock) {
  EXPECT_EQ(deadline::at(std::chrono::steady_clock::now() + 1h).kind(), deadline::clock_kind::steady);
  EXPECT_EQ(deadline::at(std::chrono::system_clock::now() + 1h).kind(), deadline::clock_kind::system);
  // Any other clock is measured against its own now() once and waits on the steady clock.
  EXPECT_EQ(deadline::at(std::chrono::file_clock::now() + 1h).kind(), deadline::clock_kind::steady);
  EXPECT_EQ(deadline::at(negative_epoch_clock::now() + 1h).kind(), deadline::clock_kind::steady);
}

TEST(DeadlineClock, G7_HugePeriodClock) {
  EXPECT_TRUE(deadline::at((eon_clock::time_point::max)()).is_never());
  EXPECT_TRUE(deadline::at((eon_clock::time_point::min)()).passed());
  EXPECT_TRUE(deadline::at(eon_clock::now() + eon(1)).is_never());
  EXPECT_TRUE(deadline::at(eon_clock::now() - eon(1)).passed());
  EXPECT_TRUE(deadline::at(eon_clock::now()).passed());
}

// ---------------------------------------------------------------- through the public API

// A past deadline of any clock answers like try_take; a conversion that wrapped around to "far ahead" would
// wait forever instead, which the watchdog reports.
template <class F>
handoff::result<int> take_on_watchdog(F take, const char* what) {
  return get_or_abort(std::async(std::launch::async, take), what);
}

TEST(DeadlineMvar, G7_TakeUntilMinOfAnyClockIsATry) {
  handoff::mvar<int> box;
  const auto r1 =
      take_on_watchdog([&] { return box.take_until((std::chrono::file_clock::time_point::min)()); },
                       "take_until(file_clock min)");
  EXPECT_FALSE(r1.has_value());
  EXPECT_EQ(r1.status(), status::timeout);
  const auto r2 = take_on_watchdog([&] { return box.take_until((negative_epoch_clock::time_point::min)()); },
                                   "take_until(negative_epoch_clock min)");
  EXPECT_FALSE(r2.has_value());
  EXPECT_EQ(r2.status(), status::timeout);
  const auto r3 = take_on_watchdog([&] { return box.take_for((std::chrono::nanoseconds::min)()); },
                                   "take_for(nanoseconds min)");
  EXPECT_FALSE(r3.has_value());
  EXPECT_EQ(r3.status(), status::timeout);

  // A full box answers at once, as try_take would.
  box.put(5);
  const auto r4 =
      take_on_watchdog([&] { return box.take_until((std::chrono::file_clock::time_point::min)()); },
                       "take_until(file_clock min) on a full box");
  ASSERT_TRUE(r4.has_value());
  EXPECT_EQ(*r4, 5);
}

TEST(DeadlineMvar, G7_TakeUntilUnsignedClockPastIsATry) {
  // An unsigned clock's past deadline must not wrap around to "far ahead".
  handoff::mvar<int> box;
  const auto r = take_on_watchdog([&] { return box.take_until(unsigned_clock::now() - 1h); },
                                  "take_until(unsigned_clock now - 1h)");
  EXPECT_EQ(r.status(), status::timeout);
}

template <class Clock>
void expect_max_waits_for_put() {
  handoff::mvar<int> box;
  auto taker = std::async(std::launch::async, [&] { return box.take_until((Clock::time_point::max)()); });
  // The taker has not given up: it registers and stays registered until the put below serves it.
  until([&] { return box.waiting().takers == 1; }, "take_until(max) registered");
  box.put(7);
  const auto r = get_or_abort(std::move(taker), "take_until(max) after put");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 7);
}

TEST(DeadlineMvar, G7_TakeUntilFileClockMaxWaitsForPut) {
  expect_max_waits_for_put<std::chrono::file_clock>();
}
TEST(DeadlineMvar, G7_TakeUntilNegativeEpochMaxWaitsForPut) {
  expect_max_waits_for_put<negative_epoch_clock>();
}
TEST(DeadlineMvar, G7_TakeUntilUnsignedClockMaxWaitsForPut) {
  expect_max_waits_for_put<unsigned_clock>();
}

}  // namespace
