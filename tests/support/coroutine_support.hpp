// Coroutine helpers for the tests of handoff/coroutine.hpp (rules CR-1..CR-8).
//   detached          an eager, self-destroying coroutine type (the awaiters need nothing of the promise).
//   manual_executor   a single-thread executor that the test drives: post() only queues (from any thread);
//                     run_one() / run_all() run items on the calling thread. A wait that completes shows as
//                     one queued item (CR-3: never resumed inline), and a test sees exactly when a coroutine
//                     runs. Its queue is a fixed array, so posting allocates nothing (CR-6 counts
//                     allocations).
//   stalling<T>       a value whose move constructor can be made to stop half-way (entered, then waits for
//                     release), so a test can hold a push or pop "in flight" in another thread (CR-5).
#pragma once

#include <handoff/coroutine.hpp>
#include <handoff/executor.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace handoff_test {

struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

class manual_executor {
 public:
  static constexpr std::size_t capacity = 1024;

  class handle {
   public:
    explicit handle(manual_executor* e) noexcept : e_(e) {}
    void post(handoff::work_item w) const noexcept { e_->enqueue(w); }
    friend bool operator==(const handle&, const handle&) = default;

   private:
    manual_executor* e_;
  };

  handle executor() noexcept { return handle(this); }

  // Run the oldest queued item; false if none.
  bool run_one() {
    handoff::work_item w;
    {
      std::lock_guard<std::mutex> g(m_);
      if (head_ == tail_) return false;
      w = items_[head_++ % capacity];
    }
    w();
    return true;
  }
  // Run items until none is queued (including items posted by the items run); returns how many ran.
  std::size_t run_all() {
    std::size_t n = 0;
    while (run_one()) ++n;
    return n;
  }
  std::size_t pending() const {
    std::lock_guard<std::mutex> g(m_);
    return tail_ - head_;
  }

 private:
  void enqueue(handoff::work_item w) noexcept {
    std::lock_guard<std::mutex> g(m_);
    if (tail_ - head_ == capacity) std::terminate();  // a test that queues 1024 resumptions is broken
    items_[tail_++ % capacity] = w;
  }

  mutable std::mutex m_;
  handoff::work_item items_[capacity];
  std::size_t head_ = 0, tail_ = 0;
};
static_assert(handoff::executor<manual_executor::handle>);

// A move constructor that can be held half-way: arm() makes the next move set `entered` and then wait (spin,
// yielding) for release(). The source value is copied before the wait, so the moved-to object is complete.
struct stall_gate {
  std::atomic<bool> armed{false};
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
  std::atomic<bool> throw_on_release{false};  // the stalled move then throws (a push gives its index back)
  void arm() { armed.store(true); }
  void wait_entered() const {
    while (!entered.load()) std::this_thread::yield();
  }
  void release() { released.store(true); }
};

struct stalling {
  int value = 0;
  stall_gate* gate = nullptr;
  stalling() = default;
  stalling(int v, stall_gate* g) : value(v), gate(g) {}
  stalling(const stalling& o) = default;
  stalling(stalling&& o) : value(o.value), gate(o.gate) {
    if (gate && gate->armed.exchange(false)) {
      gate->entered.store(true);
      while (!gate->released.load()) std::this_thread::yield();
      if (gate->throw_on_release.load()) throw std::runtime_error("stalling: move failed");
    }
  }
  stalling& operator=(const stalling&) = default;
  stalling& operator=(stalling&&) = default;
};

}  // namespace handoff_test
