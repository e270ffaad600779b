// A linearizability checker for FIFO queue histories (Wing & Gong search with Lowe's memoisation).
//
// A history is a list of completed operations, each with an invocation and a response stamp taken from one
// shared counter (so stamps order real time). The checker looks for a sequential order that respects real
// time (an operation that returned before another was invoked comes first) and that a bounded FIFO queue of
// the given capacity accepts: a push that said ok enqueues, a push that said full saw a full queue, a pop
// that got v dequeued v, a pop that said empty saw an empty queue. Histories are kept small (<= 64
// operations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace handoff_test {

struct queue_op {
  enum class kind { push_ok, push_full, pop_value, pop_empty } what;
  std::uint64_t value = 0;  // pushed or popped value
  std::uint64_t invoked = 0, returned = 0;
};

class fifo_linearizability {
 public:
  // capacity: SIZE_MAX for unbounded.
  fifo_linearizability(std::vector<queue_op> history, std::size_t capacity)
      : ops_(std::move(history)), capacity_(capacity) {}

  bool check() {
    if (ops_.size() > 64) return false;  // the bitmask below holds 64 operations
    std::deque<std::uint64_t> q;
    return search(0, q);
  }

  std::string describe() const {
    std::string s;
    for (const auto& op : ops_) {
      static const char* names[] = {"push", "push(full)", "pop", "pop(empty)"};
      s += std::string(names[static_cast<int>(op.what)]) + " " + std::to_string(op.value) + " [" +
           std::to_string(op.invoked) + "," + std::to_string(op.returned) + "]\n";
    }
    return s;
  }

 private:
  bool search(std::uint64_t done, std::deque<std::uint64_t>& q) {
    if (done == full_mask()) return true;
    if (!seen_.insert({done, std::vector<std::uint64_t>(q.begin(), q.end())}).second) return false;
    // The earliest response among pending operations: only operations invoked before it may go next.
    std::uint64_t horizon = UINT64_MAX;
    for (std::size_t i = 0; i < ops_.size(); ++i)
      if (!(done >> i & 1) && ops_[i].returned < horizon) horizon = ops_[i].returned;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (done >> i & 1 || ops_[i].invoked > horizon) continue;
      const queue_op& op = ops_[i];
      const std::uint64_t next = done | (std::uint64_t{1} << i);
      switch (op.what) {
        case queue_op::kind::push_ok:
          if (q.size() >= capacity_) break;
          q.push_back(op.value);
          if (search(next, q)) return true;
          q.pop_back();
          break;
        case queue_op::kind::push_full:
          if (q.size() == capacity_ && search(next, q)) return true;
          break;
        case queue_op::kind::pop_value:
          if (q.empty() || q.front() != op.value) break;
          q.pop_front();
          if (search(next, q)) return true;
          q.push_front(op.value);
          break;
        case queue_op::kind::pop_empty:
          if (q.empty() && search(next, q)) return true;
          break;
      }
    }
    return false;
  }

  std::uint64_t full_mask() const {
    return ops_.size() == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << ops_.size()) - 1;
  }

  std::vector<queue_op> ops_;
  std::size_t capacity_;
  std::set<std::pair<std::uint64_t, std::vector<std::uint64_t>>> seen_;
};

}  // namespace handoff_test
