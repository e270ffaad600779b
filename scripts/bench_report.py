#!/usr/bin/env python3
"""Turns Google Benchmark JSON from bench/*_bench into the Markdown report and plots of handoff vs its peers.

Usage:
  bench_report.py --out RESULT.json RAW.json...   merge the raw outputs of several bench binaries (the C++
                                                  *_bench and bench/go's go_bench, bench/crossbeam's
                                                  crossbeam_bench) into RESULT.json, then report on it
  bench_report.py RESULT.json                     report on an existing merged result (re-render the tables)
  bench_report.py RESULT.json --readme README.md  only replace the table between README's BENCHMARK TABLE
                                                  markers with this result's comparison table (RESULT.md, the
                                                  plots and latest.* are left as they are)
Options: --sweep NAME, --repetitions N, --load-average "1m 5m 15m" (recorded in RESULT.json when merging);
--no-latest (do not refresh latest.md and latest-*.png beside RESULT.json); --no-plots.

Writes RESULT.md next to RESULT.json and one PNG per workload and pinning (RESULT-<workload>-<pinning>.png, via
gnuplot when it is installed; otherwise says so and skips; error bars span the repetitions' min to max), copies
them to latest.md / latest-*.png in the same folder, and prints the Markdown to stdout. Python 3 standard
library only.

Rows are named <row>/<unpinned|pinned> (bench/harness.hpp); rows without that suffix (the tuning sweeps, results
before 2026-12) are "auto": pinned only when every thread had a core. The comparison table ("handoff, Go,
crossbeam and the best peer") is the README's: one line per row and pinning, handoff's figure, Go's, crossbeam's
(Rust's std Condvar on the condition-variable rows: crossbeam has none), the best of every other peer, and
handoff against that best peer (above 1: handoff ahead), favourable or not.

Medians are taken over the repetitions (the "iteration" entries of each benchmark), so the report does not depend
on which aggregates Google Benchmark was asked to print. Raw files of one binary (scripts/bench_rounds.py writes one
per round and workload) are merged into one run; the result then records "interleaved": the repetitions are
rounds. A benchmark that reported an error (a failed verification) appears as FAILED, and the script exits 1. The report records the peers' versions (Debian
packages, Go's and Rust's own) and warns when the load average at start exceeded the core count.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HANDOFF_QUEUE = "handoff.stream"
HANDOFF_BOX = "handoff.mvar"
CAP_ORDER = ["0", "1", "64", "1024", "unbounded"]
PINNINGS = ["unpinned", "pinned", "auto"]
QUEUE_NAME = re.compile(r"^(spsc|mpsc|mpmc)/(\d+)x(\d+)/cap:([^/]+)/([^/]+)$")
MVAR_NAME = re.compile(r"^(pingpong|uncontended)/([^/]+)$")
SPIN_NAME = re.compile(r"^spin/(\d+)/([^/]+)")
FANOUT_NAME = re.compile(r"^fanout/(\d+)/([^/]+)$")
YIELD_NAME = re.compile(r"^stream_yield/(\d+)x\d+(\+busy)?/cap:1024/yield:(\d+)")
# Google Benchmark's own additions to a name (and old results' options), dropped before parsing.
NAME_OPTIONS = re.compile(r"/(min_time:[^/]+|manual_time|real_time|iterations:\d+|repeats:\d+|threads:\d+)")
WORKLOAD_TITLES = {
    "spsc": "SPSC: one producer, one consumer",
    "mpsc": "MPSC: P producers, one consumer",
    "mpmc": "MPMC: N producers, N consumers",
}
# The binaries whose rows are Go's and crossbeam's (bench/go, bench/crossbeam), and the peer names they use.
FOREIGN_RUNS = ("go_bench", "crossbeam_bench")
GO_PEERS = ("go.chan", "go.chan(1)", "go.chans", "go.sync.Cond")
CROSSBEAM_PEERS = ("crossbeam", "crossbeam.bounded(1)", "crossbeam.channels", "rust.std.Condvar")
# Debian packages whose versions the report records (the peers, the toolchains, the timing library).
VERSION_PACKAGES = ("g++", "libbenchmark-dev", "libconcurrentqueue-dev", "libatomic-queue-dev", "libtbb-dev",
                    "libboost-fiber-dev", "golang-go", "librust-crossbeam-channel-dev", "rustc", "cargo")


# ---- loading ------------------------------------------------------------------------------------------------
def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def package_versions():
    """Debian package -> installed version, for the packages of VERSION_PACKAGES that are installed."""
    versions = {}
    if shutil.which("dpkg-query") is None:
        return versions
    for package in VERSION_PACKAGES:
        result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", package],
                                capture_output=True, text=True)
        status, _, version = result.stdout.partition(" ")
        if result.returncode == 0 and status == "installed":
            versions[package] = version
    return versions


def merge(raw_paths, out_path, sweep, repetitions, load_average=None):
    runs = {}
    interleaved = False
    for path in sorted(raw_paths):
        data = load(path)
        name = os.path.splitext(os.path.basename(data.get("context", {}).get("executable", path)))[0]
        if name in runs:  # one file per round and workload (scripts/bench_rounds.py): one binary's rows, merged
            runs[name].setdefault("benchmarks", []).extend(data.get("benchmarks", []))
            interleaved = True
        else:
            runs[name] = data
    cpp = [r for n, r in runs.items() if n not in FOREIGN_RUNS]
    first = (cpp or list(runs.values()) or [{}])[0].get("context", {})
    peer_versions = package_versions()
    for name in FOREIGN_RUNS:
        version = runs.get(name, {}).get("context", {}).get("handoff_peer_version")
        if version:
            peer_versions[name] = version
    merged = {
        "handoff_bench": {
            "date": datetime.date.today().isoformat(),
            "hostname": first.get("handoff_hostname", first.get("host_name", "unknown")),
            "git_commit": first.get("handoff_git_commit", "unknown"),
            "sweep": sweep,
            "repetitions": repetitions,
            "interleaved": interleaved,
            "load_average_at_start": load_average or first.get("load_avg", []),
            "peer_versions": peer_versions,
        },
        "context": first,
        "runs": runs,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    return merged


def clean_name(run_name):
    return NAME_OPTIONS.sub("", run_name)


def split_pinning(name):
    """'mpmc/2x2/cap:1024/x/pinned' -> ('mpmc/2x2/cap:1024/x', 'pinned'); no suffix -> (name, 'auto')."""
    base, _, last = name.rpartition("/")
    return (base, last) if last in ("unpinned", "pinned") else (name, "auto")


def summarise(benchmarks):
    """(row name without Google Benchmark's options, pinning) -> stats, from the per-repetition entries."""
    groups = {}
    for b in benchmarks:
        if b.get("run_type", "iteration") != "iteration":
            continue
        key = split_pinning(clean_name(b.get("run_name", b.get("name", ""))))
        g = groups.setdefault(key, {"ips": [], "cpu": [], "blocks": [], "time": [], "p50": [], "p99": [],
                                    "label": "", "error": None})
        if b.get("error_occurred"):
            g["error"] = b.get("error_message", "error")
            continue
        for field, counter in (("ips", "items_per_second"), ("cpu", "cpu_ns_per_msg"), ("blocks", "blocks_per_kmsg"),
                               ("p50", "latency_p50_ns"), ("p99", "latency_p99_ns")):
            if counter in b:
                g[field].append(b[counter])
        g["time"].append((b.get("real_time", 0.0), b.get("time_unit", "ns")))
        g["label"] = b.get("label", "")
    out = {}
    for key, g in groups.items():
        ips = statistics.median(g["ips"]) if g["ips"] else None
        out[key] = {
            "ips": ips,
            "ips_min": min(g["ips"]) if g["ips"] else None,
            "ips_max": max(g["ips"]) if g["ips"] else None,
            "cpu": statistics.median(g["cpu"]) if g["cpu"] else None,
            "blocks": statistics.median(g["blocks"]) if g["blocks"] else None,
            "p50": statistics.median(g["p50"]) if g["p50"] else None,
            "p99": statistics.median(g["p99"]) if g["p99"] else None,
            "spread": (max(g["ips"]) - min(g["ips"])) / ips if ips and len(g["ips"]) > 1 else None,
            "time": (statistics.median(t for t, _ in g["time"]), g["time"][0][1]) if g["time"] else None,
            "label": g["label"],
            "error": g["error"],
            "reps": len(g["ips"]),
        }
    return out


def summaries(runs):
    """binary -> summary; 'all' -> the union (row names differ between binaries: the peer is in the name)."""
    per_run = {name: summarise(data.get("benchmarks", [])) for name, data in runs.items()}
    union = {}
    for summary in per_run.values():
        union.update(summary)
    per_run["all"] = union
    return per_run


# ---- formatting ---------------------------------------------------------------------------------------------
def rate(v):
    if v is None:
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def nanos(v):
    return "–" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.3g}")


