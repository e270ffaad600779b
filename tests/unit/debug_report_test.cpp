// handoff/debug.hpp: names (OB-1), the blocked-thread dump (OB-4), the deadlock watchdog (OB-6).
// Every wait here is a handshake on the dump itself (until(): the thread is listed as parked), never a sleep;
// the watchdog's poll interval only paces it, and the tests count its polls instead of timing them.
#include <handoff/condition.hpp>
#include <handoff/debug.hpp>
#include <handoff/mvar.hpp>
#include <handoff/select.hpp>
#include <handoff/stream.hpp>
#include <handoff/topic.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace {

using namespace std::chrono_literals;
namespace debug = handoff::debug;
using handoff_test::until;

// The record of thread `tid` in the dump, if it is parked now.
std::optional<debug::blocked_thread> parked(long tid, bool with_facts = false) {
  for (debug::blocked_thread& t : debug::blocked_threads(with_facts))
    if (t.thread_id == tid) return std::move(t);
  return std::nullopt;
}

constexpr int round_value = 42;

// Runs f on a new thread; tid() is that thread's id once it has started.
class worker {
 public:
  template <class F>
  explicit worker(F f)
      : thread_([this, f = std::move(f)]() mutable {
          tid_.store(debug::this_thread_id());
          f();
        }) {}
  ~worker() { thread_.join(); }
  long tid() {
    until([&] { return tid_.load() != 0; }, "worker started");
    return tid_.load();
  }
  // Blocks until the worker is listed as parked, and returns its record.
  debug::blocked_thread await_parked(bool with_facts = false) {
    const long id = tid();
    std::optional<debug::blocked_thread> t;
    until([&] { return (t = parked(id, with_facts)).has_value(); }, "worker listed as parked");
    return *t;
  }

 private:
  std::atomic<long> tid_{0};
  std::thread thread_;
};

// OB-1: a name given at construction is kept, and empty when none is given.
TEST(Names, EveryPrimitiveKeepsItsName) {
  handoff::stream<int> s(4, handoff::name("rx"));
  handoff::stream<int> u(handoff::unbounded, handoff::name("backlog"));
  handoff::mvar<int> m(handoff::name("reply"));
  handoff::mvar<int> full(7, handoff::name("seeded"));
  handoff::condition<int> c(handoff::name("tick"));
  handoff::condition<void> cv(handoff::name("ready"));
  handoff::topic<int> t(8, handoff::name("news"));
  EXPECT_EQ(s.name(), "rx");
  EXPECT_EQ(u.name(), "backlog");
  EXPECT_EQ(m.name(), "reply");
  EXPECT_EQ(full.name(), "seeded");
  EXPECT_EQ(*full.try_take(), 7);
  EXPECT_EQ(c.name(), "tick");
  EXPECT_EQ(cv.name(), "ready");
  EXPECT_EQ(t.name(), "news");
  handoff::stream<int> anonymous(4);
  EXPECT_TRUE(anonymous.name().empty());
}

// OB-4: a parked pop is listed with its stream's name and operation, no deadline, no stop token; the
// record is cleared when the wait ends.
TEST(BlockedDump, ListsAParkedPopAndClearsItAfterwards) {
  handoff::stream<int> s(4, handoff::name("rx"));
  std::optional<int> got;
  long id = 0;
  {
    worker w([&] { got = s.pop(); });
    id = w.tid();
    const debug::blocked_thread t = w.await_parked(true);
    ASSERT_EQ(t.cases.size(), 1u);
    EXPECT_EQ(t.cases[0].channel, "stream \"rx\"");
    EXPECT_EQ(t.cases[0].operation, "pop");
    EXPECT_FALSE(t.has_deadline);
    EXPECT_FALSE(t.stoppable);
    EXPECT_NE(t.cases[0].facts.find("open, 0 buffered (capacity 4)"), std::string::npos) << t.cases[0].facts;
    EXPECT_NE(t.cases[0].facts.find("1 popper"), std::string::npos) << t.cases[0].facts;
    const std::string line = debug::format(t);
    EXPECT_NE(line.find("thread " + std::to_string(id) + " [stream \"rx\" pop, "), std::string::npos) << line;
    EXPECT_NE(line.find("no deadline, no stop token"), std::string::npos) << line;
    std::ostringstream dump;
    debug::dump_blocked(dump);
    EXPECT_NE(dump.str().find("[stream \"rx\" pop"), std::string::npos) << dump.str();
    ASSERT_TRUE(s.push(5));
  }
  EXPECT_EQ(got, 5);
  EXPECT_FALSE(parked(id).has_value());
}

