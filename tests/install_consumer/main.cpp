// Downstream smoke test: the installed headers and library are usable, and each primitive compiles cleanly
// under the consumer's strict warnings (run.cmake and CMakeLists.txt add -Wconversion -Wsign-conversion).
#include <handoff/handoff.hpp>

// run.cmake's C++23 consumer: the standard the consumer chose survived the pkg-config flags.
#if defined(HANDOFF_CONSUMER_EXPECT_CXX23)
static_assert(__cplusplus > 202002L, "pkg-config --cflags handoff lowered the consumer's C++ standard");
#endif

int main() {
  handoff::mvar<int> box;
  box.put(42);
  int got = box.take();

  handoff::stream<int> bounded(4);
  if (!bounded.push(1)) return 1;
  got += bounded.pop().value_or(0);
  handoff::stream<int> unbounded(handoff::unbounded);
  if (!unbounded.push(1)) return 1;
  got += unbounded.pop().value_or(0);

  handoff::topic<int> news(2);
  auto subscriber = news.subscribe();
  if (news.publish(1) != 1) return 1;
  got += subscriber.pop().value_or(0);

  handoff::condition<int> values;
  if (values.signal(1) != 0) return 1;  // nobody waits
  return got == 45 ? 0 : 1;
}
