#!/usr/bin/env bash
# ---------------------------------------------------------------------------------------------------------------
# scripts/ab.sh: an interleaved A/B of two builds of the benchmarks, the only kind of comparison that means
# anything on a noisy 2-core machine (bench/README.md). Every performance change in the waiting core is
# judged this way; the closing notes quote its report.
#
#   scripts/ab.sh --old REV [--rounds N] [--out DIR] BENCH:FILTER [BENCH:FILTER ...]
#   scripts/ab.sh --old-dir DIR ...        old binaries already built (a directory of *_bench files)
#
#   BENCH:FILTER    a benchmark binary of bench/ and a --benchmark_filter for it, e.g.
#                   'mvar_bench:pingpong/'  'queue_bench:cap:1/(handoff\.[a-z]+|mutex\+condvar)/'
#                   Put a peer's rows that no change can move (mutex+condvar, moodycamel) in the filter: their
#                   ratio is the run's noise floor.
#   --old REV       build the old side from git revision REV in a worktree (build dir build/ab-old, Release)
#   --rounds N      rounds (default 5); odd rounds run old then new, even rounds new then old
#   --out DIR       where the JSON goes (default a new directory under /tmp); the report is printed at the end
#
# The new side is the working tree, built in build/ab (Release). Both sides are built before the first round
# and nothing is built while rounds run. HANDOFF_BENCH_MIN_TIME (default 0.1 s) sets each row's minimum time.
# Report: scripts/ab_report.py DIR (paired medians new/old of items_per_second, and of CPU per item).
# ---------------------------------------------------------------------------------------------------------------
set -euo pipefail
cd "$(dirname "$0")/.."

old_rev=""
old_dir=""
rounds=5
out=""
specs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --old) old_rev="$2"; shift 2 ;;
    --old-dir) old_dir="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "ab: unknown option $1" >&2; exit 2 ;;
    *) specs+=("$1"); shift ;;
  esac
done
if [[ -z $old_rev && -z $old_dir ]] || [[ ${#specs[@]} -eq 0 ]]; then
  echo "ab: need --old REV (or --old-dir DIR) and at least one BENCH:FILTER (--help)" >&2
  exit 2
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ab: --rounds wants a positive number" >&2; exit 2; }
for spec in "${specs[@]}"; do
  [[ $spec == *_bench:* ]] || { echo "ab: '$spec' is not BENCH:FILTER (e.g. mvar_bench:pingpong/)" >&2; exit 2; }
done
targets=()
for spec in "${specs[@]}"; do targets+=("${spec%%:*}"); done
mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort -u)

configure_and_build() {  # source dir, build dir
  if [[ ! -f $2/CMakeCache.txt ]]; then
    # The bench preset's settings, without the Go and Rust peers (their rows do not change between sides).
    cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOFF_BUILD_TESTS=OFF \
      -DHANDOFF_BUILD_STRESS=OFF -DHANDOFF_BUILD_EXAMPLES=OFF -DHANDOFF_BUILD_BENCH=ON \
      -DHANDOFF_BENCH_GO=OFF -DHANDOFF_BENCH_CROSSBEAM=OFF >/dev/null
  fi
  cmake --build "$2" -j"$(nproc)" --target "${targets[@]}" >/dev/null
}

if [[ -n $old_rev ]]; then
  worktree=$(mktemp -d /tmp/handoff-ab-old.XXXXXX)
  trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || true' EXIT
  git worktree add --detach "$worktree" "$old_rev" >/dev/null 2>&1
  echo "ab: building the old side ($old_rev) in build/ab-old" >&2
  rm -rf build/ab-old  # its sources move with every worktree: never reuse a cache that names another one
  configure_and_build "$worktree" build/ab-old
  old_dir=build/ab-old/bench
fi
echo "ab: building the new side (working tree) in build/ab" >&2
configure_and_build . build/ab
new_dir=build/ab/bench

out=${out:-$(mktemp -d /tmp/handoff-ab.XXXXXX)}
mkdir -p "$out"
read -r load _ < /proc/loadavg
if awk -v l="$load" -v c="$(nproc)" 'BEGIN { exit !(l >= c / 2) }'; then
  echo "ab: load average $load at start: the figures will be noisier (wait for it to fall below $(($(nproc) / 2)))" >&2
fi
export HANDOFF_BENCH_MIN_TIME=${HANDOFF_BENCH_MIN_TIME:-0.1}
for ((r = 1; r <= rounds; ++r)); do
  if ((r % 2)); then order=(old new); else order=(new old); fi
  for side in "${order[@]}"; do
    dir=$old_dir
    [[ $side == new ]] && dir=$new_dir
    k=0
    for spec in "${specs[@]}"; do
      k=$((k + 1))
      bench=${spec%%:*}
      "$dir/$bench" --benchmark_filter="${spec#*:}" --benchmark_format=json \
        >"$out/$bench.$k-$side-$r.json" 2>/dev/null
    done
  done
  echo "ab: round $r of $rounds done" >&2
done
echo "ab: results in $out" >&2
python3 scripts/ab_report.py "$out"
