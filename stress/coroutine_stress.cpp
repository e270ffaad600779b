// Stress scenario for coroutines (rules CR-1..CR-8, G-1, G-2; handoff/coroutine.hpp, handoff/executor.hpp):
//   coroutine_mix   rounds over capacities 0, 1, 16 and unbounded: 2 pushing threads (push, push_for) and 2
//                   pushing coroutines (async_push), 2 popping threads (pop) and 2 popping coroutines
//                   (async_pop, or an async_select over the stream and an mvar that a thread feeds), all on
//                   one stream; the coroutines run on a 2-thread handoff::thread_pool. Chaos: coroutines wait
//                   with stop tokens that a chaos thread triggers at random (a cancelled push keeps its value
//                   and pushes it again; a cancelled pop consumed nothing and pops again, CR-4), threads
//                   yield at random. Each round ends with a close once every producer is done.
// Every value goes through the ledger (per-producer sequence numbers: none lost, duplicated, invented or
// reordered within a consumer). The main thread waits for the coroutines under a heartbeat: a coroutine
// never resumed (a lost wakeup in the awaiter) hangs it, and the watchdog names it and prints the seed.
#include <handoff/coroutine.hpp>
#include <handoff/executor.hpp>
#include <handoff/mvar.hpp>
#include <handoff/stream.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "stream_capacity.hpp"
#include "stress.hpp"
#include "support/coroutine_support.hpp"

namespace {

using stress::capacity_name;
using stress::kUnbounded;
using stress::make_stream;

using handoff::status;
using namespace std::chrono_literals;

using handoff_test::detached;  // tests/support/coroutine_support.hpp

template <class Sync>
struct coroutine_mix {
  using stream_t = handoff::stream<std::uint64_t, Sync>;
  using mvar_t = handoff::mvar<std::uint64_t, Sync>;
  using executor_t = handoff::thread_pool::executor_type;

  // Shared by one round's threads and coroutines.
  struct round_state {
    stream_t* s;
    mvar_t* side;  // a second source for the selecting consumers (fed by a thread producer)
    stress::ledger* ledger;
    stress::context* ctx;
    stress::stoppable chaos;
    std::atomic<unsigned> coroutines_left{0};
    std::atomic<unsigned> producers_left{0};
    handoff::mvar<int> all_done;  // put once by the last coroutine to finish
    std::string tag;

    void coroutine_finished() {
      if (coroutines_left.fetch_sub(1) == 1) all_done.put(1);
    }
    void producer_finished() {
      if (producers_left.fetch_sub(1) == 1) s->close();
    }
  };

  static detached produce(round_state& r, executor_t ex, unsigned producer, std::uint64_t per) {
    for (std::uint64_t i = 0; i < per; ++i) {
      std::uint64_t v = stress::ledger::encode(producer, i);
      for (;;) {
        const status st = co_await r.s->async_push(v, ex, r.chaos.fresh_token());
        if (st == status::ok) break;
        if (st != status::cancelled) {
          r.ctx->fail("async_push failed on an open stream" + r.tag);
          r.coroutine_finished();
          r.producer_finished();
          co_return;
        }
        if (v != stress::ledger::encode(producer, i)) {
          r.ctx->fail("a cancelled async_push lost its value (CR-4)" + r.tag);
          break;
        }
      }
      r.ledger->sent(stress::ledger::encode(producer, i));
      r.ctx->count_operations(1);
    }
    r.producer_finished();
    r.coroutine_finished();
  }

  static detached consume(round_state& r, executor_t ex, bool selecting) {
    auto seen = r.ledger->consumer_state();
    bool stream_open = true, side_open = selecting;
    while (stream_open || side_open) {
      std::optional<std::uint64_t> v;
      if (stream_open && side_open) {
        auto pop = handoff::on_pop(*r.s);
        auto take = handoff::on_take(*r.side);
        const handoff::selected got = co_await handoff::async_select(ex, r.chaos.fresh_token(), pop, take);
        if (got.status() == status::cancelled) continue;
        if (got.index() == 0 && got.status() == status::closed) {
          stream_open = false;
          continue;
        }
        v = got.index() == 0 ? *pop.value : *take.value;
      } else if (side_open) {
        handoff::result<std::uint64_t> got = co_await r.side->async_take(ex, r.chaos.fresh_token());
        if (got.status() == status::cancelled) continue;
        v = *got;
      } else {
        handoff::result<std::uint64_t> got = co_await r.s->async_pop(ex, r.chaos.fresh_token());
        if (got.status() == status::cancelled) continue;
        if (!got) {  // closed and drained
          stream_open = false;
          continue;
        }
        v = *got;
      }
      if (*v == std::numeric_limits<std::uint64_t>::max()) {  // the side feeder's end marker
        side_open = false;
        continue;
      }
      r.ledger->received(*v, seen);
      r.ctx->count_operations(1);
    }
    r.coroutine_finished();
  }

