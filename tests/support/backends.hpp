// The real-thread Sync policies every typed test runs over (both parking backends, rule: "same test bodies
// run on every backend"). The deterministic scheduler adds its own policy in tests/support/ for model runs.
#pragma once

#include <gtest/gtest.h>

#include <handoff/detail/sync.hpp>

namespace handoff_test {

#if defined(HANDOFF_HAVE_FUTEX)
using real_backends = ::testing::Types<handoff::detail::futex_sync, handoff::detail::portable_sync>;
#else
using real_backends = ::testing::Types<handoff::detail::portable_sync>;
#endif

struct backend_names {
  template <class Sync>
  static std::string GetName(int) {
#if defined(HANDOFF_HAVE_FUTEX)
    if (std::is_same_v<Sync, handoff::detail::futex_sync>) return "futex";
#endif
    if (std::is_same_v<Sync, handoff::detail::portable_sync>) return "portable";
    return "other";
  }
};

}  // namespace handoff_test
