#!/usr/bin/env python3
"""Turns scripts/scaling.sh's per-core-count queue_bench JSON into one Markdown table.

Usage: scaling_report.py cores-2.json cores-2-topic.json cores-4.json ...

Each file is one queue_bench run under `taskset`; its context's handoff_cores says how many CPUs it had. One row
per (cores, team, capacity): the median msgs/s of each peer over the repetitions, handoff's ratio to the
best peer and to the mutex queue, and CPU per message. A second table puts each team against handoff's own 1x1
on the same cores (the issue's "8x8 at least 0.8x the 1x1" line, per core count). Python 3 standard library.
Exits 1 if a benchmark reported an error (a failed verification).
"""

import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report as br  # noqa: E402  (the same loading, medians and formatting as the main report)

PEERS = ["handoff.stream", "moodycamel", "atomic_queue", "tbb", "mutex+condvar"]
HANDOFF = "handoff.stream"
MUTEX = "mutex+condvar"


def load_runs(paths):
    """cores -> (context, {(workload, P, C, cap): {peer: stats}}, {subscribers: {peer: stats}})"""
    runs = {}
    for path in paths:
        data = br.load(path)
        context = data.get("context", {})
        cores = int(context.get("handoff_cores", 0))
        summary = br.summarise(data.get("benchmarks", []))
        _, queues, fanouts = runs.setdefault(cores, (context, {}, {}))
        queues.update(br.queue_results(summary))
        fanouts.update(br.fanout_results(summary))
    return runs


def best_peer(peers):
    others = [(s["ips"], name) for name, s in peers.items() if name != HANDOFF and s["ips"] is not None]
    return max(others) if others else (None, None)


def throughput_rows(runs):
    rows, failed = [], []
    for cores in sorted(runs):
        _, results, _ = runs[cores]
        for key in sorted(results, key=lambda k: (k[1] * k[2], br.cap_key(k[3]))):
            workload, p, c, cap = key
            peers = results[key]
            failed += [f"{cores} cores {workload}/{p}x{c}/cap:{cap}/{n}" for n, s in peers.items() if s["error"]]
            own = peers.get(HANDOFF, {}).get("ips")
            best, best_name = best_peer(peers)
            mutex = peers.get(MUTEX, {})
            threads = p + c
            team = f"{p}x{c}" + (" (pinned)" if threads <= cores else f" ({threads / cores:g} threads/core)")
            rows.append([cores, team, cap] + [br.rate(peers.get(n, {}).get("ips")) for n in PEERS] + [
                f"{br.times(br.ratio(own, best))} {best_name or ''}".strip(),
                br.times(br.ratio(own, mutex.get("ips"))),
                br.nanos(peers.get(HANDOFF, {}).get("cpu")),
                br.nanos(mutex.get("cpu")),
                br.percent(peers.get(HANDOFF, {}).get("spread")),
            ])
    return rows, failed


def own_ratio_rows(runs):
    rows = []
    for cores in sorted(runs):
        _, results, _ = runs[cores]
        single = results.get(("spsc", 1, 1, "1024"), {}).get(HANDOFF, {}).get("ips")
        for key in sorted(results, key=lambda k: k[1] * k[2]):
            workload, p, c, cap = key
            if workload != "mpmc" or cap != "1024":
                continue
            own = results[key].get(HANDOFF, {}).get("ips")
            rows.append([cores, f"{p}x{c}", br.rate(own), br.rate(single), br.times(br.ratio(own, single))])
    return rows


FANOUT_PEERS = ["handoff.topic", "handoff.streams", "mutex+condvar"]


def fanout_rows(runs):
    rows, failed = [], []
    for cores in sorted(runs):
        _, _, fanouts = runs[cores]
        for n in sorted(fanouts):
            peers = fanouts[n]
            failed += [f"{cores} cores fanout/{n}/{p}" for p, s in peers.items() if s["error"]]
            topic = peers.get("handoff.topic", {})
            mutex = peers.get(MUTEX, {})
            threads = n + 1
            team = f"1 to {n}" + (" (pinned)" if threads <= cores else f" ({threads / cores:g} threads/core)")
            rows.append([cores, team] + [br.rate(peers.get(p, {}).get("ips")) for p in FANOUT_PEERS] + [
                br.times(br.ratio(topic.get("ips"), mutex.get("ips"))),
                br.nanos(topic.get("cpu")),
                br.nanos(mutex.get("cpu")),
            ])
    return rows, failed


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    runs = load_runs(argv)
    if not runs:
        print("scaling_report: no results", file=sys.stderr)
        return 1
    context = next(iter(runs.values()))[0]
    rows, failed = throughput_rows(runs)
    print("# handoff.stream per-core scaling (scripts/scaling.sh)\n")
    print(f"- machine: {context.get('handoff_cpu_model', 'unknown')}, {context.get('num_cpus', '?')} CPUs, "
          f"kernel {platform.release()} (where this report ran), host {context.get('handoff_hostname', '?')}")
    print(f"- commit {context.get('handoff_git_commit', 'unknown')}, {context.get('handoff_compiler', '?')}, "
          f"{context.get('handoff_build', '?')}")
    print(f"- messages per run: {context.get('handoff_messages_per_run', '?')}; cores restricted with taskset; "
          "medians of the repetitions; msgs/s\n")
    print(br.table(["cores", "team", "cap"] + PEERS +
                   ["handoff / best peer", "handoff / mutex", "handoff CPU ns/msg", "mutex CPU ns/msg",
                    "handoff spread"], rows))
    print("\n## handoff.stream against its own 1x1 on the same cores (capacity 1024)\n")
    print(br.table(["cores", "team", "msgs/s", "1x1 msgs/s", "team / 1x1"], own_ratio_rows(runs)))
    fan_rows, fan_failed = fanout_rows(runs)
    failed += fan_failed
    if fan_rows:
        print("\n## Topic fan-out: one publisher, every subscriber receives every message (deliveries/s)\n")
        print(br.table(["cores", "publisher to subscribers"] + FANOUT_PEERS +
                       ["topic / mutex", "topic CPU ns/delivery", "mutex CPU ns/delivery"], fan_rows))
    if failed:
        print("\nFAILED verification: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
