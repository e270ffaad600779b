// ---------------------------------------------------------------------------------------------------------------
// handoff/topic.hpp: topic<T>, fan-out (rule ST-8): every subscriber receives its own copy of every value
// published while it is subscribed, through its own bounded buffer.
//
// Purpose: the safe form of Lwt's "several traversors on one stream". A stream is a work queue (each value to
// one popper); a topic is a broadcast. subscribe() returns a subscription, a move-only reader with the pop
// family of a stream (pop, try_pop, pop_for, pop_until with result<T> and T& forms, deadline and stop token
// forms, try_pop_some/pop_some, wait_closed, lazy range-for and values()) that unsubscribes in its
// destructor. publish(v) copies v into the buffer of every current subscriber.
//
//   topic<T> t{64};                                  // 64 unread values per subscriber, policy wait
//   auto sub = t.subscribe();                        // sees every value published from now on
//   t.publish(v);                                    // returns how many subscribers received v
//   while (auto x = sub.pop()) use(*x);              // until t.close() and the buffer is drained
//
// When a subscriber falls behind (its buffer holds capacity_per_subscriber values), overflow_policy decides:
// - wait (default): the publisher waits until that subscriber pops (back-pressure). Subscribers that have
//   room get the value at once; the publisher then waits for the full ones, in subscription order.
// - drop_oldest: the publisher never waits for a subscriber. The subscriber's oldest buffered value is
//   dropped to make room and its lag count goes up by one (tokio's broadcast reports this as Lagged).
//
// Lag: subscription::take_lag() returns the number of values this subscriber will never receive that were
// published to it since the previous take_lag() (or since subscribe()), and resets the count; lagged() reads
// it without resetting. Both wait for a drop_oldest drop in flight on this buffer, so a value that a pop
// already found gone is counted (invariant 6). A value is counted when drop_oldest dropped it, or (policy
// wait) when a publish_for/ publish_until/publish(v, stop_token) gave up on this subscriber's full buffer, or
// when T's copy or move constructor threw on its way to or out of this buffer (see Exceptions). Where the
// lost values sit: a value dropped by drop_oldest, or lost by a throwing pop, is older than every value a pop
// returns after the take_lag() that counts it (it was the oldest buffered when it went); a value skipped by a
// timed-out, cancelled or throwing publish is newer than every value that was buffered when it was skipped
// (it would have queued behind them). Per subscriber, over its whole life: values popped + values lagged +
// values left in its buffer when it was destroyed == values published to it.
//
// Publish forms (G-7); `delivered` counts the subscribers whose buffer received the value:
// - std::size_t publish(v): waits (policy wait) as long as it takes; returns delivered.
// - publish_result try_publish(v): never waits; ALL OR NOTHING: ok (delivered to every current subscriber),
//   or full (delivered to none: some buffer was full, or another publish was in progress), or closed.
// - publish_result publish_for(v, d[, stop_token]) / publish_until(v, t[, stop_token]) / publish(v,
//   stop_token): ok; or timeout / cancelled: the value reached `delivered` subscribers and each remaining
//   one has its lag raised by one. With both a deadline and a stop token, whichever comes first ends the
//   wait (cancelled when both have happened, as everywhere in handoff). If the deadline passes (or the stop
//   is requested) before this publish may start (another publish holds the token), nobody receives it,
//   delivered == 0 and no lag moves.
//   A deadline already passed or a stop already requested at the call behaves exactly like try_publish
//   (G-7), all or nothing, answering timeout / cancelled where try_publish answers full: it takes the token
//   only if no other publish is in progress, and delivers only if every subscriber has room (then ok);
//   otherwise nobody receives it, delivered == 0 and no lag moves.
// The result of every form but publish(v) is [[nodiscard]].
// Under drop_oldest nothing waits for a subscriber, so every form behaves as publish() (try_publish can still
// answer full when another publish is in progress). Every form returns closed (delivered == 0) after close();
// a publish that close() overtakes returns closed with the subscribers it reached before.
//
// Invariants:
//   1. Each subscriber owns a stream<T, Sync>{capacity_per_subscriber} (its buffer) and a lag counter, in a
//      subscriber_state held by shared_ptr: by its subscription, by the topic's subscriber list, and by the
//      snapshot of a publisher. Only publishers push into a buffer; only its subscription pops from it,
//      except that drop_oldest publishers try_pop the oldest value to drop it.
//   2. Publishes are serialised by a publish token (an mvar<token, Sync>, taken with the publish's own
//      deadline or stop token): every subscriber receives values in one total order, the order in which
//      publishes took the token, and each subscriber's values are a contiguous run of that order (from its
//      subscribe to its unsubscribe or the close) apart from lagged values. Because a publisher is the only
//      pusher into each buffer, "size() < capacity" stays true until it pushes: try_publish checks every
//      buffer first and then pushes to all of them without waiting (all or nothing, exactly).
//   3. The subscriber list is copy-on-write behind list_lock (detail/slow_lock.hpp), taken only by subscribe,
//      unsubscribe, close and by a publisher whose cached snapshot is out of date (the list's version moved).
//      Nobody waits for anything while holding list_lock, and a publisher never holds it while pushing.
//      So unsubscribe cannot deadlock with a publisher waiting on that subscriber's full buffer: unsubscribe
//      closes the buffer (stream::close never waits), the waiting push fails with `closed`, and the
//      publisher moves on to the next subscriber. Lock order: list_lock, then a buffer's own lock; the
//      publish token is never taken by subscribe, unsubscribe or close.
//   4. A subscriber receives every value of each publish that took the token after its subscribe() returned
//      and before its unsubscribe() (or destruction) began; for publishes overlapping those calls, it
//      receives the value or not, never a gap followed by more values of the same run.
//   5. close() sets closed, empties the list and closes every buffer: subscribers drain what they hold and
//      then see end-of-stream; publishes that start later return closed; subscribe() after close() returns a
//      subscription that is already at end-of-stream.
//   6. drop_oldest counts exactly: a subscriber that has drained its buffer to end-of-stream reads, in one
//      take_lag(), every value published to it that it did not pop. A publisher makes room in a full
//      buffer by popping its oldest value (try_pop) and counts the drop only once that pop got a value, so
//      no count ever stands for a value the subscriber may still pop. (Counting first and taking the count
//      back when the pop finds nothing, because the owner had just popped everything, is not exact: a
//      take_lag() between the two counts a value its owner then pops.) Between that pop and the count the
//      value is gone but not counted, so the drop is bracketed by the subscriber's drop sequence word
//      (`drops`, odd while a drop is in flight), and take_lag() and lagged() first wait until the drop in
//      flight at their call, if any, has ended. Why that is exact:
//      - A reader that saw the value gone (a pop of its found the buffer empty or ended, or returned a later
//        value) read the buffer's head word with acquire at or after the drop's claim of that value, an
//        acq_rel compare-exchange inside try_pop (stream.hpp). The drop's start (an RMW on `drops`) is
//        sequenced before that claim, so it happens-before the reader's load of `drops`, which reads that
//        drop in flight (and waits) or ended: the release exchange that ends it, or an RMW of its release
//        sequence, after the count. The acquire load then makes the count visible.
//      - A drop that starts after the reader's load removes a value the reader has not seen go (for a
//        drained subscriber, no value at all: the buffer is closed and empty, so that drop finds nothing
//        and counts nothing); its count reaches the next take_lag().
//      The wait is for one try_pop and T's move constructor in the publisher's thread (the publisher is the
//      buffer's only pusher, so that try_pop waits for no other push). The sequence is 31 bits: a reader
//      would confuse two drops only if 2^30 of them ended between two of its loads of the word, during
//      which the one it waits for wakes it.
// Exceptions (G-8). Every path where T's copy or move constructor can throw after a value entered topic;
// in each the exception reaches the caller whose operation was in progress, the publish token is released,
// every buffer stays usable, and the value that did not arrive is counted as lag, so that per subscriber
// popped + lagged + left == published still holds:
//   - the copy of v for a subscriber (one per subscriber, in subscription order; under policy wait a full
//     subscriber's copy too: publish_impl's pass 1 makes it, the buffer refuses it, pass 2 makes another):
//     the publish throws; the subscribers that already received the value keep it; this one and every
//     later one of that publish get lag, not the value (also when the throw was for a full subscriber and
//     later ones had room).
//   - the move of that copy into the buffer (the buffer's push): the stream leaves the copy with the
//     publisher (stream.hpp, Exceptions), which destroys it; then as for a throwing copy.
//   - drop_oldest's removal of the oldest buffered value (its move out, in the buffer's try_pop): the stream
//     destroys that value; it counts as dropped (lag + 1, invariant 6), and the publish throws as above, so
//     the new value is lag for this subscriber and the later ones too.
//   - a subscription's pops (every form, batch pops and iteration's fetches): a stream pop throws only when
//     the move of its value out of the ring, into a T& argument or into the OutputIt threw, and the value
//     is then destroyed (stream.hpp); the subscription counts it as lag before the exception leaves. (An
//     OutputIt whose own copy, move or increment throws would be counted the same, value or not.) The loop
//     variable's move in `for (T v : sub)` happens after delivery: a value lost there counts as popped.
// T's destructor must not throw.
// Memory ordering (G-4): everything a thread did before publish(v) happens-before everything a subscriber
// does after the pop that returns its copy of v (stream push/pop). close() happens-before every pop that
// reports end-of-stream because of it and every publish that returns closed. A take_lag() that counts a
// dropped value happens-after that drop (release/acquire on the lag counter), and one that follows a pop
// which saw a value dropped counts it (invariant 6).
//
// Lifetime: safe by shared ownership. A subscription may outlive its topic: destroying the topic closes it,
// so the subscription drains its buffer and then reports end-of-stream. Destroying a topic while a publish is
// in progress, or using a moved-from subscription, is a precondition violation (checked in debug builds,
// G-9). A subscriber_state removed from the list stays alive in the last publisher's cached snapshot until
// the next publish refreshes it (its buffer is closed; memory only). Topic: not copyable, not movable.
// Subscription: move-only. T must be copy-constructible.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/deadline.hpp"
#include "detail/pop_iterator.hpp"
#include "detail/precondition.hpp"
#include "detail/slow_lock.hpp"
#include "detail/spin_wait.hpp"
#include "detail/sync.hpp"
#include "mvar.hpp"
#include "name.hpp"
#include "result.hpp"
#include "status.hpp"
#include "stream.hpp"

