// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/stream_overflow.hpp: the overflow list behind an unbounded stream<T> (values beyond its
// ring).
//
// Purpose: storage for the backlog of an unbounded stream once its ring is full (stream.hpp invariant 4).
// Values live in a singly linked list of blocks (one allocation per block, not per value). Positions count
// the list modulo 2^29, Lap positions per block: Lap - 1 cells and one sentinel position, which the tail
// passes only once the next block is linked (crossbeam-channel's list flavour has the same shape). The list's
// tail position L lives in the stream's tail word, so that a push claims its cell with the same
// compare-exchange that checks the stream's flags, without a lock (stream.hpp invariant 4); this file holds
// the cells and blocks, the head position H, and the install, take and count steps on them. Every operation
// marked "under the lock" runs under the owning stream's lock_; the others run outside it.
//
// Cell turn word (one Sync::atomic<uint32_t> per cell): 0 while the claiming push writes the cell, 1 once its
// value (or a hole) is published. A cell is used once (or, given back, claimed once more by the next push):
// it is never freed for a later value, its block is.
// Invariants:
//   1. (stream invariant 4) Every value in the list is younger than every ring value, and the list is FIFO:
//      pushes claim positions L, L + 1, ... on the tail word, pops claim H, H + 1, ... under the lock; the
//      values are the cell positions in [H, L). H <= L (a pop claims only below the L it read).
//   2. Block installs: the push that claims a block's last cell (offset Lap - 2) allocated the next block
//      before its claim (a bad_alloc leaves its value with it), so its claim moves L onto the sentinel; it
//      then links the block (link_next: `next`, then tail_block), moves L past the sentinel (a
//      compare-exchange loop on the tail word: no other thread moves L at a sentinel) and publishes the
//      install turn (announce_install), which pushes that found L on the sentinel wait for (await_install).
//      So tail_block is the block of L's lap whenever L is not on a sentinel, and a block's `next` is set
//      before L leaves it.
//   3. (stream invariant 6) T's constructors and destructors never run under the lock: a cell is claimed,
//      then its value moved in (fill) and published through the cell's turn word as a ring slot is
//      (detail/stream_ring.hpp); a pop moves it out (take) after it claimed the cell. A pop may wait for the
//      push that claimed its cell to publish (a step already in flight, bounded by that thread's progress).
//   4. (stream invariant 6, G-8) A push whose move threw gives its cell back if it is still the last claimed
//      one, no pop claimed it, and it is not a block's last cell (stream.hpp moves L back), else publishes
//      it as a hole: a cell with no value, which its pop skips.
//   5. A block is deleted when every cell was finished by a pop and the head moved past its sentinel:
//      `pending` starts at Lap (Lap - 1 cells and the link) and each of those drops one. The tail block is
//      never deleted (the head cannot pass its sentinel), so a partly used block stays for the next
//      overflow.
//   6. The backlog stays near 2^28 positions at most: a push that would claim a block's last cell with the
//      backlog at 2^28 throws std::length_error (check_length) with its value untouched. Half the position
//      range is then left to tell "before" from "after" between positions read at different times.
//   7. Wrap-around, as for the ring's turns (stream_ring.hpp): positions count modulo 2^29 and installs
//      modulo 2^30. A push descheduled between its read of the tail word and its compare-exchange while
//      2^29 list positions pass (about 5x10^8 values, with the ring's index frozen all the while: pops that
//      never refill) could find the same word again and write into a block freed meanwhile; a push waiting
//      on a sentinel could miss its install if 2^30 installs (3x10^10 values) pass between its read of the
//      install turn and its park. Not guarded further.
// Memory ordering:
//   - publish (fill, publish_hole) is stream_ring::publish, a release exchange on the cell's turn; a pop's
//     take reads it with stream_ring::await_turn, an acquire load: the pusher's writes (the value, the hole
//     flag and everything before the push) happen-before the pop's move-out (G-4).
//   - link_next's release stores of `next` and tail_block come before the installer's release
//     compare-exchange of L past the sentinel: a push or pop that read L in the new lap with acquire sees the
//     new block and its construction.
//   - release_block's fetch_sub is acq_rel: every finished cell's accesses (the pushes' constructions, the
//     pops' moves and destructions) happen-before the delete, whichever thread drops the last reference.
//   - head_ and H are plain fields guarded by the lock; H's mirror (size snapshots, the length check) is
//     relaxed.
// Lifetime: destroy_values(L) then the destructor destroy the values still in the list and free its blocks;
// no operation may be in flight (the stream's G-9 precondition).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "stream_ring.hpp"

