// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/waiter_queue.hpp: a FIFO of waiters, intrusive (the nodes live on the waiting threads'
// stacks).
//
// Invariants: every operation runs under the owning primitive's slow_lock; `linked` is true exactly for nodes
// in the queue; the oldest waiter is front() (rule G-3: first come, first served). Claiming goes through
// claim_oldest(), which unlinks nodes whose waiters already left, so a departed waiter never swallows a
// hand-off.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>

#include "waiter.hpp"

namespace handoff::detail {

template <class Sync>
class waiter_queue {
 public:
  using node = waiter<Sync>;

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  node* front() const noexcept { return head_; }

  void push_back(node* w) noexcept {
    w->prev = tail_;
    w->next = nullptr;
    (tail_ ? tail_->next : head_) = w;
    tail_ = w;
    w->linked = true;
    ++size_;
  }

  // Used only to give an unclaimed node its place back (unclaim after a throwing move).
  void push_front(node* w) noexcept {
    w->prev = nullptr;
    w->next = head_;
    (head_ ? head_->prev : tail_) = w;
    head_ = w;
    w->linked = true;
    ++size_;
  }

  void remove(node* w) noexcept {
    (w->prev ? w->prev->next : head_) = w->next;
    (w->next ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
    --size_;
  }

  // Unlink waiters from the front until one is claimed; nullptr when none is left. The caller must complete()
  // or unclaim() the node it gets.
  node* claim_oldest() noexcept {
    while (node* w = head_) {
      remove(w);
      if (w->try_claim()) return w;
    }
    return nullptr;
  }

 private:
  node* head_ = nullptr;
  node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace handoff::detail
