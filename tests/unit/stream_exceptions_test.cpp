// G-8 audit of stream's pops (issue 16): "every path where a move can throw after the value left the
// primitive". A value type whose k-th move from now throws (k = 0, 1, 2, ...) is popped by each pop form:
// pop(), try_pop(), pop_for(d), pop_until(t), pop(stop), try_pop(T&), pop_for(T&, d), try_pop_some / pop_some
// (std::back_inserter: one claim per value) and range-for. For each form and each k the test knows how many
// moves the form makes (stream.hpp, "Where a popped value can be lost"): if k is below that count the form
// throws and exactly the value being popped is lost; otherwise it returns that value. Either way every other
// value is still in the stream, in order, the stream stays usable, and no object leaks or is destroyed twice.
// The result<T> forms and pop() must move exactly once (NRVO). Values come from the ring (capacity 8) and
// from an unbounded stream's overflow list. Single-threaded: every pop here finds its value published.
#include <handoff/stream.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using handoff::status;

struct move_error : std::runtime_error {
  move_error() : std::runtime_error("fragile: the armed move throws") {}
};

// Move-only; the move constructor and move assignment count as moves. Armed with countdown = k, the move
// that finds countdown == 0 throws (before changing anything) and disarms.
struct fragile {
  static inline int countdown = -1;  // -1: disarmed
  static inline int moves = 0;
  static inline int live = 0;

  int v = 0;
  explicit fragile(int x) : v(x) { ++live; }
  fragile(fragile&& o) : v((step(), o.v)) { ++live; }
  fragile& operator=(fragile&& o) {
    step();
    v = o.v;
    return *this;
  }
  fragile(const fragile&) = delete;
  fragile& operator=(const fragile&) = delete;
  ~fragile() { --live; }

  static void step() {
    ++moves;
    if (countdown == 0) {
      countdown = -1;
      throw move_error();
    }
    if (countdown > 0) --countdown;
  }
};
static_assert(!std::is_nothrow_move_constructible_v<fragile>);

using fragile_stream = handoff::stream<fragile>;

// Where the values come from: the ring, or the overflow list of an unbounded stream (its ring full of
// fillers that are popped first, so that the values under test sit in overflow cells).
enum class source { ring, overflow };

struct fixture {
  explicit fixture(source from)
      : s(from == source::ring ? fragile_stream(8) : fragile_stream(handoff::unbounded)) {
    if (from == source::overflow) {
      for (std::size_t i = 0; i < fragile_stream::unbounded_ring_size; ++i) EXPECT_TRUE(s.push(fragile(-1)));
    }
    for (int i = 1; i <= 5; ++i) EXPECT_TRUE(s.push(fragile(i)));
    if (from == source::overflow) {
      for (std::size_t i = 0; i < fragile_stream::unbounded_ring_size; ++i) EXPECT_EQ(s.pop()->v, -1);
    }
  }
  fragile_stream s;
};

// One pop form: pops one value and returns it (or throws).
struct form {
  const char* name;
  int moves;  // moves it makes on success (stream.hpp, "Where a popped value can be lost")
  std::function<int(fragile_stream&)> pop_one;
};

std::vector<form> forms() {
  return {
      {"pop()", 1, [](fragile_stream& s) { return s.pop()->v; }},
      {"try_pop()", 1, [](fragile_stream& s) { return s.try_pop()->v; }},
      {"pop_for(d)", 1, [](fragile_stream& s) { return s.pop_for(1h)->v; }},
      {"pop_until(t)", 1,
       [](fragile_stream& s) { return s.pop_until(std::chrono::steady_clock::now() + 1h)->v; }},
      {"pop(stop)", 1, [](fragile_stream& s) { return s.pop(std::stop_token{})->v; }},
      {"pop_for(d, stop)", 1, [](fragile_stream& s) { return s.pop_for(1h, std::stop_token{})->v; }},
      {"try_pop(T&)", 2,
       [](fragile_stream& s) {
         fragile out(0);
         EXPECT_EQ(s.try_pop(out), status::ok);
         return out.v;
       }},
      {"pop_for(T&, d)", 2,
       [](fragile_stream& s) {
         fragile out(0);
         EXPECT_EQ(s.pop_for(out, 1h), status::ok);
         return out.v;
       }},
      {"pop_some(back_inserter, 1)", 2,
       [](fragile_stream& s) {
         std::vector<fragile> out;
         out.reserve(4);  // no reallocation moves
         EXPECT_EQ(s.pop_some(std::back_inserter(out), 1), 1u);
         return out.at(0).v;
       }},
      {"try_pop_some(back_inserter, 1)", 2,
       [](fragile_stream& s) {
         std::vector<fragile> out;
         out.reserve(4);
         EXPECT_EQ(s.try_pop_some(std::back_inserter(out), 1), 1u);
         return out.at(0).v;
       }},
      {"range-for", 2,
       [](fragile_stream& s) {
         for (fragile v : s) return v.v;  // into the iterator, then into v
         return -1;
       }},
  };
}

