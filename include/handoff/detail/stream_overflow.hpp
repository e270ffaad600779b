// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/stream_overflow.hpp: the overflow list behind an unbounded stream<T> (values beyond its
// ring).
//
// Purpose: storage for the backlog of an unbounded stream once its ring is full (stream.hpp invariant 4).
// Values live in a singly linked list of blocks of BlockValues cells (one allocation per block, not per
// value). This file holds the cells and blocks and the claim / fill / take / give-back steps on them;
// deciding when a push or pop uses the list, the OVERFLOW flag on the tail word that diverts fast pushes
// to the slow path, and the refill that moves runs of values from the list back into the ring (claim_pops,
// transfer), are stream.hpp's job (its invariant 4). Every operation marked "under the lock" runs under the
// owning stream's lock_; the others run outside it, on a cell the caller claimed.
//
// Cell turn word (one Sync::atomic<uint32_t> per cell): 0 while the claiming push writes the cell, 1 once its
// value (or a hole) is published. A cell is used once: it is never freed for a later value, its block is.
// Invariants:
//   1. (stream invariant 4) Every value in the list is younger than every ring value, and the list is FIFO: a
//      push claims the next cell of the tail block (linking a new block when the tail block is full), a pop
//      claims the next cell of the head block. Blocks before the tail are full; a partly used tail block
//      stays for the next overflow. Memory: one block per BlockValues values of backlog, plus that tail
//      block.
//   2. (stream invariant 6) T's constructors and destructors never run under the lock: a cell is claimed
//   under
//      it, and its value is moved in (fill), out and destroyed (take) afterwards, published through the
//      cell's turn word as a ring slot is (detail/stream_ring.hpp). A pop that claimed a cell may wait for
//      the push that claimed it to publish (a step already in flight, bounded by that thread's progress).
//   3. (stream invariant 6, G-8) A push whose move threw gives its cell back if it is still the last claimed
//      one and no pop claimed it (the list is then as before the push), else publishes it as a hole: a cell
//      with no value, which its pop skips.
//   4. claimed and taken count the cells of a block claimed by pushes and pops (taken <= claimed <=
//      BlockValues); the pop that claims a block's last cell unlinks it. A block is deleted when it is
//      unlinked and every claimed cell is finished: `pending` counts the link plus the claimed cells whose
//      pop has not finished with them (or whose push may still give its cell back).
//   5. size() counts claimed cells not yet claimed by a pop: exact under the lock, a snapshot outside it.
// Memory ordering:
//   - publish (fill, publish_hole) is stream_ring::publish, a release exchange on the cell's turn; a pop's
//     take reads it with stream_ring::await_turn, an acquire load: the pusher's writes (the value, the hole
//     flag and everything before the push) happen-before the pop's move-out (G-4).
//   - release_block's fetch_sub is acq_rel: every finished cell's accesses (the pushes' constructions, the
//     pops' moves and destructions) happen-before the delete, whichever thread drops the last reference.
//   - head, tail, next, claimed and taken are plain fields guarded by the lock; size's and pending's updates
//     under the lock are relaxed (the lock orders them; see each one).
// Lifetime: the destructor destroys the values still in the list and frees its blocks; no operation may be in
// flight (the stream's G-9 precondition).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "stream_ring.hpp"

namespace handoff::detail {

template <class T, class Sync, std::size_t BlockValues>
class stream_overflow {
  using ring_type = stream_ring<T, Sync>;  // for its turn-word protocol (publish, await_turn)

 public:
  struct cell {
    typename Sync::template atomic<std::uint32_t> turn{0};  // 0: being written; 1: value (or hole) published
    bool hole = false;  // the pusher's move threw: no value; written before the publish, read after it
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  struct block {
    cell cells[BlockValues];
    block* next = nullptr;    // guarded by the lock
    std::size_t claimed = 0;  // cells claimed by pushes; guarded by the lock
    std::size_t taken = 0;    // cells claimed by pops (taken <= claimed); guarded by the lock
    typename Sync::template atomic<std::size_t> pending{1};  // the link, plus claimed cells not finished
  };

