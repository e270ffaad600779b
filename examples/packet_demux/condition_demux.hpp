// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/condition_demux.hpp: the two condition hand-offs of the packet-demux example.
//
// condition_broadcast_demux: ONE condition for all ids, the way a single-threaded Lwt program often does it:
//   the receiver broadcasts every packet, every waiting consumer wakes, looks at the id and goes back to wait
//   if the packet is not for it. The receiver never blocks, but each packet wakes every waiting consumer
//   (the "woken" column), and a packet is lost when no consumer of its id was waiting at that instant
//   (busy with the previous packet, or just woken by someone else's). Each waiter gets a copy of the value
//   (CO-4), so the value is a shared_ptr to the packet; the consumer that claims it copies the bytes out, and
//   the last owner of an unclaimed packet counts it lost.
// condition_signal_demux: one condition per id; the receiver signals the packet to that id's oldest waiting
//   consumer. signal() returns 0 when nobody waits (CO-3): the packet is discarded and counted lost. The
//   receiver never blocks and wakes exactly one thread per delivered packet.
// Both store nothing (CO-1): a condition suits updates that may be missed, never bytes a caller must get.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/condition.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "common.hpp"

namespace demux {

class condition_broadcast_demux {
 public:
  condition_broadcast_demux(std::size_t /*ids*/, ledger& l) : ledger_(l) {}

  handoff_outcome deliver(packet&& p) {
    auto shared = std::make_shared<const shared_packet>(std::move(p), ledger_);
    handoff_outcome o;
    o.woken = cond_.broadcast(shared);
    return o;  // `shared` is released here; if no consumer claimed it, ~shared_packet counts it lost
  }

  want_result want_bytes(std::size_t id, std::chrono::nanoseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
      if (done_.load()) return {handoff::status::closed, {}};
      std::optional<std::shared_ptr<const shared_packet>> got = cond_.wait_until(deadline);
      if (!got) return {done_.load() ? handoff::status::closed : handoff::status::timeout, {}};
      const shared_packet& sp = **got;
      if (sp.p.id != id) continue;              // someone else's packet: wait again
      if (sp.claimed.exchange(true)) continue;  // another consumer of this id took it first
      packet copy{sp.p.id, sp.p.seq, sp.p.arrival, sp.p.payload};
      return {handoff::status::ok, std::move(copy)};
    }
  }

  void finish() { done_.store(true); }

 private:
  struct shared_packet {
    shared_packet(packet&& q, ledger& l) : p(std::move(q)), owner(l) {}
    shared_packet(const shared_packet&) = delete;
    shared_packet& operator=(const shared_packet&) = delete;
    // The last reference goes away after every woken consumer looked at it: if none claimed it, it is lost.
    ~shared_packet() {
      if (!claimed.load()) owner.count_lost();
    }
    packet p;
    ledger& owner;
    mutable std::atomic<bool> claimed{false};
  };

  handoff::condition<std::shared_ptr<const shared_packet>> cond_;
  ledger& ledger_;
  std::atomic<bool> done_{false};
};

class condition_signal_demux {
 public:
  condition_signal_demux(std::size_t ids, ledger& l)
      : conds_(std::make_unique<handoff::condition<packet>[]>(ids)), ledger_(l) {}

  handoff_outcome deliver(packet&& p) {
    const std::size_t id = p.id;
    handoff_outcome o;
    o.woken = conds_[id].signal(std::move(p));
    if (o.woken == 0) ledger_.count_lost();  // CO-3: nobody waited, the packet was discarded
    return o;
  }

  want_result want_bytes(std::size_t id, std::chrono::nanoseconds timeout) {
    if (done_.load()) return {handoff::status::closed, {}};
    if (std::optional<packet> got = conds_[id].wait_for(timeout))
      return {handoff::status::ok, std::move(*got)};
    return {done_.load() ? handoff::status::closed : handoff::status::timeout, {}};
  }

  void finish() { done_.store(true); }

 private:
  std::unique_ptr<handoff::condition<packet>[]> conds_;
  ledger& ledger_;
  std::atomic<bool> done_{false};
};

}  // namespace demux
