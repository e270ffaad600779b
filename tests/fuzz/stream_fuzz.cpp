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
#include <handoff/stream.hpp>

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

void check_snapshot(const stream_t& s, const model& m) {
  check(s.size() == m.q.size(), "size() differs from the number of buffered values");
  check(s.is_closed() == m.closed, "is_closed()");
  check(s.capacity() == m.cap, "capacity()");
  check(g_live == static_cast<long>(m.q.size()),
        "live values differ from buffered values (leak or double free)");
  const auto w = s.waiting();
  check(w.poppers == 0 && w.pushers == 0, "a single thread left a waiter behind");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  g_throw_countdown = -1;
  g_live = 0;
  g_op = 0;
  if (size == 0) return 0;
  static constexpr std::size_t kCapacities[] = {0, 1, 2, 4, 7, kUnbounded};
  model m;
  m.cap = kCapacities[data[0] % 6];
  int next = 0;
  {
    std::unique_ptr<stream_t> s = m.cap == kUnbounded ? std::make_unique<stream_t>(handoff::unbounded)
                                                      : std::make_unique<stream_t>(m.cap);
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
          check_snapshot(*s, m);
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
        default:
          check_snapshot(*s, m);
          break;
      }
    }
    check_snapshot(*s, m);
  }  // the stream is destroyed with its buffered values
  check(g_live == 0, "values buffered at destruction were not destroyed exactly once");
  return 0;
}
