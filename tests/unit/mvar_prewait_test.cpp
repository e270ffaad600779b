// What a blocked mvar<T> operation does before it registers as a waiter (include/handoff/mvar.hpp,
// invariant 10): a take (read, swap) on an empty box or a put on a full one watches the state word for up to
// Sync::spin_limit relax steps while nobody is registered, and claims the box with its one CAS if it turns
// full (empty) and idle meanwhile; the spin ends at the first flag, so a registered waiter is never passed
// over (G-3). Not for try_, a passed deadline or a stop already requested (G-7: they behave as try_).
// The Sync policy below counts the calling thread's relax steps and can run a hook at each, so each case is
// exact and single-threaded up to the registration (G-6: the phase is bounded). No sleeps: a helper acts
// only once waiting() shows the registration.
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "support/hooked_sync.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::until;

// The library's policy (its adaptive budget included), the calling thread's relax steps counted and an
// optional hook run at each (support/hooked_sync.hpp).
using counting_sync = handoff_test::hooked_sync;

// Resets the calling thread's counts and hook when constructed and when destroyed.
struct counting_scope {
  counting_scope() { reset(); }
  ~counting_scope() { reset(); }
  static void reset() {
    counting_sync::relaxes = 0;
    counting_sync::on_relax = nullptr;
  }
};

using box_t = handoff::mvar<std::string, counting_sync>;
using token_t = handoff::mvar<int, counting_sync>;  // a value-carrying T: the general path

// MV-6, invariant 10: a value put while the taker spins (here by the hook, at its third step) is claimed
// with the one-CAS take: the taker never registered, and the spin stopped at once.
TEST(MvarPrewait, ATakeClaimsAValuePutDuringItsSpinWithoutRegistering) {
  box_t box;
  std::thread([&] {
    counting_scope scope;
    counting_sync::on_relax = [&] {
      if (counting_sync::relaxes != 3) return;
      EXPECT_EQ(box.waiting().takers, 0u) << "still spinning, not registered";
      EXPECT_EQ(box.try_put("during the spin"), status::ok);
    };
    EXPECT_EQ(box.take(), "during the spin");
    EXPECT_EQ(counting_sync::relaxes, 3u) << "the spin ends at the first look after the put";
    EXPECT_EQ(box.stats().take.waits, 0u) << "no wait was counted";
    EXPECT_TRUE(box.is_empty());
  }).join();
}

// MV-4, invariant 10: a put on a full box whose value is taken during the spin stores without registering.
TEST(MvarPrewait, APutClaimsTheBoxEmptiedDuringItsSpinWithoutRegistering) {
  box_t box{std::string("first")};
  std::thread([&] {
    counting_scope scope;
    counting_sync::on_relax = [&] {
      if (counting_sync::relaxes != 2) return;
      EXPECT_EQ(box.waiting().putters, 0u) << "still spinning, not registered";
      EXPECT_EQ(box.try_take().value_or("none"), "first");
    };
    box.put(std::string("second"));
    EXPECT_EQ(counting_sync::relaxes, 2u);
  }).join();
  EXPECT_EQ(box.try_take().value_or("none"), "second");
}

// G-6: the spin is bounded: with nobody answering, the taker registers after exactly Sync::spin_limit steps
// (a fresh thread's budget), then a helper's put hands the value over. The helper learns of the
// registration from the taker's own hook (polling waiting() would contend for the lock, whose spin steps
// the count would include).
TEST(MvarPrewait, TheSpinIsBoundedThenTheTakerRegisters) {
  token_t box;
  std::atomic<bool> registered{false};
  std::thread taker([&] {
    counting_scope scope;
    unsigned before_registering = 0;
    counting_sync::on_relax = [&] {
      if (!registered.load() && box.waiting().takers == 1) {
        before_registering = counting_sync::relaxes - 1;
        registered.store(true);
      }
    };
    EXPECT_EQ(box.take(), 7);
    EXPECT_EQ(before_registering, counting_sync::spin_limit);
  });
  until([&] { return registered.load(); }, "the taker registers");
  box.put(7);
  taker.join();
}

