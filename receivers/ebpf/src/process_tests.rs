use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use cormorant_core::pdata::common::any_value::Value;

use super::*;

const CONTAINERD_ID: &str = "3f5a9c2b7e1d4a6f8b0c2e4d6a8f0b1c3e5d7f9a1b3c5e7d9f1a3b5c7e9d1f3a";
const DOCKER_ID: &str = "9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c";

/// Writes `/<root>/<pid>/{exe,cmdline,cgroup}` the way the kernel presents them.
fn fake_process(root: &Path, pid: u32, exe: &str, cmdline: &[u8], cgroup: &str) {
    let dir = root.join(pid.to_string());
    fs::create_dir_all(&dir).unwrap();
    symlink(exe, dir.join("exe")).unwrap();
    fs::write(dir.join("cmdline"), cmdline).unwrap();
    fs::write(dir.join("cgroup"), cgroup).unwrap();
}

fn string_value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(text) => Some(text.as_str()),
            _ => None,
        }
    })
}

#[test]
fn cgroup_v2_systemd_driver_container_runtimes() {
    let containerd = format!(
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8a4d3c2e_1b2f_4c5d_9e8f_0a1b2c3d4e5f.slice/cri-containerd-{CONTAINERD_ID}.scope\n"
    );
    assert_eq!(
        container_id_from_cgroup(&containerd).as_deref(),
        Some(CONTAINERD_ID)
    );
    let crio = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod11112222_3333_4444_5555_666677778888.slice/crio-{DOCKER_ID}.scope\n"
    );
    assert_eq!(container_id_from_cgroup(&crio).as_deref(), Some(DOCKER_ID));
    let docker = format!("0::/system.slice/docker-{DOCKER_ID}.scope\n");
    assert_eq!(
        container_id_from_cgroup(&docker).as_deref(),
        Some(DOCKER_ID)
    );
    let podman = format!("0::/machine.slice/libpod-{CONTAINERD_ID}.scope\n");
    assert_eq!(
        container_id_from_cgroup(&podman).as_deref(),
        Some(CONTAINERD_ID)
    );
}

#[test]
fn cgroupfs_driver_v1_and_v2() {
    let v1 = format!(
        "12:pids:/kubepods/burstable/pod8a4d3c2e-1b2f-4c5d-9e8f-0a1b2c3d4e5f/{CONTAINERD_ID}\n\
         11:memory:/kubepods/burstable/pod8a4d3c2e-1b2f-4c5d-9e8f-0a1b2c3d4e5f/{CONTAINERD_ID}\n\
         1:name=systemd:/kubepods/burstable/pod8a4d3c2e-1b2f-4c5d-9e8f-0a1b2c3d4e5f/{CONTAINERD_ID}\n"
    );
    assert_eq!(
        container_id_from_cgroup(&v1).as_deref(),
        Some(CONTAINERD_ID)
    );
    let v2 =
        format!("0::/kubepods/besteffort/pod0f0e0d0c-1111-2222-3333-444455556666/{DOCKER_ID}\n");
    assert_eq!(container_id_from_cgroup(&v2).as_deref(), Some(DOCKER_ID));
    let plain_docker = format!("13:cpu,cpuacct:/docker/{DOCKER_ID}\n0::/\n");
    assert_eq!(
        container_id_from_cgroup(&plain_docker).as_deref(),
        Some(DOCKER_ID)
    );
    let systemd_v1_containerd = format!(
        "4:memory:/system.slice/containerd.service/kubepods-burstable-pod8a4d3c2e_1b2f_4c5d_9e8f_0a1b2c3d4e5f.slice:cri-containerd:{CONTAINERD_ID}\n"
    );
    assert_eq!(
        container_id_from_cgroup(&systemd_v1_containerd).as_deref(),
        Some(CONTAINERD_ID)
    );
}

#[test]
fn ecs_and_garden_ids() {
    let ecs = "9:perf_event:/ecs/5a0d5ceddf6c44c1928d367a815d890f/5a0d5ceddf6c44c1928d367a815d890f-3057940393\n";
    assert_eq!(
        container_id_from_cgroup(ecs).as_deref(),
        Some("5a0d5ceddf6c44c1928d367a815d890f-3057940393")
    );
    let garden =
        "1:name=systemd:/system.slice/garden.service/garden/6f1d7b6e-2f4a-4c5b-8d9e-0a1b2c3d4e5f\n";
    assert_eq!(
        container_id_from_cgroup(garden).as_deref(),
        Some("6f1d7b6e-2f4a-4c5b-8d9e-0a1b2c3d4e5f")
    );
}