def per_kmsg(v):
    """Context switches per 1000 messages (queue_bench's blocks_per_kmsg); absent in older results."""
    return "–" if v is None else f"{v:.2g}" if v < 10 else f"{v:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def times(r):
    return "–" if r is None else f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def percent(v):
    return "–" if v is None else f"{100 * v:.0f}%"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pin_order(pin):
    return PINNINGS.index(pin) if pin in PINNINGS else len(PINNINGS)


def peer_order(peer):
    return (0 if peer.startswith("handoff") else 1, peer)


def bold_handoff(peer):
    return f"**{peer}**" if peer.startswith("handoff") else peer


# ---- the queue workloads ------------------------------------------------------------------------------------
def queue_results(summary):
    """(workload, P, C, cap, pinning) -> {peer: stats}"""
    results = {}
    for (name, pin), stats in summary.items():
        m = QUEUE_NAME.match(name)
        if m:
            workload, p, c, cap, peer = m.groups()
            results.setdefault((workload, int(p), int(c), cap, pin), {})[peer] = stats
    return results


def cap_key(cap):
    return CAP_ORDER.index(cap) if cap in CAP_ORDER else len(CAP_ORDER)


def handoff_of(peers):
    """The handoff row the ratios are against: the stream, else (capacity 1 only) the mvar."""
    for name in (HANDOFF_QUEUE, HANDOFF_BOX):
        if name in peers and peers[name]["ips"] is not None:
            return name, peers[name]
    return None, None


def queue_tables(results):
    parts = []
    for workload in ("spsc", "mpsc", "mpmc"):
        keys = sorted((k for k in results if k[0] == workload),
                      key=lambda k: (k[1] + k[2], k[1], cap_key(k[3]), pin_order(k[4])))
        if not keys:
            continue
        rows = []
        for key in keys:
            peers = results[key]
            base_name, base = handoff_of(peers)
            for peer in sorted(peers, key=peer_order):
                s = peers[peer]
                if s["error"]:
                    rows.append([f"{key[1]}x{key[2]}", key[3], key[4], peer, "**FAILED**", "", "", "", s["error"],
                                 ""])
                    continue
                is_base = peer == base_name
                rows.append([
                    f"{key[1]}x{key[2]}", key[3], key[4], bold_handoff(peer),
                    rate(s["ips"]), percent(s["spread"]), nanos(s["cpu"]), per_kmsg(s["blocks"]),
                    "(base)" if is_base else times(ratio(base and base["ips"], s["ips"])),
                    "(base)" if is_base else times(ratio(base and base["cpu"], s["cpu"])),
                ])
        parts.append(f"### {WORKLOAD_TITLES[workload]}\n\n" + table(
            ["threads", "capacity", "pinning", "peer", "msgs/s (median)", "spread", "CPU ns/msg", "blocks/kmsg",
             "handoff/peer msgs/s", "handoff/peer CPU"], rows))
    return "\n\n".join(parts)


