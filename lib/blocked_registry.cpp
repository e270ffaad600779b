// lib/blocked_registry.cpp: the blocked-thread records (include/handoff/detail/blocked_record.hpp) and the
// registry that holds them (lib/blocked_registry.hpp).
#include "blocked_registry.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <new>
#include <thread>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace handoff::detail {
namespace {

// One thread's record. Fields marked (seq) are written by the owning thread only, inside the sequence lock;
// fields marked (M) are guarded by the registry mutex.
struct record {
  std::atomic<std::uint32_t> seq{0};  // odd while the owner writes
  std::atomic<bool> blocked{false};   // (seq)
  std::atomic<std::int64_t> since_ns{0};
  std::atomic<std::int64_t> deadline_ns{0};
  std::atomic<std::uint8_t> deadline_kind{0};
  std::atomic<bool> stoppable{false};
  std::atomic<std::uint32_t> count{0};
  std::atomic<const channel_info*> channels[record_copy::max_sites]{};
  std::atomic<std::uint8_t> ops[record_copy::max_sites]{};
  std::atomic<std::uint64_t> waits{0};
  std::atomic<long> thread_id{0};  // written under M at acquisition, read by the visit (also under M)
  bool in_use = false;             // (M)
  record* next = nullptr;          // (M) the list only grows; records are reused, never freed
};

struct registry {
  std::mutex mutex;
  record* head = nullptr;
};

// Never destroyed: threads may exit (and release their records) after static destructors ran.
registry& the_registry() noexcept {
  static registry* r = new registry;
  return *r;
}

// The calling thread's record: acquired at its first park, released (kept for reuse) when it exits.
class record_handle {
 public:
  record_handle() = default;
  record_handle(const record_handle&) = delete;
  record_handle& operator=(const record_handle&) = delete;
  ~record_handle() {
    gone_ = true;  // a thread_local destroyed after this one may still park: it then keeps no record
    if (!r_) return;
    registry& reg = the_registry();
    std::lock_guard<std::mutex> guard(reg.mutex);
    r_->in_use = false;
    r_ = nullptr;
  }
  record* get() noexcept {
    if (r_ || gone_) return r_;
    registry& reg = the_registry();
    std::lock_guard<std::mutex> guard(reg.mutex);
    record* free = nullptr;
    for (record* r = reg.head; r; r = r->next)
      if (!r->in_use) {
        free = r;
        break;
      }
    if (!free) {
      free = new (std::nothrow) record;
      if (!free) return nullptr;  // no record: this wait is not reported, and nothing else changes
      free->next = reg.head;
      reg.head = free;
    }
    free->in_use = true;
    free->waits.store(0, std::memory_order_relaxed);  // relaxed: read under M, as every (M) field
    free->since_ns.store(0, std::memory_order_relaxed);
    free->thread_id.store(current_thread_id(), std::memory_order_relaxed);
    r_ = free;
    return r_;
  }

  // Whether this thread's handle was destroyed (thread exit): trivially destructible, so it outlives it.
  static thread_local bool gone_;

 private:
  record* r_ = nullptr;
};

thread_local bool record_handle::gone_ = false;
thread_local record_handle this_thread_record;

// Reports reading records now (channel_info.hpp, Invariants 4).
std::atomic<std::uint32_t> reports_in_progress{0};

std::atomic<bool> block_timing{false};

// The sequence lock's writer side: relaxed stores between an odd and an even sequence value.
class record_writer {
 public:
  // Fields are stored with release (store_field) and loaded with acquire (visit_records): a reader that
  // loads a field written after this odd value therefore sees the odd value (or a later one) in its second
  // sequence load, and retries. (No fences: ThreadSanitizer does not model them.)
  explicit record_writer(record& r) noexcept : r_(r), s_(r.seq.load(std::memory_order_relaxed)) {
    r_.seq.store(s_ + 1, std::memory_order_relaxed);  // relaxed: published by the release field stores
  }
  ~record_writer() {
    // seq_cst (not just release, which makes the fields visible to a reader that acquires this even value):
    // a primitive's destructor relies on the single total order to know that a report starting after it
    // checked reports_in_progress sees this write (channel_info.hpp, Invariants 4).
    r_.seq.store(s_ + 2, std::memory_order_seq_cst);
  }

 private:
  record& r_;
  std::uint32_t s_;
};

}  // namespace

long current_thread_id() noexcept {
#if defined(__linux__)
  return static_cast<long>(::syscall(SYS_gettid));
#else
  return static_cast<long>(std::hash<std::thread::id>{}(std::this_thread::get_id()) & 0x7fffffff);
#endif
}

std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool reserve_this_thread_record() noexcept {
  return this_thread_record.get() != nullptr;
}

void forget_channel() noexcept {
  // channel_info.hpp, Invariants 4: seq_cst, in the single total order with the reports' increments and
  // the waiters' record clears. A report in progress may be reading this channel: wait for it to finish.
  if (reports_in_progress.load(std::memory_order_seq_cst) != 0)
    std::lock_guard<std::mutex> guard(the_registry().mutex);
}

