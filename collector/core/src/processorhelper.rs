//! Processors that change data in place (`attributes`, `resource`): the consumer plumbing written
//! once, so each such processor is only its transformation.
//!
//! Like otelcol's `processorhelper`, it counts incoming and outgoing items for the processor's
//! self-metrics, and does not send on a payload the transformation left without any resource.

use crate::component::{
    ComponentConfig, ComponentId, ConfigError, FactoryMeta, Lifecycle, Processor, ProcessorFactory,
};
use crate::consumer::{ConsumeError, Consumer, SharedConsumer};
use crate::factory::processor_factory;
use crate::pdata::{Payload, Signal};
use crate::telemetry::ProcessorTelemetry;
use async_trait::async_trait;
use std::sync::Arc;

/// A change applied to each payload of one signal.
pub trait PayloadTransform: Send + Sync + 'static {
    fn transform(&self, payload: &mut Payload);
}

/// A processor made of a [`PayloadTransform`] and the consumer after it.
///
/// It keeps the default `consume_or_return`, which hands back the payload as it was offered: a
/// caller that retries (the batch processor) must not get an already transformed payload, or a
/// `hash` action would hash twice.
pub struct TransformProcessor<T> {
    transform: T,
    next: SharedConsumer,
    telemetry: ProcessorTelemetry,
}

impl<T: PayloadTransform> TransformProcessor<T> {
    pub fn new(id: &ComponentId, signal: Signal, transform: T, next: SharedConsumer) -> Self {
        TransformProcessor {
            transform,
            next,
            telemetry: ProcessorTelemetry::new(id, signal),
        }
    }
}

#[async_trait]
impl<T: PayloadTransform> Consumer for TransformProcessor<T> {
    async fn consume(&self, mut payload: Payload) -> Result<(), ConsumeError> {
        self.telemetry.incoming(payload.item_count());
        self.transform.transform(&mut payload);
        self.telemetry.outgoing(payload.item_count());
        if payload.is_empty() {
            return Ok(());
        }
        self.next.consume(payload).await
    }
}

impl<T: PayloadTransform> Lifecycle for TransformProcessor<T> {}

impl<T: PayloadTransform> Processor for TransformProcessor<T> {}

/// The factory of a processor that is only a [`PayloadTransform`]: `build` compiles the
/// transform from the processor's ID, settings and pipeline signal. Its errors are reported
/// prefixed with the ID and signal, since a config may suit one signal and not another.
pub fn transform_factory<C, T, B>(meta: FactoryMeta, build: B) -> Arc<dyn ProcessorFactory>
where
    C: ComponentConfig + 'static,
    T: PayloadTransform,
    B: Fn(&ComponentId, &C, Signal) -> Result<T, ConfigError> + Send + Sync + 'static,
{
    processor_factory(meta, move |settings, config: C, signal, next| {
        let transform = build(&settings.id, &config, signal)
            .map_err(|err| ConfigError::Invalid(format!("{} for {signal}: {err}", settings.id)))?;
        Ok(Arc::new(TransformProcessor::new(
            &settings.id,
            signal,
            transform,
            next,
        )))
    })
}
