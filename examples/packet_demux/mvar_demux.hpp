// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/mvar_demux.hpp: the mvar hand-off of the packet-demux example.
//
// One mvar per id. The receiver puts each packet into its id's box: if the box is empty (or its consumer
// waits) the put returns at once (MV-2, MV-3); if the consumer has not taken the previous packet yet, the put
// waits (MV-4). That wait is the mvar's back-pressure, measured here as the receiver's blocked time: while
// the receiver waits it reads nothing, the socket's receive buffer fills, and the kernel drops datagrams
// instead (kernel_dropped in the report). Nothing is ever lost inside the hand-off and at most one packet per
// id is buffered, so memory stays flat; the price is paid by the network handler and the traffic of the
// other ids queued behind the one slow consumer.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/mvar.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "common.hpp"

namespace demux {

class mvar_demux {
 public:
  mvar_demux(std::size_t ids, ledger& /*nothing is ever lost*/)
      : boxes_(std::make_unique<handoff::mvar<packet>[]>(ids)) {}

  handoff_outcome deliver(packet&& p) {
    handoff::mvar<packet>& box = boxes_[p.id];
    handoff_outcome o;
    if (box.try_put(std::move(p)) == handoff::status::ok) return o;  // MV-7: p stays ours when full
    const auto start = clock::now();
    box.put(std::move(p));  // MV-4: waits until the consumer takes the previous packet
    o.blocked = clock::now() - start;
    return o;
  }

  want_result want_bytes(std::size_t id, std::chrono::nanoseconds timeout) {
    handoff::mvar<packet>& box = boxes_[id];
    if (std::optional<packet> got = box.take_for(timeout)) return {handoff::status::ok, std::move(*got)};
    if (!done_.load()) return {handoff::status::timeout, {}};
    // finish() came after the receiver's last put returned, so that put's value is in the box by now.
    if (std::optional<packet> got = box.try_take()) return {handoff::status::ok, std::move(*got)};
    return {handoff::status::closed, {}};
  }

  void finish() { done_.store(true); }

 private:
  std::unique_ptr<handoff::mvar<packet>[]> boxes_;
  std::atomic<bool> done_{false};
};

}  // namespace demux
