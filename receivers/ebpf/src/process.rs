//! Who a captured request belongs to: the process metadata behind each span's and each RED
//! series' resource (`service.name`, `process.*`, `container.id`, `host.name`).
//!
//! The kernel tells us only a pid and the thread's `comm` with each socket event; everything
//! else is read from `/proc/<pid>`. Reading three files per event would cost more than the
//! capture itself, so the answers are cached per pid. Pids are reused, so entries also expire
//! after a while and can be dropped explicitly with [`ProcessCache::forget`].
//!
//! Short-lived clients (curl, dig, cron jobs) may exit before their first socket event is
//! processed, when `/proc/<pid>` is gone. The kernel therefore also reports each program start
//! ([`ProcessCache::exec`]: executable path, arguments, cgroup) and each process exit
//! ([`ProcessCache::exited`]). `/proc` stays the first source while the process runs, so a
//! process is described the same way whether or not its start was seen; the exec record is the
//! fallback, with the container id found from the cgroup id ([`crate::cgroup`]).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value::Value};
use cormorant_core::pdata::string_attribute;

use crate::cgroup::CgroupResolver;

/// Processes remembered at most; beyond this the oldest entries are read again when needed.
pub const DEFAULT_CAPACITY: usize = 4096;

/// How long an entry is trusted. A pid can be reused by another program, and a program can
/// `execve` into another one; both are noticed at most this late.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Longest `process.command_line` kept, in bytes: some programs (JVMs, Node bundlers) carry
/// command lines of hundreds of kilobytes, which would be repeated on every exported resource.
pub const MAX_COMMAND_LINE_BYTES: usize = 4096;

/// `service.name` when not even the kernel's comm is known, as the OpenTelemetry SDKs do.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// What is known about one process (a thread group, `pid` being its tgid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Base name of `/proc/<pid>/exe`, or the kernel's comm when that link cannot be read.
    pub executable_name: String,
    /// Arguments joined by spaces, at most [`MAX_COMMAND_LINE_BYTES`]; empty when unknown.
    pub command_line: String,
    /// The container id found in `/proc/<pid>/cgroup`, when the process runs in one.
    pub container_id: Option<String>,
}

/// A program start as the kernel reported it (`sched_process_exec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    pub pid: u32,
    pub comm: String,
    /// The cgroup (v2) id of the process, which names its container when it has exited.
    pub cgroup_id: u64,
    /// The path `execve` was given.
    pub executable: Option<String>,
    /// The arguments, as `/proc/<pid>/cmdline` has them.
    pub arguments: Vec<String>,
}

/// The parts of an exec record only needed when `/proc` is gone.
#[derive(Debug)]
struct ExecDetails {
    cgroup_id: u64,
    executable: Option<String>,
}

#[derive(Debug)]
struct CacheEntry {
    info: Arc<ProcessInfo>,
    read_at: Instant,
    /// What an exec record told beyond `info`, until `/proc` has been tried.
    exec: Option<ExecDetails>,
    /// The sweep generation in which the process was reported exited.
    exited_in: Option<u64>,
}

impl CacheEntry {
    fn read(info: ProcessInfo, now: Instant) -> Self {
        CacheEntry {
            info: Arc::new(info),
            read_at: now,
            exec: None,
            exited_in: None,
        }
    }
}

/// Process metadata by pid, read from a proc file system, bounded in size and age.
#[derive(Debug)]
pub struct ProcessCache {
    proc_root: PathBuf,
    capacity: usize,
    ttl: Duration,
    entries: HashMap<u32, CacheEntry>,
    cgroups: CgroupResolver,
    /// Counts [`ProcessCache::sweep_exited`] calls.
    sweeps: u64,
}

impl ProcessCache {
    /// A cache reading from `proc_root` (`/proc` in production, a fake tree in tests) with
    /// [`DEFAULT_CAPACITY`] and [`DEFAULT_TTL`].
    pub fn new(proc_root: PathBuf) -> Self {
        Self::with_limits(proc_root, DEFAULT_CAPACITY, DEFAULT_TTL)
    }

