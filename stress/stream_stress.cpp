// Stress scenarios for stream<T> (rules ST-1..ST-5, G-1, G-2, G-5, G-7):
//   stream_mpmc                 rounds over capacities 0, 1, 3, 4, 1000, 1024 and unbounded; P producers x
//                               C consumers (up to 4x the cores in all) using every push/pop form (blocking,
//                               stop token, tiny _for/_until timeouts, try_), random stop requests, and a
//                               close at a random moment of each round; consumers drain to end-of-stream.
//   stream_mpmc_oversubscribed  the same with 8x the cores.
//   stream_rendezvous_pairs     producer/consumer pairs, each on its own capacity-0 stream (ST-3).
//   stream_pop_some             producers using every push form, consumers using pop_some / try_pop_some
//                               (batch claims through an array, one claim per value through a
//                               back_inserter), a wait_closed thread, and a close at a random moment.
//   stream_unbounded_burst      a burst of 10^5 values into an unbounded stream with no consumer (the
//   overflow
//                               list fills), exact size() checks, then a drain racing a second burst (ST-1).
// Every value is producer << 32 | seq and goes through the ledger: sent (push ok) = received + returned (a
// failed push keeps its value), nothing duplicated or invented, per-producer FIFO within each consumer
// (ST-4). The item type marks itself when moved from, so a failed push is checked to leave its argument
// intact (G-2). A round runs a few milliseconds, so each scenario goes through dozens of closes within its
// budget.
#include <handoff/stream.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stream_capacity.hpp"
#include "stress.hpp"

namespace {

using stress::capacity_name;
using stress::kUnbounded;
using stress::make_stream;

using stress::cores;
using stress::stoppable;

using namespace std::chrono_literals;
using handoff::status;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t kMovedFrom = ~std::uint64_t{0};

// A ledger value that records being moved from (G-2: a failed push must not move from its argument).
struct item {
  std::uint64_t v = kMovedFrom;
  item() = default;
  explicit item(std::uint64_t x) noexcept : v(x) {}
  item(item&& o) noexcept : v(std::exchange(o.v, kMovedFrom)) {}
  item& operator=(item&& o) noexcept {
    v = std::exchange(o.v, kMovedFrom);
    return *this;
  }
};

bool one_of(status s, std::initializer_list<status> allowed) {
  return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
}

// The state one round shares between its threads.
template <class Sync>
struct round_state {
  round_state(std::size_t cap, unsigned producers, std::uint64_t max_per_producer)
      : capacity(cap),
        s(make_stream<item, Sync>(cap)),
        ledger(producers, max_per_producer),
        returned_upto(std::make_unique<std::atomic<std::int64_t>[]>(producers)) {
    for (unsigned p = 0; p < producers; ++p) returned_upto[p].store(-1);
  }
  const std::size_t capacity;
  std::unique_ptr<handoff::stream<item, Sync>> s;
  stress::ledger ledger;
  std::atomic<bool> close_called{false};    // set just before close()
  std::atomic<bool> close_returned{false};  // set just after close() returned
  // Capacity 0 only: the highest seq of producer p whose push has returned ok (ST-3 check).
  std::unique_ptr<std::atomic<std::int64_t>[]> returned_upto;
};

// Checks the status of one push: allowed results per form and capacity, G-2 (a failed push leaves its
// argument), G-5 (a cancelled push saw a stop request, a timed-out one waited its full time), ST-5 (a push
// that began after close() returned fails).
template <class Sync>
void check_push(stress::context& ctx, round_state<Sync>& r, const char* form, status st,
                std::initializer_list<status> allowed, const item& it, std::uint64_t value,
                bool closed_before) {
  if (!one_of(st, allowed))
    ctx.fail(std::string(form) + " returned " + handoff::to_string(st) + " (capacity " +
             capacity_name(r.capacity) + ")");
  if (st == status::ok) {
    if (closed_before) ctx.fail(std::string(form) + " succeeded after close() had returned (ST-5)");
    return;
  }
  if (it.v != value)
    ctx.fail(std::string(form) + " failed with " + handoff::to_string(st) +
             " and moved from its argument (G-2)");
  if (st == status::closed && !r.close_called.load())
    ctx.fail(std::string(form) + " returned closed before close() was called");
}

template <class Sync>
void producer_loop(stress::context& ctx, round_state<Sync>& r, unsigned p, stoppable& stops,
                   std::uint64_t max, std::mt19937_64& rng, stress::heartbeat& hb) {
  auto& s = *r.s;
  const bool unbounded = r.capacity == kUnbounded;
  std::uint64_t seq = 0;
  while (seq < max) {
    const std::uint64_t value = stress::ledger::encode(p, seq);
    item it(value);
    const bool closed_before = r.close_returned.load();
    const auto tiny = std::chrono::microseconds(rng() % 50);
    status st;
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2: {
        bool ok;
        {
          stress::in_call call(hb, "push");
          ok = s.push(std::move(it));
        }
        st = ok ? status::ok : status::closed;
        check_push(ctx, r, "push", st, {status::ok, status::closed}, it, value, closed_before);
        break;
      }
      case 3: {
        const auto token = stops.fresh_token();
        {
          stress::in_call call(hb, "push(stop_token)");
          st = s.push(std::move(it), token);
        }
        if (unbounded)
          check_push(ctx, r, "push(stop_token)", st, {status::ok, status::closed}, it, value, closed_before);
        else
          check_push(ctx, r, "push(stop_token)", st, {status::ok, status::cancelled, status::closed}, it,
                     value, closed_before);
        if (st == status::cancelled && !token.stop_requested())
          ctx.fail("push(stop_token) cancelled without a stop request (G-5)");
        break;
      }
      case 4:
      case 5: {
        const auto t0 = steady::now();
        {
          stress::in_call call(hb, "push_for");
          st = s.push_for(std::move(it), tiny);
        }
        if (unbounded)
          check_push(ctx, r, "push_for", st, {status::ok, status::closed}, it, value, closed_before);
        else
          check_push(ctx, r, "push_for", st, {status::ok, status::timeout, status::closed}, it, value,
                     closed_before);
        if (st == status::timeout && steady::now() < t0 + tiny) ctx.fail("push_for timed out early (G-5)");
        break;
      }
      case 6: {
        const auto until = steady::now() + tiny;
        const bool system = rng() % 2;
        if (system) {  // a system_clock deadline (parks on CLOCK_REALTIME); no early-return check: it may
                       // jump
          stress::in_call call(hb, "push_until(system_clock)");
          st = s.push_until(std::move(it), std::chrono::system_clock::now() + tiny);
        } else {
          stress::in_call call(hb, "push_until");
          st = s.push_until(std::move(it), until);
        }
        if (unbounded)
          check_push(ctx, r, "push_until", st, {status::ok, status::closed}, it, value, closed_before);
        else
          check_push(ctx, r, "push_until", st, {status::ok, status::timeout, status::closed}, it, value,
                     closed_before);
        if (!system && st == status::timeout && steady::now() < until)
          ctx.fail("push_until timed out early (G-5)");
        break;
      }
      default: {
        {
          stress::in_call call(hb, "try_push");
          st = s.try_push(std::move(it));
        }
        if (unbounded)
          check_push(ctx, r, "try_push", st, {status::ok, status::closed}, it, value, closed_before);
        else
          check_push(ctx, r, "try_push", st, {status::ok, status::full, status::closed}, it, value,
                     closed_before);
        break;
      }
    }
    ctx.count_operations(1);
    if (st == status::ok) {
      r.ledger.sent(value);
      if (r.capacity == 0) r.returned_upto[p].store(static_cast<std::int64_t>(seq));
      ++seq;
      continue;
    }
    if (st == status::closed) {
      r.ledger.returned(value);
      // ST-5: closed stays closed for every form, and the value stays with the caller.
      item again(value);
      if (s.try_push(std::move(again)) != status::closed || again.v != value)
        ctx.fail("try_push after a closed push did not fail with closed, keeping its value");
      if (s.push_for(std::move(again), 1ms) != status::closed || again.v != value)
        ctx.fail("push_for after a closed push did not fail with closed, keeping its value");
      return;
    }
    // full / timeout / cancelled: retry the same value, or give it up (returned) and go on with the next.
    if (rng() % 2) {
      r.ledger.returned(value);
      ++seq;
    }
  }
}

