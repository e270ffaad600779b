// Stress scenarios for topic<T> (rule ST-8, with G-1, G-2, G-7): rounds of 1-3 publishers x 1-3 subscribers
// that stay for the whole round ("stable") plus 0-2 threads that subscribe, pop a few values and unsubscribe
// in a loop ("churn"), with every publish and pop form, random timeouts and stop requests, and a close at a
// random point (or at the end). One scenario per overflow policy: topic_wait, topic_drop_oldest.
//
// Checked per round, after every thread joined (values are producer << 32 | seq; every publish attempt is
// recorded with its status and delivered count):
// - each subscriber: every value was attempted and delivered to somebody (not invented), per-producer order,
//   no duplicate (a stress::ledger per stable subscriber);
// - one total order (topic invariant 2): every subscriber's values appear in stable subscriber 0's order;
// - conservation: for each value, subscribers that popped it <= `delivered` (wait: exactly equal); under
//   drop_oldest, sum(delivered) == sum(popped) + sum(lag) over all subscribers (churned ones drain their
//   buffer after unsubscribe());
// - wait: every stable subscriber has every value whose publish returned ok (ledger: lost); its lag lies
//   between the values it missed from timed-out/cancelled publishes and those plus closed ones; each
//   churned subscriber's values are contiguous (no ok value missing between its first and last);
// - drop_oldest: each stable subscriber's popped + lag is between #ok and #ok + #(closed with deliveries);
// - no hang: every blocking call is marked for the watchdog.
#include <handoff/topic.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stress.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::overflow_policy;
using handoff::publish_result;
using handoff::status;

constexpr unsigned kMaxPublishers = 3, kMaxStable = 3, kMaxChurn = 2;

struct attempt {
  status result = status::closed;
  std::uint64_t delivered = 0;
};

struct heartbeats {
  explicit heartbeats(stress::context& ctx) {
    for (unsigned i = 0; i < kMaxPublishers; ++i)
      publisher.push_back(&ctx.new_heartbeat("publisher " + std::to_string(i)));
    for (unsigned i = 0; i < kMaxStable; ++i)
      stable.push_back(&ctx.new_heartbeat("stable subscriber " + std::to_string(i)));
    for (unsigned i = 0; i < kMaxChurn; ++i)
      churn.push_back(&ctx.new_heartbeat("churn " + std::to_string(i)));
  }
  std::vector<stress::heartbeat*> publisher, stable, churn;
};

