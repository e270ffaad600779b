// ---------------------------------------------------------------------------------------------------------------
// stress/stress.hpp: the stress runner's small framework.
//
// A scenario is a function run for a time budget with a seeded PRNG. It reports every value through a ledger
// (per-producer sequence numbers: value = producer << 32 | seq, rule "a sum alone hides a loss offset by a
// duplicate") and marks every blocking call with a heartbeat, so the watchdog can name the thread and
// operation that hung and print the seed that replays the run. Register with STRESS_SCENARIO(name) { ... }
// for a plain function, or STRESS_SCENARIO_SYNC(name) for a template over the Sync policy, which is
// registered once per real backend ("name/futex", "name/portable").
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <handoff/debug.hpp>
#include <handoff/detail/sync.hpp>

namespace stress {

// Cores the machine reports (at least 1): scenarios size their thread counts from it.
inline unsigned cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// A stop source another thread may trigger at any time; the owner replaces it once triggered.
struct stoppable {
  std::mutex mutex;
  std::stop_source source;
  std::stop_token fresh_token() {
    std::lock_guard lock(mutex);
    if (source.stop_requested()) source = std::stop_source{};
    return source.get_token();
  }
  void stop() {
    std::lock_guard lock(mutex);
    source.request_stop();
  }
};

struct options {
  double seconds_per_scenario = 2.0;
  std::uint64_t seed = 1;
  unsigned threads = 0;  // 0: the scenario picks (typically up to 4-8x the cores)
};

// One heartbeat per worker thread: which blocking operation it is in, and a counter it bumps as it makes
// progress.
struct heartbeat {
  std::string name;
  std::atomic<const char*> operation{nullptr};  // nullptr: not inside a blocking call
  std::atomic<std::uint64_t> progress{0};
};

// Marks a blocking call for the watchdog: `in_call beat(hb, "pop"); s.pop();`
class in_call {
 public:
  in_call(heartbeat& hb, const char* op) noexcept : hb_(hb) {
    hb_.operation.store(op, std::memory_order_relaxed);  // relaxed: read only by the watchdog, for a message
  }
  ~in_call() {
    hb_.operation.store(nullptr, std::memory_order_relaxed);
    hb_.progress.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  heartbeat& hb_;
};

// Receipts per (producer, sequence): detects loss, duplication, and per-producer reordering per consumer.
class ledger {
 public:
  ledger(unsigned producers, std::uint64_t max_per_producer);
  static std::uint64_t encode(unsigned producer, std::uint64_t seq) {
    return std::uint64_t{producer} << 32 | seq;
  }
  // A consumer records each value it received. `last_seen` is that consumer's per-producer high-water mark (a
  // vector the consumer owns, sized by consumer_state()); a value not above it is a reordering.
  void received(std::uint64_t value, std::vector<std::int64_t>& last_seen);
  // For topologies that do not promise per-producer order to a consumer (several relays in parallel).
  void received_unordered(std::uint64_t value);
  // A producer records a value it pushed successfully / a value that came back to it (failed push).
  void sent(std::uint64_t value);
  void returned(std::uint64_t value);
  std::vector<std::int64_t> consumer_state() const { return std::vector<std::int64_t>(producers_, -1); }
  // After all threads joined: every sent value received exactly once, no returned value received.
  void settle();
  std::uint64_t lost() const { return lost_; }
  std::uint64_t duplicated() const { return duplicated_.load(); }
  std::uint64_t reordered() const { return reordered_.load(); }
  std::uint64_t invented() const { return invented_.load(); }
  std::uint64_t delivered() const { return delivered_.load(); }

 private:
  unsigned producers_;
  std::uint64_t max_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> receipts_;  // bit0 sent, bit1 received, bit2 returned
  std::atomic<std::uint64_t> duplicated_{0}, reordered_{0}, invented_{0}, delivered_{0};
  std::uint64_t lost_ = 0;
};

class context;

// A consumer thread's body: pops from `s` (a blocking pop, marked "pop" on `hb`) until it is closed and
// drained, recording each value in `l` as one consumer (per-producer order checked) and, given `ctx`,
// counting it as an operation.
template <class Stream>
void pop_until_closed(Stream& s, ledger& l, heartbeat& hb, context* ctx = nullptr);

class context {
 public:
  context(const options& o, std::string scenario);
  ~context();
  const options& opts() const { return opts_; }
  std::uint64_t seed() const { return opts_.seed; }
  // A PRNG for thread `i` of this scenario, derived from the seed.
  std::mt19937_64 rng(unsigned i) const {
    return std::mt19937_64(opts_.seed * 0x9E3779B97F4A7C15ull + i + 1);
  }
  bool time_left() const { return std::chrono::steady_clock::now() < end_; }
  heartbeat& new_heartbeat(std::string name);  // stable address for the scenario's lifetime
  void count_operations(std::uint64_t n) { operations_.fetch_add(n, std::memory_order_relaxed); }
  void add_ledger(const ledger& l);    // after settle(): folds its counts into the scenario's totals
  void fail(const std::string& what);  // a scenario-specific check failed
  std::uint64_t operations() const { return operations_.load(); }
  std::uint64_t lost = 0, duplicated = 0, reordered = 0, invented = 0, failures = 0;

 private:
  void watch();
  options opts_;
  std::string scenario_;
  std::chrono::steady_clock::time_point end_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<heartbeat>> beats_;
  std::atomic<std::uint64_t> operations_{0};
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
  // handoff's own deadlock report (handoff/debug.hpp, OB-6): aborts with the streams each stuck thread
  // waits on and the replay command. Every stress run is its false-positive gate.
  handoff::debug::watchdog deadlock_watch_;
};

template <class Stream>
void pop_until_closed(Stream& s, ledger& l, heartbeat& hb, context* ctx) {
  auto seen = l.consumer_state();
  for (;;) {
    std::optional<std::uint64_t> v;
    {
      in_call beat(hb, "pop");
      v = s.pop();
    }
    if (!v) return;
    l.received(*v, seen);
    if (ctx) ctx->count_operations(1);
  }
}

using scenario_fn = std::function<void(context&)>;
void register_scenario(std::string name, scenario_fn fn);

struct registrar {
  registrar(const char* name, scenario_fn fn) { register_scenario(name, std::move(fn)); }
};

template <template <class> class Runner>
struct sync_registrar {
  explicit sync_registrar(const char* name) {
#if defined(HANDOFF_HAVE_FUTEX)
    register_scenario(std::string(name) + "/futex",
                      [](context& c) { Runner<handoff::detail::futex_sync>::run(c); });
#endif
    register_scenario(std::string(name) + "/portable",
                      [](context& c) { Runner<handoff::detail::portable_sync>::run(c); });
  }
};

}  // namespace stress

#define STRESS_CONCAT2(a, b) a##b
#define STRESS_CONCAT(a, b) STRESS_CONCAT2(a, b)

#define STRESS_SCENARIO(name)                                                                           \
  static void STRESS_CONCAT(stress_fn_, name)(::stress::context&);                                      \
  static ::stress::registrar STRESS_CONCAT(stress_reg_, name){#name, &STRESS_CONCAT(stress_fn_, name)}; \
  static void STRESS_CONCAT(stress_fn_, name)(::stress::context & ctx)

// Usage: template <class Sync> struct my_scenario { static void run(stress::context& ctx) {...} };
//        STRESS_SCENARIO_SYNC(my_scenario);
#define STRESS_SCENARIO_SYNC(runner)                                                \
  static ::stress::sync_registrar<runner> STRESS_CONCAT(stress_sync_reg_, runner) { \
#runner                                                                         \
  }