  // A push's claim: cell k of block b (b stays alive: the claim is one of its pending references).
  struct push_claim {
    block* b;
    std::size_t k;
  };
  // A pop's claim: cell k of block b; `unlinked` if this pop unlinked b (its last cell, so the claim also
  // holds the link's reference), `last` if the list had no other value at the claim.
  struct pop_claim {
    block* b;
    std::size_t k;
    bool unlinked;
    bool last;
  };

  stream_overflow() = default;
  stream_overflow(const stream_overflow&) = delete;
  stream_overflow& operator=(const stream_overflow&) = delete;
  ~stream_overflow() {
    while (block* b = head_) {
      head_ = b->next;
      for (std::size_t k = b->taken; k < b->claimed; ++k)
        if (!b->cells[k].hole) b->cells[k].value()->~T();
      delete b;  // no operation is in flight (G-9), so no other reference to it remains
    }
  }

  // Values claimed by pushes and not yet by pops. relaxed: a snapshot counter for stream::size(); under the
  // lock, which orders its updates, it is exact.
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  // Blocks linked in the list now (under the lock; stream_stats::overflow_blocks).
  std::size_t blocks() const noexcept { return blocks_linked_; }

  // ---- push side

  // Under the lock: whether a push needs a new block (the tail block is full, or there is none). The caller
  // allocates it outside the lock (new_block) and looks again.
  bool needs_block() const noexcept { return !tail_ || tail_->claimed == BlockValues; }
  // May throw std::bad_alloc.
  static std::unique_ptr<block> new_block() { return std::make_unique<block>(); }

  // Under the lock: claim the next cell of the tail block, linking `spare` first when needs_block() (spare is
  // then non-null; otherwise it is left for the caller to free).
  push_claim claim_push(std::unique_ptr<block>& spare) noexcept {
    block* b = tail_;
    if (needs_block()) {
      b = spare.release();
      (tail_ ? tail_->next : head_) = b;
      tail_ = b;
      ++blocks_linked_;
    }
    const std::size_t k = b->claimed++;
    // relaxed: under the lock; the pop that finishes with the cell drops it with acq_rel (release_block).
    b->pending.fetch_add(1, std::memory_order_relaxed);
    add_size(1);
    return {b, k};
  }

  // Outside the lock (invariant 2): move v into the claimed cell and publish it. If T's move throws, the cell
  // stays unpublished, v is whatever T's constructor left it, and the exception propagates: the caller then
  // calls give_back (under the lock) or publish_hole. True when a coroutine hooked the cell's turn (the
  // stream runs its step hook: stream.hpp invariant 12), as publish_hole's.
  [[nodiscard]] static bool fill(const push_claim& c, T& v) {
    cell& x = c.b->cells[c.k];
    ::new (static_cast<void*>(x.storage)) T(std::move(v));
    return ring_type::publish(x.turn, 1);
  }

  // Under the lock (invariant 3): give back the cell of a push whose move threw if it is still the last
  // claimed one and no pop claimed it; `on_empty` runs when that left the list empty (the stream clears
  // OVERFLOW). False: the caller publishes a hole instead.
  template <class OnEmpty>
  bool give_back(const push_claim& c, OnEmpty&& on_empty) noexcept {
    // c.b is alive (our claim is one of its pending references); it is still linked if it is the tail.
    if (c.b != tail_ || c.k + 1 != c.b->claimed || c.b->taken > c.k) return false;
    c.b->claimed = c.k;
    add_size(-1);
    if (size() == 0) on_empty();
    c.b->pending.fetch_sub(1, std::memory_order_relaxed);  // relaxed: the link keeps it above zero
    return true;
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

  // Under the lock, size() > 0: the turn word of the cell the next pop would claim (its push may still be
  // writing it: a coroutine then hooks this turn instead of claiming, stream.hpp invariant 12).
  typename Sync::template atomic<std::uint32_t>& next_pop_turn() noexcept {
    return head_->cells[head_->taken].turn;
  }

  // ---- pop side

  // Under the lock, size() > 0: claim the oldest value's cell (the head block has an unclaimed value: a
  // drained head block was unlinked by the pop that claimed its last cell).
  pop_claim claim_pop() noexcept {
    pop_claim c = claim_cell();
    add_size(-1);
    c.last = size() == 0;
    return c;
  }

  // Under the lock, 0 < n <= size(): claim the n oldest values' cells into out[0 .. n), oldest first, as n
  // claim_pop calls would (one update of size; `last` only on out[n - 1], if it took the list's last value).
  // The stream moves them into its ring (stream.hpp invariant 4: the refill).
  void claim_pops(pop_claim* out, std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; ++j) out[j] = claim_cell();
    add_size(-static_cast<std::ptrdiff_t>(n));
    out[n - 1].last = size() == 0;
  }

