// G-4 for mvar's general paths: everything a thread did before put / swap happens-before everything the
// thread that receives the value does after take / read / swap returns it. The producer writes plain
// (non-atomic) memory, then hands over a pointer to it; the consumer reads that memory after its call
// returns. Nothing else orders the two threads (handshakes are waiting() snapshots, which order the
// consumer's registration before the producer's write, never the write before the read; the threads are
// joined only after the reads), so under ThreadSanitizer (preset tsan) a broken release / acquire pair in the
// library is reported as a data race; other builds check the payloads' contents.
//
// Paths: the uncontended put -> take (BUSY release / claim acquire), a put handing to a waiting taker (served
// by a move, waiter::complete / await), the same for a T whose move may throw (served by hand-over of BUSY,
// mvar.hpp invariant 8), a waiting reader served a copy, a waiting swapper, and a waiting putter whose value
// a take moves in (the putter's writes reach the next taker).
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <thread>

#include "support/backends.hpp"
#include "support/watchdog.hpp"

namespace {

using handoff_test::get_or_abort;
using handoff_test::until;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRounds = 200;
#else
constexpr int kRounds = 1000;
#endif

struct payload {
  std::uint64_t seq = 0;
  std::array<std::uint64_t, 6> words{};
};
void write_payload(payload& p, std::uint64_t seq) {
  p.seq = seq;
  p.words.fill(seq * 3 + 1);
}
bool payload_ok(const payload& p, std::uint64_t seq) {
  for (std::uint64_t w : p.words)
    if (w != seq * 3 + 1) return false;
  return p.seq == seq;
}

// The value handed over: a pointer to plain memory. `plain` moves without throwing; `handed` may throw (it
// never does), so waiting takers are served by hand-over.
struct plain {
  payload* p = nullptr;
};
struct handed {
  payload* p = nullptr;
  explicit handed(payload* q) noexcept : p(q) {}
  handed(const handed&) = default;
  handed(handed&& o) noexcept(false) : p(o.p) {}  // NOLINT: deliberately not noexcept
  handed& operator=(const handed&) = default;
};

template <class Sync>
class MvarHappensBeforeTest : public ::testing::Test {};
TYPED_TEST_SUITE(MvarHappensBeforeTest, handoff_test::real_backends, handoff_test::backend_names);

template <class V, class Sync>
void put_then_take_uncontended() {
  for (int round = 0; round < kRounds; ++round) {
    handoff::mvar<V, Sync> m;
    payload data;
    auto consumer = std::async(std::launch::async, [&] {
      auto r = m.take_for(handoff_test::hang_bound);  // usually finds the box full: the uncontended take
      return r && payload_ok(*r->p, static_cast<std::uint64_t>(round));
    });
    write_payload(data, static_cast<std::uint64_t>(round));
    m.put(V{&data});
    EXPECT_TRUE(get_or_abort(std::move(consumer), "take_for")) << round;
  }
}

TYPED_TEST(MvarHappensBeforeTest, G4_PutThenTake) {  // G-4, MV-2, MV-5
  put_then_take_uncontended<plain, TypeParam>();
  put_then_take_uncontended<handed, TypeParam>();
}

template <class V, class Sync>
void put_to_waiting_taker(bool by_swap) {
  for (int round = 0; round < kRounds; ++round) {
    handoff::mvar<V, Sync> m;
    payload data, mine;
    auto consumer = std::async(std::launch::async, [&] {
      if (by_swap) {
        const V old = m.swap(V{&mine});
        return payload_ok(*old.p, static_cast<std::uint64_t>(round));
      }
      const V got = m.take();
      return payload_ok(*got.p, static_cast<std::uint64_t>(round));
    });
    until([&] { return m.waiting().takers == 1; }, "the taker registered");
    write_payload(data, static_cast<std::uint64_t>(round));
    m.put(V{&data});
    EXPECT_TRUE(get_or_abort(std::move(consumer), "take / swap")) << round;
    if (by_swap) {
      EXPECT_EQ(m.take().p, &mine);
    }
  }
}

TYPED_TEST(MvarHappensBeforeTest, G4_PutHandsToAWaitingTaker) {  // G-4, MV-3
  put_to_waiting_taker<plain, TypeParam>(false);
}
TYPED_TEST(MvarHappensBeforeTest, G4_PutHandsTheBoxOverToAWaitingTaker) {  // G-4, MV-3, invariant 8
  put_to_waiting_taker<handed, TypeParam>(false);
}
TYPED_TEST(MvarHappensBeforeTest, G4_PutServesAWaitingSwapper) {  // G-4, MV-9
  put_to_waiting_taker<plain, TypeParam>(true);
  put_to_waiting_taker<handed, TypeParam>(true);
}

TYPED_TEST(MvarHappensBeforeTest, G4_PutServesAWaitingReader) {  // G-4, MV-9
  for (int round = 0; round < kRounds; ++round) {
    handoff::mvar<plain, TypeParam> m;
    payload data;
    auto reader = std::async(std::launch::async, [&] {
      const plain got = m.read();
      return payload_ok(*got.p, static_cast<std::uint64_t>(round));
    });
    until([&] { return m.waiting().readers == 1; }, "the reader registered");
    write_payload(data, static_cast<std::uint64_t>(round));
    m.put(plain{&data});
    EXPECT_TRUE(get_or_abort(std::move(reader), "read")) << round;
  }
}

// A putter waits on a full box; a take moves its value in; a second take receives it. The putter wrote its
// payload before put (before registering), so it happens-before the second take's return. The consumer must
// not learn of the registration through the mvar's lock (that would order the write before the read by
// itself): a watcher thread sees it through waiting() and tells the consumer with a relaxed flag, which
// orders nothing.
TYPED_TEST(MvarHappensBeforeTest, G4_WaitingPutterReachesTheNextTaker) {  // G-4, MV-4
  for (int round = 0; round < kRounds; ++round) {
    handoff::mvar<plain, TypeParam> m;
    payload first, second;
    m.put(plain{&first});
    auto putter = std::async(std::launch::async, [&] {
      write_payload(second, static_cast<std::uint64_t>(round));
      m.put(plain{&second});
    });
    std::atomic<bool> registered{false};
    std::jthread watcher([&] {
      until([&] { return m.waiting().putters == 1; }, "the putter registered");
      registered.store(true, std::memory_order_relaxed);  // relaxed: deliberately orders nothing
    });
    until([&] { return registered.load(std::memory_order_relaxed); }, "the watcher saw the putter");
    EXPECT_EQ(m.take().p, &first);
    const plain got = m.take();  // the putter's value, moved in by the take above
    EXPECT_TRUE(payload_ok(*got.p, static_cast<std::uint64_t>(round))) << round;
    get_or_abort(std::move(putter), "put");
  }
}

}  // namespace
