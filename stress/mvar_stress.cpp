// Stress scenarios for mvar<T> (rules MV-3, MV-4, MV-6, G-1, G-2): chains of mvars passed through by relay
// threads, with random timeouts and stop requests, and ping-pong pairs. Every value is accounted per
// producer.
#include <handoff/mvar.hpp>

#include <memory>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "stress.hpp"

namespace {

using namespace std::chrono_literals;

// A value whose move constructor may throw (noexcept(false)), so that a waiting taker is served by being
// handed the box (mvar.hpp invariant 8) instead of by a move into its result; and every kThrowEvery-th move a
// thread makes does throw, anywhere: in a put (the value stays with the putter), in a take (it stays in the
// box), or while a server moves a waiting putter's value in (that putter's call throws, the value stays with
// it). Every call site retries, so the ledger proves that no throw loses or duplicates a value (G-8).
struct throwing_value {
  static constexpr unsigned kThrowEvery = 997;
  std::uint64_t raw = 0;
  explicit throwing_value(std::uint64_t v) : raw(v) {}
  throwing_value(const throwing_value&) = default;
  throwing_value(throwing_value&& other) noexcept(false) : raw(other.raw) {
    thread_local unsigned moves = 0;
    if (++moves % kThrowEvery == 0) throw std::runtime_error("stress: planned move failure");
  }
  throwing_value& operator=(const throwing_value&) = default;
  throwing_value& operator=(throwing_value&&) = default;
};
static_assert(!std::is_nothrow_move_constructible_v<throwing_value>);

std::uint64_t raw_of(std::uint64_t v) {
  return v;
}
std::uint64_t raw_of(const throwing_value& v) {
  return v.raw;
}

// Runs one call that may throw a planned move failure (only throwing_value's moves throw): true if it
// returned, false if it threw, in which case the value is wherever G-8 says (the caller retries).
template <class F>
bool without_planned_throw(F&& f) {
  try {
    f();
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

// The result of a receiving call, or an empty one if it threw a planned move failure (then the value is
// still in the box). Returned and initialised in place, so the value is never moved after the call.
template <class F>
auto or_empty(F&& receive) -> decltype(receive()) {
  try {
    return receive();
  } catch (const std::runtime_error&) {
    return decltype(receive())(handoff::status::empty);
  }
}

// P producers -> m[0] -> relays -> m[1] -> ... -> m[S-1] -> consumers. With one relay per stage and one
// consumer, per-producer order must survive (putters are served FIFO, MV-4); with several, only conservation
// is checked.
template <class Sync, class Value = std::uint64_t>
void run_chain(stress::context& ctx, unsigned producers, unsigned stages, unsigned relays_per_stage,
               unsigned consumers, bool ordered) {
  using box = handoff::mvar<Value, Sync>;
  constexpr std::uint64_t kMaxPerProducer = 1u << 20;
  std::vector<std::unique_ptr<box>> boxes;
  for (unsigned i = 0; i < stages; ++i) boxes.push_back(std::make_unique<box>());
  stress::ledger ledger(producers, kMaxPerProducer);
  std::stop_source stop;
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::jthread> threads;

  for (unsigned p = 0; p < producers; ++p) {
    auto& hb = ctx.new_heartbeat("producer " + std::to_string(p));
    threads.emplace_back([&, p, &hb = hb] {
      auto rng = ctx.rng(p);
      std::uint64_t seq = 0;
      while (ctx.time_left() && seq < kMaxPerProducer) {
        Value v(stress::ledger::encode(p, seq));
        handoff::status st = handoff::status::timeout;
        {
          stress::in_call c(hb, "put_for");
          (void)without_planned_throw(
              [&] { st = boxes[0]->put_for(std::move(v), std::chrono::microseconds(rng() % 200)); });
        }
        if (st == handoff::status::ok) {
          ledger.sent(stress::ledger::encode(p, seq));
          sent.fetch_add(1);
          ++seq;
          ctx.count_operations(1);
        } else if (st != handoff::status::timeout) {
          ctx.fail("put_for returned " + std::string(handoff::to_string(st)));
        }
      }
    });
  }
  for (unsigned s = 0; s + 1 < stages; ++s) {
    for (unsigned r = 0; r < relays_per_stage; ++r) {
      auto& hb = ctx.new_heartbeat("relay " + std::to_string(s) + "." + std::to_string(r));
      threads.emplace_back([&, s, r, &hb = hb] {
        auto rng = ctx.rng(100 + s * 16 + r);
        const auto token = stop.get_token();
        for (;;) {
          const unsigned form = rng() % 3;
          const auto patience = std::chrono::microseconds(rng() % 300);
          // Initialised in place (no move after the one out of the box): a throw leaves the value there.
          handoff::result<Value> v = or_empty([&] {
            stress::in_call c(hb, form == 0 ? "take(stop)" : form == 1 ? "take_for" : "take_for(d, stop)");
            return form == 0   ? boxes[s]->take(token)
                   : form == 1 ? boxes[s]->take_for(patience)
                               : boxes[s]->take_for(patience, token);
          });
          if (!v) {
            if (token.stop_requested()) return;
            continue;
          }
          // Once taken, the relay owns the value and must pass it on: retry timeouts and throws, never drop.
          for (;;) {
            stress::in_call c(hb, "put_for (relay)");
            handoff::status st = handoff::status::timeout;
            (void)without_planned_throw(
                [&] { st = boxes[s + 1]->put_for(std::move(*v), std::chrono::microseconds(rng() % 300)); });
            if (st == handoff::status::ok) break;
            if (st != handoff::status::timeout) ctx.fail("relay put_for: unexpected status");
          }
          ctx.count_operations(2);
        }
      });
    }
  }
  for (unsigned c = 0; c < consumers; ++c) {
    auto& hb = ctx.new_heartbeat("consumer " + std::to_string(c));
    threads.emplace_back([&, c, &hb = hb] {
      auto rng = ctx.rng(1000 + c);
      auto last_seen = ledger.consumer_state();
      const auto token = stop.get_token();
      for (;;) {
        const bool try_only = rng() % 4 == 0;
        handoff::result<Value> v = or_empty([&] {
          stress::in_call call(hb, try_only ? "try_take" : "take(stop)");
          return try_only ? boxes.back()->try_take() : boxes.back()->take(token);
        });
        if (!v) {
          if (token.stop_requested()) return;
          continue;
        }
        if (ordered)
          ledger.received(raw_of(*v), last_seen);
        else
          ledger.received_unordered(raw_of(*v));
        ctx.count_operations(1);
      }
    });
  }
  // Producers stop on their own at the deadline; then wait (bounded) until everything sent was delivered.
  for (unsigned p = 0; p < producers; ++p) threads[p].join();
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (ledger.delivered() < sent.load() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  if (ledger.delivered() < sent.load())
    ctx.fail("drain: " + std::to_string(ledger.delivered()) + " of " + std::to_string(sent.load()) +
             " delivered");
  stop.request_stop();
  threads.clear();  // joins
  ledger.settle();
  ctx.add_ledger(ledger);
  for (auto& b : boxes)
    if (!b->is_empty()) ctx.fail("a value was left in a box after the drain");
}

template <class Sync>
struct mvar_chain_ordered {
  static void run(stress::context& ctx) { run_chain<Sync>(ctx, 3, 3, 1, 1, true); }
};
template <class Sync>
struct mvar_chain_wide {
  static void run(stress::context& ctx) {
    const unsigned n = ctx.opts().threads ? ctx.opts().threads : 4;  // 4 per role: 16+ threads on 2 cores
    run_chain<Sync>(ctx, n, 3, n, n, false);
  }
};

// The wide chain with a T whose move may throw, and does now and then (invariant 8's hand-over, G-8).
template <class Sync>
struct mvar_chain_throwing_moves {
  static void run(stress::context& ctx) {
    const unsigned n = ctx.opts().threads ? ctx.opts().threads : 3;
    run_chain<Sync, throwing_value>(ctx, n, 3, n, n, false);
  }
};

// Pairs of threads bouncing a counter through two mvars; each round trip is checked.
template <class Sync>
struct mvar_pingpong {
  static void run(stress::context& ctx) {
    const unsigned pairs = ctx.opts().threads ? ctx.opts().threads : 4;
    struct pair_state {
      handoff::mvar<std::uint64_t, Sync> ping, pong;
    };
    std::vector<std::unique_ptr<pair_state>> states;
    std::vector<std::jthread> threads;
    for (unsigned i = 0; i < pairs; ++i) states.push_back(std::make_unique<pair_state>());
    for (unsigned i = 0; i < pairs; ++i) {
      auto& hb_a = ctx.new_heartbeat("ping " + std::to_string(i));
      auto& hb_b = ctx.new_heartbeat("pong " + std::to_string(i));
      pair_state& s = *states[i];
      threads.emplace_back([&s, &hb_b] {
        for (;;) {
          std::uint64_t v;
          {
            stress::in_call c(hb_b, "take ping");
            v = s.ping.take();
          }
          if (v == ~std::uint64_t{0}) return;
          stress::in_call c(hb_b, "put pong");
          s.pong.put(v + 1);
        }
      });
      threads.emplace_back([&ctx, &s, &hb_a] {
        std::uint64_t n = 0;
        while (ctx.time_left()) {
          {
            stress::in_call c(hb_a, "put ping");
            s.ping.put(std::uint64_t{n});
          }
          std::uint64_t back;
          {
            stress::in_call c(hb_a, "take pong");
            back = s.pong.take();
          }
          if (back != n + 1)
            ctx.fail("ping-pong: sent " + std::to_string(n) + " got back " + std::to_string(back));
          ++n;
          ctx.count_operations(4);
        }
        stress::in_call c(hb_a, "put stop");
        s.ping.put(~std::uint64_t{0});
      });
    }
    threads.clear();
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(mvar_chain_ordered);
STRESS_SCENARIO_SYNC(mvar_chain_wide);
STRESS_SCENARIO_SYNC(mvar_chain_throwing_moves);
STRESS_SCENARIO_SYNC(mvar_pingpong);

// The yield phase in every wait (detail/sync.hpp, default_wait_yield_limit; an mvar wakes one waiter per
// call, never a crowd, so with the default policy only a thread that a broadcast elsewhere woke yields
// here): as above, with yields before a park.
struct yielding_mvar_sync : handoff::default_sync {
  static constexpr bool wait_yield_always = true;
};
STRESS_SCENARIO(mvar_chain_ordered_yielding) {
  mvar_chain_ordered<yielding_mvar_sync>::run(ctx);
}
