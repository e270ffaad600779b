// Stress scenarios for select (handoff/select.hpp, rules SE-1, SE-2, SE-3, SE-5, SE-6, G-2, G-5, G-7), on
// both real backends, in short rounds that each end with a close:
//   select_fan_in    8 streams (capacities 0, 1, 64, unbounded, twice, rotated each round) fed by 8 plain
//                    pushers (push, try_push, push_for); 2 consumers each select over all 8 pop cases
//                    (select, biased, select_for, select(stop), try_select) and 1 plain popper on one of the
//                    streams. The round closes every stream (after the pushers stopped, or while they push);
//                    a pop case must then report closed only once its stream is drained (SE-6).
//   select_fan_out   4 pushers each select over 4 push cases on bounded streams (capacities 0 and 16), one
//                    value per case; 4 plain consumers, one per stream. Exactly the winning case's value is
//                    moved; every losing case keeps its value (SE-1, G-2), which the pusher offers again in
//                    its next select; a push case on a closed stream reports closed, value kept.
//   select_mixed     2 mvars, a stream (capacity 0 or 4) and a condition: 3 producers select over put,
//                    put and push cases (or signal the condition), 2 consumers select over take, take, pop
//                    and wait cases, 1 plain thread takes, pops and waits with timeouts; select_for with
//                    deadlines of 0-50 us and stop tokens that a controller requests at random.
// Every value is (producer, channel) << 32 | seq and goes through the ledger: each sent value received
// exactly once, a value that came back (closed push, discarded signal) never received, nothing invented, and
// per (producer, channel) order preserved within each receiver (each channel is FIFO: G-3, ST-4, MV-3). A
// value's channel is in its producer id, so a select that names the wrong case (index()) is caught at once.
// After each round every channel must have no waiter left (a select unregisters every link: SE-1) and the
// streams must be empty. Blocking calls are marked for the watchdog; a hang names the thread, the call and
// the seed.
#include <handoff/select.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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

using handoff::selected;
using handoff::status;
using stress::stoppable;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t kMovedFrom = ~std::uint64_t{0};
constexpr std::uint64_t kParked = kMovedFrom - 1;  // the value of a push case parked on an idle stream
// A ledger value that records being moved from: a push case must move only when it won (SE-1, G-2).
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

template <class Sync>
using stream_t = handoff::stream<item, Sync>;

// The channel a value was sent on: its ledger producer id is producer * channels + channel.
unsigned channel_of(std::uint64_t value, unsigned channels) {
  return static_cast<unsigned>((value >> 32) % channels);
}

// ---- the select forms, drawn at random per call

enum class form { wait, biased_wait, timed, timed_stop, stop, try_only, biased_timed };
constexpr unsigned kForms = 7;

const char* form_name(form f) {
  switch (f) {
    case form::wait:
      return "select";
    case form::biased_wait:
      return "select(biased)";
    case form::timed:
      return "select_for";
    case form::timed_stop:
      return "select_for(stop)";
    case form::stop:
      return "select(stop)";
    case form::try_only:
      return "try_select";
    case form::biased_timed:
      return "select_for(biased)";
  }
  return "?";
}

template <class... Cases>
selected run_form(form f, std::chrono::microseconds d, std::stop_token token, Cases&... cs) {
  switch (f) {
    case form::wait:
      return handoff::select(cs...);
    case form::biased_wait:
      return handoff::select(handoff::biased, cs...);
    case form::timed:
      return handoff::select_for(d, cs...);
    case form::timed_stop:
      return handoff::select_for(d, token, cs...);
    case form::stop:
      return handoff::select(token, cs...);
    case form::try_only:
      return handoff::try_select(cs...);
    case form::biased_timed:
      return handoff::select_for(d, handoff::biased, cs...);
  }
  return {selected::none, status::empty};
}

// A select that completed no case: its reason must be the form's (SE-3, G-5, G-7), never early or unasked.
void check_none(stress::context& ctx, form f, const selected& r, const std::stop_token& token,
                steady::time_point t0, std::chrono::microseconds d, const char* who) {
  const std::string where = std::string(who) + " " + form_name(f);
  switch (r.status()) {
    case status::empty:
      if (f != form::try_only) ctx.fail(where + " answered empty (only try_select may)");
      break;
    case status::timeout:
      if (f != form::timed && f != form::timed_stop && f != form::biased_timed)
        ctx.fail(where + " answered timeout without a deadline");
      else if (steady::now() < t0 + d)
        ctx.fail(where + " timed out early (G-5)");
      break;
    case status::cancelled:
      if (f != form::stop && f != form::timed_stop) ctx.fail(where + " answered cancelled without a token");
      if (!token.stop_requested()) ctx.fail(where + " cancelled without a stop request (G-5)");
      break;
    default:
      ctx.fail(where + " returned index none with status " + handoff::to_string(r.status()));
  }
}

