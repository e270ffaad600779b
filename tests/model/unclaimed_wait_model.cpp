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
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
