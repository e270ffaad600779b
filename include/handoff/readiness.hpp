// ---------------------------------------------------------------------------------------------------------------
// handoff/readiness.hpp: readiness for event loops (rules WA-1..WA-7 of docs/semantics.md): watcher<Channel>,
// readiness and notifier.
//
// Purpose: an event loop (epoll, io_uring, libuv, asio) must never block in a pop, yet must sleep when there
// is nothing to do. A watcher asks its channel "would a pop block?" (arm) or "would a push block?"
// (arm_writable): ready means try it now; armed means the watcher's notifier runs exactly once, after the
// next event that may make the answer "ready" (a push or a close; for writable, a pop that makes room or a
// close), outside every lock and after that event is published. The loop sleeps (epoll_wait on an eventfd
// the notifier writes: handoff/eventfd_notifier.hpp), then drains with try_pop until empty, then arms again:
// one notifier call per loop sleep, not per value, and no cost to pushes while nothing is armed.
//
//   handoff::eventfd_notifier wake;                 // its fd goes in the loop's epoll set
//   auto watch = s.watch(wake.notifier());         // stream<T>::watch: a watcher<stream<T>>
//   for (;;) {
//     while (auto v = s.try_pop()) handle(*v);      // or: s.try_pop() reports closed: stop
//     if (watch.arm() == handoff::readiness::armed) {
//       epoll_wait(...);                           // wake.fd() readable: the notifier ran
//       wake.consume();
//     }
//   }
//
// Readiness is a hint (WA-3): another consumer may take the value first, so the loop's try_pop may still say
// empty; it then arms again. A notifier call may also come sooner than the event (a call from before the arm
// still being delivered, WA-2); the loop only ever looks again.
// Thread safety: one watcher is used by one thread at a time (arm, arm_writable, unwatch); any number of
// watchers may watch one channel. The channel must outlive its watchers (G-9, checked in debug builds).
// Lifetime (WA-5): after unwatch() returns, or the watcher is destroyed, no notifier call of this watcher
// starts and none is in flight; unwatch may wait for a call in flight in another thread, so it must not be
// called from inside the watcher's own notifier.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include "detail/watch_list.hpp"

namespace handoff {

namespace detail {
// The channel's private steps a watcher uses (a channel befriends it): arm_readable(link),
// arm_writable(link), disarm(readable link, writable link).
struct watch_access {
  template <class Channel, class Link>
  static readiness arm_readable(Channel& c, Link& l) {
    return c.watch_arm_readable(l);
  }
  template <class Channel, class Link>
  static readiness arm_writable(Channel& c, Link& l) {
    return c.watch_arm_writable(l);
  }
  template <class Channel, class Link>
  static void disarm(Channel& c, Link& readable, Link& writable) noexcept {
    c.watch_disarm(readable, writable);
  }
};
}  // namespace detail

// One event loop's watch on one channel (stream<T>::watch). Not copyable, not movable (the channel links it).
template <class Channel>
class watcher {
  using link = detail::watch_link<typename Channel::sync_type>;

 public:
  watcher(Channel& c, notifier n) noexcept : channel_(&c), readable_(n), writable_(n) {}
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;
  ~watcher() { unwatch(); }

  // WA-1: ready if a pop would not block now (a value buffered, a pusher waiting at capacity 0, or closed);
  // otherwise armed: the notifier runs once after the next push or close (WA-2). Arming an armed watcher
  // again answers armed and changes nothing.
  [[nodiscard]] readiness arm() { return detail::watch_access::arm_readable(*channel_, readable_); }
  // WA-4: ready if a push would not block now (room, an unbounded stream, a popper waiting at capacity 0, or
  // closed: the push would fail at once); otherwise armed until the next pop that makes room, a popper
  // registering at capacity 0, or close.
  [[nodiscard]] readiness arm_writable() { return detail::watch_access::arm_writable(*channel_, writable_); }

  // WA-5: disarm both sides; once it returns no notifier call of this watcher starts or is in flight. The
  // watcher may be armed again afterwards.
  void unwatch() noexcept {
    detail::watch_access::disarm(*channel_, readable_, writable_);
    readable_.wait_unheld();
    writable_.wait_unheld();
  }

 private:
  Channel* channel_;
  link readable_;
  link writable_;
};

}  // namespace handoff
