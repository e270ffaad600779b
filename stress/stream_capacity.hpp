// ---------------------------------------------------------------------------------------------------------------
// stress/stream_capacity.hpp: the capacities the stream scenarios sweep, as one value each.
//
// A round of a stream scenario picks a capacity from a list such as {0, 1, 16, kUnbounded}: kUnbounded stands
// for handoff::unbounded (a std::size_t, so the list stays one array), capacity_name() names it in a failure
// message's round tag, and make_stream() builds the stream on the heap (its address stays put while the
// round's threads use it).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include <handoff/stream.hpp>

namespace stress {

inline constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();

inline std::string capacity_name(std::size_t capacity) {
  return capacity == kUnbounded ? std::string("unbounded") : std::to_string(capacity);
}

template <class T, class Sync>
std::unique_ptr<handoff::stream<T, Sync>> make_stream(std::size_t capacity) {
  if (capacity == kUnbounded) return std::make_unique<handoff::stream<T, Sync>>(handoff::unbounded);
  return std::make_unique<handoff::stream<T, Sync>>(capacity);
}

}  // namespace stress