  // Outside the lock (invariant 2): wait for the claimed cell's publication, move its value into `out` and
  // destroy it, then drop the claim's references to the block. False for a hole (a push whose move threw: the
  // caller claims again). If the move out throws, the value is still destroyed and `error` holds the
  // exception (the caller rethrows it once its own bookkeeping is done).
  static bool take(const pop_claim& c, std::optional<T>& out, std::exception_ptr& error) noexcept {
    return transfer(c, [&](T&& v) noexcept {
      try {
        out.emplace(std::move(v));
      } catch (...) {
        // The value whose move-out throws is this pop's own (stream.hpp, Exceptions): it is destroyed with
        // its cell, and the list goes on as if it had been popped, so nothing overtakes or strands.
        error = std::current_exception();
      }
    });
  }

  // Outside the lock: wait for the claimed cell's publication, hand its value to sink (a noexcept callable
  // taking T&&), destroy it, then drop the claim's references to the block. False for a hole (no value; sink
  // is not called).
  template <class Sink>
  static bool transfer(const pop_claim& c, Sink&& sink) noexcept {
    const bool value = transfer_keeping_block(c, std::forward<Sink>(sink));
    release_block(c.b, c.unlinked ? 2 : 1);  // our cell, and the link if we unlinked it
    return value;
  }

  // transfer() for a run of claims (the refill, oldest first): the same per cell, but the references are
  // kept until release_run(run, n), which drops each block's in one read-modify-write (a run's claims on a
  // block are adjacent) instead of one per cell.
  template <class Sink>
  static bool transfer_keeping_block(const pop_claim& c, Sink&& sink) noexcept {
    static_assert(std::is_nothrow_invocable_v<Sink&, T&&>, "the value must leave its cell without a throw");
    cell& x = c.b->cells[c.k];
    ring_type::await_turn(x.turn, 1);  // its pusher may still be moving the value in (invariant 2)
    const bool hole = x.hole;
    if (!hole) {
      sink(std::move(*x.value()));
      x.value()->~T();  // outside the lock
    }
    return !hole;
  }
  // Drop the references of run[0 .. n), each of which transfer_keeping_block finished.
  static void release_run(const pop_claim* run, std::size_t n) noexcept {
    for (std::size_t j = 0; j < n;) {
      block* b = run[j].b;
      std::size_t refs = 0;
      for (; j < n && run[j].b == b; ++j) refs += run[j].unlinked ? 2 : 1;
      release_block(b, refs);
    }
  }

 private:
  // Under the lock (every write of size_ is): a load and a store, not a read-modify-write, whose locked
  // instruction on a line that size() readers share costs more inside the critical section. relaxed: the
  // lock orders the writes; size() outside it is a snapshot.
  void add_size(std::ptrdiff_t d) noexcept {
    size_.store(size_.load(std::memory_order_relaxed) + static_cast<std::size_t>(d),
                std::memory_order_relaxed);
  }

  // Under the lock, size() > 0: claim_pop without the size update (the callers do it, once per call).
  pop_claim claim_cell() noexcept {
    block* b = head_;
    const std::size_t k = b->taken++;
    const bool unlink = b->taken == BlockValues;  // its last cell: the list goes on at the next block
    if (unlink) {
      head_ = b->next;
      if (!head_) tail_ = nullptr;
      --blocks_linked_;
    }
    return {b, k, unlink, false};
  }

  // Drop `n` references to block b (acq_rel: every finished cell's accesses happen-before the delete).
  static void release_block(block* b, std::size_t n) noexcept {
    if (b->pending.fetch_sub(n, std::memory_order_acq_rel) == n) delete b;
  }

  block* head_ = nullptr;          // guarded by the lock
  block* tail_ = nullptr;          // guarded by the lock
  std::size_t blocks_linked_ = 0;  // guarded by the lock
  typename Sync::template atomic<std::size_t> size_{0};
};

}  // namespace handoff::detail
