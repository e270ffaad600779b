// A tiny one-slot box of nonzero uint32 values, built only in the test tree, in a correct form and in two
// deliberately broken forms. It exists to show that the deterministic scheduler (det_sync.hpp) can tell them
// apart: tests/unit/det_planted_test.cpp must catch both bugs (a WILL_FAIL ctest), and det_mvar_test.cpp
// checks that the correct form passes the same scenarios over the same seed budget.
//
// The box follows the register / recheck / park order of include/handoff/detail/waiter.hpp in miniature:
//   take: exchange the slot; if empty, read the wake sequence, register as a sleeper, re-check the slot, park
//         on the sequence word with the value read (a put in between changed it, so park returns at once).
//   put:  compare-exchange the slot from empty (spinning while full), bump the sequence, wake if registered.
// Planted bugs:
//   check_then_register: take reads the sequence after registering and never re-checks the slot. A put that
//                        lands between the emptiness check and the registration sees no sleeper and wakes
//                        nobody: the taker parks forever (a lost wakeup: DEADLOCK under det_sync).
//   check_then_store:    put checks "empty" with a load and then stores: two putters both see empty and one
//                        value overwrites the other (a lost value: the conservation check fails).
// Every atomic operation here is seq_cst: the box is a logic model, not a memory-order example.
#pragma once

#include <cstdint>
#include <string>

#include "det_sync.hpp"

namespace handoff_test {

enum class box_bug { none, check_then_register, check_then_store };

template <class Sync, box_bug Bug = box_bug::none>
class tiny_box {
 public:
  void put(std::uint32_t v) {
    if constexpr (Bug == box_bug::check_then_store) {
      while (slot_.load() != 0) Sync::relax();
      slot_.store(v);  // BUG: another putter may have stored since the load
    } else {
      std::uint32_t empty = 0;
      while (!slot_.compare_exchange_weak(empty, v)) {
        empty = 0;
        Sync::relax();
      }
    }
    seq_.fetch_add(1);
    if (sleepers_.load() != 0) Sync::unpark_all(seq_);
  }

  std::uint32_t take() {
    for (;;) {
      if (const std::uint32_t v = slot_.exchange(0)) return v;
      if constexpr (Bug == box_bug::check_then_register) {
        sleepers_.fetch_add(1);
        const std::uint32_t seen = seq_.load();  // BUG: a put since the check above is not seen
        Sync::park(seq_, seen);
        sleepers_.fetch_sub(1);
      } else {
        const std::uint32_t seen = seq_.load();
        sleepers_.fetch_add(1);
        if (const std::uint32_t v = slot_.exchange(0)) {  // recheck after registering
          sleepers_.fetch_sub(1);
          return v;
        }
        Sync::park(seq_, seen);
        sleepers_.fetch_sub(1);
      }
    }
  }

  std::uint32_t try_take() { return slot_.exchange(0); }

 private:
  typename Sync::template atomic<std::uint32_t> slot_{0};
  typename Sync::template atomic<std::uint32_t> seq_{0};
  typename Sync::template atomic<std::uint32_t> sleepers_{0};
};

// The scenarios both checks run, as det run bodies.
namespace box_scenarios {

// G-1: a putter and a taker that may have to wait.
template <class Box>
void handoff() {
  Box b;
  std::uint32_t got = 0;
  det_thread taker([&] { got = b.take(); }, "taker");
  b.put(7);
  taker.join();
  DET_CHECK(got == 7);
}

// G-2: two putters and one taker; once all three are done the value not taken is in the box.
template <class Box>
void two_putters() {
  Box b;
  std::uint32_t got = 0;
  det_thread p1([&] { b.put(1); }, "putter 1");
  det_thread p2([&] { b.put(2); }, "putter 2");
  det_thread taker([&] { got = b.take(); }, "taker");
  taker.join();
  p1.join();
  p2.join();
  const std::uint32_t left = b.try_take();
  DET_CHECK_MSG((got == 1 && left == 2) || (got == 2 && left == 1),
                "took " + std::to_string(got) + ", left in the box " + std::to_string(left));
}

}  // namespace box_scenarios
}  // namespace handoff_test