// The controller's part of a round: random stop requests until `until`.
void stir(std::vector<std::unique_ptr<stoppable>>& stops, steady::time_point until, std::mt19937_64& rng) {
  // One yield per check of the clock: with a dozen runnable threads on 2 cores a yield can take a whole time
  // slice, so a run of them would overshoot the round's end by far.
  while (steady::now() < until) {
    if (!stops.empty() && rng() % 16 == 0) stops[rng() % stops.size()]->stop();
    std::this_thread::yield();
  }
}

// Round length: short enough for several closes within the scenario's share of the run.
std::chrono::microseconds close_after(const stress::context& ctx, std::mt19937_64& rng) {
  const auto budget = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(ctx.opts().seconds_per_scenario));
  const std::uint64_t longest = std::clamp<std::int64_t>(budget.count() / 20, 1000, 20000);
  return std::chrono::microseconds(rng() % 8 == 0 ? 0 : rng() % longest);
}

template <class Sync>
void check_quiet(stress::context& ctx, const stream_t<Sync>& s, const std::string& what) {
  const auto w = s.waiting();
  if (w.poppers != 0 || w.pushers != 0 || w.close_waiters != 0)
    ctx.fail("waiters left registered on " + what + " after the round (" + std::to_string(w.poppers) +
             " poppers, " + std::to_string(w.pushers) + " pushers)");
  if (s.size() != 0) ctx.fail(what + " holds " + std::to_string(s.size()) + " values after the round");
}

// ==== select_fan_in: 8 pushers -> 8 streams -> 2 selecting consumers + 1 plain popper

template <class Sync>
struct select_fan_in {
  static constexpr unsigned kStreams = 8, kPushers = 8, kSelectors = 2;
  static constexpr std::uint64_t kMax = std::uint64_t{1} << 12;  // per (pusher, stream)
  static constexpr std::array<std::size_t, 4> kCapacities{0, 1, 64, kUnbounded};
  // Eight pushers outrun two selectors: without a bound on the unbounded streams' backlog, a round would
  // spend most of its time draining it (and run far past its share of the suite).
  static constexpr std::size_t kUnboundedBacklog = 256;

  struct round_state {
    std::array<std::unique_ptr<stream_t<Sync>>, kStreams> streams;
    stream_t<Sync> idle{0};  // never pushed, never closed: replaces a stream a selector has seen closed
    std::array<std::atomic<bool>, kStreams> close_called{};
    std::atomic<bool> stop_pushing{false};
    stress::ledger ledger{kPushers * kStreams, kMax};
    std::string tag;
  };

  static void pusher(stress::context& ctx, round_state& r, unsigned p, std::mt19937_64& rng,
                     stress::heartbeat& hb) {
    std::array<std::uint64_t, kStreams> seq{};
    std::array<bool, kStreams> done{};
    unsigned open = kStreams;
    while (open > 0 && !r.stop_pushing.load(std::memory_order_relaxed)) {  // relaxed: a hint to stop
      const unsigned c = static_cast<unsigned>(rng() % kStreams);
      if (done[c]) continue;
      if (seq[c] == kMax) {
        done[c] = true;
        --open;
        continue;
      }
      auto& s = *r.streams[c];
      if (s.capacity() == kUnbounded && s.size() >= kUnboundedBacklog && !s.is_closed()) {  // consumers lag
        std::this_thread::yield();
        continue;
      }
      const std::uint64_t value = stress::ledger::encode(p * kStreams + c, seq[c]);
      item it(value);
      status st;
      switch (rng() % 4) {
        case 0:
        case 1: {
          stress::in_call call(hb, "push");
          st = s.push(std::move(it)) ? status::ok : status::closed;
          break;
        }
        case 2: {
          stress::in_call call(hb, "try_push");
          st = s.try_push(std::move(it));
          break;
        }
        default: {
          stress::in_call call(hb, "push_for");
          st = s.push_for(std::move(it), std::chrono::microseconds(rng() % 50));
          break;
        }
      }
      ctx.count_operations(1);
      if (st == status::ok) {
        r.ledger.sent(value);
        ++seq[c];
        continue;
      }
      if (it.v != value) ctx.fail("a failed push moved from its argument (G-2)" + r.tag);
      if (st == status::closed) {
        if (!r.close_called[c].load()) ctx.fail("push reported closed before close()" + r.tag);
        r.ledger.returned(value);
        done[c] = true;
        --open;
      }
      // full / timeout: the same seq is offered again later (a retry of a value that did go in is a
      // duplicate).
    }
  }

