// The process-wide memory barrier (Linux membarrier), the heavy half of the ring's asymmetric store-load
// fence (include/handoff/detail/stream_ring.hpp, "Memory ordering"). See include/handoff/detail/parking.hpp.
#include <handoff/detail/parking.hpp>

#if defined(__linux__)

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace handoff::detail {
namespace {

long membarrier(int cmd) noexcept {
  return syscall(SYS_membarrier, cmd, 0u, 0);
}

// Once per process: ask whether the expedited private command exists and register for it (Linux 4.14+; a
// seccomp filter or an emulating kernel may refuse either). HANDOFF_NO_MEMBARRIER=1 in the environment keeps
// it off, so that the seq_cst fallback can be run anywhere (and chosen where the barrier's interrupts cost
// more than they save).
bool register_expedited() noexcept {
  if (const char* off = std::getenv("HANDOFF_NO_MEMBARRIER"); off && std::strcmp(off, "1") == 0) return false;
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

bool futex_parking::process_barrier_ready() noexcept {
  static const bool ready = register_expedited();  // thread-safe, once
  return ready;
}

void futex_parking::process_barrier() noexcept {
  // Only called after process_barrier_ready() returned true, so the process is registered and the command
  // cannot fail with EPERM or EINVAL; it does not return EINTR. It may return ENOMEM (the kernel allocates a
  // CPU mask): nothing happened then, so it is retried, a bounded number of times with a yield between. If it
  // still failed, a waiter could sleep through a publication that its partner's plain store made: end the
  // program with the reason rather than lose a wakeup.
  long rc = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  for (int retry = 0; rc != 0 && errno == ENOMEM && retry < 1000; ++retry) {
    std::this_thread::yield();
    rc = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  }
  if (rc != 0) {
    std::fprintf(stderr,
                 "handoff: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace handoff::detail

#endif  // __linux__
