// ctest neighbours_light: every handoff primitive compiles and runs after the light neighbours and the
// windows.h-style min/max macros of neighbours.hpp (issue 16). Each public header is also compiled on its own
// after the same prelude, in a TU CMake generates (tests/CMakeLists.txt, neighbours block), so a header that
// only compiles because another one was included first is caught too. The checks are single-threaded or
// synchronise through the primitives themselves; no gtest, whose headers would have to come before the
// macros.
#include "neighbours/neighbours.hpp"

#include <handoff/handoff.hpp>

#include "neighbours/use_handoff.hpp"

int main() {
  using handoff_neighbours::check;
  int failures = handoff_neighbours::use_handoff();
#if defined(HANDOFF_HAVE_MOODYCAMEL)
  {
    moodycamel::BlockingConcurrentQueue<int> queue;
    int v = 0;
    failures += check(queue.enqueue(1) && queue.try_dequeue(v) && v == 1, "moodycamel queue");
  }
#endif
#if defined(HANDOFF_HAVE_ATOMIC_QUEUE)
  {
    atomic_queue::AtomicQueue2<int, 8> queue;
    int v = 0;
    failures += check(queue.try_push(1) && queue.try_pop(v) && v == 1, "atomic_queue");
  }
#endif
  return failures == 0 ? 0 : 1;
}