# ---- mvar ---------------------------------------------------------------------------------------------------
def box_summary(per_run):
    """mvar_bench's rows, and Go's and crossbeam's pingpong/uncontended rows (their one-slot channels)."""
    out = dict(per_run.get("mvar_bench", {}))
    for run in FOREIGN_RUNS:
        out.update({k: v for k, v in per_run.get(run, {}).items() if MVAR_NAME.match(k[0])})
    return out


def mvar_tables(summary):
    found = {}
    for (name, pin), stats in summary.items():
        m = MVAR_NAME.match(name)
        if m:
            found.setdefault(m.group(1), {}).setdefault(pin, {})[m.group(2)] = stats
    parts = []
    for kind, title, unit in (("pingpong", "mvar ping-pong (two threads, round trips)", "round trips/s"),
                              ("uncontended", "mvar uncontended put+take (one thread)", "pairs/s")):
        by_pin = found.get(kind)
        if not by_pin:
            continue
        rows = []
        for pin in sorted(by_pin, key=pin_order):
            boxes = by_pin[pin]
            base = boxes.get(HANDOFF_BOX)
            for box in sorted(boxes, key=peer_order):
                s = boxes[box]
                if s["error"]:
                    rows.append([pin, box, "**FAILED**", "", "", "", s["error"]])
                    continue
                per = 1e9 / s["ips"] if s["ips"] else None
                rows.append([pin, bold_handoff(box), rate(s["ips"]), percent(s["spread"]), nanos(per), nanos(s["cpu"]),
                             "(base)" if box == HANDOFF_BOX else times(ratio(base and base["ips"], s["ips"]))])
        parts.append(f"### {title}\n\n" + table(
            ["pinning", "box", unit + " (median)", "spread", "wall ns each", "CPU ns each", "handoff.mvar/box"], rows))
    spins = {}
    for (name, _), stats in summary.items():
        m = SPIN_NAME.match(name)
        if m:
            spins[int(m.group(1))] = stats
    if spins:
        rows = []
        for limit in sorted(spins):
            s = spins[limit]
            if s["error"]:
                rows.append([limit, "**FAILED**", "", "", "", s["error"]])
                continue
            rows.append([limit, rate(s["ips"]), percent(s["spread"]), nanos(1e9 / s["ips"] if s["ips"] else None),
                         nanos(s["cpu"])])
        parts.append("### mvar ping-pong by spin budget (Sync::spin_limit relax steps before parking)\n\n" + table(
            ["spin_limit", "round trips/s (median)", "spread", "wall ns each", "CPU ns each"], rows))
    return "\n\n".join(parts)


def yield_table(summary):
    """queue_bench's stream_yield rows: msgs/s by Sync::yield_limit (columns: team size)."""
    found = {}
    for (name, _), stats in summary.items():
        m = YIELD_NAME.match(name)
        if m:
            found.setdefault(int(m.group(3)), {})[(m.group(2) is not None, int(m.group(1)))] = stats
    if not found:
        return ""
    teams = sorted({team for by_team in found.values() for team in by_team})
    rows = []
    for limit in sorted(found):
        cells = []
        for n in teams:
            s = found[limit].get(n)
            cells.append("–" if s is None else ("**FAILED**" if s["error"] else
                                                f"{rate(s['ips'])} ({percent(s['spread'])})"))
        one, eight = found[limit].get((False, 1)), found[limit].get((False, 8))
        ok = one and eight and not one["error"] and not eight["error"]
        rows.append([limit] + cells + [times(ratio(eight["ips"], one["ips"])) if ok else "–"])
    return ("### stream<T>{1024} by yield budget (Sync::yield_limit yields before a blocked push/pop registers)\n\n"
            + table(["yield_limit"] + [f"{n}x{n}{' + busy' if busy else ''} msgs/s (spread)" for busy, n in teams]
                    + ["8x8 / 1x1"], rows)
            + "\n\n+ busy: one more thread spins beside the team for the whole run (a busy neighbour).")


# ---- topic fan-out ------------------------------------------------------------------------------------------
def fanout_results(summary):
    """(subscribers, pinning) -> {peer: stats}"""
    results = {}
    for (name, pin), stats in summary.items():
        m = FANOUT_NAME.match(name)
        if m:
            results.setdefault((int(m.group(1)), pin), {})[m.group(2)] = stats
    return results


def fanout_table(results):
    rows = []
    for key in sorted(results, key=lambda k: (k[0], pin_order(k[1]))):
        peers = results[key]
        base_name = next((p for p in ("handoff.topic", "handoff.streams") if p in peers and peers[p]["ips"]), None)
        base = peers.get(base_name)
        for peer in sorted(peers, key=peer_order):
            s = peers[peer]
            if s["error"]:
                rows.append([key[0], key[1], peer, "**FAILED**", "", "", s["error"]])
                continue
            rows.append([key[0], key[1], bold_handoff(peer), rate(s["ips"]), percent(s["spread"]), nanos(s["cpu"]),
                         "(base)" if peer == base_name else times(ratio(base and base["ips"], s["ips"]))])
    if not rows:
        return ""
    return "### Topic fan-out: one publisher, N subscribers each receiving every message\n\n" + table(
        ["subscribers", "pinning", "peer", "deliveries/s (median)", "spread", "CPU ns/delivery", "handoff/peer"], rows)


