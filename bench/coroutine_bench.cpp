// ---------------------------------------------------------------------------------------------------------------
// bench/coroutine_bench.cpp: coroutines waiting on channels (rules CR-*; handoff/coroutine.hpp), against
// Boost.Asio's sibling, standalone asio's experimental::concurrent_channel (Debian libasio-dev 1.22) with
// use_awaitable, on the same io_context run by the same 2-thread team.
//
// Workloads (--messages=N values per run, default 200000; every value checked: count and sum):
//   coroutine/pingpong/<mech>          two coroutines pass a token back and forth through two capacity-1
//                                      channels; ns_per_round_trip.
//   coroutine/spsc/<cap>/<mech>        one producing and one consuming coroutine, capacity 1024 and 0.
//   coroutine/mpmc/<cap>/<mech>        2 producing and 2 consuming coroutines, capacity 1024 and 0.
//   coroutine/thread_to_coroutine/<cap>/<mech>
//                                      a plain thread pushes (handoff: a blocking push; asio: async_send
//                                      with use_future and a wait, asio's way for a thread), one coroutine
//                                      consumes, capacity 1024.
// Mechanisms:
//   handoff   stream<T>(cap), co_await async_pop / async_push, resumed through handoff::asio_executor on the
//             io_context (a minimal eager coroutine type: the awaiters need nothing of the promise).
//   asio      asio::experimental::concurrent_channel<void(asio::error_code, std::uint64_t)>(io, cap),
//             co_await async_send / async_receive(asio::use_awaitable), in asio::awaitable coroutines.
// items_per_second (messages), cpu_ns_per_msg. Each row runs unpinned and pinned (bench/harness.hpp): the
// io_context's two threads are the team.
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <handoff/asio_executor.hpp>
#include <handoff/coroutine.hpp>
#include <handoff/stream.hpp>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

#if defined(HANDOFF_HAVE_ASIO)
#include <asio.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#endif

namespace hb = handoff_bench;

namespace {

#if defined(HANDOFF_HAVE_ASIO)

constexpr unsigned kPoolThreads = 2;

struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// One run: an io_context, a work guard the last coroutine releases, and a check of what arrived.
struct run_state {
  asio::io_context io{static_cast<int>(kPoolThreads)};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{io.get_executor()};
  std::atomic<unsigned> left{0};
  std::atomic<std::uint64_t> received{0}, sum{0};
  void finished() {
    if (left.fetch_sub(1) == 1) asio::post(io, [this] { guard.reset(); });
  }
  void got(std::uint64_t v) {
    received.fetch_add(1, std::memory_order_relaxed);
    sum.fetch_add(v, std::memory_order_relaxed);
  }
};

using asio_ex = handoff::asio_executor<asio::io_context::executor_type>;

// ---- handoff
struct handoff_mech {
  static constexpr const char* name = "handoff";
  using channel = handoff::stream<std::uint64_t>;
  static std::unique_ptr<channel> make(run_state&, std::size_t cap) { return std::make_unique<channel>(cap); }

  static detached produce(run_state& r, channel& c, std::uint64_t from, std::uint64_t n) {
    asio_ex ex(r.io.get_executor());
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint64_t v = from + k;
      (void)co_await c.async_push(v, ex);
    }
    r.finished();
  }
  static detached consume(run_state& r, channel& c, std::uint64_t n) {
    asio_ex ex(r.io.get_executor());
    for (std::uint64_t k = 0; k < n; ++k) r.got(*co_await c.async_pop(ex));
    r.finished();
  }
  static detached bounce(run_state& r, channel& in, channel& out, std::uint64_t rounds, bool starts) {
    asio_ex ex(r.io.get_executor());
    std::uint64_t token = 0;
    if (starts) (void)co_await out.async_push(token, ex);
    for (std::uint64_t k = 0; k < rounds; ++k) {
      token = *co_await in.async_pop(ex);
      r.got(token);
      if (starts && k + 1 == rounds) break;
      ++token;
      (void)co_await out.async_push(token, ex);
    }
    r.finished();
  }
  static void spawn(run_state& r, detached (*f)(run_state&, channel&, std::uint64_t, std::uint64_t),
                    channel& c, std::uint64_t a, std::uint64_t b) {
    asio::post(r.io, [&r, f, &c, a, b] { f(r, c, a, b); });
  }
  static void spawn_consumer(run_state& r, channel& c, std::uint64_t n) {
    asio::post(r.io, [&r, &c, n] { consume(r, c, n); });
  }
  static void spawn_bouncer(run_state& r, channel& in, channel& out, std::uint64_t rounds, bool starts) {
    asio::post(r.io, [&r, &in, &out, rounds, starts] { bounce(r, in, out, rounds, starts); });
  }
  static void thread_push(channel& c, std::uint64_t v) { (void)c.push(v); }
};

