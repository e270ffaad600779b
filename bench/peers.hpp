// ---------------------------------------------------------------------------------------------------------------
// bench/peers.hpp: every queue under test behind one interface, so a workload is written once.
//
// Purpose: thin adapters, each
//   struct peer {
//     static constexpr const char* name;          // column name in the report
//     static constexpr const char* waiting;       // how a blocked call waits: "parks", "spins", ...
//     static constexpr bool busy_waits;           // never parks: oversubscribed only in the --full sweep
//     static constexpr bool fifo_per_producer;    // a consumer sees each producer's values in push order
//     static bool supports(std::size_t capacity);  // 0 = rendezvous, unbounded_capacity = no bound
//     explicit peer(std::size_t capacity);
//     void push(T value);                          // blocks while full
//     T pop();                                     // blocks while empty
//   };
// Peers come in when their library was found (bench/CMakeLists.txt defines HANDOFF_HAVE_<PEER>) or, for
// handoff's own primitives, when their header exists (__has_include), so the suite builds while the library
// is still growing. Adapters add nothing of their own on the hot path (no virtual calls, no allocation, no
// locks). Where a peer cannot honour a capacity exactly, supports() says no, or the note below says what it
// does instead:
//   - moodycamel::BlockingConcurrentQueue is unbounded: push never waits. It is measured at capacity
//     1024 (where balanced producers and consumers rarely fill a bounded queue anyway) and unbounded only;
//     at 1 or 64 a comparison with a queue that ignores the bound would say nothing.
//   - atomic_queue::AtomicQueue2 busy-waits (PAUSE loop, never parks) in push/pop: its CPU time per message
//     counts the spinning. It has no unbounded or rendezvous form. Capacities are compile-time (1, 64, 1024).
//     Oversubscribed (more threads than cores) it makes progress only when the scheduler preempts a spinner,
//     so the default sweep does not run it there (--full does; see bench/README.md). With several producers
//     and consumers it is not FIFO per producer: a producer preempted between taking its ticket and storing
//     lets the producer holding the same slot's next-round ticket store first, and that value is read in the
//     earlier round (seen at 2x2 on 2 cores). The workload checks only counts and checksums for it.
//   - tbb::concurrent_bounded_queue spins briefly then sleeps; capacity 0 would block push forever (no
//     rendezvous), so it is not offered.
//   - Boost.Fiber channels are used from plain threads (each thread's main fiber; a blocked thread sleeps
//     in the fiber scheduler's condition variable). buffered_channel(n) needs n a power of two >= 2 and
//     holds n - 1 values: capacity 1 uses n = 2 (holds 1), capacity c >= 2 uses n = c (holds c - 1).
//     Capacity 0 uses unbuffered_channel (a rendezvous). No unbounded form.
// Lifetime: each adapter owns its queue; the workload keeps it alive until every thread has joined.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <handoff/condition.hpp>

#include "mutex_queue.hpp"

#if __has_include(<handoff/stream.hpp>)
#include <handoff/stream.hpp>
#define HANDOFF_BENCH_HAVE_STREAM 1
#endif
#if __has_include(<handoff/mvar.hpp>)
#include <handoff/mvar.hpp>
#define HANDOFF_BENCH_HAVE_MVAR 1
#endif
#if defined(HANDOFF_HAVE_MOODYCAMEL)
#include <blockingconcurrentqueue.h>
#endif
#if defined(HANDOFF_HAVE_ATOMIC_QUEUE)
#include <atomic_queue/atomic_queue.h>
#endif
#if defined(HANDOFF_HAVE_TBB)
#include <tbb/concurrent_queue.h>
#endif
#if defined(HANDOFF_HAVE_BOOST_FIBER)
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/unbuffered_channel.hpp>
#endif

