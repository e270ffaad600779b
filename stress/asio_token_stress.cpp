// Stress scenario for handoff/asio_token.hpp (asio completion tokens; rules CR-1..CR-8, G-1, G-2):
//   asio_token_mix   rounds over capacities 0, 1, 16 and unbounded: 2 callback-driven pushers (async_push)
//                    and 2 callback-driven poppers (async_pop), each on its own strand of an io_context that
//                    2 threads run, beside 2 pushing threads (push) and 1 popping thread (pop), all on one
//                    stream. Chaos: a thread requests stops at random (each operation takes a fresh token)
//                    and posts cancellation-slot emits onto the strands (asio's rule: an emit runs where the
//                    handler does); a cancelled push keeps its value and pushes it again, a cancelled pop
//                    consumed nothing and pops again (CR-4). Each round ends with a close once every
//                    producer is done.
// Every value goes through the ledger (per-producer sequence numbers: none lost, duplicated, invented or
// reordered within a consumer). The io threads' run() returns only once no operation holds its work guard:
// an operation whose handler is never called (a lost wakeup in the bridge or the awaiter) hangs it, and the
// watchdog names the thread and prints the seed. Built only where standalone asio (libasio-dev) is found.
#if __has_include(<asio.hpp>)
#include <asio.hpp>
#include <handoff/asio_token.hpp>
#include <handoff/stream.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "stream_capacity.hpp"
#include "stress.hpp"

namespace {

using handoff::status;
using stress::capacity_name;
using stress::kUnbounded;
using stress::make_stream;

using stream_t = handoff::stream<std::uint64_t>;
using strand_t = asio::strand<asio::io_context::executor_type>;

// Shared by one round's threads and asynchronous actors.
struct round_state {
  stream_t* s = nullptr;
  stress::ledger* ledger = nullptr;
  stress::context* ctx = nullptr;
  stress::stoppable chaos;
  std::string tag;
  std::atomic<unsigned> producers_left{0};
  std::atomic<unsigned> actors_left{0};                  // asynchronous pushers and poppers not finished yet
  std::atomic<bool> io_returned{false};                  // the io threads' run() returned: chaos stops
  std::atomic<std::uint64_t>* cancelled_pops = nullptr;  // the scenario's totals (its coverage check)
  std::atomic<std::uint64_t>* cancelled_pushes = nullptr;

  void producer_finished() {
    if (producers_left.fetch_sub(1) == 1) s->close();
  }
};

// One chain of async_pop calls, each started by the previous one's handler, on one strand (so `seen` and
// the cancellation signal are touched by one handler at a time).
struct async_popper {
  round_state& r;
  strand_t strand;
  std::vector<std::int64_t> seen;
  asio::cancellation_signal cancel;

  async_popper(round_state& rs, asio::io_context& io) : r(rs), strand(asio::make_strand(io)) {
    seen = r.ledger->consumer_state();
  }

  void start() {
    handoff::async_pop(
        *r.s, r.chaos.fresh_token(),
        asio::bind_cancellation_slot(
            cancel.slot(),
            asio::bind_executor(strand, [this](std::exception_ptr e, handoff::result<std::uint64_t> got) {
              done(e, std::move(got));
            })));
  }

  void done(std::exception_ptr e, handoff::result<std::uint64_t> got) {
    if (e) return finish("async_pop completed with an exception");
    if (got) {
      r.ledger->received(*got, seen);
      r.ctx->count_operations(1);
      return start();
    }
    if (got.status() == status::cancelled) {  // CR-4: nothing consumed; pop again
      r.cancelled_pops->fetch_add(1, std::memory_order_relaxed);
      return start();
    }
    if (got.status() == status::closed) return finish(nullptr);
    finish("async_pop completed with an unexpected status");
  }

  void finish(const char* failure) {
    if (failure) r.ctx->fail(failure + r.tag);
    r.actors_left.fetch_sub(1);
  }
};

// One chain of async_push calls over producer `id`'s values, each started by the previous one's handler.
struct async_pusher {
  round_state& r;
  strand_t strand;
  unsigned id;
  std::uint64_t per;
  std::uint64_t next = 0;
  std::uint64_t value = 0;  // the operation's v: lives here until its handler runs
  asio::cancellation_signal cancel;

  async_pusher(round_state& rs, asio::io_context& io, unsigned producer, std::uint64_t count)
      : r(rs), strand(asio::make_strand(io)), id(producer), per(count) {}

  void start() {
    if (next == per) {
      r.producer_finished();
      r.actors_left.fetch_sub(1);
      return;
    }
    value = stress::ledger::encode(id, next);
    push();
  }

  void push() {
    handoff::async_push(*r.s, value, r.chaos.fresh_token(),
                        asio::bind_cancellation_slot(
                            cancel.slot(), asio::bind_executor(strand, [this](std::exception_ptr e,
                                                                              status st) { done(e, st); })));
  }

  void done(std::exception_ptr e, status st) {
    const std::uint64_t expected = stress::ledger::encode(id, next);
    if (e) return fail("async_push completed with an exception");
    if (st == status::ok) {
      r.ledger->sent(expected);
      r.ctx->count_operations(1);
      ++next;
      return start();
    }
    if (st == status::cancelled) {
      if (value != expected) return fail("a cancelled async_push lost its value (CR-4)");
      r.cancelled_pushes->fetch_add(1, std::memory_order_relaxed);
      return push();
    }
    fail("async_push failed on an open stream");
  }

