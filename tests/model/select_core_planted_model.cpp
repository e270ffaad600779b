// Planted-bug self-check of the select core model (reliability principle 2). The stem contains "planted", so
// ctest marks it WILL_FAIL: this binary exits non-zero only when Relacy rejects the planted core in every
// suite below, so a model that goes blind fails CI. Same suites as select_core_model.cpp, over a test-tree
// copy of detail::wait_core (and a minimal link) that is faithful except for one planted change:
//   claim_by_store: try_claim reads the phase and, if it is `waiting`, stores `claimed` (a load and a plain
//                   store instead of one compare-exchange). Two wakers can both read `waiting` before either
//                   stores: both claim the one core and both deliver (a double delivery: the count fails,
//                   and the selector's reset of the losing slot races with the loser's write). A waker can
//                   also overwrite a `left` set by try_leave or a timed-out await: a delivery to a selector
//                   that already gave up.
#define HANDOFF_MODEL_NO_MAIN
#include "select_core_model.cpp"

namespace handoff_model {

template <class Sync>
class planted_link;

// detail::wait_core, line for line, except try_claim (PLANTED), with its await() as it was before the spin
// and park phases moved to detail/spin_wait.hpp (31ac230): the same loads, relax steps, CAS and parks,
// inline.
template <class Sync>
class planted_core {
 public:
  enum class outcome { completed, timed_out, cancelled };

  bool try_claim() noexcept {
    const std::uint32_t s = state_.load(std::memory_order::acquire);
    if ((s & phase_mask) != waiting) return false;
    state_.store((s & ~phase_mask) | claimed, std::memory_order::relaxed);  // PLANTED: not a CAS
    return true;
  }

  void complete(planted_link<Sync>* by) noexcept {
    winner_ = by;
    const std::uint32_t old = state_.exchange(done, std::memory_order::release);
    if (old & sleeping) Sync::unpark_one(state_);
  }

  bool try_leave() noexcept {
    std::uint32_t s = state_.load(std::memory_order::relaxed);
    while ((s & phase_mask) == waiting) {
      if (state_.compare_exchange_weak(s, left | (s & interrupted), std::memory_order::relaxed)) return true;
    }
    return false;
  }

  outcome await(const handoff::detail::deadline& d) noexcept {
    unsigned spins = 0;
    bool deadline_seen = false;
    for (;;) {
      std::uint32_t s = state_.load(std::memory_order::acquire);
      const std::uint32_t phase = s & phase_mask;
      if (phase == done) return outcome::completed;
      if (phase == waiting && ((s & interrupted) || deadline_seen)) {
        if (state_.compare_exchange_strong(s, left, std::memory_order::relaxed))
          return (s & interrupted) ? outcome::cancelled : outcome::timed_out;
        continue;
      }
      if (spins < Sync::spin_limit) {
        ++spins;
        Sync::relax();
        if (phase == waiting && !d.is_never() && spins == Sync::spin_limit && Sync::passed(d))
          deadline_seen = true;
        continue;
      }
      if (!(s & sleeping)) {
        if (!state_.compare_exchange_weak(s, s | sleeping, std::memory_order::relaxed)) continue;
        s |= sleeping;
      }
      if (phase == waiting && !d.is_never()) {
        if (!Sync::park_until(state_, s, d)) deadline_seen = true;
      } else {
        Sync::park(state_, s);
      }
    }
  }

  planted_link<Sync>* winner() const noexcept { return winner_; }

 private:
  static constexpr std::uint32_t waiting = 0, claimed = 1, done = 2, left = 3;
  static constexpr std::uint32_t phase_mask = 3, sleeping = 4, interrupted = 8;

  typename Sync::template atomic<std::uint32_t> state_{waiting};
  planted_link<Sync>* winner_ = nullptr;
};

// The part of detail::waiter a select link uses: the case index, the result, the shared core.
template <class Sync>
class planted_link {
 public:
  planted_link(planted_core<Sync>& c, std::uint32_t index) : case_index(index), core_(&c) {}
  std::uint32_t case_index = 0;
  status result = status::ok;
  bool try_claim() noexcept { return core_->try_claim(); }
  void complete(status r) noexcept {
    result = r;
    core_->complete(this);
  }

 private:
  planted_core<Sync>* core_;
};

struct planted_kit {
  using sync = rl_sync<flavor::correct>;
  using core = planted_core<sync>;
  using link = planted_link<sync>;
  using outcome = core::outcome;
};

}  // namespace handoff_model

int main() {
  using namespace handoff_model;
  // Each run must FAIL (Relacy prints the failing history).
  const bool two_missed = run<two_wakers<planted_kit>>("planted claim by store: two wakers",
                                                       rl::fair_context_bound_scheduler_type, 0, 3);
  const bool leave_missed = run<leave_vs_wakers<planted_kit>>("planted claim by store: leave",
                                                              rl::fair_context_bound_scheduler_type, 0, 3);
  const bool timed_missed = run<timed_vs_wakers<planted_kit>>("planted claim by store: timed",
                                                              rl::fair_context_bound_scheduler_type, 0, 3);
  const bool all_caught = !two_missed && !leave_missed && !timed_missed;
  std::printf("planted variants caught: %s\n", all_caught ? "all (expected)" : "NOT ALL: the model is blind");
  return all_caught ? EXIT_FAILURE : EXIT_SUCCESS;
}
