// bench/go/main.go: Go's channels and sync.Cond on the rows of handoff's benchmarks (bench/README.md), run
// and reported the way Google Benchmark runs and reports the C++ rows, so scripts/bench_report.py merges
// the two.
//
// Flags: the ones scripts/bench.sh gives every benchmark binary (--benchmark_filter=REGEX,
// --benchmark_repetitions=N, --benchmark_enable_random_interleaving, --benchmark_out=FILE,
// --benchmark_out_format=json, --benchmark_display_aggregates_only, --benchmark_list_tests) and the
// workload sizes of the C++ binaries (--full, --messages=N as queue_bench and topic_bench, --round-trips=N
// as mvar_bench and condition_bench, --broadcast-rounds=N as condition_bench, --rounds=N as latency_bench;
// each workload takes the size of its C++ twin). One row: --benchmark_filter, e.g.
// 'mpmc/2x2/cap:1024/go.chan/pinned'. Each repetition repeats the row's run until it has taken
// $HANDOFF_BENCH_MIN_TIME seconds (default 0.2) and reports totals over those runs, as Google Benchmark's
// MinTime does. Exit status 1 when a run failed its verification, 2 on a bad flag.
// Build: offline, standard library only (bench/CMakeLists.txt: go build with GOCACHE under the build tree).

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"time"
)

// rep accumulates one repetition: every run of the row until min_time has passed.
type rep struct {
	iterations int
	seconds    float64 // timed seconds over the runs
	items      float64 // messages, round trips, rounds or calls
	cpuSeconds float64
	switches   switchCount
	latencies  []int64 // latency rows: one per round
	err        string
	label      string
	timeUnit   string
	perItem    bool // real_time and iterations per item (a call, a pair), as Google Benchmark's one-call rows
}

type benchmark struct {
	name string
	run  func(r *rep) // one run: adds to r
}

var registry []benchmark

func register(name string, run func(r *rep)) { registry = append(registry, benchmark{name, run}) }

// registerPinnings registers name/unpinned and name/pinned.
func registerPinnings(name string, run func(r *rep, pinned bool)) {
	for _, pinned := range []bool{false, true} {
		pinned := pinned
		register(name+"/"+pinningName(pinned), func(r *rep) { run(r, pinned) })
	}
}

func pinningName(pinned bool) string {
	if pinned {
		return "pinned"
	}
	return "unpinned"
}

func minTime() float64 {
	if text := os.Getenv("HANDOFF_BENCH_MIN_TIME"); text != "" {
		if v, err := strconv.ParseFloat(text, 64); err == nil {
			return v
		}
	}
	return 0.2
}

func percentile(values []int64, fraction float64) int64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]int64(nil), values...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	return sorted[int(fraction*float64(len(sorted)-1))]
}

func entry(name string, index, repetitions int, r *rep) map[string]interface{} {
	e := map[string]interface{}{
		"name": name, "run_name": name, "run_type": "iteration", "family_index": 0,
		"repetitions": repetitions, "repetition_index": index, "threads": 1,
		"iterations": r.iterations, "time_unit": r.timeUnit, "label": r.label,
	}
	if r.err != "" {
		e["error_occurred"] = true
		e["error_message"] = r.err
		return e
	}
	scale := map[string]float64{"ns": 1e9, "us": 1e6, "ms": 1e3}[r.timeUnit]
	per := float64(r.iterations)
	if r.perItem {
		per = r.items
		e["iterations"] = int64(r.items)
	}
	e["real_time"] = r.seconds / per * scale
	e["cpu_time"] = r.cpuSeconds / per * scale
	if r.seconds > 0 {
		e["items_per_second"] = r.items / r.seconds
	}
	if r.items > 0 {
		e["cpu_ns_per_msg"] = r.cpuSeconds * 1e9 / r.items
		if r.switches.counted {
			e["blocks_per_kmsg"] = float64(r.switches.voluntary) * 1e3 / r.items
			e["preempts_per_kmsg"] = float64(r.switches.involuntary) * 1e3 / r.items
		}
	}
	if len(r.latencies) > 0 {
		e["latency_p50_ns"] = percentile(r.latencies, 0.5)
		e["latency_p99_ns"] = percentile(r.latencies, 0.99)
	}
	return e
}

