//! `file` exporter: writes every request it receives to a local file, as otelcol-contrib's
//! fileexporter does, so pipelines can be inspected (and tested end to end) without a backend.
//!
//! - `format: json` (default): one OTLP JSON `Export*ServiceRequest` per line.
//! - `format: proto`: each protobuf request preceded by its 4-byte big-endian length.
//! - `compression: zstd`: each message compressed on its own and length-prefixed.
//! - `append` (default false: the file is truncated at start), `flush_interval` (default 1s),
//!   `create_directory`, `directory_permissions`.
//!
//! Writes go through a buffer that is flushed every `flush_interval` and at shutdown. All signals
//! of one exporter ID share one file and one writer task.

mod config;
mod encode;
mod sink;

pub use config::{Compression, DEFAULT_FLUSH_INTERVAL, FileExporterConfig, Format};
pub use encode::{EncodeError, Encoder};
pub use sink::SinkError;

use async_trait::async_trait;
use cormorant_core::telemetry::ExporterTelemetry;
use cormorant_core::{
    ComponentError, ComponentId, ConsumeError, Consumer, Exporter, ExporterFactory, FactoryMeta,
    Host, Lifecycle, Payload, Returned, Signal, Stability, exporter_factory,
};
use sink::FileSink;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// The component type in configs.
pub const TYPE: &str = "file";

/// The factory registered in the collector's component registry.
pub fn factory() -> Arc<dyn ExporterFactory> {
    let meta = FactoryMeta::new(TYPE, &Signal::ALL, Stability::Alpha);
    let sinks = SinksById::default();
    exporter_factory(meta, move |settings, config: FileExporterConfig, signal| {
        let encoder = Encoder::new(config.format, config.compression);
        Ok(Arc::new(FileExporter {
            id: settings.id.clone(),
            encoder,
            sink: sinks.sink_for(&settings.id, config),
            telemetry: ExporterTelemetry::new(&settings.id, signal),
        }))
    })
}

/// The factory's memory of the sinks it made, so every signal of one exporter ID gets the same
/// [`FileSink`] (one file, one writer task).
#[derive(Default)]
struct SinksById {
    sinks: Mutex<HashMap<ComponentId, Weak<FileSink>>>,
}

impl SinksById {
    /// The live sink of `id` when it was made for the same settings, or a new one.
    fn sink_for(&self, id: &ComponentId, config: FileExporterConfig) -> Arc<FileSink> {
        let mut sinks = self.sinks.lock().expect("file exporter sinks lock");
        sinks.retain(|_, sink| sink.strong_count() > 0);
        if let Some(sink) = sinks.get(id).and_then(Weak::upgrade)
            && *sink.config() == config
        {
            return sink;
        }
        let sink = Arc::new(FileSink::new(config));
        sinks.insert(id.clone(), Arc::downgrade(&sink));
        sink
    }
}

/// One signal's view of a `file` exporter.
pub struct FileExporter {
    id: ComponentId,
    encoder: Encoder,
    sink: Arc<FileSink>,
    telemetry: ExporterTelemetry,
}

#[async_trait]
impl Consumer for FileExporter {
    /// Encodes on the caller's task, then waits until the writer has taken the bytes, so an
    /// acknowledged request is in the file's buffer. Failures are permanent: writing the same
    /// bytes again would not make an unwritable file writable.
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        self.write(&payload).await
    }

    /// The payload is only read, so a refusal hands it back untouched for a later retry.
    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        match self.write(&payload).await {
            Ok(()) => Ok(()),
            Err(error) => Err(Returned { error, payload }),
        }
    }
}

impl FileExporter {
    async fn write(&self, payload: &Payload) -> Result<(), ConsumeError> {
        let items = payload.item_count();
        let bytes = match self.encoder.encode(payload) {
            Ok(bytes) => bytes,
            Err(error) => return Err(self.dropped(items, error.to_string())),
        };
        match self.sink.write(bytes).await {
            Ok(()) => {
                self.telemetry.sent(items);
                Ok(())
            }
            // Not started yet or already stopped: the sender may deliver it to a running
            // collector later.
            Err(error @ SinkError::NotRunning(_)) => {
                Err(ConsumeError::unavailable(error.to_string()))
            }
            Err(error) => Err(self.dropped(items, error.to_string())),
        }
    }

    fn dropped(&self, items: usize, message: String) -> ConsumeError {
        self.telemetry.send_failed(items);
        tracing::error!(exporter = %self.id, items, error = %message, "file exporter: dropping data");
        ConsumeError::permanent(message, items)
    }
}

#[async_trait]
impl Lifecycle for FileExporter {
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.sink
            .start()
            .await
            .map_err(|e| ComponentError::Failed(e.to_string()))
    }

    async fn shutdown(&self, deadline: tokio::time::Instant) -> Result<(), ComponentError> {
        self.sink
            .shutdown(deadline)
            .await
            .map_err(|e| ComponentError::Failed(e.to_string()))
    }
}

impl Exporter for FileExporter {}
