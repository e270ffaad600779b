// condition<T> and condition<void>: what the timed and cancellable waits answer (issue 16). condition<T>'s
// return result<T>: the value with status ok, or no value with status timeout or cancelled (CO-2, CO-7);
// deadline and stop token combine in every form, with and without the caller's lock (G-7). condition<void>
// keeps std's returns for std's forms, including C++20 std::condition_variable_any's interruptible predicate
// waits (CO-8), bool for its other two-outcome forms and result<void> for the deadline + stop forms. G-7 for
// every form: a passed deadline or an already-stopped token returns at once, without registering and without
// releasing the caller's lock. Every test runs on both parking backends; "registered" is established
// through waiting(), never by sleeping; hangs are caught by the watchdog.
#include <handoff/condition.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::result;
using handoff::status;
using handoff_test::get_or_abort;
using handoff_test::until;

template <class Sync>
class ConditionResultTest : public ::testing::Test {};
TYPED_TEST_SUITE(ConditionResultTest, handoff_test::real_backends, handoff_test::backend_names);

// A BasicLockable that records who holds it and how often it was released, so a test can tell that a wait
// never released it (G-7) or released it and held it again on return (CO-6).
class recording_lock {
 public:
  void lock() {
    mutex_.lock();
    owner_.store(std::this_thread::get_id());
  }
  void unlock() {
    owner_.store(std::thread::id{});
    unlocks_.fetch_add(1);
    mutex_.unlock();
  }
  bool held_by_me() const { return owner_.load() == std::this_thread::get_id(); }
  int unlocks() const { return unlocks_.load(); }

 private:
  std::mutex mutex_;
  std::atomic<std::thread::id> owner_{};
  std::atomic<int> unlocks_{0};
};

// ---- the shapes (compile-time): result<T> for condition<T>'s timed and cancellable forms; std's returns for
// std's forms on condition<void>, bool for its other two-outcome forms, result<void> for deadline + stop.
template <class Sync>
constexpr bool shapes_are_as_documented() {
  using C = handoff::condition<int, Sync>;
  using V = handoff::condition<void, Sync>;
  using d = std::chrono::milliseconds;
  using t = std::chrono::steady_clock::time_point;
  using st = std::stop_token;
  using lk = std::unique_lock<std::mutex>;
  using pred = bool (*)();
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait()), int>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait(std::declval<lk&>())), int>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait_for(d{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait_until(t{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait(st{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait_for(d{}, st{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait_until(t{}, st{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait_for(std::declval<lk&>(), d{})), result<int>>);
  static_assert(
      std::is_same_v<decltype(std::declval<C&>().wait_until(std::declval<lk&>(), t{})), result<int>>);
  static_assert(std::is_same_v<decltype(std::declval<C&>().wait(std::declval<lk&>(), st{})), result<int>>);
  static_assert(
      std::is_same_v<decltype(std::declval<C&>().wait_for(std::declval<lk&>(), d{}, st{})), result<int>>);
  static_assert(
      std::is_same_v<decltype(std::declval<C&>().wait_until(std::declval<lk&>(), t{}, st{})), result<int>>);
  // result<T> is a std::optional<T>: code written for the optional-returning forms compiles unchanged.
  static_assert(std::is_base_of_v<std::optional<int>, result<int>>);

  static_assert(std::is_same_v<decltype(std::declval<V&>().wait()), void>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait_for(d{})), bool>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait_until(t{})), bool>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait(st{})), bool>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait_for(d{}, st{})), result<void>>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait_until(t{}, st{})), result<void>>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait(std::declval<lk&>())), void>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_for(std::declval<lk&>(), d{})), std::cv_status>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_until(std::declval<lk&>(), t{})), std::cv_status>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_for(std::declval<lk&>(), d{}, pred{})), bool>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_until(std::declval<lk&>(), t{}, pred{})), bool>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait(std::declval<lk&>(), st{})), bool>);
  static_assert(std::is_same_v<decltype(std::declval<V&>().wait(std::declval<lk&>(), st{}, pred{})), bool>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_for(std::declval<lk&>(), st{}, d{}, pred{})), bool>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_until(std::declval<lk&>(), st{}, t{}, pred{})), bool>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_for(std::declval<lk&>(), d{}, st{})), result<void>>);
  static_assert(
      std::is_same_v<decltype(std::declval<V&>().wait_until(std::declval<lk&>(), t{}, st{})), result<void>>);
  return true;
}

