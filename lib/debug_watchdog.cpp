// lib/debug_watchdog.cpp: handoff::debug::watchdog, the deadlock report (rule OB-6; handoff/debug.hpp).
//
// Each poll takes one snapshot of the records (lib/blocked_registry.hpp): the threads it knows (every live
// thread that ever parked in handoff, or with known_threads::parked_since_start only those parked now or
// since it started), whether each is stuck (parked, no deadline, no stop token) and how
// many parked waits each has begun. A deadlock is two consecutive polls at which every known
// thread is stuck and no count moved. The watchdog then reports once; it reports again only after the
// snapshot changed. The poll is a timed wait on the watchdog's own condition variable (its destructor
// signals it): a timer, not a synchronisation with the threads it watches.
#include <handoff/debug.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "blocked_registry.hpp"

namespace handoff::debug {

struct watchdog::state {
  options opts;
  std::int64_t start_ns = detail::steady_now_ns();
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mutex
  std::atomic<std::size_t> report_count{0};
  std::atomic<std::size_t> poll_count{0};
  std::thread thread;

  // (thread id, parked waits begun) of every known thread, when all were stuck; empty otherwise.
  using snapshot = std::vector<std::pair<long, std::uint64_t>>;

  bool all_stuck(snapshot& out) const {
    out.clear();
    bool stuck = true;
    detail::visit_records([&](const detail::record_copy& r) {
      if (opts.known == known_threads::parked_since_start && !r.blocked && r.since_ns < start_ns)
        return;  // parked before we started and not parked now: not known in this mode
      if (!r.blocked || r.deadline_kind != detail::deadline::clock_kind::never || r.stoppable) stuck = false;
      out.emplace_back(r.thread_id, r.waits);
    });
    return stuck && !out.empty();
  }

  std::string report() const {
    std::string text =
        "handoff: deadlock: every thread that waits in handoff is parked without a deadline or a "
        "stop token, and none of them moved across two polls " +
        std::to_string(opts.poll_interval.count()) + " ms apart\n";
    if (!opts.context.empty()) text += opts.context + "\n";
    for (const blocked_thread& t : blocked_threads(true)) text += "  " + format(t) + "\n";
    return text;
  }

  void run() {
    snapshot previous, current, reported;
    bool previous_stuck = false;
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      if (wake.wait_for(lock, opts.poll_interval, [this] { return stopping; })) return;
      lock.unlock();
      const bool stuck = all_stuck(current);
      if (stuck && previous_stuck && current == previous && current != reported) {
        const std::string text = report();
        report_count.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count read as a snapshot
        reported = current;
        if (opts.on_deadlock) {
          opts.on_deadlock(text);
        } else {
          std::fputs(text.c_str(), stderr);
          std::fflush(stderr);
          std::abort();
        }
      }
      poll_count.fetch_add(1, std::memory_order_relaxed);  // relaxed: a count read as a snapshot
      previous_stuck = stuck;
      std::swap(previous, current);
      lock.lock();
    }
  }
};

watchdog::watchdog() : watchdog(options{}) {}

watchdog::watchdog(options o) : state_(std::make_unique<state>()) {
  state_->opts = std::move(o);
  state_->thread = std::thread([s = state_.get()] { s->run(); });
}

watchdog::~watchdog() {
  {
    std::lock_guard<std::mutex> guard(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_one();
  state_->thread.join();
}

std::size_t watchdog::polls() const noexcept {
  return state_->poll_count.load(std::memory_order_relaxed);  // relaxed: a snapshot
}

std::size_t watchdog::reports() const noexcept {
  return state_->report_count.load(std::memory_order_relaxed);  // relaxed: a snapshot
}

}  // namespace handoff::debug
