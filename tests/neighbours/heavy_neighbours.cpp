// ctest neighbours_heavy: handoff compiles and runs after the heavy neighbours users mix it with (issue 16):
// all of Boost.Fiber (whose detail/cpu_relax.hpp defines a function-like cpu_relax() macro), Boost.Asio and
// TBB, each where CMake found it (HANDOFF_HAVE_<NAME>), then neighbours.hpp (the standard library, the light
// neighbours, windows.h-style min/max macros), then every handoff header. One TU: these headers take seconds
// each to compile, so they are paid for once, not once per handoff header.
#if defined(HANDOFF_HAVE_BOOST_FIBER)
#include <boost/fiber/all.hpp>
#endif
#if defined(HANDOFF_HAVE_BOOST_ASIO)
#include <boost/asio.hpp>
#endif
#if defined(HANDOFF_HAVE_TBB)
#include <tbb/tbb.h>
#endif

#include "neighbours/neighbours.hpp"

#include <handoff/handoff.hpp>

#include "neighbours/use_handoff.hpp"

int main() {
  using handoff_neighbours::check;
  int failures = handoff_neighbours::use_handoff();
#if defined(HANDOFF_HAVE_BOOST_FIBER)
  {
    // try_ forms only: nothing here switches fibers.
    boost::fibers::buffered_channel<int> channel(2);
    int v = 0;
    failures += check(channel.try_push(1) == boost::fibers::channel_op_status::success, "fiber channel push");
    failures +=
        check(channel.try_pop(v) == boost::fibers::channel_op_status::success && v == 1, "fiber channel pop");
  }
#endif
#if defined(HANDOFF_HAVE_BOOST_ASIO)
  {
    boost::asio::io_context io;
    handoff::mvar<int> box;
    boost::asio::post(io, [&] { box.put(2); });
    io.run();
    failures += check(box.try_take().value_or(0) == 2, "asio handler puts into an mvar");
  }
#endif
#if defined(HANDOFF_HAVE_TBB)
  {
    tbb::concurrent_queue<int> queue;
    queue.push(3);
    int v = 0;
    failures += check(queue.try_pop(v) && v == 3, "tbb concurrent_queue");
  }
#endif
  return failures == 0 ? 0 : 1;
}