namespace handoff_bench {

inline constexpr std::size_t unbounded_capacity = SIZE_MAX;

[[noreturn]] inline void peer_broke(const char* peer, const char* what) {
  std::fprintf(stderr, "peer %s: %s\n", peer, what);
  std::abort();
}

// ---- the baseline ----
// bench/mutex_queue.hpp over the condition variable CV: everything the two mutex peers share.
template <class T, class CV>
struct mutex_queue_peer_base {
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t) { return true; }
  explicit mutex_queue_peer_base(std::size_t capacity) : queue(capacity) {}
  void push(T value) { queue.push(std::move(value)); }
  T pop() { return queue.pop(); }
  mutex_queue<T, CV> queue;
};

template <class T>
struct mutex_condvar_peer : mutex_queue_peer_base<T, std::condition_variable> {
  static constexpr const char* name = "mutex+condvar";
  static constexpr const char* waiting = "parks (std::condition_variable)";
  using mutex_queue_peer_base<T, std::condition_variable>::mutex_queue_peer_base;
};

// The same queue with handoff::condition<void> for its condition variables (CO-8: the std vocabulary).
template <class T>
struct mutex_handoff_condition_peer : mutex_queue_peer_base<T, handoff::condition<void>> {
  static constexpr const char* name = "mutex+handoff.condition";
  static constexpr const char* waiting = "parks (handoff::condition<void>)";
  using mutex_queue_peer_base<T, handoff::condition<void>>::mutex_queue_peer_base;
};

// ---- handoff ----
#if defined(HANDOFF_BENCH_HAVE_STREAM)
template <class T, class Sync = handoff::default_sync>  // Sync: queue_bench's stream_yield rows vary it
struct handoff_stream_peer {
  static constexpr const char* name = "handoff.stream";
  static constexpr const char* waiting = "spins briefly, then parks (futex)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t) { return true; }
  explicit handoff_stream_peer(std::size_t capacity)
      : stream(capacity == unbounded_capacity ? handoff::stream<T, Sync>(handoff::unbounded)
                                              : handoff::stream<T, Sync>(capacity)) {}
  void push(T value) {
    if (!stream.push(std::move(value))) peer_broke(name, "push reported closed");
  }
  T pop() {
    auto value = stream.pop();
    if (!value) peer_broke(name, "pop reported end-of-stream");
    return std::move(*value);
  }
  handoff::stream<T, Sync> stream;
};
#endif

#if defined(HANDOFF_BENCH_HAVE_MVAR)
// An mvar is a one-slot channel (ST-6): measured in the capacity-1 rows next to stream<T>{1}.
template <class T>
struct handoff_mvar_peer {
  static constexpr const char* name = "handoff.mvar";
  static constexpr const char* waiting = "spins briefly, then parks (futex)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t capacity) { return capacity == 1; }
  explicit handoff_mvar_peer(std::size_t) {}
  void push(T value) { box.put(std::move(value)); }
  T pop() { return box.take(); }
  handoff::mvar<T> box;
};
#endif

// ---- peers ----
#if defined(HANDOFF_HAVE_MOODYCAMEL)
template <class T>
struct moodycamel_peer {
  static constexpr const char* name = "moodycamel";
  static constexpr const char* waiting = "unbounded (push never waits); pop spins, then parks (semaphore)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t capacity) { return capacity == 1024 || capacity == unbounded_capacity; }
  explicit moodycamel_peer(std::size_t) {}
  void push(T value) {
    if (!queue.enqueue(std::move(value))) peer_broke(name, "enqueue failed (allocation)");
  }
  T pop() {
    T value{};  // initialised: the compiler cannot see that the peer always assigns it
    queue.wait_dequeue(value);
    return value;
  }
  moodycamel::BlockingConcurrentQueue<T> queue;
};
#endif