#[test]
fn no_container_outside_one() {
    for text in [
        "0::/\n",
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope\n",
        "0::/user.slice/user-1000.slice/session-3.scope\n",
        "0::/system.slice/nginx.service\n",
        // A process in the pod's own cgroup: the UID belongs to the pod, not to a container.
        "0::/kubepods/burstable/pod8a4d3c2e-1b2f-4c5d-9e8f-0a1b2c3d4e5f\n",
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8a4d3c2e_1b2f_4c5d_9e8f_0a1b2c3d4e5f.slice\n",
        // 32 hex digits alone are no known runtime's id (seen from job managers).
        "4:memory:/process_api/df50a0975c0c912e23c7a10265dc3df0\n0::/\n",
        // Upper case and 63 digits are not an id.
        "0::/docker/9B2C4D6E8F0A1B3C5D7E9F1A2B4C6D8E0F1A3B5C7D9E1F2A4B6C8D0E2F4A6B8C\n",
        "0::/docker/b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c\n",
        "",
        "garbage without colons\n",
    ] {
        assert_eq!(container_id_from_cgroup(text), None, "{text:?}");
    }
}

#[test]
fn reads_a_process_from_the_proc_tree() {
    let root = tempfile::tempdir().unwrap();
    let cgroup = format!("0::/system.slice/docker-{DOCKER_ID}.scope\n");
    fake_process(
        root.path(),
        4242,
        "/usr/bin/python3.11",
        b"python3\0-m\0http.server\08080\0",
        &cgroup,
    );
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    let info = cache.get(4242, "python3");
    assert_eq!(
        *info,
        ProcessInfo {
            pid: 4242,
            executable_name: "python3.11".to_owned(),
            command_line: "python3 -m http.server 8080".to_owned(),
            container_id: Some(DOCKER_ID.to_owned()),
        }
    );
}

#[test]
fn rewritten_titles_deleted_binaries_and_unreadable_links() {
    let root = tempfile::tempdir().unwrap();
    let mut title = b"nginx: worker process".to_vec();
    title.extend_from_slice(&[0; 40]);
    fake_process(
        root.path(),
        10,
        "/usr/sbin/nginx (deleted)",
        &title,
        "0::/\n",
    );
    // A kernel thread: no exe link, empty cmdline.
    let kthread = root.path().join("2");
    fs::create_dir_all(&kthread).unwrap();
    fs::write(kthread.join("cmdline"), b"").unwrap();
    fs::write(kthread.join("cgroup"), "0::/\n").unwrap();

    let mut cache = ProcessCache::new(root.path().to_path_buf());
    let nginx = cache.get(10, "nginx");
    assert_eq!(nginx.executable_name, "nginx");
    assert_eq!(nginx.command_line, "nginx: worker process");
    assert_eq!(nginx.container_id, None);
    let kthreadd = cache.get(2, "kthreadd");
    assert_eq!(kthreadd.executable_name, "kthreadd");
    assert_eq!(kthreadd.command_line, "");
}

#[test]
fn command_line_is_bounded() {
    let root = tempfile::tempdir().unwrap();
    let mut cmdline = b"java\0".to_vec();
    // Multi-byte characters straddling the cut must not split into invalid UTF-8.
    cmdline.extend("é".repeat(MAX_COMMAND_LINE_BYTES).bytes());
    cmdline.push(0);
    fake_process(root.path(), 77, "/usr/bin/java", &cmdline, "0::/\n");
    let info = ProcessCache::new(root.path().to_path_buf()).get(77, "java");
    assert!(info.command_line.len() <= MAX_COMMAND_LINE_BYTES);
    assert!(info.command_line.len() > MAX_COMMAND_LINE_BYTES - 4);
    assert!(info.command_line.starts_with("java éé"));
}

#[test]
fn an_exited_process_keeps_the_kernel_comm() {
    let root = tempfile::tempdir().unwrap();
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    let info = cache.get(999, "curl");
    assert_eq!(info.executable_name, "curl");
    assert_eq!(info.command_line, "");
    assert_eq!(info.container_id, None);
}

