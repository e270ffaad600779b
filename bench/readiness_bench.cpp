// ---------------------------------------------------------------------------------------------------------------
// bench/readiness_bench.cpp: channels feeding an event loop that sleeps in epoll_wait (rules WA-*;
// handoff/readiness.hpp, handoff/eventfd_notifier.hpp), against the ways such loops are fed without handoff.
//
// Workloads:
//   readiness/latency/<mech>          two event loops pass a token back and forth through two channels
//                                     (--rounds=N per run, default 2000); each loop sleeps in epoll_wait when
//                                     its channel is empty. One round = two hand-offs; the row reports the
//                                     one-way latency (round trip / 2): latency_p50_ns, latency_p99_ns.
//   readiness/throughput/<P>/<mech>   P producer threads (1, 2, 8) push --messages=N values in all (default
//                                     200000) into one unbounded channel; one loop drains it, sleeping in
//                                     epoll_wait whenever it is empty. items_per_second, and
//                                     syscalls_per_1000_msgs: the eventfd writes, epoll_waits and eventfd
//                                     reads per 1000 messages (the ones this benchmark makes and can count; a
//                                     futex a mutex makes is not counted).
// Mechanisms:
//   handoff.stream        stream<T>{unbounded}, a watcher with an eventfd_notifier: the loop drains with
//                         try_pop, arms, and sleeps; a push writes the eventfd only when the loop is armed.
//   eventfd (floor)       the token in an atomic word, an eventfd write per hand-off, epoll_wait, a read:
//                         the floor of any channel that wakes an epoll loop (latency rows only).
//   mutex+deque+eventfd   std::deque under a std::mutex, one eventfd write per push: the common hand-made
//   way. moodycamel+eventfd    moodycamel::ConcurrentQueue with a "sleeping" flag: the loop sets it, looks
//   once
//                         more, and sleeps; a producer writes the eventfd only when it clears a set flag
//                         (the folly AtomicNotificationQueue / libuv uv_async pattern, done by hand).
// Every row checks that each value arrives once and in each producer's order. Each row runs unpinned and
// pinned (bench/harness.hpp).
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <handoff/eventfd_notifier.hpp>
#include <handoff/readiness.hpp>
#include <handoff/stream.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

#if defined(HANDOFF_HAVE_MOODYCAMEL)
#include <concurrentqueue.h>
#endif

namespace hb = handoff_bench;

namespace {

std::int64_t percentile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One loop's sleep: epoll_wait on one eventfd, then read it back; counts its system calls.
class loop_sleep {
 public:
  loop_sleep() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, wake.fd(), &ev);
  }
  loop_sleep(const loop_sleep&) = delete;
  loop_sleep& operator=(const loop_sleep&) = delete;
  ~loop_sleep() { ::close(ep_); }
  void sleep() {
    epoll_event out{};
    while (::epoll_wait(ep_, &out, 1, -1) < 0) {
    }
    wake.consume();
    syscalls += 2;
  }
  handoff::eventfd_notifier wake;
  std::uint64_t syscalls = 0;  // epoll_wait + read, by the loop's thread

 private:
  int ep_;
};

// A notifier that counts its eventfd writes (relaxed: a tally read after the run's threads joined).
struct counted_wake {
  handoff::eventfd_notifier* target;
  std::atomic<std::uint64_t> writes{0};
  handoff::notifier notifier() {
    return {[](void* self) noexcept {
              auto* c = static_cast<counted_wake*>(self);
              c->writes.fetch_add(1, std::memory_order_relaxed);
              c->target->signal_now();
            },
            this};
  }
};

// ---- mechanisms: a channel of uint64 feeding one loop. push(v) from any thread; loop_pop() in the loop's
// thread returns a value, sleeping in epoll_wait while there is none; syscalls() after the run.

