//! Process starts and exits reported by the kernel, and what the capture does with them.
//!
//! A start records the program (path, arguments, cgroup) so that a short-lived client that
//! exited before its socket events were processed is still described (see
//! [`crate::process`]). An exit ends the process's connections (the kernel closes its sockets
//! without a `close` call, so nothing else would), sends its RED series out once more and then
//! drops them, and lets its metadata go after that export.

use cormorant_ebpf::{ProcessEvent, ProcessEventKind};

use super::Capture;
use crate::process::ExecRecord;

impl Capture {
    /// Processes one process event; the receiver's pid and comm filters apply as to sockets.
    pub fn handle_process(&mut self, event: ProcessEvent) {
        if !(self.config.pids.admits(&event.tgid) && self.config.comm.admits(event.comm.as_str())) {
            return;
        }
        match event.kind {
            ProcessEventKind::Exec => self.processes.exec(ExecRecord {
                pid: event.tgid,
                comm: event.comm.to_string(),
                cgroup_id: event.cgroup_id,
                executable: event.executable,
                arguments: event.command_line,
            }),
            ProcessEventKind::Exit => {
                for (key, entry) in self.table.remove_process(event.tgid) {
                    self.close_entry(key, entry, event.timestamp_ns);
                }
                self.red.forget_process(event.tgid);
                self.processes.exited(event.tgid);
            }
        }
    }
}
