//! The `integration` receiver: the HTTP listener agents of other ecosystems push to, on DeepFlow's
//! port 38086, feeding the data into the pipelines as OTLP.
//!
//! It serves, on one HTTP/1.1 + h2c (or TLS) listener:
//! - OTLP/HTTP traces from APISIX's `opentelemetry` plugin on `/api/v1/otel/trace` (and
//!   `/api/v1/otel/trace/v1/traces`), plus plain `/v1/traces`, `/v1/metrics`, `/v1/logs`, decoded
//!   exactly as the `otlp` receiver does; trace resources without `service.name` get the
//!   configured `service_name`;
//! - Prometheus remote_write 1.0 and 2.0 on `POST /api/v1/prometheus` (snappy block format,
//!   `prometheus.WriteRequest` or `io.prometheus.write.v2.Request`, chosen by `Content-Type`),
//!   converted to OTLP metrics (see [`convert`], [`remote_write_v2`]);
//! - InfluxDB line protocol from Telegraf on `POST /api/v1/telegraf` (see [`influx`]).
//!
//! Every other path answers 404, another method 405, an over-limit body 413, and pipeline
//! back-pressure 503/429 with `Retry-After`, as the `otlp` receiver does. A route is only served
//! when some pipeline takes its signal.
//!
//! The crate also provides the `prometheusremotewrite` receiver ([`prometheusremotewrite`]): the
//! same remote_write route alone, on its own listener and path.

pub mod config;
pub mod convert;
mod http;
pub mod influx;
mod otlp;
pub mod prometheusremotewrite;
mod receiver;
pub mod remote_write;
mod remote_write_route;
mod remote_write_telemetry;
pub mod remote_write_v2;

pub use config::IntegrationReceiverConfig;
pub use prometheusremotewrite::{PrometheusRemoteWriteConfig, PrometheusRemoteWriteReceiver};
pub use receiver::IntegrationReceiver;

use cormorant_core::{FactoryMeta, ReceiverFactory, Signal, Stability, receiver_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "integration";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    receiver_factory(
        meta,
        |settings, config: IntegrationReceiverConfig, consumers| {
            Ok(Arc::new(IntegrationReceiver::new(
                settings.id,
                config,
                consumers,
            )))
        },
    )
}

/// The `prometheusremotewrite` factory: the same remote_write endpoint under contrib's name.
pub fn prometheusremotewrite_factory() -> Arc<dyn ReceiverFactory> {
    let meta = FactoryMeta::new(
        prometheusremotewrite::TYPE,
        &[Signal::Metrics],
        Stability::Alpha,
    );
    receiver_factory(
        meta,
        |settings, config: PrometheusRemoteWriteConfig, consumers| {
            Ok(Arc::new(PrometheusRemoteWriteReceiver::new(
                settings.id,
                config,
                consumers,
            )))
        },
    )
}
