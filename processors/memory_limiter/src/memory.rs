//! Where memory numbers come from: the process's resident set, and the memory available to it.
//!
//! Usage is read through the [`MemoryUsage`] trait so tests (and other platforms) can supply
//! their own numbers; the Linux implementation reads `/proc/self/statm`, which costs one small
//! read per check.

use std::io;
use std::path::{Path, PathBuf};

/// A source of the process's current memory usage.
pub trait MemoryUsage: Send + Sync + 'static {
    /// Bytes in use, as the limits are meant to be compared against.
    fn used_bytes(&self) -> io::Result<u64>;
}

/// The resident set size of this process, from `/proc/self/statm`.
///
/// RSS is what the kernel (and a cgroup's OOM killer) charges for the process, which is what the
/// limit protects against; it includes allocator slack that a heap-only figure would miss.
#[derive(Debug, Clone)]
pub struct ProcessRss {
    page_size: u64,
}

impl ProcessRss {
    pub fn new() -> Self {
        // SAFETY: sysconf only reads a system constant and has no preconditions.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        ProcessRss {
            page_size: u64::try_from(page_size).unwrap_or(4096),
        }
    }
}

impl Default for ProcessRss {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryUsage for ProcessRss {
    fn used_bytes(&self) -> io::Result<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm")?;
        let resident_pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected /proc/self/statm contents: {statm:?}"),
                )
            })?;
        Ok(resident_pages * self.page_size)
    }
}

/// The memory the process may use: its cgroup's limit (v2 `memory.max` or v1
/// `memory.limit_in_bytes`, on its own cgroup or any ancestor) when lower than total RAM, else
/// total RAM from `/proc/meminfo`. This is what `limit_percentage` is relative to.
#[derive(Debug, Clone)]
pub struct SystemMemory {
    proc_root: PathBuf,
    cgroup_root: PathBuf,
}

impl SystemMemory {
    /// This machine: `/proc` and cgroups mounted at `/sys/fs/cgroup`.
    pub fn host() -> Self {
        Self::at("/proc", "/sys/fs/cgroup")
    }

    /// Reads `proc_root/meminfo`, `proc_root/self/cgroup` and the cgroup files under
    /// `cgroup_root` instead, so the lookup can be exercised on prepared trees.
    pub fn at(proc_root: impl Into<PathBuf>, cgroup_root: impl Into<PathBuf>) -> Self {
        SystemMemory {
            proc_root: proc_root.into(),
            cgroup_root: cgroup_root.into(),
        }
    }

    pub fn total_bytes(&self) -> io::Result<u64> {
        let ram = self.ram_bytes()?;
        Ok(self.cgroup_limit().map_or(ram, |limit| limit.min(ram)))
    }

    fn ram_bytes(&self) -> io::Result<u64> {
        let path = self.proc_root.join("meminfo");
        let meminfo = std::fs::read_to_string(&path)?;
        meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("no MemTotal line in {}", path.display()),
                )
            })
    }

    /// The lowest memory limit on the process's cgroup path, in either cgroup version.
    fn cgroup_limit(&self) -> Option<u64> {
        let membership =
            std::fs::read_to_string(self.proc_root.join("self/cgroup")).unwrap_or_default();
        let mut v2_path = "/";
        let mut v1_path = "/";
        for line in membership.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(hierarchy), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if hierarchy == "0" && controllers.is_empty() {
                v2_path = path;
            } else if controllers.split(',').any(|c| c == "memory") {
                v1_path = path;
            }
        }
        let v2 = lowest_limit(&self.cgroup_root, v2_path, "memory.max");
        let v1 = lowest_limit(
            &self.cgroup_root.join("memory"),
            v1_path,
            "memory.limit_in_bytes",
        );
        v2.into_iter().chain(v1).min()
    }
}

/// The lowest numeric `file` on `path` and its ancestors under `root`; "max" means no limit.
fn lowest_limit(root: &Path, path: &str, file: &str) -> Option<u64> {
    Path::new(path.trim_start_matches('/'))
        .ancestors()
        .filter_map(|dir| std::fs::read_to_string(root.join(dir).join(file)).ok())
        .filter_map(|value| value.trim().parse::<u64>().ok())
        .min()
}
