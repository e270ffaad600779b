#!/usr/bin/env python3
"""Turns Google Benchmark JSON from bench/*_bench into the Markdown report and plots of handoff vs its peers.

Usage:
  bench_report.py --out RESULT.json RAW.json...   merge the raw outputs of several bench binaries into RESULT.json,
                                                  then report on it
  bench_report.py RESULT.json                     report on an existing merged result (re-render the tables)
Options: --sweep NAME, --repetitions N (recorded in RESULT.json when merging); --no-latest (do not refresh
bench/results/latest.md and latest-*.png); --no-plots.

Writes RESULT.md next to RESULT.json and one PNG per workload (RESULT-<workload>.png, via gnuplot when it is
installed; otherwise says so and skips), copies them to latest.md / latest-<workload>.png in the same folder, and
prints the Markdown to stdout. Python 3 standard library only.

Medians are taken over the repetitions (the "iteration" entries of each benchmark), so the report does not depend
on which aggregates Google Benchmark was asked to print. A benchmark that reported an error (a failed
verification) appears as FAILED, and the script exits 1.
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
QUEUE_NAME = re.compile(r"^(spsc|mpsc|mpmc)/(\d+)x(\d+)/cap:([^/]+)/([^/]+)")
MVAR_NAME = re.compile(r"^(pingpong|uncontended)/([^/]+)")
SPIN_NAME = re.compile(r"^spin/(\d+)/([^/]+)")
FANOUT_NAME = re.compile(r"^fanout/(\d+)/([^/]+)")
YIELD_NAME = re.compile(r"^stream_yield/(\d+)x\d+(\+busy)?/cap:1024/yield:(\d+)")
WORKLOAD_TITLES = {
    "spsc": "SPSC: one producer, one consumer",
    "mpsc": "MPSC: P producers, one consumer",
    "mpmc": "MPMC: N producers, N consumers",
}


# ---- loading ------------------------------------------------------------------------------------------------
def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def merge(raw_paths, out_path, sweep, repetitions):
    runs = {}
    for path in raw_paths:
        data = load(path)
        name = os.path.basename(data.get("context", {}).get("executable", path))
        runs[os.path.splitext(name)[0]] = data
    first = next(iter(runs.values()), {}).get("context", {})
    merged = {
        "handoff_bench": {
            "date": datetime.date.today().isoformat(),
            "hostname": first.get("handoff_hostname", first.get("host_name", "unknown")),
            "git_commit": first.get("handoff_git_commit", "unknown"),
            "sweep": sweep,
            "repetitions": repetitions,
        },
        "context": first,
        "runs": runs,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(merged, f, indent=1)
        f.write("\n")
    return merged


def summarise(benchmarks):
    """run_name -> {ips, cpu, spread, label, error, reps} from the per-repetition entries."""
    groups = {}
    for b in benchmarks:
        if b.get("run_type", "iteration") != "iteration":
            continue
        g = groups.setdefault(b["run_name"], {"ips": [], "cpu": [], "blocks": [], "time": [], "label": "",
                                              "error": None})
        if b.get("error_occurred"):
            g["error"] = b.get("error_message", "error")
            continue
        if "items_per_second" in b:
            g["ips"].append(b["items_per_second"])
        if "cpu_ns_per_msg" in b:
            g["cpu"].append(b["cpu_ns_per_msg"])
        if "blocks_per_kmsg" in b:
            g["blocks"].append(b["blocks_per_kmsg"])
        g["time"].append((b.get("real_time", 0.0), b.get("time_unit", "ns")))
        g["label"] = b.get("label", "")
    out = {}
    for name, g in groups.items():
        ips = statistics.median(g["ips"]) if g["ips"] else None
        spread = (max(g["ips"]) - min(g["ips"])) / ips if ips and len(g["ips"]) > 1 else None
        out[name] = {
            "ips": ips,
            "cpu": statistics.median(g["cpu"]) if g["cpu"] else None,
            "blocks": statistics.median(g["blocks"]) if g["blocks"] else None,
            "spread": spread,
            "time": (statistics.median(t for t, _ in g["time"]), g["time"][0][1]) if g["time"] else None,
            "label": g["label"],
            "error": g["error"],
            "reps": len(g["ips"]),
        }
    return out


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
    return "–" if r is None else f"{r:.2f}x"


def percent(v):
    return "–" if v is None else f"{100 * v:.0f}%"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the queue workloads ------------------------------------------------------------------------------------
def queue_results(summary):
    """(workload, P, C, cap) -> {peer: stats}"""
    results = {}
    for name, stats in summary.items():
        m = QUEUE_NAME.match(name)
        if m:
            workload, p, c, cap, peer = m.groups()
            results.setdefault((workload, int(p), int(c), cap), {})[peer] = stats
    return results


def cap_key(cap):
    return CAP_ORDER.index(cap) if cap in CAP_ORDER else len(CAP_ORDER)


def handoff_of(peers):
    """The handoff row the ratios are against: the stream, else (capacity 1 only) the mvar."""
    for name in (HANDOFF_QUEUE, HANDOFF_BOX):
        if name in peers and peers[name]["ips"] is not None:
            return name, peers[name]
    return None, None


def peer_order(peer):
    return (0 if peer.startswith("handoff") else 1, peer)


def queue_tables(results):
    parts = []
    for workload in ("spsc", "mpsc", "mpmc"):
        keys = sorted((k for k in results if k[0] == workload), key=lambda k: (k[1] + k[2], k[1], cap_key(k[3])))
        if not keys:
            continue
        rows = []
        for key in keys:
            peers = results[key]
            base_name, base = handoff_of(peers)
            for peer in sorted(peers, key=peer_order):
                s = peers[peer]
                if s["error"]:
                    rows.append([f"{key[1]}x{key[2]}", key[3], peer, "**FAILED**", "", "", "", s["error"], ""])
                    continue
                is_base = peer == base_name
                rows.append([
                    f"{key[1]}x{key[2]}", key[3], f"**{peer}**" if peer.startswith("handoff") else peer,
                    rate(s["ips"]), percent(s["spread"]), nanos(s["cpu"]), per_kmsg(s["blocks"]),
                    "(base)" if is_base else times(ratio(base and base["ips"], s["ips"])),
                    "(base)" if is_base else times(ratio(base and base["cpu"], s["cpu"])),
                ])
        parts.append(f"### {WORKLOAD_TITLES[workload]}\n\n" + table(
            ["threads", "capacity", "peer", "msgs/s (median)", "spread", "CPU ns/msg", "blocks/kmsg",
             "handoff/peer msgs/s",
             "handoff/peer CPU"], rows))
    return "\n\n".join(parts)


# ---- mvar ---------------------------------------------------------------------------------------------------
def mvar_tables(summary):
    found = {}
    for name, stats in summary.items():
        m = MVAR_NAME.match(name)
        if m:
            found.setdefault(m.group(1), {})[m.group(2)] = stats
    parts = []
    for kind, title, unit in (("pingpong", "mvar ping-pong (two threads, round trips)", "round trips/s"),
                              ("uncontended", "mvar uncontended put+take (one thread)", "pairs/s")):
        boxes = found.get(kind)
        if not boxes:
            continue
        base = boxes.get(HANDOFF_BOX)
        rows = []
        for box in sorted(boxes, key=peer_order):
            s = boxes[box]
            if s["error"]:
                rows.append([box, "**FAILED**", "", "", "", s["error"]])
                continue
            per = 1e9 / s["ips"] if s["ips"] else None
            rows.append([f"**{box}**" if box.startswith("handoff") else box, rate(s["ips"]), percent(s["spread"]),
                         nanos(per), nanos(s["cpu"]),
                         "(base)" if box == HANDOFF_BOX else times(ratio(base and base["ips"], s["ips"]))])
        parts.append(f"### {title}\n\n" + table(
            ["box", unit + " (median)", "spread", "wall ns each", "CPU ns each", "handoff.mvar/box"], rows))
    spins = {}
    for name, stats in summary.items():
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
    for name, stats in summary.items():
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
    """subscribers -> {peer: stats}"""
    results = {}
    for name, stats in summary.items():
        m = FANOUT_NAME.match(name)
        if m:
            results.setdefault(int(m.group(1)), {})[m.group(2)] = stats
    return results


def fanout_table(results):
    rows = []
    for n in sorted(results):
        peers = results[n]
        base_name = next((p for p in ("handoff.topic", "handoff.streams") if p in peers and peers[p]["ips"]), None)
        base = peers.get(base_name)
        for peer in sorted(peers, key=peer_order):
            s = peers[peer]
            if s["error"]:
                rows.append([n, peer, "**FAILED**", "", "", s["error"]])
                continue
            rows.append([n, f"**{peer}**" if peer.startswith("handoff") else peer, rate(s["ips"]),
                         percent(s["spread"]), nanos(s["cpu"]),
                         "(base)" if peer == base_name else times(ratio(base and base["ips"], s["ips"]))])
    if not rows:
        return ""
    return "### Topic fan-out: one publisher, N subscribers each receiving every message\n\n" + table(
        ["subscribers", "peer", "deliveries/s (median)", "spread", "CPU ns/delivery", "handoff/peer"], rows)


# ---- everything else (other engineers' bench binaries) ------------------------------------------------------
def other_tables(runs):
    parts = []
    for binary in sorted(runs):
        if binary in ("queue_bench", "mvar_bench", "topic_bench"):
            continue
        summary = summarise(runs[binary].get("benchmarks", []))
        if not summary:
            continue
        rows = []
        for name in sorted(summary):
            s = summary[name]
            t = f"{s['time'][0]:.4g} {s['time'][1]}" if s["time"] else "–"
            rows.append([name, "**FAILED** " + s["error"] if s["error"] else t, rate(s["ips"]), nanos(s["cpu"])])
        parts.append(f"### {binary}\n\n" + table(["benchmark", "median time", "items/s", "CPU ns/msg"], rows))
    return "\n\n".join(parts)


# ---- issue 6 targets ----------------------------------------------------------------------------------------
def target_rows(results, mvar_summary):
    def get(workload, p, c, cap, peer, field="ips"):
        s = results.get((workload, p, c, cap), {}).get(peer)
        return None if s is None or s["error"] else s[field]

    def row(what, value, threshold):
        goal = f">= {threshold:g}x"
        if value is None:
            return [what, "not measured", goal, "–"]
        return [what, times(value), goal, "met" if value >= threshold else "**missed**"]

    h = HANDOFF_QUEUE
    rows = [
        row("MPMC 2x2 cap 1024: handoff / moodycamel",
            ratio(get("mpmc", 2, 2, "1024", h), get("mpmc", 2, 2, "1024", "moodycamel")), 1.5),
        row("MPMC 2x2 cap 1024: handoff / mutex+condvar",
            ratio(get("mpmc", 2, 2, "1024", h), get("mpmc", 2, 2, "1024", "mutex+condvar")), 3),
        row("SPSC cap 1024: handoff / moodycamel",
            ratio(get("spsc", 1, 1, "1024", h), get("spsc", 1, 1, "1024", "moodycamel")), 1),
        row("MPMC 8x8 / handoff's own 1x1 (cap 1024)",
            ratio(get("mpmc", 8, 8, "1024", h), get("spsc", 1, 1, "1024", h)), 0.8),
        row("MPMC 8x8 cap 1024 CPU/msg: mutex+condvar / handoff",
            ratio(get("mpmc", 8, 8, "1024", "mutex+condvar", "cpu"), get("mpmc", 8, 8, "1024", h, "cpu")), 1),
    ]
    pp = {m.group(2): s for name, s in mvar_summary.items() if (m := MVAR_NAME.match(name)) and m.group(1) == "pingpong"}
    box, base = pp.get("mutex+condvar"), pp.get(HANDOFF_BOX)
    rows.append(row("mvar ping-pong: handoff.mvar / mutex+condvar box",
                    ratio(base and base["ips"], box and box["ips"]), 2))
    return rows


# ---- plots --------------------------------------------------------------------------------------------------
def plot_specs(results, fanout=None):
    """[(suffix, title, xlabel, {peer: [(x, y)]}, xtics or None)]"""
    specs = []
    if fanout:
        series = {}
        for n, peers in fanout.items():
            for peer, s in peers.items():
                if s["ips"] is not None:
                    series.setdefault(peer, []).append((n, s["ips"]))
        if any(len(v) > 1 for v in series.values()):
            specs.append(("fanout", "Fan-out: deliveries per second vs subscribers", "subscribers", series, None))
    spsc = {}
    for (w, _, _, cap), peers in results.items():
        if w == "spsc":
            for peer, s in peers.items():
                if s["ips"] is not None:
                    spsc.setdefault(peer, []).append((cap_key(cap), s["ips"]))
    if spsc:
        tics = [(c, i) for i, c in enumerate(CAP_ORDER)]
        specs.append(("spsc", "SPSC 1x1: throughput vs capacity", "capacity", spsc, tics))
    for workload, xlabel in (("mpsc", "producers (one consumer)"), ("mpmc", "threads (producers + consumers)")):
        caps = sorted({k[3] for k in results if k[0] == workload}, key=cap_key)
        for cap in caps:
            series = {}
            for (w, p, c, kcap), peers in results.items():
                if kcap != cap or not (w == workload or (w == "spsc" and p == 1 and c == 1)):
                    continue
                x = p if workload == "mpsc" else p + c
                for peer, s in peers.items():
                    if s["ips"] is not None:
                        series.setdefault(peer, []).append((x, s["ips"]))
            if any(len(v) > 1 for v in series.values()):
                specs.append((f"{workload}-cap{cap}", f"{workload.upper()} capacity {cap}: throughput vs threads",
                              xlabel, series, None))
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
                    for x, y in sorted(series[peer]):
                        f.write(f"{x} {y}\n")
                width = 3 if peer.startswith("handoff") else 1.5
                plots.append(f"'{data}' using 1:2 with linespoints lw {width} pt 7 title '{peer}'")
            lines = [
                "set terminal pngcairo size 900,540 noenhanced",
                f"set output '{out}'",
                f"set title '{title}'",
                f"set xlabel '{xlabel}'",
                f"set ylabel '{'deliveries' if suffix == 'fanout' else 'messages'} per second (median)'",
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
def render(merged, plots, md_path):
    meta = merged.get("handoff_bench", {})
    ctx = merged.get("context", {})
    runs = merged.get("runs", {})
    queue_summary = summarise(runs.get("queue_bench", {}).get("benchmarks", []))
    mvar_summary = summarise(runs.get("mvar_bench", {}).get("benchmarks", []))
    topic_summary = summarise(runs.get("topic_bench", {}).get("benchmarks", []))
    results = queue_results(queue_summary)
    qctx = runs.get("queue_bench", {}).get("context", {})
    out = [
        f"# handoff benchmarks: {meta.get('date', '?')} on {meta.get('hostname', '?')}",
        "",
        table(["", ""], [
            ["machine", f"{ctx.get('handoff_cores', ctx.get('num_cpus', '?'))} cores, "
                        f"{ctx.get('handoff_cpu_model', '?')} ({ctx.get('mhz_per_cpu', '?')} MHz)"],
            ["compiler", ctx.get("handoff_compiler", "?")],
            ["build", ctx.get("handoff_build", "?")],
            ["git commit", meta.get("git_commit", ctx.get("handoff_git_commit", "?"))],
            ["sweep", f"{meta.get('sweep', '?')}, {meta.get('repetitions', '?')} repetitions, "
                      f"{qctx.get('handoff_messages_per_run', '?')} messages per run (a tenth at capacities 0 and 1)"],
            ["load average at start", ", ".join(f"{x:.2f}" for x in ctx.get("load_avg", []))],
        ]),
        "",
        "How to read: *msgs/s* is the median over the repetitions of messages delivered per second of wall time; "
        "*spread* is (max - min) / median over the repetitions; *CPU ns/msg* is the process's user + sys CPU per "
        "message (busy-waiting counts). *handoff/peer msgs/s* above 1 means handoff moved more messages per "
        "second; *handoff/peer CPU* below 1 means handoff spent less CPU per message. Ratios are against "
        "handoff.stream, or handoff.mvar in capacity-1 rows when no stream was built. moodycamel is unbounded "
        "(its capacity-1024 row ignores the bound); atomic_queue spins without bound "
        + ("(oversubscribed rows included: they measure the scheduler's time slice)"
           if meta.get("sweep") == "full" else "and runs only where every thread has a core")
        + ". See bench/README.md.",
        "",
        "## Targets (the performance lines of the stream and mvar issues)",
        "",
        table(["target", "measured", "goal", ""], target_rows(results, mvar_summary)),
        "",
        "## Queues",
        "",
        queue_tables(results) or "(queue_bench did not run)",
        "",
        yield_table(queue_summary),
        "",
        "## mvar",
        "",
        mvar_tables(mvar_summary) or "(mvar_bench did not run)",
    ]
    fan = fanout_table(fanout_results(topic_summary))
    if fan:
        out += ["", "## Fan-out", "", fan]
    others = other_tables(runs)
    if others:
        out += ["", "## Other benchmarks", "", others]
    if plots:
        out += ["", "## Plots", ""]
        out += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots]
    text = "\n".join(out) + "\n"
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(text)
    failed = any(s["error"] for part in (queue_summary, mvar_summary, topic_summary) for s in part.values())
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
    parser.add_argument("--no-latest", action="store_true")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()

    if args.out:
        merged = merge(args.inputs, args.out, args.sweep, args.repetitions)
        result_path = args.out
    else:
        if len(args.inputs) != 1:
            parser.error("give one merged RESULT.json, or --out RESULT.json with the raw files")
        result_path = args.inputs[0]
        merged = load(result_path)
    prefix = os.path.splitext(result_path)[0]
    runs = merged.get("runs", {})
    results = queue_results(summarise(runs.get("queue_bench", {}).get("benchmarks", [])))
    fanout = fanout_results(summarise(runs.get("topic_bench", {}).get("benchmarks", [])))
    plots = [] if args.no_plots else write_plots(results, prefix, fanout)
    text, failed = render(merged, plots, prefix + ".md")
    if not args.no_latest:
        refresh_latest(prefix + ".md", plots)
    print(text)
    if failed:
        print("bench_report: some benchmarks FAILED verification (see the tables)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
