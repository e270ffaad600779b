// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/stream_ring.hpp: the slot array behind stream<T> (bounded, and the fast part of unbounded).
//
// Purpose: storage for values whose positions were already claimed on stream's head and tail words. A pusher
// that claimed index i writes slot i and publishes it; a popper that claimed index i waits for that
// publication, moves the value out and frees the slot for index i + size(). Claiming (who gets which index,
// whether the stream is full, closed or has waiters) is stream.hpp's job, on those words; this file only
// moves values.
//
// Slot words (two Sync::atomic<uint32_t> per slot, side by side on one cache line):
//   turn:  2 * (index mod 2^29) + 1 if the slot holds (or is a hole for) index, 2 * index if it is free for a
//          pusher of index. Only the thread making a step writes it, with a plain store.
//   flags: bit 31 SLEEPING: a thread sleeps on this slot (the futex word is `flags`); bit 30 HOOKED: a
//          coroutine waits for the step in flight on this slot (the thread that makes a step runs the ring's
//          step hook: stream.hpp invariant 12); bit 0 HOLE: the slot's published index holds no value;
//          bits 1..29: the generation, advanced by every read-modify-write that serves the marks.
// Overflow cells (stream_overflow.hpp) keep one word each (turn 0 / 1 with SLEEPING and HOOKED in it, moved
// by an exchange): the static publish / await_turn / hook_turn / unhook_turn below.
// Invariants:
//   - The slot of index i is written only by the pusher that claimed i, once the popper of i - size() freed
//     it; it is read only by the popper that claimed i, once that pusher published it. Indices are claimed
//     on the tail word with count < capacity <= size(). Behind a stalled step, several threads may wait on
//     one slot (the popper of i, the pusher of i + size(), later claimants behind them), each for a step
//     already in flight in another thread, so a step that finds SLEEPING wakes them all: waits here are
//     bounded by that thread's progress, never by a thread that has not started. Pops that have not claimed
//     an index may also wait on its slot (await_step, stream.hpp invariant 9) for the step in flight.
//   - A "hole" is a published slot that holds no value: the pusher's move constructor threw after it had
//     claimed the index (G-8). HOLE is set before that publication and cleared by its popper before it frees
//     the slot and claims again; the value stayed with the pusher. A step writes `flags` only to serve
//     marks it found.
//   - A step clears SLEEPING and HOOKED when it finds either (one read-modify-write that also advances the
//     generation, so the futex word differs from every value a sleeper parked on; then it wakes the
//     sleepers and, for HOOKED, runs the hook). Without the generation a second waiter's mark right after
//     the clear would restore the word a first waiter was about to park on, and that one would sleep
//     through its step (found by the Relacy model, tests/model/unclaimed_wait_model.cpp, claimed suite). It
//     may find bits set by threads waiting for a later step of the same slot (its load of `flags` comes after
//     its store of the turn): they wake or resume early, look again and mark again. Spurious, never lost.
//   - Turns are indices modulo 2^29, so a claimant relies on no slot being lapped while it waits. Indices
//     can pass a stalled slot: with a pop of j descheduled after its claim, pushes and pops of j + size,
//     j + 2 size, ... may claim (about 2^30 / size blocked threads and ~5x10^8 operations during that one
//     stall), and at j + 2^29 the turn reads as j's again: values swapped, or two pops moving out of one
//     slot. Not guarded (found by review; needs ring sizes near 2^28 and a stall of that length). A pop
//     waiting unclaimed (await_step) holds nothing back and could in theory be lapped: it would have to stay
//     descheduled for 2^29 values between reading the turn and marking itself asleep, find the head word
//     equal again (same index, same epoch), and read a stale tail on a stream that is empty; a locked
//     read-modify-write makes that read current on x86. Not guarded further.
//   - A step touches the slot after its store (the flags load, and a serve), when the partner may already
//     have returned and destroyed the stream: every step runs inside a step_window (detail/step_hazard.hpp,
//     a per-thread hazard record naming the ring), and the ring's destructor waits until no record names
//     it. The old one-exchange step needed none: its exchange was its last touch.
//   - HOOKED is set only under the owning stream's lock (hook_step), for a step that the coroutine saw in
//     flight; if the turn moved meanwhile, hook_step takes the bit back unless a step took it first (that
//     thread then runs the hook, which takes the lock after the caller's pin). No step runs under the
//     stream's lock.
// Memory ordering:
//   - A step is a release store of the turn; await_slot's loads are acquire: the pusher's writes (the value,
//     HOLE and everything before the push) happen-before the popper's move (rule G-4), and the popper's
//     move-out happens-before the next pusher's construction in the same slot.
//   - No lost wakeup, a store-load pair (Dekker): a step stores the turn, then loads `flags`; a waiter (or a
//     hooking coroutine) sets its bit with a read-modify-write on `flags`, then loads the turn. A fence
//     between the store and the load of each side makes at least one of them see the other: the step finds
//     the bit (and wakes; its clearing RMW changes the futex word, so a park that had not begun returns at
//     once), or the waiter finds the turn moved (and does not sleep). The fence is asymmetric where the
//     Sync policy has a process-wide barrier (os_sync over futex parking: Linux membarrier, registered once
//     per process): the step's side is a compiler fence only, so the common path is a plain store and a
//     load on a line it owns, and the waiter's side is the barrier, which makes every running thread of the
//     process execute a full fence (a thread not running has passed one at its context switch). Without it
//     (portable parking, HANDOFF_NO_MEMBARRIER=1, a kernel that refuses) both sides are seq_cst; a model
//     checker's policy supplies store_load_fence(), a seq_cst fence, for both sides. Chosen once per ring.
//   - A waiter's RMW on `flags` is acquire and a step's clearing RMW release: a waiter woken by a step that
//     it did not see at its first look sees it at the next one. wake_unclaimed's release pairs with
//     await_step's acquire (see there).
// History (issue 20): the turn word also carried SLEEPING and HOOKED and every step was a locked exchange
// that returned them. MPMC 2x2 at capacity 1024 spent about a fifth of each side's time in it; a plain store
// measured 2.0-2.3x there (6 interleaved rounds; crossbeam's array channel moves its stamps with stores too).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "spin_wait.hpp"
#include "step_hazard.hpp"

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
        expedited_(process_barrier_ready()),
        slots_(size ? allocate(size) : nullptr, slot_deleter{size}) {
    for (std::size_t k = 0; k < size; ++k) {
      // relaxed: the constructor is not concurrent with anything.
      at(static_cast<std::uint32_t>(k))
          .turn.store(free_turn(static_cast<std::uint32_t>(k)), std::memory_order_relaxed);
    }
  }
  stream_ring(const stream_ring&) = delete;
  stream_ring& operator=(const stream_ring&) = delete;
  // A step may still be between its store and its last access to the slot (detail/step_hazard.hpp).
  ~stream_ring() {
    if constexpr (hazard_windows) {
      if (slots_) await_no_step_on(this);
    }
  }

  std::size_t size() const noexcept { return slots_ ? mask_ + 1 : 0; }
  // Bytes per slot (turn and flags words and the value's storage), for callers that size a ring by memory.
  static constexpr std::size_t slot_size() noexcept { return sizeof(slot); }

  // Construct the value of index i from `v` (the pusher that claimed i). If T's constructor throws, the slot
  // stays free for index i and the exception propagates; the caller then either gives the index back on the
  // tail word or calls publish_hole(i). `v` is whatever T's constructor left it.
  template <class U>
  void fill(std::uint32_t i, U&& v) {
    slot& s = at(i);
    await_slot(s, free_turn(i));
    ::new (static_cast<void*>(s.storage)) T(std::forward<U>(v));
    step(s, full_turn(i));
  }

  // The stream's hook for hooked steps (see Invariants): run, outside every lock, by the thread whose step
  // cleared a hooked bit. Set once, before the ring is shared.
  using step_hook = void (*)(void*) noexcept;
  void set_step_hook(step_hook hook, void* context) noexcept {
    hook_ = hook;
    hook_context_ = context;
  }

  // Under the stream's lock: mark the step in flight on index i's slot, whose turn a coroutine read as
  // `seen`, as awaited. moved: the turn moved on (the step is done: look again); set: HOOKED is owed a hook
  // run (the caller pins the stream: whoever clears the bit runs the hook and unpins); already: another
  // coroutine's hook is pending on it.
  enum class hook_result { moved, set, already };
  hook_result hook_step(std::uint32_t i, std::uint32_t seen) noexcept {
    if (!slots_) return hook_result::moved;
    slot& s = at(i);
    std::uint32_t turn = 0;
    if (mark_then_read_turn(s, hooked, turn) & hooked) return hook_result::already;
    if (turn == seen) return hook_result::set;  // the step will find the bit (the store-load pair)
    // The step came first. Take the bit back, unless a step took it already: that thread runs the hook,
    // which takes the stream's lock, so after the caller's pin. relaxed: the RMW decides who cleared it.
    return (s.flags.fetch_and(~hooked, std::memory_order_relaxed) & hooked) ? hook_result::moved
                                                                            : hook_result::set;
  }
  // Clear HOOKED of index i's slot (the step it stood for is not owed any more); true when this call cleared
  // it (the caller then owns the hook's run and the unpin).
  bool unhook_step(std::uint32_t i) noexcept {
    // relaxed: under the stream's lock; the RMW decides who cleared the bit.
    return slots_ && (at(i).flags.fetch_and(~hooked, std::memory_order_relaxed) & hooked) != 0;
  }

  // Whether index i's value (or hole) is published: a hint for the fast pop, which then claims i knowing that
  // take() will not wait. relaxed: take() re-reads the turn with acquire before touching the slot.
  bool ready(std::uint32_t i) const noexcept {
    return slots_ && at(i).turn.load(std::memory_order_relaxed) == full_turn(i);
  }

  // The turn of index i's slot (no ring: 0), and whether a turn says index i is published: for stream's
  // await_publication. relaxed: a hint, as ready().
  std::uint32_t turn_of(std::uint32_t i) const noexcept {
    return slots_ ? at(i).turn.load(std::memory_order_relaxed) : 0;
  }
  bool published(std::uint32_t i, std::uint32_t turn) const noexcept {
    return slots_ && turn == full_turn(i);
  }
  // Whether a turn (as turn_of's) says index i's slot is free for its push.
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
  // once), else `seen` (parked, or the turn moved after the mark: the caller looks at the stream's words
  // again). `still_waiting()` re-reads those words after this thread has marked the slot SLEEPING and
  // before it parks; it says whether the step it waits for is still in flight. Whoever ends that wait other
  // than by a step of this slot (a push giving its claim back) must call wake_unclaimed(i) after it changed
  // the words: both are read-modify-writes of `flags`, so either its RMW comes first in the word's
  // modification order and our mark reads from it (acquire, so still_waiting() sees the change), or ours
  // comes first and it finds SLEEPING, clears it (our park then returns at once) and wakes us.
  template <class StillWaiting>
  std::uint32_t await_step(std::uint32_t i, std::uint32_t seen, StillWaiting still_waiting) noexcept {
    slot& s = at(i);
    // The spin phase (spin_wait.hpp). relaxed: a hint; the caller claims, and take() reads the turn with
    // acquire; the mark below decides whether to park.
    const std::uint32_t t =
        spin_until<Sync>(s.turn, std::memory_order_relaxed, [seen](std::uint32_t v) { return v != seen; });
    if (t != seen) return t;
    std::uint32_t now = 0;
    const std::uint32_t f = mark_then_read_turn(s, sleeping, now);
    if (now == seen && still_waiting()) Sync::park(s.flags, f | sleeping);
    return seen;
  }

  // Wake every thread in await_step(i, ...): the step it waited for will not come (see there). release:
  // publishes the caller's change of the stream's words to a waiter whose mark reads from this RMW (or a
  // later one in its release sequence); nothing the waiter wrote is read here. The RMW is made even when no
  // bit is set, which is what that argument needs.
  void wake_unclaimed(std::uint32_t i) noexcept {
    if (!slots_) return;
    slot& s = at(i);
    const std::uint32_t old = serve_flags(s, std::memory_order_release);
    if (old & sleeping) Sync::unpark_all(s.flags);
    if ((old & hooked) && hook_) hook_(hook_context_);
  }

  // Whether the slot of index i is free for it (its previous value, index i - size(), was moved out): a hint
  // for the fast push of a ring exactly as large as the capacity, where it proves the room. relaxed: fill()
  // re-reads the turn with acquire before writing the slot.
  bool free_for(std::uint32_t i) const noexcept {
    return slots_ && at(i).turn.load(std::memory_order_relaxed) == free_turn(i);
  }

  // The spin phase (spin_wait.hpp) of a push waiting for room: returns once free_for(i) holds or the spin
  // is over (then the caller tries and, if still full, registers). relaxed: a hint, as free_for().
  void spin_until_free(std::uint32_t i) const noexcept {
    if (!slots_) return;
    spin_until<Sync>(at(i).turn, std::memory_order_relaxed,
                     [want = free_turn(i)](std::uint32_t t) { return t == want; });
  }

  // Index i was claimed but its value could not be constructed, and the index cannot be given back: its
  // popper will find no value and claim again.
  void publish_hole(std::uint32_t i) noexcept {
    slot& s = at(i);
    // relaxed: the step's release store below publishes it.
    s.flags.fetch_or(hole, std::memory_order_relaxed);
    step(s, full_turn(i));
  }

  // Move the value of index i into `out` (the popper that claimed i). Returns false for a hole. If T's move
  // constructor throws, the value is destroyed, the slot freed, and the exception propagates (documented in
  // stream.hpp: the value whose move-out throws is the popper's own).
  bool take(std::uint32_t i, std::optional<T>& out) {
    slot& s = at(i);
    await_slot(s, full_turn(i));
    // relaxed: HOLE was set before the publication that await_slot read with acquire; nothing else clears it.
    if (s.flags.load(std::memory_order_relaxed) & hole) [[unlikely]] {
      s.flags.fetch_and(~hole, std::memory_order_relaxed);  // published by the step below
      step(s, free_turn(i + static_cast<std::uint32_t>(size())));
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
        ring->step(*s, next);
      }
    } guard{this, &s, p, free_turn(i + static_cast<std::uint32_t>(size()))};
    out.emplace(std::move(*p));
    return true;
  }

  // Destructor helper, single-threaded: destroy the value of index i if it holds one.
  void destroy_quiescent(std::uint32_t i) noexcept {
    slot& s = at(i);
    if (!(s.flags.load(std::memory_order_relaxed) & hole))
      std::launder(reinterpret_cast<T*>(s.storage))->~T();
  }

  // ---- The overflow cells' one-word protocol (stream_overflow.hpp; turn 0: being written; 1: published):
  // SLEEPING and HOOKED live in the turn word itself, and every step is an exchange that returns them.

  // Bounded spin, then park; the wake protocol of waiter.hpp (point 2) on the cell's turn word.
  static void await_turn(typename Sync::template atomic<std::uint32_t>& turn, std::uint32_t want) noexcept {
    // acquire (park_until_ready reads with it too): pairs with the release exchange in publish(), making
    // the cell's contents visible.
    if ((turn.load(std::memory_order_acquire) & ~flag_bits) == want) return;
    park_until_ready<Sync>(turn, sleeping, [want](std::uint32_t t) { return (t & ~hooked) == want; });
  }

  // Move the cell's turn to `next`; true when a coroutine had hooked the step (the caller runs the hook).
  [[nodiscard]] static bool publish(typename Sync::template atomic<std::uint32_t>& turn,
                                    std::uint32_t next) noexcept {
    // release: publishes the cell's contents (or its emptiness); pairs with the acquire in await_turn().
    const std::uint32_t old = turn.exchange(next, std::memory_order_release);
    if (old & sleeping) Sync::unpark_all(turn);
    return (old & hooked) != 0;
  }
  // Under the stream's lock: mark the step in flight on a cell whose turn a coroutine read as `seen` (flags
  // dropped) as awaited; results as hook_step's.
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
  // Clear the hooked bit of a cell's turn; true when this call cleared it (the caller runs the hook).
  static bool unhook_turn(typename Sync::template atomic<std::uint32_t>& turn) noexcept {
    // relaxed: as hook_turn (under the stream's lock; the RMW decides who cleared the bit).
    return (turn.fetch_and(~hooked, std::memory_order_relaxed) & hooked) != 0;
  }
  // Whether a cell's turn (as loaded, flags included) says "published" (turn 1).
  static bool cell_published(std::uint32_t turn) noexcept { return (turn & ~flag_bits) == 1; }

 private:
  static constexpr std::uint32_t sleeping = std::uint32_t{1} << 31;
  static constexpr std::uint32_t hooked = std::uint32_t{1} << 30;
  static constexpr std::uint32_t flag_bits = sleeping | hooked;  // a cell's turn word: the flags in it
  static constexpr std::uint32_t wake_bits = sleeping | hooked;  // a slot's flags a step clears and serves
  static constexpr std::uint32_t hole = 1;                       // a slot's flags: published, no value
  // A slot's flags, bits 1..29: how many times a step (or a give-back) served the marks, modulo 2^29.
  static constexpr std::uint32_t generation_unit = 2;
  static constexpr std::uint32_t generation_bits = ~(wake_bits | hole);

  struct slot {
    typename Sync::template atomic<std::uint32_t> turn{0};   // the step; written by a plain store
    typename Sync::template atomic<std::uint32_t> flags{0};  // SLEEPING | HOOKED | HOLE; the futex word
    alignas(T) unsigned char storage[sizeof(T)];
  };

  // Which fence pairs a step with its waiters (Memory ordering): a model checker's own, the process-wide
  // barrier, or neither (seq_cst on both sides).
  static constexpr bool model_fence = requires { Sync::store_load_fence(); };
  static_assert(
      requires { Sync::process_barrier_ready(); } == requires { Sync::process_barrier(); },
      "a Sync policy with a process-wide barrier supplies both process_barrier_ready() and "
      "process_barrier() (detail/sync.hpp)");
  static bool process_barrier_ready() noexcept {
    if constexpr (!model_fence && requires { Sync::process_barrier_ready(); })
      return Sync::process_barrier_ready();
    else
      return false;
  }

  // A step's half of the store-load pair: move the turn to `next` (release: publishes the slot's contents or
  // its emptiness; pairs with await_slot's acquire), then read the flags.
  std::uint32_t store_then_read_flags(slot& s, std::uint32_t next) noexcept {
    if constexpr (model_fence) {
      s.turn.store(next, std::memory_order_release);
      Sync::store_load_fence();
      return s.flags.load(std::memory_order_relaxed);
    } else {
      if (expedited_) [[likely]] {
        s.turn.store(next, std::memory_order_release);
        // The waiter's process barrier orders the CPU; this keeps the compiler from moving the load up.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        return s.flags.load(std::memory_order_relaxed);
      }
      s.turn.store(next, std::memory_order_seq_cst);
      return s.flags.load(std::memory_order_seq_cst);
    }
  }
  // A waiter's (or hooking coroutine's) half: set `bit` in the flags (acquire: see Memory ordering), then
  // read the turn into `turn`. Returns the flags before the mark.
  std::uint32_t mark_then_read_turn(slot& s, std::uint32_t bit, std::uint32_t& turn) noexcept {
    std::uint32_t before;
    if constexpr (model_fence) {
      before = s.flags.fetch_or(bit, std::memory_order_acquire);
      Sync::store_load_fence();
      turn = s.turn.load(std::memory_order_acquire);
    } else {
      if (expedited_) {
        before = s.flags.fetch_or(bit, std::memory_order_acquire);
        if constexpr (requires { Sync::process_barrier(); })
          Sync::process_barrier();  // see the static_assert
        turn = s.turn.load(std::memory_order_acquire);
      } else {
        before = s.flags.fetch_or(bit, std::memory_order_seq_cst);
        turn = s.turn.load(std::memory_order_seq_cst);
      }
    }
    return before;
  }

  // Make a step: move the turn, and if a waiter or a coroutine marked the slot, serve it. The partner may
  // return (and destroy the stream) as soon as the store lands, so the step runs inside a hazard window
  // that the ring's destructor waits for (detail/step_hazard.hpp). Policies for real threads only: a test
  // scheduler's or model checker's runs destroy their streams after every thread has finished.
  void step(slot& s, std::uint32_t next) noexcept {
    [[maybe_unused]] const window_type window(this);
    if (store_then_read_flags(s, next) & wake_bits) [[unlikely]]
      serve_marks(s);
  }
  static constexpr bool hazard_windows = requires { Sync::process_barrier_ready(); };
  struct no_window {
    explicit no_window(const void*) noexcept {}
  };
  using window_type = std::conditional_t<hazard_windows, step_window, no_window>;
  // Out of line: fill() and take() stay small enough to be inlined into the fast push and pop.
  [[gnu::noinline]] void serve_marks(slot& s) noexcept {
    // release: a waiter whose next mark reads from this RMW sees the turn stored before it.
    const std::uint32_t old = serve_flags(s, std::memory_order_release);
    if (old & sleeping) Sync::unpark_all(s.flags);  // several threads may wait on one slot (Invariants)
    if ((old & hooked) && hook_) hook_(hook_context_);
  }

  // Clear SLEEPING and HOOKED and advance the generation, in one read-modify-write (with `order`); returns
  // the flags before. The generation is why a sleeper parked on `flags` cannot miss being served: another
  // waiter may set SLEEPING again right after this clears it (a later step's), and without the count the word
  // would read as the value the first one parked on.
  static std::uint32_t serve_flags(slot& s, std::memory_order order) noexcept {
    // relaxed first read: the compare-exchange decides.
    std::uint32_t old = s.flags.load(std::memory_order_relaxed);
    while (!s.flags.compare_exchange_weak(old, (old & hole) | ((old + generation_unit) & generation_bits),
                                          order, std::memory_order_relaxed)) {
    }
    return old;
  }

  // Wait until the slot's turn is `want` (the caller claimed the index, so the step it waits for is in
  // flight or done). The first look stays inline in every pop and push.
  void await_slot(slot& s, std::uint32_t want) noexcept {
    // acquire: pairs with the release store of the step, making the slot's contents visible.
    if (s.turn.load(std::memory_order_acquire) == want) return;
    await_slot_slow(s, want);
  }
  [[gnu::noinline]] void await_slot_slow(slot& s, std::uint32_t want) noexcept {
    // acquire: as in await_slot.
    std::uint32_t t =
        spin_until<Sync>(s.turn, std::memory_order_acquire, [want](std::uint32_t v) { return v == want; });
    while (t != want) {
      const std::uint32_t f = mark_then_read_turn(s, sleeping, t);
      if (t == want) break;
      Sync::park(s.flags, f | sleeping);
      t = s.turn.load(std::memory_order_acquire);
    }
  }

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
  bool expedited_ = false;  // the process-wide barrier pairs the steps with their waiters (Memory ordering)
  std::unique_ptr<slot, slot_deleter> slots_;
  step_hook hook_ = nullptr;  // set before the ring is shared; read by the thread that clears a hooked bit
  void* hook_context_ = nullptr;
};

}  // namespace handoff::detail