  // A selector that can no longer trust its own state (a failure already reported) closes every stream, so
  // that the round still ends and the run reports the failure instead of hanging.
  static void abandon(round_state& r) {
    for (unsigned c = 0; c < kStreams; ++c) {
      r.close_called[c].store(true);
      r.streams[c]->close();
    }
  }

  template <std::size_t... I>
  static auto pop_cases(const std::array<stream_t<Sync>*, kStreams>& src, std::index_sequence<I...>) {
    return std::array<handoff::pop_case<item, Sync>, kStreams>{{handoff::on_pop(*src[I])...}};
  }

  static void selector(stress::context& ctx, round_state& r, stoppable& stops, std::mt19937_64& rng,
                       stress::heartbeat& hb) {
    std::array<stream_t<Sync>*, kStreams> src;
    for (unsigned c = 0; c < kStreams; ++c) src[c] = r.streams[c].get();
    unsigned open = kStreams;
    auto last_seen = r.ledger.consumer_state();
    constexpr auto idx = std::make_index_sequence<kStreams>{};
    while (open > 0) {
      auto cs = pop_cases(src, idx);
      const form f = static_cast<form>(rng() % kForms);
      const auto d = std::chrono::microseconds(rng() % 50);
      const auto token = stops.fresh_token();
      const auto t0 = steady::now();
      selected res{selected::none, status::empty};
      {
        stress::in_call call(hb, form_name(f));
        res = [&]<std::size_t... I>(std::index_sequence<I...>) {
          return run_form(f, d, token, cs[I]...);
        }
        (idx);
      }
      ctx.count_operations(1);
      const std::size_t won = res.index();
      for (std::size_t i = 0; i < kStreams; ++i)
        if (cs[i].value.has_value() != (i == won && res.status() == status::ok))
          ctx.fail("pop case " + std::to_string(i) + (cs[i].value ? " holds" : " lacks") +
                   " a value after select answered index " + std::to_string(won) + " (SE-1)" + r.tag);
      if (won == selected::none) {
        check_none(ctx, f, res, token, t0, d, "selector");
        if (f == form::try_only) std::this_thread::yield();
        continue;
      }
      if (won >= kStreams) {
        ctx.fail("select answered index " + std::to_string(won) + " of 8 cases" + r.tag);
        return abandon(r);
      }
      if (src[won] == &r.idle) {
        ctx.fail("select completed the pop case of the idle stream (nothing pushes or closes it)" + r.tag);
        return abandon(r);
      }
      if (res.status() == status::ok) {
        if (!cs[won].value) return abandon(r);  // reported above: the value went to another case
        const std::uint64_t v = cs[won].value->v;
        if ((v >> 32) < kPushers * kStreams && channel_of(v, kStreams) != won)
          ctx.fail("select answered case " + std::to_string(won) + " but the value came from stream " +
                   std::to_string(channel_of(v, kStreams)) + r.tag);
        r.ledger.received(v, last_seen);
        continue;
      }
      if (res.status() != status::closed) {
        ctx.fail(std::string("pop case completed with ") + handoff::to_string(res.status()) + r.tag);
        return abandon(r);
      }
      // SE-6: closed only after close(), and only once drained (nothing can refill a closed stream).
      if (!r.close_called[won].load()) ctx.fail("pop case reported closed before close()" + r.tag);
      if (src[won]->size() != 0)
        ctx.fail("pop case reported closed with " + std::to_string(src[won]->size()) +
                 " values still in stream " + std::to_string(won) + " (SE-6)" + r.tag);
      item again;
      if (src[won]->try_pop(again) != status::closed) ctx.fail("closed did not last (ST-5)" + r.tag);
      src[won] = &r.idle;
      --open;
    }
  }

  static void plain_popper(stress::context& ctx, round_state& r, unsigned c, std::mt19937_64& rng,
                           stress::heartbeat& hb) {
    auto& s = *r.streams[c];
    auto last_seen = r.ledger.consumer_state();
    for (;;) {
      item out;
      status st;
      switch (rng() % 3) {
        case 0: {
          stress::in_call call(hb, "pop");
          auto got = s.pop();
          st = got ? status::ok : status::closed;
          if (got) out = std::move(*got);
          break;
        }
        case 1: {
          stress::in_call call(hb, "pop_for");
          st = s.pop_for(out, std::chrono::microseconds(rng() % 50));
          break;
        }
        default: {
          stress::in_call call(hb, "try_pop");
          st = s.try_pop(out);
          if (st == status::empty) std::this_thread::yield();
          break;
        }
      }
      ctx.count_operations(1);
      if (st == status::ok) {
        if ((out.v >> 32) < kPushers * kStreams && channel_of(out.v, kStreams) != c)
          ctx.fail("plain pop got a value of another stream" + r.tag);
        r.ledger.received(out.v, last_seen);
      } else if (st == status::closed) {
        if (!r.close_called[c].load()) ctx.fail("plain pop reported closed before close()" + r.tag);
        return;
      }
    }
  }

