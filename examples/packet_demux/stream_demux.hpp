// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/stream_demux.hpp: the bounded-stream hand-off of the packet-demux example.
//
// One stream<packet>{capacity} per id. The receiver try_push()es each packet (never waits): up to `capacity`
// packets per id wait for a slow consumer, and a packet that finds its id's buffer full is dropped and
// counted lost. This is the choice for a network handler that must never block: the bound protects memory
// (at most ids * capacity packets buffered), and loss happens only when a consumer falls `capacity` packets
// behind. (push_for(v, d) would be the middle way: block the receiver for at most d, then drop.) finish()
// closes every stream: consumers drain what is buffered, then get `closed` (ST-5).
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/stream.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "common.hpp"

namespace demux {

class stream_demux {
 public:
  stream_demux(std::size_t ids, std::size_t capacity, ledger& l) : ids_(ids), ledger_(l) {
    streams_.reserve(ids);
    for (std::size_t i = 0; i < ids; ++i)
      streams_.push_back(std::make_unique<handoff::stream<packet>>(capacity));
  }

  handoff_outcome deliver(packet&& p) {
    // ST-2: try_push returns full at once when `capacity` packets wait; p stays ours (G-2) and dies here.
    if (streams_[p.id]->try_push(std::move(p)) != handoff::status::ok) ledger_.count_lost();
    return {};
  }

  want_result want_bytes(std::size_t id, std::chrono::nanoseconds timeout) {
    want_result r{handoff::status::ok, {}};
    r.status = streams_[id]->pop_for(r.value, timeout);  // ok | timeout | closed (after draining, ST-5)
    return r;
  }

  void finish() {
    for (std::size_t i = 0; i < ids_; ++i) streams_[i]->close();
  }

 private:
  std::size_t ids_;
  std::vector<std::unique_ptr<handoff::stream<packet>>> streams_;
  ledger& ledger_;
};

}  // namespace demux