namespace handoff {

enum class overflow_policy { wait, drop_oldest };

// The answer of try_publish, publish_for, publish_until and publish(v, stop_token).
struct publish_result {
  status result = status::ok;  // ok | full (try_publish) | timeout | cancelled | closed
  std::size_t delivered = 0;   // subscribers whose buffer received the value
  friend bool operator==(const publish_result&, const publish_result&) = default;
};

template <class T, class Sync = default_sync>
class topic {
  static_assert(std::is_copy_constructible_v<T>,
                "topic<T> copies each value to every subscriber: T must be copyable");
  using buffer_type = stream<T, Sync>;

  struct subscriber_state {
    explicit subscriber_state(std::size_t capacity) : buffer(capacity) {}
    subscriber_state(std::size_t capacity, handoff::name n) : buffer(capacity, n) {}
    buffer_type buffer;
    typename Sync::template atomic<std::uint64_t> lag{0};
    // Invariant 6: drop sequence (bits 1..31, advanced by kDropStep at the start and at the end of each
    // drop_oldest drop, so odd = kDropInFlight set while one is in flight) and kLagReaderAsleep (bit 0).
    typename Sync::template atomic<std::uint32_t> drops{0};
    bool pending = false;  // guarded by the publish token: this publish has not yet dealt with the subscriber
  };
  static constexpr std::uint32_t kLagReaderAsleep = 1;  // a take_lag()/lagged() is (about to be) parked
  static constexpr std::uint32_t kDropStep = 2;
  static constexpr std::uint32_t kDropInFlight = 2;  // the sequence's low bit
  using subscriber_list = std::vector<std::shared_ptr<subscriber_state>>;