template <class Sync>
void consumer_loop(stress::context& ctx, round_state<Sync>& r, unsigned producers, stoppable& stops,
                   std::mt19937_64& rng, stress::heartbeat& hb) {
  auto& s = *r.s;
  auto last_seen = r.ledger.consumer_state();
  std::vector<std::int64_t> returned_snapshot(producers, -1);
  for (;;) {
    if (r.capacity == 0)
      for (unsigned p = 0; p < producers; ++p) returned_snapshot[p] = r.returned_upto[p].load();
    item out;
    status st;
    const char* form;
    const auto tiny = std::chrono::microseconds(rng() % 50);
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2: {
        form = "pop";
        std::optional<item> got;
        {
          stress::in_call call(hb, form);
          got = s.pop();
        }
        st = got ? status::ok : status::closed;
        if (got) out = std::move(*got);
        break;
      }
      case 3: {
        form = "pop(stop_token)";
        const auto token = stops.fresh_token();
        {
          stress::in_call call(hb, form);
          st = s.pop(out, token);
        }
        if (!one_of(st, {status::ok, status::cancelled, status::closed}))
          ctx.fail("pop(stop_token): bad status");
        if (st == status::cancelled && !token.stop_requested())
          ctx.fail("pop(stop_token) cancelled without a stop request (G-5)");
        break;
      }
      case 4:
      case 5: {
        form = "pop_for";
        const auto t0 = steady::now();
        {
          stress::in_call call(hb, form);
          st = s.pop_for(out, tiny);
        }
        if (!one_of(st, {status::ok, status::timeout, status::closed})) ctx.fail("pop_for: bad status");
        if (st == status::timeout && steady::now() < t0 + tiny) ctx.fail("pop_for timed out early (G-5)");
        break;
      }
      case 6: {
        form = "pop_until";
        const auto until = steady::now() + tiny;
        const bool system = rng() % 2;
        if (system) {
          stress::in_call call(hb, "pop_until(system_clock)");
          st = s.pop_until(out, std::chrono::system_clock::now() + tiny);
        } else {
          stress::in_call call(hb, form);
          st = s.pop_until(out, until);
        }
        if (!one_of(st, {status::ok, status::timeout, status::closed})) ctx.fail("pop_until: bad status");
        if (!system && st == status::timeout && steady::now() < until)
          ctx.fail("pop_until timed out early (G-5)");
        break;
      }
      default: {
        form = "try_pop";
        {
          stress::in_call call(hb, form);
          st = s.try_pop(out);
        }
        if (!one_of(st, {status::ok, status::empty, status::closed})) ctx.fail("try_pop: bad status");
        break;
      }
    }
    ctx.count_operations(1);
    if (st == status::ok) {
      r.ledger.received(out.v, last_seen);
      const std::uint64_t p = out.v >> 32;
      const auto seq = static_cast<std::int64_t>(out.v & 0xffffffffu);
      // ST-3: a rendezvous push returns only once a popper has its value, so a pop that began after push(p,
      // n) returned cannot receive (p, n) or anything older from p.
      if (r.capacity == 0 && p < producers && seq <= returned_snapshot[p])
        ctx.fail(std::string(form) + " on a rendezvous stream got seq " + std::to_string(seq) +
                 " of producer " + std::to_string(p) +
                 " whose push had returned before the pop began (ST-3)");
      continue;
    }
    if (st != status::closed) continue;
    // End-of-stream (ST-5): only after close(), and forever after, for every form.
    if (!r.close_called.load()) ctx.fail(std::string(form) + " reported end-of-stream before close()");
    item again;
    if (s.try_pop(again) != status::closed)
      ctx.fail("try_pop after end-of-stream did not report closed (ST-5)");
    if (s.pop_for(again, 1ms) != status::closed)
      ctx.fail("pop_for after end-of-stream did not report closed");
    {
      stress::in_call call(hb, "pop after end-of-stream");
      if (s.pop()) ctx.fail("pop after end-of-stream returned a value (ST-5)");
    }
    return;
  }
}

