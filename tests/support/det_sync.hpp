// ---------------------------------------------------------------------------------------------------------------
// tests/support/det_sync.hpp: a deterministic scheduler and the Sync policy that runs handoff on it
// (the folly DeterministicSchedule pattern; see docs/reliability.md).
//
// Purpose: run a primitive's real code (handoff::mvar<T, det_sync>, its slow_lock, waiter and waiter_queue)
// on real threads of which exactly one runs between two shared accesses. Every det_atomic operation, park,
// unpark, passed(), relax() and yield() is a scheduling point where a seeded PRNG (std::mt19937_64) picks the
// thread that runs next, so one seed is one interleaving, replayed exactly by HANDOFF_DET_SEED=<n>.
//
// What the scheduler models:
//   - park(word, expected) blocks the calling det thread until unpark_one/unpark_all on that address, and
//   only
//     if word == expected when it is called (the check and the sleep are one step, as with a futex). It may
//     also return spuriously (seeded), as the parking contract allows.
//   - park_until(...) may in addition time out: at the call, or later as a scheduling choice, or always when
//     every other thread is blocked (virtual time jumps to the deadline). The deadline is then "passed" for
//     good: passed(d) answers true from then on. passed(d) itself may answer true at any call (seeded).
//   - compare_exchange_weak fails spuriously now and then (seeded), as the standard allows.
//   - DEADLOCK: every live thread is parked or joining and no timeout can fire. This is how a lost wakeup
//     shows up. STEP BOUND: more than det_options::max_steps scheduling points (a livelock).
// What it does not model: memory orders. Accesses are sequentially consistent here (Relacy's job, see
// tests/model/). Interleavings inside a stop callback are not explored: det_request_stop runs request_stop
// without preemption, because libstdc++'s ~stop_callback blocks on a semaphore the scheduler cannot see.
//
// On a failure the run's threads are abandoned (blocked forever on their batons; the schedule is leaked on
// purpose, so nothing they reference is destroyed) and the controller reports the seed. A det thread that
// blocks outside the scheduler (a real mutex, a sleep) is caught by the controller's watchdog.
// Test-only code: it may allocate, use std::function and semaphores freely.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <handoff/debug.hpp>
#include <handoff/detail/deadline.hpp>
#include <memory>
#include <mutex>
#include <random>
#include <semaphore>
#include <set>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace handoff_test {

// Knobs of one run. Odds are "1 in N" per opportunity; 0 disables that kind of event.
struct det_options {
  std::uint64_t max_steps = 200'000;  // scheduling points per run before STEP BOUND
  unsigned timeout_odds = 8;          // a timed park times out: at the call, or per scheduling choice
  unsigned passed_odds = 8;           // passed(d) declares a deadline passed
  unsigned spurious_odds = 32;        // park returns without a wake
  unsigned weak_cas_odds = 16;        // compare_exchange_weak fails spuriously
};

class det_schedule;

namespace det_detail {

enum class state { ready, parked, parked_timed, joining, finished };

struct thread_rec {
  std::size_t id = 0;
  std::string name;
  std::binary_semaphore baton{0};  // released by whoever hands this thread the right to run
  state st = state::ready;
  const void* park_addr = nullptr;  // parked / parked_timed: the word's address
  handoff::detail::deadline park_deadline;
  bool timed_out = false;             // set when a timed park ended by its timeout
  thread_rec* join_target = nullptr;  // joining
  std::function<void()> body;
  struct worker* host = nullptr;  // the pooled OS thread running it
  long os_thread = 0;             // its OS thread id, as handoff/debug.hpp's records name it
};

// OS threads are pooled across runs: creating one per det thread per seed dominated the cost under TSan.
// A worker runs one det thread at a time; workers of an abandoned run stay blocked forever (never reused).
struct worker {
  std::binary_semaphore go{0};
  std::function<void()> task;
  bool busy = false;  // guarded by pool::mutex
};

class pool {
 public:
  static pool& instance() {
    static auto* p = new pool;  // leaked on purpose: its workers live until the process exits
    return *p;
  }

