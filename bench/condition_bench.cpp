// ---------------------------------------------------------------------------------------------------------------
// bench/condition_bench.cpp: handoff::condition against std::condition_variable(_any).
//
// Workloads:
//   notify_no_waiters/<cv>   one thread, notify_one (or signal(v)) with nobody waiting: the cost G-6 bounds
//                            (handoff: one relaxed load, no lock, no call into the C library). The issue's
//                            target: at least 2x faster than std::condition_variable::notify_one. Each
//                            notify is a real call, through a function pointer the compiler must reload
//                            (volatile) to a function it may not inline. Inlined, handoff's check was one
//                            load and a branch that overlapped the loop's own (0.24 ns, under a cycle):
//                            that timed the loop, not a notify. notify_no_waiters/empty-call is the same
//                            call to a function that does nothing: the floor every row of this kind
//                            includes, to subtract.
//   notify_all_no_waiters/<cv>  the same for notify_all / broadcast.
//   pingpong/<cv>            two threads, a mutex, a turn flag and two condition variables: each side waits
//                            with wait(lock, pred) for its turn, flips it, unlocks and notifies the other
//                            (--round-trips=N per run, default 10000). Two wake-ups per round trip: the wake
//                            latency of one waiter, in the std::condition_variable pattern.
//   pingpong/handoff.condition<T>  the same hand-off the handoff way, no mutex: signal(v) to the partner,
//                            retried while it returns 0 (partner not yet waiting), and wait() returns the
//                            value.
//   broadcast/8/<cv>         one broadcaster, 8 waiters, a mutex and a generation counter: the broadcaster
//                            waits until all 8 arrived, bumps the generation, unlocks and notify_all; each
//                            waiter waits with wait(lock, pred) for the next generation
//                            (--broadcast-rounds=N, default 2000). Every waiter must see every generation, in
//                            order.
//   broadcast/8/handoff.condition<T>  the same protocol with handoff::condition (wait(lock) registers before
//                            it releases the mutex, CO-6): the broadcaster waits on a condition<void> until
//                            all 8 counted themselves in, unlocks, and broadcast(generation) must return 8.
//                            (Before 2026-12-03 the broadcaster polled waiting() with yields, taking the
//                            condition's lock against the registering waiters: not the cv rows' workload.)
//   broadcast/8/handoff.condition<T>(no_mutex)  the same without the mutex, as the atomic row below:
//                            wait(gate) with a BasicLockable that locks nothing and whose unlock(), called
//                            once the waiter is registered, counts it in; the eighth puts the round into an
//                            mvar the broadcaster takes. What the mutex costs the row above.
//   broadcast/8/std::atomic::notify_all  the same with C++20 atomic wait/notify and no mutex: each waiter
//                            counts itself in (the eighth notifies the broadcaster) and waits on the
//                            generation word; the broadcaster waits for the count, bumps the generation and
//                            notify_all. A waiter that counted itself may not be asleep yet when the
//                            generation moves (its wait then returns at once): no mutex orders the two.
// Every row except the spin_limit=0 and wait_yield_always ones (tuning aids) runs unpinned and pinned
// (`<row>/unpinned`, `<row>/pinned`: bench/harness.hpp; pinned puts thread i on CPU i mod cores, so nine
// threads share two cores by a fixed rule). bench/go and bench/crossbeam run the same rows for Go's sync.Cond
// and Rust's std::sync::Condvar (crossbeam has no condition variable). Counters: items_per_second (notifies,
// round trips, or broadcast rounds per second of wall time), cpu_ns_per_msg (process CPU per item, every
// thread counted).
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <handoff/condition.hpp>
#include <handoff/mvar.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "harness.hpp"

