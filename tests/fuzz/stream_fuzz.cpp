// libFuzzer target: the input bytes are a sequence of operations on one stream<probe>, run in one thread and
// checked against a sequential model (std::deque<int> plus a closed flag). The first byte picks the capacity:
// 0, 1, 2, 4, 7 or unbounded. Only operations that cannot wait are used: try_, _for(0) / _until(past), stop
// token forms with the token already stopped, and the blocking push()/pop()/range-for only when the model
// says they return at once; capacity 0 (rendezvous, nobody on the other side) thus only ever fails or reports
// closed. Some operations arm a fault: the next move (or copy) of a probe throws, and the check is G-8 - a
// push whose move throws propagates the exception, leaves its argument intact and the stream unchanged; a pop
// whose move out throws propagates it and no other value is lost. A live-object count checks that every value
// the stream holds is destroyed exactly once (with the stream, or when popped). Rules: ST-1, ST-2, ST-3
// (single-thread part), ST-4, ST-5, ST-7, G-2, G-7, G-8.
//
// select (SE-1, SE-3, SE-5, SE-6, G-7): two more streams, whose capacities come from the first byte's higher
// digits (data[0] / 6 and data[0] / 36, modulo 6; the main stream's, data[0] % 6, is as before). An operation
// byte 19 modulo 20 that is not 19 itself reads parameter bytes: a shape byte (2, 3 or 4 cases; the form:
// try_select, select_for(0), select_until(past), select(stop requested), select_for(0, stop requested)) and
// one byte per case (bit 0: pop or push; the rest: which of the three streams); the form is always biased,
// so the winner is the first case, in argument order, that the model says can complete now (a push with room
// or on a closed stream, a pop with a value or on a closed and drained stream; a rendezvous stream never has
// a partner here, and a select's own pop and push never meet: SE-5). Exactly that case takes effect: a pop
// case's value is the front of its stream, a push case's value is moved in; every other case is untouched
// (a losing push keeps its value), and when no case can complete the form's answer is empty, timeout or
// cancelled (cancelled when both). Byte 19 stays a snapshot; byte 39 closes one of the two extra streams
// (parameter byte: which). A missing parameter byte reads as 0. Inputs written before select still read the
// same but for bytes 39, 59, ..., 239, which were a second spelling of the snapshot.
#include <handoff/select.hpp>
#include <handoff/stream.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stop_token>

namespace {

using handoff::status;

constexpr int kMovedFrom = -1;
int g_throw_countdown = -1;  // >= 0: the (countdown + 1)-th move or copy of a probe from now throws
long g_live = 0;             // probes alive

struct injected_failure {};

void maybe_throw() {
  if (g_throw_countdown >= 0 && g_throw_countdown-- == 0) throw injected_failure{};
}

// A value whose move and copy constructors can be made to throw, which marks itself when moved from, and
// which counts live objects.
struct probe {
  int value;
  explicit probe(int v) noexcept : value(v) { ++g_live; }
  probe(probe&& o) : value(o.value) {
    maybe_throw();  // before touching the source: a throwing move leaves it as it was
    o.value = kMovedFrom;
    ++g_live;
  }
  probe(const probe& o) : value(o.value) {
    maybe_throw();
    ++g_live;
  }
  probe& operator=(probe&& o) noexcept {
    value = o.value;
    o.value = kMovedFrom;
    return *this;
  }
  probe& operator=(const probe&) noexcept = default;
  ~probe() { --g_live; }
};

std::size_t g_op = 0;

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "stream_fuzz: model mismatch at operation %zu: %s\n", g_op, what);
  std::abort();  // libFuzzer saves the input that reached here
}

void check(bool ok, const char* what) {
  if (!ok) mismatch(what);
}

constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();

struct model {
  std::deque<int> q;
  bool closed = false;
  std::size_t cap = 0;
  bool room() const { return cap == kUnbounded || q.size() < cap; }
};

using stream_t = handoff::stream<probe>;

