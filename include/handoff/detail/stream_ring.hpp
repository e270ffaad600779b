// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/stream_ring.hpp: the slot array behind stream<T> (bounded, and the fast part of unbounded).
//
// Purpose: storage for values whose positions were already claimed on stream's head and tail words. A pusher
// that claimed index i writes slot i and publishes it; a popper that claimed index i waits for that
// publication, moves the value out and frees the slot for index i + size(). Claiming (who gets which index,
// whether the stream is full, closed or has waiters) is stream.hpp's job, on those words; this file only
// moves values.
//
// Slot turn word (one Sync::atomic<uint32_t> per slot, the futex word too):
//   bits 0..29: 2 * (index mod 2^29) + 1 if the slot holds (or is a hole for) index, 2 * index if it is free
//               for a pusher of index;  bit 31: a thread sleeps on this word (the waker must make the
//               syscall);  bit 30 (hooked): a coroutine waits for the step in flight on this slot (the
//               thread that makes the next step runs the ring's step hook: stream.hpp invariant 12).
// Invariants:
//   - The slot of index i is written only by the pusher that claimed i, once the popper of i - size() freed
//     it; it is read only by the popper that claimed i, once that pusher published it. Indices are claimed
//     on the tail word with count < capacity <= size(). Behind a stalled step, several threads may wait on
//     one turn word (the popper of i, the pusher of i + size(), later claimants behind them), each for a
//     step already in flight in another thread, so publish() wakes them all (a run's publisher,
//     fill_deferring_wake, after its last publish): waits here are bounded by that thread's progress, never
//     by a thread that has not started. Pops that have not claimed an index may
//     also wait on its turn word (await_step, stream.hpp invariant 9) for the step in flight to finish.
//   - A "hole" is a published slot that holds no value: the pusher's move constructor threw after it had
//     claimed the index (G-8). Its popper frees the slot and claims again; the value stayed with the pusher.
//   - Turns are indices modulo 2^29, so a claimant relies on no slot being lapped while it waits. Indices
//     can pass a stalled slot: with a pop of j descheduled after its claim, pushes and pops of j + size,
//     j + 2 size, ... may claim (about 2^30 / size blocked threads and ~5x10^8 operations during that one
//     stall), and at j + 2^29 the turn reads as j's again: values swapped, or two pops moving out of one
//     slot. Not guarded (found by review; needs ring sizes near 2^28 and a stall of that length). A pop
//     waiting unclaimed (await_step) holds nothing back and could in theory be lapped: it would have to stay
//     descheduled for 2^29 values between reading the turn and marking itself asleep, find the head word
//     equal again (same index, same epoch), and read a stale tail on a stream that is empty; a locked
//     compare-exchange makes that read current on x86. Not guarded further.
//   - The hooked bit is set only under the owning stream's lock, by a compare-exchange from the turn value a
//     coroutine saw in flight (so it is set only while that step is still to come); every step (publish(),
//     wake_unclaimed()) clears it with the same read-modify-write that moves the turn, and the thread that
//     cleared it runs the step hook, which takes that lock: a coroutine linked under the lock before the step
//     is found by the hook. No publish runs under the stream's lock.
// Memory ordering: publish() is a release exchange and await_turn() an acquire load, so the pusher's writes
// (the value and everything before the push) happen-before the popper's move (rule G-4), and the popper's
// move-out happens-before the next pusher's construction in the same slot.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "spin_wait.hpp"

namespace handoff::detail {

template <class T, class Sync>
class stream_ring {
 public:
  static constexpr std::uint32_t index_bits = 29;
  static constexpr std::uint32_t index_mask = (std::uint32_t{1} << index_bits) - 1;