  static void run_round(stress::context& ctx, unsigned round, std::mt19937_64& rng) {
    round_state r;
    for (unsigned c = 0; c < kStreams; ++c)
      r.streams[c] = make_stream<item, Sync>(kCapacities[(c + round) % kCapacities.size()]);
    const unsigned plain = static_cast<unsigned>(rng() % kStreams);
    const bool close_while_pushing = rng() % 2;
    r.tag = " (round " + std::to_string(round) + ")";
    std::vector<std::unique_ptr<stoppable>> stops;
    for (unsigned k = 0; k < kSelectors; ++k) stops.push_back(std::make_unique<stoppable>());
    {
      std::vector<std::jthread> consumers;
      for (unsigned k = 0; k < kSelectors; ++k) {
        auto& hb = ctx.new_heartbeat("selector " + std::to_string(k) + r.tag);
        consumers.emplace_back([&, k, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + 500 + k);
          selector(ctx, r, *stops[k], trng, hb);
        });
      }
      {
        auto& hb = ctx.new_heartbeat("plain popper on stream " + std::to_string(plain) + " (capacity " +
                                     capacity_name(r.streams[plain]->capacity()) + ")" + r.tag);
        consumers.emplace_back([&, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + 600);
          plain_popper(ctx, r, plain, trng, hb);
        });
      }
      std::vector<std::jthread> pushers;
      for (unsigned p = 0; p < kPushers; ++p) {
        auto& hb = ctx.new_heartbeat("pusher " + std::to_string(p) + r.tag);
        pushers.emplace_back([&, p, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + p);
          pusher(ctx, r, p, trng, hb);
        });
      }
      stir(stops, steady::now() + close_after(ctx, rng), rng);
      if (!close_while_pushing) {
        r.stop_pushing.store(true);
        pushers.clear();  // joins: the consumers are still popping, so every push returns
      }
      std::array<unsigned, kStreams> order;
      for (unsigned c = 0; c < kStreams; ++c) order[c] = c;
      std::shuffle(order.begin(), order.end(), rng);
      for (unsigned c : order) {
        r.close_called[c].store(true);
        r.streams[c]->close();
        if (rng() % 4 == 0) std::this_thread::yield();
      }
    }  // joins: pushers end on closed, consumers once every stream they wait on reported closed
    for (unsigned c = 0; c < kStreams; ++c)
      check_quiet(ctx, *r.streams[c], "stream " + std::to_string(c) + r.tag);
    check_quiet(ctx, r.idle, "the idle stream" + r.tag);
    r.ledger.settle();
    ctx.add_ledger(r.ledger);
  }

  static void run(stress::context& ctx) {
    auto rng = ctx.rng(70001);
    unsigned round = 0;
    do {
      run_round(ctx, round++, rng);
    } while (ctx.time_left() || round < 2);
  }
};

// ==== select_fan_out: 4 selecting pushers (4 push cases each) -> 4 bounded streams -> 4 plain consumers

template <class Sync>
struct select_fan_out {
  static constexpr unsigned kStreams = 4, kPushers = 4;
  static constexpr std::uint64_t kMax = std::uint64_t{1} << 12;  // per (pusher, stream)
  static constexpr std::array<std::size_t, 2> kCapacities{0, 16};

  struct round_state {
    std::array<std::unique_ptr<stream_t<Sync>>, kStreams> streams;
    stream_t<Sync> idle{0};  // nobody pops it: a push case on it never completes
    std::array<std::atomic<bool>, kStreams> close_called{};
    std::atomic<bool> stop_pushing{false};
    stress::ledger ledger{kPushers * kStreams, kMax};
    std::string tag;
  };

  template <std::size_t... I>
  static auto push_cases(const std::array<stream_t<Sync>*, kStreams>& dst, std::array<item, kStreams>& v,
                         std::index_sequence<I...>) {
    return std::array<handoff::push_case<item, Sync>, kStreams>{{handoff::on_push(*dst[I], v[I])...}};
  }

