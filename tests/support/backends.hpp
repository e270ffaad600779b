// The real-thread Sync policies every typed test runs over (both parking backends, rule: "same test bodies
// run on every backend"). The deterministic scheduler adds its own policy in tests/support/ for model runs.
#pragma once

#include <gtest/gtest.h>

#include <handoff/detail/sync.hpp>

namespace handoff_test {

// Which backends the typed suites run on. Both real backends in the dev preset (and by default); the
// sanitizer presets configure with -DHANDOFF_TEST_BACKENDS=default (HANDOFF_TEST_DEFAULT_BACKEND_ONLY), so
// their typed suites run on the default backend only: the test bodies are the same code for both backends
// and half of those presets' build time was the second copy (docs/reliability.md, "CI budget"). The
// portable backend's own code (its parking lot) still runs under ThreadSanitizer: the portable preset is a
// TSan build, running the stress smoke and every non-typed test there; dev runs every typed suite on it.
#if defined(HANDOFF_HAVE_FUTEX)
#define HANDOFF_TEST_ON_FUTEX 1
#if !defined(HANDOFF_TEST_DEFAULT_BACKEND_ONLY)
#define HANDOFF_TEST_ON_PORTABLE 1
#endif
#else
#define HANDOFF_TEST_ON_PORTABLE 1
#endif

#if defined(HANDOFF_TEST_ON_FUTEX) && defined(HANDOFF_TEST_ON_PORTABLE)
using real_backends = ::testing::Types<handoff::detail::futex_sync, handoff::detail::portable_sync>;
#elif defined(HANDOFF_TEST_ON_FUTEX)
using real_backends = ::testing::Types<handoff::detail::futex_sync>;
#else
using real_backends = ::testing::Types<handoff::detail::portable_sync>;
#endif

// Typed-suite configurations per backend: `on_backends<FutexConfigs, PortableConfigs>` is the list the suite
// runs, the two lists joined, or only the one of a backend left out above (give `::testing::Types<>` for
// futex where HANDOFF_HAVE_FUTEX is undefined).
template <class A, class B>
struct join_types;
template <class... A, class... B>
struct join_types<::testing::Types<A...>, ::testing::Types<B...>> {
  using type = ::testing::Types<A..., B...>;
};
template <class FutexConfigs, class PortableConfigs>
using on_backends = typename join_types<
#if defined(HANDOFF_TEST_ON_FUTEX)
    FutexConfigs,
#else
    ::testing::Types<>,
#endif
#if defined(HANDOFF_TEST_ON_PORTABLE)
    PortableConfigs
#else
    ::testing::Types<>
#endif
    >::type;

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
