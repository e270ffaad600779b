// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/cpu_signals.hpp: two cheap questions a waiting thread asks the OS, for the adaptive spin
// budget (spin_wait.hpp, wait_spin_budget). Both answer "unknown" where the platform has no answer, and the
// budget stays at the policy's constant where the platform has neither (cpu_signals_available): adapting on
// park times alone is the variant that lost (sync.hpp, the history).
//   current_cpu()             the CPU this thread runs on now (sched_getcpu, a vDSO read on Linux), or -1
//   involuntary_switches()    how often this thread has been preempted so far (getrusage RUSAGE_THREAD,
//                             one system call: read only on the park path), or -1
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#endif

#include <thread>

namespace handoff::detail {

#if defined(__linux__) && defined(RUSAGE_THREAD)
inline constexpr bool cpu_signals_available = true;
#else
inline constexpr bool cpu_signals_available = false;
#endif

// Leaves errno as it was (a waker calls this inside complete(), in the middle of the caller's operation).
inline int current_cpu() noexcept {
#if defined(__linux__)
  const int saved = errno;
  const int cpu = ::sched_getcpu();
  if (cpu < 0) errno = saved;
  return cpu;
#else
  return -1;
#endif
}

// The number of CPUs this process may run on (its affinity mask where the OS says, else the CPUs online),
// read once; 0 where unknown. A CPU quota of a container is not seen.
inline unsigned online_cpus() noexcept {
  static const unsigned n = [] {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    const int saved = errno;
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
      return static_cast<unsigned>(CPU_COUNT(&set));
    errno = saved;
#endif
    return std::thread::hardware_concurrency();
  }();
  return n;
}

// Whether one call that completed `woken` waiters woke a crowd (the yield phase's gate, spin_wait.hpp): at
// least as many as there are CPUs, so that more threads are runnable than cores, and at least 2 (on one CPU
// a single wake is no crowd). Never where the count of CPUs is unknown.
inline bool is_crowd(unsigned woken) noexcept {
  const unsigned cpus = online_cpus();
  return cpus != 0 && woken >= 2 && woken >= cpus;
}

inline long involuntary_switches() noexcept {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  const int saved = errno;
  struct rusage usage {};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) {
    errno = saved;
    return -1;
  }
  return usage.ru_nivcsw;
#else
  return -1;
#endif
}

}  // namespace handoff::detail
