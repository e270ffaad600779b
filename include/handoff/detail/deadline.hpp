// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/deadline.hpp: one representation of "when to give up", built once at the API edge.
//
// Purpose: every _for/_until overload converts its argument here, so the waiting core sees only two clocks:
//   - steady (CLOCK_MONOTONIC): durations, steady_clock deadlines, and any user clock (converted once, at the
//     call, as steady_now + (t - Clock::now()));
//   - system (CLOCK_REALTIME): system_clock deadlines stay absolute wall-clock times, so a wall-clock jump
//     moves them as the caller asked (the parking backends wait on CLOCK_REALTIME for these).
//
// Saturation (rule G-7, any clock, any representation): every conversion is done in long double nanoseconds,
// count x (num / den) x 10^9, never in the argument's own representation and never with std::ratio
// arithmetic, so nothing can overflow: not t - Clock::now() of a clock whose now() is negative (file_clock on
// libstdc++, whose epoch is in 2174), not an unsigned representation (whose t - now() of a past t would wrap
// around to "far ahead"), not a period too large for std::ratio to convert to nanoseconds. Then:
//   - max() of a duration or time_point type means "no deadline", whatever it stands for (a 32-bit seconds
//     max() is only 68 years away): never;
//   - anything kFar (2^62 ns, ~146 years) or more ahead, +infinity and NaN: never;
//   - anything in the past, min() and -infinity included: already passed at once (it behaves like try_).
// A finite deadline is at least -kFar and below 2 x kFar = 2^63 nanoseconds from its clock's epoch (a steady
// reading, below kFar since boot, plus less than kFar), so it fits int64 and nothing computed from it
// overflows.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace handoff::detail {

class deadline {
 public:
  enum class clock_kind : std::uint8_t { never, steady, system };

  constexpr deadline() noexcept = default;  // never

  static constexpr deadline never() noexcept { return deadline{}; }

  template <class Rep, class Period>
  static deadline after(std::chrono::duration<Rep, Period> d) noexcept {
    if (d == (std::chrono::duration<Rep, Period>::max)()) return never();
    return steady_from_now(to_ns(d));
  }

  template <class Clock, class Duration>
  static deadline at(std::chrono::time_point<Clock, Duration> t) noexcept {
    if (t == (std::chrono::time_point<Clock, Duration>::max)()) return never();
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
      return absolute(clock_kind::steady, to_ns(t.time_since_epoch()));
    } else if constexpr (std::is_same_v<Clock, std::chrono::system_clock>) {
      return absolute(clock_kind::system, to_ns(t.time_since_epoch()));
    } else {
      // Any other clock: measured against its own now, once. Both readings are converted before the
      // subtraction, which therefore neither overflows nor wraps around.
      return steady_from_now(to_ns(t.time_since_epoch()) - to_ns(Clock::now().time_since_epoch()));
    }
  }

  constexpr clock_kind kind() const noexcept { return kind_; }
  constexpr bool is_never() const noexcept { return kind_ == clock_kind::never; }
  // Nanoseconds since the epoch of kind()'s clock (steady_clock or system_clock), in [-2^62, 2^63).
  constexpr std::int64_t nanoseconds_since_epoch() const noexcept { return ns_; }

  // True when the deadline's own clock has reached it.
  bool passed() const noexcept {
    switch (kind_) {
      case clock_kind::never:
        return false;
      case clock_kind::steady:
        return now_ns<std::chrono::steady_clock>() >= ns_;
      case clock_kind::system:
        return now_ns<std::chrono::system_clock>() >= ns_;
    }
    return false;
  }

 private:
  // 2^62 ns is about 146 years: anything further is "never", and sums of two such values cannot overflow.
  static constexpr std::int64_t kFar = std::int64_t{1} << 62;
  static constexpr long double kFarNs = static_cast<long double>(kFar);

  constexpr deadline(clock_kind k, std::int64_t ns) noexcept : kind_(k), ns_(ns) {}

  // d in nanoseconds, without overflow: long double ranges far beyond any count x period and holds every
  // int64 exactly on x86-64 (64-bit mantissa; where long double is only a double, a reading rounds by at most
  // about a microsecond, nothing to a deadline); a floating-point count's infinities and NaN pass through.
  template <class Rep, class Period>
  static long double to_ns(std::chrono::duration<Rep, Period> d) noexcept {
    constexpr long double ns_per_tick =
        static_cast<long double>(Period::num) * 1e9L / static_cast<long double>(Period::den);
    return static_cast<long double>(d.count()) * ns_per_tick;
  }

  // ns clamped to [-kFar, kFar); the caller has already turned kFar and beyond (and NaN) into never().
  static std::int64_t clamp(long double ns) noexcept {
    return ns <= -kFarNs ? -kFar : static_cast<std::int64_t>(ns);
  }

  static deadline absolute(clock_kind k, long double ns_since_epoch) noexcept {
    if (!(ns_since_epoch < kFarNs)) return never();  // also NaN
    return deadline{k, clamp(ns_since_epoch)};
  }

  // now (steady, in [0, kFar): CLOCK_MONOTONIC counts from boot) + delta, delta in [-kFar, kFar): no
  // overflow.
  static deadline steady_from_now(long double delta_ns) noexcept {
    if (!(delta_ns < kFarNs)) return never();  // also NaN
    return deadline{clock_kind::steady, now_ns<std::chrono::steady_clock>() + clamp(delta_ns)};
  }

  template <class Clock>
  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  }

  clock_kind kind_ = clock_kind::never;
  std::int64_t ns_ = 0;
};

}  // namespace handoff::detail