  stream_ring() = default;
  // `size` is a power of two (or 0 for no ring); the constructor may throw std::bad_alloc.
  explicit stream_ring(std::size_t size)
      : mask_(size ? size - 1 : 0),
        spread_shift_(size >= slots_per_line ? static_cast<unsigned>(std::countr_zero(size / slots_per_line))
                                             : 0u),
        spread_(size >= slots_per_line && slots_per_line > 1),
        slots_(size ? allocate(size) : nullptr, slot_deleter{size}) {
    for (std::size_t k = 0; k < size; ++k) {
      // relaxed: the constructor is not concurrent with anything.
      at(static_cast<std::uint32_t>(k))
          .turn.store(free_turn(static_cast<std::uint32_t>(k)), std::memory_order_relaxed);
    }
  }
  stream_ring(const stream_ring&) = delete;
  stream_ring& operator=(const stream_ring&) = delete;

  std::size_t size() const noexcept { return slots_ ? mask_ + 1 : 0; }
  // Bytes per slot (turn word, hole flag and the value's storage), for callers that size a ring by memory.
  static constexpr std::size_t slot_size() noexcept { return sizeof(slot); }

  // The turn word a deferred wake is owed on (fill_deferring_wake's result).
  using owed_wake = typename Sync::template atomic<std::uint32_t>;

  // Construct the value of index i from `v` (the pusher that claimed i). If T's constructor throws, the slot
  // stays free for index i and the exception propagates; the caller then either gives the index back on the
  // tail word or calls publish_hole(i). `v` is whatever T's constructor left it.
  template <class U>
  void fill(std::uint32_t i, U&& v) {
    if (owed_wake* sleepers = fill_deferring_wake(i, std::forward<U>(v))) Sync::unpark_all(*sleepers);
  }

  // fill() without its wake, for a thread that publishes a run of slots (stream.hpp's refill, invariant 4):
  // returns the address of the turn word whose sleepers are owed a futex wake, or null when nobody sleeps
  // on it, and the caller wakes them (Sync::unpark_all) once the whole run is published. The address is
  // taken before the publish: once the value is published its popper may take it and destroy the stream
  // (its partner's operation has returned, channel_info.hpp Invariants 3), so nothing after the publish may
  // read the ring's fields; the wake uses only the address, as publish()'s does (a re-read of the ring after
  // the publish was a use after free from 203061f to 8314c3c, caught by TSan in
  // StreamLifetimeTest.PopperDestroysAOneSlotStreamRightAfterItsPop). The wake is late, never lost: the
  // exchange below changed the word, so a sleeper that has not gone to sleep yet returns from its park at
  // once, and one asleep is woken by the caller's unpark_all on the same word. By then the slot may have
  // moved on and have new sleepers (the next lap's push); they take the wake as spurious and re-read. Why
  // defer: a wake is a system call of several microseconds on the VMs, and each one made in the middle of
  // the run let the run's later claimants spin out and park too (docs/design/stream.md, "The refill's
  // wakes").
  template <class U>
  [[nodiscard]] owed_wake* fill_deferring_wake(std::uint32_t i, U&& v) {
    slot& s = at(i);
    await_turn(s.turn, free_turn(i));
    ::new (static_cast<void*>(s.storage)) T(std::forward<U>(v));
    s.hole = false;
    owed_wake* const turn = &s.turn;  // before the publish: see above
    // release: as publish().
    const std::uint32_t old = turn->exchange(full_turn(i), std::memory_order_release);
    if (old & hooked) [[unlikely]]
      run_hook();
    return (old & sleeping) != 0 ? turn : nullptr;
  }

  // The stream's hook for hooked turns (see Invariants): run, outside every lock, by the thread whose step
  // cleared a hooked bit. Set once, before the ring is shared.
  using step_hook = void (*)(void*) noexcept;
  void set_step_hook(step_hook hook, void* context) noexcept {
    hook_ = hook;
    hook_context_ = context;
  }