TYPED_TEST(ConditionResultTest, CO2_CO8_ReturnShapes) {
  static_assert(shapes_are_as_documented<TypeParam>());
  handoff::condition<std::string, TypeParam> c;
  const std::optional<std::string> sliced = c.wait_for(0s);  // the optional-returning code still compiles
  EXPECT_FALSE(sliced.has_value());
}

// ---- condition<T>: every result form, three ways (notified, deadline passed, stop requested)

// One timed or cancellable form of condition<int>: `timeout` is used by forms with a deadline, `token` by
// forms with a stop token, the lock by the lock forms (which also report whether they held it on return).
template <class Sync>
struct typed_form {
  const char* name;
  bool has_deadline, has_stop;
  std::function<result<int>(handoff::condition<int, Sync>&, recording_lock&, std::chrono::microseconds,
                            std::stop_token, bool& lock_held)>
      call;
};

template <class Sync>
std::vector<typed_form<Sync>> typed_forms() {
  using C = handoff::condition<int, Sync>;
  using us = std::chrono::microseconds;
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto sys = [] { return std::chrono::system_clock::now(); };
  // The lock forms hold `lk` around the call and say whether they held it again on return (CO-6).
  auto locked = [](recording_lock& lk, bool& held, auto&& f) {
    lk.lock();
    result<int> r = f();
    held = lk.held_by_me();
    lk.unlock();
    return r;
  };
  return {
      {"wait_for(d)", true, false,
       [](C& c, recording_lock&, us d, std::stop_token, bool&) { return c.wait_for(d); }},
      {"wait_until(t)", true, false,
       [=](C& c, recording_lock&, us d, std::stop_token, bool&) { return c.wait_until(sys() + d); }},
      {"wait(stop)", false, true,
       [](C& c, recording_lock&, us, std::stop_token st, bool&) { return c.wait(st); }},
      {"wait_for(d, stop)", true, true,
       [](C& c, recording_lock&, us d, std::stop_token st, bool&) { return c.wait_for(d, st); }},
      {"wait_until(t, stop)", true, true,
       [=](C& c, recording_lock&, us d, std::stop_token st, bool&) { return c.wait_until(now() + d, st); }},
      {"wait_for(lock, d)", true, false,
       [=](C& c, recording_lock& lk, us d, std::stop_token, bool& held) {
         return locked(lk, held, [&] { return c.wait_for(lk, d); });
       }},
      {"wait_until(lock, t)", true, false,
       [=](C& c, recording_lock& lk, us d, std::stop_token, bool& held) {
         return locked(lk, held, [&] { return c.wait_until(lk, now() + d); });
       }},
      {"wait(lock, stop)", false, true,
       [=](C& c, recording_lock& lk, us, std::stop_token st, bool& held) {
         return locked(lk, held, [&] { return c.wait(lk, st); });
       }},
      {"wait_for(lock, d, stop)", true, true,
       [=](C& c, recording_lock& lk, us d, std::stop_token st, bool& held) {
         return locked(lk, held, [&] { return c.wait_for(lk, d, st); });
       }},
      {"wait_until(lock, t, stop)", true, true,
       [=](C& c, recording_lock& lk, us d, std::stop_token st, bool& held) {
         return locked(lk, held, [&] { return c.wait_until(lk, sys() + d, st); });
       }},
  };
}