    /// A cache with its own bounds; a capacity of 0 is treated as 1.
    pub fn with_limits(proc_root: PathBuf, capacity: usize, ttl: Duration) -> Self {
        ProcessCache {
            proc_root,
            capacity: capacity.max(1),
            ttl,
            entries: HashMap::new(),
            cgroups: CgroupResolver::default(),
            sweeps: 0,
        }
    }

    /// Resolves the container of an exited process from its cgroup id under `resolver`'s
    /// cgroup2 mount instead of the host's.
    pub fn with_cgroups(mut self, resolver: CgroupResolver) -> Self {
        self.cgroups = resolver;
        self
    }

    /// The metadata of `pid`, read on first use and again once the entry is older than the
    /// time to live. `comm` is what the kernel reported with the event: it names the process
    /// when its executable cannot be read, in particular when it has already exited. An
    /// exited process keeps what was read while it lived.
    pub fn get(&mut self, pid: u32, comm: &str) -> Arc<ProcessInfo> {
        let now = Instant::now();
        if let Some(entry) = self.entries.get_mut(&pid) {
            if let Some(exec) = entry.exec.take() {
                entry.read_at = now;
                entry.info = match read_running_process(&self.proc_root, pid) {
                    Some(info) => Arc::new(info),
                    None => {
                        let mut info = ProcessInfo::clone(&entry.info);
                        // `/proc/<pid>/exe` names the file a link points to (python3 ->
                        // python3.11); the binary is still there to resolve the same way.
                        if let Some(name) = exec
                            .executable
                            .filter(|path| path.starts_with('/'))
                            .and_then(|path| fs::canonicalize(path).ok())
                            .and_then(|path| executable_name_of(&path))
                        {
                            info.executable_name = name;
                        }
                        info.container_id = self.cgroups.container_of(exec.cgroup_id);
                        Arc::new(info)
                    }
                };
                return Arc::clone(&entry.info);
            }
            if entry.exited_in.is_some() || now.duration_since(entry.read_at) < self.ttl {
                return Arc::clone(&entry.info);
            }
            if !self.proc_root.join(pid.to_string()).exists() {
                entry.read_at = now;
                return Arc::clone(&entry.info);
            }
        }
        let entry = CacheEntry::read(read_process(&self.proc_root, pid, comm), now);
        let info = Arc::clone(&entry.info);
        self.insert(pid, entry, now);
        info
    }

    /// Records a program start. It replaces what was known of the pid (the pid now runs
    /// another program); `/proc` is still read on first use if the process runs then.
    pub fn exec(&mut self, record: ExecRecord) {
        let now = Instant::now();
        let executable_name = record
            .executable
            .as_deref()
            .or(record.arguments.first().map(String::as_str))
            .and_then(|path| executable_name_of(Path::new(path)))
            .unwrap_or_else(|| record.comm.clone());
        let info = ProcessInfo {
            pid: record.pid,
            executable_name,
            command_line: command_line_of(record.arguments.join("\0").as_bytes()),
            container_id: None,
        };
        let entry = CacheEntry {
            exec: Some(ExecDetails {
                cgroup_id: record.cgroup_id,
                executable: record.executable,
            }),
            ..CacheEntry::read(info, now)
        };
        self.insert(record.pid, entry, now);
    }

    /// Notes that `pid` exited. What is known of it stays until the second
    /// [`ProcessCache::sweep_exited`] from now, so the spans and last RED points still waiting
    /// to be exported get its resource.
    pub fn exited(&mut self, pid: u32) {
        if let Some(entry) = self.entries.get_mut(&pid) {
            entry.exited_in = Some(self.sweeps);
        }
    }

    /// Drops the processes that exited before the previous sweep. Called after each export of
    /// the RED metrics.
    pub fn sweep_exited(&mut self) {
        self.sweeps += 1;
        let sweeps = self.sweeps;
        self.entries
            .retain(|_, entry| entry.exited_in.is_none_or(|exited| exited + 1 >= sweeps));
    }

    fn insert(&mut self, pid: u32, entry: CacheEntry, now: Instant) {
        if !self.entries.contains_key(&pid) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.entries.insert(pid, entry);
    }

    /// The cached metadata of `pid`, without reading anything.
    pub fn cached(&self, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.entries.get(&pid).map(|entry| Arc::clone(&entry.info))
    }

