// libFuzzer target: the input bytes are a sequence of operations on one mvar<int>, run in one thread and
// checked against a sequential model (std::optional<int>). Only operations that cannot wait are used (try_,
// past deadlines, read/swap only when the model says full), so a single thread never blocks. Rules: MV-1,
// MV-2, MV-5, MV-7, MV-8, MV-9, G-2 (a failed put leaves the value with the caller), G-7 (a past deadline
// behaves like try_).
//
// select (SE-1, SE-3, G-7): two more mvars (full at the start when bit 1, resp. bit 2, of the first byte is
// set) and a condition. An operation byte 7 modulo 8 other than 7 itself reads parameter bytes: a shape byte
// (2, 3 or 4 cases; the form: try_select, select_for(0), select_until(past), select(stop requested),
// select_for(0, stop requested); whether a condition wait case comes last) and one byte per case (bit 0:
// take or put; the rest: which of the three mvars). The form is always biased, so the winner is the first
// case that the model says can complete now (a take on a full mvar, a put on an empty one; a wait never can:
// a condition stores nothing). Exactly that case takes effect and its value moves; a put case that did not
// win keeps its value; with no case ready the answer is empty, timeout or cancelled (cancelled when both).
// Byte 7 stays the waiting() snapshot. A missing parameter byte reads as 0. Inputs written before select
// still read the same but for bytes 15, 23, ..., 255 (a second spelling of the snapshot) and bits 1-2 of the
// first byte (ignored before).
#include <handoff/condition.hpp>
#include <handoff/mvar.hpp>
#include <handoff/select.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stop_token>

