// The only file in handoff that makes the futex system call. See include/handoff/detail/parking.hpp.
#include <handoff/detail/parking.hpp>

#if defined(__linux__)

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace handoff::detail {
namespace {

static_assert(sizeof(park_word) == sizeof(std::uint32_t) && alignof(park_word) == alignof(std::uint32_t),
              "the futex syscall needs std::atomic<uint32_t> to be a plain 32-bit word");
static_assert(park_word::is_always_lock_free);

// std::atomic<uint32_t> has the object representation of a uint32_t (checked above); the kernel reads the
// word with its own atomic access, exactly as libstdc++'s atomic::wait does.
std::uint32_t* address_of(park_word& word) noexcept {
  return reinterpret_cast<std::uint32_t*>(&word);
}

long futex(std::uint32_t* addr, int op, std::uint32_t val, const timespec* abs_time) noexcept {
  return syscall(SYS_futex, addr, op, val, abs_time, nullptr, FUTEX_BITSET_MATCH_ANY);
}

}  // namespace

void futex_parking::wait(park_word& word, std::uint32_t expected) noexcept {
  // EAGAIN (word changed), EINTR (signal) and spurious returns all go back to the caller's re-check loop.
  futex(address_of(word), FUTEX_WAIT_BITSET_PRIVATE, expected, nullptr);
}

bool futex_parking::wait_until(park_word& word, std::uint32_t expected, const deadline& d) noexcept {
  if (d.is_never()) {
    wait(word, expected);
    return true;
  }
  const std::int64_t ns = d.nanoseconds_since_epoch();
  if (ns < 0) return false;  // before the clock's epoch: long past
  timespec abs{};
  abs.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  abs.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  int op = FUTEX_WAIT_BITSET_PRIVATE;
  if (d.kind() == deadline::clock_kind::system) op |= FUTEX_CLOCK_REALTIME;
  for (;;) {
    if (futex(address_of(word), op, expected, &abs) == 0) return true;
    // The deadline is absolute, so retrying after a signal neither loses nor stretches it.
    if (errno == EINTR) continue;
    if (errno == ETIMEDOUT) return false;
    if (errno == EAGAIN) return true;  // the word had already changed
    // Anything else (not expected from a valid private futex word) must not turn into a busy loop or a lie:
    // report the deadline truthfully and let the caller's re-check loop decide.
    return !d.passed();
  }
}

void futex_parking::wake_one(park_word& word) noexcept {
  futex(address_of(word), FUTEX_WAKE_PRIVATE, 1, nullptr);
}

void futex_parking::wake_all(park_word& word) noexcept {
  futex(address_of(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
}

}  // namespace handoff::detail

#endif  // __linux__
