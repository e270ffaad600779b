// docs/choosing.md, "stream": a writer-driven, buffered hand-off. The producer pushes at its own pace and
// waits only when `capacity` values are queued (the bound protects memory); each value goes to exactly one
// consumer; close() lets the consumers drain what is left and stop.
#include <handoff/stream.hpp>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

int main() {
  handoff::stream<int> jobs{64};  // at most 64 queued jobs
  std::atomic<long> total{0};
  std::vector<std::jthread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      for (int job : jobs) total += job;  // pops until the stream is closed and drained (ST-7)
    });
  }
  for (int job = 1; job <= 1000; ++job) jobs.push(job);  // waits only while 64 jobs are queued (ST-2)
  jobs.close();                                          // ST-5: no more jobs; the buffered ones still run
  workers.clear();                                       // join
  std::printf("2 workers processed jobs 1..1000, sum %ld\n", total.load());
  return total.load() == 500500 ? 0 : 1;
}