// One round: a fresh stream, producers and consumers, a controller that requests stops at random and closes
// the stream after `close_after`; then every thread ends on its own (producers on closed, consumers on
// end-of-stream) and the round is settled.
template <class Sync>
void run_round(stress::context& ctx, std::size_t capacity, unsigned producers, unsigned consumers,
               std::chrono::microseconds close_after, unsigned round) {
  constexpr std::uint64_t kMaxPerProducer = std::uint64_t{1} << 16;
  round_state<Sync> r(capacity, producers, kMaxPerProducer);
  const unsigned workers = producers + consumers;
  std::vector<std::unique_ptr<stoppable>> stops;
  for (unsigned i = 0; i < workers; ++i) stops.push_back(std::make_unique<stoppable>());
  const std::string tag = " (round " + std::to_string(round) + ", capacity " + capacity_name(capacity) + ")";
  {
    std::vector<std::jthread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("producer " + std::to_string(p) + tag);
      threads.emplace_back([&, p, &hb = hb] {
        auto rng = ctx.rng(round * 1000 + p);
        producer_loop(ctx, r, p, *stops[p], kMaxPerProducer, rng, hb);
      });
    }
    for (unsigned c = 0; c < consumers; ++c) {
      auto& hb = ctx.new_heartbeat("consumer " + std::to_string(c) + tag);
      threads.emplace_back([&, c, &hb = hb] {
        auto rng = ctx.rng(round * 1000 + 500 + c);
        consumer_loop(ctx, r, producers, *stops[producers + c], rng, hb);
      });
    }
    // The controller (this thread): random stop requests and snapshots until the close moment.
    auto rng = ctx.rng(round * 1000 + 999);
    const auto close_at = steady::now() + close_after;
    while (steady::now() < close_at) {
      stops[rng() % workers]->stop();
      const std::size_t n = r.s->size();
      if (capacity != kUnbounded && n > capacity)
        ctx.fail("size() " + std::to_string(n) + " exceeds the capacity" + tag);
      for (unsigned k = rng() % 64; k != 0; --k) std::this_thread::yield();
    }
    r.close_called.store(true);
    r.s->close();
    r.close_returned.store(true);
    r.s->close();  // ST-5: idempotent
  }                // joins: producers end on closed, consumers on end-of-stream
  if (r.s->size() != 0) ctx.fail("size() " + std::to_string(r.s->size()) + " after the drain" + tag);
  const auto w = r.s->waiting();
  if (w.poppers != 0 || w.pushers != 0) ctx.fail("waiters left registered after the round" + tag);
  if (!r.s->is_closed()) ctx.fail("is_closed() false after close()" + tag);
  r.ledger.settle();
  ctx.add_ledger(r.ledger);
}

