//! The container of a process from its cgroup id alone, for processes that exited before
//! `/proc/<pid>/cgroup` could be read.
//!
//! On cgroup v2 the id the kernel reports with each event (`bpf_get_current_cgroup_id`) is the
//! inode number of the cgroup's directory in the cgroup2 file system. Finding that directory
//! gives the cgroup path, whose last component names the container
//! ([`container_id_from_cgroup`]). The walk runs once per unknown id; its answer, found or
//! not, is cached (kernfs ids are not reused while the system runs).

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::process::container_id_from_cgroup;

/// Directories visited at most per lookup: a Kubernetes node has a few thousand cgroups.
const MAX_DIRECTORIES: usize = 100_000;
/// Deepest cgroup nesting searched (the systemd driver's pod containers sit at depth 4).
const MAX_DEPTH: usize = 16;
/// Cached answers at most; the cache starts over when full.
const MAX_KNOWN: usize = 4096;

/// Cgroup id → container id, by searching a cgroup2 hierarchy.
#[derive(Debug)]
pub struct CgroupResolver {
    root: Option<PathBuf>,
    known: HashMap<u64, Option<String>>,
}

impl Default for CgroupResolver {
    /// The host's cgroup2 mount (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid
    /// systems), found in `/proc/self/mounts`; none on a cgroup v1-only system.
    fn default() -> Self {
        let root = fs::read_to_string("/proc/self/mounts")
            .ok()
            .and_then(|mounts| cgroup2_mount(&mounts));
        CgroupResolver {
            root,
            known: HashMap::new(),
        }
    }
}

impl CgroupResolver {
    /// A resolver searching the cgroup2 hierarchy mounted at `root`.
    pub fn at(root: PathBuf) -> Self {
        CgroupResolver {
            root: Some(root),
            known: HashMap::new(),
        }
    }

    /// The container id of the cgroup with id `cgroup_id`, if its path names one.
    pub fn container_of(&mut self, cgroup_id: u64) -> Option<String> {
        if cgroup_id == 0 {
            return None;
        }
        if let Some(known) = self.known.get(&cgroup_id) {
            return known.clone();
        }
        let found = self
            .root
            .as_deref()
            .and_then(|root| directory_with_inode(root, cgroup_id))
            .and_then(|path| container_id_from_cgroup(&format!("0::/{}", path.display())));
        if self.known.len() >= MAX_KNOWN {
            self.known.clear();
        }
        self.known.insert(cgroup_id, found.clone());
        found
    }
}

/// The mount point of the cgroup2 file system in a `/proc/<pid>/mounts` text.
fn cgroup2_mount(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_source, target, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| PathBuf::from(target))
    })
}

/// The path, relative to `root`, of the directory under it whose inode is `inode`; symbolic
/// links are not followed.
fn directory_with_inode(root: &Path, inode: u64) -> Option<PathBuf> {
    let mut pending = vec![(root.to_path_buf(), 0usize)];
    let mut visited = 0;
    while let Some((directory, depth)) = pending.pop() {
        visited += 1;
        if visited > MAX_DIRECTORIES {
            return None;
        }
        if fs::symlink_metadata(&directory).is_ok_and(|meta| meta.ino() == inode) {
            return directory.strip_prefix(root).ok().map(Path::to_path_buf);
        }
        if depth == MAX_DEPTH {
            continue;
        }
        let Ok(entries) = fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER_ID: &str = "4e1b0c9d8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d";

    fn inode_of(path: &Path) -> u64 {
        fs::metadata(path).unwrap().ino()
    }

    #[test]
    fn finds_the_container_of_a_cgroup_by_its_inode() {
        let root = tempfile::tempdir().unwrap();
        let container = root.path().join(format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_0000_1111_2222_333344445555.slice/cri-containerd-{CONTAINER_ID}.scope"
        ));
        fs::create_dir_all(&container).unwrap();
        let service = root.path().join("system.slice/nginx.service");
        fs::create_dir_all(&service).unwrap();
        let mut resolver = CgroupResolver::at(root.path().to_path_buf());

        assert_eq!(
            resolver.container_of(inode_of(&container)).as_deref(),
            Some(CONTAINER_ID)
        );
        assert_eq!(resolver.container_of(inode_of(&service)), None);
        assert_eq!(resolver.container_of(inode_of(root.path())), None);
        assert_eq!(resolver.container_of(0), None);
    }

    #[test]
    fn answers_are_cached_found_or_not() {
        let root = tempfile::tempdir().unwrap();
        let container = root.path().join(format!("docker/{CONTAINER_ID}"));
        fs::create_dir_all(&container).unwrap();
        let inode = inode_of(&container);
        let mut resolver = CgroupResolver::at(root.path().to_path_buf());
        assert_eq!(resolver.container_of(inode).as_deref(), Some(CONTAINER_ID));
        fs::remove_dir_all(root.path().join("docker")).unwrap();
        assert_eq!(
            resolver.container_of(inode).as_deref(),
            Some(CONTAINER_ID),
            "a known id is not searched again"
        );
    }

    #[test]
    fn the_cgroup2_mount_of_pure_and_hybrid_hosts() {
        let pure = "sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n";
        assert_eq!(cgroup2_mount(pure), Some(PathBuf::from("/sys/fs/cgroup")));
        let hybrid = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n\
                      cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"),
            None
        );
    }
}
