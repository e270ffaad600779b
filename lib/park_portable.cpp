// Portable parking backend: a fixed table of mutex + condition_variable slots hashed by the word's address.
// See include/handoff/detail/parking.hpp for the contract.
//
// No lost wakeup: a waiter checks the word while holding its slot's mutex and sleeps by releasing that mutex
// atomically (condition_variable::wait). A waker changes the word first, then takes the same mutex before
// notifying, so it either runs before the waiter's check (the waiter sees the new value) or after the waiter
// is asleep (the notify reaches it). Several words share a slot, so wakes notify every sleeper of the slot.
#include <handoff/detail/parking.hpp>

#include <array>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace handoff::detail {
namespace {

struct alignas(64) slot {
  std::mutex mutex;
  std::condition_variable condition;
};

constexpr std::size_t kSlots = 256;  // power of two; collisions only cost extra wakeups

slot& slot_for(const park_word& word) noexcept {
  static std::array<slot, kSlots> table;
  const auto bits = reinterpret_cast<std::uintptr_t>(&word);
  return table[(bits >> 4 ^ bits >> 12) & (kSlots - 1)];
}

template <class Clock>
typename Clock::time_point to_time_point(std::int64_t ns) {
  return
      typename Clock::time_point(std::chrono::ceil<typename Clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

void portable_parking::wait(park_word& word, std::uint32_t expected) noexcept {
  slot& s = slot_for(word);
  std::unique_lock lock(s.mutex);
  // seq_cst load under the slot mutex: the waker's change happens-before its own lock of this mutex.
  if (word.load() == expected) s.condition.wait(lock);
}

bool portable_parking::wait_until(park_word& word, std::uint32_t expected, const deadline& d) noexcept {
  if (d.is_never()) {
    wait(word, expected);
    return true;
  }
  slot& s = slot_for(word);
  std::unique_lock lock(s.mutex);
  if (word.load() != expected) return true;
  if (d.kind() == deadline::clock_kind::system) {
    return s.condition.wait_until(lock, to_time_point<std::chrono::system_clock>(
                                            d.nanoseconds_since_epoch())) == std::cv_status::no_timeout;
  }
  return s.condition.wait_until(lock, to_time_point<std::chrono::steady_clock>(
                                          d.nanoseconds_since_epoch())) == std::cv_status::no_timeout;
}

void portable_parking::wake_one(park_word& word) noexcept {
  wake_all(word);
}

void portable_parking::wake_all(park_word& word) noexcept {
  slot& s = slot_for(word);
  { std::lock_guard lock(s.mutex); }  // orders this wake after a waiter's check-under-mutex (see top)
  s.condition.notify_all();
}

}  // namespace handoff::detail
