// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/deadline.hpp: one representation of "when to give up", built once at the API edge.
//
// Purpose: every _for/_until overload converts its argument here, so the waiting core sees only two clocks:
//   - steady (CLOCK_MONOTONIC): durations, steady_clock deadlines, and any user clock (converted once, at the
//   call,
//     as steady_now + (t - Clock::now()));
//   - system (CLOCK_REALTIME): system_clock deadlines stay absolute wall-clock times, so a wall-clock jump
//   moves
//     them as the caller asked (the parking backends wait on CLOCK_REALTIME for these).
// Durations and deadlines too far away to represent (e.g. duration::max()) saturate to "never"; a deadline in
// the past is simply already passed (rule G-7: it behaves like try_).
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
    const std::int64_t delta = saturating_ns(d);
    if (delta >= kFar) return never();
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    return deadline{clock_kind::steady, now + (delta < -kFar ? -kFar : delta)};
  }

  template <class Clock, class Duration>
  static deadline at(std::chrono::time_point<Clock, Duration> t) noexcept {
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
      const std::int64_t ns = saturating_ns(t.time_since_epoch());
      return ns >= kFar ? never() : deadline{clock_kind::steady, ns};
    } else if constexpr (std::is_same_v<Clock, std::chrono::system_clock>) {
      const std::int64_t ns = saturating_ns(t.time_since_epoch());
      return ns >= kFar ? never() : deadline{clock_kind::system, ns};
    } else {
      return after(t - Clock::now());  // any other clock: measured against its own now, once
    }
  }

  constexpr clock_kind kind() const noexcept { return kind_; }
  constexpr bool is_never() const noexcept { return kind_ == clock_kind::never; }
  // Nanoseconds since the epoch of kind()'s clock (steady_clock or system_clock).
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

  constexpr deadline(clock_kind k, std::int64_t ns) noexcept : kind_(k), ns_(ns) {}

  template <class Rep, class Period>
  static std::int64_t saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
    using wide = std::chrono::duration<long double, std::nano>;
    const long double x = std::chrono::duration_cast<wide>(d).count();
    if (!(x < static_cast<long double>(kFar))) return kFar;  // also catches NaN
    if (x <= -static_cast<long double>(kFar)) return -kFar;
    return static_cast<std::int64_t>(x);
  }

  template <class Clock>
  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  }

  clock_kind kind_ = clock_kind::never;
  std::int64_t ns_ = 0;
};

}  // namespace handoff::detail