  worker* start(std::function<void()> task) {
    worker* w = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        w = idle_.back();
        idle_.pop_back();
      } else {
        w = new worker;  // owned by its thread's loop, which never ends
        std::thread([this, w] { loop(w); }).detach();
      }
      w->busy = true;
      w->task = std::move(task);
    }
    w->go.release();
    return w;
  }

  // Waits until `w` finished its task (so nothing of the run is touched by it any more).
  void wait_idle(worker* w) {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_cv_.wait(lock, [w] { return !w->busy; });
  }

 private:
  void loop(worker* w) {
    for (;;) {
      w->go.acquire();
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        task = std::move(w->task);
      }
      task();
      task = nullptr;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        w->busy = false;
        idle_.push_back(w);
      }
      idle_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable idle_cv_;
  std::vector<worker*> idle_;
};

// The det thread running on this OS thread, if any, and its schedule.
inline thread_local det_schedule* tl_schedule = nullptr;
inline thread_local thread_rec* tl_self = nullptr;
inline thread_local int tl_no_preempt = 0;

// Schedules left behind by failed runs: their threads are blocked forever and still reference them.
inline std::vector<det_schedule*>& graveyard() {
  static auto* g = new std::vector<det_schedule*>;
  return *g;
}

}  // namespace det_detail

// One run: one seed, one interleaving. Only the thread holding the baton touches the schedule's fields; the
// baton moves by semaphore release/acquire, which orders every access (TSan sees the hand-over).
class det_schedule {
 public:
  det_schedule(std::uint64_t seed, det_options opts) : seed_(seed), opts_(opts), rng_(seed) {
    // The run's preemption style, from the seed: switch at every point (1) down to rarely (16), so that
    // both fine-grained races and long uninterrupted stretches (a thread reaching park) are explored.
    static constexpr unsigned styles[] = {1, 2, 4, 16};
    preempt_odds_ = styles[rng_() % 4];
  }

  // Runs `body` as det thread 0 and returns once every det thread finished, or on the first failure.
  // Returns the failure text, empty on success.
  std::string run(std::function<void()> body) {
    thread_rec* main = add_thread("main", std::move(body));
    main->baton.release();
    if (!done_.try_acquire_for(std::chrono::seconds(120))) {
      std::fprintf(stderr,
                   "DET WATCHDOG: seed %llu made no progress for 120 s: a det thread blocked outside the "
                   "scheduler (a real mutex, sleep or I/O in a scenario?)\n",
                   static_cast<unsigned long long>(seed_));
      std::abort();
    }
    return failure_;
  }

  // After run(): join the threads (success) or abandon them (failure).
  static void finish(std::unique_ptr<det_schedule> s) {
    if (s->abandoned_) {
      det_detail::graveyard().push_back(s.release());
      return;
    }
    for (auto& t : s->threads_) det_detail::pool::instance().wait_idle(t->host);
  }

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t steps() const noexcept { return steps_; }

  // ---- called by the baton holder only
  // ---------------------------------------------------------------------

  using thread_rec = det_detail::thread_rec;
  using state = det_detail::state;

  thread_rec* add_thread(std::string name, std::function<void()> body) {
    auto rec = std::make_unique<thread_rec>();
    rec->id = threads_.size();
    rec->name = name.empty() ? "thread " + std::to_string(rec->id) : std::move(name);
    rec->body = std::move(body);
    thread_rec* r = rec.get();
    threads_.push_back(std::move(rec));
    r->host = det_detail::pool::instance().start([this, r] { thread_main(r); });
    return r;
  }

  // A scheduling point: maybe let another thread run first.
  void point() {
    if (det_detail::tl_no_preempt > 0) return;
    reschedule();
  }

  // Block the current thread on `addr` (the caller checked the word). Returns true if it timed out.
  bool block_parked(const void* addr, const handoff::detail::deadline* d) {
    thread_rec* self = det_detail::tl_self;
    if (det_detail::tl_no_preempt > 0) fatal("park inside a non-preemptible section (det_request_stop)");
    self->st = d ? state::parked_timed : state::parked;
    self->park_addr = addr;
    if (d) self->park_deadline = *d;
    self->timed_out = false;
    reschedule();
    return self->timed_out;
  }

