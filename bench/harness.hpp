// ---------------------------------------------------------------------------------------------------------------
// bench/harness.hpp: what every handoff benchmark shares, so that peers are measured the same way.
//
// Purpose:
//   - process_cpu_seconds(): user + sys CPU of the whole process (getrusage RUSAGE_SELF), the source of the
//     "cpu_ns_per_msg" counter. Joined threads' time stays in RUSAGE_SELF, so a delta taken around a run that
//     spawns and joins its workers counts every worker, spinning or parked.
//   - cores() / allowed_cpus(): the CPUs of the process's affinity mask, so `taskset` sets the machine size.
//   - pinning: every comparison row runs twice, `<name>/unpinned` (the scheduler places every thread) and
//     `<name>/pinned` (worker i on the (i mod cores)-th allowed CPU, oversubscribed teams included), through
//     register_pinnings(); the mode in force is a setting of the benchmark's run (scoped_pinning), so a
//     workload written before the modes existed needs no new parameter. Rows registered without it (the
//     tuning sweeps) keep the automatic rule: pinned only when the machine has a core for each thread.
//   - thread_team: spawns N workers, pins them as the mode in force says, releases them
//     through one start gate, joins them, and returns the seconds from opening the gate to the last worker
//     finishing (thread creation and exit excluded: they cost ~30 us per thread here, which would otherwise
//     weigh on a 16-thread run and not on a 2-thread one). Optionally it also sums the workers' context
//     switches during body() (getrusage RUSAGE_THREAD): voluntary ones are a thread blocking in the kernel
//     (a futex or condition-variable wait), involuntary ones preemptions and sched_yield. Gate and exit are
//     outside the count.
//   - add_machine_context(): cores, CPU model, compiler, git commit (from $HANDOFF_GIT_COMMIT, which
//     scripts/bench.sh sets) in the JSON "context" block.
//   - min_time(): the shortest time Google Benchmark spends on one repetition, 0.2 s unless
//     $HANDOFF_BENCH_MIN_TIME says otherwise (scripts/bench.sh --quick sets it for a smoke run).
//   - failure bookkeeping: a benchmark that detects a wrong result calls report_failure(), which skips the
//     benchmark with the message (state.SkipWithError) and makes main() exit non-zero.
// Not a primitive of the library: plain std::atomic and std::thread are fine here.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>
#include <handoff/debug.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace handoff_bench {

// The CPUs this process may run on (its affinity mask, so `taskset -c 0-3` makes it a 4-core machine: the
// scaling runs of scripts/scaling.sh rely on it), in ascending order. Falls back to every online CPU when the
// mask cannot be read.
inline const std::vector<unsigned>& allowed_cpus() {
  static const std::vector<unsigned> cpus = [] {
    std::vector<unsigned> found;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) found.push_back(cpu);
    if (found.empty()) {
      const unsigned online = std::thread::hardware_concurrency();
      for (unsigned cpu = 0; cpu < (online == 0 ? 1 : online); ++cpu) found.push_back(cpu);
    }
    return found;
  }();
  return cpus;
}

inline unsigned cores() noexcept {
  return static_cast<unsigned>(allowed_cpus().size());
}