# ---- condition variables and wake-ups -----------------------------------------------------------------------
WAKE_WORKLOADS = (
    ("notify_no_waiters/", "notify_one / signal with nobody waiting (one call)"),
    ("notify_all_no_waiters/", "notify_all / broadcast with nobody waiting (one call)"),
    ("pingpong/", "condition-variable ping-pong (round trips)"),
    ("broadcast/8/", "broadcast to 8 waiters, each round acknowledged (rounds)"),
    ("latency/signal/", "signal one waiter: latency to the waiter running (rounds)"),
    ("latency/broadcast/8/", "broadcast to 8: latency to the last waiter running (rounds)"),
)


def wake_summary(per_run):
    """condition_bench's and latency_bench's rows, and Go's and crossbeam's rows of the same workloads."""
    out = dict(per_run.get("condition_bench", {}))
    out.update(per_run.get("latency_bench", {}))
    for run in FOREIGN_RUNS:
        out.update({k: v for k, v in per_run.get(run, {}).items()
                    if any(k[0].startswith(p) for p, _ in WAKE_WORKLOADS) and not MVAR_NAME.match(k[0])})
    return out


def wake_tables(summary):
    parts = []
    for prefix, title in WAKE_WORKLOADS:
        keys = sorted((k for k in summary if k[0].startswith(prefix) and "/" not in k[0][len(prefix):]),
                      key=lambda k: (pin_order(k[1]), peer_order(k[0][len(prefix):])))
        if not keys:
            continue
        rows = []
        for name, pin in keys:
            s = summary[(name, pin)]
            peer = name[len(prefix):]
            if s["error"]:
                rows.append([pin, peer, "**FAILED**", "", "", "", "", s["error"]])
                continue
            rows.append([pin, bold_handoff(peer), rate(s["ips"]), percent(s["spread"]),
                         nanos(1e9 / s["ips"] if s["ips"] else None), nanos(s["cpu"]), nanos(s["p50"]),
                         nanos(s["p99"])])
        parts.append(f"### {title}\n\n" + table(
            ["pinning", "peer", "per second (median)", "spread", "wall ns each", "CPU ns each", "latency p50 ns",
             "latency p99 ns"], rows))
    return "\n\n".join(parts)


# ---- the comparison: handoff, Go, crossbeam and the best other peer (the README table) ----------------------
# Each row: title, the rows it reads (box: mvar_bench's and the one-slot channels' ping-pong; queue: queue_bench's
# and topic_bench's rows with Go's and crossbeam's; wake: condition_bench's and latency_bench's with Go's and
# Rust's), the name's prefix (the peer follows it), the value it compares ("ips", "ns", "p50", "wakeups" =
# 8 x rounds/s, "pingpong" = ns per round trip with CPU ns), handoff's peers (the first present is the figure;
# the others are shown beside it), Go's peer, crossbeam's peer.
COMPARISON_ROWS = [
    ("ping-pong over two one-slot channels, ns per round trip (CPU ns)", "box", "pingpong/", "pingpong",
     ["handoff.mvar", "handoff.stream(1)"], "go.chan(1)", "crossbeam.bounded(1)"),
    ("one-slot SPSC (mvar; chan of 1; bounded(1)), msgs/s", "queue", "spsc/1x1/cap:1/", "ips",
     ["handoff.mvar", "handoff.stream"], "go.chan", "crossbeam"),
    ("rendezvous SPSC (capacity 0), msgs/s", "queue", "spsc/1x1/cap:0/", "ips", ["handoff.stream"], "go.chan",
     "crossbeam"),
    ("SPSC, capacity 1024, msgs/s", "queue", "spsc/1x1/cap:1024/", "ips", ["handoff.stream"], "go.chan", "crossbeam"),
    ("MPMC 2x2, capacity 1024, msgs/s", "queue", "mpmc/2x2/cap:1024/", "ips", ["handoff.stream"], "go.chan",
     "crossbeam"),
    ("MPMC 4x4, capacity 1024, msgs/s", "queue", "mpmc/4x4/cap:1024/", "ips", ["handoff.stream"], "go.chan",
     "crossbeam"),
    ("MPMC 8x8, capacity 1024, msgs/s", "queue", "mpmc/8x8/cap:1024/", "ips", ["handoff.stream"], "go.chan",
     "crossbeam"),
    ("MPMC 2x2, capacity 1, msgs/s", "queue", "mpmc/2x2/cap:1/", "ips", ["handoff.stream", "handoff.mvar"], "go.chan",
     "crossbeam"),
    ("MPMC 8x8, capacity 1, msgs/s", "queue", "mpmc/8x8/cap:1/", "ips", ["handoff.stream", "handoff.mvar"], "go.chan",
     "crossbeam"),
    ("SPSC, unbounded, msgs/s", "queue", "spsc/1x1/cap:unbounded/", "ips", ["handoff.stream"], None, "crossbeam"),
    ("MPMC 8x8, unbounded, msgs/s", "queue", "mpmc/8x8/cap:unbounded/", "ips", ["handoff.stream"], None, "crossbeam"),
    ("broadcast to 8 waiters, each round acked, wake-ups/s", "wake", "broadcast/8/", "wakeups",
     ["handoff.condition<T>", "handoff.condition<>", "handoff.condition<T>(no_mutex)"], "go.sync.Cond",
     "rust.std.Condvar"),
    ("notify with nobody waiting, ns per call", "wake", "notify_no_waiters/", "ns",
     ["handoff.condition<>", "handoff.condition<T>::signal"], "go.sync.Cond", "rust.std.Condvar"),
    ("signal one waiter, wake latency p50, ns", "wake", "latency/signal/", "p50",
     ["handoff.condition<T>", "handoff.condition<>"], "go.sync.Cond", "rust.std.Condvar"),
    ("broadcast to 8, latency to the last waiter p50, ns", "wake", "latency/broadcast/8/", "p50",
     ["handoff.condition<T>", "handoff.condition<>"], "go.sync.Cond", "rust.std.Condvar"),
    ("topic fan-out to 8 subscribers, deliveries/s", "queue", "fanout/8/", "ips", ["handoff.topic", "handoff.streams"],
     "go.chans", "crossbeam.channels"),
]
# Peers that are floors, not competitors: never the "best peer".
NOT_PEERS = ("empty-call", "go.empty-call", "rust.empty-call")
LOWER_IS_BETTER = ("ns", "p50", "pingpong")


