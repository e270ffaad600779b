#!/usr/bin/env bash
# The benchmark command of the README: handoff against its peers, from a fresh checkout to a Markdown table.
#   scripts/bench.sh            default sweep, 3 rounds, every row unpinned and pinned (estimated 20-30 min on
#                               2 cores: the runs before pinned rows and Go/crossbeam took ~5 min)
#   scripts/bench.sh --full     long sweep (more threads, every capacity), 5 rounds (estimated over an hour)
#   scripts/bench.sh --quick    smoke run: tiny runs, 2 rounds, 0.01 s each (a few minutes): proves that every
#                               binary builds, runs and verifies, and that the report renders; its numbers mean nothing
#   scripts/bench.sh --save     write the result into bench/results/ (tracked) and refresh bench/results/latest.*;
#                               without it the result goes to build/bench-results/ and no tracked file changes
#   scripts/bench.sh --out DIR  write the result into DIR instead
#   scripts/bench.sh --rounds N run N interleaved rounds instead of the sweep's 3 (--full 5, --quick 2): each row's
#                               median is then of N runs (N >= 1; the time grows in proportion, ~6 min a round)
#   scripts/bench.sh --no-deps  skip the package check (scripts/deps.sh --bench)
#   scripts/bench.sh --build-dir DIR  build the bench preset in DIR (default build/bench)
# Steps: install the peers (Debian packages, Go and crossbeam-channel included), build the `bench` preset (Release:
# the C++ *_bench binaries, bench/go's go_bench and bench/crossbeam's crossbeam_bench), run every
# build/bench/bench/*_bench in interleaved rounds (scripts/bench_rounds.py: each round runs every workload once,
# its peers back to back), merge their JSON into <dir>/<date>-<hostname>.json (-full, -quick),
# then scripts/bench_report.py writes the .md beside it and one PNG per workload and pinning, refreshes
# <dir>/latest.md and latest-*.png, and prints the report. Warns when the load average at start exceeds the core
# count. Exits 1 if a benchmark failed its own verification or a binary failed.
# README's table: scripts/bench_report.py RESULT.json --readme README.md replaces it from a saved result.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

full=0
quick=0
deps=1
results=build/bench-results
build_dir=build/bench
rounds=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --full) full=1 ;;
    --quick) quick=1 ;;
    --save) results=bench/results ;;
    --out)
      [[ $# -ge 2 ]] || { echo "bench: --out needs a directory" >&2; exit 2; }
      results=$2; shift ;;
    --out=*) results=${1#--out=} ;;
    --no-deps) deps=0 ;;
    --rounds)
      [[ $# -ge 2 ]] || { echo "bench: --rounds needs a count" >&2; exit 2; }
      rounds=$2; shift ;;
    --rounds=*) rounds=${1#--rounds=} ;;
    --build-dir)
      [[ $# -ge 2 ]] || { echo "bench: --build-dir needs a directory" >&2; exit 2; }
      build_dir=$2; shift ;;
    --build-dir=*) build_dir=${1#--build-dir=} ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ $full -eq 1 && $quick -eq 1 ]]; then
  echo "bench: --full and --quick exclude each other" >&2
  exit 2
fi
if [[ -n $rounds && ! $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "bench: --rounds needs a whole number of at least 1, not '$rounds'" >&2
  exit 2
fi

# ---- is the machine quiet?
read -r load1 load5 load15 _ < /proc/loadavg
cores=$(nproc)
if awk -v l="$load1" -v c="$cores" 'BEGIN { exit !(l > c) }'; then
  echo "bench: WARNING: the load average ($load1) exceeds the $cores cores: other work shares this machine and" \
       "the numbers will be noisy (the report says so too)" >&2
fi

# ---- dependencies
bench_packages=(build-essential cmake ninja-build libbenchmark-dev libconcurrentqueue-dev libatomic-queue-dev
                libtbb-dev libboost-fiber-dev gnuplot-nox python3)
if [[ $deps -eq 1 ]]; then
  if [[ -x scripts/deps.sh ]]; then
    scripts/deps.sh --bench
  fi
  # Boost.Fiber is an optional peer that deps.sh --bench does not list; the rest is checked again here so the
  # script also works where deps.sh is missing.
  missing=()
  for p in "${bench_packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "installed" ]] || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -eq 0 ]]; then
      echo "bench: installing: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
      echo "bench: missing packages; run:"
      echo "sudo apt-get install -y ${missing[*]}"
      exit 1
    fi
  fi
fi

# ---- build (Release)
if cmake --list-presets 2>/dev/null | grep -q '"bench"'; then
  cmake --preset bench -B "$build_dir" >/dev/null
  cmake --build "$build_dir"
else
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOFF_BUILD_BENCH=ON -DHANDOFF_BUILD_TESTS=OFF \
    >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
fi

# ---- run
repetitions=3
sweep=default
suffix=""
if [[ $full -eq 1 ]]; then repetitions=5; sweep=full; suffix=-full; fi
if [[ $quick -eq 1 ]]; then
  repetitions=2; sweep=quick; suffix=-quick
  export HANDOFF_BENCH_MIN_TIME=0.01  # each repetition: one run or a few (bench/harness.hpp min_time)
fi
[[ -n $rounds ]] && repetitions=$rounds
mkdir -p "$results"
day=$(date +%Y-%m-%d)
host=$(hostname -s)
stem="$results/$day-$host$suffix"
# A second run on one day does not overwrite the first: <date>b-<hostname>, <date>c-<hostname>, ...
for letter in b c d e f g h i j k l m n o p q r s t u v w x y z; do
  [[ -e $stem.json ]] || break
  stem="$results/$day$letter-$host$suffix"
done
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- include lib bench ':!bench/results' 2>/dev/null; then
  commit="$commit+local-changes"
fi
export HANDOFF_GIT_COMMIT=$commit
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT

status=0
shopt -s nullglob
binaries=()
for bin in "$build_dir"/bench/*_bench; do
  [[ -f $bin && -x $bin ]] && binaries+=("$bin")
done
if [[ ${#binaries[@]} -eq 0 ]]; then
  echo "bench: no benchmark binaries in $build_dir/bench" >&2
  exit 1
fi
# Interleaved rounds, not one binary after another: a workload's peers (handoff's rows, crossbeam's, Go's) run
# back to back in every round, so that their ratio does not depend on which phase of a noisy VM each binary met.
rounds_flags=()
[[ $full -eq 1 ]] && rounds_flags+=(--full)
[[ $quick -eq 1 ]] && rounds_flags+=(--quick)
echo "bench: running ${#binaries[@]} binaries in $repetitions interleaved rounds (${sweep} sweep)" >&2
python3 scripts/bench_rounds.py --rounds "$repetitions" --raw "$raw" "${rounds_flags[@]}" "${binaries[@]}" ||
  status=1

raw_json=("$raw"/*.json)
if [[ ${#raw_json[@]} -eq 0 ]]; then
  echo "bench: no results were produced" >&2
  exit 1
fi
python3 scripts/bench_report.py --out "$stem.json" --sweep "$sweep" --repetitions "$repetitions" \
  --load-average "$load1 $load5 $load15" "${raw_json[@]}" || status=1
echo "bench: wrote $stem.json, $stem.md and plots; $results/latest.md is this run" >&2
if [[ $results != bench/results ]]; then
  echo "bench: not saved in bench/results (rerun with --save to keep it there); the README table from it:" >&2
  echo "bench:   python3 scripts/bench_report.py $stem.json --readme README.md" >&2
fi
exit $status
