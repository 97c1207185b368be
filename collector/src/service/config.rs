//! The `service` section and whole-config validation, with otelcol's error wording.
//!
//! Validation collects every error rather than stopping at the first, so `cormorant validate`
//! lists them all.

use crate::registry::Registry;
use cormorant_confmap::{ConfValue, decode};
use cormorant_core::{ComponentId, Kind, Signal};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// One `service.pipelines` entry.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    #[serde(default)]
    pub receivers: Vec<String>,
    #[serde(default)]
    pub processors: Vec<String>,
    #[serde(default)]
    pub exporters: Vec<String>,
}

/// `service.telemetry`, with the keys otelcol accepts; the ones Cormorant acts on are documented.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySpec {
    #[serde(default)]
    pub logs: LogsSpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Accepted for compatibility; Cormorant does not trace itself.
    #[serde(default, rename = "traces")]
    _traces: Option<IgnoredAny>,
    /// Accepted for compatibility; not attached to self-telemetry yet.
    #[serde(default, rename = "resource")]
    _resource: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSpec {
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default = "default_log_encoding")]
    pub encoding: String,
    /// The remaining otelcol (zap) logger keys are accepted so configs carry over; logs always go
    /// to stderr through `tracing`.
    #[serde(default, rename = "development")]
    _development: Option<IgnoredAny>,
    #[serde(default, rename = "disable_caller")]
    _disable_caller: Option<IgnoredAny>,
    #[serde(default, rename = "disable_stacktrace")]
    _disable_stacktrace: Option<IgnoredAny>,
    #[serde(default, rename = "output_paths")]
    _output_paths: Option<IgnoredAny>,
    #[serde(default, rename = "error_output_paths")]
    _error_output_paths: Option<IgnoredAny>,
    #[serde(default, rename = "initial_fields")]
    _initial_fields: Option<IgnoredAny>,
    #[serde(default, rename = "sampling")]
    _sampling: Option<IgnoredAny>,
    #[serde(default, rename = "processors")]
    _processors: Option<IgnoredAny>,
}

impl Default for LogsSpec {
    fn default() -> Self {
        decode(&ConfValue::empty_map()).expect("defaults decode")
    }
}

fn default_log_level() -> String {
    "info".into()
}

fn default_log_encoding() -> String {
    "console".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    #[serde(default = "default_metrics_level")]
    pub level: String,
    /// Legacy form, still accepted by otelcol: `address: 0.0.0.0:8888`.
    #[serde(default)]
    pub address: Option<String>,
    /// Declarative form: `readers: [{pull: {exporter: {prometheus: {host, port}}}}]`.
    #[serde(default)]
    pub readers: Option<Vec<ConfValue>>,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        decode(&ConfValue::empty_map()).expect("defaults decode")
    }
}

fn default_metrics_level() -> String {
    "normal".into()
}

impl MetricsSpec {
    /// Where to serve `/metrics`, or `None` when self-metrics are off (`level: none`).
    pub fn listen_address(&self) -> Result<Option<String>, String> {
        if self.level == "none" {
            return Ok(None);
        }
        if let Some(address) = &self.address {
            return Ok(Some(address.clone()));
        }
        let Some(readers) = &self.readers else {
            return Ok(Some("localhost:8888".into()));
        };
        for reader in readers {
            if let Some(prom) = reader.get(&["pull", "exporter", "prometheus"]) {
                let host = prom
                    .get(&["host"])
                    .map(|h| h.to_string())
                    .unwrap_or("localhost".into());
                let port = prom
                    .get(&["port"])
                    .map(|p| p.to_string())
                    .unwrap_or("8888".into());
                return Ok(Some(format!("{host}:{port}")));
            }
            if reader.get(&["periodic"]).is_some() {
                return Err("periodic metric readers (push to OTLP) are not supported yet; use a pull prometheus reader".into());
            }
        }
        Ok(None)
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub extensions: Vec<String>,
    #[serde(default)]
    pub pipelines: IndexMap<String, PipelineSpec>,
    #[serde(default)]
    pub telemetry: TelemetrySpec,
}

/// A pipeline after its ID and references were checked.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: String,
    pub signal: Signal,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub receivers: IndexMap<ComponentId, ConfValue>,
    pub processors: IndexMap<ComponentId, ConfValue>,
    pub exporters: IndexMap<ComponentId, ConfValue>,
    pub extensions: IndexMap<ComponentId, ConfValue>,
    pub service_extensions: Vec<ComponentId>,
    pub pipelines: Vec<Pipeline>,
    pub telemetry: TelemetrySpec,
}

const TOP_LEVEL_KEYS: [&str; 6] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