namespace handoff::detail {

template <class T, class Sync, std::uint32_t Lap>
class stream_overflow {
  using ring_type = stream_ring<T, Sync>;  // for its turn-word protocol (publish, await_turn)
  static_assert(std::has_single_bit(Lap) && Lap >= 4 && Lap <= 1024, "Lap: a power of two from 4 to 1024");

 public:
  static constexpr unsigned position_bits = 29;
  static constexpr std::uint32_t position_mask = (std::uint32_t{1} << position_bits) - 1;
  static constexpr std::uint32_t block_values = Lap - 1;
  static constexpr std::uint32_t last_cell = Lap - 2;  // offset of a block's last cell
  static constexpr std::uint32_t sentinel = Lap - 1;   // offset of the position L waits on during an install
  // Half the position range (2^28): the most positions a backlog may span (invariant 6).
  static constexpr std::uint32_t backlog_range = std::uint32_t{1} << (position_bits - 1);
  // Invariant 6: the positions a backlog may span before a push throws std::length_error (a few blocks
  // more while pushes race to the check): backlog_range, or Sync::overflow_max_backlog_positions, which
  // the tests lower so that the error can be reached without 2^28 values (alloc_failure_test.cpp).
  static constexpr std::uint32_t max_backlog_positions = [] {
    if constexpr (requires { Sync::overflow_max_backlog_positions; })
      return std::uint32_t{Sync::overflow_max_backlog_positions};
    else
      return backlog_range;
  }();
  static_assert(max_backlog_positions >= 2 * Lap && max_backlog_positions <= backlog_range,
                "Sync::overflow_max_backlog_positions: from two blocks to 2^28 positions");
  // Whether position a is at or before b: within backlog_range and a margin (2^27) of it. Positions read at
  // different times (a stale L beside a newer H) differ by far less than the rest of the range.
  static bool at_or_before(std::uint32_t a, std::uint32_t b) noexcept {
    return distance(a, b) < backlog_range + (backlog_range >> 1);
  }

  struct cell {
    typename Sync::template atomic<std::uint32_t> turn{0};  // 0: being written; 1: value (or hole) published
    bool hole = false;  // the pusher's move threw: no value; written before the publish, read after it
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  struct block {
    cell cells[block_values];
    typename Sync::template atomic<block*> next{nullptr};      // set before L leaves this block (invariant 2)
    typename Sync::template atomic<std::size_t> pending{Lap};  // invariant 5
  };

  // A push's claim: cell k of block b at position pos (b stays alive: the cell is not finished).
  struct push_claim {
    block* b;
    std::uint32_t k;
    std::uint32_t pos;
  };
  // A pop's claim: cell k of block b; `passed` is the block the claim moved the head past (its link
  // reference, dropped with the claim's), or null.
  struct pop_claim {
    block* b;
    std::uint32_t k;
    block* passed;
  };

  stream_overflow() = default;
  stream_overflow(const stream_overflow&) = delete;
  stream_overflow& operator=(const stream_overflow&) = delete;
  ~stream_overflow() {
    while (block* b = head_) {
      head_ = b->next.load(std::memory_order_relaxed);  // relaxed: no operation is in flight (G-9)
      delete b;
    }
  }

