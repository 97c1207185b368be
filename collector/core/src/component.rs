//! The component model: IDs, lifecycles, and one factory per component `type`.

use crate::consumer::SharedConsumer;
use crate::pdata::Signal;
use async_trait::async_trait;
use cormorant_confmap::{ConfValue, DecodeError, decode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

/// The Cormorant version, reported by `--version`, self-telemetry and exporters' User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `type[/name]`, split at the first `/` as otelcol does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdError {
    #[error("id must not be empty")]
    Empty,
    #[error("in \"{0}\" id: the part after / should not be empty")]
    EmptyName(String),
    #[error("in \"{0}\" id: invalid character(s) in type \"{1}\"")]
    BadType(String, String),
    #[error("in \"{0}\" id: invalid character(s) in name \"{1}\"")]
    BadName(String, String),
}

impl ComponentId {
    pub fn new(ty: impl Into<String>) -> Self {
        ComponentId {
            ty: ty.into(),
            name: None,
        }
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t.trim(), Some(n.trim())),
            None => (s.trim(), None),
        };
        if ty.is_empty() {
            return Err(IdError::Empty);
        }
        let type_ok = ty.len() <= 63
            && ty.starts_with(|c: char| c.is_ascii_alphabetic())
            && ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !type_ok {
            return Err(IdError::BadType(s.to_string(), ty.to_string()));
        }
        let name = match name {
            None => None,
            Some("") => return Err(IdError::EmptyName(s.to_string())),
            Some(n) => {
                let ok = n.chars().count() <= 1024
                    && n.chars()
                        .all(|c| !c.is_whitespace() && !c.is_control() && c != '\u{0}');
                if !ok {
                    return Err(IdError::BadName(s.to_string(), n.to_string()));
                }
                Some(n.to_string())
            }
        };
        Ok(ComponentId {
            ty: ty.to_string(),
            name,
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

/// The five component kinds of an otelcol config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Extension,
    Connector,
}

impl Kind {
    /// The top-level config key for this kind (`receivers`, ...).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Extension => "extensions",
            Kind::Connector => "connectors",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Extension => "extension",
            Kind::Connector => "connector",
        }
    }
}

/// Component stability, printed by `cormorant components`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stability {
    Development,
    Alpha,
    Beta,
    Stable,
    Deprecated,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Development => "Development",
            Stability::Alpha => "Alpha",
            Stability::Beta => "Beta",
            Stability::Stable => "Stable",
            Stability::Deprecated => "Deprecated",
        }
    }
}

/// What a factory declares about its component.
#[derive(Debug, Clone, Copy)]
pub struct FactoryMeta {
    /// The `type` in config IDs.
    pub ty: &'static str,
    /// Older spellings still accepted (otelcol renames, e.g. `otlphttp` for `otlp_http`).
    pub aliases: &'static [&'static str],
    /// Signals the component handles; empty for extensions.
    pub signals: &'static [Signal],
    pub stability: Stability,
}

/// A failure while configuring a component; the service prefixes it with the component's ID.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Invalid(String),
}

/// A failure while starting or stopping a component.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    #[error("cannot listen on {endpoint}: {source}")]
    Listen {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

/// Typed component settings: decoded from the config tree with unknown keys rejected, then checked.
pub trait ComponentConfig: DeserializeOwned {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Decodes and validates a component's settings.
pub fn parse_config<C: ComponentConfig>(raw: &ConfValue) -> Result<C, ConfigError> {
    let config: C = decode(raw)?;
    config.validate()?;
    Ok(config)
}

/// Readiness shared between the service and the health_check extension.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

#[derive(Debug)]
struct HealthInner {
    ready: AtomicBool,
    since: SystemTime,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            inner: Arc::new(HealthInner {
                ready: AtomicBool::new(false),
                since: SystemTime::now(),
            }),
        }
    }
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// When the process started, reported as `upSince`.
    pub fn since(&self) -> SystemTime {
        self.inner.since
    }
}

/// What components can reach of the running service.
#[derive(Debug, Clone, Default)]
pub struct Host {
    pub health: Health,
}

/// Everything a factory gets besides the config.
#[derive(Debug, Clone)]
pub struct CreateSettings {
    pub id: ComponentId,
}

/// Start and stop. Both default to nothing for stateless components.
#[async_trait]
pub trait Lifecycle: Send + Sync + 'static {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Stops taking new work and finishes what is in flight before `deadline`. Anything that cannot
    /// be finished by then is reported in the error.
    async fn shutdown(&self, _deadline: tokio::time::Instant) -> Result<(), ComponentError> {
        Ok(())
    }
}

pub trait Receiver: Lifecycle {}
pub trait Processor: Lifecycle + crate::consumer::Consumer {}
pub trait Exporter: Lifecycle + crate::consumer::Consumer {}
pub trait Extension: Lifecycle {}

/// The consumers a receiver feeds: one per signal it appears in pipelines for (already a fan-out
/// when several pipelines share the receiver).
#[derive(Clone, Default)]
pub struct ReceiverConsumers {
    pub traces: Option<SharedConsumer>,
    pub metrics: Option<SharedConsumer>,
    pub logs: Option<SharedConsumer>,
}

impl ReceiverConsumers {
    pub fn get(&self, signal: Signal) -> Option<&SharedConsumer> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }

    pub fn set(&mut self, signal: Signal, consumer: SharedConsumer) {
        match signal {
            Signal::Traces => self.traces = Some(consumer),
            Signal::Metrics => self.metrics = Some(consumer),
            Signal::Logs => self.logs = Some(consumer),
        }
    }
}

/// Creates receivers of one `type`. One instance per receiver ID serves every pipeline naming it.
pub trait ReceiverFactory: Send + Sync {
    fn meta(&self) -> FactoryMeta;
    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError>;
    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        consumers: ReceiverConsumers,
    ) -> Result<Arc<dyn Receiver>, ConfigError>;
}

/// Creates processors of one `type`: one instance per pipeline, feeding `next`.
pub trait ProcessorFactory: Send + Sync {
    fn meta(&self) -> FactoryMeta;
    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError>;
    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
        next: SharedConsumer,
    ) -> Result<Arc<dyn Processor>, ConfigError>;
}

/// Creates exporters of one `type`: one instance per exporter ID and signal.
pub trait ExporterFactory: Send + Sync {
    fn meta(&self) -> FactoryMeta;
    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError>;
    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
    ) -> Result<Arc<dyn Exporter>, ConfigError>;
}

/// Creates extensions of one `type`.
pub trait ExtensionFactory: Send + Sync {
    fn meta(&self) -> FactoryMeta;
    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError>;
    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
    ) -> Result<Arc<dyn Extension>, ConfigError>;
}