// A push whose outcome the model predicts: ok (the value is in), `refusal` (no room, the value stays),
// closed.
template <class Push>
void push_case(stream_t& s, model& m, int& next, status refusal, Push&& push) {
  probe v(next);
  const status got = push(v);
  if (m.closed) {
    check(got == status::closed, "push on a closed stream must report closed (ST-5)");
  } else if (m.room()) {
    check(got == status::ok, "push with room must succeed at once (ST-1, ST-2, G-7)");
  } else {
    check(got == refusal, "push on a full stream must fail with the form's refusal (ST-2, ST-3, G-7)");
  }
  if (got == status::ok)
    m.q.push_back(next);
  else
    check(v.value == next, "a failed push moved from its argument (G-2)");
  ++next;
  (void)s;
}

// A push whose first move throws: if the push would have stored the value, the exception reaches us, the
// argument is intact and the stream is unchanged (G-8); otherwise no move happens and the usual result comes.
template <class Push>
void throwing_push_case(stream_t& s, model& m, int& next, status refusal, Push&& push) {
  probe v(next);
  g_throw_countdown = 0;
  bool threw = false;
  status got = status::ok;
  try {
    got = push(v);
  } catch (const injected_failure&) {
    threw = true;
  }
  const bool armed_left = g_throw_countdown == 0;
  g_throw_countdown = -1;
  if (m.closed) {
    check(!threw && got == status::closed, "throwing push on a closed stream must report closed, not move");
  } else if (m.room()) {
    check(threw, "a push with room whose move throws must propagate the exception (G-8)");
  } else {
    check(!threw && armed_left && got == refusal, "a push on a full stream must fail without moving (G-2)");
  }
  check(v.value == next, "a push that failed or threw lost its argument (G-2, G-8)");
  ++next;
  (void)s;
}

// A pop whose outcome the model predicts.
void expect_pop(model& m, status got, const probe& out, status refusal) {
  if (!m.q.empty()) {
    check(got == status::ok, "pop on a non-empty stream must succeed at once (ST-4)");
    check(out.value == m.q.front(), "pop returned a value out of FIFO order (ST-4)");
    m.q.pop_front();
  } else if (m.closed) {
    check(got == status::closed, "pop on a closed, drained stream must report end-of-stream (ST-5)");
  } else {
    check(got == refusal, "pop on an empty stream must fail with the form's refusal (G-7)");
  }
}

// The main stream (index 0, every operation) and the two that only select reaches.
constexpr std::size_t kStreams = 3;

struct world {
  std::array<std::unique_ptr<stream_t>, kStreams> streams;
  std::array<model, kStreams> models;
};

void check_one(const stream_t& s, const model& m) {
  check(s.size() == m.q.size(), "size() differs from the number of buffered values");
  check(s.is_closed() == m.closed, "is_closed()");
  check(s.capacity() == m.cap, "capacity()");
  const auto w = s.waiting();
  check(w.poppers == 0 && w.pushers == 0,
        "a single thread left a waiter behind (SE-1: a select unregisters)");
}

void check_snapshot(const world& w) {
  std::size_t buffered = 0;
  for (std::size_t k = 0; k < kStreams; ++k) {
    check_one(*w.streams[k], w.models[k]);
    buffered += w.models[k].q.size();
  }
  check(g_live == static_cast<long>(buffered),
        "live values differ from buffered values (leak or double free)");
}

// ---- select over the three streams

enum class select_form { try_only, for_zero, until_past, stopped, for_zero_stopped };
constexpr unsigned kSelectForms = 5;

struct case_spec {
  bool push;
  std::size_t stream;
};

template <class... Cases>
handoff::selected run_form(select_form f, const std::stop_token& stopped, Cases&... cs) {
  switch (f) {
    case select_form::try_only:
      return handoff::try_select(handoff::biased, cs...);
    case select_form::for_zero:
      return handoff::select_for(std::chrono::seconds(0), handoff::biased, cs...);
    case select_form::until_past:
      return handoff::select_until(std::chrono::steady_clock::now() - std::chrono::seconds(1),
                                   handoff::biased, cs...);
    case select_form::stopped:
      return handoff::select(stopped, handoff::biased, cs...);
    case select_form::for_zero_stopped:
      return handoff::select_for(std::chrono::seconds(0), stopped, handoff::biased, cs...);
  }
  mismatch("select form");
}