  // What subscriptions share with the topic (invariant 3). Outlives the topic while subscriptions exist.
  struct shared_core {
    detail::slow_lock<Sync> list_lock;
    std::shared_ptr<const subscriber_list> subscribers;        // guarded by list_lock; nullptr = none
    typename Sync::template atomic<std::uint64_t> version{0};  // bumped under list_lock at each list change
    typename Sync::template atomic<std::uint32_t> closed{0};   // set under list_lock by close()
  };

  struct token {};

 public:
  using value_type = T;
  using sync_type = Sync;
  // The largest capacity_per_subscriber accepted (each buffer is a bounded stream).
  static constexpr std::size_t max_capacity = buffer_type::max_capacity;

  explicit topic(std::size_t capacity_per_subscriber, overflow_policy policy = overflow_policy::wait)
      : core_(std::make_shared<shared_core>()),
        publish_token_(token{}),
        capacity_(checked_capacity(capacity_per_subscriber)),
        policy_(policy) {}
  // Named (OB-1): each subscriber's buffer is the stream "<name> subscriber" and the publish token the mvar
  // "<name> publish token" in handoff/debug.hpp's reports (a waiting publisher shows as a push on a full
  // subscriber buffer, or a take of the token while another publish is in progress).
  topic(std::size_t capacity_per_subscriber, handoff::name n)
      : topic(capacity_per_subscriber, overflow_policy::wait, n) {}
  topic(std::size_t capacity_per_subscriber, overflow_policy policy, handoff::name n)
      : core_(std::make_shared<shared_core>()),
        name_(n.text()),
        publish_token_(token{}, handoff::name(name_ + " publish token")),
        capacity_(checked_capacity(capacity_per_subscriber)),
        policy_(policy) {}
  topic(const topic&) = delete;
  topic& operator=(const topic&) = delete;

  ~topic() {
    HANDOFF_PRECONDITION_ON((detail::precondition_subject{"topic", name_}), !publish_token_.is_empty(),
                            "destroyed while a publish is in progress (G-9)");
    close();
  }

  std::string_view name() const noexcept { return name_; }  // OB-1: empty when not named

  class subscription;

  // A reader of every value published from now on (invariant 4). After close(): already at end-of-stream.
  subscription subscribe() {
    auto state = name_.empty()
                     ? std::make_shared<subscriber_state>(capacity_)
                     : std::make_shared<subscriber_state>(capacity_, handoff::name(name_ + " subscriber"));
    std::shared_ptr<const subscriber_list> old;  // released after the lock
    {
      detail::slow_guard<Sync> guard(core_->list_lock);
      // relaxed: closed is written under list_lock, which orders it with this read.
      if (core_->closed.load(std::memory_order_relaxed)) {
        state->buffer.close();
      } else {
        auto next = copy_open(core_->subscribers.get(), 1);
        next->push_back(state);
        old = std::exchange(core_->subscribers, std::move(next));
        // relaxed: publishers re-read the list under list_lock when they see a new version (invariant 3).
        core_->version.fetch_add(1, std::memory_order_relaxed);
      }
    }
    return subscription(core_, std::move(state));
  }

