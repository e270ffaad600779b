// ---------------------------------------------------------------------------------------------------------------
// handoff/name.hpp: handoff::name, the optional name a primitive is given at construction (rule OB-1).
//
//   handoff::stream<packet> rx(64, handoff::name("rx packets"));
//   handoff::mvar<int> box(handoff::name("reply"));
//
// The name is copied once, at construction (one allocation; none when no name is given), and shows in every
// report of handoff/debug.hpp (the blocked-thread dump, the deadlock report), in the primitive's name(), and
// in the messages of checked preconditions (G-9, CO-6, a pop iterator at end-of-stream). It never changes and
// costs nothing on any operation.
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <string_view>

namespace handoff {

class name {
 public:
  explicit constexpr name(std::string_view text) noexcept : text_(text) {}
  constexpr std::string_view text() const noexcept { return text_; }

 private:
  std::string_view text_;  // copied by the primitive's constructor; need not outlive it
};

}  // namespace handoff