template <class Sync>
void run_round(stress::context& ctx, overflow_policy policy, std::uint64_t round, heartbeats& hb) {
  using topic_t = handoff::topic<std::uint64_t, Sync>;
  using subscription = typename topic_t::subscription;
  auto setup = ctx.rng(static_cast<unsigned>(round * 16));
  const unsigned publishers = 1 + setup() % kMaxPublishers;
  const unsigned stables = 1 + setup() % kMaxStable;
  const unsigned churners = setup() % (kMaxChurn + 1);
  const std::size_t capacity = 1 + setup() % 8;
  const std::uint64_t per_publisher = 200 + setup() % 2000;
  const std::uint64_t close_after =
      setup() % 2 ? setup() % (publishers * per_publisher) : ~std::uint64_t{0};  // else: at the end

  topic_t t(capacity, policy);
  std::vector<subscription> stable_subs;
  for (unsigned s = 0; s < stables; ++s) stable_subs.push_back(t.subscribe());

  std::vector<std::vector<attempt>> attempts(publishers, std::vector<attempt>(per_publisher));
  std::vector<std::uint64_t> attempted(publishers, 0);
  std::atomic<std::uint64_t> total_attempts{0};
  std::atomic<unsigned> publishers_running{publishers};
  std::atomic<bool> churn_stop{false};
  std::mutex cancel_mutex;  // guards cancels (a canceller thread and the publishers swap stop sources)
  std::vector<std::stop_source> cancels(publishers);
  std::vector<std::vector<std::uint64_t>> stable_got(stables);
  std::mutex churn_mutex;  // guards churn_got and retired
  std::vector<std::vector<std::uint64_t>> churn_got;
  std::vector<subscription> retired;  // churned subscriptions, kept so their lag is read after publishers end

  std::vector<std::jthread> pubs, subs, churns;
  for (unsigned p = 0; p < publishers; ++p) {
    pubs.emplace_back([&, p] {
      auto rng = ctx.rng(static_cast<unsigned>(round * 16 + 1 + p));
      stress::heartbeat& beat = *hb.publisher[p];
      for (std::uint64_t seq = 0; seq < per_publisher && ctx.time_left(); ++seq) {
        const std::uint64_t v = stress::ledger::encode(p, seq);
        publish_result r;
        auto stop_token_of_p = [&] {
          std::lock_guard lock(cancel_mutex);
          return cancels[p].get_token();
        };
        auto renew_if_cancelled = [&] {
          if (r.result != status::cancelled) return;
          std::lock_guard lock(cancel_mutex);
          cancels[p] = std::stop_source();
        };
        switch (rng() % 10) {
          case 0: {
            stress::in_call c(beat, "try_publish");
            r = t.try_publish(v);
            break;
          }
          case 1:
          case 2: {
            stress::in_call c(beat, "publish_for");
            r = t.publish_for(v, std::chrono::microseconds(rng() % 300));
            break;
          }
          case 3: {
            const std::stop_token token = stop_token_of_p();
            {
              stress::in_call c(beat, "publish(stop_token)");
              r = t.publish(v, token);
            }
            renew_if_cancelled();
            break;
          }
          case 5: {
            const std::stop_token token = stop_token_of_p();
            {
              stress::in_call c(beat, "publish_for(stop_token)");
              r = t.publish_for(v, std::chrono::microseconds(rng() % 300), token);
            }
            renew_if_cancelled();
            break;
          }
          case 6: {
            const std::stop_token token = stop_token_of_p();
            {
              stress::in_call c(beat, "publish_until(steady_clock, stop_token)");
              r = t.publish_until(
                  v, std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 300), token);
            }
            renew_if_cancelled();
            break;
          }
          case 4: {
            stress::in_call c(beat, "publish_until(system_clock)");
            r = t.publish_until(v, std::chrono::system_clock::now() + std::chrono::microseconds(rng() % 300));
            break;
          }
          default: {
            stress::in_call c(beat, "publish");
            r.delivered = t.publish(v);
            // publish() reports no status: it cannot time out, so "not closed afterwards" means ok; closed
            // afterwards is recorded as closed, the weaker claim.
            r.result = t.is_closed() ? status::closed : status::ok;
            break;
          }
        }
        attempts[p][seq] = {r.result, r.delivered};
        attempted[p] = seq + 1;
        total_attempts.fetch_add(1);
        ctx.count_operations(1);
        if (r.result == status::closed) break;
      }
      publishers_running.fetch_sub(1);
    });
  }
  // A canceller: stop requests at random moments (publishers replace their source when they see one).
  std::jthread canceller([&] {
    auto rng = ctx.rng(static_cast<unsigned>(round * 16 + 9));
    while (publishers_running.load() > 0) {
      for (unsigned i = 0; i < 20 + rng() % 200; ++i) std::this_thread::yield();  // pacing only
      std::lock_guard lock(cancel_mutex);
      cancels[rng() % publishers].request_stop();
    }
  });
  for (unsigned s = 0; s < stables; ++s) {
    subs.emplace_back([&, s] {
      auto rng = ctx.rng(static_cast<unsigned>(round * 16 + 4 + s));
      stress::heartbeat& beat = *hb.stable[s];
      subscription& sub = stable_subs[s];
      std::stop_source never;
      for (;;) {
        std::uint64_t out = 0;
        status st;
        switch (rng() % 9) {
          case 0: {
            stress::in_call c(beat, "try_pop");
            st = sub.try_pop(out);
            break;
          }
          case 6: {
            stress::in_call c(beat, "pop_for -> result");
            const auto r = sub.pop_for(std::chrono::microseconds(rng() % 200), never.get_token());
            st = r.status();
            if (r) out = *r;
            break;
          }
          case 7: {
            stress::in_call c(beat, "try_pop -> result");
            const auto r = sub.try_pop();
            st = r.status();
            if (r) out = *r;
            break;
          }
          case 8: {
            std::vector<std::uint64_t> batch;  // oldest first: all but the last are recorded here
            {
              stress::in_call c(beat, "pop_some");
              (void)sub.pop_some(std::back_inserter(batch), 1 + rng() % 4);
            }
            st = batch.empty() ? status::closed : status::ok;  // pop_some returns 0 only at end-of-stream
            if (batch.empty()) break;
            out = batch.back();
            batch.pop_back();
            for (std::uint64_t v : batch) stable_got[s].push_back(v);
            ctx.count_operations(batch.size());
            break;
          }
          case 1: {
            stress::in_call c(beat, "pop_for");
            st = sub.pop_for(out, std::chrono::microseconds(rng() % 200));
            break;
          }
          case 2: {
            stress::in_call c(beat, "pop(stop_token)");
            st = sub.pop(out, never.get_token());
            break;
          }
          default: {
            stress::in_call c(beat, "pop");
            const auto o = sub.pop();
            st = o ? status::ok : status::closed;
            if (o) out = *o;
            break;
          }
        }
        if (st == status::closed) break;
        if (st != status::ok) {
          std::this_thread::yield();
          continue;
        }
        stable_got[s].push_back(out);
        ctx.count_operations(1);
        if (rng() % 64 == 0)  // fall behind now and then, so buffers fill and publishers wait or drop
          for (unsigned i = 0; i < rng() % 100; ++i) std::this_thread::yield();
      }
    });
  }
  for (unsigned c = 0; c < churners; ++c) {
    churns.emplace_back([&, c] {
      auto rng = ctx.rng(static_cast<unsigned>(round * 16 + 7 + c));
      stress::heartbeat& beat = *hb.churn[c];
      while (!churn_stop.load()) {
        std::optional<subscription> sub;
        {
          stress::in_call call(beat, "subscribe");
          sub.emplace(t.subscribe());
        }
        std::vector<std::uint64_t> got;
        const unsigned want = rng() % 8;
        for (unsigned i = 0; i < want; ++i) {
          std::uint64_t out = 0;
          stress::in_call call(beat, "pop_for (churn)");
          const status st = sub->pop_for(out, std::chrono::microseconds(rng() % 500));
          if (st == status::closed) break;
          if (st == status::ok) got.push_back(out);
        }
        {
          stress::in_call call(beat, "unsubscribe");
          sub->unsubscribe();  // often with a full buffer that a publisher waits on
        }
        {
          stress::in_call call(beat, "drain after unsubscribe");
          while (auto v = sub->pop()) got.push_back(*v);  // closed: never waits
        }
        ctx.count_operations(got.size() + 2);
        std::lock_guard lock(churn_mutex);
        churn_got.push_back(std::move(got));
        retired.push_back(std::move(*sub));
      }
    });
  }

  // Close at the chosen point, or once the publishers are done (pacing only; close() itself never waits).
  while (total_attempts.load() < close_after && publishers_running.load() > 0)
    std::this_thread::sleep_for(100us);
  t.close();
  pubs.clear();
  canceller.join();
  churn_stop = true;
  churns.clear();
  subs.clear();

  // ---- checks (all threads joined)
  auto fail = [&](const std::string& what) {
    ctx.fail("round " + std::to_string(round) + " (" + std::to_string(publishers) + " publishers, " +
             std::to_string(stables) + " stable, " + std::to_string(churners) + " churn, capacity " +
             std::to_string(capacity) + "): " + what);
  };
  auto known = [&](std::uint64_t v) -> const attempt* {
    const std::uint64_t p = v >> 32, seq = v & 0xffffffffu;
    if (p >= publishers || seq >= attempted[p]) return nullptr;
    return &attempts[p][seq];
  };
  const bool wait_policy = policy == overflow_policy::wait;

  std::unordered_map<std::uint64_t, std::uint64_t> receipts;
  std::vector<const std::vector<std::uint64_t>*> everyone;
  for (auto& g : stable_got) everyone.push_back(&g);
  for (auto& g : churn_got) everyone.push_back(&g);
  for (const auto* g : everyone)
    for (std::uint64_t v : *g) ++receipts[v];

  // Ledger per stable subscriber: must-have values (wait: status ok) plus whatever else it got that exists.
  for (unsigned s = 0; s < stables; ++s) {
    stress::ledger ledger(publishers, per_publisher);
    auto last_seen = ledger.consumer_state();
    std::unordered_set<std::uint64_t> got(stable_got[s].begin(), stable_got[s].end());
    for (unsigned p = 0; p < publishers; ++p)
      for (std::uint64_t seq = 0; seq < attempted[p]; ++seq) {
        const std::uint64_t v = stress::ledger::encode(p, seq);
        const attempt& a = attempts[p][seq];
        if ((wait_policy && a.result == status::ok) || (got.count(v) && a.delivered > 0)) ledger.sent(v);
      }
    for (std::uint64_t v : stable_got[s]) ledger.received(v, last_seen);
    ledger.settle();
    ctx.add_ledger(ledger);
  }

  // Churned subscribers: existing values, per-producer order, no duplicate.
  for (const auto& g : churn_got) {
    std::vector<std::int64_t> last(publishers, -1);
    for (std::uint64_t v : g) {
      const attempt* a = known(v);
      if (!a || a->delivered == 0) {
        fail("a churned subscriber got a value nobody was given: " + std::to_string(v));
        break;
      }
      const auto p = v >> 32;
      const auto seq = static_cast<std::int64_t>(v & 0xffffffffu);
      if (seq <= last[p]) {
        fail("a churned subscriber got producer " + std::to_string(p) + " out of order or twice");
        break;
      }
      last[p] = seq;
    }
  }

  // One total order: every subscriber's values are in stable subscriber 0's order.
  std::unordered_map<std::uint64_t, std::size_t> position;
  for (std::size_t i = 0; i < stable_got[0].size(); ++i) position.emplace(stable_got[0][i], i);
  for (const auto* g : everyone) {
    std::optional<std::size_t> prev;
    for (std::uint64_t v : *g) {
      auto it = position.find(v);
      if (it == position.end()) continue;
      if (prev && it->second <= *prev) {
        fail("two subscribers saw values in different orders (no single publish order)");
        break;
      }
      prev = it->second;
    }
  }

  // Conservation and lag.
  std::uint64_t sum_delivered = 0, sum_popped = 0, sum_lag = 0;
  for (unsigned p = 0; p < publishers; ++p)
    for (std::uint64_t seq = 0; seq < attempted[p]; ++seq) {
      const std::uint64_t v = stress::ledger::encode(p, seq);
      const attempt& a = attempts[p][seq];
      sum_delivered += a.delivered;
      const auto it = receipts.find(v);
      const std::uint64_t got = it == receipts.end() ? 0 : it->second;
      if (got > a.delivered || (wait_policy && got != a.delivered)) {
        fail("value " + std::to_string(v) + " delivered to " + std::to_string(a.delivered) +
             " subscribers, popped by " + std::to_string(got) + " (status " + handoff::to_string(a.result) +
             ")");
        break;
      }
    }
  for (const auto& [v, n] : receipts) sum_popped += n;
  std::vector<std::uint64_t> stable_lag(stables);
  for (unsigned s = 0; s < stables; ++s) sum_lag += stable_lag[s] = stable_subs[s].take_lag();
  for (auto& r : retired) sum_lag += r.take_lag();
  if (!wait_policy && sum_delivered != sum_popped + sum_lag)
    fail("drop_oldest: delivered " + std::to_string(sum_delivered) + " != popped " +
         std::to_string(sum_popped) + " + lagged " + std::to_string(sum_lag));

  for (unsigned s = 0; s < stables; ++s) {
    std::unordered_set<std::uint64_t> got(stable_got[s].begin(), stable_got[s].end());
    std::uint64_t ok = 0, closed_with_deliveries = 0, missed_timed = 0, missed_possible = 0;
    for (unsigned p = 0; p < publishers; ++p)
      for (std::uint64_t seq = 0; seq < attempted[p]; ++seq) {
        const attempt& a = attempts[p][seq];
        const bool has = got.count(stress::ledger::encode(p, seq)) != 0;
        if (a.result == status::ok) ++ok;
        if (a.result == status::closed && a.delivered > 0) ++closed_with_deliveries;
        const bool gave_up = a.result == status::timeout || a.result == status::cancelled;
        if (!has && gave_up && a.delivered > 0) ++missed_timed;
        if (!has && (gave_up || a.result == status::closed)) ++missed_possible;
      }
    const std::uint64_t lag = stable_lag[s];
    if (wait_policy && (lag < missed_timed || lag > missed_possible))
      fail("wait: stable subscriber " + std::to_string(s) + " lag " + std::to_string(lag) + " outside [" +
           std::to_string(missed_timed) + ", " + std::to_string(missed_possible) + "]");
    const std::uint64_t seen = stable_got[s].size() + lag;
    if (!wait_policy && (seen < ok || seen > ok + closed_with_deliveries))
      fail("drop_oldest: stable subscriber " + std::to_string(s) + " popped + lag " + std::to_string(seen) +
           " outside [" + std::to_string(ok) + ", " + std::to_string(ok + closed_with_deliveries) + "]");
  }

  // wait: a churned subscriber misses no ok value between its first and last (invariant 4).
  if (wait_policy) {
    for (const auto& g : churn_got) {
      std::optional<std::size_t> first, last;
      for (std::uint64_t v : g)
        if (auto it = position.find(v); it != position.end()) {
          if (!first) first = it->second;
          last = it->second;
        }
      if (!first) continue;
      std::unordered_set<std::uint64_t> has(g.begin(), g.end());
      for (std::size_t i = *first; i <= *last; ++i) {
        const std::uint64_t v = stable_got[0][i];
        const attempt* a = known(v);
        if (a && a->result == status::ok && !has.count(v)) {
          fail("a churned subscriber has a gap: missed " + std::to_string(v) +
               " between its first and last value");
          break;
        }
      }
    }
  }
}

template <class Sync, overflow_policy Policy>
struct topic_rounds {
  static void run(stress::context& ctx) {
    heartbeats hb(ctx);
    std::uint64_t round = 0;
    while (ctx.time_left() && ctx.failures == 0) run_round<Sync>(ctx, Policy, round++, hb);
  }
};

template <class Sync>
struct topic_wait : topic_rounds<Sync, overflow_policy::wait> {};
template <class Sync>
struct topic_drop_oldest : topic_rounds<Sync, overflow_policy::drop_oldest> {};

}  // namespace

STRESS_SCENARIO_SYNC(topic_wait);
STRESS_SCENARIO_SYNC(topic_drop_oldest);