  // Under the stream's lock: mark the step in flight on index i's slot, whose turn a coroutine read as
  // `seen` (flags dropped), as awaited. moved: the turn moved on (the step is done: look again); set: this
  // call set the bit (the caller pins the stream: whoever clears the bit runs the hook and unpins);
  // already: another coroutine's hook is pending on it.
  enum class hook_result { moved, set, already };
  hook_result hook_step(std::uint32_t i, std::uint32_t seen) noexcept {
    return slots_ ? hook_turn(at(i).turn, seen) : hook_result::moved;
  }
  // The same on any turn word of this protocol (an overflow cell's too).
  static hook_result hook_turn(typename Sync::template atomic<std::uint32_t>& turn,
                               std::uint32_t seen) noexcept {
    // relaxed: the caller holds the stream's lock, which orders the link with the hook's claim; the
    // compare-exchange only has to be in the turn's modification order before or after the step's exchange.
    std::uint32_t t = turn.load(std::memory_order_relaxed);
    for (;;) {
      if ((t & ~flag_bits) != seen) return hook_result::moved;
      if (t & hooked) return hook_result::already;
      if (turn.compare_exchange_weak(t, t | hooked, std::memory_order_relaxed)) return hook_result::set;
    }
  }
  // Clear the hooked bit of index i's slot (the step it stood for is not owed any more); true when this
  // call cleared it (the caller then owns the hook's run and the unpin).
  bool unhook_step(std::uint32_t i) noexcept { return slots_ && unhook_turn(at(i).turn); }
  static bool unhook_turn(typename Sync::template atomic<std::uint32_t>& turn) noexcept {
    // relaxed: as hook_turn (under the stream's lock; the RMW decides who cleared the bit).
    return (turn.fetch_and(~hooked, std::memory_order_relaxed) & hooked) != 0;
  }

  // Whether index i's value (or hole) is published: a hint for the fast pop, which then claims i knowing that
  // take() will not wait. relaxed: take() re-reads the turn with acquire before touching the slot.
  bool ready(std::uint32_t i) const noexcept {
    return slots_ && (at(i).turn.load(std::memory_order_relaxed) & ~flag_bits) == full_turn(i);
  }

  // The turn of index i's slot, its sleeping bit dropped (no ring: 0), and whether a turn says index i is
  // published: for stream's await_publication. relaxed: a hint, as ready().
  std::uint32_t turn_of(std::uint32_t i) const noexcept {
    return slots_ ? at(i).turn.load(std::memory_order_relaxed) & ~flag_bits : 0;
  }
  bool published(std::uint32_t i, std::uint32_t turn) const noexcept {
    return slots_ && turn == full_turn(i);
  }
  // Whether a turn (flags dropped, as turn_of's) says index i's slot is free for its push.
  bool free_turn_is(std::uint32_t i, std::uint32_t turn) const noexcept {
    return slots_ && turn == free_turn(i);
  }
  // Whether `turn` is a step of i's slot before the publication of index i (free for i, or an earlier lap
  // still in flight), not one after it (index i taken already: the caller read a stale head). Turns count
  // modulo 2^30, two per index; the steps before full_turn(i) within half that range count as before it
  // (every step of the previous lap, except free_turn(i - size) at the largest ring, 2^28 slots).
  bool before_publication(std::uint32_t i, std::uint32_t turn) const noexcept {
    return before(full_turn(i), turn);
  }
  // The same for the step that frees i's slot for its push (the pop of i - size() moving out, or an earlier
  // step of that lap): false once the slot is free for i or past it (index i pushed already).
  bool before_free(std::uint32_t i, std::uint32_t turn) const noexcept { return before(free_turn(i), turn); }

