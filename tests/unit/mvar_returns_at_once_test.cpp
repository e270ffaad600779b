// MV-2 "put(v) on an empty mvar that no taker waits for stores v and returns at once" and MV-5 "take() on a
// full mvar returns the value at once": "at once" means never parks (docs/semantics.md). Checked by counting
// the calling thread's park and park_until calls through the Sync policy (tests/support/counting_sync.hpp),
// in a scope where a park fails the test (an untimed one aborts with a message naming the scope, a timed
// one comes back as "deadline passed"), and while other threads wait on OTHER mvars of the same type: their
// takers, putters and readers are queued and parked, and must not turn this mvar's operations into waits
// (nothing global, such as a shared waiter count or the portable backend's shared parking slots, may
// leak into the fast path). Also on an mvar whose own taker left (stop request): its flag is gone and put
// is fast again. The same counts must show no lock and no other Sync call either (G-6).
#include <handoff/mvar.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stop_token>
#include <utility>
#include <vector>

#include "support/backends.hpp"
#include "support/counting_sync.hpp"
#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
using handoff::status;
using handoff_test::counted;
using handoff_test::get_or_abort;
using handoff_test::sync_counts;
using handoff_test::until;

constexpr int kRounds = 200;

template <class Base>
class MvarReturnsAtOnce : public ::testing::Test {
 protected:
  using sync = handoff_test::counting_sync<Base>;
  using box = handoff::mvar<int, sync>;

  // Threads waiting on other mvars for the whole test: two takers on an empty one, a putter on a full one,
  // a reader on an empty one. Each registration is seen in a waiting() snapshot before the test body runs.
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      takers_.push_back(std::async(std::launch::async, [this] { return empty_with_takers_.take(); }));
      until([&] { return empty_with_takers_.waiting().takers == static_cast<std::size_t>(i) + 1; },
            "taker on another mvar registered");
    }
    putter_ = std::async(std::launch::async, [this] { full_with_putter_.put(2); });
    until([&] { return full_with_putter_.waiting().putters == 1; }, "putter on another mvar registered");
    reader_ = std::async(std::launch::async, [this] { return empty_with_reader_.read(); });
    until([&] { return empty_with_reader_.waiting().readers == 1; }, "reader on another mvar registered");
  }

  // The other mvars' waiters are still there (nothing served them by accident), then they are released.
  void TearDown() override {
    EXPECT_EQ(empty_with_takers_.waiting().takers, 2u);
    EXPECT_EQ(full_with_putter_.waiting().putters, 1u);
    EXPECT_EQ(empty_with_reader_.waiting().readers, 1u);
    empty_with_takers_.put(10);
    empty_with_takers_.put(11);
    int sum = 0;
    for (auto& t : takers_) sum += get_or_abort(std::move(t), "taker on another mvar");
    EXPECT_EQ(sum, 21);
    EXPECT_EQ(full_with_putter_.take(), 1);
    get_or_abort(std::move(putter_), "putter on another mvar");
    EXPECT_EQ(full_with_putter_.take(), 2);
    empty_with_reader_.put(3);
    EXPECT_EQ(get_or_abort(std::move(reader_), "reader on another mvar"), 3);
  }

  static void expect_at_once(const sync_counts& c, const char* rule) {
    EXPECT_EQ(c.park + c.park_until, 0u) << rule << ": parked " << c;
    EXPECT_EQ(c, sync_counts{}) << "G-6 (others waiting elsewhere): " << rule << " " << c;
  }

  box empty_with_takers_;
  box full_with_putter_{1};
  box empty_with_reader_;
  std::vector<std::future<int>> takers_;
  std::future<void> putter_;
  std::future<int> reader_;
};
TYPED_TEST_SUITE(MvarReturnsAtOnce, handoff_test::real_backends, handoff_test::backend_names);

TYPED_TEST(MvarReturnsAtOnce, MV2_PutOnEmptyWithNoTakerNeverParks) {
  typename TestFixture::box m;
  for (int i = 0; i < kRounds; ++i) {
    TestFixture::expect_at_once(counted("MV-2 put", [&] { m.put(int{i}); }), "MV-2 put");
    ASSERT_FALSE(m.is_empty()) << "MV-2: put stores v";
    ASSERT_EQ(m.take(), i);
    TestFixture::expect_at_once(counted("MV-2 try_put", [&] { EXPECT_EQ(m.try_put(int{i}), status::ok); }),
                                "MV-2 try_put");
    ASSERT_EQ(m.take(), i);
    TestFixture::expect_at_once(
        counted("MV-2 put_for", [&] { EXPECT_EQ(m.put_for(int{i}, 1h), status::ok); }), "MV-2 put_for");
    ASSERT_EQ(m.take(), i);
  }
}

TYPED_TEST(MvarReturnsAtOnce, MV5_TakeOnFullNeverParks) {
  typename TestFixture::box m;
  for (int i = 0; i < kRounds; ++i) {
    m.put(int{i});
    TestFixture::expect_at_once(counted("MV-5 take", [&] { EXPECT_EQ(m.take(), i); }), "MV-5 take");
    ASSERT_TRUE(m.is_empty()) << "MV-5: take empties the box";
    m.put(int{i});
    TestFixture::expect_at_once(counted("MV-5 try_take", [&] { EXPECT_EQ(*m.try_take(), i); }),
                                "MV-5 try_take");
    m.put(int{i});
    TestFixture::expect_at_once(counted("MV-5 take_for", [&] { EXPECT_EQ(*m.take_for(1h), i); }),
                                "MV-5 take_for");
  }
}

// An mvar whose only taker gave up (stop request) has no taker waiting any more: MV-2 and MV-5 apply to it
// again, at once.
TYPED_TEST(MvarReturnsAtOnce, MV2_MV5_AfterTheOnlyTakerLeft) {
  typename TestFixture::box m;
  std::stop_source stop;
  auto leaver = std::async(std::launch::async, [&] { return m.take(stop.get_token()).status(); });
  until([&] { return m.waiting().takers == 1; }, "taker registered");
  stop.request_stop();
  EXPECT_EQ(get_or_abort(std::move(leaver), "cancelled taker"), status::cancelled);
  ASSERT_EQ(m.waiting().takers, 0u);
  for (int i = 0; i < kRounds; ++i) {
    TestFixture::expect_at_once(counted("MV-2 put after a taker left", [&] { m.put(int{i}); }),
                                "MV-2 put after a taker left");
    TestFixture::expect_at_once(counted("MV-5 take after a taker left", [&] { EXPECT_EQ(m.take(), i); }),
                                "MV-5 take after a taker left");
  }
}

}  // namespace