def comparison_value(s, metric):
    if s is None or s["error"] or s["ips"] is None and metric not in ("p50",):
        return None
    if metric == "ips":
        return s["ips"]
    if metric == "wakeups":
        return 8 * s["ips"]
    if metric in ("ns", "pingpong"):
        return 1e9 / s["ips"] if s["ips"] else None
    if metric == "p50":
        return s["p50"]
    return None


def comparison_text(s, metric):
    v = comparison_value(s, metric)
    if s is not None and s["error"]:
        return "FAILED"
    if v is None:
        return "–"
    if metric in ("ips", "wakeups"):
        return rate(v)
    if metric == "pingpong":
        return f"{nanos(v)} ({nanos(s['cpu'])})"
    return nanos(v)


def short_handoff(peer):
    return peer.replace("handoff.", "")


def comparison_sources(per_run):
    queue = dict(per_run.get("queue_bench", {}))
    queue.update(per_run.get("topic_bench", {}))
    for run in FOREIGN_RUNS:
        queue.update(per_run.get(run, {}))
    return {"box": box_summary(per_run), "queue": queue, "wake": wake_summary(per_run)}


def comparison_rows(per_run):
    """One row per COMPARISON_ROWS entry and pinning found: [row, pinning, handoff, Go, crossbeam, best, ratio]."""
    rows = []
    sources = comparison_sources(per_run)
    pins = sorted({pin for _, pin in per_run.get("all", {})}, key=pin_order)
    for title, source, prefix, metric, handoff_peers, go_peer, crossbeam_peer in COMPARISON_ROWS:
        summary = sources[source]
        for pin in pins:
            peers = {name[len(prefix):]: s for (name, p), s in summary.items()
                     if p == pin and name.startswith(prefix) and "/" not in name[len(prefix):]}
            present = [p for p in handoff_peers if p in peers]
            if not present and go_peer not in peers and crossbeam_peer not in peers:
                continue  # e.g. only a tuning row ran at this pinning
            handoff_cell, handoff_value = "–", None
            if present:
                main = present[0]
                handoff_value = comparison_value(peers[main], metric)
                handoff_cell = f"**{comparison_text(peers[main], metric)}**"
                others = [f"{short_handoff(p)} {comparison_text(peers[p], metric)}" for p in present[1:]]
                if len(handoff_peers) > 1:
                    handoff_cell += f" ({short_handoff(main)}" + ("; " + "; ".join(others) if others else "") + ")"
            go_cell = comparison_text(peers.get(go_peer), metric) if go_peer else "n/a"
            crossbeam_cell = comparison_text(peers.get(crossbeam_peer), metric) if crossbeam_peer else "n/a"
            candidates = [(comparison_value(s, metric), p) for p, s in peers.items()
                          if not p.startswith("handoff") and p not in NOT_PEERS]
            candidates = [(v, p) for v, p in candidates if v is not None]
            best_cell, verdict = "–", "–"
            if candidates:
                lower = metric in LOWER_IS_BETTER
                value, best = (min if lower else max)(candidates)
                best_cell = f"{best} {comparison_text(peers[best], metric)}"
                if handoff_value:
                    verdict = times(value / handoff_value if lower else handoff_value / value)
            rows.append([title, pin, handoff_cell, go_cell, crossbeam_cell, best_cell, verdict])
    return rows


COMPARISON_HEADER = ["row", "pinning", "handoff", "Go", "crossbeam", "best other peer", "handoff vs best"]


def comparison_table(per_run):
    rows = comparison_rows(per_run)
    if not rows:
        return ""
    return table(COMPARISON_HEADER, rows)