// OB-4: the deadline and the stop token of a wait are in its record; an unnamed primitive is labelled by
// its kind and address.
TEST(BlockedDump, ShowsDeadlineAndStopToken) {
  handoff::mvar<int> m;
  std::stop_source stop;
  worker w([&] { EXPECT_EQ(m.take_for(1h, stop.get_token()).status(), handoff::status::cancelled); });
  const debug::blocked_thread t = w.await_parked();
  ASSERT_EQ(t.cases.size(), 1u);
  EXPECT_EQ(t.cases[0].channel.rfind("mvar 0x", 0), 0u) << t.cases[0].channel;
  EXPECT_EQ(t.cases[0].operation, "take");
  EXPECT_TRUE(t.has_deadline);
  EXPECT_GT(t.deadline_in, 30min);
  EXPECT_TRUE(t.stoppable);
  EXPECT_NE(debug::format(t).find("deadline in "), std::string::npos);
  stop.request_stop();
}

// OB-4: every case of a parked select is listed (a disabled case is not).
TEST(BlockedDump, ListsEveryCaseOfASelect) {
  handoff::stream<int> a(0, handoff::name("a"));
  handoff::stream<int> b(1, handoff::name("b"));
  handoff::mvar<int> m(handoff::name("m"));
  handoff::condition<void> c(handoff::name("c"));
  ASSERT_TRUE(b.push(0));  // full: the push case waits
  int v = 1;
  {
    worker w([&] {
      auto off = handoff::on_pop(a);
      off.disable();
      const handoff::selected r = handoff::select(handoff::on_pop(a), handoff::on_push(b, v),
                                                  handoff::on_take(m), handoff::on_wait(c), off);
      EXPECT_EQ(r.index(), 2u);
    });
    const debug::blocked_thread t = w.await_parked();
    ASSERT_EQ(t.case_count, 4u);
    ASSERT_EQ(t.cases.size(), 4u);
    EXPECT_EQ(t.cases[0].channel + " " + t.cases[0].operation, "stream \"a\" pop");
    EXPECT_EQ(t.cases[1].channel + " " + t.cases[1].operation, "stream \"b\" push");
    EXPECT_EQ(t.cases[2].channel + " " + t.cases[2].operation, "mvar \"m\" take");
    EXPECT_EQ(t.cases[3].channel + " " + t.cases[3].operation, "condition \"c\" wait");
    EXPECT_NE(debug::format(t).find("[select: stream \"a\" pop | stream \"b\" push | mvar \"m\" take | "
                                    "condition \"c\" wait, "),
              std::string::npos)
        << debug::format(t);
    m.put(3);
  }
}

// OB-5: the partner that served a parked waiter may destroy the primitive at once (G-9 allows it), while
// the served thread has not run yet, block timing is on (the served thread adds its parked time to the
// primitive) and another thread dumps with facts in a loop (it follows the record's pointers). Under ASan
// a use after free here is an error; the pin of detail/channel_info.hpp is what prevents it.
TEST(BlockedDump, PartnerMayDestroyAtOnceWhileReportsRun) {
  debug::set_block_timing(true);
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> dumps{0};
  std::thread dumper([&] {
    while (!stop.load()) {
      (void)debug::blocked_threads(true);
      dumps.fetch_add(1);
    }
  });
  for (int round = 0; round < 100; ++round) {
    auto* s = new handoff::stream<int>(0, handoff::name("short-lived"));
    worker w([s] { EXPECT_TRUE(s->push(round_value)); });
    w.await_parked();
    EXPECT_EQ(s->pop(), round_value);  // serves the parked pusher...
    delete s;                          // ...and destroys the stream before it may have run again
  }
  until([&] { return dumps.load() > 0; }, "a dump ran");
  stop = true;
  dumper.join();
  debug::set_block_timing(false);
}

