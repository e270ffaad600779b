// ---------------------------------------------------------------------------------------------------------------
// bench/latency_bench.cpp: how long a wake-up takes, from the signalling thread's decision to the woken
// thread running, for handoff::condition and the waits people use instead.
//
// Workloads (rounds: --rounds=N per run, default 2000):
//   latency/signal/<cv>        one waiter. Each round the signaller waits until the waiter has announced that
//                              it is about to wait, reads the clock (the stamp), and wakes it; the waiter
//                              reads the clock as its wait returns. One latency per round: wake time - stamp.
//   latency/broadcast/8/<cv>   eight waiters, one broadcast per round; the round's latency is the last of the
//                              eight to run (the broadcast is done when every waiter has it).
// Mechanisms:
//   handoff.condition<T>       signal(stamp) / broadcast(stamp); the signaller polls waiting() (yielding)
//   until
//                              every waiter is registered; the value carries the stamp, no mutex.
//   handoff.condition<>        the std::condition_variable pattern on handoff::condition<void>: a mutex, a
//                              generation and an arrival count; the signaller waits on a second condition for
//                              the arrivals, bumps the generation, stamps, unlocks and notify_one/notify_all.
//   std::condition_variable    the same pattern.
//   std::atomic                C++20 atomic wait/notify on the generation word; arrivals counted on a second
//                              atomic word (the last arrival notifies the signaller). A waiter that counted
//                              itself may not be asleep yet when the stamp is taken (nothing orders the two),
//                              which can only make this row look faster.
// The stamp is taken inside the signaller's critical section, before the unlock and the notify, so the
// latency of the mutex patterns includes the unlock, the notify call and the waiter re-taking the mutex: what
// a program using the pattern waits. Every round checks that each waiter saw its own round's signal.
// Counters: latency_p50_ns and latency_p99_ns (over every round of the repetition's runs), items_per_second
// (rounds per second, the acknowledgement included), cpu_ns_per_msg (process CPU per round).
// Each row runs unpinned and pinned (`<row>/unpinned`, `<row>/pinned`; bench/harness.hpp). bench/go and
// bench/crossbeam run the same rows for Go's sync.Cond and Rust's std::sync::Condvar.
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <handoff/condition.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

namespace hb = handoff_bench;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- the mechanisms: wait_round(r) returns the waiter's latency for round r (or -1 if it saw another
// round's signal); signal_round(r) waits for every waiter, stamps and wakes them.

struct handoff_typed {
  static constexpr const char* name = "handoff.condition<T>";
  explicit handoff_typed(unsigned waiters) : waiters(waiters) {}
  std::int64_t wait_round(std::uint64_t) {
    const std::int64_t stamp = c.wait();
    return now_ns() - stamp;
  }
  bool signal_round(std::uint64_t) {
    while (c.waiting() != waiters) std::this_thread::yield();
    const std::int64_t stamp = now_ns();
    return (waiters == 1 ? c.signal(stamp) : c.broadcast(stamp)) == waiters;
  }
  unsigned waiters;
  handoff::condition<std::int64_t> c;
};

template <class CV, const char* Name>
struct mutex_pattern {
  static constexpr const char* name = Name;
  explicit mutex_pattern(unsigned waiters) : waiters(waiters) {}
  std::int64_t wait_round(std::uint64_t r) {
    std::unique_lock lock(m);
    if (++arrived == waiters) all_arrived.notify_one();
    go.wait(lock, [&] { return generation != r; });
    const std::int64_t latency = now_ns() - stamp;
    return generation == r + 1 ? latency : -1;
  }
  bool signal_round(std::uint64_t) {
    std::unique_lock lock(m);
    all_arrived.wait(lock, [&] { return arrived == waiters; });
    arrived = 0;
    ++generation;
    stamp = now_ns();
    lock.unlock();
    if (waiters == 1) {
      go.notify_one();
    } else {
      go.notify_all();
    }
    return true;
  }
  unsigned waiters;
  std::mutex m;
  CV go, all_arrived;
  std::uint64_t generation = 0;  // guarded by m
  unsigned arrived = 0;          // guarded by m
  std::int64_t stamp = 0;        // guarded by m
};

constexpr char std_cv_name[] = "std::condition_variable";
constexpr char handoff_cv_name[] = "handoff.condition<>";
using std_cv = mutex_pattern<std::condition_variable, std_cv_name>;
using handoff_cv = mutex_pattern<handoff::condition<>, handoff_cv_name>;

