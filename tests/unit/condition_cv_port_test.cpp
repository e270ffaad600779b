// CO-8: condition<void> as a drop-in for std::condition_variable(_any). Provenance: the classic bounded
// buffer (a mutex, a std::deque and two condition variables, "not full" and "not empty", predicate waits,
// notify after unlocking), as in the std::condition_variable examples of cppreference and most textbooks.
// The same template runs with std::condition_variable, std::condition_variable_any, and handoff::condition<>
// (both parking backends), with std::mutex and with a custom BasicLockable; every run must deliver the same
// multiset of values, in per-producer order, and in exactly the same order when there is one producer and
// one consumer. C++20's interruptible predicate waits (stop_token forms) must give the same answers as
// std::condition_variable_any's.
#include <handoff/condition.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff_test::get_or_abort;

// A BasicLockable that is not std::mutex (a test-and-set lock that yields): needs condition_variable_any or
// handoff::condition.
class yielding_lock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();  // pairs with unlock()
  }
  void unlock() { flag_.clear(std::memory_order_release); }  // release: pairs with the acquire in lock()

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

// The ported code: written once against the std::condition_variable interface.
template <class CV, class Mutex>
class bounded_buffer {
 public:
  explicit bounded_buffer(std::size_t capacity) : capacity_(capacity) {}

  void push(std::uint64_t v) {
    std::unique_lock<Mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(v);
    lock.unlock();
    not_empty_.notify_one();
  }

  // The timed form: retries until it succeeds, counting the timeouts (exercises wait_for(lock, d, pred)).
  void push_timed(std::uint64_t v) {
    std::unique_lock<Mutex> lock(mutex_);
    while (!not_full_.wait_for(lock, 100us, [&] { return items_.size() < capacity_; })) ++timeouts_;
    items_.push_back(v);
    lock.unlock();
    not_empty_.notify_one();
  }

  // nullopt once closed and drained.
  std::optional<std::uint64_t> pop() {
    std::unique_lock<Mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    const std::uint64_t v = items_.front();
    items_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return v;
  }