namespace {

namespace hb = handoff_bench;

// ---- the condition variables under test, behind one name each

struct std_cv {
  static constexpr const char* name = "std::condition_variable";
  using type = std::condition_variable;
};
struct std_cv_any {
  static constexpr const char* name = "std::condition_variable_any";
  using type = std::condition_variable_any;
};
struct handoff_cv {
  static constexpr const char* name = "handoff.condition<>";
  using type = handoff::condition<>;
};
// The library's Sync policy with no spin phase: a waiter parks at once, as std::condition_variable does. With
// more threads than cores, spinning waiters take CPU from the threads they wait for; this row measures that.
struct no_spin_sync : handoff::default_sync {
  static constexpr unsigned spin_limit = 0;
  static constexpr bool adaptive_spin = false;  // a fixed budget (detail/spin_wait.hpp, wait_spin_budget)
};
struct handoff_cv_no_spin {
  static constexpr const char* name = "handoff.condition<>(spin_limit=0)";
  using type = handoff::condition<void, no_spin_sync>;
};
// The yield phase in every wait (detail/sync.hpp, default_wait_yield_limit): a waiter yields up to 4 times
// after its spin before it parks, not only after a crowd wake (the default), unless its yields lately fed a
// busy thread.
struct yielding_sync : handoff::default_sync {
  static constexpr bool wait_yield_always = true;
};
struct handoff_cv_yielding {
  static constexpr const char* name = "handoff.condition<>(wait_yield_always)";
  using type = handoff::condition<void, yielding_sync>;
};

// ---- notify with nobody waiting

// The notify calls: out of line, and reached through a volatile function pointer, so every iteration makes
// one call the compiler can neither inline nor hoist out of the loop (see the header).
template <class CV>
[[gnu::noinline]] void call_notify_one(typename CV::type& cv) {
  cv.notify_one();
}
template <class CV>
[[gnu::noinline]] void call_notify_all(typename CV::type& cv) {
  cv.notify_all();
}
[[gnu::noinline]] void call_signal(handoff::condition<std::uint64_t>& c, std::uint64_t v) {
  benchmark::DoNotOptimize(c.signal(v));
}
[[gnu::noinline]] void call_nothing(std::atomic<unsigned>& word) {
  benchmark::DoNotOptimize(&word);
}
[[gnu::noinline]] void call_atomic_notify_one(std::atomic<unsigned>& word) {
  word.notify_one();
}
[[gnu::noinline]] void call_atomic_notify_all(std::atomic<unsigned>& word) {
  word.notify_all();
}

template <class Object>
void time_calls(benchmark::State& state, void (*volatile const& call)(Object&), Object& object) {
  const hb::scoped_thread_pin pin;  // pinned mode: this thread on the first allowed CPU
  for (auto _ : state) call(object);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(hb::current_pinning() == hb::pinning::pinned ? "calls; pinned" : "calls; unpinned");
}

template <class CV>
void notify_no_waiters(benchmark::State& state) {
  typename CV::type cv;
  static void (*volatile const call)(typename CV::type&) = &call_notify_one<CV>;
  time_calls(state, call, cv);
}

template <class CV>
void notify_all_no_waiters(benchmark::State& state) {
  typename CV::type cv;
  static void (*volatile const call)(typename CV::type&) = &call_notify_all<CV>;
  time_calls(state, call, cv);
}

void signal_no_waiters(benchmark::State& state) {
  const hb::scoped_thread_pin pin;
  static void (*volatile const call)(handoff::condition<std::uint64_t>&, std::uint64_t) = &call_signal;
  handoff::condition<std::uint64_t> c;
  std::uint64_t n = 0;
  for (auto _ : state) call(c, n++);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(hb::current_pinning() == hb::pinning::pinned ? "calls; pinned" : "calls; unpinned");
}

template <void (*Function)(std::atomic<unsigned>&)>
void atomic_calls(benchmark::State& state) {
  std::atomic<unsigned> word{0};
  static void (*volatile const call)(std::atomic<unsigned>&) = Function;
  time_calls(state, call, word);
}

// ---- ping-pong: wake latency of one waiter

template <class CV>
void pingpong_cv(benchmark::State& state, const std::string& name, std::uint64_t round_trips) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    std::mutex m;
    typename CV::type to_a, to_b;
    int turn = 0;  // guarded by m
    std::uint64_t ball = 0, wrong = 0;
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(2, [&](unsigned me) {
      auto& mine = me == 0 ? to_a : to_b;
      auto& other = me == 0 ? to_b : to_a;
      for (std::uint64_t n = 0; n < round_trips; ++n) {
        std::unique_lock lock(m);
        mine.wait(lock, [&] { return turn == static_cast<int>(me); });
        if (ball != 2 * n + me) ++wrong;
        ++ball;
        turn = 1 - static_cast<int>(me);
        lock.unlock();
        other.notify_one();
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong != 0) {
      hb::report_failure(state, name, std::to_string(wrong) + " turns saw the wrong ball");
      return;
    }
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(round_trips);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.SetLabel(hb::thread_team::pins(2) ? "round trips; pinned" : "round trips; unpinned");
}

// signal(v) until it reaches the partner (it returns 0 while the partner is not waiting yet).
template <class C>
void signal_until_taken(C& c, std::uint64_t v) {
  for (unsigned spins = 0; c.signal(std::uint64_t{v}) == 0; ++spins) {
    if (spins % 64 == 63) std::this_thread::yield();  // the partner may be descheduled (oversubscribed)
  }
}

void pingpong_handoff_typed(benchmark::State& state, const std::string& name, std::uint64_t round_trips) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    handoff::condition<std::uint64_t> ping, pong;
    std::uint64_t wrong = 0;
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(2, [&](unsigned me) {
      if (me == 0) {
        for (std::uint64_t n = 0; n < round_trips; ++n) {
          signal_until_taken(ping, n);
          if (pong.wait() != n + 1) ++wrong;
        }
      } else {
        for (std::uint64_t n = 0; n < round_trips; ++n) signal_until_taken(pong, ping.wait() + 1);
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong != 0) {
      hb::report_failure(state, name, std::to_string(wrong) + " answers differed from what was sent");
      return;
    }
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(round_trips);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.SetLabel(hb::thread_team::pins(2) ? "round trips; pinned" : "round trips; unpinned");
}

// ---- broadcast to 8 waiters

constexpr unsigned kBroadcastWaiters = 8;

// The counters of every broadcast row: rounds per second, process CPU per round, the pinning.
void report_broadcast_rounds(benchmark::State& state, std::uint64_t rounds, double cpu_seconds) {
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(rounds);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.SetLabel(hb::thread_team::pins(kBroadcastWaiters + 1) ? "broadcast rounds, 8 waiters; pinned"
                                                              : "broadcast rounds, 8 waiters; unpinned");
}

template <class CV>
void broadcast_cv(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    std::mutex m;
    typename CV::type go, all_arrived;
    std::uint64_t generation = 0;  // guarded by m
    unsigned arrived = 0;          // guarded by m
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(kBroadcastWaiters + 1, [&](unsigned i) {
      std::unique_lock lock(m);
      if (i == kBroadcastWaiters) {
        for (std::uint64_t r = 0; r < rounds; ++r) {
          all_arrived.wait(lock, [&] { return arrived == kBroadcastWaiters; });
          arrived = 0;
          ++generation;
          lock.unlock();
          go.notify_all();
          lock.lock();
        }
        return;
      }
      for (std::uint64_t r = 0; r < rounds; ++r) {
        if (++arrived == kBroadcastWaiters) all_arrived.notify_one();
        go.wait(lock, [&] { return generation != r; });
        // relaxed: a tally read after the team joined
        if (generation != r + 1) wrong.fetch_add(1, std::memory_order_relaxed);
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) {
      hb::report_failure(state, name, std::to_string(wrong.load()) + " waiters saw the wrong generation");
      return;
    }
  }
  report_broadcast_rounds(state, rounds, cpu_seconds);
}

void broadcast_handoff_typed(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    std::mutex m;
    handoff::condition<std::uint64_t> go;
    handoff::condition<void> all_arrived;
    unsigned arrived = 0;  // guarded by m
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(kBroadcastWaiters + 1, [&](unsigned i) {
      std::unique_lock lock(m);
      if (i == kBroadcastWaiters) {
        for (std::uint64_t r = 0; r < rounds; ++r) {
          while (arrived != kBroadcastWaiters) all_arrived.wait(lock);
          arrived = 0;
          lock.unlock();
          // Every waiter counted in registered on `go` before it released m (CO-6), so all 8 wait now.
          // relaxed: a tally read after the team joined
          if (go.broadcast(r + 1) != kBroadcastWaiters) wrong.fetch_add(1, std::memory_order_relaxed);
          lock.lock();
        }
        return;
      }
      for (std::uint64_t r = 0; r < rounds; ++r) {
        if (++arrived == kBroadcastWaiters)
          (void)all_arrived.signal();  // 0 when not waiting yet: it re-checks
        if (go.wait(lock) != r + 1) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: as above
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) {
      hb::report_failure(state, name, std::to_string(wrong.load()) + " wrong counts or generations");
      return;
    }
  }
  report_broadcast_rounds(state, rounds, cpu_seconds);
}

// broadcast/8/handoff.condition<T>(no_mutex): the rounds of broadcast_handoff_typed without the mutex, as
// broadcast_atomic has none. wait(lock) takes any BasicLockable and calls its unlock() once the waiter is
// registered (CO-6); this one holds no mutex, and its unlock() is where the waiter counts itself in. So when
// the eighth has counted in, all 8 wait, and it hands the round to the broadcaster through an mvar (a put is
// never lost, unlike a signal to a broadcaster not yet waiting).
class count_in_gate {
 public:
  count_in_gate(std::atomic<unsigned>& arrived, handoff::mvar<std::uint64_t>& all_arrived,
                std::uint64_t& round)
      : arrived_(arrived), all_arrived_(all_arrived), round_(round) {}
  void lock() noexcept {}
  void unlock() {
    // acq_rel: the eighth increment sees the seven before it; the mvar's put publishes the round.
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == kBroadcastWaiters) all_arrived_.put(round_);
  }

 private:
  std::atomic<unsigned>& arrived_;
  handoff::mvar<std::uint64_t>& all_arrived_;
  std::uint64_t& round_;  // the waiter's own round counter
};

void broadcast_handoff_no_mutex(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    handoff::condition<std::uint64_t> go;
    handoff::mvar<std::uint64_t> all_arrived;
    std::atomic<unsigned> arrived{0};
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(kBroadcastWaiters + 1, [&](unsigned i) {
      if (i == kBroadcastWaiters) {
        for (std::uint64_t r = 0; r < rounds; ++r) {
          // relaxed: tallies read after the team joined
          if (all_arrived.take() != r) wrong.fetch_add(1, std::memory_order_relaxed);
          // relaxed: no waiter counts in again before this round's broadcast wakes it (its happens-before)
          arrived.store(0, std::memory_order_relaxed);
          if (go.broadcast(r + 1) != kBroadcastWaiters) wrong.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      std::uint64_t r = 0;
      count_in_gate gate(arrived, all_arrived, r);
      for (; r < rounds; ++r)
        if (go.wait(gate) != r + 1) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: as above
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) {
      hb::report_failure(state, name, std::to_string(wrong.load()) + " wrong counts, rounds or generations");
      return;
    }
  }
  report_broadcast_rounds(state, rounds, cpu_seconds);
}

// C++20 atomic wait/notify: the broadcast rounds of broadcast_cv without a mutex (see the header).
void broadcast_atomic(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    std::atomic<std::uint64_t> generation{0};
    std::atomic<unsigned> arrived{0};
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(kBroadcastWaiters + 1, [&](unsigned i) {
      if (i == kBroadcastWaiters) {
        for (std::uint64_t r = 0; r < rounds; ++r) {
          // acquire: pairs with the waiters' acq_rel fetch_add; every waiter of round r is counted in.
          for (unsigned a = arrived.load(std::memory_order_acquire); a != kBroadcastWaiters;
               a = arrived.load(std::memory_order_acquire))
            arrived.wait(a, std::memory_order_acquire);
          arrived.store(0, std::memory_order_relaxed);         // relaxed: published by the release below
          generation.store(r + 1, std::memory_order_release);  // release: pairs with the waiters' acquire
          generation.notify_all();
        }
        return;
      }
      for (std::uint64_t r = 0; r < rounds; ++r) {
        // acq_rel: the eighth waiter's increment is the one the broadcaster's acquire load sees.
        if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == kBroadcastWaiters) arrived.notify_one();
        generation.wait(r, std::memory_order_acquire);  // acquire: pairs with the broadcaster's release
        // relaxed: a tally read after the team joined
        if (generation.load(std::memory_order_acquire) != r + 1)
          wrong.fetch_add(1, std::memory_order_relaxed);
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) {
      hb::report_failure(state, name, std::to_string(wrong.load()) + " waiters saw the wrong generation");
      return;
    }
  }
  report_broadcast_rounds(state, rounds, cpu_seconds);
}

template <class CV>
void register_cv(std::uint64_t round_trips, std::uint64_t rounds) {
  hb::register_pinnings(
      std::string("notify_no_waiters/") + CV::name,
      [](benchmark::State& s, const std::string&) { notify_no_waiters<CV>(s); }, hb::call_rows);
  hb::register_pinnings(
      std::string("notify_all_no_waiters/") + CV::name,
      [](benchmark::State& s, const std::string&) { notify_all_no_waiters<CV>(s); }, hb::call_rows);
  hb::register_pinnings(
      std::string("pingpong/") + CV::name,
      [round_trips](benchmark::State& s, const std::string& n) { pingpong_cv<CV>(s, n, round_trips); },
      hb::team_rows);
  hb::register_pinnings(
      std::string("broadcast/8/") + CV::name,
      [rounds](benchmark::State& s, const std::string& n) { broadcast_cv<CV>(s, n, rounds); }, hb::team_rows);
}

// The spin_limit=0 and wait_yield_always rows, tuning aids: registered once, with the automatic pinning
// rule.
template <class CV>
void register_cv_tuning(std::uint64_t round_trips, std::uint64_t rounds) {
  benchmark::RegisterBenchmark((std::string("notify_no_waiters/") + CV::name).c_str(), notify_no_waiters<CV>)
      ->UseRealTime()
      ->MinTime(hb::min_time(0.5));
  benchmark::RegisterBenchmark((std::string("notify_all_no_waiters/") + CV::name).c_str(),
                               notify_all_no_waiters<CV>)
      ->UseRealTime()
      ->MinTime(hb::min_time(0.5));
  const std::string pp = std::string("pingpong/") + CV::name;
  hb::team_rows(benchmark::RegisterBenchmark(
      pp.c_str(), [pp, round_trips](benchmark::State& s) { pingpong_cv<CV>(s, pp, round_trips); }));
  const std::string bc = std::string("broadcast/8/") + CV::name;
  hb::team_rows(benchmark::RegisterBenchmark(
      bc.c_str(), [bc, rounds](benchmark::State& s) { broadcast_cv<CV>(s, bc, rounds); }));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t round_trips = 10000, rounds = 2000;
  if (hb::take_flag(argc, argv, "round-trips", &text)) round_trips = std::stoull(text);
  if (hb::take_flag(argc, argv, "broadcast-rounds", &text)) rounds = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh; the sweep is the same
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_round_trips_per_run", std::to_string(round_trips));
  benchmark::AddCustomContext("handoff_broadcast_rounds_per_run", std::to_string(rounds));

  register_cv<handoff_cv>(round_trips, rounds);
  hb::register_pinnings(
      "notify_no_waiters/handoff.condition<T>::signal",
      [](benchmark::State& s, const std::string&) { signal_no_waiters(s); }, hb::call_rows);
  hb::register_pinnings(
      "pingpong/handoff.condition<T>",
      [round_trips](benchmark::State& s, const std::string& n) { pingpong_handoff_typed(s, n, round_trips); },
      hb::team_rows);
  hb::register_pinnings(
      "broadcast/8/handoff.condition<T>",
      [rounds](benchmark::State& s, const std::string& n) { broadcast_handoff_typed(s, n, rounds); },
      hb::team_rows);
  hb::register_pinnings(
      "broadcast/8/handoff.condition<T>(no_mutex)",
      [rounds](benchmark::State& s, const std::string& n) { broadcast_handoff_no_mutex(s, n, rounds); },
      hb::team_rows);
  register_cv_tuning<handoff_cv_no_spin>(round_trips, rounds);
  register_cv_tuning<handoff_cv_yielding>(round_trips, rounds);
  register_cv<std_cv>(round_trips, rounds);
  register_cv<std_cv_any>(round_trips, rounds);
  hb::register_pinnings(
      "notify_no_waiters/std::atomic::notify_one",
      [](benchmark::State& s, const std::string&) { atomic_calls<call_atomic_notify_one>(s); },
      hb::call_rows);
  hb::register_pinnings(
      "notify_all_no_waiters/std::atomic::notify_all",
      [](benchmark::State& s, const std::string&) { atomic_calls<call_atomic_notify_all>(s); },
      hb::call_rows);
  hb::register_pinnings(
      "notify_no_waiters/empty-call",
      [](benchmark::State& s, const std::string&) { atomic_calls<call_nothing>(s); }, hb::call_rows);
  hb::register_pinnings(
      "broadcast/8/std::atomic::notify_all",
      [rounds](benchmark::State& s, const std::string& n) { broadcast_atomic(s, n, rounds); }, hb::team_rows);
  return hb::run_and_exit_code(argc, argv);
}