  void unpark(const void* addr, bool all) {
    std::vector<thread_rec*> parked;
    for (auto& t : threads_)
      if ((t->st == state::parked || t->st == state::parked_timed) && t->park_addr == addr)
        parked.push_back(t.get());
    if (parked.empty()) return;
    if (all) {
      for (thread_rec* t : parked) t->st = state::ready;
    } else {
      parked[rng_() % parked.size()]->st = state::ready;
    }
  }

  void join(thread_rec* target) {
    thread_rec* self = det_detail::tl_self;
    while (target->st != state::finished) {
      self->st = state::joining;
      self->join_target = target;
      reschedule();
    }
  }

  bool coin(unsigned odds) { return odds != 0 && rng_() % odds == 0; }
  std::uint64_t random() { return rng_(); }

  static std::pair<int, std::int64_t> key(const handoff::detail::deadline& d) {
    return {static_cast<int>(d.kind()), d.nanoseconds_since_epoch()};
  }
  bool deadline_passed(const handoff::detail::deadline& d) const { return passed_.count(key(d)) != 0; }
  void mark_passed(const handoff::detail::deadline& d) { passed_.insert(key(d)); }

  const det_options& options() const noexcept { return opts_; }

  // Records the first failure of a scenario check; the run goes on (and is reported at the end).
  void check_failed(std::string what) {
    if (failure_.empty()) failure_ = std::move(what);
  }

  [[noreturn]] void fatal(const char* what) {
    std::fprintf(stderr, "det_sync: %s (seed %llu)\n", what, static_cast<unsigned long long>(seed_));
    std::abort();
  }

 private:
  void thread_main(thread_rec* r) {
    det_detail::tl_schedule = this;
    det_detail::tl_self = r;
    det_detail::tl_no_preempt = 0;
    r->os_thread = handoff::debug::this_thread_id();
    r->baton.acquire();
    try {
      r->body();
    } catch (const std::exception& e) {
      check_failed(r->name + " threw: " + e.what());
    } catch (...) {
      check_failed(r->name + " threw a non-std exception");
    }
    r->body = nullptr;
    r->st = state::finished;
    for (auto& t : threads_)
      if (t->st == state::joining && t->join_target == r) t->st = state::ready;
    bool all_finished = true;
    for (auto& t : threads_) all_finished = all_finished && t->st == state::finished;
    det_detail::tl_schedule = nullptr;  // the worker may host another run's thread next
    det_detail::tl_self = nullptr;
    if (all_finished) {
      done_.release();
    } else if (thread_rec* next = pick(r)) {
      next->baton.release();
    } else {
      fail_and_stop(deadlock_report());  // this thread is finished: it need not block
    }
  }

  // The baton holder gives the baton to the next thread (possibly itself) and waits to get it back.
  void reschedule() {
    thread_rec* self = det_detail::tl_self;
    if (++steps_ > opts_.max_steps) {
      std::ostringstream os;
      os << "STEP BOUND: more than " << opts_.max_steps << " scheduling points (livelock?)\n"
         << thread_report();
      fail_and_stop(os.str());
      block_forever(self);
    }
    thread_rec* next = pick(self);
    if (!next) {
      fail_and_stop(deadlock_report());
      block_forever(self);
    }
    if (next == self) return;
    next->baton.release();
    self->baton.acquire();
  }

  // Chooses who runs next, firing a timeout if that is the choice. nullptr: nobody can run (deadlock).
  thread_rec* pick(thread_rec* self) {
    std::vector<thread_rec*> ready, timed;
    for (auto& t : threads_) {
      if (t->st == state::ready) ready.push_back(t.get());
      if (t->st == state::parked_timed) timed.push_back(t.get());
    }
    if (!timed.empty() && (ready.empty() || coin(opts_.timeout_odds))) {
      thread_rec* t = timed[rng_() % timed.size()];
      t->st = state::ready;
      t->timed_out = true;
      mark_passed(t->park_deadline);
      return t;
    }
    if (ready.empty()) return nullptr;
    if (self->st == state::ready && !coin(preempt_odds_)) return self;
    return ready[rng_() % ready.size()];
  }