  static void pusher(stress::context& ctx, round_state& r, unsigned p, stoppable& stops, std::mt19937_64& rng,
                     stress::heartbeat& hb) {
    std::array<std::uint64_t, kStreams> seq{};
    std::array<item, kStreams> v;
    std::array<stream_t<Sync>*, kStreams> dst;
    for (unsigned c = 0; c < kStreams; ++c) {
      dst[c] = r.streams[c].get();
      v[c] = item(stress::ledger::encode(p * kStreams + c, 0));
    }
    unsigned open = kStreams;
    constexpr auto idx = std::make_index_sequence<kStreams>{};
    while (open > 0 && !r.stop_pushing.load(std::memory_order_relaxed)) {  // relaxed: a hint to stop
      std::array<std::uint64_t, kStreams> offered;
      for (unsigned c = 0; c < kStreams; ++c) offered[c] = v[c].v;
      auto cs = push_cases(dst, v, idx);
      const form f = static_cast<form>(rng() % kForms);
      const auto d = std::chrono::microseconds(rng() % 50);
      const auto token = stops.fresh_token();
      const auto t0 = steady::now();
      selected res{selected::none, status::empty};
      {
        stress::in_call call(hb, form_name(f));
        res = [&]<std::size_t... I>(std::index_sequence<I...>) {
          return run_form(f, d, token, cs[I]...);
        }
        (idx);
      }
      ctx.count_operations(1);
      const std::size_t won = res.index();
      const bool moved_expected = won != selected::none && res.status() == status::ok;
      bool consistent = true;
      for (std::size_t c = 0; c < kStreams; ++c) {
        const bool moved = v[c].v == kMovedFrom;
        if (!moved && v[c].v != offered[c]) ctx.fail("a push case's value changed" + r.tag);
        if (moved != (moved_expected && c == won)) {
          consistent = false;
          ctx.fail("push case " + std::to_string(c) + (moved ? " moved its value" : " kept its value") +
                   " after select answered index " + std::to_string(won) + " with " +
                   handoff::to_string(res.status()) + " (SE-1, G-2)" + r.tag);
        }
      }
      if (!consistent) return;  // which value went where is unknown: this pusher stops (the ledger counts)
      if (won == selected::none) {
        check_none(ctx, f, res, token, t0, d, "selecting pusher");
        if (f == form::try_only) std::this_thread::yield();
        continue;
      }
      if (won >= kStreams) {
        ctx.fail("select answered index " + std::to_string(won) + " of 4 cases" + r.tag);
        return;
      }
      if (dst[won] == &r.idle) {
        ctx.fail("select completed a push case on the idle stream (nobody pops it)" + r.tag);
        return;
      }
      if (res.status() == status::ok) {
        r.ledger.sent(offered[won]);
        if (++seq[won] == kMax) {  // this stream's quota is used up: the case parks on the idle stream
          dst[won] = &r.idle;
          v[won] = item(kParked);
          --open;
        } else {
          v[won] = item(stress::ledger::encode(p * kStreams + static_cast<unsigned>(won), seq[won]));
        }
        continue;
      }
      if (res.status() != status::closed) {
        ctx.fail(std::string("push case completed with ") + handoff::to_string(res.status()) + r.tag);
        return;
      }
      if (!r.close_called[won].load()) ctx.fail("push case reported closed before close()" + r.tag);
      r.ledger.returned(offered[won]);
      dst[won] = &r.idle;
      --open;
    }
  }

  static void consumer(stress::context& ctx, round_state& r, unsigned c, stoppable& stops,
                       std::mt19937_64& rng, stress::heartbeat& hb) {
    auto& s = *r.streams[c];
    auto last_seen = r.ledger.consumer_state();
    for (;;) {
      item out;
      status st;
      switch (rng() % 4) {
        case 0:
        case 1: {
          stress::in_call call(hb, "pop");
          auto got = s.pop();
          st = got ? status::ok : status::closed;
          if (got) out = std::move(*got);
          break;
        }
        case 2: {
          stress::in_call call(hb, "pop_for(stop)");
          st = s.pop_for(out, std::chrono::microseconds(rng() % 50), stops.fresh_token());
          break;
        }
        default: {
          stress::in_call call(hb, "try_pop");
          st = s.try_pop(out);
          if (st == status::empty) std::this_thread::yield();
          break;
        }
      }
      ctx.count_operations(1);
      if (st == status::ok) {
        if ((out.v >> 32) < kPushers * kStreams && channel_of(out.v, kStreams) != c)
          ctx.fail("stream " + std::to_string(c) + " delivered a value pushed to stream " +
                   std::to_string(channel_of(out.v, kStreams)) + r.tag);
        r.ledger.received(out.v, last_seen);
      } else if (st == status::closed) {
        if (!r.close_called[c].load()) ctx.fail("pop reported closed before close()" + r.tag);
        return;
      }
    }
  }

