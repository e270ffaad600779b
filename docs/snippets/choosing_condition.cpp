// docs/choosing.md, "condition": a condition stores nothing. broadcast() hands its value to the threads
// waiting right now, a copy each; a value nobody waits for is dropped, and the returned count says so.
#include <handoff/condition.hpp>

#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

int main() {
  std::mutex m;
  int registered = 0;
  handoff::condition<void> all_registered;  // the std::condition_variable vocabulary (CO-8)
  handoff::condition<int> new_config;       // carries a value to whoever waits
  std::vector<std::jthread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      std::unique_lock lock(m);
      ++registered;
      all_registered.notify_all();
      const int version = new_config.wait(lock);  // registers, releases m, waits, re-locks (CO-6)
      std::printf("worker %d applies config %d\n", w, version);
    });
  }
  std::unique_lock lock(m);
  all_registered.wait(lock, [&] { return registered == 3; });  // all three now wait on new_config
  lock.unlock();
  const std::size_t got_7 = new_config.broadcast(7);  // every waiting worker, concurrently (CO-4)
  const std::size_t got_8 = new_config.signal(8);     // nobody waits any more: 8 is dropped (CO-3)
  std::printf("config 7 reached %zu workers, config 8 reached %zu\n", got_7, got_8);
  return got_7 == 3 && got_8 == 0 ? 0 : 1;
}
