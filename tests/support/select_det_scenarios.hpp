// Select scenarios for the deterministic scheduler (tests/support/det_sync.hpp), written once over a select
// policy `Sel` so that the library's select (select_det_test.cpp) and the planted-bug selects of the test
// tree (select_det_planted_test.cpp) run the same bodies. Each function is the body of one det run: it
// creates its channels and det threads and checks, with DET_CHECK:
//   - conservation (G-2, SE-1): values are producer << 32 | sequence number; a ledger records every value
//     created, every send that returned ok (its item moved from) or not (its item kept), and every receipt;
//     each sent value is received exactly once, a kept value never, and nothing received was never created;
//   - exactly one case (SE-1): the case index() names is the only one whose value changed, and its status;
//   - the rule of each scenario (its comment names it), and nobody left waiting (G-1: DEADLOCK otherwise).
//
// A policy Sel has the forms the scenarios use, with lvalue cases:
//   static selected select(cases&...), select(std::stop_token, cases&...),
//          select_for(std::chrono::hours, cases&...), select_for(std::chrono::hours, std::stop_token,
//          cases&...)
// Channels use det_select_sync: det_sync plus select_random() from the run's PRNG, so that the unbiased
// select's starting case replays with the seed.
#pragma once

#include <handoff/select.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "det_sync.hpp"

namespace handoff_test::select_det {

// How many times a select started its try phase (select_start calls select_random once per round when it
// has two cases or more): more rounds than selects means a registration was aborted and restarted (a case
// became ready while the select registered). Only the baton holder touches it (det_sync runs one thread at
// a time, and the baton hand-over orders the accesses).
inline std::uint64_t select_rounds = 0;

struct det_select_sync : det_sync {
  static std::uint64_t select_random() {
    ++select_rounds;
    return det_random();
  }
};

using sync = det_select_sync;
template <class T>
using stream = handoff::stream<T, sync>;
template <class T>
using mvar = handoff::mvar<T, sync>;
template <class T>
using condition = handoff::condition<T, sync>;
using handoff::selected;
using handoff::status;

// A value that is observably "still with its sender": a push or put moves from it only when it returns ok.
using item = std::unique_ptr<std::uint64_t>;
inline constexpr std::size_t none = selected::none;
// Far deadlines: under det_sync only the scheduler decides when they pass (virtual time).
inline constexpr std::chrono::hours far{1};

constexpr std::uint64_t tag(std::uint32_t producer, std::uint32_t seq) {
  return (std::uint64_t{producer} << 32) | seq;
}
inline std::uint64_t value_of(const item& i) {
  return i ? *i : ~std::uint64_t{0};
}
inline std::string describe(const selected& r) {
  return "select returned index " + (r.index() == none ? std::string("none") : std::to_string(r.index())) +
         ", status " + handoff::to_string(r.status());
}

// Conservation bookkeeping for one run (reliability principle 4: per-producer sequence numbers and receipts;
// a sum alone hides a loss offset by a duplicate).
class ledger {
 public:
  item make(std::uint32_t producer, std::uint32_t seq) {
    const std::uint64_t v = tag(producer, seq);
    created_.push_back(v);
    return std::make_unique<std::uint64_t>(v);
  }
  // A send of value v finished with `ok`; `left` is the sender's item afterwards: moved from exactly when ok.
  void sent(std::uint64_t v, const item& left, bool ok) {
    DET_CHECK_MSG(
        ok == (left == nullptr),
        "send of " + std::to_string(v) + (ok ? " succeeded but kept its item" : " failed but lost its item"));
    (ok ? sent_ : kept_).push_back(v);
  }
  void received(const item& v) {
    DET_CHECK_MSG(v != nullptr, "received an empty item");
    if (v) received_.push_back(*v);
  }
  void received(const std::optional<item>& v) {
    if (v) received(*v);
  }
  const std::vector<std::uint64_t>& receipts() const noexcept { return received_; }
  std::uint64_t sent_sum() const {
    std::uint64_t s = 0;
    for (auto v : sent_) s += v * 0x9e3779b97f4a7c15ULL;
    return s;
  }
  std::uint64_t received_sum() const {
    std::uint64_t s = 0;
    for (auto v : received_) s += v * 0x9e3779b97f4a7c15ULL;
    return s;
  }

  void check() const {
    std::map<std::uint64_t, int> count;
    for (auto v : received_) ++count[v];
    std::map<std::uint64_t, int> made;
    for (auto v : created_) ++made[v];
    for (const auto& [v, n] : count) {
      DET_CHECK_MSG(made.count(v) != 0, "received value " + show(v) + " that nobody created (invented)");
      DET_CHECK_MSG(n == 1, "value " + show(v) + " received " + std::to_string(n) + " times (duplicated)");
    }
    for (auto v : sent_) {
      const auto it = count.find(v);
      DET_CHECK_MSG(it != count.end(), "value " + show(v) + " was sent (ok) and never received (lost)");
    }
    for (auto v : kept_) {
      DET_CHECK_MSG(count.count(v) == 0,
                    "value " + show(v) + " stayed with its sender and was also received");
    }
    DET_CHECK_MSG(sent_.size() + kept_.size() == created_.size(),
                  "scenario bookkeeping: a send not recorded");
    DET_CHECK_MSG(sent_sum() == received_sum(), "checksum of sent values != checksum of received values");
  }

