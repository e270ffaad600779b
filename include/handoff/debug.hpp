// ---------------------------------------------------------------------------------------------------------------
// handoff/debug.hpp: what handoff can say about threads that wait (rules OB-1..OB-6 of docs/semantics.md).
//
//   handoff::debug::dump_blocked(std::cerr);        // one line per thread parked in handoff, Go-style:
//   //   thread 4711 [stream "rx" pop, 12.5 s]: no deadline, no stop token
//   handoff::debug::dump_on_signal();               // the same on SIGQUIT, printed by a helper thread
//   handoff::debug::watchdog dog;                   // aborts with a deadlock report when every thread that
//                                                   // blocked in handoff is stuck for good (below)
//   handoff::debug::set_block_timing(true);         // stats().blocked_ns of every primitive starts to count
//
// What is recorded: a thread that parks (after its spin phase found no partner) writes its record: the
// primitives and operations it waits on (every case of a select), since when, its deadline, and whether a
// stop token can end the wait; the record is cleared when the wait ends. A thread that spins and never parks
// is not blocked for these reports. The record is allocated at a thread's first park and reused; nothing is
// allocated per wait, and nothing is written on a path that does not park.
//
// Deadlock report (watchdog): the threads it knows are the live threads that ever parked in handoff. When
// at a poll every one of them is parked without a deadline and without a stop token, and at the next poll
// they still are, with no wait of theirs begun or ended in between, it calls its handler with a report: the
// dump, and for each primitive the facts that say why nobody can wake them (closed? how many values
// buffered? who waits on the other side?). The default handler prints the report to stderr and aborts.
// A known thread that is running (or blocked elsewhere: a std::mutex, a join) prevents a report, so a
// deadlock of some threads while others run is not reported. A thread that never parked in handoff is
// invisible: a program whose only waker is such a thread (a producer that never finds its stream full, a
// timer that closes a stream after a minute) while every thread it knows is parked gets a false report if
// that waker stays silent for two polls. Poll less often than the longest such silence, give such threads
// a wait in handoff, or use a handler that does not abort.
//
// Thread safety: every function here may be called from any thread at any time. dump_blocked and the
// watchdog take a process-wide mutex that a thread takes also at its first park and a primitive that had
// parked waiters takes in its destructor; neither ever waits for a parked thread.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace handoff::debug {

// One primitive a blocked thread waits on, and the operation (a select has one per case).
struct blocked_case {
  std::string channel;    // "stream \"rx\"", or "stream 0x55d0c0a4e2c0" when it has no name
  std::string operation;  // "pop", "push", "take", "put", "read", "wait", "wait_closed"
  std::string facts;  // filled by blocked_threads(true): "open, 0 buffered, 1 popper and 0 pushers waiting"
};

struct blocked_thread {
  long thread_id = 0;  // the OS thread id (Linux: gettid(), as gdb and /proc show it)
  std::chrono::nanoseconds blocked_for{0};
  bool has_deadline = false;
  std::chrono::nanoseconds deadline_in{0};  // negative: passed (the thread is about to return)
  bool stoppable = false;                   // a stop token can end the wait
  std::size_t case_count = 0;               // may exceed cases.size() for a select of more than 8 cases
  std::vector<blocked_case> cases;
};

// The calling thread's id as the reports print it.
long this_thread_id() noexcept;

// Allocates the calling thread's blocked-thread record now instead of at its first park (one allocation
// per thread, never per wait): for a thread that must not allocate once it runs (a real-time thread, a test
// that counts allocations). Returns false if the allocation failed (the thread's waits then go unrecorded).
bool reserve_thread_record() noexcept;

// Every thread parked in handoff now. with_facts: also ask each primitive for its facts (takes its lock).
std::vector<blocked_thread> blocked_threads(bool with_facts = false);
// "thread 4711 [stream \"rx\" pop, 12.5 s]: no deadline, no stop token" (+ facts when present).
std::string format(const blocked_thread& t);
// One line per thread parked in handoff now (or a line saying there is none).
void dump_blocked(std::ostream& out);

// On `signal` (SIGQUIT by default), a helper thread prints dump_blocked to stderr. The handler itself only
// writes one byte to a pipe (async-signal-safe). Installs once per process; later calls do nothing.
// Returns false if the pipe, the thread or the handler could not be set up.
bool dump_on_signal(int signal = SIGQUIT);
// How many dumps the signal helper thread has printed so far.
std::size_t signal_dumps() noexcept;

// Block timing (OB-3): while on, every wait that parks reads the clock once more when it ends and adds the
// time parked to each primitive it waited on (their stats().blocked_ns). Off by default.
void set_block_timing(bool on) noexcept;
bool block_timing() noexcept;

class watchdog {
 public:
  // Which threads the watchdog knows (see the header comment). all_that_parked: every live thread that
  // ever parked in handoff (the default: a thread that parked once and now runs prevents a report).
  // parked_since_start: only threads parked now or parked since the watchdog started (a service whose main
  // thread parked once at startup and now runs an event loop; a test binary whose main thread parked in an
  // earlier test).
  enum class known_threads { all_that_parked, parked_since_start };

  struct options {
    std::chrono::milliseconds poll_interval{1000};
    known_threads known = known_threads::all_that_parked;
    // Called on the watchdog's thread with the report; default: print it to stderr and abort().
    std::function<void(const std::string& report)> on_deadlock;
    // Printed first in the report (a stress run's seed and replay command, say).
    std::string context;
  };

  watchdog();
  explicit watchdog(options o);
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog();  // stops its thread (waits for a handler call in progress)

  // Reports made so far (the handler was called this many times; it reports again only after the set of
  // stuck threads changed), and polls made so far.
  std::size_t reports() const noexcept;
  std::size_t polls() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace handoff::debug