// CO-2, CO-7, G-7: ok with the signalled value; timeout when the deadline passes; cancelled when the stop
// request comes first. The lock forms hold the lock again on every one of these ways out (CO-6).
TYPED_TEST(ConditionResultTest, CO2_G7_EveryTypedFormSaysOkTimeoutOrCancelled) {
  for (const auto& form : typed_forms<TypeParam>()) {
    SCOPED_TRACE(form.name);
    handoff::condition<int, TypeParam> c;
    recording_lock lk;
    {  // notified
      std::stop_source never;
      bool held = true;
      auto waiter =
          std::async(std::launch::async, [&] { return form.call(c, lk, 1h, never.get_token(), held); });
      until([&] { return c.waiting() == 1; }, "waiter registered");
      EXPECT_EQ(c.signal(5), 1u);
      const result<int> r = get_or_abort(std::move(waiter), std::string(form.name) + " notified");
      EXPECT_EQ(r.status(), status::ok);
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(*r, 5);
      EXPECT_TRUE(held) << "the lock is held again on return (CO-6)";
    }
    if (form.has_deadline) {  // the deadline passes (a stop token, if any, is never stopped)
      std::stop_source never;
      bool held = true;
      const result<int> r = form.call(c, lk, 1ms, never.get_token(), held);
      EXPECT_EQ(r.status(), status::timeout);
      EXPECT_FALSE(r.has_value());
      EXPECT_TRUE(held);
    }
    if (form.has_stop) {  // the stop request comes while it waits (before any deadline)
      std::stop_source source;
      bool held = true;
      auto waiter =
          std::async(std::launch::async, [&] { return form.call(c, lk, 1h, source.get_token(), held); });
      until([&] { return c.waiting() == 1; }, "stoppable waiter registered");
      source.request_stop();
      const result<int> r = get_or_abort(std::move(waiter), std::string(form.name) + " stopped");
      EXPECT_EQ(r.status(), status::cancelled);
      EXPECT_FALSE(r.has_value());
      EXPECT_TRUE(held);
    }
    EXPECT_EQ(c.waiting(), 0u) << "every waiter that gave up left the queue";
    EXPECT_EQ(c.signal(6), 0u) << "and swallows no later signal (CO-7)";
  }
}

// ---- condition<void>: the deadline + stop forms answer result<void>

template <class Sync>
struct void_form {
  const char* name;
  std::function<result<void>(handoff::condition<void, Sync>&, recording_lock&, std::chrono::microseconds,
                             std::stop_token, bool& lock_held)>
      call;
};

template <class Sync>
std::vector<void_form<Sync>> void_deadline_stop_forms() {
  using V = handoff::condition<void, Sync>;
  using us = std::chrono::microseconds;
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto locked = [](recording_lock& lk, bool& held, auto&& f) {
    lk.lock();
    result<void> r = f();
    held = lk.held_by_me();
    lk.unlock();
    return r;
  };
  return {
      {"wait_for(d, stop)",
       [](V& c, recording_lock&, us d, std::stop_token st, bool&) { return c.wait_for(d, st); }},
      {"wait_until(t, stop)",
       [=](V& c, recording_lock&, us d, std::stop_token st, bool&) { return c.wait_until(now() + d, st); }},
      {"wait_for(lock, d, stop)",
       [=](V& c, recording_lock& lk, us d, std::stop_token st, bool& held) {
         return locked(lk, held, [&] { return c.wait_for(lk, d, st); });
       }},
      {"wait_until(lock, t, stop)",
       [=](V& c, recording_lock& lk, us d, std::stop_token st, bool& held) {
         return locked(lk, held, [&] { return c.wait_until(lk, std::chrono::system_clock::now() + d, st); });
       }},
  };
}