  // ---- publish: see "Publish forms" in the header comment
  std::size_t publish(const T& v) {
    return publish_impl(v, mode::wait, detail::deadline::never(), nullptr).delivered;
  }
  [[nodiscard]] publish_result try_publish(const T& v) {
    return publish_impl(v, mode::try_only, detail::deadline::never(), nullptr);
  }
  template <class Rep, class Period>
  [[nodiscard]] publish_result publish_for(const T& v, std::chrono::duration<Rep, Period> d,
                                           std::stop_token st = {}) {
    return publish_impl(v, mode::wait, detail::deadline::after(d), detail::stop_ptr(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] publish_result publish_until(const T& v, std::chrono::time_point<Clock, Duration> t,
                                             std::stop_token st = {}) {
    return publish_impl(v, mode::wait, detail::deadline::at(t), detail::stop_ptr(st));
  }
  [[nodiscard]] publish_result publish(const T& v, std::stop_token st) {
    return publish_impl(v, mode::wait, detail::deadline::never(), detail::stop_ptr(st));
  }

  // Idempotent, never waits (invariant 5).
  void close() noexcept {
    std::shared_ptr<const subscriber_list> old;
    {
      detail::slow_guard<Sync> guard(core_->list_lock);
      // release: pairs with the acquire in publish_impl; a publish that sees it returns closed.
      core_->closed.store(1, std::memory_order_release);
      old = std::exchange(core_->subscribers, nullptr);
      core_->version.fetch_add(1, std::memory_order_relaxed);  // relaxed: as in subscribe()
    }
    if (old)
      for (const auto& s : *old) s->buffer.close();  // wakes publishers waiting on them (closed)
  }
  bool is_closed() const noexcept {
    return core_->closed.load(std::memory_order_acquire) != 0;  // acquire: pairs with the store in close()
  }

  // Snapshot of the number of subscribers (takes list_lock; not for hot paths).
  std::size_t subscriber_count() const {
    detail::slow_guard<Sync> guard(core_->list_lock);
    return core_->subscribers ? core_->subscribers->size() : 0;
  }
  std::size_t capacity_per_subscriber() const noexcept { return capacity_; }
  overflow_policy policy() const noexcept { return policy_; }

 private:
  enum class mode { try_only, wait };

  static std::size_t checked_capacity(std::size_t capacity) {
    if (capacity == 0 || capacity > max_capacity)
      throw std::invalid_argument("handoff::topic: capacity_per_subscriber must be in 1..2^28, got " +
                                  std::to_string(capacity));
    return capacity;
  }

  // A new list holding the open subscribers of `from` (unsubscribed ones, whose buffer is closed, are pruned
  // here: unsubscribe() leaves its entry behind if it could not allocate), with room for `extra` more.
  static std::shared_ptr<subscriber_list> copy_open(const subscriber_list* from, std::size_t extra) {
    auto next = std::make_shared<subscriber_list>();
    next->reserve((from ? from->size() : 0) + extra);
    if (from)
      for (const auto& s : *from)
        if (!s->buffer.is_closed()) next->push_back(s);
    return next;
  }

  // Token holder only: bring the cached snapshot up to date with the list.
  void refresh_snapshot() {
    // relaxed: only decides whether to re-read the list under list_lock; a subscribe() that happened-before
    // this publish wrote a newer version, which this load must see (read-write coherence).
    if (core_->version.load(std::memory_order_relaxed) == snapshot_version_) return;
    std::shared_ptr<const subscriber_list> old;  // states dropped from the snapshot are released unlocked
    {
      detail::slow_guard<Sync> guard(core_->list_lock);
      old = std::exchange(snapshot_, core_->subscribers);
      snapshot_version_ = core_->version.load(std::memory_order_relaxed);  // relaxed: under list_lock
    }
  }

  static void add_lag(subscriber_state& s) noexcept {
    // release: pairs with the acquire in take_lag(); the drop that is counted happens-before the read.
    s.lag.fetch_add(1, std::memory_order_release);
  }

  // drop_oldest, token holder only: make room in s's full buffer by removing its oldest value, and count it
  // if there was one (invariant 6). Throws what T's move constructor throws; the value is then gone all the
  // same (stream.hpp, Exceptions: a pop whose move throws destroys the value) and counted.
  static void drop_oldest_value(subscriber_state& s) {
    // relaxed: a reader that saw the value gone read the buffer's head word, with acquire, at or after the
    // claim inside try_pop below (an acq_rel compare-exchange, sequenced after this RMW), so this start
    // happens-before its load of `drops` in await_drop (invariant 6).
    const std::uint32_t in_flight = s.drops.fetch_add(kDropStep, std::memory_order_relaxed) + kDropStep;
    try {
      const auto dropped = s.buffer.try_pop();
      end_drop(s, in_flight, dropped.has_value());  // before the dropped value's destructor runs
    } catch (...) {
      end_drop(s, in_flight, true);
      throw;
    }
  }
  static void end_drop(subscriber_state& s, std::uint32_t in_flight, bool dropped) noexcept {
    if (dropped) add_lag(s);
    // release: pairs with the acquire loads in subscription::await_drop(); a reader that sees this drop
    // ended sees its count. The exchange also clears kLagReaderAsleep, which it reads to know whom to wake
    // (the protocol of detail/waiter.hpp, point 2).
    if (s.drops.exchange(in_flight + kDropStep, std::memory_order_release) & kLagReaderAsleep)
      Sync::unpark_all(s.drops);
  }

  // Calls f with the deadline d (not never) as a time_point of its own clock, for the primitives' _until
  // forms.
  template <class F>
  static auto at_deadline(const detail::deadline& d, F&& f) {
    const std::chrono::nanoseconds ns(d.nanoseconds_since_epoch());
    if (d.kind() == detail::deadline::clock_kind::system)
      return f(std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(ns)));
    return f(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(ns)));
  }

