//! Loads the real tracer and checks the process events of a short-lived child: one exec
//! record with the executable path and argv, then one exit record for the same process.
//! Needs root; prints "skipped: needs root" otherwise.

mod common;

use std::process::Command;
use std::time::Duration;

use common::load_or_skip;
use cormorant_ebpf::{ProcessEvent, ProcessEventKind, TracerConfig, TracerEvent};
use futures::StreamExt;

/// An argument no other process on the machine is running with.
fn distinctive_argument() -> String {
    format!("cormorant-exec-probe-{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_exec_with_path_and_argv_then_exit() {
    let Some((_tracer, mut events)) = load_or_skip(&TracerConfig::default()) else {
        return;
    };
    let marker = distinctive_argument();
    // `exec` makes the shell replace itself with true (which ignores its arguments): two
    // execs in one process (the second with its own argv), then a single exit.
    let script = format!("exec /bin/true 'two words' {marker}");
    let mut child = Command::new("/bin/sh")
        .args(["-c", &script, "probe-shell"])
        .spawn()
        .expect("spawn /bin/sh");
    let pid = child.id();

    let mut seen: Vec<ProcessEvent> = Vec::new();
    let collect = async {
        while let Some(event) = events.next().await {
            let TracerEvent::Process(event) = event.expect("decodable event") else {
                continue;
            };
            if event.tgid != pid {
                continue;
            }
            let done = event.kind == ProcessEventKind::Exit;
            seen.push(event);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("timed out; seen so far: {seen:#?}"));
    assert!(child.wait().expect("child ran").success());

    let kinds: Vec<ProcessEventKind> = seen.iter().map(|event| event.kind).collect();
    assert_eq!(
        kinds,
        [
            ProcessEventKind::Exec,
            ProcessEventKind::Exec,
            ProcessEventKind::Exit
        ],
        "{seen:#?}"
    );
    let shell = &seen[0];
    assert_eq!(shell.executable.as_deref(), Some("/bin/sh"));
    assert_eq!(
        shell.command_line,
        ["/bin/sh", "-c", &script, "probe-shell"]
    );
    assert_eq!(shell.comm, "sh");

    let program = &seen[1];
    assert_eq!(program.executable.as_deref(), Some("/bin/true"));
    assert_eq!(program.command_line, ["/bin/true", "two words", &marker]);
    assert_eq!(program.comm, "true");
    assert!(program.timestamp_ns >= shell.timestamp_ns);

    let exit = &seen[2];
    assert_eq!(exit.comm, "true");
    assert_eq!(exit.executable, None);
    assert!(exit.command_line.is_empty());
    assert!(exit.timestamp_ns >= program.timestamp_ns);
    for event in &seen {
        assert_ne!(event.cgroup_id, 0);
    }
}

/// A payload limit below the argv length cuts the record there, mid-argument.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_long_command_lines_at_the_payload_limit() {
    let config = TracerConfig {
        payload_bytes: 32,
        ..TracerConfig::default()
    };
    let Some((_tracer, mut events)) = load_or_skip(&config) else {
        return;
    };
    let marker = distinctive_argument();
    let mut child = Command::new("/bin/true")
        .args([marker.as_str(), "second-argument"])
        .spawn()
        .expect("spawn /bin/true");
    let pid = child.id();

    let collect = async {
        while let Some(event) = events.next().await {
            if let TracerEvent::Process(event) = event.expect("decodable event")
                && event.tgid == pid
                && event.kind == ProcessEventKind::Exec
            {
                return event;
            }
        }
        panic!("the event stream ended");
    };
    let exec = tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .expect("an exec event in time");
    assert!(child.wait().expect("child ran").success());
    // "/bin/true\0" is 10 bytes, so 22 bytes of argv fit: "/bin/true\0" and 12 of the marker.
    assert_eq!(exec.executable.as_deref(), Some("/bin/true"));
    assert_eq!(exec.command_line, ["/bin/true", &marker[..12]]);
}
