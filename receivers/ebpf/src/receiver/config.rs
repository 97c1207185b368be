//! The `ebpf` receiver's settings, decoded with unknown keys rejected and checked before the
//! kernel is touched, so a typo fails `cormorant validate` instead of a running collector.

use std::time::Duration;

use cormorant_core::config::duration;
use cormorant_core::{ComponentConfig, ConfigError};
use cormorant_ebpf::{KernelFilters, MAX_PAYLOAD_BYTES};
use serde::Deserialize;

use crate::protocol::Protocol;

/// Longest process name the kernel keeps in `comm` (16 bytes with the NUL).
const MAX_COMM_LEN: usize = 15;
/// Smallest ring buffer accepted: one page on every architecture Cormorant runs on.
const MIN_RING_BUFFER_SIZE: u32 = 4096;

/// `receivers::ebpf`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbpfReceiverConfig {
    /// Parsers tried on new connections; names as in `cormorant.l7.protocol`.
    pub protocols: Vec<ProtocolName>,
    /// Local or remote port.
    pub ports: Filter<u16>,
    /// Process ids (thread group ids).
    pub pids: Filter<u32>,
    /// Thread command names as the kernel reports them (at most 15 characters).
    pub comm: Filter<String>,
    /// Payload bytes captured per syscall: enough for request heads, small enough to keep
    /// the ring buffer from filling at high request rates.
    pub payload_bytes: u32,
    /// Ring buffer size in bytes (a power of two).
    pub ring_buffer_size: u32,
    /// HTTP request headers kept as `http.request.header.<lowercase name>`.
    pub extra_headers: Vec<String>,
    pub spans: SpansConfig,
    pub metrics: MetricsConfig,
    /// When true, a tracer that cannot load is logged and the collector runs without it.
    pub optional: bool,
}

impl Default for EbpfReceiverConfig {
    fn default() -> Self {
        EbpfReceiverConfig {
            protocols: vec![ProtocolName::Http, ProtocolName::Redis, ProtocolName::Dns],
            ports: Filter::default(),
            pids: Filter::default(),
            comm: Filter::default(),
            payload_bytes: 1024,
            ring_buffer_size: 8 * 1024 * 1024,
            extra_headers: Vec::new(),
            spans: SpansConfig::default(),
            metrics: MetricsConfig::default(),
            optional: false,
        }
    }
}

/// A protocol that can be enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    Http,
    Redis,
    Dns,
}

impl ProtocolName {
    pub fn protocol(self) -> Protocol {
        match self {
            ProtocolName::Http => Protocol::Http1,
            ProtocolName::Redis => Protocol::Redis,
            ProtocolName::Dns => Protocol::Dns,
        }
    }
}

/// Include and exclude lists; an empty include list admits everything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter<T> {
    pub include: Vec<T>,
    pub exclude: Vec<T>,
}

impl<T> Default for Filter<T> {
    fn default() -> Self {
        Filter {
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl<T: PartialEq> Filter<T> {
    /// Whether a single value passes; it may be a borrowed form of `T` (a `str` for names).
    pub fn admits<V: ?Sized>(&self, value: &V) -> bool
    where
        T: PartialEq<V>,
    {
        let listed = |list: &[T]| list.iter().any(|entry| entry == value);
        (self.include.is_empty() || listed(&self.include)) && !listed(&self.exclude)
    }

    /// Whether either of two values passes the include list and neither is excluded (a
    /// connection matches a port filter by its local or its remote port).
    pub fn admits_either(&self, a: &T, b: &T) -> bool {
        let included =
            self.include.is_empty() || self.include.contains(a) || self.include.contains(b);
        included && !self.exclude.contains(a) && !self.exclude.contains(b)
    }

    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpansConfig {
    pub enabled: bool,
}

impl Default for SpansConfig {
    fn default() -> Self {
        SpansConfig { enabled: true }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// How often the cumulative RED metrics are sent.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            interval: Duration::from_secs(10),
        }
    }
}

impl EbpfReceiverConfig {
    /// Whether any process filter is set (cheap check skipped on the hot path otherwise).
    pub fn filters_processes(&self) -> bool {
        !self.pids.is_empty() || !self.comm.is_empty()
    }

    /// The same lists for the kernel programs, which drop unwanted traffic before it costs a
    /// socket lookup or ring buffer space.
    pub fn kernel_filters(&self) -> KernelFilters {
        KernelFilters {
            include_pids: self.pids.include.clone(),
            exclude_pids: self.pids.exclude.clone(),
            include_comms: self.comm.include.clone(),
            exclude_comms: self.comm.exclude.clone(),
            include_ports: self.ports.include.clone(),
            exclude_ports: self.ports.exclude.clone(),
        }
    }

    pub fn enables(&self, protocol: Protocol) -> bool {
        self.protocols
            .iter()
            .any(|name| name.protocol() == protocol)
    }
}

impl ComponentConfig for EbpfReceiverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.protocols.is_empty() {
            return invalid(
                "protocols must name at least one of http, redis, dns (omit it to enable all)"
                    .into(),
            );
        }
        if self.payload_bytes == 0 || self.payload_bytes > MAX_PAYLOAD_BYTES {
            return invalid(format!(
                "payload_bytes must be between 1 and {MAX_PAYLOAD_BYTES}, got {}",
                self.payload_bytes
            ));
        }
        if !self.ring_buffer_size.is_power_of_two() || self.ring_buffer_size < MIN_RING_BUFFER_SIZE
        {
            return invalid(format!(
                "ring_buffer_size must be a power of two of at least {MIN_RING_BUFFER_SIZE} bytes, \
                 got {} (e.g. 8388608 for 8 MiB)",
                self.ring_buffer_size
            ));
        }
        if let Some(name) = self
            .comm
            .include
            .iter()
            .chain(&self.comm.exclude)
            .find(|name| name.is_empty() || name.len() > MAX_COMM_LEN)
        {
            return invalid(format!(
                "comm entry \"{name}\" can never match: the kernel keeps 1 to {MAX_COMM_LEN} \
                 characters of a process name"
            ));
        }
        if let Some(name) = self.extra_headers.iter().find(|name| !is_header_name(name)) {
            return invalid(format!(
                "extra_headers entry \"{name}\" is not a valid HTTP header name"
            ));
        }
        if self.metrics.enabled && self.metrics.interval.is_zero() {
            return invalid("metrics.interval must be greater than zero".into());
        }
        if !self.spans.enabled && !self.metrics.enabled {
            return invalid(
                "spans and metrics are both disabled: the receiver would produce nothing".into(),
            );
        }
        Ok(())
    }
}

/// RFC 9110 `token` characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_confmap::parse_yaml;
    use cormorant_core::parse_config;

