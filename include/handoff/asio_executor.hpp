// ---------------------------------------------------------------------------------------------------------------
// handoff/asio_executor.hpp: a handoff executor (handoff/executor.hpp) over an asio executor, so coroutines
// running on an io_context (asio's awaitable coroutines or any other kind) are resumed there.
//
//   asio::io_context io;
//   handoff::asio_executor ex(io.get_executor());
//   ... co_await s.async_pop(ex) ...
//
// Works with standalone asio and Boost.Asio alike: post() calls `post(executor, function)` unqualified, found
// by argument-dependent lookup in the executor's namespace (asio:: or boost::asio::). This header includes
// neither; include your asio before using it. post() allocates the handler through asio's recycling
// allocator (asio's own cost per resumption); if asio throws (out of memory), noexcept terminates, since a
// resumption that cannot be queued would lose the coroutine.
// Lifetime: the io_context must run until every coroutine waiting through this executor has been resumed.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <utility>

#include "executor.hpp"

namespace handoff {

namespace detail {
// Outside the adapter's class, so that the unqualified call is not hidden by the member named post.
template <class AsioExecutor, class F>
void asio_post(const AsioExecutor& ex, F&& f) {
  post(ex, std::forward<F>(f));
}
}  // namespace detail

template <class AsioExecutor>
class asio_executor {
 public:
  explicit asio_executor(AsioExecutor ex) noexcept(std::is_nothrow_move_constructible_v<AsioExecutor>)
      : ex_(std::move(ex)) {}
  void post(work_item w) const noexcept {
    detail::asio_post(ex_, [w] { w(); });
  }
  const AsioExecutor& get_inner_executor() const noexcept { return ex_; }

 private:
  AsioExecutor ex_;
};

}  // namespace handoff
