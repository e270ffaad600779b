// ---------------------------------------------------------------------------------------------------------------
// handoff/choose.hpp: choose(s1, s2, ...), one reader over several streams (Lwt_stream.choose), built on
// select (handoff/select.hpp).
//
//   handoff::stream<event> network{256}, timers{64};
//   auto events = handoff::choose(network, timers);
//   while (std::optional<event> e = events.pop()) handle(*e);   // ends when both are closed and drained
//
// Invariants:
//   1. Each pop is one select over the streams not yet seen closed and drained: it takes exactly one value
//      from exactly one of them (SE-1), in that stream's FIFO order (ST-4); nothing else is consumed. Which
//      stream a pop serves when several have values is random (SE-4: each about equally often); with
//      handoff::biased at construction the first ready stream in argument order wins.
//   2. A stream seen closed and drained is never selected again (its case is disabled); the reader ends
//      (pop returns nullopt / status closed) once every stream is. A stream keeps its other readers: plain
//      poppers of the same stream are served in FIFO order with the reader's pops (ST-4, SE-2).
//   3. No allocation; the streams must outlive the reader. Not thread-safe itself: one reader per thread
//      (several threads may each have their own reader over the same streams).
// Values move twice: from the stream into the case's optional (the select's hand-off), then into the
// returned object; a T whose second move throws loses that value (the first move's guarantees are select's).
// When to choose and when to select: docs/choosing.md.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <tuple>
#include <utility>

#include "result.hpp"
#include "select.hpp"
#include "status.hpp"
#include "stream.hpp"

namespace handoff {

template <class T, class Sync, std::size_t N>
class chooser {
 public:
  template <class... Streams>
  explicit chooser(bool in_order, Streams&... s) noexcept
      : in_order_(in_order), cases_{pop_case<T, Sync>(s)...} {}
  chooser(const chooser&) = delete;
  chooser& operator=(const chooser&) = delete;

  // The next value from any of the streams; nullopt once every stream is closed and drained.
  std::optional<T> pop() {
    result<T> r = next(detail::select_mode::wait, detail::deadline::never(), nullptr);
    if (!r.has_value()) return std::nullopt;
    return std::optional<T>(std::move(*r));
  }
  // ok with a value, or empty (try_pop) / timeout / cancelled / closed (every stream closed and drained).
  [[nodiscard]] result<T> try_pop() {
    return next(detail::select_mode::try_only, detail::deadline::never(), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> pop_for(std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return next(detail::select_mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> pop_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st = {}) {
    return next(detail::select_mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  [[nodiscard]] result<T> pop(std::stop_token st) {
    return next(detail::select_mode::wait, detail::deadline::never(), detail::stop_ptr(st));
  }

  // How many of the streams are not yet seen closed and drained.
  std::size_t open() const noexcept {
    std::size_t n = 0;
    for (const auto& c : cases_) n += c.enabled();
    return n;
  }

 private:
  result<T> next(detail::select_mode m, const detail::deadline& d, const std::stop_token* st) {
    for (;;) {
      if (open() == 0) return status::closed;
      const selected r =
          std::apply([&](auto&... c) { return detail::run_select<Sync>(in_order_, m, d, st, c...); }, cases_);
      if (r.index() == selected::none) return r.status();  // empty, timeout, cancelled
      pop_case<T, Sync>& won = cases_[r.index()];
      if (r.status() == status::closed) {
        won.disable();  // closed and drained: never selected again
        continue;
      }
      result<T> out(std::in_place, std::move(*won.value));
      won.value.reset();
      return out;
    }
  }

  bool in_order_;
  std::array<pop_case<T, Sync>, N> cases_;
};

// choose(s1, s2, ...): a reader over the streams (all stream<T, Sync>); choose(biased, ...) prefers earlier
// streams when several have values.
template <class T, class Sync, class... More>
chooser<T, Sync, 1 + sizeof...(More)> choose(stream<T, Sync>& first, More&... more) {
  static_assert((std::is_same_v<More, stream<T, Sync>> && ...), "choose: streams of one type");
  return chooser<T, Sync, 1 + sizeof...(More)>(false, first, more...);
}
template <class T, class Sync, class... More>
chooser<T, Sync, 1 + sizeof...(More)> choose(biased_t, stream<T, Sync>& first, More&... more) {
  static_assert((std::is_same_v<More, stream<T, Sync>> && ...), "choose: streams of one type");
  return chooser<T, Sync, 1 + sizeof...(More)>(true, first, more...);
}

}  // namespace handoff
