//! The `skywalking` receiver: SkyWalking agents (Java, Python, Node.js, Go, nginx-lua) report
//! here as they would to an OAP server, and their segments, meters and log lines become OTLP
//! spans, metrics and log records in the pipelines.
//!
//! ```yaml
//! receivers:
//!   skywalking:
//!     protocols:
//!       grpc: {endpoint: 0.0.0.0:11800}
//!       http: {endpoint: 0.0.0.0:12800}
//! ```
//!
//! JVM and CLR metrics, profiling and the rest of what agents send are answered and not kept.

pub mod config;
mod grpc;
mod http;
mod ingest;
pub mod json;
pub mod logs;
pub mod meters;
pub mod proto;
mod receiver;
pub mod traces;

pub use config::SkyWalkingReceiverConfig;
pub use receiver::SkyWalkingReceiver;

use cormorant_core::{FactoryMeta, ReceiverFactory, Signal, Stability, receiver_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "skywalking";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    receiver_factory(
        meta,
        |settings, config: SkyWalkingReceiverConfig, consumers| {
            Ok(Arc::new(SkyWalkingReceiver::new(
                settings.id,
                &config,
                consumers,
            )))
        },
    )
}
