//! crossbeam-channel, and Rust's std::sync::Condvar where crossbeam has no condition variable, on the rows of
//! handoff's benchmarks (bench/README.md), run and reported the way Google Benchmark runs and reports the C++
//! rows, so scripts/bench_report.py merges them.
//!
//! Flags: the ones scripts/bench.sh gives every benchmark binary (--benchmark_filter=PATTERN,
//! --benchmark_repetitions=N, --benchmark_enable_random_interleaving[=true], --benchmark_out=FILE,
//! --benchmark_out_format=json, --benchmark_display_aggregates_only, --benchmark_list_tests) and the workload
//! sizes of the C++ binaries (--full, --messages=N as queue_bench, --fanout-messages=N as topic_bench's
//! --messages, --round-trips=N, --broadcast-rounds=N, --rounds=N as latency_bench; each workload takes the
//! size of its C++ twin). PATTERN is a regular expression of the simple kind: alternatives with `|`, `^` and
//! `$` anchors, `.` and `x*`, `\` escapes; no groups or classes (Debian's registry would need the regex crate
//! and its dependencies for more). One row: --benchmark_filter='^mpmc/2x2/cap:1024/crossbeam/pinned$'.
//! Each repetition repeats the row's run until it has taken $HANDOFF_BENCH_MIN_TIME seconds (default 0.2)
//! and reports totals over those runs, as Google Benchmark's MinTime does. Exit status 1
//! when a run failed its verification, 2 on a bad flag.

mod queue;
mod select;
mod team;
mod wake;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// One repetition: every run of the row until min_time has passed.
#[derive(Default)]
pub struct Rep {
    pub iterations: u64,
    pub seconds: f64,
    pub items: f64,
    pub cpu_seconds: f64,
    pub switches: team::Switches,
    pub counts_switches: bool,
    pub latencies: Vec<i64>,
    pub error: Option<String>,
    pub label: String,
    pub per_item: bool, // real_time and iterations per item (a call, a pair), as Google Benchmark's one-call rows
}

pub struct Registry {
    rows: Vec<(String, Box<dyn Fn(&mut Rep)>)>,
}

impl Registry {
    /// Registers name/unpinned and name/pinned.
    pub fn pinnings(&mut self, name: &str, run: impl Fn(&mut Rep, bool) + Clone + 'static) {
        for pinned in [false, true] {
            let run = run.clone();
            self.rows.push((
                format!("{}/{}", name, pinning_name(pinned)),
                Box::new(move |r: &mut Rep| run(r, pinned)),
            ));
        }
    }
}

pub fn pinning_name(pinned: bool) -> &'static str {
    if pinned {
        "pinned"
    } else {
        "unpinned"
    }
}

/// `pattern` against `text`: `|` alternatives, `^`/`$` anchors, `.` any character, `x*` repetition.
fn matches(pattern: &str, text: &str) -> bool {
    fn here(p: &[char], t: &[char]) -> bool {
        if p.is_empty() {
            return true;
        }
        if p == ['$'] {
            return t.is_empty();
        }
        if p.len() >= 2 && p[1] == '*' {
            let mut i = 0;
            loop {
                if here(&p[2..], &t[i..]) {
                    return true;
                }
                if i < t.len() && (p[0] == '.' || p[0] == t[i]) {
                    i += 1;
                } else {
                    return false;
                }
            }
        }
        if p[0] == '\\' && p.len() >= 2 {
            return !t.is_empty() && t[0] == p[1] && here(&p[2..], &t[1..]);
        }
        !t.is_empty() && (p[0] == '.' || p[0] == t[0]) && here(&p[1..], &t[1..])
    }
    let t: Vec<char> = text.chars().collect();
    pattern.split('|').any(|alternative| {
        let p: Vec<char> = alternative.chars().collect();
        if p.first() == Some(&'^') {
            here(&p[1..], &t)
        } else {
            (0..=t.len()).any(|start| here(&p, &t[start..]))
        }
    })
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(v: f64) -> String {
    if v.is_finite() {
        format!("{:e}", v)
    } else {
        "null".into()
    }
}

fn percentile(values: &[i64], fraction: f64) -> i64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[(fraction * (sorted.len() - 1) as f64) as usize]
}

