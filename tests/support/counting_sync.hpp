// A Sync policy that counts, per thread, everything a blocking path does and a fast path must not (G-6:
// "an operation that does not have to wait takes no lock and makes no system call"; MV-2, MV-5: "returns at
// once", i.e. never parks): park, park_until, unpark_one, unpark_all, yield, and acquisitions of the
// primitives' internal lock.
//
// How it counts:
// - counting_sync<Base> derives from a real policy (futex_sync or portable_sync) and shadows park,
//   park_until, unpark_one, unpark_all and yield: every call the library makes through Sync:: (the only way
//   it sleeps, wakes or yields: detail/sync.hpp) is counted on the calling thread, then forwarded to Base.
// - The lock. Every lock in the library is a detail::slow_lock<Sync> (mvar, stream, condition_core and
//   topic's list lock; grep 'slow_lock<' include/), taken through its lock() by the primitives and by
//   slow_guard / relockable_guard. This header specialises slow_lock for counting_sync<Base>: its lock()
//   counts one acquisition and forwards to the library's own slow_lock code, instantiated with
//   counting_parks<Base> (the same counting of parks and unparks, so a contended acquisition is seen twice:
//   as an acquisition and as its futex calls). So "lock == 0" means that no slow path was entered at all: not
//   "the lock was free", but "nobody asked for it", which is what G-6 promises.
//   Why not count operations on the lock's word through an instrumented Sync::atomic: the operations cannot
//   tell that word from the state words (mvar's uncontended claim is also a compare-exchange from 0 with
//   acquire), and the word is a private member, so its address is not available to the test. Counting at
//   the interface the library itself calls is exact and does not depend on the lock's internals.
// - What is not counted: system calls made other than through Sync (none in include/: it has no mutex,
//   no sleep and no direct futex call) and allocation (tests/support/counting_new.hpp does that).
//
// A thread may also forbid parking for a scope (no_park_scope): a park_until there is counted and answers
// "deadline passed" at once, so a timed call that wrongly parks comes back and the test reports it; an
// untimed park cannot return without lying to its caller's loop, so it aborts with a message naming the scope
// (a hang turned into a failure that names the rule, as support/watchdog.hpp does).
//
// Include this header before any use of a primitive with counting_sync (the specialisation must be seen
// before slow_lock<counting_sync<...>> is instantiated), and from test files only.
#pragma once

#include <handoff/detail/slow_lock.hpp>
#include <handoff/detail/sync.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>

namespace handoff_test {

struct sync_counts {
  std::uint64_t park = 0, park_until = 0, unpark_one = 0, unpark_all = 0, yield = 0, lock = 0;

  friend bool operator==(const sync_counts&, const sync_counts&) = default;
  friend sync_counts operator-(const sync_counts& after, const sync_counts& before) {
    return {after.park - before.park,
            after.park_until - before.park_until,
            after.unpark_one - before.unpark_one,
            after.unpark_all - before.unpark_all,
            after.yield - before.yield,
            after.lock - before.lock};
  }
  friend std::ostream& operator<<(std::ostream& os, const sync_counts& c) {
    return os << "{park " << c.park << ", park_until " << c.park_until << ", unpark_one " << c.unpark_one
              << ", unpark_all " << c.unpark_all << ", yield " << c.yield << ", lock " << c.lock << "}";
  }
};

// The calling thread's counts (every counting_sync<Base> shares them).
inline thread_local sync_counts this_thread_sync_counts;
// Set by no_park_scope: what must not park on this thread (nullptr: parking allowed).
inline thread_local const char* this_thread_no_park = nullptr;

class no_park_scope {
 public:
  explicit no_park_scope(const char* what) noexcept : previous_(this_thread_no_park) {
    this_thread_no_park = what;
  }
  ~no_park_scope() { this_thread_no_park = previous_; }
  no_park_scope(const no_park_scope&) = delete;
  no_park_scope& operator=(const no_park_scope&) = delete;

 private:
  const char* previous_;
};

// The counts the calling thread accumulated while running f, in a scope where parking is forbidden.
template <class F>
sync_counts counted(const char* what, F&& f) {
  const sync_counts before = this_thread_sync_counts;
  {
    no_park_scope scope(what);
    f();
  }
  return this_thread_sync_counts - before;
}

[[noreturn]] inline void parked_where_forbidden(const char* what) {
  std::fprintf(stderr, "FORBIDDEN PARK: an untimed park inside '%s', which must return at once\n", what);
  std::fflush(stderr);
  std::abort();
}

// The parking half: every Sync:: call that sleeps, wakes or yields is counted, then forwarded to Base.
template <class Base>
struct counting_parks : Base {
  template <class U>
  using atomic = typename Base::template atomic<U>;

  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    ++this_thread_sync_counts.park;
    if (this_thread_no_park) parked_where_forbidden(this_thread_no_park);
    Base::park(word, expected);
  }
  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected,
                         const handoff::detail::deadline& d) noexcept {
    ++this_thread_sync_counts.park_until;
    if (this_thread_no_park) return false;  // "passed": the call gives up and the test sees it
    return Base::park_until(word, expected, d);
  }
  static void unpark_one(atomic<std::uint32_t>& word) noexcept {
    ++this_thread_sync_counts.unpark_one;
    Base::unpark_one(word);
  }
  static void unpark_all(atomic<std::uint32_t>& word) noexcept {
    ++this_thread_sync_counts.unpark_all;
    Base::unpark_all(word);
  }
  static void yield() noexcept {
    ++this_thread_sync_counts.yield;
    Base::yield();
  }
};

// The policy the primitives under test use; slow_lock is specialised for it below.
template <class Base>
struct counting_sync : counting_parks<Base> {};

}  // namespace handoff_test

namespace handoff::detail {

// Every acquisition of a primitive's internal lock is counted, then made by the library's own slow_lock.
template <class Base>
class slow_lock<handoff_test::counting_sync<Base>> {
 public:
  void lock() noexcept {
    ++handoff_test::this_thread_sync_counts.lock;
    inner_.lock();
  }
  // An attempt counts as an acquisition whether or not it succeeds: the path asked for the lock.
  bool try_lock() noexcept {
    ++handoff_test::this_thread_sync_counts.lock;
    return inner_.try_lock();
  }
  void unlock() noexcept { inner_.unlock(); }

 private:
  slow_lock<handoff_test::counting_parks<Base>> inner_;
};

}  // namespace handoff::detail