template <class Sync>
void run_mpmc(stress::context& ctx, unsigned max_threads) {
  // 3 and 1000: rings larger than the capacity (room decided from the head, not the slot turn).
  static constexpr std::array<std::size_t, 7> kCapacities{0, 1, 3, 4, 1000, 1024, kUnbounded};
  auto rng = ctx.rng(12345);
  max_threads = std::max(2u, max_threads);
  // Rounds short enough that every capacity gets several closes within the scenario's budget.
  const auto budget = std::chrono::duration<double>(ctx.opts().seconds_per_scenario);
  const auto longest = std::max<std::int64_t>(
      1000, std::min<std::int64_t>(
                50000, std::chrono::duration_cast<std::chrono::microseconds>(budget).count() / 20));
  unsigned round = 0;
  do {
    const std::size_t capacity = kCapacities[round % kCapacities.size()];
    const unsigned producers = 1 + static_cast<unsigned>(rng() % (max_threads - 1));
    const unsigned consumers = 1 + static_cast<unsigned>(rng() % (max_threads - producers));
    // One round in eight closes at once (close racing the first operations).
    const auto close_after =
        std::chrono::microseconds(rng() % 8 == 0 ? 0 : rng() % static_cast<std::uint64_t>(longest));
    run_round<Sync>(ctx, capacity, producers, consumers, close_after, round);
    ++round;
  } while (ctx.time_left() || round < kCapacities.size());
}

template <class Sync>
struct stream_mpmc {
  static void run(stress::context& ctx) {
    run_mpmc<Sync>(ctx, ctx.opts().threads ? ctx.opts().threads : 4 * cores());
  }
};

template <class Sync>
struct stream_mpmc_oversubscribed {
  static void run(stress::context& ctx) {
    run_mpmc<Sync>(ctx, ctx.opts().threads ? 2 * ctx.opts().threads : 8 * cores());
  }
};

// Pairs of threads, each pair on its own rendezvous stream (ST-3), every push and pop form; the ST-3 check of
// consumer_loop applies (no value can be popped by a pop that began after its push returned).
template <class Sync>
struct stream_rendezvous_pairs {
  static void run(stress::context& ctx) {
    const unsigned pairs = ctx.opts().threads ? ctx.opts().threads : 2 * cores();
    unsigned round = 0;
    do {
      constexpr std::uint64_t kMaxPerProducer = std::uint64_t{1} << 17;
      std::vector<std::unique_ptr<round_state<Sync>>> states;
      std::vector<std::unique_ptr<stoppable>> stops;
      for (unsigned i = 0; i < pairs; ++i) {
        states.push_back(std::make_unique<round_state<Sync>>(0, 1, kMaxPerProducer));
        stops.push_back(std::make_unique<stoppable>());
        stops.push_back(std::make_unique<stoppable>());
      }
      {
        std::vector<std::jthread> threads;
        for (unsigned i = 0; i < pairs; ++i) {
          auto& hb_p = ctx.new_heartbeat("rendezvous producer " + std::to_string(i));
          auto& hb_c = ctx.new_heartbeat("rendezvous consumer " + std::to_string(i));
          threads.emplace_back([&, i, &hb_p = hb_p] {
            auto rng = ctx.rng(round * 1000 + i);
            producer_loop(ctx, *states[i], 0, *stops[2 * i], kMaxPerProducer, rng, hb_p);
          });
          threads.emplace_back([&, i, &hb_c = hb_c] {
            auto rng = ctx.rng(round * 1000 + 500 + i);
            consumer_loop(ctx, *states[i], 1, *stops[2 * i + 1], rng, hb_c);
          });
        }
        auto rng = ctx.rng(round * 1000 + 999);
        const auto close_at = steady::now() + 20ms;
        while (steady::now() < close_at && ctx.time_left()) {
          stops[rng() % stops.size()]->stop();
          if (states[rng() % pairs]->s->size() != 0) ctx.fail("a rendezvous stream reported size() != 0");
          for (unsigned k = rng() % 64; k != 0; --k) std::this_thread::yield();
        }
        for (auto& r : states) {
          r->close_called.store(true);
          r->s->close();
          r->close_returned.store(true);
        }
      }  // joins
      std::uint64_t delivered = 0;
      for (auto& r : states) {
        r->ledger.settle();
        ctx.add_ledger(r->ledger);
        delivered += r->ledger.delivered();
        const auto w = r->s->waiting();
        if (w.poppers != 0 || w.pushers != 0) ctx.fail("waiters left on a rendezvous stream");
      }
      if (round == 0 && delivered == 0) ctx.fail("no rendezvous completed in the first round");
      ++round;
    } while (ctx.time_left());
  }
};