struct atomic_wait {
  static constexpr const char* name = "std::atomic";
  explicit atomic_wait(unsigned waiters) : waiters(waiters) {}
  std::int64_t wait_round(std::uint64_t r) {
    // acq_rel: the last arrival's increment is the one the signaller's acquire load sees.
    if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == waiters) arrived.notify_one();
    generation.wait(r, std::memory_order_acquire);  // acquire: pairs with the signaller's release store
    const std::int64_t latency = now_ns() - stamp.load(std::memory_order_relaxed);  // published by that pair
    return generation.load(std::memory_order_relaxed) == r + 1 ? latency : -1;
  }
  bool signal_round(std::uint64_t r) {
    // acquire: pairs with the waiters' acq_rel increments.
    for (unsigned a = arrived.load(std::memory_order_acquire); a != waiters;
         a = arrived.load(std::memory_order_acquire))
      arrived.wait(a, std::memory_order_acquire);
    arrived.store(0, std::memory_order_relaxed);         // relaxed: published by the release below
    stamp.store(now_ns(), std::memory_order_relaxed);    // relaxed: published by the release below
    generation.store(r + 1, std::memory_order_release);  // release: pairs with the waiters' acquire
    if (waiters == 1) {
      generation.notify_one();
    } else {
      generation.notify_all();
    }
    return true;
  }
  unsigned waiters;
  std::atomic<std::uint64_t> generation{0};
  std::atomic<unsigned> arrived{0};
  std::atomic<std::int64_t> stamp{0};
};

std::int64_t percentile(std::vector<std::int64_t>& values, double fraction) {
  if (values.empty()) return 0;
  const auto at = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

template <class Mechanism>
void latency(benchmark::State& state, const std::string& name, unsigned waiters, std::uint64_t rounds) {
  double cpu_seconds = 0;
  std::vector<std::int64_t> round_latencies;  // every round of every run of this repetition
  for (auto _ : state) {
    Mechanism mechanism(waiters);
    // latencies[w][r]: waiter w's latency in round r (each waiter writes its own row; read after join)
    std::vector<std::vector<std::int64_t>> latencies(waiters, std::vector<std::int64_t>(rounds, 0));
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(waiters + 1, [&](unsigned i) {
      if (i == waiters) {
        for (std::uint64_t r = 0; r < rounds; ++r)
          if (!mechanism.signal_round(r)) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
        return;
      }
      for (std::uint64_t r = 0; r < rounds; ++r) {
        latencies[i][r] = mechanism.wait_round(r);
        if (latencies[i][r] < 0) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) {
      hb::report_failure(state, name,
                         std::to_string(wrong.load()) + " wake-ups were missed or saw another round");
      return;
    }
    for (std::uint64_t r = 0; r < rounds; ++r) {
      std::int64_t last = 0;
      for (unsigned w = 0; w < waiters; ++w) last = std::max(last, latencies[w][r]);
      round_latencies.push_back(last);
    }
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(rounds);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.counters["latency_p50_ns"] =
      benchmark::Counter(static_cast<double>(percentile(round_latencies, 0.5)));
  state.counters["latency_p99_ns"] =
      benchmark::Counter(static_cast<double>(percentile(round_latencies, 0.99)));
  state.SetLabel(std::string(waiters == 1 ? "signal rounds" : "broadcast rounds, 8 waiters") +
                 (hb::thread_team::pins(waiters + 1) ? "; pinned" : "; unpinned"));
}

template <class Mechanism>
void register_mechanism(std::uint64_t rounds) {
  for (unsigned waiters : {1u, 8u}) {
    const std::string name =
        std::string(waiters == 1 ? "latency/signal/" : "latency/broadcast/8/") + Mechanism::name;
    hb::register_pinnings(
        name,
        [waiters, rounds](benchmark::State& s, const std::string& n) {
          latency<Mechanism>(s, n, waiters, rounds);
        },
        hb::team_rows);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t rounds = 2000;
  if (hb::take_flag(argc, argv, "rounds", &text)) rounds = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh; the sweep is the same
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_latency_rounds_per_run", std::to_string(rounds));
  register_mechanism<handoff_typed>(rounds);
  register_mechanism<handoff_cv>(rounds);
  register_mechanism<std_cv>(rounds);
  register_mechanism<atomic_wait>(rounds);
  return hb::run_and_exit_code(argc, argv);
}
