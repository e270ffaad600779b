//! queue_bench's rows and topic_bench's fan-out over crossbeam-channel.
//!
//! Queue rows (`<workload>/<P>x<C>/cap:<n>/crossbeam/<unpinned|pinned>`): `bounded(0)` (a rendezvous),
//! `bounded(1)`, `bounded(64)`, `bounded(1024)` and `unbounded()`, on bench/queue_workload.hpp's workload: P
//! producers each send a fixed share of the messages (producer << 32 | sequence), C consumers each receive a
//! fixed quota and check that each producer's sequence increases; the count and a 64-bit mixed sum must
//! match what was sent, or the row fails. Time: from opening the start gate to the last thread finishing.
//! Fan-out rows (`fanout/<N>/crossbeam.channels/...`): one publisher sends every message to each of N
//! `bounded(1024)` channels; each subscriber checks it receives 0, 1, 2, ... in order. Time, as topic_bench's:
//! from spawning the threads to joining them.

use crate::team::{allowed_cpus, process_cpu_seconds, run_team};
use crate::{pinning_name, Registry, Rep};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::time::Instant;

const UNBOUNDED: usize = usize::MAX;

struct Point {
    workload: &'static str,
    producers: usize,
    consumers: usize,
    capacity: usize,
}

/// queue_bench.cpp's make_sweep.
fn make_sweep(full: bool) -> Vec<Point> {
    let every = [0, 1, 64, 1024, UNBOUNDED];
    let default_caps = [1, 1024, UNBOUNDED];
    let capacities: &[usize] = if full { &every } else { &default_caps };
    let cores = allowed_cpus().len();
    let mut sweep: Vec<Point> = every
        .iter()
        .map(|&c| Point {
            workload: "spsc",
            producers: 1,
            consumers: 1,
            capacity: c,
        })
        .collect();
    let (mut mpsc, mut mpmc) = (vec![2], vec![2, 4, 8]);
    if full {
        mpsc.clear();
        let mut p = 2;
        while p <= 8 * cores - 1 || p <= 8 {
            mpsc.push(p);
            p *= 2;
        }
        mpmc = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
            .into_iter()
            .filter(|&n| n <= 4 * cores || n <= 8)
            .collect();
    }
    for p in mpsc {
        for &c in capacities {
            sweep.push(Point {
                workload: "mpsc",
                producers: p,
                consumers: 1,
                capacity: c,
            });
        }
    }
    for n in mpmc {
        for &c in capacities {
            sweep.push(Point {
                workload: "mpmc",
                producers: n,
                consumers: n,
                capacity: c,
            });
        }
    }
    sweep
}

fn mix64(mut x: u64) -> u64 {
    // splitmix64's finaliser, as queue_workload.hpp
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d049bb133111eb);
    x ^= x >> 31;
    x
}

#[derive(Default, Clone)]
#[repr(align(64))] // one cache line each
struct Tally {
    count: u64,
    mixed_sum: u64,
    error: Option<String>,
}

fn channel(capacity: usize) -> (Sender<u64>, Receiver<u64>) {
    if capacity == UNBOUNDED {
        unbounded()
    } else {
        bounded(capacity)
    }
}

pub fn register_sweep(registry: &mut Registry, full: bool, messages: u64) {
    for point in make_sweep(full) {
        let cap = if point.capacity == UNBOUNDED {
            "unbounded".to_string()
        } else {
            point.capacity.to_string()
        };
        let name = format!(
            "{}/{}x{}/cap:{}/crossbeam",
            point.workload, point.producers, point.consumers, cap
        );
        let run_messages = if point.capacity <= 1 {
            messages / 10
        } else {
            messages
        };
        let (p, c, capacity) = (point.producers, point.consumers, point.capacity);
        registry.pinnings(&name, move |r: &mut Rep, pinned| {
            queue_run(r, p, c, capacity, run_messages, pinned)
        });
    }
}

