// ---------------------------------------------------------------------------------------------------------------
// handoff/detail/async_forward.hpp: declarations the primitives' async_ members name in their return types:
// select's case templates (defined in handoff/select.hpp) and the awaiter (handoff/coroutine.hpp, which a
// program that co_awaits a channel includes).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

namespace handoff {

template <class T, class Sync>
class pop_case;
template <class T, class Sync>
class push_case;
template <class T, class Sync>
class take_case;
template <class T, class Sync>
class put_case;
template <class T, class Sync>
class wait_case;
template <class T, class Sync>
class subscription_pop_case;

namespace detail {
template <class Executor, class Result, class... Cases>
class async_operation;
struct async_receive_result;
struct async_void_result;
struct async_send_result;
}  // namespace detail

}  // namespace handoff
