#!/usr/bin/env python3
"""Runs the benchmark binaries in interleaved rounds, so that the peers of a workload run side by side.

Usage: bench_rounds.py --rounds N --raw DIR [--full | --quick] BINARY...

Why: running each binary in turn (all of queue_bench's rows, then minutes later all of crossbeam_bench's) compares
handoff and a peer measured in different phases of a noisy VM: the same row swung 3x between runs of one binary
(bench/results 2026-12-05, -05b). Here the rows are grouped by workload (the row name without its peer and
pinning: 'spsc/1x1/cap:0' holds handoff.stream, mutex+condvar, crossbeam and go.chan, both pinnings), and each round
runs every group once, in a shuffled order; within a group each binary that has rows of it runs them back to back
(one repetition each, its rows in random order), the binaries' order rotating from round to round. A row's N
repetitions are thus N rounds, and its peers' repetitions sit seconds away from its own in each.

Each run writes DIR/<binary>.r<round>.g<group>.json; scripts/bench_report.py merges the files of one binary.
--full passes --full to the binaries that take it; --quick passes small workload sizes (a smoke run). Exit status 1
when a run failed (its output's tail is printed), 2 on a bad argument.
"""
import argparse
import os
import random
import re
import subprocess
import sys

# The binaries that take the workload flags (the others get only Google Benchmark's own).
OWN_FLAGS = ("queue_bench", "mvar_bench", "topic_bench", "condition_bench", "latency_bench", "select_bench",
             "go_bench", "crossbeam_bench")
QUICK_SIZES = {
    "queue_bench": ["--messages=20000"],
    "mvar_bench": ["--round-trips=500"],
    "topic_bench": ["--messages=2000"],
    "condition_bench": ["--round-trips=500", "--broadcast-rounds=100"],
    "latency_bench": ["--rounds=200"],
    "select_bench": ["--messages=20000", "--round-trips=500"],
    "go_bench": ["--messages=20000", "--fanout-messages=2000", "--round-trips=500", "--broadcast-rounds=100",
                 "--rounds=200"],
    "crossbeam_bench": ["--messages=20000", "--fanout-messages=2000", "--round-trips=500",
                        "--broadcast-rounds=100", "--rounds=200"],
}
# Google Benchmark's additions to a row's name (as scripts/bench_report.py's NAME_OPTIONS).
NAME_OPTIONS = re.compile(r"/(min_time:[^/]+|manual_time|real_time|iterations:\d+|repeats:\d+|threads:\d+)")
PINNINGS = ("unpinned", "pinned")
# Escaped in a filter: the metacharacters of POSIX extended expressions (Google Benchmark), RE2 (go_bench) and
# crossbeam_bench's matcher. Not '<' or '>': '\<' is a word boundary in GNU's regcomp.
REGEX_SPECIAL = set(".[]{}()*+?^$|\\")


def escape(text):
    return "".join("\\" + c if c in REGEX_SPECIAL else c for c in text)


def workload_of(row):
    """'spsc/1x1/cap:0/crossbeam/pinned' -> 'spsc/1x1/cap:0' (the name without its peer and pinning)."""
    parts = NAME_OPTIONS.sub("", row).split("/")
    if parts[-1] in PINNINGS:
        parts.pop()
    return "/".join(parts[:-1]) if len(parts) > 1 else parts[0]


def row_filter(rows):
    """A filter that selects exactly these rows: each listed name, whole or followed by its options."""
    return "|".join(f"^{escape(r)}$|^{escape(r)}/" for r in rows)


def flags_of(name, full, quick):
    flags = []
    if full and name in OWN_FLAGS:
        flags.append("--full")
    if quick:
        flags += QUICK_SIZES.get(name, [])
    return flags


def list_rows(binary, flags):
    out = subprocess.run([binary, "--benchmark_list_tests=true", *flags], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} --benchmark_list_tests failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=None, help="the shuffle's seed (default: from the clock)")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    names = {}
    listed = {}  # binary -> its rows' full names
    groups = {}  # workload -> binary -> rows (in the binary's order, without options)
    for binary in args.binaries:
        name = os.path.basename(binary)
        names[binary] = name
        listed[binary] = list_rows(binary, flags_of(name, args.full, args.quick))
        for row in listed[binary]:
            groups.setdefault(workload_of(row), {}).setdefault(binary, []).append(NAME_OPTIONS.sub("", row))
    # Each row runs once per round: a group's filter must select exactly its rows of the binary (a row whose
    # name, plus '/', began another's would be selected twice).
    for workload, per_binary in groups.items():
        for binary, rows in per_binary.items():
            pattern = re.compile(row_filter(rows))
            chosen = [r for r in listed[binary] if pattern.search(r)]
            if len(chosen) != len(rows):
                print(f"bench: the filter for {workload} selects {len(chosen)} rows of {names[binary]}, not "
                      f"{len(rows)}: {chosen}", file=sys.stderr)
                return 2
    order = sorted(groups)
    rng = random.Random(args.seed)
    failed = 0
    os.makedirs(args.raw, exist_ok=True)
    for r in range(1, args.rounds + 1):
        rng.shuffle(order)
        print(f"bench: round {r} of {args.rounds}: {len(order)} workloads", file=sys.stderr, flush=True)
        for g, workload in enumerate(order):
            binaries = sorted(groups[workload], key=lambda b: names[b])
            shift = r % len(binaries)
            for binary in binaries[shift:] + binaries[:shift]:
                name = names[binary]
                out_json = os.path.join(args.raw, f"{name}.r{r}.g{g}.json")
                cmd = [binary, f"--benchmark_filter={row_filter(groups[workload][binary])}",
                       "--benchmark_repetitions=1", "--benchmark_enable_random_interleaving=true",
                       f"--benchmark_out={out_json}", "--benchmark_out_format=json",
                       *flags_of(name, args.full, args.quick)]
                run = subprocess.run(cmd, capture_output=True, text=True)
                if run.returncode != 0:
                    failed += 1
                    print(f"bench: {name} FAILED on {workload} (round {r}); its output:", file=sys.stderr)
                    print("\n".join((run.stdout + run.stderr).splitlines()[-30:]), file=sys.stderr)
                if os.path.exists(out_json) and os.path.getsize(out_json) == 0:
                    os.remove(out_json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
