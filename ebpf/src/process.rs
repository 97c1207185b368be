//! Process lifecycle events: a program started (`execve`) or a process ended. The receiver
//! keeps per-process metadata (executable, command line) from the first and drops it on the
//! second.

use crate::comm::Comm;

/// What happened to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEventKind {
    /// The process replaced its program (`sched:sched_process_exec`).
    Exec,
    /// The whole process ended: its thread group leader exited (`sched:sched_process_exit`).
    Exit,
}

/// One decoded process event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEvent {
    pub kind: ProcessEventKind,
    /// `CLOCK_MONOTONIC` nanoseconds; see [`crate::monotonic_to_unix_nanos`].
    pub timestamp_ns: u64,
    /// Process id (thread group id).
    pub tgid: u32,
    pub cgroup_id: u64,
    /// The command name: for `Exec` already the new program's.
    pub comm: Comm,
    /// `Exec`: the path `execve` was given (lossy UTF-8), as the kernel resolved it
    /// relative to the caller; `None` for `Exit` and for an exec record without payload.
    pub executable: Option<String>,
    /// `Exec`: the arguments (lossy UTF-8) as `/proc/<pid>/cmdline` has them, the last one
    /// possibly cut where the capture ended; empty for `Exit`.
    pub command_line: Vec<String>,
}

impl ProcessEvent {
    /// Builds the event from a record's header fields and payload. The exec payload is the
    /// path, a NUL, then the NUL-separated argv, all cut at the capture limit; nothing in it
    /// can make decoding fail.
    pub(crate) fn from_record(
        kind: ProcessEventKind,
        timestamp_ns: u64,
        tgid: u32,
        cgroup_id: u64,
        comm: Comm,
        payload: &[u8],
    ) -> ProcessEvent {
        let (executable, command_line) = match kind {
            ProcessEventKind::Exec => split_exec_payload(payload),
            ProcessEventKind::Exit => (None, Vec::new()),
        };
        ProcessEvent {
            kind,
            timestamp_ns,
            tgid,
            cgroup_id,
            comm,
            executable,
            command_line,
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Splits `path NUL arg0 NUL arg1 NUL ...`. A path cut before its NUL leaves no arguments; an
/// argv cut mid-argument keeps the partial last argument. Empty arguments are kept.
fn split_exec_payload(payload: &[u8]) -> (Option<String>, Vec<String>) {
    if payload.is_empty() {
        return (None, Vec::new());
    }
    let Some(path_end) = payload.iter().position(|&byte| byte == 0) else {
        return (Some(lossy(payload)), Vec::new());
    };
    let argv = &payload[path_end + 1..];
    let mut arguments: Vec<String> = argv.split(|&byte| byte == 0).map(lossy).collect();
    // A complete argv ends with a NUL, which leaves one empty piece after it (and an empty
    // argv is one empty piece).
    if argv.last().is_none_or(|&byte| byte == 0) {
        arguments.pop();
    }
    (Some(lossy(&payload[..path_end])), arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(payload: &[u8]) -> ProcessEvent {
        ProcessEvent::from_record(ProcessEventKind::Exec, 1, 42, 7, Comm::from("sh"), payload)
    }

    #[test]
    fn splits_path_and_arguments() {
        let event = exec(b"/bin/sh\0sh\0-c\0exit 0\0");
        assert_eq!(event.executable.as_deref(), Some("/bin/sh"));
        assert_eq!(event.command_line, ["sh", "-c", "exit 0"]);
        assert_eq!(
            (event.tgid, event.cgroup_id, event.comm.as_str()),
            (42, 7, "sh")
        );
    }

    #[test]
    fn keeps_empty_arguments_and_a_cut_last_argument() {
        let event = exec(b"/usr/bin/env\0env\0\0--flag=val");
        assert_eq!(event.command_line, ["env", "", "--flag=val"]);
    }

    #[test]
    fn a_path_cut_before_its_nul_has_no_arguments() {
        let event = exec(b"/very/long/path/cut-her");
        assert_eq!(event.executable.as_deref(), Some("/very/long/path/cut-her"));
        assert!(event.command_line.is_empty());
        let bare = exec(b"/bin/true\0");
        assert_eq!(bare.executable.as_deref(), Some("/bin/true"));
        assert!(bare.command_line.is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_an_empty_payload_has_no_executable() {
        let event = exec(b"/bin/\xff\0a\xfe\0");
        assert_eq!(event.executable.as_deref(), Some("/bin/\u{fffd}"));
        assert_eq!(event.command_line, ["a\u{fffd}"]);
        assert_eq!(exec(b"").executable, None);
    }

    #[test]
    fn exit_events_ignore_any_payload() {
        let event = ProcessEvent::from_record(
            ProcessEventKind::Exit,
            1,
            42,
            7,
            Comm::from("sh"),
            b"stray\0bytes",
        );
        assert_eq!(event.executable, None);
        assert!(event.command_line.is_empty());
    }
}
