//! The wake-up rows of mvar_bench, condition_bench and latency_bench, for crossbeam-channel and, where
//! crossbeam has no condition variable, Rust's std::sync::Condvar (futex-based on Linux).
//!
//!   pingpong/crossbeam.bounded(1)      two threads bounce a value through two bounded(1) channels
//!                                      (--round-trips per run), every answer checked.
//!   uncontended/crossbeam.bounded(1)   one thread sends then receives on one bounded(1) channel.
//!   notify_no_waiters/rust.std.Condvar notify_one with nobody waiting, through a function pointer read with
//!                                      read_volatile to a function that is never inlined (condition_bench
//!                                      calls each notify the same way); notify_all_no_waiters: notify_all;
//!                                      notify_no_waiters/rust.empty-call: that call to a function that does
//!                                      nothing, the floor of the rows above.
//!   broadcast/8/rust.std.Condvar       condition_bench's broadcast rounds: one broadcaster, 8 waiters, a mutex,
//!                                      a generation and an arrival count; every waiter must see every
//!                                      generation.
//!   latency/signal/rust.std.Condvar, latency/broadcast/8/rust.std.Condvar  latency_bench's rounds: the stamp
//!                                      is taken inside the signaller's critical section, before the unlock
//!                                      and the notify; each waiter reads the clock as its wait returns (the
//!                                      mutex re-taken); the round's latency is the last waiter's.
//! Each row runs unpinned and pinned (team.rs). Time: the whole run, spawning and joining the threads
//! included, as the C++ twins time theirs (UseRealTime).

use crate::team::{allowed_cpus, pin_thread, process_cpu_seconds, run_team};
use crate::{pinning_name, Registry, Rep};
use crossbeam_channel::bounded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Runs body on a thread of its own (pinned to the first allowed CPU in the pinned mode) and returns the
/// seconds it took.
fn run_timed(pinned: bool, body: impl FnOnce() + Send) -> f64 {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                if pinned {
                    pin_thread(allowed_cpus()[0]);
                }
                let start = Instant::now();
                body();
                start.elapsed().as_secs_f64()
            })
            .join()
            .expect("run_timed: the body panicked")
    })
}

pub fn register_boxes(registry: &mut Registry, round_trips: u64) {
    registry.pinnings("pingpong/crossbeam.bounded(1)", move |r: &mut Rep, pinned| {
        let (ping_tx, ping_rx) = bounded::<u64>(1);
        let (pong_tx, pong_rx) = bounded::<u64>(1);
        let wrong = AtomicU64::new(0);
        let cpu_before = process_cpu_seconds();
        let start = Instant::now();
        run_team(2, pinned, &|i| {
            if i == 0 {
                for n in 0..round_trips {
                    ping_tx.send(n).unwrap();
                    if pong_rx.recv().unwrap() != n {
                        wrong.fetch_add(1, Ordering::Relaxed); // relaxed: a tally read after the join
                    }
                }
            } else {
                for _ in 0..round_trips {
                    pong_tx.send(ping_rx.recv().unwrap()).unwrap();
                }
            }
        });
        r.seconds += start.elapsed().as_secs_f64();
        r.cpu_seconds += process_cpu_seconds() - cpu_before;
        if wrong.load(Ordering::Relaxed) != 0 {
            r.error = Some(format!(
                "{} answers differed from what was sent",
                wrong.load(Ordering::Relaxed)
            ));
        }
        r.items += round_trips as f64;
        r.label = format!("round trips; {}", pinning_name(pinned));
    });
    const PAIRS: u64 = 100_000;
    registry.pinnings("uncontended/crossbeam.bounded(1)", move |r: &mut Rep, pinned| {
        let (tx, rx) = bounded::<u64>(1);
        let cpu_before = process_cpu_seconds();
        let mut wrong = 0u64;
        r.seconds += run_timed(pinned, || {
            for n in 0..PAIRS {
                tx.send(n).unwrap();
                if rx.recv().unwrap() != n {
                    wrong += 1;
                }
            }
        });
        r.cpu_seconds += process_cpu_seconds() - cpu_before;
        if wrong != 0 {
            r.error = Some(format!("{} values differed from what was sent", wrong));
        }
        r.items += PAIRS as f64;
        r.per_item = true;
        r.label = format!("put+take pairs, one thread; {}", pinning_name(pinned));
    });
}

#[inline(never)]
fn notify_one(c: &Condvar) {
    c.notify_one();
}
#[inline(never)]
fn notify_all(c: &Condvar) {
    c.notify_all();
}
#[inline(never)]
fn nothing(_: &Condvar) {}

static NOTIFY_ONE: fn(&Condvar) = notify_one;
static NOTIFY_ALL: fn(&Condvar) = notify_all;
static NOTHING: fn(&Condvar) = nothing;

