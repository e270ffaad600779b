// ---------------------------------------------------------------------------------------------------------------
// bench/harness.hpp: what every handoff benchmark shares, so that peers are measured the same way.
//
// Purpose:
//   - process_cpu_seconds(): user + sys CPU of the whole process (getrusage RUSAGE_SELF), the source of the
//     "cpu_ns_per_msg" counter. Joined threads' time stays in RUSAGE_SELF, so a delta taken around a run that
//     spawns and joins its workers counts every worker, spinning or parked.
//   - cores() / allowed_cpus(): the CPUs of the process's affinity mask, so `taskset` sets the machine size.
//   - thread_team: spawns N workers, pins worker i to the i-th allowed CPU when there are at least N of them
//     (pinning an oversubscribed team would only forbid the scheduler from balancing it), releases them
//     through one start gate, joins them, and returns the seconds from opening the gate to the last worker
//     finishing (thread creation and exit excluded: they cost ~30 us per thread here, which would otherwise
//     weigh on a 16-thread run and not on a 2-thread one). Optionally it also sums the workers' context
//     switches during body() (getrusage RUSAGE_THREAD): voluntary ones are a thread blocking in the kernel
//     (a futex or condition-variable wait), involuntary ones preemptions and sched_yield. Gate and exit are
//     outside the count.
//   - add_machine_context(): cores, CPU model, compiler, git commit (from $HANDOFF_GIT_COMMIT, which
//     scripts/bench.sh sets) in the JSON "context" block.
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

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
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

// Runs body(i) on `count` threads that start together. Pinned only when the machine has a core for each.
class thread_team {
 public:
  static bool pins(unsigned count) noexcept { return cores() >= count; }

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
