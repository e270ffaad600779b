// Lag scenarios of topic<T> under drop_oldest for the deterministic scheduler (det_sync.hpp), written once
// over the topic's interface so that the real topic (tests/unit/topic_lag_test.cpp) and two deliberately
// broken one-subscriber fan-outs built here (tests/unit/topic_lag_planted_test.cpp, WILL_FAIL) run the same
// body.
//
// The rule checked (topic.hpp, Lag): per subscriber, values popped + values lagged + values left in its
// buffer == values published to it; for a subscriber that left and drained its buffer to end-of-stream,
// popped + take_lag() == published to it, whatever a drop_oldest publisher was doing meanwhile.
//
// Planted (test tree only): a drop_oldest publish finds the buffer full and makes room by popping its oldest
// value; the broken fan-outs count that drop wrongly.
//   drop_then_count:   pops, then raises the lag. A subscriber that drains to end-of-stream between the two
//                      and reads its lag gets one too few (the order topic.hpp had before issue 16).
//   count_then_uncount: raises the lag, pops, and lowers it again when the pop found nothing (the subscriber
//                      had just popped everything). A subscriber that reads its lag between the two counts
//                      a value it also popped: one too many.
#pragma once

#include <handoff/status.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "det_sync.hpp"

namespace handoff_test::topic_lag_scenarios {

// ST-8 lag under drop_oldest: a full subscriber leaves and drains to end-of-stream while a publisher makes
// room in its buffer by dropping the oldest value. Its one take_lag() after the drain must count that drop
// if the drop took a value (the value is gone, so the drain cannot have popped it).
template <class Topic>
void drained_subscriber_counts_drop_in_flight() {
  Topic t{1, handoff::overflow_policy::drop_oldest};
  auto s = t.subscribe();
  std::size_t published_to_s = t.publish(1);  // s is full
  DET_CHECK(published_to_s == 1);
  std::size_t popped = 0;
  std::uint64_t lag = 0;
  {
    det_thread publisher([&] { published_to_s += t.publish(2); }, "publisher");
    det_thread leaver(
        [&] {
          s.unsubscribe();
          while (s.pop()) ++popped;
          lag = s.take_lag();
        },
        "leaver");
  }
  DET_CHECK_MSG(popped + lag == published_to_s, "popped " + std::to_string(popped) + " + lag " +
                                                    std::to_string(lag) + " != published to it " +
                                                    std::to_string(published_to_s));
}

// A one-subscriber drop_oldest fan-out with the interface the scenario uses, counting drops in a planted
// wrong order (see the header). Publishes are not concurrent with each other in the scenarios.
enum class lag_bug { drop_then_count, count_then_uncount };

template <lag_bug Bug>
class planted_drop_topic {
 public:
  using buffer_type = handoff::stream<int, det_sync>;

  class subscription {
   public:
    void unsubscribe() noexcept { buffer_->close(); }
    std::optional<int> pop() { return buffer_->pop(); }
    std::uint64_t take_lag() noexcept { return lag_->exchange(0); }

   private:
    friend class planted_drop_topic;
    subscription(buffer_type* b, det_atomic<std::uint64_t>* lag) : buffer_(b), lag_(lag) {}
    buffer_type* buffer_;
    det_atomic<std::uint64_t>* lag_;
  };

  planted_drop_topic(std::size_t capacity, handoff::overflow_policy) : buffer_(capacity) {}

  subscription subscribe() { return subscription(&buffer_, &lag_); }

  std::size_t publish(int v) {
    handoff::status r;
    while ((r = buffer_.try_push(int(v))) == handoff::status::full) {
      if constexpr (Bug == lag_bug::drop_then_count) {
        if (buffer_.try_pop()) lag_.fetch_add(1);  // BUG: the value is gone before it is counted
      } else {
        lag_.fetch_add(1);
        if (!buffer_.try_pop()) lag_.fetch_sub(1);  // BUG: the count was visible for a value not dropped
      }
    }
    return r == handoff::status::ok ? 1 : 0;
  }

 private:
  buffer_type buffer_;
  det_atomic<std::uint64_t> lag_{0};
};

}  // namespace handoff_test::topic_lag_scenarios