#if defined(HANDOFF_HAVE_ATOMIC_QUEUE)
template <class T, unsigned Capacity>
struct atomic_queue_peer {
  static constexpr const char* name = "atomic_queue";
  static constexpr const char* waiting = "spins (never parks)";
  static constexpr bool busy_waits = true;
  static constexpr bool fifo_per_producer = false;  // see the note above
  static bool supports(std::size_t capacity) { return capacity == Capacity; }
  explicit atomic_queue_peer(std::size_t) {}
  void push(T value) { queue.push(std::move(value)); }
  T pop() { return queue.pop(); }
  atomic_queue::AtomicQueue2<T, Capacity> queue;
};
#endif

#if defined(HANDOFF_HAVE_TBB)
template <class T>
struct tbb_peer {
  static constexpr const char* name = "tbb";
  static constexpr const char* waiting = "spins briefly, then sleeps (concurrent_monitor)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t capacity) { return capacity >= 1; }
  explicit tbb_peer(std::size_t capacity) {
    if (capacity != unbounded_capacity) queue.set_capacity(static_cast<std::ptrdiff_t>(capacity));
  }
  void push(T value) { queue.push(std::move(value)); }
  T pop() {
    T value{};  // initialised: the compiler cannot see that the peer always assigns it
    queue.pop(value);
    return value;
  }
  tbb::concurrent_bounded_queue<T> queue;
};
#endif

#if defined(HANDOFF_HAVE_BOOST_FIBER)
template <class T>
struct boost_fiber_peer {
  static constexpr const char* name = "boost.fiber";
  static constexpr const char* waiting =
      "spinlock, then the thread's fiber scheduler sleeps (condition_variable)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t capacity) {
    return capacity == 1 ||
           (capacity != unbounded_capacity && capacity >= 2 && (capacity & (capacity - 1)) == 0);
  }
  explicit boost_fiber_peer(std::size_t capacity) : channel(capacity == 1 ? 2 : capacity) {}
  void push(T value) {
    if (channel.push(std::move(value)) != boost::fibers::channel_op_status::success) peer_broke(name, "push");
  }
  T pop() { return channel.value_pop(); }
  boost::fibers::buffered_channel<T> channel;
};

template <class T>
struct boost_fiber_rendezvous_peer {
  static constexpr const char* name = "boost.fiber";
  static constexpr const char* waiting =
      "spinlock, then the thread's fiber scheduler sleeps (condition_variable)";
  static constexpr bool busy_waits = false;
  static constexpr bool fifo_per_producer = true;
  static bool supports(std::size_t capacity) { return capacity == 0; }
  explicit boost_fiber_rendezvous_peer(std::size_t) {}
  void push(T value) {
    if (channel.push(std::move(value)) != boost::fibers::channel_op_status::success) peer_broke(name, "push");
  }
  T pop() { return channel.value_pop(); }
  boost::fibers::unbuffered_channel<T> channel;
};
#endif

// Calls f.template operator()<Peer>() for every peer compiled in, handoff's first.
template <class T, class F>
void for_each_peer(F&& f) {
#if defined(HANDOFF_BENCH_HAVE_STREAM)
  f.template operator()<handoff_stream_peer<T>>();
#endif
#if defined(HANDOFF_BENCH_HAVE_MVAR)
  f.template operator()<handoff_mvar_peer<T>>();
#endif
  f.template operator()<mutex_condvar_peer<T>>();
  f.template operator()<mutex_handoff_condition_peer<T>>();
#if defined(HANDOFF_HAVE_MOODYCAMEL)
  f.template operator()<moodycamel_peer<T>>();
#endif
#if defined(HANDOFF_HAVE_ATOMIC_QUEUE)
  f.template operator()<atomic_queue_peer<T, 1>>();
  f.template operator()<atomic_queue_peer<T, 64>>();
  f.template operator()<atomic_queue_peer<T, 1024>>();
#endif
#if defined(HANDOFF_HAVE_TBB)
  f.template operator()<tbb_peer<T>>();
#endif
#if defined(HANDOFF_HAVE_BOOST_FIBER)
  f.template operator()<boost_fiber_peer<T>>();
  f.template operator()<boost_fiber_rendezvous_peer<T>>();
#endif
}

}  // namespace handoff_bench
