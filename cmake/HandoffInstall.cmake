# Install rules: headers, the static library, the CMake package
# (find_package(handoff CONFIG)), a relocatable pkg-config file and the LICENSE.
include(CMakePackageConfigHelpers)

set(HANDOFF_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/handoff"
    CACHE STRING "Where handoffConfig.cmake is installed, relative to the prefix")
mark_as_advanced(HANDOFF_INSTALL_CMAKEDIR)

install(TARGETS handoff EXPORT handoffTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/include/handoff")
  install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/handoff"
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h" PATTERN "*.ipp")
endif()

install(EXPORT handoffTargets
        NAMESPACE handoff::
        FILE handoffTargets.cmake
        DESTINATION "${HANDOFF_INSTALL_CMAKEDIR}")
# Build-tree package too: CMAKE_PREFIX_PATH=<build dir> works without installing.
export(EXPORT handoffTargets NAMESPACE handoff::
       FILE "${CMAKE_CURRENT_BINARY_DIR}/handoffTargets.cmake")

configure_package_config_file(
  "${CMAKE_CURRENT_SOURCE_DIR}/cmake/handoffConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/handoffConfig.cmake"
  INSTALL_DESTINATION "${HANDOFF_INSTALL_CMAKEDIR}")
# 0.x: a minor bump may break the API, so only the same minor is compatible.
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/handoffConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/handoffConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/handoffConfigVersion.cmake"
        DESTINATION "${HANDOFF_INSTALL_CMAKEDIR}")

# pkg-config. The prefix is derived from the .pc file's own location, so the
# file stays right under `cmake --install --prefix <anything>` and DESTDIR.
set(HANDOFF_PC_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HANDOFF_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(HANDOFF_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(HANDOFF_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _up "/root/${HANDOFF_PC_PKGCONFIGDIR}" "/root")
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(HANDOFF_PC_PREFIX "\${pcfiledir}/${_up}")
  set(HANDOFF_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(HANDOFF_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# No -std= in Cflags: handoff needs C++20 *or later*, and a -std=c++20 placed after the consumer's own
# -std=c++23 would quietly lower its standard. The consumer chooses (README, pkg-config).
set(HANDOFF_PC_CFLAGS_EXTRA "")
if(HANDOFF_PARK_BACKEND_RESOLVED STREQUAL "portable")
  set(HANDOFF_PC_CFLAGS_EXTRA " -DHANDOFF_PARK_BACKEND_PORTABLE=1")
endif()
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/handoff.pc.in" "${CMAKE_CURRENT_BINARY_DIR}/handoff.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/handoff.pc" DESTINATION "${HANDOFF_PC_PKGCONFIGDIR}")

# The licence travels with the headers and library. share/doc/handoff is spelled out rather than taken from
# CMAKE_INSTALL_DOCDIR, which a parent project that includes GNUInstallDirs first names after itself.
set(HANDOFF_INSTALL_LICENSEDIR "${CMAKE_INSTALL_DATAROOTDIR}/doc/handoff"
    CACHE STRING "Where handoff's LICENSE is installed, relative to the prefix")
mark_as_advanced(HANDOFF_INSTALL_LICENSEDIR)
install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE" DESTINATION "${HANDOFF_INSTALL_LICENSEDIR}")
