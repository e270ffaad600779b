# spin (Promela) model checks of docs/models/*.pml, as ctest entries (docs/models/README.md).
#
# Included from tests/CMakeLists.txt: for each docs/models/<name>.pml adds
#   spin_<name>          the model as written: must verify (safety run + liveness run, 0 errors)
#   spin_<name>_planted  the same model with -DPLANTED: spin must reject it (WILL_FAIL, as every "planted" test)
# when `spin` and a C compiler (cc, gcc or clang) are found; otherwise says so and adds nothing.
# Sanitizer presets skip them (they do not use the sanitizers; dev runs them once).
#
# Run as a script (cmake -P), this file is the test itself:
#   cmake -DSPIN=spin -DCC=cc -DMODEL=docs/models/park.pml -DWORK_DIR=/tmp/x [-DPLANTED=ON] -P HandoffSpin.cmake
# It runs `spin -a` (with -DPLANTED for the planted variant), compiles pan.c twice and runs
#   pan      (compiled -DNOCLAIM: safety, assertions and invalid end states)
#   pan -a -f (the model's ltl claims, e.g. <> taken, under weak fairness)
# and fails unless both report "errors: 0". It prints the states stored and the depth reached.

if(CMAKE_SCRIPT_MODE_FILE)
  foreach(var SPIN CC MODEL WORK_DIR)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "HandoffSpin.cmake: -D${var}=... is required")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  # Work on a copy: pan writes <model>.trail beside it and `spin -t` reads it from there.
  get_filename_component(model_file "${MODEL}" NAME)
  file(COPY "${MODEL}" DESTINATION "${WORK_DIR}")
  set(spin_defines "")
  if(PLANTED)
    set(spin_defines "-DPLANTED")
  endif()
  execute_process(COMMAND "${SPIN}" ${spin_defines} -a "${model_file}"
    WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "spin -a ${MODEL} failed (${rc}):\n${out}")
  endif()

  set(failed FALSE)
  foreach(run safety liveness)
    if(run STREQUAL "safety")
      set(cflags -O2 -DNOCLAIM)
      set(pan_args "")
    else()
      set(cflags -O2)
      set(pan_args -a -f)
    endif()
    execute_process(COMMAND "${CC}" ${cflags} -o "pan_${run}" pan.c
      WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "compiling pan.c (${run}) failed (${rc}):\n${out}")
    endif()
    execute_process(COMMAND "${WORK_DIR}/pan_${run}" ${pan_args}
      WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    string(REGEX MATCH "errors: ([0-9]+)" _ "${out}")
    set(errors "${CMAKE_MATCH_1}")
    string(REGEX MATCH "([0-9]+) states, stored" _ "${out}")
    set(states "${CMAKE_MATCH_1}")
    string(REGEX MATCH "depth reached ([0-9]+)" _ "${out}")
    set(depth "${CMAKE_MATCH_1}")
    message(STATUS "spin ${MODEL} ${spin_defines} ${run}: errors ${errors}, states stored ${states}, depth ${depth}")
    if(NOT errors STREQUAL "0")
      set(failed TRUE)
      message(STATUS "pan output (${run}):\n${out}")
      # The counterexample, step by step.
      execute_process(COMMAND "${SPIN}" ${spin_defines} -t -p "${model_file}"
        WORKING_DIRECTORY "${WORK_DIR}" OUTPUT_VARIABLE trail ERROR_VARIABLE trail)
      message(STATUS "trail:\n${trail}")
      file(REMOVE "${WORK_DIR}/${model_file}.trail")
    endif()
  endforeach()
  if(failed)
    message(FATAL_ERROR "spin: ${MODEL} ${spin_defines} has errors")
  endif()
  return()
endif()

# ---- configure mode: add the tests
if(HANDOFF_SANITIZE)
  message(STATUS "handoff tests: spin model checks skipped under HANDOFF_SANITIZE=${HANDOFF_SANITIZE}")
  return()
endif()
find_program(HANDOFF_SPIN spin DOC "spin model checker (apt-get install spin)")
find_program(HANDOFF_SPIN_CC NAMES cc gcc clang DOC "C compiler for spin's pan.c")
if(NOT HANDOFF_SPIN OR NOT HANDOFF_SPIN_CC)
  message(STATUS "handoff tests: spin model checks skipped (spin or a C compiler not found; apt-get install spin)")
  return()
endif()
file(GLOB HANDOFF_SPIN_MODELS CONFIGURE_DEPENDS "${handoff_SOURCE_DIR}/docs/models/*.pml")
foreach(model IN LISTS HANDOFF_SPIN_MODELS)
  get_filename_component(name "${model}" NAME_WE)
  foreach(planted OFF ON)
    set(test "spin_${name}")
    if(planted)
      set(test "spin_${name}_planted")
    endif()
    add_test(NAME ${test}
      COMMAND "${CMAKE_COMMAND}" "-DSPIN=${HANDOFF_SPIN}" "-DCC=${HANDOFF_SPIN_CC}" "-DMODEL=${model}"
              "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/spin/${test}" "-DPLANTED=${planted}"
              -P "${CMAKE_CURRENT_LIST_FILE}")
    set_tests_properties(${test} PROPERTIES TIMEOUT 300)
    if(planted)
      set_tests_properties(${test} PROPERTIES WILL_FAIL TRUE)
    endif()
  endforeach()
endforeach()