  // Push into one buffer, waiting as the publish's deadline and stop token allow (the stream's own G-7
  // forms: a passed deadline or a requested stop makes it a try). ok | closed | timeout | cancelled.
  static status push_waiting(buffer_type& b, T&& v, const detail::deadline& d, const std::stop_token* st) {
    if (d.is_never()) {
      if (st) return b.push(std::move(v), *st);
      return b.push(std::move(v)) ? status::ok : status::closed;
    }
    return at_deadline(
        d, [&](auto t) { return st ? b.push_until(std::move(v), t, *st) : b.push_until(std::move(v), t); });
  }

  // Take the publish token (invariant 2) as the publish's mode, deadline and stop token allow: ok | full
  // (try) | timeout | cancelled (mvar's G-7 forms: a passed deadline or a requested stop makes it a try).
  status take_token(mode m, const detail::deadline& d, const std::stop_token* st) {
    if (m == mode::try_only) return publish_token_.try_take() ? status::ok : status::full;
    if (d.is_never()) {
      if (!st) {
        (void)publish_token_.take();
        return status::ok;
      }
      return publish_token_.take(*st).status();
    }
    return at_deadline(d, [&](auto t) {
      return (st ? publish_token_.take_until(t, *st) : publish_token_.take_until(t)).status();
    });
  }

  struct token_release {
    mvar<token, Sync>& m;
    ~token_release() { m.put(token{}); }  // the holder is the only putter: never waits
  };

  // Exception path (G-8): every subscriber this publish had not dealt with misses the value.
  struct pending_guard {
    const subscriber_list& subs;
    ~pending_guard() {
      for (const auto& s : subs)
        if (std::exchange(s->pending, false)) add_lag(*s);
    }
  };

