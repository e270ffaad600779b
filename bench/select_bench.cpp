// ---------------------------------------------------------------------------------------------------------------
// bench/select_bench.cpp: handoff::select (handoff/select.hpp) over several streams, against Go's `select` on
// channels (bench/go/select.go) and crossbeam-channel's `Select` (bench/crossbeam/src/select.rs), which run
// the same rows under the same names with peers go.select and crossbeam.select.
//
// Rows (<row>/handoff.select/<unpinned|pinned>; every channel carries 64-bit messages):
//   select_recv/2x1/chans:2/cap:1024  2 producers, each pushing to its own stream{1024}; 1 consumer selects
//                                     a pop over both. --messages=N in all (default 1,000,000).
//   select_recv/2x1/chans:2/cap:0     the same over two rendezvous streams (stream{0}); a tenth of N, as
//                                     queue_bench's capacity-0 rows.
//   select_recv/8x1/chans:8/cap:1024  8 producers, 8 streams{1024}, 1 consumer selecting over all 8.
//   select_idle/1x1/chans:8/cap:1024  1 producer on stream 0; streams 1-7 stay empty (idle cases); 1 consumer
//                                     selects over all 8. Its CPU per message against select_recv/2x1's says
//                                     what the idle cases cost (issue 17's target: under 2x).
//   select_send/1x4/chans:4/cap:16    1 producer selects a push over 4 streams{16}; each stream has one
//                                     consumer popping plainly until the producer closes the streams.
//   select_pingpong/chans:2/cap:1     two threads, --round-trips=N round trips (default 10,000): each pushes
//                                     into the other's data stream{1} and selects a pop over its own data
//                                     stream and a stop stream{0} that never fires (shared by both).
// Checks: in the recv and idle rows each producer's sequence must reach the consumer in order; in the send
// row the one producer's values must reach each consumer in increasing order; the count and a 64-bit mixed
// sum of every value must match what was sent (bench/queue_workload.hpp's check); in the ping-pong every
// answer must be the value sent and come through the data case. A mismatch fails the row and the exit code.
// Timing: from opening the start gate to the last thread finishing (thread_team, UseManualTime), for the
// ping-pong too. Counters: items_per_second (messages, or round trips, per second), cpu_ns_per_msg (process
// CPU per message or round trip, spinning included), blocks_per_kmsg and preempts_per_kmsg (the threads'
// voluntary and involuntary context switches per 1000 messages).
// Each case object is built once per thread and reused: a pop case's value is read and reset after each win.
// ---------------------------------------------------------------------------------------------------------------
#include <benchmark/benchmark.h>

#include <handoff/select.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "queue_workload.hpp"

