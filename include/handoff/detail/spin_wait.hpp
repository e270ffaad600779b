// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/spin_wait.hpp: the one spin-then-park wait on a 32-bit word, written once. Every place in
// handoff where a thread waits for another thread's step on a word uses these two pieces:
//   spin_until(word, order, done)   the spin phase: up to Sync::spin_limit relax steps, reading the word
//   until
//                                   done(value) holds. The only spin loop of a wait: a wait policy (how long
//                                   to spin, whether to yield) is changed here, for every wait at once.
//   park_until_ready(word, bit, ready)   spin_until, then the park phase of the wake protocol below, until
//                                   ready(value without `bit`) holds. Used by the stream ring's slot turns
//                                   and the topic's lag wait; wait_core::await (waiter.hpp) adds deadlines,
//                                   stop requests and leaving to the same two phases and calls mark_sleeping
//                                   itself.
//
// The wake protocol (waiter.hpp, point 2; no lost wakeup): the waiter sets `bit` in the word with a
// compare-exchange from the value it just read and parks expecting the value it wrote; the parking layer
// sleeps only while the word still holds it. A waker changes the word with an exchange (or another
// read-modify-write) and wakes when the old value had `bit`. Either the waker's RMW comes first in the word's
// modification order (the waiter's compare-exchange fails, or its park returns at once) or the waiter's does
// (the waker reads `bit` and makes the wake call). Spurious returns from park are absorbed by re-reading.
//
// Memory ordering: spin_until loads with the caller's order (acquire where the value read publishes data,
// relaxed where it is a hint and the caller re-reads); park_until_ready reads with acquire, pairing with the
// waker's release RMW, so what the waker wrote before it is visible once ready() holds. mark_sleeping's
// compare-exchange is relaxed: the bit only asks for a wake; ordering comes from the acquire re-read after
// the park returns.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff::detail {

// The spin phase: reads `word` with `order` up to Sync::spin_limit + 1 times, one Sync::relax() apart, and
// returns the first value for which done(value) holds, or the last value read.
template <class Sync, class Done>
std::uint32_t spin_until(const typename Sync::template atomic<std::uint32_t>& word, std::memory_order order,
                         Done done) noexcept {
  std::uint32_t v = word.load(order);
  for (unsigned spins = 0; spins < Sync::spin_limit && !done(v); ++spins) {
    Sync::relax();
    v = word.load(order);
  }
  return v;
}

// Sets `bit` in `word`, last read as `v`, so that the next waker makes the wake call. Returns true with `v`
// updated to the value to park on; false (with `v` reloaded, relaxed) when the word moved: re-check it.
template <class Sync>
bool mark_sleeping(typename Sync::template atomic<std::uint32_t>& word, std::uint32_t& v,
                   std::uint32_t bit) noexcept {
  if (v & bit) return true;  // already marked (by this thread before a spurious return, or another waiter)
  // relaxed: see the header comment (ordering comes from the caller's acquire re-read after park).
  if (!word.compare_exchange_weak(v, v | bit, std::memory_order_relaxed)) return false;
  v |= bit;
  return true;
}

// Waits until ready(word value without `bit`) holds: the spin phase, then park with the wake protocol.
// Returns the value (with `bit` as read) that satisfied ready(). acquire: pairs with the waker's release RMW.
template <class Sync, class Ready>
std::uint32_t park_until_ready(typename Sync::template atomic<std::uint32_t>& word, std::uint32_t bit,
                               Ready ready) noexcept {
  std::uint32_t v =
      spin_until<Sync>(word, std::memory_order_acquire, [&](std::uint32_t w) { return ready(w & ~bit); });
  while (!ready(v & ~bit)) {
    if (mark_sleeping<Sync>(word, v, bit)) Sync::park(word, v);
    v = word.load(std::memory_order_acquire);
  }
  return v;
}

}  // namespace handoff::detail