void await_unpinned(const std::atomic<std::uint32_t>& pending) noexcept {
  // channel_info.hpp, Invariants 3: each pin belongs to a waiter that was completed and is about to clear
  // its record and unpin; bounded by that thread's progress, like a slot turn of the stream ring.
  // acquire: pairs with unpin()'s release.
  while (pending.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void set_block_timing(bool on) noexcept {
  block_timing.store(on, std::memory_order_relaxed);  // relaxed: a switch read at the next wait
}
bool block_timing_on() noexcept {
  return block_timing.load(std::memory_order_relaxed);
}

void note_blocked(const wait_site* sites, std::uint32_t count, const deadline& d, bool stoppable) noexcept {
  record* r = this_thread_record.get();
  if (!r) return;
  record_writer write(*r);
  // release, all: inside the sequence lock (record_writer explains the pairing).
  r->since_ns.store(steady_now_ns(), std::memory_order_release);
  r->deadline_kind.store(static_cast<std::uint8_t>(d.kind()), std::memory_order_release);
  r->deadline_ns.store(d.nanoseconds_since_epoch(), std::memory_order_release);
  r->stoppable.store(stoppable, std::memory_order_release);
  std::uint32_t kept = 0;  // a select's disabled cases (no channel) are left out
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!sites[i].channel) continue;
    if (kept < record_copy::max_sites) {
      r->channels[kept].store(sites[i].channel, std::memory_order_release);
      r->ops[kept].store(static_cast<std::uint8_t>(sites[i].op), std::memory_order_release);
    }
    ++kept;
  }
  r->count.store(kept, std::memory_order_release);
  r->waits.store(r->waits.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  r->blocked.store(true, std::memory_order_release);
}

void note_unblocked(const wait_site* sites, std::uint32_t count) noexcept {
  record* r = this_thread_record.get();
  if (!r) return;
  if (block_timing_on()) {
    // relaxed: this thread wrote since_ns itself.
    const std::int64_t parked = steady_now_ns() - r->since_ns.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < count; ++i)
      if (sites[i].channel && parked > 0)
        sites[i].channel->add_blocked_ns(static_cast<std::uint64_t>(parked));
  }
  record_writer write(*r);
  r->blocked.store(false, std::memory_order_release);  // release: inside the sequence lock
  r->count.store(0, std::memory_order_release);
}

void visit_records(const std::function<void(const record_copy&)>& f) {
  registry& reg = the_registry();
  // channel_info.hpp, Invariants 4: announced (seq_cst) before the first record is read.
  reports_in_progress.fetch_add(1, std::memory_order_seq_cst);
  struct done_reading {
    // release: this report's reads come before a destructor that sees the count drop.
    ~done_reading() { reports_in_progress.fetch_sub(1, std::memory_order_release); }
  } done;
  std::lock_guard<std::mutex> guard(reg.mutex);
  for (record* r = reg.head; r; r = r->next) {
    if (!r->in_use) continue;
    record_copy c;
    for (;;) {
      // seq_cst (acquire would pair with record_writer's store of an even value): channel_info.hpp,
      // Invariants 4 needs this load in the single total order, after this report's announcement.
      const std::uint32_t s1 = r->seq.load(std::memory_order_seq_cst);
      if (s1 & 1) {
        std::this_thread::yield();  // the owner is between two stores of its own; it never waits for us
        continue;
      }
      c.blocked = r->blocked.load(std::memory_order_acquire);
      c.since_ns = r->since_ns.load(std::memory_order_acquire);
      c.deadline_kind = static_cast<deadline::clock_kind>(r->deadline_kind.load(std::memory_order_acquire));
      c.deadline_ns = r->deadline_ns.load(std::memory_order_acquire);
      c.stoppable = r->stoppable.load(std::memory_order_acquire);
      c.count = r->count.load(std::memory_order_acquire);
      for (std::uint32_t i = 0; i < record_copy::max_sites; ++i) {
        c.sites[i].channel = r->channels[i].load(std::memory_order_acquire);
        c.sites[i].op = static_cast<wait_op>(r->ops[i].load(std::memory_order_acquire));
      }
      c.waits = r->waits.load(std::memory_order_acquire);
      // relaxed: the acquire field loads above order it after them (record_writer explains the pairing).
      if (r->seq.load(std::memory_order_relaxed) == s1) break;
    }
    c.thread_id = r->thread_id.load(std::memory_order_relaxed);
    if (!c.blocked) c.count = 0;
    f(c);
  }
}

const char* wait_op_name(wait_op op) noexcept {
  switch (op) {
    case wait_op::pop:
      return "pop";
    case wait_op::push:
      return "push";
    case wait_op::take:
      return "take";
    case wait_op::put:
      return "put";
    case wait_op::read:
      return "read";
    case wait_op::wait:
      return "wait";
    case wait_op::wait_closed:
      return "wait_closed";
  }
  return "wait";
}

std::string channel_info::label() const {
  std::string out = kind_;
  if (name_) {
    out += " \"";
    out += name_.get();
    out += '"';
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %p", channel_);
    out += buf;
  }
  return out;
}

}  // namespace handoff::detail
