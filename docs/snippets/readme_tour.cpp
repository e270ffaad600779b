// The README's quick tour: each primitive in a few lines. The README quotes the parts between the
// "// --" marker lines of each function; CI compiles and runs this file (ctest snippet_readme_tour).
#include <sys/epoll.h>
#include <unistd.h>
#include <handoff/condition.hpp>
#include <handoff/coroutine.hpp>
#include <handoff/eventfd_notifier.hpp>
#include <handoff/mvar.hpp>
#include <handoff/select.hpp>
#include <handoff/stream.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <latch>
#include <stop_token>
#include <string>
#include <thread>

namespace {

bool mvar_tour() {
  // -- mvar
  handoff::mvar<std::string> reply;                 // an empty box
  std::jthread server([&] { reply.put("pong"); });  // put: returns at once; waits only while the box is full
  std::string answer = reply.take();                // take: waits until the box is full, and empties it
  // -- end
  return answer == "pong";
}

bool condition_tour() {
  // -- condition
  handoff::condition<std::string> config_changed;  // stores nothing: a queue of waiting threads
  std::jthread watcher([&](std::stop_token stop) {
    while (auto path = config_changed.wait(stop)) std::printf("watcher: reload %s\n", path->c_str());
  });  // (the jthread's destructor requests stop: the wait returns nullopt and the loop ends)
  std::size_t woken =
      config_changed.broadcast("app.toml");  // the threads waiting right now; returns how many
  // -- end
  return woken <= 1;
}

bool stream_tour() {
  std::atomic<long> sum{0};
  auto process = [&](int job) { sum += job; };
  {
    // -- stream
    handoff::stream<int> jobs{128};  // bounded: push waits while 128 jobs are queued
    std::jthread worker([&] {
      for (int job : jobs) process(job);  // pops until the stream is closed and drained
    });
    for (int job = 1; job <= 1000; ++job) jobs.push(job);
    jobs.close();  // the worker finishes what is queued, then its loop ends
    // -- end
  }
  return sum == 500500;
}

bool forms_tour() {
  using namespace std::chrono_literals;
  long sum = 0;
  auto process = [&](int job) { sum += job; };
  handoff::stream<int> jobs{16};
  for (int job = 1; job <= 5; ++job) jobs.push(job);
  // -- forms
  for (int job : jobs) {  // a range-for pops a value only when it delivers it: the break leaves 3, 4, 5
    process(job);
    if (job == 2) break;
  }
  std::stop_source shutdown;
  for (;;) {
    handoff::result<int> job = jobs.pop_for(10ms, shutdown.get_token());  // deadline and stop token together
    if (!job) {  // a result<T> is a std::optional<T> that also says why it is empty
      std::printf("no job: %s\n", handoff::to_string(job.status()));  // timeout, cancelled or closed
      break;
    }
    process(*job);
  }
  // -- end
  return sum == 15;
}

bool select_tour() {
  long served = 0;
  auto serve = [&](int request) { served += request; };
  handoff::stream<int> requests{64};
  handoff::mvar<std::string> shutdown;
  std::jthread client([&] {
    for (int r = 1; r <= 3; ++r) requests.push(r);
    shutdown.put("bye");
  });
  // -- select
  auto request = handoff::on_pop(requests);  // a case: one operation on one channel, holding its value
  auto stop = handoff::on_take(shutdown);
  for (bool running = true; running;) {
    handoff::selected r = handoff::select(request, stop);  // waits until exactly one case completes
    running = r.index() == 0;            // case 1 is the shutdown: then no request was consumed
    if (running) serve(*request.value);  // a request (the shutdown, if any, is still in its mvar)
  }
  // -- end
  while (auto left = requests.try_pop()) serve(*left);  // requests that came after the shutdown
  return served == 6 && stop.value == std::optional<std::string>("bye");
}

bool event_loop_tour() {
  handoff::stream<int> jobs{128};
  std::jthread producer([&] {
    for (int job = 1; job <= 1000; ++job) jobs.push(job);
    jobs.close();
  });
  long sum = 0;
  auto process = [&](int job) { sum += job; };
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  // -- event loop
  handoff::eventfd_notifier wake;  // a descriptor in the loop's epoll set, beside its sockets and timers
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(epfd, EPOLL_CTL_ADD, wake.fd(), &ev);
  auto watch = jobs.watch(wake.notifier());
  for (bool open = true; open;) {
    for (;;) {  // drain without blocking
      handoff::result<int> job = jobs.try_pop();
      if (!job) {
        open = job.status() != handoff::status::closed;
        break;
      }
      process(*job);
    }
    if (open && watch.arm() == handoff::readiness::armed) {  // empty: wake me after the next push or close
      epoll_wait(epfd, &ev, 1, -1);
      wake.consume();
    }
  }
  // -- end
  close(epfd);
  return sum == 500500;
}

// The smallest coroutine type: starts at once, frees itself at the end. handoff's awaiters need nothing of
// the promise, so any coroutine type (a task library's, asio's through handoff::asio_executor) works.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// -- coroutine
detached sum_jobs(handoff::stream<int>& jobs, handoff::thread_pool::executor_type ex, long& sum,
                  std::latch& done) {
  while (handoff::result<int> job = co_await jobs.async_pop(ex))  // suspends; never blocks a pool thread
    sum += *job;
  done.count_down();  // closed and drained
}
// -- end

bool coroutine_tour() {
  long sum = 0;
  std::latch done(1);
  {
    // -- coroutine use
    handoff::thread_pool pool(2);
    handoff::stream<int> jobs{64};
    sum_jobs(jobs, pool.executor(), sum, done);            // waits in the same FIFO as blocked threads
    for (int job = 1; job <= 1000; ++job) jobs.push(job);  // a plain thread feeds it
    jobs.close();
    done.wait();
    // -- end
  }
  return sum == 500500;
}

}  // namespace

int main() {
  const bool ok = mvar_tour() && condition_tour() && stream_tour() && forms_tour() && select_tour() &&
                  event_loop_tour() && coroutine_tour();
  std::puts(ok ? "readme tour: ok" : "readme tour: FAILED");
  return ok ? 0 : 1;
}