  static std::string show(std::uint64_t v) {
    return std::to_string(v >> 32) + ":" + std::to_string(v & 0xffffffffu);
  }

 private:
  std::vector<std::uint64_t> created_, sent_, kept_, received_;
};

// How often each outcome came back over a sweep: a race that never produced one of them exercised nothing.
struct outcome_tally {
  std::uint64_t ok = 0, closed = 0, timeout = 0, cancelled = 0, runs = 0;
  std::uint64_t restarts = 0;   // runs in which a select's registration was aborted and started again
  std::uint64_t signalled = 0;  // runs in which a signal reached someone
  std::uint64_t wins[4] = {0, 0, 0, 0};  // runs won by case 0, 1, 2, 3 (coverage of every case kind)
  void add(status s) {
    ++runs;
    if (s == status::ok) ++ok;
    if (s == status::closed) ++closed;
    if (s == status::timeout) ++timeout;
    if (s == status::cancelled) ++cancelled;
  }
};

// The library's select (the public forms).
struct library_select {
  template <class... C>
  static selected select(C&... cs) {
    return handoff::select(cs...);
  }
  template <class... C>
  static selected select(std::stop_token st, C&... cs) {
    return handoff::select(std::move(st), cs...);
  }
  template <class... C>
  static selected select_for(std::chrono::hours d, C&... cs) {
    return handoff::select_for(d, cs...);
  }
  template <class... C>
  static selected select_for(std::chrono::hours d, std::stop_token st, C&... cs) {
    return handoff::select_for(d, std::move(st), cs...);
  }
};

// ---- (a) SE-1, G-2: two pushes race for one selector popping both streams. Exactly one value goes to the
// selector; the other stays in its stream (buffered) or with its pusher (rendezvous), and a plain pop gets
// it.
template <class Sel>
void two_pushes_race_for_one_selector(std::size_t cap_a, std::size_t cap_b) {
  stream<item> a{cap_a}, b{cap_b};
  ledger l;
  item va = l.make(1, 0), vb = l.make(2, 0);
  bool a_ok = false, b_ok = false;
  det_thread pa([&] { a_ok = a.push(std::move(va)); }, "pusher A");
  det_thread pb([&] { b_ok = b.push(std::move(vb)); }, "pusher B");
  auto ca = handoff::on_pop(a);
  auto cb = handoff::on_pop(b);
  const selected r = Sel::select(ca, cb);
  DET_CHECK_MSG(r && r.index() < 2, describe(r));
  DET_CHECK_MSG(ca.value.has_value() == (r.index() == 0), describe(r) + ": case 0's value does not match");
  DET_CHECK_MSG(cb.value.has_value() == (r.index() == 1), describe(r) + ": case 1's value does not match");
  DET_CHECK(!ca.value || value_of(*ca.value) == tag(1, 0));
  DET_CHECK(!cb.value || value_of(*cb.value) == tag(2, 0));
  l.received(ca.value);
  l.received(cb.value);
  auto rest = (r.index() == 0 ? b : a).pop();  // the loser's value was not consumed
  DET_CHECK_MSG(rest.has_value(), "the losing stream's value is gone");
  l.received(rest);
  pa.join();
  pb.join();
  l.sent(tag(1, 0), va, a_ok);
  l.sent(tag(2, 0), vb, b_ok);
  DET_CHECK(a.size() == 0 && b.size() == 0);
  DET_CHECK(a.waiting().poppers == 0 && b.waiting().poppers == 0);
  l.check();
}

// ---- (b) SE-1, G-3: a stale link on the losing channel. The selector pops A (rendezvous) or B; the push on
// A returns only once the selector has its value, so the selector won A, and its link on B is stale from then
// until it unregisters. The push on B that follows must reach the plain popper of B (directly or through the
// buffer), never the stale link: a value given to it would be lost and the plain popper would wait forever.
template <class Sel>
void stale_link_on_the_losing_channel(std::size_t cap_b) {
  stream<item> a{0}, b{cap_b};
  ledger l;
  item va = l.make(1, 0), vb = l.make(1, 1);
  selected r{none, status::empty};
  auto ca = handoff::on_pop(a);
  auto cb = handoff::on_pop(b);
  std::optional<item> plain;
  det_thread s([&] { r = Sel::select(ca, cb); }, "selector");
  det_thread p([&] { plain = b.pop(); }, "plain popper of B");
  const bool a_ok = a.push(std::move(va));  // rendezvous: returns once the selector holds the value
  const bool b_ok = b.push(std::move(vb));
  s.join();
  p.join();
  DET_CHECK_MSG(r.index() == 0 && r.status() == status::ok, describe(r));
  DET_CHECK(ca.value && value_of(*ca.value) == tag(1, 0));
  DET_CHECK_MSG(!cb.value, "the selector received on both cases");
  DET_CHECK_MSG(plain && value_of(*plain) == tag(1, 1), "B's value did not reach the plain popper");
  l.received(ca.value);
  l.received(cb.value);
  l.received(plain);
  l.sent(tag(1, 0), va, a_ok);
  l.sent(tag(1, 1), vb, b_ok);
  DET_CHECK(b.waiting().poppers == 0 && a.waiting().poppers == 0);
  l.check();
}

// ---- (c), (d) SE-3, G-2, G-7: a select that may give up (deadline in virtual time, a stop requested from
// another thread, or both) racing a push. Either the select got the value (ok, case 0) or it gave up and the
// value is still in the stream or with its pusher; never both, never neither. cancelled only after the stop
// was requested.
enum class give_up { timeout, stop, both };

template <class Sel, class... C>
selected select_giving_up(give_up how, std::stop_source& stop, C&... cs) {
  switch (how) {
    case give_up::timeout:
      return Sel::select_for(far, cs...);
    case give_up::stop:
      return Sel::select(stop.get_token(), cs...);
    case give_up::both:
      break;
  }
  return Sel::select_for(far, stop.get_token(), cs...);
}

inline void check_gave_up_truthfully(const selected& r, give_up how, const std::stop_source& stop) {
  const bool won = r.index() == 0 && r.status() == status::ok;
  const bool timed_out = r.index() == none && r.status() == status::timeout && how != give_up::stop;
  const bool cancelled = r.index() == none && r.status() == status::cancelled && how != give_up::timeout;
  DET_CHECK_MSG(won || timed_out || cancelled, describe(r));
  DET_CHECK_MSG(!cancelled || stop.stop_requested(), "cancelled before the stop was requested");
}

template <class Sel>
void give_up_races_a_push(std::size_t cap, give_up how, outcome_tally& seen) {
  stream<item> a{cap}, idle{cap};
  ledger l;
  item v = l.make(1, 0);
  bool ok = false;
  det_thread pusher(
      [&] {
        if (cap == 0)
          ok = a.push_for(std::move(v), far) == status::ok;  // rendezvous: may give up too (virtual time)
        else
          ok = a.push(std::move(v));
      },
      "pusher");
  std::stop_source stop;
  det_thread stopper;
  if (how != give_up::timeout) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
  auto ca = handoff::on_pop(a);
  auto ci = handoff::on_pop(idle);
  const selected r = select_giving_up<Sel>(how, stop, ca, ci);
  check_gave_up_truthfully(r, how, stop);
  DET_CHECK_MSG(ca.value.has_value() == (r.index() == 0),
                describe(r) + ": the pop case's value does not match");
  DET_CHECK(!ci.value);
  l.received(ca.value);
  pusher.join();
  stopper.join();
  while (auto x = a.try_pop()) l.received(*x);  // a value the select did not take is still in the stream
  l.sent(tag(1, 0), v, ok);
  DET_CHECK(a.waiting().poppers == 0 && idle.waiting().poppers == 0);
  l.check();
  seen.add(r.status());
}

// The push-case mirror: a select pushing into a full stream (rendezvous: any stream) gives up or races a pop.
// A push case that gave up keeps the caller's value (SE-1); one that won was received exactly once.
template <class Sel>
void give_up_races_a_pop(std::size_t cap, give_up how, outcome_tally& seen) {
  stream<item> a{cap}, idle{cap};
  ledger l;
  for (std::uint32_t i = 0; i < cap; ++i) {  // full
    item p = l.make(2, i);
    const bool ok = a.try_push(std::move(p)) == status::ok;
    l.sent(tag(2, i), p, ok);
  }
  item v = l.make(1, 0);
  std::optional<item> got;
  det_thread popper(
      [&] {
        auto x = a.pop_for(far);  // may give up too (virtual time)
        if (x) got = std::move(*x);
      },
      "popper");
  std::stop_source stop;
  det_thread stopper;
  if (how != give_up::timeout) stopper = det_thread([&] { det_request_stop(stop); }, "stopper");
  auto cp = handoff::on_push(a, v);
  auto ci = handoff::on_pop(idle);
  const selected r = select_giving_up<Sel>(how, stop, cp, ci);
  check_gave_up_truthfully(r, how, stop);
  DET_CHECK(!ci.value);
  popper.join();
  stopper.join();
  l.received(got);
  while (auto x = a.try_pop()) l.received(*x);
  l.sent(tag(1, 0), v, r.index() == 0);
  DET_CHECK(a.waiting().pushers == 0 && a.waiting().poppers == 0);
  l.check();
  seen.add(r.status());
}

// ---- (e) SE-1, G-1: values arriving while the select registers. Three pop cases (A buffered, B a
// rendezvous nobody pushes to, C buffered); A's and C's pushes race the try phase and the registration, one
// channel at a time: a value that arrives at a channel not yet registered makes its registration step fail
// (the select leaves and starts again); one that arrives at a registered link claims the core. Exactly one
// value goes to the selector, the other stays in its stream. `seen.restarts` counts the runs in which a
// registration was aborted.
template <class Sel>
void values_arrive_during_registration(outcome_tally& seen) {
  stream<item> a{1}, b{0}, c{1};
  ledger l;
  item va = l.make(1, 0), vc = l.make(3, 0);
  bool a_ok = false, c_ok = false;
  det_thread pa([&] { a_ok = a.push(std::move(va)); }, "pusher A");
  det_thread pc([&] { c_ok = c.push(std::move(vc)); }, "pusher C");
  auto ca = handoff::on_pop(a);
  auto cb = handoff::on_pop(b);
  auto cc = handoff::on_pop(c);
  const std::uint64_t rounds = select_rounds;
  const selected r = Sel::select(ca, cb, cc);
  if (select_rounds - rounds > 1) ++seen.restarts;
  DET_CHECK_MSG(r && (r.index() == 0 || r.index() == 2), describe(r));
  DET_CHECK_MSG(ca.value.has_value() == (r.index() == 0), describe(r) + ": case 0's value does not match");
  DET_CHECK(!cb.value);
  DET_CHECK_MSG(cc.value.has_value() == (r.index() == 2), describe(r) + ": case 2's value does not match");
  l.received(ca.value);
  l.received(cc.value);
  auto rest = (r.index() == 0 ? c : a).pop();
  DET_CHECK_MSG(rest.has_value(), "the losing stream's value is gone");
  l.received(rest);
  pa.join();
  pc.join();
  l.sent(tag(1, 0), va, a_ok);
  l.sent(tag(3, 0), vc, c_ok);
  DET_CHECK(a.waiting().poppers == 0 && b.waiting().poppers == 0 && c.waiting().poppers == 0);
  l.check();
  seen.add(r.status());
}

// The one-value form: the only value arrives at the last case while the select tries and registers. Wherever
// it lands (try phase, before the last registration step, after it), the select must return it; a select
// that registered past a ready channel would wait forever (DEADLOCK).
template <class Sel>
void value_arrives_at_the_last_case(outcome_tally& seen) {
  stream<item> a{1}, b{1};
  ledger l;
  item vb = l.make(2, 0);
  bool b_ok = false;
  det_thread pb([&] { b_ok = b.push(std::move(vb)); }, "pusher B");
  auto ca = handoff::on_pop(a);
  auto cb = handoff::on_pop(b);
  const std::uint64_t rounds = select_rounds;
  const selected r = Sel::select(ca, cb);
  if (select_rounds - rounds > 1) ++seen.restarts;
  DET_CHECK_MSG(r && r.index() == 1, describe(r));
  DET_CHECK(!ca.value);
  l.received(cb.value);
  pb.join();
  l.sent(tag(2, 0), vb, b_ok);
  DET_CHECK(a.waiting().poppers == 0 && b.waiting().poppers == 0);
  l.check();
  seen.add(r.status());
}

// ---- (f) SE-6, ST-5: close during a select. A pop case reports closed only once its stream is drained: the
// selector pops with a fresh select each time while the pusher pushes two values and closes; it must receive
// both, in order, before a select reports (case 0, closed).
template <class Sel>
void close_during_select_pop_drains_first(std::size_t cap) {
  stream<item> a{cap}, b{cap};
  ledger l;
  item x0 = l.make(1, 0), x1 = l.make(1, 1);
  bool ok0 = false, ok1 = false;
  det_thread closer(
      [&] {
        ok0 = a.push(std::move(x0));
        ok1 = a.push(std::move(x1));
        a.close();
      },
      "pusher + closer");
  bool closed_seen = false;
  for (int round = 0; round < 4 && !closed_seen; ++round) {
    auto ca = handoff::on_pop(a);
    auto cb = handoff::on_pop(b);
    const selected r = Sel::select(ca, cb);
    DET_CHECK_MSG(r.index() == 0 && (r.status() == status::ok || r.status() == status::closed), describe(r));
    DET_CHECK(ca.value.has_value() == (r.status() == status::ok && r.index() == 0));
    DET_CHECK(!cb.value);
    l.received(ca.value);
    closed_seen = r.index() == 0 && r.status() == status::closed;
  }
  DET_CHECK_MSG(closed_seen, "no select reported the close");
  closer.join();
  l.sent(tag(1, 0), x0, ok0);
  l.sent(tag(1, 1), x1, ok1);
  const std::vector<std::uint64_t> want{tag(1, 0), tag(1, 1)};
  DET_CHECK_MSG(l.receipts() == want, "closed reported before the stream was drained, or out of order");
  DET_CHECK(!a.pop().has_value());
  DET_CHECK(b.waiting().poppers == 0);
  l.check();
}

// A push case on a full stream (rendezvous: any) while a closer closes it and a popper drains it: the case
// completes ok (the value went in, and the popper receives it last, after the earlier values) or closed (the
// caller keeps its value).
template <class Sel>
void close_during_select_push_keeps_value(std::size_t cap, outcome_tally& seen) {
  stream<item> a{cap}, idle{1};
  ledger l;
  for (std::uint32_t i = 0; i < cap; ++i) {
    item p = l.make(2, i);
    const bool ok = a.try_push(std::move(p)) == status::ok;
    l.sent(tag(2, i), p, ok);
  }
  std::vector<std::uint64_t> popped;
  det_thread popper(
      [&] {
        while (auto x = a.pop()) {
          popped.push_back(value_of(*x));
          l.received(*x);
        }
      },
      "popper");
  det_thread closer([&] { a.close(); }, "closer");
  item v = l.make(1, 0);
  auto cp = handoff::on_push(a, v);
  auto ci = handoff::on_pop(idle);
  const selected r = Sel::select(cp, ci);
  DET_CHECK_MSG(r.index() == 0 && (r.status() == status::ok || r.status() == status::closed), describe(r));
  DET_CHECK(!ci.value);
  closer.join();
  popper.join();
  l.sent(tag(1, 0), v, r.status() == status::ok);
  std::vector<std::uint64_t> want;
  for (std::uint32_t i = 0; i < cap; ++i) want.push_back(tag(2, i));
  if (r.status() == status::ok) want.push_back(tag(1, 0));
  DET_CHECK_MSG(popped == want, "the popper did not drain the stream in order");
  l.check();
  seen.add(r.status());
}

// ---- (g) G-3, ST-4, MV-3, SE-2: FIFO with a plain waiter ahead. A plain waiter registered before the
// selector's link on the same channel is served first; the next value goes to the selector.
template <class Sel>
void plain_popper_ahead_is_served_first(std::size_t cap) {
  stream<item> a{cap}, b{cap};
  ledger l;
  std::optional<item> plain;
  det_thread p([&] { plain = a.pop(); }, "plain popper");
  while (a.waiting().poppers < 1) det_yield();
  auto ca = handoff::on_pop(a);
  auto cb = handoff::on_pop(b);
  selected r{none, status::empty};
  det_thread s([&] { r = Sel::select(ca, cb); }, "selector");
  while (a.waiting().poppers < 2) det_yield();  // the selector's link is behind the plain popper
  item v0 = l.make(1, 0), v1 = l.make(1, 1);
  const bool ok0 = a.push(std::move(v0));
  const bool ok1 = a.push(std::move(v1));
  p.join();
  s.join();
  l.sent(tag(1, 0), v0, ok0);
  l.sent(tag(1, 1), v1, ok1);
  DET_CHECK_MSG(plain && value_of(*plain) == tag(1, 0),
                "the plain popper registered first was not served first");
  DET_CHECK_MSG(r.index() == 0 && r.status() == status::ok, describe(r));
  DET_CHECK(ca.value && value_of(*ca.value) == tag(1, 1));
  DET_CHECK(!cb.value);
  l.received(plain);
  l.received(ca.value);
  DET_CHECK(b.waiting().poppers == 0);
  l.check();
}

// The push side: a plain pusher blocked on a full stream ahead of a select's push case; pops take the
// prefill, then the plain pusher's value, then the selector's.
template <class Sel>
void plain_pusher_ahead_is_served_first(std::size_t cap) {
  stream<item> a{cap}, idle{1};
  ledger l;
  for (std::uint32_t i = 0; i < cap; ++i) {
    item x = l.make(3, i);
    const bool ok = a.try_push(std::move(x)) == status::ok;
    l.sent(tag(3, i), x, ok);
  }
  item vp = l.make(1, 0), vs = l.make(2, 0);
  bool p_ok = false;
  det_thread p([&] { p_ok = a.push(std::move(vp)); }, "plain pusher");
  while (a.waiting().pushers < 1) det_yield();
  auto cp = handoff::on_push(a, vs);
  auto ci = handoff::on_pop(idle);
  selected r{none, status::empty};
  det_thread s([&] { r = Sel::select(cp, ci); }, "selector");
  while (a.waiting().pushers < 2) det_yield();
  std::vector<std::uint64_t> popped;
  for (std::size_t k = 0; k < cap + 2; ++k) {
    auto x = a.pop();
    DET_CHECK(x.has_value());
    if (!x) break;
    popped.push_back(value_of(*x));
    l.received(*x);
  }
  p.join();
  s.join();
  l.sent(tag(1, 0), vp, p_ok);
  l.sent(tag(2, 0), vs, r.index() == 0 && r.status() == status::ok);
  DET_CHECK_MSG(r.index() == 0 && r.status() == status::ok, describe(r));
  std::vector<std::uint64_t> want;
  for (std::uint32_t i = 0; i < cap; ++i) want.push_back(tag(3, i));
  want.push_back(tag(1, 0));
  want.push_back(tag(2, 0));
  DET_CHECK_MSG(popped == want, "the pushers were not served in registration order");
  l.check();
}

// The mvar side: a plain taker ahead of a select's take case.
template <class Sel>
void plain_taker_ahead_is_served_first() {
  mvar<item> m;
  stream<item> b{1};
  ledger l;
  std::optional<item> plain;
  det_thread p([&] { plain = m.take(); }, "plain taker");
  while (m.waiting().takers < 1) det_yield();
  auto cm = handoff::on_take(m);
  auto cb = handoff::on_pop(b);
  selected r{none, status::empty};
  det_thread s([&] { r = Sel::select(cm, cb); }, "selector");
  while (m.waiting().takers < 2) det_yield();
  item v0 = l.make(1, 0), v1 = l.make(1, 1);
  m.put(std::move(v0));
  m.put(std::move(v1));
  p.join();
  s.join();
  l.sent(tag(1, 0), v0, true);
  l.sent(tag(1, 1), v1, true);
  DET_CHECK_MSG(plain && value_of(*plain) == tag(1, 0),
                "the plain taker registered first was not served first");
  DET_CHECK_MSG(r.index() == 0 && r.status() == status::ok, describe(r));
  DET_CHECK(cm.value && value_of(*cm.value) == tag(1, 1));
  DET_CHECK(!cb.value);
  l.received(plain);
  l.received(cm.value);
  l.check();
}

// ---- (h) SE-5: rendezvous self-match. select {push s, pop s} on a rendezvous stream never matches its own
// push with its own pop: alone, it can only time out (virtual time), keeping its value.
template <class Sel>
void self_match_alone_times_out() {
  stream<item> s{0};
  ledger l;
  item v = l.make(1, 0);
  auto cp = handoff::on_push(s, v);
  auto cq = handoff::on_pop(s);
  const selected r = Sel::select_for(far, cp, cq);
  DET_CHECK_MSG(r.index() == none && r.status() == status::timeout, describe(r) + ": the select met itself");
  DET_CHECK(!cq.value);
  l.received(cq.value);
  l.sent(tag(1, 0), v, false);
  DET_CHECK(s.waiting().poppers == 0 && s.waiting().pushers == 0);
  l.check();
}

// With a partner thread that pops or pushes (chosen by the seed), both outcomes are correct: the select's
// push meets the partner's pop, or its pop meets the partner's push.
template <class Sel>
void self_match_with_a_partner(outcome_tally& seen) {
  stream<item> s{0};
  ledger l;
  item v = l.make(1, 0), w = l.make(2, 0);
  const bool partner_pops = det_random() % 2 == 0;
  std::optional<item> partner_got;
  bool w_ok = false;
  det_thread partner(
      [&] {
        if (partner_pops)
          partner_got = s.pop();
        else
          w_ok = s.push(std::move(w));
      },
      partner_pops ? "partner popping" : "partner pushing");
  auto cp = handoff::on_push(s, v);
  auto cq = handoff::on_pop(s);
  const selected r = Sel::select(cp, cq);
  partner.join();
  DET_CHECK_MSG(r && r.index() == (partner_pops ? 0u : 1u), describe(r));
  DET_CHECK(cq.value.has_value() == (r.index() == 1));
  l.received(cq.value);
  l.received(partner_got);
  l.sent(tag(1, 0), v, r.index() == 0);
  l.sent(tag(2, 0), w, w_ok);
  DET_CHECK(partner_pops || w_ok);
  DET_CHECK(s.waiting().poppers == 0 && s.waiting().pushers == 0);
  l.check();
  seen.add(r.status());
}

// Two selectors, each select {push s, pop s}: they must meet each other, one pushing and one popping.
template <class Sel>
void self_match_two_selectors() {
  stream<item> s{0};
  ledger l;
  item v1 = l.make(1, 0), v2 = l.make(2, 0);
  auto p1 = handoff::on_push(s, v1);
  auto q1 = handoff::on_pop(s);
  auto p2 = handoff::on_push(s, v2);
  auto q2 = handoff::on_pop(s);
  selected r2{none, status::empty};
  det_thread other([&] { r2 = Sel::select(p2, q2); }, "selector 2");
  const selected r1 = Sel::select(p1, q1);
  other.join();
  DET_CHECK_MSG(r1 && r2 && r1.index() + r2.index() == 1, describe(r1) + " / " + describe(r2));
  DET_CHECK(q1.value.has_value() == (r1.index() == 1));
  DET_CHECK(q2.value.has_value() == (r2.index() == 1));
  l.received(q1.value);
  l.received(q2.value);
  l.sent(tag(1, 0), v1, r1.index() == 0);
  l.sent(tag(2, 0), v2, r2.index() == 0);
  DET_CHECK(s.waiting().poppers == 0 && s.waiting().pushers == 0);
  l.check();
}

// Two selectors crossed over two rendezvous streams: S1 = {push A, pop B}, S2 = {push B, pop A}. They must
// meet exactly once: S1's push reaches S2's pop, or S2's push reaches S1's pop. Their registrations race, so
// each may find the other's (possibly already stale) push link as a partner, abort and start again (SE-1,
// SE-5); a livelock would end in STEP BOUND, a lost meeting in DEADLOCK.
template <class Sel>
void crossed_selectors_meet_once() {
  stream<item> a{0}, b{0};
  ledger l;
  item v1 = l.make(1, 0), v2 = l.make(2, 0);
  auto p1 = handoff::on_push(a, v1);
  auto q1 = handoff::on_pop(b);
  auto p2 = handoff::on_push(b, v2);
  auto q2 = handoff::on_pop(a);
  selected r2{none, status::empty};
  det_thread other([&] { r2 = Sel::select(p2, q2); }, "selector 2");
  const selected r1 = Sel::select(p1, q1);
  other.join();
  DET_CHECK_MSG(r1 && r2 && r1.index() + r2.index() == 1, describe(r1) + " / " + describe(r2));
  DET_CHECK(q1.value.has_value() == (r1.index() == 1));
  DET_CHECK(q2.value.has_value() == (r2.index() == 1));
  l.received(q1.value);
  l.received(q2.value);
  l.sent(tag(1, 0), v1, r1.index() == 0);
  l.sent(tag(2, 0), v2, r2.index() == 0);
  DET_CHECK(a.waiting().poppers == 0 && a.waiting().pushers == 0);
  DET_CHECK(b.waiting().poppers == 0 && b.waiting().pushers == 0);
  l.check();
}

// ---- (i) SE-1, SE-9, CO-3, CO-7, MV-3: a select over an mvar case, a stream pop and a condition wait, while
// a pusher and a signaller race it and a plain waiter waits on the condition too. The mvar case is a take
// racing a putter, or (PutCase) a put into the full box racing a plain taker. signal returns 1 exactly when
// someone (the selector or the plain waiter) got its value; exactly one of the selector's cases won; every
// other value is still in its channel (or, for the put case, with the caller).
template <class Sel, bool PutCase>
void mixed_cases_signal_races_a_push(outcome_tally& seen) {
  mvar<item> m;
  stream<item> a{1};
  condition<std::uint64_t> c;
  ledger l;
  item vm = l.make(1, 0), va = l.make(2, 0);
  bool m_ok = false, a_ok = false;
  std::optional<item> taken;
  if constexpr (PutCase) {  // the box is full: the put case waits for the plain taker
    item full = l.make(4, 0);
    const bool ok = m.try_put(std::move(full)) == status::ok;
    l.sent(tag(4, 0), full, ok);
  }
  std::size_t counted = 0;
  std::optional<std::uint64_t> plain;
  det_thread other_side;
  if constexpr (PutCase)
    other_side = det_thread([&] { taken = m.take(); }, "plain taker");
  else
    other_side = det_thread([&] { m_ok = m.put_for(std::move(vm), far) == status::ok; }, "putter");
  det_thread pusher([&] { a_ok = a.push(std::move(va)); }, "pusher");
  det_thread signaller([&] { counted = c.signal(tag(3, 0)); }, "signaller");
  det_thread waiter(
      [&] {
        auto g = c.wait_for(far);
        if (g) plain = *g;
      },
      "plain waiter");
  auto ca = handoff::on_pop(a);
  auto cc = handoff::on_wait(c);
  selected r{none, status::empty};
  if constexpr (PutCase) {
    auto cm = handoff::on_put(m, vm);
    r = Sel::select(cm, ca, cc);
    m_ok = r.index() == 0 && r.status() == status::ok;
    if (m_ok) ++seen.wins[3];  // the put case (counted apart from the take case)
  } else {
    auto cm = handoff::on_take(m);
    r = Sel::select(cm, ca, cc);
    DET_CHECK(cm.value.has_value() == (r.index() == 0));
    l.received(cm.value);
  }
  DET_CHECK_MSG(r && r.index() < 3, describe(r));
  DET_CHECK(ca.value.has_value() == (r.index() == 1));
  DET_CHECK(cc.value.has_value() == (r.index() == 2));
  DET_CHECK(!cc.value || *cc.value == tag(3, 0));
  DET_CHECK(!plain || *plain == tag(3, 0));
  other_side.join();
  pusher.join();
  signaller.join();
  waiter.join();
  const std::size_t got_signal = (r.index() == 2 ? 1 : 0) + (plain ? 1 : 0);
  DET_CHECK_MSG(counted == got_signal, "signal counted " + std::to_string(counted) + ", " +
                                           std::to_string(got_signal) + " thread(s) got its value");
  l.received(ca.value);
  l.received(taken);
  if (auto x = m.try_take()) l.received(*x);
  while (auto x = a.try_pop()) l.received(*x);
  l.sent(tag(1, 0), vm, m_ok);
  l.sent(tag(2, 0), va, a_ok);
  DET_CHECK(c.waiting() == 0 && m.waiting().takers == 0 && m.waiting().putters == 0 &&
            a.waiting().poppers == 0);
  l.check();
  seen.add(r.status());
  if (counted == 1) ++seen.signalled;
  if (r.index() < 3 && !(PutCase && r.index() == 0)) ++seen.wins[r.index()];
}

// ---- (j) SE-1, SE-4, G-2, G-3 at scale: 8 streams (capacities 0, 1, 2, ...) and 8 pushers, pusher p sending
// `per_pusher` values into stream p; two consumers, each a loop of select over all eight pop cases until a
// case reports closed (main closes every stream once the pushers are done), then main drains the rest. Every
// value is received exactly once (receipts, sequence numbers, checksum), each from the stream of its producer
// (the case index names the producer), and each consumer receives each producer's values in order (FIFO).
inline constexpr std::size_t kMany = 8;

template <class Sel, std::size_t... I>
selected select_over_all(std::array<std::unique_ptr<stream<item>>, kMany>& s,
                         std::array<std::optional<item>, kMany>& out, std::index_sequence<I...>) {
  std::array<handoff::pop_case<item, sync>, kMany> cases{handoff::on_pop(*s[I])...};
  const selected r = Sel::select(cases[I]...);
  for (std::size_t i = 0; i < kMany; ++i) out[i] = std::move(cases[i].value);
  return r;
}

template <class Sel>
void eight_streams_eight_pushers(std::uint32_t per_pusher) {
  std::array<std::unique_ptr<stream<item>>, kMany> s;
  for (std::size_t i = 0; i < kMany; ++i) s[i] = std::make_unique<stream<item>>(i % 3);
  ledger l;
  std::vector<std::vector<item>> values(kMany);
  std::vector<std::vector<bool>> ok(kMany, std::vector<bool>(per_pusher, false));
  for (std::uint32_t p = 0; p < kMany; ++p)
    for (std::uint32_t k = 0; k < per_pusher; ++k) values[p].push_back(l.make(p, k));
  std::vector<det_thread> pushers;
  for (std::uint32_t p = 0; p < kMany; ++p)
    pushers.emplace_back(
        [&, p] {
          for (std::uint32_t k = 0; k < per_pusher; ++k) ok[p][k] = s[p]->push(std::move(values[p][k]));
        },
        "pusher " + std::to_string(p));
  std::vector<std::uint64_t> got[2];
  auto consume = [&](int me) {
    for (;;) {
      std::array<std::optional<item>, kMany> out;
      const selected r = select_over_all<Sel>(s, out, std::make_index_sequence<kMany>{});
      DET_CHECK_MSG(r.index() < kMany && (r.status() == status::ok || r.status() == status::closed),
                    describe(r));
      for (std::size_t i = 0; i < kMany; ++i)
        DET_CHECK_MSG(out[i].has_value() == (i == r.index() && r.status() == status::ok),
                      describe(r) + ": case " + std::to_string(i) + "'s value does not match");
      if (!r) return;
      if (out[r.index()]) {
        DET_CHECK_MSG(
            value_of(*out[r.index()]) >> 32 == r.index(),
            "case " + std::to_string(r.index()) + " delivered " + ledger::show(value_of(*out[r.index()])));
        got[me].push_back(value_of(*out[r.index()]));
      }
      for (auto& o : out) l.received(o);
    }
  };
  det_thread c0([&] { consume(0); }, "consumer 0");
  det_thread c1([&] { consume(1); }, "consumer 1");
  for (auto& t : pushers) t.join();
  for (auto& x : s) x->close();
  c0.join();
  c1.join();
  for (auto& x : s)
    while (auto v = x->try_pop()) l.received(*v);
  for (std::uint32_t p = 0; p < kMany; ++p)
    for (std::uint32_t k = 0; k < per_pusher; ++k) l.sent(tag(p, k), values[p][k], ok[p][k]);
  for (const auto& g : got) {  // FIFO per (consumer, producer)
    std::array<std::int64_t, kMany> last;
    last.fill(-1);
    for (auto v : g) {
      const auto p = static_cast<std::size_t>(v >> 32);
      const auto seq = static_cast<std::int64_t>(v & 0xffffffffu);
      DET_CHECK_MSG(seq > last[p],
                    "a consumer received producer " + std::to_string(p) + "'s values out of order");
      last[p] = seq;
    }
  }
  for (auto& x : s) DET_CHECK(x->waiting().poppers == 0 && x->waiting().pushers == 0);
  l.check();
}

}  // namespace handoff_test::select_det
