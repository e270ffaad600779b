// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/common.hpp: what every hand-off implementation of the example shares.
//
// - packet: a parsed good packet as it travels from the receiver thread to a consumer. Its payload lives in a
//   vector whose allocator counts the bytes alive (payload_memory), which gives each implementation's memory
//   high-water mark: the bytes the hand-off holds (stream buffers, an mvar slot, a blocked put) plus the
//   bytes a consumer is working on.
// - ledger: one flag per sequence number, set when a consumer receives that packet, so that a duplicate
//   delivery is caught by the program itself; and the count of packets the hand-off lost (discarded).
// - want_result: what want_bytes(id, timeout) returns (status ok / timeout / closed, and the packet).
//
// An implementation (condition_demux.hpp, mvar_demux.hpp, stream_demux.hpp) is a class with
//   handoff_outcome deliver(packet&& p);               // receiver thread only: hand p to consumers of p.id
//   want_result want_bytes(std::size_t id, nanoseconds);  // consumer threads: the next bytes for `id`
//   void finish();                                     // receiver thread, after its last deliver
// want_bytes returns closed once finish() was called and nothing more will come for that id.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <handoff/status.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace demux {

using clock = std::chrono::steady_clock;

// Bytes of packet payload alive in the process, and their high-water mark since reset().
struct payload_memory {
  static inline std::atomic<std::size_t> live{0};
  static inline std::atomic<std::size_t> high{0};

  // Only between runs, when no other thread of the example exists.
  static void reset() noexcept {
    live.store(0);
    high.store(0);
  }
  static void add(std::size_t n) noexcept {
    // relaxed: a statistic read after every thread is joined (the join orders it); atomicity is all we need.
    const std::size_t now = live.fetch_add(n, std::memory_order_relaxed) + n;
    // relaxed: as above; the CAS loop only keeps the maximum.
    std::size_t seen = high.load(std::memory_order_relaxed);
    while (now > seen && !high.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
  }
  static void sub(std::size_t n) noexcept {
    // relaxed: a statistic, as in add().
    live.fetch_sub(n, std::memory_order_relaxed);
  }
};

template <class T>
struct counted_allocator {
  using value_type = T;
  counted_allocator() noexcept = default;
  template <class U>
  counted_allocator(const counted_allocator<U>&) noexcept {}  // NOLINT: allocator rebinding is implicit

  T* allocate(std::size_t n) {
    T* p = std::allocator<T>{}.allocate(n);
    payload_memory::add(n * sizeof(T));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    std::allocator<T>{}.deallocate(p, n);
    payload_memory::sub(n * sizeof(T));
  }
  template <class U>
  bool operator==(const counted_allocator<U>&) const noexcept {
    return true;
  }
};

using payload_bytes = std::vector<std::byte, counted_allocator<std::byte>>;

struct packet {
  std::uint16_t id = 0;
  std::uint32_t seq = 0;
  clock::time_point arrival;  // when recvmsg returned it: latency is measured from here
  payload_bytes payload;
};

struct want_result {
  handoff::status status;  // ok (packet holds the bytes), timeout, or closed (nothing more will come)
  packet value;
};

// What one deliver() did, as seen by the receiver thread.
// A packet the hand-off discards (nobody waiting, no room) is counted in the ledger, not here.
struct handoff_outcome {
  std::size_t woken = 0;       // waiters woken by this call (condition implementations)
  clock::duration blocked{0};  // time the receiver waited inside the hand-off (back-pressure)
};

class ledger {
 public:
  explicit ledger(std::uint32_t seqs) : received_(std::make_unique<std::atomic<bool>[]>(seqs)) {}

  // Marks `seq` received; false if it had been received before (a duplicate delivery).
  bool mark_received(std::uint32_t seq) noexcept { return !received_[seq].exchange(true); }
  bool received(std::uint32_t seq) const noexcept { return received_[seq].load(); }

  void count_lost() noexcept {
    // relaxed: a statistic read after every thread is joined (the join orders it).
    lost_.fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t lost() const noexcept {
    // relaxed: read after the join of every thread that counts (the join orders it).
    return lost_.load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<std::atomic<bool>[]> received_;
  std::atomic<std::uint64_t> lost_{0};
};

}  // namespace demux
