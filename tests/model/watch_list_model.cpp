// Relacy model check of the readiness watches (include/handoff/detail/watch_list.hpp, rules WA-2 and WA-5 of
// docs/semantics.md): the library's own watch_link / watch_list / fire run over rl_sync
// (tests/model/rl_sync.hpp), so Relacy explores their real memory orders under the C++ memory model, with a
// futex model for unwatch's park. The channel is reduced to what the watches see of it: its lock (the
// library's slow_lock, always over the correct policy, so that a planted flavor breaks the watch alone), a
// watch_list, and an event that takes every armed link under the lock and fires them after it, as the
// stream and the mvar do through watch_firing.
//
// What each suite proves (every interleaving Relacy explores; a parked thread never woken is a DEADLOCK, an
// unordered pair of plain accesses a DATA RACE):
//   fire_vs_unwatch:   an event fires a link while its watcher unwatches it (disarm under the lock, then
//                      wait_unheld outside it) and then marks it destroyed. The notifier never
//                      runs after unwatch returned (WA-5: its read of the watcher's `gone` mark would race
//                      with the write after unwatch), its effects are visible to the unwatcher once unwatch
//                      returned (release_hold's release, wait_unheld's acquire), and the unwatcher is woken
//                      if it parked while the firer still held the link (invariant 4). Not checked: that no
//                      firer touches the link once unwatch returned (the link is a member of the suite,
//                      never freed; Relacy's tracked new/delete did not run here).
//   rearm_while_firing: two links armed; an event takes and fires both while the watcher of the first arms it
//                      again (as watch_arm: not relinked while linked or pending) and a second event takes
//                      whatever is armed then. Every take calls its notifier exactly once: the second link
//                      once, the first once per arm that was taken (invariant 2: the first link heads the
//                      chain, so a firer that read its fire_next_ after releasing it, when a relink and the
//                      second take may rewrite it, loses the second link's call). fire_next_ is a plain
//                      field: Relacy checks where its read is among the atomic steps, not the acquire/release
//                      pair that orders it on real hardware (armed_or_pending's load, fire_one's CAS); that
//                      pair rests on review (a relaxed pair passes here).
// Not checked: disarm's cancel of a call not yet started (invariant 3); wait_unheld alone keeps WA-5 true
// without it. main() also fails when a search never took one of the paths its assertions are about.
// Run: build/dev/tests/watch_list_model (ctest -R watch_list_model). Exit 0 when every suite passes.
#include <handoff/detail/slow_lock.hpp>
#include <handoff/detail/watch_list.hpp>

#include <cstdio>
#include <cstdlib>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

namespace handoff_model {

template <flavor F>
using link_t = handoff::detail::watch_link<rl_sync<F>>;
template <flavor F>
using list_t = handoff::detail::watch_list<rl_sync<F>>;
using channel_lock = handoff::detail::slow_lock<rl_sync<flavor::correct>>;

// One event of the channel: every armed link is taken under the lock and fired once it is released.
template <flavor F>
void event(channel_lock& lock, list_t<F>& list) {
  link_t<F>* chain = nullptr;
  lock.lock();
  list.take_all(chain);
  lock.unlock();
  handoff::detail::fire(chain);
}

// What a watcher's unwatch() does with one link (handoff/readiness.hpp): disarm under the lock, then wait
// outside it until no firer holds the link.
template <flavor F>
void unwatch(channel_lock& lock, list_t<F>& list, link_t<F>& link) {
  lock.lock();
  link.disarm(list);
  lock.unlock();
  link.wait_unheld();
}

// What arm() does with a link on a channel that is still not ready (the channels' watch_arm): a link still
// armed, or whose call is still to start, is left as it is; otherwise it is linked again.
template <flavor F>
bool arm(channel_lock& lock, list_t<F>& list, link_t<F>& link) {
  lock.lock();
  const bool relink = !link.armed_or_pending();
  if (relink) list.push_back(link);
  lock.unlock();
  return relink;
}

// What the searches reached, so that main() can refuse a model that never took the interesting paths.
struct reached {
  static inline unsigned long called = 0, not_called = 0, relink_taken = 0, relink_left_armed = 0,
                              not_relinked = 0;
};

template <flavor F>
struct fire_vs_unwatch_suite : rl::test_suite<fire_vs_unwatch_suite<F>, 2> {
  channel_lock lock;
  list_t<F> list;
  link_t<F> link{handoff::notifier{&notified, this}};
  rl::var<int> calls;  // the notifier's effect
  rl::var<int> gone;   // the watcher's destruction, once unwatch returned
  int calls_seen = -1;

