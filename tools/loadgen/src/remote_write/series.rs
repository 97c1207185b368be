//! The series an Alloy `prometheus.exporter.unix` fleet sends: node_exporter metric names,
//! `instance=<hostname>`, `job="integrations/unix"`, and one to three further labels per series
//! (`cpu`/`mode`, `device`, `device`/`fstype`/`mountpoint`).
//!
//! Each host contributes [`SERIES_PER_HOST`] series; the catalogue adds hosts until it holds the
//! number of series asked for. Every series has a value model, so successive rounds carry values
//! that move the way real ones do: counters grow by a varying amount, gauges wobble around a
//! level. Prometheus' XOR chunk encoding costs more for moving values than for constant ones,
//! so constant values would flatter it.

/// `job` of every series, as Alloy's unix exporter integration sets it.
pub const JOB: &str = "integrations/unix";

const CPUS: usize = 8;
/// `node_cpu_seconds_total` modes with the share of a CPU each accounts for.
const CPU_MODES: [(&str, f64); 8] = [
    ("idle", 0.82),
    ("iowait", 0.01),
    ("irq", 0.002),
    ("nice", 0.001),
    ("softirq", 0.004),
    ("steal", 0.003),
    ("system", 0.05),
    ("user", 0.11),
];
const DISKS: [&str; 4] = ["nvme0n1", "nvme1n1", "sda", "sdb"];
/// Disk counters with their typical growth per second.
const DISK_COUNTERS: [(&str, f64); 5] = [
    ("node_disk_io_time_seconds_total", 0.05),
    ("node_disk_read_bytes_total", 2.0e5),
    ("node_disk_reads_completed_total", 40.0),
    ("node_disk_writes_completed_total", 120.0),
    ("node_disk_written_bytes_total", 8.0e5),
];
const NETWORK_DEVICES: [&str; 4] = ["docker0", "eth0", "eth1", "lo"];
const NETWORK_COUNTERS: [(&str, f64); 2] = [
    ("node_network_receive_bytes_total", 1.5e6),
    ("node_network_transmit_bytes_total", 9.0e5),
];
/// (device, fstype, mountpoint, size in bytes).
const FILESYSTEMS: [(&str, &str, &str, f64); 4] = [
    ("/dev/nvme0n1p1", "vfat", "/boot/efi", 5.36e8),
    ("/dev/nvme0n1p2", "ext4", "/", 2.5e11),
    ("/dev/nvme1n1", "xfs", "/var/lib/data", 1.0e12),
    ("tmpfs", "tmpfs", "/run", 3.3e9),
];

/// Series per host: 64 CPU counters, 20 disk counters, 8 network counters, 8 filesystem gauges.
pub const SERIES_PER_HOST: usize = CPUS * CPU_MODES.len()
    + DISKS.len() * DISK_COUNTERS.len()
    + NETWORK_DEVICES.len() * NETWORK_COUNTERS.len()
    + FILESYSTEMS.len() * 2;

/// The scrape interval the value models advance by per round, as Alloy's default.
const SECONDS_PER_ROUND: f64 = 15.0;

/// How a series' value moves from round to round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueModel {
    /// Starts at `start`, grows by between 1 and 1.5 times `per_round` each round, rounded to
    /// `decimals` places (0 for byte and operation counts).
    Counter {
        start: f64,
        per_round: f64,
        decimals: i32,
    },
    /// Stays within ±1 % of `level`, in whole units.
    Gauge { level: f64 },
}

/// One series: its sorted label set and how its value moves.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    /// Sorted by name, `__name__` first; no duplicates, no empty values.
    pub labels: Vec<(String, String)>,
    pub model: ValueModel,
    /// Distinguishes the value sequences of series with the same model.
    pub seed: u64,
}

