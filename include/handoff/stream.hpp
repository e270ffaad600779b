// ---------------------------------------------------------------------------------------------------------------
// handoff/stream.hpp: stream<T>, a multi-producer multi-consumer FIFO channel with close (Lwt_stream on OS
// threads; rules ST-1..ST-8 of the spec).
//
// Purpose: writer-driven buffering. stream<T>{n} (n >= 1) buffers up to n values and makes push wait when
// full; stream<T>{unbounded} never makes push wait; stream<T>{0} is a rendezvous (push returns once a popper
// has the value). pop returns the oldest value and waits while empty. close() lets poppers drain what is
// buffered and then report end-of-stream; pushes after it fail and keep their values. Each value goes to
// exactly one popper (a work queue); for every-consumer-sees-every-value use topic<T> (ST-8).
//
// Operations (G-7: every blocking one has a try_, a _for, an _until and a stop-token form; the timed ones
// also take a deadline and a stop token together, and a passed deadline or a stop already requested makes
// them answer at once, as try_ does; cancelled when both apply). [[nodiscard]] on every try_, timed and
// cancellable form.
//   push:  bool push(T&&), push(const T&)                          false = closed
//          status try_push(v)                                      ok | full | closed
//          status push_for(v, d [, stop]), push_until(v, t [, stop]), push(v, stop)
//                                                                  ok | timeout | cancelled | closed
//          v is T&& (not moved from unless ok) or const T& (copied in; the caller's object never changes).
//   pop:   std::optional<T> pop()                                  nullopt = closed and drained
//          result<T> try_pop(), pop_for(d [, stop]), pop_until(t [, stop]), pop(stop)
//                   (a std::optional<T> with status(): ok | empty | timeout | cancelled | closed)
//          status try_pop(T&), pop_for(T&, d [, stop]), pop_until(T&, t [, stop]), pop(T&, stop)
//   batch: size_t try_pop_some(out, max)   up to max values available now, oldest first; never waits
//          size_t pop_some(out, max)       waits for one value (0 = closed and drained), then as try_pop_some
//          result<size_t> pop_some_for(out, max, d [, stop]), pop_some_until(out, max, t [, stop]),
//          pop_some(out, max, stop)        the count (ok), or closed | timeout | cancelled, nothing written
//   close: void close(); bool is_closed(); void wait_closed(); status wait_closed_for(d [, stop]),
//          wait_closed_until(t [, stop]), wait_closed(stop)   (ok = closed; waits without consuming)
//   range: for (T v : s), s.values(), s.values(stop)   lazy: pops only values the loop receives (ST-7)
//   watch: s.watch(notifier) -> watcher: arm(), arm_writable(), unwatch()   readiness for event loops (WA-*)
//   size() (snapshot), capacity(), waiting() (diagnostic).
//
// Memory: a bounded stream allocates its whole ring at construction: the capacity rounded up to a power of
// two slots (see below), each detail::stream_ring::slot_size() bytes (a 4-byte turn word, a hole flag and
// T's storage, padded to T's alignment: 12 bytes for int, 16 for a 64-bit T). So stream<int>(1 << 28), the
// largest capacity, takes 3 GiB before the first push, and stream<int>(1'000'000) 12 MiB. An unbounded
// stream allocates a ring of unbounded_ring_size slots, then one block per overflow_block_values values of
// backlog beyond it (invariant 4); a push throws std::length_error (its value untouched, as for
// std::bad_alloc) when the backlog has reached 2^28 values. Capacity 0 allocates no ring.
//
// Two words, each on its own cache line so that producers and consumers do not contend (indices are 29 bits,
// modulo 2^29; count = tail - head):
//   tail word: tail index (next index to push) and the flags a pusher obeys: POPPERS (poppers wait), PUSHERS
//              (pushers wait), OVERFLOW (unbounded: values beyond the ring wait in a list), CLOSED, WATCHED
//              (readable watchers are armed: invariant 11), plus the overflow list's tail position L (bits
//              29..57, invariant 4).
//   head word: head index (next index to pop) and the flags a popper obeys: PUSHERS (the same fact, mirrored)
//              and HELD (a push whose move threw is deciding whether to give its index back), WATCHED
//              (writable watchers are armed), plus an epoch that every such decision advances.
// The ring has the capacity rounded up to a power of two slots (capacity 1: capacity_one_ring_slots, 64, when
// they fit in 4 KiB, else 2). Pushers read the head word only when the slot at the tail is not free yet (or
// the ring is larger than the capacity: see has_room); poppers read the tail word only when the slot at the
// head is not published yet (empty, or a push in flight).
// Invariants:
//   1. Uncontended push and pop are one compare-exchange on their own word plus the slot protocol of
//      detail/stream_ring.hpp: no lock, no system call, no allocation (G-6). A claim whose compare-exchange
//      lost to another thread's backs off (back_off: a bounded relax loop, longer after each loss) before it
//      tries again. A fast push requires no flag in the tail word and count < capacity; a fast pop requires
//      no flag in the head word and count > 0. Everything else goes to the slow path, under lock_
//      (detail/slow_lock.hpp).
//   2. Flags change only under lock_, by compare-exchange on the word the fast paths of the other side
//      update, so a thread that decides to wait under lock_ and sets its flag cannot miss a fast-path
//      operation (the protocol of detail/waiter.hpp, point 1): a popper sets POPPERS on the tail word only
//      if the tail still equals the head it read (so the stream was empty at that instant, head <= tail);
//      the first waiting pusher sets PUSHERS on the tail word (freezing the tail: pushes divert to lock_),
//      then on the head word only if that head still leaves the stream full (freezing the head too), else
//      takes the tail flag back and retries.
//   3. POPPERS implies count == 0 (a popper registers only on an empty stream, and while the flag is set
//      pushes go to the slow path, which hands their values straight to the oldest popper: ST-4, G-3).
//      PUSHERS implies count >= capacity (bounded), both words frozen, every move of head or tail under
//      lock_: a pop moves the oldest pusher's value into the slot it frees: pushers enter in FIFO order
//      (ST-2), no barging.
//   4. Unbounded streams push into the ring while it has room; beyond it, values go to an overflow list
//      (OVERFLOW set, pushes diverted), so every ring value is older than every overflow value; pops take the
//      ring first and then the list. Memory is the ring plus one block of overflow_block_values cells (31 to
//      127: about 4 KiB of values) per as many values of backlog beyond it (a partly used tail block stays
//      for the next overflow; detail/stream_overflow.hpp). A push claims its list cell on the tail word
//      itself, without lock_: the list's tail position L lives in the word's bits 29..57, and the claim is a
//      compare-exchange L -> L + 1 of the whole word, so it fails if a flag changed meanwhile (a thread's
//      push does so on its fast path while OVERFLOW is the only flag; the first list value, which sets
//      OVERFLOW, readable watchers and a coroutine's try take the same step under lock_). The push that
//      claims a block's last cell links the next block (allocated before its claim) and moves L past the
//      block's sentinel position; pushes that find L on a sentinel wait for that install. OVERFLOW goes only
//      under lock_, by a compare-exchange from a word whose L shows the list empty (clear_overflow_if_empty):
//      a push that claimed meanwhile moved L, and the clear fails. The list comes back into the ring in runs
//      (the refill), so that a backlog does not keep the pops on lock_: a thread's pop that finds the ring
//      drained takes its own value from the list and also claims the next values of the list (up to
//      overflow_refill_values, 64) with the ring indices from the tail on, under lock_ (only lock_'s holder
//      moves the tail index while OVERFLOW is set; the compare-exchange is retried when only L moved). The
//      values move from their cells into their slots outside lock_ (invariant 6), in index order; pops may
//      claim those indices meanwhile and wait for the slots' turns, as for any push in flight. So that they
//      rarely have to, a thread's pop that takes an index that is a multiple of top_up_values (64) also tops
//      the ring up before it drains: if OVERFLOW is set, lock_ is free at once (try_lock: a busy lock is left
//      alone) and the ring has room for top_up_values more, it claims the next run of the list with the
//      indices from the tail on, as above; the run is younger than every ring value and older than the list's
//      rest, so FIFO holds either way. Only when T's move constructor is noexcept (a value moved out of its
//      cell cannot go back) and not for a coroutine's try (the moves wait for cell writes and slot frees in
//      flight: invariant 12). Cost: one lock per run of pops, none per push; a block allocation per
//      overflow_block_values values of backlog.
//   5. Capacity 0 has no ring: push and pop always meet in the slow path, one waiter handing to the other.
//   6. T's constructors and destructors never run under lock_: an overflow cell is claimed first and its
//      value moved in afterwards, published through the cell's turn word like a ring slot. A try_ operation
//      never waits for an operation to start; it may wait for slot or cell writes (and, in a refill,
//      invariant 4, up to 64 of each and the frees of the slots it fills) already in flight in other
//      threads (detail/stream_ring.hpp), and an unbounded push for an overflow block install in flight
//      (invariant 4), which is bounded by those threads' progress.
//   7. A push that finds a bounded stream of capacity >= min_yield_capacity (16) full, or a pop that finds
//      such a stream empty, and that may wait, first yields the CPU up to Sync::yield_limit times (1 in the
//      library's policy, detail/sync.hpp), trying the fast path again after each, and only then takes the
//      slow path and registers. With more threads than cores the thread it waits for usually needs this
//      very core, and a registered waiter costs the other side lock_ and a futex wake per value until it is
//      served; the yield lets the other side fill or drain a batch first (room_batch(): 2 or more values at
//      these capacities). Below 16 the batch is one value and a yield, a system call, costs more than it
//      saves; unbounded streams do not yield either (measurements: docs/design/stream.md). Until it
//      registers, such a thread is not a waiter: FIFO among waiters (G-3, ST-2, ST-4) counts from
//      registration, as the spec's "oldest" does. No yield when the deadline has passed or stop was
//      requested (a past deadline behaves as try_, G-7).
//   8. A push that finds a bounded stream full, may wait, and whose ring is exactly as large as its
//      capacity (a power of two), first spins (Sync::spin_limit relax steps at most) until room_batch()
//      slots (an eighth of the ring, 1 to 256) are free, watching only the slot the last of them will use,
//      then tries the fast path once more before invariant 7 and the slow path. Registering at the first
//      free slot would make every pop serve it through lock_ and keep both sides on the same cache lines,
//      one value at a time; the batch lets the popper run ahead (docs/design/stream.md). Like invariant 7
//      it happens before registration, so it does not touch FIFO among waiters, and not when the deadline
//      has passed or stop was requested.
//   9. A pop that may wait and finds the slot at the head not yet published, with the tail past it and later
//      pushes claimed after that index (its pusher fell behind them, typically descheduled between its
//      claim and its publish), does not claim the index: it waits for the slot's turn to move (ring
//      await_step: a bounded spin, then one park on the turn word) and looks again. Claiming past a stalled
//      push would let the ring wrap while the push stalls, and pushes and pops of later laps pile up on that
//      one slot, every publish waking them all (docs/design/stream.md). When the head index's push is the
//      latest claim (tail = head + 1, as in SPSC), the pop claims and waits in take(): that pusher is most
//      likely running. A try_pop always claims, and so does a pop whose deadline has passed or whose stop
//      was requested (G-7: it waits at most for the one push in flight on the index it claims). The wait
//      ends when the turn moves (the push published, or another pop claimed the index and took it) or when
//      the claim is given back (G-8 below): give_back_claim wakes the slot's sleepers (ring
//      wake_unclaimed), and await_step re-reads head and tail after marking itself asleep, so that one of
//      the two sees the other. Fairness is not touched: such a pop has not registered (invariant 7), and it
//      overlaps the pops that pass it. Every waiting pop waits for the oldest stalled push, even when later
//      values are published, so T's move constructor must not wait for a pop of the same stream.
//  10. try_pop_some / pop_some claim several values with one compare-exchange of the head word when nothing
//      can throw between that claim and the last value written out (T's move constructor, and the output
//      iterator's assignment and increment, all noexcept): the published prefix of the ring from the head,
//      at most `max` indices and one lap, under the conditions of a fast pop (no flag on the head word); the
//      values are then moved out in index order (FIFO). A published index was claimed by its push, so it is
//      below the tail, and it stays published until a pop claims it, which moves the head: if the CAS
//      succeeds, the whole prefix is this caller's. A claimed index cannot be given back, so when a throw is
//      possible (a std::back_inserter may allocate) values are popped one claim at a time, as try_pop does.
//      The rest of each batch call (flags, holes, overflow values, waiting pushers, a push in flight at the
//      head) goes through the ordinary try_pop path, one value at a time.
//  11. Readiness watchers (handoff/readiness.hpp, WA-1..WA-7) wait like waiters but take nothing: a readable
//      watcher arms only on an empty stream (or capacity 0 without a waiting pusher) by setting WATCHED on
//      the tail word under lock_, validated as a popper's registration (invariant 2); a writable one only on
//      a full bounded stream (or capacity 0 without a waiting popper) by setting WATCHED on the head word,
//      valid only while the head is unchanged. While the flag is set, pushes (pops) divert to lock_; the one
//      that makes the stream non-empty (makes room) clears the flag and takes every armed watcher with its
//      claim, and runs their notifiers once lock_ is released and its value is published (its slot freed);
//      at capacity 0 a pusher (popper) that registers does so before it waits, and close() does for both
//      sides. A push handed to a waiting popper leaves the stream empty, so readable watchers stay armed.
//      While nothing is armed the flags are clear and no fast path changes (the flag is one more bit in the
//      masks they already test).
//  12. A coroutine (handoff/coroutine.hpp, CR-5) never waits for a step in flight by parking its thread: its
//      try step (async_try_pop / async_try_push) does not claim an index whose slot is not yet published
//      (pop) or not yet freed (push), nor an overflow cell still being written; it answers "in flight" with
//      the slot (or cell) and the turn it saw. The coroutine then hooks that turn (ring hooked bit, set
//      under lock_ by a compare-exchange from the turn it saw) and links a step link into step_waiters_ under
//      lock_; the thread whose step moves the turn (publish, hole, free, or a claim given back) clears the
//      bit and runs run_step_hook, which takes lock_ and completes every step link with kRetry once lock_ is
//      released: the coroutine tries again. Checking a slot before the claim is exact: a published (freed)
//      slot stays so until the pop (push) that claims its index moves it, and a claim by another thread
//      makes this one's compare-exchange fail. While no coroutine hooks a turn, the steps pay nothing: the
//      exchange that moves the turn already returns the bit.
// Exceptions (G-8): if T's move constructor throws during push, the push throws and its value stays with
// the caller (as T's constructor left it), no other value is lost, and the stream stays usable. Its claimed
// ring position is given back when it is still the last one and no pop claimed it (HELD keeps pops out
// while that is decided, under lock_), or handed to the oldest waiting pusher;
// otherwise (an overflow cell likewise: given back if still last) it becomes a "hole" that counts in
// size() and uses one unit of capacity until a pop passes it. If T's move throws while a pop moves its own
// value out, that value is destroyed and the pop throws. If it throws while a pusher's value is handed to a
// waiting popper, the pusher gets the exception and the popper keeps its place (or, if values arrived
// meanwhile, starts again). If it throws while a waiting pusher's value is moved in by another thread, that
// pusher starts its push again and may lose its place in the FIFO: the only fairness exception.
// Where a popped value can be lost, exactly (every path where a move can throw after the value left the
// stream; in each case the pop throws, the stream stays usable and no other value is lost):
//   - the move out of the ring slot or overflow cell (the first move; every pop form): that value is
//     destroyed (above). Moves from a pusher (hand-off, rendezvous) leave the value with the pusher.
//   - pop() and the result<T> forms: no other move. The value is moved once, into the returned object,
//     which the function returns by (named) return value optimisation: GCC and Clang apply it at every
//     optimisation level, and tests/unit/stream_exceptions_test.cpp checks the count of moves.
//   - the T& forms (try_pop(T&), pop_for(T&, d), ...): a second move, the move-assignment into `out`; if it
//     throws, the value is destroyed with the temporary it was moved into. (One move would need the ring to
//     move-assign straight from the slot.) Prefer the result<T> forms for a T whose move can throw.
//   - iteration: the value is moved once, into the iterator (detail/pop_iterator.hpp); `for (T v : s)`
//     then moves it into v, the loop's own move: if that throws, the value is destroyed with the iterator.
//   - try_pop_some / pop_some: each value is moved out of the stream, then assigned to *out; if either
//     throws, that value is destroyed and the call throws; the values already written stay written, and the
//     values not yet claimed stay in the stream (invariant 10: nothing is claimed ahead when a throw is
//     possible).
//
// Memory ordering (G-4): everything a thread did before push happens-before everything the thread that pops
// that value does after pop returns (slot turns: release/acquire; hand-offs: waiter::complete/await). close()
// happens-before every pop that returns end-of-stream because of it, before every push that fails (both
// read CLOSED on the tail word with acquire), and before every wait_closed that returns (an acquire read of
// CLOSED, or the waiter protocol's complete/await).
// Lifetime: a stream must outlive every operation on it, and every iterator and values() view over it;
// destroying it while threads wait (in pop, push or wait_closed) is a precondition violation (checked in
// debug builds, G-9). Buffered values are destroyed with the stream.
// Not copyable, not movable.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/async_forward.hpp"
#include "detail/channel_info.hpp"
#include "detail/deadline.hpp"
#include "detail/in_flight_step.hpp"
#include "detail/pop_iterator.hpp"
#include "detail/precondition.hpp"
#include "detail/slow_lock.hpp"
#include "detail/stream_overflow.hpp"
#include "detail/stream_ring.hpp"
#include "detail/sync.hpp"
#include "detail/waiter.hpp"
#include "detail/waiter_queue.hpp"
#include "name.hpp"
#include "readiness.hpp"
#include "result.hpp"
#include "stats.hpp"
#include "status.hpp"

