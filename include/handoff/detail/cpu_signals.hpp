// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/cpu_signals.hpp: two cheap questions a waiting thread asks the OS, for the adaptive spin
// budget (spin_wait.hpp, wait_spin_budget). Both answer "unknown" where the platform has no answer, and the
// budget then adapts on park times alone.
//   current_cpu()             the CPU this thread runs on now (sched_getcpu, a vDSO read on Linux), or -1
//   involuntary_switches()    how often this thread has been preempted so far (getrusage RUSAGE_THREAD,
//                             one system call: read only on the park path), or -1
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#endif

namespace handoff::detail {

inline int current_cpu() noexcept {
#if defined(__linux__)
  return ::sched_getcpu();
#else
  return -1;
#endif
}

inline long involuntary_switches() noexcept {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  struct rusage usage {};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) return -1;
  return usage.ru_nivcsw;
#else
  return -1;
#endif
}

}  // namespace handoff::detail