// ST-1: a burst of 10^5 values into an unbounded stream with nobody popping (the ring fills, then the
// overflow list): every push form returns ok at once and size() is exact. Then consumers drain while the
// producers burst again; size() returns to 0 once everything sent was received; close; end-of-stream.
template <class Sync>
struct stream_unbounded_burst {
  static void run(stress::context& ctx) {
    constexpr std::uint64_t kBurst = 100000;
    const unsigned producers = ctx.opts().threads ? ctx.opts().threads : 2 * cores();
    const unsigned consumers = producers;
    const std::uint64_t per_producer = kBurst / producers;
    unsigned round = 0;
    do {
      round_state<Sync> r(kUnbounded, producers, 2 * per_producer);
      auto burst = [&](std::uint64_t first_seq) {
        std::vector<std::jthread> threads;
        for (unsigned p = 0; p < producers; ++p) {
          auto& hb = ctx.new_heartbeat("burst producer " + std::to_string(p));
          threads.emplace_back([&, p, first_seq, &hb = hb] {
            auto rng = ctx.rng(round * 1000 + p + first_seq);
            std::stop_source stopped;
            stopped.request_stop();
            for (std::uint64_t seq = first_seq; seq < first_seq + per_producer; ++seq) {
              const std::uint64_t value = stress::ledger::encode(p, seq);
              item it(value);
              status st;
              {
                stress::in_call call(hb, "burst push");
                switch (rng() % 5) {
                  case 0:
                    st = r.s->push(std::move(it)) ? status::ok : status::closed;
                    break;
                  case 1:
                    st = r.s->try_push(std::move(it));
                    break;
                  case 2:
                    st = r.s->push_for(std::move(it), -1s);  // G-7: a past deadline is a try_
                    break;
                  case 3:
                    st = r.s->push(std::move(it), stopped.get_token());  // never waits, so never cancelled
                    break;
                  default:
                    st = r.s->push_until(std::move(it), steady::now());
                    break;
                }
              }
              ctx.count_operations(1);
              if (st != status::ok) {
                ctx.fail(std::string("unbounded push returned ") + handoff::to_string(st) + " (ST-1)");
                r.ledger.returned(value);
                continue;
              }
              r.ledger.sent(value);
            }
          });
        }
      };
      burst(0);  // joins: every push has returned
      const std::uint64_t sent = per_producer * producers;
      if (r.s->size() != sent)
        ctx.fail("after a burst of " + std::to_string(sent) +
                 " with no consumer, size() = " + std::to_string(r.s->size()) + " (ST-1)");
      {
        std::vector<std::jthread> threads;
        for (unsigned c = 0; c < consumers; ++c) {
          auto& hb = ctx.new_heartbeat("burst consumer " + std::to_string(c));
          threads.emplace_back([&, c, &hb = hb] {
            auto rng = ctx.rng(round * 1000 + 500 + c);
            stoppable never;
            consumer_loop(ctx, r, producers, never, rng, hb);
          });
        }
        burst(per_producer);  // races the drain
        // Bounded wait until everything sent was received; then nothing may be left buffered.
        const auto give_up = steady::now() + 30s;
        while (r.ledger.delivered() < 2 * sent && steady::now() < give_up) std::this_thread::yield();
        if (r.ledger.delivered() < 2 * sent)
          ctx.fail("drain: " + std::to_string(r.ledger.delivered()) + " of " + std::to_string(2 * sent) +
                   " received");
        if (r.s->size() != 0)
          ctx.fail("size() = " + std::to_string(r.s->size()) + " after every value was received (ST-1)");
        r.close_called.store(true);
        r.s->close();
        r.close_returned.store(true);
      }  // joins: consumers end on end-of-stream
      r.ledger.settle();
      ctx.add_ledger(r.ledger);
      ++round;
    } while (ctx.time_left());
  }
};

// ---- Batch pops (issue 16): consumers take values with pop_some / try_pop_some, up to a random max, through
// a raw array (nothrow item: several indices claimed with one CAS, stream.hpp invariant 10) or a
// std::back_inserter (one claim per value). Producers use every push form (producer_loop). Each consumer
// checks per-producer FIFO (ST-4) over everything it received; the ledger checks exactly-once delivery (G-2).
// A wait_closed thread per round checks that it returns only after close() was called (ST-5, G-4).
template <class Sync>
void pop_some_consumer_loop(stress::context& ctx, round_state<Sync>& r, std::mt19937_64& rng,
                            stress::heartbeat& hb) {
  auto& s = *r.s;
  auto last_seen = r.ledger.consumer_state();
  std::vector<item> buffer(64);
  std::vector<item> appended;
  for (;;) {
    const std::size_t max = 1 + static_cast<std::size_t>(rng() % 64);
    const bool wait = rng() % 4 != 0;
    const bool array = rng() % 2 == 0;
    std::size_t n = 0;
    appended.clear();
    {
      stress::in_call call(hb, wait ? "pop_some" : "try_pop_some");
      if (array)
        n = wait ? s.pop_some(buffer.data(), max) : s.try_pop_some(buffer.data(), max);
      else
        n = wait ? s.pop_some(std::back_inserter(appended), max)
                 : s.try_pop_some(std::back_inserter(appended), max);
    }
    ctx.count_operations(1);
    if (n > max) ctx.fail("pop_some returned more than max");
    if (!array && appended.size() != n) ctx.fail("pop_some's count differs from the values it appended");
    const item* got = array ? buffer.data() : appended.data();
    for (std::size_t i = 0; i < n; ++i) r.ledger.received(got[i].v, last_seen);
    if (n > 0) continue;
    if (!wait) {
      if (!s.is_closed()) continue;
      // closed: pop_some below settles it (end-of-stream only once drained)
      stress::in_call call(hb, "pop_some after close");
      n = s.pop_some(buffer.data(), max);
      for (std::size_t i = 0; i < n; ++i) r.ledger.received(buffer[i].v, last_seen);
      if (n > 0) continue;
    }
    // 0 from a waiting pop_some: end-of-stream (ST-5), only after close(), and for good.
    if (!r.close_called.load()) ctx.fail("pop_some returned 0 before close()");
    if (s.try_pop_some(buffer.data(), max) != 0)
      ctx.fail("try_pop_some found a value after end-of-stream (ST-5)");
    return;
  }
}

