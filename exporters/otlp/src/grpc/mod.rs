//! The `otlp_grpc` exporter (alias `otlp`).

pub mod config;
mod force_tls;
mod sender;

use config::GrpcExporterConfig;
use cormorant_core::exporterhelper::QueuedExporter;
use cormorant_core::{ExporterFactory, FactoryMeta, Signal, Stability, exporter_factory};
use sender::GrpcSender;
use std::sync::Arc;

/// The `otlp_grpc` factory (also answers to `otlp`).
pub(crate) fn factory() -> Arc<dyn ExporterFactory> {
    let meta =
        FactoryMeta::new("otlp_grpc", &Signal::ALL, Stability::Stable).with_aliases(&["otlp"]);
    exporter_factory(meta, |settings, config: GrpcExporterConfig, signal| {
        let sender = GrpcSender::new(&config)?;
        let exporter = QueuedExporter::new(&settings.id, signal, config.helper_settings(), sender);
        Ok(Arc::new(exporter))
    })
}
