// ---------------------------------------------------------------------------------------------------------------
// handoff/asio_token.hpp: asio completion tokens on handoff's channels, for code that runs on an io_context:
// asio::use_awaitable (inside asio's own awaitable<T> coroutines, whose await_transform accepts only asio
// operations), callbacks bound to an executor, asio::deferred, and other tokens whose handler's executor
// queues what is posted to it. Not asio::use_future: its handler's executor runs a posted function inline,
// on the thread that completes the wait, which handoff's resumptions must not do (CR-3).
//
//   #include <asio.hpp>                      // or <boost/asio.hpp>, before this header
//   #include <handoff/asio_token.hpp>
//   asio::awaitable<void> worker(handoff::stream<job>& jobs) {
//     while (auto j = co_await handoff::async_pop(jobs, asio::use_awaitable)) run(*j);  // ends when drained
//   }
//
// The operations (each also takes a std::stop_token before the token; a stop request ends it with cancelled):
//   async_pop(stream<T>&, token)        completes with (std::exception_ptr, result<T>): ok, closed, cancelled
//   async_push(stream<T>&, T& v, token) completes with (std::exception_ptr, status): ok (v moved from),
//   closed
//                                       or cancelled (v untouched)
//   async_take(mvar<T>&, token)         (std::exception_ptr, result<T>): ok or cancelled
//   async_put(mvar<T>&, T& v, token)    (std::exception_ptr, status): ok (v moved from) or cancelled
//   async_wait(condition<T>&, token)    (std::exception_ptr, result<T>) (condition<void>: result<void>)
// With use_awaitable the co_await yields the result or status and rethrows the exception_ptr when it is set
// (a move of T that threw, G-8: the operation's own rules say which value it cost, handoff/stream.hpp); a
// callback gets the exception_ptr with status::empty (an empty result), never ok.
//
// What they are: the awaiters of handoff/coroutine.hpp (rules CR-1..CR-8) run in a small coroutine of this
// header's own, resumed on the handler's associated executor: the operation waits in the channel's FIFO
// beside blocked threads, coroutines and select links and is handed its value directly, never parks an
// io_context thread (CR-5), and a cancelled pop consumed nothing, a cancelled push still owns v (CR-4). The
// handler runs on its associated executor and never inside the initiating call (asio's rule: a wait that
// completes at once posts it), and an executor_work_guard keeps the executor's run() from returning while
// the operation waits. A channel has no executor of its own, so a handler with none associated (a plain
// lambda) runs on asio's system_executor, as for asio::post(token): bind one with
// asio::bind_executor(io, handler). use_awaitable's handlers carry their coroutine's executor.
// Cancellation: the handler's associated cancellation slot (asio 1.19 and later, e.g.
// asio::bind_cancellation_ slot, asio::experimental::awaitable_operators, co_spawn's cancellation) requests a
// stop of the wait, as the std::stop_token argument does; any cancellation type (terminal, partial, total)
// cancels, since a cancelled wait has no effect on the channel. Older asio (Boost 1.74's 1.18): the
// stop_token only. As for asio's own operations, emit a slot's signal from the handler's executor (or a
// strand of it). Beware awaitable_operators' `a || b`: when the other branch wins after this operation
// completed ok, asio drops the result: a popped value is lost, a pushed one stays pushed. Exceptions: an
// initiation that cannot allocate (its frame, the stop state, the slot's handler) throws to the caller and
// calls nothing; a handler that throws leaves the executor's run(), as asio's do. Costs: one coroutine frame
// and a stop state per operation (operator new), and one post: the resumption of a wait that suspended, or
// the handler's of one that completed at once; handoff's member awaiters in a coroutine of your own avoid the
// frame and the stop state. Lifetime: the channel must outlive the operation (G-9), v (a push's or put's)
// must live until the handler runs, as a buffer must for asio's own operations; an io_context destroyed while
// an operation waits leaves that operation in the channel's FIFO (asio cannot cancel it): stop it (or close
// the channel) and run the io_context until its handler has run first. Which asio: the one included before
// this header (standalone asio's ASIO_VERSION first, then Boost.Asio's BOOST_ASIO_VERSION); when neither was,
// <asio.hpp> or else <boost/asio.hpp>, whichever exists. HANDOFF_ASIO_NAMESPACE (and
// HANDOFF_ASIO_VERSION_NUMBER) override the choice.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "coroutine.hpp"

#if !defined(HANDOFF_ASIO_NAMESPACE) && !defined(ASIO_VERSION) && !defined(BOOST_ASIO_VERSION)
#if __has_include(<asio.hpp>)
#include <asio.hpp>
#elif __has_include(<boost/asio.hpp>)
#include <boost/asio.hpp>
#endif
#endif
#if !defined(HANDOFF_ASIO_NAMESPACE)
#if defined(ASIO_VERSION)
#define HANDOFF_ASIO_NAMESPACE ::asio
#define HANDOFF_ASIO_VERSION_NUMBER ASIO_VERSION
#elif defined(BOOST_ASIO_VERSION)
#define HANDOFF_ASIO_NAMESPACE ::boost::asio
#define HANDOFF_ASIO_VERSION_NUMBER BOOST_ASIO_VERSION
#else
#error \
    "handoff/asio_token.hpp: include <asio.hpp> or <boost/asio.hpp> first (or define HANDOFF_ASIO_NAMESPACE)"