  static void one_round(stress::context& ctx, std::size_t capacity, unsigned round) {
    const std::string tag = " (capacity " + capacity_name(capacity) + ")";
    constexpr unsigned thread_producers = 2, coroutine_producers = 2, side_producer = 1;
    const unsigned producers = thread_producers + coroutine_producers + side_producer;
    const std::uint64_t per = 2000;
    std::unique_ptr<stream_t> s = make_stream<std::uint64_t, Sync>(capacity);
    mvar_t side;
    stress::ledger ledger(producers, per);
    round_state r;
    r.s = s.get();
    r.side = &side;
    r.ledger = &ledger;
    r.ctx = &ctx;
    r.tag = tag;
    r.coroutines_left = coroutine_producers + 2;
    r.producers_left = thread_producers + coroutine_producers;
    {
      handoff::thread_pool pool(2);
      std::vector<std::jthread> threads;
      consume(r, pool.executor(), false);
      consume(r, pool.executor(), true);
      for (unsigned p = 0; p < coroutine_producers; ++p) produce(r, pool.executor(), p, per);
      for (unsigned p = coroutine_producers; p < coroutine_producers + thread_producers; ++p) {
        auto& hb = ctx.new_heartbeat("thread producer " + std::to_string(p) + tag);
        threads.emplace_back([&, p, &hb = hb] {
          auto prng = ctx.rng(round * 100 + p);
          for (std::uint64_t i = 0; i < per; ++i) {
            const std::uint64_t v = stress::ledger::encode(p, i);
            if (prng() % 8 == 0) std::this_thread::yield();
            bool ok = false;
            if (prng() % 2 == 0) {
              stress::in_call beat(hb, "push");
              ok = s->push(v);
            } else {
              for (;;) {
                stress::in_call beat(hb, "push_for");
                std::uint64_t copy = v;
                const status st = s->push_for(std::move(copy), 200us);
                if (st != status::timeout) {
                  ok = st == status::ok;
                  break;
                }
              }
            }
            if (!ok) {
              ctx.fail("a push failed on an open stream" + tag);
              break;
            }
            ledger.sent(v);
            ctx.count_operations(1);
          }
          r.producer_finished();
        });
      }
      {  // the side feeder: values into the mvar, then the end marker (taken by a selecting consumer)
        auto& hb = ctx.new_heartbeat("side producer" + tag);
        unsigned p = coroutine_producers + thread_producers;  // captured by value below
        threads.emplace_back([&, p, &hb = hb] {
          for (std::uint64_t i = 0; i < per / 10; ++i) {
            const std::uint64_t v = stress::ledger::encode(p, i);
            stress::in_call beat(hb, "put");
            side.put(v);
            ledger.sent(v);
          }
          stress::in_call beat(hb, "put (end marker)");
          side.put(std::numeric_limits<std::uint64_t>::max());
        });
      }
      for (unsigned c = 0; c < 2; ++c) {
        auto& hb = ctx.new_heartbeat("thread consumer " + std::to_string(c) + tag);
        threads.emplace_back([&, &hb = hb] { stress::pop_until_closed(*s, ledger, hb, &ctx); });
      }
      {  // chaos: stop requests at random moments, until the coroutines are done
        auto& hb = ctx.new_heartbeat("chaos" + tag);
        threads.emplace_back([&, &hb = hb](std::stop_token done) {
          auto prng = ctx.rng(round * 100 + 99);
          while (!done.stop_requested()) {
            for (unsigned k = prng() % 64; k > 0; --k) std::this_thread::yield();
            r.chaos.stop();
            hb.progress.fetch_add(1, std::memory_order_relaxed);
          }
        });
      }
      auto& hb = ctx.new_heartbeat("main (waiting for the coroutines)" + tag);
      {
        stress::in_call beat(hb, "take (every coroutine finished)");
        (void)r.all_done.take();
      }
      threads.back().request_stop();
      for (std::jthread& t : threads) t.join();
    }  // the pool drains and joins
    ledger.settle();
    ctx.add_ledger(ledger);
  }

  static void run(stress::context& ctx) {
    const std::size_t capacities[] = {0, 1, 16, kUnbounded};
    for (unsigned round = 0; ctx.time_left() || round < 4; ++round)
      one_round(ctx, capacities[round % 4], round);
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(coroutine_mix);
