// The waiting core's completion hook (detail/waiter.hpp): a core that is not a blocked thread is completed
// by running its hook, exactly once, after the payload is published; the same queue and the same servers
// complete blocked threads and hooked cores side by side, in FIFO order (the foundation of issue 18's
// coroutine and event-loop waiters).
#include <handoff/detail/waiter.hpp>
#include <handoff/detail/waiter_queue.hpp>
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "support/watchdog.hpp"

namespace {

using sync_t = handoff::default_sync;
using core_t = handoff::detail::wait_core<sync_t>;
using link_t = handoff::detail::waiter<sync_t>;

struct hooked {
  core_t core;
  std::optional<int> value;  // the payload a waker moves in
  std::atomic<int> runs{0};
  std::atomic<int> seen{-1};  // the payload as the hook saw it
  static void on_resume(void* self) noexcept {
    auto* h = static_cast<hooked*>(self);
    h->seen.store(h->value.value_or(-2), std::memory_order_relaxed);
    h->runs.fetch_add(1, std::memory_order_release);
  }
};

TEST(WaitCoreHook, RunsOnceAfterThePayloadInsteadOfWaking) {
  hooked h;
  h.core.set_resume_hook(&hooked::on_resume, &h);
  link_t link(h.core, 0);
  link.slot = &h.value;
  ASSERT_TRUE(link.try_claim());
  EXPECT_FALSE(h.core.resumed());
  static_cast<std::optional<int>*>(link.slot)->emplace(42);
  link.complete(handoff::status::ok);
  EXPECT_TRUE(h.core.resumed());
  EXPECT_EQ(h.runs.load(), 1);
  EXPECT_EQ(h.seen.load(), 42);
  EXPECT_EQ(h.core.winner(), &link);
  EXPECT_FALSE(link.try_claim()) << "a completed core cannot be claimed again";
}

// A hooked link and a blocked thread in one queue: FIFO, each served once, by whichever thread serves.
TEST(WaitCoreHook, HookedCoreAndBlockedThreadShareOneFifo) {
  handoff::detail::waiter_queue<sync_t> q;
  hooked h;
  h.core.set_resume_hook(&hooked::on_resume, &h);
  link_t first(h.core, 0);
  first.slot = &h.value;
  q.push_back(&first);
  link_t second;  // a plain waiter: owns its core, parks
  std::optional<int> got;
  second.slot = &got;
  q.push_back(&second);
  auto waiter = std::async(std::launch::async, [&] {
    return second.await(handoff::detail::deadline::never()) == link_t::outcome::completed;
  });
  for (int v = 1; v <= 2; ++v) {
    link_t* w = q.claim_oldest(nullptr);
    ASSERT_NE(w, nullptr);
    static_cast<std::optional<int>*>(w->slot)->emplace(v);
    w->complete(handoff::status::ok);
  }
  EXPECT_TRUE(handoff_test::get_or_abort(std::move(waiter), "blocked waiter behind a hooked one"));
  EXPECT_EQ(h.seen.load(), 1) << "the hooked core was first in the FIFO";
  EXPECT_EQ(got, std::optional<int>(2));
  EXPECT_TRUE(q.empty());
}

}  // namespace
