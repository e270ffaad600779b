// Stress scenarios for condition<T> and condition<void> (rules CO-2..CO-8, G-1, G-2): broadcast storms
// against waiters that time out and are cancelled at random, checked per round (CO-4, CO-7); a signal
// hand-off where a value counts as sent only if signal returned 1, checked by the ledger (CO-3, CO-7, G-2);
// and the std::condition_variable queue pattern on condition<void> (CO-6, CO-8), checked by the ledger.
// Every result<T> a wait returns is checked against its status (ok exactly with a value).
#include <handoff/condition.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "stress.hpp"

namespace {

using stress::cores;
using stress::stoppable;

using namespace std::chrono_literals;

constexpr std::uint64_t kEnd =
    ~std::uint64_t{0};  // the closing broadcast's value; never a round or a ledger value

// What a result<T> form answered, checked against its status (issue 16): ok exactly with a value, cancelled
// only once the token was stopped, timeout only from a form with a deadline. Returns the optional part.
template <class T>
std::optional<T> checked(stress::context& ctx, handoff::result<T>&& r, const std::stop_token* token,
                         bool has_deadline, const char* form) {
  const bool consistent = r.has_value() == (r.status() == handoff::status::ok) &&
                          (r.status() != handoff::status::cancelled || (token && token->stop_requested())) &&
                          (r.status() != handoff::status::timeout || has_deadline);
  if (!consistent)
    ctx.fail(std::string(form) + " answered " + handoff::to_string(r.status()) + (r ? " with" : " without") +
             " a value");
  return std::move(r);
}

// One broadcaster (which sometimes signals instead) against N waiters using every wait form with random
// deadlines, plus a thread that cancels random waiters. Round r's value is r. Per round, the count returned
// by broadcast/signal must equal the number of waiters that returned r (CO-4, CO-7); each waiter must see
// strictly increasing rounds (CO-2: it only gets calls made after it registered).
template <class Sync>
struct condition_broadcast_storm {
  static void run(stress::context& ctx) {
    const unsigned n = ctx.opts().threads ? ctx.opts().threads : std::min(4 * cores(), 32u);
    constexpr std::uint64_t kMaxRounds = std::uint64_t{1} << 21;
    handoff::condition<std::uint64_t, Sync> c;
    auto counted = std::make_unique<std::uint32_t[]>(kMaxRounds);  // written by the broadcaster only
    auto hits = std::make_unique<std::atomic<std::uint32_t>[]>(kMaxRounds);
    std::vector<std::unique_ptr<stoppable>> stops;
    for (unsigned i = 0; i < n; ++i) stops.push_back(std::make_unique<stoppable>());
    std::atomic<bool> finished{false};
    std::atomic<unsigned> alive{n};
    std::vector<std::jthread> threads;

    for (unsigned i = 0; i < n; ++i) {
      auto& hb = ctx.new_heartbeat("storm waiter " + std::to_string(i));
      threads.emplace_back([&, i, &hb = hb] {
        auto rng = ctx.rng(i);
        std::mutex own;  // for the wait(lock) forms: CO-6 with an uncontended lock
        std::uint64_t last = 0;
        while (!finished.load()) {
          std::optional<std::uint64_t> v;
          const auto timeout = std::chrono::microseconds(rng() % 300);
          switch (rng() % 8) {
            case 0: {
              stress::in_call call(hb, "wait_for");
              v = checked(ctx, c.wait_for(timeout), nullptr, true, "wait_for");
              break;
            }
            case 1: {
              stress::in_call call(hb, "wait_until(system_clock)");
              v = checked(ctx, c.wait_until(std::chrono::system_clock::now() + timeout), nullptr, true,
                          "wait_until");
              break;
            }
            case 2: {
              const auto token = stops[i]->fresh_token();
              stress::in_call call(hb, "wait(stop_token)");
              v = checked(ctx, c.wait(token), &token, false, "wait(stop_token)");
              break;
            }
            case 6: {
              const auto token = stops[i]->fresh_token();
              stress::in_call call(hb, "wait_for(d, stop_token)");
              v = checked(ctx, c.wait_for(timeout, token), &token, true, "wait_for(d, stop_token)");
              break;
            }
            case 7: {
              const auto token = stops[i]->fresh_token();
              std::unique_lock lock(own);
              stress::in_call call(hb, "wait_until(lock, t, stop_token)");
              v = checked(ctx, c.wait_until(lock, std::chrono::steady_clock::now() + timeout, token), &token,
                          true, "wait_until(lock, t, stop_token)");
              if (!lock.owns_lock()) ctx.fail("wait_until(lock, t, token) returned without the lock (CO-6)");
              break;
            }
            case 3: {
              stress::in_call call(hb, "wait()");
              v = c.wait();  // ends at the latest with the closing broadcast
              break;
            }
            case 4: {
              std::unique_lock lock(own);
              stress::in_call call(hb, "wait_for(lock)");
              v = checked(ctx, c.wait_for(lock, timeout), nullptr, true, "wait_for(lock)");
              if (!lock.owns_lock()) ctx.fail("wait_for(lock) returned without the lock (CO-6)");
              break;
            }
            default: {
              const auto token = stops[i]->fresh_token();
              std::unique_lock lock(own);
              stress::in_call call(hb, "wait(lock, stop_token)");
              v = checked(ctx, c.wait(lock, token), &token, false, "wait(lock, stop_token)");
              if (!lock.owns_lock()) ctx.fail("wait(lock, token) returned without the lock (CO-6)");
              break;
            }
          }
          if (!v) continue;
          if (*v == kEnd) break;
          if (*v <= last || *v >= kMaxRounds) {
            ctx.fail("waiter " + std::to_string(i) + " got round " + std::to_string(*v) + " after " +
                     std::to_string(last));
            continue;
          }
          last = *v;
          hits[*v].fetch_add(1, std::memory_order_relaxed);  // relaxed: read after every thread joined
          ctx.count_operations(1);
        }
        alive.fetch_sub(1);
      });
    }
    auto& stopper_hb = ctx.new_heartbeat("storm stopper");
    threads.emplace_back([&] {
      auto rng = ctx.rng(1000);
      while (!finished.load()) {
        stress::in_call call(stopper_hb, "request_stop");
        stops[rng() % n]->stop();
        for (unsigned k = rng() % 64; k != 0; --k) std::this_thread::yield();
      }
    });

    auto& hb = ctx.new_heartbeat("broadcaster");
    auto rng = ctx.rng(2000);
    std::uint64_t rounds = 1;
    for (; rounds < kMaxRounds && ctx.time_left(); ++rounds) {
      // Let a random number of waiters gather (bounded), so rounds range from empty to crowded.
      const std::size_t want = rng() % (n + 1);
      for (unsigned k = 0; k < 200 && c.waiting() < want; ++k) std::this_thread::yield();
      stress::in_call call(hb, "broadcast/signal");
      counted[rounds] = static_cast<std::uint32_t>(rng() % 8 == 0 ? c.signal(rounds) : c.broadcast(rounds));
    }
    finished.store(true);
    {
      stress::in_call call(hb, "closing broadcasts");
      const auto give_up = std::chrono::steady_clock::now() + 30s;
      while (alive.load() != 0 && std::chrono::steady_clock::now() < give_up) {
        (void)c.broadcast(kEnd);
        std::this_thread::yield();
      }
      if (alive.load() != 0) ctx.fail("waiters did not leave after the closing broadcasts");
    }
    threads.clear();  // joins
    std::uint64_t mismatched = 0;
    for (std::uint64_t r = 1; r < rounds; ++r) {
      if (hits[r].load(std::memory_order_relaxed) != counted[r]) {  // relaxed: all threads joined
        if (mismatched++ == 0)
          ctx.fail("round " + std::to_string(r) + ": count " + std::to_string(counted[r]) +
                   ", waiters woken " + std::to_string(hits[r].load()));
      }
    }
    if (mismatched > 1) ctx.fail(std::to_string(mismatched) + " rounds with a wrong count (CO-7)");
    if (c.waiting() != 0) ctx.fail("waiters left registered at the end");
  }
};

// P producers signal encoded values; a value counts as sent only if signal returned 1, otherwise as returned
// (discarded, CO-3). Consumers wait in every form. The ledger then proves CO-7 and G-2: every sent value
// received exactly once, no discarded value received, per-producer order kept within each consumer.
template <class Sync>
struct condition_signal_handoff {
  static void run(stress::context& ctx) {
    const unsigned producers = std::max(2u, cores());
    const unsigned consumers = ctx.opts().threads ? ctx.opts().threads : std::min(2 * cores(), 16u);
    constexpr std::uint64_t kMaxPerProducer = std::uint64_t{1} << 22;
    handoff::condition<std::uint64_t, Sync> c;
    stress::ledger ledger(producers, kMaxPerProducer);
    std::stop_source stop;
    std::atomic<unsigned> alive{consumers};
    std::vector<std::jthread> threads;

    for (unsigned k = 0; k < consumers; ++k) {
      auto& hb = ctx.new_heartbeat("handoff consumer " + std::to_string(k));
      threads.emplace_back([&, k, &hb = hb] {
        auto rng = ctx.rng(100 + k);
        auto last_seen = ledger.consumer_state();
        const auto token = stop.get_token();
        std::mutex own;
        for (;;) {
          std::optional<std::uint64_t> v;
          const auto timeout = std::chrono::microseconds(rng() % 200);
          switch (rng() % 7) {
            case 0: {
              stress::in_call call(hb, "wait_for");
              v = checked(ctx, c.wait_for(timeout), nullptr, true, "wait_for");
              break;
            }
            case 1: {
              stress::in_call call(hb, "wait_until(steady_clock)");
              v = checked(ctx, c.wait_until(std::chrono::steady_clock::now() + timeout), nullptr, true,
                          "wait_until");
              break;
            }
            case 2: {
              stress::in_call call(hb, "wait(stop_token)");
              v = checked(ctx, c.wait(token), &token, false, "wait(stop_token)");
              break;
            }
            case 5: {
              stress::in_call call(hb, "wait_until(system_clock, stop_token)");
              v = checked(ctx, c.wait_until(std::chrono::system_clock::now() + timeout, token), &token, true,
                          "wait_until(t, stop_token)");
              break;
            }
            case 6: {
              std::unique_lock lock(own);
              stress::in_call call(hb, "wait_for(lock, d, stop_token)");
              v = checked(ctx, c.wait_for(lock, timeout, token), &token, true,
                          "wait_for(lock, d, stop_token)");
              break;
            }
            case 3: {
              std::unique_lock lock(own);
              stress::in_call call(hb, "wait(lock)");
              v = c.wait(lock);  // ends at the latest with the closing broadcast
              break;
            }
            default: {
              stress::in_call call(hb, "wait()");
              v = c.wait();
              break;
            }
          }
          if (v == kEnd) break;
          if (!v) {
            if (token.stop_requested()) break;
            continue;
          }
          ledger.received(*v, last_seen);
          ctx.count_operations(1);
        }
        alive.fetch_sub(1);
      });
    }
    std::vector<std::jthread> producer_threads;
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("handoff producer " + std::to_string(p));
      producer_threads.emplace_back([&, p, &hb = hb] {
        auto rng = ctx.rng(p);
        for (std::uint64_t seq = 0; seq < kMaxPerProducer && ctx.time_left(); ++seq) {
          // Mostly wait (bounded) for a consumer to register, so most signals hand off and some race.
          if (rng() % 4 != 0)
            for (unsigned k = 0; k < 64 && c.waiting() == 0; ++k) std::this_thread::yield();
          const std::uint64_t v = stress::ledger::encode(p, seq);
          std::size_t n;
          {
            stress::in_call call(hb, "signal");
            n = c.signal(std::uint64_t{v});
          }
          if (n == 1)
            ledger.sent(v);
          else if (n == 0)
            ledger.returned(v);  // discarded: must never be received
          else
            ctx.fail("signal returned " + std::to_string(n));
          ctx.count_operations(1);
        }
      });
    }
    producer_threads.clear();  // joins: every signal has returned
    stop.request_stop();
    {
      auto& hb = ctx.new_heartbeat("handoff closer");
      stress::in_call call(hb, "closing broadcasts");
      const auto give_up = std::chrono::steady_clock::now() + 30s;
      while (alive.load() != 0 && std::chrono::steady_clock::now() < give_up) {
        (void)c.broadcast(kEnd);
        std::this_thread::yield();
      }
      if (alive.load() != 0) ctx.fail("consumers did not leave after the closing broadcasts");
    }
    threads.clear();
    ledger.settle();
    ctx.add_ledger(ledger);
    if (ledger.delivered() == 0) ctx.fail("no value was ever handed off: the scenario exercised nothing");
  }
};

