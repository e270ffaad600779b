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

#include "../stats.hpp"
#include "../status.hpp"
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

  // Registration (counted: a wait, OB-2).
  void push_back(node* w) noexcept {
    w->prev = tail_;
    w->next = nullptr;
    (tail_ ? tail_->next : head_) = w;
    tail_ = w;
    w->linked = true;
    ++size_;
    ++counts_.waits;
    if (size_ > counts_.peak_waiters) counts_.peak_waiters = size_;
  }

  // Used only to give an unclaimed node its place back (unclaim after a throwing move): the claim that
  // took it out did not serve it.
  void push_front(node* w) noexcept {
    w->prev = nullptr;
    w->next = head_;
    (head_ ? head_->prev : tail_) = w;
    head_ = w;
    w->linked = true;
    ++size_;
    --counts_.served;
    if (size_ > counts_.peak_waiters) counts_.peak_waiters = size_;
  }

  void remove(node* w) noexcept {
    (w->prev ? w->prev->next : head_) = w->next;
    (w->next ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
    --size_;
  }

  // Unlink waiters from the front until one is claimed; nullptr when none is left. The caller must complete()
  // or unclaim() the node it gets. `owner`: the primitive this queue belongs to (wait_core::try_claim pins
  // it for a waiter that parked with a record); the same channel_info its waits name in wait_linked.
  node* claim_oldest(const channel_info* owner) noexcept {
    while (node* w = head_) {
      remove(w);
      if (w->try_claim(owner)) {
        ++counts_.served;
        return w;
      }
    }
    return nullptr;
  }
  // The same for close(), which ends the waiter instead of serving it (counted as closed).
  node* claim_oldest_to_close(const channel_info* owner) noexcept {
    node* w = claim_oldest(owner);
    if (w) {
      --counts_.served;
      ++counts_.closed;
    }
    return w;
  }

  // OB-2: the counts of this queue, exact (every change and this read run under the owner's lock).
  const wait_stats& counts() const noexcept { return counts_; }
  // A try_ that queued only to learn the answer (mvar invariant 6) and got its try_ answer: not a wait.
  void uncount_wait() noexcept { --counts_.waits; }
  // A waiter of this queue gave up (its deadline passed or its stop token fired), counted under the lock.
  void count_gave_up(status why) noexcept {
    if (why == status::timeout)
      ++counts_.timeouts;
    else if (why == status::cancelled)
      ++counts_.cancellations;
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
  // leaving the queue again under `lock` (on_empty as in leave). Returns with `lock` released. `site` is
  // what the thread's blocked-thread record names while it is parked (detail/blocked_record.hpp): its
  // channel must be the `owner` this queue's claims name.
  // `after_unlock` runs once the lock is released, before the wait (a channel fires the readiness watches its
  // registration made ready: detail/watch_list.hpp).
  template <class Lock, class OnEmpty, class AfterUnlock>
  status wait_linked(Lock& lock, node& w, const deadline& d, const std::stop_token* st, wait_site site,
                     OnEmpty&& on_empty, AfterUnlock&& after_unlock) {
    push_back(&w);
    lock.unlock();
    after_unlock();
    const auto o = await_with_stop(w.core(), d, st, {&site, 1});
    if (o == node::outcome::completed) return w.result;
    const status why = o == node::outcome::timed_out ? status::timeout : status::cancelled;
    lock.lock();
    leave(w, on_empty);
    count_gave_up(why);
    lock.unlock();
    return why;
  }
  template <class Lock, class OnEmpty>
  status wait_linked(Lock& lock, node& w, const deadline& d, const std::stop_token* st, wait_site site,
                     OnEmpty&& on_empty) {
    return wait_linked(lock, w, d, st, site, on_empty, [] {});
  }

 private:
  node* head_ = nullptr;
  node* tail_ = nullptr;
  std::size_t size_ = 0;
  wait_stats counts_;
};

}  // namespace handoff::detail