  // Wait, without having claimed index i, until the turn of i's slot is no longer `seen` (the step in flight
  // on it, a push publishing or a pop freeing it, is done): spin (Sync::spin_limit relax steps at most), then
  // park once. Returns the turn it saw last if that one moved during the spin (the caller may claim at
  // once), else `seen` (parked, or the compare-exchange below failed: the caller looks at the stream's words
  // again). `still_waiting()` re-reads those words after this thread has marked the slot "sleeping" and
  // before it parks; it says whether the step it waits for is still in flight. Whoever ends that wait other
  // than by a publish of this slot (a push giving its claim back) must call wake_unclaimed(i) after it
  // changed the words: either its read-modify-write on the turn comes first in the turn's modification
  // order and our compare-exchange reads from it (acquire, so still_waiting() sees the change), or ours
  // comes first and it finds the sleeping bit and wakes us.
  template <class StillWaiting>
  std::uint32_t await_step(std::uint32_t i, std::uint32_t seen, StillWaiting still_waiting) noexcept {
    auto& turn = at(i).turn;
    // The spin phase (spin_wait.hpp). relaxed: a hint; the caller claims, and take() reads the turn with
    // acquire; the compare-exchange below decides whether to park.
    std::uint32_t t = spin_until<Sync>(turn, std::memory_order_relaxed,
                                       [seen](std::uint32_t v) { return (v & ~flag_bits) != seen; });
    if ((t & ~flag_bits) != seen) return t & ~flag_bits;
    // acquire: pairs with the release of publish() and wake_unclaimed(), so that still_waiting() sees what
    // their threads did before them (a head that moved on, a claim given back). A read-modify-write even
    // when another waiter set the bit already, so that the argument holds for this thread too.
    if (turn.compare_exchange_strong(t, t | sleeping, std::memory_order_acquire, std::memory_order_relaxed) &&
        still_waiting())
      Sync::park(turn, t | sleeping);
    return seen;
  }

  // Wake every thread in await_step(i, ...): the step it waited for will not come (see there). release:
  // publishes the caller's change of the stream's words to a waiter whose compare-exchange reads from this
  // read-modify-write (or a later one in its release sequence); nothing the waiter wrote is read here. The
  // read-modify-write is made even when no bit is set, which is what that argument needs.
  void wake_unclaimed(std::uint32_t i) noexcept {
    if (!slots_) return;
    auto& turn = at(i).turn;
    const std::uint32_t old = turn.fetch_and(~flag_bits, std::memory_order_release);
    if (old & sleeping) Sync::unpark_all(turn);
    if ((old & hooked) && hook_) hook_(hook_context_);
  }

  // Whether the slot of index i is free for it (its previous value, index i - size(), was moved out): a hint
  // for the fast push of a ring exactly as large as the capacity, where it proves the room. relaxed: fill()
  // re-reads the turn with acquire before writing the slot.
  bool free_for(std::uint32_t i) const noexcept {
    return slots_ && (at(i).turn.load(std::memory_order_relaxed) & ~flag_bits) == free_turn(i);
  }

  // The spin phase (spin_wait.hpp) of a push waiting for room: returns once free_for(i) holds or the spin
  // is over (then the caller tries and, if still full, registers). relaxed: a hint, as free_for().
  void spin_until_free(std::uint32_t i) const noexcept {
    if (!slots_) return;
    spin_until<Sync>(at(i).turn, std::memory_order_relaxed,
                     [want = free_turn(i)](std::uint32_t t) { return (t & ~flag_bits) == want; });
  }

  // Index i was claimed but its value could not be constructed, and the index cannot be given back: its
  // popper will find no value and claim again.
  void publish_hole(std::uint32_t i) noexcept {
    slot& s = at(i);
    s.hole = true;
    publish_step(s.turn, full_turn(i));
  }

  // Move the value of index i into `out` (the popper that claimed i). Returns false for a hole. If T's move
  // constructor throws, the value is destroyed, the slot freed, and the exception propagates (documented in
  // stream.hpp: the value whose move-out throws is the popper's own).
  bool take(std::uint32_t i, std::optional<T>& out) {
    slot& s = at(i);
    await_turn(s.turn, full_turn(i));
    if (s.hole) {
      publish_step(s.turn, free_turn(i + static_cast<std::uint32_t>(size())));
      return false;
    }
    T* p = std::launder(reinterpret_cast<T*>(s.storage));
    struct release_slot {
      stream_ring* ring;
      slot* s;
      T* p;
      std::uint32_t next;
      ~release_slot() {
        p->~T();
        ring->publish_step(s->turn, next);
      }
    } guard{this, &s, p, free_turn(i + static_cast<std::uint32_t>(size()))};
    out.emplace(std::move(*p));
    return true;
  }

