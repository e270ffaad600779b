# ctest install_consumer: install handoff into a scratch prefix and consume it
# three ways: find_package(handoff CONFIG), pkg-config, add_subdirectory.
#
# cmake -DHANDOFF_SOURCE_DIR=... -DHANDOFF_BINARY_DIR=... -DWORK_DIR=... -DCONFIG=...
#       -DLIBDIR=... -DCXX=... -DGENERATOR=... [-DMAKE_PROGRAM=...] -P run.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var HANDOFF_SOURCE_DIR HANDOFF_BINARY_DIR WORK_DIR LIBDIR CXX GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Debug)
endif()

set(consumer_source "${HANDOFF_SOURCE_DIR}/tests/install_consumer")
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step what)
  message(STATUS "install_consumer: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc})")
  endif()
endfunction()

set(generator_args -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

# 1. install
step("install into ${prefix}"
  "${CMAKE_COMMAND}" --install "${HANDOFF_BINARY_DIR}" --prefix "${prefix}" --config "${CONFIG}")

# 2. find_package(handoff CONFIG REQUIRED) with CMAKE_PREFIX_PATH=<prefix>
set(build "${WORK_DIR}/package")
step("configure consumer (find_package)"
  "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${build}" ${generator_args}
  "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
  "-DCMAKE_PREFIX_PATH=${prefix}" -DHANDOFF_CONSUMER_MODE=package
  # Only the scratch prefix may satisfy find_package(handoff).
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
step("build consumer (find_package)" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")
find_program(consumer_exe consumer PATHS "${build}" "${build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
step("run consumer (find_package)" "${consumer_exe}")

# 3. pkg-config --cflags --libs handoff with PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig
find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG_EXECUTABLE)
  message(STATUS "install_consumer: pkg-config not found, skipping the pkg-config half")
else()
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${LIBDIR}/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --cflags --libs handoff
                  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: pkg-config --cflags --libs handoff failed (${rc})")
  endif()
  message(STATUS "install_consumer: pkg-config flags: ${pc_flags}")
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(pc_exe "${WORK_DIR}/consumer_pkgconfig")
  step("compile consumer (pkg-config)"
    "${CXX}" -Wall -Wextra -Wpedantic -Werror "${consumer_source}/main.cpp" -o "${pc_exe}" ${pc_flags})
  step("run consumer (pkg-config)" "${pc_exe}")
endif()

# 4. add_subdirectory(<handoff source>): what a FetchContent user does.
set(build "${WORK_DIR}/subdirectory")
step("configure consumer (add_subdirectory)"
  "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${build}" ${generator_args}
  "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
  -DHANDOFF_CONSUMER_MODE=subdirectory "-DHANDOFF_SOURCE_DIR=${HANDOFF_SOURCE_DIR}")
step("build consumer (add_subdirectory)" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")
find_program(consumer_sub_exe consumer PATHS "${build}" "${build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
step("run consumer (add_subdirectory)" "${consumer_sub_exe}")

message(STATUS "install_consumer: all consumers got 42")
