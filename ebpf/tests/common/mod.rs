//! What the kernel tests share. Each test file is a crate of its own and uses part of it.
#![allow(dead_code)]

use std::io;
use std::process::{Command, Output, Stdio};

use cormorant_ebpf::{EventStream, SocketTracer, TracerConfig};
use tokio::task::JoinHandle;

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The tracer loaded with `config` and its event stream; `None`, after printing that the test
/// is skipped, when not root (loading needs CAP_BPF and CAP_PERFMON).
pub fn load_or_skip(config: &TracerConfig) -> Option<(SocketTracer, EventStream)> {
    if !is_root() {
        println!("skipped: needs root");
        return None;
    }
    let mut tracer = SocketTracer::load(config).expect("load socket tracer");
    let events = tracer.events().expect("event stream");
    Some((tracer, events))
}

/// Runs `script` with python3, its stdout captured: the child's pid (whose events the test
/// collects) and its output once it exits.
pub fn spawn_python(script: &str) -> (u32, JoinHandle<io::Result<Output>>) {
    let child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python3");
    let pid = child.id();
    (
        pid,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
}
