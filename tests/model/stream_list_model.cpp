// Relacy model check of the unbounded stream's lock-free overflow list push (stream.hpp invariant 4,
// include/handoff/detail/stream_overflow.hpp): the library's own stream<int> runs over rl_sync
// (tests/model/rl_sync.hpp) with a 2-slot ring and overflow blocks of 4 positions (3 cells and the sentinel),
// so Relacy explores the real memory orders of the claim on the tail word, the block install (link_next,
// then L past the sentinel, then the install turn), the waits on a sentinel, the pops' claims under lock_ and
// the clear of OVERFLOW (clear_overflow_if_empty), under the C++ memory model.
//
// Each suite starts with the ring full (2 values pushed in before()), so every push of the threads goes to
// the list. What each suite proves (every interleaving Relacy explores; a parked thread never woken is a
// DEADLOCK; a block used after its delete is a Relacy memory error):
//   two_pushers_popper: pushers A and B push 3 values each (list positions 0..6: two installs, either pusher
//              the installer, the other waiting on the sentinel) while a popper pops 4 values (the ring,
//              then the list through take_from_overflow and its refill). Afterwards the rest is popped:
//              every value exactly once, each pusher's values in order, the ring values first.
//   drain_and_push: a popper drains everything (its claims empty the list and clear OVERFLOW) while a pusher
//              pushes 3 more: a push that claims a cell across the clear would be lost or overtaken; every
//              value arrives once and in order, and a push after the clear takes the ring again.
// Run: build/dev/tests/stream_list_model (ctest -R stream_list_model). Exit 0 when every suite passes.
#include <handoff/stream.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

// Relacy replaces operator new(size_t) and operator delete(void*) but not the sized delete that `delete b`
// calls for a complete type (stream_overflow's blocks, allocated by its replaced operator new): forward it.
#pragma push_macro("delete")
#undef delete
void operator delete(void* p, std::size_t) noexcept {
  ::operator delete(p);
}
#pragma pop_macro("delete")

namespace handoff_model {

// The parking layer is a yield here: every park returns at once (a spurious return, which every wait of the
// library absorbs by re-reading) and a wake does nothing. A real wake may reach a word whose owner already
// returned (a waiter's node, a cell whose block its pop freed): harmless for a private futex, which uses only
// the address, but an access to freed memory for Relacy. So this model checks values, order, memory orders
// and block lifetimes; lost wakeups on this path are the deterministic suites' job (det_stream_test,
// det_stream_lin_test and det_coroutine_test run the same code with 4-position blocks and a real park).
template <flavor F>
struct small_list_sync : rl_sync<F> {
  static constexpr std::size_t unbounded_ring_slots = 2;
  static constexpr std::uint32_t overflow_block_positions = 4;
  template <class U>
  using atomic = typename rl_sync<F>::template atomic<U>;
  static void park(atomic<std::uint32_t>&, std::uint32_t) { rl::yield(1, RL_INFO); }
  static bool park_until(atomic<std::uint32_t>&, std::uint32_t, const handoff::detail::deadline&) {
    rl::yield(1, RL_INFO);
    return true;
  }
  static void unpark_one(atomic<std::uint32_t>&) {}
  static void unpark_all(atomic<std::uint32_t>&) {}
};

template <flavor F>
using list_stream = handoff::stream<int, small_list_sync<F>>;

// What a suite popped, in order (no std::vector: Relacy's allocator hooks do not mix with it).
struct popped_values {
  int v[16] = {};
  int n = 0;
  void add(int x) {
    RL_ASSERT(n < 16);
    v[n++] = x;
  }
};

// Values: producer * 100 + sequence. The ring's prefill is producer 0.
inline void check_order(const popped_values& got, int producers, const int* per) {
  int next[4] = {};
  for (int k = 0; k < got.n; ++k) {
    const int p = got.v[k] / 100, seq = got.v[k] % 100;
    RL_ASSERT(p >= 0 && p < producers);
    RL_ASSERT(seq == next[p]);  // none lost before it, none twice, in order
    ++next[p];
  }
  for (int p = 0; p < producers; ++p) RL_ASSERT(next[p] == per[p]);
}

template <flavor F>
struct two_pushers_popper : rl::test_suite<two_pushers_popper<F>, 3> {
  std::optional<list_stream<F>> s;  // not new/delete: relacy.hpp redefines them as macros
  popped_values popped;             // the popper's, then the rest in after()

  void before() {
    s.emplace(handoff::unbounded);
    RL_ASSERT(s->push(0) && s->push(1));  // the ring is full: the threads' pushes go to the list
  }
  void after() {
    while (auto v = s->try_pop()) popped.add(*v);
    // The prefill first (every ring value is older than every list value), then each pusher in order.
    RL_ASSERT(popped.n == 8 && popped.v[0] == 0 && popped.v[1] == 1);
    const int per[] = {2, 3, 3};
    check_order(popped, 3, per);
    s.reset();
  }
  void thread(unsigned index) {
    if (index < 2) {
      for (int k = 0; k < 3; ++k) RL_ASSERT(s->push(static_cast<int>(index + 1) * 100 + k));
    } else {
      for (int k = 0; k < 4; ++k) {
        const std::optional<int> v = s->pop();
        RL_ASSERT(v.has_value());
        popped.add(*v);
      }
    }
  }
};

template <flavor F>
struct drain_and_push : rl::test_suite<drain_and_push<F>, 2> {
  std::optional<list_stream<F>> s;
  popped_values popped;

  void before() {
    s.emplace(handoff::unbounded);
    for (int k = 0; k < 4; ++k) RL_ASSERT(s->push(k));  // the ring and two list values
  }
  void after() {
    while (auto v = s->try_pop()) popped.add(*v);
    const int per[] = {4, 3};
    check_order(popped, 2, per);
    s.reset();
  }
  void thread(unsigned index) {
    if (index == 0) {
      for (int k = 0; k < 5; ++k) {
        const std::optional<int> v = s->pop();
        RL_ASSERT(v.has_value());
        popped.add(*v);
      }
    } else {
      for (int k = 0; k < 3; ++k) RL_ASSERT(s->push(100 + k));
    }
  }
};

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  ok &= run<two_pushers_popper<flavor::correct>>("list: two pushers, popper", rl::random_scheduler_type,
                                                 100000);
  ok &= run<drain_and_push<flavor::correct>>("list: drain racing pushes", rl::random_scheduler_type, 100000);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
