//! Loading the socket tracer object into the kernel and attaching its tracepoints.

use std::io;
use std::path::{Path, PathBuf};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{ProgramError, TracePoint};
use aya::{Btf, Ebpf, EbpfError, EbpfLoader};
use thiserror::Error;

use crate::event::MAX_PAYLOAD_BYTES;
use crate::filters::KernelFilters;
use crate::stream::EventStream;

/// The compiled kernel program (built by `ebpf/build.sh`, committed, checked against its
/// sources by `ebpf/check_object.sh`), embedded so the collector needs no clang.
static SOCKET_TRACE_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/socket_trace.bpf.o");

/// Every program in the object and the `syscalls` tracepoint it attaches to; they share
/// the name, minus the `sys_` prefix.
const TRACEPOINTS: [&str; 25] = [
    "sys_enter_read",
    "sys_exit_read",
    "sys_enter_write",
    "sys_exit_write",
    "sys_enter_readv",
    "sys_exit_readv",
    "sys_enter_writev",
    "sys_exit_writev",
    "sys_enter_sendto",
    "sys_exit_sendto",
    "sys_enter_recvfrom",
    "sys_exit_recvfrom",
    "sys_enter_sendmsg",
    "sys_exit_sendmsg",
    "sys_enter_recvmsg",
    "sys_exit_recvmsg",
    "sys_enter_sendmmsg",
    "sys_exit_sendmmsg",
    "sys_enter_recvmmsg",
    "sys_exit_recvmmsg",
    "sys_enter_connect",
    "sys_exit_connect",
    "sys_exit_accept",
    "sys_exit_accept4",
    "sys_enter_close",
];

/// The process lifecycle programs: (`sched` tracepoint, program name).
const PROCESS_TRACEPOINTS: [(&str, &str); 2] = [
    ("sched_process_exec", "process_exec"),
    ("sched_process_exit", "process_exit"),
];

const TRACEFS_MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// How many trailing verifier log lines a rejection error carries.
const VERIFIER_LOG_TAIL_LINES: usize = 30;

/// What the kernel side is told before it is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerConfig {
    /// Payload bytes captured per call (at most [`MAX_PAYLOAD_BYTES`]).
    pub payload_bytes: u32,
    /// Ring buffer size in bytes: a power of two and a multiple of the page size.
    pub ring_buffer_bytes: u32,
    /// Process never traced: the collector itself, so exporting captured data does not
    /// produce more captured data.
    pub excluded_pid: u32,
    /// Which processes and ports are traced at all.
    pub filters: KernelFilters,
}

impl Default for TracerConfig {
    fn default() -> Self {
        TracerConfig {
            payload_bytes: 1024,
            ring_buffer_bytes: 8 * 1024 * 1024,
            excluded_pid: std::process::id(),
            filters: KernelFilters::default(),
        }
    }
}

/// Why the tracer could not be loaded; each message names the cause and the fix.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("invalid eBPF tracer configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "not permitted to load eBPF programs ({detail}): run as root, or grant CAP_BPF and \
         CAP_PERFMON (e.g. `setcap cap_bpf,cap_perfmon+ep <binary>`; kernels before 5.8 need \
         CAP_SYS_ADMIN)"
    )]
    NotPermitted { detail: String },
    #[error(
        "kernel BTF is not available at {KERNEL_BTF} ({source}): the kernel must be built \
         with CONFIG_DEBUG_INFO_BTF=y (standard on Debian 11+, Ubuntu 20.10+, RHEL 8.2+)"
    )]
    NoBtf {
        #[source]
        source: aya::BtfError,
    },
    #[error(
        "tracefs is not mounted and mounting it at /sys/kernel/tracing failed ({source}): \
         run `mount -t tracefs nodev /sys/kernel/tracing` (in a container, mount the host's \
         /sys/kernel/tracing)"
    )]
    NoTracefs {
        #[source]
        source: io::Error,
    },
    #[error(
        "tracepoint {category}/{name} does not exist ({path} missing): the kernel needs \
         CONFIG_FTRACE_SYSCALLS=y (syscalls) and CONFIG_TRACEPOINTS=y (sched)"
    )]
    MissingTracepoint {
        category: &'static str,
        name: &'static str,
        path: PathBuf,
    },
    #[error(
        "the kernel verifier rejected program {program} ({source}); this kernel is not \
         supported by the committed object, please report it with this log tail:\n{log_tail}"
    )]
    VerifierRejected {
        program: &'static str,
        #[source]
        source: io::Error,
        log_tail: String,
    },
    #[error("loading the eBPF object failed: {0}")]
    Object(#[source] Box<EbpfError>),
    #[error("program {program}: {source}")]
    Program {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("map {map}: {detail}")]
    Map { map: &'static str, detail: String },
}

/// The loaded and attached socket tracer. Dropping it detaches every program.
pub struct SocketTracer {
    ebpf: Ebpf,
    lost_events: PerCpuArray<MapData, u64>,
}

impl std::fmt::Debug for SocketTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketTracer").finish_non_exhaustive()
    }
}