template <class Sync>
struct stream_pop_some {
  static void run(stress::context& ctx) {
    static constexpr std::array<std::size_t, 6> kCapacities{0, 1, 4, 64, 1024, kUnbounded};
    constexpr std::uint64_t kMaxPerProducer = std::uint64_t{1} << 16;
    const unsigned max_threads = std::max(3u, ctx.opts().threads ? ctx.opts().threads : 4 * cores());
    auto rng = ctx.rng(777);
    unsigned round = 0;
    do {
      const std::size_t capacity = kCapacities[round % kCapacities.size()];
      const unsigned producers = 1 + static_cast<unsigned>(rng() % (max_threads - 2));
      const unsigned consumers = 1 + static_cast<unsigned>(rng() % (max_threads - 1 - producers));
      const auto close_after = std::chrono::microseconds(rng() % 20000);
      round_state<Sync> r(capacity, producers, kMaxPerProducer);
      std::vector<std::unique_ptr<stoppable>> stops;
      for (unsigned p = 0; p < producers; ++p) stops.push_back(std::make_unique<stoppable>());
      const std::string tag =
          " (round " + std::to_string(round) + ", capacity " + capacity_name(capacity) + ")";
      {
        std::vector<std::jthread> threads;
        for (unsigned p = 0; p < producers; ++p) {
          auto& hb = ctx.new_heartbeat("producer " + std::to_string(p) + tag);
          threads.emplace_back([&, p, &hb = hb] {
            auto prng = ctx.rng(round * 1000 + p);
            producer_loop(ctx, r, p, *stops[p], kMaxPerProducer, prng, hb);
          });
        }
        for (unsigned c = 0; c < consumers; ++c) {
          auto& hb = ctx.new_heartbeat("pop_some consumer " + std::to_string(c) + tag);
          threads.emplace_back([&, c, &hb = hb] {
            auto crng = ctx.rng(round * 1000 + 500 + c);
            pop_some_consumer_loop(ctx, r, crng, hb);
          });
        }
        auto& hb = ctx.new_heartbeat("wait_closed" + tag);
        threads.emplace_back([&, &hb = hb] {
          stress::in_call call(hb, "wait_closed");
          r.s->wait_closed();
          if (!r.close_called.load()) ctx.fail("wait_closed returned before close()" + tag);
        });
        const auto close_at = steady::now() + close_after;
        while (steady::now() < close_at) {
          stops[rng() % producers]->stop();
          for (unsigned k = rng() % 64; k != 0; --k) std::this_thread::yield();
        }
        r.close_called.store(true);
        r.s->close();
        r.close_returned.store(true);
      }  // joins
      if (r.s->size() != 0) ctx.fail("size() " + std::to_string(r.s->size()) + " after the drain" + tag);
      const auto w = r.s->waiting();
      if (w.poppers != 0 || w.pushers != 0 || w.close_waiters != 0)
        ctx.fail("waiters left registered after the round" + tag);
      r.ledger.settle();
      ctx.add_ledger(r.ledger);
      ++round;
    } while (ctx.time_left() || round < kCapacities.size());
  }
};

// ---- G-8 under concurrency: moves that throw at random, in push and in pop.
//
// fragile's move constructor throws (before touching its source) with probability 1/32 while the calling
// thread is inside a push or a pop. A push that throws must leave its argument intact (it then counts as
// returned); a pop that throws may have destroyed the value it was moving out (stream.hpp: it is the popper's
// own), or the value may come back (a hand-off retried by its pusher), so such a value is "maybe lost":
// delivered at most once. Every other value: sent = received + returned exactly, FIFO per producer within
// each consumer.

struct injected_failure {};

enum class move_context { none, push, pop };
thread_local move_context t_context = move_context::none;
thread_local std::uint64_t t_random = 0x9E3779B97F4A7C15ull;