  // ---- positions
  static std::uint32_t offset(std::uint32_t p) noexcept { return p & (Lap - 1); }
  static std::uint32_t next_position(std::uint32_t p) noexcept { return (p + 1) & position_mask; }
  static std::uint32_t distance(std::uint32_t from, std::uint32_t to) noexcept {
    return (to - from) & position_mask;
  }
  // Cells (positions other than sentinels) in [from, to): of the d positions, those whose offset is Lap - 1.
  static std::uint32_t values_between(std::uint32_t from, std::uint32_t to) noexcept {
    const std::uint32_t d = distance(from, to);
    return d - (offset(from) + d) / Lap;
  }

  // Under the lock: values claimed by pushes and not yet by pops, with L the tail word's list position.
  std::uint32_t values(std::uint32_t tail_position) const noexcept {
    return values_between(head_position_, tail_position);
  }
  // Outside the lock: a snapshot of the same (stream::size()). The head mirror is read after the caller's
  // tail word, so it may be ahead of it: such a pair reads as 0.
  std::size_t size(std::uint32_t tail_position) const noexcept {
    // relaxed: a snapshot (invariant 1's H, mirrored under the lock).
    const std::uint32_t h = head_mirror_.load(std::memory_order_relaxed);
    if (!at_or_before(h, tail_position)) return 0;
    return values_between(h, tail_position);
  }
  // Under the lock: blocks linked now, from the head's to the tail's (stream_stats::overflow_blocks).
  std::size_t blocks(std::uint32_t tail_position) const noexcept {
    if (!head_) return 0;
    return distance(head_position_ - offset(head_position_), tail_position - offset(tail_position)) / Lap + 1;
  }

  // ---- push side

  // Under the lock: whether the list has its first block (the first overflow push links it: start()).
  bool started() const noexcept { return head_ != nullptr; }
  // May throw std::bad_alloc.
  static std::unique_ptr<block> new_block() { return std::make_unique<block>(); }
  // Under the lock, !started() (L and H are 0): link `first` as the list's first block.
  void start(std::unique_ptr<block>& first) noexcept {
    head_ = first.release();
    // release: the block's construction, for pushes that read the tail word after the OVERFLOW it comes with.
    tail_block_.store(head_, std::memory_order_release);
  }

  // Invariant 6, before a claim of position p (a block's last cell): throws std::length_error when the
  // backlog reached the limit. p may be stale (the claim then fails), and H past it: no throw then.
  void check_length(std::uint32_t p) const {
    // relaxed: H only grows; a lagging value only overstates the backlog.
    const std::uint32_t h = head_mirror_.load(std::memory_order_relaxed);
    if (at_or_before(h, p) && distance(h, p) >= max_backlog_positions)
      throw std::length_error(
          "handoff::stream: an unbounded stream's backlog reached its limit (2^28 values)");
  }

  // The block of the tail position, read after the tail word showed a position that is not a sentinel
  // (invariant 2): a claim of that position by a compare-exchange expecting that word is a cell of it.
  // acquire: pairs with link_next's release store (and start's).
  block* tail_block() const noexcept { return tail_block_.load(std::memory_order_acquire); }