std::vector<int> drain(fragile_stream& s) {
  std::vector<int> out;
  while (auto v = s.try_pop()) out.push_back(v->v);
  return out;
}

// G-8: each form, each k. Exactly the value being popped is lost when the form throws; nothing else.
void check_every_form(source from) {
  for (const form& f : forms()) {
    for (int k = 0; k <= 2; ++k) {
      SCOPED_TRACE(std::string(f.name) + ", move " + std::to_string(k) + " throws");
      const int live_before = fragile::live;
      {
        fixture fx(from);
        fragile::moves = 0;
        fragile::countdown = k;
        bool threw = false;
        int got = 0;
        try {
          got = f.pop_one(fx.s);
        } catch (const move_error&) {
          threw = true;
        }
        const int made = fragile::moves;
        fragile::countdown = -1;
        if (k < f.moves) {
          EXPECT_TRUE(threw) << "G-8: the throwing move reaches the caller";
        } else {
          EXPECT_FALSE(threw);
          EXPECT_EQ(got, 1);
          EXPECT_EQ(made, f.moves) << "moves made by a successful " << f.name;
        }
        EXPECT_EQ(drain(fx.s), (std::vector<int>{2, 3, 4, 5}))
            << "G-8: no value other than the one being popped is lost";
        EXPECT_TRUE(fx.s.push(fragile(6))) << "G-8: the stream stays usable";
        EXPECT_EQ(fx.s.pop()->v, 6);
      }
      EXPECT_EQ(fragile::live, live_before) << "an object leaked or was destroyed twice";
    }
  }
}

TEST(StreamExceptions, EveryPopFormLosesOnlyTheValueBeingPopped_Ring_G8) {
  check_every_form(source::ring);
}
TEST(StreamExceptions, EveryPopFormLosesOnlyTheValueBeingPopped_Overflow_G8) {
  check_every_form(source::overflow);
}

// G-8: a batch of 3 through std::back_inserter (two moves per value): the move that throws loses exactly the
// value it was moving; the values written before it stay written, the values after it stay in the stream.
void check_batch(source from, bool wait) {
  for (int k = 0; k <= 6; ++k) {
    SCOPED_TRACE(std::string(wait ? "pop_some" : "try_pop_some") + ", move " + std::to_string(k) + " throws");
    const int live_before = fragile::live;
    {
      fixture fx(from);
      std::vector<fragile> out;
      out.reserve(8);
      fragile::countdown = k;
      bool threw = false;
      std::size_t n = 0;
      try {
        n = wait ? fx.s.pop_some(std::back_inserter(out), 3) : fx.s.try_pop_some(std::back_inserter(out), 3);
      } catch (const move_error&) {
        threw = true;
      }
      fragile::countdown = -1;
      std::vector<int> written;
      for (const fragile& x : out) written.push_back(x.v);
      std::vector<int> rest = drain(fx.s);
      if (k < 6) {
        const int lost = 1 + k / 2;  // values 1, 2, 3 take moves 0-1, 2-3, 4-5
        EXPECT_TRUE(threw);
        std::vector<int> want_written, want_rest;
        for (int v = 1; v < lost; ++v) want_written.push_back(v);
        for (int v = lost + 1; v <= 5; ++v) want_rest.push_back(v);
        EXPECT_EQ(written, want_written);
        EXPECT_EQ(rest, want_rest) << "G-8: only value " << lost << " is lost";
      } else {
        EXPECT_FALSE(threw);
        EXPECT_EQ(n, 3u);
        EXPECT_EQ(written, (std::vector<int>{1, 2, 3}));
        EXPECT_EQ(rest, (std::vector<int>{4, 5}));
      }
    }
    EXPECT_EQ(fragile::live, live_before) << "an object leaked or was destroyed twice";
  }
}

TEST(StreamExceptions, BatchLosesOnlyTheValueBeingMoved_Ring_G8) {
  check_batch(source::ring, false);
  check_batch(source::ring, true);
}
TEST(StreamExceptions, BatchLosesOnlyTheValueBeingMoved_Overflow_G8) {
  check_batch(source::overflow, false);
  check_batch(source::overflow, true);
}

// G-8 and the iterator's own state: a fetch whose pop throws leaves the iterator unfetched and usable; the
// next comparison pops the next value.
TEST(StreamExceptions, IteratorStaysUsableAfterAThrowingFetch_ST7_G8) {
  fixture fx(source::ring);
  auto it = fx.s.begin();
  fragile::countdown = 0;
  EXPECT_THROW((void)(it == fx.s.end()), move_error);  // value 1 lost in the ring's move (documented)
  ASSERT_TRUE(it != fx.s.end());
  EXPECT_EQ(it->v, 2);
  ++it;
  EXPECT_EQ(drain(fx.s), (std::vector<int>{3, 4, 5}));
}

}  // namespace
