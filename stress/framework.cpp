// Implementation of stress/stress.hpp: registry, ledger, per-scenario watchdog.
#include "stress.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

namespace stress {

std::map<std::string, scenario_fn>& registry() {
  static std::map<std::string, scenario_fn> r;
  return r;
}

void register_scenario(std::string name, scenario_fn fn) {
  registry().emplace(std::move(name), std::move(fn));
}

// ---- ledger
// --------------------------------------------------------------------------------------------------
namespace {
constexpr std::uint8_t kSent = 1, kReceived = 2, kReturned = 4;
}

ledger::ledger(unsigned producers, std::uint64_t max_per_producer)
    : producers_(producers),
      max_(max_per_producer),
      receipts_(std::make_unique<std::atomic<std::uint8_t>[]>(producers * max_per_producer)) {}

void ledger::sent(std::uint64_t value) {
  const std::uint64_t p = value >> 32, s = value & 0xffffffffu;
  if (p >= producers_ || s >= max_) std::abort();  // a scenario bug, not a primitive bug
  receipts_[p * max_ + s].fetch_or(kSent, std::memory_order_relaxed);
}

void ledger::returned(std::uint64_t value) {
  const std::uint64_t p = value >> 32, s = value & 0xffffffffu;
  if (p >= producers_ || s >= max_) std::abort();
  receipts_[p * max_ + s].fetch_or(kReturned, std::memory_order_relaxed);
}

void ledger::received(std::uint64_t value, std::vector<std::int64_t>& last_seen) {
  const std::uint64_t p = value >> 32, s = value & 0xffffffffu;
  if (p >= producers_ || s >= max_) {
    invented_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  delivered_.fetch_add(1, std::memory_order_relaxed);
  if (receipts_[p * max_ + s].fetch_or(kReceived, std::memory_order_relaxed) & kReceived)
    duplicated_.fetch_add(1, std::memory_order_relaxed);
  if (static_cast<std::int64_t>(s) <= last_seen[p]) reordered_.fetch_add(1, std::memory_order_relaxed);
  last_seen[p] = static_cast<std::int64_t>(s);
}

void ledger::received_unordered(std::uint64_t value) {
  const std::uint64_t p = value >> 32, s = value & 0xffffffffu;
  if (p >= producers_ || s >= max_) {
    invented_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  delivered_.fetch_add(1, std::memory_order_relaxed);
  if (receipts_[p * max_ + s].fetch_or(kReceived, std::memory_order_relaxed) & kReceived)
    duplicated_.fetch_add(1, std::memory_order_relaxed);
}

void ledger::settle() {
  lost_ = 0;
  for (std::uint64_t i = 0; i < producers_ * max_; ++i) {
    const std::uint8_t r = receipts_[i].load(std::memory_order_relaxed);
    const bool was_sent = r & kSent, got = r & kReceived, back = r & kReturned;
    if (was_sent && !got) ++lost_;                          // pushed successfully, never popped
    if (back && got) duplicated_.fetch_add(1);              // returned to the producer and also delivered
    if (!was_sent && !back && got) invented_.fetch_add(1);  // delivered but never reported sent (or returned)
  }
}

// ---- context + watchdog
// --------------------------------------------------------------------------------------
namespace {
// A blocked call that makes no progress for this long is a hang. Generous: TSan and oversubscription on 2
// cores slow everything down, and the bound only has to turn "forever" into a report.
constexpr auto kHangBound = std::chrono::seconds(30);

// handoff's deadlock watchdog for one scenario: a report names the stuck threads' streams and the replay.
handoff::debug::watchdog::options deadlock_options(const std::string& scenario, std::uint64_t seed) {
  handoff::debug::watchdog::options o;
  o.poll_interval = std::chrono::seconds(2);  // two polls: 4 s with every waiting thread parked for good
  o.context = "DEADLOCK [" + scenario + " seed=" + std::to_string(seed) +
              "]; replay: handoff_stress --only " + scenario + " --seed " + std::to_string(seed);
  return o;  // the default handler prints the report and aborts
}
}  // namespace

context::context(const options& o, std::string scenario)
    : opts_(o),
      scenario_(std::move(scenario)),
      end_(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(o.seconds_per_scenario))),
      watchdog_([this] { watch(); }),
      deadlock_watch_(deadlock_options(scenario_, o.seed)) {}

context::~context() {
  stop_.store(true);
  watchdog_.join();
}

heartbeat& context::new_heartbeat(std::string name) {
  std::lock_guard lock(mutex_);
  beats_.push_back(std::make_unique<heartbeat>());
  beats_.back()->name = std::move(name);
  return *beats_.back();
}

void context::add_ledger(const ledger& l) {
  lost += l.lost();
  duplicated += l.duplicated();
  reordered += l.reordered();
  invented += l.invented();
}

void context::fail(const std::string& what) {
  std::lock_guard lock(mutex_);
  ++failures;
  std::fprintf(stderr, "FAIL [%s seed=%llu]: %s\n", scenario_.c_str(),
               static_cast<unsigned long long>(opts_.seed), what.c_str());
}

void context::watch() {
  struct seen {
    std::uint64_t progress = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::map<const heartbeat*, seen> last;
  while (!stop_.load()) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(100));  // the watchdog's own polling, not synchronisation
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    for (auto& b : beats_) {
      const char* op = b->operation.load(std::memory_order_relaxed);
      const std::uint64_t p = b->progress.load(std::memory_order_relaxed);
      auto [it, fresh] = last.try_emplace(b.get(), seen{p, now});
      if (fresh || it->second.progress != p || op == nullptr) {
        it->second = seen{p, now};
        continue;
      }
      if (now - it->second.since > kHangBound) {
        std::fprintf(stderr, "HANG [%s seed=%llu]: thread '%s' blocked in %s for over %llds\n",
                     scenario_.c_str(), static_cast<unsigned long long>(opts_.seed), b->name.c_str(), op,
                     static_cast<long long>(kHangBound.count()));
        for (auto& o : beats_) {
          const char* oop = o->operation.load(std::memory_order_relaxed);
          std::fprintf(stderr, "  thread '%s': %s\n", o->name.c_str(), oop ? oop : "(running)");
        }
        std::fflush(stderr);
        handoff::debug::dump_blocked(std::cerr);  // what each thread parked in handoff waits on
        std::fprintf(stderr, "replay: handoff_stress --only %s --seed %llu\n", scenario_.c_str(),
                     static_cast<unsigned long long>(opts_.seed));
        std::fflush(stderr);
        std::abort();
      }
    }
  }
}

}  // namespace stress