  // What a parked det thread waits on, from its blocked-thread record (handoff/debug.hpp: names the
  // primitive and operation; a park outside a waiter, such as a ring slot turn, has no record). Without the
  // primitives' facts: asking for them would take their locks from inside the scheduler.
  static std::string waits_on(const thread_rec& t) {
    for (const handoff::debug::blocked_thread& b : handoff::debug::blocked_threads(false))
      if (b.thread_id == t.os_thread) {
        std::string cases;
        for (const auto& c : b.cases) cases += (cases.empty() ? "" : " | ") + c.channel + " " + c.operation;
        return " [" + cases + "]";
      }
    return "";
  }

  std::string thread_report() const {
    std::ostringstream os;
    for (auto& t : threads_) {
      os << "  " << t->name << ": ";
      switch (t->st) {
        case state::ready:
          os << "ready";
          break;
        case state::parked:
          os << "parked on " << t->park_addr << waits_on(*t);
          break;
        case state::parked_timed:
          os << "parked (timed) on " << t->park_addr << waits_on(*t);
          break;
        case state::joining:
          os << "joining " << t->join_target->name;
          break;
        case state::finished:
          os << "finished";
          break;
      }
      os << '\n';
    }
    return os.str();
  }

  std::string deadlock_report() const {
    return "DEADLOCK: every live thread is parked or joining and no timeout can fire (a lost wakeup?)\n" +
           thread_report();
  }

  void fail_and_stop(std::string what) {
    failure_ = std::move(what) + (failure_.empty() ? "" : "earlier check failure: " + failure_);
    abandoned_ = true;
    done_.release();
  }

  [[noreturn]] static void block_forever(thread_rec* self) {
    for (;;) self->baton.acquire();  // never released again
  }

  std::uint64_t seed_;
  det_options opts_;
  std::mt19937_64 rng_;
  unsigned preempt_odds_ = 1;
  std::uint64_t steps_ = 0;
  std::vector<std::unique_ptr<thread_rec>> threads_;
  std::set<std::pair<int, std::int64_t>> passed_;
  std::string failure_;
  bool abandoned_ = false;
  std::binary_semaphore done_{0};
};

namespace det_detail {
inline det_schedule* current() noexcept {
  return tl_schedule;
}
inline void point() {
  if (det_schedule* s = tl_schedule) s->point();
}
}  // namespace det_detail

// ---- det_atomic: std::atomic's member API as the library uses it, each operation a scheduling point
// -------- Memory orders are passed through to a real std::atomic (harmless: the baton orders everything).
template <class U>
class det_atomic {
 public:
  det_atomic() noexcept : v_() {}
  constexpr det_atomic(U v) noexcept : v_(v) {}  // NOLINT: implicit, as std::atomic
  det_atomic(const det_atomic&) = delete;
  det_atomic& operator=(const det_atomic&) = delete;

  U load(std::memory_order mo = std::memory_order_seq_cst) const noexcept {
    det_detail::point();
    return v_.load(mo);
  }
  operator U() const noexcept { return load(); }  // NOLINT
  void store(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    v_.store(v, mo);
  }
  U operator=(U v) noexcept {
    store(v);
    return v;
  }
  U exchange(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    return v_.exchange(v, mo);
  }
  bool compare_exchange_weak(U& expected, U desired, std::memory_order success,
                             std::memory_order failure) noexcept {
    det_detail::point();
    if (det_schedule* s = det_detail::current(); s && s->coin(s->options().weak_cas_odds)) {
      expected = v_.load(failure);  // a spurious failure, as the standard allows
      return false;
    }
    return v_.compare_exchange_weak(expected, desired, success, failure);
  }
  bool compare_exchange_weak(U& expected, U desired,
                             std::memory_order mo = std::memory_order_seq_cst) noexcept {
    return compare_exchange_weak(expected, desired, mo, failure_order(mo));
  }
  bool compare_exchange_strong(U& expected, U desired, std::memory_order success,
                               std::memory_order failure) noexcept {
    det_detail::point();
    return v_.compare_exchange_strong(expected, desired, success, failure);
  }
  bool compare_exchange_strong(U& expected, U desired,
                               std::memory_order mo = std::memory_order_seq_cst) noexcept {
    return compare_exchange_strong(expected, desired, mo, failure_order(mo));
  }
  U fetch_add(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    return v_.fetch_add(v, mo);
  }
  U fetch_sub(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    return v_.fetch_sub(v, mo);
  }
  U fetch_or(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    return v_.fetch_or(v, mo);
  }
  U fetch_and(U v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    det_detail::point();
    return v_.fetch_and(v, mo);
  }