#endif
#endif
#if !defined(HANDOFF_ASIO_VERSION_NUMBER)
#define HANDOFF_ASIO_VERSION_NUMBER 0
#endif
// Per-operation cancellation (cancellation slots) came with asio 1.19 (Boost 1.77).
#if HANDOFF_ASIO_VERSION_NUMBER >= 101900
#define HANDOFF_ASIO_HAS_CANCELLATION_SLOT 1
#else
#define HANDOFF_ASIO_HAS_CANCELLATION_SLOT 0
#endif

namespace handoff {

namespace detail {

// The bridge's own coroutine type: eager, destroys itself at its end. An exception that leaves its body
// (only from the handler's call: the handler itself, or a move of the value into its parameter) is rethrown
// into the function that resumed it, resume_on's posted function, which destroys the frame (now at its final
// suspend point) and lets the exception leave the executor's run(), as asio does for a handler that throws.
struct asio_bridge_task {
  struct promise_type {
    asio_bridge_task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { throw; }
  };
};

// The handoff executor the bridge's awaiter resumes on: the handler's asio executor, through a qualified
// net::post (so executors outside asio's namespace work too), recording that the coroutine has run there
// (then the handler may be called directly: the initiating call has returned).
template <class IoExecutor>
class asio_bridge_executor {
 public:
  asio_bridge_executor(const IoExecutor& ex, bool& resumed_here) noexcept
      : ex_(&ex), resumed_here_(&resumed_here) {}
  // noexcept: a resumption that cannot be queued would lose the coroutine (as asio_executor's post).
  void post(work_item w) const noexcept {
    // Written before the post, read by the coroutine after its resumption (ordered by the post).
    *resumed_here_ = true;
    HANDOFF_ASIO_NAMESPACE::post(*ex_, [w] { w(); });
  }