fn entry(name: &str, index: usize, repetitions: usize, r: &Rep, unit: &str) -> String {
    let mut fields: Vec<(String, String)> = vec![
        ("name".into(), json_string(name)),
        ("run_name".into(), json_string(name)),
        ("run_type".into(), json_string("iteration")),
        ("repetitions".into(), repetitions.to_string()),
        ("repetition_index".into(), index.to_string()),
        ("threads".into(), "1".into()),
        ("label".into(), json_string(&r.label)),
        ("time_unit".into(), json_string(unit)),
    ];
    let per = if r.per_item { r.items } else { r.iterations as f64 };
    fields.push(("iterations".into(), format!("{}", per as u64)));
    if let Some(error) = &r.error {
        fields.push(("error_occurred".into(), "true".into()));
        fields.push(("error_message".into(), json_string(error)));
    } else {
        let scale = match unit {
            "ns" => 1e9,
            "us" => 1e6,
            _ => 1e3,
        };
        fields.push(("real_time".into(), json_number(r.seconds / per * scale)));
        fields.push(("cpu_time".into(), json_number(r.cpu_seconds / per * scale)));
        if r.seconds > 0.0 {
            fields.push(("items_per_second".into(), json_number(r.items / r.seconds)));
        }
        if r.items > 0.0 {
            fields.push((
                "cpu_ns_per_msg".into(),
                json_number(r.cpu_seconds * 1e9 / r.items),
            ));
            if r.counts_switches {
                fields.push((
                    "blocks_per_kmsg".into(),
                    json_number(r.switches.voluntary as f64 * 1e3 / r.items),
                ));
                fields.push((
                    "preempts_per_kmsg".into(),
                    json_number(r.switches.involuntary as f64 * 1e3 / r.items),
                ));
            }
        }
        if !r.latencies.is_empty() {
            fields.push(("latency_p50_ns".into(), percentile(&r.latencies, 0.5).to_string()));
            fields.push((
                "latency_p99_ns".into(),
                percentile(&r.latencies, 0.99).to_string(),
            ));
        }
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("      {}: {}", json_string(k), v))
        .collect();
    format!("    {{\n{}\n    }}", body.join(",\n"))
}