  // The scheduler's own view, not a scheduling point (used by park's check-and-sleep step).
  U peek() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::memory_order failure_order(std::memory_order mo) noexcept {
    return mo == std::memory_order_acq_rel   ? std::memory_order_acquire
           : mo == std::memory_order_release ? std::memory_order_relaxed
                                             : mo;
  }

  std::atomic<U> v_;
};

// ---- det_sync: the Sync policy (include/handoff/detail/sync.hpp) over the scheduler
// ------------------------
struct det_sync {
  template <class U>
  using atomic = det_atomic<U>;

  static constexpr unsigned spin_limit = 2;
  // Det threads are OS threads: their parked waits keep blocked-thread records, so a det hang report can
  // print what each thread waits on (handoff/debug.hpp).
  static constexpr bool record_blocked = true;
  static constexpr unsigned yield_limit = 2;

  static void park(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    det_schedule* s = require("park");
    s->point();
    if (word.peek() != expected) return;
    if (s->coin(s->options().spurious_odds)) return;
    (void)s->block_parked(&word, nullptr);
  }

  static bool park_until(atomic<std::uint32_t>& word, std::uint32_t expected,
                         const handoff::detail::deadline& d) noexcept {
    det_schedule* s = require("park_until");
    s->point();
    if (d.is_never()) {
      park(word, expected);
      return true;
    }
    if (s->deadline_passed(d) || d.passed()) {
      s->mark_passed(d);
      return false;
    }
    if (s->coin(s->options().timeout_odds)) {
      s->mark_passed(d);
      return false;
    }
    if (word.peek() != expected) return true;
    if (s->coin(s->options().spurious_odds)) return true;
    return !s->block_parked(&word, &d);
  }

  static void unpark_one(atomic<std::uint32_t>& word) noexcept {
    det_schedule* s = require("unpark_one");
    s->point();
    s->unpark(&word, false);
  }
  static void unpark_all(atomic<std::uint32_t>& word) noexcept {
    det_schedule* s = require("unpark_all");
    s->point();
    s->unpark(&word, true);
  }

  // Virtual time: a deadline passes when the scheduler says so, and stays passed (a real past deadline too).
  static bool passed(const handoff::detail::deadline& d) noexcept {
    if (d.is_never()) return false;
    det_schedule* s = det_detail::current();
    if (!s) return d.passed();
    s->point();
    if (s->deadline_passed(d)) return true;
    if (d.passed() || s->coin(s->options().passed_odds)) {
      s->mark_passed(d);
      return true;
    }
    return false;
  }

  static void relax() noexcept { det_detail::point(); }
  static void yield() noexcept { det_detail::point(); }

 private:
  static det_schedule* require(const char* what) noexcept {
    det_schedule* s = det_detail::current();
    if (!s) {
      std::fprintf(stderr, "det_sync: %s called outside a det thread\n", what);
      std::abort();
    }
    return s;
  }
};

// det_sync with a 4-slot ring for unbounded streams (stream<T>::unbounded_ring_size, 256 with det_sync), so
// that a scenario's few values reach the overflow list and its refill (stream.hpp invariant 4), and overflow
// blocks of 4 positions (3 values), so that they cross block installs and their sentinel waits too.
struct det_small_ring_sync : det_sync {
  static constexpr std::size_t unbounded_ring_slots = 4;
  static constexpr std::uint32_t overflow_block_positions = 4;
};

// ---- det threads
// -------------------------------------------------------------------------------------------