inline double process_cpu_seconds() noexcept {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

// Pins the calling thread to the `index`-th allowed CPU; a failure (restricted cpuset, container) is ignored:
// unpinned is still a valid measurement, only a noisier one.
inline void pin_current_thread(unsigned index) noexcept {
  const std::vector<unsigned>& cpus = allowed_cpus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[index % cpus.size()], &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// ---- pinning ----
enum class pinning {
  automatic,  // pinned only when the machine has a core for each thread (rows without a pinning suffix)
  unpinned,   // the scheduler places every thread
  pinned,     // thread i on the (i mod cores)-th allowed CPU, however many threads there are
};

inline const char* pinning_name(pinning mode) noexcept {
  return mode == pinning::pinned ? "pinned" : mode == pinning::unpinned ? "unpinned" : "automatic";
}

// The mode of the benchmark now running. Google Benchmark runs one benchmark at a time on the main thread,
// and only that thread reads or writes it (thread_team reads it before spawning).
inline pinning& current_pinning() noexcept {
  static pinning mode = pinning::automatic;
  return mode;
}

class scoped_pinning {
 public:
  explicit scoped_pinning(pinning mode) noexcept : saved_(std::exchange(current_pinning(), mode)) {}
  ~scoped_pinning() { current_pinning() = saved_; }
  scoped_pinning(const scoped_pinning&) = delete;
  scoped_pinning& operator=(const scoped_pinning&) = delete;

 private:
  pinning saved_;
};

// For a benchmark whose body runs on the calling thread (one thread, no team): in the pinned mode, pins it
// to the first allowed CPU for the scope and gives back its previous mask after.
class scoped_thread_pin {
 public:
  scoped_thread_pin() noexcept {
    if (current_pinning() != pinning::pinned) return;
    active_ = pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) == 0;
    if (active_) pin_current_thread(0);
  }
  ~scoped_thread_pin() {
    if (active_) (void)pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
  }
  scoped_thread_pin(const scoped_thread_pin&) = delete;
  scoped_thread_pin& operator=(const scoped_thread_pin&) = delete;

 private:
  cpu_set_t saved_{};
  bool active_ = false;
};

inline double min_time(double seconds = 0.2) {
  const char* text = std::getenv("HANDOFF_BENCH_MIN_TIME");
  return text != nullptr && *text != '\0' ? std::strtod(text, nullptr) : seconds;
}

// Registers `name/unpinned` and `name/pinned`; run(state, full_name) runs with that mode in force, and
// configure(benchmark) sets each one's options (team_rows, call_rows or the caller's own).
template <class Run, class Configure>
void register_pinnings(const std::string& name, Run run, Configure configure) {
  for (pinning mode : {pinning::unpinned, pinning::pinned}) {
    const std::string full = name + "/" + pinning_name(mode);
    configure(benchmark::RegisterBenchmark(full.c_str(), [run, mode, full](benchmark::State& s) {
      const scoped_pinning in_force(mode);
      run(s, full);
    }));
  }
}

// A row over a team of threads: wall time (UseRealTime) in milliseconds, min_time() per repetition.
inline void team_rows(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(min_time());
}

// A row of single calls on one thread: wall time per call, min_time(0.5) per repetition (Google
// Benchmark's default).
inline void call_rows(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->MinTime(min_time(0.5));
}

// Context switches of a team's workers while they ran body() (thread_team::run).
struct team_switches {
  std::uint64_t voluntary = 0;
  std::uint64_t involuntary = 0;
};

inline team_switches thread_switches() noexcept {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return {static_cast<std::uint64_t>(ru.ru_nvcsw), static_cast<std::uint64_t>(ru.ru_nivcsw)};
}

// Runs body(i) on `count` threads that start together, pinned as current_pinning() says.
class thread_team {
 public:
  static bool pins(unsigned count) noexcept {
    switch (current_pinning()) {
      case pinning::pinned:
        return true;
      case pinning::unpinned:
        return false;
      case pinning::automatic:
        break;
    }
    return cores() >= count;
  }

  // `switches`, when given, gets the workers' context switches during body() added to it.
  static double run(unsigned count, const std::function<void(unsigned)>& body,
                    team_switches* switches = nullptr) {
    std::atomic<std::uint64_t> voluntary{0};
    std::atomic<std::uint64_t> involuntary{0};
    std::atomic<bool> go{false};
    std::atomic<unsigned> running{count};
    std::chrono::steady_clock::time_point last_done;  // written by the last worker to finish
    const bool pin = pins(count);
    std::vector<std::thread> threads;
    threads.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
      threads.emplace_back([&, i] {
        if (pin) pin_current_thread(i);
        go.wait(false,
                std::memory_order_acquire);  // acquire: pairs with the release store that opens the gate
        if (switches == nullptr) {
          body(i);
        } else {  // two getrusage calls inside the timed window: only when the caller asked for the counts
          const team_switches before = thread_switches();
          body(i);
          const team_switches after = thread_switches();
          // relaxed: read by the caller after join(), which orders these additions before it.
          voluntary.fetch_add(after.voluntary - before.voluntary, std::memory_order_relaxed);
          involuntary.fetch_add(after.involuntary - before.involuntary, std::memory_order_relaxed);
        }
        // acq_rel: the last worker's read of the clock comes after every worker's body (join orders the
        // write of last_done before the caller reads it).
        if (running.fetch_sub(1, std::memory_order_acq_rel) == 1)
          last_done = std::chrono::steady_clock::now();
      });
    }
    const auto opened = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);  // release: publishes everything set up before the gate opens
    go.notify_all();
    for (auto& t : threads) t.join();
    if (switches != nullptr) {
      // relaxed: every worker has been joined.
      switches->voluntary += voluntary.load(std::memory_order_relaxed);
      switches->involuntary += involuntary.load(std::memory_order_relaxed);
    }
    return std::chrono::duration<double>(last_done - opened).count();
  }
};

