// ---------------------------------------------------------------------------------------------------------------
// bench/mutex_queue.hpp: the baseline, a blocking queue written the way most code writes it today.
//
// Purpose: one std::mutex, a std::deque, and two condition variables ("not empty", "not full"; CV:
// std::condition_variable, or handoff::condition<void> in the "mutex+handoff.condition" peer: the same code
// with the condition variable replaced, the first step of a user moving to handoff); notify after unlocking
// so a woken thread does not immediately block on the mutex it was woken for. Capacity n >= 1 bounds the
// deque; unbounded (SIZE_MAX) never makes push wait; capacity 0 is a rendezvous: push leaves its value in a
// one-element buffer and then waits until a popper has taken it (a third condition variable), like a Go
// unbuffered channel. No close, no timeouts: the benchmarks do not need them. Invariants (under mutex_):
// buffer_.size() <= max(capacity, 1); taken_ counts pops, so a rendezvous pusher whose value was the k-th
// pushed returns once taken_ >= k. Memory ordering: the mutex orders everything: a push happens-before the
// pop that returns its value. Lifetime: must outlive every thread using it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace handoff_bench {

template <class T, class CV = std::condition_variable>
class mutex_queue {
 public:
  static constexpr std::size_t unbounded = SIZE_MAX;

  explicit mutex_queue(std::size_t capacity)
      : capacity_(capacity), slots_(std::max<std::size_t>(capacity, 1)) {}

  void push(T value) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return buffer_.size() < slots_; });
    buffer_.push_back(std::move(value));
    const std::uint64_t ticket = ++pushed_;
    if (capacity_ == 0) {
      not_empty_.notify_one();  // under the lock here: we wait again right below
      taken_cv_.wait(lock, [&] { return taken_ >= ticket; });
      return;
    }
    lock.unlock();
    not_empty_.notify_one();
  }

  T pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !buffer_.empty(); });
    T value = std::move(buffer_.front());
    buffer_.pop_front();
    ++taken_;
    lock.unlock();
    not_full_.notify_one();
    if (capacity_ == 0) taken_cv_.notify_all();  // the pusher whose value this was (others re-check and wait)
    return value;
  }

 private:
  const std::size_t capacity_;
  const std::size_t slots_;
  std::mutex mutex_;
  CV not_empty_;
  CV not_full_;
  CV taken_cv_;
  std::deque<T> buffer_;
  std::uint64_t pushed_ = 0;
  std::uint64_t taken_ = 0;
};

}  // namespace handoff_bench