    /// Drops what is known about `pid`, for when the process is known to have exited: the pid
    /// may be handed to another program next.
    pub fn forget(&mut self, pid: u32) {
        self.entries.remove(&pid);
    }

    /// Number of processes remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops expired entries, then, if still full, the least recently read eighth, so a full
    /// cache is not scanned again on every new pid.
    fn make_room(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, entry| now.duration_since(entry.read_at) < ttl);
        if self.entries.len() < self.capacity {
            return;
        }
        let mut read_times: Vec<Instant> = self.entries.values().map(|e| e.read_at).collect();
        let evicted = (self.capacity / 8).max(1);
        let (_, cutoff, _) = read_times.select_nth_unstable(evicted - 1);
        let cutoff = *cutoff;
        let mut remaining = evicted;
        self.entries.retain(|_, entry| {
            if remaining > 0 && entry.read_at <= cutoff {
                remaining -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// What `/proc` says of `pid` if the process still runs (its `exe` link resolves), else `None`.
fn read_running_process(proc_root: &Path, pid: u32) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    let executable_name = executable_name_in(&dir)?;
    Some(describe(&dir, pid, executable_name))
}

fn read_process(proc_root: &Path, pid: u32, comm: &str) -> ProcessInfo {
    let dir = proc_root.join(pid.to_string());
    let executable_name = executable_name_in(&dir).unwrap_or_else(|| comm.to_owned());
    describe(&dir, pid, executable_name)
}

/// The name `exe` in a `/proc/<pid>` directory links to; none once the process is gone.
fn executable_name_in(dir: &Path) -> Option<String> {
    executable_name_of(&fs::read_link(dir.join("exe")).ok()?)
}

/// The rest of a process's description from its `/proc/<pid>` directory.
fn describe(dir: &Path, pid: u32, executable_name: String) -> ProcessInfo {
    let command_line = read_command_line(&dir.join("cmdline")).unwrap_or_default();
    let container_id = fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|text| container_id_from_cgroup(&text));
    ProcessInfo {
        pid,
        executable_name,
        command_line,
        container_id,
    }
}

/// The base name of an `exe` link target; the kernel appends " (deleted)" when the binary
/// was replaced on disk (a package upgrade), which is not part of the name.
fn executable_name_of(target: &Path) -> Option<String> {
    let name = target.file_name()?.to_string_lossy();
    let name = name.strip_suffix(" (deleted)").unwrap_or(&name);
    (!name.is_empty()).then(|| name.to_owned())
}

/// Reads `cmdline` (arguments separated and ended by NUL) as one space-separated line. Only
/// the first [`MAX_COMMAND_LINE_BYTES`] are read.
fn read_command_line(path: &Path) -> Option<String> {
    let mut raw = Vec::new();
    File::open(path)
        .ok()?
        .take(MAX_COMMAND_LINE_BYTES as u64)
        .read_to_end(&mut raw)
        .ok()?;
    Some(command_line_of(&raw))
}

/// NUL-separated arguments as one space-separated line of at most [`MAX_COMMAND_LINE_BYTES`].
/// Programs that rewrite their title (nginx, postgres) leave NUL padding behind it, which is
/// trimmed.
fn command_line_of(raw: &[u8]) -> String {
    let end = raw.iter().rposition(|&byte| byte != 0).map_or(0, |i| i + 1);
    let joined: Vec<u8> = raw[..end]
        .iter()
        .map(|&byte| if byte == 0 { b' ' } else { byte })
        .collect();
    let text = String::from_utf8_lossy(&joined);
    truncate_at_char_boundary(&text, MAX_COMMAND_LINE_BYTES).to_owned()
}

/// Lossy decoding can lengthen a cut multi-byte sequence (one byte becomes U+FFFD, three).
fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The container id in the text of a `/proc/<pid>/cgroup` file, if any line's path ends in
/// one. Container runtimes name the cgroup after the container:
///
/// - cgroup v2 with the systemd driver: `0::/kubepods.slice/…/cri-containerd-<64 hex>.scope`
///   (also `crio-`, `docker-`, `libpod-`);
/// - cgroupfs driver, v1 or v2: `…:/kubepods/burstable/pod<uid>/<64 hex>`, `…:/docker/<64 hex>`;
/// - systemd driver in v1 with containerd: `…/kubepods-…-pod<uid>.slice:cri-containerd:<64 hex>`;
/// - AWS ECS: `…/<32 hex>-<digits>`; Cloud Foundry Garden: a UUID.
///
/// A process outside any container (`0::/`, `/user.slice/…`, `/system.slice/…`) has none, and
/// a pod's own cgroup (`pod<uid>`) is not a container.
pub fn container_id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_hierarchy, _controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let last = path.rsplit('/').next()?;
        let last = last.strip_suffix(".scope").unwrap_or(last);
        container_id_suffix(last).map(str::to_owned)
    })
}