  static void run_round(stress::context& ctx, unsigned round, std::mt19937_64& rng) {
    round_state r;
    for (unsigned c = 0; c < kStreams; ++c)
      r.streams[c] = make_stream<item, Sync>(kCapacities[(c + round) % kCapacities.size()]);
    const bool close_while_pushing = rng() % 2;
    r.tag = " (round " + std::to_string(round) + ")";
    std::vector<std::unique_ptr<stoppable>> stops;
    for (unsigned k = 0; k < kPushers + kStreams; ++k) stops.push_back(std::make_unique<stoppable>());
    {
      std::vector<std::jthread> consumers;
      for (unsigned c = 0; c < kStreams; ++c) {
        auto& hb = ctx.new_heartbeat("consumer of stream " + std::to_string(c) + " (capacity " +
                                     capacity_name(r.streams[c]->capacity()) + ")" + r.tag);
        consumers.emplace_back([&, c, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + 500 + c);
          consumer(ctx, r, c, *stops[kPushers + c], trng, hb);
        });
      }
      std::vector<std::jthread> pushers;
      for (unsigned p = 0; p < kPushers; ++p) {
        auto& hb = ctx.new_heartbeat("selecting pusher " + std::to_string(p) + r.tag);
        pushers.emplace_back([&, p, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + p);
          pusher(ctx, r, p, *stops[p], trng, hb);
        });
      }
      stir(stops, steady::now() + close_after(ctx, rng), rng);
      if (!close_while_pushing) {
        r.stop_pushing.store(true);
        pushers.clear();  // joins: the consumers are still popping, so every select returns
      }
      std::array<unsigned, kStreams> order{0, 1, 2, 3};
      std::shuffle(order.begin(), order.end(), rng);
      for (unsigned c : order) {
        r.close_called[c].store(true);
        r.streams[c]->close();
        if (rng() % 4 == 0) std::this_thread::yield();
      }
    }
    for (unsigned c = 0; c < kStreams; ++c)
      check_quiet(ctx, *r.streams[c], "stream " + std::to_string(c) + r.tag);
    check_quiet(ctx, r.idle, "the idle stream" + r.tag);
    r.ledger.settle();
    ctx.add_ledger(r.ledger);
  }

  static void run(stress::context& ctx) {
    auto rng = ctx.rng(70002);
    unsigned round = 0;
    do {
      run_round(ctx, round++, rng);
    } while (ctx.time_left() || round < 2);
  }
};

// ==== select_mixed: mvar put/take, stream push/pop and condition wait cases, with deadlines and stop tokens

template <class Sync>
struct select_mixed {
  // Channels, as they appear in ledger ids: 0 and 1 the mvars, 2 the stream, 3 the condition.
  static constexpr unsigned kChannels = 4, kProducers = 3, kSelectors = 2;
  static constexpr std::uint64_t kMax = std::uint64_t{1} << 12;  // per (producer, channel)

  struct round_state {
    explicit round_state(std::size_t capacity) : s(capacity) {}
    handoff::mvar<item, Sync> m0, m1;
    stream_t<Sync> s;
    handoff::condition<item, Sync> cond;
    std::atomic<bool> stop_producing{false};
    std::atomic<bool> close_called{false};
    stress::ledger ledger{kProducers * kChannels, kMax};
    std::string tag;
  };

