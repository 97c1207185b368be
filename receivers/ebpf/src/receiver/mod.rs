//! The `ebpf` receiver: zero-code capture of HTTP/1.x, Redis and DNS requests through the
//! kernel socket tracer (`cormorant-ebpf`), turned into spans with AutoTracing ids and into
//! RED metrics.
//!
//! - [`config`]: settings and their validation.
//! - [`runtime`]: start (load and attach), the event task, delivery to the pipelines, shutdown.
//! - [`capture`]: event processing without I/O: filters, connection table, inference, pairing.
//! - [`autotrace`]: trace and span ids: trace headers, thread association, TCP sequence links.
//! - [`spans`]: OTLP spans from exchanges.

pub mod autotrace;
pub mod capture;
pub mod config;
pub mod connections;
pub mod runtime;
pub mod spans;
pub mod telemetry;

use std::sync::Arc;

use cormorant_core::{FactoryMeta, ReceiverFactory, Signal, Stability, receiver_factory};

pub use config::EbpfReceiverConfig;
pub use runtime::EbpfReceiver;

/// The component type in config IDs.
pub const TYPE: &str = "ebpf";

/// The factory the collector's registry lists. The service creates one receiver per id for
/// every pipeline naming it, so traces and metrics pipelines share one tracer.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    let meta = FactoryMeta::new(
        TYPE,
        &[Signal::Traces, Signal::Metrics],
        Stability::Development,
    );
    receiver_factory(meta, |settings, config: EbpfReceiverConfig, consumers| {
        Ok(Arc::new(EbpfReceiver::new(settings.id, config, consumers)))
    })
}
