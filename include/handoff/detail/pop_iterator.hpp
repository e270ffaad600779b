// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/pop_iterator.hpp: the lazy input iterator behind `for (T v : s)` (ST-7), shared by
// stream<T>, the adapters of adapters.hpp and topic<T>::subscription.
//
// Purpose: iterate a source that has `std::optional<V> pop()` (waits; nullopt = end-of-stream) without ever
// consuming a value the loop does not deliver. An eager iterator (pop in begin() and in ++) loses one value
// to every early exit: `s | std::views::take(3)` pops a fourth value it never hands out, and with exactly
// three values on an open stream it waits forever for that fourth (P2406 describes the same flaw in
// std::counted_iterator over input iterators). This one pops lazily:
//   - The iterator denotes "the next value". It starts unfetched: begin() pops nothing.
//   - Comparing it with end() (std::default_sentinel) or dereferencing it fetches: it pops, waiting, into a
//     cache held by the iterator. Further comparisons and dereferences use the cache (no second pop).
//   - ++ on a fetched iterator drops the cache (the value was delivered; nothing is popped). ++ on an
//     unfetched iterator pops one value and destroys it: that is what skipping means (std::views::drop).
// So a range-for consumes exactly the values its body receives: after take(n)'s n-th value, a `break`, or an
// exception thrown by the body, nothing more is popped. std::views::take_while is the one view that pops a
// value it does not deliver: its predicate must see the next value to reject it, so the first value the
// predicate rejects is popped, given to the predicate, and destroyed with the iterator; nothing after it is
// popped.
//
// `*it` is an rvalue (reference = V&&, as std::move_iterator), so `for (T v : s)` moves each value out of the
// cache and move-only values work; `for (auto&& v : s)` binds to the cached value without a move.
//
// With a stop token (stream::values(stop), Stoppable = true) a fetch first checks the token: once stop is
// requested the iterator is at end and pops nothing more; otherwise it calls `pop(stop_token)`, and a pop
// that returns no value (cancelled, or end-of-stream) ends the iteration too.
//
// Invariants: the cache is filled only by a fetch and holds the result of exactly one pop, constructed in
// place from the prvalue the source returns (guaranteed elision: no move between the source and the cache);
// at most one pop happens per fetch or per ++ on an unfetched iterator; an iterator at end stays at end.
// The iterator is move-only (C++20 input iterators may be; std::generator's is too): a copy would deliver
// its cached value twice.
// Exceptions: if the pop throws (the source's move threw, see the source's header), the iterator stays
// unfetched and the exception propagates from the comparison, dereference or ++ that fetched; the iterator
// remains usable. A value moved out of the cache by the loop variable's initialisation that throws is lost
// with the cache (use `auto&&` to avoid that move).
// Memory ordering: that of the source's pop.
// Lifetime: the source must outlive every iterator and view over it.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <ranges>
#include <stop_token>
#include <string_view>
#include <type_traits>
#include <utility>

#include "precondition.hpp"

namespace handoff::detail {

// What one pop of Source returns: std::optional<V>, or a type derived from it (handoff::result<V>).
template <class Source, bool Stoppable>
struct popped_type {
  using type = std::remove_cvref_t<decltype(std::declval<Source&>().pop())>;
};
template <class Source>
struct popped_type<Source, true> {
  using type = std::remove_cvref_t<decltype(std::declval<Source&>().pop(std::declval<std::stop_token>()))>;
};

// An O that is either absent or constructed in place from a prvalue (fill(f) runs `O(f())`: guaranteed copy
// elision, so the value is not moved on its way in).
template <class O>
class in_place_cache {
 public:
  in_place_cache() noexcept {}
  in_place_cache(in_place_cache&& o) noexcept(std::is_nothrow_move_constructible_v<O>) {
    if (o.live_) {
      ::new (static_cast<void*>(std::addressof(value_))) O(std::move(o.value_));
      live_ = true;
      o.reset();
    }
  }
  in_place_cache& operator=(in_place_cache&& o) noexcept(std::is_nothrow_move_constructible_v<O>) {
    if (this != &o) {
      reset();
      if (o.live_) {
        ::new (static_cast<void*>(std::addressof(value_))) O(std::move(o.value_));
        live_ = true;
        o.reset();
      }
    }
    return *this;
  }
  ~in_place_cache() { reset(); }

  bool live() const noexcept { return live_; }
  O& get() noexcept { return value_; }
  const O& get() const noexcept { return value_; }

