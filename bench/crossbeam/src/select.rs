//! select_bench's rows (bench/select_bench.cpp) over crossbeam-channel's `Select`, peer crossbeam.select.
//! Each thread builds its `Select` once (one `recv` or `send` operation per channel) and calls `select()`
//! for every message, completing the chosen operation with `recv` / `send` on that channel: the form for a
//! set of channels known at run time. `select!` expands to the same internal selection over an array of the
//! same handles.
//!
//!   select_recv/2x1/chans:2/cap:1024  2 producers, each sending to its own bounded(1024); 1 consumer selects
//!                                     over both receivers. --messages in all.
//!   select_recv/2x1/chans:2/cap:0     the same over bounded(0) (rendezvous); a tenth of --messages.
//!   select_recv/8x1/chans:8/cap:1024  8 producers, 8 channels, one Select over 8 receivers.
//!   select_idle/1x1/chans:8/cap:1024  1 producer on channel 0; channels 1-7 stay empty.
//!   select_send/1x4/chans:4/cap:16    1 producer selects a send over 4 bounded(16); one consumer per channel
//!                                     receives until the producer drops its senders.
//!   select_pingpong/chans:2/cap:1     two threads, --round-trips round trips: each sends into the other's
//!                                     bounded(1) and selects over its own receiver and a stop channel
//!                                     (bounded::<()>(0), shared) that never fires.
//! Checks as select_bench.cpp's: per-producer order, count and 64-bit mixed sum; every ping-pong answer.
//! Time: from opening the start gate to the last thread finishing (run_team), the ping-pong too.

use crate::team::{process_cpu_seconds, run_team, Switches};
use crate::{pinning_name, Registry, Rep};
use crossbeam_channel::{bounded, Receiver, Select, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const PEER: &str = "crossbeam.select";

fn mix64(mut x: u64) -> u64 {
    // splitmix64's finaliser, as queue_workload.hpp
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d049bb133111eb);
    x ^= x >> 31;
    x
}

#[derive(Default)]
struct Tally {
    count: u64,
    mixed_sum: u64,
    error: Option<String>,
}

impl Tally {
    fn fail(&mut self, what: &str, v: u64) {
        if self.error.is_none() {
            self.error = Some(format!("{} (value {}:{})", what, v >> 32, v & 0xffff_ffff));
        }
    }
    fn check(&self, total: u64, expected: u64) -> Option<String> {
        if self.error.is_some() {
            return self.error.clone();
        }
        if self.count != total {
            return Some(format!("received {} values, expected {}", self.count, total));
        }
        if self.mixed_sum != expected {
            return Some("checksum mismatch: a value was lost, duplicated or altered".into());
        }
        None
    }
}

fn add_team(
    r: &mut Rep,
    seconds: f64,
    switches: Switches,
    cpu_before: f64,
    items: f64,
    what: &str,
    pinned: bool,
) {
    r.seconds += seconds;
    r.cpu_seconds += process_cpu_seconds() - cpu_before;
    r.items += items;
    r.switches.voluntary += switches.voluntary;
    r.switches.involuntary += switches.involuntary;
    r.counts_switches = true;
    r.label = format!("{}; {}", what, pinning_name(pinned));
}

fn channels(n: usize, capacity: usize) -> (Vec<Sender<u64>>, Vec<Receiver<u64>>) {
    (0..n).map(|_| bounded(capacity)).unzip()
}

/// `producers` producers (producer i sends to channel i), n channels, one selecting consumer.
fn select_recv(r: &mut Rep, n: usize, producers: usize, capacity: usize, messages: u64, pinned: bool) {
    let per_producer = (messages / producers as u64).max(1);
    let total = per_producer * producers as u64;
    let expected: u64 = (0..producers as u64)
        .flat_map(|p| (0..per_producer).map(move |s| mix64(p << 32 | s)))
        .fold(0, u64::wrapping_add);
    let (txs, rxs) = channels(n, capacity);
    let tally = Mutex::new(Tally::default());
    let cpu_before = process_cpu_seconds();
    let (seconds, switches) = run_team(producers + 1, pinned, &|i| {
        if i < producers {
            let tx = &txs[i];
            for s in 0..per_producer {
                tx.send((i as u64) << 32 | s).unwrap();
            }
            return;
        }
        let mut sel = Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        let mut t = Tally::default();
        let mut next = vec![0u64; producers];
        for _ in 0..total {
            let oper = sel.select();
            let index = oper.index();
            let v = oper.recv(&rxs[index]).unwrap();
            let (producer, sequence) = (v >> 32, v & 0xffff_ffff);
            if producer >= producers as u64 || producer != index as u64 {
                t.fail("value from the wrong producer or channel", v);
            } else if sequence < next[producer as usize] {
                t.fail("a producer's values arrived out of order or twice", v);
            } else {
                next[producer as usize] = sequence + 1;
            }
            t.mixed_sum = t.mixed_sum.wrapping_add(mix64(v));
            t.count += 1;
        }
        *tally.lock().unwrap() = t;
    });
    add_team(
        r,
        seconds,
        switches,
        cpu_before,
        total as f64,
        "select recv",
        pinned,
    );
    if r.error.is_none() {
        r.error = tally.into_inner().unwrap().check(total, expected);
    }
}

