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
// State word (one Sync::atomic<uint64_t>): head and tail indices (29 bits each, modulo 2^29: head = next
// index to pop, tail = next index to push, count = tail - head), and flags POPPERS (poppers wait),
// PUSHERS (pushers wait), OVERFLOW (unbounded: values beyond the ring wait in a list), CLOSED.
// Invariants:
//   1. Uncontended push and pop are one compare-exchange on the state word plus the slot protocol of
//      detail/stream_ring.hpp: no lock, no system call, no allocation (G-6). A fast push requires no flag
//      and count < capacity; a fast pop requires count > 0 and no PUSHERS. Everything else goes to the slow
//      path, under lock_ (detail/slow_lock.hpp).
//   2. Flags change only under lock_, by compare-exchange on the same word the fast paths update, so a
//      thread that decides to wait under lock_ and sets its flag cannot miss a fast-path operation: the
//      protocol of detail/waiter.hpp (point 1) that every blocking operation here follows.
//   3. POPPERS implies count == 0 (a popper registers only on an empty stream, and while the flag is set
//      pushes go to the slow path, which hands their values straight to the oldest popper: ST-4, G-3).
//      PUSHERS implies count >= capacity (bounded) and diverts pops to the slow path, which moves the
//      oldest pusher's value into the slot it frees: pushers enter in FIFO order (ST-2), no barging.
//   4. Unbounded streams push into the ring while it has room; beyond it, values go to an overflow list
//      (OVERFLOW set, pushes diverted), so every ring value is older than every overflow value; pops take the
//      ring first and then the list. Memory is the ring plus one node per value of backlog beyond it.
//   5. Capacity 0 has no ring: push and pop always meet in the slow path, one waiter handing to the other.
//   6. T's constructors and destructors never run under lock_: an overflow node is linked first and its value
//      moved in afterwards, published through the node's turn word like a ring slot. A try_ operation never
//      waits for an operation to start; it may wait for a slot or node write already in flight in another
//      thread (detail/stream_ring.hpp), which is bounded by that thread's progress.
// Exceptions (G-8): if T's move constructor throws during push, the push throws and its value stays with
// the caller (as T's constructor left it), no other value is lost, and the stream stays usable. Its claimed
// ring position is given back when it is still the last one, or handed to the oldest waiting pusher;
// otherwise (an overflow node likewise: unlinked if still last) it becomes a "hole" that counts in
// size() and uses one unit of capacity until a pop passes it. If T's move throws while a pop moves its own
// value out, that value is destroyed and the pop throws. If it throws while a pusher's value is handed to a
// waiting popper, the pusher gets the exception and the popper keeps its place (or, if values arrived
// meanwhile, starts again). If it throws while a waiting pusher's value is moved in by another thread, that
// pusher starts its push again and may lose its place in the FIFO: the only fairness exception.
//
// Memory ordering (G-4): everything a thread did before push happens-before everything the thread that pops
// that value does after pop returns (slot turns: release/acquire; hand-offs: waiter::complete/await). close()
// happens-before every pop that returns end-of-stream because of it, and before every push that fails.
// Lifetime: a stream must outlive every operation on it; destroying it while threads wait is a
// precondition violation (checked in debug builds, G-9). Buffered values are destroyed with the stream.
// Not copyable, not movable.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

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

#include "detail/deadline.hpp"
#include "detail/precondition.hpp"
#include "detail/slow_lock.hpp"
#include "detail/stream_ring.hpp"
#include "detail/sync.hpp"
#include "detail/waiter.hpp"
#include "detail/waiter_queue.hpp"
#include "status.hpp"

namespace handoff {

inline constexpr struct unbounded_t { explicit unbounded_t() = default; } unbounded{};

template <class T, class Sync = default_sync>
class stream {
  static_assert(std::is_move_constructible_v<T>, "stream<T> needs a move-constructible T (G-8)");
  static_assert(!std::is_reference_v<T> && std::is_destructible_v<T>, "stream<T> holds objects");
  using ring_type = detail::stream_ring<T, Sync>;

