// Replaces the global operator new/delete of the test binary that includes it (include it from exactly one
// .cpp) with counting versions, so "no allocation per operation" is measured, not assumed: read
// allocation_count() before and after the section under test.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__GNUC__) && !defined(__clang__)
// g++ 12 flags free() on memory from a replaced operator new once both are inlined; they do match here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// clang links its sanitizer runtimes statically, and they define operator new themselves: under clang's TSan
// or ASan the replacement is left out and tests that count allocations skip (the default build still counts).
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define HANDOFF_TEST_NO_COUNTING_NEW 1
#endif
#endif

namespace handoff_test {
inline std::atomic<long> g_allocation_count{0};
inline long allocation_count() {
  return g_allocation_count.load(std::memory_order_relaxed);
}
#if defined(HANDOFF_TEST_NO_COUNTING_NEW)
inline constexpr bool allocation_counting = false;
#else
inline constexpr bool allocation_counting = true;
#endif
}  // namespace handoff_test

#if !defined(HANDOFF_TEST_NO_COUNTING_NEW)

void* operator new(std::size_t n) {
  handoff_test::g_allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
#endif  // !HANDOFF_TEST_NO_COUNTING_NEW
