// Stress scenarios for readiness (rules WA-1..WA-7, G-1, G-2; handoff/readiness.hpp, eventfd_notifier.hpp):
//   readiness_epoll_loop   rounds over capacities 0, 1, 64, 1024 and unbounded, alternating two shapes:
//                          read: an epoll loop thread (never blocking in a pop: try_pop / try_pop_some, arm,
//                          epoll_wait on an eventfd) drains 8 pushing threads (push, try_push, push_for),
//                          with a plain blocking popper competing in some rounds (readiness is a hint, WA-3);
//                          write: the loop pushes with try_push, arming writable when full, into 2 blocking
//                          consumers (bounded capacities).
//                          mvar: the loop relays from one mvar (4 putters) to another (2 takers), arming
//                          the side it waits for.
//                          Chaos: threads yield at random points, the loop unwatches and watches again at
//                          random, and every round ends in a close at a random moment of the drain.
// Every value goes through the ledger (per-producer sequence numbers: none lost, duplicated, invented or
// reordered within a consumer). The loop's epoll_wait has no timeout: a lost notification hangs it, and the
// watchdog names the thread ("epoll_wait (armed)") and prints the replay seed.
#include <sys/epoll.h>
#include <unistd.h>
#include <handoff/eventfd_notifier.hpp>
#include <handoff/mvar.hpp>
#include <handoff/readiness.hpp>
#include <handoff/stream.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "stream_capacity.hpp"
#include "stress.hpp"

namespace {

using stress::capacity_name;
using stress::kUnbounded;
using stress::make_stream;

using handoff::readiness;
using handoff::status;
using namespace std::chrono_literals;

// An epoll set watching one eventfd_notifier: the loop's sleep.
class epoll_sleep {
 public:
  explicit epoll_sleep(handoff::eventfd_notifier& n) : notifier_(n), fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ok_ = fd_ >= 0 && ::epoll_ctl(fd_, EPOLL_CTL_ADD, n.fd(), &ev) == 0;
  }
  epoll_sleep(const epoll_sleep&) = delete;
  epoll_sleep& operator=(const epoll_sleep&) = delete;
  ~epoll_sleep() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  // No timeout: a lost notification hangs here and the watchdog reports it.
  void wait(stress::heartbeat& hb) {
    epoll_event out{};
    {
      stress::in_call beat(hb, "epoll_wait (armed)");
      while (::epoll_wait(fd_, &out, 1, -1) < 0) {
      }
    }
    notifier_.consume();
  }

 private:
  handoff::eventfd_notifier& notifier_;
  int fd_;
  bool ok_ = false;
};

template <class Sync>
struct readiness_epoll_loop {
  using stream_type = handoff::stream<std::uint64_t, Sync>;
  using watcher_type = handoff::watcher<stream_type>;

