//! What the kernel tests that trace a Python child share.

use std::io;
use std::process::{Command, Output, Stdio};

use tokio::task::JoinHandle;

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
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
