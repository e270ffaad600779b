// ---------------------------------------------------------------------------------------------------------------
// bench/topic_bench.cpp: fan-out, one publisher delivering every message to each of N subscribers (ST-8).
//
// Workload fanout/<N>/<peer>: one publisher thread publishes a fixed number of messages (--messages=N,
// default 50000); each of the N subscriber threads must receive every one of them, in order (each checks the
// sequence). Peers:
//   handoff.topic      handoff::topic<T> (<handoff/topic.hpp>, when it exists and has the api.md shape:
//                      publish(v), subscribe() returning a reader whose pop() gives std::optional<T>);
//                      per-subscriber capacity 1024 when the constructor takes one
//   handoff.streams    fan-out by hand over N handoff::stream<T>{1024} (the publisher pushes to each)
//   mutex+condvar      fan-out by hand over N bench/mutex_queue.hpp queues of capacity 1024
// N = 1, 2, 4, 8 (--full: up to 8 x cores), each unpinned and pinned (`fanout/<N>/<peer>/<unpinned|pinned>`,
// bench/harness.hpp); bench/go and bench/crossbeam add the hand fan-out over N Go channels and N crossbeam
// bounded(1024) channels. Counters as in queue_bench: items_per_second counts deliveries
// (messages x subscribers) per second of wall time, cpu_ns_per_msg is process CPU per delivery.
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "mutex_queue.hpp"
#include "peers.hpp"

#if __has_include(<handoff/topic.hpp>)
#include <handoff/topic.hpp>
#define HANDOFF_BENCH_HAVE_TOPIC 1
#endif

namespace {

namespace hb = handoff_bench;
constexpr std::size_t kSubscriberCapacity = 1024;

// Fan-out by hand: one queue per subscriber; publish pushes a copy into each.
template <class Queue>
struct hand_fanout {
  explicit hand_fanout(unsigned subscribers) {
    for (unsigned i = 0; i < subscribers; ++i) queues.push_back(std::make_unique<Queue>(kSubscriberCapacity));
  }
  void publish(std::uint64_t v) {
    for (auto& q : queues) q->push(v);
  }
  std::uint64_t pop(unsigned subscriber) { return queues[subscriber]->pop(); }
  std::vector<std::unique_ptr<Queue>> queues;
};

struct mutex_fanout : hand_fanout<hb::mutex_queue<std::uint64_t>> {
  static constexpr const char* name = "mutex+condvar";
  using hand_fanout::hand_fanout;
};

#if defined(HANDOFF_BENCH_HAVE_STREAM)
struct streams_fanout : hand_fanout<hb::handoff_stream_peer<std::uint64_t>> {
  static constexpr const char* name = "handoff.streams";
  using hand_fanout::hand_fanout;
};
#endif

#if defined(HANDOFF_BENCH_HAVE_TOPIC)
template <class T>
concept api_md_topic = requires(handoff::topic<T>& t, T v) {
  t.publish(v);
  *t.subscribe().pop();
};

template <class T>
auto make_topic() {
  if constexpr (std::is_constructible_v<handoff::topic<T>, std::size_t>) {
    return std::make_unique<handoff::topic<T>>(kSubscriberCapacity);
  } else {
    return std::make_unique<handoff::topic<T>>();
  }
}

// A template so that nothing here is instantiated unless the header has the api.md shape.
template <class T>
struct topic_fanout {
  static constexpr const char* name = "handoff.topic";
  using reader = decltype(std::declval<handoff::topic<T>&>().subscribe());
  explicit topic_fanout(unsigned subscribers) : topic(make_topic<T>()) {
    for (unsigned i = 0; i < subscribers; ++i)
      readers.push_back(std::unique_ptr<reader>(new reader(topic->subscribe())));
  }
  void publish(T v) { topic->publish(v); }
  T pop(unsigned subscriber) {
    auto v = readers[subscriber]->pop();
    if (!v) hb::peer_broke(name, "reader reported end-of-stream");
    return *v;
  }
  std::unique_ptr<handoff::topic<T>> topic;
  std::vector<std::unique_ptr<reader>> readers;
};
#endif

template <class Fanout>
void register_fanout(const std::vector<unsigned>& counts, std::uint64_t messages);

template <class T>
void register_topic([[maybe_unused]] const std::vector<unsigned>& counts,
                    [[maybe_unused]] std::uint64_t messages) {
#if defined(HANDOFF_BENCH_HAVE_TOPIC)
  if constexpr (api_md_topic<T>) {
    register_fanout<topic_fanout<T>>(counts, messages);
  } else {
    std::fprintf(stderr, "topic_bench: <handoff/topic.hpp> does not have the api.md shape yet; skipped\n");
  }
#else
  std::fprintf(stderr,
               "topic_bench: <handoff/topic.hpp> does not exist yet; measuring the hand fan-outs only\n");
#endif
}

template <class Fanout>
void fanout(benchmark::State& state, const std::string& name, unsigned subscribers, std::uint64_t messages) {
  double cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto hub = std::make_unique<Fanout>(subscribers);  // subscribed before the first publish
    std::vector<std::uint64_t> out_of_order(subscribers, 0);
    const double cpu_before = hb::process_cpu_seconds();
    state.ResumeTiming();

    hb::thread_team::run(subscribers + 1, [&](unsigned i) {
      if (i == 0) {
        for (std::uint64_t n = 0; n < messages; ++n) hub->publish(n);
        return;
      }
      for (std::uint64_t n = 0; n < messages; ++n)
        if (hub->pop(i - 1) != n) ++out_of_order[i - 1];
    });

    state.PauseTiming();
    cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    hub.reset();
    std::uint64_t wrong = 0;
    for (auto w : out_of_order) wrong += w;
    state.ResumeTiming();
    if (wrong != 0) {
      hb::report_failure(state, name,
                         std::to_string(wrong) + " deliveries were missing, repeated or out of order");
      return;
    }
  }
  const double delivered =
      static_cast<double>(state.iterations()) * static_cast<double>(messages) * subscribers;
  state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(cpu_seconds * 1e9 / delivered);
  state.SetLabel(hb::thread_team::pins(subscribers + 1) ? "deliveries; pinned" : "deliveries; unpinned");
}

template <class Fanout>
void register_fanout(const std::vector<unsigned>& counts, std::uint64_t messages) {
  for (unsigned n : counts) {
    const std::string name = "fanout/" + std::to_string(n) + "/" + Fanout::name;
    hb::register_pinnings(
        name,
        [n, messages](benchmark::State& s, const std::string& full) { fanout<Fanout>(s, full, n, messages); },
        hb::team_rows);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const bool full = hb::take_flag(argc, argv, "full");
  std::string text;
  std::uint64_t messages = 50000;
  if (hb::take_flag(argc, argv, "messages", &text)) messages = std::stoull(text);
  std::vector<unsigned> counts = {1, 2, 4, 8};
  if (full)
    for (unsigned n = 16; n <= 8 * hb::cores(); n *= 2) counts.push_back(n);
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_messages_per_run", std::to_string(messages));
  register_topic<std::uint64_t>(counts, messages);
#if defined(HANDOFF_BENCH_HAVE_STREAM)
  register_fanout<streams_fanout>(counts, messages);
#endif
  register_fanout<mutex_fanout>(counts, messages);
  return hb::run_and_exit_code(argc, argv);
}
