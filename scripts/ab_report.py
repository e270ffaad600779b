#!/usr/bin/env python3
"""scripts/ab_report.py DIR: the report of an interleaved A/B run (scripts/ab.sh).

DIR holds <bench>.<k>-<old|new>-<round>.json files (Google Benchmark JSON). For each row: the median of
items_per_second over the rounds on each side, their ratio new/old (above 1: the new side is faster), the
spread (max/min) on each side, and the ratio of the medians of CPU per item where the row reports one
(cpu_ns_per_msg, cpu_ns_each or cpu_ns_per_round; below 1: the new side spends less). Rows that only one
side ran are listed apart. Read each ratio against the rows no change can move (their ratio is the noise).
"""
import collections
import json
import pathlib
import re
import statistics
import sys

CPU_COUNTERS = ("cpu_ns_per_msg", "cpu_ns_each", "cpu_ns_per_round")
FILE = re.compile(r"^(?P<bench>\w+)\.\d+-(?P<side>old|new)-(?P<round>\d+)\.json$")


def load(directory):
    rows = collections.defaultdict(lambda: {"old": [], "new": []})
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        match = FILE.match(path.name)
        if not match:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            print(f"ab_report: {path.name}: {error} (skipped)", file=sys.stderr)
            continue
        for row in data.get("benchmarks", []):
            rate = row.get("items_per_second")
            if rate is None:
                continue
            name = re.sub(r"/(min_time|real_time|manual_time).*$", "", row["name"])
            cpu = next((row[c] for c in CPU_COUNTERS if c in row), None)
            rows[name][match["side"]].append((rate, cpu))
    return rows


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows = load(sys.argv[1])
    if not rows:
        print("ab_report: no results", file=sys.stderr)
        return 1
    width = max(len(name) for name in rows)
    print(f"{'row':{width}}  {'old /s':>10} {'new /s':>10} {'new/old':>7} {'spread old':>10} "
          f"{'spread new':>10} {'CPU new/old':>11}  rounds")
    one_sided = []
    for name in sorted(rows):
        old, new = rows[name]["old"], rows[name]["new"]
        if not old or not new:
            one_sided.append(name)
            continue
        old_rate = statistics.median(r for r, _ in old)
        new_rate = statistics.median(r for r, _ in new)
        spread_old = max(r for r, _ in old) / min(r for r, _ in old)
        spread_new = max(r for r, _ in new) / min(r for r, _ in new)
        old_cpu = [c for _, c in old if c]
        new_cpu = [c for _, c in new if c]
        cpu = f"{statistics.median(new_cpu) / statistics.median(old_cpu):11.2f}" if old_cpu and new_cpu else " " * 11
        print(f"{name:{width}}  {old_rate:10.4g} {new_rate:10.4g} {new_rate / old_rate:7.2f} "
              f"{spread_old:10.2f} {spread_new:10.2f} {cpu}  {len(old)}/{len(new)}")
    for name in one_sided:
        print(f"{name}: ran on one side only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
