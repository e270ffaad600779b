// A tiny bounded queue with readiness watchers, built only in the test tree, in a correct form and in
// deliberately broken forms, so that the readiness scenarios (readiness_det_scenarios.hpp) show they can
// tell them apart: tests/unit/readiness_det_planted_test.cpp must catch every bug (WILL_FAIL ctest), and
// det_readiness_test.cpp runs the correct form through the same scenarios beside stream<T>.
//
// The box follows stream's readiness protocol (include/handoff/stream.hpp, invariant 11) in miniature: under
// one lock, arm decides ready / armed and links the watcher (handoff/detail/watch_list.hpp, the real one);
// the push that makes the box non-empty (the pop that makes room) takes every armed watcher and fires them
// once the lock is released and the value is in. Blocking push and pop park on a version word.
// Planted bugs (watch_bug):
//   check_then_arm           arm looks at the box under the lock, releases it, and links the watcher under a
//                            second lock: a push in between sees no watcher, and the loop sleeps forever
//                            (a lost notification: DEADLOCK).
//   writable_check_then_arm  arm_writable decides "full" under the lock and links the watcher under a second
//                            one: a pop in between made room and fired nobody (stream's arm_writable had the
//                            same flaw in another form, reading the tail and head at two instants: DEADLOCK
//                            of a writing loop).
//   fire_before_publish      a push takes and fires its watchers before the value is in: the loop wakes,
//                            finds the box empty, arms again, and the value then arrives with nobody taking
//                            the new arm (DEADLOCK).
//   room_not_fired           a pop that makes room in a full box does not fire writable watchers (DEADLOCK of
//                            a loop waiting to push).
//   close_forgets_writable   close() fires readable watchers only: a loop waiting for room never learns that
//                            the box closed (DEADLOCK; WA-4: a closed channel is writable).
//   notify_every_push        level-triggered: an armed watcher stays armed and is called for every push, not
//                            once per arm (WA-2: more calls than armed answers).
//   unwatch_without_waiting  unwatch unlinks and returns without waiting for a call in flight in another
//                            thread: the notifier still runs after unwatch returned (WA-5).
#pragma once

#include <handoff/detail/slow_lock.hpp>
#include <handoff/detail/watch_list.hpp>
#include <handoff/readiness.hpp>
#include <handoff/status.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "det_sync.hpp"

namespace handoff_test {

enum class watch_bug {
  none,
  check_then_arm,
  writable_check_then_arm,
  fire_before_publish,
  room_not_fired,
  close_forgets_writable,
  notify_every_push,
  unwatch_without_waiting
};

template <watch_bug Bug = watch_bug::none, std::size_t Capacity = 2>
class watch_box {
  using link = handoff::detail::watch_link<det_sync>;
  using list = handoff::detail::watch_list<det_sync>;
  using firing = handoff::detail::watch_firing<det_sync>;
  using guard = handoff::detail::slow_guard<det_sync>;

 public:
  static constexpr std::size_t capacity = Capacity;

  class watcher {
   public:
    watcher(watch_box& b, handoff::notifier n) : box_(&b), readable_(n), writable_(n), n_(n) {}
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;
    ~watcher() { unwatch(); }
    handoff::readiness arm() { return box_->arm_readable(readable_, n_); }
    handoff::readiness arm_writable() { return box_->arm_writable(writable_); }
    void unwatch() {
      box_->disarm(readable_, writable_, n_);
      if constexpr (Bug == watch_bug::unwatch_without_waiting) return;  // BUG: a call may be in flight
      readable_.wait_unheld();
      writable_.wait_unheld();
    }

   private:
    watch_box* box_;
    link readable_;
    link writable_;
    handoff::notifier n_;
  };

  handoff::status try_push(std::uint64_t v) {
    firing fire;
    std::vector<handoff::notifier> level;
    {
      guard g(lock_);
      if (closed_) return handoff::status::closed;
      if (items_.size() >= Capacity) return handoff::status::full;
      if constexpr (Bug == watch_bug::fire_before_publish) {
        readable_.take_all(fire.chain());
        lock_.unlock();
        fire.run();  // BUG: the value is not in yet, and a watcher armed meanwhile is not taken below
        lock_.lock();
        items_.push_back(v);
      } else {
        items_.push_back(v);
        readable_.take_all(fire.chain());
      }
      if constexpr (Bug == watch_bug::notify_every_push) level = level_;
      version_.fetch_add(1);
    }
    det_sync::unpark_all(version_);
    for (const handoff::notifier& n : level) n.call(n.context);  // BUG: every push, while armed once
    return handoff::status::ok;
  }