  // The installer (invariant 2), after its claim of b's last cell moved L onto the sentinel: link the next
  // block. release: the block's construction and `next`, before the installer moves L (its release
  // compare-exchange; readers of the new lap acquire the tail word).
  void link_next(block* b, std::unique_ptr<block>& next_block) noexcept {
    block* n = next_block.release();
    b->next.store(n, std::memory_order_release);
    tail_block_.store(n, std::memory_order_release);
  }
  // After the installer moved L past the sentinel: advance the install turn (a count of installs modulo
  // 2^30, one read-modify-write: the previous installer may still be advancing it), waking pushes in
  // await_install. True when a coroutine hooked the install (the stream runs its step hook).
  [[nodiscard]] bool announce_install() noexcept { return ring_type::publish_next(install_turn_); }
  // A push that read L on a sentinel: wait until still_on_sentinel() (which re-reads the tail word) is false.
  // The turn is read before the tail word: if the install's publish came first, the acquire read of the turn
  // makes the new L visible to still_on_sentinel(); if not, the turn moves after that read and the wait ends.
  template <class StillOnSentinel>
  void await_install(StillOnSentinel still_on_sentinel) noexcept {
    for (;;) {
      // acquire: pairs with announce_install's release exchange (see above).
      const std::uint32_t seen = ring_type::turn_value(install_turn_, std::memory_order_acquire);
      if (!still_on_sentinel()) return;
      ring_type::await_turn_change(install_turn_, seen);
    }
  }
  // The install turn, for a coroutine's try that met a sentinel (stream.hpp invariant 12): the value it saw
  // (read before it re-reads the tail word, as in await_install) and the word it hooks.
  std::uint32_t install_turn() const noexcept {
    // acquire: as in await_install.
    return ring_type::turn_value(install_turn_, std::memory_order_acquire);
  }
  typename Sync::template atomic<std::uint32_t>& install_turn_word() noexcept { return install_turn_; }

  // Outside the lock (invariant 3): move v into the claimed cell and publish it. If T's move throws, the cell
  // stays unpublished, v is whatever T's constructor left it, and the exception propagates: the caller then
  // gives the cell back or publishes a hole. True when a coroutine hooked the cell's turn (the stream runs
  // its step hook: stream.hpp invariant 12), as publish_hole's.
  [[nodiscard]] static bool fill(const push_claim& c, T& v) {
    cell& x = c.b->cells[c.k];
    ::new (static_cast<void*>(x.storage)) T(std::move(v));
    return ring_type::publish(x.turn, 1);
  }
  // Outside the lock: publish the claimed cell as a hole (its pop may already be waiting on it).
  [[nodiscard]] static bool publish_hole(const push_claim& c) noexcept {
    cell& x = c.b->cells[c.k];
    x.hole = true;
    return ring_type::publish(x.turn, 1);
  }
  // The turn word of a push's claimed cell (the caller keeps the cell's block alive).
  static typename Sync::template atomic<std::uint32_t>& turn_of(const push_claim& c) noexcept {
    return c.b->cells[c.k].turn;
  }
  // Under the lock (invariant 4): whether no pop claimed position p (a claim not yet given back), and how
  // many values come before it.
  bool unclaimed(std::uint32_t p) const noexcept { return at_or_before(head_position_, p); }
  std::uint32_t values_before(std::uint32_t p) const noexcept { return values_between(head_position_, p); }

  // ---- pop side

  // Under the lock, values(L) > 0: the turn word of the cell the next pop would claim (its push may still be
  // writing it: a coroutine then hooks this turn instead of claiming, stream.hpp invariant 12).
  typename Sync::template atomic<std::uint32_t>& next_pop_turn() noexcept {
    if (offset(head_position_) == sentinel)  // L is past it, so `next` is set (invariant 2)
      return head_->next.load(std::memory_order_acquire)->cells[0].turn;
    return head_->cells[offset(head_position_)].turn;
  }

  // Under the lock, 0 < n <= values(L): claim the n oldest values' cells into out[0 .. n), oldest first.
  void claim_pops(pop_claim* out, std::uint32_t n) noexcept {
    for (std::uint32_t j = 0; j < n; ++j) out[j] = claim_cell();
    // relaxed: a snapshot for size() and check_length; the lock orders H itself.
    head_mirror_.store(head_position_, std::memory_order_relaxed);
  }
  pop_claim claim_pop() noexcept {
    pop_claim c;
    claim_pops(&c, 1);
    return c;
  }