/// The id a cgroup path component ends with, when what precedes it is a separator (or
/// nothing) rather than part of a longer token: this is what keeps a pod's UID in `pod<uid>`
/// from being taken for a container id.
fn container_id_suffix(component: &str) -> Option<&str> {
    let candidates = [
        hex_suffix(component, 64),
        ecs_task_suffix(component),
        uuid_suffix(component),
    ];
    candidates.into_iter().flatten().find(|id| {
        let prefix = &component[..component.len() - id.len()];
        prefix
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

fn hex_suffix(text: &str, digits: usize) -> Option<&str> {
    let start = text.len().checked_sub(digits)?;
    let suffix = text.get(start..)?;
    suffix.bytes().all(is_lower_hex).then_some(suffix)
}

/// `<32 hex>-<decimal>`, the container ids of ECS tasks.
fn ecs_task_suffix(text: &str) -> Option<&str> {
    let digits = text.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let dash = text.len().checked_sub(digits + 1)?;
    if text.as_bytes()[dash] != b'-' {
        return None;
    }
    let hex = hex_suffix(&text[..dash], 32)?;
    Some(&text[dash - hex.len()..])
}

/// A UUID (`8-4-4-4-12` hex groups, `-` or `_` between them) at the end of `text`.
fn uuid_suffix(text: &str) -> Option<&str> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let length = GROUPS.iter().sum::<usize>() + GROUPS.len() - 1;
    let start = text.len().checked_sub(length)?;
    let suffix = text.get(start..)?;
    let mut rest = suffix.as_bytes();
    for (index, group) in GROUPS.iter().enumerate() {
        if index > 0 {
            if !matches!(rest.first(), Some(b'-' | b'_')) {
                return None;
            }
            rest = &rest[1..];
        }
        if !rest[..*group].iter().all(|&byte| is_lower_hex(byte)) {
            return None;
        }
        rest = &rest[*group..];
    }
    Some(suffix)
}

/// The host's name as the kernel reports it (`uname -n` in the collector's UTS namespace), for
/// `host.name`. Read once at start: it is the same for every captured process.
pub fn host_name() -> String {
    host_name_in(Path::new("/proc"))
        .or_else(|| first_line(Path::new("/etc/hostname")))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn host_name_in(proc_root: &Path) -> Option<String> {
    first_line(&proc_root.join("sys/kernel/hostname"))
}

fn first_line(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// The resource attributes of a captured process, per the receiver's contract: `service.name`
/// (the executable name: no SDK told us a better one), `host.name`, `process.pid`,
/// `process.executable.name`, `process.command_line`, and `container.id` when there is one.
/// Unknown values are left out rather than sent empty.
pub fn resource_attributes(info: &ProcessInfo, host_name: &str) -> Vec<KeyValue> {
    let service_name = if info.executable_name.is_empty() {
        UNKNOWN_SERVICE
    } else {
        &info.executable_name
    };
    let mut attributes = vec![
        string_attribute("service.name", service_name),
        string_attribute("host.name", host_name),
        KeyValue {
            key: "process.pid".to_owned(),
            key_strindex: 0,
            value: Some(AnyValue {
                value: Some(Value::IntValue(i64::from(info.pid))),
            }),
        },
    ];
    if !info.executable_name.is_empty() {
        attributes.push(string_attribute(
            "process.executable.name",
            &info.executable_name,
        ));
    }
    if !info.command_line.is_empty() {
        attributes.push(string_attribute("process.command_line", &info.command_line));
    }
    if let Some(container_id) = &info.container_id {
        attributes.push(string_attribute("container.id", container_id));
    }
    attributes
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