  static void producer(stress::context& ctx, round_state& r, unsigned p, stoppable& stops,
                       std::mt19937_64& rng, stress::heartbeat& hb) {
    std::array<std::uint64_t, kChannels> seq{};
    auto id = [&](unsigned c) { return p * kChannels + c; };
    std::array<item, 3> v{item(stress::ledger::encode(id(0), 0)), item(stress::ledger::encode(id(1), 0)),
                          item(stress::ledger::encode(id(2), 0))};
    while (!r.stop_producing.load(std::memory_order_relaxed)) {  // relaxed: a hint to stop
      if (seq[0] == kMax || seq[1] == kMax || seq[2] == kMax || seq[3] == kMax) return;
      if (rng() % 6 == 0) {  // a signal: delivered (1) or discarded (0, the value comes back)
        const std::uint64_t value = stress::ledger::encode(id(3), seq[3]++);
        std::size_t n;
        {
          stress::in_call call(hb, "signal");
          n = r.cond.signal(item(value));
        }
        ctx.count_operations(1);
        if (n == 1)
          r.ledger.sent(value);
        else if (n == 0)
          r.ledger.returned(value);
        else
          ctx.fail("signal reached " + std::to_string(n) + " waiters (CO-3)" + r.tag);
        continue;
      }
      const std::array<std::uint64_t, 3> offered{v[0].v, v[1].v, v[2].v};
      auto put0 = handoff::on_put(r.m0, v[0]);
      auto put1 = handoff::on_put(r.m1, v[1]);
      auto push = handoff::on_push(r.s, v[2]);
      const form f = static_cast<form>(rng() % kForms);
      const auto d = std::chrono::microseconds(rng() % 50);
      const auto token = stops.fresh_token();
      const auto t0 = steady::now();
      selected res{selected::none, status::empty};
      {
        stress::in_call call(hb, form_name(f));
        res = run_form(f, d, token, put0, put1, push);
      }
      ctx.count_operations(1);
      const std::size_t won = res.index();
      const bool moved_expected = won != selected::none && res.status() == status::ok;
      bool consistent = true;
      for (std::size_t c = 0; c < 3; ++c) {
        const bool moved = v[c].v == kMovedFrom;
        if (!moved && v[c].v != offered[c]) ctx.fail("a put/push case's value changed" + r.tag);
        if (moved != (moved_expected && c == won)) {
          consistent = false;
          ctx.fail("put/push case " + std::to_string(c) + (moved ? " moved its value" : " kept its value") +
                   " after select answered index " + std::to_string(won) + " with " +
                   handoff::to_string(res.status()) + " (SE-1, G-2)" + r.tag);
        }
      }
      if (!consistent) return;  // which value went where is unknown: this producer stops (the ledger counts)
      if (won == selected::none) {
        check_none(ctx, f, res, token, t0, d, "mixed producer");
        if (f == form::try_only) std::this_thread::yield();
        continue;
      }
      if (won >= 3 || res.status() != status::ok) {
        // The stream closes only after every producer stopped, and an mvar never closes.
        ctx.fail("producer's select answered index " + std::to_string(won) + " with " +
                 handoff::to_string(res.status()) + r.tag);
        return;
      }
      r.ledger.sent(offered[won]);
      const unsigned c = static_cast<unsigned>(won);
      v[c] = item(stress::ledger::encode(id(c), ++seq[c]));
    }
  }

  static void selector(stress::context& ctx, round_state& r, stoppable& stops, std::mt19937_64& rng,
                       stress::heartbeat& hb) {
    auto last_seen = r.ledger.consumer_state();
    for (;;) {
      auto take0 = handoff::on_take(r.m0);
      auto take1 = handoff::on_take(r.m1);
      auto pop = handoff::on_pop(r.s);
      auto wait = handoff::on_wait(r.cond);
      const form f = static_cast<form>(rng() % kForms);
      const auto d = std::chrono::microseconds(rng() % 50);
      const auto token = stops.fresh_token();
      const auto t0 = steady::now();
      selected res{selected::none, status::empty};
      {
        stress::in_call call(hb, form_name(f));
        res = run_form(f, d, token, take0, take1, pop, wait);
      }
      ctx.count_operations(1);
      const std::size_t won = res.index();
      const bool ok = res.status() == status::ok;
      const std::array<std::optional<item>*, kChannels> got{&take0.value, &take1.value, &pop.value,
                                                            &wait.value};
      for (std::size_t c = 0; c < kChannels; ++c)
        if (got[c]->has_value() != (ok && c == won))
          ctx.fail("case " + std::to_string(c) + (got[c]->has_value() ? " holds" : " lacks") +
                   " a value after select answered index " + std::to_string(won) + " (SE-1)" + r.tag);
      if (won == selected::none) {
        check_none(ctx, f, res, token, t0, d, "mixed selector");
        if (f == form::try_only) std::this_thread::yield();
        continue;
      }
      if (won >= kChannels) {
        ctx.fail("select answered index " + std::to_string(won) + " of 4 cases" + r.tag);
        return;
      }
      if (ok) {
        if (!*got[won]) return;  // reported above; the value went to another case: stop (the ledger counts)
        const std::uint64_t v = (*got[won])->v;
        if ((v >> 32) < kProducers * kChannels && channel_of(v, kChannels) != won)
          ctx.fail("select answered case " + std::to_string(won) + " but the value came from channel " +
                   std::to_string(channel_of(v, kChannels)) + r.tag);
        r.ledger.received(v, last_seen);
        continue;
      }
      if (res.status() == status::closed && won == 2) {
        if (!r.close_called.load()) ctx.fail("pop case reported closed before close()" + r.tag);
        if (r.s.size() != 0)
          ctx.fail("pop case reported closed before the stream was drained (SE-6)" + r.tag);
        return;  // the mvars' leftovers are drained by the controller
      }
      ctx.fail("case " + std::to_string(won) + " completed with " + handoff::to_string(res.status()) + r.tag);
      return;  // a selector that stops early leaves the mvars to the plain receiver and the final drain
    }
  }

