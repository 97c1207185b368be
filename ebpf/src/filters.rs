//! The pid, comm and port filters the kernel programs apply before they look at a socket, so
//! traffic nobody asked for costs neither kernel time nor ring buffer space. The receiver
//! applies the same lists again in user space, where unconnected UDP peers are known.

use crate::loader::LoadError;
use aya::Ebpf;
use aya::maps::{HashMap, MapData};

/// Map values shared with `socket_trace.bpf.c`.
const INCLUDE: u8 = 1;
const EXCLUDE: u8 = 2;
/// `filter_flags` bits shared with `socket_trace.bpf.c`.
const PIDS_INCLUDED: u32 = 1;
const COMMS_INCLUDED: u32 = 2;
const PORTS_INCLUDED: u32 = 4;
const PORTS_LISTED: u32 = 8;
const PIDS_LISTED: u32 = 16;
const COMMS_LISTED: u32 = 32;
/// Entries each filter map holds (`max_entries` in `socket_trace.bpf.c`).
const MAX_PIDS: usize = 1024;
const MAX_COMMS: usize = 256;
const MAX_PORTS: usize = 1024;
/// The kernel's task comm length, terminating NUL included.
const COMM_LENGTH: usize = 16;

/// Include and exclude lists; an empty include list admits everything, an exclusion always
/// wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelFilters {
    pub include_pids: Vec<u32>,
    pub exclude_pids: Vec<u32>,
    /// Thread names as the kernel reports them (at most 15 bytes are compared).
    pub include_comms: Vec<String>,
    pub exclude_comms: Vec<String>,
    /// A socket passes when its local or remote port is included and neither is excluded.
    pub include_ports: Vec<u16>,
    pub exclude_ports: Vec<u16>,
}

impl KernelFilters {
    /// The `filter_flags` global: which lists are in use, so the kernel skips the lookups of
    /// the others.
    pub(crate) fn flags(&self) -> u32 {
        let mut flags = 0;
        if !self.include_pids.is_empty() || !self.exclude_pids.is_empty() {
            flags |= PIDS_LISTED;
        }
        if !self.include_comms.is_empty() || !self.exclude_comms.is_empty() {
            flags |= COMMS_LISTED;
        }
        if !self.include_pids.is_empty() {
            flags |= PIDS_INCLUDED;
        }
        if !self.include_comms.is_empty() {
            flags |= COMMS_INCLUDED;
        }
        if !self.include_ports.is_empty() {
            flags |= PORTS_INCLUDED;
        }
        if !self.exclude_ports.is_empty() {
            flags |= PORTS_LISTED;
        }
        flags
    }

    pub(crate) fn validate(&self) -> Result<(), LoadError> {
        let too_many = |what: &str, count: usize, max: usize| {
            (count > max).then(|| {
                LoadError::InvalidConfig(format!(
                    "{count} {what} in the filters; the kernel side holds at most {max}"
                ))
            })
        };
        let checks = [
            too_many(
                "pids",
                self.include_pids.len() + self.exclude_pids.len(),
                MAX_PIDS,
            ),
            too_many(
                "comms",
                self.include_comms.len() + self.exclude_comms.len(),
                MAX_COMMS,
            ),
            too_many(
                "ports",
                self.include_ports.len() + self.exclude_ports.len(),
                MAX_PORTS,
            ),
        ];
        match checks.into_iter().flatten().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Fills the filter maps of a loaded (not yet attached) object. Exclusions are written
    /// last, so a value on both lists is excluded.
    pub(crate) fn fill(&self, ebpf: &mut Ebpf) -> Result<(), LoadError> {
        let mut pids: HashMap<&mut MapData, u32, u8> = filter_map(ebpf, "pid_filter")?;
        write(
            &mut pids,
            "pid_filter",
            &self.include_pids,
            &self.exclude_pids,
            |p| *p,
        )?;
        let mut comms: HashMap<&mut MapData, [u8; COMM_LENGTH], u8> =
            filter_map(ebpf, "comm_filter")?;
        write(
            &mut comms,
            "comm_filter",
            &self.include_comms,
            &self.exclude_comms,
            |comm| comm_key(comm),
        )?;
        let mut ports: HashMap<&mut MapData, u16, u8> = filter_map(ebpf, "port_filter")?;
        write(
            &mut ports,
            "port_filter",
            &self.include_ports,
            &self.exclude_ports,
            |p| *p,
        )
    }
}

/// A comm as the kernel stores it: NUL-padded, cut to 15 bytes.
fn comm_key(comm: &str) -> [u8; COMM_LENGTH] {
    let mut key = [0u8; COMM_LENGTH];
    let bytes = comm.as_bytes();
    let length = bytes.len().min(COMM_LENGTH - 1);
    key[..length].copy_from_slice(&bytes[..length]);
    key
}

fn filter_map<'a, K: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<HashMap<&'a mut MapData, K, u8>, LoadError> {
    let map = ebpf.map_mut(name).ok_or(LoadError::Map {
        map: name,
        detail: "not found in the object".to_string(),
    })?;
    HashMap::try_from(map).map_err(|error| LoadError::Map {
        map: name,
        detail: error.to_string(),
    })
}

fn write<T, K: aya::Pod>(
    map: &mut HashMap<&mut MapData, K, u8>,
    name: &'static str,
    include: &[T],
    exclude: &[T],
    key: impl Fn(&T) -> K,
) -> Result<(), LoadError> {
    let entries = include
        .iter()
        .map(|item| (item, INCLUDE))
        .chain(exclude.iter().map(|item| (item, EXCLUDE)));
    for (item, verdict) in entries {
        map.insert(key(item), verdict, 0)
            .map_err(|error| LoadError::Map {
                map: name,
                detail: error.to_string(),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_name_the_lists_in_use() {
        assert_eq!(KernelFilters::default().flags(), 0);
        let filters = KernelFilters {
            include_comms: vec!["nginx".into()],
            exclude_ports: vec![22],
            ..KernelFilters::default()
        };
        assert_eq!(
            filters.flags(),
            COMMS_LISTED | COMMS_INCLUDED | PORTS_LISTED
        );
        let excluding = KernelFilters {
            exclude_pids: vec![1],
            ..KernelFilters::default()
        };
        assert_eq!(excluding.flags(), PIDS_LISTED);
    }

    #[test]
    fn comms_are_cut_like_the_kernel_cuts_them() {
        assert_eq!(&comm_key("nginx")[..6], b"nginx\0");
        let long = comm_key("a-very-long-process-name");
        assert_eq!(&long[..15], b"a-very-long-pro");
        assert_eq!(long[15], 0);
    }

    #[test]
    fn oversized_lists_are_refused() {
        let filters = KernelFilters {
            include_ports: (0..=1024).collect(),
            ..KernelFilters::default()
        };
        assert!(
            filters
                .validate()
                .unwrap_err()
                .to_string()
                .contains("1025 ports")
        );
    }
}
