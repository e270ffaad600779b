// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/waiter_queue.hpp: a FIFO of waiters, intrusive (the nodes live on the waiting threads'
// stacks).
//
// Invariants: every operation runs under the owning primitive's slow_lock (wait_linked releases it while it
// waits); `linked` is true exactly for nodes in the queue; the oldest waiter is front() (rule G-3: first
// come, first served). Claiming goes through claim_oldest(), which unlinks nodes whose waiters already left
// (or whose select was won through another link), so a departed waiter never swallows a hand-off.
//
// The verbs every primitive uses (detail/waiter.hpp has the protocol):
//   register:   the primitive's decide-and-register CAS on its state word, under its lock, then
//               wait_linked() (a select registers a link with push_back() and waits on its core itself);
//   unregister: leave() under the lock (a link that timed out, was cancelled, or lost a select);
//   serve:      claim_oldest() under the lock, deliver outside it, complete() outside it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <stop_token>

#include "deadline.hpp"
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

  // Unregister: unlink `w` if a server did not already (lock held). `on_empty` runs when that left the queue
  // empty (the primitive clears its waiter flag; a server that unlinks nodes keeps the flag right itself).
  template <class OnEmpty>
  void leave(node& w, OnEmpty&& on_empty) noexcept {
    if (!w.linked) return;
    remove(&w);
    if (empty()) on_empty();
  }

  // The one "link, unlock, wait, unlink" step of a single-channel wait. The caller holds `lock` and has
  // registered (its flag is set, so every server will look in this queue). Links `w`, releases the lock and
  // waits (detail/waiter.hpp). Returns the status the server set (`w.result`), or timeout / cancelled after
  // leaving the queue again under `lock` (on_empty as in leave). Returns with `lock` released.
  template <class Lock, class OnEmpty>
  status wait_linked(Lock& lock, node& w, const deadline& d, const std::stop_token* st, OnEmpty&& on_empty) {
    push_back(&w);
    lock.unlock();
    const auto o = await_with_stop(w.core(), d, st);
    if (o == node::outcome::completed) return w.result;
    lock.lock();
    leave(w, on_empty);
    lock.unlock();
    return o == node::outcome::timed_out ? status::timeout : status::cancelled;
  }

 private:
  node* head_ = nullptr;
  node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace handoff::detail
