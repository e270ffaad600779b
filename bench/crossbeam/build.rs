// Records the compiler's and crossbeam-channel's versions for the report (handoff_peer_version).
use std::{env, fs, process::Command};

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_else(|| "rustc (unknown)".into());
    println!("cargo:rustc-env=HANDOFF_RUSTC_VERSION={}", version.trim());
    // Cargo.lock is resolved before build scripts run; it names the crossbeam-channel being compiled.
    let lock = fs::read_to_string(format!("{}/Cargo.lock", env::var("CARGO_MANIFEST_DIR").unwrap()))
        .unwrap_or_default();
    let mut crossbeam = "unknown".to_string();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"crossbeam-channel\"" {
            if let Some(v) = lines.next() {
                crossbeam = v.trim().trim_start_matches("version = ").trim_matches('"').to_string();
            }
        }
    }
    println!("cargo:rustc-env=HANDOFF_CROSSBEAM_VERSION={}", crossbeam);
    println!("cargo:rerun-if-changed=Cargo.lock");
}
