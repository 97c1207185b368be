//! The `otlp_http` exporter (alias `otlphttp`).

mod codec;
pub mod config;
mod sender;

use config::HttpExporterConfig;
use cormorant_confmap::ConfValue;
use cormorant_core::exporterhelper::QueuedExporter;
use cormorant_core::pdata::Signal;
use cormorant_core::{
    ConfigError, CreateSettings, Exporter, ExporterFactory, FactoryMeta, Stability, parse_config,
};
use sender::HttpSender;
use std::sync::Arc;

pub(crate) struct HttpFactory;

impl ExporterFactory for HttpFactory {
    fn meta(&self) -> FactoryMeta {
        FactoryMeta {
            ty: "otlp_http",
            aliases: &["otlphttp"],
            signals: &Signal::ALL,
            stability: Stability::Stable,
        }
    }

    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
        parse_config::<HttpExporterConfig>(config).map(drop)
    }

    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
    ) -> Result<Arc<dyn Exporter>, ConfigError> {
        let config: HttpExporterConfig = parse_config(config)?;
        let sender = HttpSender::new(&config, signal)?;
        Ok(Arc::new(QueuedExporter::new(
            &settings.id,
            signal,
            config.helper_settings(),
            sender,
        )))
    }
}