impl SocketTracer {
    /// Checks the prerequisites, loads the object with `config` baked in, and attaches
    /// all tracepoints. Events flow into the ring buffer from then on: take the stream
    /// with [`SocketTracer::events`] promptly, or they are lost once it fills.
    pub fn load(config: &TracerConfig) -> Result<SocketTracer, LoadError> {
        validate(config)?;
        check_privileges()?;
        let btf = Btf::from_sys_fs().map_err(|source| LoadError::NoBtf { source })?;
        let tracefs = ensure_tracefs()?;
        for (category, name, _) in attachments() {
            let path = tracefs.join("events").join(category).join(name).join("id");
            if !path.exists() {
                return Err(LoadError::MissingTracepoint {
                    category,
                    name,
                    path,
                });
            }
        }

        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            // `threads` is task-local storage, which aya creates and the programs use but
            // aya has no user-space wrapper for; user space never touches it.
            .allow_unsupported_maps()
            .override_global("payload_bytes", &config.payload_bytes, true)
            .override_global("self_tgid", &config.excluded_pid, true)
            .override_global("filter_flags", &config.filters.flags(), true)
            .override_global("wakeup_threshold", &wakeup_threshold(config), true)
            .map_max_entries("events", config.ring_buffer_bytes)
            .load(SOCKET_TRACE_OBJECT)
            .map_err(object_error)?;
        config.filters.fill(&mut ebpf)?;

        for (category, name, program_name) in attachments() {
            let program: &mut TracePoint = ebpf
                .program_mut(program_name)
                .ok_or_else(|| program_error(name, ProgramError::UnexpectedProgramType))?
                .try_into()
                .map_err(|source| program_error(name, source))?;
            program
                .load()
                .map_err(|source| program_error(name, source))?;
            program
                .attach(category, name)
                .map_err(|source| program_error(name, source))?;
        }

        let lost_map = take_map(&mut ebpf, "lost_events")?;
        let lost_events = PerCpuArray::try_from(lost_map).map_err(|error| LoadError::Map {
            map: "lost_events",
            detail: error.to_string(),
        })?;
        Ok(SocketTracer { ebpf, lost_events })
    }

    /// The event stream over the ring buffer; call it inside a tokio runtime with I/O and
    /// time enabled (`#[tokio::main]`, `Builder::enable_all`): the stream also drains the ring
    /// on a timer. The ring buffer has one consumer, so this succeeds once; later calls
    /// return an error.
    pub fn events(&mut self) -> Result<EventStream, LoadError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LoadError::Map {
                map: "events",
                detail: "the event stream must be created inside a tokio runtime".to_string(),
            });
        }
        let map = take_map(&mut self.ebpf, "events")?;
        let ring = RingBuf::try_from(map).map_err(|error| LoadError::Map {
            map: "events",
            detail: error.to_string(),
        })?;
        EventStream::new(ring).map_err(|error| LoadError::Map {
            map: "events",
            detail: format!("registering the ring buffer with the tokio reactor: {error}"),
        })
    }

    /// Events dropped in the kernel because the ring buffer was full, summed over CPUs.
    pub fn lost_events(&self) -> Result<u64, LoadError> {
        let per_cpu = self
            .lost_events
            .get(&0, 0)
            .map_err(|error| LoadError::Map {
                map: "lost_events",
                detail: error.to_string(),
            })?;
        Ok(per_cpu.iter().sum())
    }
}

/// Every (tracepoint category, tracepoint, program) the tracer attaches.
fn attachments() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    let syscalls = TRACEPOINTS
        .into_iter()
        .map(|name| ("syscalls", name, &name["sys_".len()..]));
    let sched = PROCESS_TRACEPOINTS
        .into_iter()
        .map(|(name, program)| ("sched", name, program));
    syscalls.chain(sched)
}

/// Unread bytes from which a record wakes the reader: a quarter of the ring leaves three
/// quarters as headroom for the reader's wake-up latency, and below it the drain timer reads.
fn wakeup_threshold(config: &TracerConfig) -> u64 {
    u64::from(config.ring_buffer_bytes) / 4
}

fn validate(config: &TracerConfig) -> Result<(), LoadError> {
    if config.payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(LoadError::InvalidConfig(format!(
            "payload_bytes {} exceeds the kernel-side maximum {MAX_PAYLOAD_BYTES}",
            config.payload_bytes
        )));
    }
    let page_size = page_size();
    let size = config.ring_buffer_bytes;
    if !size.is_power_of_two() || u64::from(size) < page_size {
        return Err(LoadError::InvalidConfig(format!(
            "ring_buffer_bytes {size} must be a power of two of at least the page size \
             ({page_size})"
        )));
    }
    config.filters.validate()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 only for unknown names.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Fails early, with a useful message, instead of an EPERM deep inside the loader.