TYPED_TEST(ConditionResultTest, CO8_G7_VoidDeadlineAndStopFormsSayOkTimeoutOrCancelled) {
  for (const auto& form : void_deadline_stop_forms<TypeParam>()) {
    SCOPED_TRACE(form.name);
    handoff::condition<void, TypeParam> c;
    recording_lock lk;
    {
      std::stop_source never;
      bool held = true;
      auto waiter =
          std::async(std::launch::async, [&] { return form.call(c, lk, 1h, never.get_token(), held); });
      until([&] { return c.waiting() == 1; }, "waiter registered");
      EXPECT_EQ(c.notify_one(), 1u);
      const result<void> r = get_or_abort(std::move(waiter), std::string(form.name) + " notified");
      EXPECT_EQ(r.status(), status::ok);
      EXPECT_TRUE(static_cast<bool>(r)) << "explicit operator bool: true = notified, as the bool forms";
      EXPECT_TRUE(held);
    }
    {
      std::stop_source never;
      bool held = true;
      const result<void> r = form.call(c, lk, 1ms, never.get_token(), held);
      EXPECT_EQ(r.status(), status::timeout);
      EXPECT_FALSE(static_cast<bool>(r));
      EXPECT_TRUE(held);
    }
    {
      std::stop_source source;
      bool held = true;
      auto waiter =
          std::async(std::launch::async, [&] { return form.call(c, lk, 1h, source.get_token(), held); });
      until([&] { return c.waiting() == 1; }, "stoppable waiter registered");
      source.request_stop();
      const result<void> r = get_or_abort(std::move(waiter), std::string(form.name) + " stopped");
      EXPECT_EQ(r.status(), status::cancelled);
      EXPECT_FALSE(static_cast<bool>(r));
      EXPECT_TRUE(held);
    }
    EXPECT_EQ(c.waiting(), 0u);
    EXPECT_EQ(c.notify_one(), 0u) << "no waiter that gave up swallows a later notification (CO-7)";
  }
}

// ---- condition<void>: C++20 std::condition_variable_any's interruptible predicate waits (CO-8). Semantics:
//   while (!stop_requested) { if (pred()) return true; wait (until t); if it timed out return pred(); }
//   return pred();

template <class Sync>
struct stop_pred_form {
  const char* name;
  bool has_deadline;
  std::function<bool(handoff::condition<void, Sync>&, recording_lock&, std::stop_token,
                     std::chrono::microseconds, const std::function<bool()>&)>
      call;
};

template <class Sync>
std::vector<stop_pred_form<Sync>> stop_pred_forms() {
  using V = handoff::condition<void, Sync>;
  using us = std::chrono::microseconds;
  using pred = const std::function<bool()>&;
  return {
      {"wait(lock, stop, pred)", false,
       [](V& c, recording_lock& lk, std::stop_token st, us, pred p) { return c.wait(lk, st, p); }},
      {"wait_for(lock, stop, d, pred)", true,
       [](V& c, recording_lock& lk, std::stop_token st, us d, pred p) { return c.wait_for(lk, st, d, p); }},
      {"wait_until(lock, stop, t, pred)", true,
       [](V& c, recording_lock& lk, std::stop_token st, us d, pred p) {
         return c.wait_until(lk, st, std::chrono::steady_clock::now() + d, p);
       }},
  };
}

