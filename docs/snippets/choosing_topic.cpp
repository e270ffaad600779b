// docs/choosing.md, "topic": fan-out. Every subscriber sees every value published after it subscribed,
// each through its own bounded buffer (the publisher waits when a subscriber falls that far behind).
#if __has_include(<handoff/topic.hpp>)
#include <handoff/topic.hpp>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

int main() {
  handoff::topic<std::string> news{16};  // up to 16 unread values per subscriber
  auto alice = news.subscribe();
  auto bob = news.subscribe();
  std::atomic<int> seen{0};
  std::jthread a([&] {
    while (auto item = alice.pop()) std::printf("alice reads %s\n", item->c_str()), ++seen;
  });
  std::jthread b([&] {
    while (auto item = bob.pop()) std::printf("bob reads %s\n", item->c_str()), ++seen;
  });
  news.publish("hello");  // a copy for alice and one for bob
  news.publish("bye");
  news.close();  // subscribers drain what was published, then pop() returns nullopt
  a.join();
  b.join();
  return seen == 4 ? 0 : 1;
}
#else
#include <cstdio>

int main() {
  std::puts("choosing_topic: <handoff/topic.hpp> is not in this tree yet; nothing to run");
  return 0;
}
#endif