  void fail(const char* what) {
    r.ctx->fail(what + r.tag);
    r.producer_finished();
    r.actors_left.fetch_sub(1);
  }
};

std::atomic<std::uint64_t> g_cancelled_pops{0}, g_cancelled_pushes{0};

void one_round(stress::context& ctx, std::size_t capacity, unsigned round) {
  constexpr unsigned async_producers = 2, thread_producers = 2, async_consumers = 2;
  const std::uint64_t per = 2000;
  auto s = make_stream<std::uint64_t, handoff::default_sync>(capacity);
  stress::ledger ledger(async_producers + thread_producers, per);
  round_state r;
  r.s = s.get();
  r.ledger = &ledger;
  r.ctx = &ctx;
  r.tag = " (round " + std::to_string(round) + ", capacity " + capacity_name(capacity) + ")";
  r.producers_left = async_producers + thread_producers;
  r.actors_left = async_producers + async_consumers;
  r.cancelled_pops = &g_cancelled_pops;
  r.cancelled_pushes = &g_cancelled_pushes;

  asio::io_context io;
  std::vector<std::unique_ptr<async_popper>> poppers;
  std::vector<std::unique_ptr<async_pusher>> pushers;
  for (unsigned c = 0; c < async_consumers; ++c) poppers.push_back(std::make_unique<async_popper>(r, io));
  for (unsigned p = 0; p < async_producers; ++p)
    pushers.push_back(std::make_unique<async_pusher>(r, io, p, per));
  // Started before the io threads: each waiting operation holds the io_context's work, so run() waits for it.
  for (auto& c : poppers) c->start();
  for (auto& p : pushers) p->start();

  std::vector<std::jthread> threads;
  for (unsigned p = async_producers; p < async_producers + thread_producers; ++p) {
    auto& hb = ctx.new_heartbeat("thread producer " + std::to_string(p) + r.tag);
    threads.emplace_back([&, p, &hb = hb] {
      auto prng = ctx.rng(round * 100 + p);
      for (std::uint64_t i = 0; i < per; ++i) {
        const std::uint64_t v = stress::ledger::encode(p, i);
        if (prng() % 8 == 0) std::this_thread::yield();
        bool ok = false;
        {
          stress::in_call beat(hb, "push");
          ok = s->push(v);
        }
        if (!ok) {
          ctx.fail("a push failed on an open stream" + r.tag);
          break;
        }
        ledger.sent(v);
        ctx.count_operations(1);
      }
      r.producer_finished();
    });
  }
  {
    auto& hb = ctx.new_heartbeat("thread consumer" + r.tag);
    threads.emplace_back([&, &hb = hb] { stress::pop_until_closed(*s, ledger, hb, &ctx); });
  }
  {  // chaos: stop requests and slot emits at random moments, until every asynchronous actor finished
    auto& hb = ctx.new_heartbeat("chaos" + r.tag);
    threads.emplace_back([&, &hb = hb] {
      auto prng = ctx.rng(round * 100 + 99);
      while (r.actors_left.load() != 0 && !r.io_returned.load()) {
        for (unsigned k = prng() % 64; k > 0; --k) std::this_thread::yield();
        if (prng() % 2 == 0) {
          r.chaos.stop();
        } else {
          const unsigned pick = static_cast<unsigned>(prng() % (async_consumers + async_producers));
          if (pick < async_consumers) {
            async_popper& c = *poppers[pick];
            asio::post(c.strand, [&c] { c.cancel.emit(asio::cancellation_type::terminal); });
          } else {
            async_pusher& p = *pushers[pick - async_consumers];
            asio::post(p.strand, [&p] { p.cancel.emit(asio::cancellation_type::terminal); });
          }
        }
        hb.progress.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::vector<std::jthread> io_threads;
  for (unsigned t = 0; t < 2; ++t) {
    auto& hb = ctx.new_heartbeat("io thread " + std::to_string(t) + r.tag);
    io_threads.emplace_back([&, &hb = hb] {
      stress::in_call beat(hb, "io_context::run() (returns when no operation waits)");
      io.run();
    });
  }
  for (std::jthread& t : io_threads) t.join();
  r.io_returned = true;
  if (r.actors_left.load() != 0) {
    // An operation did not hold the io_context's work while it waited: report it, then let the waits end
    // (the close completes them) so that nothing is left waiting on the stream.
    ctx.fail("run() returned while an asynchronous operation had not completed" + r.tag);
    s->close();
    io.restart();
    io.run();
  }
  for (std::jthread& t : threads) t.join();
  ledger.settle();
  ctx.add_ledger(ledger);
}

void run(stress::context& ctx) {
  g_cancelled_pops = 0;
  g_cancelled_pushes = 0;
  const std::size_t capacities[] = {0, 1, 16, kUnbounded};
  for (unsigned round = 0; ctx.time_left() || round < 4; ++round)
    one_round(ctx, capacities[round % 4], round);
  // The scenario is blind to CR-4 if no wait was ever cancelled (a long enough run always has both kinds).
  if (ctx.operations() > 100000 && (g_cancelled_pops.load() == 0 || g_cancelled_pushes.load() == 0))
    ctx.fail("no async_pop or no async_push was ever cancelled: the scenario exercised nothing of CR-4");
  if (std::getenv("HANDOFF_STRESS_VERBOSE"))
    std::fprintf(stderr, "asio_token_mix: %llu cancelled pops, %llu cancelled pushes\n",
                 static_cast<unsigned long long>(g_cancelled_pops.load()),
                 static_cast<unsigned long long>(g_cancelled_pushes.load()));
}

}  // namespace

STRESS_SCENARIO(asio_token_mix) {
  run(ctx);
}
#endif  // __has_include(<asio.hpp>)
