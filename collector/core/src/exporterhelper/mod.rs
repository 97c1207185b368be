//! What every exporter shares: per-attempt timeouts, retries with exponential backoff, and a
//! bounded sending queue, configured with otelcol's `timeout`, `retry_on_failure` and
//! `sending_queue` keys and reported through otelcol's exporter metrics.
//!
//! An exporter implements [`Sender`] (deliver one payload, classify failures as retryable or
//! permanent) and wraps it in a [`QueuedExporter`], which is the pipeline-facing [`Exporter`].
//! With `sending_queue::batch`, payloads are merged into larger requests before they are queued.
//! Unlike otelcol, a full queue does not drop data: it refuses it with a retryable error so the
//! back-pressure reaches the client.
//!
//! [`Exporter`]: crate::component::Exporter

mod batcher;
mod exporter;
mod queue;
mod retry;
mod sender;
mod settings;

pub use exporter::{QueuedExporter, QueuedExporterSettings};
pub use sender::{SendError, SendOutcome, Sender};
pub use settings::{BatchSetting, QueueSetting, QueueSizer, RetrySetting, TimeoutSetting};
