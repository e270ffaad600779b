// The README's "When a program hangs": two workers, each popping the stream the other would push to next,
// under handoff::debug::watchdog. The README quotes the part between the "// --" marker lines and the
// report this program printed in a real run; CI compiles and runs it (ctest snippet_deadlock_report). Here
// the handler prints the report and then breaks the deadlock by closing the streams, so the run ends
// cleanly; the default handler prints it and aborts.
#include <handoff/debug.hpp>
#include <handoff/stream.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

int main() {
  using namespace std::chrono_literals;
  std::atomic<bool> reported{false};
  handoff::stream<int> to_a(4, handoff::name("to-A"));
  handoff::stream<int> to_b(4, handoff::name("to-B"));
  // -- deadlock
  handoff::debug::watchdog::options options;
  options.poll_interval = 100ms;  // reports after two polls in which no stuck thread moved
  options.context = "demo: two workers, each popping what the other would push";
  options.on_deadlock = [&](const std::string& report) {  // default: print the report and abort()
    std::fputs(report.c_str(), stdout);
    reported = true;
    to_a.close();  // this demo then ends the deadlock
    to_b.close();
  };
  handoff::debug::watchdog watchdog(options);
  std::jthread a([&] {
    if (auto v = to_a.pop()) (void)to_b.push(*v);
  });
  std::jthread b([&] {
    if (auto v = to_b.pop()) (void)to_a.push(*v);
  });
  // -- end
  a.join();
  b.join();
  return reported ? 0 : 1;
}
