//! Memory readings from the system: the real RSS, and the available memory that percentages are
//! relative to, on prepared `/proc` and cgroup trees.

use super::{MIB, SetUsage, Sink, spans};
use cormorant_core::{ComponentId, Consumer, Host, Lifecycle, Signal};
use cormorant_processor_memory_limiter::{
    MemoryLimiterConfig, MemoryLimiterProcessor, MemoryUsage, ProcessRss, SystemMemory,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const GIB: u64 = 1024 * MIB;

/// A scratch `/proc` + `/sys/fs/cgroup` pair with `MemTotal` set to `ram` bytes.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(test: &str, ram: u64) -> Tree {
        let root = std::env::temp_dir().join(format!(
            "cormorant-memory-limiter-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let tree = Tree { root };
        tree.write(
            "proc/meminfo",
            &format!("MemTotal:       {} kB\nMemFree:        1 kB\n", ram / 1024),
        );
        tree
    }

    fn write(&self, path: &str, contents: &str) {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn system(&self) -> SystemMemory {
        SystemMemory::at(self.root.join("proc"), self.root.join("cgroup"))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn cgroup_v2_limit_of_a_container() {
    let tree = Tree::new("v2", 16 * GIB);
    tree.write("proc/self/cgroup", "0::/\n");
    tree.write("cgroup/memory.max", "536870912\n");
    assert_eq!(tree.system().total_bytes().unwrap(), 512 * MIB);
}

#[test]
fn cgroup_v2_without_a_limit_falls_back_to_ram() {
    let tree = Tree::new("v2_max", 16 * GIB);
    tree.write("proc/self/cgroup", "0::/\n");
    tree.write("cgroup/memory.max", "max\n");
    assert_eq!(tree.system().total_bytes().unwrap(), 16 * GIB);
}

#[test]
fn cgroup_v2_limit_set_on_an_ancestor() {
    let tree = Tree::new("v2_nested", 16 * GIB);
    tree.write("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    tree.write("cgroup/kubepods/pod1/memory.max", "1073741824\n");
    tree.write("cgroup/kubepods/pod1/ctr/memory.max", "max\n");
    assert_eq!(tree.system().total_bytes().unwrap(), GIB);
}

#[test]
fn cgroup_v1_limit_in_a_hybrid_hierarchy() {
    let tree = Tree::new("v1", 16 * GIB);
    tree.write(
        "proc/self/cgroup",
        "5:devices:/\n4:memory:/jobs/abc\n1:cpu:/\n0::/\n",
    );
    tree.write(
        "cgroup/memory/jobs/abc/memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    tree.write("cgroup/memory/jobs/memory.limit_in_bytes", "2147483648\n");
    assert_eq!(tree.system().total_bytes().unwrap(), 2 * GIB);
}

#[test]
fn a_cgroup_limit_above_ram_counts_as_ram() {
    let tree = Tree::new("above_ram", 4 * GIB);
    tree.write("proc/self/cgroup", "0::/\n");
    tree.write("cgroup/memory.max", &(64 * GIB).to_string());
    assert_eq!(tree.system().total_bytes().unwrap(), 4 * GIB);
}

#[test]
fn no_cgroup_information_means_ram() {
    let tree = Tree::new("no_cgroup", 3 * GIB);
    assert_eq!(tree.system().total_bytes().unwrap(), 3 * GIB);
}

#[test]
fn unreadable_meminfo_is_an_error() {
    let system = SystemMemory::at(Path::new("/nonexistent/proc"), "/nonexistent/cgroup");
    assert!(system.total_bytes().is_err());
}

#[test]
fn this_machine_reports_plausible_numbers() {
    let total = SystemMemory::host().total_bytes().unwrap();
    assert!(total > 64 * MIB, "total memory {total}");
    let rss = ProcessRss::new().used_bytes().unwrap();
    assert!(rss > MIB && rss < total, "rss {rss} of {total}");
}

#[tokio::test(start_paused = true)]
async fn percentages_are_relative_to_the_available_memory() {
    let tree = Tree::new("percentages", 16 * GIB);
    tree.write("proc/self/cgroup", "0::/\n");
    tree.write("cgroup/memory.max", &(1000 * MIB).to_string());
    let config = MemoryLimiterConfig {
        check_interval: Duration::from_secs(1),
        limit_percentage: 50,
        spike_limit_percentage: 10,
        ..MemoryLimiterConfig::default()
    };
    let limits = config.limits(|| tree.system().total_bytes()).unwrap();
    assert_eq!(limits.hard_bytes, 500 * MIB);
    assert_eq!(limits.soft_bytes, 400 * MIB);

    let usage = Arc::new(SetUsage::default());
    let sink = Arc::new(Sink::default());
    usage.set_mib(450);
    let processor = MemoryLimiterProcessor::with_sources(
        ComponentId::parse("memory_limiter/percent").unwrap(),
        Signal::Traces,
        config,
        sink.clone(),
        usage.clone(),
        tree.system(),
    )
    .unwrap();
    processor.start(&Host::default()).await.unwrap();
    assert!(processor.consume(spans(1)).await.is_err());
    usage.set_mib(350);
    tokio::time::sleep(Duration::from_millis(1001)).await;
    processor.consume(spans(1)).await.unwrap();
    assert_eq!(sink.items(), 1);
}

#[tokio::test]
async fn start_fails_when_percentages_cannot_be_resolved() {
    let config = MemoryLimiterConfig {
        check_interval: Duration::from_secs(1),
        limit_percentage: 50,
        ..MemoryLimiterConfig::default()
    };
    let processor = MemoryLimiterProcessor::with_sources(
        ComponentId::parse("memory_limiter/no_meminfo").unwrap(),
        Signal::Logs,
        config,
        Arc::new(Sink::default()),
        Arc::new(SetUsage::default()),
        SystemMemory::at("/nonexistent/proc", "/nonexistent/cgroup"),
    )
    .unwrap();
    let err = processor.start(&Host::default()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot determine the memory available"),
        "{err}"
    );
}
