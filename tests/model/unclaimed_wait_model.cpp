// Relacy model check of the unclaimed wait of stream.hpp invariant 9: the library's own stream_ring
// (include/handoff/detail/stream_ring.hpp: turn_of, published, await_step, wake_unclaimed, fill, publish)
// runs over rl_sync (tests/model/rl_sync.hpp), so Relacy explores its real memory orders under the C++
// memory model, with a futex model for park/unpark.
//
// The situation: a push claimed index 0 (the tail word, modelled by one atomic, is 1) and is still writing.
// A pop waits for it without claiming (await_step on slot 0's turn word), re-checking after it marks itself
// asleep that the tail is still past 0, as stream's await_publication does.
// What each suite proves (every interleaving Relacy explores; a parked thread never woken is a DEADLOCK):
//   give_back: the push's move threw and it gives index 0 back (the tail back to 0, then wake_unclaimed(0)).
//              The turn never moves, so only wake_unclaimed and the re-check can end the wait: the pop must
//              see the tail at 0 (G-1: no lost wakeup across two words, the tail and the turn).
//   publish:   the push writes its value and publishes it. The pop must see it published and read the value
//              (G-4: publish's release exchange pairs with the acquire in take()).
//   claimed:   a pop that claimed index 0 waits in take() for the push in flight (fill, or a hole when the
//              move threw), and the push of index 2 (the next lap of slot 0) waits in fill() for that pop
//              to free the slot: three threads on one turn word. Every wait ends (no DEADLOCK), the pop
//              gets 42 (or the hole), and the next lap's value is in the slot.
//   hook:      a coroutine hooks the step in flight on slot 0 (hook_step, the turn it saw free) while the
//              push publishes. hook_step answers `set` exactly when the step runs the hook (once), and
//              `moved` exactly when nobody does: a set bit is always served, and the hook never runs for a
//              coroutine that was told to look again (its pin would be dropped twice).
// (The claimed and hook suites were written for the two-word slot of commit 5c62b25, where the claimed
// suite found an ABA on the flags word; they run unchanged against the one-word protocol.)
// Run: build/dev/tests/unclaimed_wait_model (ctest -R unclaimed_wait_model). Exit 0 when every suite passes.
#include <handoff/detail/stream_ring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "rl_run.hpp"
#include "rl_sync.hpp"  // after the handoff headers (see rl_sync.hpp)

namespace handoff_model {

template <flavor F>
using ring_t = handoff::detail::stream_ring<int, rl_sync<F>>;

enum class ended { not_yet, given_back, published };

// The pop's side: look at the tail and the turn, wait unclaimed, look again (stream.hpp try_fast_pop and
// await_publication, with the head fixed at 0).
template <flavor F>
ended wait_unclaimed(ring_t<F>& ring, typename rl_sync<F>::template atomic<std::uint32_t>& tail) {
  for (;;) {
    if (tail.load(std::memory_order::acquire) == 0) return ended::given_back;
    const std::uint32_t seen = ring.turn_of(0);
    if (ring.published(0, seen)) return ended::published;
    const std::uint32_t now =
        ring.await_step(0, seen, [&] { return tail.load(std::memory_order::acquire) != 0; });
    if (ring.published(0, now)) return ended::published;
  }
}

template <flavor F>
struct give_back_suite : rl::test_suite<give_back_suite<F>, 2> {
  std::optional<ring_t<F>> ring;  // not new/delete: relacy.hpp redefines them as macros
  typename rl_sync<F>::template atomic<std::uint32_t> tail;
  ended outcome = ended::not_yet;

