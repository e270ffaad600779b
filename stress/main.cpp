// handoff_stress: runs every registered scenario (or --only NAME) for a time budget and prints one summary
// line. Usage: handoff_stress [--seconds S] [--minutes M] [--seed N] [--threads T] [--only SUBSTRING]
// [--list]
//   --seconds is the total budget, split evenly over the selected scenarios; the seed defaults to a fresh one
//   (printed), so every run explores new interleavings and any failure can be replayed with --seed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "stress.hpp"

namespace stress {
std::map<std::string, scenario_fn>& registry();
}

int main(int argc, char** argv) {
  double total_seconds = 20;
  std::uint64_t seed =
      std::random_device{}() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  seed &= 0xffffffffull;
  unsigned threads = 0;
  std::string only;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--seconds"))
      total_seconds = std::atof(argv[++i]);
    else if (arg("--minutes"))
      total_seconds = 60 * std::atof(argv[++i]);
    else if (arg("--seed"))
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg("--threads"))
      threads = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (arg("--only"))
      only = argv[++i];
    else if (std::strcmp(argv[i], "--list") == 0)
      list = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--seconds S] [--minutes M] [--seed N] [--threads T] [--only NAME] [--list]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<std::pair<std::string, stress::scenario_fn*>> selected;
  for (auto& [name, fn] : stress::registry())
    if (only.empty() || name.find(only) != std::string::npos) selected.emplace_back(name, &fn);
  if (list) {
    for (auto& s : selected) std::printf("%s\n", s.first.c_str());
    return 0;
  }
  if (selected.empty()) {
    std::fprintf(stderr, "no scenario matches '%s'\n", only.c_str());
    return 2;
  }
  // Block timing (handoff/debug.hpp, OB-3) on for odd seeds: its path (a served waiter adding its parked
  // time to a channel its partner may be about to destroy, under the pin of detail/channel_info.hpp) then
  // runs under the sanitizers too.
  const bool block_timing = (seed & 1) != 0;
  handoff::debug::set_block_timing(block_timing);
  std::printf("handoff_stress: %zu scenarios, %.0f s, seed %llu (replay: --seed %llu), block timing %s\n",
              selected.size(), total_seconds, static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed), block_timing ? "on" : "off");
  std::uint64_t ops = 0, lost = 0, dup = 0, reord = 0, invented = 0, failures = 0;
  for (auto& [name, fn] : selected) {
    stress::options o;
    o.seconds_per_scenario = total_seconds / static_cast<double>(selected.size());
    o.seed = seed;
    o.threads = threads;
    stress::context ctx(o, name);
    (*fn)(ctx);
    std::printf("  %-40s ops=%-10llu lost=%llu duplicated=%llu reordered=%llu invented=%llu failures=%llu\n",
                name.c_str(), static_cast<unsigned long long>(ctx.operations()),
                static_cast<unsigned long long>(ctx.lost), static_cast<unsigned long long>(ctx.duplicated),
                static_cast<unsigned long long>(ctx.reordered), static_cast<unsigned long long>(ctx.invented),
                static_cast<unsigned long long>(ctx.failures));
    std::fflush(stdout);
    ops += ctx.operations();
    lost += ctx.lost;
    dup += ctx.duplicated;
    reord += ctx.reordered;
    invented += ctx.invented;
    failures += ctx.failures;
  }
  const bool ok = lost == 0 && dup == 0 && reord == 0 && invented == 0 && failures == 0;
  std::printf(
      "stress: operations=%llu lost=%llu duplicated=%llu reordered=%llu invented=%llu hangs=0 failures=%llu"
      " seed=%llu: %s\n",
      static_cast<unsigned long long>(ops), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(dup), static_cast<unsigned long long>(reord),
      static_cast<unsigned long long>(invented), static_cast<unsigned long long>(failures),
      static_cast<unsigned long long>(seed), ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
