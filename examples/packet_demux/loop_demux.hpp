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
// ----------------------------------------------------------------------------------------------------------
#pragma once

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
    if (!requests_.push(request{id, &reply, false})) return {handoff::status::closed, {}};
    handoff::result<want_result> r = reply.take_for(timeout);
    if (!r) {
      (void)requests_.push(request{id, &reply, true});  // fails only after finish(): answered closed then
      return reply.take();                              // timeout, or the packet that crossed the withdrawal
    }
    return std::move(*r);
  }

  // ---- the loop (the receiver thread only)
  int control_fd() const noexcept { return wake_.fd(); }

  // A good packet from the socket: to the oldest waiting caller of its id, else buffered, else lost.
  handoff_outcome on_packet(packet&& p) {
    handoff_outcome out;
    auto& callers = waiting_[p.id];
    if (!callers.empty()) {
      answer(callers.front(), {handoff::status::ok, std::move(p)});
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
      for (handoff::mvar<want_result>* c : callers) answer(c, {handoff::status::closed, {}});
      callers.clear();
    }
  }

 private:
  struct request {
    std::size_t id;
    handoff::mvar<want_result>* reply;
    bool withdraw;
  };

  void serve(const request& r) {
    auto& callers = waiting_[r.id];
    if (r.withdraw) {
      const auto it = std::find(callers.begin(), callers.end(), r.reply);
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
    callers.push_back(r.reply);
  }

  // The caller's box is empty (one answer per request): try_put never waits.
  static void answer(handoff::mvar<want_result>* box, want_result&& w) { (void)box->try_put(std::move(w)); }

  std::size_t capacity_;
  ledger& ledger_;
  std::vector<std::deque<packet>> buffered_;                      // loop only
  std::vector<std::deque<handoff::mvar<want_result>*>> waiting_;  // loop only
  handoff::stream<request> requests_{handoff::unbounded};
  handoff::eventfd_notifier wake_;
  handoff::watcher<handoff::stream<request>> watch_{requests_, wake_.notifier()};
};

}  // namespace demux
