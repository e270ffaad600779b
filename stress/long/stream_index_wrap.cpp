// handoff_index_wrap: a long check, not part of ctest (about 20 s per capacity at -O2, far more under a
// sanitizer). stream's head and tail indices are 29 bits and wrap; the slot turns and every distance are
// computed modulo 2^29. This drives one stream to the wrap (lock-step try_push/try_pop pairs on one thread,
// so the ring-equals-capacity fast path proves room every time), then walks a full stream across it (see
// check()). A stream that kept a lagging copy of the head
// failed it: the copy wrapped and a try_push on the full stream claimed a slot that only a future pop frees
// (review finding; the bounded wait below turns that hang into a failure).
// Run: build/release/stress/long/handoff_index_wrap   (exit 0: PASS; 1: FAIL with the reason)
#include <handoff/stream.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t unbounded_cap = std::numeric_limits<std::size_t>::max();

int fail(const char* what, std::size_t capacity) {
  std::printf("handoff_index_wrap: FAIL (capacity %zu): %s\n", capacity, what);
  return 1;
}

// Bounded: lock-step pairs up to just before the wrap, then fill the stream and walk the tail across the
// wrap one index at a time with the stream full: at every step try_push must answer full (at once), then
// one pop (FIFO checked) and one push. Unbounded: the same walk with the ring full, where each push must go
// to the overflow list without waiting; the overflow is drained at the end, after the ring, in order.
int check(std::size_t capacity) {
  const bool unbounded = capacity == unbounded_cap;
  auto s = unbounded ? std::make_unique<handoff::stream<std::uint64_t>>(handoff::unbounded)
                     : std::make_unique<handoff::stream<std::uint64_t>>(capacity);
  const std::uint64_t fill = unbounded ? handoff::stream<std::uint64_t>::unbounded_ring_size : capacity;
  const std::uint64_t lock_step = (std::uint64_t{1} << 29) - fill - 64;
  const std::uint64_t walk = 128 + 2 * fill;
  const auto started = std::chrono::steady_clock::now();
  for (std::uint64_t k = 0; k < lock_step; ++k) {
    if (s->try_push(std::uint64_t{k}) != handoff::status::ok)
      return fail("try_push on an empty stream", capacity);
    std::uint64_t out = 0;
    if (s->try_pop(out) != handoff::status::ok || out != k)
      return fail("try_pop lost or reordered", capacity);
  }
  std::uint64_t next_push = 0, next_pop = 0;
  for (std::uint64_t k = 0; k < fill; ++k) {
    if (s->try_push(std::uint64_t{next_push++}) != handoff::status::ok) return fail("filling", capacity);
  }
  std::vector<std::uint64_t> overflowed;
  for (std::uint64_t step = 0; step < walk; ++step) {
    // Must return at once: a bounded wait turns a hang into a failure; it is not a timing assertion.
    const std::uint64_t extra = (std::uint64_t{1} << 40) + step;
    auto answer = std::async(std::launch::async, [&] { return s->try_push(std::uint64_t{extra}); });
    if (answer.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      std::printf("handoff_index_wrap: FAIL (capacity %zu): try_push on a full stream did not return\n",
                  capacity);
      std::fflush(stdout);
      std::abort();  // the blocked thread cannot be joined
    }
    const handoff::status st = answer.get();
    if (!unbounded && st != handoff::status::full) return fail("try_push on a full stream", capacity);
    if (unbounded) {
      if (st != handoff::status::ok) return fail("unbounded try_push", capacity);
      overflowed.push_back(extra);
    }
    if (unbounded) continue;  // with values in the overflow list the ring no longer takes pushes
    std::uint64_t out = 0;
    if (s->try_pop(out) != handoff::status::ok || out != next_pop++)
      return fail("FIFO across the wrap", capacity);
    if (s->try_push(std::uint64_t{next_push++}) != handoff::status::ok)
      return fail("push after a pop", capacity);
  }
  while (next_pop < next_push) {
    std::uint64_t out = 0;
    if (s->try_pop(out) != handoff::status::ok || out != next_pop++)
      return fail("draining the ring", capacity);
  }
  for (std::uint64_t expected : overflowed) {
    std::uint64_t out = 0;
    if (s->try_pop(out) != handoff::status::ok || out != expected)
      return fail("draining the overflow", capacity);
  }
  std::uint64_t out = 0;
  if (s->try_pop(out) != handoff::status::empty) return fail("empty at the end", capacity);
  std::printf(
      "handoff_index_wrap: capacity %s: walked the full stream across the 2^29 index wrap in %.1f s: ok\n",
      unbounded ? "unbounded" : std::to_string(capacity).c_str(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

}  // namespace

int main() {
  for (std::size_t capacity : {std::size_t{4}, std::size_t{3}, unbounded_cap})
    if (check(capacity) != 0) return 1;
  std::printf("handoff_index_wrap: PASS\n");
  return 0;
}
