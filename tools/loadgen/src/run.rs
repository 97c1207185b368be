//! The generator run: workers claim slots from the shared [`Schedule`], refresh their copy of
//! the request template, send it, retry what the OTLP rules allow, and count the outcome.

use crate::payload::{PayloadSpec, RequestTemplate, WireError, unix_nanos_now};
use crate::schedule::{Schedule, StopCondition};
use crate::transport::{Retry, Sender, Target, TransportError};
use bytes::Bytes;
use cormorant_core::Signal;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::task::JoinSet;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub signal: Signal,
    pub payload: PayloadSpec,
    pub target: Target,
    /// Items per second across all workers; 0 sends as fast as the collector answers.
    pub items_per_second: u64,
    pub stop: StopCondition,
    /// Concurrent senders, each with its own connection.
    pub workers: usize,
    /// Extra attempts for a request that failed with a retryable error.
    pub max_retries: u32,
}

/// A run that could not start or whose workers died.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("building the request payload: {0}")]
    Payload(#[from] WireError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("a worker stopped unexpectedly: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// What a run sent and how the collector answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Items the collector accepted (requests answered with success, minus rejected items).
    pub sent_items: u64,
    pub elapsed: Duration,
    /// Requests completed, successful or not; retries of a request are not counted again.
    pub requests: u64,
    /// Requests that failed after all allowed retries.
    pub failed_requests: u64,
    /// Items in failed requests.
    pub failed_items: u64,
    /// Retry attempts made.
    pub retried: u64,
    /// Items the collector rejected in partial-success answers.
    pub rejected_items: u64,
    /// The first failure or partial-success message, to say *why* something failed.
    pub first_error: Option<String>,
}

impl Summary {
    /// True when every item sent was accepted.
    pub fn is_clean(&self) -> bool {
        self.failed_requests == 0 && self.rejected_items == 0
    }

    fn merge(&mut self, other: Summary) {
        self.sent_items += other.sent_items;
        self.requests += other.requests;
        self.failed_requests += other.failed_requests;
        self.failed_items += other.failed_items;
        self.retried += other.retried;
        self.rejected_items += other.rejected_items;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn note_error(&mut self, message: String) {
        self.first_error.get_or_insert(message);
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let per_second = if seconds > 0.0 {
            self.sent_items as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "sent={} items in {seconds:.2}s ({per_second:.0}/s), requests={}, failed_requests={}, \
             retried={}, failed_items={}, rejected_items={}",
            self.sent_items,
            self.requests,
            self.failed_requests,
            self.retried,
            self.failed_items,
            self.rejected_items
        )
    }
}

/// Runs the generator to completion.
pub async fn run(config: RunConfig) -> Result<Summary, RunError> {
    let template = RequestTemplate::build(config.signal, &config.payload)?;
    let senders = (0..config.workers.max(1))
        .map(|_| Sender::new(config.signal, &config.target))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let schedule = Arc::new(Schedule::new(
        start,
        config.items_per_second,
        template.item_count() as u64,
        config.stop,
    ));
    let mut workers = JoinSet::new();
    for sender in senders {
        let worker = Worker {
            schedule: schedule.clone(),
            template: template.clone(),
            sender,
            max_retries: config.max_retries,
            rng: SmallRng::from_os_rng(),
        };
        workers.spawn(worker.run());
    }
    let mut summary = Summary::default();
    while let Some(finished) = workers.join_next().await {
        summary.merge(finished?);
    }
    summary.elapsed = start.elapsed();
    Ok(summary)
}

struct Worker {
    schedule: Arc<Schedule>,
    template: RequestTemplate,
    sender: Sender,
    max_retries: u32,
    rng: SmallRng,
}

impl Worker {
    async fn run(mut self) -> Summary {
        let mut tally = Summary::default();
        let items = self.template.item_count() as u64;
        while let Some(due) = self.schedule.claim(Instant::now()) {
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            self.template.refresh(&mut self.rng, unix_nanos_now());
            let request = Bytes::copy_from_slice(self.template.encoded());
            tally.requests += 1;
            self.deliver(request, items, &mut tally).await;
        }
        tally
    }

    async fn deliver(&mut self, request: Bytes, items: u64, tally: &mut Summary) {
        let mut attempt = 0;
        loop {
            match self.sender.send(request.clone()).await {
                Ok(accepted) => {
                    let rejected = accepted.rejected_items.min(items);
                    tally.sent_items += items - rejected;
                    tally.rejected_items += rejected;
                    if rejected > 0 || !accepted.message.is_empty() {
                        tally.note_error(format!("partial success: {}", accepted.message));
                    }
                    return;
                }
                Err(failure) => match failure.retry {
                    Retry::Allowed(after) if attempt < self.max_retries => {
                        attempt += 1;
                        tally.retried += 1;
                        tokio::time::sleep(retry_delay(after, attempt)).await;
                    }
                    _ => {
                        tally.failed_requests += 1;
                        tally.failed_items += items;
                        tally.note_error(failure.message);
                        return;
                    }
                },
            }
        }
    }
}

/// The server's delay when it gave one, else exponential backoff from 50 ms; capped at 5 s
/// so one throttling answer cannot stall a timed run.
fn retry_delay(server_delay: Option<Duration>, attempt: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(5);
    let backoff = Duration::from_millis(50).saturating_mul(1 << attempt.saturating_sub(1).min(16));
    server_delay.unwrap_or(backoff).min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_reports_rate_and_failures() {
        let summary = Summary {
            sent_items: 1_000_000,
            elapsed: Duration::from_secs(10),
            requests: 10_000,
            ..Summary::default()
        };
        assert_eq!(
            summary.to_string(),
            "sent=1000000 items in 10.00s (100000/s), requests=10000, failed_requests=0, \
             retried=0, failed_items=0, rejected_items=0"
        );
        assert!(summary.is_clean());
        assert!(
            !Summary {
                rejected_items: 1,
                ..summary.clone()
            }
            .is_clean()
        );
        assert!(
            !Summary {
                failed_requests: 1,
                ..summary
            }
            .is_clean()
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(retry_delay(None, 1), Duration::from_millis(50));
        assert_eq!(retry_delay(None, 3), Duration::from_millis(200));
        assert_eq!(retry_delay(None, 40), Duration::from_secs(5));
        assert_eq!(
            retry_delay(Some(Duration::from_millis(10)), 4),
            Duration::from_millis(10)
        );
        assert_eq!(
            retry_delay(Some(Duration::from_secs(60)), 1),
            Duration::from_secs(5)
        );
    }
}