struct handoff_stream {
  static constexpr const char* name = "handoff.stream";
  handoff::stream<std::uint64_t> s{handoff::unbounded};
  loop_sleep loop;
  counted_wake counter{&loop.wake};
  handoff::watcher<handoff::stream<std::uint64_t>> watch{s, counter.notifier()};
  void push(std::uint64_t v) { s.push(v); }
  std::uint64_t loop_pop() {
    for (;;) {
      std::uint64_t v = 0;
      if (s.try_pop(v) == handoff::status::ok) return v;
      if (watch.arm() == handoff::readiness::armed) loop.sleep();
    }
  }
  std::uint64_t syscalls() const { return loop.syscalls + counter.writes.load(); }
};

struct mutex_deque_eventfd {
  static constexpr const char* name = "mutex+deque+eventfd";
  std::mutex m;
  std::deque<std::uint64_t> q;
  loop_sleep loop;
  std::atomic<std::uint64_t> writes{0};
  void push(std::uint64_t v) {
    {
      std::lock_guard<std::mutex> g(m);
      q.push_back(v);
    }
    loop.wake.signal_now();
    writes.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
  }
  std::uint64_t loop_pop() {
    for (;;) {
      {
        std::lock_guard<std::mutex> g(m);
        if (!q.empty()) {
          const std::uint64_t v = q.front();
          q.pop_front();
          return v;
        }
      }
      loop.sleep();
    }
  }
  std::uint64_t syscalls() const { return loop.syscalls + writes.load(); }
};

#if defined(HANDOFF_HAVE_MOODYCAMEL)
struct moodycamel_eventfd {
  static constexpr const char* name = "moodycamel+eventfd";
  moodycamel::ConcurrentQueue<std::uint64_t> q;
  std::atomic<bool> sleeping{false};
  loop_sleep loop;
  std::atomic<std::uint64_t> writes{0};
  void push(std::uint64_t v) {
    q.enqueue(v);
    // A Dekker pair with the loop's store of `sleeping` and its second look: one of the two sees the other.
    // The fence is needed: moodycamel publishes with release stores, and a release store followed by a load
    // may be reordered (x86's store buffer). Without it this row hung in its first run: the producer read
    // `sleeping` false before its enqueue was visible, and the loop looked, saw nothing and slept.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping.load() && sleeping.exchange(false)) {
      loop.wake.signal_now();
      writes.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
    }
  }
  std::uint64_t loop_pop() {
    for (;;) {
      std::uint64_t v = 0;
      if (q.try_dequeue(v)) return v;
      sleeping.store(true);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // see push
      if (q.try_dequeue(v)) {
        sleeping.store(false);
        return v;
      }
      loop.sleep();
      sleeping.store(false);
    }
  }
  std::uint64_t syscalls() const { return loop.syscalls + writes.load(); }
};
#endif

// The floor: a token in an atomic word and an eventfd write per hand-off.
struct eventfd_floor {
  static constexpr const char* name = "eventfd (floor)";
  std::atomic<std::uint64_t> slot{0};  // 0: empty
  loop_sleep loop;
  void push(std::uint64_t v) {
    slot.store(v + 1, std::memory_order_release);  // release: pairs with the loop's exchange
    loop.wake.signal_now();
  }
  std::uint64_t loop_pop() {
    for (;;) {
      const std::uint64_t v = slot.exchange(0, std::memory_order_acquire);  // acquire: pairs with push
      if (v) return v - 1;
      loop.sleep();
    }
  }
  std::uint64_t syscalls() const { return 0; }
};

