// Channel scenarios for the deterministic scheduler (tests/support/det_sync.hpp), written once over an
// adapter so that mvar, stream (every capacity) and future channels run the same bodies. Each function is the
// body of one det run: it creates its channel and det threads, and checks with DET_CHECK that every value is
// delivered exactly once or stays with its sender (G-2) and that nobody is left waiting (G-1: a lost wakeup
// is a DEADLOCK of the run).
//
// An adapter A provides, for values of type item (std::unique_ptr<std::uint64_t>, so "left with the caller"
// is observable as a non-null pointer):
//   using channel = ...;                               default-constructible, empty
//   static constexpr std::size_t capacity;             values buffered without a receiver (SIZE_MAX:
//   unbounded) static void send(channel&, item&&);                waits for room static item
//   receive(channel&);                     waits for a value static std::optional<item>
//   try_receive(channel&); static std::optional<item> receive_for(channel&, std::chrono::hours); static
//   std::optional<item> receive(channel&, std::stop_token); static handoff::status send_for(channel&, item&,
//   std::chrono::hours);   ok | timeout; item kept unless ok static handoff::status send(channel&, item&,
//   std::stop_token);          ok | cancelled; the same static std::size_t waiting_senders(channel&);
//   diagnostic snapshot: senders queued
#pragma once

#include <handoff/status.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "det_sync.hpp"