  publish_result publish_impl(const T& v, mode m, const detail::deadline& d, const std::stop_token* st) {
    if (is_closed()) return {status::closed, 0};
    if (const status t = take_token(m, d, st); t != status::ok) return {t, 0};
    token_release release{publish_token_};
    // acquire: pairs with the release in close(); a publish that took the token after close() returns closed.
    if (core_->closed.load(std::memory_order_acquire)) return {status::closed, 0};
    refresh_snapshot();
    // An empty list may be close()'s doing (it empties the list): then this publish was overtaken by it.
    if (!snapshot_ || snapshot_->empty()) return {is_closed() ? status::closed : status::ok, 0};
    const subscriber_list& subs = *snapshot_;  // snapshot_ changes only under the token we hold

    // G-7: a publish whose deadline has passed or whose stop was requested is a try_publish, all or nothing,
    // answering timeout / cancelled (cancelled when both, as the waiting core does) instead of full.
    std::optional<status> gives_up_now;
    if (m == mode::try_only)
      gives_up_now = status::full;
    else if (st && st->stop_requested())
      gives_up_now = status::cancelled;
    else if (!d.is_never() && Sync::passed(d))
      gives_up_now = status::timeout;
    if (gives_up_now && policy_ == overflow_policy::wait)
      for (const auto& s : subs)  // all or nothing: a buffer with room keeps it until we push (invariant 2)
        if (s->buffer.size() >= capacity_ && !s->buffer.is_closed()) return {*gives_up_now, 0};

    for (const auto& s : subs) s->pending = true;
    pending_guard guard{subs};
    std::size_t delivered = 0;
    bool met_closed = false;
    auto settle = [&](subscriber_state& s, status r) {
      s.pending = false;
      if (r == status::ok)
        ++delivered;
      else if (r == status::closed)
        met_closed = true;  // unsubscribed (or the topic closed): no lag, it will never pop again
      else
        add_lag(s);
    };

    if (policy_ == overflow_policy::drop_oldest) {
      for (const auto& s : subs) {
        T copy(v);
        status r;
        // Only we push (invariant 1), so one drop makes room; a drop that finds nothing means its owner
        // just popped (room too).
        while ((r = s->buffer.try_push(std::move(copy))) == status::full) drop_oldest_value(*s);
        settle(*s, r);
      }
    } else {
      // Pass 1: every subscriber with room gets the value at once (no head-of-line blocking behind a full
      // one). No size() check first: it reads the buffer's head word, the subscriber's cache line, on every
      // publish, where try_push proves room from the slot it fills (stream.hpp, has_room) and touches the
      // head only when the buffer is full or nearly so. A full buffer answers full, its copy is destroyed,
      // and pass 2 makes another (measured, topic_bench on the 2-core VM, 3 runs each: 1 subscriber 14.4M ->
      // 17.9M deliveries/s, 8 subscribers 34.0M -> 36.9M).
      for (const auto& s : subs) {
        T copy(v);
        const status r = s->buffer.try_push(std::move(copy));
        if (r != status::full) settle(*s, r);  // a full one stays pending for pass 2
      }
      // Pass 2: wait for the full ones, in subscription order, within the one deadline / stop token. (A
      // try_publish gets here only if invariant 2 were broken; it must not wait even then.)
      const detail::deadline wait_deadline =
          gives_up_now ? detail::deadline::after(std::chrono::seconds(-1)) : d;
      status gave_up = status::ok;
      for (const auto& s : subs) {
        if (!s->pending) continue;
        T copy(v);
        const status r = push_waiting(s->buffer, std::move(copy), wait_deadline, st);
        settle(*s, r);
        if ((r == status::timeout || r == status::cancelled) && gave_up == status::ok) gave_up = r;
      }
      if (gave_up != status::ok && !(met_closed && is_closed())) return {gave_up, delivered};
    }
    if (met_closed && is_closed()) return {status::closed, delivered};
    return {status::ok, delivered};
  }

  std::shared_ptr<shared_core> core_;
  std::string name_;                 // OB-1: empty when not named (no allocation)
  mvar<token, Sync> publish_token_;  // full = no publish in progress (invariant 2)
  // Guarded by publish_token_: the subscriber list as of this topic's last publish.
  std::shared_ptr<const subscriber_list> snapshot_;
  std::uint64_t snapshot_version_ = ~std::uint64_t{0};
  const std::size_t capacity_;
  const overflow_policy policy_;
};

// A topic's reader: the pop family of stream<T> over this subscriber's own buffer, plus lag reporting.
// Move-only; unsubscribes in its destructor.
template <class T, class Sync>
class topic<T, Sync>::subscription {
 public:
  using value_type = T;
  using waiting_counts = typename buffer_type::waiting_counts;
  using topic_type = topic;  // (handoff::on_pop(subscription), select.hpp)

