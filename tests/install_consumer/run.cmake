# ctest install_consumer: install handoff into a scratch prefix and consume it
# three ways: find_package(handoff CONFIG), pkg-config, add_subdirectory. The
# install must hold the LICENSE; the pkg-config flags must not choose the C++
# standard (a consumer built with -std=c++23 keeps C++23).
#
# cmake -DHANDOFF_SOURCE_DIR=... -DHANDOFF_BINARY_DIR=... -DWORK_DIR=... -DCONFIG=...
#       -DLIBDIR=... -DLICENSEDIR=... -DCXX=... -DGENERATOR=... [-DMAKE_PROGRAM=...] -P run.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var HANDOFF_SOURCE_DIR HANDOFF_BINARY_DIR WORK_DIR LIBDIR LICENSEDIR CXX GENERATOR)
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

# The LICENSE is installed, unchanged.
if(IS_ABSOLUTE "${LICENSEDIR}")
  set(installed_license "${LICENSEDIR}/LICENSE")
else()
  set(installed_license "${prefix}/${LICENSEDIR}/LICENSE")
endif()
if(NOT EXISTS "${installed_license}")
  message(FATAL_ERROR "install_consumer: LICENSE not installed (expected ${installed_license})")
endif()
file(SHA256 "${installed_license}" installed_hash)
file(SHA256 "${HANDOFF_SOURCE_DIR}/LICENSE" source_hash)
if(NOT installed_hash STREQUAL source_hash)
  message(FATAL_ERROR "install_consumer: ${installed_license} differs from the source tree's LICENSE")
endif()
message(STATUS "install_consumer: LICENSE installed at ${installed_license}")

# Warnings the installed headers must not raise in a strict consumer's build.
set(consumer_warnings -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Werror)

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
  # handoff needs C++20 *or later*: the standard is the consumer's choice, never the .pc file's.
  if(pc_flags MATCHES "(^| )-std=")
    message(FATAL_ERROR "install_consumer: pkg-config --cflags handoff chooses the C++ standard: ${pc_flags}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(pc_exe "${WORK_DIR}/consumer_pkgconfig")
  step("compile consumer (pkg-config, -std=c++20)"
    "${CXX}" -std=c++20 ${consumer_warnings} "${consumer_source}/main.cpp" -o "${pc_exe}" ${pc_flags})
  step("run consumer (pkg-config, -std=c++20)" "${pc_exe}")

  # A C++23 consumer, where the compiler has C++23 (-std=c++23, or -std=c++2b before it had the name). The
  # pkg-config flags come last, where a -std= among them would win; main.cpp checks __cplusplus.
  set(cxx23_flag "")
  foreach(flag -std=c++23 -std=c++2b)
    execute_process(COMMAND "${CXX}" ${flag} -x c++ -fsyntax-only /dev/null
                    OUTPUT_QUIET ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      set(cxx23_flag ${flag})
      break()
    endif()
  endforeach()
  if(cxx23_flag)
    set(pc23_exe "${WORK_DIR}/consumer_pkgconfig_cxx23")
    step("compile consumer (pkg-config, ${cxx23_flag})"
      "${CXX}" ${cxx23_flag} -DHANDOFF_CONSUMER_EXPECT_CXX23=1 ${consumer_warnings}
      "${consumer_source}/main.cpp" -o "${pc23_exe}" ${pc_flags})
    step("run consumer (pkg-config, ${cxx23_flag})" "${pc23_exe}")
  else()
    message(STATUS "install_consumer: ${CXX} has no C++23 mode, skipping the C++23 pkg-config consumer")
  endif()
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