func main() {
	filter := flag.String("benchmark_filter", ".", "regular expression over row names")
	repetitions := flag.Int("benchmark_repetitions", 1, "repetitions of every row")
	interleave := flag.Bool("benchmark_enable_random_interleaving", false, "run the repetitions of all rows in random order")
	out := flag.String("benchmark_out", "", "write the Google-Benchmark-shaped JSON here")
	outFormat := flag.String("benchmark_out_format", "json", "json only")
	_ = flag.Bool("benchmark_display_aggregates_only", false, "accepted; the console shows every repetition")
	list := flag.Bool("benchmark_list_tests", false, "print the row names and exit")
	full := flag.Bool("full", false, "the long sweep of queue_bench and topic_bench")
	messages := flag.Uint64("messages", 1000000, "messages per queue run (a tenth at capacities 0 and 1)")
	fanoutMessages := flag.Uint64("fanout-messages", 50000, "messages per fan-out run (topic_bench's --messages)")
	roundTrips := flag.Uint64("round-trips", 10000, "round trips per ping-pong run")
	broadcastRounds := flag.Uint64("broadcast-rounds", 2000, "rounds per broadcast run")
	latencyRounds := flag.Uint64("rounds", 2000, "rounds per latency run")
	flag.Parse()
	if *outFormat != "json" {
		fmt.Fprintln(os.Stderr, "go_bench: --benchmark_out_format: json only")
		os.Exit(2)
	}
	pattern, err := regexp.Compile(*filter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_bench: --benchmark_filter:", err)
		os.Exit(2)
	}

	registerQueueSweep(*full, *messages)
	registerFanout(*full, *fanoutMessages)
	registerBoxes(*roundTrips)
	registerConditions(*broadcastRounds)
	registerLatency(*latencyRounds)
	registerSelect(*messages, *roundTrips)

	var chosen []benchmark
	for _, b := range registry {
		if pattern.MatchString(b.name) {
			chosen = append(chosen, b)
		}
	}
	if *list {
		for _, b := range chosen {
			fmt.Println(b.name)
		}
		return
	}
	type job struct{ bench, index int }
	var jobs []job
	for b := range chosen {
		for i := 0; i < *repetitions; i++ {
			jobs = append(jobs, job{b, i})
		}
	}
	if *interleave {
		rand.Seed(time.Now().UnixNano())
		rand.Shuffle(len(jobs), func(a, b int) { jobs[a], jobs[b] = jobs[b], jobs[a] })
	}

	context := machineContext(*messages, *roundTrips, *broadcastRounds, *latencyRounds, *full)
	var entries []map[string]interface{}
	failures := 0
	limit := minTime()
	for _, j := range jobs {
		b := chosen[j.bench]
		r := &rep{timeUnit: "ms"}
		for r.iterations == 0 || (r.seconds < limit && r.err == "") {
			b.run(r)
			r.iterations++
		}
		if r.err != "" {
			failures++
			fmt.Fprintf(os.Stderr, "BENCHMARK FAILURE: %s: %s\n", b.name, r.err)
		}
		e := entry(b.name, j.index, *repetitions, r)
		entries = append(entries, e)
		if r.err != "" {
			fmt.Printf("%-60s FAILED: %s\n", b.name, r.err)
		} else {
			fmt.Printf("%-60s %12.4g %s %10d %14.4g items/s %s\n", b.name, e["real_time"], r.timeUnit, r.iterations,
				e["items_per_second"], r.label)
		}
	}
	if *out != "" {
		data, err := json.MarshalIndent(map[string]interface{}{"context": context, "benchmarks": entries}, "", "  ")
		if err == nil {
			err = os.WriteFile(*out, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_bench:", err)
			os.Exit(1)
		}
	}
	if failures != 0 {
		fmt.Fprintf(os.Stderr, "%d benchmark run(s) FAILED verification\n", failures)
		os.Exit(1)
	}
}

func machineContext(messages, roundTrips, broadcastRounds, latencyRounds uint64, full bool) map[string]interface{} {
	host, _ := os.Hostname()
	executable, _ := os.Executable()
	commit := os.Getenv("HANDOFF_GIT_COMMIT")
	if commit == "" {
		commit = "unknown"
	}
	sweep := "default"
	if full {
		sweep = "full"
	}
	return map[string]interface{}{
		"date": time.Now().Format(time.RFC3339), "host_name": host, "executable": executable,
		"num_cpus": runtime.NumCPU(), "load_avg": loadAverage(), "library_build_type": "release",
		"handoff_cores": strconv.Itoa(len(allowedCPUs())), "handoff_cpu_model": cpuModel(),
		"handoff_compiler":     runtime.Version() + " (" + runtime.Compiler + ", " + runtime.GOARCH + ")",
		"handoff_peer_version": "Go " + runtime.Version() + " standard library (chan, sync.Cond)",
		"handoff_gomaxprocs":   strconv.Itoa(runtime.GOMAXPROCS(0)),
		"handoff_git_commit":   commit, "handoff_hostname": host, "handoff_build": "release (go build)",
		"handoff_sweep": sweep, "handoff_messages_per_run": strconv.FormatUint(messages, 10),
		"handoff_round_trips_per_run":      strconv.FormatUint(roundTrips, 10),
		"handoff_broadcast_rounds_per_run": strconv.FormatUint(broadcastRounds, 10),
		"handoff_latency_rounds_per_run":   strconv.FormatUint(latencyRounds, 10),
	}
}