namespace handoff {
namespace detail {
struct select_access;  // handoff/select.hpp
struct async_access;   // handoff/detail/async_access.hpp (coroutines)
}  // namespace detail

inline constexpr struct unbounded_t { explicit unbounded_t() = default; } unbounded{};

template <class T, class Sync = default_sync>
class stream {
  static_assert(std::is_move_constructible_v<T>, "stream<T> needs a move-constructible T (G-8)");
  static_assert(!std::is_reference_v<T> && std::is_destructible_v<T>, "stream<T> holds objects");
  using ring_type = detail::stream_ring<T, Sync>;

 public:
  // The largest capacity a bounded stream accepts (indices are 29 bits; count must stay unambiguous).
  static constexpr std::size_t max_capacity = std::size_t{1} << 28;
  // Ring slots of an unbounded stream; values beyond it go to the overflow list, in blocks of
  // overflow_block_values values (one allocation per block).
  // (256; a Sync policy may set its own unbounded_ring_slots, a power of two: the deterministic tests use 4
  // so that a few values reach the list.)
  static constexpr std::size_t unbounded_ring_size = [] {
    if constexpr (requires { Sync::unbounded_ring_slots; })
      return std::size_t{Sync::unbounded_ring_slots};
    else
      return std::size_t{256};
  }();
  static_assert(std::has_single_bit(unbounded_ring_size) && unbounded_ring_size >= 2 &&
                    unbounded_ring_size <= max_capacity,
                "Sync::unbounded_ring_slots: a power of two from 2 to max_capacity");
  // Positions per overflow block (invariant 4): a power of two, its last one the sentinel a block install
  // moves the list's tail past, so each block holds one value fewer. About 4 KiB of values per block, from
  // 32 positions to 128: 127 values for a T of up to 32 bytes, 63 up to 64 bytes, 31 beyond (fewer installs
  // and allocations per value than blocks of 32 for small values: MPSC 2x1 unbounded 1.37-1.42x pinned at
  // 0.72-0.78 of the CPU per message, docs/design/stream.md; a large T keeps blocks of 32, as a partly used
  // tail block stays allocated). Sync::overflow_block_positions overrides it (the deterministic tests' 4:
  // three values per block, so their few values cross installs).
  static constexpr std::uint32_t overflow_block_positions = [] {
    if constexpr (requires { Sync::overflow_block_positions; })
      return std::uint32_t{Sync::overflow_block_positions};
    else
      return std::clamp(
          std::bit_floor(static_cast<std::uint32_t>(4096 / (std::max)(sizeof(T), std::size_t{1}))),
          std::uint32_t{32}, std::uint32_t{128});
  }();
  static constexpr std::size_t overflow_block_values = overflow_block_positions - 1;
  // At most this many values move from the overflow list into a drained ring with one pop (invariant 4).
  static constexpr std::size_t overflow_refill_values = 64;
  // The top-up (invariant 4): a thread's pop of an index that is a multiple of this looks at OVERFLOW, and
  // tops the ring up with a run of up to this many list values when it has room for them (64; a ring of
  // 4 slots, the deterministic tests', checks at every pop and moves one value).
  static constexpr std::size_t top_up_values =
      (std::min)(overflow_refill_values, (std::max)(unbounded_ring_size / 4, std::size_t{1}));
  static_assert(std::has_single_bit(top_up_values));
  // The smallest capacity at which a blocked push or pop yields before it registers (invariant 7).
  static constexpr std::size_t min_yield_capacity = 16;
  // Ring slots of a capacity-1 stream when they fit in 4 KiB (else 2): consecutive indices then use their own
  // turn words on their own cache lines (stream_ring's spread) instead of two slots on one line that every
  // waiting thread, from either side, watches (measured at 8 producers x 8 consumers: docs/design/stream.md).
  static constexpr std::size_t capacity_one_ring_slots = 64;

  explicit stream(std::size_t capacity)  // ST-2, ST-3 (0 = rendezvous)
      : ring_(checked_ring_size(capacity)),
        capacity_(capacity),
        fast_limit_(static_cast<std::uint32_t>(capacity)) {
    ring_.set_step_hook(&stream::run_step_hook, this);  // invariant 12
  }
  explicit stream(unbounded_t)  // ST-1
      : ring_(unbounded_ring_size),
        capacity_((std::numeric_limits<std::size_t>::max)()),
        fast_limit_(static_cast<std::uint32_t>(unbounded_ring_size)) {
    ring_.set_step_hook(&stream::run_step_hook, this);  // invariant 12
  }
  // Named (OB-1): the name shows in handoff/debug.hpp's reports and in precondition messages.
  stream(std::size_t capacity, handoff::name n)
      : ring_(checked_ring_size(capacity)),
        capacity_(capacity),
        fast_limit_(static_cast<std::uint32_t>(capacity)),
        info_(kind_name, this, &stream::describe, n) {
    ring_.set_step_hook(&stream::run_step_hook, this);  // invariant 12
  }
  stream(unbounded_t, handoff::name n)
      : ring_(unbounded_ring_size),
        capacity_((std::numeric_limits<std::size_t>::max)()),
        fast_limit_(static_cast<std::uint32_t>(unbounded_ring_size)),
        info_(kind_name, this, &stream::describe, n) {
    ring_.set_step_hook(&stream::run_step_hook, this);  // invariant 12
  }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  ~stream() {
    HANDOFF_PRECONDITION_ON(info_, poppers_.empty() && pushers_.empty() && close_waiters_.empty(),
                            "destroyed while threads wait on it (G-9)");
    HANDOFF_PRECONDITION_ON(info_, readable_watches_.empty() && writable_watches_.empty(),
                            "destroyed while a watcher is armed on it (G-9, WA-5)");
    HANDOFF_PRECONDITION_ON(info_, step_waiters_.empty(), "destroyed while a coroutine waits on it (G-9)");
    // acquire: the last operations' slot writes are visible (the caller synchronised with them anyway).
    const std::uint32_t head = index_of(head_.load(std::memory_order_acquire));
    const std::uint64_t t = tail_.load(std::memory_order_acquire);
    for (std::uint32_t i = head; i != index_of(t); i = (i + 1) & index_mask) ring_.destroy_quiescent(i);
    overflow_.destroy_values(list_position(t));  // then overflow_'s destructor frees its blocks
  }