fn check_privileges() -> Result<(), LoadError> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|error| LoadError::NotPermitted {
            detail: format!("cannot read /proc/self/status: {error}"),
        })?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| LoadError::NotPermitted {
            detail: "no CapEff line in /proc/self/status".to_string(),
        })?;
    let has = |capability: u32| effective & (1u64 << capability) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    Err(LoadError::NotPermitted {
        detail: format!("effective capabilities {effective:#x} lack CAP_BPF and CAP_PERFMON"),
    })
}

/// Returns the tracefs root, mounting it when neither usual location has it: aya looks
/// only at those two paths, and minimal hosts and containers often leave tracefs out.
fn ensure_tracefs() -> Result<&'static Path, LoadError> {
    let mounted = |path: &Path| path.join("events").is_dir();
    if let Some(path) = TRACEFS_MOUNTS.iter().map(Path::new).find(|p| mounted(p)) {
        return Ok(path);
    }
    let target = Path::new(TRACEFS_MOUNTS[0]);
    // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
    let result = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if result != 0 {
        return Err(LoadError::NoTracefs {
            source: io::Error::last_os_error(),
        });
    }
    Ok(target)
}

fn take_map(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, LoadError> {
    ebpf.take_map(name).ok_or_else(|| LoadError::Map {
        map: name,
        detail: "not in the object, or already taken (the event stream has one consumer)"
            .to_string(),
    })
}

fn object_error(error: EbpfError) -> LoadError {
    match error {
        EbpfError::MapError(aya::maps::MapError::CreateError { ref io_error, .. })
            if io_error.kind() == io::ErrorKind::PermissionDenied =>
        {
            LoadError::NotPermitted {
                detail: error.to_string(),
            }
        }
        other => LoadError::Object(Box::new(other)),
    }
}

fn program_error(program: &'static str, error: ProgramError) -> LoadError {
    match error {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => rejected_program(program, io_error, &verifier_log.to_string()),
        other => LoadError::Program {
            program,
            source: other,
        },
    }
}

/// A failed BPF_PROG_LOAD: EPERM without a verifier log is missing privileges (the
/// verifier never ran); anything else is a rejection, reported with the log's tail
/// (the verifier explains the failing instruction last).
fn rejected_program(program: &'static str, io_error: io::Error, log: &str) -> LoadError {
    if io_error.kind() == io::ErrorKind::PermissionDenied && log.trim().is_empty() {
        return LoadError::NotPermitted {
            detail: format!("loading {program}: {io_error}"),
        };
    }
    let lines: Vec<&str> = log.lines().collect();
    LoadError::VerifierRejected {
        program,
        source: io_error,
        log_tail: lines[lines.len().saturating_sub(VERIFIER_LOG_TAIL_LINES)..].join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_rejection_carries_the_end_of_the_log() {
        let log: String = (0..100).map(|line| format!("insn {line}\n")).collect();
        let error = rejected_program(
            "enter_read",
            io::Error::from_raw_os_error(libc::EACCES),
            &format!("{log}R1 invalid mem access 'scalar'\n"),
        );
        let LoadError::VerifierRejected {
            program, log_tail, ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(*program, "enter_read");
        assert_eq!(log_tail.lines().count(), VERIFIER_LOG_TAIL_LINES);
        assert!(log_tail.ends_with("R1 invalid mem access 'scalar'"));
        assert!(!log_tail.contains("insn 70\n"));
        assert!(
            error
                .to_string()
                .contains("verifier rejected program enter_read")
        );
    }

    #[test]
    fn eperm_without_a_verifier_log_is_a_privilege_problem() {
        let error = rejected_program("exit_read", io::Error::from_raw_os_error(libc::EPERM), "");
        assert!(matches!(error, LoadError::NotPermitted { .. }), "{error:?}");
        assert!(error.to_string().contains("CAP_BPF and CAP_PERFMON"));
    }

    #[test]
    fn configuration_limits_are_checked_before_touching_the_kernel() {
        let valid = TracerConfig::default();
        assert!(validate(&valid).is_ok());
        for (payload_bytes, ring_buffer_bytes) in [
            (MAX_PAYLOAD_BYTES + 1, valid.ring_buffer_bytes),
            (valid.payload_bytes, 0),
            (valid.payload_bytes, 1024),
            (valid.payload_bytes, 3 << 20),
        ] {
            let config = TracerConfig {
                payload_bytes,
                ring_buffer_bytes,
                ..valid.clone()
            };
            assert!(
                matches!(validate(&config), Err(LoadError::InvalidConfig(_))),
                "{config:?}"
            );
        }
        let largest = TracerConfig {
            payload_bytes: MAX_PAYLOAD_BYTES,
            ..valid
        };
        assert!(validate(&largest).is_ok());
    }
}
