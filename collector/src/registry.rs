//! The one registry of every component type built into this binary.

use cormorant_confmap::ConfValue;
use cormorant_core::{
    ConfigError, ExporterFactory, ExtensionFactory, FactoryMeta, Kind, ProcessorFactory,
    ReceiverFactory, Signal,
};
use std::sync::Arc;

pub struct Registry {
    pub receivers: Vec<Arc<dyn ReceiverFactory>>,
    pub processors: Vec<Arc<dyn ProcessorFactory>>,
    pub exporters: Vec<Arc<dyn ExporterFactory>>,
    pub extensions: Vec<Arc<dyn ExtensionFactory>>,
}

fn matches(meta: &FactoryMeta, ty: &str) -> bool {
    meta.ty == ty || meta.aliases.contains(&ty)
}

fn find<'a, F: ?Sized>(
    list: &'a [Arc<F>],
    ty: &str,
    meta: impl Fn(&F) -> FactoryMeta,
) -> Option<&'a Arc<F>> {
    list.iter().find(|f| matches(&meta(f), ty))
}

impl Registry {
    /// Every component compiled into Cormorant.
    pub fn builtin() -> Self {
        Registry {
            receivers: vec![
                cormorant_receiver_otlp::factory(),
                cormorant_receiver_integration::factory(),
                cormorant_receiver_integration::prometheusremotewrite_factory(),
                cormorant_receiver_ebpf::receiver::factory(),
                cormorant_receiver_skywalking::factory(),
            ],
            processors: vec![
                cormorant_processor_batch::factory(),
                cormorant_processor_memory_limiter::factory(),
                cormorant_processor_attributes::factory(),
                cormorant_processor_resource::factory(),
                cormorant_processor_filter::factory(),
                cormorant_processor_transform::factory(),
            ],
            exporters: vec![
                cormorant_exporter_otlp::grpc_factory(),
                cormorant_exporter_otlp::http_factory(),
                cormorant_exporter_debug::factory(),
                cormorant_exporter_nop::factory(),
                cormorant_exporter_file::factory(),
                cormorant_exporter_clickhouse::factory(),
            ],
            extensions: vec![cormorant_extension_health_check::factory()],
        }
    }

    /// Metadata of every factory of one kind, in registration order.
    pub fn metas(&self, kind: Kind) -> Vec<FactoryMeta> {
        match kind {
            Kind::Receiver => self.receivers.iter().map(|f| f.meta()).collect(),
            Kind::Processor => self.processors.iter().map(|f| f.meta()).collect(),
            Kind::Exporter => self.exporters.iter().map(|f| f.meta()).collect(),
            Kind::Extension => self.extensions.iter().map(|f| f.meta()).collect(),
            Kind::Connector => Vec::new(),
        }
    }

    fn meta(&self, kind: Kind, ty: &str) -> Option<FactoryMeta> {
        self.metas(kind).into_iter().find(|m| matches(m, ty))
    }

    /// The current type name for `ty`, which may be a deprecated alias.
    pub fn canonical_type(&self, kind: Kind, ty: &str) -> Option<&'static str> {
        self.meta(kind, ty).map(|m| m.ty)
    }

    pub fn types(&self, kind: Kind) -> Vec<&'static str> {
        self.metas(kind).iter().map(|m| m.ty).collect()
    }

    pub fn signals(&self, kind: Kind, ty: &str) -> &'static [Signal] {
        self.meta(kind, ty).map_or(&[], |m| m.signals)
    }

    pub fn validate(&self, kind: Kind, ty: &str, raw: &ConfValue) -> Result<(), ConfigError> {
        let missing = || ConfigError::Invalid(format!("unknown {} type \"{ty}\"", kind.singular()));
        match kind {
            Kind::Receiver => self.receiver(ty).ok_or_else(missing)?.validate(raw),
            Kind::Processor => self.processor(ty).ok_or_else(missing)?.validate(raw),
            Kind::Exporter => self.exporter(ty).ok_or_else(missing)?.validate(raw),
            Kind::Extension => self.extension(ty).ok_or_else(missing)?.validate(raw),
            Kind::Connector => Err(missing()),
        }
    }

    pub fn receiver(&self, ty: &str) -> Option<&Arc<dyn ReceiverFactory>> {
        find(&self.receivers, ty, |f| f.meta())
    }

    pub fn processor(&self, ty: &str) -> Option<&Arc<dyn ProcessorFactory>> {
        find(&self.processors, ty, |f| f.meta())
    }

    pub fn exporter(&self, ty: &str) -> Option<&Arc<dyn ExporterFactory>> {
        find(&self.exporters, ty, |f| f.meta())
    }

    pub fn extension(&self, ty: &str) -> Option<&Arc<dyn ExtensionFactory>> {
        find(&self.extensions, ty, |f| f.meta())
    }
}
