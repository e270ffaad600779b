// A bounded wait for tests: run a blocking call on a helper thread and fail (naming the operation) if it has
// not returned within a generous bound. Hangs are found by this watchdog, never by a CI timeout (reliability
// rule 3). The bound is not a timing assertion: it only turns "never returns" into a readable failure.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <utility>

namespace handoff_test {

inline constexpr std::chrono::seconds hang_bound{60};

// Waits for `f` (a std::future) and aborts the whole test binary with a message if it never becomes ready:
// a hung thread cannot be joined, so carrying on would only hang the runner.
template <class Future>
auto get_or_abort(Future&& f, const std::string& what) {
  if (f.wait_for(hang_bound) != std::future_status::ready) {
    std::fprintf(stderr, "WATCHDOG: '%s' did not return within %llds: lost wakeup?\n", what.c_str(),
                 static_cast<long long>(hang_bound.count()));
    std::fflush(stderr);
    std::abort();
  }
  return f.get();
}

// Spin (yielding) until `pred` holds: a handshake on a snapshot (waiting(), size(), an atomic), never a
// sleep. The watchdog bound turns "never" into a failure that names what was awaited.
template <class Pred>
void until(Pred pred, const char* what) {
  const auto give_up = std::chrono::steady_clock::now() + hang_bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) {
      ADD_FAILURE() << "condition never held: " << what;
      std::fflush(stderr);
      std::abort();
    }
    std::this_thread::yield();
  }
}

}  // namespace handoff_test
