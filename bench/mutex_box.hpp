// ---------------------------------------------------------------------------------------------------------------
// bench/mutex_box.hpp: the baseline for mvar, a one-slot box on std::mutex + two std::condition_variables.
//
// Purpose: put waits while the box is full, take waits while it is empty; notify after unlocking. It is what
// one writes without handoff::mvar (no FIFO guarantee among waiters, no direct hand-off, spurious wakeups
// absorbed by the predicate loops). Invariants (under mutex_): value_ holds a value exactly when the box is
// full. Memory ordering: the mutex orders everything: a put happens-before the take that returns its value.
// Lifetime: must outlive every thread using it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace handoff_bench {

template <class T>
class mutex_box {
 public:
  void put(T value) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return !value_.has_value(); });
    value_.emplace(std::move(value));
    lock.unlock();
    not_empty_.notify_one();
  }

  T take() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return value_.has_value(); });
    T value = std::move(*value_);
    value_.reset();
    lock.unlock();
    not_full_.notify_one();
    return value;
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::optional<T> value_;
};

}  // namespace handoff_bench
