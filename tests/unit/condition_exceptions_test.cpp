// condition<T>: G-8 where a move of the value can throw after it left the signaller, and CO-7's truthful
// counts around it. A value moves once, in the signaller's thread, into the waiter's storage; the result<T>
// forms return that storage itself, so nothing of T runs after the hand-off; T wait() and T wait(lock) move
// it once more, in the waiter's thread, into their return value (condition.hpp, Exceptions). Each case throws
// on the k-th move of the value (k = 0, 1, 2) and checks what the header documents for that move. Every test
// runs on both parking backends; "registered" is established through waiting(), never by sleeping.
#include <handoff/condition.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff_test::get_or_abort;
using handoff_test::until;

template <class Sync>
class ConditionExceptionsTest : public ::testing::Test {};
TYPED_TEST_SUITE(ConditionExceptionsTest, handoff_test::real_backends, handoff_test::backend_names);

// A move-only value whose moves are numbered from arm() on, in every thread; move number `k` throws.
struct kth_move_throws {
  static inline std::atomic<int> moves{0};
  static inline std::atomic<int> throw_at{-1};  // -1: never
  static void arm(int k) {
    moves.store(0);
    throw_at.store(k);
  }
  static void disarm() { throw_at.store(-1); }

  int value;
  explicit kth_move_throws(int v) : value(v) {}
  kth_move_throws(kth_move_throws&& o) : value(o.value) {
    if (moves.fetch_add(1) == throw_at.load()) throw std::runtime_error("move failed");
    o.value = -1;
  }
  kth_move_throws(const kth_move_throws&) = delete;
  kth_move_throws& operator=(const kth_move_throws&) = delete;
};

// What a waiter saw: the value it returned (-1: none), whether its wait threw, and for wait(lock) whether it
// held the lock again on the way out.
struct seen {
  int value = -1;
  bool threw = false;
  bool held = true;
};

template <class Sync>
struct wait_form {
  const char* name;
  int moves_per_delivery;  // 2: T wait() / T wait(lock); 1: the result<T> forms
  std::function<seen(handoff::condition<kth_move_throws, Sync>&, std::mutex&)> wait;
};

template <class Sync>
std::vector<wait_form<Sync>> wait_forms() {
  using C = handoff::condition<kth_move_throws, Sync>;
  // Reads the value out of what the wait returned without moving it again.
  auto guarded = [](auto&& f) {
    seen s;
    try {
      s.value = f();
    } catch (const std::runtime_error&) {
      s.threw = true;
    }
    return s;
  };
  return {
      {"wait()", 2, [=](C& c, std::mutex&) { return guarded([&] { return c.wait().value; }); }},
      {"wait(lock)", 2,
       [=](C& c, std::mutex& m) {
         std::unique_lock lock(m);
         seen s = guarded([&] { return c.wait(lock).value; });
         s.held = lock.owns_lock();
         return s;
       }},
      {"wait_for(d)", 1,
       [=](C& c, std::mutex&) {
         return guarded([&] {
           const auto r = c.wait_for(1h);
           return r ? r->value : -1;
         });
       }},
      {"wait(stop)", 1,
       [=](C& c, std::mutex&) {
         return guarded([&] {
           const auto r = c.wait(std::stop_token{});  // the documented one-move stand-in for wait()
           return r ? r->value : -1;
         });
       }},
      {"wait_for(lock, d, stop)", 1,
       [=](C& c, std::mutex& m) {
         std::unique_lock lock(m);
         std::stop_source never;
         seen s = guarded([&] {
           const auto r = c.wait_for(lock, 1h, never.get_token());
           return r ? r->value : -1;
         });
         s.held = lock.owns_lock();
         return s;
       }},
  };
}

