// A stream may be destroyed as soon as the operation that waited for a step returned, even while the thread
// that made the step is still inside its push or pop (a one-shot reply channel: the popper destroys the
// stream right after its pop). A ring step's read-modify-write of the slot's turn is its last touch of the
// slot, and a hooked step's hook runs under a pin (detail/stream_ring.hpp, stream.hpp invariant 12). A step
// that touched the slot after making its value visible (a plain store, then a load: tried on 2026-12-04,
// commit 5c62b25, docs/design/stream.md) needs more; this test is the regression guard: under
// AddressSanitizer a step that touches a freed ring is reported, and the value must always arrive.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <thread>

namespace {

void destroy_right_after_pop(long capacity) {
  const int rounds = 2000;
  for (int round = 0; round < rounds; ++round) {
    auto s = capacity < 0 ? std::make_unique<handoff::stream<int>>(handoff::unbounded)
                          : std::make_unique<handoff::stream<int>>(capacity);
    std::thread pusher([p = s.get(), round] { ASSERT_TRUE(p->push(round)); });
    std::optional<int> v = s->pop();
    s.reset();  // the pusher may not have returned from its push yet
    pusher.join();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, round);
  }
}

TEST(StreamLifetimeTest, PopperDestroysARendezvousStreamRightAfterItsPop) {
  destroy_right_after_pop(0);
}
TEST(StreamLifetimeTest, PopperDestroysAOneSlotStreamRightAfterItsPop) {
  destroy_right_after_pop(1);
}
TEST(StreamLifetimeTest, PopperDestroysAnUnboundedStreamRightAfterItsPop) {
  destroy_right_after_pop(-1);
}

}  // namespace