fn queue_run(r: &mut Rep, p: usize, c: usize, capacity: usize, messages: u64, pinned: bool) {
    let per_producer = (messages / p as u64).max(1);
    let total = per_producer * p as u64;
    let quota: Vec<u64> = (0..c as u64)
        .map(|i| total / c as u64 + u64::from(i < total % c as u64))
        .collect();
    let expected: u64 = (0..p as u64)
        .flat_map(|producer| (0..per_producer).map(move |s| mix64(producer << 32 | s)))
        .fold(0, u64::wrapping_add);
    let (tx, rx) = channel(capacity);
    let tallies: Vec<std::sync::Mutex<Tally>> = (0..c).map(|_| Default::default()).collect();
    let cpu_before = process_cpu_seconds();
    let (seconds, switches) = run_team(p + c, pinned, &|i| {
        if i < p {
            for s in 0..per_producer {
                tx.send((i as u64) << 32 | s)
                    .expect("crossbeam: send on a disconnected channel");
            }
            return;
        }
        let mut t = Tally::default();
        let mut next = vec![0u64; p];
        for _ in 0..quota[i - p] {
            let v = rx.recv().expect("crossbeam: recv on a disconnected channel");
            let (producer, sequence) = ((v >> 32) as usize, v & 0xffff_ffff);
            if producer >= p {
                t.error.get_or_insert_with(|| {
                    format!(
                        "value from a producer that does not exist ({}:{})",
                        producer, sequence
                    )
                });
            } else if sequence < next[producer] {
                t.error.get_or_insert_with(|| {
                    format!(
                        "a producer's values arrived out of order or twice ({}:{})",
                        producer, sequence
                    )
                });
            } else {
                next[producer] = sequence + 1;
            }
            t.mixed_sum = t.mixed_sum.wrapping_add(mix64(v));
            t.count += 1;
        }
        *tallies[i - p].lock().unwrap() = t;
    });
    r.cpu_seconds += process_cpu_seconds() - cpu_before;
    let (mut count, mut sum) = (0u64, 0u64);
    for t in &tallies {
        let t = t.lock().unwrap();
        count += t.count;
        sum = sum.wrapping_add(t.mixed_sum);
        if r.error.is_none() {
            r.error = t.error.clone();
        }
    }
    if r.error.is_none() && count != total {
        r.error = Some(format!("received {} values, expected {}", count, total));
    }
    if r.error.is_none() && sum != expected {
        r.error = Some("checksum mismatch: a value was lost, duplicated or altered".into());
    }
    r.seconds += seconds;
    r.items += total as f64;
    r.switches.voluntary += switches.voluntary;
    r.switches.involuntary += switches.involuntary;
    r.counts_switches = true;
    r.label = format!("crossbeam-channel; {}", pinning_name(pinned));
}

pub fn register_fanout(registry: &mut Registry, full: bool, messages: u64) {
    let mut counts = vec![1usize, 2, 4, 8];
    if full {
        let mut n = 16;
        while n <= 8 * allowed_cpus().len() {
            counts.push(n);
            n *= 2;
        }
    }
    for n in counts {
        registry.pinnings(
            &format!("fanout/{}/crossbeam.channels", n),
            move |r: &mut Rep, pinned| {
                let channels: Vec<(Sender<u64>, Receiver<u64>)> = (0..n).map(|_| bounded(1024)).collect();
                let wrong: Vec<std::sync::atomic::AtomicU64> = (0..n).map(|_| Default::default()).collect();
                let cpu_before = process_cpu_seconds();
                let start = Instant::now();
                run_team(n + 1, pinned, &|i| {
                    if i == 0 {
                        for m in 0..messages {
                            for (tx, _) in &channels {
                                tx.send(m).expect("crossbeam: send on a disconnected channel");
                            }
                        }
                        return;
                    }
                    let mut bad = 0;
                    for m in 0..messages {
                        if channels[i - 1]
                            .1
                            .recv()
                            .expect("crossbeam: recv on a disconnected channel")
                            != m
                        {
                            bad += 1;
                        }
                    }
                    // relaxed: read after the team joined
                    wrong[i - 1].store(bad, std::sync::atomic::Ordering::Relaxed);
                });
                r.seconds += start.elapsed().as_secs_f64();
                r.cpu_seconds += process_cpu_seconds() - cpu_before;
                let bad: u64 = wrong
                    .iter()
                    .map(|w| w.load(std::sync::atomic::Ordering::Relaxed))
                    .sum();
                if bad != 0 {
                    r.error = Some(format!(
                        "{} deliveries were missing, repeated or out of order",
                        bad
                    ));
                }
                r.items += messages as f64 * n as f64;
                r.label = format!("deliveries; {}", pinning_name(pinned));
            },
        );
    }
}
