//! The `otlp_http` exporter (alias `otlphttp`).

mod codec;
pub mod config;
mod sender;

use config::HttpExporterConfig;
use cormorant_core::exporterhelper::QueuedExporter;
use cormorant_core::{ExporterFactory, FactoryMeta, Signal, Stability, exporter_factory};
use sender::HttpSender;
use std::sync::Arc;

/// The `otlp_http` factory (also answers to `otlphttp`).
pub(crate) fn factory() -> Arc<dyn ExporterFactory> {
    let meta =
        FactoryMeta::new("otlp_http", &Signal::ALL, Stability::Stable).with_aliases(&["otlphttp"]);
    exporter_factory(meta, |settings, config: HttpExporterConfig, signal| {
        let sender = HttpSender::new(&config, signal)?;
        let exporter = QueuedExporter::new(&settings.id, signal, config.helper_settings(), sender);
        Ok(Arc::new(exporter))
    })
}