  // ---- push: ST-1..ST-5, G-7. false / closed / full / timeout / cancelled: the value stays with the caller
  // (an rvalue argument is not moved from; a const T& argument is copied in only for the attempt). A timed
  // or cancellable form with both a deadline and a stop token waits until the value is in, the close, the
  // deadline or the stop, whichever comes first; a passed deadline or a stop already requested makes it a
  // try_push (it answers at once: ok, full -> timeout / cancelled, closed).
  bool push(T&& v) { return push_impl(v, mode::wait, detail::deadline::never(), nullptr) == status::ok; }
  bool push(const T& v) {
    T copy(v);
    return push(std::move(copy));
  }
  [[nodiscard]] status try_push(T&& v) {
    return push_impl(v, mode::try_only, detail::deadline::never(), nullptr);
  }
  [[nodiscard]] status try_push(const T& v) {
    T copy(v);
    return try_push(std::move(copy));
  }
  template <class Rep, class Period>
  [[nodiscard]] status push_for(T&& v, std::chrono::duration<Rep, Period> d) {
    return push_impl(v, mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] status push_for(const T& v, std::chrono::duration<Rep, Period> d) {
    return push_copy(v, detail::deadline::after(d), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] status push_for(T&& v, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return push_impl(v, mode::wait, detail::deadline::after(d), &st);
  }
  template <class Rep, class Period>
  [[nodiscard]] status push_for(const T& v, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return push_copy(v, detail::deadline::after(d), &st);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status push_until(T&& v, std::chrono::time_point<Clock, Duration> t) {
    return push_impl(v, mode::wait, detail::deadline::at(t), nullptr);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status push_until(const T& v, std::chrono::time_point<Clock, Duration> t) {
    return push_copy(v, detail::deadline::at(t), nullptr);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status push_until(T&& v, std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return push_impl(v, mode::wait, detail::deadline::at(t), &st);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status push_until(const T& v, std::chrono::time_point<Clock, Duration> t,
                                  std::stop_token st) {
    return push_copy(v, detail::deadline::at(t), &st);
  }
  [[nodiscard]] status push(T&& v, std::stop_token st) {
    return push_impl(v, mode::wait, detail::deadline::never(), &st);
  }
  [[nodiscard]] status push(const T& v, std::stop_token st) {
    return push_copy(v, detail::deadline::never(), &st);
  }

  // ---- pop: ST-4, ST-5, ST-7, G-7. nullopt / closed: closed and drained.
  // The result<T> forms move the value once, from the stream into the returned result (NRVO); their status()
  // is ok, empty (try_pop), closed, timeout or cancelled. The T& forms return that status and move the value
  // twice (into a temporary, then move-assigned to `out`; see Exceptions). Deadline + stop token: waits until
  // a value, the close, the deadline or the stop, whichever comes first; a passed deadline or a stop already
  // requested makes any form a try_pop (it answers at once; empty -> timeout / cancelled).
  std::optional<T> pop() {
    std::optional<T> out;
    (void)pop_impl(out, mode::wait, detail::deadline::never(), nullptr);
    return out;  // NRVO: the value moved once, from the stream into the caller's optional
  }
  [[nodiscard]] result<T> try_pop() { return pop_result(mode::try_only, detail::deadline::never(), nullptr); }
  [[nodiscard]] status try_pop(T& out) {
    return pop_into(out, mode::try_only, detail::deadline::never(), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> pop_for(std::chrono::duration<Rep, Period> d) {
    return pop_result(mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] status pop_for(T& out, std::chrono::duration<Rep, Period> d) {
    return pop_into(out, mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> pop_for(std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return pop_result(mode::wait, detail::deadline::after(d), &st);
  }
  template <class Rep, class Period>
  [[nodiscard]] status pop_for(T& out, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return pop_into(out, mode::wait, detail::deadline::after(d), &st);
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> pop_until(std::chrono::time_point<Clock, Duration> t) {
    return pop_result(mode::wait, detail::deadline::at(t), nullptr);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status pop_until(T& out, std::chrono::time_point<Clock, Duration> t) {
    return pop_into(out, mode::wait, detail::deadline::at(t), nullptr);
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> pop_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return pop_result(mode::wait, detail::deadline::at(t), &st);
  }
  template <class Clock, class Duration>
  [[nodiscard]] status pop_until(T& out, std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return pop_into(out, mode::wait, detail::deadline::at(t), &st);
  }
  [[nodiscard]] result<T> pop(std::stop_token st) {
    return pop_result(mode::wait, detail::deadline::never(), &st);
  }
  [[nodiscard]] status pop(T& out, std::stop_token st) {
    return pop_into(out, mode::wait, detail::deadline::never(), &st);
  }

  // ---- batch pop (Lwt get_available / get_available_up_to / nget): FIFO, each value to one popper (ST-4).
  // try_pop_some never waits: it writes up to `max` values available now to `out` (oldest first) and returns
  // how many (0: none available now, or closed and drained). pop_some waits like pop() for the first value
  // (or end-of-stream), then takes up to max - 1 more without waiting; it returns 0 only at end-of-stream
  // (ST-5), or at once when max == 0. See Invariants (10) and Exceptions.
  template <std::output_iterator<T> OutputIt>
  [[nodiscard]] std::size_t try_pop_some(OutputIt out, std::size_t max) {
    return pop_some_impl(out, max, mode::try_only, detail::deadline::never(), nullptr).value_or(0);
  }
  template <std::output_iterator<T> OutputIt>
  std::size_t pop_some(OutputIt out, std::size_t max) {
    return pop_some_impl(out, max, mode::wait, detail::deadline::never(), nullptr).value_or(0);
  }
  // The timed and cancellable batch pops (G-7) wait for the first value as pop_for / pop_until / pop(stop)
  // do, then take up to max - 1 more without waiting: ok with the count (at least 1, or 0 when max == 0), or
  // closed (drained), timeout, cancelled, with nothing written.
  template <std::output_iterator<T> OutputIt, class Rep, class Period>
  [[nodiscard]] result<std::size_t> pop_some_for(OutputIt out, std::size_t max,
                                                 std::chrono::duration<Rep, Period> d,
                                                 std::stop_token st = {}) {
    return pop_some_impl(out, max, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <std::output_iterator<T> OutputIt, class Clock, class Duration>
  [[nodiscard]] result<std::size_t> pop_some_until(OutputIt out, std::size_t max,
                                                   std::chrono::time_point<Clock, Duration> t,
                                                   std::stop_token st = {}) {
    return pop_some_impl(out, max, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  template <std::output_iterator<T> OutputIt>
  [[nodiscard]] result<std::size_t> pop_some(OutputIt out, std::size_t max, std::stop_token st) {
    return pop_some_impl(out, max, mode::wait, detail::deadline::never(), &st);
  }

  // ---- wait for the close without consuming (Lwt's `closed`): returns once close() was called (it
  // happens-before the return, G-4), whatever is still buffered. is_closed() is the try_ form. The timed and
  // cancellable forms return ok (closed), timeout or cancelled.
  void wait_closed() { (void)wait_closed_impl(detail::deadline::never(), nullptr); }
  template <class Rep, class Period>
  [[nodiscard]] status wait_closed_for(std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return wait_closed_impl(detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] status wait_closed_until(std::chrono::time_point<Clock, Duration> t,
                                         std::stop_token st = {}) {
    return wait_closed_impl(detail::deadline::at(t), detail::stop_ptr(st));
  }
  [[nodiscard]] status wait_closed(std::stop_token st) {
    return wait_closed_impl(detail::deadline::never(), &st);
  }

  // ---- close: ST-5
  void close() noexcept {
    detail::watch_firing<Sync> fire;  // WA-2: every armed watcher, after the waiters are completed
    node* chain = nullptr;  // claimed, through `next`; completed after lock_ is released (waiter.hpp)
    {
      detail::slow_guard<Sync> guard(lock_);
      // acq_rel: CLOSED is ordered with every fast push's CAS on the tail word (a fast push that succeeds
      // came first; one that comes later sees CLOSED and fails); release publishes the caller's prior writes
      // to the threads that observe CLOSED (a pop that finds the stream empty reads the tail word with
      // acquire).
      tail_.fetch_or(kClosed, std::memory_order_acq_rel);
      // Poppers (POPPERS => empty: end-of-stream), pushers (their values stay with them), wait_closed.
      for (detail::waiter_queue<Sync>* q : {&poppers_, &pushers_, &close_waiters_}) {
        while (node* w = q->claim_oldest_to_close(&info_)) {
          w->next = chain;
          chain = w;
        }
      }
      // The queues are empty, so the flags go.
      set_tail_flag(kPoppers, false);
      clear_pushers();
      take_readable_watches(fire);
      take_writable_watches(fire);
    }
    while (node* w = chain) {
      chain = w->next;  // read before complete(): the node may vanish after it
      w->complete(status::closed);
    }
  }
  bool is_closed() const noexcept {
    // acquire: pairs with the fetch_or in close(), for callers that act on the answer.
    return (tail_.load(std::memory_order_acquire) & kClosed) != 0;
  }

  // Snapshot of buffered values (ring positions claimed by pushers and not yet by poppers, plus overflow).
  // A refill (invariant 4) moves the tail before it takes its run off the list, so for that instant the run
  // may be counted twice, or (the list's head read after the tail word) not at all: at most
  // overflow_refill_values over or under.
  std::size_t size() const noexcept {
    // relaxed: a snapshot; nothing is read through it. The head is read first, so head <= tail holds for the
    // pair; the clamp covers pops and pushes that passed between the two loads.
    const std::uint32_t head = index_of(head_.load(std::memory_order_relaxed));
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    const std::uint32_t ring_count = (std::min)(distance(head, index_of(t)), fast_limit_);
    return ring_count + overflow_.size(list_position(t));
  }
  std::size_t capacity() const noexcept { return capacity_; }
  std::string_view name() const noexcept { return info_.name(); }  // OB-1: empty when not named
  // OB-2: exact counts of the waits on each side and of the slow path's full / empty findings, one lock
  // (handoff/stats.hpp).
  stream_stats stats() const {
    detail::slow_guard<Sync> guard(lock_);
    return {poppers_.counts(),       pushers_.counts(),
            close_waiters_.counts(), full_events_,
            empty_events_,           overflow_.blocks(list_position(tail_.load(std::memory_order_acquire))),
            info_.blocked_ns()};
  }

  // Diagnostic snapshot of how many threads wait (takes the slow-path lock; not for hot paths).
  struct waiting_counts {
    std::size_t poppers, pushers;
    std::size_t close_waiters = 0;  // threads in wait_closed
  };
  waiting_counts waiting() const {
    detail::slow_guard<Sync> guard(lock_);
    return {poppers_.size(), pushers_.size(), close_waiters_.size()};
  }

  // ---- readiness for event loops (WA-1..WA-7, handoff/readiness.hpp): a watcher whose arm() answers whether
  // a pop would block and, if it would, runs `n` once after the next push or close (arm_writable: room).
  // Nothing is armed until arm() is called; while nothing is armed, pushes and pops cost what they cost
  // without watchers (the flag a watcher sets diverts them to the slow path only while it is armed).
  using sync_type = Sync;
  [[nodiscard]] watcher<stream> watch(notifier n) noexcept { return watcher<stream>(*this, n); }

  // ---- coroutines (handoff/coroutine.hpp, CR-1..CR-8): co_await them in a coroutine that `ex` resumes.
  // They wait in the same FIFO as blocked threads and are handed values directly. async_pop -> result<T>:
  // ok, closed (drained), cancelled (nothing consumed). async_push(v) -> status: ok (v moved from), closed or
  // cancelled (v untouched). Never park the coroutine's thread (CR-5).
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_receive_result, pop_case<T, Sync>> async_pop(
      Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, pop_case<T, Sync>(*this)};
  }
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_send_result, push_case<T, Sync>> async_push(
      T& v, Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, push_case<T, Sync>(*this, v)};
  }

  // ---- ST-7: `for (T v : s)` pops until end-of-stream, lazily (detail/pop_iterator.hpp): begin() pops
  // nothing; comparing the iterator with end() or dereferencing it pops the next value into the iterator; ++
  // drops it. So a loop consumes exactly the values its body receives: `s | std::views::take(n)` after n
  // values, a `break`, or an exception from the body leave everything else in the stream. Exception:
  // std::views::take_while pops the first value its predicate rejects (the predicate must see it) and
  // destroys it; nothing after it is popped. values() is the same range as the stream; values(stop) also
  // ends once stop is requested (checked before each pop, so nothing is popped after the request is seen;
  // a pop already waiting is cancelled, G-7). The iterator is move-only, *it is T&&.
  using iterator = detail::pop_iterator<stream>;
  iterator begin() noexcept { return iterator(*this); }
  std::default_sentinel_t end() const noexcept { return {}; }
  detail::pop_view<stream> values() noexcept { return detail::pop_view<stream>(*this); }
  detail::pop_view<stream, true> values(std::stop_token st) noexcept {
    return detail::pop_view<stream, true>(*this, std::move(st));
  }

 private:
  using node = detail::waiter<Sync>;
  enum class mode { try_only, wait };

  static constexpr std::uint32_t index_mask = ring_type::index_mask;
  static constexpr std::uint64_t kIndexMask = index_mask;
  static constexpr std::uint64_t kPoppers = std::uint64_t{1} << 58;   // tail word
  static constexpr std::uint64_t kPushers = std::uint64_t{1} << 59;   // tail and head words
  static constexpr std::uint64_t kOverflow = std::uint64_t{1} << 60;  // tail word
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 61;    // tail word
  static constexpr std::uint64_t kHeld = std::uint64_t{1} << 62;      // head word
  // Readiness watchers are armed (invariant 11): on the tail word, readable ones (the stream is empty); on
  // the head word, writable ones (bounded and full, or capacity 0 without a popper).
  static constexpr std::uint64_t kWatched = std::uint64_t{1} << 63;  // tail and head words
  // Result a server gives a waiter whose value could not be handed over (T's move threw): start again.
  static constexpr status kRetry = status::empty;

  static std::uint32_t index_of(std::uint64_t w) noexcept {
    return static_cast<std::uint32_t>(w & kIndexMask);
  }
  // Head word bits 29..57: the give-back epoch (see give_back_claim). It makes every HELD episode change the
  // word for good, so a fast pop that read the head before a give-back cannot claim the index given back.
  static constexpr unsigned kEpochShift = ring_type::index_bits;
  static constexpr std::uint64_t kEpochMask = ((std::uint64_t{1} << 29) - 1) << kEpochShift;

  // Values beyond an unbounded stream's ring (invariant 4): detail/stream_overflow.hpp (pushes claim cells on
  // the tail word without lock_; pops under lock_).
  using overflow_type = detail::stream_overflow<T, Sync, overflow_block_positions>;
  // Tail word bits 29..57: the overflow list's tail position L (invariant 4; detail/stream_overflow.hpp).
  static constexpr unsigned kListShift = ring_type::index_bits;
  static constexpr std::uint64_t kListMask = std::uint64_t{overflow_type::position_mask} << kListShift;
  static std::uint32_t list_position(std::uint64_t t) noexcept {
    return static_cast<std::uint32_t>((t & kListMask) >> kListShift);
  }
  static std::uint64_t with_list_position(std::uint64_t t, std::uint32_t p) noexcept {
    return (t & ~kListMask) | (std::uint64_t{p} << kListShift);
  }

  static std::uint64_t with_index(std::uint64_t w, std::uint32_t i) noexcept { return (w & ~kIndexMask) | i; }
  static std::uint64_t next_epoch(std::uint64_t w) noexcept {
    return (w & ~kEpochMask) | ((w + (std::uint64_t{1} << kEpochShift)) & kEpochMask);
  }
  static std::uint64_t advanced(std::uint64_t w) noexcept {
    return with_index(w, (index_of(w) + 1) & index_mask);
  }
  // Positions from index `from` to index `to` (count = distance(head, tail)).
  static std::uint32_t distance(std::uint32_t from, std::uint32_t to) noexcept {
    return (to - from) & index_mask;
  }

  // Invariant 1: a claim (a fast push or pop, a list push) whose compare-exchange lost to another thread's
  // backs off before its next try: `steps` relax steps, then twice as many next time, up to
  // claim_backoff_limit (half the policy's spin budget: 64 for the library's; 1 for the deterministic and
  // Relacy policies, whose relax is a scheduling point; none for a policy that never spins). Retrying at once
  // took the word's line back from the winner at every attempt, so the claims of two cores traded it one
  // value at a time; backing off lets the winner claim a run while the line stays in its cache (crossbeam's
  // channels back off the same way). Measurements: docs/design/stream.md. No atomic access: bounded waiting.
  static constexpr unsigned claim_backoff_limit = Sync::spin_limit / 2;
  static void back_off(unsigned& steps) noexcept {
    for (unsigned n = 0; n < steps; ++n) Sync::relax();
    steps = (std::min)((std::max)(2 * steps, 1u), claim_backoff_limit);
  }

  // Invariant 8: free slots a blocked push waits for before it tries again: an eighth of the ring, 1 to 256.
  std::uint32_t room_batch() const noexcept { return std::clamp<std::uint32_t>(fast_limit_ / 8, 1, 256); }

  static std::size_t checked_ring_size(std::size_t capacity) {
    if (capacity > max_capacity)
      throw std::invalid_argument("handoff::stream: capacity " + std::to_string(capacity) +
                                  " exceeds stream::max_capacity (2^28); use handoff::unbounded");
    if (capacity == 1)
      return capacity_one_ring_slots * ring_type::slot_size() <= 4096 ? capacity_one_ring_slots : 2;
    return capacity == 0 ? 0 : std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity);
  }

  // ---- fast paths (invariant 1)
  // blocked: full (push) or empty (pop), no waiters; in_flight: a coroutine's try met a step in flight on the
  // index it would claim (invariant 12).
  enum class fast { done, closed, blocked, slow, in_flight };
  // What pop_impl / push_impl answer for in_flight (never a try form's answer: those never time out).
  static constexpr status kInFlight = status::timeout;

  // Invariant 12, a coroutine's try about to claim ring index i: ready (claim it: published for a pop, free
  // for a push), in_flight (recorded in `step`), or stale (the turn is past that step: the caller's head or
  // tail was read before another thread took index i; look again). Out of line: the fast paths only test
  // `step`.
  enum class slot_check { ready, in_flight, stale };
  [[gnu::noinline, gnu::cold]] slot_check check_pop_slot(detail::in_flight_step* step,
                                                         std::uint32_t i) const noexcept {
    const std::uint32_t seen = ring_.turn_of(i);
    if (ring_.published(i, seen)) return slot_check::ready;
    // Before i's publication: the push of index i (or an earlier step on its slot) is in flight (tail > i,
    // so it was claimed).
    if (!ring_.before_publication(i, seen)) return slot_check::stale;
    note_in_flight(step, i, seen, true);
    return slot_check::in_flight;
  }
  [[gnu::noinline, gnu::cold]] slot_check check_push_slot(detail::in_flight_step* step,
                                                          std::uint32_t i) const noexcept {
    const std::uint32_t seen = ring_.turn_of(i);
    if (ring_.free_turn_is(i, seen)) return slot_check::ready;
    // Before "free for i": the pop of i - size (or an earlier step on its slot) is in flight (count <
    // capacity, so that pop was claimed).
    if (!ring_.before_free(i, seen)) return slot_check::stale;
    note_in_flight(step, i, seen, false);
    return slot_check::in_flight;
  }

  // Invariant 12: record the step in flight on ring index i (turn `seen`) for a coroutine's try.
  // `pop`: the step is the publication of index i (its push may still give the index back: G-8).
  static void note_in_flight(detail::in_flight_step* step, std::uint32_t i, std::uint32_t seen,
                             bool pop) noexcept {
    *step = detail::in_flight_step{false, pop, i, seen};
  }

  // `step`: a coroutine's try (invariant 12), which claims an index only once its slot is free.
  // Async: a coroutine's try (invariant 12); a thread's fast push is compiled without the step check.
  // always_inline: g++ inlines it into push_impl only while it stays small, and the bounded MPMC rows lost
  // 0.25-0.7x when the list push's branch tipped it out (the call, and the registers it saves, on every
  // push of a contended CAS loop; scripts/ab.sh against 203061f, 2026-12-04).
  template <bool Async = false>
  [[gnu::always_inline]] inline fast try_fast_push(T& v, detail::inflight_step_ptr step = nullptr) {
    // acquire: see the latest flags (CLOSED: the close() happens-before our failure); the CAS below decides.
    std::uint64_t t = tail_.load(std::memory_order_acquire);
    unsigned backoff = 0;  // after a lost claim (back_off)
    for (;;) {
      if (t & kClosed) return fast::closed;
      if (t & (kPoppers | kPushers | kOverflow | kWatched)) {
        if constexpr (!Async) {
          // Invariant 4: with a backlog and no other flag, a thread's push claims the list's next cell on
          // this word, without lock_.
          if ((t & (kPoppers | kPushers | kOverflow | kWatched)) == kOverflow) {
            const list_push r = push_to_list(v, t);
            if (r.done) return fast::done;
            t = r.word;  // the word now, with other flags or without OVERFLOW: look again
            continue;
          }
        }
        return fast::slow;
      }
      const std::uint32_t i = index_of(t);
      if (!has_room(i)) {
        // Full at the head load, if the tail did not move meanwhile (else look again).
        // acquire: as above.
        const std::uint64_t again = tail_.load(std::memory_order_acquire);
        if (again == t) return fast::blocked;
        t = again;
        continue;
      }
      if constexpr (Async) {
        const slot_check c = check_push_slot(step, i);
        if (c == slot_check::in_flight) return fast::in_flight;
        if (c == slot_check::stale) {
          // acquire: as above.
          t = tail_.load(std::memory_order_acquire);
          continue;
        }
      }
      // acq_rel: the claim of index i is ordered with close() and with the registrations on this word
      // (invariant 2); the value itself is published by the slot's turn (stream_ring).
      if (tail_.compare_exchange_weak(t, advanced(t), std::memory_order_acq_rel, std::memory_order_acquire)) {
        fill_claimed(i, v);
        return fast::done;
      }
      back_off(backoff);  // another push (or a flag) changed the word first
    }
  }

  // Whether a push may claim index `tail` (count < the fast limit). Where the ring is exactly as large as the
  // fast limit (power-of-two capacities, the unbounded ring), a slot already free for `tail` proves it
  // without touching the consumers' line: the popper of tail - size is done, so head > tail - size.
  // Otherwise, or when the slot is not free yet (full, or that pop still in flight), the head word decides
  // (one cache miss). No lagging copy of the head is kept: one that is not refreshed for 2^29 indices would
  // wrap and say "room" on a full stream.
  [[gnu::always_inline]] inline bool has_room(std::uint32_t tail) const noexcept {  // as try_fast_push
    if (ring_.size() == fast_limit_ && ring_.free_for(tail)) return true;
    // acquire: nothing is read through the head, but a "full" answer is linearized at this load.
    return distance(index_of(head_.load(std::memory_order_acquire)), tail) < fast_limit_;
  }

  // Invariant 4, the lock-free list push: OVERFLOW is the only flag on tail word t. Claim the list's cell at
  // position L by the compare-exchange L -> L + 1 of the whole word, which fails if a flag or a position
  // changed meanwhile, so no push claims a cell across a close, a registration or the clear of OVERFLOW. A
  // claim of a block's last cell installs the next block first (detail/stream_overflow.hpp invariant 2; its
  // allocation, like the length check, happens before the claim and leaves v untouched when it throws); a
  // push that finds L on the sentinel waits for that install. Not done, with the word now, once the word is
  // no longer so: the caller looks again. (t by value, the answer in registers: a reference would take the
  // caller's t out of its registers on the fast path of every push, bounded streams included.)
  struct list_push {
    bool done;
    std::uint64_t word;
  };

  [[gnu::noinline]] list_push push_to_list(T& v, std::uint64_t t) {
    std::unique_ptr<typename overflow_type::block> spare;  // the next block, for a block's last cell
    constexpr std::uint64_t diverting = kPoppers | kPushers | kOverflow | kWatched | kClosed;
    unsigned backoff = (std::min)(1u, claim_backoff_limit);  // one step from the first loss (measured so)
    while ((t & diverting) == kOverflow) {
      const std::uint32_t p = list_position(t);
      const std::uint32_t k = overflow_type::offset(p);
      if (k == overflow_type::sentinel) {
        t = await_list_install(true);
        continue;
      }
      if (k == overflow_type::last_cell) overflow_.check_length(p);  // may throw: v is untouched
      if (k == overflow_type::last_cell && !spare) {
        spare = overflow_type::new_block();  // may throw std::bad_alloc: v is untouched
        // acquire: as in try_fast_push (the block pointer is read after it below).
        t = tail_.load(std::memory_order_acquire);
        continue;
      }
      // Read after t: if the compare-exchange expecting t succeeds, this is the block of p's lap.
      typename overflow_type::block* b = overflow_.tail_block();
      // acq_rel: the claim is ordered with close() and the flag changes on this word (invariant 2), and
      // with the install that moved L into this lap (stream_overflow's memory ordering); the value itself
      // is published by the cell's turn.
      if (tail_.compare_exchange_weak(t, with_list_position(t, overflow_type::next_position(p)),
                                      std::memory_order_acq_rel, std::memory_order_acquire)) {
        fill_list_cell({b, k, p}, v, spare);
        return {true, t};
      }
      back_off(backoff);  // another push (or a flag) changed the word first
    }
    return {false, t};
  }

  // A push that read the list's tail position on a sentinel (an install in flight): wait for the install
  // and return the tail word after it. `with_overflow`: the lock-free push, which does not wait at all if
  // OVERFLOW is already gone when it looks (its push takes the ring again); once waiting, it waits for the
  // install either way (the wait is on the install turn, which only the installer moves): bounded by the
  // installer's progress, a few instructions after its claim unless it is descheduled there.
  std::uint64_t await_list_install(bool with_overflow) noexcept {
    std::uint64_t t = 0;
    overflow_.await_install([&] {
      // acquire: the new block and the installer's writes before its compare-exchange of L (link_next).
      t = tail_.load(std::memory_order_acquire);
      return overflow_type::offset(list_position(t)) == overflow_type::sentinel &&
             (!with_overflow || (t & kOverflow));
    });
    return t;
  }

  // A claimed list cell (claim c, by this thread's compare-exchange): install the next block if c is its
  // block's last cell (spare holds it), then move v in outside lock_ (invariant 6). If T's move throws, the
  // cell is given back or becomes a hole (give_back_or_hole) and the exception propagates; v stays with us.
  void fill_list_cell(const typename overflow_type::push_claim& c, T& v,
                      std::unique_ptr<typename overflow_type::block>& spare) {
    if (c.k == overflow_type::last_cell) install_next_block(c, spare);
    try {
      if (overflow_type::fill(c, v)) run_step_hook(this);  // a coroutine hooked the cell (invariant 12)
    } catch (...) {
      give_back_or_hole(c);
      throw;
    }
  }

  // The installer (stream_overflow invariant 2): c claimed its block's last cell, so L is on the sentinel,
  // where no other thread moves it. Link the next block, move L past the sentinel, and wake (or resume) the
  // pushes that wait for it.
  void install_next_block(const typename overflow_type::push_claim& c,
                          std::unique_ptr<typename overflow_type::block>& spare) noexcept {
    overflow_.link_next(c.b, spare);
    const std::uint32_t past = overflow_type::next_position(overflow_type::next_position(c.pos));
    // relaxed: the compare-exchange below decides; only the other fields can change meanwhile.
    std::uint64_t w = tail_.load(std::memory_order_relaxed);
    // acq_rel: release publishes link_next's block to every push and pop that reads L in the new lap with
    // acquire; acquire as every update of this word.
    while (!tail_.compare_exchange_weak(w, with_list_position(w, past), std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
    }
    if (overflow_.announce_install()) run_step_hook(this);  // a coroutine hooked the install
  }

  // `wait_deadline`: the deadline of a pop that may wait (pop, pop_for, ...; with its stop token `st`), null
  // for try_pop; see invariant 9.
  // `step`: a coroutine's try (invariant 12), which claims an index only once its slot is published.
  // Async: a coroutine's try (invariant 12); a thread's fast pop is compiled without the step check.
  template <bool Async = false>
  fast try_fast_pop(std::optional<T>& out, const detail::deadline* wait_deadline, const std::stop_token* st,
                    detail::inflight_step_ptr step = nullptr) {
    // acquire: see the latest flags; the CAS below decides.
    std::uint64_t h = head_.load(std::memory_order_acquire);
    unsigned backoff = 0;  // after a lost claim (back_off)
    for (;;) {
      if (h & (kPushers | kHeld | kWatched))
        return fast::slow;  // the freed slot goes to the oldest pusher / a give-back / writable watchers
      const std::uint32_t i = index_of(h);
      if (!ring_.ready(i)) {
        // acquire: CLOSED (close() happens-before our end-of-stream) and OVERFLOW.
        const std::uint64_t t = tail_.load(std::memory_order_acquire);
        if (index_of(t) == i) {  // empty at this load (head <= tail, and the head was i before it)
          if (t & (kPushers | kOverflow)) return fast::slow;  // rendezvous pushers, or overflow values
          return (t & kClosed) ? fast::closed : fast::blocked;
        }
        if constexpr (Async) {
          const slot_check c = check_pop_slot(step, i);
          if (c == slot_check::in_flight) return fast::in_flight;
          if (c == slot_check::stale) {
            // acquire: as at the top.
            h = head_.load(std::memory_order_acquire);
            continue;
          }
        }
        // Else a push of index i is in flight (or the head moved on): claim i and wait in take() for its
        // publication; but a pop that may wait, finding later pushes claimed after i (that pusher fell
        // behind them), waits for it unclaimed and then looks again (invariant 9).
        if (wait_deadline && distance(i, index_of(t)) > 1 && !await_publication(h, *wait_deadline, st)) {
          // acquire: as at the top.
          h = head_.load(std::memory_order_acquire);
          continue;
        }
      }
      // acq_rel: the claim of index i is ordered with the registrations on this word (invariant 2).
      if (head_.compare_exchange_weak(h, advanced(h), std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (ring_.take(i, out)) {
          if constexpr (!Async) {
            if ((i & (top_up_values - 1)) == 0 && is_unbounded()) [[unlikely]]
              top_up_ring(i);  // invariant 4
          }
          return fast::done;
        }
        h = head_.load(std::memory_order_acquire);  // a hole (a push whose move threw): claim again
      } else {
        back_off(backoff);  // another pop (or a flag) changed the word first
      }
    }
  }

  // Invariant 9: wait unclaimed for the publication of the head index of head word h. True when the caller
  // should claim it now with h (the CAS fails if the head moved on): it was published during the spin, or
  // the deadline has passed or stop was requested (the pop then claims and waits in take(), as a try_pop
  // does: G-7). False when the caller must look again. Out of line: rare, and kept out of the fast pop's
  // code (no clock read there).
  [[gnu::noinline]] bool await_publication(std::uint64_t h, const detail::deadline& d,
                                           const std::stop_token* st) noexcept {
    if (Sync::passed(d) || would_stop(st)) return true;
    const std::uint32_t i = index_of(h);
    const std::uint32_t seen = ring_.turn_of(i);
    if (ring_.published(i, seen)) return true;
    // A turn past i's publication means h is stale (the slot is on a later lap): look again at once rather
    // than spin. The turn is a relaxed hint, and at the largest ring (2^28) the step three behind
    // full_turn(i) reads as "past" too, so the head decides; await_step's own re-read covers the rest.
    // acquire: as at the top of try_fast_pop.
    if (!ring_.before_publication(i, seen) && head_.load(std::memory_order_acquire) != h) return false;
    const std::uint32_t now = ring_.await_step(i, seen, [&] {
      // acquire: after await_step's acquire compare-exchange; a moved head or a claim given back (the tail
      // at i again) ends the wait.
      return head_.load(std::memory_order_acquire) == h &&
             index_of(tail_.load(std::memory_order_acquire)) != i;
    });
    return ring_.published(i, now);
  }

  // Write v into index i, which this thread claimed. If T's move throws (G-8), the index is given back,
  // handed to the oldest waiting pusher, or left as a hole (give_back_claim), and the exception propagates.
  void fill_claimed(std::uint32_t i, T& v) {
    try {
      ring_.fill(i, std::move(v));
    } catch (...) {
      give_back_claim(i);
      throw;
    }
  }

  // Index i was claimed by a push whose move threw: no value was written. Under lock_, with HELD on the head
  // word (fast pops divert to lock_, so the head stays put): if i is still the last claimed index and no pop
  // claimed it, give it back (the stream is as before the push) or, when pushers wait (both words frozen),
  // move the oldest one's value into it; otherwise publish a hole that its popper skips.
  void give_back_claim(std::uint32_t i) noexcept {
    node* w = nullptr;
    bool given_back = false;
    detail::watch_firing<Sync> fire;  // writable watchers, when the index given back makes room
    {
      detail::slow_guard<Sync> guard(lock_);
      // acq_rel: as in try_fast_pop; from here no pop claims an index until HELD goes.
      const std::uint32_t head = index_of(head_.fetch_or(kHeld, std::memory_order_acq_rel));
      // acquire: as in try_fast_push.
      std::uint64_t t = tail_.load(std::memory_order_acquire);
      const std::uint32_t next = (i + 1) & index_mask;
      // tail == i + 1 means head <= i + 1, so "not popped" is exactly head != i + 1.
      while (index_of(t) == next && head != next) {
        if (t & kPushers) {
          w = pushers_.claim_oldest(&info_);
          if (pushers_.empty()) clear_pushers();
          if (w) break;
          // Only pushers that already left (a timeout, or a select won elsewhere): PUSHERS is gone, so the
          // index can still be given back. acquire: as above.
          t = tail_.load(std::memory_order_acquire);
          continue;
        }
        // acq_rel: as in try_fast_push; fails if a push claimed index i + 1 meanwhile (then: a hole).
        if (tail_.compare_exchange_weak(t, with_index(t, i), std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
          given_back = true;
          break;
        }
      }
      // A writable watcher armed while the claim made the stream look full: the room is back (WA-4).
      if (given_back) take_writable_watches(fire);
      // HELD goes and the epoch moves on (the head word is frozen while HELD: fast pops fail their CAS, slow
      // ones wait for lock_). Without the new epoch the word would be as before, and a fast pop that read it
      // before HELD (and the tail before the give-back) could claim index i although the tail is i again.
      // acquire / acq_rel: as in try_fast_pop.
      std::uint64_t h = head_.load(std::memory_order_acquire);
      while (!head_.compare_exchange_weak(h, next_epoch(h & ~kHeld), std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      }
    }
    if (given_back) {
      ring_.wake_unclaimed(i);  // pops waiting unclaimed for index i's publication (invariant 9)
      return;
    }
    if (w) {
      try {
        ring_.fill(i, std::move(*static_cast<T*>(w->slot)));
        w->complete(status::ok);
        return;
      } catch (...) {
        w->complete(kRetry);  // the pusher keeps its value and starts again
      }
    }
    ring_.publish_hole(i);
  }

  // An overflow push whose move threw: give its cell back if it is still the last claimed one and no pop
  // claimed it (the stream is then as before the push), else publish it as a hole that its popper skips (a
  // popper may already be waiting on it). OVERFLOW goes when the list is left empty.
  void give_back_or_hole(const typename overflow_type::push_claim& c) noexcept {
    bool given_back = false, hooked = false;
    {
      detail::slow_guard<Sync> guard(lock_);
      given_back = give_back_list_cell(c);
      // A coroutine may have hooked the cell given back (invariant 12): no step will move its turn now, so
      // the bit goes here, under lock_ (the cell's block stays alive: no pop can claim the cell meanwhile).
      if (given_back) hooked = ring_type::unhook_turn(overflow_type::turn_of(c));
    }
    if (!given_back) hooked = overflow_type::publish_hole(c);
    if (hooked) run_step_hook(this);
  }

  // Under lock_ (stream_overflow invariant 4): move L back over c's cell if c is still the last claim, no pop
  // claimed it and it is not a block's last cell (whose claim installed the next block); OVERFLOW goes with
  // it when the list is then empty. Only L changes meanwhile (lock-free pushes, an installer; the rest of the
  // word is frozen by lock_ and OVERFLOW), so the loop ends.
  bool give_back_list_cell(const typename overflow_type::push_claim& c) noexcept {
    if (c.k == overflow_type::last_cell || !overflow_.unclaimed(c.pos)) return false;
    // acquire: as in pop_after_fast.
    std::uint64_t t = tail_.load(std::memory_order_acquire);
    while (list_position(t) == overflow_type::next_position(c.pos)) {
      std::uint64_t back = with_list_position(t, c.pos);
      if (overflow_.values_before(c.pos) == 0) back &= ~kOverflow;
      // acq_rel: a claim (given back) and a flag change on this word (invariant 2).
      if (tail_.compare_exchange_weak(t, back, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
    return false;  // a later push claimed the next cell: ours becomes a hole
  }

  // Under lock_, after pops claimed list values: OVERFLOW goes once the list is empty, by a compare-exchange
  // that fails if a push claimed a cell meanwhile (L moved: the list is not empty, OVERFLOW stays). Pushes
  // read OVERFLOW and L in one word, so none claims a cell after the clear (invariant 4).
  void clear_overflow_if_empty() noexcept {
    // acquire: as in pop_after_fast.
    std::uint64_t t = tail_.load(std::memory_order_acquire);
    while ((t & kOverflow) && overflow_.values(list_position(t)) == 0) {
      // acq_rel: a flag change on the pushes' word (invariant 2).
      if (tail_.compare_exchange_weak(t, t & ~kOverflow, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        return;
    }
  }

  // Under lock_: set or clear a tail-word flag (the index may change concurrently on the fast path).
  void set_tail_flag(std::uint64_t flag, bool on) noexcept {
    // acq_rel: ordered with the fast pushes' CAS on the same word (invariant 2).
    if (on)
      tail_.fetch_or(flag, std::memory_order_acq_rel);
    else
      tail_.fetch_and(~flag, std::memory_order_acq_rel);
  }

  // Under lock_, the pusher queue empty: both words lose PUSHERS (the head first: pops go fast again; a
  // push that meanwhile sees PUSHERS on the tail waits for lock_ and looks again).
  void clear_pushers() noexcept {
    // acq_rel: ordered with the fast paths' CAS on each word (invariant 2).
    head_.fetch_and(~kPushers, std::memory_order_acq_rel);
    tail_.fetch_and(~kPushers, std::memory_order_acq_rel);
  }

  // Under lock_, a bounded stream full at the tail word `t` just read (no PUSHERS on it): set PUSHERS on both
  // words (invariant 2). False if either word moved on; the caller looks again.
  bool register_first_pusher(std::uint64_t t) noexcept {
    // acq_rel: freezes the tail (fast pushes divert to lock_), valid only if no push claimed meanwhile.
    if (!tail_.compare_exchange_strong(t, t | kPushers, std::memory_order_acq_rel, std::memory_order_acquire))
      return false;
    // acquire: as in has_room.
    std::uint64_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      if (distance(index_of(h), index_of(t)) < fast_limit_) {  // a fast pop made room meanwhile
        set_tail_flag(kPushers, false);
        return false;
      }
      // acq_rel: freezes the head (fast pops divert to lock_), valid only if it still leaves the stream full.
      if (head_.compare_exchange_weak(h, h | kPushers, std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    }
  }

  bool would_stop(const std::stop_token* st) const noexcept { return st && st->stop_requested(); }

  // Invariant 8: a blocked push waits (Sync::spin_limit relax steps at most) for room_batch() free slots,
  // then tries the fast path once more. The slot that index tail + room_batch() - 1 will use is free once the
  // pop room_batch() - 1 positions past the current head is done (the ring is exactly as large as the
  // capacity). always_inline, as try_fast_push (which it inlines): g++ inlined it into push_impl before the
  // list push grew try_fast_push, and left it out of line after.
  [[gnu::always_inline]] inline fast push_after_room(T& v) {
    // relaxed: only picks the slot to watch; try_fast_push reads the tail again with acquire.
    const std::uint32_t want =
        (index_of(tail_.load(std::memory_order_relaxed)) + room_batch() - 1) & index_mask;
    ring_.spin_until_free(want);
    return try_fast_push(v);
  }

  // Invariant 7: before a blocked operation registers, yield up to Sync::yield_limit times, trying the fast
  // path (`attempt`) after each; stops at the first answer other than blocked, or when the deadline passed or
  // stop was requested (the slow path then reports it). Bounded streams of min_yield_capacity or more only.
  template <class Attempt>
  fast yield_then_retry(const detail::deadline& d, const std::stop_token* st, Attempt attempt) {
    if (is_unbounded() || capacity_ < min_yield_capacity) return fast::blocked;
    for (unsigned k = 0; k < Sync::yield_limit; ++k) {
      if (Sync::passed(d) || would_stop(st)) break;
      Sync::yield();
      const fast f = attempt();
      if (f != fast::blocked) return f;
    }
    return fast::blocked;
  }

  static constexpr const char* kind_name = "stream";

  // The facts a deadlock report prints (detail/channel_info.hpp): "open, 0 buffered (capacity 4); waiting:
  // 1 popper, 0 pushers, 0 wait_closed".
  static void describe(const void* self, std::string& out) {
    const stream& s = *static_cast<const stream*>(self);
    const waiting_counts w = s.waiting();
    out = s.is_closed() ? "closed, " : "open, ";
    out += std::to_string(s.size()) + " buffered (capacity ";
    out += s.is_unbounded() ? std::string("unbounded") : std::to_string(s.capacity_);
    out += "); waiting: " + std::to_string(w.poppers) + (w.poppers == 1 ? " popper, " : " poppers, ") +
           std::to_string(w.pushers) + (w.pushers == 1 ? " pusher, " : " pushers, ") +
           std::to_string(w.close_waiters) + " wait_closed";
  }

  // Link `w` into q (lock_ held), unlock, and wait (waiter_queue::wait_linked). Returns the status the
  // server set, or timeout/cancelled (the node is then unlinked and q's flag cleared if q became empty).
  // `fire`: readiness watchers this registration made ready (capacity 0), fired once lock_ is released.
  status wait_in(detail::relockable_guard<Sync>& guard, detail::waiter_queue<Sync>& q, node& w,
                 const detail::deadline& d, const std::stop_token* st,
                 detail::watch_firing<Sync>* fire = nullptr) {
    const detail::wait_op op = &q == &poppers_   ? detail::wait_op::pop
                               : &q == &pushers_ ? detail::wait_op::push
                                                 : detail::wait_op::wait_closed;
    return q.wait_linked(
        guard, w, d, st, {&info_, op}, [&] { clear_flag_of(q); },
        [fire] {
          if (fire) fire->run();
        });
  }

  // Under lock_, queue q empty: its waiter flag goes (close_waiters_ has none).
  void clear_flag_of(const detail::waiter_queue<Sync>& q) noexcept {
    if (&q == &pushers_)
      clear_pushers();
    else if (&q == &poppers_)
      set_tail_flag(kPoppers, false);
  }

  // ---- slow paths (under lock_): a loop that reads the words, picks the one case they call for and runs it.
  // A case answers the status its operation returns, or `again`: look at the words again (lock_ is released
  // and taken anew, as each iteration holds its own guard).
  using step = std::optional<status>;
  static constexpr std::nullopt_t again = std::nullopt;

  // ---- push slow path
  // Async (with in_flight): a coroutine's try (invariant 12).
  template <bool Async = false>
  status push_impl(T& v, mode m, const detail::deadline& d, const std::stop_token* st,
                   detail::inflight_step_ptr in_flight = nullptr) {
    fast f = try_fast_push<Async>(v, in_flight);
    if constexpr (Async) {
      if (f == fast::in_flight) return kInFlight;
    }
    if (f == fast::blocked && !is_unbounded()) {
      // Full with no waiter to serve: a try_ answers now (linearized at that load), and so does a form whose
      // stop was requested or whose deadline has passed (G-6, G-7: no lock; cancelled when both).
      if (m == mode::try_only) return status::full;
      if (would_stop(st)) return status::cancelled;
      if (Sync::passed(d)) return status::timeout;
      if (fast_limit_ > 0) {
        if (ring_.size() == fast_limit_) f = push_after_room(v);                                // invariant 8
        if (f == fast::blocked) f = yield_then_retry(d, st, [&] { return try_fast_push(v); });  // invariant 7
      }
    }
    if (f == fast::done) return status::ok;
    if (f == fast::closed) return status::closed;
    // Unbounded: a block allocated outside lock_ when the tail block is full.
    std::unique_ptr<typename overflow_type::block> spare;
    detail::watch_firing<Sync> fire;  // readable watchers (invariant 11), fired once v is published
    for (;;) {
      detail::relockable_guard<Sync> guard(lock_);
      // acquire: the flags and the tail under lock_ (fast pushes may still move the tail).
      const std::uint64_t t = tail_.load(std::memory_order_acquire);
      if (t & kClosed) return status::closed;
      step r;
      if (t & kPoppers) {
        r = hand_to_popper(guard, v, fire);  // invariant 3
      } else {
        const room k = ring_room(t);
        if (k == room::moved) continue;
        if (k == room::free)
          r = push_into_ring(guard, t, v, fire, in_flight);
        else if (is_unbounded())
          r = push_into_overflow(guard, t, v, spare, fire, in_flight);  // invariant 4: push never waits
        else
          r = register_pusher(guard, t, v, m, d, st, fire);
      }
      if (r) return *r;
    }
  }

  // Invariant 3: a popper waits (POPPERS, so the stream is empty): hand v to the oldest one (ST-4, G-3).
  // `fire`: the push's watchers, for a popper put back (requeue_popper); they run as the exception leaves.
  step hand_to_popper(detail::relockable_guard<Sync>& guard, T& v, detail::watch_firing<Sync>& fire) {
    node* w = poppers_.claim_oldest(&info_);
    if (poppers_.empty()) set_tail_flag(kPoppers, false);
    if (!w) return again;
    guard.unlock();
    try {
      static_cast<std::optional<T>*>(w->slot)->emplace(std::move(v));
    } catch (...) {
      guard.lock();
      const bool requeued = requeue_popper(w, fire);
      guard.unlock();
      if (!requeued) w->complete(kRetry);  // after lock_ is released, as every completion (waiter.hpp)
      throw;
    }
    w->complete(status::ok);
    return status::ok;
  }

  // Under lock_: the hand-off of a value to popper w threw (v stays with its pusher). w gets its place back
  // at the front of the queue if the stream is still empty and open (true); else (false) the caller
  // completes it with kRetry once lock_ is released and it pops again (values arrived meanwhile, or the
  // stream closed, or w is a select's link, which is never unclaimed).
  bool requeue_popper(node* w, detail::watch_firing<Sync>& fire) noexcept {
    // acquire: as in pop_after_fast (the head first: see there).
    const std::uint32_t head = index_of(head_.load(std::memory_order_acquire));
    std::uint64_t now = tail_.load(std::memory_order_acquire);
    // A select's link is never unclaimed (waiter.hpp): it starts its select again instead.
    while (w->may_unclaim() && index_of(now) == head && !(now & (kOverflow | kClosed | kPushers))) {
      // acq_rel: registration on the tail word (invariant 2), as in register_popper.
      if (tail_.compare_exchange_weak(now, now | kPoppers, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        poppers_.push_front(w);  // G-3: its place back, at the front
        w->unclaim(&info_);
        take_writable_watches(fire);  // capacity 0: a popper waits again (WA-4), as in register_popper
        return true;
      }
    }
    return false;
  }

  // Whether the ring has room for a push at tail word t (no POPPERS, no CLOSED): free; none (full, or PUSHERS
  // or OVERFLOW divert the push elsewhere); or moved (the tail moved since t: look again).
  enum class room { free, none, moved };
  room ring_room(std::uint64_t t) const noexcept {
    if (t & (kPushers | kOverflow)) return room::none;
    // acquire: as in has_room. Read after the tail: if the tail is unchanged at the CAS, count <= this.
    const std::uint32_t head = index_of(head_.load(std::memory_order_acquire));
    if (distance(head, index_of(t)) < fast_limit_) return room::free;
    // Fast pushes and pops move both words while we hold lock_: if the head passed t, the distance wrapped
    // and "full" would be false. Under lock_ the tail index only moves forward (a give-back takes lock_), so
    // if the word still equals t, it did at the head load and "full" held then. (A block install may move
    // the list position meanwhile even with OVERFLOW clear: then "moved", and the caller looks again.)
    // acquire: as above.
    return tail_.load(std::memory_order_acquire) == t ? room::none : room::moved;
  }

  // The ring has room at tail word t: claim its index as a fast push does and fill it outside lock_.
  // Readable watchers go with the claim (invariant 11) and fire once the value is in (the caller's `fire`).
  step push_into_ring(detail::relockable_guard<Sync>& guard, std::uint64_t t, T& v,
                      detail::watch_firing<Sync>& fire, detail::inflight_step_ptr in_flight) {
    if (in_flight) {  // invariant 12
      const std::uint32_t seen = ring_.turn_of(index_of(t));
      if (!ring_.free_turn_is(index_of(t), seen)) {
        if (!ring_.before_free(index_of(t), seen)) return again;  // the tail moved on: look again
        note_in_flight(in_flight, index_of(t), seen, false);
        return kInFlight;
      }
    }
    // acq_rel: as in try_fast_push.
    if (!tail_.compare_exchange_strong(t, advanced(t) & ~kWatched, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return again;
    if (t & kWatched) readable_watches_.take_all(fire.chain());
    guard.unlock();
    fill_claimed(index_of(t), v);
    return status::ok;
  }

  // Outside lock_, T's move noexcept: move the values of the n overflow cells claimed in run (oldest first)
  // into ring indices first .. first + n - 1, claimed with them. Holes come only from a push whose move
  // threw, so with a noexcept move none reaches here; one would be published as a ring hole (its pop skips
  // it) rather than leave its index unpublished. The pops that claimed these indices and went to sleep on
  // them are woken after the last publish, not after each (ring fill_deferring_wake): a wake in the middle
  // of the run is a system call that delays every later index, whose pops then spin out and park as well,
  // and each of their wakes delays the run further. Measured: docs/design/stream.md, "The refill's wakes".
  void move_into_ring(const typename overflow_type::pop_claim* run, std::uint32_t n,
                      std::uint32_t first) noexcept {
    typename ring_type::owed_wake*
        asleep[overflow_refill_values];  // turn words whose sleepers are owed a wake
    std::uint32_t owed = 0;
    for (std::uint32_t j = 0; j < n; ++j) {
      const std::uint32_t i = (first + j) & index_mask;
      const bool value = overflow_type::transfer_keeping_block(run[j], [&](T&& v) noexcept {
        if (auto* sleepers = ring_.fill_deferring_wake(i, std::move(v))) asleep[owed++] = sleepers;
      });
      if (!value) ring_.publish_hole(i);
    }
    for (std::uint32_t k = 0; k < owed; ++k) Sync::unpark_all(*asleep[k]);
    overflow_type::release_run(run, n);
  }

  // Invariant 4, under lock_: an unbounded stream's ring is full or OVERFLOW is set (tail word t, read under
  // this hold of lock_: no POPPERS, no CLOSED), so v goes to the overflow list: the same claim as the
  // lock-free push_to_list, for what that one leaves here: the first list value (its compare-exchange sets
  // OVERFLOW, and links the list's first block the first time), readable watchers to take (the claim clears
  // WATCHED), and a coroutine's try (which answers "in flight" instead of waiting for an install, invariant
  // 12). A block is allocated outside lock_ (then the words are read again).
  step push_into_overflow(detail::relockable_guard<Sync>& guard, std::uint64_t t, T& v,
                          std::unique_ptr<typename overflow_type::block>& spare,
                          detail::watch_firing<Sync>& fire, detail::inflight_step_ptr in_flight) {
    const std::uint32_t p = list_position(t);
    const std::uint32_t k = overflow_type::offset(p);
    if (k == overflow_type::sentinel) {  // an install in flight
      if (in_flight) {
        const std::uint32_t seen = overflow_.install_turn();
        // acquire: as in await_list_install (the turn first, then the word).
        if (list_position(tail_.load(std::memory_order_acquire)) != p) return again;
        *in_flight = detail::in_flight_step{};
        in_flight->install = true;
        in_flight->seen = seen;
        return kInFlight;
      }
      guard.unlock();
      (void)await_list_install(false);
      return again;
    }
    if (k == overflow_type::last_cell) overflow_.check_length(p);  // may throw: v is untouched
    if ((!overflow_.started() || k == overflow_type::last_cell) && !spare) {
      guard.unlock();
      spare = overflow_type::new_block();  // may throw std::bad_alloc: v is untouched
      return again;
    }
    if (!overflow_.started()) overflow_.start(spare);  // L is 0: its block is the first
    // t was read under this hold of lock_, so its flags are exact: readable watchers are armed iff WATCHED
    // is set (invariant 11: both change only under lock_).
    HANDOFF_PRECONDITION_ON(info_, readable_watches_.empty() == !(t & kWatched),
                            "internal invariant 11 broken: readable watchers and WATCHED disagree");
    // Read after t, as in push_to_list.
    typename overflow_type::block* b = overflow_.tail_block();
    // acq_rel: as in push_to_list; this claim also sets OVERFLOW and takes the readable watchers (invariant
    // 11). It fails if the tail moved (a fast push, a lock-free list push): look again.
    if (!tail_.compare_exchange_strong(
            t, (with_list_position(t, overflow_type::next_position(p)) | kOverflow) & ~kWatched,
            std::memory_order_acq_rel, std::memory_order_acquire))
      return again;
    if (t & kWatched) readable_watches_.take_all(fire.chain());
    guard.unlock();
    fill_list_cell({b, k, p}, v, spare);
    return status::ok;
  }

  // A bounded stream is full (or pushers wait already): answer a try_, a stop or a passed deadline now, else
  // register and wait until a popper takes v (PUSHERS branch of take_with_pusher_refill, or a rendezvous).
  step register_pusher(detail::relockable_guard<Sync>& guard, std::uint64_t t, T& v, mode m,
                       const detail::deadline& d, const std::stop_token* st,
                       detail::watch_firing<Sync>& fire) {
    ++full_events_;  // OB-2, under lock_
    if (m == mode::try_only) return status::full;
    if (would_stop(st)) return status::cancelled;  // cancelled when both, as waiter::await
    if (Sync::passed(d)) return status::timeout;

    // Register (invariant 2; no lost wakeup: detail/waiter.hpp, point 1): the first waiting pusher sets
    // PUSHERS on both words, valid only while the stream is still full, open and without poppers (a fast
    // pop or push that came first makes a CAS fail: look again); later ones find both words already frozen,
    // so every pop that could make room goes to lock_ and finds this waiter.
    if (!(t & kPushers) && !register_first_pusher(t)) return again;
    take_readable_watches(fire);  // capacity 0: a waiting pusher makes a pop not block (WA-1)
    node w;
    w.slot = &v;
    const status r = wait_in(guard, pushers_, w, d, st, &fire);
    if (r != kRetry) return r;  // ok: a popper moved v; closed / timeout / cancelled: v is still ours
    return again;
  }

  // The const T& push forms: the deadline is taken at the call, then a copy is pushed. Whatever happens, the
  // caller's object is untouched; a copy that did not go in is destroyed here.
  status push_copy(const T& v, const detail::deadline& d, const std::stop_token* st) {
    T copy(v);
    return push_impl(copy, mode::wait, d, st);
  }

  // ---- pop slow path
  // The T& forms: the value moves from the stream into `got`, then is move-assigned to `out` (a second move:
  // the ring hands values out only into a std::optional<T>). If that assignment throws, the value is
  // destroyed with `got` (see Exceptions in the header comment).
  status pop_into(T& out, mode m, const detail::deadline& d, const std::stop_token* st) {
    std::optional<T> got;
    const status r = pop_impl(got, m, d, st);
    if (r == status::ok) out = std::move(*got);
    return r;
  }

  // The result<T> forms: one named result, filled in place (the value moves once, from the stream into its
  // optional part) and returned by NRVO.
  result<T> pop_result(mode m, const detail::deadline& d, const std::stop_token* st) {
    result<T> r;
    const status why = pop_impl(detail::result_access::value_slot(r), m, d, st);
    detail::result_access::set_status(r, why);
    return r;
  }

  // Invariant 10: several published values claimed with one compare-exchange of the head word, only where
  // nothing can throw between that claim and the last value written (T's move constructor, out's assignment
  // and increment all noexcept): a claimed index cannot be given back, so a throw there would lose the rest
  // of the batch. Otherwise values are popped one claim at a time.
  template <class OutputIt>
  static constexpr bool batch_claims =
      noexcept(*std::declval<OutputIt&>() = std::declval<T&&>()) && noexcept(++std::declval<OutputIt&>()) &&
      std::is_nothrow_move_constructible_v<T>;

  // The count of values written, or why none (closed, timeout, cancelled; try_: empty or closed).
  template <class OutputIt>
  result<std::size_t> pop_some_impl(OutputIt& out, std::size_t max, mode m, const detail::deadline& d,
                                    const std::stop_token* st) {
    std::size_t n = 0;
    if (max == 0) return result<std::size_t>(std::in_place, 0);
    if (m == mode::wait) {  // the first value as pop() waits for it (or end-of-stream)
      std::optional<T> v;
      if (const status why = pop_impl(v, mode::wait, d, st); why != status::ok) return why;
      *out = std::move(*v);
      ++out;
      n = 1;
    }
    while (n < max) {
      if constexpr (batch_claims<OutputIt>) {
        const std::size_t k = try_fast_pop_batch(out, max - n);
        if (k > 0) {
          n += k;
          continue;
        }
      }
      // One value, as try_pop: flags, holes, overflow, waiting pushers and a push in flight at the head all
      // go the usual way.
      std::optional<T> v;
      if (pop_impl(v, mode::try_only, detail::deadline::never(), nullptr) != status::ok) break;
      *out = std::move(*v);
      ++out;
      ++n;
    }
    if (n == 0) return status::empty;  // try_pop_some only (its callers want the count)
    return result<std::size_t>(std::in_place, n);
  }

  // Invariant 10: claim the published prefix of the ring from the head (at most `max` indices, at most one
  // lap) with one compare-exchange, then move those values out in order. Returns how many values were written
  // (holes are skipped); 0 with nothing claimed when the head word has a flag or the slot at the head is not
  // published (the caller then pops one value the usual way).
  template <class OutputIt>
  std::size_t try_fast_pop_batch(OutputIt& out, std::size_t max) noexcept {
    // acquire: see the latest flags, as in try_fast_pop; the CAS below decides.
    std::uint64_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t limit = static_cast<std::uint32_t>((std::min)(max, ring_.size()));
    for (;;) {
      if (h & (kPushers | kHeld | kWatched))
        return 0;  // the freed slots go to a pusher / give-back / watchers
      const std::uint32_t i = index_of(h);
      // A published index was claimed by its push (it is below the tail), and it stays published until a pop
      // claims it, which moves the head: if the CAS below succeeds, the whole prefix is still ours to take.
      std::uint32_t n = 0;
      while (n < limit && ring_.ready((i + n) & index_mask)) ++n;
      if (n == 0) return 0;
      // acq_rel: as in try_fast_pop: the claim of indices i .. i + n - 1 is ordered with the registrations on
      // this word (invariant 2); each value is then read through its slot's turn (take's acquire).
      if (head_.compare_exchange_weak(h, with_index(h, (i + n) & index_mask), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        std::size_t written = 0;
        for (std::uint32_t k = 0; k < n; ++k) {
          std::optional<T> v;
          if (!ring_.take((i + k) & index_mask, v)) continue;  // a hole
          *out = std::move(*v);
          ++out;
          ++written;
        }
        return written;
      }
    }
  }

  status wait_closed_impl(const detail::deadline& d, const std::stop_token* st) {
    if (is_closed()) return status::ok;
    // Open at that load: a passed deadline or a requested stop answers now, without the lock (G-6).
    if (would_stop(st)) return status::cancelled;
    if (Sync::passed(d)) return status::timeout;
    detail::relockable_guard<Sync> guard(lock_);
    // acquire: close() sets CLOSED under lock_, so under lock_ this is exact; pairs with its fetch_or (G-4).
    if (tail_.load(std::memory_order_acquire) & kClosed) return status::ok;
    if (would_stop(st)) return status::cancelled;  // cancelled when both, as waiter::await
    if (Sync::passed(d)) return status::timeout;
    node w;
    const status r = wait_in(guard, close_waiters_, w, d, st);  // close() completes it with `closed`
    return r == status::closed ? status::ok : r;
  }

  // Async (with in_flight): a coroutine's try (invariant 12).
  template <bool Async = false>
  status pop_impl(std::optional<T>& out, mode m, const detail::deadline& d, const std::stop_token* st,
                  detail::inflight_step_ptr in_flight = nullptr) {
    const fast f = try_fast_pop<Async>(out, m == mode::try_only ? nullptr : &d, st, in_flight);
    if (f == fast::done) return status::ok;
    return pop_after_fast(out, f, m, d, st, in_flight);
  }

  // The rest of a pop whose first fast attempt answered `f` (not done). Out of line, so that the fast pop
  // inlined into callers stays small (docs/design/stream.md).
  [[gnu::noinline]] status pop_after_fast(std::optional<T>& out, fast f, mode m, const detail::deadline& d,
                                          const std::stop_token* st,
                                          detail::inflight_step_ptr in_flight = nullptr) {
    if (f == fast::in_flight) return kInFlight;
    if (f == fast::blocked) {
      // Empty with no pusher or overflow: a try_ answers now (linearized at that load), and so does a form
      // whose stop was requested or whose deadline has passed (G-6, G-7: no lock; cancelled when both).
      if (m == mode::try_only) return status::empty;
      if (would_stop(st)) return status::cancelled;
      if (Sync::passed(d)) return status::timeout;
      f = yield_then_retry(d, st, [&] { return try_fast_pop(out, &d, st); });  // invariant 7
    }
    if (f == fast::done) return status::ok;
    if (f == fast::closed) return status::closed;
    detail::watch_firing<Sync> fire;  // writable watchers (invariant 11), fired once the slot is free
    for (;;) {
      detail::relockable_guard<Sync> guard(lock_);
      // acquire: the flags and indices under lock_ (fast paths may still move them). The head is read
      // first: it never passes the tail, so count is at least the true count at the tail load, and a count
      // of 0 means the stream was empty at that instant.
      const std::uint64_t h = head_.load(std::memory_order_acquire);
      const std::uint64_t t = tail_.load(std::memory_order_acquire);
      const std::uint32_t count = distance(index_of(h), index_of(t));
      step r;
      if (in_flight && count > 0 && head_in_flight(h, t, in_flight))
        return kInFlight;  // invariant 12
      else if (count > 0 && !(h & kPushers))
        r = take_from_ring(guard, h, out, fire);
      else if (count > 0)
        r = take_with_pusher_refill(guard, h, t, out);  // PUSHERS: bounded and full (ST-2)
      else if (t & kPushers)
        r = take_from_rendezvous_pusher(guard, out);  // capacity 0 (ST-3)
      // invariant 4: the ring is drained, the overflow list is next (its size() is exact under lock_).
      else if (overflow_.values(list_position(t)) > 0) {
        if (in_flight &&
            !ring_type::cell_published(overflow_.next_pop_turn().load(std::memory_order_relaxed))) {
          // invariant 12; relaxed: a hint (a take re-reads the turn with acquire), hooked under lock_.
          in_flight->overflow = true;
          in_flight->pop = true;
          in_flight->seen = 0;
          return kInFlight;
        }
        r = take_from_overflow(guard, t, !in_flight, out);
      } else if (t & kClosed)
        return status::closed;  // ST-5: drained
      else
        r = register_popper(guard, t, out, m, d, st, fire);
      if (r) return *r;
    }
  }

  // Under lock_, count > 0, a coroutine's try (invariant 12): whether the pop would wait for a step in flight
  // (the head index not yet published; with PUSHERS, also the slot the refill writes not yet freed, where the
  // ring is larger than the capacity). Records that step.
  bool head_in_flight(std::uint64_t h, std::uint64_t t, detail::inflight_step_ptr step) const noexcept {
    const std::uint32_t seen = ring_.turn_of(index_of(h));
    if (!ring_.published(index_of(h), seen)) {
      // Past i's publication: h is stale (a fast pop moved on); take_from_ring's claim then fails.
      if (!ring_.before_publication(index_of(h), seen)) return false;
      note_in_flight(step, index_of(h), seen, true);
      return true;
    }
    if ((h & kPushers) && ring_.size() != fast_limit_) {
      const std::uint32_t tail_seen = ring_.turn_of(index_of(t));
      if (!ring_.free_turn_is(index_of(t), tail_seen)) {
        note_in_flight(step, index_of(t), tail_seen, false);
        return true;
      }
    }
    return false;
  }

  // Values in the ring and no pusher waits: claim the head index as a fast pop does and take it outside
  // lock_.
  // Writable watchers go with the claim (invariant 11) and fire once the slot is free (the caller's `fire`).
  step take_from_ring(detail::relockable_guard<Sync>& guard, std::uint64_t h, std::optional<T>& out,
                      detail::watch_firing<Sync>& fire) {
    // acq_rel: as in try_fast_pop.
    if (!head_.compare_exchange_strong(h, advanced(h) & ~kWatched, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return again;
    if (h & kWatched) writable_watches_.take_all(fire.chain());
    guard.unlock();
    if (ring_.take(index_of(h), out)) return status::ok;
    return again;  // a hole
  }

  // PUSHERS on a bounded, full stream (invariant 3): take the head value and move the oldest pusher's value
  // into the slot it frees, so pushers enter in FIFO order (ST-2).
  step take_with_pusher_refill(detail::relockable_guard<Sync>& guard, std::uint64_t h, std::uint64_t t,
                               std::optional<T>& out) {
    node* w = pushers_.claim_oldest(&info_);
    if (!w) {
      clear_pushers();
      return again;
    }
    // Both words are frozen (invariant 3): only lock_'s holder moves them. The tail first, so that the slot
    // this pop frees is already claimed for the pusher's value when pops run fast again.
    const bool last = pushers_.empty();
    const std::uint64_t drop = last ? kPushers : 0;
    // acq_rel: as in try_fast_push / try_fast_pop; a failure (a weak one, or a fast path's CAS that cannot
    // succeed on a frozen word) retries with the fresh value.
    while (!tail_.compare_exchange_weak(t, advanced(t) & ~drop, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    }
    while (!head_.compare_exchange_weak(h, advanced(h) & ~drop, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    }
    guard.unlock();
    // Our value first: with count == capacity == ring size the pusher's index maps to the slot we free.
    bool got = false;
    std::exception_ptr take_error;
    try {
      got = ring_.take(index_of(h), out);
    } catch (...) {
      take_error = std::current_exception();  // our own value's move threw; the pusher is served anyway
    }
    try {
      ring_.fill(index_of(t), std::move(*static_cast<T*>(w->slot)));
      w->complete(status::ok);
    } catch (...) {
      ring_.publish_hole(index_of(t));
      w->complete(kRetry);  // the pusher keeps its value and starts again
    }
    if (take_error) std::rethrow_exception(take_error);
    if (got) return status::ok;
    return again;  // our index was a hole
  }

  // Capacity 0 with PUSHERS: take the oldest pusher's value directly (ST-3).
  step take_from_rendezvous_pusher(detail::relockable_guard<Sync>& guard, std::optional<T>& out) {
    node* w = pushers_.claim_oldest(&info_);
    if (pushers_.empty()) clear_pushers();
    if (!w) return again;
    guard.unlock();
    try {
      out.emplace(std::move(*static_cast<T*>(w->slot)));
    } catch (...) {
      w->complete(kRetry);
      throw;
    }
    w->complete(status::ok);
    return status::ok;
  }

  // Invariant 4: the ring is drained (tail word t, with OVERFLOW) and the overflow list holds a value: claim
  // its cell under lock_, take it outside (invariant 6). A thread's pop (`may_refill`: not a coroutine's try,
  // invariant 12) also claims up to overflow_refill_values of the next values and the ring indices after t,
  // and moves them into the ring outside lock_ (the refill), so that the pops after it take the fast path.
  // OVERFLOW goes before lock_ is released if these claims emptied the list (clear_overflow_if_empty).
  [[gnu::noinline]] step take_from_overflow(detail::relockable_guard<Sync>& guard, std::uint64_t t,
                                            bool may_refill, std::optional<T>& out) {
    const typename overflow_type::pop_claim c = overflow_.claim_pop();
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      if (may_refill) {
        typename overflow_type::pop_claim run[overflow_refill_values];
        const std::uint32_t n = claim_refill(t, run, fast_limit_);
        clear_overflow_if_empty();
        guard.unlock();
        move_into_ring(run, n, index_of(t));
      }
    }
    if (guard.owns_lock()) {
      clear_overflow_if_empty();
      guard.unlock();
    }
    std::exception_ptr error;
    const bool got = overflow_type::take(c, out, error);
    if (error) std::rethrow_exception(error);  // this pop's own value (see Exceptions)
    if (!got) return again;                    // a hole (a push whose move threw): claim again
    return status::ok;
  }

  // Invariant 4, the top-up: a thread's fast pop took index i, a multiple of top_up_values, from an
  // unbounded stream. If OVERFLOW is set and the ring has room for top_up_values more, move the next run of
  // the list (up to top_up_values) into the indices after the tail, as a drained ring's refill does, but
  // while the ring still holds values: by the time the pops reach the run's indices its values are
  // published, so they do not wait for the moves (a drained ring's refill makes every pop behind it wait).
  // Only if lock_ is free at once: a busy lock means another refill (or a slow push) holds it, and the next
  // multiple of top_up_values looks again; a ring that drains meanwhile is refilled by take_from_overflow.
  // Only with T's move noexcept, as every refill. The run's values are younger than every ring value (they
  // take the indices after the tail) and older than the list's rest: FIFO is kept (ST-2).
  [[gnu::noinline]] void top_up_ring(std::uint32_t i) noexcept {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      // relaxed: a hint; the tail is read again under lock_. The head is past i, so the count from i + 1
      // is at least the true one: no lock is asked for while the ring lacks the room.
      const std::uint64_t seen = tail_.load(std::memory_order_relaxed);
      if (!(seen & kOverflow) ||
          distance((i + 1) & index_mask, index_of(seen)) + top_up_values > fast_limit_ || !lock_.try_lock())
        return;
      detail::relockable_guard<Sync> guard(lock_, detail::adopt_held_lock{});
      // acquire: as in pop_after_fast (the head first: count is then at least the true count).
      const std::uint64_t h = head_.load(std::memory_order_acquire);
      const std::uint64_t t = tail_.load(std::memory_order_acquire);
      if (!(t & kOverflow)) return;
      const std::uint32_t count = distance(index_of(h), index_of(t));
      if (count + top_up_values > fast_limit_) return;
      typename overflow_type::pop_claim run[top_up_values];
      const std::uint32_t n = claim_refill(t, run, top_up_values);
      if (n == 0) return;
      clear_overflow_if_empty();  // the run took the list's last value: OVERFLOW goes, as in
                                  // take_from_overflow
      guard.unlock();
      move_into_ring(run, n, index_of(t));
    }
  }

  // Under lock_, tail word t with OVERFLOW set and `room` free ring positions after its index (the whole ring
  // when it is drained): claim the next n values of the list (n <= overflow_refill_values, n <= room) into
  // run[0 .. n) and ring indices index_of(t) .. + n - 1 for them; the caller moves each into its index
  // outside lock_. Pops may claim those indices at once and wait for their slots' turns (ring take, or
  // invariant 9's wait), as for a push in flight. Returns n (0 if the list is empty). Lock-free pushes move
  // L meanwhile (then the compare-exchange fails and n is counted again, never smaller); the index and the
  // flags stay as in t: only lock_'s holder moves the tail index while OVERFLOW is set, and OVERFLOW goes
  // only under lock_.
  std::uint32_t claim_refill(std::uint64_t t, typename overflow_type::pop_claim* run,
                             std::size_t room) noexcept {
    std::uint32_t n = 0;
    for (;;) {
      n = static_cast<std::uint32_t>((std::min)(
          {std::size_t{overflow_.values(list_position(t))}, std::size_t{overflow_refill_values}, room}));
      if (n == 0) return 0;
      // acq_rel: the tail moves as a fast push's claim does (invariant 2: ordered with registrations on this
      // word); the values reach their pops through the slots' turns (fill's release, take's acquire).
      if (tail_.compare_exchange_weak(t, with_index(t, (index_of(t) + n) & index_mask),
                                      std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }
    overflow_.claim_pops(run, n);
    return n;
  }

  // Empty and open (no pusher, no overflow value): answer a try_, a stop or a passed deadline now, else
  // register and wait until a pusher hands a value over (hand_to_popper) or close() ends the stream.
  step register_popper(detail::relockable_guard<Sync>& guard, std::uint64_t t, std::optional<T>& out, mode m,
                       const detail::deadline& d, const std::stop_token* st,
                       detail::watch_firing<Sync>& fire) {
    ++empty_events_;  // OB-2, under lock_
    if (m == mode::try_only) return status::empty;
    if (would_stop(st)) return status::cancelled;  // cancelled when both, as waiter::await
    if (Sync::passed(d)) return status::timeout;

    // Register (invariant 2; no lost wakeup: detail/waiter.hpp, point 1): valid only if the tail word is
    // unchanged: then the tail still equals the head read before it, so the stream was empty at the CAS (a
    // fast push may have come first: then retry). Once POPPERS is set, every push diverts to lock_ and hands
    // its value to the oldest popper.
    // acq_rel: as in try_fast_push.
    if (!tail_.compare_exchange_strong(t, t | kPoppers, std::memory_order_acq_rel, std::memory_order_acquire))
      return again;
    take_writable_watches(fire);  // capacity 0: a waiting popper makes a push not block (WA-4)
    node w;
    w.slot = &out;
    const status r = wait_in(guard, poppers_, w, d, st, &fire);
    if (r != kRetry) return r;  // ok: a pusher put the value in `out`; closed: end-of-stream
    return again;
  }

  // ---- select (handoff/select.hpp): the steps of a select's pop and push cases (detail::select_access)
  friend struct detail::select_access;

  // The try step: pop without waiting. True when it completed (s: ok or closed).
  bool select_try_pop(std::optional<T>& out, status& s) {
    s = pop_impl(out, mode::try_only, detail::deadline::never(), nullptr);
    return s != status::empty;
  }
  bool select_try_push(T& v, status& s) {
    s = push_impl(v, mode::try_only, detail::deadline::never(), nullptr);
    return s != status::full;
  }

  // Whether q holds a link of another waiting thread (a select's own links are no partner for it: SE-5).
  static bool has_partner(const detail::waiter_queue<Sync>& q, const node& w) noexcept {
    for (const node* x = q.front(); x; x = x->next)
      if (!x->same_waiter(w)) return true;
    return false;
  }

  // The decide-and-register step of pop_after_fast's slow path (register_popper, invariant 2), for a select's
  // link w (slot: its std::optional<T>), without popping: false, registering nothing, when a pop would not
  // wait (values, an overflow value, a waiting pusher of another thread, closed).
  bool select_enlist_pop(node& w) {
    detail::watch_firing<Sync> fire;  // after lock_ (declared first: destroyed last)
    for (;;) {
      detail::slow_guard<Sync> guard(lock_);
      // acquire: as in pop_after_fast (the head first).
      const std::uint64_t h = head_.load(std::memory_order_acquire);
      std::uint64_t t = tail_.load(std::memory_order_acquire);
      if (distance(index_of(h), index_of(t)) > 0 || (t & kClosed)) return false;
      if ((t & kPushers) && has_partner(pushers_, w)) return false;  // capacity 0: a pusher waits
      // Under lock_, exact as of t (a later claim moves L, and the compare-exchange below fails).
      if (overflow_.values(list_position(t)) > 0) return false;
      // acq_rel: as in pop_after_fast's registration (valid only if the tail word is unchanged).
      if (!tail_.compare_exchange_strong(t, t | kPoppers, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        continue;
      poppers_.push_back(&w);
      take_writable_watches(fire);  // as register_popper
      return true;
    }
  }

  // The decide-and-register step of push_impl's slow path (register_pusher) for a select's link w (slot: the
  // caller's T): false when a push would not wait (room, unbounded, a popper of another thread, closed). A
  // capacity-0 stream whose only poppers are this select's own links registers the push beside them (SE-5).
  bool select_enlist_push(node& w) {
    detail::watch_firing<Sync> fire;  // after lock_ (declared first: destroyed last)
    for (;;) {
      detail::slow_guard<Sync> guard(lock_);
      // acquire: the flags and the tail under lock_, as in push_impl.
      const std::uint64_t t = tail_.load(std::memory_order_acquire);
      if ((t & kClosed) || is_unbounded()) return false;
      if (t & kPoppers) {
        if (has_partner(poppers_, w) || fast_limit_ > 0) return false;  // POPPERS => empty: room if any
      } else if (!(t & kPushers)) {
        // acquire: as in push_impl; "full" holds only if the tail did not move meanwhile.
        const std::uint32_t head = index_of(head_.load(std::memory_order_acquire));
        if (distance(head, index_of(t)) < fast_limit_) return false;
        if (tail_.load(std::memory_order_acquire) != t) continue;
      }
      if (!(t & kPushers) && !register_first_pusher(t)) continue;
      pushers_.push_back(&w);
      take_readable_watches(fire);  // as register_pusher
      return true;
    }
  }

  void select_delist(node& w, bool pusher) noexcept {
    detail::slow_guard<Sync> guard(lock_);
    detail::waiter_queue<Sync>& q = pusher ? pushers_ : poppers_;
    q.leave(w, [&] { clear_flag_of(q); });
  }

  // After a server completed the select through w: ok (a pop's value is in its optional, a push's value was
  // taken), closed, or kRetry (the hand-off's move threw on the server's side: start again).
  static bool select_finish(const node& w, status& s) noexcept {
    s = w.result;
    return s != kRetry;
  }

  // ---- coroutines (handoff/coroutine.hpp; invariant 12): the steps of an awaiting pop or push
  // (detail::async_access). A coroutine's registration in poppers_ / pushers_ is a select's (above).
  friend struct detail::async_access;

  // A try that never waits: ok or closed (done), empty or full (register), kInFlight (hook `step`).
  status async_try_pop(std::optional<T>& out, detail::in_flight_step& step) {
    return pop_impl<true>(out, mode::try_only, detail::deadline::never(), nullptr, &step);
  }
  status async_try_push(T& v, detail::in_flight_step& step) {
    return push_impl<true>(v, mode::try_only, detail::deadline::never(), nullptr, &step);
  }

  // Hook the step a try reported and link w until it is done; false (nothing linked) when it is done
  // already: the caller tries again.
  // A bit this call sets pins the stream (info_): the thread whose step clears it runs the hook and unpins,
  // so a stream is never destroyed under a step thread that is about to run its hook (a partner may destroy
  // it as soon as its own operation returned: channel_info.hpp Invariants 3).
  bool async_enlist_step(node& w, const detail::in_flight_step& step) {
    using hook_result = typename ring_type::hook_result;
    detail::slow_guard<Sync> guard(lock_);
    hook_result r = hook_result::moved;
    if (step.install) {
      // The overflow list's block install a push met (invariant 4): its installer publishes the turn
      // (announce_install) and runs the hook.
      r = ring_type::hook_turn(overflow_.install_turn_word(), step.seen);
      if (r == hook_result::set) info_.pin();
    } else if (step.overflow) {
      // The next pop's cell, exact under lock_; a give-back of it clears the bit under lock_ too.
      // acquire: as in pop_after_fast.
      if (overflow_.values(list_position(tail_.load(std::memory_order_acquire))) > 0)
        r = ring_type::hook_turn(overflow_.next_pop_turn(), 0);
      if (r == hook_result::set) info_.pin();
    } else {
      r = ring_.hook_step(step.index, step.seen);
      if (r == hook_result::set) info_.pin();
      // A publication is owed only while index i is claimed: a push whose move threw may have given it back
      // (tail == i again, under lock_, before its wake_unclaimed). Then undo this call's bit; a bit set
      // before the give-back is cleared by that wake_unclaimed, which runs the hook.
      // acquire: under lock_, as in pop_after_fast.
      if (r != hook_result::moved && step.pop &&
          index_of(tail_.load(std::memory_order_acquire)) == step.index) {
        if (r == hook_result::set && ring_.unhook_step(step.index)) info_.unpin();
        return false;
      }
    }
    if (r == hook_result::moved) return false;
    step_waiters_.push_back(&w);
    return true;
  }
  void async_delist_step(node& w) noexcept {
    detail::slow_guard<Sync> guard(lock_);
    step_waiters_.leave(w, [] {});
  }

  // The ring's step hook (and an overflow cell's, through fill / give_back_or_hole): a hooked step is done;
  // every step link is completed with kRetry once lock_ is released, oldest first (their coroutines try
  // again; a link whose coroutine won elsewhere is skipped by the claim).
  // Run by the thread that cleared a hooked bit (one pin per bit, taken by the coroutine that set it).
  static void run_step_hook(void* self) noexcept {
    stream& s = *static_cast<stream*>(self);
    s.complete_step_waiters();
    s.info_.unpin();  // this thread's last touch of the stream
  }
  void complete_step_waiters() noexcept {
    node* first = nullptr;
    node* last = nullptr;
    {
      detail::slow_guard<Sync> guard(lock_);
      while (node* w = step_waiters_.claim_oldest(&info_)) {
        (last ? last->next : first) = w;  // claimed: unlinked, its fields are ours until complete()
        last = w;
      }
    }
    while (first) {
      node* w = first;
      first = w->next;  // read before complete(): the link may vanish at once
      w->complete(kRetry);
    }
  }

  // ---- readiness (invariant 11; handoff/readiness.hpp): the steps of a watcher (detail::watch_access)
  friend struct detail::watch_access;
  using watch_link = detail::watch_link<Sync>;

  // WA-1: under lock_, ready if a pop would not block; else link l and set kWatched on the tail word, valid
  // only while the tail still equals the head read before it (the stream was empty at the CAS: the
  // registration step of register_popper).
  readiness watch_arm_readable(watch_link& l) {
    detail::slow_guard<Sync> guard(lock_);
    if (l.armed_or_pending()) return readiness::armed;  // a call is still to come (watch_list.hpp)
    for (;;) {
      // acquire: as in pop_after_fast (the head first, so a count of 0 means empty at the tail load).
      const std::uint64_t h = head_.load(std::memory_order_acquire);
      std::uint64_t t = tail_.load(std::memory_order_acquire);
      if (distance(index_of(h), index_of(t)) > 0 || (t & (kClosed | kPushers)) ||
          overflow_.values(list_position(t)) > 0)
        return readiness::ready;  // a value, a rendezvous pusher, an overflow value, or end-of-stream
      // acq_rel: registration on the tail word (invariant 2), as register_popper's.
      if (!(t & kWatched) && !tail_.compare_exchange_strong(t, t | kWatched, std::memory_order_acq_rel,
                                                            std::memory_order_acquire))
        continue;
      readable_watches_.push_back(l);
      return readiness::armed;
    }
  }

  // WA-4: under lock_, ready if a push would not block; else link l and set kWatched on the head word,
  // valid only while the head is unchanged (the stream is still full: no pop since the head load, and a full
  // stream's tail cannot move).
  readiness watch_arm_writable(watch_link& l) {
    detail::slow_guard<Sync> guard(lock_);
    if (l.armed_or_pending()) return readiness::armed;
    if (is_unbounded()) return readiness::ready;
    for (;;) {
      // acquire: as in ring_room. The pair is a snapshot only if the tail did not move across the head load:
      // fast pushes and pops move both words while we hold lock_, and a head that passed a stale tail would
      // make the distance wrap and read as "full" (found by review: an empty stream armed as full).
      const std::uint64_t t = tail_.load(std::memory_order_acquire);
      std::uint64_t h = head_.load(std::memory_order_acquire);
      if (tail_.load(std::memory_order_acquire) != t) continue;
      if (t & kClosed) return readiness::ready;  // a push fails at once
      if (fast_limit_ == 0) {
        if (t & kPoppers) return readiness::ready;  // capacity 0: a popper waits
      } else if (!(t & kPushers) && distance(index_of(h), index_of(t)) < fast_limit_) {
        return readiness::ready;
      }
      // acq_rel: registration on the head word (invariant 2), as register_first_pusher's.
      if (!(h & kWatched) && !head_.compare_exchange_strong(h, h | kWatched, std::memory_order_acq_rel,
                                                            std::memory_order_acquire))
        continue;
      writable_watches_.push_back(l);
      return readiness::armed;
    }
  }

  // WA-5: under lock_, unlink both links and cancel calls not yet started; a list left empty drops its flag,
  // so the fast paths run again. The caller then waits for calls in flight (watch_link::wait_unheld).
  void watch_disarm(watch_link& readable, watch_link& writable) noexcept {
    detail::slow_guard<Sync> guard(lock_);
    readable.disarm(readable_watches_);
    writable.disarm(writable_watches_);
    // acq_rel: flags change under lock_ by RMW on the word the fast paths CAS (invariant 2).
    if (readable_watches_.empty()) tail_.fetch_and(~kWatched, std::memory_order_acq_rel);
    if (writable_watches_.empty()) head_.fetch_and(~kWatched, std::memory_order_acq_rel);
  }

  // Under lock_: every armed watcher of one side into `fire`, and that side's flag goes.
  void take_readable_watches(detail::watch_firing<Sync>& fire) noexcept {
    if (readable_watches_.empty()) return;
    readable_watches_.take_all(fire.chain());
    // acq_rel: as in watch_disarm.
    tail_.fetch_and(~kWatched, std::memory_order_acq_rel);
  }
  void take_writable_watches(detail::watch_firing<Sync>& fire) noexcept {
    if (writable_watches_.empty()) return;
    writable_watches_.take_all(fire.chain());
    // acq_rel: as in watch_disarm.
    head_.fetch_and(~kWatched, std::memory_order_acq_rel);
  }

  bool is_unbounded() const noexcept { return capacity_ == (std::numeric_limits<std::size_t>::max)(); }

  // Read-only after construction (shared by every thread without traffic).
  ring_type ring_;
  const std::size_t capacity_;
  const std::uint32_t
      fast_limit_;  // ring positions a fast push may fill: the capacity, or the unbounded ring

  // The producers' line: written by pushes, read by a pop only when it finds the slot at the head
  // unpublished.
  alignas(64) typename Sync::template atomic<std::uint64_t> tail_{0};
  // The consumers' line: written by pops, read by a push only when the slot at the tail is not free yet (or
  // the ring is larger than the capacity).
  alignas(64) typename Sync::template atomic<std::uint64_t> head_{0};

  alignas(64) mutable detail::slow_lock<Sync> lock_;
  detail::waiter_queue<Sync> poppers_;         // guarded by lock_
  detail::waiter_queue<Sync> pushers_;         // guarded by lock_; slot -> the pusher's T
  detail::waiter_queue<Sync> close_waiters_;   // guarded by lock_; wait_closed, completed by close()
  detail::waiter_queue<Sync> step_waiters_;    // guarded by lock_; coroutines awaiting a step (invariant 12)
  detail::watch_list<Sync> readable_watches_;  // guarded by lock_; non-empty <=> kWatched on the tail word
  detail::watch_list<Sync> writable_watches_;  // guarded by lock_; non-empty <=> kWatched on the head word
  overflow_type overflow_;                     // guarded by lock_ (its size() is also a snapshot outside it)
  std::uint64_t full_events_ = 0;              // guarded by lock_ (OB-2, stats())
  std::uint64_t empty_events_ = 0;             // guarded by lock_
  detail::channel_info info_{kind_name, this, &stream::describe};  // OB-1: kind, name, facts for reports
};

}  // namespace handoff

// A stream is not a sized range: size() is a snapshot of the buffered values, not the number of values the
// range will produce (it goes on until end-of-stream). Without this, std::views::take(n) would trust size()
// and end after the values buffered at begin() (a rendezvous stream would look empty).
template <class T, class Sync>
inline constexpr bool std::ranges::disable_sized_range<handoff::stream<T, Sync>> = true;
