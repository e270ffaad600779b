// ---------------------------------------------------------------------------------------------------------------
// handoff/adapters.hpp: Lwt_stream's traversors (map, filter, iter, fold) as adapters over one reader (ST-8).
//
// Purpose: in Lwt every traversor is one more reader of the stream, and it sees every value while plain
// readers of the same stream share them. Here a traversor wraps exactly one reader: anything with
// `std::optional<V> pop()` (a stream<T>, a topic<T>::subscription, or another adapter). It never adds a
// reader to a stream; to let several consumers each see every value, give each its own topic subscription.
//
//   auto sub = news.subscribe();
//   for (std::string title : handoff::map(handoff::filter(sub, is_urgent), headline)) show(title);
//   std::size_t n = handoff::iter(other_sub, [](const item& x) { log(x); });    // until end-of-stream
//   long total = handoff::fold(third_sub, [](long acc, int x) { return acc + x; }, 0L);
//
// map(r, f) / filter(r, pred) are lazy: they return a reader whose pop() pops r once (filter: until a value
// passes or r ends) and runs f / pred on that value, in the thread that calls pop(), at that moment. Nothing
// runs ahead and nothing is buffered. End-of-stream of r is end-of-stream of the adapter. `for (V v : m)`
// over a map or filter reader pops lazily, as over a stream (detail/pop_iterator.hpp, ST-7): the adapter is
// popped only when the loop needs its next value, so std::views::take, a `break` or an exception in the body
// never pop (and never run f / pred on) a value the loop does not receive; std::views::take_while pops
// the first value its predicate rejects, and only that one.
// iter(r, f) pops r until end-of-stream and runs f on each value in the caller's thread; returns the count.
// fold(r, f, init) pops r until end-of-stream with acc = f(std::move(acc), value) (std::accumulate's order;
// Lwt's fold takes the value first); returns acc.
//
// Invariants: an adapter pops its reader only from its own pop(); each popped value is passed to f / pred
// once and then returned (map, filter when pred holds) or destroyed (filter when it does not). If f or pred
// throws, the exception reaches the caller of pop() and the value being processed is destroyed.
//
// Memory ordering: exactly that of the underlying reader (f runs after the pop that returned the value).
//
// Lifetime: an adapter built from an lvalue reader refers to it (the reader must outlive the adapter); built
// from an rvalue (e.g. map(filter(sub, p), f)) it owns the moved-in reader. Adapters are move-constructible.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/pop_iterator.hpp"

namespace handoff {

namespace detail {
template <class O>
struct is_optional : std::false_type {};
template <class V>
struct is_optional<std::optional<V>> : std::true_type {};
}  // namespace detail

// Anything whose pop() waits for the next value and returns std::optional of it (nullopt: end-of-stream).
template <class R>
concept reader = requires(R& r) {
  r.pop();
  requires detail::is_optional<decltype(r.pop())>::value;
};

template <reader R>
using reader_value_t = typename decltype(std::declval<std::remove_cvref_t<R>&>().pop())::value_type;

// R is `Reader&` (refers to an lvalue reader) or `Reader` (owns a moved-in one).
template <class R, class F>
class map_reader {
  using source_value = reader_value_t<R>;
  static_assert(std::is_invocable_v<F&, source_value&&>, "handoff::map: f must accept the reader's values");
  static_assert(!std::is_void_v<std::invoke_result_t<F&, source_value&&>>,
                "handoff::map: f returns void; use handoff::iter to run an action on each value");

 public:
  using value_type = std::remove_cvref_t<std::invoke_result_t<F&, source_value&&>>;

  map_reader(R&& r, F f) : source_(std::forward<R>(r)), f_(std::move(f)) {}

  std::optional<value_type> pop() {
    std::optional<source_value> v = source_.pop();
    if (!v) return std::nullopt;
    return std::optional<value_type>(std::in_place, std::invoke(f_, std::move(*v)));
  }
  detail::pop_iterator<map_reader> begin() noexcept { return detail::pop_iterator<map_reader>(*this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  R source_;
  F f_;
};

template <class R, class P>
class filter_reader {
 public:
  using value_type = reader_value_t<R>;
  static_assert(std::is_invocable_r_v<bool, P&, const value_type&>,
                "handoff::filter: pred must accept const value& and return something convertible to bool");

  filter_reader(R&& r, P pred) : source_(std::forward<R>(r)), pred_(std::move(pred)) {}

  std::optional<value_type> pop() {
    for (;;) {
      std::optional<value_type> v = source_.pop();
      if (!v || static_cast<bool>(std::invoke(pred_, std::as_const(*v)))) return v;
    }
  }
  detail::pop_iterator<filter_reader> begin() noexcept { return detail::pop_iterator<filter_reader>(*this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  R source_;
  P pred_;
};

// Lwt_stream.map: a reader of f(v) for each v popped from r, computed when popped.
template <reader R, class F>
map_reader<R, F> map(R&& r, F f) {
  return map_reader<R, F>(std::forward<R>(r), std::move(f));
}

// Lwt_stream.filter: a reader of the values of r for which pred holds, tested when popped.
template <reader R, class P>
filter_reader<R, P> filter(R&& r, P pred) {
  return filter_reader<R, P>(std::forward<R>(r), std::move(pred));
}

// Lwt_stream.iter: f(v) for each value until end-of-stream, in the caller's thread. Returns how many.
template <reader R, class F>
std::size_t iter(R&& r, F f) {
  std::size_t n = 0;
  while (std::optional<reader_value_t<R>> v = r.pop()) {
    std::invoke(f, std::move(*v));
    ++n;
  }
  return n;
}

// Lwt_stream.fold: acc = f(std::move(acc), v) for each value until end-of-stream; returns acc.
template <reader R, class F, class Acc>
Acc fold(R&& r, F f, Acc init) {
  Acc acc = std::move(init);
  while (std::optional<reader_value_t<R>> v = r.pop()) acc = std::invoke(f, std::move(acc), std::move(*v));
  return acc;
}

}  // namespace handoff