def update_readme(readme_path, comparison):
    """Replaces the first Markdown table between README's BENCHMARK TABLE markers with `comparison`."""
    with open(readme_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("<!-- BENCHMARK TABLE"))
        end = next(i for i, l in enumerate(lines) if i > start and l.startswith("<!-- END BENCHMARK TABLE"))
        first = next(i for i in range(start, end) if lines[i].startswith("|"))
    except StopIteration:
        print(f"bench_report: {readme_path}: no table between <!-- BENCHMARK TABLE --> and <!-- END BENCHMARK TABLE -->",
              file=sys.stderr)
        return False
    last = first
    while last + 1 < end and lines[last + 1].startswith("|"):
        last += 1
    lines[first:last + 1] = comparison.split("\n")
    with open(readme_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return True


# ---- everything else (other engineers' bench binaries) ------------------------------------------------------
OWN_RUNS = ("queue_bench", "mvar_bench", "topic_bench", "condition_bench", "latency_bench",
            "select_bench") + FOREIGN_RUNS


# ---- select (bench/select_bench.cpp and the select rows of bench/go and bench/crossbeam) ------------------------
SELECT_PEERS = ("handoff.select", "crossbeam.select", "go.select")


def select_table(union):
    """One line per select workload and pinning: msgs/s (CPU ns/msg) of handoff, crossbeam and Go, and
    handoff against crossbeam (above 1: handoff ahead)."""
    rows = {}
    for (name, pin), stats in union.items():
        if not name.startswith("select_"):
            continue
        workload, _, peer = name.rpartition("/")
        if peer in SELECT_PEERS:
            rows.setdefault((workload, pin), {})[peer] = stats
    if not rows:
        return ""

    def cell(stats):
        if stats is None:
            return "–"
        if stats["error"]:
            return "**FAILED** " + stats["error"]
        return f"{rate(stats['ips'])} ({nanos(stats['cpu'])})"

    lines = []
    for (workload, pin) in sorted(rows, key=lambda k: (k[0], pin_order(k[1]))):
        peers = rows[(workload, pin)]
        h, c = peers.get("handoff.select"), peers.get("crossbeam.select")
        vs = times(ratio(h["ips"], c["ips"])) if h and c else "–"
        lines.append([workload, pin, cell(h), cell(c), cell(peers.get("go.select")), vs])
    return table(["workload", "pinning", "handoff msgs/s (CPU ns/msg)", "crossbeam", "Go", "handoff / crossbeam"],
                 lines)


def other_tables(per_run):
    parts = []
    for binary in sorted(per_run):
        if binary in OWN_RUNS or binary == "all":
            continue
        summary = per_run[binary]
        if not summary:
            continue
        rows = []
        for name, pin in sorted(summary, key=lambda k: (k[0], pin_order(k[1]))):
            s = summary[(name, pin)]
            t = f"{s['time'][0]:.4g} {s['time'][1]}" if s["time"] else "–"
            rows.append([name, pin, "**FAILED** " + s["error"] if s["error"] else t, rate(s["ips"]), nanos(s["cpu"])])
        parts.append(f"### {binary}\n\n" + table(["benchmark", "pinning", "median time", "items/s", "CPU ns/msg"],
                                                 rows))
    return "\n\n".join(parts)


# ---- issue 6 targets ----------------------------------------------------------------------------------------
def target_rows(results, box):
    pins = sorted({k[4] for k in results} | {pin for _, pin in box}, key=pin_order) or ["auto"]

    def get(workload, p, c, cap, pin, peer, field="ips"):
        s = results.get((workload, p, c, cap, pin), {}).get(peer)
        return None if s is None or s["error"] else s[field]

    def boxed(pin, peer):
        s = box.get((f"pingpong/{peer}", pin))
        return None if s is None or s["error"] else s["ips"]

    h = HANDOFF_QUEUE
    checks = [
        ("MPMC 2x2 cap 1024: handoff / moodycamel", 1.5,
         lambda pin: ratio(get("mpmc", 2, 2, "1024", pin, h), get("mpmc", 2, 2, "1024", pin, "moodycamel"))),
        ("MPMC 2x2 cap 1024: handoff / mutex+condvar", 3,
         lambda pin: ratio(get("mpmc", 2, 2, "1024", pin, h), get("mpmc", 2, 2, "1024", pin, "mutex+condvar"))),
        ("SPSC cap 1024: handoff / moodycamel", 1,
         lambda pin: ratio(get("spsc", 1, 1, "1024", pin, h), get("spsc", 1, 1, "1024", pin, "moodycamel"))),
        ("MPMC 8x8 / handoff's own 1x1 (cap 1024)", 0.8,
         lambda pin: ratio(get("mpmc", 8, 8, "1024", pin, h), get("spsc", 1, 1, "1024", pin, h))),
        ("MPMC 8x8 cap 1024 CPU/msg: mutex+condvar / handoff", 1,
         lambda pin: ratio(get("mpmc", 8, 8, "1024", pin, "mutex+condvar", "cpu"),
                           get("mpmc", 8, 8, "1024", pin, h, "cpu"))),
        ("mvar ping-pong: handoff.mvar / mutex+condvar box", 2,
         lambda pin: ratio(boxed(pin, HANDOFF_BOX), boxed(pin, "mutex+condvar"))),
    ]
    pins = [pin for pin in pins if any(measure(pin) is not None for _, _, measure in checks)] or ["auto"]
    rows = []
    for what, threshold, measure in checks:
        cells = []
        for pin in pins:
            value = measure(pin)
            cells.append("not measured" if value is None else
                         f"{times(value)} {'met' if value >= threshold else '**missed**'}")
        rows.append([what] + cells + [f">= {threshold:g}x"])
    return pins, rows


# ---- plots --------------------------------------------------------------------------------------------------
def point(x, s):
    """(x, median, min, max) of a row's msgs/s over its repetitions."""
    return (x, s["ips"], s["ips_min"] if s["ips_min"] is not None else s["ips"],
            s["ips_max"] if s["ips_max"] is not None else s["ips"])


def plot_specs(results, fanout=None):
    """[(suffix, title, xlabel, {peer: [(x, y, ymin, ymax)]}, xtics or None)], one set per pinning."""
    specs = []
    pins = sorted({k[4] for k in results} | {k[1] for k in (fanout or {})}, key=pin_order)
    for pin in pins:
        tag = "" if pin == "auto" else f"-{pin}"
        title_tag = "" if pin == "auto" else f" ({pin})"
        series = {}
        for (n, p), peers in (fanout or {}).items():
            if p != pin:
                continue
            for peer, s in peers.items():
                if s["ips"] is not None:
                    series.setdefault(peer, []).append(point(n, s))
        if any(len(v) > 1 for v in series.values()):
            specs.append((f"fanout{tag}", f"Fan-out: deliveries per second vs subscribers{title_tag}", "subscribers",
                          series, None))
        spsc = {}
        for (w, _, _, cap, p), peers in results.items():
            if w == "spsc" and p == pin:
                for peer, s in peers.items():
                    if s["ips"] is not None:
                        spsc.setdefault(peer, []).append(point(cap_key(cap), s))
        if spsc:
            tics = [(c, i) for i, c in enumerate(CAP_ORDER)]
            specs.append((f"spsc{tag}", f"SPSC 1x1: throughput vs capacity{title_tag}", "capacity", spsc, tics))
        for workload, xlabel in (("mpsc", "producers (one consumer)"), ("mpmc", "threads (producers + consumers)")):
            caps = sorted({k[3] for k in results if k[0] == workload and k[4] == pin}, key=cap_key)
            for cap in caps:
                series = {}
                for (w, p, c, kcap, kpin), peers in results.items():
                    if kpin != pin or kcap != cap or not (w == workload or (w == "spsc" and p == 1 and c == 1)):
                        continue
                    x = p if workload == "mpsc" else p + c
                    for peer, s in peers.items():
                        if s["ips"] is not None:
                            series.setdefault(peer, []).append(point(x, s))
                if any(len(v) > 1 for v in series.values()):
                    specs.append((f"{workload}-cap{cap}{tag}",
                                  f"{workload.upper()} capacity {cap}: throughput vs threads{title_tag}", xlabel,
                                  series, None))
    return specs


def write_plots(results, prefix, fanout=None):
    if shutil.which("gnuplot") is None:
        print("bench_report: gnuplot not installed; skipping plots (apt-get install gnuplot-nox)", file=sys.stderr)
        return []
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, title, xlabel, series, tics in plot_specs(results, fanout):
            out = f"{prefix}-{suffix}.png"
            plots = []
            for i, peer in enumerate(sorted(series, key=peer_order)):
                data = os.path.join(tmp, f"{suffix}-{i}.dat")
                with open(data, "w", encoding="utf-8") as f:
                    for x, y, low, high in sorted(series[peer]):
                        f.write(f"{x} {y} {low} {high}\n")
                width = 3 if peer.startswith("handoff") else 1.5
                plots.append(f"'{data}' using 1:2:3:4 with yerrorlines lw {width} pt 7 title '{peer}'")
            lines = [
                "set terminal pngcairo size 900,540 noenhanced",
                f"set output '{out}'",
                f"set title '{title}'",
                f"set xlabel '{xlabel}'",
                f"set ylabel '{'deliveries' if suffix.startswith('fanout') else 'messages'} per second "
                "(median; bars: min to max)'",
                "set logscale y",
                "set format y \"%.0s%c\"",
                "set grid",
                "set key outside right",
            ]
            if tics:
                lines.append("set xtics (" + ", ".join(f"'{c}' {i}" for c, i in tics) + ")")
                lines.append(f"set xrange [-0.5:{len(tics) - 0.5}]")
            else:
                lines.append("set logscale x 2")
            lines.append("plot " + ", ".join(plots))
            script = os.path.join(tmp, f"{suffix}.gp")
            with open(script, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            result = subprocess.run(["gnuplot", script], capture_output=True, text=True)
            if result.returncode != 0:
                print(f"bench_report: gnuplot failed for {suffix}: {result.stderr.strip()}", file=sys.stderr)
                continue
            written.append(out)
    return written


# ---- the report ---------------------------------------------------------------------------------------------
def load_warning(meta, ctx):
    load = meta.get("load_average_at_start") or ctx.get("load_avg") or []
    try:
        cores = int(ctx.get("handoff_cores", ctx.get("num_cpus", 0)))
    except (TypeError, ValueError):
        cores = 0
    if load and cores and load[0] > cores:
        return (f"> **Warning: the load average at start ({load[0]:.2f}) exceeded the {cores} cores.** Other work "
                "shared the machine: compare peers within this run only, read the spread columns, and rerun on an "
                "idle machine before quoting a figure.")
    return ""


def versions_table(meta, runs):
    versions = dict(meta.get("peer_versions", {}))
    for name in FOREIGN_RUNS:
        v = runs.get(name, {}).get("context", {}).get("handoff_peer_version")
        if v and name not in versions:
            versions[name] = v
    if not versions:
        return "(not recorded: results from before 2026-12)"
    return table(["package or program", "version"], [[k, v] for k, v in sorted(versions.items())])


def render(merged, plots, md_path):
    meta = merged.get("handoff_bench", {})
    ctx = merged.get("context", {})
    runs = merged.get("runs", {})
    per_run = summaries(runs)
    queue_summary = dict(per_run.get("queue_bench", {}))
    for run in FOREIGN_RUNS:
        queue_summary.update(per_run.get(run, {}))
    box = box_summary(per_run)
    results = queue_results(queue_summary)
    qctx = runs.get("queue_bench", {}).get("context", {})
    load = meta.get("load_average_at_start") or ctx.get("load_avg", [])
    pins, targets = target_rows(results, box)
    repeats = "rounds" if meta.get("interleaved") else "repetitions"
    how_repeated = (" (interleaved: each round runs every workload once, in a shuffled order, its peers back to back; "
                    "scripts/bench_rounds.py)") if meta.get("interleaved") else ""
    out = [
        f"# handoff benchmarks: {meta.get('date', '?')} on {meta.get('hostname', '?')}",
        "",
    ]
    warning = load_warning(meta, ctx)
    if warning:
        out += [warning, ""]
    out += [
        table(["", ""], [
            ["machine", f"{ctx.get('handoff_cores', ctx.get('num_cpus', '?'))} cores, "
                        f"{ctx.get('handoff_cpu_model', '?')} ({ctx.get('mhz_per_cpu', '?')} MHz)"],
            ["compiler", ctx.get("handoff_compiler", "?")],
            ["build", ctx.get("handoff_build", "?")],
            ["git commit", meta.get("git_commit", ctx.get("handoff_git_commit", "?"))],
            ["sweep", f"{meta.get('sweep', '?')}, {meta.get('repetitions', '?')} "
                      f"{repeats[:-1] if meta.get('repetitions') == 1 else repeats}{how_repeated}, "
                      f"{qctx.get('handoff_messages_per_run', '?')} messages per run (a tenth at capacities 0 and 1)"],
            ["load average at start", ", ".join(f"{x:.2f}" for x in load)],
        ]),
        "",
        "How to read: *msgs/s* is the median over the " + repeats + " of messages delivered per second of wall "
        "time; *spread* is (max - min) / median over them; *CPU ns/msg* is the process's user + sys CPU per "
        "message (busy-waiting counts). *handoff/peer msgs/s* above 1 means handoff moved more messages per "
        "second; *handoff/peer CPU* below 1 means handoff spent less CPU per message. Ratios are against "
        "handoff.stream, or handoff.mvar in capacity-1 rows when no stream was built. *pinning*: unpinned, the "
        "scheduler places every thread (Go: goroutines on GOMAXPROCS threads); pinned, thread i runs on CPU i mod "
        "cores, more threads than cores included (Go: goroutines locked to OS threads); auto, pinned only when "
        "every thread had a core. moodycamel is unbounded (its capacity-1024 row ignores the bound); Go has no "
        "unbounded channel; atomic_queue spins without bound "
        + ("(oversubscribed rows included: they measure the scheduler's time slice)"
           if meta.get("sweep") == "full" else "and runs only where every thread has a core")
        + ". See bench/README.md.",
        "",
        "## handoff, Go, crossbeam and the best other peer",
        "",
        "One line per row and pinning; favourable or not, every row is here. *best other peer*: the best figure "
        "of every peer that is not handoff (C++ libraries, Go, crossbeam); *handoff vs best* above 1 means handoff "
        "is ahead (more per second, or fewer ns). The crossbeam column of the condition-variable rows is Rust's "
        "std::sync::Condvar (crossbeam has no condition variable); notify rows time one call through a function "
        "pointer (notify_no_waiters/empty-call and its Go and Rust twins give that call's floor, in the wake-up "
        "tables).",
        "",
        comparison_table(per_run) or "(no comparison rows)",
        "",
        "## Peer versions",
        "",
        versions_table(meta, runs),
        "",
        "## Targets (the performance lines of the stream and mvar issues)",
        "",
        table(["target"] + [f"measured ({pin})" for pin in pins] + ["goal"], targets),
        "",
        "## Queues",
        "",
        queue_tables(results) or "(queue_bench did not run)",
        "",
        yield_table(queue_summary),
        "",
        "## mvar",
        "",
        mvar_tables(box) or "(mvar_bench did not run)",
    ]
    fan = fanout_table(fanout_results(queue_summary | per_run.get("topic_bench", {})))
    if fan:
        out += ["", "## Fan-out", "", fan]
    wake = wake_tables(wake_summary(per_run))
    if wake:
        out += ["", "## Condition variables and wake-ups", "", wake]
    sel = select_table(per_run.get("all", {}))
    if sel:
        out += ["", "## select over several channels", "", sel]
    others = other_tables(per_run)
    if others:
        out += ["", "## Other benchmarks", "", others]
    if plots:
        out += ["", "## Plots", ""]
        out += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots]
    text = "\n".join(out) + "\n"
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(text)
    failed = any(s["error"] for s in per_run["all"].values())
    return text, failed


def refresh_latest(md_path, plots):
    folder = os.path.dirname(os.path.abspath(md_path))
    for name in os.listdir(folder):
        if name.startswith("latest-") and name.endswith(".png"):
            os.remove(os.path.join(folder, name))
    stem = os.path.splitext(os.path.basename(md_path))[0]
    with open(md_path, encoding="utf-8") as f:
        text = f.read()
    for p in plots:
        latest = "latest" + os.path.basename(p)[len(stem):]
        shutil.copyfile(p, os.path.join(folder, latest))
        text = text.replace(f"({os.path.basename(p)})", f"({latest})")
    with open(os.path.join(folder, "latest.md"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--out")
    parser.add_argument("--sweep", default="default")
    parser.add_argument("--repetitions", type=int, default=0)
    parser.add_argument("--load-average", help="the load average when the run started: '1m 5m 15m'")
    parser.add_argument("--readme", help="replace the comparison table in this README (between its markers)")
    parser.add_argument("--no-latest", action="store_true")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()

    if args.out:
        load_average = [float(x) for x in args.load_average.split()] if args.load_average else None
        merged = merge(args.inputs, args.out, args.sweep, args.repetitions, load_average)
        result_path = args.out
    else:
        if len(args.inputs) != 1:
            parser.error("give one merged RESULT.json, or --out RESULT.json with the raw files")
        result_path = args.inputs[0]
        merged = load(result_path)
    prefix = os.path.splitext(result_path)[0]
    runs = merged.get("runs", {})
    per_run = summaries(runs)
    if args.readme and not args.out:
        comparison = comparison_table(per_run)
        if not comparison or not update_readme(args.readme, comparison):
            return 1
        print(comparison)
        print(f"bench_report: {args.readme}: comparison table replaced from {result_path}; update the paragraph "
              "above it (date, commit, machine) by hand", file=sys.stderr)
        return 0
    queue_summary = dict(per_run.get("queue_bench", {}))
    for run in FOREIGN_RUNS:
        queue_summary.update(per_run.get(run, {}))
    results = queue_results(queue_summary)
    fanout = fanout_results(queue_summary | per_run.get("topic_bench", {}))
    plots = [] if args.no_plots else write_plots(results, prefix, fanout)
    text, failed = render(merged, plots, prefix + ".md")
    if not args.no_latest:
        refresh_latest(prefix + ".md", plots)
    if args.readme:
        comparison = comparison_table(per_run)
        if not comparison or not update_readme(args.readme, comparison):
            return 1
        print(f"bench_report: {args.readme}: comparison table replaced; update the paragraph above it (date, "
              "commit, machine) by hand", file=sys.stderr)
    print(text)
    load_note = load_warning(merged.get("handoff_bench", {}), merged.get("context", {}))
    if load_note:
        print("bench_report: WARNING: the load average at start exceeded the core count", file=sys.stderr)
    if failed:
        print("bench_report: some benchmarks FAILED verification (see the tables)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
