// Readiness scenarios for the deterministic scheduler (tests/support/det_sync.hpp), written once over an
// adapter so that stream<T> at every capacity and the test tree's watch_box (det_watch_box.hpp, correct and
// planted) run the same bodies. Each function is one det run. An event loop thread never blocks in a pop or
// push: it tries, and when that would block it arms its watcher and sleeps until its notifier runs (a det
// park, standing for epoll_wait on an eventfd). The checks:
//   - no lost notification (WA-2): a loop that armed and was never called sleeps forever: DEADLOCK;
//   - exactly one call per armed arm (WA-2): the notifier counts its calls, the loop its armed answers;
//   - every value exactly once and in each producer's order (G-2, ST-4);
//   - after unwatch returns, no call starts and none is in flight (WA-5).
//
// An adapter A provides:
//   using channel = ...;   default-constructible, empty, open
//   using watcher = ...;   watcher(channel&, handoff::notifier); arm(), arm_writable(), unwatch()
//   static constexpr std::size_t capacity;    SIZE_MAX: unbounded
//   static status try_push(channel&, std::uint64_t);          ok | full | closed
//   static status try_pop(channel&, std::uint64_t&);          ok | empty | closed
//   static bool push(channel&, std::uint64_t);                waits for room; false: closed
//   static std::optional<std::uint64_t> pop(channel&);        waits; nullopt: closed and drained
//   static void close(channel&);
#pragma once

#include <handoff/readiness.hpp>
#include <handoff/status.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "det_sync.hpp"

namespace handoff_test::readiness_scenarios {

using handoff::readiness;
using handoff::status;

// What the scenarios' notifiers do: count the call and wake the loop parked on the count. `unwatched` is
// set once the loop's unwatch() returned: a call that starts after it breaks WA-5.
struct det_notification {
  det_sync::atomic<std::uint32_t> calls{0};
  det_sync::atomic<std::uint32_t> in_flight{0};
  det_sync::atomic<std::uint32_t> unwatched{0};

