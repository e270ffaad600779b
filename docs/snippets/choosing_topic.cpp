// docs/choosing.md, "topic": fan-out. Every subscriber sees every value published after it subscribed,
// each through its own bounded buffer (the publisher waits when a subscriber falls that far behind).
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
  auto read_all = [&](const char* who, auto& subscription) {
    while (auto item = subscription.pop()) {  // until close() and this subscriber's buffer is drained
      std::printf("%s reads %s\n", who, item->c_str());
      ++seen;
    }
  };
  std::jthread a([&] { read_all("alice", alice); });
  std::jthread b([&] { read_all("bob", bob); });
  news.publish("hello");  // a copy for alice and one for bob
  news.publish("bye");
  news.close();
  a.join();
  b.join();
  return seen == 4 ? 0 : 1;
}