    fn parse(yaml: &str) -> Result<EbpfReceiverConfig, ConfigError> {
        parse_config(&parse_yaml(yaml).expect("yaml"))
    }

    fn error(yaml: &str) -> String {
        parse(yaml).expect_err(yaml).to_string()
    }

    #[test]
    fn empty_config_gets_the_defaults() {
        assert_eq!(parse("{}").unwrap(), EbpfReceiverConfig::default());
    }

    #[test]
    fn every_documented_key_is_read() {
        let config = parse(
            "protocols: [http, dns]\n\
             ports: {include: [80, 8080], exclude: [22]}\n\
             pids: {exclude: [1]}\n\
             comm: {include: [nginx]}\n\
             payload_bytes: 512\n\
             ring_buffer_size: 1048576\n\
             extra_headers: [X-Tenant]\n\
             spans: {enabled: false}\n\
             metrics: {enabled: true, interval: 30s}\n\
             optional: true\n",
        )
        .unwrap();
        assert_eq!(config.protocols, [ProtocolName::Http, ProtocolName::Dns]);
        assert!(config.enables(Protocol::Dns) && !config.enables(Protocol::Redis));
        assert_eq!(config.ports.include, [80, 8080]);
        assert_eq!(config.pids.exclude, [1]);
        assert_eq!(config.comm.include, ["nginx"]);
        assert_eq!(
            (config.payload_bytes, config.ring_buffer_size),
            (512, 1 << 20)
        );
        assert_eq!(config.extra_headers, ["X-Tenant"]);
        assert!(!config.spans.enabled);
        assert_eq!(config.metrics.interval, Duration::from_secs(30));
        assert!(config.optional && config.filters_processes());
    }

    #[test]
    fn bad_values_are_rejected_with_the_reason() {
        assert!(error("protocols: [mysql]").contains("unknown variant"));
        assert!(error("protocols: []").contains("at least one"));
        assert!(error("payload_bytes: 0").contains("payload_bytes"));
        assert!(error("payload_bytes: 8193").contains("8192"));
        assert!(error("ring_buffer_size: 3000000").contains("power of two"));
        assert!(error("ring_buffer_size: 1024").contains("at least 4096"));
        assert!(error("comm: {include: [a-very-long-process-name]}").contains("never match"));
        assert!(error("extra_headers: [\"bad header\"]").contains("not a valid HTTP header"));
        assert!(error("metrics: {interval: 0s}").contains("greater than zero"));
        assert!(error("spans: {enabled: false}\nmetrics: {enabled: false}").contains("nothing"));
        assert!(error("ports: {include: [70000]}").contains("ports"));
        assert!(error("sampling: 1").contains("sampling"));
    }

    #[test]
    fn filters_include_and_exclude() {
        let filter = Filter {
            include: vec![80u16, 443],
            exclude: vec![8080],
        };
        assert!(filter.admits(&80) && !filter.admits(&22) && !filter.admits(&8080));
        assert!(filter.admits_either(&51000, &443));
        assert!(!filter.admits_either(&51000, &22));
        assert!(!filter.admits_either(&80, &8080), "an excluded side wins");
        assert!(Filter::<u16>::default().admits_either(&1, &2));
    }
}
