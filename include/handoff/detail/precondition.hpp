// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/precondition.hpp: checked preconditions (rule G-9).
// In debug builds (NDEBUG undefined) or with HANDOFF_CHECKED=1, a violated precondition prints a message
// naming the primitive and the broken rule, then aborts. In release builds the check compiles away.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

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

// The same, naming the primitive (OB-1): `what` is a channel_info (detail/channel_info.hpp), taken as a
// template so that this header needs nothing else: "handoff: precondition violated: stream "rx" <message>"
// ("stream <message>" without a name).
template <class Info>
[[noreturn]] void precondition_failed_on(const Info& what, const char* message) noexcept {
  const auto name = what.name();
  if (name.empty())
    std::fprintf(stderr, "handoff: precondition violated: %s %s\n", what.kind(), message);
  else
    std::fprintf(stderr, "handoff: precondition violated: %s \"%.*s\" %s\n", what.kind(),
                 static_cast<int>(name.size()), name.data(), message);
  std::fflush(stderr);
  std::abort();
}

// A subject for precondition_failed_on that is not a channel_info: a kind and an optional name (OB-1), e.g.
// a topic, or an iterator over a named stream.
struct precondition_subject {
  const char* kind_text;
  std::string_view name_text;
  const char* kind() const noexcept { return kind_text; }
  std::string_view name() const noexcept { return name_text; }
};

}  // namespace handoff::detail

#if HANDOFF_CHECKED
#define HANDOFF_PRECONDITION(condition, message) \
  ((condition) ? static_cast<void>(0) : ::handoff::detail::precondition_failed(message))
#define HANDOFF_PRECONDITION_ON(info, condition, message) \
  ((condition) ? static_cast<void>(0) : ::handoff::detail::precondition_failed_on(info, message))
#else
#define HANDOFF_PRECONDITION(condition, message) static_cast<void>(0)
#define HANDOFF_PRECONDITION_ON(info, condition, message) static_cast<void>(0)
#endif
