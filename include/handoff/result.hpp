// ---------------------------------------------------------------------------------------------------------------
// handoff/result.hpp: result<T>, the one shape every receiving operation that can fail returns.
//
// Purpose: a std::optional<T> that also says why it is empty. Every timed, cancellable and try_ receive of
// every primitive (mvar take/read/swap forms, stream and subscription pops, condition waits) returns one:
//
//   if (auto v = s.pop_for(50ms)) use(*v);                  // as an optional: the value, if there is one
//   else if (v.status() == handoff::status::closed) stop(); // and why there is none: closed, timeout, ...
//
// It *is* a std::optional<T> (public base): every optional member, comparison and conversion works, and a
// result converts to std::optional<T> by slicing, so code written against the optional-returning forms
// compiles unchanged. status() is status::ok exactly when has_value(); otherwise it is the reason (empty,
// full, closed, timeout, cancelled), with the same meaning as the status returned by the send-side forms.
// result<void> carries only the status (condition<void>'s waits): explicit operator bool is status() == ok.
//
// Invariant: has_value() == (status() == status::ok), for every result a handoff primitive returns. Code that
// reassigns the optional part (r = std::nullopt) takes that invariant into its own hands; status() then still
// reports what the operation answered.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "status.hpp"

namespace handoff {

namespace detail {
struct result_access;
}  // namespace detail

template <class T>
class result : public std::optional<T> {
  static_assert(!std::is_reference_v<T>, "result<T> holds objects");

 public:
  using value_type = T;

  // Empty, for `why` (anything but ok; ok with no value is a precondition violation the primitives never
  // make).
  constexpr result(handoff::status why = handoff::status::empty) noexcept : why_(why) {}  // NOLINT: implicit
  // Holding a value: status() is ok.
  template <class... Args>
  constexpr explicit result(std::in_place_t, Args&&... args)
      : std::optional<T>(std::in_place, std::forward<Args>(args)...), why_(handoff::status::ok) {}

  // ok when it holds a value; otherwise why not (empty, full, closed, timeout, cancelled).
  constexpr handoff::status status() const noexcept { return why_; }

 private:
  friend struct detail::result_access;
  handoff::status why_;
};

template <>
class result<void> {
 public:
  using value_type = void;

  constexpr result(handoff::status why = handoff::status::empty) noexcept : why_(why) {}  // NOLINT: implicit

  constexpr handoff::status status() const noexcept { return why_; }
  constexpr bool has_value() const noexcept { return why_ == handoff::status::ok; }
  constexpr explicit operator bool() const noexcept { return has_value(); }
  friend constexpr bool operator==(const result&, const result&) noexcept = default;

 private:
  handoff::status why_;
};

namespace detail {
// For the primitives: fill a result in place (its optional part is where the value is moved, once) and then
// set its status. Keeping the result a single named object lets the returning function elide it (NRVO), so
// the value moves only from the primitive into the caller's result.
struct result_access {
  template <class T>
  static std::optional<T>& value_slot(result<T>& r) noexcept {
    return r;
  }
  template <class T>
  static void set_status(result<T>& r, status why) noexcept {
    r.why_ = why;
  }
};
}  // namespace detail

}  // namespace handoff
