// Stress scenarios for mvar<T> (rules MV-3, MV-4, MV-6, G-1, G-2): chains of mvars passed through by relay
// threads, with random timeouts and stop requests, and ping-pong pairs. Every value is accounted per
// producer.
#include <handoff/mvar.hpp>

#include <memory>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "stress.hpp"

namespace {

using namespace std::chrono_literals;

// P producers -> m[0] -> relays -> m[1] -> ... -> m[S-1] -> consumers. With one relay per stage and one
// consumer, per-producer order must survive (putters are served FIFO, MV-4); with several, only conservation
// is checked.
template <class Sync>
void run_chain(stress::context& ctx, unsigned producers, unsigned stages, unsigned relays_per_stage,
               unsigned consumers, bool ordered) {
  using box = handoff::mvar<std::uint64_t, Sync>;
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
        std::uint64_t v = stress::ledger::encode(p, seq);
        handoff::status st;
        {
          stress::in_call c(hb, "put_for");
          st = boxes[0]->put_for(std::move(v), std::chrono::microseconds(rng() % 200));
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
          std::optional<std::uint64_t> v;
          {
            stress::in_call c(hb, rng() % 2 ? "take(stop)" : "take_for");
            v = (rng() % 2) ? boxes[s]->take(token)
                            : boxes[s]->take_for(std::chrono::microseconds(rng() % 300));
          }
          if (!v) {
            if (token.stop_requested()) return;
            continue;
          }
          // Once taken, the relay owns the value and must pass it on: retry timeouts, never drop.
          for (;;) {
            stress::in_call c(hb, "put_for (relay)");
            const auto st = boxes[s + 1]->put_for(std::move(*v), std::chrono::microseconds(rng() % 300));
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
        std::optional<std::uint64_t> v;
        {
          stress::in_call call(hb, "take(stop)");
          v = (rng() % 4 == 0) ? boxes.back()->try_take() : boxes.back()->take(token);
        }
        if (!v) {
          if (token.stop_requested()) return;
          continue;
        }
        if (ordered)
          ledger.received(*v, last_seen);
        else
          ledger.received_unordered(*v);
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
STRESS_SCENARIO_SYNC(mvar_pingpong);
