//! Typed factories: a component crate states its [`FactoryMeta`] and how to build the component
//! from its already decoded config, and gets a registry-ready factory trait object.
//!
//! Every factory validates and creates the same way: decode the raw config into the component's
//! [`ComponentConfig`] (unknown keys rejected), run its `validate`, and only then build. Writing
//! that once here keeps the rule identical for every component: `validate` and `create` can never
//! disagree about what a config means, and a component cannot be built from a config that
//! `validate` would refuse.

use crate::component::{
    ComponentConfig, ConfigError, CreateSettings, Exporter, ExporterFactory, Extension,
    ExtensionFactory, FactoryMeta, Processor, ProcessorFactory, Receiver, ReceiverConsumers,
    ReceiverFactory, Stability, parse_config,
};
use crate::consumer::SharedConsumer;
use crate::pdata::Signal;
use cormorant_confmap::ConfValue;
use std::marker::PhantomData;
use std::sync::Arc;

impl FactoryMeta {
    /// A component of type `ty` with no older spellings; extensions handle no `signals`.
    pub const fn new(ty: &'static str, signals: &'static [Signal], stability: Stability) -> Self {
        FactoryMeta {
            ty,
            aliases: &[],
            signals,
            stability,
        }
    }

    /// The same component, also answering to `aliases` (names otelcol used before a rename).
    pub const fn with_aliases(self, aliases: &'static [&'static str]) -> Self {
        FactoryMeta { aliases, ..self }
    }
}

/// A factory for components configured by `C`, built by `build`.
///
/// `build` is any `Fn` (not only a plain `fn`) so a factory can keep state shared by the
/// components it creates, such as one output file for all signals of an exporter ID.
struct TypedFactory<C, B> {
    meta: FactoryMeta,
    build: B,
    /// `fn() -> C`: the factory produces `C` values but owns none, so it is `Send + Sync`
    /// whatever `C` is.
    config: PhantomData<fn() -> C>,
}

/// Writes one kind's adapter: its public constructor and its factory trait impl. The four kinds
/// differ only in the factory trait, the component trait, and the pipeline wiring (`$wiring`)
/// that `create` receives and hands on to `build` after the config.
macro_rules! typed_factory {
    (
        $(#[$doc:meta])*
        $constructor:ident: $factory:ident -> $component:ident ($($wiring:ident: $wiring_ty:ty),*)
    ) => {
        $(#[$doc])*
        pub fn $constructor<C, B>(meta: FactoryMeta, build: B) -> Arc<dyn $factory>
        where
            C: ComponentConfig + 'static,
            B: Fn(CreateSettings, C $(, $wiring_ty)*) -> Result<Arc<dyn $component>, ConfigError>
                + Send
                + Sync
                + 'static,
        {
            Arc::new(TypedFactory {
                meta,
                build,
                config: PhantomData,
            })
        }

        impl<C, B> $factory for TypedFactory<C, B>
        where
            C: ComponentConfig,
            B: Fn(CreateSettings, C $(, $wiring_ty)*) -> Result<Arc<dyn $component>, ConfigError>
                + Send
                + Sync,
        {
            fn meta(&self) -> FactoryMeta {
                self.meta
            }

            fn validate(&self, config: &ConfValue) -> Result<(), ConfigError> {
                parse_config::<C>(config).map(drop)
            }

            fn create(
                &self,
                settings: CreateSettings,
                config: &ConfValue
                $(, $wiring: $wiring_ty)*
            ) -> Result<Arc<dyn $component>, ConfigError> {
                (self.build)(settings, parse_config(config)? $(, $wiring)*)
            }
        }
    };
}

typed_factory! {
    /// A receiver factory for settings `C`; `build` gets them decoded and validated, with the
    /// consumers of the pipelines the receiver feeds.
    receiver_factory: ReceiverFactory -> Receiver(consumers: ReceiverConsumers)
}

typed_factory! {
    /// A processor factory for settings `C`; `build` gets them decoded and validated, with the
    /// pipeline's signal and the consumer to feed.
    processor_factory: ProcessorFactory -> Processor(signal: Signal, next: SharedConsumer)
}

typed_factory! {
    /// An exporter factory for settings `C`; `build` gets them decoded and validated, with the
    /// signal the exporter is created for.
    exporter_factory: ExporterFactory -> Exporter(signal: Signal)
}

typed_factory! {
    /// An extension factory for settings `C`; `build` gets them decoded and validated.
    extension_factory: ExtensionFactory -> Extension()
}