// Per-value receipts for this scenario (the shared ledger has no "maybe lost" state).
class fragile_book {
 public:
  static constexpr std::uint8_t kSent = 1, kReturned = 2, kMaybeLost = 4, kReceived = 8, kTwice = 16;
  fragile_book(unsigned producers, std::uint64_t max)
      : producers_(producers),
        max_(max),
        cells_(std::make_unique<std::atomic<std::uint8_t>[]>(producers * max)) {}
  void mark(std::uint64_t value, std::uint8_t bit) {
    const std::uint64_t p = value >> 32, s = value & 0xffffffffu;
    if (p >= producers_ || s >= max_) {
      invented.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after every thread joined
      return;
    }
    // relaxed: the cells are read after every thread joined.
    const std::uint8_t old = cells_[p * max_ + s].fetch_or(bit, std::memory_order_relaxed);
    if (bit == kReceived && (old & kReceived))
      cells_[p * max_ + s].fetch_or(kTwice, std::memory_order_relaxed);
  }
  // After every thread joined: fold the counts into the scenario's totals.
  void settle(stress::context& ctx) {
    for (std::uint64_t i = 0; i < producers_ * max_; ++i) {
      const std::uint8_t c = cells_[i].load(std::memory_order_relaxed);  // relaxed: all threads joined
      const bool sent = c & kSent, back = c & kReturned, maybe = c & kMaybeLost, got = c & kReceived;
      if (c & kTwice) ++ctx.duplicated;
      if (sent && back) ctx.fail("a value both sent and returned (scenario bookkeeping)");
      if (sent && !got && !maybe) ++ctx.lost;
      if (back && got) ++ctx.duplicated;  // returned to its producer and also delivered
      if (!sent && !back && got) ++ctx.invented;
    }
    ctx.invented += invented.load();
  }
  std::atomic<std::uint64_t> invented{0};

 private:
  unsigned producers_;
  std::uint64_t max_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> cells_;
};
fragile_book* g_book = nullptr;  // the running round's book; set before its threads start
std::atomic<std::uint64_t> g_push_throws{0}, g_pop_throws{0};  // injected failures, for the self-check

struct fragile {
  std::uint64_t v = kMovedFrom;
  fragile() = default;
  explicit fragile(std::uint64_t x) noexcept : v(x) {}
  fragile(fragile&& o) : v(o.v) {
    if (t_context != move_context::none) {
      t_random ^= t_random << 13, t_random ^= t_random >> 7, t_random ^= t_random << 17;  // xorshift64
      if (t_random % 32 == 0) {
        if (t_context == move_context::pop) g_book->mark(o.v, fragile_book::kMaybeLost);
        // relaxed: counters read after every thread joined.
        (t_context == move_context::pop ? g_pop_throws : g_push_throws)
            .fetch_add(1, std::memory_order_relaxed);
        throw injected_failure{};
      }
    }
    o.v = kMovedFrom;
  }
  fragile& operator=(fragile&& o) noexcept {
    v = std::exchange(o.v, kMovedFrom);
    return *this;
  }
};

struct context_scope {
  explicit context_scope(move_context c) noexcept { t_context = c; }
  ~context_scope() { t_context = move_context::none; }
};