// G-3, invariant 10: a taker that arrives when another is already registered does not spin (the TAKERS flag
// ends the spin at its first look): it registers behind, and the first put goes to the older taker.
TEST(MvarPrewait, AFlagEndsTheSpinAndTheOlderTakerIsServedFirst) {
  token_t box;
  std::optional<int> first, second;
  std::thread older([&] { first = box.take(); });
  until([&] { return box.waiting().takers == 1; }, "the older taker registers");
  std::atomic<bool> registered{false};
  std::thread younger([&] {
    counting_scope scope;
    unsigned before_registering = ~0u;
    counting_sync::on_relax = [&] {
      if (!registered.load() && box.waiting().takers == 2) {
        before_registering = counting_sync::relaxes - 1;
        registered.store(true);
      }
    };
    second = box.take();
    EXPECT_EQ(before_registering, 0u) << "no spin before registering behind a waiter";
  });
  until([&] { return registered.load(); }, "the younger taker registers");
  box.put(1);
  older.join();
  EXPECT_EQ(first, 1);
  box.put(2);
  younger.join();
  EXPECT_EQ(second, 2);
}

// G-7: try_, a passed deadline and a stop already requested answer at once, without a spin step.
TEST(MvarPrewait, TryPassedDeadlineAndRequestedStopDoNotSpin) {
  token_t empty;
  token_t full{1};
  counting_scope scope;
  EXPECT_EQ(empty.try_take().status(), status::empty);
  EXPECT_EQ(full.try_put(2), status::full);
  EXPECT_EQ(empty.take_for(-1ms).status(), status::timeout);
  EXPECT_EQ(full.put_for(2, -1ms), status::timeout);
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(empty.take(stop.get_token()).status(), status::cancelled);
  EXPECT_EQ(full.put(2, stop.get_token()), status::cancelled);
  EXPECT_EQ(counting_sync::relaxes, 0u);
}

// G-7: a stop requested during the watch ends it at the next step; the take answers cancelled.
TEST(MvarPrewait, AStopRequestedDuringTheWatchEndsIt) {
  token_t box;
  std::thread([&] {
    counting_scope scope;
    std::stop_source stop;
    counting_sync::on_relax = [&] {
      if (counting_sync::relaxes == 3) stop.request_stop();
    };
    EXPECT_EQ(box.take(stop.get_token()).status(), status::cancelled);
    EXPECT_EQ(counting_sync::relaxes, 3u);
    EXPECT_EQ(box.stats().take.waits, 0u);
  }).join();
}

// A value whose copy waits until released: a read() holds the box BUSY for as long as a test wants.
struct held_copy {
  int v = 0;
  static inline std::atomic<bool> hold{false};
  static inline std::atomic<bool> copying{false};
  explicit held_copy(int x) : v(x) {}
  held_copy(held_copy&& o) noexcept : v(o.v) {}
  held_copy(const held_copy& o) : v(o.v) {
    copying.store(true);
    handoff_test::until([] { return !hold.load(); }, "the test releases the copy");
  }
  held_copy& operator=(const held_copy&) = default;
  held_copy& operator=(held_copy&&) noexcept = default;
};

// G-7, invariant 6: a form whose deadline has passed, on a box another operation holds BUSY, registers as a
// try waiter at once (it waits only for the operation in flight): it does not watch the box first.
TEST(MvarPrewait, APassedDeadlineOnABusyBoxRegistersWithoutWatching) {
  handoff::mvar<held_copy, counting_sync> box{held_copy{5}};
  held_copy::hold.store(true);
  held_copy::copying.store(false);
  std::thread reader([&] { EXPECT_EQ(box.read().v, 5); });
  until([] { return held_copy::copying.load(); }, "the reader holds the box");
  std::thread([&] {
    counting_scope scope;
    unsigned before_registering = ~0u;
    counting_sync::on_relax = [&] {
      if (before_registering == ~0u && box.waiting().takers == 1) {
        before_registering = counting_sync::relaxes - 1;
        held_copy::hold.store(false);  // the reader releases; the try waiter is answered
      }
    };
    const auto r = box.take_for(-1ms);
    EXPECT_EQ(before_registering, 0u) << "no watch before registering";
    EXPECT_TRUE(r.status() == status::ok || r.status() == status::timeout);
  }).join();
  held_copy::hold.store(false);
  reader.join();
}

}  // namespace