  // Plain waits with timeouts and stop tokens beside the selectors, in the same channels' queues (SE-2).
  static void plain(stress::context& ctx, round_state& r, stoppable& stops, std::mt19937_64& rng,
                    stress::heartbeat& hb) {
    auto last_seen = r.ledger.consumer_state();
    for (;;) {
      const auto d = std::chrono::microseconds(rng() % 50);
      std::optional<item> got;
      unsigned channel = 0;
      switch (rng() % 3) {
        case 0: {
          stress::in_call call(hb, "mvar take_for(stop)");
          auto res = r.m1.take_for(d, stops.fresh_token());
          if (res) got = std::move(*res);
          channel = 1;
          break;
        }
        case 1: {
          item out;
          status st;
          {
            stress::in_call call(hb, "stream pop_for");
            st = r.s.pop_for(out, d);
          }
          if (st == status::closed) {
            if (!r.close_called.load()) ctx.fail("pop_for reported closed before close()" + r.tag);
            return;
          }
          if (st == status::ok) got = std::move(out);
          channel = 2;
          break;
        }
        default: {
          stress::in_call call(hb, "condition wait_for");
          auto res = r.cond.wait_for(d);
          if (res) got = std::move(*res);
          channel = 3;
          break;
        }
      }
      ctx.count_operations(1);
      if (!got) continue;
      if ((got->v >> 32) < kProducers * kChannels && channel_of(got->v, kChannels) != channel)
        ctx.fail("a plain receive on channel " + std::to_string(channel) + " got a value of channel " +
                 std::to_string(channel_of(got->v, kChannels)) + r.tag);
      r.ledger.received(got->v, last_seen);
    }
  }

  static void run_round(stress::context& ctx, unsigned round, std::mt19937_64& rng) {
    round_state r(round % 2 == 0 ? 0 : 4);
    r.tag = " (round " + std::to_string(round) + ", stream capacity " + std::to_string(r.s.capacity()) + ")";
    std::vector<std::unique_ptr<stoppable>> stops;
    for (unsigned k = 0; k < kProducers + kSelectors + 1; ++k) stops.push_back(std::make_unique<stoppable>());
    {
      std::vector<std::jthread> consumers;
      for (unsigned k = 0; k < kSelectors; ++k) {
        auto& hb = ctx.new_heartbeat("mixed selector " + std::to_string(k) + r.tag);
        consumers.emplace_back([&, k, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + 500 + k);
          selector(ctx, r, *stops[kProducers + k], trng, hb);
        });
      }
      {
        auto& hb = ctx.new_heartbeat("plain receiver" + r.tag);
        consumers.emplace_back([&, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + 600);
          plain(ctx, r, *stops[kProducers + kSelectors], trng, hb);
        });
      }
      std::vector<std::jthread> producers;
      for (unsigned p = 0; p < kProducers; ++p) {
        auto& hb = ctx.new_heartbeat("mixed producer " + std::to_string(p) + r.tag);
        producers.emplace_back([&, p, &hb = hb] {
          auto trng = ctx.rng(round * 1000 + p);
          producer(ctx, r, p, *stops[p], trng, hb);
        });
      }
      stir(stops, steady::now() + close_after(ctx, rng), rng);
      r.stop_producing.store(true);
      producers.clear();  // joins: the receivers are still taking, so every producer's select returns
      r.close_called.store(true);
      r.s.close();
    }  // joins: each receiver ends on the stream's end-of-stream
    // What the receivers left in the mvars (a receiver may leave once the stream reports closed).
    auto last_seen = r.ledger.consumer_state();
    for (auto* m : {&r.m0, &r.m1})
      if (auto left = m->try_take()) r.ledger.received(left->v, last_seen);
    check_quiet(ctx, r.s, "the stream" + r.tag);
    for (auto* m : {&r.m0, &r.m1}) {
      const auto w = m->waiting();
      if (w.takers != 0 || w.putters != 0 || w.readers != 0)
        ctx.fail("waiters left registered on an mvar after the round" + r.tag);
    }
    if (r.cond.waiting() != 0) ctx.fail("waiters left registered on the condition after the round" + r.tag);
    r.ledger.settle();
    ctx.add_ledger(r.ledger);
  }

  static void run(stress::context& ctx) {
    auto rng = ctx.rng(70003);
    unsigned round = 0;
    do {
      run_round(ctx, round++, rng);
    } while (ctx.time_left() || round < 2);
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(select_fan_in);
STRESS_SCENARIO_SYNC(select_fan_out);
STRESS_SCENARIO_SYNC(select_mixed);
