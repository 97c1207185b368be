//! The one thing an exporter has to write itself: how to deliver one payload to its destination.

use crate::component::{ComponentError, Host};
use crate::pdata::Payload;
use async_trait::async_trait;
use std::time::Duration;

/// Why one delivery attempt failed; decides whether the helper tries again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The destination may accept the same data later (unavailable, throttled, timed out).
    /// `retry_after` is the destination's own hint and is used as the minimum wait.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The destination will never accept this data (bad request, unauthorized, ...).
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError::Permanent(message.into())
    }
}

/// A delivery the destination answered with success. OTLP destinations may still reject part
/// of the data (`partial_success`); the helper logs that and counts the rejected items as failed,
/// and does not retry them, as the OTLP specification requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOutcome {
    pub rejected_items: usize,
    /// The destination's explanation; a message with no rejected items is a warning.
    pub message: String,
}

impl SendOutcome {
    /// Everything was accepted.
    pub fn accepted() -> Self {
        SendOutcome::default()
    }

    pub fn partially_rejected(rejected_items: usize, message: impl Into<String>) -> Self {
        SendOutcome {
            rejected_items,
            message: message.into(),
        }
    }
}

/// Delivers payloads to one destination. The helper calls `send` from several workers at once,
/// once per attempt, and owns timeouts, retries, queueing and telemetry.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError>;

    /// Runs when the exporter starts, before any data is sent: connect, check or create schema.
    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Runs once the queue has been drained (or the deadline passed): release connections.
    async fn shutdown(&self) {}
}
