// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/loop_demux.hpp: the event-loop hand-off of the packet-demux example: the network side
// is one epoll loop that never blocks, over the UDP socket and a control channel (rules WA-1..WA-7).
//
// A caller's want_bytes(id, timeout) pushes a request {id, its reply box} into the control stream (unbounded:
// the push never blocks) and waits on its own reply box (an mvar on its stack) with the timeout. The loop
// (run_receiver's loop variant in packet_demux.cpp) sleeps in epoll_wait on the socket and on an eventfd that
// the control stream's watcher makes readable; it owns every per-id structure alone, so none of it needs a
// lock: per id, the packets that came before any request (at most `capacity`; beyond that a packet is
// counted lost, as stream_demux does) and the callers waiting, oldest first. A packet goes to the oldest
// waiting caller of its id (try_put into its reply box: never blocks, the box is empty), or is buffered; a
// request takes the oldest buffered packet, or waits in the loop's list.
// A caller whose timeout passes withdraws: it pushes a withdrawal for its box and then takes the answer,
// which the loop always gives: `timeout` if the request was still waiting, or the packet the loop had
// already put there (then the call returns it: nothing is lost in the race). finish() closes the control
// stream once the buffered packets are handed out; the loop then answers every request left with `closed`,
// and later pushes fail, so want_bytes returns closed at once.
// Callers that are coroutines (--impl=loop-coroutines) do not time out by themselves: a coroutine has no
// timer of its own (handoff's awaitable forms take a stop token, not a deadline), and the loop, which owns
// the timers in an event-driven service, answers `timeout` when a request's deadline passes (expire_due,
// next_deadline: the loop's epoll_wait sleeps no longer than that). Such a caller pushes its request
// (request_with_deadline) and co_awaits its reply box (async_take): one answer per request, always.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/coroutine.hpp>
#include <handoff/eventfd_notifier.hpp>
#include <handoff/mvar.hpp>
#include <handoff/readiness.hpp>
#include <handoff/stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "common.hpp"

namespace demux {

class loop_demux {
 public:
  loop_demux(std::size_t ids, std::size_t capacity, ledger& l)
      : capacity_(capacity), ledger_(l), buffered_(ids), waiting_(ids) {}
  loop_demux(const loop_demux&) = delete;  // the watcher links it: made in place (run_one's make returns it)
  loop_demux& operator=(const loop_demux&) = delete;

  // ---- callers (any thread)
  want_result want_bytes(std::size_t id, std::chrono::nanoseconds timeout) {
    handoff::mvar<want_result> reply;
    if (!requests_.push(request{id, &reply, false, clock::time_point::max()}))
      return {handoff::status::closed, {}};
    handoff::result<want_result> r = reply.take_for(timeout);
    if (!r) {
      (void)requests_.push(request{id, &reply, true, {}});  // fails only after finish(): answered closed then
      return reply.take();  // timeout, or the packet that crossed the withdrawal
    }
    return std::move(*r);
  }

  // A coroutine caller's request: the loop answers it in `reply` (ok, timeout at `deadline`, or closed).
  // False when the demux is finished (answered closed: nothing was queued).
  bool request_with_deadline(std::size_t id, handoff::mvar<want_result>& reply, clock::time_point deadline) {
    return requests_.push(request{id, &reply, false, deadline});
  }

  // ---- the loop (the receiver thread only)
  int control_fd() const noexcept { return wake_.fd(); }

  // Answers `timeout` to every waiting caller whose deadline has passed (callers of one id wait oldest
  // first, with one timeout, so each id's deadlines are in order).
  void expire_due(clock::time_point now) {
    for (auto& callers : waiting_) {
      while (!callers.empty() && callers.front().deadline <= now) {
        answer(callers.front().reply, {handoff::status::timeout, {}});
        callers.pop_front();
      }
    }
  }
  // The earliest deadline of a waiting caller (time_point::max() when none has one).
  clock::time_point next_deadline() const {
    clock::time_point next = clock::time_point::max();
    for (const auto& callers : waiting_) {
      if (!callers.empty()) next = std::min(next, callers.front().deadline);
    }
    return next;
  }

  // A good packet from the socket: to the oldest waiting caller of its id, else buffered, else lost.
  handoff_outcome on_packet(packet&& p) {
    handoff_outcome out;
    auto& callers = waiting_[p.id];
    if (!callers.empty()) {
      answer(callers.front().reply, {handoff::status::ok, std::move(p)});
      callers.pop_front();
      out.woken = 1;
    } else if (buffered_[p.id].size() < capacity_) {
      buffered_[p.id].push_back(std::move(p));
    } else {
      ledger_.count_lost();
    }
    return out;
  }

  // Serves every request in the control stream, then arms its watcher; true when the loop may sleep (the
  // watcher is armed: the eventfd becomes readable after the next push), false when requests came meanwhile.
  bool serve_requests() {
    wake_.consume();
    for (;;) {
      while (std::optional<request> r = requests_.try_pop()) serve(*r);
      if (watch_.arm() == handoff::readiness::armed) return true;
    }
  }

  bool holds_packets() const noexcept {
    return std::any_of(buffered_.begin(), buffered_.end(), [](const auto& q) { return !q.empty(); });
  }

  // After the last packet was handed out (or lost): no more requests, and `closed` to everyone left.
  void finish() {
    requests_.close();
    while (std::optional<request> r = requests_.try_pop()) serve(*r);
    for (auto& callers : waiting_) {
      for (const waiting_caller& c : callers) answer(c.reply, {handoff::status::closed, {}});
      callers.clear();
    }
  }

 private:
  struct request {
    std::size_t id;
    handoff::mvar<want_result>* reply;
    bool withdraw;
    clock::time_point deadline;  // max(): the caller times out by itself (a thread's take_for)
  };
  struct waiting_caller {
    handoff::mvar<want_result>* reply;
    clock::time_point deadline;
  };

  void serve(const request& r) {
    auto& callers = waiting_[r.id];
    if (r.withdraw) {
      const auto it = std::find_if(callers.begin(), callers.end(),
                                   [&](const waiting_caller& c) { return c.reply == r.reply; });
      if (it == callers.end()) return;  // already answered with a packet: the caller takes that
      callers.erase(it);
      answer(r.reply, {handoff::status::timeout, {}});
      return;
    }
    if (requests_.is_closed() && buffered_[r.id].empty()) {
      answer(r.reply, {handoff::status::closed, {}});
      return;
    }
    if (!buffered_[r.id].empty()) {
      answer(r.reply, {handoff::status::ok, std::move(buffered_[r.id].front())});
      buffered_[r.id].pop_front();
      return;
    }
    callers.push_back({r.reply, r.deadline});
  }

  // The caller's box is empty (one answer per request): try_put never waits.
  static void answer(handoff::mvar<want_result>* box, want_result&& w) { (void)box->try_put(std::move(w)); }

  std::size_t capacity_;
  ledger& ledger_;
  std::vector<std::deque<packet>> buffered_;         // loop only
  std::vector<std::deque<waiting_caller>> waiting_;  // loop only
  handoff::stream<request> requests_{handoff::unbounded};
  handoff::eventfd_notifier wake_;
  handoff::watcher<handoff::stream<request>> watch_{requests_, wake_.notifier()};
};

}  // namespace demux