 public:
  // The largest capacity a bounded stream accepts (indices are 29 bits; count must stay unambiguous).
  static constexpr std::size_t max_capacity = std::size_t{1} << 28;
  // Ring slots of an unbounded stream; values beyond it go to the overflow list.
  static constexpr std::size_t unbounded_ring_size = 256;

  explicit stream(std::size_t capacity)  // ST-2, ST-3 (0 = rendezvous)
      : ring_(checked_ring_size(capacity)),
        capacity_(capacity),
        fast_limit_(static_cast<std::uint32_t>(capacity)) {}
  explicit stream(unbounded_t)  // ST-1
      : ring_(unbounded_ring_size),
        capacity_(std::numeric_limits<std::size_t>::max()),
        fast_limit_(static_cast<std::uint32_t>(unbounded_ring_size)) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  ~stream() {
    HANDOFF_PRECONDITION(poppers_.empty() && pushers_.empty(),
                         "stream destroyed while threads wait on it (G-9)");
    // acquire: the last operations' slot writes are visible (the caller synchronised with them anyway).
    const std::uint64_t s = state_.load(std::memory_order_acquire);
    for (std::uint32_t i = head_of(s); i != tail_of(s); i = (i + 1) & index_mask) ring_.destroy_quiescent(i);
    while (overflow_node* n = overflow_head_) {
      overflow_head_ = n->next;
      if (!n->hole) n->value()->~T();
      delete n;
    }
  }