pub fn register_conditions(registry: &mut Registry, rounds: u64) {
    const CALLS: u64 = 1_000_000;
    for (name, call) in [
        ("notify_no_waiters/rust.std.Condvar", &NOTIFY_ONE),
        ("notify_all_no_waiters/rust.std.Condvar", &NOTIFY_ALL),
        ("notify_no_waiters/rust.empty-call", &NOTHING),
    ] {
        let call: &'static fn(&Condvar) = call;
        registry.pinnings(name, move |r: &mut Rep, pinned| {
            let c = Condvar::new();
            let cpu_before = process_cpu_seconds();
            r.seconds += run_timed(pinned, || {
                for _ in 0..CALLS {
                    // volatile: the pointer is read every time, so the call can be neither inlined nor hoisted
                    let f = unsafe { std::ptr::read_volatile(call) };
                    f(&c);
                }
            });
            r.cpu_seconds += process_cpu_seconds() - cpu_before;
            r.items += CALLS as f64;
            r.per_item = true;
            r.label = format!("calls; {}", pinning_name(pinned));
        });
    }
    registry.pinnings("broadcast/8/rust.std.Condvar", move |r: &mut Rep, pinned| {
        rounds_of(r, pinned, 8, rounds, false);
        r.label = format!("broadcast rounds, 8 waiters; {}", pinning_name(pinned));
    });
}

pub fn register_latency(registry: &mut Registry, rounds: u64) {
    for waiters in [1usize, 8] {
        let name = if waiters == 1 {
            "latency/signal/rust.std.Condvar"
        } else {
            "latency/broadcast/8/rust.std.Condvar"
        };
        registry.pinnings(name, move |r: &mut Rep, pinned| {
            rounds_of(r, pinned, waiters, rounds, true);
            r.label = format!(
                "{}; {}",
                if waiters == 1 {
                    "signal rounds"
                } else {
                    "broadcast rounds, 8 waiters"
                },
                pinning_name(pinned)
            );
        });
    }
}

struct Shared {
    generation: u64,
    arrived: usize,
    stamp: i64,
}

/// condition_bench's broadcast rounds (stamped = false) and latency_bench's (stamped = true): a mutex, a
/// generation, an arrival count, a condition for the waiters and one for the arrivals.
fn rounds_of(r: &mut Rep, pinned: bool, waiters: usize, rounds: u64, stamped: bool) {
    let m = Mutex::new(Shared {
        generation: 0,
        arrived: 0,
        stamp: 0,
    });
    let (go, all_arrived) = (Condvar::new(), Condvar::new());
    let base = Instant::now();
    let now = || base.elapsed().as_nanos() as i64;
    let latencies: Vec<Mutex<Vec<i64>>> = (0..waiters)
        .map(|_| Mutex::new(Vec::with_capacity(rounds as usize)))
        .collect();
    let wrong = AtomicU64::new(0);
    let cpu_before = process_cpu_seconds();
    let start = Instant::now();
    run_team(waiters + 1, pinned, &|i| {
        let mut s = m.lock().unwrap();
        if i == waiters {
            for _ in 0..rounds {
                while s.arrived != waiters {
                    s = all_arrived.wait(s).unwrap();
                }
                s.arrived = 0;
                s.generation += 1;
                if stamped {
                    s.stamp = now();
                }
                drop(s);
                if waiters == 1 {
                    go.notify_one();
                } else {
                    go.notify_all();
                }
                s = m.lock().unwrap();
            }
            return;
        }
        let mut mine = latencies[i].lock().unwrap();
        for round in 0..rounds {
            s.arrived += 1;
            if s.arrived == waiters {
                all_arrived.notify_one();
            }
            while s.generation == round {
                s = go.wait(s).unwrap();
            }
            if stamped {
                mine.push(now() - s.stamp);
            }
            if s.generation != round + 1 {
                wrong.fetch_add(1, Ordering::Relaxed); // relaxed: a tally read after the join
            }
        }
    });
    r.seconds += start.elapsed().as_secs_f64();
    r.cpu_seconds += process_cpu_seconds() - cpu_before;
    if wrong.load(Ordering::Relaxed) != 0 {
        r.error = Some(format!(
            "{} waiters saw the wrong generation",
            wrong.load(Ordering::Relaxed)
        ));
    }
    if stamped {
        let rows: Vec<Vec<i64>> = latencies.into_iter().map(|l| l.into_inner().unwrap()).collect();
        for round in 0..rounds as usize {
            r.latencies
                .push(rows.iter().map(|row| row[round]).max().unwrap_or(0));
        }
    }
    r.items += rounds as f64;
}