namespace {

namespace hb = handoff_bench;

using channel = handoff::stream<std::uint64_t>;
using channels = std::vector<std::unique_ptr<channel>>;
constexpr const char* peer_name = "handoff.select";

channels make_channels(std::size_t count, std::size_t capacity) {
  channels out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(std::make_unique<channel>(capacity));
  return out;
}

// Selects over an array of like cases (std::apply spreads it into select's arguments).
template <class Cases>
handoff::selected select_all(Cases& cases) {
  return std::apply([](auto&... c) { return handoff::select(c...); }, cases);
}

template <std::size_t N, std::size_t... I>
std::array<handoff::pop_case<std::uint64_t, handoff::default_sync>, N> pop_cases(channels& chans,
                                                                                 std::index_sequence<I...>) {
  return {handoff::on_pop(*chans[I])...};
}

template <std::size_t N, std::size_t... I>
std::array<handoff::push_case<std::uint64_t, handoff::default_sync>, N> push_cases(
    channels& chans, std::uint64_t& v, std::index_sequence<I...>) {
  return {handoff::on_push(*chans[I], v)...};
}

// The consumer of the recv and idle rows: `quota` selects over all N channels, each value checked.
template <std::size_t N>
void select_consume(channels& chans, std::uint64_t quota, unsigned producers, hb::consumer_tally& tally) {
  auto cases = pop_cases<N>(chans, std::make_index_sequence<N>{});
  std::vector<std::uint64_t> next_sequence(producers, 0);
  for (std::uint64_t i = 0; i < quota; ++i) {
    const handoff::selected r = select_all(cases);
    if (!r) {  // no stop, no deadline, never closed: cannot happen unless select is broken
      hb::note_error(tally, "a select did not complete with ok", r.index());
      continue;
    }
    auto& won = cases[r.index()].value;
    const std::uint64_t v = *won;
    won.reset();
    const std::uint64_t producer = v >> 32;
    const std::uint64_t sequence = v & 0xffffffffULL;
    if (producer >= producers || producer != r.index())
      hb::note_error(tally, "value from the wrong producer or channel", v);
    else if (sequence < next_sequence[producer])
      hb::note_error(tally, "a producer's values arrived out of order or twice", v);
    else
      next_sequence[producer] = sequence + 1;
    tally.mixed_sum += hb::mix64(v);
    ++tally.count;
  }
}

struct recv_shape {
  unsigned producers;  // producer i pushes into channel i; channels beyond `producers` stay idle
  std::size_t capacity;
};

struct run_totals {
  double cpu_seconds = 0;
  double items = 0;
  hb::team_switches switches;
};

void finish_row(benchmark::State& state, const run_totals& t, const char* what, unsigned threads) {
  state.SetItemsProcessed(static_cast<std::int64_t>(t.items));
  state.counters["cpu_ns_per_msg"] = benchmark::Counter(t.cpu_seconds * 1e9 / t.items);
  state.counters["blocks_per_kmsg"] =
      benchmark::Counter(static_cast<double>(t.switches.voluntary) * 1e3 / t.items);
  state.counters["preempts_per_kmsg"] =
      benchmark::Counter(static_cast<double>(t.switches.involuntary) * 1e3 / t.items);
  state.SetLabel(std::string(what) + (hb::thread_team::pins(threads) ? "; pinned" : "; unpinned"));
}

// Verifies the tallies of a run; empty when it was right.
std::string check_tallies(const std::vector<hb::consumer_tally>& tallies, std::uint64_t total,
                          std::uint64_t expected_sum) {
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  for (const auto& t : tallies) {
    if (t.error != nullptr)
      return std::string(t.error) + " (value " + std::to_string(t.bad_value >> 32) + ":" +
             std::to_string(t.bad_value & 0xffffffffULL) + ")";
    count += t.count;
    sum += t.mixed_sum;
  }
  if (count != total)
    return "received " + std::to_string(count) + " values, expected " + std::to_string(total);
  if (sum != expected_sum) return "checksum mismatch: a value was lost, duplicated or altered";
  return {};
}

// select_recv and select_idle: `shape.producers` producers, N channels, one selecting consumer.
template <std::size_t N>
void run_recv(benchmark::State& state, const std::string& name, recv_shape shape, std::uint64_t messages) {
  const unsigned p = shape.producers;
  const std::uint64_t per_producer = messages / p > 0 ? messages / p : 1;
  const std::uint64_t total = per_producer * p;
  std::uint64_t expected_sum = 0;
  for (unsigned producer = 0; producer < p; ++producer)
    for (std::uint64_t s = 0; s < per_producer; ++s) expected_sum += hb::mix64(hb::message(producer, s));

  run_totals totals;
  std::vector<hb::consumer_tally> tallies(1);
  for (auto _ : state) {
    channels chans = make_channels(N, shape.capacity);
    tallies.assign(1, hb::consumer_tally{});
    const double cpu_before = hb::process_cpu_seconds();
    const double seconds = hb::thread_team::run(
        p + 1,
        [&](unsigned i) {
          if (i < p) {
            for (std::uint64_t s = 0; s < per_producer; ++s) (void)chans[i]->push(hb::message(i, s));
          } else {
            select_consume<N>(chans, total, p, tallies[0]);
          }
        },
        &totals.switches);
    state.SetIterationTime(seconds);
    totals.cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    totals.items += static_cast<double>(total);
    if (const std::string error = check_tallies(tallies, total, expected_sum); !error.empty()) {
      hb::report_failure(state, name, error);
      return;
    }
  }
  finish_row(state, totals, "select pop", p + 1);
}

// select_send: one producer selects a push over N channels; one plain consumer per channel pops until closed.
template <std::size_t N>
void run_send(benchmark::State& state, const std::string& name, std::size_t capacity,
              std::uint64_t messages) {
  std::uint64_t expected_sum = 0;
  for (std::uint64_t s = 0; s < messages; ++s) expected_sum += hb::mix64(hb::message(0, s));

  run_totals totals;
  std::vector<hb::consumer_tally> tallies(N);
  for (auto _ : state) {
    channels chans = make_channels(N, capacity);
    tallies.assign(N, hb::consumer_tally{});
    const double cpu_before = hb::process_cpu_seconds();
    const double seconds = hb::thread_team::run(
        N + 1,
        [&](unsigned i) {
          if (i == 0) {
            std::uint64_t v = 0;
            auto cases = push_cases<N>(chans, v, std::make_index_sequence<N>{});
            for (std::uint64_t s = 0; s < messages; ++s) {
              v = hb::message(0, s);
              if (!select_all(cases)) hb::note_error(tallies[0], "a select push did not complete with ok", s);
            }
            for (auto& c : chans) c->close();
            return;
          }
          hb::consumer_tally& tally = tallies[i - 1];
          std::uint64_t next_sequence = 0;
          while (std::optional<std::uint64_t> v = chans[i - 1]->pop()) {
            if ((*v >> 32) != 0 || (*v & 0xffffffffULL) < next_sequence)
              hb::note_error(tally, "a value arrived out of order, twice or from nowhere", *v);
            else
              next_sequence = (*v & 0xffffffffULL) + 1;
            tally.mixed_sum += hb::mix64(*v);
            ++tally.count;
          }
        },
        &totals.switches);
    state.SetIterationTime(seconds);
    totals.cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    totals.items += static_cast<double>(messages);
    if (const std::string error = check_tallies(tallies, messages, expected_sum); !error.empty()) {
      hb::report_failure(state, name, error);
      return;
    }
  }
  finish_row(state, totals, "select push", N + 1);
}

// select_pingpong: each thread pushes into the other's data stream and selects over {its data, stop}.
void run_pingpong(benchmark::State& state, const std::string& name, std::uint64_t round_trips) {
  run_totals totals;
  for (auto _ : state) {
    channel to_pinger{1};
    channel to_ponger{1};
    channel stop{0};  // never fires
    std::atomic<std::uint64_t> wrong_answers{0};
    const double cpu_before = hb::process_cpu_seconds();
    const double seconds = hb::thread_team::run(
        2,
        [&](unsigned i) {
          channel& inbound = i == 0 ? to_pinger : to_ponger;
          channel& outbound = i == 0 ? to_ponger : to_pinger;
          std::array cases{handoff::on_pop(inbound), handoff::on_pop(stop)};
          for (std::uint64_t n = 0; n < round_trips; ++n) {
            if (i == 0) (void)outbound.push(std::uint64_t{n});
            const handoff::selected r = select_all(cases);
            const bool through_data = r && r.index() == 0;
            const std::uint64_t v = through_data ? *cases[0].value : ~std::uint64_t{0};
            cases[0].value.reset();
            // relaxed: a tally read after the team has joined.
            if (!through_data || (i == 0 && v != n)) wrong_answers.fetch_add(1, std::memory_order_relaxed);
            if (i == 1) (void)outbound.push(std::uint64_t{v});
          }
        },
        &totals.switches);
    state.SetIterationTime(seconds);
    totals.cpu_seconds += hb::process_cpu_seconds() - cpu_before;
    totals.items += static_cast<double>(round_trips);
    if (const std::uint64_t wrong = wrong_answers.load(std::memory_order_relaxed); wrong != 0) {
      hb::report_failure(state, name, std::to_string(wrong) + " answers were wrong or came from stop");
      return;
    }
  }
  finish_row(state, totals, "round trips", 2);
}

void manual_rows(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(hb::min_time());
}

template <class Run>
void register_row(const std::string& row, Run run) {
  hb::register_pinnings(row + "/" + peer_name, run, manual_rows);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string text;
  std::uint64_t messages = 1000000;
  std::uint64_t round_trips = 10000;
  if (hb::take_flag(argc, argv, "messages", &text)) messages = std::stoull(text);
  if (hb::take_flag(argc, argv, "round-trips", &text)) round_trips = std::stoull(text);
  (void)hb::take_flag(argc, argv, "full");  // accepted for scripts/bench.sh; the rows are the same
  hb::add_machine_context();
  benchmark::AddCustomContext("handoff_messages_per_run", std::to_string(messages));
  benchmark::AddCustomContext("handoff_round_trips_per_run", std::to_string(round_trips));

  register_row("select_recv/2x1/chans:2/cap:1024", [messages](benchmark::State& s, const std::string& n) {
    run_recv<2>(s, n, {2, 1024}, messages);
  });
  register_row("select_recv/2x1/chans:2/cap:0", [messages](benchmark::State& s, const std::string& n) {
    run_recv<2>(s, n, {2, 0}, messages / 10);
  });
  register_row("select_recv/8x1/chans:8/cap:1024", [messages](benchmark::State& s, const std::string& n) {
    run_recv<8>(s, n, {8, 1024}, messages);
  });
  register_row("select_idle/1x1/chans:8/cap:1024", [messages](benchmark::State& s, const std::string& n) {
    run_recv<8>(s, n, {1, 1024}, messages);
  });
  register_row("select_send/1x4/chans:4/cap:16",
               [messages](benchmark::State& s, const std::string& n) { run_send<4>(s, n, 16, messages); });
  register_row("select_pingpong/chans:2/cap:1",
               [round_trips](benchmark::State& s, const std::string& n) { run_pingpong(s, n, round_trips); });
  return hb::run_and_exit_code(argc, argv);
}