#if defined(__unix__)
// OB-4: on the signal, a helper thread prints the dump (the handler only writes to a pipe).
TEST(BlockedDump, PrintsOnSignal) {
  ASSERT_TRUE(debug::dump_on_signal(SIGUSR2));
  handoff::stream<int> s(1, handoff::name("signalled"));
  worker w([&] { EXPECT_EQ(s.pop(), 3); });
  w.await_parked();
  const std::size_t before = debug::signal_dumps();
  testing::internal::CaptureStderr();
  std::raise(SIGUSR2);
  until([&] { return debug::signal_dumps() > before; }, "the signal's dump printed");
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(text.find("thread " + std::to_string(w.tid()) + " [stream \"signalled\" pop") !=
              std::string::npos)
      << text;
  ASSERT_TRUE(s.push(3));
}
#endif

// OB-4: in a 64-thread scenario the dump lists every parked thread.
TEST(BlockedDump, ListsEveryOneOfSixtyFourThreads) {
  constexpr int n = 64;
  std::vector<std::unique_ptr<handoff::stream<int>>> streams;
  for (int i = 0; i < n; ++i)
    streams.push_back(std::make_unique<handoff::stream<int>>(1, handoff::name("s" + std::to_string(i))));
  std::vector<std::unique_ptr<worker>> workers;
  for (int i = 0; i < n; ++i)
    workers.push_back(std::make_unique<worker>([&, i] { (void)streams[i]->pop(); }));
  std::vector<long> ids;
  for (auto& w : workers) ids.push_back(w->tid());
  until(
      [&] {
        const auto all = debug::blocked_threads();
        return std::all_of(ids.begin(), ids.end(), [&](long id) {
          return std::any_of(all.begin(), all.end(),
                             [&](const debug::blocked_thread& t) { return t.thread_id == id; });
        });
      },
      "all 64 threads listed");
  std::ostringstream dump;
  debug::dump_blocked(dump);
  for (int i = 0; i < n; ++i)
    EXPECT_NE(dump.str().find("[stream \"s" + std::to_string(i) + "\" pop"), std::string::npos) << i;
  for (auto& s : streams) s->close();
  workers.clear();
}

// OB-2: an unbounded stream's overflow blocks in use: linked while they hold values, the partly used tail
// block kept for the next overflow.
TEST(Stats, OverflowBlocksInUse) {
  using stream_t = handoff::stream<int>;
  stream_t s(handoff::unbounded);
  const int n = static_cast<int>(stream_t::unbounded_ring_size + stream_t::overflow_block_values + 1);
  for (int i = 0; i < n; ++i) ASSERT_TRUE(s.push(i));
  EXPECT_EQ(s.stats().overflow_blocks, 2u);
  for (int i = 0; i < n; ++i) ASSERT_EQ(s.pop(), i);
  EXPECT_EQ(s.stats().overflow_blocks, 1u);
  EXPECT_EQ(s.stats().pop, handoff::wait_stats{});  // nobody waited
}

// OB-3: with block timing on, the time a waiter spent parked is added to the primitive it waited on; off,
// nothing is added.
TEST(Stats, BlockTimingCountsParkedTimeOnlyWhenOn) {
  handoff::stream<int> s(1, handoff::name("timed"));
  auto park_once = [&] {
    worker w([&] { EXPECT_EQ(s.pop(), 1); });
    w.await_parked();
    ASSERT_TRUE(s.push(1));
  };
  ASSERT_FALSE(debug::block_timing());
  park_once();
  EXPECT_EQ(s.stats().blocked_ns, 0u);
  debug::set_block_timing(true);
  park_once();
  debug::set_block_timing(false);
  const std::uint64_t parked_ns = s.stats().blocked_ns;
  EXPECT_GT(parked_ns, 0u);
  park_once();
  EXPECT_EQ(s.stats().blocked_ns, parked_ns);
  EXPECT_EQ(s.stats().pop.waits, 3u);
  EXPECT_EQ(s.stats().pop.served, 3u);
}

