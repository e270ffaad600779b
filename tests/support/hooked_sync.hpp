// A Sync policy over the library's own (handoff::default_sync, its adaptive spin budget included) that counts
// the calling thread's relax steps and yields and runs an optional hook at each: the prewait tests use it to
// see, single-threaded and exactly, what a blocked operation does before it registers as a waiter
// (tests/unit/stream_prewait_test.cpp, tests/unit/mvar_prewait_test.cpp). thread_local: each test thread
// counts its own steps.
#pragma once

#include <handoff/detail/sync.hpp>

#include <functional>

namespace handoff_test {

struct hooked_sync : handoff::default_sync {
  static inline thread_local unsigned relaxes = 0;
  static inline thread_local std::function<void()> on_relax;
  static void relax() noexcept {
    ++relaxes;
    if (on_relax) on_relax();
    handoff::default_sync::relax();
  }
  static inline thread_local unsigned yields = 0;
  static inline thread_local std::function<void()> on_yield;
  static void yield() noexcept {
    ++yields;
    if (on_yield) on_yield();
    handoff::default_sync::yield();
  }
};

}  // namespace handoff_test
