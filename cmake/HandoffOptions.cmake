# Options of the handoff build and the park backend selection.
#
# Developer trees default ON only when handoff is the top-level project, so a
# parent project that does add_subdirectory(handoff) / FetchContent gets the
# library alone.

option(HANDOFF_BUILD_TESTS "Build the unit, fuzz and model tests" ${PROJECT_IS_TOP_LEVEL})
option(HANDOFF_BUILD_STRESS "Build the stress driver (handoff_stress)" ${PROJECT_IS_TOP_LEVEL})
option(HANDOFF_BUILD_BENCH "Build the benchmarks (needs google benchmark)" OFF)
option(HANDOFF_BUILD_EXAMPLES "Build the examples and docs snippets" ${PROJECT_IS_TOP_LEVEL})
option(HANDOFF_WERROR "Treat warnings in handoff's own targets as errors" OFF)
option(HANDOFF_INSTALL "Generate install rules (headers, library, CMake package, pkg-config)" ON)

set(HANDOFF_SANITIZE "" CACHE STRING "Sanitizer for every handoff target: '' | thread | address (address = ASan+UBSan)")
set_property(CACHE HANDOFF_SANITIZE PROPERTY STRINGS "" thread address)
if(NOT HANDOFF_SANITIZE MATCHES "^(|thread|address)$")
  message(FATAL_ERROR "HANDOFF_SANITIZE must be '', 'thread' or 'address', not '${HANDOFF_SANITIZE}'")
endif()

# Extra compile options for the test targets whose cost is their run time, not their build: the det_sync
# suites, the libFuzzer targets and the stress driver (a timed run: slower code means fewer iterations and
# thinner coverage). The asan preset builds every other test at -O0 (2.6x less compile time under clang's
# ASan+UBSan) and these at -O1, where they run 3-5x faster (docs/reliability.md, "CI budget").
set(HANDOFF_RUN_HEAVY_FLAGS "" CACHE STRING "Compile options for det_sync suites, fuzz targets and the stress driver")

set(HANDOFF_PARK_BACKEND "auto" CACHE STRING "How threads park: auto (futex on Linux, else portable) | futex | portable")
set_property(CACHE HANDOFF_PARK_BACKEND PROPERTY STRINGS auto futex portable)

if(HANDOFF_PARK_BACKEND STREQUAL "auto")
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(_backend futex)
  else()
    set(_backend portable)
  endif()
elseif(HANDOFF_PARK_BACKEND STREQUAL "futex")
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
    message(FATAL_ERROR "HANDOFF_PARK_BACKEND=futex needs Linux (this is ${CMAKE_SYSTEM_NAME}); use auto or portable")
  endif()
  set(_backend futex)
elseif(HANDOFF_PARK_BACKEND STREQUAL "portable")
  set(_backend portable)
else()
  message(FATAL_ERROR "HANDOFF_PARK_BACKEND must be auto, futex or portable, not '${HANDOFF_PARK_BACKEND}'")
endif()
# The backend actually used; read it, do not set it.
set(HANDOFF_PARK_BACKEND_RESOLVED "${_backend}" CACHE INTERNAL "Park backend in use (futex|portable)")
unset(_backend)