fn main() {
    let mut options: BTreeMap<&str, String> = BTreeMap::new();
    let known = [
        "benchmark_filter",
        "benchmark_repetitions",
        "benchmark_enable_random_interleaving",
        "benchmark_out",
        "benchmark_out_format",
        "benchmark_display_aggregates_only",
        "benchmark_list_tests",
        "full",
        "messages",
        "fanout-messages",
        "round-trips",
        "broadcast-rounds",
        "rounds",
    ];
    for arg in std::env::args().skip(1) {
        let body = arg.trim_start_matches('-');
        let (key, value) = body.split_once('=').unwrap_or((body, "true"));
        match known.iter().find(|k| **k == key) {
            Some(k) if arg.starts_with("--") => {
                options.insert(k, value.to_string());
            }
            _ => {
                eprintln!("crossbeam_bench: unknown argument: {}", arg);
                std::process::exit(2);
            }
        }
    }
    let number = |key: &str, default: u64| -> u64 {
        options
            .get(key)
            .map(|v| {
                v.parse().unwrap_or_else(|_| {
                    eprintln!("crossbeam_bench: --{}: not a number: {}", key, v);
                    std::process::exit(2)
                })
            })
            .unwrap_or(default)
    };
    let flag = |key: &str| options.get(key).map_or(false, |v| v == "true" || v == "1");
    let full = flag("full");
    let messages = number("messages", 1_000_000);
    let fanout_messages = number("fanout-messages", 50_000);
    let round_trips = number("round-trips", 10_000);
    let broadcast_rounds = number("broadcast-rounds", 2000);
    let latency_rounds = number("rounds", 2000);
    let repetitions = number("benchmark_repetitions", 1) as usize;
    if options.get("benchmark_out_format").map_or(false, |f| f != "json") {
        eprintln!("crossbeam_bench: --benchmark_out_format: json only");
        std::process::exit(2);
    }
    let filter = options
        .get("benchmark_filter")
        .cloned()
        .unwrap_or_else(|| ".".into());

    let mut registry = Registry { rows: Vec::new() };
    queue::register_sweep(&mut registry, full, messages);
    queue::register_fanout(&mut registry, full, fanout_messages);
    wake::register_boxes(&mut registry, round_trips);
    wake::register_conditions(&mut registry, broadcast_rounds);
    wake::register_latency(&mut registry, latency_rounds);
    select::register_select(&mut registry, messages, round_trips);

    let chosen: Vec<&(String, Box<dyn Fn(&mut Rep)>)> = registry
        .rows
        .iter()
        .filter(|(name, _)| matches(&filter, name))
        .collect();
    if flag("benchmark_list_tests") {
        for (name, _) in &chosen {
            println!("{}", name);
        }
        return;
    }
    let mut jobs: Vec<(usize, usize)> = (0..chosen.len())
        .flat_map(|b| (0..repetitions).map(move |i| (b, i)))
        .collect();
    if flag("benchmark_enable_random_interleaving") {
        // xorshift seeded from the clock: the order only has to differ between runs
        let mut x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        for i in (1..jobs.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            jobs.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
    let min_time: f64 = std::env::var("HANDOFF_BENCH_MIN_TIME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.2);
    let context = machine_context(full, messages, round_trips, broadcast_rounds, latency_rounds);
    let mut entries = Vec::new();
    let mut failures = 0;
    for (b, index) in jobs {
        let (name, run) = chosen[b];
        let mut r = Rep::default();
        while r.iterations == 0 || (r.seconds < min_time && r.error.is_none()) {
            run(&mut r);
            r.iterations += 1;
        }
        if let Some(error) = &r.error {
            failures += 1;
            eprintln!("BENCHMARK FAILURE: {}: {}", name, error);
        }
        let unit = if r.per_item { "ns" } else { "ms" };
        let per = if r.per_item { r.items } else { r.iterations as f64 };
        match &r.error {
            Some(error) => println!("{:<60} FAILED: {}", name, error),
            None => println!(
                "{:<60} {:>12.4} {} {:>10} {:>14.4e} items/s {}",
                name,
                r.seconds / per * if r.per_item { 1e9 } else { 1e3 },
                unit,
                r.iterations,
                if r.seconds > 0.0 { r.items / r.seconds } else { 0.0 },
                r.label
            ),
        }
        entries.push(entry(name, index, repetitions, &r, unit));
    }
    if let Some(out) = options.get("benchmark_out") {
        let text = format!(
            "{{\n  \"context\": {},\n  \"benchmarks\": [\n{}\n  ]\n}}\n",
            context,
            entries.join(",\n")
        );
        if let Err(e) = std::fs::write(out, text) {
            eprintln!("crossbeam_bench: {}: {}", out, e);
            std::process::exit(1);
        }
    }
    if failures != 0 {
        eprintln!("{} benchmark run(s) FAILED verification", failures);
        std::process::exit(1);
    }
}

fn machine_context(
    full: bool,
    messages: u64,
    round_trips: u64,
    broadcast_rounds: u64,
    latency_rounds: u64,
) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let commit = std::env::var("HANDOFF_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let load: Vec<String> = team::load_average().iter().map(|v| json_number(*v)).collect();
    let fields = [
        ("executable", json_string(&executable)),
        ("host_name", json_string(&host)),
        (
            "num_cpus",
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string(),
        ),
        ("load_avg", format!("[{}]", load.join(", "))),
        ("library_build_type", json_string("release")),
        (
            "handoff_cores",
            json_string(&team::allowed_cpus().len().to_string()),
        ),
        ("handoff_cpu_model", json_string(&team::cpu_model())),
        ("handoff_compiler", json_string(env!("HANDOFF_RUSTC_VERSION"))),
        (
            "handoff_peer_version",
            json_string(&format!(
                "crossbeam-channel {}; std::sync::Condvar of {}",
                env!("HANDOFF_CROSSBEAM_VERSION"),
                env!("HANDOFF_RUSTC_VERSION")
            )),
        ),
        ("handoff_git_commit", json_string(&commit)),
        ("handoff_hostname", json_string(&host)),
        ("handoff_build", json_string("release (cargo --release)")),
        (
            "handoff_sweep",
            json_string(if full { "full" } else { "default" }),
        ),
        ("handoff_messages_per_run", json_string(&messages.to_string())),
        (
            "handoff_round_trips_per_run",
            json_string(&round_trips.to_string()),
        ),
        (
            "handoff_broadcast_rounds_per_run",
            json_string(&broadcast_rounds.to_string()),
        ),
        (
            "handoff_latency_rounds_per_run",
            json_string(&latency_rounds.to_string()),
        ),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("    {}: {}", json_string(k), v))
        .collect();
    format!("{{\n{}\n  }}", body.join(",\n"))
}
