//! The `clickhouse` exporter: stores traces, metrics and logs in ClickHouse tables shaped like the
//! OpenTelemetry Collector contrib clickhouseexporter's (so Grafana's ClickHouse data source reads
//! them unchanged), plus columns for what eBPF capture adds.
//!
//! - [`schema`]: table definitions and the numbered migrations that create and evolve them.
//! - [`rows`]: RowBinary encoding of a payload into one body per table.
//! - [`config`], [`endpoint`]: contrib's settings; [`client`], [`compress`], [`error`]: the HTTP
//!   interface with ClickHouse's compressed-block framing and error classification;
//!   [`migrate`]: the migration runner; [`exporter`]: the [`Sender`] that inserts a payload.
//!
//! [`Sender`]: cormorant_core::exporterhelper::Sender

pub mod client;
pub mod compress;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod exporter;
pub mod migrate;
pub mod rows;
pub mod schema;

use config::ClickHouseConfig;
use cormorant_core::exporterhelper::QueuedExporter;
use cormorant_core::{ExporterFactory, FactoryMeta, Signal, Stability, exporter_factory};
use exporter::{ClickHouseSender, Destinations};
use std::sync::Arc;

/// The component type in configs.
pub const TYPE: &str = "clickhouse";

/// The factory registered in the collector's component registry. contrib rates traces and logs
/// beta and metrics alpha; one rating covers all signals here, so the lower one.
pub fn factory() -> Arc<dyn ExporterFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    let destinations = Destinations::default();
    exporter_factory(meta, move |settings, config: ClickHouseConfig, signal| {
        let helper = config.helper_settings();
        let sender =
            ClickHouseSender::new(&settings.id, destinations.for_id(&settings.id, config)?);
        Ok(Arc::new(QueuedExporter::new(
            &settings.id,
            signal,
            helper,
            sender,
        )))
    })
}