// The watchdog's handler, recording the first report.
struct report_sink {
  std::promise<std::string> first;
  std::atomic<bool> taken{false};
  debug::watchdog::options options() {
    debug::watchdog::options o;
    o.poll_interval = 20ms;
    o.known = debug::watchdog::known_threads::parked_since_start;  // whatever this binary's main thread did
    o.context = "planted deadlock (test)";
    o.on_deadlock = [this](const std::string& report) {
      if (!taken.exchange(true)) first.set_value(report);
    };
    return o;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// OB-6: two threads, each popping the stream the other would push to next, are reported, naming both
// threads and both streams with their facts.
TEST(Watchdog, ReportsTwoThreadsPoppingEachOthersStream) {
  handoff::stream<int> a(4, handoff::name("to-A"));
  handoff::stream<int> b(4, handoff::name("to-B"));
  report_sink sink;
  debug::watchdog dog(sink.options());
  long ta = 0, tb = 0;
  {
    worker wa([&] {
      if (auto v = a.pop()) (void)b.push(*v);
    });
    worker wb([&] {
      if (auto v = b.pop()) (void)a.push(*v);
    });
    ta = wa.tid();
    tb = wb.tid();
    const std::string report = handoff_test::get_or_abort(sink.first.get_future(), "deadlock report");
    EXPECT_TRUE(contains(report, "handoff: deadlock")) << report;
    EXPECT_TRUE(contains(report, "planted deadlock (test)")) << report;
    EXPECT_TRUE(contains(report, "thread " + std::to_string(ta) + " [stream \"to-A\" pop")) << report;
    EXPECT_TRUE(contains(report, "thread " + std::to_string(tb) + " [stream \"to-B\" pop")) << report;
    EXPECT_TRUE(contains(report, "stream \"to-A\": open, 0 buffered (capacity 4); waiting: 1 popper"))
        << report;
    a.close();
    b.close();
  }
  EXPECT_EQ(dog.reports(), 1u);
}

// OB-6: an mvar take cycle (each thread takes the box the other would fill) is reported.
TEST(Watchdog, ReportsAnMvarTakeCycle) {
  handoff::mvar<int> m1(handoff::name("m1"));
  handoff::mvar<int> m2(handoff::name("m2"));
  report_sink sink;
  debug::watchdog dog(sink.options());
  {
    worker w1([&] { m2.put(m1.take() + 1); });
    worker w2([&] { m1.put(m2.take() + 1); });
    const long t1 = w1.tid(), t2 = w2.tid();
    const std::string report = handoff_test::get_or_abort(sink.first.get_future(), "deadlock report");
    EXPECT_TRUE(contains(report, "thread " + std::to_string(t1) + " [mvar \"m1\" take")) << report;
    EXPECT_TRUE(contains(report, "thread " + std::to_string(t2) + " [mvar \"m2\" take")) << report;
    EXPECT_TRUE(contains(report, "mvar \"m1\": empty; waiting: 1 taker")) << report;
    m1.put(0);  // w1 takes it and fills m2, w2 takes that and fills m1 again
    EXPECT_EQ(m1.take(), 2);
  }
}

// OB-6: a cycle of two selects is reported with every case.
TEST(Watchdog, ReportsASelectCycle) {
  handoff::stream<int> a(0, handoff::name("a")), b(0, handoff::name("b"));
  handoff::condition<void> stop_a(handoff::name("stop-a")), stop_b(handoff::name("stop-b"));
  report_sink sink;
  debug::watchdog dog(sink.options());
  {
    worker w1([&] { (void)handoff::select(handoff::on_pop(a), handoff::on_wait(stop_a)); });
    worker w2([&] { (void)handoff::select(handoff::on_pop(b), handoff::on_wait(stop_b)); });
    const long t1 = w1.tid(), t2 = w2.tid();
    const std::string report = handoff_test::get_or_abort(sink.first.get_future(), "deadlock report");
    EXPECT_TRUE(contains(
        report, "thread " + std::to_string(t1) + " [select: stream \"a\" pop | condition \"stop-a\" wait"))
        << report;
    EXPECT_TRUE(contains(
        report, "thread " + std::to_string(t2) + " [select: stream \"b\" pop | condition \"stop-b\" wait"))
        << report;
    a.close();
    b.close();
  }
}

// OB-6, the false-positive side: a thread parked with a deadline or a stop token can still wake by itself,
// so no report is made however long it stays parked (counted in polls, not in time).
TEST(Watchdog, NoReportWhileAThreadCanWakeByItself) {
  handoff::stream<int> a(1, handoff::name("timed")), b(1, handoff::name("stoppable"));
  std::stop_source stop;
  report_sink sink;
  debug::watchdog dog(sink.options());
  {
    worker w1([&] { EXPECT_EQ(a.pop_for(1h).status(), handoff::status::closed); });
    worker w2([&] { EXPECT_EQ(b.pop(stop.get_token()).status(), handoff::status::cancelled); });
    w1.await_parked();
    w2.await_parked();
    const std::size_t from = dog.polls();
    until([&] { return dog.polls() >= from + 4; }, "four more watchdog polls");
    EXPECT_EQ(dog.reports(), 0u);
    a.close();
    stop.request_stop();
  }
}

// OB-6: a known thread (one that parked in handoff since the watchdog started, here) that now runs
// prevents a report while another thread is parked for good (it may still wake it). Once it parks for good
// too, the report comes: so it was that thread that held the report back.
TEST(Watchdog, NoReportWhileAKnownThreadRuns) {
  handoff::stream<int> s(1, handoff::name("waited")), once(1, handoff::name("once"));
  report_sink sink;
  debug::watchdog dog(sink.options());
  handoff::stream<int> never(1, handoff::name("never"));
  std::atomic<bool> go{false};
  {
    worker runner([&] {
      (void)once.pop();                              // parks once: known from now on
      while (!go.load()) std::this_thread::yield();  // runs, outside handoff
      (void)never.pop();                             // now parked for good too: the report must come
      (void)s.push(1);
    });
    runner.await_parked();
    ASSERT_TRUE(once.push(0));
    worker waiter([&] { EXPECT_EQ(s.pop(), 1); });
    waiter.await_parked();
    until([&] { return !parked(runner.tid()).has_value(); }, "runner running again");
    const std::size_t from = dog.polls();
    until([&] { return dog.polls() >= from + 4; }, "four more watchdog polls");
    EXPECT_EQ(dog.reports(), 0u);
    go = true;  // the runner parks for good: so it was the one that held the report back
    const std::string report = handoff_test::get_or_abort(sink.first.get_future(), "deadlock report");
    EXPECT_TRUE(contains(report, "[stream \"never\" pop")) << report;
    EXPECT_TRUE(contains(report, "[stream \"waited\" pop")) << report;
    never.close();
  }
}

#if HANDOFF_CHECKED
// OB-1: a checked precondition names the primitive.
TEST(NamesDeathTest, APreconditionMessageNamesThePrimitive) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* s = new handoff::stream<int>(1, handoff::name("doomed"));
        std::thread t([s] { (void)s->pop(); });
        until([&] { return s->waiting().poppers == 1; }, "popper registered");
        delete s;
      },
      "precondition violated: stream \"doomed\" destroyed while threads wait on it");
}

// OB-1: CO-6 (a wait(lock) without the lock held) names the condition.
TEST(NamesDeathTest, AWaitWithoutTheLockNamesTheCondition) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        handoff::condition<> cv(handoff::name("cv"));
        std::mutex m;
        std::unique_lock<std::mutex> not_held(m, std::defer_lock);
        (void)cv.wait(not_held);
      },
      "precondition violated: condition \"cv\" wait\\(lock\\) called without holding the lock \\(CO-6\\)");
}

// OB-1: dereferencing a stream's pop iterator at end-of-stream names the stream.
TEST(NamesDeathTest, AnIteratorAtEndOfStreamNamesTheStream) {
  EXPECT_DEATH(
      {
        handoff::stream<int> s(1, handoff::name("rx"));
        s.close();
        auto values = s.values();
        (void)*values.begin();
      },
      "precondition violated: pop_iterator \"rx\" dereferenced at end-of-stream");
}
#endif

}  // namespace
