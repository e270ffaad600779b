// The neighbours a handoff header must compile after (issue 16): what users include beside handoff, and the
// macros those neighbours (or windows.h) leave behind. Include this first, then handoff headers.
//
//   1. The standard library. libstdc++ itself breaks under a function-like min or max macro, so, as in any
//      real program, the standard headers come before the macros. A handoff header that starts to include a
//      standard header missing here must add it to this list.
//   2. The light neighbours, each where CMake found it (HANDOFF_HAVE_<NAME>): moodycamel's concurrentqueue,
//      atomic_queue, and Boost.Fiber's detail/cpu_relax.hpp, which defines the function-like macro
//      `cpu_relax()` (an identically shaped macro stands in for it where Boost.Fiber is not installed). The
//      heavy ones (all of Boost.Fiber, Boost.Asio, TBB) are included by heavy_neighbours.cpp before this
//      file.
//   3. windows.h-style function-like `min(a, b)` and `max(a, b)` macros (as without NOMINMAX): a handoff
//   header
//      must write `(std::min)(a, b)` and `(std::numeric_limits<T>::max)()`.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <bit>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <climits>
#include <compare>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <iterator>
#include <latch>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <queue>
#include <ranges>
#include <ratio>
#include <semaphore>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#if defined(HANDOFF_HAVE_MOODYCAMEL)
#include <blockingconcurrentqueue.h>
#include <concurrentqueue.h>
#endif
#if defined(HANDOFF_HAVE_ATOMIC_QUEUE)
#include <atomic_queue/atomic_queue.h>
#endif
#if defined(HANDOFF_HAVE_BOOST_FIBER)
#include <boost/fiber/detail/cpu_relax.hpp>
#endif
#if !defined(cpu_relax)
// An expression where Boost's is a statement (`asm volatile("pause" ::: "memory");`): either breaks any
// declaration of the name.
#define cpu_relax() static_cast<void>(0)
#endif

#define min(a, b) (((a) < (b)) ? (a) : (b))
#define max(a, b) (((a) > (b)) ? (a) : (b))