// Two loops, two channels: A pushes r to B's channel; B's loop pops it and pushes it back; A's loop pops.
template <class Mechanism>
void latency_row(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  std::vector<std::int64_t> one_way;
  double cpu_seconds = 0;
  for (auto _ : state) {
    Mechanism to_b, to_a;
    std::atomic<std::uint64_t> wrong{0};
    std::vector<std::int64_t> round_ns(rounds);
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(2, [&](unsigned i) {
      for (std::uint64_t r = 0; r < rounds; ++r) {
        if (i == 0) {
          const std::int64_t t0 = now_ns();
          to_b.push(r);
          if (to_a.loop_pop() != r) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
          round_ns[r] = now_ns() - t0;
        } else {
          const std::uint64_t v = to_b.loop_pop();
          if (v != r) wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
          to_a.push(v);
        }
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) return hb::report_failure(state, name, "a token arrived out of turn");
    for (std::int64_t ns : round_ns) one_way.push_back(ns / 2);
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(rounds);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done / 2);
  state.counters["latency_p50_ns"] = benchmark::Counter(static_cast<double>(percentile(one_way, 0.5)));
  state.counters["latency_p99_ns"] = benchmark::Counter(static_cast<double>(percentile(one_way, 0.99)));
  state.SetLabel(hb::thread_team::pins(2) ? "one-way, pinned" : "one-way, unpinned");
}

// P producers -> one loop; every value once, in each producer's order.
template <class Mechanism>
void throughput_row(benchmark::State& state, const std::string& name, unsigned producers,
                    std::uint64_t messages) {
  const std::uint64_t per = messages / producers;
  double syscalls = 0, done = 0, cpu_seconds = 0;
  for (auto _ : state) {
    Mechanism m;
    std::atomic<std::uint64_t> wrong{0};
    const double cpu_before = hb::process_cpu_seconds();
    hb::thread_team::run(producers + 1, [&](unsigned i) {
      if (i < producers) {
        for (std::uint64_t k = 0; k < per; ++k) m.push((std::uint64_t{i} << 32) | k);
        return;
      }
      std::vector<std::uint64_t> next(producers, 0);
      for (std::uint64_t k = 0; k < per * producers; ++k) {
        const std::uint64_t v = m.loop_pop();
        const std::uint64_t p = v >> 32;
        if (p >= producers || (v & 0xffffffffu) != next[p]++)
          wrong.fetch_add(1, std::memory_order_relaxed);  // relaxed: a tally
      }
    });
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    if (wrong.load() != 0) return hb::report_failure(state, name, "values lost, duplicated or reordered");
    syscalls += static_cast<double>(m.syscalls());
    done += static_cast<double>(per * producers);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["syscalls_per_1000_msgs"] = benchmark::Counter(syscalls * 1000 / done);
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / done);
  state.SetLabel(std::to_string(producers) + " producers -> 1 epoll loop" +
                 (hb::thread_team::pins(producers + 1) ? "; pinned" : "; unpinned"));
}

template <class Mechanism>
void register_latency(std::uint64_t rounds) {
  hb::register_pinnings(
      std::string("readiness/latency/") + Mechanism::name,
      [rounds](benchmark::State& s, const std::string& n) { latency_row<Mechanism>(s, n, rounds); },
      hb::team_rows);
}

template <class Mechanism>
void register_throughput(std::uint64_t messages) {
  for (unsigned producers : {1u, 2u, 8u})
    hb::register_pinnings(
        "readiness/throughput/" + std::to_string(producers) + "/" + Mechanism::name,
        [producers, messages](benchmark::State& s, const std::string& n) {
          throughput_row<Mechanism>(s, n, producers, messages);
        },
        hb::team_rows);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t rounds = 2000, messages = 200000;
  if (hb::take_flag(argc, argv, "rounds", &text)) rounds = std::stoull(text);
  if (hb::take_flag(argc, argv, "messages", &text)) messages = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh
  hb::add_machine_context();
  register_latency<handoff_stream>(rounds);
  register_latency<eventfd_floor>(rounds);
  register_latency<mutex_deque_eventfd>(rounds);
  register_throughput<handoff_stream>(messages);
  register_throughput<mutex_deque_eventfd>(messages);
#if defined(HANDOFF_HAVE_MOODYCAMEL)
  register_latency<moodycamel_eventfd>(rounds);
  register_throughput<moodycamel_eventfd>(messages);
#endif
  return hb::run_and_exit_code(argc, argv);
}
