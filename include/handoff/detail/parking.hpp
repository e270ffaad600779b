// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/parking.hpp: the platform wait, the only place a thread sleeps.
//
// Purpose: "sleep while this 32-bit word still holds `expected`" and "wake sleepers on this word", in two
// backends compiled into lib/:
//   - futex_parking (Linux, lib/park_futex.cpp): private futex; timed waits use FUTEX_WAIT_BITSET with an
//   absolute
//     CLOCK_MONOTONIC or CLOCK_REALTIME deadline, so EINTR is retried without stretching the deadline.
//   - portable_parking (lib/park_portable.cpp): a fixed table of mutex + condition_variable slots hashed by
//   address.
// Contract shared by both (tests/unit/waiting_core_test.cpp runs the same typed tests on each):
//   - wait/wait_until return when the word no longer holds `expected`, when woken, or spuriously; callers
//   always
//     re-check their own condition in a loop. wait_until returns false only if the deadline has passed.
//   - The check of `expected` and the decision to sleep are atomic with respect to wake_*(): a waker that
//   changes
//     the word and then calls wake_* cannot be missed.
//   - wake_* never dereferences the word; it may be called on the address of an object that has just been
//     destroyed (a waiter that saw its hand-off complete may return before the waker calls wake).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

#include "deadline.hpp"

namespace handoff::detail {

using park_word = std::atomic<std::uint32_t>;

#if defined(__linux__)
#define HANDOFF_HAVE_FUTEX 1
struct futex_parking {
  static void wait(park_word& word, std::uint32_t expected) noexcept;
  static bool wait_until(park_word& word, std::uint32_t expected, const deadline& d) noexcept;
  static void wake_one(park_word& word) noexcept;
  static void wake_all(park_word& word) noexcept;
};
#endif

struct portable_parking {
  static void wait(park_word& word, std::uint32_t expected) noexcept;
  static bool wait_until(park_word& word, std::uint32_t expected, const deadline& d) noexcept;
  static void wake_one(park_word& word) noexcept;
  static void wake_all(park_word& word) noexcept;
};

}  // namespace handoff::detail
