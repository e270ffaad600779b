// A little use of every primitive, for the neighbours tests: instantiates the templates (where a macro could
// still break a dependent name) and runs each once. Include after neighbours.hpp and handoff/handoff.hpp.
// Returns the number of failed checks, each printed.
#pragma once

#include <chrono>
#include <cstdio>
#include <thread>

namespace handoff_neighbours {

inline int check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "neighbours: FAILED: %s\n", what);
  return ok ? 0 : 1;
}

inline int use_handoff() {
  int failures = 0;

  handoff::mvar<int> box;
  std::thread putter([&] { box.put(1); });
  failures += check(box.take() == 1, "mvar put/take across threads");
  putter.join();
  const handoff::result<int> none = box.take_for(std::chrono::milliseconds(0));
  failures += check(!none && none.status() == handoff::status::timeout, "mvar take_for(0) times out");
  failures += check(handoff::to_string(handoff::status::timeout) != nullptr, "status to_string");

  handoff::stream<int> bounded(4);
  for (int i = 1; i <= 3; ++i) failures += check(bounded.push(i), "stream push");
  bounded.close();
  const long total = handoff::fold(
      handoff::map(handoff::filter(bounded, [](int x) { return x != 2; }), [](int x) { return 10 * x; }),
      [](long acc, int x) { return acc + x; }, 0L);
  failures += check(total == 40, "stream + filter/map/fold adapters");

  handoff::stream<int> unbounded(handoff::unbounded);
  failures += check(unbounded.push(5) && unbounded.try_pop().value_or(0) == 5, "unbounded stream");

  handoff::topic<int> news(2);
  auto subscriber = news.subscribe();
  failures += check(news.publish(7) == 1, "topic publish");
  failures += check(subscriber.pop().value_or(0) == 7, "topic subscription pop");

  handoff::condition<int> values;
  failures += check(values.signal(3) == 0, "condition signal without waiters");
  handoff::condition<> event;
  failures += check(event.broadcast() == 0, "condition<void> broadcast without waiters");
  return failures;
}

}  // namespace handoff_neighbours
