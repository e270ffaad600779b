#include <handoff/status.hpp>

namespace handoff {

const char* to_string(status s) noexcept {
  switch (s) {
    case status::ok:
      return "ok";
    case status::empty:
      return "empty";
    case status::full:
      return "full";
    case status::closed:
      return "closed";
    case status::timeout:
      return "timeout";
    case status::cancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace handoff
