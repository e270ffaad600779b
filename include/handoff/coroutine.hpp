// ---------------------------------------------------------------------------------------------------------------
// handoff/coroutine.hpp: C++20 coroutines on the same channels that threads block on (rules CR-1..CR-8 in
// docs/semantics.md).
//
//   handoff::thread_pool pool(2);
//   auto ex = pool.executor();
//   handoff::stream<job> jobs{64};
//   task worker() {                                       // any coroutine type: the awaiters need nothing of
//   it
//     while (auto j = co_await jobs.async_pop(ex)) run(*j);   // closed and drained: the loop ends
//   }
//
// The awaitable forms (each also takes a std::stop_token last: a stop request ends the wait with cancelled):
//   stream<T>:          co_await s.async_pop(ex) -> result<T> (ok, closed, cancelled)
//                       co_await s.async_push(v, ex) -> status (ok: v moved from; closed, cancelled: v
//                       untouched)
//   topic subscription: co_await sub.async_pop(ex) -> result<T>
//   mvar<T>:            co_await m.async_take(ex) -> result<T>; co_await m.async_put(v, ex) -> status
//   condition<T>:       co_await c.async_wait(ex) -> result<T> (condition<void>: result<void>)
//   select:             co_await handoff::async_select(ex, [biased,] [stop,] cases...) -> selected, with the
//                       cases of handoff/select.hpp (on_pop, on_push, on_take, on_put, on_wait); the value of
//                       the case that won is in that case object, as for select().
// `ex` is the coroutine's executor (handoff/executor.hpp: thread_pool's, asio's through asio_executor.hpp, or
// any type with a noexcept post(work_item)): the coroutine is resumed there and nowhere else (CR-3).
//
// What a coroutine gets (the rules, short): it waits in the channel's FIFO beside blocked threads and select
// links, and a value goes to exactly one waiter by direct hand-off into the awaiter (CR-1, CR-2); its
// resumption is posted to its executor from the completing thread, after the value is published and outside
// every lock (CR-3); a wait costs no allocation (the links live in the coroutine frame) and one stop callback
// when a token is given (CR-6); a cancelled async_pop consumed nothing and a cancelled async_push still owns
// its value (CR-4); it never parks its executor's thread, not even for a push or pop in flight in another
// thread (CR-5); close wakes coroutine waiters on both sides (CR-7). Not provided: deadlines (a timer is the
// executor's business: request a stop from it).
// Lifetime: the channels, the executor and the case objects passed to async_select must outlive the co_await
// (a case object created in the co_await expression lives until it completes); destroying a suspended
// coroutine whose wait has not completed is a precondition violation, as destroying a waiting thread's
// stack would be.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <stop_token>
#include <type_traits>
#include <utility>

#include "condition.hpp"
#include "detail/async_access.hpp"
#include "detail/async_operation.hpp"
#include "executor.hpp"
#include "mvar.hpp"
#include "select.hpp"
#include "stream.hpp"
#include "topic.hpp"

namespace handoff {

namespace detail {

template <class Executor, class... Cases>
using async_select_operation =
    async_operation<Executor, async_select_result, std::remove_reference_t<Cases>&...>;

template <class Executor, class First, class... Rest>
auto async_dispatch(Executor ex, std::stop_token st, First&& first, Rest&&... rest) {
  if constexpr (std::is_same_v<std::remove_cvref_t<First>, biased_t>) {
    static_assert(sizeof...(Rest) > 0, "async_select needs at least one case");
    return async_select_operation<Executor, Rest...>(std::move(ex), std::move(st), true, rest...);
  } else {
    return async_select_operation<Executor, First, Rest...>(std::move(ex), std::move(st), false, first,
                                                            rest...);
  }
}

}  // namespace detail

// co_await async_select(ex, cases...): one case completes (as select(), SE-1..SE-9), the coroutine resumed on
// ex. The cases may be lvalues (read their value afterwards) or temporaries of the co_await expression.
template <executor Executor, detail::select_arg... Args>
[[nodiscard]] auto async_select(Executor ex, Args&&... args) {
  return detail::async_dispatch(std::move(ex), std::stop_token{}, std::forward<Args>(args)...);
}
// The same, ended with cancelled (index() none) by a stop request on st.
template <executor Executor, detail::select_arg... Args>
[[nodiscard]] auto async_select(Executor ex, std::stop_token st, Args&&... args) {
  return detail::async_dispatch(std::move(ex), std::move(st), std::forward<Args>(args)...);
}

}  // namespace handoff