  // ---- push: ST-1..ST-5. false / closed: the value stays with the caller.
  bool push(T&& v) { return push_impl(v, mode::wait, detail::deadline::never(), nullptr) == status::ok; }
  bool push(const T& v) {
    T copy(v);
    return push(std::move(copy));
  }
  status try_push(T&& v) { return push_impl(v, mode::try_only, detail::deadline::never(), nullptr); }
  status try_push(const T& v) {
    T copy(v);
    return try_push(std::move(copy));
  }
  template <class Rep, class Period>
  status push_for(T&& v, std::chrono::duration<Rep, Period> d) {
    return push_impl(v, mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Clock, class Duration>
  status push_until(T&& v, std::chrono::time_point<Clock, Duration> t) {
    return push_impl(v, mode::wait, detail::deadline::at(t), nullptr);
  }
  status push(T&& v, std::stop_token st) { return push_impl(v, mode::wait, detail::deadline::never(), &st); }

  // ---- pop: ST-4, ST-5, ST-7. nullopt / closed: closed and drained.
  std::optional<T> pop() {
    std::optional<T> out;
    (void)pop_impl(out, mode::wait, detail::deadline::never(), nullptr);
    return out;
  }
  status try_pop(T& out) { return pop_into(out, mode::try_only, detail::deadline::never(), nullptr); }
  std::optional<T> try_pop() {
    std::optional<T> out;
    (void)pop_impl(out, mode::try_only, detail::deadline::never(), nullptr);
    return out;
  }
  template <class Rep, class Period>
  status pop_for(T& out, std::chrono::duration<Rep, Period> d) {
    return pop_into(out, mode::wait, detail::deadline::after(d), nullptr);
  }
  template <class Clock, class Duration>
  status pop_until(T& out, std::chrono::time_point<Clock, Duration> t) {
    return pop_into(out, mode::wait, detail::deadline::at(t), nullptr);
  }
  status pop(T& out, std::stop_token st) { return pop_into(out, mode::wait, detail::deadline::never(), &st); }

  // ---- close: ST-5
  void close() noexcept {
    detail::slow_guard<Sync> guard(lock_);
    // acq_rel: CLOSED is ordered with every fast-path CAS on this word (a fast push that succeeds came first;
    // one that comes later sees CLOSED and fails); release publishes the caller's prior writes to the
    // threads that observe CLOSED.
    state_.fetch_or(kClosed, std::memory_order_acq_rel);
    while (node* w = poppers_.claim_oldest()) w->complete(status::closed);  // POPPERS => empty: end-of-stream
    while (node* w = pushers_.claim_oldest()) w->complete(status::closed);  // their values stay with them
    // acq_rel: as above; the queues are empty, so the flags go.
    state_.fetch_and(~(kPoppers | kPushers), std::memory_order_acq_rel);
  }
  bool is_closed() const noexcept {
    // acquire: pairs with the fetch_or in close(), for callers that act on the answer.
    return (state_.load(std::memory_order_acquire) & kClosed) != 0;
  }

  // Snapshot of buffered values (ring positions claimed by pushers and not yet by poppers, plus overflow).
  std::size_t size() const noexcept {
    // relaxed: a snapshot; nothing is read through it.
    return count_of(state_.load(std::memory_order_relaxed)) + overflow_size_.load(std::memory_order_relaxed);
  }
  std::size_t capacity() const noexcept { return capacity_; }

  // Diagnostic snapshot of how many threads wait (takes the slow-path lock; not for hot paths).
  struct waiting_counts {
    std::size_t poppers, pushers;
  };
  waiting_counts waiting() const {
    detail::slow_guard<Sync> guard(lock_);
    return {poppers_.size(), pushers_.size()};
  }

  // ---- ST-7: `for (T v : s)` pops until end-of-stream.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&&;  // as std::move_iterator: `for (T v : s)` moves each value out (move-only T works)

    iterator() = default;
    reference operator*() const { return std::move(*current_); }
    pointer operator->() const { return &*current_; }  // the popped value lives in the iterator
    iterator& operator++() {
      current_ = owner_->pop();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, std::default_sentinel_t) { return !a.current_.has_value(); }

   private:
    friend class stream;
    explicit iterator(stream* owner) : owner_(owner), current_(owner->pop()) {}
    stream* owner_ = nullptr;
    mutable std::optional<T> current_;  // input iterator: *it hands out the popped value for moving
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  using node = detail::waiter<Sync>;
  enum class mode { try_only, wait };

  static constexpr std::uint32_t index_mask = ring_type::index_mask;
  static constexpr unsigned kTailShift = ring_type::index_bits;
  static constexpr std::uint64_t kHeadMask = index_mask;
  static constexpr std::uint64_t kTailMask = std::uint64_t{index_mask} << kTailShift;
  static constexpr std::uint64_t kPoppers = std::uint64_t{1} << 58;
  static constexpr std::uint64_t kPushers = std::uint64_t{1} << 59;
  static constexpr std::uint64_t kOverflow = std::uint64_t{1} << 60;
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 61;
  // Result a server gives a waiter whose value could not be handed over (T's move threw): start again.
  static constexpr status kRetry = status::empty;

  static std::uint32_t head_of(std::uint64_t s) noexcept { return static_cast<std::uint32_t>(s & kHeadMask); }
  static std::uint32_t tail_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>((s & kTailMask) >> kTailShift);
  }
  static std::uint32_t count_of(std::uint64_t s) noexcept { return (tail_of(s) - head_of(s)) & index_mask; }
  static std::uint64_t next_head(std::uint64_t s) noexcept {
    return (s & ~kHeadMask) | ((head_of(s) + 1) & index_mask);
  }
  static std::uint64_t next_tail(std::uint64_t s) noexcept {
    return (s & ~kTailMask) | (std::uint64_t{(tail_of(s) + 1) & index_mask} << kTailShift);
  }

  static std::size_t checked_ring_size(std::size_t capacity) {
    if (capacity > max_capacity)
      throw std::invalid_argument("handoff::stream: capacity " + std::to_string(capacity) +
                                  " exceeds stream::max_capacity (2^28); use handoff::unbounded");
    return capacity == 0 ? 0 : std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity);
  }

