// The registry of step records (include/handoff/detail/step_hazard.hpp): one per thread that ever made a
// stream ring step, reused after the thread ends, never freed. The first static_records are static storage,
// so that a thread's first step allocates nothing (G-6); more come from the heap.
#include <handoff/detail/step_hazard.hpp>

#include <cstddef>
#include <mutex>
#include <new>
#include <thread>

namespace handoff::detail {
namespace {

constexpr std::size_t static_records = 256;

// A record beyond the static ones (heap, never freed).
struct extra_record {
  step_record record;
  extra_record* next = nullptr;
};

struct registry {
  std::mutex mutex;
  step_record fixed[static_records];
  std::size_t fixed_used = 0;    // records of `fixed` handed out so far (then reused)
  extra_record* more = nullptr;  // the heap records, newest first
  step_record shared;            // for a thread that gets no record of its own (see step_hazard.hpp)
  registry() noexcept { shared.shared = true; }

  template <class F>
  void for_each(F f) {
    for (std::size_t k = 0; k < fixed_used; ++k) f(fixed[k]);
    for (extra_record* e = more; e; e = e->next) f(e->record);
  }
};

registry& the_registry() noexcept {
  // Never destroyed: threads may still step during static destruction. Constructed in static storage, so
  // that the first step allocates nothing.
  alignas(registry) static unsigned char storage[sizeof(registry)];
  static registry* r = ::new (static_cast<void*>(storage)) registry;
  return *r;
}

// Set once this thread's record_release has run: a step made later in the thread's exit (from another
// thread_local's destructor) gets a record that is never given back.
constinit thread_local bool record_released = false;

// Gives the record back when its thread ends.
struct record_release {
  step_record* record = nullptr;
  ~record_release() {
    record_released = true;
    if (!record || record->shared) return;
    std::lock_guard<std::mutex> lock(the_registry().mutex);
    // relaxed: under the mutex; the record is not in a window (the thread is ending).
    record->ring.store(nullptr, std::memory_order_relaxed);
    record->in_use.store(false, std::memory_order_relaxed);
    this_thread_step_record = nullptr;
  }
};

step_record* find_free(registry& r) noexcept {
  step_record* found = nullptr;
  r.for_each([&](step_record& rec) {
    // relaxed: under the mutex, which orders every change of in_use.
    if (!found && !rec.in_use.load(std::memory_order_relaxed)) found = &rec;
  });
  if (found) return found;
  if (r.fixed_used < static_records) return &r.fixed[r.fixed_used++];
  extra_record* e = new (std::nothrow) extra_record;
  if (!e) return &r.shared;  // no memory: share the counting record rather than fail a step
  e->next = r.more;
  r.more = e;
  return &e->record;
}

}  // namespace

step_record* register_stepping_thread() noexcept {
  registry& r = the_registry();
  step_record* mine = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    mine = find_free(r);
    if (!mine->shared) mine->in_use.store(true, std::memory_order_relaxed);
  }
  if (!record_released) {
    static thread_local record_release release;  // constructed here, at the thread's first step
    release.record = mine;
  }
  this_thread_step_record = mine;
  return mine;
}

void await_no_step_on(const void* ring) noexcept {
  registry& r = the_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.for_each([ring](step_record& rec) {
    // acquire: pairs with the window's release end (step_hazard.hpp, Memory ordering).
    while (rec.ring.load(std::memory_order_acquire) == ring) std::this_thread::yield();
  });
  // acquire: as above, for the windows of threads without a record of their own (any ring).
  while (r.shared.open_windows.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

}  // namespace handoff::detail
