//! The `debug` exporter: writes what reaches it to Cormorant's own log, for checking a pipeline
//! by eye. `verbosity: basic` logs one line of counts per batch, `normal` adds one line per span,
//! data point or log record, and `detailed` dumps every field.

mod sampler;
pub mod text;

use async_trait::async_trait;
use cormorant_core::{
    ComponentConfig, ConsumeError, Consumer, Exporter, ExporterFactory, FactoryMeta, Lifecycle,
    Payload, Returned, Signal, Stability, exporter_factory,
};
use sampler::Sampler;
use serde::Deserialize;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugExporterConfig {
    pub verbosity: Verbosity,
    /// Batches written per second before sampling starts.
    pub sampling_initial: u64,
    /// After the initial ones, every n-th batch of the second is written.
    pub sampling_thereafter: u64,
    /// `false` writes to standard output instead of the log, as otelcol does.
    pub use_internal_logger: bool,
}

impl Default for DebugExporterConfig {
    fn default() -> Self {
        DebugExporterConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
        }
    }
}

impl ComponentConfig for DebugExporterConfig {}

struct DebugExporter {
    id: String,
    verbosity: Verbosity,
    use_internal_logger: bool,
    sampler: Sampler,
}

impl DebugExporter {
    fn render(&self, payload: &Payload) -> String {
        let summary = text::summary(payload);
        let body = match self.verbosity {
            Verbosity::Basic => return summary,
            Verbosity::Normal => text::normal(payload),
            Verbosity::Detailed => text::detailed(payload),
        };
        format!("{summary}\n{body}")
    }
}

#[async_trait]
impl Consumer for DebugExporter {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.write(&payload);
        Ok(())
    }

    /// Never refuses, so there is nothing to hand back (and no copy to keep for it).
    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        self.write(&payload);
        Ok(())
    }
}

impl DebugExporter {
    fn write(&self, payload: &Payload) {
        if !self.sampler.admit() {
            return;
        }
        let rendered = self.render(payload);
        if self.use_internal_logger {
            tracing::info!(exporter = %self.id, "{rendered}");
        } else {
            // A closed stdout is not the pipeline's problem: the data is accepted either way.
            let _ = writeln!(std::io::stdout().lock(), "{rendered}");
        }
    }
}

impl Lifecycle for DebugExporter {}

impl Exporter for DebugExporter {}

/// The `debug` exporter factory.
pub fn factory() -> Arc<dyn ExporterFactory> {
    let meta = FactoryMeta::new("debug", &Signal::ALL, Stability::Development);
    exporter_factory(meta, |settings, config: DebugExporterConfig, _signal| {
        Ok(Arc::new(DebugExporter {
            id: settings.id.to_string(),
            verbosity: config.verbosity,
            use_internal_logger: config.use_internal_logger,
            sampler: Sampler::new(config.sampling_initial, config.sampling_thereafter),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_confmap::parse_yaml;
    use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
    use cormorant_core::{ConfigError, CreateSettings, parse_config};

    fn parse(yaml: &str) -> Result<DebugExporterConfig, ConfigError> {
        parse_config(&parse_yaml(yaml).unwrap())
    }

    fn spans() -> Payload {
        Payload::Traces(vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    Span {
                        name: "a".into(),
                        ..Span::default()
                    },
                    Span {
                        name: "b".into(),
                        ..Span::default()
                    },
                ],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }])
    }

    fn exporter(verbosity: Verbosity) -> DebugExporter {
        DebugExporter {
            id: "debug".into(),
            verbosity,
            use_internal_logger: true,
            sampler: Sampler::new(2, 1),
        }
    }

    #[test]
    fn config_defaults_and_keys() {
        assert_eq!(parse("{}").unwrap(), DebugExporterConfig::default());
        let config =
            parse("verbosity: detailed\nsampling_initial: 5\nsampling_thereafter: 200").unwrap();
        assert_eq!(config.verbosity, Verbosity::Detailed);
        assert_eq!(
            (config.sampling_initial, config.sampling_thereafter),
            (5, 200)
        );
        assert!(parse("verbosity: loud").is_err());
        assert!(
            parse("loglevel: debug")
                .unwrap_err()
                .to_string()
                .contains("invalid keys: loglevel")
        );
    }

    #[test]
    fn verbosity_decides_what_is_rendered() {
        let basic = exporter(Verbosity::Basic).render(&spans());
        assert_eq!(basic, "Traces {\"resource spans\": 1, \"spans\": 2}");
        let normal = exporter(Verbosity::Normal).render(&spans());
        assert!(normal.starts_with(&basic));
        assert_eq!(normal.lines().count(), 1 + 2 + 2);
        let detailed = exporter(Verbosity::Detailed).render(&spans());
        assert!(
            detailed.contains("Span #1") && detailed.contains("Name: b"),
            "{detailed}"
        );
    }

    #[test]
    fn summaries_count_each_signal() {
        assert_eq!(
            text::summary(&Payload::empty(Signal::Metrics)),
            "Metrics {\"resource metrics\": 0, \"metrics\": 0, \"data points\": 0}"
        );
        assert_eq!(
            text::summary(&Payload::empty(Signal::Logs)),
            "Logs {\"resource logs\": 0, \"log records\": 0}"
        );
    }

    #[tokio::test]
    async fn the_factory_builds_an_exporter_that_accepts_data() {
        let settings = CreateSettings {
            id: cormorant_core::ComponentId::new("debug"),
        };
        let config = parse_yaml("verbosity: normal").unwrap();
        let exporter = factory().create(settings, &config, Signal::Traces).unwrap();
        exporter.consume(spans()).await.unwrap();
    }
}
