#!/usr/bin/env bash
# Per-core scaling of handoff.stream against its peers: bench/queue_bench run under `taskset` on the first
# 2, 4, 8, ... CPUs of the machine, one Google Benchmark JSON per core count, then scripts/scaling_report.py
# turns them into one Markdown table (printed, and written beside the JSON).
#   scripts/scaling.sh                      every power of two from 2 up to the machine's CPUs, 3 repetitions
#   scripts/scaling.sh --cores "2 16"       only these core counts
#   scripts/scaling.sh --bin PATH           the queue_bench binary (default build/bench/bench/queue_bench;
#                                           scripts/bench.sh builds it); topic_bench is taken from beside it
#   scripts/scaling.sh --out DIR            where the JSON and the table go (default bench/results/scaling-<host>)
#   scripts/scaling.sh --repetitions N
# Teams on k cores, capacity 1024 unless said: 1x1; (k/2)x(k/2), one thread per core, pinned, also unbounded;
# k x k, two threads per core; 8x8, the issue's fixed team of 16 threads (oversubscribed below 16 cores).
# Peers: handoff.stream, moodycamel, tbb, mutex+condvar, and atomic_queue where every thread has its own core
# (it busy-waits without bound, so oversubscribed runs would measure the scheduler's patience).
# Fan-out (topic_bench, when it is there): one publisher to k/2 subscribers (pinned) and to 8, handoff.topic
# against a stream per subscriber and a mutex+condvar queue per subscriber.
# queue_bench sizes its sweep and pins its threads from the affinity mask (bench/harness.hpp), so under
# `taskset -c 0-3` it behaves as on a 4-core machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/build/bench/bench/queue_bench
cores_list=""
out=""
repetitions=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --cores) cores_list=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --repetitions) repetitions=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "scaling: unknown argument: $1" >&2; exit 2 ;;
  esac
done

[[ -x $bin ]] || { echo "scaling: no queue_bench at $bin (run scripts/bench.sh first)" >&2; exit 1; }
machine_cpus=$(nproc --all)
if [[ -z $cores_list ]]; then
  for ((k = 2; k <= machine_cpus; k *= 2)); do cores_list+="$k "; done
fi
out=${out:-$root/bench/results/scaling-$(hostname -s)}
mkdir -p "$out"
export HANDOFF_GIT_COMMIT=${HANDOFF_GIT_COMMIT:-$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}

# Runs "$@" restricted to CPUs 0..k-1: taskset where it exists, else Python's os.sched_setaffinity.
on_cores() {
  local k=$1
  shift
  if command -v taskset >/dev/null; then
    taskset -c "0-$((k - 1))" "$@"
  else
    python3 -c 'import os, sys; os.sched_setaffinity(0, range(int(sys.argv[1]))); os.execv(sys.argv[2], sys.argv[2:])' \
      "$k" "$@"
  fi
}

status=0
for k in $cores_list; do
  if ((k > machine_cpus)); then
    echo "scaling: skipping $k cores (the machine has $machine_cpus)" >&2
    continue
  fi
  pinned=$((k / 2 < 1 ? 1 : k / 2))
  names=()
  add_team() {  # add_team P C CAP PEER...
    local p=$1 c=$2 cap=$3
    shift 3
    local workload=mpmc
    [[ $p -eq 1 && $c -eq 1 ]] && workload=spsc
    for peer in "$@"; do names+=("$workload/${p}x$c/cap:$cap/$peer/"); done
  }
  peers=(handoff.stream moodycamel tbb 'mutex\+condvar')
  if ((k >= 2)); then add_team 1 1 1024 "${peers[@]}" atomic_queue; else add_team 1 1 1024 "${peers[@]}"; fi
  if ((pinned > 1)); then
    add_team "$pinned" "$pinned" 1024 "${peers[@]}" atomic_queue
    add_team "$pinned" "$pinned" unbounded "${peers[@]}"
  fi
  ((k != pinned)) && add_team "$k" "$k" 1024 "${peers[@]}"
  ((k != 8 && pinned != 8)) && add_team 8 8 1024 "${peers[@]}"
  filter="^($(IFS='|'; echo "${names[*]}"))"
  echo "scaling: $k cores: ${#names[@]} benchmarks" >&2
  if ! on_cores "$k" "$bin" --full --benchmark_filter="$filter" --benchmark_repetitions="$repetitions" \
      --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true \
      --benchmark_out="$out/cores-$k.json" --benchmark_out_format=json >"$out/cores-$k.txt" 2>&1; then
    echo "scaling: queue_bench FAILED on $k cores; its output:" >&2
    tail -n 30 "$out/cores-$k.txt" >&2
    status=1
  fi
  topic_bin=$(dirname "$bin")/topic_bench
  if [[ -x $topic_bin ]]; then
    subscribers=$((k / 2 < 1 ? 1 : k / 2))
    if ! on_cores "$k" "$topic_bin" --full --benchmark_filter="^fanout/($subscribers|8)/" \
        --benchmark_repetitions="$repetitions" --benchmark_enable_random_interleaving=true \
        --benchmark_display_aggregates_only=true --benchmark_out="$out/cores-$k-topic.json" \
        --benchmark_out_format=json >"$out/cores-$k-topic.txt" 2>&1; then
      echo "scaling: topic_bench FAILED on $k cores; its output:" >&2
      tail -n 30 "$out/cores-$k-topic.txt" >&2
      status=1
    fi
  fi
done

python3 "$root/scripts/scaling_report.py" "$out"/cores-*.json | tee "$out/scaling.md" || status=1
exit $status
