// ---------------------------------------------------------------------------------------------------------------
// bench/mvar_bench.cpp: handoff::mvar<T> against a mutex + condition_variable one-slot box
// (bench/mutex_box.hpp).
//
// Workloads:
//   pingpong/<box>     two threads, two boxes: the pinger puts i into `ping` and takes the answer from
//   `pong`;
//                      the ponger takes from `ping` and puts it back into `pong`. One iteration is a fixed
//                      number of round trips (--round-trips=N, default 10000); every answer must equal what
//                      was sent. Each round trip is two hand-offs to a thread that is usually waiting: it
//                      measures the wake-up path (spin, park, unpark), not the uncontended one.
//   uncontended/<box>  one thread, put then take on one box: the lock-free path (G-6) against a mutex.
//   spin/<limit>       the ping-pong on mvar<T, Sync> with Sync's spin_limit replaced (0 ... 8192 relax steps
//                      before parking; the library's default_spin_limit is the knob sync.hpp says to tune
//                      here): wall time and CPU per round trip for each budget.
// Boxes: handoff.mvar, mutex+condvar, and handoff.stream(1) once <handoff/stream.hpp> exists (ST-6 says a
// one-slot stream behaves as an mvar). Counters: items_per_second (round trips or put+take pairs per second)
// and cpu_ns_per_msg (process CPU per round trip or pair; both threads count). pingpong and uncontended run
// unpinned and pinned (`<name>/unpinned`, `<name>/pinned`: bench/harness.hpp); the spin rows are pinned when
// the machine has two cores. bench/go and bench/crossbeam run pingpong and uncontended over Go's chan of
// capacity 1 and crossbeam's bounded(1).
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "harness.hpp"
#include "mutex_box.hpp"
#include "peers.hpp"

namespace {

namespace hb = handoff_bench;

template <class T>
struct mutex_box_adapter {
  static constexpr const char* name = "mutex+condvar";
  void put(T v) { box.put(std::move(v)); }
  T take() { return box.take(); }
  hb::mutex_box<T> box;
};

#if defined(HANDOFF_BENCH_HAVE_MVAR)
template <class T>
struct mvar_adapter {
  static constexpr const char* name = "handoff.mvar";
  void put(T v) { box.put(std::move(v)); }
  T take() { return box.take(); }
  handoff::mvar<T> box;
};
#endif

#if defined(HANDOFF_BENCH_HAVE_STREAM)
template <class T>
struct stream_box_adapter {
  static constexpr const char* name = "handoff.stream(1)";
  void put(T v) { (void)box.push(std::move(v)); }
  T take() { return *box.pop(); }
  handoff::stream<T> box{1};
};

#endif

#if defined(HANDOFF_BENCH_HAVE_MVAR)
// The library's Sync policy with another spin budget: every blocking step spins `Limit` relax steps, then
// parks.
template <unsigned Limit>
struct spin_sync : handoff::default_sync {
  static constexpr unsigned spin_limit = Limit;
  static constexpr bool adaptive_spin = false;  // a fixed budget (detail/spin_wait.hpp, wait_spin_budget)
};

template <class T, unsigned Limit>
struct mvar_spin_adapter {
  static constexpr const char* name = "handoff.mvar";
  void put(T v) { box.put(std::move(v)); }
  T take() { return box.take(); }
  handoff::mvar<T, spin_sync<Limit>> box;
};
#endif

template <class Box>
void pingpong(benchmark::State& state, const std::string& name, std::uint64_t round_trips) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    Box ping;
    Box pong;
    std::uint64_t wrong_answers = 0;
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(2, [&](unsigned i) {
      if (i == 0) {
        for (std::uint64_t n = 0; n < round_trips; ++n) {
          ping.put(n);
          if (pong.take() != n) ++wrong_answers;
        }
      } else {
        for (std::uint64_t n = 0; n < round_trips; ++n) pong.put(ping.take());
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong_answers != 0) {
      hb::report_failure(state, name, std::to_string(wrong_answers) + " answers differed from what was sent");
      return;
    }
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(round_trips);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.SetLabel(hb::thread_team::pins(2) ? "round trips; pinned" : "round trips; unpinned");
}

template <class Box>
void uncontended(benchmark::State& state) {
  const hb::scoped_thread_pin pin;  // pinned mode: this thread on the first allowed CPU
  Box box;
  std::uint64_t n = 0;
  const double cpu_before = hb::process_cpu_seconds();
  for (auto _ : state) {
    box.put(n);
    benchmark::DoNotOptimize(box.take());
    ++n;
  }
  const double done = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["cpu_ns_per_msg"] =
      benchmark::Counter((hb::process_cpu_seconds() - cpu_before) * 1e9 / done);
  state.SetLabel("put+take pairs, one thread");
}

template <class Box>
void register_box(std::uint64_t round_trips) {
  hb::register_pinnings(
      std::string("pingpong/") + Box::name,
      [round_trips](benchmark::State& s, const std::string& name) { pingpong<Box>(s, name, round_trips); },
      hb::team_rows);
  hb::register_pinnings(
      std::string("uncontended/") + Box::name,
      [](benchmark::State& s, const std::string&) { uncontended<Box>(s); }, hb::call_rows);
}

template <class Box>
void register_spin(unsigned limit, std::uint64_t round_trips) {
  const std::string name = "spin/" + std::to_string(limit) + "/" + Box::name;
  benchmark::RegisterBenchmark(
      name.c_str(), [name, round_trips](benchmark::State& s) { pingpong<Box>(s, name, round_trips); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(hb::min_time());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t round_trips = 10000;
  if (hb::take_flag(argc, argv, "round-trips", &text)) round_trips = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh; the sweep is the same
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_round_trips_per_run", std::to_string(round_trips));
#if defined(HANDOFF_BENCH_HAVE_MVAR)
  register_box<mvar_adapter<std::uint64_t>>(round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, 0>>(0, round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, 32>>(32, round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, handoff::default_spin_limit>>(handoff::default_spin_limit,
                                                                               round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, 512>>(512, round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, 2048>>(2048, round_trips);
  register_spin<mvar_spin_adapter<std::uint64_t, 8192>>(8192, round_trips);
#endif
#if defined(HANDOFF_BENCH_HAVE_STREAM)
  register_box<stream_box_adapter<std::uint64_t>>(round_trips);
#endif
  register_box<mutex_box_adapter<std::uint64_t>>(round_trips);
  return hb::run_and_exit_code(argc, argv);
}