// A thread of the current run. Must be created by a det thread; joined (or auto-joined by the destructor)
// through the scheduler, so a join that can never return is reported as DEADLOCK.
class det_thread {
 public:
  det_thread() = default;
  template <class F>
  explicit det_thread(F&& f, std::string name = {}) {
    det_schedule* s = det_detail::current();
    if (!s) {
      std::fprintf(stderr, "det_thread: must be created inside det_run\n");
      std::abort();
    }
    rec_ = s->add_thread(std::move(name), std::function<void()>(std::forward<F>(f)));
    s->point();
  }
  det_thread(det_thread&& o) noexcept : rec_(std::exchange(o.rec_, nullptr)) {}
  det_thread& operator=(det_thread&& o) noexcept {
    if (this != &o) {
      join();
      rec_ = std::exchange(o.rec_, nullptr);
    }
    return *this;
  }
  ~det_thread() { join(); }

  bool joinable() const noexcept { return rec_ != nullptr; }
  void join() {
    if (!rec_) return;
    det_detail::current()->join(rec_);
    rec_ = nullptr;
  }

 private:
  det_detail::thread_rec* rec_ = nullptr;
};

// A scheduling point that touches nothing (for scenario loops that wait on a condition).
inline void det_yield() {
  det_detail::point();
}

// A seeded random number from the run's PRNG (scenario choices replay with the seed).
inline std::uint64_t det_random() {
  det_schedule* s = det_detail::current();
  return s ? s->random() : 0;
}

// request_stop from a det thread. The callbacks run in this thread without preemption (see the header).
inline void det_request_stop(std::stop_source& source) {
  det_detail::point();
  ++det_detail::tl_no_preempt;
  source.request_stop();
  --det_detail::tl_no_preempt;
}

// Records a scenario check failure (the run continues; the sweep reports the seed).
inline void det_check(bool ok, const char* what, const char* file, int line) {
  if (ok) return;
  std::ostringstream os;
  os << file << ':' << line << ": check failed: " << what;
  if (det_schedule* s = det_detail::current()) {
    s->check_failed(os.str());
  } else {
    ADD_FAILURE() << os.str();
  }
}
#define DET_CHECK(cond) ::handoff_test::det_check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define DET_CHECK_MSG(cond, msg)                                                                           \
  ::handoff_test::det_check(static_cast<bool>(cond), (std::string(#cond " : ") + (msg)).c_str(), __FILE__, \
                            __LINE__)

// ---- runs and sweeps
// -----------------------------------------------------------------------------------------

// One seed. Returns the failure text (DEADLOCK, STEP BOUND, a failed DET_CHECK, an exception), empty if none.
inline std::string det_run(std::uint64_t seed, std::function<void()> body, det_options opts = {},
                           std::uint64_t* steps = nullptr) {
  auto s = std::make_unique<det_schedule>(seed, opts);
  std::string failure = s->run(std::move(body));
  if (steps) *steps = s->steps();
  det_schedule::finish(std::move(s));
  return failure;
}

struct det_sweep_result {
  std::uint64_t seeds_run = 0;     // including the failing one
  std::uint64_t steps = 0;         // scheduling points over all seeds run
  std::uint64_t failing_seed = 0;  // valid when !failure.empty()
  std::string failure;
  double seconds = 0;
};

namespace det_detail {
inline std::uint64_t env_u64(const char* name, std::uint64_t fallback, bool* present = nullptr) {
  const char* v = std::getenv(name);
  if (present) *present = v && *v;
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}
inline std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("<test binary>");
}
inline std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("*");
}
}  // namespace det_detail

// The CI seed budget per scenario (HANDOFF_DET_SEEDS overrides it).
inline constexpr std::uint64_t det_default_seeds = 2000;

