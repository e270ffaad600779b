#!/usr/bin/env bash
# The test command: installs missing Debian packages (scripts/deps.sh), then
# runs the CMake workflow presets dev, tsan, asan and portable in order
# (configure, build, ctest each) and stops at the first failure.
#
#   scripts/test.sh                  all presets
#   scripts/test.sh --quick          dev only
#   scripts/test.sh --preset NAME    just NAME (any workflow preset in CMakePresets.json)
#   scripts/test.sh --fresh          reconfigure from scratch (also automatic when $CXX changed)
#
# The compiler is CMake's default (g++ on Debian) unless CXX is set, e.g.
#   CXX=clang++ scripts/test.sh --preset tsan
# Exception: with CXX unset, the asan preset is built with clang++ (when present), so that one run exercises both
# compilers and the libFuzzer targets (clang only) run under AddressSanitizer+UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

presets=(dev tsan asan portable)
fresh=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) presets=(dev) ;;
    --preset)
      [[ $# -ge 2 ]] || { echo "test.sh: --preset needs a name" >&2; exit 2; }
      presets=("$2"); shift ;;
    --preset=*) presets=("${1#--preset=}") ;;
    --fresh) fresh=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/deps.sh

# A build tree configured with another compiler is reconfigured from scratch,
# so CXX=clang++ after a g++ run really uses clang++.
needs_fresh() {
  local cache="build/$1/CMakeCache.txt"
  [[ $fresh -eq 1 ]] && return 0
  [[ -n "${CXX:-}" && -f "$cache" ]] || return 1
  local wanted cached
  wanted=$(command -v "$CXX" || echo "$CXX")
  cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")
  [[ "$(readlink -f "$wanted")" != "$(readlink -f "$cached")" ]]
}

# Passes the workflow's output through and, at its end, prints how long each step (configure, build, test)
# took, so a CI log shows where the time goes (budget: docs/reliability.md, "CI budget").
step_times() {
  local line step="" step_start=$SECONDS summary=""
  while IFS= read -r line || [[ -n $line ]]; do
    printf '%s\n' "$line"
    if [[ $line =~ ^Executing\ workflow\ step\ [0-9]+\ of\ [0-9]+:\ ([a-z]+)\ preset ]]; then
      [[ -n $step ]] && summary+="${step} $((SECONDS - step_start)) s, "
      step=${BASH_REMATCH[1]}
      step_start=$SECONDS
    fi
  done
  [[ -n $step ]] && summary+="${step} $((SECONDS - step_start)) s"
  echo "== test.sh: steps: ${summary}"
}

# CI budget (docs/reliability.md): under CI=true the det_sync clean sweeps of presets that run their full seed
# budget (dev) run half of it; presets that set their own share (tsan, asan) keep it, because ctest's
# ENVIRONMENT property overrides this. A developer's run keeps the full budget; HANDOFF_DET_SEED_PERCENT set
# by the caller wins.
if [[ "${CI:-}" == true && -z "${HANDOFF_DET_SEED_PERCENT:-}" ]]; then
  export HANDOFF_DET_SEED_PERCENT=50
  echo "== test.sh: CI=true: det_sync clean sweeps run 50% of their seed budget where the preset sets none"
fi

total_start=$SECONDS
for preset in "${presets[@]}"; do
  echo
  echo "==================================================================="
  start=$SECONDS
  preset_cxx="${CXX:-}"
  if [[ -z "$preset_cxx" && "$preset" == asan ]] && command -v clang++ >/dev/null; then preset_cxx=clang++; fi
  env_cxx=()
  [[ -n "$preset_cxx" ]] && env_cxx=(CXX="$preset_cxx")
  echo "== test.sh: preset ${preset} (CXX=${preset_cxx:-default})"
  args=(--workflow --preset "$preset")
  if env "${env_cxx[@]}" bash -c "$(declare -f needs_fresh); fresh=$fresh; needs_fresh $preset"; then
    args+=(--fresh)
  fi
  if ! env "${env_cxx[@]}" cmake "${args[@]}" 2>&1 | step_times; then
    echo "test.sh: preset ${preset} FAILED after $((SECONDS - start)) s" >&2
    exit 1
  fi
  echo "== test.sh: preset ${preset} passed in $((SECONDS - start)) s"
done
echo "test.sh: all ${#presets[@]} presets passed in $((SECONDS - total_start)) s"