  // If f() throws, the cache stays absent.
  template <class F>
  void fill(F&& f) {
    ::new (static_cast<void*>(std::addressof(value_))) O(std::forward<F>(f)());
    live_ = true;
  }
  void reset() noexcept {
    if (live_) {
      live_ = false;
      value_.~O();
    }
  }

 private:
  union {
    O value_;
  };
  bool live_ = false;
};

struct no_stop_token {};

template <class Source, bool Stoppable = false>
class pop_iterator {
  using popped = typename popped_type<Source, Stoppable>::type;

 public:
  using stop_type = std::conditional_t<Stoppable, std::stop_token, no_stop_token>;
  using iterator_concept = std::input_iterator_tag;
  using value_type = typename popped::value_type;
  using difference_type = std::ptrdiff_t;
  using reference = value_type&&;

  pop_iterator() = default;  // at end
  explicit pop_iterator(Source& source, stop_type stop = {}) noexcept
      : source_(std::addressof(source)), stop_(std::move(stop)) {}

  pop_iterator(pop_iterator&&) = default;
  pop_iterator& operator=(pop_iterator&&) = default;
  pop_iterator(const pop_iterator&) = delete;
  pop_iterator& operator=(const pop_iterator&) = delete;

  // Fetches (pops, waiting) if unfetched. Precondition: not at end.
  reference operator*() const {
    fetch();
    HANDOFF_PRECONDITION_ON(subject(), cache_.get().has_value(), "dereferenced at end-of-stream");
    return std::move(*cache_.get());
  }
  value_type* operator->() const {
    fetch();
    HANDOFF_PRECONDITION_ON(subject(), cache_.get().has_value(), "dereferenced at end-of-stream");
    return std::addressof(*cache_.get());
  }

  // Fetched: drop the delivered value. Unfetched: pop one value and destroy it (a skip). At end: stay.
  pop_iterator& operator++() {
    fetch();
    if (cache_.get().has_value()) cache_.reset();
    return *this;
  }
  void operator++(int) { ++*this; }

  // Fetches (pops, waiting) if unfetched; true at end-of-stream (or, with a stop token, once stop was
  // requested before a fetch).
  friend bool operator==(const pop_iterator& it, std::default_sentinel_t) {
    it.fetch();
    return !it.cache_.get().has_value();
  }

 private:
  // For a precondition message: "pop_iterator \"rx\" ..." when the source has a name (OB-1).
  precondition_subject subject() const noexcept {
    if constexpr (requires(const Source& s) { std::string_view(s.name()); }) {
      if (source_) return {"pop_iterator", std::string_view(source_->name())};
    }
    return {"pop_iterator", {}};
  }

  void fetch() const {
    if (cache_.live()) return;
    if (!source_) {
      cache_.fill([] { return popped(); });
      return;
    }
    if constexpr (Stoppable) {
      if (stop_.stop_requested()) {  // nothing is popped once stop was requested
        cache_.fill([] { return popped(); });
        return;
      }
      cache_.fill([this] { return source_->pop(stop_); });
    } else {
      cache_.fill([this] { return source_->pop(); });
    }
  }

  Source* source_ = nullptr;
  [[no_unique_address]] stop_type stop_;
  mutable in_place_cache<popped> cache_;  // absent: unfetched; holds an empty optional: at end
};

// A view of the values of a source, popped lazily by pop_iterator (stream::values(), values(stop)). It refers
// to the source; its iterators refer to the source only (a borrowed range). A view by std::ranges::view_base,
// not view_interface: an input range gets nothing from view_interface, and clang 14 cannot instantiate
// libstdc++ 12's view_interface at all.
template <class Source, bool Stoppable = false>
class pop_view : public std::ranges::view_base {
 public:
  using stop_type = std::conditional_t<Stoppable, std::stop_token, no_stop_token>;

  pop_view() = default;
  explicit pop_view(Source& source, stop_type stop = {}) noexcept
      : source_(std::addressof(source)), stop_(std::move(stop)) {}

  pop_iterator<Source, Stoppable> begin() const {
    if (!source_) return {};
    return pop_iterator<Source, Stoppable>(*source_, stop_);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  Source* source_ = nullptr;
  [[no_unique_address]] stop_type stop_;
};

}  // namespace handoff::detail

template <class Source, bool Stoppable>
inline constexpr bool std::ranges::enable_borrowed_range<handoff::detail::pop_view<Source, Stoppable>> = true;
