//! One delivery: attempts bounded by `timeout`, repeated with exponential backoff while the
//! destination says the failure is temporary.

use super::sender::{SendError, SendOutcome, Sender};
use super::settings::{RetrySetting, TimeoutSetting};
use crate::pdata::Payload;
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

/// The wait sequence of `retry_on_failure`: grows by `multiplier` up to `max_interval`, each wait
/// spread by `randomization_factor`.
pub(crate) struct Backoff {
    next_interval: Duration,
    max_interval: Duration,
    multiplier: f64,
    randomization_factor: f64,
}

impl Backoff {
    pub(crate) fn new(setting: &RetrySetting) -> Self {
        Backoff {
            next_interval: setting.initial_interval,
            max_interval: setting.max_interval,
            multiplier: setting.multiplier,
            randomization_factor: setting.randomization_factor,
        }
    }

    pub(crate) fn next_wait(&mut self) -> Duration {
        let base = self.next_interval;
        let grown = Duration::try_from_secs_f64(base.as_secs_f64() * self.multiplier)
            .unwrap_or(self.max_interval);
        self.next_interval = grown.min(self.max_interval);
        if self.randomization_factor <= 0.0 {
            return base;
        }
        let spread = rand::rng()
            .random_range((1.0 - self.randomization_factor)..=(1.0 + self.randomization_factor));
        Duration::try_from_secs_f64(base.as_secs_f64() * spread).unwrap_or(base)
    }
}

/// Runs attempts for one payload until it is delivered, rejected for good, or retries run out.
pub(crate) struct Retrier {
    pub(crate) exporter: String,
    pub(crate) timeout: TimeoutSetting,
    pub(crate) retry: RetrySetting,
}

impl Retrier {
    /// Returns the final outcome. A retryable error means the helper gave up (retries disabled or
    /// `max_elapsed_time` reached); its message says why.
    pub(crate) async fn deliver<S: Sender + ?Sized>(
        &self,
        sender: &S,
        payload: &Payload,
    ) -> Result<SendOutcome, SendError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(&self.retry);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (message, retry_after) = match self.attempt(sender, payload).await {
                Ok(outcome) => return Ok(outcome),
                Err(SendError::Permanent(message)) => return Err(SendError::Permanent(message)),
                Err(SendError::Retryable {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            if !self.retry.enabled {
                return Err(SendError::Retryable {
                    message,
                    retry_after,
                });
            }
            let computed = backoff.next_wait();
            let wait = retry_after.map_or(computed, |hint| computed.max(hint));
            let limit = self.retry.max_elapsed_time;
            if !limit.is_zero() && started.elapsed() + wait > limit {
                return Err(SendError::Retryable {
                    message: format!(
                        "no more retries left: max_elapsed_time ({limit:?}) reached after \
                         {attempts} attempts; last error: {message}"
                    ),
                    retry_after,
                });
            }
            tracing::info!(
                exporter = %self.exporter,
                error = %message,
                attempt = attempts,
                wait = ?wait,
                "exporting failed, will retry"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt<S: Sender + ?Sized>(
        &self,
        sender: &S,
        payload: &Payload,
    ) -> Result<SendOutcome, SendError> {
        match self.timeout.limit() {
            None => sender.send(payload).await,
            Some(limit) => match tokio::time::timeout(limit, sender.send(payload)).await {
                Ok(result) => result,
                Err(_) => Err(SendError::retryable(format!(
                    "send attempt timed out after {limit:?}"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(multiplier: f64, randomization_factor: f64) -> RetrySetting {
        RetrySetting {
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_millis(400),
            multiplier,
            randomization_factor,
            ..RetrySetting::default()
        }
    }

    #[test]
    fn waits_grow_by_multiplier_up_to_max_interval() {
        let mut backoff = Backoff::new(&setting(2.0, 0.0));
        let waits: Vec<u128> = (0..5).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 400, 400]);
    }

    #[test]
    fn waits_stay_within_the_randomization_band() {
        let mut backoff = Backoff::new(&setting(1.0, 0.5));
        let waits: Vec<Duration> = (0..200).map(|_| backoff.next_wait()).collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_millis(50) && *w <= Duration::from_millis(150))
        );
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(
            distinct.len() > 10,
            "waits are not randomized: {distinct:?}"
        );
    }
}
