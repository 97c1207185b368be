//! The `otlp` receiver: OTLP over gRPC (port 4317) and HTTP (port 4318, protobuf and JSON), with
//! otelcol's config keys, status codes and leniency.
//!
//! One instance serves every pipeline that names it; each signal is only served when some
//! pipeline takes it (gRPC answers UNIMPLEMENTED and HTTP 404 otherwise). Back-pressure from the
//! pipeline reaches the client as a retryable status (UNAVAILABLE / 503, or RESOURCE_EXHAUSTED /
//! 429 with a retry delay when throttled); a permanent rejection of part of a request is reported
//! as an OTLP partial success.
//!
//! Not supported yet: `auth` extensions (rejected at config time), Unix-socket transports, and
//! snappy-compressed gRPC (tonic has no snappy codec; HTTP accepts snappy).

mod config;
mod cors;
mod grpc;
mod http;
mod receiver;

pub use config::{
    CorsConfig, GrpcConfig, HttpConfig, KeepaliveConfig, KeepaliveEnforcementPolicy,
    KeepaliveServerParameters, OtlpReceiverConfig, Protocols,
};
pub use cormorant_core::server::otlp_json as json;
pub use receiver::OtlpReceiver;

use cormorant_core::{FactoryMeta, ReceiverFactory, Signal, Stability, receiver_factory};
use std::sync::Arc;

/// The component type in config IDs.
pub const TYPE: &str = "otlp";

/// The factory the collector's registry lists.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Stable);
    receiver_factory(meta, |settings, config: OtlpReceiverConfig, consumers| {
        Ok(Arc::new(OtlpReceiver::new(settings.id, config, consumers)))
    })
}
