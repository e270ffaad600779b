// libFuzzer target: the input bytes are a sequence of operations on one mvar<int>, run in one thread and
// checked against a sequential model (std::optional<int>). Only operations that cannot wait are used (try_,
// past deadlines, read/swap only when the model says full), so a single thread never blocks. Rules: MV-1,
// MV-2, MV-5, MV-7, MV-8, MV-9, G-2 (a failed put leaves the value with the caller), G-7 (a past deadline
// behaves like try_).
#include <handoff/mvar.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

namespace {

[[noreturn]] void mismatch(const char* what) {
  __builtin_trap();  // libFuzzer reports the input that reached here
  (void)what;
}

void check(bool ok, const char* what) {
  if (!ok) mismatch(what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using handoff::status;
  std::optional<int> model;
  std::unique_ptr<handoff::mvar<std::unique_ptr<int>>> m;
  if (size > 0 && (data[0] & 1)) {
    m = std::make_unique<handoff::mvar<std::unique_ptr<int>>>(std::make_unique<int>(-1));
    model = -1;
  } else {
    m = std::make_unique<handoff::mvar<std::unique_ptr<int>>>();
  }
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
      case 7: {  // waiting() snapshot: a single thread never leaves a waiter behind
        const auto w = m->waiting();
        check(w.takers == 0 && w.putters == 0 && w.readers == 0, "no waiter left behind");
        break;
      }
    }
  }
  return 0;
}