  // 8 producers -> the loop (and sometimes a competing blocking popper).
  static void read_round(stress::context& ctx, std::size_t capacity, unsigned round, std::mt19937_64& rng) {
    constexpr unsigned producers = 8;
    const std::uint64_t per = 200 + rng() % 1800;
    const bool competitor = rng() % 3 == 0;
    const std::string tag =
        " (round " + std::to_string(round) + ", capacity " + capacity_name(capacity) + ")";
    auto s = make_stream<std::uint64_t, Sync>(capacity);
    stress::ledger ledger(producers, per);
    handoff::eventfd_notifier wake;
    epoll_sleep sleep(wake);
    if (!sleep.ok()) return ctx.fail("epoll setup failed" + tag);
    std::atomic<unsigned> producers_left{producers};
    std::vector<std::jthread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("producer " + std::to_string(p) + tag);
      threads.emplace_back([&, p, &hb = hb] {
        auto prng = ctx.rng(round * 1000 + p);
        for (std::uint64_t i = 0; i < per; ++i) {
          const std::uint64_t v = stress::ledger::encode(p, i);
          if (prng() % 8 == 0) std::this_thread::yield();  // chaos
          bool ok = false;
          // Capacity 0: no try_push loop (two sides that never wait never meet: a rendezvous needs one
          // of them registered, and the loop only tries).
          unsigned form = static_cast<unsigned>(prng() % 3);
          if (capacity == 0 && form == 1) form = 0;
          switch (form) {
            case 0: {
              stress::in_call beat(hb, "push");
              ok = s->push(v);
              break;
            }
            case 1:
              for (;;) {
                std::uint64_t copy = v;
                const status st = s->try_push(std::move(copy));
                if (st != status::full) {
                  ok = st == status::ok;
                  break;
                }
                std::this_thread::yield();
              }
              break;
            default:
              for (;;) {
                stress::in_call beat(hb, "push_for");
                std::uint64_t copy = v;
                const status st = s->push_for(std::move(copy), 200us);
                if (st != status::timeout) {
                  ok = st == status::ok;
                  break;
                }
              }
          }
          if (!ok) {
            ctx.fail("a push failed on an open stream" + tag);
            break;
          }
          ledger.sent(v);
          ctx.count_operations(1);
        }
        if (producers_left.fetch_sub(1) == 1) s->close();
      });
    }
    if (competitor) {
      auto& hb = ctx.new_heartbeat("competing popper" + tag);
      threads.emplace_back([&, &hb = hb] { stress::pop_until_closed(*s, ledger, hb); });
    }
    // The event loop: this thread.
    auto& hb = ctx.new_heartbeat("epoll loop" + tag);
    auto seen = ledger.consumer_state();
    auto watch = std::make_unique<watcher_type>(*s, wake.notifier());
    std::vector<std::uint64_t> batch;
    for (;;) {
      bool closed = false;
      for (;;) {  // drain without blocking
        if (rng() % 4 == 0) {
          batch.clear();
          if (s->try_pop_some(std::back_inserter(batch), 1 + rng() % 16) > 0) {
            for (std::uint64_t v : batch) ledger.received(v, seen);
            continue;
          }  // none: try_pop tells empty from closed
        }
        std::uint64_t v = 0;
        const status st = s->try_pop(v);
        if (st == status::ok) {
          ledger.received(v, seen);
          continue;
        }
        closed = st == status::closed;
        break;
      }
      if (closed) break;
      if (rng() % 16 == 0) {  // chaos: unwatch and watch again (a notification in flight is waited for)
        watch.reset();
        watch = std::make_unique<watcher_type>(*s, wake.notifier());
        wake.consume();
      }
      if (watch->arm() == readiness::armed) sleep.wait(hb);
    }
    watch.reset();
    threads.clear();  // joins
    ledger.settle();
    ctx.add_ledger(ledger);
  }

  // The loop -> 2 blocking consumers, through a bounded stream; the loop never blocks in a push.
  static void write_round(stress::context& ctx, std::size_t capacity, unsigned round, std::mt19937_64& rng) {
    const std::uint64_t count = 500 + rng() % 3000;
    const std::string tag =
        " (round " + std::to_string(round) + ", writable, capacity " + capacity_name(capacity) + ")";
    auto s = make_stream<std::uint64_t, Sync>(capacity);
    stress::ledger ledger(1, count);
    handoff::eventfd_notifier wake;
    epoll_sleep sleep(wake);
    if (!sleep.ok()) return ctx.fail("epoll setup failed" + tag);
    std::vector<std::jthread> threads;
    for (unsigned c = 0; c < 2; ++c) {
      auto& hb = ctx.new_heartbeat("consumer " + std::to_string(c) + tag);
      threads.emplace_back([&, c, &hb = hb] {
        auto crng = ctx.rng(round * 1000 + 500 + c);
        auto seen = ledger.consumer_state();
        for (;;) {
          if (crng() % 8 == 0) std::this_thread::yield();  // chaos
          std::optional<std::uint64_t> v;
          {
            stress::in_call beat(hb, "pop");
            v = s->pop();
          }
          if (!v) return;
          ledger.received(*v, seen);
        }
      });
    }
    auto& hb = ctx.new_heartbeat("epoll loop (writer)" + tag);
    auto watch = s->watch(wake.notifier());
    for (std::uint64_t i = 0; i < count;) {
      const std::uint64_t v = stress::ledger::encode(0, i);
      std::uint64_t copy = v;
      const status st = s->try_push(std::move(copy));
      if (st == status::ok) {
        ledger.sent(v);
        ctx.count_operations(1);
        ++i;
        continue;
      }
      if (st == status::closed) {
        ctx.fail("try_push reported closed on an open stream" + tag);
        break;
      }
      if (watch.arm_writable() == readiness::armed) sleep.wait(hb);
    }
    watch.unwatch();
    s->close();
    threads.clear();  // joins: consumers end at end-of-stream
    ledger.settle();
    ctx.add_ledger(ledger);
  }

  // mvar: 4 producers put into `in`, the loop relays to `out` without ever blocking (try_take / try_put, then
  // arm the side it waits for), 2 consumers take from `out`. A sentinel per consumer ends the round (an mvar
  // has no close).
  static void mvar_round(stress::context& ctx, unsigned round, std::mt19937_64& rng) {
    constexpr unsigned producers = 4, consumers = 2;
    constexpr std::uint64_t kSentinel = ~std::uint64_t{0};
    const std::uint64_t per = 200 + rng() % 800;
    const std::string tag = " (round " + std::to_string(round) + ", mvar relay)";
    handoff::mvar<std::uint64_t, Sync> in, out;
    stress::ledger ledger(producers, per);
    handoff::eventfd_notifier wake;
    epoll_sleep sleep(wake);
    if (!sleep.ok()) return ctx.fail("epoll setup failed" + tag);
    std::vector<std::jthread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      auto& hb = ctx.new_heartbeat("mvar producer " + std::to_string(p) + tag);
      threads.emplace_back([&, p, &hb = hb] {
        auto prng = ctx.rng(round * 1000 + p);
        for (std::uint64_t i = 0; i < per; ++i) {
          const std::uint64_t v = stress::ledger::encode(p, i);
          if (prng() % 8 == 0) std::this_thread::yield();  // chaos
          stress::in_call beat(hb, "put");
          in.put(v);
          ledger.sent(v);
          ctx.count_operations(1);
        }
      });
    }
    for (unsigned c = 0; c < consumers; ++c) {
      auto& hb = ctx.new_heartbeat("mvar consumer " + std::to_string(c) + tag);
      threads.emplace_back([&, &hb = hb] {
        auto seen = ledger.consumer_state();
        for (;;) {
          std::uint64_t v = 0;
          {
            stress::in_call beat(hb, "take");
            v = out.take();
          }
          if (v == kSentinel) return;
          ledger.received(v, seen);
        }
      });
    }
    auto& hb = ctx.new_heartbeat("epoll loop (mvar relay)" + tag);
    auto watch_in = in.watch(wake.notifier());
    auto watch_out = out.watch(wake.notifier());
    std::uint64_t held = 0;  // the value in the loop's hands, when `holding`
    bool holding = false;
    std::uint64_t relayed = 0, sentinels = 0;
    while (sentinels < consumers) {
      if (!holding) {
        if (relayed == producers * per) {
          held = kSentinel;
          holding = true;
        } else if (auto v = in.try_take()) {
          held = *v;
          holding = true;
        }
      }
      if (holding && out.try_put(std::uint64_t{held}) == status::ok) {
        (held == kSentinel ? sentinels : relayed) += 1;
        holding = false;
        continue;
      }
      const readiness r = holding ? watch_out.arm_writable() : watch_in.arm();
      if (r == readiness::armed) sleep.wait(hb);
    }
    threads.clear();  // joins
    ledger.settle();
    ctx.add_ledger(ledger);
  }

  static void run(stress::context& ctx) {
    static constexpr std::array<std::size_t, 5> kCapacities{0, 1, 64, 1024, kUnbounded};
    auto rng = ctx.rng(4242);
    unsigned round = 0;
    do {
      const std::size_t capacity = kCapacities[(round / 2) % kCapacities.size()];
      if (round % 5 == 4)
        mvar_round(ctx, round, rng);
      else if (round % 2 == 0 || capacity == kUnbounded)
        read_round(ctx, capacity, round, rng);
      else
        write_round(ctx, capacity, round, rng);
      ++round;
    } while (ctx.time_left() || round < 2 * kCapacities.size());
  }
};

}  // namespace

STRESS_SCENARIO_SYNC(readiness_epoll_loop);
