//! The `otlp_grpc` exporter (alias `otlp`).

pub mod config;
mod force_tls;
mod sender;

use config::GrpcExporterConfig;
use cormorant_confmap::ConfValue;
use cormorant_core::exporterhelper::QueuedExporter;
use cormorant_core::pdata::Signal;
use cormorant_core::{
    ConfigError, CreateSettings, Exporter, ExporterFactory, FactoryMeta, Stability, parse_config,
};
use sender::GrpcSender;
use std::sync::Arc;

pub(crate) struct GrpcFactory;

impl ExporterFactory for GrpcFactory {
    fn meta(&self) -> FactoryMeta {
        FactoryMeta {
            ty: "otlp_grpc",
            aliases: &["otlp"],
            signals: &Signal::ALL,
            stability: Stability::Stable,
        }
    }

    fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
        parse_config::<GrpcExporterConfig>(config).map(drop)
    }

    fn create(
        &self,
        settings: CreateSettings,
        config: &ConfValue,
        signal: Signal,
    ) -> Result<Arc<dyn Exporter>, ConfigError> {
        let config: GrpcExporterConfig = parse_config(config)?;
        let sender = GrpcSender::new(&config)?;
        Ok(Arc::new(QueuedExporter::new(
            &settings.id,
            signal,
            config.helper_settings(),
            sender,
        )))
    }
}