  // Destructor helper, single-threaded: destroy the value of index i if it holds one.
  void destroy_quiescent(std::uint32_t i) noexcept {
    slot& s = at(i);
    if (!s.hole) std::launder(reinterpret_cast<T*>(s.storage))->~T();
  }

 public:
  // The turn protocol, also used by the cells of stream's overflow blocks (turn 0: being written; 1:
  // published). Bounded spin, then park; the wake protocol of waiter.hpp (point 2) on the slot's turn word.
  static void await_turn(typename Sync::template atomic<std::uint32_t>& turn, std::uint32_t want) noexcept {
    // acquire (park_until_ready reads with it too): pairs with the release exchange in publish(), making
    // the slot's contents visible. The first look stays here, inline in every pop and push: g++ does not
    // inline park_until_ready, and calling it on the common path (turn already right) cost the 8x8 rows.
    if ((turn.load(std::memory_order_acquire) & ~flag_bits) == want) return;
    park_until_ready<Sync>(turn, sleeping, [want](std::uint32_t t) { return (t & ~hooked) == want; });
  }

  // Move the turn to `next`; true when a coroutine had hooked the step (the caller runs the step hook).
  [[nodiscard]] static bool publish(typename Sync::template atomic<std::uint32_t>& turn,
                                    std::uint32_t next) noexcept {
    // release: publishes the slot's contents (or its emptiness); pairs with the acquire in await_turn().
    const std::uint32_t old = turn.exchange(next, std::memory_order_release);
    if (old & sleeping) Sync::unpark_all(turn);  // several threads may wait on one slot (see Invariants)
    return (old & hooked) != 0;
  }
  // Whether a turn (as loaded, flags included) says "published" for an overflow cell (turn 1).
  static bool cell_published(std::uint32_t turn) noexcept { return (turn & ~flag_bits) == 1; }

  // A turn word of this protocol used as a step counter (the overflow list's install turn,
  // detail/stream_overflow.hpp): its value without the flags, and a wait until that value is no longer
  // `seen` (bounded spin, then park; woken by publish()). The caller re-reads whatever the step changed.
  static std::uint32_t turn_value(const typename Sync::template atomic<std::uint32_t>& turn,
                                  std::memory_order order) noexcept {
    return turn.load(order) & ~flag_bits;
  }
  static void await_turn_change(typename Sync::template atomic<std::uint32_t>& turn,
                                std::uint32_t seen) noexcept {
    park_until_ready<Sync>(turn, sleeping, [seen](std::uint32_t t) { return (t & ~hooked) != seen; });
  }
  // Advance such a counter by one (modulo 2^30) as publish() moves a turn: one read-modify-write, so
  // concurrent advances never publish the same value twice; wakes its sleepers; true when it was hooked.
  [[nodiscard]] static bool publish_next(typename Sync::template atomic<std::uint32_t>& turn) noexcept {
    // relaxed: the compare-exchange below decides.
    std::uint32_t old = turn.load(std::memory_order_relaxed);
    // release: as publish()'s exchange (pairs with the waiter's acquire read of the counter).
    while (!turn.compare_exchange_weak(old, ((old & ~flag_bits) + 1) & ~flag_bits, std::memory_order_release,
                                       std::memory_order_relaxed)) {
    }
    if (old & sleeping) Sync::unpark_all(turn);
    return (old & hooked) != 0;
  }