  handoff::status try_pop(std::uint64_t& out) {
    firing fire;
    {
      guard g(lock_);
      if (items_.empty()) return closed_ ? handoff::status::closed : handoff::status::empty;
      const bool was_full = items_.size() >= Capacity;
      out = items_.front();
      items_.pop_front();
      if (was_full && Bug != watch_bug::room_not_fired) writable_.take_all(fire.chain());  // (BUG: not)
      version_.fetch_add(1);
    }
    det_sync::unpark_all(version_);
    return handoff::status::ok;
  }

  // Blocking forms for the scenarios' producers and consumers: park on the version word until it moves.
  bool push(std::uint64_t v) {
    for (;;) {
      const std::uint32_t seen = version_.load();
      const handoff::status s = try_push(v);
      if (s != handoff::status::full) return s == handoff::status::ok;
      det_sync::park(version_, seen);
    }
  }
  std::optional<std::uint64_t> pop() {
    for (;;) {
      const std::uint32_t seen = version_.load();
      std::uint64_t v = 0;
      const handoff::status s = try_pop(v);
      if (s == handoff::status::ok) return v;
      if (s == handoff::status::closed) return std::nullopt;
      det_sync::park(version_, seen);
    }
  }
  void close() {
    firing fire;
    {
      guard g(lock_);
      closed_ = true;
      readable_.take_all(fire.chain());
      if constexpr (Bug != watch_bug::close_forgets_writable) writable_.take_all(fire.chain());  // (BUG: not)
      version_.fetch_add(1);
    }
    det_sync::unpark_all(version_);
  }

 private:
  handoff::readiness arm_readable(link& l, handoff::notifier n) {
    if constexpr (Bug == watch_bug::check_then_arm) {
      {
        guard g(lock_);
        if (!items_.empty() || closed_) return handoff::readiness::ready;
      }
      guard g(lock_);  // BUG: a push since the check above fired nobody
      if (!l.armed_or_pending()) readable_.push_back(l);
      return handoff::readiness::armed;
    } else {
      guard g(lock_);
      if (l.armed_or_pending()) return handoff::readiness::armed;
      if (!items_.empty() || closed_) return handoff::readiness::ready;
      if constexpr (Bug == watch_bug::notify_every_push) {
        level_.push_back(n);  // BUG: stays armed for every push
        return handoff::readiness::armed;
      }
      readable_.push_back(l);
      return handoff::readiness::armed;
    }
  }
  handoff::readiness arm_writable(link& l) {
    if constexpr (Bug == watch_bug::writable_check_then_arm) {
      {
        guard g(lock_);
        if (items_.size() < Capacity || closed_) return handoff::readiness::ready;
      }
      guard g(lock_);  // BUG: "full" was true at the check, not now; a pop since then fired nobody
      if (!l.armed_or_pending()) writable_.push_back(l);
      return handoff::readiness::armed;
    } else {
      guard g(lock_);
      if (l.armed_or_pending()) return handoff::readiness::armed;
      if (items_.size() < Capacity || closed_) return handoff::readiness::ready;
      writable_.push_back(l);
      return handoff::readiness::armed;
    }
  }
  void disarm(link& r, link& w, handoff::notifier n) {
    guard g(lock_);
    r.disarm(readable_);
    w.disarm(writable_);
    if constexpr (Bug == watch_bug::notify_every_push) {
      for (auto it = level_.begin(); it != level_.end(); ++it)
        if (it->context == n.context) {
          level_.erase(it);
          break;
        }
    }
  }

  mutable handoff::detail::slow_lock<det_sync> lock_;
  std::deque<std::uint64_t> items_;       // guarded by lock_
  bool closed_ = false;                   // guarded by lock_
  list readable_;                         // guarded by lock_
  list writable_;                         // guarded by lock_
  std::vector<handoff::notifier> level_;  // guarded by lock_ (notify_every_push only)
  det_sync::atomic<std::uint32_t> version_{0};
};

// The readiness scenarios' adapter (readiness_det_scenarios.hpp) over a watch_box of any form.
template <class Box>
struct watch_box_adapter {
  using channel = Box;
  using watcher = typename Box::watcher;
  static constexpr std::size_t capacity = Box::capacity;
  static handoff::status try_push(channel& c, std::uint64_t v) { return c.try_push(v); }
  static handoff::status try_pop(channel& c, std::uint64_t& out) { return c.try_pop(out); }
  static bool push(channel& c, std::uint64_t v) { return c.push(v); }
  static std::optional<std::uint64_t> pop(channel& c) { return c.pop(); }
  static void close(channel& c) { c.close(); }
};

}  // namespace handoff_test