#[test]
fn entries_are_cached_until_they_expire_or_are_forgotten() {
    let root = tempfile::tempdir().unwrap();
    fake_process(
        root.path(),
        500,
        "/usr/bin/redis-server",
        b"redis-server\0",
        "0::/\n",
    );
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    let first = cache.get(500, "redis-server");
    fs::write(root.path().join("500/cmdline"), b"redis-server\0*:6380\0").unwrap();
    let cached = cache.get(500, "redis-server");
    assert!(Arc::ptr_eq(&first, &cached), "read again within the ttl");
    assert_eq!(cache.cached(500).unwrap().command_line, "redis-server");

    cache.forget(500);
    assert!(cache.cached(500).is_none());
    assert_eq!(
        cache.get(500, "redis-server").command_line,
        "redis-server *:6380"
    );

    let mut expiring = ProcessCache::with_limits(root.path().to_path_buf(), 16, Duration::ZERO);
    assert_eq!(expiring.get(500, "x").command_line, "redis-server *:6380");
    fs::write(root.path().join("500/cmdline"), b"redis-server\0*:6381\0").unwrap();
    assert_eq!(expiring.get(500, "x").command_line, "redis-server *:6381");
}

#[test]
fn an_expired_entry_of_an_exited_process_is_kept() {
    let root = tempfile::tempdir().unwrap();
    fake_process(
        root.path(),
        600,
        "/usr/bin/python3",
        b"python3\0app.py\0",
        "0::/\n",
    );
    let mut cache = ProcessCache::with_limits(root.path().to_path_buf(), 16, Duration::ZERO);
    assert_eq!(cache.get(600, "python3").command_line, "python3 app.py");
    fs::remove_dir_all(root.path().join("600")).unwrap();
    let after_exit = cache.get(600, "");
    assert_eq!(after_exit.executable_name, "python3");
    assert_eq!(after_exit.command_line, "python3 app.py");
}

#[test]
fn the_cache_is_bounded() {
    let root = tempfile::tempdir().unwrap();
    let mut cache = ProcessCache::with_limits(root.path().to_path_buf(), 16, DEFAULT_TTL);
    for pid in 1..=100 {
        cache.get(pid, "worker");
        assert!(cache.len() <= 16, "{} entries after pid {pid}", cache.len());
    }
    assert!(cache.cached(100).is_some(), "the newest entry is kept");
    assert!(cache.cached(1).is_none(), "the oldest entries are evicted");
}

#[test]
fn resource_attributes_follow_the_contract() {
    let info = ProcessInfo {
        pid: 4242,
        executable_name: "python3.11".to_owned(),
        command_line: "python3 -m http.server".to_owned(),
        container_id: Some(DOCKER_ID.to_owned()),
    };
    let attributes = resource_attributes(&info, "node-1");
    let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "service.name",
            "host.name",
            "process.pid",
            "process.executable.name",
            "process.command_line",
            "container.id"
        ]
    );
    assert_eq!(
        string_value(&attributes, "service.name"),
        Some("python3.11")
    );
    assert_eq!(string_value(&attributes, "host.name"), Some("node-1"));
    assert_eq!(
        attributes[2].value.as_ref().unwrap().value,
        Some(Value::IntValue(4242))
    );
    assert_eq!(string_value(&attributes, "container.id"), Some(DOCKER_ID));

    let unknown = ProcessInfo {
        pid: 7,
        executable_name: String::new(),
        command_line: String::new(),
        container_id: None,
    };
    let attributes = resource_attributes(&unknown, "node-1");
    let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["service.name", "host.name", "process.pid"]);
    assert_eq!(
        string_value(&attributes, "service.name"),
        Some(UNKNOWN_SERVICE)
    );
}

#[test]
fn host_name_from_the_proc_tree() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("sys/kernel")).unwrap();
    fs::write(root.path().join("sys/kernel/hostname"), "edge-7\n").unwrap();
    assert_eq!(host_name_in(root.path()).as_deref(), Some("edge-7"));
    assert_eq!(host_name_in(&root.path().join("missing")), None);
}

#[test]
fn host_name_matches_gethostname() {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, which is what is passed.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    assert_eq!(result, 0);
    let end = buffer.iter().position(|&byte| byte == 0).unwrap();
    assert_eq!(host_name(), String::from_utf8_lossy(&buffer[..end]));
}

#[test]
fn reads_this_very_process_from_the_real_proc() {
    let pid = std::process::id();
    let info = ProcessCache::new(PathBuf::from("/proc")).get(pid, "not-used");
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        info.executable_name,
        exe.file_name().unwrap().to_string_lossy()
    );
    let args: Vec<String> = std::env::args().collect();
    let expected = args.join(" ");
    let expected = truncate_at_char_boundary(&expected, MAX_COMMAND_LINE_BYTES);
    assert_eq!(info.command_line, expected);
    let cgroup = fs::read_to_string("/proc/self/cgroup").unwrap();
    assert_eq!(info.container_id, container_id_from_cgroup(&cgroup));
}

