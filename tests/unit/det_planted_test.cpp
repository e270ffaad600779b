// Planted-bug self-check of the deterministic scheduler (reliability principle 2). The stem contains
// "planted", so ctest marks every case WILL_FAIL: each case fails when det_sync catches its bug within the CI
// seed budget, and if the checker ever goes blind the case passes and CI fails. The broken boxes are
// tests/support/det_box.hpp (test tree only); det_mvar_test.cpp's DetChecker cases show the correct box
// passing the same scenarios, so the checker tells the two apart. Each case prints how many seeds it took.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/det_box.hpp"
#include "support/det_sync.hpp"

namespace {

using handoff_test::box_bug;
using handoff_test::det_sync;
using handoff_test::tiny_box;
namespace bs = handoff_test::box_scenarios;

void expect_caught(const char* what, const std::function<void()>& body) {
  (void)handoff_test::det_expect_caught(what, body);
}

// G-1: check-then-register loses the wakeup; det_sync reports DEADLOCK.
TEST(DetPlanted, CheckThenRegisterLosesWakeup_G1) {
  expect_caught("check-then-register (lost wakeup)",
                bs::handoff<tiny_box<det_sync, box_bug::check_then_register>>);
}

// G-2: check-then-store loses a value; the conservation check fails.
TEST(DetPlanted, CheckThenStoreLosesValue_G2) {
  expect_caught("check-then-store (lost value)",
                bs::two_putters<tiny_box<det_sync, box_bug::check_then_store>>);
}

}  // namespace