// The budget of a clean sweep (det_expect_clean): its scenario's own budget scaled by
// HANDOFF_DET_SEED_PERCENT (default 100, any value; at least one seed). ctest sets it from the CMake cache
// variable of the same name, which the sanitizer presets lower (tests/CMakeLists.txt, docs/reliability.md "CI
// budget"). HANDOFF_DET_SEEDS, an absolute count, still overrides the result in det_sweep. Planted
// self-checks call det_sweep directly and always get their full budget.
inline std::uint64_t det_clean_budget(std::uint64_t default_seeds) {
  const std::uint64_t percent = det_detail::env_u64("HANDOFF_DET_SEED_PERCENT", 100);
  if (percent == 100) return default_seeds;
  const std::uint64_t scaled = (default_seeds * percent + 99) / 100;
  return scaled > 0 ? scaled : 1;
}

// Runs `body` over seeds HANDOFF_DET_SEED_BASE (default 1) .. + HANDOFF_DET_SEEDS (default
// det_default_seeds), stopping at the first failure; HANDOFF_DET_SEED=<n> runs seed n only.
inline det_sweep_result det_sweep(const std::function<void()>& body, det_options opts = {},
                                  std::uint64_t default_seeds = det_default_seeds) {
  bool replay = false;
  const std::uint64_t one = det_detail::env_u64("HANDOFF_DET_SEED", 0, &replay);
  const std::uint64_t base = replay ? one : det_detail::env_u64("HANDOFF_DET_SEED_BASE", 1);
  const std::uint64_t count = replay ? 1 : det_detail::env_u64("HANDOFF_DET_SEEDS", default_seeds);
  det_sweep_result r;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t seed = base; seed < base + count; ++seed) {
    std::uint64_t steps = 0;
    std::string failure = det_run(seed, body, opts, &steps);
    ++r.seeds_run;
    r.steps += steps;
    if (!failure.empty()) {
      r.failing_seed = seed;
      r.failure = std::move(failure);
      break;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

inline std::string det_replay_line(std::uint64_t seed) {
  return "replay: HANDOFF_DET_SEED=" + std::to_string(seed) + " " + det_detail::self_path() +
         " --gtest_filter=" + det_detail::current_test_name();
}

// det_sweep inside a GoogleTest: a failing seed fails the test with its report and the replay line.
inline det_sweep_result det_expect_clean(const std::function<void()>& body, det_options opts = {},
                                         std::uint64_t default_seeds = det_default_seeds) {
  det_sweep_result r = det_sweep(body, opts, det_clean_budget(default_seeds));
  if (!r.failure.empty()) {
    ADD_FAILURE() << "seed " << r.failing_seed << " failed after " << r.seeds_run << " seed(s):\n"
                  << r.failure << "\n"
                  << det_replay_line(r.failing_seed);
  } else {
    std::printf("[ det      ] %llu seeds, %llu scheduling points, %.2f s (%.0f seeds/s)\n",
                static_cast<unsigned long long>(r.seeds_run), static_cast<unsigned long long>(r.steps),
                r.seconds, r.seconds > 0 ? static_cast<double>(r.seeds_run) / r.seconds : 0.0);
  }
  return r;
}

// A planted-bug self-check inside a GoogleTest whose ctest entry is WILL_FAIL (a file whose stem contains
// "planted": tests/CMakeLists.txt). It sweeps `seeds` seeds in full (never scaled down by a preset): when the
// bug is caught, the test fails, as expected, with the failing seed's report and its replay line; when the
// checker is blind, the test passes, and WILL_FAIL turns that into a CI failure. Prints what it took.
inline det_sweep_result det_expect_caught(const char* what, const std::function<void()>& body,
                                          std::uint64_t seeds = det_default_seeds) {
  det_sweep_result r = det_sweep(body, {}, seeds);
  if (r.failure.empty()) {
    std::printf("[ planted  ] %s: NOT caught in %llu seeds (%.2f s): the checker is blind\n", what,
                static_cast<unsigned long long>(r.seeds_run), r.seconds);
    return r;
  }
  std::printf("[ planted  ] %s: caught at seed %llu, after %llu seed(s), %.2f s\n", what,
              static_cast<unsigned long long>(r.failing_seed), static_cast<unsigned long long>(r.seeds_run),
              r.seconds);
  ADD_FAILURE() << "planted bug caught (expected): " << what << "\n"
                << r.failure << "\n"
                << det_replay_line(r.failing_seed);
  return r;
}

}  // namespace handoff_test