// The cases of one select, built in place (a case holds a stream pointer and, for a pop, the value popped).
template <std::size_t N>
struct select_cases {
  std::array<std::optional<handoff::pop_case<probe, handoff::default_sync>>, N> pops;
  std::array<std::optional<handoff::push_case<probe, handoff::default_sync>>, N> pushes;
};

// Calls run_form with case 0..N-1, each the pop or the push case its spec names (2^N instantiations).
template <std::size_t N, class... Built>
handoff::selected run_cases(select_cases<N>& c, const std::array<case_spec, N>& spec, select_form f,
                            const std::stop_token& stopped, Built&... built) {
  constexpr std::size_t i = sizeof...(Built);
  if constexpr (i == N) {
    return run_form(f, stopped, built...);
  } else {
    if (spec[i].push) return run_cases<N>(c, spec, f, stopped, built..., *c.pushes[i]);
    return run_cases<N>(c, spec, f, stopped, built..., *c.pops[i]);
  }
}

// Whether case k could complete now, per the model (the try pass of a biased select), and how.
bool ready(const model& m, const case_spec& k, status& how) {
  if (k.push) {
    how = m.closed ? status::closed : status::ok;  // a push on a closed stream fails at once (ST-5, SE-6)
    return m.closed || m.room();
  }
  how = m.q.empty() ? status::closed : status::ok;  // values first, end-of-stream once drained (SE-6)
  return !m.q.empty() || m.closed;
}

template <std::size_t N>
void select_case(world& w, int& next, select_form f, const std::array<case_spec, N>& spec,
                 const std::stop_token& stopped) {
  // The model's answer: the first ready case in argument order, else the form's reason.
  std::size_t want = handoff::selected::none;
  status want_status = f == select_form::try_only                                        ? status::empty
                       : f == select_form::stopped || f == select_form::for_zero_stopped ? status::cancelled
                                                                                         : status::timeout;
  for (std::size_t k = 0; k < N; ++k) {
    status how;
    if (ready(w.models[spec[k].stream], spec[k], how)) {
      want = k;
      want_status = how;
      break;
    }
  }
  std::array<std::optional<probe>, N> values;  // each push case's own value
  std::array<int, N> offered{};
  select_cases<N> c;
  for (std::size_t k = 0; k < N; ++k) {
    stream_t& s = *w.streams[spec[k].stream];
    if (spec[k].push) {
      offered[k] = next++;
      values[k].emplace(offered[k]);
      c.pushes[k].emplace(s, *values[k]);
    } else {
      c.pops[k].emplace(s);
    }
  }
  const handoff::selected r = run_cases<N>(c, spec, f, stopped);
  check(r.index() == want, "select picked another case than the first ready one (biased, SE-1, SE-3)");
  check(r.status() == want_status, "select's status differs from the model's (SE-3, SE-6, G-7)");
  for (std::size_t k = 0; k < N; ++k) {
    model& m = w.models[spec[k].stream];
    const bool took_effect = k == want && want_status == status::ok;
    if (spec[k].push) {
      if (took_effect) {
        check(values[k]->value == kMovedFrom, "the winning push case did not move its value in (SE-1)");
        m.q.push_back(offered[k]);
      } else {
        check(values[k]->value == offered[k],
              "a push case that did not win moved from its value (SE-1, G-2)");
      }
    } else {
      const auto& got = c.pops[k]->value;
      if (took_effect) {
        check(got.has_value() && got->value == m.q.front(), "the winning pop case's value (SE-1, ST-4)");
        m.q.pop_front();
      } else {
        check(!got.has_value(), "a pop case that did not win holds a value (SE-1)");
      }
    }
  }
}