namespace handoff_test::det_scenarios {

using item = std::unique_ptr<std::uint64_t>;
using handoff::status;

// Far deadlines: under det_sync only the scheduler decides when they pass.
inline constexpr std::chrono::hours far{1};

inline item make(std::uint64_t v) {
  return std::make_unique<std::uint64_t>(v);
}
inline std::uint64_t value_of(const item& i) {
  return i ? *i : ~std::uint64_t{0};
}

// Values a channel can hold before a sender waits: what the scenarios prefill to make the next sender wait.
template <class A>
constexpr std::size_t prefill_count() {
  return A::capacity == std::numeric_limits<std::size_t>::max() ? 0 : A::capacity;
}
template <class A>
constexpr bool bounded() {
  return A::capacity != std::numeric_limits<std::size_t>::max();
}

template <class A>
std::vector<std::uint64_t> drain(typename A::channel& ch) {
  std::vector<std::uint64_t> out;
  while (auto v = A::try_receive(ch)) out.push_back(value_of(*v));
  return out;
}

inline bool same_multiset(std::vector<std::uint64_t> a, std::vector<std::uint64_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

inline std::string show(const std::vector<std::uint64_t>& v) {
  std::string s = "[";
  for (auto x : v) s += std::to_string(x) + " ";
  return s + "]";
}

// G-1, MV-3 / ST-4: a send reaches a receiver that is (or is about to be) waiting.
template <class A>
void handoff_to_waiting_receiver() {
  typename A::channel ch;
  std::uint64_t got = 0;
  det_thread receiver([&] { got = value_of(A::receive(ch)); }, "receiver");
  A::send(ch, make(42));
  receiver.join();
  DET_CHECK(got == 42);
  DET_CHECK(drain<A>(ch).empty());
}

// G-3, MV-4 / ST-2: senders that wait for room are served in the order they started waiting. Sender i+1
// starts only once sender i is queued (waiting_senders) or has returned; a receiver takes everything.
template <class A>
void fifo_of_blocked_senders(std::size_t senders = 3) {
  typename A::channel ch;
  const std::size_t pre = prefill_count<A>();
  for (std::size_t i = 0; i < pre; ++i) A::send(ch, make(100 + i));
  std::vector<std::uint64_t> received;
  det_thread receiver(
      [&] {
        for (std::size_t i = 0; i < pre + senders; ++i) received.push_back(value_of(A::receive(ch)));
      },
      "receiver");
  std::vector<det_thread> threads;
  std::size_t returned = 0;  // only det threads touch it: the scheduler serialises them
  for (std::size_t i = 1; i <= senders; ++i) {
    threads.emplace_back(
        [&, i] {
          A::send(ch, make(i));
          ++returned;
        },
        "sender " + std::to_string(i));
    // Wait until sender i is queued or done: queued + returned counts senders 1..i only when i is one of
    // them.
    // Read `returned` before the queue: a sender that leaves the queue in between is then counted by neither
    // (we wait a step longer) rather than by both (sender i+1 would start before sender i queued).
    for (;;) {
      const std::size_t done = returned;
      if (A::waiting_senders(ch) + done >= i) break;
      det_yield();
    }
  }
  for (auto& t : threads) t.join();
  receiver.join();
  std::vector<std::uint64_t> expected;
  for (std::size_t i = 0; i < pre; ++i) expected.push_back(100 + i);
  for (std::size_t i = 1; i <= senders; ++i) expected.push_back(i);
  DET_CHECK_MSG(received == expected, "received " + show(received) + " expected " + show(expected));
}

// G-2: a timed (or cancellable) receive racing a send either returns the value or leaves it in the channel
// (or with the still-waiting sender): never both, never neither. `give_up` selects the racing mechanism.
enum class give_up { timeout, stop };

template <class A>
void receive_gives_up_racing_send(give_up how) {
  typename A::channel ch;
  std::stop_source stop;
  std::optional<item> got;
  det_thread receiver(
      [&] { got = how == give_up::timeout ? A::receive_for(ch, far) : A::receive(ch, stop.get_token()); },
      "receiver");
  det_thread stopper;
  if (how == give_up::stop) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
  det_thread sender([&] { A::send(ch, make(42)); }, "sender");
  receiver.join();
  stopper.join();
  std::vector<std::uint64_t> seen;
  if (got) seen.push_back(value_of(*got));
  // The value is in the channel, or (rendezvous) with a sender still waiting: receive it either way.
  if (!got) seen.push_back(value_of(A::receive(ch)));
  sender.join();
  for (auto v : drain<A>(ch)) seen.push_back(v);
  DET_CHECK_MSG(seen == std::vector<std::uint64_t>{42}, "values seen " + show(seen));
}

// G-2: a timed (or cancellable) send to a channel with no room, racing a receive. Its status is truthful:
// ok means the value went in (the item was moved from), timeout/cancelled means it stayed with the sender.
template <class A>
void send_gives_up_racing_receive(give_up how) {
  typename A::channel ch;
  if constexpr (!bounded<A>()) {
    return;  // an unbounded send never waits
  } else {
    const std::size_t pre = prefill_count<A>();
    std::vector<std::uint64_t> all;
    for (std::size_t i = 0; i < pre; ++i) {
      A::send(ch, make(100 + i));
      all.push_back(100 + i);
    }
    std::stop_source stop;
    item mine = make(7);
    status st = status::ok;
    std::uint64_t received = 0;
    det_thread sender(
        [&] {
          st = how == give_up::timeout ? A::send_for(ch, mine, far) : A::send(ch, mine, stop.get_token());
        },
        "sender");
    det_thread stopper;
    if (how == give_up::stop) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
    det_thread receiver([&] { received = value_of(A::receive(ch)); }, "receiver");
    sender.join();
    stopper.join();
    std::vector<std::uint64_t> seen;
    if (st == status::ok) {
      DET_CHECK_MSG(mine == nullptr, "send returned ok but the value stayed with the sender");
      all.push_back(7);
    } else {
      DET_CHECK(st == (how == give_up::timeout ? status::timeout : status::cancelled));
      DET_CHECK_MSG(mine != nullptr && *mine == 7, "send failed but its value is gone");
      if (mine) seen.push_back(*mine);
      all.push_back(7);
      // The receiver may still wait (rendezvous, or it came first on an empty-after-take channel): feed it.
      A::send(ch, make(8));
      all.push_back(8);
    }
    receiver.join();
    seen.push_back(received);
    for (auto v : drain<A>(ch)) seen.push_back(v);
    DET_CHECK_MSG(same_multiset(seen, all), "values seen " + show(seen) + " sent " + show(all));
  }
}

// G-2, G-3: two producers and two consumers; values are producer << 32 | seq; every value is received
// exactly once, and each consumer sees each producer's values in increasing seq (FIFO per producer).
template <class A>
void producers_consumers(std::uint64_t per_producer = 3) {
  typename A::channel ch;
  std::vector<std::uint64_t> got[2];
  auto produce = [&](std::uint64_t p) {
    for (std::uint64_t s = 0; s < per_producer; ++s) A::send(ch, make(p << 32 | s));
  };
  auto consume = [&](int c) {
    for (std::uint64_t i = 0; i < per_producer; ++i) got[c].push_back(value_of(A::receive(ch)));
  };
  det_thread p1([&] { produce(1); }, "producer 1");
  det_thread c0([&] { consume(0); }, "consumer 0");
  det_thread c1([&] { consume(1); }, "consumer 1");
  produce(2);
  p1.join();
  c0.join();
  c1.join();
  std::vector<std::uint64_t> all(got[0]);
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::vector<std::uint64_t> sent;
  for (std::uint64_t p = 1; p <= 2; ++p)
    for (std::uint64_t s = 0; s < per_producer; ++s) sent.push_back(p << 32 | s);
  DET_CHECK_MSG(same_multiset(all, sent), "received " + show(all));
  for (auto& g : got) {
    std::uint64_t last[3] = {0, 0, 0};
    bool seen_any[3] = {false, false, false};
    for (auto v : g) {
      const std::uint64_t p = v >> 32, s = v & 0xffffffffu;
      if (p < 1 || p > 2) continue;
      DET_CHECK_MSG(!seen_any[p] || s > last[p], "out of order for a producer: " + show(g));
      seen_any[p] = true;
      last[p] = s;
    }
  }
  DET_CHECK(drain<A>(ch).empty());
}

}  // namespace handoff_test::det_scenarios