/// Validates `root` against the registry; returns every error found, or the config plus warnings.
pub fn validate(
    root: &ConfValue,
    registry: &Registry,
) -> Result<(Config, Vec<String>), Vec<String>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(top) = root.as_map() else {
        return Err(vec!["empty configuration file".into()]);
    };
    for key in top.keys() {
        if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
            errors.push(format!("'' has invalid keys: {key}"));
        }
    }

    let mut sections = Vec::new();
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Extension,
        Kind::Connector,
    ] {
        sections.push(validate_section(
            root,
            kind,
            registry,
            &mut errors,
            &mut warnings,
        ));
    }
    let [receivers, processors, exporters, extensions, _connectors] =
        <[_; 5]>::try_from(sections).expect("five sections");

    if receivers.is_empty() {
        errors.push("no receiver configuration specified in config".into());
    }
    if exporters.is_empty() {
        errors.push("no exporter configuration specified in config".into());
    }

    let service: ServiceSpec = match root.get(&["service"]) {
        None | Some(ConfValue::Null) => ServiceSpec::default(),
        Some(raw) => match decode(raw) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("service: {e}"));
                ServiceSpec::default()
            }
        },
    };
    if let Err(e) = service.telemetry.metrics.listen_address() {
        errors.push(format!("service::telemetry::metrics: {e}"));
    }
    if !["debug", "info", "warn", "error", "dpanic", "panic", "fatal"]
        .contains(&service.telemetry.logs.level.to_ascii_lowercase().as_str())
    {
        errors.push(format!(
            "service::telemetry::logs: unrecognized level: \"{}\"",
            service.telemetry.logs.level
        ));
    }

    let mut service_extensions = Vec::new();
    for ext in &service.extensions {
        match ComponentId::parse(ext) {
            Ok(id) if extensions.contains_key(&id) => service_extensions.push(id),
            Ok(_) => errors.push(format!(
                "service::extensions: references extension \"{ext}\" which is not configured"
            )),
            Err(e) => errors.push(format!("service::extensions: {e}")),
        }
    }

    if service.pipelines.is_empty() {
        errors.push("service must have at least one pipeline".into());
    }
    let mut pipelines = Vec::new();
    for (pipeline_id, spec) in &service.pipelines {
        let prefix = format!("service::pipelines::{pipeline_id}");
        let signal_name = pipeline_id
            .split_once('/')
            .map_or(pipeline_id.as_str(), |(s, _)| s);
        let Some(signal) = Signal::parse(signal_name) else {
            errors.push(format!(
                "{prefix}: unknown signal \"{signal_name}\" (valid values: traces, metrics, logs)"
            ));
            continue;
        };
        if pipeline_id.ends_with('/') {
            errors.push(format!(
                "{prefix}: in \"{pipeline_id}\" id: the part after / should not be empty"
            ));
        }
        if spec.receivers.is_empty() {
            errors.push(format!("{prefix}: must have at least one receiver"));
        }
        if spec.exporters.is_empty() {
            errors.push(format!("{prefix}: must have at least one exporter"));
        }
        let mut resolve =
            |names: &[String], kind: Kind, configured: &IndexMap<ComponentId, ConfValue>| {
                let mut ids = Vec::new();
                for name in names {
                    match ComponentId::parse(name) {
                        Ok(id) if configured.contains_key(&id) => {
                            if kind == Kind::Processor && ids.contains(&id) {
                                errors.push(format!(
                                    "{prefix}: references processor \"{name}\" multiple times"
                                ));
                                continue;
                            }
                            let factory_signals = registry.signals(kind, &id.ty);
                            if !factory_signals.contains(&signal) {
                                errors.push(format!(
                                    "{prefix}: {} \"{name}\" does not support {signal}",
                                    kind.singular()
                                ));
                            }
                            ids.push(id);
                        }
                        Ok(_) => errors.push(format!(
                            "{prefix}: references {} \"{name}\" which is not configured",
                            kind.singular()
                        )),
                        Err(e) => errors.push(format!("{prefix}: {e}")),
                    }
                }
                ids
            };
        let receivers = resolve(&spec.receivers, Kind::Receiver, &receivers);
        let processors = resolve(&spec.processors, Kind::Processor, &processors);
        let exporters = resolve(&spec.exporters, Kind::Exporter, &exporters);
        pipelines.push(Pipeline {
            id: pipeline_id.clone(),
            signal,
            receivers,
            processors,
            exporters,
        });
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let config = Config {
        receivers,
        processors,
        exporters,
        extensions,
        service_extensions,
        pipelines,
        telemetry: service.telemetry,
    };
    Ok((config, warnings))
}

/// Checks one top-level section: IDs, known types (or deprecated aliases), typed settings.
fn validate_section(
    root: &ConfValue,
    kind: Kind,
    registry: &Registry,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> IndexMap<ComponentId, ConfValue> {
    let mut out = IndexMap::new();
    let section = kind.section();
    let entries = match root.get(&[section]) {
        None | Some(ConfValue::Null) => return out,
        Some(ConfValue::Map(m)) => m,
        Some(other) => {
            errors.push(format!("{section}: expected a map, got {}", other.kind()));
            return out;
        }
    };
    for (key, raw) in entries {
        let id = match ComponentId::parse(key) {
            Ok(id) => id,
            Err(e) => {
                errors.push(format!("{section}: {e}"));
                continue;
            }
        };
        let Some(factory_type) = registry.canonical_type(kind, &id.ty) else {
            errors.push(format!(
                "{section}: unknown type: \"{}\" for id: \"{key}\" (valid values: [{}])",
                id.ty,
                registry.types(kind).join(" ")
            ));
            continue;
        };
        if factory_type != id.ty {
            warnings.push(format!(
                "{section}::{key}: \"{}\" alias is deprecated; use \"{factory_type}\" instead",
                id.ty
            ));
        }
        let raw = if raw.is_null() {
            ConfValue::empty_map()
        } else {
            raw.clone()
        };
        if let Err(e) = registry.validate(kind, factory_type, &raw) {
            errors.push(format!("{section}::{key}: {e}"));
        }
        // Keep the ID as written so pipeline references by the old spelling still match.
        out.insert(id, raw);
    }
    out
}