  subscription(subscription&& other) noexcept = default;
  subscription& operator=(subscription&& other) noexcept {
    if (this != &other) {
      unsubscribe();
      core_ = std::move(other.core_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { unsubscribe(); }

  // ---- readiness for event loops (WA-1..WA-7, handoff/readiness.hpp): a watcher over this subscriber's
  // buffer. arm() answers whether a pop would block and, if it would, runs `n` once after the next publish
  // reaches this buffer, or the close or unsubscribe that ends it. The watcher must be destroyed (or
  // unwatched) before this subscription is, and must not be armed after the subscription was moved from.
  [[nodiscard]] watcher<buffer_type> watch(notifier n) { return buffer().watch(n); }

  // ---- coroutines (handoff/coroutine.hpp): co_await sub.async_pop(ex), as stream<T>::async_pop on this
  // subscriber's buffer (a value lost to a throwing move counts as lag, as in the pops below).
  template <class Executor>
  [[nodiscard]] detail::async_operation<Executor, detail::async_receive_result,
                                        subscription_pop_case<T, Sync>>
  async_pop(Executor ex, std::stop_token st = {}) {
    return {std::move(ex), std::move(st), true, subscription_pop_case<T, Sync>(*this)};
  }

  // ---- pop family: stream<T>'s (ST-4, ST-5, ST-7, G-7, same names, forms and results), on this subscriber's
  // buffer. nullopt / closed: unsubscribed or topic closed, and the buffer drained. A pop that throws lost
  // its value (T's move; see Exceptions): that value is counted as lag before the exception leaves.
  std::optional<T> pop() {
    return counted([&] { return buffer().pop(); });
  }
  [[nodiscard]] result<T> try_pop() {
    return counted([&] { return buffer().try_pop(); });
  }
  [[nodiscard]] status try_pop(T& out) {
    return counted([&] { return buffer().try_pop(out); });
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> pop_for(std::chrono::duration<Rep, Period> d) {
    return counted([&] { return buffer().pop_for(d); });
  }
  template <class Rep, class Period>
  [[nodiscard]] status pop_for(T& out, std::chrono::duration<Rep, Period> d) {
    return counted([&] { return buffer().pop_for(out, d); });
  }
  template <class Rep, class Period>
  [[nodiscard]] result<T> pop_for(std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return counted([&] { return buffer().pop_for(d, std::move(st)); });
  }
  template <class Rep, class Period>
  [[nodiscard]] status pop_for(T& out, std::chrono::duration<Rep, Period> d, std::stop_token st) {
    return counted([&] { return buffer().pop_for(out, d, std::move(st)); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> pop_until(std::chrono::time_point<Clock, Duration> t) {
    return counted([&] { return buffer().pop_until(t); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] status pop_until(T& out, std::chrono::time_point<Clock, Duration> t) {
    return counted([&] { return buffer().pop_until(out, t); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] result<T> pop_until(std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return counted([&] { return buffer().pop_until(t, std::move(st)); });
  }
  template <class Clock, class Duration>
  [[nodiscard]] status pop_until(T& out, std::chrono::time_point<Clock, Duration> t, std::stop_token st) {
    return counted([&] { return buffer().pop_until(out, t, std::move(st)); });
  }
  [[nodiscard]] result<T> pop(std::stop_token st) {
    return counted([&] { return buffer().pop(std::move(st)); });
  }
  [[nodiscard]] status pop(T& out, std::stop_token st) {
    return counted([&] { return buffer().pop(out, std::move(st)); });
  }

  // Batch pops (stream<T>'s): up to `max` values, oldest first, written to `out`; try_pop_some never waits,
  // pop_some waits for the first. They return how many were written.
  template <class OutputIt>
  requires std::output_iterator<OutputIt, T>
  [[nodiscard]] std::size_t try_pop_some(OutputIt out, std::size_t max) {
    return counted([&] { return buffer().try_pop_some(std::move(out), max); });
  }
  template <class OutputIt>
  requires std::output_iterator<OutputIt, T> std::size_t pop_some(OutputIt out, std::size_t max) {
    return counted([&] { return buffer().pop_some(std::move(out), max); });
  }
  // ok with the count, or closed, timeout, cancelled (stream<T>'s timed and cancellable batch pops).
  template <class OutputIt, class Rep, class Period>
  requires std::output_iterator<OutputIt, T>
  [[nodiscard]] result<std::size_t> pop_some_for(OutputIt out, std::size_t max,
                                                 std::chrono::duration<Rep, Period> d,
                                                 std::stop_token st = {}) {
    return counted([&] { return buffer().pop_some_for(std::move(out), max, d, std::move(st)); });
  }
  template <class OutputIt, class Clock, class Duration>
  requires std::output_iterator<OutputIt, T>
  [[nodiscard]] result<std::size_t> pop_some_until(OutputIt out, std::size_t max,
                                                   std::chrono::time_point<Clock, Duration> t,
                                                   std::stop_token st = {}) {
    return counted([&] { return buffer().pop_some_until(std::move(out), max, t, std::move(st)); });
  }
  template <class OutputIt>
  requires std::output_iterator<OutputIt, T>
  [[nodiscard]] result<std::size_t> pop_some(OutputIt out, std::size_t max, std::stop_token st) {
    return counted([&] { return buffer().pop_some(std::move(out), max, std::move(st)); });
  }

  // Wait until this subscriber's buffer is closed (unsubscribed, or the topic closed), without consuming;
  // is_closed() is the try_ form. The timed and cancellable forms return ok (closed), timeout or cancelled.
  void wait_closed() { buffer().wait_closed(); }
  template <class Rep, class Period>
  [[nodiscard]] status wait_closed_for(std::chrono::duration<Rep, Period> d, std::stop_token st = {}) {
    return buffer().wait_closed_for(d, std::move(st));
  }
  template <class Clock, class Duration>
  [[nodiscard]] status wait_closed_until(std::chrono::time_point<Clock, Duration> t,
                                         std::stop_token st = {}) {
    return buffer().wait_closed_until(t, std::move(st));
  }
  [[nodiscard]] status wait_closed(std::stop_token st) { return buffer().wait_closed(std::move(st)); }

  // `for (T v : sub)` pops until end-of-stream, lazily, as stream<T>'s iteration (detail/pop_iterator.hpp):
  // a loop consumes exactly the values its body receives (a `break`, `sub.values() | std::views::take(n)`).
  // values() is the same range; values(stop) also ends once stop is requested. The iterators pop through
  // this subscription (so a throwing pop is counted as lag): it must outlive them and not be moved meanwhile.
  // Known limit: a subscription itself models std::ranges::sized_range (it has size(), a snapshot, and a
  // nested class cannot opt out with disable_sized_range), so `sub | std::views::take(n)` stops after
  // min(n, values buffered when the view began); pipe `sub.values()`, which is not sized, instead.
  using iterator = detail::pop_iterator<subscription>;
  iterator begin() noexcept { return iterator(*this); }
  std::default_sentinel_t end() const noexcept { return {}; }
  detail::pop_view<subscription> values() noexcept { return detail::pop_view<subscription>(*this); }
  detail::pop_view<subscription, true> values(std::stop_token st) noexcept {
    return detail::pop_view<subscription, true>(*this, std::move(st));
  }

  // ---- lag (see the header comment): values published to this subscriber that it will never receive.
  // Both first wait for a drop_oldest drop in flight on this buffer to end (invariant 6), so that a value
  // this subscriber can no longer pop is counted.
  std::uint64_t take_lag() noexcept {
    check();
    await_drop();
    // acquire: pairs with the release in add_lag(); every drop counted here happens-before our next pop.
    return state_->lag.exchange(0, std::memory_order_acquire);
  }
  std::uint64_t lagged() const noexcept {
    check();
    await_drop();
    return state_->lag.load(std::memory_order_relaxed);  // relaxed: a snapshot (await_drop acquired the drop)
  }

  // Leave the topic now (idempotent; the destructor does it): no value published after this call begins is
  // delivered, a publisher waiting on this buffer moves on, and pops drain what is buffered, then report
  // end-of-stream.
  void unsubscribe() noexcept {
    if (!core_) return;
    std::shared_ptr<shared_core> core = std::move(core_);
    state_->buffer.close();  // first: a publisher waiting on the full buffer wakes with closed (invariant 3)
    std::shared_ptr<const subscriber_list> old;
    try {
      detail::slow_guard<Sync> guard(core->list_lock);
      if (core->subscribers) {
        old = std::exchange(core->subscribers, copy_open(core->subscribers.get(), 0));
        core->version.fetch_add(1, std::memory_order_relaxed);  // relaxed: as in subscribe()
      }
    } catch (...) {  // only std::bad_alloc: copy_open allocates
      // The entry stays, closed: publishers skip it and the next list change prunes it.
    }
  }
  bool is_subscribed() const noexcept { return core_ != nullptr; }

  // Snapshots of this subscriber's buffer.
  bool is_closed() const noexcept { return check(), state_->buffer.is_closed(); }
  std::size_t size() const noexcept { return check(), state_->buffer.size(); }
  std::size_t capacity() const noexcept { return check(), state_->buffer.capacity(); }
  waiting_counts waiting() const { return check(), state_->buffer.waiting(); }  // waiting publishers/poppers
  // OB-2: the buffer's counts (handoff/stats.hpp): pop is this subscriber's pops, push the publishers that
  // waited for room in this buffer.
  stream_stats stats() const { return check(), state_->buffer.stats(); }

 private:
  friend class topic;
  friend struct detail::select_access;  // handoff/select.hpp: a select's pop case on this subscription
  friend struct detail::async_access;   // handoff/detail/async_access.hpp: its coroutine try step
  subscription(std::shared_ptr<shared_core> core, std::shared_ptr<subscriber_state> state) noexcept
      : core_(state->buffer.is_closed() ? nullptr : std::move(core)), state_(std::move(state)) {}

  void check() const noexcept {
    HANDOFF_PRECONDITION(state_ != nullptr, "topic subscription used after move (G-9)");
  }

  // Invariant 6: returns once the drop that was in flight at the call, if any, has ended. Drops that start
  // later are not waited for (a reader is never held by a run of them). Spin, then park on `drops`: the
  // publisher's ending exchange reads kLagReaderAsleep, set here by compare-exchange while that drop is
  // still in flight, so one of the two sees the other (detail/waiter.hpp, point 2); park returns at once
  // if the word moved in between, and a spurious return re-checks.
  void await_drop() const noexcept {
    auto& word = state_->drops;
    // acquire: pairs with the release exchange in end_drop (or an RMW of its release sequence): a drop seen
    // ended has its count visible. park_until_ready (detail/spin_wait.hpp) reads with acquire too.
    const std::uint32_t in_flight = word.load(std::memory_order_acquire) & ~kLagReaderAsleep;
    if (!(in_flight & kDropInFlight)) return;
    detail::park_until_ready<Sync>(word, kLagReaderAsleep,
                                   [in_flight](std::uint32_t w) { return w != in_flight; });
  }
  buffer_type& buffer() {
    check();
    return state_->buffer;
  }

  // Runs one pop of the buffer. A stream pop throws only when a move of its value, after the value left the
  // stream, threw (stream.hpp, Exceptions): that value is destroyed, so it is counted as lag (G-8, ST-8:
  // popped
  // + lagged + left == published stays true). release in add_lag: as for a drop.
  template <class F>
  decltype(auto) counted(F&& pop_once) {
    try {
      return std::forward<F>(pop_once)();
    } catch (...) {
      add_lag(*state_);
      throw;
    }
  }

  std::shared_ptr<shared_core> core_;  // nullptr once unsubscribed (or moved from)
  std::shared_ptr<subscriber_state> state_;
};

}  // namespace handoff