TYPED_TEST(ConditionResultTest, CO8_InterruptiblePredicateWaitsAnswerPredsFinalValue) {
  for (const auto& form : stop_pred_forms<TypeParam>()) {
    SCOPED_TRACE(form.name);
    handoff::condition<void, TypeParam> c;
    recording_lock lk;
    bool ready = false;  // guarded by lk
    int pred_calls = 0;  // guarded by lk
    const std::function<bool()> pred = [&] {
      ++pred_calls;
      return ready;
    };
    // Each waiter below holds lk around the call and answers {result, held lk on return}.
    auto start = [&](std::stop_token st, std::chrono::microseconds d) {
      return std::async(std::launch::async, [&, st, d] {
        lk.lock();
        const bool r = form.call(c, lk, st, d, pred);
        const bool held = lk.held_by_me();
        lk.unlock();
        return std::pair{r, held};
      });
    };
    {  // notified after pred became true: true
      std::stop_source never;
      auto waiter = start(never.get_token(), 1h);
      until([&] { return c.waiting() == 1; }, "waiter registered");
      lk.lock();
      ready = true;
      lk.unlock();
      EXPECT_EQ(c.notify_all(), 1u);
      EXPECT_EQ(get_or_abort(std::move(waiter), "notified"), std::pair(true, true));
    }
    {  // stop requested while pred is false: false, lock held
      lk.lock();
      ready = false;
      lk.unlock();
      std::stop_source source;
      auto waiter = start(source.get_token(), 1h);
      until([&] { return c.waiting() == 1; }, "waiter registered");
      source.request_stop();
      EXPECT_EQ(get_or_abort(std::move(waiter), "stopped, pred false"), std::pair(false, true));
    }
    {  // pred became true without a notification, then stop: pred's final value, true
      std::stop_source source;
      auto waiter = start(source.get_token(), 1h);
      until([&] { return c.waiting() == 1; }, "waiter registered");
      lk.lock();
      ready = true;
      lk.unlock();
      source.request_stop();
      EXPECT_EQ(get_or_abort(std::move(waiter), "stopped, pred true"), std::pair(true, true));
    }
    if (form.has_deadline) {  // the deadline passes with pred false: false
      lk.lock();
      ready = false;
      lk.unlock();
      std::stop_source never;
      EXPECT_EQ(get_or_abort(start(never.get_token(), 1ms), "deadline"), std::pair(false, true));
    }
    {  // already stopped: pred is evaluated once, as std's loop does, and nothing waits (G-7)
      std::stop_source stopped;
      stopped.request_stop();
      for (bool value : {false, true}) {
        lk.lock();
        ready = value;
        pred_calls = 0;
        const int unlocks = lk.unlocks();
        EXPECT_EQ(form.call(c, lk, stopped.get_token(), 1h, pred), value);
        EXPECT_EQ(pred_calls, 1);
        EXPECT_EQ(lk.unlocks(), unlocks) << "the lock was never released (G-7)";
        lk.unlock();
      }
    }
    EXPECT_EQ(c.waiting(), 0u);
  }
}

// ---- G-7: nothing at once, no registration, the caller's lock never released

TYPED_TEST(ConditionResultTest, G7_EveryTypedFormGivesUpAtOnceWithoutRegisteringOrUnlocking) {
  handoff::condition<int, TypeParam> c;
  std::stop_source stopped, never;
  stopped.request_stop();
  const auto steady_past = std::chrono::steady_clock::now() - 1h;
  const auto system_past = std::chrono::system_clock::now() - 1h;
  recording_lock lk;
  lk.lock();
  auto gives_up = [&](const result<int>& r, status why, const char* what) {
    EXPECT_FALSE(r.has_value()) << what;
    EXPECT_EQ(r.status(), why) << what;
    EXPECT_EQ(c.waiting(), 0u) << what << ": nobody registered";
    EXPECT_EQ(lk.unlocks(), 0) << what << ": the caller's lock was released";
    EXPECT_TRUE(lk.held_by_me()) << what;
  };
  gives_up(c.wait_for(0s), status::timeout, "wait_for(0s)");
  gives_up(c.wait_for(-1s), status::timeout, "wait_for(-1s)");
  gives_up(c.wait_until(steady_past), status::timeout, "wait_until(steady past)");
  gives_up(c.wait_until(system_past), status::timeout, "wait_until(system past)");
  gives_up(c.wait(stopped.get_token()), status::cancelled, "wait(stopped)");
  gives_up(c.wait_for(-1s, never.get_token()), status::timeout, "wait_for(-1s, never)");
  gives_up(c.wait_for(1h, stopped.get_token()), status::cancelled, "wait_for(1h, stopped)");
  gives_up(c.wait_until(steady_past, never.get_token()), status::timeout, "wait_until(past, never)");
  gives_up(c.wait_until(std::chrono::steady_clock::now() + 1h, stopped.get_token()), status::cancelled,
           "wait_until(future, stopped)");
  gives_up(c.wait_for(-1s, stopped.get_token()), status::cancelled, "wait_for(-1s, stopped): cancelled wins");
  gives_up(c.wait_for(lk, 0s), status::timeout, "wait_for(lock, 0s)");
  gives_up(c.wait_for(lk, -1s), status::timeout, "wait_for(lock, -1s)");
  gives_up(c.wait_until(lk, steady_past), status::timeout, "wait_until(lock, steady past)");
  gives_up(c.wait_until(lk, system_past), status::timeout, "wait_until(lock, system past)");
  gives_up(c.wait(lk, stopped.get_token()), status::cancelled, "wait(lock, stopped)");
  gives_up(c.wait_for(lk, -1s, never.get_token()), status::timeout, "wait_for(lock, -1s, never)");
  gives_up(c.wait_for(lk, 1h, stopped.get_token()), status::cancelled, "wait_for(lock, 1h, stopped)");
  gives_up(c.wait_until(lk, system_past, never.get_token()), status::timeout,
           "wait_until(lock, past, never)");
  gives_up(c.wait_until(lk, std::chrono::system_clock::now() + 1h, stopped.get_token()), status::cancelled,
           "wait_until(lock, future, stopped)");
  gives_up(c.wait_until(lk, steady_past, stopped.get_token()), status::cancelled,
           "wait_until(lock, past, stopped): cancelled wins");
  lk.unlock();
  EXPECT_EQ(c.signal(1), 0u) << "nobody registered, nobody to count";
}