/// One producer selects a send over 4 channels; one plain consumer per channel until the senders are gone.
fn select_send(r: &mut Rep, capacity: usize, messages: u64, pinned: bool) {
    let expected: u64 = (0..messages).map(mix64).fold(0, u64::wrapping_add);
    let (txs, rxs) = channels(4, capacity);
    let senders = Mutex::new(Some(txs)); // the producer takes them and drops them when done: the close
    let tallies: Vec<Mutex<Tally>> = (0..4).map(|_| Mutex::default()).collect();
    let cpu_before = process_cpu_seconds();
    let (seconds, switches) = run_team(5, pinned, &|i| {
        if i == 0 {
            let txs = senders.lock().unwrap().take().unwrap();
            let mut sel = Select::new();
            for tx in &txs {
                sel.send(tx);
            }
            for s in 0..messages {
                let oper = sel.select();
                let index = oper.index();
                oper.send(&txs[index], s).unwrap();
            }
            drop(sel);
            drop(txs);
            return;
        }
        let mut t = Tally::default();
        let mut next = 0u64;
        for v in rxs[i - 1].iter() {
            if v >> 32 != 0 || v & 0xffff_ffff < next {
                t.fail("a value arrived out of order, twice or from nowhere", v);
            } else {
                next = (v & 0xffff_ffff) + 1;
            }
            t.mixed_sum = t.mixed_sum.wrapping_add(mix64(v));
            t.count += 1;
        }
        *tallies[i - 1].lock().unwrap() = t;
    });
    add_team(
        r,
        seconds,
        switches,
        cpu_before,
        messages as f64,
        "select send",
        pinned,
    );
    let mut all = Tally::default();
    for t in tallies {
        let t = t.into_inner().unwrap();
        if all.error.is_none() {
            all.error = t.error;
        }
        all.count += t.count;
        all.mixed_sum = all.mixed_sum.wrapping_add(t.mixed_sum);
    }
    if r.error.is_none() {
        r.error = all.check(messages, expected);
    }
}

/// Each thread sends into the other's bounded(1) and selects over {its own receiver, stop}.
fn select_pingpong(r: &mut Rep, round_trips: u64, pinned: bool) {
    let (to_pinger_tx, to_pinger_rx) = bounded::<u64>(1);
    let (to_ponger_tx, to_ponger_rx) = bounded::<u64>(1);
    let (_stop_tx, stop_rx) = bounded::<()>(0); // never fires; the sender lives until the run ends
    let wrong = AtomicU64::new(0);
    let cpu_before = process_cpu_seconds();
    let (seconds, switches) = run_team(2, pinned, &|i| {
        let (inbound, outbound) = if i == 0 {
            (&to_pinger_rx, &to_ponger_tx)
        } else {
            (&to_ponger_rx, &to_pinger_tx)
        };
        let mut sel = Select::new();
        sel.recv(inbound);
        sel.recv(&stop_rx);
        for n in 0..round_trips {
            if i == 0 {
                outbound.send(n).unwrap();
            }
            let oper = sel.select();
            let v = if oper.index() == 0 {
                let v = oper.recv(inbound).unwrap();
                if i == 0 && v != n {
                    wrong.fetch_add(1, Ordering::Relaxed); // relaxed: a tally read after the join
                }
                v
            } else {
                let _ = oper.recv(&stop_rx);
                wrong.fetch_add(1, Ordering::Relaxed);
                u64::MAX
            };
            if i == 1 {
                outbound.send(v).unwrap();
            }
        }
    });
    add_team(
        r,
        seconds,
        switches,
        cpu_before,
        round_trips as f64,
        "round trips",
        pinned,
    );
    let w = wrong.load(Ordering::Relaxed);
    if w != 0 && r.error.is_none() {
        r.error = Some(format!("{} answers were wrong or came from stop", w));
    }
}

pub fn register_select(registry: &mut Registry, messages: u64, round_trips: u64) {
    let row = |name: &str| format!("{}/{}", name, PEER);
    registry.pinnings(
        &row("select_recv/2x1/chans:2/cap:1024"),
        move |r: &mut Rep, pinned| select_recv(r, 2, 2, 1024, messages, pinned),
    );
    registry.pinnings(
        &row("select_recv/2x1/chans:2/cap:0"),
        move |r: &mut Rep, pinned| select_recv(r, 2, 2, 0, messages / 10, pinned),
    );
    registry.pinnings(
        &row("select_recv/8x1/chans:8/cap:1024"),
        move |r: &mut Rep, pinned| select_recv(r, 8, 8, 1024, messages, pinned),
    );
    registry.pinnings(
        &row("select_idle/1x1/chans:8/cap:1024"),
        move |r: &mut Rep, pinned| select_recv(r, 8, 1, 1024, messages, pinned),
    );
    registry.pinnings(
        &row("select_send/1x4/chans:4/cap:16"),
        move |r: &mut Rep, pinned| select_send(r, 16, messages, pinned),
    );
    registry.pinnings(
        &row("select_pingpong/chans:2/cap:1"),
        move |r: &mut Rep, pinned| select_pingpong(r, round_trips, pinned),
    );
}