template <class Sync>
void run_throwing_round(stress::context& ctx, std::size_t capacity, unsigned producers, unsigned consumers,
                        std::chrono::microseconds close_after, unsigned round) {
  constexpr std::uint64_t kMax = std::uint64_t{1} << 16;
  using stream_t = handoff::stream<fragile, Sync>;
  auto s = capacity == kUnbounded ? std::make_unique<stream_t>(handoff::unbounded)
                                  : std::make_unique<stream_t>(capacity);
  fragile_book book(producers, kMax);
  g_book = &book;
  std::atomic<bool> close_called{false};
  std::atomic<std::uint64_t> reordered{0};
  const std::string tag = " (round " + std::to_string(round) + ", capacity " + capacity_name(capacity) + ")";
  {
    std::vector<std::jthread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("fragile producer " + std::to_string(p) + tag);
      threads.emplace_back([&, p, &hb = hb] {
        auto rng = ctx.rng(round * 1000 + p);
        t_random = rng() | 1;
        for (std::uint64_t seq = 0; seq < kMax;) {
          const std::uint64_t value = stress::ledger::encode(p, seq);
          fragile it(value);
          status st = status::ok;
          bool threw = false;
          try {
            const context_scope in_push(move_context::push);
            stress::in_call call(hb, "push (throwing moves)");
            switch (rng() % 3) {
              case 0:
                st = s->push(std::move(it)) ? status::ok : status::closed;
                break;
              case 1:
                st = s->push_for(std::move(it), std::chrono::microseconds(rng() % 50));
                break;
              default:
                st = s->try_push(std::move(it));
                break;
            }
          } catch (const injected_failure&) {
            threw = true;
          }
          ctx.count_operations(1);
          if (!threw && st == status::ok) {
            book.mark(value, fragile_book::kSent);
            ++seq;
            continue;
          }
          if (it.v != value)
            ctx.fail("a push that failed or threw did not leave its value with the caller (G-8)");
          if (threw) continue;  // G-8: the stream stays usable; retry the same value
          if (st == status::closed) {
            book.mark(value, fragile_book::kReturned);
            return;
          }
          if (!one_of(st, {status::full, status::timeout})) ctx.fail("push: unexpected status" + tag);
          if (rng() % 2) {
            book.mark(value, fragile_book::kReturned);
            ++seq;
          }
        }
      });
    }
    for (unsigned c = 0; c < consumers; ++c) {
      auto& hb = ctx.new_heartbeat("fragile consumer " + std::to_string(c) + tag);
      threads.emplace_back([&, c, &hb = hb] {
        auto rng = ctx.rng(round * 1000 + 500 + c);
        t_random = rng() | 1;
        std::vector<std::int64_t> last_seen(producers, -1);
        for (;;) {
          fragile out;
          status st = status::empty;
          try {
            const context_scope in_pop(move_context::pop);
            stress::in_call call(hb, "pop (throwing moves)");
            switch (rng() % 3) {
              case 0: {
                std::optional<fragile> got = s->pop();
                st = got ? status::ok : status::closed;
                if (got) out = std::move(*got);
                break;
              }
              case 1:
                st = s->pop_for(out, std::chrono::microseconds(rng() % 50));
                break;
              default:
                st = s->try_pop(out);
                break;
            }
          } catch (const injected_failure&) {
            if (out.v != kMovedFrom) ctx.fail("a pop that threw wrote its output");
            continue;  // G-8: the stream stays usable
          }
          ctx.count_operations(1);
          if (st == status::ok) {
            book.mark(out.v, fragile_book::kReceived);
            const std::uint64_t p = out.v >> 32;
            const auto seq = static_cast<std::int64_t>(out.v & 0xffffffffu);
            if (p < producers) {
              if (seq <= last_seen[p]) reordered.fetch_add(1);
              last_seen[p] = seq;
            }
            continue;
          }
          if (st == status::closed) {
            if (!close_called.load()) ctx.fail("end-of-stream before close()" + tag);
            if (s->try_pop(out) != status::closed) ctx.fail("end-of-stream did not last (ST-5)" + tag);
            return;
          }
        }
      });
    }
    auto rng = ctx.rng(round * 1000 + 999);
    const auto close_at = steady::now() + close_after;
    while (steady::now() < close_at)
      for (unsigned k = rng() % 64; k != 0; --k) std::this_thread::yield();
    close_called.store(true);
    s->close();
  }  // joins
  if (s->size() != 0) ctx.fail("size() " + std::to_string(s->size()) + " after the drain" + tag);
  const auto w = s->waiting();
  if (w.poppers != 0 || w.pushers != 0) ctx.fail("waiters left registered after the round" + tag);
  book.settle(ctx);
  ctx.reordered += reordered.load();
  g_book = nullptr;
}

template <class Sync>
struct stream_throwing_moves {
  static void run(stress::context& ctx) {
    static constexpr std::array<std::size_t, 4> kCapacities{0, 1, 4, kUnbounded};
    const unsigned max_threads = std::max(2u, ctx.opts().threads ? ctx.opts().threads : 4 * cores());
    auto rng = ctx.rng(54321);
    g_push_throws.store(0);
    g_pop_throws.store(0);
    unsigned round = 0;
    do {
      const std::size_t capacity = kCapacities[round % kCapacities.size()];
      const unsigned producers = 1 + static_cast<unsigned>(rng() % (max_threads - 1));
      const unsigned consumers = 1 + static_cast<unsigned>(rng() % (max_threads - producers));
      run_throwing_round<Sync>(ctx, capacity, producers, consumers, std::chrono::microseconds(rng() % 30000),
                               round);
      ++round;
    } while (ctx.time_left() || round < kCapacities.size());
    // The scenario is blind if no move ever threw (a long enough run always has both kinds).
    if (ctx.operations() > 100000 && (g_push_throws.load() == 0 || g_pop_throws.load() == 0))
      ctx.fail("no injected failure in push or in pop: the scenario exercised nothing");
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(stream_mpmc);
STRESS_SCENARIO_SYNC(stream_mpmc_oversubscribed);
STRESS_SCENARIO_SYNC(stream_rendezvous_pairs);
STRESS_SCENARIO_SYNC(stream_unbounded_burst);
STRESS_SCENARIO_SYNC(stream_throwing_moves);
STRESS_SCENARIO_SYNC(stream_pop_some);

// The yield phase (include/handoff/stream.hpp, invariant 7) with 4 yields instead of the library's 1, under
// the same checks: the blocking push and pop keep their watchdog and per-producer sequence and checksum
// accounting.
namespace {
struct yielding_sync : handoff::default_sync {
  static constexpr unsigned yield_limit = 4;
};
const stress::registrar stream_mpmc_yield{"stream_mpmc/yield",
                                          [](stress::context& c) { stream_mpmc<yielding_sync>::run(c); }};
const stress::registrar stream_mpmc_oversubscribed_yield{
    "stream_mpmc_oversubscribed/yield",
    [](stress::context& c) { stream_mpmc_oversubscribed<yielding_sync>::run(c); }};
}  // namespace
