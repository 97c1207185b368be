//! The consumer chain: how data and back-pressure move between components.
//!
//! A receiver hands a [`Payload`] to the first consumer of its pipeline and awaits the result. Each
//! processor passes data on to the next consumer; the last one is a fan-out to the exporters. A
//! consumer that cannot take data returns [`ConsumeError::Refused`], which travels back to the receiver
//! unchanged, so the client is told to retry instead of the data being buffered without bound or
//! dropped.

use crate::pdata::Payload;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Why a consumer did not take a payload.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConsumeError {
    /// Temporary: the pipeline is full, memory is high, or a downstream is unavailable. The sender
    /// should retry. Receivers answer OTLP/HTTP 503 and gRPC UNAVAILABLE, or 429 and
    /// RESOURCE_EXHAUSTED when `throttled`, with `retry_after` as `Retry-After` / `RetryInfo`.
    #[error("{message}")]
    Refused {
        message: String,
        retry_after: Option<Duration>,
        throttled: bool,
    },
    /// The data can never be accepted. `rejected_items` of the payload were dropped; when that is
    /// fewer than the payload held, the receiver reports a partial success.
    #[error("{message}")]
    Permanent {
        message: String,
        rejected_items: usize,
    },
}

impl ConsumeError {
    /// A retryable refusal (503 / UNAVAILABLE).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ConsumeError::Refused {
            message: message.into(),
            retry_after: None,
            throttled: false,
        }
    }

    /// A retryable refusal asking the client to slow down (429 / RESOURCE_EXHAUSTED + RetryInfo).
    pub fn throttled(message: impl Into<String>, retry_after: Duration) -> Self {
        ConsumeError::Refused {
            message: message.into(),
            retry_after: Some(retry_after),
            throttled: true,
        }
    }

    pub fn permanent(message: impl Into<String>, rejected_items: usize) -> Self {
        ConsumeError::Permanent {
            message: message.into(),
            rejected_items,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, ConsumeError::Refused { .. })
    }

    /// Combines the outcome of two fan-out branches: a retryable refusal wins, so the client resends.
    fn worst(self, other: ConsumeError) -> ConsumeError {
        match (&self, &other) {
            (ConsumeError::Refused { .. }, _) => self,
            (_, ConsumeError::Refused { .. }) => other,
            (
                ConsumeError::Permanent {
                    rejected_items: a, ..
                },
                ConsumeError::Permanent {
                    rejected_items: b, ..
                },
            ) => {
                if b > a {
                    other
                } else {
                    self
                }
            }
        }
    }
}

/// A payload handed back by [`Consumer::consume_or_return`], with the reason it was not taken.
#[derive(Debug)]
pub struct Returned {
    pub error: ConsumeError,
    /// The payload as it was offered, so the caller can retry it later.
    pub payload: Payload,
}

/// Anything that takes pipeline data: a processor, an exporter, a fan-out.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError>;

    /// Like [`consume`](Consumer::consume), but a payload that is not taken comes back with the
    /// error, so a caller that retries later (the batch processor) needs no copy of its own.
    ///
    /// The default keeps a clone for that. Consumers that refuse before taking the payload apart
    /// (a full queue, the memory limiter) override it and return the original, which keeps the
    /// retry path free of per-item copies.
    async fn consume_or_return(&self, payload: Payload) -> Result<(), Returned> {
        let copy = payload.clone();
        self.consume(payload).await.map_err(|error| Returned {
            error,
            payload: copy,
        })
    }
}

pub type SharedConsumer = Arc<dyn Consumer>;

/// Sends each payload to several consumers: a pipeline's exporters, or the pipelines that share a
/// receiver. All but the last get a clone.
pub struct Fanout {
    consumers: Vec<SharedConsumer>,
}

impl Fanout {
    /// Returns the single consumer itself when there is only one, avoiding a needless layer.
    pub fn build(mut consumers: Vec<SharedConsumer>) -> SharedConsumer {
        if consumers.len() == 1 {
            return consumers.pop().expect("one consumer");
        }
        Arc::new(Fanout { consumers })
    }
}

#[async_trait]
impl Consumer for Fanout {
    async fn consume(&self, payload: Payload) -> Result<(), ConsumeError> {
        let Some((last, rest)) = self.consumers.split_last() else {
            return Ok(());
        };
        let mut sends = Vec::with_capacity(self.consumers.len());
        for consumer in rest {
            sends.push(consumer.consume(payload.clone()));
        }
        sends.push(last.consume(payload));
        futures::future::join_all(sends)
            .await
            .into_iter()
            .filter_map(Result::err)
            .reduce(ConsumeError::worst)
            .map_or(Ok(()), Err)
    }
}