fn curl_exec(pid: u32, cgroup_id: u64) -> ExecRecord {
    ExecRecord {
        pid,
        comm: "curl".to_owned(),
        cgroup_id,
        executable: Some("/usr/bin/curl".to_owned()),
        arguments: vec![
            "curl".to_owned(),
            "-s".to_owned(),
            "http://127.0.0.1:8080/items".to_owned(),
        ],
    }
}

#[test]
fn an_exited_process_is_described_by_its_exec_record() {
    let proc_root = tempfile::tempdir().unwrap();
    let cgroups = tempfile::tempdir().unwrap();
    let container = cgroups.path().join(format!("docker/{DOCKER_ID}"));
    fs::create_dir_all(&container).unwrap();
    let cgroup_id = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&container).unwrap());
    let mut cache = ProcessCache::new(proc_root.path().to_path_buf()).with_cgroups(
        crate::cgroup::CgroupResolver::at(cgroups.path().to_path_buf()),
    );

    cache.exec(curl_exec(700, cgroup_id));
    let info = cache.get(700, "curl");
    assert_eq!(info.executable_name, "curl");
    assert_eq!(info.command_line, "curl -s http://127.0.0.1:8080/items");
    assert_eq!(info.container_id.as_deref(), Some(DOCKER_ID));
    assert!(
        Arc::ptr_eq(&info, &cache.get(700, "")),
        "settled after first use"
    );
}

#[test]
fn proc_wins_over_the_exec_record_while_the_process_runs() {
    let root = tempfile::tempdir().unwrap();
    fake_process(
        root.path(),
        701,
        "/usr/bin/python3.11",
        b"python3\0backend.py\0",
        &format!("0::/system.slice/docker-{CONTAINERD_ID}.scope\n"),
    );
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    cache.exec(ExecRecord {
        pid: 701,
        comm: "python3".to_owned(),
        cgroup_id: 1,
        executable: Some("/srv/backend.py".to_owned()),
        arguments: vec!["python3".to_owned(), "backend.py".to_owned()],
    });
    let info = cache.get(701, "python3");
    assert_eq!(info.executable_name, "python3.11");
    assert_eq!(info.command_line, "python3 backend.py");
    assert_eq!(info.container_id.as_deref(), Some(CONTAINERD_ID));
}

#[test]
fn an_exec_replaces_what_was_known_of_the_pid() {
    let root = tempfile::tempdir().unwrap();
    fake_process(root.path(), 702, "/bin/bash", b"bash\0", "0::/\n");
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    assert_eq!(cache.get(702, "bash").executable_name, "bash");
    fs::remove_dir_all(root.path().join("702")).unwrap();
    cache.exec(ExecRecord {
        executable: None,
        ..curl_exec(702, 0)
    });
    let info = cache.get(702, "bash");
    assert_eq!(info.executable_name, "curl", "named after argv[0]");
    assert_eq!(info.command_line, "curl -s http://127.0.0.1:8080/items");
    assert_eq!(info.container_id, None);
}

#[test]
fn exited_processes_are_dropped_at_the_second_sweep() {
    let root = tempfile::tempdir().unwrap();
    let mut cache = ProcessCache::new(root.path().to_path_buf());
    cache.exec(curl_exec(703, 0));
    cache.exec(curl_exec(704, 0));
    cache.exited(703);
    cache.exited(999);
    cache.sweep_exited();
    assert_eq!(
        cache.get(703, "").command_line,
        "curl -s http://127.0.0.1:8080/items",
        "still described until the next export"
    );
    cache.sweep_exited();
    assert!(cache.cached(703).is_none());
    assert!(cache.cached(704).is_some(), "a running process stays");
}

#[test]
fn an_exited_process_is_named_after_the_file_its_executable_link_points_to() {
    let proc_root = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    fs::write(bin.path().join("python3.11"), b"").unwrap();
    symlink("python3.11", bin.path().join("python3")).unwrap();
    let mut cache = ProcessCache::new(proc_root.path().to_path_buf());
    cache.exec(ExecRecord {
        pid: 705,
        comm: "python3".to_owned(),
        cgroup_id: 0,
        executable: Some(bin.path().join("python3").to_string_lossy().into_owned()),
        arguments: vec!["python3".to_owned(), "client.py".to_owned()],
    });
    assert_eq!(cache.get(705, "python3").executable_name, "python3.11");
}
