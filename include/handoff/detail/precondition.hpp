// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/precondition.hpp: checked preconditions (rule G-9).
// In debug builds (NDEBUG undefined) or with HANDOFF_CHECKED=1, a violated precondition prints a message
// naming the primitive and the broken rule, then aborts. In release builds the check compiles away.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(HANDOFF_CHECKED)
#if defined(NDEBUG)
#define HANDOFF_CHECKED 0
#else
#define HANDOFF_CHECKED 1
#endif
#endif

namespace handoff::detail {

[[noreturn]] inline void precondition_failed(const char* message) noexcept {
  std::fprintf(stderr, "handoff: precondition violated: %s\n", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace handoff::detail

#if HANDOFF_CHECKED
#define HANDOFF_PRECONDITION(condition, message) \
  ((condition) ? static_cast<void>(0) : ::handoff::detail::precondition_failed(message))
#else
#define HANDOFF_PRECONDITION(condition, message) static_cast<void>(0)
#endif