// G-8, CO-7: the value's k-th move throws.
//   k = 0, the signaller's move into the waiter's storage: the exception reaches the signaller, the waiter is
//     put back and still waiting, and the next signal reaches it (for every form).
//   k = 1, the waiter's move into its T return value (wait(), wait(lock) only): signal counted 1, the wait
//     throws the move's exception (wait(lock) with the lock held again), the condition stays usable. The
//     result<T> forms make no second move: they return the value.
//   k = 2: nothing throws; the value moved exactly moves_per_delivery times.
TYPED_TEST(ConditionExceptionsTest, G8_CO7_KthMoveOfTheValueThrows) {
  for (const auto& form : wait_forms<TypeParam>()) {
    for (int k = 0; k <= 2; ++k) {
      SCOPED_TRACE(std::string(form.name) + ", move " + std::to_string(k) + " throws");
      handoff::condition<kth_move_throws, TypeParam> c;
      std::mutex m;
      auto waiter = std::async(std::launch::async, [&] { return form.wait(c, m); });
      until([&] { return c.waiting() == 1; }, "waiter registered");
      kth_move_throws::arm(k);
      std::size_t counted = 0;
      bool signal_threw = false;
      try {
        counted = c.signal(kth_move_throws(7));
      } catch (const std::runtime_error&) {
        signal_threw = true;
      }
      if (k == 0) {
        EXPECT_TRUE(signal_threw) << "the signaller's move threw: the exception is the signaller's";
        EXPECT_EQ(c.waiting(), 1u) << "the waiter is back in the queue, still waiting";
        kth_move_throws::arm(-1);
        EXPECT_EQ(c.signal(kth_move_throws(8)), 1u);
      } else {
        EXPECT_FALSE(signal_threw);
        EXPECT_EQ(counted, 1u);
      }
      const seen s = get_or_abort(std::move(waiter), std::string(form.name) + " after the throwing move");
      const int moves = kth_move_throws::moves.load();
      kth_move_throws::disarm();
      EXPECT_TRUE(s.held) << "wait(lock) holds the lock again on every way out (CO-6)";
      if (k == 0) {
        EXPECT_FALSE(s.threw);
        EXPECT_EQ(s.value, 8) << "the waiter got the next signal";
        EXPECT_EQ(moves, form.moves_per_delivery) << "moves of the second, successful delivery";
      } else if (k == 1 && form.moves_per_delivery == 2) {
        EXPECT_TRUE(s.threw) << "the waiter's own move threw: the exception leaves its wait";
        EXPECT_EQ(moves, 2);
      } else {
        EXPECT_FALSE(s.threw);
        EXPECT_EQ(s.value, 7) << "counted 1: the waiter returns the value (CO-7)";
        EXPECT_EQ(moves, form.moves_per_delivery) << "the value moves exactly this often";
      }
      // Usable afterwards: nobody registered, and a new wait gets the next signal.
      EXPECT_EQ(c.waiting(), 0u);
      EXPECT_EQ(c.signal(kth_move_throws(9)), 0u);
      auto next = std::async(std::launch::async, [&] { return form.wait(c, m); });
      until([&] { return c.waiting() == 1; }, "next waiter registered");
      EXPECT_EQ(c.signal(kth_move_throws(10)), 1u);
      EXPECT_EQ(get_or_abort(std::move(next), "next waiter").value, 10);
    }
  }
}

// Counts its copies and moves.
struct counted {
  static inline std::atomic<int> copies{0}, moves{0};
  int value;
  explicit counted(int v) : value(v) {}
  counted(const counted& o) : value(o.value) { copies.fetch_add(1); }
  counted(counted&& o) noexcept : value(o.value) { moves.fetch_add(1); }
};

// G-8, CO-4: broadcast copies into each waiter's storage; a result<T> form then returns that copy without
// another move, and T wait() moves it once into its return value.
TYPED_TEST(ConditionExceptionsTest, G8_BroadcastCopiesOnceAndTheResultFormsNeverMoveIt) {
  counted::copies.store(0);
  counted::moves.store(0);
  handoff::condition<counted, TypeParam> c;
  auto by_result = std::async(std::launch::async, [&] { return c.wait_for(1h)->value; });
  until([&] { return c.waiting() == 1; }, "result-form waiter registered");
  auto by_value = std::async(std::launch::async, [&] { return c.wait().value; });
  until([&] { return c.waiting() == 2; }, "value-form waiter registered");
  const counted v(3);
  EXPECT_EQ(c.broadcast(v), 2u);
  EXPECT_EQ(get_or_abort(std::move(by_result), "result-form waiter"), 3);
  EXPECT_EQ(get_or_abort(std::move(by_value), "value-form waiter"), 3);
  EXPECT_EQ(counted::copies.load(), 2) << "one copy per waiter";
  EXPECT_EQ(counted::moves.load(), 1) << "only wait()'s own move into its return value";
}

}  // namespace
