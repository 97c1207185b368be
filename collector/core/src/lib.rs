//! The Cormorant component API.
//!
//! Every receiver, processor, exporter and extension crate depends on this crate and never on the
//! `cormorant` binary. It holds the in-pipeline data model ([`pdata`]), the consumer chain that
//! carries data and back-pressure ([`consumer`]), the component traits and factories
//! ([`component`]) with the typed adapters components build their factories from ([`factory`]),
//! config helpers ([`config`]), self-telemetry ([`telemetry`]), otelcol's text form of attribute
//! values ([`value_text`]), and the helpers components share instead of each writing their own
//! ([`exporterhelper`], [`processorhelper`], [`http_client`], [`tls`]).

pub mod client;
pub mod component;
pub mod config;
pub mod consumer;
pub mod exporterhelper;
pub mod factory;
pub mod http_client;
pub mod pdata;
pub mod processorhelper;
pub mod prometheus;
pub mod server;
pub mod skywalking_ids;
mod split;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod value_text;

pub use component::{
    ComponentConfig, ComponentError, ComponentId, ConfigError, CreateSettings, Exporter,
    ExporterFactory, Extension, ExtensionFactory, FactoryMeta, Health, Host, Kind, Lifecycle,
    Processor, ProcessorFactory, Receiver, ReceiverConsumers, ReceiverFactory, Stability, VERSION,
    parse_config,
};
pub use consumer::{ConsumeError, Consumer, Fanout, Returned, SharedConsumer};
pub use factory::{exporter_factory, extension_factory, processor_factory, receiver_factory};
pub use pdata::{Payload, Signal};
