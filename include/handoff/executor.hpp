// ---------------------------------------------------------------------------------------------------------------
// handoff/executor.hpp: where a coroutine waiting on a handoff channel is resumed (rule CR-3).
//
//   handoff::thread_pool pool(2);
//   auto ex = pool.executor();
//   ... inside a coroutine running on the pool: auto v = co_await requests.async_pop(ex);
//
// Defines:
//   work_item            { void (*run)(void*) noexcept; void* context; }: one resumption, posted by value. A
//                        channel never allocates to resume a coroutine: the item points into the awaiting
//                        coroutine's frame.
//   executor<E>          the concept: a copyable handle with `e.post(work_item) noexcept` that runs the item
//                        later, once, on one of its threads, never inside post() itself (a channel calls post
//                        from whichever thread completed the wait, outside every lock, and the coroutine must
//                        not run on that thread's stack). post() must not throw: a resumption that cannot be
//                        queued would lose the coroutine (terminate instead, as a noexcept post does).
//   thread_pool          N worker threads draining an unbounded handoff::stream of work items (the library's
//                        own channel: a post is a push, lock-free when no worker sleeps). Its destructor
//                        waits until every item posted has run, including items posted by running items
//                        (a resumed coroutine that completes another's wait), then closes the queue and
//                        joins the workers.
// handoff/asio_executor.hpp adapts an asio (or Boost.Asio) executor; any other scheduler (libuv, a game loop)
// needs only a post that queues the item and runs it later.
// Memory ordering: everything the poster did before post() happens-before the item runs (the queue's push and
// pop, G-4), so a coroutine resumed through an executor sees what the completing channel wrote into its
// frame. Lifetime: a thread_pool must outlive every coroutine that may be resumed on it; an executor handle
// is a pointer to its pool.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <vector>

#include "detail/precondition.hpp"
#include "stream.hpp"

namespace handoff {

struct work_item {
  void (*run)(void*) noexcept = nullptr;
  void* context = nullptr;
  void operator()() const noexcept { run(context); }
};

template <class E>
concept executor = std::copy_constructible<E> && requires(E& e, work_item w) {
  { e.post(w) }
  noexcept;
};

class thread_pool {
 public:
  class executor_type {
   public:
    void post(work_item w) const noexcept {
      // relaxed: the count only has to rise before this item's own decrement, which the queue's push and
      // pop order; an item posted by a running item rises before that item's decrement (program order).
      pool_->outstanding_.fetch_add(1, std::memory_order_relaxed);
      // An unbounded push fails only once the pool is shutting down and idle (a post from outside after
      // every item ran: a lifetime violation that would lose a resumption); a throw (bad_alloc for an
      // overflow block, length_error at a backlog of 2^28 items) cannot be reported from here either:
      // noexcept terminates.
      [[maybe_unused]] const bool queued = pool_->queue_.push(w);
      HANDOFF_PRECONDITION(queued, "handoff::thread_pool: post() after the pool finished its work");
    }
    friend bool operator==(const executor_type&, const executor_type&) = default;

   private:
    friend class thread_pool;
    explicit executor_type(thread_pool* p) noexcept : pool_(p) {}
    thread_pool* pool_;
  };

  // `threads` workers (at least 1: std::invalid_argument for 0).
  explicit thread_pool(std::size_t threads) {
    if (threads == 0) throw std::invalid_argument("handoff::thread_pool: threads must be at least 1");
    workers_.reserve(threads);
    for (std::size_t k = 0; k < threads; ++k) workers_.emplace_back([this] { work(); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    // seq_cst (stopping_ and outstanding_): a worker that brings the count to 0 and this thread must not
    // both miss the other (a store-load pair on two words). The destructor's own token makes the last one
    // out close the queue, whichever of them it is.
    stopping_.store(true);
    outstanding_.fetch_add(1);
    if (outstanding_.fetch_sub(1) == 1) queue_.close();
    for (std::thread& t : workers_) t.join();
  }

  executor_type executor() noexcept { return executor_type(this); }
  std::size_t size() const noexcept { return workers_.size(); }

 private:
  void work() noexcept {
    while (std::optional<work_item> w = queue_.pop()) {  // nullopt: closed and drained
      (*w)();
      if (outstanding_.fetch_sub(1) == 1 && stopping_.load()) queue_.close();  // seq_cst: see ~thread_pool
    }
  }

  stream<work_item> queue_{unbounded};
  std::atomic<std::size_t> outstanding_{0};  // posted and not yet run to the end
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

static_assert(executor<thread_pool::executor_type>);

}  // namespace handoff
