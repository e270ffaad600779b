// Downstream smoke test: the installed headers and library are usable.
#include <handoff/handoff.hpp>

int main() {
  handoff::mvar<int> box;
  box.put(42);
  const int got = box.take();
  return got == 42 ? 0 : 1;
}