 private:
  static constexpr std::uint32_t sleeping = std::uint32_t{1} << 31;
  static constexpr std::uint32_t hooked = std::uint32_t{1} << 30;
  static constexpr std::uint32_t flag_bits = sleeping | hooked;

  void publish_step(typename Sync::template atomic<std::uint32_t>& turn, std::uint32_t next) noexcept {
    if (publish(turn, next)) [[unlikely]]
      run_hook();
  }
  // Out of line: fill() and take() stay small enough to be inlined into the fast push and pop.
  [[gnu::noinline, gnu::cold]] void run_hook() noexcept {
    if (hook_) hook_(hook_context_);
  }

  struct slot {
    typename Sync::template atomic<std::uint32_t> turn{0};
    bool hole = false;  // written by the pusher before publish, read by the popper after await_turn
    alignas(T) unsigned char storage[sizeof(T)];
  };

  static std::uint32_t free_turn(std::uint32_t i) noexcept { return (i & index_mask) << 1; }
  // Whether `turn` is a step before `target` on one slot: turns count modulo 2^30, two per index; the steps
  // within half that range behind the target count as before it.
  static bool before(std::uint32_t target, std::uint32_t turn) noexcept {
    constexpr std::uint32_t turn_mask = (index_mask << 1) | 1;
    const std::uint32_t behind = (target - turn) & turn_mask;
    return behind != 0 && behind <= (turn_mask >> 1) + 1;
  }
  static std::uint32_t full_turn(std::uint32_t i) noexcept { return ((i & index_mask) << 1) | 1; }

  // Consecutive indices live on different cache lines: a pusher writing index i and a popper reading i - 1
  // (or i + 1) would otherwise pass one line back and forth. Slot position = the index's ring offset with its
  // low log2(slots_per_line) bits moved to the top: a bijection on [0, size) that puts indices i and i + 1
  // size / slots_per_line slots apart (atomic_queue's "remap_index" idea).
  static constexpr std::size_t cache_line = 64;
  // A power of two (whole slots per line when sizeof(slot) divides a line; a spread that is good enough
  // else).
  static constexpr std::size_t slots_per_line =
      sizeof(slot) <= cache_line ? std::bit_floor(cache_line / sizeof(slot)) : 1;
  static constexpr unsigned line_bits = std::countr_zero(slots_per_line);
  std::size_t position(std::uint32_t i) const noexcept {
    const std::size_t k = i & mask_;
    if (!spread_) return k;
    return ((k & (slots_per_line - 1)) << spread_shift_) | (k >> line_bits);
  }
  slot& at(std::uint32_t i) noexcept { return slots_.get()[position(i)]; }
  const slot& at(std::uint32_t i) const noexcept { return slots_.get()[position(i)]; }

  // The slot array starts on a cache line, so that each line holds whole slots.
  struct slot_deleter {
    std::size_t size = 0;
    void operator()(slot* p) const noexcept {
      for (std::size_t k = 0; k < size; ++k) p[k].~slot();
      ::operator delete (static_cast<void*>(p), std::align_val_t{alignment()});
    }
  };
  static constexpr std::size_t alignment() noexcept {
    return alignof(slot) > cache_line ? alignof(slot) : cache_line;
  }
  static slot* allocate(std::size_t size) {
    void* raw = ::operator new (size * sizeof(slot), std::align_val_t{alignment()});  // may throw bad_alloc
    slot* p = static_cast<slot*>(raw);
    for (std::size_t k = 0; k < size; ++k) ::new (static_cast<void*>(p + k)) slot();  // noexcept
    return p;
  }

  std::size_t mask_ = 0;
  unsigned spread_shift_ = 0;  // log2(size / slots_per_line)
  bool spread_ = false;
  std::unique_ptr<slot, slot_deleter> slots_;
  step_hook hook_ = nullptr;  // set before the ring is shared; read by the thread that clears a hooked bit
  void* hook_context_ = nullptr;
};

}  // namespace handoff::detail