// The std::condition_variable bounded-queue pattern on condition<void> (CO-6, CO-8): a mutex, a deque and two
// conditions; notify inside or outside the lock, notify_one or notify_all; every predicate and timed form.
// The ledger checks that every pushed value is popped exactly once, in per-producer order per consumer.
template <class Sync>
struct condition_void_queue {
  static void run(stress::context& ctx) {
    const unsigned producers = ctx.opts().threads ? ctx.opts().threads : std::min(2 * cores(), 8u);
    const unsigned consumers = producers;
    constexpr std::uint64_t kMaxPerProducer = std::uint64_t{1} << 21;
    using cv = handoff::condition<void, Sync>;
    std::mutex m;
    cv not_empty, not_full;
    std::deque<std::uint64_t> items;  // guarded by m
    bool closed = false;              // guarded by m
    auto seed_rng = ctx.rng(3000);
    const std::size_t capacity = 1 + seed_rng() % 8;
    stress::ledger ledger(producers, kMaxPerProducer);
    std::vector<std::jthread> consumer_threads, producer_threads;

    auto notify = [](cv& c, std::unique_lock<std::mutex>& lock, std::mt19937_64& rng) {
      const auto pick = rng() % 4;
      if (pick >= 2) lock.unlock();  // outside the lock half the time
      if (pick % 2)
        (void)c.notify_all();
      else
        (void)c.notify_one();
    };

    for (unsigned k = 0; k < consumers; ++k) {
      auto& hb = ctx.new_heartbeat("queue consumer " + std::to_string(k));
      consumer_threads.emplace_back([&, k, &hb = hb] {
        auto rng = ctx.rng(200 + k);
        auto last_seen = ledger.consumer_state();
        std::stop_source never;
        for (;;) {
          std::unique_lock lock(m);
          auto ready = [&] { return !items.empty() || closed; };
          {
            stress::in_call call(hb, "not_empty wait");
            switch (rng() % 7) {
              case 0:
                not_empty.wait(lock, ready);
                break;
              case 4:
                while (!not_empty.wait_for(lock, never.get_token(), std::chrono::microseconds(rng() % 300),
                                           ready)) {
                }
                break;
              case 5:
                while (!not_empty.wait_until(lock, never.get_token(),
                                             std::chrono::steady_clock::now() + 100us, ready)) {
                }
                break;
              case 6:
                while (!ready()) {
                  if (not_empty.wait_for(lock, 100us, never.get_token()).status() ==
                      handoff::status::cancelled)
                    ctx.fail("wait_for(lock, d, token) cancelled by a token nobody stops");
                }
                break;
              case 1:
                while (!not_empty.wait_for(lock, std::chrono::microseconds(rng() % 300), ready)) {
                }
                break;
              case 2:
                while (!ready()) (void)not_empty.wait_until(lock, std::chrono::steady_clock::now() + 100us);
                break;
              default:
                (void)not_empty.wait(lock, never.get_token(), ready);
                break;
            }
          }
          if (!lock.owns_lock()) ctx.fail("a wait returned without the lock (CO-6)");
          if (items.empty()) return;  // closed and drained
          const std::uint64_t v = items.front();
          items.pop_front();
          notify(not_full, lock, rng);
          ledger.received(v, last_seen);
          ctx.count_operations(1);
        }
      });
    }
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("queue producer " + std::to_string(p));
      producer_threads.emplace_back([&, p, &hb = hb] {
        auto rng = ctx.rng(300 + p);
        for (std::uint64_t seq = 0; seq < kMaxPerProducer && ctx.time_left(); ++seq) {
          std::unique_lock lock(m);
          {
            stress::in_call call(hb, "not_full wait");
            if (rng() % 2)
              not_full.wait(lock, [&] { return items.size() < capacity; });
            else
              while (!not_full.wait_for(lock, 200us, [&] { return items.size() < capacity; })) {
              }
          }
          const std::uint64_t v = stress::ledger::encode(p, seq);
          items.push_back(v);
          ledger.sent(v);
          notify(not_empty, lock, rng);
          ctx.count_operations(1);
        }
      });
    }
    producer_threads.clear();  // joins
    {
      std::lock_guard lock(m);
      closed = true;
    }
    (void)not_empty.notify_all();
    consumer_threads.clear();
    ledger.settle();
    ctx.add_ledger(ledger);
    if (not_empty.waiting() != 0 || not_full.waiting() != 0) ctx.fail("waiters left registered at the end");
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(condition_broadcast_storm);
STRESS_SCENARIO_SYNC(condition_signal_handoff);
STRESS_SCENARIO_SYNC(condition_void_queue);

// The yield phase in every wait (detail/sync.hpp, default_wait_yield_limit; detail/spin_wait.hpp; the default
// policy yields only after a crowd wake, which condition_broadcast_storm meets): yields between a waiter's
// spin and its park must lose no wakeup and no value either.
struct yielding_condition_sync : handoff::default_sync {
  static constexpr bool wait_yield_always = true;
};
STRESS_SCENARIO(condition_broadcast_storm_yielding) {
  condition_broadcast_storm<yielding_condition_sync>::run(ctx);
}