namespace {

[[noreturn]] void mismatch(const char* what) {
  __builtin_trap();  // libFuzzer reports the input that reached here
  (void)what;
}

void check(bool ok, const char* what) {
  if (!ok) mismatch(what);
}

using box = handoff::mvar<std::unique_ptr<int>>;
using signal_t = handoff::condition<std::unique_ptr<int>>;
constexpr std::size_t kBoxes =
    3;  // the main mvar (index 0, every operation) and two that only select reaches

enum class select_form { try_only, for_zero, until_past, stopped, for_zero_stopped };
constexpr unsigned kSelectForms = 5;

struct case_spec {
  bool put;
  std::size_t box;
};

template <class... Cases>
handoff::selected run_form(select_form f, const std::stop_token& stopped, Cases&... cs) {
  switch (f) {
    case select_form::try_only:
      return handoff::try_select(handoff::biased, cs...);
    case select_form::for_zero:
      return handoff::select_for(std::chrono::seconds(0), handoff::biased, cs...);
    case select_form::until_past:
      return handoff::select_until(std::chrono::system_clock::now() - std::chrono::seconds(1),
                                   handoff::biased, cs...);
    case select_form::stopped:
      return handoff::select(stopped, handoff::biased, cs...);
    case select_form::for_zero_stopped:
      return handoff::select_for(std::chrono::seconds(0), stopped, handoff::biased, cs...);
  }
  mismatch("select form");
}

// The cases of one select, built in place; the condition's wait case, when present, comes last.
template <std::size_t N>
struct select_cases {
  std::array<std::optional<handoff::take_case<std::unique_ptr<int>, handoff::default_sync>>, N> takes;
  std::array<std::optional<handoff::put_case<std::unique_ptr<int>, handoff::default_sync>>, N> puts;
};

// Calls run_form with case 0..N-1, each the take or the put case its spec names (2^N instantiations).
template <std::size_t N, class... Built>
handoff::selected run_cases(select_cases<N>& c, const std::array<case_spec, N>& spec, select_form f,
                            const std::stop_token& stopped, signal_t* cond, Built&... built) {
  constexpr std::size_t i = sizeof...(Built);
  if constexpr (i == N) {
    if (cond) {
      auto wait = handoff::on_wait(*cond);
      const handoff::selected r = run_form(f, stopped, built..., wait);
      check(!wait.value.has_value(), "a wait case holds a value nobody signalled (CO-1)");
      return r;
    }
    return run_form(f, stopped, built...);
  } else {
    if (spec[i].put) return run_cases<N>(c, spec, f, stopped, cond, built..., *c.puts[i]);
    return run_cases<N>(c, spec, f, stopped, cond, built..., *c.takes[i]);
  }
}

template <std::size_t N>
void select_case(std::array<std::unique_ptr<box>, kBoxes>& boxes,
                 std::array<std::optional<int>, kBoxes>& model, int& next, select_form f,
                 const std::array<case_spec, N>& spec, signal_t* cond, const std::stop_token& stopped) {
  using handoff::status;
  std::size_t want = handoff::selected::none;
  const status none_status = f == select_form::try_only ? status::empty
                             : f == select_form::stopped || f == select_form::for_zero_stopped
                                 ? status::cancelled
                                 : status::timeout;
  for (std::size_t k = 0; k < N && want == handoff::selected::none; ++k)
    if (spec[k].put != model[spec[k].box].has_value())
      want = k;                                // a take on a full mvar, a put on an empty one
  std::array<std::unique_ptr<int>, N> values;  // each put case's own value
  std::array<int, N> offered{};
  select_cases<N> c;
  for (std::size_t k = 0; k < N; ++k) {
    if (spec[k].put) {
      offered[k] = next++;
      values[k] = std::make_unique<int>(offered[k]);
      c.puts[k].emplace(*boxes[spec[k].box], values[k]);
    } else {
      c.takes[k].emplace(*boxes[spec[k].box]);
    }
  }
  const handoff::selected r = run_cases<N>(c, spec, f, stopped, cond);
  check(r.index() == want, "select picked another case than the first ready one (biased, SE-1, SE-3)");
  check(r.status() == (want == handoff::selected::none ? none_status : status::ok),
        "select's status differs from the model's (SE-3, G-7)");
  for (std::size_t k = 0; k < N; ++k) {
    std::optional<int>& m = model[spec[k].box];
    if (spec[k].put) {
      if (k == want) {
        check(!values[k], "the winning put case did not move its value in (SE-1)");
        m = offered[k];
      } else {
        check(values[k] && *values[k] == offered[k],
              "a put case that did not win lost its value (SE-1, G-2)");
      }
    } else {
      const auto& got = c.takes[k]->value;
      if (k == want) {
        check(got.has_value() && *got && **got == *m, "the winning take case's value (SE-1)");
        m.reset();
      } else {
        check(!got.has_value(), "a take case that did not win holds a value (SE-1)");
      }
    }
  }
  for (const auto& b : boxes) {
    const auto w = b->waiting();
    check(w.takers == 0 && w.putters == 0 && w.readers == 0, "a select left a link behind (SE-1)");
  }
  if (cond) check(cond->waiting() == 0, "a select left its wait case registered (SE-1)");
}

template <std::size_t N>
void select_op(std::array<std::unique_ptr<box>, kBoxes>& boxes, std::array<std::optional<int>, kBoxes>& model,
               int& next, select_form f, const std::uint8_t* param, std::size_t params, signal_t* cond,
               const std::stop_token& stopped) {
  std::array<case_spec, N> spec;
  for (std::size_t k = 0; k < N; ++k) {
    const std::uint8_t b = k < params ? param[k] : 0;
    spec[k] = case_spec{(b & 1) != 0, static_cast<std::size_t>((b >> 1) % kBoxes)};
  }
  select_case<N>(boxes, model, next, f, spec, cond, stopped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using handoff::status;
  std::array<std::optional<int>, kBoxes> models;
  std::array<std::unique_ptr<box>, kBoxes> boxes;
  for (std::size_t k = 0; k < kBoxes; ++k) {
    if (size > 0 && (data[0] >> k & 1)) {
      boxes[k] = std::make_unique<box>(std::make_unique<int>(-1 - static_cast<int>(k)));
      models[k] = -1 - static_cast<int>(k);
    } else {
      boxes[k] = std::make_unique<box>();
    }
  }
  std::optional<int>& model = models[0];
  std::unique_ptr<box>& m = boxes[0];
  signal_t cond;
  std::stop_source stopped;
  stopped.request_stop();
  int next = 0;
  for (std::size_t i = 1; i < size; ++i) {
    switch (data[i] % 8) {
      case 0: {  // try_put
        auto v = std::make_unique<int>(next);
        const status s = m->try_put(std::move(v));
        if (model) {
          check(s == status::full && v && *v == next, "try_put on full");
        } else {
          check(s == status::ok && !v, "try_put on empty");
          model = next;
        }
        ++next;
        break;
      }
      case 1: {  // try_take
        auto got = m->try_take();
        check(got.has_value() == model.has_value(), "try_take presence");
        if (got) check(**got == *model, "try_take value");
        model.reset();
        break;
      }
      case 2:  // is_empty
        check(m->is_empty() == !model.has_value(), "is_empty");
        break;
      case 3: {  // put_for with a past deadline
        auto v = std::make_unique<int>(next);
        const status s = m->put_for(std::move(v), std::chrono::seconds(-1));
        if (model) {
          check(s == status::timeout && v && *v == next, "put_for(past) on full");
        } else {
          check(s == status::ok, "put_for(past) on empty");
          model = next;
        }
        ++next;
        break;
      }
      case 4: {  // take_until with a past deadline
        auto got = m->take_until(std::chrono::steady_clock::now() - std::chrono::seconds(1));
        check(got.has_value() == model.has_value(), "take_until(past) presence");
        if (got) check(**got == *model, "take_until(past) value");
        model.reset();
        break;
      }
      case 5:  // swap when full
        if (model) {
          auto old = m->swap(std::make_unique<int>(next));
          check(*old == *model, "swap value");
          model = next++;
        }
        break;
      case 6:  // put then take when empty, with a stop token that is already stopped (does not wait: no
               // effect)
        if (!model) {
          std::stop_source source;
          source.request_stop();
          check(m->put(std::make_unique<int>(next), source.get_token()) == status::ok,
                "put(stopped) on empty");
          model = next++;
        } else {
          std::stop_source source;
          source.request_stop();
          auto v = std::make_unique<int>(next);
          check(m->put(std::move(v), source.get_token()) == status::cancelled && v, "put(stopped) on full");
        }
        break;
      case 7: {
        if (data[i] == 7) {  // waiting() snapshot: a single thread never leaves a waiter behind
          const auto w = m->waiting();
          check(w.takers == 0 && w.putters == 0 && w.readers == 0, "no waiter left behind");
          break;
        }
        // select over the three mvars (and the condition): parameter bytes follow
        const std::uint8_t* param = data + i + 1;
        const std::size_t left = size - i - 1;
        const std::uint8_t shape = left > 0 ? param[0] : 0;
        const std::size_t cases = 2 + shape % 3;
        const auto f = static_cast<select_form>((shape / 3) % kSelectForms);
        signal_t* with_wait = (shape / 15) % 2 ? &cond : nullptr;
        const std::size_t have = left > 0 ? std::min(left - 1, cases) : 0;
        if (cases == 2) select_op<2>(boxes, models, next, f, param + 1, have, with_wait, stopped.get_token());
        if (cases == 3) select_op<3>(boxes, models, next, f, param + 1, have, with_wait, stopped.get_token());
        if (cases == 4) select_op<4>(boxes, models, next, f, param + 1, have, with_wait, stopped.get_token());
        i += std::min(left, 1 + cases);
        break;
      }
    }
  }
  return 0;
}