template <std::size_t N>
void select_op(world& w, int& next, select_form f, const std::uint8_t* param, std::size_t params,
               const std::stop_token& stopped) {
  std::array<case_spec, N> spec;
  for (std::size_t k = 0; k < N; ++k) {
    const std::uint8_t b = k < params ? param[k] : 0;
    spec[k] = case_spec{(b & 1) != 0, static_cast<std::size_t>((b >> 1) % kStreams)};
  }
  select_case<N>(w, next, f, spec, stopped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g_throw_countdown = -1;
  g_live = 0;
  g_op = 0;
  if (size == 0) return 0;
  static constexpr std::size_t kCapacities[] = {0, 1, 2, 4, 7, kUnbounded};
  world w;
  for (std::size_t k = 0; k < kStreams; ++k) {
    static constexpr unsigned kDigit[kStreams] = {1, 6, 36};
    w.models[k].cap = kCapacities[(data[0] / kDigit[k]) % 6];
    w.streams[k] = w.models[k].cap == kUnbounded ? std::make_unique<stream_t>(handoff::unbounded)
                                                 : std::make_unique<stream_t>(w.models[k].cap);
  }
  model& m = w.models[0];
  int next = 0;
  {
    std::unique_ptr<stream_t>& s = w.streams[0];
    std::stop_source stopped;
    stopped.request_stop();
    const auto past_steady = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    const auto past_system = std::chrono::system_clock::now() - std::chrono::seconds(1);

    for (std::size_t i = 1; i < size; ++i) {
      g_op = i;
      const std::uint8_t byte = data[i];
      switch (byte % 20) {
        case 0:
        case 1:  // try_push
          push_case(*s, m, next, status::full, [&](probe& v) { return s->try_push(std::move(v)); });
          break;
        case 2:  // push_for(0)
          push_case(*s, m, next, status::timeout,
                    [&](probe& v) { return s->push_for(std::move(v), std::chrono::seconds(0)); });
          break;
        case 3:  // push_until(past), system_clock
          push_case(*s, m, next, status::timeout,
                    [&](probe& v) { return s->push_until(std::move(v), past_system); });
          break;
        case 4:  // push(stop_token) with a stop already requested: completes if it need not wait
          push_case(*s, m, next, status::cancelled,
                    [&](probe& v) { return s->push(std::move(v), stopped.get_token()); });
          break;
        case 5:  // blocking push / push(const T&), only when it returns at once
          if (m.closed || m.room()) {
            if (byte & 0x80) {
              push_case(*s, m, next, status::full, [&](probe& v) {
                const probe& cref = v;
                return s->push(cref) ? status::ok : status::closed;
              });
            } else {
              push_case(*s, m, next, status::full,
                        [&](probe& v) { return s->push(std::move(v)) ? status::ok : status::closed; });
            }
          }
          break;
        case 6:
        case 7: {  // try_pop(out)
          probe out(kMovedFrom);
          expect_pop(m, s->try_pop(out), out, status::empty);
          break;
        }
        case 8: {  // pop_for(0) / pop_until(past)
          probe out(kMovedFrom);
          const status got =
              (byte & 0x80) ? s->pop_until(out, past_steady) : s->pop_for(out, std::chrono::milliseconds(0));
          expect_pop(m, got, out, status::timeout);
          break;
        }
        case 9: {  // pop(out, stop_token) with a stop already requested
          probe out(kMovedFrom);
          expect_pop(m, s->pop(out, stopped.get_token()), out, status::cancelled);
          break;
        }
        case 10: {  // try_pop() / blocking pop(), the latter only when it returns at once
          std::optional<probe> got;
          if (byte & 0x80) {
            if (m.q.empty() && !m.closed) break;
            got = s->pop();
          } else {
            got = s->try_pop();
          }
          if (!m.q.empty()) {
            check(got.has_value() && got->value == m.q.front(), "pop()/try_pop() value (ST-4)");
            m.q.pop_front();
          } else {
            check(!got.has_value(), "pop()/try_pop() on an empty stream returned a value");
          }
          break;
        }
        case 11:  // close (ST-5: idempotent)
          s->close();
          m.closed = true;
          break;
        case 12:
          check_snapshot(w);
          break;
        case 13:  // ST-7: range-for, only once closed (it ends at end-of-stream)
          if (m.closed) {
            for (probe v : *s) {
              check(!m.q.empty() && v.value == m.q.front(), "range-for value (ST-7)");
              m.q.pop_front();
            }
            check(m.q.empty(), "range-for ended before the stream was drained (ST-5, ST-7)");
          }
          break;
        case 14:  // G-8: try_push whose move throws
          throwing_push_case(*s, m, next, status::full, [&](probe& v) { return s->try_push(std::move(v)); });
          break;
        case 15:  // G-8: push_for(0) whose move throws
          throwing_push_case(*s, m, next, status::timeout,
                             [&](probe& v) { return s->push_for(std::move(v), std::chrono::seconds(0)); });
          break;
        case 16:  // G-8: push(const T&) whose copy throws (the copy is made first, so only where it would
                  // succeed)
          if (!m.closed && m.room())
            throwing_push_case(*s, m, next, status::full, [&](probe& v) {
              const probe& cref = v;
              return s->push(cref) ? status::ok : status::closed;
            });
          break;
        case 17: {  // G-8: a pop whose move out of the stream throws
          probe out(kMovedFrom);
          g_throw_countdown = 0;
          bool threw = false;
          status got = status::empty;
          try {
            got = s->try_pop(out);
          } catch (const injected_failure&) {
            threw = true;
          }
          g_throw_countdown = -1;
          if (m.q.empty()) {
            check(!threw && got == (m.closed ? status::closed : status::empty),
                  "throwing pop on an empty stream");
            break;
          }
          check(threw, "a pop whose move throws must propagate the exception (G-8)");
          // stream.hpp: the popper's own value is destroyed; no other value may be lost (G-8), in the ring
          // and in the overflow list of an unbounded stream alike.
          check(s->size() + 1 == m.q.size(), "a throwing pop lost, kept or invented values (G-8)");
          m.q.pop_front();
          break;
        }
        case 18: {  // a throwing push followed at once by a try_push: the stream must accept it as before
          throwing_push_case(*s, m, next, status::full, [&](probe& v) { return s->try_push(std::move(v)); });
          push_case(*s, m, next, status::full, [&](probe& v) { return s->try_push(std::move(v)); });
          break;
        }
        default: {  // 19: a snapshot; 39: close an extra stream; 59..239: a select (parameter bytes follow)
          const unsigned sub = byte / 20;
          if (sub == 0) {
            check_snapshot(w);
            break;
          }
          const std::uint8_t* param = data + i + 1;
          const std::size_t left = size - i - 1;
          if (sub == 1) {
            const std::size_t k = 1 + (left > 0 ? param[0] : 0) % (kStreams - 1);
            w.streams[k]->close();
            w.models[k].closed = true;
            i += left > 0 ? 1 : 0;
            break;
          }
          const std::uint8_t shape = left > 0 ? param[0] : 0;
          const auto f = static_cast<select_form>((shape / 3) % kSelectForms);
          const std::size_t cases = 2 + shape % 3;
          const std::size_t have = left > 0 ? std::min(left - 1, cases) : 0;
          if (cases == 2) select_op<2>(w, next, f, param + 1, have, stopped.get_token());
          if (cases == 3) select_op<3>(w, next, f, param + 1, have, stopped.get_token());
          if (cases == 4) select_op<4>(w, next, f, param + 1, have, stopped.get_token());
          i += std::min(left, 1 + cases);
          break;
        }
      }
    }
    check_snapshot(w);
    for (auto& extra : w.streams) extra.reset();  // the streams are destroyed with their buffered values
  }
  check(g_live == 0, "values buffered at destruction were not destroyed exactly once");
  return 0;
}
