//! OTLP exporters: `otlp_grpc` (alias `otlp`) and `otlp_http` (alias `otlphttp`).
//!
//! Both send all three signals with otelcol's config keys, retry by the OTLP specification's
//! rules (HTTP 429/502/503/504 and the retryable gRPC codes, honouring `Retry-After` and
//! `RetryInfo`), and queue through the shared exporter helper. The in-pipeline data already is
//! the OTLP protobuf model, so it is sent without conversion.

mod common;
pub mod grpc;
pub mod http;

pub use common::Compression;
use cormorant_core::ExporterFactory;
use std::sync::Arc;

/// The `otlp_grpc` factory (also answers to `otlp`).
pub fn grpc_factory() -> Arc<dyn ExporterFactory> {
    grpc::factory()
}

/// The `otlp_http` factory (also answers to `otlphttp`).
pub fn http_factory() -> Arc<dyn ExporterFactory> {
    http::factory()
}
