//! A team of threads released together, timed from the start gate to the last one finishing, and what the
//! workloads need from Linux (allowed CPUs, pinning, getrusage, load average): bench/harness.hpp's facts for
//! the Rust rows. Pinned: thread i on the (i mod cores)-th allowed CPU; unpinned: the scheduler places them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// The CPUs of the process's affinity mask (so `taskset` sets the machine size), ascending.
pub fn allowed_cpus() -> Vec<usize> {
    let mut cpus = Vec::new();
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            for cpu in 0..libc::CPU_SETSIZE as usize {
                if libc::CPU_ISSET(cpu, &set) {
                    cpus.push(cpu);
                }
            }
        }
    }
    if cpus.is_empty() {
        cpus.push(0);
    }
    cpus
}

/// Pins the calling thread to one CPU; a failure (a restricted cpuset) is ignored: unpinned is still a
/// valid measurement, only a noisier one.
pub fn pin_thread(cpu: usize) {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn rusage(who: libc::c_int) -> libc::rusage {
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    }
}

/// User + sys CPU of the whole process, every thread counted.
pub fn process_cpu_seconds() -> f64 {
    let ru = rusage(libc::RUSAGE_SELF);
    let s = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

fn thread_switches() -> (u64, u64) {
    let ru = rusage(libc::RUSAGE_THREAD);
    (ru.ru_nvcsw as u64, ru.ru_nivcsw as u64)
}

pub fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| {
            t.split_whitespace()
                .take(3)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The workers' voluntary and involuntary context switches during their bodies.
#[derive(Default, Clone, Copy)]
pub struct Switches {
    pub voluntary: u64,
    pub involuntary: u64,
}

/// Runs body(i) on `count` threads that start together; returns the seconds from opening the gate to the
/// last body returning, and the workers' context switches during body.
pub fn run_team(count: usize, pinned: bool, body: &(dyn Fn(usize) + Sync)) -> (f64, Switches) {
    let cpus = allowed_cpus();
    let ready = AtomicUsize::new(0);
    let gate = (Mutex::new(false), Condvar::new());
    let running = AtomicUsize::new(count);
    let last_done = Mutex::new(None::<Instant>);
    let voluntary = AtomicU64::new(0);
    let involuntary = AtomicU64::new(0);
    let mut opened = Instant::now();
    std::thread::scope(|scope| {
        for i in 0..count {
            let (cpus, ready, gate, running, last_done) = (&cpus, &ready, &gate, &running, &last_done);
            let (voluntary, involuntary) = (&voluntary, &involuntary);
            scope.spawn(move || {
                if pinned {
                    pin_thread(cpus[i % cpus.len()]);
                }
                {
                    let mut open = gate.0.lock().unwrap();
                    ready.fetch_add(1, Ordering::SeqCst);
                    gate.1.notify_all();
                    while !*open {
                        open = gate.1.wait(open).unwrap();
                    }
                }
                let before = thread_switches();
                body(i);
                let after = thread_switches();
                // relaxed: read after the scope has joined every thread
                voluntary.fetch_add(after.0 - before.0, Ordering::Relaxed);
                involuntary.fetch_add(after.1 - before.1, Ordering::Relaxed);
                if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                    *last_done.lock().unwrap() = Some(Instant::now());
                }
            });
        }
        let mut open = gate.0.lock().unwrap();
        while ready.load(Ordering::SeqCst) != count {
            open = gate.1.wait(open).unwrap();
        }
        opened = Instant::now();
        *open = true;
        gate.1.notify_all();
    });
    let done = last_done.into_inner().unwrap().unwrap_or(opened);
    let switches = Switches {
        voluntary: voluntary.into_inner(),
        involuntary: involuntary.into_inner(),
    };
    (done.duration_since(opened).as_secs_f64(), switches)
}