impl SeriesSpec {
    /// The value of round `round` (≥ 0).
    pub fn value(&self, round: u64) -> f64 {
        let jitter = unit_interval(self.seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match self.model {
            ValueModel::Counter {
                start,
                per_round,
                decimals,
            } => {
                let raw = start + per_round * round as f64 + per_round * 0.5 * jitter;
                let scale = 10f64.powi(decimals);
                (raw * scale).round() / scale
            }
            ValueModel::Gauge { level } => (level * (0.99 + 0.02 * jitter)).round(),
        }
    }
}

/// The first `count` series of a fleet of hosts named `host-00000`, `host-00001`, ….
pub fn catalogue(count: usize) -> Vec<SeriesSpec> {
    let mut series = Vec::with_capacity(count + SERIES_PER_HOST);
    let mut host = 0;
    while series.len() < count {
        host_series(host, &mut series);
        host += 1;
    }
    series.truncate(count);
    series
}

fn host_series(host: usize, out: &mut Vec<SeriesSpec>) {
    let instance = format!("host-{host:05}");
    // Hosts have been up for different times, so their counters start at different levels.
    let uptime = 3600.0 * (1.0 + 720.0 * unit_interval(host as u64));
    let mut push = |name: &str, extra: &[(&str, &str)], model: ValueModel| {
        let mut labels: Vec<(String, String)> = [
            ("__name__", name),
            ("instance", instance.as_str()),
            ("job", JOB),
        ]
        .iter()
        .chain(extra)
        .map(|(label, value)| ((*label).to_owned(), (*value).to_owned()))
        .collect();
        labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let seed = splitmix64(((host as u64) << 16) | out.len() as u64);
        out.push(SeriesSpec {
            labels,
            model,
            seed,
        });
    };
    for cpu in 0..CPUS {
        let cpu = cpu.to_string();
        for (mode, share) in CPU_MODES {
            let per_second = share;
            push(
                "node_cpu_seconds_total",
                &[("cpu", &cpu), ("mode", mode)],
                counter(uptime, per_second, 2),
            );
        }
    }
    for device in DISKS {
        for (name, per_second) in DISK_COUNTERS {
            let decimals = if name.ends_with("seconds_total") {
                3
            } else {
                0
            };
            push(
                name,
                &[("device", device)],
                counter(uptime, per_second, decimals),
            );
        }
    }
    for device in NETWORK_DEVICES {
        for (name, per_second) in NETWORK_COUNTERS {
            push(name, &[("device", device)], counter(uptime, per_second, 0));
        }
    }
    for (device, fstype, mountpoint, size) in FILESYSTEMS {
        let labels = [
            ("device", device),
            ("fstype", fstype),
            ("mountpoint", mountpoint),
        ];
        push(
            "node_filesystem_avail_bytes",
            &labels,
            ValueModel::Gauge { level: size * 0.4 },
        );
        push(
            "node_filesystem_size_bytes",
            &labels,
            ValueModel::Gauge { level: size },
        );
    }
}

fn counter(uptime: f64, per_second: f64, decimals: i32) -> ValueModel {
    ValueModel::Counter {
        start: uptime * per_second,
        per_round: per_second * SECONDS_PER_ROUND,
        decimals,
    }
}

/// A well-mixed 64-bit hash (splitmix64's finaliser), so neighbouring inputs give unrelated
/// outputs.
fn splitmix64(input: u64) -> u64 {
    let mut z = input.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in [0, 1) derived from `input`.
fn unit_interval(input: u64) -> f64 {
    (splitmix64(input) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn series_look_like_alloy_unix_exporter_output() {
        let series = catalogue(SERIES_PER_HOST * 3 + 7);
        assert_eq!(series.len(), SERIES_PER_HOST * 3 + 7);
        assert_eq!(SERIES_PER_HOST, 100);
        let distinct: HashSet<_> = series.iter().map(|s| &s.labels).collect();
        assert_eq!(distinct.len(), series.len(), "label sets must be distinct");
        for spec in &series {
            let names: Vec<&str> = spec.labels.iter().map(|(n, _)| n.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "labels sorted and unique: {names:?}");
            assert_eq!(names[0], "__name__");
            assert!(spec.labels.iter().all(|(_, v)| !v.is_empty()));
            assert!(spec.labels.contains(&("job".into(), JOB.into())));
            assert!(names.contains(&"instance"));
            assert!(
                (4..=6).contains(&names.len()),
                "1-3 extra labels: {names:?}"
            );
        }
        assert_eq!(series[SERIES_PER_HOST * 3].labels[2].1, "host-00003");
    }

    #[test]
    fn counters_grow_and_gauges_stay_near_their_level() {
        for spec in catalogue(SERIES_PER_HOST) {
            let values: Vec<f64> = (0..50).map(|round| spec.value(round)).collect();
            match spec.model {
                ValueModel::Counter { .. } => {
                    assert!(values.windows(2).all(|w| w[1] >= w[0]), "{values:?}");
                    assert!(values[49] > values[0], "{:?}", spec.labels);
                }
                ValueModel::Gauge { level } => assert!(
                    values
                        .iter()
                        .all(|v| (v - level).abs() <= level * 0.01 + 1.0),
                    "{values:?}"
                ),
            }
            let distinct: HashSet<u64> = values.iter().map(|v| v.to_bits()).collect();
            assert!(distinct.len() > 1, "values must move: {:?}", spec.labels);
        }
    }
}