  void close() {
    {
      std::lock_guard<Mutex> lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

 private:
  Mutex mutex_;
  CV not_full_, not_empty_;
  std::deque<std::uint64_t> items_;
  std::size_t capacity_;
  bool closed_ = false;
  std::uint64_t timeouts_ = 0;  // guarded by mutex_
};

struct run_result {
  std::vector<std::uint64_t> received;                   // all values, in the order each consumer got them
  std::vector<std::vector<std::uint64_t>> per_consumer;  // what each consumer got, in order
};

template <class CV, class Mutex>
run_result run_workload(unsigned producers, unsigned consumers, std::uint64_t per_producer, std::size_t cap) {
  bounded_buffer<CV, Mutex> buffer(cap);
  run_result r;
  r.per_consumer.resize(consumers);
  std::vector<std::future<void>> threads;
  for (unsigned c = 0; c < consumers; ++c) {
    threads.push_back(std::async(std::launch::async, [&, c] {
      while (auto v = buffer.pop()) r.per_consumer[c].push_back(*v);
    }));
  }
  std::vector<std::future<void>> pushers;
  for (unsigned p = 0; p < producers; ++p) {
    pushers.push_back(std::async(std::launch::async, [&, p] {
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        const std::uint64_t v = std::uint64_t{p} << 32 | s;
        if (s % 4 == 3)
          buffer.push_timed(v);
        else
          buffer.push(v);
      }
    }));
  }
  for (auto& p : pushers) get_or_abort(std::move(p), "producer (lost wakeup on not_full?)");
  buffer.close();
  for (auto& t : threads) get_or_abort(std::move(t), "consumer (lost wakeup on not_empty?)");
  for (auto& pc : r.per_consumer) r.received.insert(r.received.end(), pc.begin(), pc.end());
  return r;
}

// Every value exactly once, and per producer in order within each consumer's sequence.
void check_conservation(const run_result& r, unsigned producers, std::uint64_t per_producer) {
  std::vector<std::uint64_t> sorted = r.received;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint64_t> expected;
  for (unsigned p = 0; p < producers; ++p)
    for (std::uint64_t s = 0; s < per_producer; ++s) expected.push_back(std::uint64_t{p} << 32 | s);
  ASSERT_EQ(sorted, expected) << "lost or duplicated values";
  for (const auto& pc : r.per_consumer) {
    std::vector<std::int64_t> last(producers, -1);
    for (std::uint64_t v : pc) {
      const auto p = static_cast<unsigned>(v >> 32);
      const auto s = static_cast<std::int64_t>(v & 0xffffffffu);
      ASSERT_GT(s, last[p]) << "a consumer saw producer " << p << " out of order";
      last[p] = s;
    }
  }
}

template <class Sync>
class ConditionCvPort : public ::testing::Test {};
TYPED_TEST_SUITE(ConditionCvPort, handoff_test::real_backends, handoff_test::backend_names);

constexpr std::uint64_t kPerProducer = 5'000;

TYPED_TEST(ConditionCvPort, CO8_SpscSameSequenceAsStdConditionVariable) {
  using handoff_cv = handoff::condition<void, TypeParam>;
  const auto reference = run_workload<std::condition_variable, std::mutex>(1, 1, kPerProducer, 4);
  const auto ported = run_workload<handoff_cv, std::mutex>(1, 1, kPerProducer, 4);
  const auto ported_custom = run_workload<handoff_cv, yielding_lock>(1, 1, kPerProducer, 4);
  check_conservation(reference, 1, kPerProducer);
  EXPECT_EQ(ported.received, reference.received) << "one producer, one consumer: the same sequence";
  EXPECT_EQ(ported_custom.received, reference.received);
}

TYPED_TEST(ConditionCvPort, CO8_MpmcSameMultisetAsStdConditionVariable) {
  using handoff_cv = handoff::condition<void, TypeParam>;
  constexpr unsigned kProducers = 3, kConsumers = 3;
  auto sorted = [](std::vector<std::uint64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto reference =
      run_workload<std::condition_variable, std::mutex>(kProducers, kConsumers, kPerProducer, 2);
  const auto any =
      run_workload<std::condition_variable_any, yielding_lock>(kProducers, kConsumers, kPerProducer, 2);
  const auto ported = run_workload<handoff_cv, std::mutex>(kProducers, kConsumers, kPerProducer, 2);
  const auto ported_custom = run_workload<handoff_cv, yielding_lock>(kProducers, kConsumers, kPerProducer, 2);
  check_conservation(reference, kProducers, kPerProducer);
  check_conservation(any, kProducers, kPerProducer);
  check_conservation(ported, kProducers, kPerProducer);
  check_conservation(ported_custom, kProducers, kPerProducer);
  EXPECT_EQ(sorted(ported.received), sorted(reference.received));
  EXPECT_EQ(sorted(ported_custom.received), sorted(any.received));
}

// Capacity 1 with many threads: the most wake-ups per value, where a lost notify_one shows as a hang.
TYPED_TEST(ConditionCvPort, CO8_CapacityOneManyThreadsNoLostWakeup) {
  using handoff_cv = handoff::condition<void, TypeParam>;
  const auto ported = run_workload<handoff_cv, std::mutex>(4, 4, 2'000, 1);
  check_conservation(ported, 4, 2'000);
}

// ---- C++20 std::condition_variable_any's interruptible predicate waits: the same answers (CO-8)

// One implementation of the interface: std::condition_variable_any itself, or handoff::condition<void>.
template <class CV>
class InterruptibleWaits : public ::testing::Test {};
#if defined(HANDOFF_HAVE_FUTEX)
using futex_impls = ::testing::Types<handoff::condition<void, handoff::detail::futex_sync>>;
#else
using futex_impls = ::testing::Types<>;
#endif
using interruptible_impls = handoff_test::join_types<
    ::testing::Types<std::condition_variable_any>,
    handoff_test::on_backends<
        futex_impls, ::testing::Types<handoff::condition<void, handoff::detail::portable_sync>>>>::type;
TYPED_TEST_SUITE(InterruptibleWaits, interruptible_impls);

enum class interruptible { wait, wait_for, wait_until };

template <class CV, class Lock, class Pred>
bool call(interruptible form, CV& cv, Lock& lock, std::stop_token st, std::chrono::microseconds d,
          Pred pred) {
  switch (form) {
    case interruptible::wait:
      return cv.wait(lock, std::move(st), pred);
    case interruptible::wait_for:
      return cv.wait_for(lock, std::move(st), d, pred);
    case interruptible::wait_until:
      return cv.wait_until(lock, std::move(st), std::chrono::steady_clock::now() + d, pred);
  }
  return false;
}

// Single-thread cases, where the answer and the number of pred() calls are fixed by the standard's loop
//   while (!st.stop_requested()) { if (pred()) return true; if (wait_until(lock, t) == timeout) return
//   pred(); } return pred();
// and two-thread cases (notified with pred true; stopped while waiting with pred false), where only the
// answer is fixed. Every implementation must give the same answers.
TYPED_TEST(InterruptibleWaits, CO8_SameAnswersAsConditionVariableAny) {
  for (auto form : {interruptible::wait, interruptible::wait_for, interruptible::wait_until}) {
    SCOPED_TRACE(static_cast<int>(form));
    TypeParam cv;
    std::mutex m;
    bool ready = false;  // guarded by m
    int pred_calls = 0;  // guarded by m
    auto pred = [&] {
      ++pred_calls;
      return ready;
    };
    std::stop_source stopped, never;
    stopped.request_stop();
    auto single = [&](bool value, std::stop_token st, std::chrono::microseconds d) {
      std::unique_lock lock(m);
      ready = value;
      pred_calls = 0;
      const bool r = call(form, cv, lock, std::move(st), d, pred);
      EXPECT_TRUE(lock.owns_lock());
      return std::pair{r, pred_calls};
    };
    EXPECT_EQ(single(true, stopped.get_token(), 1h), std::pair(true, 1)) << "stopped, pred true";
    EXPECT_EQ(single(false, stopped.get_token(), 1h), std::pair(false, 1)) << "stopped, pred false";
    EXPECT_EQ(single(true, never.get_token(), 1h), std::pair(true, 1)) << "pred true at once";
    if (form != interruptible::wait) {
      EXPECT_EQ(single(false, never.get_token(), -1ms), std::pair(false, 2)) << "deadline passed, pred false";
    }

    // Two threads. `entered` is set under m just before the call; once the main thread then takes m, the
    // waiter has released it inside the wait, so it waits (or has already been woken).
    bool entered = false;  // guarded by m
    auto start = [&](std::stop_token st) {
      {
        std::lock_guard lock(m);
        ready = false;
        entered = false;
      }
      return std::async(std::launch::async, [&, st] {
        std::unique_lock lock(m);
        entered = true;
        const bool r = call(form, cv, lock, st, std::chrono::microseconds(1h), pred);
        return std::pair{r, lock.owns_lock()};
      });
    };
    auto until_waiting = [&] {
      handoff_test::until(
          [&] {
            std::lock_guard lock(m);
            return entered;
          },
          "waiter inside the wait");
    };
    {
      auto waiter = start(never.get_token());
      until_waiting();
      {
        std::lock_guard lock(m);
        ready = true;
      }
      cv.notify_all();
      EXPECT_EQ(get_or_abort(std::move(waiter), "notified waiter"), std::pair(true, true));
    }
    {
      std::stop_source source;
      auto waiter = start(source.get_token());
      until_waiting();
      source.request_stop();
      EXPECT_EQ(get_or_abort(std::move(waiter), "stopped waiter"), std::pair(false, true));
    }
  }
}

}  // namespace