  handoff::notifier notifier() noexcept { return {&call, this}; }
  static void call(void* self) noexcept {
    auto* n = static_cast<det_notification*>(self);
    DET_CHECK_MSG(n->unwatched.load() == 0, "a notifier call started after unwatch() returned (WA-5)");
    n->in_flight.fetch_add(1);
    n->calls.fetch_add(1);
    det_sync::unpark_all(n->calls);
    n->in_flight.fetch_sub(1);
  }
  // The loop's sleep: until the count moves past `seen` (read before the arm that answered armed).
  void wait_past(std::uint32_t seen) {
    while (calls.load() == seen) det_sync::park(calls, seen);
  }
};

inline std::uint64_t tagged(std::uint64_t producer, std::uint64_t seq) {
  return (producer << 32) | seq;
}

// The reading loop: try_pop until `want` values (or, when want is 0, until end-of-stream), arming and
// sleeping whenever a pop would block. Returns the values in the order received; checks WA-2's count.
template <class A>
std::vector<std::uint64_t> reading_loop(typename A::channel& ch, typename A::watcher& w, det_notification& n,
                                        std::size_t want) {
  std::vector<std::uint64_t> got;
  std::uint32_t armed = 0;
  for (;;) {
    std::uint64_t v = 0;
    const status s = A::try_pop(ch, v);
    if (s == status::ok) {
      got.push_back(v);
      if (want && got.size() == want) break;
      continue;
    }
    if (s == status::closed) break;
    const std::uint32_t seen = n.calls.load();
    if (w.arm() == readiness::armed) {
      ++armed;
      n.wait_past(seen);
    }
  }
  DET_CHECK_MSG(n.calls.load() == armed, "notifier calls " + std::to_string(n.calls.load()) + " != armed " +
                                             std::to_string(armed) + " (WA-2: exactly once per arm)");
  return got;
}

// Each producer's values in its own order, and every value of `producers` x `per` exactly once.
inline void check_per_producer(const std::vector<std::uint64_t>& got, std::uint64_t producers,
                               std::uint64_t per) {
  std::vector<std::uint64_t> next(producers, 0);
  for (std::uint64_t v : got) {
    const std::uint64_t p = v >> 32;
    DET_CHECK_MSG(p < producers, "a value nobody pushed: " + std::to_string(v));
    if (p >= producers) return;
    DET_CHECK_MSG((v & 0xffffffffu) == next[p],
                  "producer " + std::to_string(p) + " out of order or duplicated");
    ++next[p];
  }
  for (std::uint64_t p = 0; p < producers; ++p)
    DET_CHECK_MSG(next[p] == per, "producer " + std::to_string(p) + ": " + std::to_string(next[p]) + " of " +
                                      std::to_string(per) + " values received");
}

// WA-1, WA-2: an event loop reads what `producers` threads push (arm racing push, several pushes per sleep).
template <class A>
void loop_reads_pushes(std::uint64_t producers, std::uint64_t per) {
  typename A::channel ch;
  det_notification n;
  typename A::watcher w(ch, n.notifier());
  std::vector<det_thread> threads;
  for (std::uint64_t p = 0; p < producers; ++p)
    threads.emplace_back(
        [&, p] {
          for (std::uint64_t i = 0; i < per; ++i) DET_CHECK(A::push(ch, tagged(p, i)));
        },
        "producer " + std::to_string(p));
  const auto got = reading_loop<A>(ch, w, n, producers * per);
  for (auto& t : threads) t.join();
  w.unwatch();
  check_per_producer(got, producers, per);
}

// WA-2, ST-5: close() wakes an armed loop, which drains what is buffered and sees end-of-stream.
template <class A>
void close_wakes_the_loop() {
  typename A::channel ch;
  det_notification n;
  typename A::watcher w(ch, n.notifier());
  det_thread producer(
      [&] {
        DET_CHECK(A::push(ch, tagged(0, 0)));
        A::close(ch);
      },
      "producer+closer");
  const auto got = reading_loop<A>(ch, w, n, 0);
  producer.join();
  w.unwatch();
  check_per_producer(got, 1, 1);
}

// WA-7: two loops, each with its own watcher on one channel, share what two producers push, then the close.
template <class A>
void two_watchers_share_a_channel() {
  typename A::channel ch;
  det_notification na, nb;
  typename A::watcher wa(ch, na.notifier());
  typename A::watcher wb(ch, nb.notifier());
  std::vector<std::uint64_t> got_a, got_b;
  det_thread loop_b([&] { got_b = reading_loop<A>(ch, wb, nb, 0); }, "loop b");
  det_thread producers(
      [&] {
        det_thread second(
            [&] {
              for (std::uint64_t i = 0; i < 2; ++i) DET_CHECK(A::push(ch, tagged(1, i)));
            },
            "producer 1");
        for (std::uint64_t i = 0; i < 2; ++i) DET_CHECK(A::push(ch, tagged(0, i)));
        second.join();
        A::close(ch);
      },
      "producer 0");
  got_a = reading_loop<A>(ch, wa, na, 0);
  loop_b.join();
  producers.join();
  wa.unwatch();
  wb.unwatch();
  // Each loop sees each producer's values in order; together, every value once.
  std::vector<std::uint64_t> all;
  std::vector<std::uint64_t> next_a(2, 0), next_b(2, 0);
  for (auto [got, next] : {std::pair{&got_a, &next_a}, std::pair{&got_b, &next_b}})
    for (std::uint64_t v : *got) {
      const std::uint64_t p = v >> 32;
      DET_CHECK(p < 2);
      if (p >= 2) return;
      DET_CHECK_MSG((v & 0xffffffffu) >= (*next)[p], "a loop saw a producer's values out of order");
      (*next)[p] = (v & 0xffffffffu) + 1;
    }
  all = got_a;
  all.insert(all.end(), got_b.begin(), got_b.end());
  std::sort(all.begin(), all.end());
  DET_CHECK_MSG((all == std::vector<std::uint64_t>{tagged(0, 0), tagged(0, 1), tagged(1, 0), tagged(1, 1)}),
                "the two loops did not receive every value exactly once");
}

// WA-5: unwatch() racing a push that fires the watcher: once unwatch returns, no call starts and none is in
// flight; the value is not lost (a pop takes it afterwards).
template <class A>
void unwatch_racing_a_push() {
  typename A::channel ch;
  det_notification n;
  typename A::watcher w(ch, n.notifier());
  DET_CHECK(w.arm() == readiness::armed);
  det_thread producer([&] { DET_CHECK(A::push(ch, tagged(0, 0))); }, "producer");
  w.unwatch();
  DET_CHECK_MSG(n.in_flight.load() == 0,
                "a notifier call was still in flight when unwatch() returned (WA-5)");
  n.unwatched.store(1);
  const std::optional<std::uint64_t> v = A::pop(ch);
  producer.join();
  DET_CHECK(v && *v == tagged(0, 0));
  DET_CHECK(n.calls.load() <= 1);
}

// WA-4: a writing loop never blocks in a push: it tries, and when the channel is full (capacity 0: no popper
// waits) arms writable and sleeps; a consumer pops everything. Bounded channels only. With `close_after` the
// consumer closes after that many values and the loop must see closed (WA-4: a closed channel is writable).
template <class A>
void loop_writes_to_a_consumer(std::uint64_t count, std::uint64_t close_after = 0) {
  typename A::channel ch;
  det_notification n;
  typename A::watcher w(ch, n.notifier());
  std::vector<std::uint64_t> got;
  det_thread consumer(
      [&] {
        while (!close_after || got.size() < close_after) {
          std::optional<std::uint64_t> v = A::pop(ch);
          if (!v) break;
          got.push_back(*v);
          if (!close_after && got.size() == count) break;
        }
        if (close_after) A::close(ch);
      },
      "consumer");
  std::uint32_t armed = 0;
  std::uint64_t pushed = 0;
  while (pushed < count) {
    const status s = A::try_push(ch, tagged(0, pushed));
    if (s == status::ok) {
      ++pushed;
      continue;
    }
    if (s == status::closed) break;
    const std::uint32_t seen = n.calls.load();
    if (w.arm_writable() == readiness::armed) {
      ++armed;
      n.wait_past(seen);
    }
  }
  consumer.join();
  w.unwatch();
  DET_CHECK_MSG(n.calls.load() == armed, "notifier calls " + std::to_string(n.calls.load()) + " != armed " +
                                             std::to_string(armed) + " (WA-2: exactly once per arm)");
  if (close_after) {
    // What the consumer did not take before closing is still buffered: drain it.
    for (std::uint64_t v = 0; A::try_pop(ch, v) == status::ok;) got.push_back(v);
    check_per_producer(got, 1, pushed);
    DET_CHECK(pushed >= close_after);
  } else {
    check_per_producer(got, 1, count);
  }
}

// WA-4, WA-1: two loops that never block, a writer (try_push, arm_writable) and a reader (try_pop, arm), with
// a third thread pushing with the blocking push: while the writer arms, that pusher and the reader may move
// both words (an arm that reads them at two instants can see a full stream that is empty). Bounded channels
// of capacity 1 or more (at capacity 0 two sides that never wait never meet).
template <class A>
void two_loops_and_a_pusher(std::uint64_t from_loop, std::uint64_t from_pusher) {
  typename A::channel ch;
  det_notification nw, nr;
  typename A::watcher ww(ch, nw.notifier());
  typename A::watcher wr(ch, nr.notifier());
  std::vector<std::uint64_t> got;
  det_thread reader([&] { got = reading_loop<A>(ch, wr, nr, from_loop + from_pusher); }, "reading loop");
  det_thread pusher(
      [&] {
        for (std::uint64_t i = 0; i < from_pusher; ++i) DET_CHECK(A::push(ch, tagged(1, i)));
      },
      "pusher");
  std::uint32_t armed = 0;
  for (std::uint64_t pushed = 0; pushed < from_loop;) {
    const status s = A::try_push(ch, tagged(0, pushed));
    if (s == status::ok) {
      ++pushed;
      continue;
    }
    const std::uint32_t seen = nw.calls.load();
    if (ww.arm_writable() == readiness::armed) {
      ++armed;
      nw.wait_past(seen);
    }
  }
  reader.join();
  pusher.join();
  ww.unwatch();
  wr.unwatch();
  DET_CHECK_MSG(nw.calls.load() == armed, "writer's notifier calls " + std::to_string(nw.calls.load()) +
                                              " != armed " + std::to_string(armed) + " (WA-2)");
  std::vector<std::uint64_t> mine, theirs;
  for (std::uint64_t v : got) ((v >> 32) == 0 ? mine : theirs).push_back(v);
  check_per_producer(mine, 1, from_loop);
  std::vector<std::uint64_t> shifted;
  for (std::uint64_t v : theirs) shifted.push_back(v - (std::uint64_t{1} << 32));
  check_per_producer(shifted, 1, from_pusher);
}

}  // namespace handoff_test::readiness_scenarios