 private:
  const IoExecutor* ex_;  // in the bridge's frame, which outlives every post
  bool* resumed_here_;
};

// Suspends the bridge and resumes it from a function posted to `ex`.
template <class IoExecutor>
struct resume_on {
  const IoExecutor& ex;
  bool await_ready() const noexcept { return false; }
  // noexcept: if the post cannot be queued (bad_alloc) the program ends, as for asio_bridge_executor.
  void await_suspend(std::coroutine_handle<> h) const noexcept {
    HANDOFF_ASIO_NAMESPACE::post(ex, [h]() mutable {
      try {
        h.resume();
      } catch (...) {
        h.destroy();  // the handler threw: the frame stopped at its final suspend point
        throw;
      }
    });
  }
  void await_resume() const noexcept {}
};

// The coroutine of one operation: runs the awaiter start(executor, stop) returns, resumed on the handler's
// executor, then calls the handler with (exception_ptr, what the co_await yielded) from that executor:
// directly when the coroutine was resumed there, else (the wait completed inside the initiating call) from
// a function posted there. `Result`: result<T>, result<void> or status; an exception goes with
// status::empty (result<T>'s empty state), never with ok. Everything that can throw before the wait
// (allocations) was done by start_asio_operation, so nothing is lost when it throws.
template <class Result, class Handler, class Start, class IoExecutor, class WorkGuard>
asio_bridge_task run_asio_operation(Handler handler, Start start, std::stop_token stop,
                                    std::stop_source cancel, IoExecutor io_executor, WorkGuard work) {
  // The caller's token and asio's cancellation (the slot holds its own copy of `cancel`) request one stop.
  std::stop_callback forward(stop, [&cancel]() noexcept { cancel.request_stop(); });
  bool resumed_here = false;
  std::exception_ptr error;
  std::optional<Result> outcome;  // empty when the co_await threw
  try {
    outcome.emplace(
        co_await start(asio_bridge_executor<IoExecutor>(io_executor, resumed_here), cancel.get_token()));
  } catch (...) {
    error = std::current_exception();
  }
#if HANDOFF_ASIO_HAS_CANCELLATION_SLOT
  auto slot = HANDOFF_ASIO_NAMESPACE::get_associated_cancellation_slot(handler);
  if (slot.is_connected()) slot.clear();  // the operation is over: a later emit must find nothing
#endif
  (void)work;  // held until the handler has run
  if (!resumed_here) {
    co_await resume_on<IoExecutor>{io_executor};  // never call the handler inside the initiating call
    // An exception from here leaves through resume_on's posted function.
    std::move(handler)(error, outcome ? std::move(*outcome) : Result{status::empty});
  } else {
    // Running inside handoff's resumption, a noexcept work item: an exception from the handler is rethrown
    // from a function posted to the same executor, so that it still leaves the executor's run().
    try {
      std::move(handler)(error, outcome ? std::move(*outcome) : Result{status::empty});
    } catch (...) {
      HANDOFF_ASIO_NAMESPACE::post(io_executor,
                                   [e = std::current_exception()] { std::rethrow_exception(e); });
    }
  }
}

// The initiation: what can throw (the stop state, the slot's handler, the work guard, the frame) throws here,
// to async_pop's caller, before anything waits; the handler is then not called (asio's rule for an initiation
// that throws).
template <class Result, class Handler, class Start>
void start_asio_operation(Handler handler, Start start, std::stop_token stop) {
  namespace net = HANDOFF_ASIO_NAMESPACE;
  auto io_executor = net::get_associated_executor(handler);
  auto work = net::make_work_guard(io_executor);  // run() must not return while the operation waits
  std::stop_source cancel;
#if HANDOFF_ASIO_HAS_CANCELLATION_SLOT
  auto slot = net::get_associated_cancellation_slot(handler);
  if (slot.is_connected()) {
    // A copy of the stop source, not a reference into the frame: an emit racing the frame's end is harmless.
    slot.assign([cancel](net::cancellation_type) mutable noexcept { cancel.request_stop(); });
  }
  try {
    run_asio_operation<Result>(std::move(handler), std::move(start), std::move(stop), std::move(cancel),
                               std::move(io_executor), std::move(work));
  } catch (...) {
    if (slot.is_connected()) slot.clear();
    throw;
  }
#else
  run_asio_operation<Result>(std::move(handler), std::move(start), std::move(stop), std::move(cancel),
                             std::move(io_executor), std::move(work));
#endif
}

template <class Result, class Token, class Start>
auto initiate_asio_operation(Token&& token, std::stop_token stop, Start start) {
  return HANDOFF_ASIO_NAMESPACE::async_initiate<Token, void(std::exception_ptr, Result)>(
      [](auto handler, Start start, std::stop_token stop) {
        start_asio_operation<Result>(std::move(handler), std::move(start), std::move(stop));
      },
      token, std::move(start), std::move(stop));
}

// A completion token: anything but a std::stop_token (a forgotten token would otherwise fail deep inside).
template <class Token>
concept asio_token_arg = !std::same_as<std::remove_cvref_t<Token>, std::stop_token>;

}  // namespace detail

// ---- stream<T>
template <class T, class Sync, detail::asio_token_arg Token>
auto async_pop(stream<T, Sync>& s, std::stop_token stop, Token&& token) {
  return detail::initiate_asio_operation<result<T>>(
      std::forward<Token>(token), std::move(stop),
      [&s](auto ex, std::stop_token st) { return s.async_pop(std::move(ex), std::move(st)); });
}
template <class T, class Sync, detail::asio_token_arg Token>
auto async_pop(stream<T, Sync>& s, Token&& token) {
  return async_pop(s, std::stop_token{}, std::forward<Token>(token));
}

template <class T, class Sync, detail::asio_token_arg Token>
auto async_push(stream<T, Sync>& s, T& v, std::stop_token stop, Token&& token) {
  return detail::initiate_asio_operation<status>(
      std::forward<Token>(token), std::move(stop),
      [&s, &v](auto ex, std::stop_token st) { return s.async_push(v, std::move(ex), std::move(st)); });
}
template <class T, class Sync, detail::asio_token_arg Token>
auto async_push(stream<T, Sync>& s, T& v, Token&& token) {
  return async_push(s, v, std::stop_token{}, std::forward<Token>(token));
}

// ---- mvar<T>
template <class T, class Sync, detail::asio_token_arg Token>
auto async_take(mvar<T, Sync>& m, std::stop_token stop, Token&& token) {
  return detail::initiate_asio_operation<result<T>>(
      std::forward<Token>(token), std::move(stop),
      [&m](auto ex, std::stop_token st) { return m.async_take(std::move(ex), std::move(st)); });
}
template <class T, class Sync, detail::asio_token_arg Token>
auto async_take(mvar<T, Sync>& m, Token&& token) {
  return async_take(m, std::stop_token{}, std::forward<Token>(token));
}

template <class T, class Sync, detail::asio_token_arg Token>
auto async_put(mvar<T, Sync>& m, T& v, std::stop_token stop, Token&& token) {
  return detail::initiate_asio_operation<status>(
      std::forward<Token>(token), std::move(stop),
      [&m, &v](auto ex, std::stop_token st) { return m.async_put(v, std::move(ex), std::move(st)); });
}
template <class T, class Sync, detail::asio_token_arg Token>
auto async_put(mvar<T, Sync>& m, T& v, Token&& token) {
  return async_put(m, v, std::stop_token{}, std::forward<Token>(token));
}

// ---- condition<T>, condition<void>
template <class T, class Sync, detail::asio_token_arg Token>
auto async_wait(condition<T, Sync>& c, std::stop_token stop, Token&& token) {
  return detail::initiate_asio_operation<result<T>>(
      std::forward<Token>(token), std::move(stop),
      [&c](auto ex, std::stop_token st) { return c.async_wait(std::move(ex), std::move(st)); });
}
template <class T, class Sync, detail::asio_token_arg Token>
auto async_wait(condition<T, Sync>& c, Token&& token) {
  return async_wait(c, std::stop_token{}, std::forward<Token>(token));
}

}  // namespace handoff
