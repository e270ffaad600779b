// topic<T> when T's move constructor throws (rule G-8, topic.hpp "Exceptions"): on every path of topic's own
// where a move can throw, the exception reaches the caller (publisher or popper), the topic stays usable, and
// no value is lost without a trace: per subscriber, popped + lagged + left in its buffer == published to it
// (ST-8's lag). The copy-constructor paths are in topic_test.cpp (G8_ThrowingCopy*). Single-threaded and
// deterministic, on both parking backends.
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "support/backends.hpp"

namespace {

using handoff::overflow_policy;

// A value whose move constructor throws when the value it moves holds `throw_on_move_of`.
struct touchy {
  static inline int throw_on_move_of = -1;  // -1: never throw
  int v = 0;
  explicit touchy(int x) : v(x) {}
  touchy(const touchy&) = default;
  touchy(touchy&& o) : v(o.v) {
    if (v == throw_on_move_of) throw std::runtime_error("move failed");
  }
  touchy& operator=(const touchy&) = default;
  touchy& operator=(touchy&&) = default;
  ~touchy() = default;
};

// Resets the throwing value at the end of a test, whatever happened.
struct disarm {
  ~disarm() { touchy::throw_on_move_of = -1; }
};

template <class Sync>
class TopicExceptionsTest : public ::testing::Test {};
TYPED_TEST_SUITE(TopicExceptionsTest, handoff_test::real_backends, handoff_test::backend_names);

// G-8, drop_oldest: the move that takes the oldest value out of a full buffer to drop it throws. That value
// is gone (the stream destroys it) and counted as lag; the publish throws before this subscriber got the new
// value, so the new value is lag too, for it and for every subscriber after it.
TYPED_TEST(TopicExceptionsTest, G8_ThrowingMoveOfTheDroppedValueCountsItAndTheNewOne) {
  disarm guard;
  handoff::topic<touchy, TypeParam> t{1, overflow_policy::drop_oldest};
  auto a = t.subscribe();
  auto b = t.subscribe();
  ASSERT_EQ(t.publish(touchy(1)), 2u);  // both full
  touchy::throw_on_move_of = 1;         // a's 1 throws as the drop moves it out
  EXPECT_THROW(t.publish(touchy(2)), std::runtime_error);
  touchy::throw_on_move_of = -1;
  EXPECT_EQ(a.take_lag(), 2u);          // 1 (dropped, destroyed) and 2 (never delivered)
  EXPECT_EQ(a.size(), 0u);              // nothing left: popped 0 + lag 2 + left 0 == published 2
  EXPECT_EQ(b.take_lag(), 1u);          // 2, not delivered: the publish ended at a
  EXPECT_EQ(b.pop()->v, 1);             // b's 1 was never touched
  EXPECT_EQ(t.publish(touchy(3)), 2u);  // the token was released, the buffers are usable
  EXPECT_EQ(a.pop()->v, 3);
  EXPECT_EQ(b.pop()->v, 3);
  EXPECT_EQ(a.take_lag(), 0u);
  EXPECT_EQ(b.take_lag(), 0u);
}

// G-8, both policies: the move of a subscriber's copy into its buffer throws. The copy stays with the
// publisher (stream.hpp, Exceptions) and is destroyed; the publish throws; that subscriber and the ones after
// it get lag; the buffer kept no hole (its capacity is whole again).
TYPED_TEST(TopicExceptionsTest, G8_ThrowingMoveIntoABufferCountsLagAndKeepsTheTopicUsable) {
  for (auto policy : {overflow_policy::wait, overflow_policy::drop_oldest}) {
    disarm guard;
    handoff::topic<touchy, TypeParam> t{1, policy};
    auto a = t.subscribe();
    auto b = t.subscribe();
    touchy::throw_on_move_of = 5;
    EXPECT_THROW(t.publish(touchy(5)), std::runtime_error);
    touchy::throw_on_move_of = -1;
    EXPECT_EQ(a.take_lag(), 1u);
    EXPECT_EQ(b.take_lag(), 1u);
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(b.size(), 0u);
    auto r = t.try_publish(touchy(6));  // capacity 1 is whole again: all or nothing succeeds
    EXPECT_EQ(r.result, handoff::status::ok);
    EXPECT_EQ(r.delivered, 2u);
    EXPECT_EQ(a.pop()->v, 6);
    EXPECT_EQ(b.pop()->v, 6);
  }
}

// G-8: a subscription pop whose move throws lost its value (the stream destroys it, stream.hpp, Exceptions):
// the subscription counts it as lag, so popped + lagged + left == published holds; the result, T&, batch
// and iteration forms alike. The values behind it are untouched.
TYPED_TEST(TopicExceptionsTest, G8_ThrowingMoveOutOfTheBufferCountsTheValueAsLag) {
  using namespace std::chrono_literals;
  disarm guard;
  handoff::topic<touchy, TypeParam> t{8};
  auto sub = t.subscribe();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(t.publish(touchy(i)), 1u);
  touchy::throw_on_move_of = 1;
  EXPECT_THROW((void)sub.try_pop(), std::runtime_error);
  EXPECT_EQ(sub.take_lag(), 1u);
  touchy::throw_on_move_of = 2;
  touchy out(0);
  EXPECT_THROW((void)sub.pop_for(out, 1h), std::runtime_error);
  touchy::throw_on_move_of = 3;
  EXPECT_THROW(
      {
        for (auto&& v : sub) (void)v;  // comparing with end() fetches: that pop throws
      },
      std::runtime_error);
  touchy::throw_on_move_of = 4;
  std::vector<touchy> batch;
  EXPECT_THROW((void)sub.try_pop_some(std::back_inserter(batch), 8), std::runtime_error);
  touchy::throw_on_move_of = -1;
  EXPECT_EQ(sub.take_lag(), 3u);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(sub.pop()->v, 5);  // popped 1 + lagged 4 + left 0 == published 5
  EXPECT_EQ(sub.size(), 0u);
  EXPECT_EQ(t.publish(touchy(6)), 1u);
  EXPECT_EQ(sub.pop()->v, 6);
}

}  // namespace