// ---- failures ----
inline std::atomic<int>& failure_count() {
  static std::atomic<int> count{0};
  return count;
}

inline void report_failure(benchmark::State& state, const std::string& benchmark_name,
                           const std::string& what) {
  failure_count().fetch_add(1,
                            std::memory_order_relaxed);  // relaxed: read by main() after every run has joined
  std::fprintf(stderr, "BENCHMARK FAILURE: %s: %s\n", benchmark_name.c_str(), what.c_str());
  state.SkipWithError(what.c_str());
}

// ---- machine description ----
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

inline std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown";
#endif
}

inline void add_machine_context() {
  // HANDOFF_BENCH_BLOCK_TIMING=1: run with handoff::debug::set_block_timing(true) (issue 19's "statistics
  // and blocked time on" rows: one more clock read per parked wait).
  const char* timing = std::getenv("HANDOFF_BENCH_BLOCK_TIMING");
  const bool block_timing = timing != nullptr && std::string(timing) == "1";
  handoff::debug::set_block_timing(block_timing);
  benchmark::AddCustomContext("handoff_block_timing", block_timing ? "on" : "off");
  const char* commit = std::getenv("HANDOFF_GIT_COMMIT");
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  benchmark::AddCustomContext("handoff_cores", std::to_string(cores()));
  benchmark::AddCustomContext("handoff_cpu_model", cpu_model());
  benchmark::AddCustomContext("handoff_compiler", compiler_name());
  benchmark::AddCustomContext("handoff_git_commit", commit != nullptr && *commit ? commit : "unknown");
  benchmark::AddCustomContext("handoff_hostname", host);
#if defined(NDEBUG)
  benchmark::AddCustomContext("handoff_build", "release (NDEBUG)");
#else
  benchmark::AddCustomContext("handoff_build", "debug (assertions on): numbers are not meaningful");
#endif
}

// Strips "--<name>" / "--<name>=<value>" options of our own from argv (after benchmark::Initialize has taken
// its own) and reports whether the flag was present; `value` receives the text after '='.
inline bool take_flag(int& argc, char** argv, const std::string& name, std::string* value = nullptr) {
  const std::string bare = "--" + name;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == bare || arg.rfind(bare + "=", 0) == 0) {
      if (value != nullptr) *value = arg.size() > bare.size() ? arg.substr(bare.size() + 1) : "";
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      return true;
    }
  }
  return false;
}

// Runs the registered benchmarks; the exit code says whether any of them detected a wrong result.
inline int run_and_exit_code(int argc, char** argv) {
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const int failures = failure_count().load(std::memory_order_relaxed);  // relaxed: every worker has joined
  if (failures != 0) std::fprintf(stderr, "%d benchmark run(s) FAILED verification\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace handoff_bench