  void before() {
    ring.emplace(2);
    tail.store(1, std::memory_order::relaxed);  // index 0 claimed
  }
  void after() {
    RL_ASSERT(outcome == ended::given_back);
    ring.reset();
  }
  void thread(unsigned index) {
    if (index == 0) {
      outcome = wait_unclaimed<F>(*ring, tail);
    } else {
      // stream.hpp give_back_claim: the tail goes back (acq_rel CAS), then the slot's sleepers are woken.
      std::uint32_t expected = 1;
      RL_ASSERT(
          tail.compare_exchange_strong(expected, 0, std::memory_order::acq_rel, std::memory_order::acquire));
      ring->wake_unclaimed(0);
    }
  }
};

template <flavor F>
struct publish_suite : rl::test_suite<publish_suite<F>, 2> {
  std::optional<ring_t<F>> ring;  // not new/delete: relacy.hpp redefines them as macros
  typename rl_sync<F>::template atomic<std::uint32_t> tail;
  ended outcome = ended::not_yet;
  int value = 0;

  void before() {
    ring.emplace(2);
    tail.store(1, std::memory_order::relaxed);
  }
  void after() {
    RL_ASSERT(outcome == ended::published);
    RL_ASSERT(value == 42);
    ring.reset();
  }
  void thread(unsigned index) {
    if (index == 0) {
      outcome = wait_unclaimed<F>(*ring, tail);
      std::optional<int> out;
      if (outcome == ended::published && ring->take(0, out)) value = *out;
    } else {
      ring->fill(0, 42);
    }
  }
};

template <flavor F, bool Hole>
struct claimed_suite : rl::test_suite<claimed_suite<F, Hole>, 3> {
  std::optional<ring_t<F>> ring;
  bool took = false;
  int value = 0;

  void before() { ring.emplace(2); }
  void after() {
    RL_ASSERT(took == !Hole);
    RL_ASSERT(Hole || value == 42);
    std::optional<int> out;
    RL_ASSERT(ring->take(2, out) && *out == 7);  // the next lap's value (single-threaded now)
    ring.reset();
  }
  void thread(unsigned index) {
    if (index == 0) {
      std::optional<int> out;
      took = ring->take(0, out);  // claimed: waits for the push of index 0
      if (took) value = *out;
    } else if (index == 1) {
      if (Hole)
        ring->publish_hole(0);
      else
        ring->fill(0, 42);
    } else {
      ring->fill(2, 7);  // slot 0's next lap: waits for the pop of index 0 to free it
    }
  }
};

template <flavor F>
struct hook_suite : rl::test_suite<hook_suite<F>, 2> {
  std::optional<ring_t<F>> ring;
  int hook_runs = 0;  // written by the stepping thread only
  typename ring_t<F>::hook_result answer = ring_t<F>::hook_result::already;

  static void on_step(void* self) noexcept { ++static_cast<hook_suite*>(self)->hook_runs; }
  void before() {
    ring.emplace(2);
    ring->set_step_hook(&hook_suite::on_step, this);
  }
  void after() {
    using result = typename ring_t<F>::hook_result;
    RL_ASSERT(answer == result::set || answer == result::moved);
    RL_ASSERT(hook_runs == (answer == result::set ? 1 : 0));
    ring.reset();
  }
  void thread(unsigned index) {
    if (index == 0)
      answer = ring->hook_step(0, 0);  // the push of index 0 seen in flight (turn 0: free for it)
    else
      ring->fill(0, 42);
  }
};

}  // namespace handoff_model

#ifndef HANDOFF_MODEL_NO_MAIN
int main() {
  using namespace handoff_model;
  bool ok = true;
  ok &= run<give_back_suite<flavor::correct>>("unclaimed wait: give back",
                                              rl::fair_full_search_scheduler_type, 0);
  ok &= run<give_back_suite<flavor::correct>>("unclaimed wait: give back", rl::random_scheduler_type, 200000);
  ok &=
      run<publish_suite<flavor::correct>>("unclaimed wait: publish", rl::fair_full_search_scheduler_type, 0);
  ok &= run<claimed_suite<flavor::correct, false>>("claimed waits: value", rl::random_scheduler_type, 200000);
  ok &= run<claimed_suite<flavor::correct, true>>("claimed waits: hole", rl::random_scheduler_type, 200000);
  ok &= run<hook_suite<flavor::correct>>("hook vs step", rl::fair_full_search_scheduler_type, 0);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
