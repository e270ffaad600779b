// docs/choosing.md, "mvar": a reader-driven hand-off. The producer runs at most one value ahead of the
// consumer: put() waits while the box is full (back-pressure), take() waits while it is empty.
#include <handoff/mvar.hpp>

#include <cstdio>
#include <thread>

int main() {
  handoff::mvar<int> box;  // starts empty
  std::jthread producer([&] {
    for (int frame = 1; frame <= 5; ++frame) box.put(frame);  // waits until the previous frame was taken
    box.put(-1);                                              // "no more frames"
  });
  int sum = 0;
  for (int frame; (frame = box.take()) != -1;) sum += frame;  // one value per take, in put order (MV-4)
  std::printf("consumed frames 1..5, sum %d\n", sum);
  return sum == 15 ? 0 : 1;
}