  // A value beyond an unbounded stream's ring. It is linked under lock_ before its value is constructed (so
  // no T constructor runs under lock_) and published through its turn word, as a ring slot is.
  struct overflow_node {
    typename Sync::template atomic<std::uint32_t> turn{0};  // 0: being written; 1: value (or hole) published
    bool hole = false;  // the pusher's move threw: no value; written before the publish, read after it
    overflow_node* next = nullptr;  // guarded by lock_
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  // ---- fast paths (invariant 1)
  enum class fast { done, closed, blocked, slow };  // blocked: full (push) or empty (pop), no waiters

  fast try_fast_push(T& v) {
    // acquire: see the latest flags; the CAS below decides.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & kClosed) return fast::closed;
      if (s & (kPoppers | kPushers | kOverflow)) return fast::slow;
      if (count_of(s) >= fast_limit_) return fast::blocked;
      // acq_rel: the claim of index tail is ordered with close() and with registrations on this word
      // (invariant 2); the value itself is published by the slot's turn (stream_ring).
      if (state_.compare_exchange_weak(s, next_tail(s), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        fill_claimed(tail_of(s), v);
        return fast::done;
      }
    }
  }

  fast try_fast_pop(std::optional<T>& out) {
    std::uint64_t s = state_.load(std::memory_order_acquire);  // acquire: as in try_fast_push
    for (;;) {
      if (count_of(s) == 0) {
        if (s & (kPushers | kOverflow)) return fast::slow;  // rendezvous pushers, or overflow values
        return (s & kClosed) ? fast::closed : fast::blocked;
      }
      if (s & kPushers) return fast::slow;  // the slot this pop frees goes to the oldest pusher
      // acq_rel: as in try_fast_push.
      if (state_.compare_exchange_weak(s, next_head(s), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        if (ring_.take(head_of(s), out)) return fast::done;
        s = state_.load(std::memory_order_acquire);  // a hole (a push whose move threw): claim again
      }
    }
  }

  // Write v into index i, which this thread claimed. If T's move throws (G-8), give the index back when no
  // later index was claimed (the stream is as before the push), else leave a hole that its popper skips.
  void fill_claimed(std::uint32_t i, T& v) {
    try {
      ring_.fill(i, std::move(v));
    } catch (...) {
      // acquire: as in try_fast_push.
      std::uint64_t s = state_.load(std::memory_order_acquire);
      const std::uint32_t next = (i + 1) & index_mask;
      for (;;) {
        // A hole when someone claimed after us, popped our index, or registered as a waiting pusher on the
        // strength of our claim (giving the index back would leave it waiting on a stream with room).
        if (tail_of(s) != next || count_of(s) == 0) {
          ring_.publish_hole(i);
          break;
        }
        if (s & kPushers) {  // i is still the last index: the oldest waiting pusher's value takes it
          if (!hand_index_to_oldest_pusher(i)) ring_.publish_hole(i);
          break;
        }
        const std::uint64_t back = (s & ~kTailMask) | (std::uint64_t{i} << kTailShift);
        // acq_rel: as in try_fast_push; succeeds only if the word is unchanged since we checked it.
        if (state_.compare_exchange_weak(s, back, std::memory_order_acq_rel, std::memory_order_acquire))
          break;
      }
      throw;
    }
  }

  // Index i was claimed by a push whose move threw, it is the last claimed index, and pushers wait: move the
  // oldest one's value into it. False (nothing done) if the word changed or no pusher could be claimed.
  bool hand_index_to_oldest_pusher(std::uint32_t i) noexcept {
    node* w = nullptr;
    {
      detail::slow_guard<Sync> guard(lock_);
      // acquire: as in push_impl; under lock_ no pop can claim a pusher or move the tail past i.
      const std::uint64_t s = state_.load(std::memory_order_acquire);
      if (tail_of(s) != ((i + 1) & index_mask) || count_of(s) == 0 || !(s & kPushers)) return false;
      w = pushers_.claim_oldest();
      if (pushers_.empty()) set_flag(kPushers, false);
    }
    if (!w) return false;
    try {
      ring_.fill(i, std::move(*static_cast<T*>(w->slot)));
    } catch (...) {
      w->complete(kRetry);  // the pusher keeps its value and starts again
      return false;
    }
    w->complete(status::ok);
    return true;
  }

  // An overflow push whose move threw: unlink its node if it is still the last one (the stream is then as
  // before the push), else publish it as a hole that its popper skips (a popper may already be waiting on
  // it).
  void give_back_or_hole(overflow_node* n) noexcept {
    {
      detail::slow_guard<Sync> guard(lock_);
      if (n == overflow_tail_) {  // still linked (a popper that took the last node resets the tail) and last
        overflow_node* before = nullptr;
        if (overflow_head_ != n) {
          before = overflow_head_;
          while (before->next != n) before = before->next;  // exceptional path only
        }
        (before ? before->next : overflow_head_) = nullptr;
        overflow_tail_ = before;
        overflow_size_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in push_impl
        if (!overflow_head_) set_flag(kOverflow, false);
        delete n;  // its value was never constructed
        return;
      }
    }
    n->hole = true;
    ring_type::publish(n->turn, 1);
  }

  // Under lock_: set or clear `flag` on the state word (other bits may change concurrently on the fast path).
  void set_flag(std::uint64_t flag, bool on) noexcept {
    // acq_rel: ordered with the fast paths' CAS on the same word (invariant 2).
    if (on)
      state_.fetch_or(flag, std::memory_order_acq_rel);
    else
      state_.fetch_and(~flag, std::memory_order_acq_rel);
  }

  bool would_stop(const std::stop_token* st) const noexcept { return st && st->stop_requested(); }

  // Link `w` into q (lock_ held), unlock, and wait. Returns the status the server set, or timeout/cancelled
  // (the node is then unlinked and the flag cleared if q became empty).
  status wait_in(detail::relockable_guard<Sync>& guard, detail::waiter_queue<Sync>& q, std::uint64_t flag,
                 node& w, const detail::deadline& d, const std::stop_token* st) {
    q.push_back(&w);
    guard.unlock();
    typename node::outcome o;
    if (st) {
      detail::stop_interrupt<Sync> interrupt(*st, w);
      o = w.await(d);
    } else {
      o = w.await(d);
    }
    if (o == node::outcome::completed) return w.result;
    guard.lock();
    if (w.linked) q.remove(&w);
    if (q.empty()) set_flag(flag, false);
    guard.unlock();
    return o == node::outcome::timed_out ? status::timeout : status::cancelled;
  }

  // ---- push slow path
  status push_impl(T& v, mode m, const detail::deadline& d, const std::stop_token* st) {
    switch (try_fast_push(v)) {
      case fast::done:
        return status::ok;
      case fast::closed:
        return status::closed;
      case fast::blocked:  // full with no waiter to serve: a try_ answers now (linearized at that load)
        if (m == mode::try_only && !is_unbounded()) return status::full;
        break;
      case fast::slow:
        break;
    }
    std::unique_ptr<overflow_node> spare;  // unbounded: allocated outside lock_ when the ring is full
    for (;;) {
      detail::relockable_guard<Sync> guard(lock_);
      // acquire: the flags and indices under lock_ (fast paths may still move head/tail).
      std::uint64_t s = state_.load(std::memory_order_acquire);
      if (s & kClosed) return status::closed;

      if (s & kPoppers) {  // invariant 3: hand the value to the oldest popper (ST-4, G-3)
        node* w = poppers_.claim_oldest();
        if (poppers_.empty()) set_flag(kPoppers, false);
        if (!w) continue;
        guard.unlock();
        try {
          static_cast<std::optional<T>*>(w->slot)->emplace(std::move(v));
        } catch (...) {
          guard.lock();
          // acquire: as in try_fast_push.
          std::uint64_t now = state_.load(std::memory_order_acquire);
          bool relinked = false;
          while (count_of(now) == 0 && !(now & (kOverflow | kClosed | kPushers))) {
            // acq_rel: registration on the word (invariant 2), as in pop_impl.
            if (state_.compare_exchange_weak(now, now | kPoppers, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
              poppers_.push_front(w);  // G-3: its place back, at the front
              w->unclaim();
              relinked = true;
              break;
            }
          }
          if (!relinked) w->complete(kRetry);  // values arrived meanwhile (or closed): the popper retries
          throw;
        }
        w->complete(status::ok);
        return status::ok;
      }

      const bool ring_has_room = count_of(s) < fast_limit_ && !(s & (kPushers | kOverflow));
      if (ring_has_room) {
        // acq_rel: as in try_fast_push.
        if (!state_.compare_exchange_strong(s, next_tail(s), std::memory_order_acq_rel,
                                            std::memory_order_acquire))
          continue;
        guard.unlock();
        fill_claimed(tail_of(s), v);
        return status::ok;
      }

      if (is_unbounded()) {  // invariant 4: push never waits
        if (!spare) {
          guard.unlock();
          spare = std::make_unique<overflow_node>();  // may throw std::bad_alloc: v is untouched
          continue;
        }
        overflow_node* n = spare.release();
        (overflow_tail_ ? overflow_tail_->next : overflow_head_) = n;
        overflow_tail_ = n;
        // relaxed: a snapshot counter for size(); lock_ orders its updates.
        overflow_size_.fetch_add(1, std::memory_order_relaxed);
        set_flag(kOverflow, true);
        guard.unlock();
        try {
          ::new (static_cast<void*>(n->storage)) T(std::move(v));  // outside lock_ (invariant 6)
        } catch (...) {
          give_back_or_hole(n);  // the value stays with us
          throw;
        }
        ring_type::publish(n->turn, 1);
        return status::ok;
      }

      if (m == mode::try_only) return status::full;
      if (Sync::passed(d)) return status::timeout;
      if (would_stop(st)) return status::cancelled;

      // Register (invariant 2): valid only if the word still says "full, no popper, open".
      // acq_rel: as in try_fast_push.
      if (!state_.compare_exchange_strong(s, s | kPushers, std::memory_order_acq_rel,
                                          std::memory_order_acquire))
        continue;
      node w;
      w.slot = &v;
      const status r = wait_in(guard, pushers_, kPushers, w, d, st);
      if (r != kRetry) return r;  // ok: a popper moved v; closed / timeout / cancelled: v is still ours
    }
  }

  // ---- pop slow path
  status pop_into(T& out, mode m, const detail::deadline& d, const std::stop_token* st) {
    std::optional<T> got;
    const status r = pop_impl(got, m, d, st);
    if (r == status::ok) out = std::move(*got);
    return r;
  }

  status pop_impl(std::optional<T>& out, mode m, const detail::deadline& d, const std::stop_token* st) {
    switch (try_fast_pop(out)) {
      case fast::done:
        return status::ok;
      case fast::closed:
        return status::closed;
      case fast::blocked:  // empty with no pusher or overflow: a try_ answers now (linearized at that load)
        if (m == mode::try_only) return status::empty;
        break;
      case fast::slow:
        break;
    }
    for (;;) {
      detail::relockable_guard<Sync> guard(lock_);
      // acquire: as in push_impl.
      std::uint64_t s = state_.load(std::memory_order_acquire);
      const std::uint32_t count = count_of(s);

      if (count > 0 && !(s & kPushers)) {
        // acq_rel: as in try_fast_push.
        if (!state_.compare_exchange_strong(s, next_head(s), std::memory_order_acq_rel,
                                            std::memory_order_acquire))
          continue;
        guard.unlock();
        if (ring_.take(head_of(s), out)) return status::ok;
        continue;  // a hole
      }

      if (count > 0) {  // PUSHERS (bounded, full): take ours and move the oldest pusher's value in (ST-2)
        node* w = pushers_.claim_oldest();
        if (!w) {
          set_flag(kPushers, false);
          continue;
        }
        std::uint64_t next = next_tail(next_head(s));
        if (pushers_.empty()) next &= ~kPushers;
        // acq_rel: as in try_fast_push. Only close() could change the word now, and it takes lock_; a weak
        // failure retries with the fresh value.
        while (!state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
          next = next_tail(next_head(s));
          if (pushers_.empty()) next &= ~kPushers;
        }
        guard.unlock();
        // Our value first: with count == capacity == ring size the pusher's index maps to the slot we free.
        bool got = false;
        std::exception_ptr take_error;
        try {
          got = ring_.take(head_of(s), out);
        } catch (...) {
          take_error = std::current_exception();  // our own value's move threw; the pusher is served anyway
        }
        try {
          ring_.fill(tail_of(s), std::move(*static_cast<T*>(w->slot)));
          w->complete(status::ok);
        } catch (...) {
          ring_.publish_hole(tail_of(s));
          w->complete(kRetry);  // the pusher keeps its value and starts again
        }
        if (take_error) std::rethrow_exception(take_error);
        if (got) return status::ok;
        continue;  // our index was a hole
      }

      if (s & kPushers) {  // capacity 0: take the oldest pusher's value directly (ST-3)
        node* w = pushers_.claim_oldest();
        if (pushers_.empty()) set_flag(kPushers, false);
        if (!w) continue;
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

      if (overflow_head_) {  // invariant 4: the ring is drained, the overflow list is next
        overflow_node* n = overflow_head_;
        overflow_head_ = n->next;
        if (!overflow_head_) overflow_tail_ = nullptr;
        overflow_size_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in push_impl
        const bool last = overflow_head_ == nullptr;             // OVERFLOW stays set until n's value is out
        guard.unlock();
        std::unique_ptr<overflow_node> owned(n);
        ring_type::await_turn(n->turn, 1);  // its pusher may still be moving the value in (invariant 6)
        std::exception_ptr error;
        if (!n->hole) {
          try {
            out.emplace(std::move(*n->value()));
          } catch (...) {
            // The value whose move-out throws is this pop's own (see Exceptions above): it is destroyed with
            // its node, and the list goes on as if it had been popped, so nothing overtakes or strands.
            error = std::current_exception();
          }
          n->value()->~T();  // outside lock_
        }
        const bool hole = n->hole;
        owned.reset();
        if (last) {
          guard.lock();
          if (!overflow_head_) set_flag(kOverflow, false);
          guard.unlock();
        }
        if (error) std::rethrow_exception(error);
        if (hole) continue;  // a push whose move threw: claim again
        return status::ok;
      }

      if (s & kClosed) return status::closed;  // ST-5: drained
      if (m == mode::try_only) return status::empty;
      if (Sync::passed(d)) return status::timeout;
      if (would_stop(st)) return status::cancelled;

      // Register (invariant 2): valid only if the word still says "empty" (a fast push may have come first).
      // acq_rel: as in try_fast_push.
      if (!state_.compare_exchange_strong(s, s | kPoppers, std::memory_order_acq_rel,
                                          std::memory_order_acquire))
        continue;
      node w;
      w.slot = &out;
      const status r = wait_in(guard, poppers_, kPoppers, w, d, st);
      if (r != kRetry) return r;  // ok: a pusher put the value in `out`; closed: end-of-stream
    }
  }

  bool is_unbounded() const noexcept { return capacity_ == std::numeric_limits<std::size_t>::max(); }

  alignas(64) typename Sync::template atomic<std::uint64_t> state_{0};
  ring_type ring_;
  const std::size_t capacity_;
  const std::uint32_t
      fast_limit_;  // ring positions a fast push may fill: the capacity, or the unbounded ring

  alignas(64) mutable detail::slow_lock<Sync> lock_;
  detail::waiter_queue<Sync> poppers_;      // guarded by lock_
  detail::waiter_queue<Sync> pushers_;      // guarded by lock_; slot -> the pusher's T
  overflow_node* overflow_head_ = nullptr;  // guarded by lock_
  overflow_node* overflow_tail_ = nullptr;  // guarded by lock_
  typename Sync::template atomic<std::size_t> overflow_size_{0};
};

}  // namespace handoff
