#!/usr/bin/env bash
# The benchmark command of the README: handoff against its peers, from a fresh checkout to a Markdown table.
#   scripts/bench.sh            default sweep, 3 repetitions (a few minutes on 2 cores)
#   scripts/bench.sh --full     long sweep (more threads, every capacity), 5 repetitions (~20 min on 2 cores)
#   scripts/bench.sh --no-deps  skip the package check (scripts/deps.sh --bench)
# Steps: install the peers (Debian packages), build the `bench` preset (Release), run every build/bench/bench/*_bench
# with repetitions, merge their JSON into bench/results/<date>-<hostname>.json (-full.json for --full), then
# scripts/bench_report.py writes the .md beside it and one PNG per workload, refreshes bench/results/latest.md and
# latest-*.png, and prints the table. Exits 1 if a benchmark failed its own verification or a binary failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

full=0
deps=1
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    --no-deps) deps=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

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
build_dir=build/bench
if cmake --list-presets 2>/dev/null | grep -q '"bench"'; then
  cmake --preset bench >/dev/null
  cmake --build --preset bench
else
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHANDOFF_BUILD_BENCH=ON -DHANDOFF_BUILD_TESTS=OFF \
    >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
fi

# ---- run
repetitions=$([[ $full -eq 1 ]] && echo 5 || echo 3)
sweep=$([[ $full -eq 1 ]] && echo full || echo default)
results=bench/results
mkdir -p "$results"
suffix=""
if [[ $full -eq 1 ]]; then suffix=-full; fi
stem="$results/$(date +%Y-%m-%d)-$(hostname -s)$suffix"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- include lib bench ':!bench/results' 2>/dev/null; then
  commit="$commit+local-changes"
fi
export HANDOFF_GIT_COMMIT=$commit
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT

# Our binaries take --full; other engineers' bench binaries get only Google Benchmark's own flags.
own_flags_ok=(queue_bench mvar_bench topic_bench)
status=0
shopt -s nullglob
binaries=("$build_dir"/bench/*_bench)
if [[ ${#binaries[@]} -eq 0 ]]; then
  echo "bench: no benchmark binaries in $build_dir/bench" >&2
  exit 1
fi
for bin in "${binaries[@]}"; do
  [[ -x $bin ]] || continue
  name=$(basename "$bin")
  args=(--benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true
        --benchmark_display_aggregates_only=true
        --benchmark_out="$raw/$name.json" --benchmark_out_format=json)
  if [[ $full -eq 1 && " ${own_flags_ok[*]} " == *" $name "* ]]; then
    args+=(--full)
  fi
  echo "bench: running $name (${sweep} sweep, $repetitions repetitions)" >&2
  if ! "$bin" "${args[@]}" >"$raw/$name.txt" 2>&1; then
    echo "bench: $name FAILED; its output:" >&2
    tail -n 30 "$raw/$name.txt" >&2
    status=1
  fi
  [[ -s $raw/$name.json ]] || rm -f "$raw/$name.json"
done

raw_json=("$raw"/*.json)
if [[ ${#raw_json[@]} -eq 0 ]]; then
  echo "bench: no results were produced" >&2
  exit 1
fi
python3 scripts/bench_report.py --out "$stem.json" --sweep "$sweep" --repetitions "$repetitions" "${raw_json[@]}" \
  || status=1
echo "bench: wrote $stem.json, $stem.md and plots; bench/results/latest.md is this run" >&2
exit $status
