// run<Suite>(...): the one way the Relacy models of tests/model/ start a search and report it (a result line
// per suite on stdout; Relacy's own history output only when it finds an error).
#pragma once

#include <cstdio>
#include <sstream>

#include "rl_sync.hpp"

namespace handoff_model {

// Runs suite T with the given search; prints the result line; returns whether Relacy found no error.
template <class T>
bool run(const char* name, rl::scheduler_type_e search, rl::iteration_t iterations,
         unsigned context_bound = 1, bool quiet = false) {
  rl::test_params p;
  p.context_bound = context_bound;
  p.search_type = search;
  p.iteration_count = iterations;
  p.execution_depth_limit = 5000;
  std::ostringstream sink;
  p.progress_stream = &sink;
  if (quiet) p.output_stream = &sink;
  const bool ok = rl::simulate<T>(p);
  std::printf("%-32s %-24s bound %u  %-7s iterations %llu\n", name, rl::format(search), context_bound,
              ok ? "passed" : "FAILED", static_cast<unsigned long long>(p.stop_iteration));
  std::fflush(stdout);
  return ok;
}

}  // namespace handoff_model