// ---- asio's concurrent_channel
struct asio_mech {
  static constexpr const char* name = "asio";
  using channel = asio::experimental::concurrent_channel<void(asio::error_code, std::uint64_t)>;
  static std::unique_ptr<channel> make(run_state& r, std::size_t cap) {
    return std::make_unique<channel>(r.io, cap);
  }

  static asio::awaitable<void> produce(run_state& r, channel& c, std::uint64_t from, std::uint64_t n) {
    for (std::uint64_t k = 0; k < n; ++k)
      co_await c.async_send(asio::error_code{}, from + k, asio::use_awaitable);
    r.finished();
  }
  static asio::awaitable<void> consume(run_state& r, channel& c, std::uint64_t n) {
    for (std::uint64_t k = 0; k < n; ++k) r.got(co_await c.async_receive(asio::use_awaitable));
    r.finished();
  }
  static asio::awaitable<void> bounce(run_state& r, channel& in, channel& out, std::uint64_t rounds,
                                      bool starts) {
    std::uint64_t token = 0;
    if (starts) co_await out.async_send(asio::error_code{}, token, asio::use_awaitable);
    for (std::uint64_t k = 0; k < rounds; ++k) {
      token = co_await in.async_receive(asio::use_awaitable);
      r.got(token);
      if (starts && k + 1 == rounds) break;
      co_await out.async_send(asio::error_code{}, token + 1, asio::use_awaitable);
    }
    r.finished();
  }
  static void spawn(run_state& r,
                    asio::awaitable<void> (*f)(run_state&, channel&, std::uint64_t, std::uint64_t),
                    channel& c, std::uint64_t a, std::uint64_t b) {
    asio::co_spawn(r.io, f(r, c, a, b), asio::detached);
  }
  static void spawn_consumer(run_state& r, channel& c, std::uint64_t n) {
    asio::co_spawn(r.io, consume(r, c, n), asio::detached);
  }
  static void spawn_bouncer(run_state& r, channel& in, channel& out, std::uint64_t rounds, bool starts) {
    asio::co_spawn(r.io, bounce(r, in, out, rounds, starts), asio::detached);
  }
  static void thread_push(channel& c, std::uint64_t v) {
    c.async_send(asio::error_code{}, v, asio::use_future).get();
  }
};

// Runs the io_context on the 2-thread team (pinned as the row says) until the work guard goes; `extra`
// threads (a plain producer) run beside it, outside the team. Returns seconds.
double run_pool(run_state& r, const std::function<void()>& extra = {}) {
  std::thread side;
  if (extra) side = std::thread(extra);
  const double seconds = hb::thread_team::run(kPoolThreads, [&](unsigned) { r.io.run(); });
  if (side.joinable()) side.join();
  return seconds;
}

void check(benchmark::State& state, const std::string& name, run_state& r, std::uint64_t expect_count,
           std::uint64_t expect_sum) {
  if (r.received.load() != expect_count || r.sum.load() != expect_sum)
    hb::report_failure(state, name,
                       "wrong delivery: " + std::to_string(r.received.load()) + " values, sum " +
                           std::to_string(r.sum.load()));
}

