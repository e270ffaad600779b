// ---------------------------------------------------------------------------------------------------------------
// bench/queue_bench.cpp: handoff::stream<T> against the peers of bench/peers.hpp on SPSC, MPSC and MPMC runs.
//
// Benchmark names: <workload>/<P>x<C>/cap:<0|1|64|1024|unbounded>/<peer>/<unpinned|pinned>, e.g.
// mpmc/2x2/cap:1024/moodycamel/pinned. Every row runs twice: with the scheduler placing the threads, and with
// thread i pinned to CPU i mod cores (bench/harness.hpp, register_pinnings). bench/go and bench/crossbeam run
// the same rows under the same names for Go's channels and crossbeam-channel.
// Each run moves a fixed number of 64-bit messages (--messages=N, default 1000000; a tenth of that at
// capacities 0 and 1, where every message is a hand-off between two threads and may cost two wake-ups) and
// checks what it received (bench/queue_workload.hpp); a wrong result fails the benchmark and the exit code.
// A run must last several scheduler time slices to show the steady state of an oversubscribed team: at
// 100000 messages an 8x8 run took ~4 ms and handoff.stream measured 26M msgs/s with 1.7 blocks per 1000
// messages, at 1000000 17M with 10 (bench/README.md).
// Counters: items_per_second (messages delivered per second of wall time), cpu_ns_per_msg (process CPU per
// message, spinning included), blocks_per_kmsg and preempts_per_kmsg (the threads' voluntary and
// involuntary context switches per 1000 messages). Sweep (bench/README.md says why):
//   default  spsc 1x1 at every capacity; mpsc 2x1 and mpmc 2x2, 4x4, 8x8 at capacities 1, 1024, unbounded
//   --full   spsc as above; mpsc P x 1 for P = 2, 4, ... up to 8 x cores - 1; mpmc N x N for
//            N = 2, 3, 4, 6, 8, ... up to 4 x cores (8 x cores threads); every capacity (0, 1, 64, 1024,
//            unbounded)
// A peer that busy-waits without bound (atomic_queue) is run with more threads than cores only in --full.
// stream_yield/<P>x<C>/cap:1024/yield:<L>: handoff::stream<T> whose Sync policy yields L times before a
// blocked push or pop registers (0, 1 = handoff::default_yield_limit, 2, 4, 8, 16), at 1x1, 2x2 and 8x8, and
// at 1x1 and 8x8 with a busy neighbour (+busy: one more thread spinning, unrelated to the queue): the
// data for tuning default_yield_limit (include/handoff/detail/sync.hpp); these rows keep the automatic
// pinning rule (pinned only when every thread has a core). Time per run: from opening the threads' start
// gate to the last thread finishing (UseManualTime; bench/queue_workload.hpp).
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "peers.hpp"
#include "queue_workload.hpp"

namespace {

namespace hb = handoff_bench;

struct sweep_point {
  const char* workload;
  unsigned producers;
  unsigned consumers;
  std::size_t capacity;
};

std::string capacity_name(std::size_t capacity) {
  return capacity == hb::unbounded_capacity ? "unbounded" : std::to_string(capacity);
}

std::vector<sweep_point> make_sweep(bool full) {
  const std::vector<std::size_t> every_capacity = {0, 1, 64, 1024, hb::unbounded_capacity};
  const std::vector<std::size_t> default_capacities = {1, 1024, hb::unbounded_capacity};
  const std::vector<std::size_t>& capacities = full ? every_capacity : default_capacities;
  const unsigned cores = hb::cores();

  std::vector<sweep_point> sweep;
  for (std::size_t capacity : every_capacity) sweep.push_back({"spsc", 1, 1, capacity});

  std::vector<unsigned> mpsc_producers = {2};
  std::vector<unsigned> mpmc_pairs = {2, 4, 8};
  if (full) {
    mpsc_producers.clear();
    for (unsigned p = 2; p <= 8 * cores - 1 || p <= 8; p *= 2) mpsc_producers.push_back(p);
    mpmc_pairs.clear();
    for (unsigned n : {2u, 3u, 4u, 6u, 8u, 12u, 16u, 24u, 32u, 48u, 64u})
      if (n <= 4 * cores || n <= 8) mpmc_pairs.push_back(n);
  }
  for (unsigned p : mpsc_producers)
    for (std::size_t capacity : capacities) sweep.push_back({"mpsc", p, 1, capacity});
  for (unsigned n : mpmc_pairs)
    for (std::size_t capacity : capacities) sweep.push_back({"mpmc", n, n, capacity});
  return sweep;
}

void register_sweep(const std::vector<sweep_point>& sweep, std::uint64_t messages, bool full) {
  for (const sweep_point& point : sweep) {
    hb::for_each_peer<std::uint64_t>([&]<class Peer>() {
      if (!Peer::supports(point.capacity)) return;
      if (Peer::busy_waits && !full && point.producers + point.consumers > hb::cores()) return;
      const std::string name = std::string(point.workload) + "/" + std::to_string(point.producers) + "x" +
                               std::to_string(point.consumers) + "/cap:" + capacity_name(point.capacity) +
                               "/" + Peer::name;
      const hb::workload_shape shape{point.producers, point.consumers, point.capacity};
      const std::uint64_t run_messages = point.capacity <= 1 ? messages / 10 : messages;
      hb::register_pinnings(
          name,
          [shape, run_messages](benchmark::State& state, const std::string& full) {
            hb::run_queue_workload<Peer>(state, full, shape, run_messages);
          },
          [](benchmark::internal::Benchmark* b) {
            b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(hb::min_time());
          });
    });
  }
}

#if defined(HANDOFF_BENCH_HAVE_STREAM)
template <unsigned Limit>
struct yield_sync : handoff::default_sync {
  static constexpr unsigned yield_limit = Limit;
};

template <unsigned Limit>
void register_yield_rows(std::uint64_t messages) {
  struct team {
    unsigned n;
    bool busy;
  };
  for (team t : {team{1, false}, team{2, false}, team{8, false}, team{1, true}, team{8, true}}) {
    const std::string name = "stream_yield/" + std::to_string(t.n) + "x" + std::to_string(t.n) +
                             (t.busy ? "+busy" : "") + "/cap:1024/yield:" + std::to_string(Limit);
    const hb::workload_shape shape{t.n, t.n, 1024, t.busy};
    benchmark::RegisterBenchmark(
        name.c_str(),
        [name, shape, messages](benchmark::State& state) {
          hb::run_queue_workload<hb::handoff_stream_peer<std::uint64_t, yield_sync<Limit>>>(state, name,
                                                                                            shape, messages);
        })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(hb::min_time());
  }
}

void register_yield_sweep(std::uint64_t messages) {
  register_yield_rows<0>(messages);
  register_yield_rows<1>(messages);
  register_yield_rows<2>(messages);
  register_yield_rows<4>(messages);
  register_yield_rows<8>(messages);
  register_yield_rows<16>(messages);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const bool full = hb::take_flag(argc, argv, "full");
  std::string messages_text;
  std::uint64_t messages = 1000000;
  if (hb::take_flag(argc, argv, "messages", &messages_text)) messages = std::stoull(messages_text);
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_sweep", full ? "full" : "default");
  benchmark::AddCustomContext("handoff_messages_per_run", std::to_string(messages));
  register_sweep(make_sweep(full), messages, full);
#if defined(HANDOFF_BENCH_HAVE_STREAM)
  register_yield_sweep(messages);
#endif
  return hb::run_and_exit_code(argc, argv);
}
