# Compiler flags of handoff's own targets.
#
# Sanitizers: applied with directory-scoped add_compile_options/add_link_options,
# so everything defined under handoff's source tree (library, tests, stress,
# bench, examples) is instrumented, and nothing of a parent project is. The
# library also carries the sanitizer link flags in its build-tree interface so
# an in-tree consumer (add_subdirectory) links the sanitizer runtime.
#
# Warnings: the INTERFACE target handoff_warnings holds them; each project target
# takes its options PRIVATE through handoff_project_target(). (Its options are
# copied rather than the target linked, because a static library's private link
# items would otherwise leak into the exported handoffTargets.) Consumers never
# inherit handoff's warning policy.

set(HANDOFF_SANITIZE_COMPILE_FLAGS "")
set(HANDOFF_SANITIZE_LINK_FLAGS "")
if(HANDOFF_SANITIZE STREQUAL "thread")
  set(HANDOFF_SANITIZE_COMPILE_FLAGS -fsanitize=thread)
  set(HANDOFF_SANITIZE_LINK_FLAGS -fsanitize=thread)
elseif(HANDOFF_SANITIZE STREQUAL "address")
  set(HANDOFF_SANITIZE_COMPILE_FLAGS
      -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  set(HANDOFF_SANITIZE_LINK_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined)
endif()
if(HANDOFF_SANITIZE_COMPILE_FLAGS)
  add_compile_options(${HANDOFF_SANITIZE_COMPILE_FLAGS})
  add_link_options(${HANDOFF_SANITIZE_LINK_FLAGS})
endif()

if(NOT TARGET handoff_warnings)
  add_library(handoff_warnings INTERFACE)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(handoff_warnings INTERFACE -Wall -Wextra -Wpedantic)
    if(HANDOFF_WERROR)
      target_compile_options(handoff_warnings INTERFACE -Werror)
    endif()
  elseif(MSVC)
    target_compile_options(handoff_warnings INTERFACE /W4 $<$<BOOL:${HANDOFF_WERROR}>:/WX>)
  endif()
endif()

# Marks a target as handoff's own: warnings on (never exported to consumers),
# strict ISO C++ (-std=c++20, not gnu++20).
function(handoff_project_target target)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE "$<TARGET_PROPERTY:handoff_warnings,INTERFACE_COMPILE_OPTIONS>")
endfunction()