template <class M>
void pingpong_row(benchmark::State& state, const std::string& name, std::uint64_t rounds) {
  double seconds = 0;
  const double cpu0 = hb::process_cpu_seconds();
  for (auto _ : state) {
    run_state r;
    auto a = M::make(r, 1), b = M::make(r, 1);
    r.left = 2;
    M::spawn_bouncer(r, *a, *b, rounds, true);
    M::spawn_bouncer(r, *b, *a, rounds, false);
    const double s = run_pool(r);
    state.SetIterationTime(s);
    seconds += s;
    // The starter receives rounds tokens 1, 3, 5, ...; the other 0, 2, 4, ...: 2 * rounds values, 0..2r-1.
    check(state, name, r, 2 * rounds, (2 * rounds) * (2 * rounds - 1) / 2);
  }
  const double trips = static_cast<double>(state.iterations()) * static_cast<double>(rounds);
  state.counters["ns_per_round_trip"] = benchmark::Counter(seconds * 1e9 / trips);
  state.counters["cpu_ns_per_round_trip"] =
      benchmark::Counter((hb::process_cpu_seconds() - cpu0) * 1e9 / trips);
  state.SetItemsProcessed(static_cast<std::int64_t>(trips));
}

template <class M>
void channel_row(benchmark::State& state, const std::string& name, std::size_t cap, unsigned producers,
                 unsigned consumers, std::uint64_t messages) {
  const std::uint64_t per_p = messages / producers, per_c = messages / consumers;
  const std::uint64_t total = per_p * producers;
  const double cpu0 = hb::process_cpu_seconds();
  for (auto _ : state) {
    run_state r;
    auto c = M::make(r, cap);
    r.left = producers + consumers;
    for (unsigned k = 0; k < consumers; ++k) M::spawn_consumer(r, *c, per_c);
    for (unsigned p = 0; p < producers; ++p) M::spawn(r, &M::produce, *c, p * per_p, per_p);
    state.SetIterationTime(run_pool(r));
    check(state, name, r, total, total * (total - 1) / 2);
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(total);
  state.counters["cpu_ns_per_msg"] = benchmark::Counter((hb::process_cpu_seconds() - cpu0) * 1e9 / done);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
}

template <class M>
void thread_to_coroutine_row(benchmark::State& state, const std::string& name, std::size_t cap,
                             std::uint64_t messages) {
  const double cpu0 = hb::process_cpu_seconds();
  for (auto _ : state) {
    run_state r;
    auto c = M::make(r, cap);
    r.left = 1;
    M::spawn_consumer(r, *c, messages);
    state.SetIterationTime(run_pool(r, [&] {
      for (std::uint64_t k = 0; k < messages; ++k) M::thread_push(*c, k);
    }));
    check(state, name, r, messages, messages * (messages - 1) / 2);
  }
  const double done = static_cast<double>(state.iterations()) * static_cast<double>(messages);
  state.counters["cpu_ns_per_msg"] = benchmark::Counter((hb::process_cpu_seconds() - cpu0) * 1e9 / done);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
}

void manual_rows(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(hb::min_time());
}

template <class M>
void register_rows(std::uint64_t messages) {
  const std::string m = M::name;
  hb::register_pinnings(
      "coroutine/pingpong/" + m,
      [messages](benchmark::State& s, const std::string& n) { pingpong_row<M>(s, n, messages / 4); },
      manual_rows);
  for (std::size_t cap : {std::size_t{1024}, std::size_t{0}}) {
    hb::register_pinnings(
        "coroutine/spsc/" + std::to_string(cap) + "/" + m,
        [cap, messages](benchmark::State& s, const std::string& n) {
          channel_row<M>(s, n, cap, 1, 1, messages);
        },
        manual_rows);
    hb::register_pinnings(
        "coroutine/mpmc/" + std::to_string(cap) + "/" + m,
        [cap, messages](benchmark::State& s, const std::string& n) {
          channel_row<M>(s, n, cap, 2, 2, messages);
        },
        manual_rows);
  }
  hb::register_pinnings(
      "coroutine/thread_to_coroutine/1024/" + m,
      [messages](benchmark::State& s, const std::string& n) {
        thread_to_coroutine_row<M>(s, n, 1024, M::name == std::string("asio") ? messages / 10 : messages);
      },
      manual_rows);
}

#endif  // HANDOFF_HAVE_ASIO

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t messages = 200000;
  if (hb::take_flag(argc, argv, "messages", &text)) messages = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh
  hb::add_machine_context();
#if defined(HANDOFF_HAVE_ASIO)
  register_rows<handoff_mech>(messages);
  register_rows<asio_mech>(messages);
#else
  std::fprintf(stderr, "coroutine_bench: no asio (libasio-dev): nothing to compare\n");
#endif
  return hb::run_and_exit_code(argc, argv);
}