  static void notified(void* context) noexcept {
    auto& self = *static_cast<fire_vs_unwatch_suite*>(context);
    RL_ASSERT(self.gone(RL_INFO) == 0);  // WA-5: no call once unwatch returned (unordered: a DATA RACE)
    self.calls(RL_INFO) = self.calls(RL_INFO) + 1;
  }

  void before() {
    calls(RL_INFO) = 0;
    gone(RL_INFO) = 0;
    list.push_back(link);  // armed
  }
  void thread(unsigned index) {
    if (index == 0) {
      event<F>(lock, list);
    } else {
      unwatch<F>(lock, list, link);
      gone(RL_INFO) = 1;
      calls_seen = calls(RL_INFO);  // the notifier's effects are ordered before unwatch's return
      // (the watcher may go now: WA-5)
    }
  }
  void after() {
    RL_ASSERT(calls_seen == 0 || calls_seen == 1);  // one take: a sanity check, not a proof of WA-2
    ++(calls_seen == 1 ? reached::called : reached::not_called);
  }
};

template <flavor F>
struct rearm_while_firing_suite : rl::test_suite<rearm_while_firing_suite<F>, 3> {
  // Counted with atomics: two calls of the first link (one per arm) may overlap, which WA-2 allows.
  struct counted {
    typename rl_sync<F>::template atomic<int> calls{0};
  };
  channel_lock lock;
  list_t<F> list;
  counted first_calls, second_calls;
  link_t<F> first{handoff::notifier{&notified, &first_calls}};
  link_t<F> second{handoff::notifier{&notified, &second_calls}};
  bool relinked = false;

  static void notified(void* context) noexcept {
    // relaxed: a count; after() reads it once every thread is done.
    static_cast<counted*>(context)->calls.fetch_add(1, std::memory_order::relaxed);
  }

  void before() {
    // take_all chains the links in reverse: `first`, the one armed again, heads the chain and its fire_next_
    // leads to `second`, so a relink and a second take that rewrote it before the first firer read it would
    // lose `second`'s call.
    list.push_back(second);
    list.push_back(first);
  }
  void thread(unsigned index) {
    if (index == 0)
      event<F>(lock, list);
    else if (index == 1)
      relinked = arm<F>(lock, list, first);
    else
      event<F>(lock, list);
  }
  void after() {
    const int first_count = first_calls.calls.load(std::memory_order::relaxed);
    const int second_count = second_calls.calls.load(std::memory_order::relaxed);
    RL_ASSERT(second_count == 1);
    // Every arm of the first link is either called once or still armed (linked, its call not started).
    const int still_armed = first.armed_or_pending() ? 1 : 0;
    RL_ASSERT(first_count + still_armed == (relinked ? 2 : 1));
    RL_ASSERT(!second.armed_or_pending());
    ++(!relinked ? reached::not_relinked : still_armed ? reached::relink_left_armed : reached::relink_taken);
  }
};

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  // Bounded exhaustive (every schedule with at most 3 (first suite) or 2 preemptions; one more takes minutes)
  // plus a random sample: the full search of the first suite takes 8.8M iterations (33 s), too long for every
  // CI run.
  ok &= run<fire_vs_unwatch_suite<flavor::correct>>("watch: fire vs unwatch",
                                                    rl::fair_context_bound_scheduler_type, 0, 3);
  ok &= run<fire_vs_unwatch_suite<flavor::correct>>("watch: fire vs unwatch", rl::random_scheduler_type,
                                                    200000);
  ok &= run<rearm_while_firing_suite<flavor::correct>>("watch: rearm while firing",
                                                       rl::fair_context_bound_scheduler_type, 0, 2);
  ok &= run<rearm_while_firing_suite<flavor::correct>>("watch: rearm while firing", rl::random_scheduler_type,
                                                       200000);
  // Each search must have taken every path its assertions are about.
  const bool all_reached = reached::called && reached::not_called && reached::relink_taken &&
                           reached::relink_left_armed && reached::not_relinked;
  std::printf(
      "paths reached: called %lu, not called %lu; relinked and taken %lu, relinked and left armed %lu, "
      "not relinked %lu%s\n",
      reached::called, reached::not_called, reached::relink_taken, reached::relink_left_armed,
      reached::not_relinked, all_reached ? "" : " (NOT ALL: the searches missed a path)");
  return ok && all_reached ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