TYPED_TEST(ConditionResultTest, G7_EveryVoidFormGivesUpAtOnceWithoutRegisteringOrUnlocking) {
  handoff::condition<void, TypeParam> c;
  std::stop_source stopped, never;
  stopped.request_stop();
  const auto steady_past = std::chrono::steady_clock::now() - 1h;
  recording_lock lk;
  lk.lock();
  auto nothing_happened = [&](const char* what) {
    EXPECT_EQ(c.waiting(), 0u) << what << ": nobody registered";
    EXPECT_EQ(lk.unlocks(), 0) << what << ": the caller's lock was released";
    EXPECT_TRUE(lk.held_by_me()) << what;
  };
  auto gives_up = [&](const result<void>& r, status why, const char* what) {
    EXPECT_EQ(r.status(), why) << what;
    nothing_happened(what);
  };
  EXPECT_FALSE(c.wait_for(-1s));
  EXPECT_FALSE(c.wait_until(steady_past));
  EXPECT_FALSE(c.wait(stopped.get_token()));
  nothing_happened("bool forms");
  gives_up(c.wait_for(-1s, never.get_token()), status::timeout, "wait_for(-1s, never)");
  gives_up(c.wait_for(1h, stopped.get_token()), status::cancelled, "wait_for(1h, stopped)");
  gives_up(c.wait_until(steady_past, stopped.get_token()), status::cancelled, "wait_until(past, stopped)");
  gives_up(c.wait_for(lk, 0s, never.get_token()), status::timeout, "wait_for(lock, 0s, never)");
  gives_up(c.wait_until(lk, std::chrono::steady_clock::now() + 1h, stopped.get_token()), status::cancelled,
           "wait_until(lock, future, stopped)");
  EXPECT_EQ(c.wait_for(lk, -1s), std::cv_status::timeout);
  EXPECT_EQ(c.wait_until(lk, std::chrono::system_clock::now() - 1h), std::cv_status::timeout);
  EXPECT_FALSE(c.wait(lk, stopped.get_token()));
  nothing_happened("cv_status and wait(lock, stop) forms");
  for (bool value : {false, true}) {
    auto pred = [value] { return value; };
    EXPECT_EQ(c.wait_for(lk, -1s, pred), value);
    EXPECT_EQ(c.wait_until(lk, steady_past, pred), value);
    EXPECT_EQ(c.wait(lk, stopped.get_token(), pred), value);
    EXPECT_EQ(c.wait_for(lk, never.get_token(), -1s, pred), value);
    EXPECT_EQ(c.wait_until(lk, stopped.get_token(), std::chrono::steady_clock::now() + 1h, pred), value);
    nothing_happened(value ? "predicate forms, pred true" : "predicate forms, pred false");
  }
  lk.unlock();
  EXPECT_EQ(c.notify_all(), 0u);
}

}  // namespace