  // Outside the lock (invariant 3): wait for the claimed cell's publication, move its value into `out` and
  // destroy it, then drop the claim's references. False for a hole (a push whose move threw: the caller
  // claims again). If the move out throws, the value is still destroyed and `error` holds the exception (the
  // caller rethrows it once its own bookkeeping is done).
  static bool take(const pop_claim& c, std::optional<T>& out, std::exception_ptr& error) noexcept {
    const bool value = transfer_keeping_block(c, [&](T&& v) noexcept {
      try {
        out.emplace(std::move(v));
      } catch (...) {
        // The value whose move-out throws is this pop's own (stream.hpp, Exceptions): it is destroyed with
        // its cell, and the list goes on as if it had been popped, so nothing overtakes or strands.
        error = std::current_exception();
      }
    });
    release_run(&c, 1);
    return value;
  }

  // Outside the lock: wait for the claimed cell's publication, hand its value to sink (a noexcept callable
  // taking T&&) and destroy it; the block references are kept until release_run (the refill drops each
  // block's in one read-modify-write). False for a hole (no value; sink is not called).
  template <class Sink>
  static bool transfer_keeping_block(const pop_claim& c, Sink&& sink) noexcept {
    static_assert(std::is_nothrow_invocable_v<Sink&, T&&>, "the value must leave its cell without a throw");
    cell& x = c.b->cells[c.k];
    ring_type::await_turn(x.turn, 1);  // its pusher may still be moving the value in (invariant 3)
    const bool hole = x.hole;
    if (!hole) {
      sink(std::move(*x.value()));
      x.value()->~T();  // outside the lock
    }
    return !hole;
  }
  // Drop the references of run[0 .. n), each of which transfer_keeping_block finished (a run's claims on a
  // block are adjacent).
  static void release_run(const pop_claim* run, std::uint32_t n) noexcept {
    for (std::uint32_t j = 0; j < n;) {
      block* b = run[j].b;
      std::size_t refs = 0;
      for (; j < n && run[j].b == b; ++j) {
        ++refs;
        if (run[j].passed) release_block(run[j].passed, 1);
      }
      release_block(b, refs);
    }
  }

  // Destruction, single-threaded (no operation in flight, G-9), L the tail word's list position: destroy the
  // values still in the list.
  void destroy_values(std::uint32_t tail_position) noexcept {
    block* b = head_;
    for (std::uint32_t p = head_position_; p != tail_position; p = next_position(p)) {
      if (offset(p) == sentinel) {
        b = b->next.load(std::memory_order_relaxed);  // relaxed: single-threaded now
        continue;
      }
      cell& x = b->cells[offset(p)];
      if (!x.hole) x.value()->~T();
    }
  }

 private:
  // Under the lock, values(L) > 0: claim the cell at H, moving the head past a sentinel first (L is past it,
  // so the next block is linked: invariant 2).
  pop_claim claim_cell() noexcept {
    block* passed = nullptr;
    if (offset(head_position_) == sentinel) {
      passed = head_;
      // acquire: pairs with link_next's release (the caller's acquire of the tail word already orders it).
      head_ = head_->next.load(std::memory_order_acquire);
      head_position_ = next_position(head_position_);
    }
    const pop_claim c{head_, offset(head_position_), passed};
    head_position_ = next_position(head_position_);
    return c;
  }

  // Drop `n` references to block b (acq_rel: every finished cell's accesses happen-before the delete).
  static void release_block(block* b, std::size_t n) noexcept {
    if (b->pending.fetch_sub(n, std::memory_order_acq_rel) == n) delete b;
  }

  block* head_ = nullptr;            // guarded by the lock: the block of H (or of the sentinel H is on)
  std::uint32_t head_position_ = 0;  // H, guarded by the lock
  typename Sync::template atomic<std::uint32_t> head_mirror_{0};  // H, for snapshots
  // The pushes' side, on its own cache line: every lock-free push reads tail_block_, and the pops' claims
  // write the fields above under the lock.
  alignas(64) typename Sync::template atomic<block*> tail_block_{nullptr};  // invariant 2
  typename Sync::template atomic<std::uint32_t> install_turn_{0};           // installs, modulo 2^30
};

}  // namespace handoff::detail
