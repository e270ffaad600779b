// ---------------------------------------------------------------------------------------------------------------
// bench/queue_workload.hpp: one producers x consumers run over any peer, with its result checked.
//
// Purpose: P producers each push `per_producer` values (producer << 32 | sequence); C consumers each pop a
// fixed quota (the quotas add up to the total, so every blocking pop is eventually satisfied and no end
// marker is needed). Each consumer checks, as it goes, that the producer index is valid and, for the peers
// that are FIFO per producer, that each producer's sequence numbers reach it in increasing order; it keeps a
// count and a sum of a 64-bit mix of every value. After the run the counts must add up to the total and the
// sums to the sum over every (producer, sequence) pair: a lost value offset by a duplicate changes the mixed
// sum (a plain sum would not). The checks cost a few arithmetic instructions per message, the same for every
// peer.
// Timing: manual (register with UseManualTime): each run's time goes from opening the start gate to the last
// thread finishing (thread_team::run), so building the queue, creating and joining the threads and checking
// the result are outside it. CPU time is the process's user + sys delta around the whole run, thread
// creation included.
// Counters: cpu_ns_per_msg; blocks_per_kmsg and preempts_per_kmsg, the workers' voluntary and involuntary
// context switches per 1000 messages (thread_team): how often threads slept in the kernel (a futex or
// condition-variable wait) and how often they were preempted or yielded.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace handoff_bench {

struct workload_shape {
  unsigned producers;
  unsigned consumers;
  std::size_t capacity;
  bool busy_neighbour = false;  // one more thread spins, unrelated to the queue, for the whole run
};

// An unrelated CPU-bound thread for the length of a run (a noisy neighbour: another service's work on the
// same cores). Not part of the queue: it only competes for the cores.
class busy_neighbour {
 public:
  explicit busy_neighbour(bool on) {
    if (on)
      thread_ = std::thread([this] {
        // relaxed: a stop flag; nothing is published through it.
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
  }
  ~busy_neighbour() {
    stop_.store(true, std::memory_order_relaxed);  // relaxed: as above; join() orders the thread's end
    if (thread_.joinable()) thread_.join();
  }
  busy_neighbour(const busy_neighbour&) = delete;
  busy_neighbour& operator=(const busy_neighbour&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

inline std::uint64_t mix64(
    std::uint64_t x) noexcept {  // splitmix64's finaliser: a bijection with good avalanche
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t message(unsigned producer, std::uint64_t sequence) noexcept {
  return (static_cast<std::uint64_t>(producer) << 32) | sequence;
}

struct alignas(64) consumer_tally {  // one cache line each: consumers never share one
  std::uint64_t count = 0;
  std::uint64_t mixed_sum = 0;
  const char* error = nullptr;
  std::uint64_t bad_value = 0;
};

inline void note_error(consumer_tally& tally, const char* what, std::uint64_t value) noexcept {
  if (tally.error != nullptr) return;  // keep the first
  tally.error = what;
  tally.bad_value = value;
}

template <class Peer>
void consume(Peer& peer, std::uint64_t quota, unsigned producers, consumer_tally& tally) {
  std::vector<std::uint64_t> next_sequence(producers, 0);
  for (std::uint64_t i = 0; i < quota; ++i) {
    const std::uint64_t v = peer.pop();
    const std::uint64_t producer = v >> 32;
    const std::uint64_t sequence = v & 0xffffffffULL;
    if (producer >= producers) {
      note_error(tally, "value from a producer that does not exist", v);
    } else if (Peer::fifo_per_producer && sequence < next_sequence[producer]) {
      note_error(tally, "a producer's values arrived out of order or twice", v);
    } else {
      next_sequence[producer] = sequence + 1;
    }
    tally.mixed_sum += mix64(v);
    ++tally.count;
  }
}

template <class Peer>
void run_queue_workload(benchmark::State& state, const std::string& name, workload_shape shape,
                        std::uint64_t messages) {
  const unsigned p = shape.producers;
  const unsigned c = shape.consumers;
  const std::uint64_t per_producer = messages / p > 0 ? messages / p : 1;
  const std::uint64_t total = per_producer * p;
  std::vector<std::uint64_t> quota(c, total / c);
  for (unsigned i = 0; i < total % c; ++i) ++quota[i];
  std::uint64_t expected_sum = 0;
  for (unsigned producer = 0; producer < p; ++producer)
    for (std::uint64_t s = 0; s < per_producer; ++s) expected_sum += mix64(message(producer, s));

  double cpu_seconds = 0;
  team_switches switches;
  std::optional<Peer> peer;
  std::vector<consumer_tally> tallies(c);
  for (auto _ : state) {
    peer.emplace(shape.capacity);
    tallies.assign(c, consumer_tally{});
    const double cpu_before = process_cpu_seconds();
    const busy_neighbour neighbour(shape.busy_neighbour);

    const double seconds = thread_team::run(
        p + c,
        [&](unsigned i) {
          if (i < p) {
            for (std::uint64_t s = 0; s < per_producer; ++s) peer->push(message(i, s));
          } else {
            consume(*peer, quota[i - p], p, tallies[i - p]);
          }
        },
        &switches);

    state.SetIterationTime(seconds);
    cpu_seconds += process_cpu_seconds() - cpu_before;
    peer.reset();
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    std::string error;
    for (const auto& t : tallies) {
      count += t.count;
      sum += t.mixed_sum;
      if (t.error != nullptr && error.empty())
        error = std::string(t.error) + " (value " + std::to_string(t.bad_value >> 32) + ":" +
                std::to_string(t.bad_value & 0xffffffffULL) + ")";
    }
    if (error.empty() && count != total)
      error = "received " + std::to_string(count) + " values, expected " + std::to_string(total);
    if (error.empty() && sum != expected_sum)
      error = "checksum mismatch: a value was lost, duplicated or altered";
    if (!error.empty()) {
      report_failure(state, name, error);
      return;
    }
  }
  const double delivered = static_cast<double>(state.iterations()) * static_cast<double>(total);
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / delivered);
  state.counters["blocks_per_kmsg"] =
      benchmark::Counter(static_cast<double>(switches.voluntary) * 1e3 / delivered);
  state.counters["preempts_per_kmsg"] =
      benchmark::Counter(static_cast<double>(switches.involuntary) * 1e3 / delivered);
  state.SetLabel(std::string(Peer::waiting) + (thread_team::pins(p + c) ? "; pinned" : "; unpinned"));
}

}  // namespace handoff_bench
