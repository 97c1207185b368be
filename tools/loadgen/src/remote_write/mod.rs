//! `remote-write`: Prometheus remote_write 1.0 traffic shaped like Grafana Alloy's, sent to one
//! or more receivers at once so that they can be compared on the same requests.
//!
//! Alloy's queue sends up to 2000 samples per request (`max_samples_per_send`), one sample per
//! series when a scrape's samples are fresh, from several shards at once; every shard sends its
//! own series in order. Here, the catalogue of [`series`] is cut into requests of
//! `series_per_request` series, encoded once ([`request`]), and each worker owns a fixed subset
//! of those requests, which it sends round after round with fresh samples. A series therefore
//! only ever travels through one worker, and its timestamps strictly increase, as receivers
//! such as Prometheus require. Each rendered body is compressed once and the same bytes go to
//! every target concurrently.

pub mod request;
pub mod send;
pub mod series;

use crate::schedule::{Schedule, StopCondition};
use bytes::Bytes;
use request::{EncodedRequest, RequestError};
use send::{Target, TargetError, TargetStats};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use tokio::task::JoinSet;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RemoteWriteConfig {
    /// Receiver URLs; every request goes to each of them.
    pub urls: Vec<String>,
    /// Distinct series, rounded up to whole requests.
    pub series: usize,
    pub series_per_request: usize,
    /// Samples per second across all workers; 0 sends as fast as the slowest target answers.
    pub samples_per_second: u64,
    pub stop: StopCondition,
    /// Concurrent senders (Alloy's shards); no more than there are requests per round.
    pub workers: usize,
    pub user_agent: String,
    pub timeout: Duration,
}

/// A run that could not start or whose workers died.
#[derive(Debug, Error)]
pub enum RemoteWriteError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("no --url given")]
    NoTarget,
    #[error("rendering a request: {0}")]
    Request(#[from] RequestError),
    #[error("snappy compression: {0}")]
    Compress(#[from] snap::Error),
    #[error("a worker stopped unexpectedly: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// What was sent and how each target answered.
#[derive(Debug, Clone)]
pub struct RemoteWriteSummary {
    pub series: usize,
    pub workers: usize,
    pub elapsed: Duration,
    /// Per target, in the order of the URLs.
    pub targets: Vec<(String, TargetStats)>,
}

impl RemoteWriteSummary {
    /// True when every target accepted every request.
    pub fn is_clean(&self) -> bool {
        self.targets
            .iter()
            .all(|(_, stats)| stats.failed_requests() == 0)
    }
}

impl fmt::Display for RemoteWriteSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let (requests, samples) = self
            .targets
            .first()
            .map_or((0, 0), |(_, stats)| (stats.requests, stats.samples_sent));
        let per_second = if seconds > 0.0 {
            samples as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "remote-write: sent={samples} samples in {seconds:.2}s ({per_second:.0}/s) to each \
             of {} target(s), requests={requests}, series={}, workers={}",
            self.targets.len(),
            self.series,
            self.workers
        )?;
        for (url, stats) in &self.targets {
            write!(f, "\ntarget {url} {stats}")?;
        }
        Ok(())
    }
}

/// Runs the generator to completion.
pub async fn run(config: RemoteWriteConfig) -> Result<RemoteWriteSummary, RemoteWriteError> {
    if config.urls.is_empty() {
        return Err(RemoteWriteError::NoTarget);
    }
    let targets: Arc<Vec<Target>> = Arc::new(
        config
            .urls
            .iter()
            .map(|url| Target::new(url, &config.user_agent, config.timeout))
            .collect::<Result<_, _>>()?,
    );
    let per_request = config.series_per_request.max(1);
    let requests_per_round = config.series.max(1).div_ceil(per_request);
    let all_series = series::catalogue(requests_per_round * per_request);
    let series = all_series.len();
    let now = unix_millis_now();
    let workers = config.workers.clamp(1, requests_per_round);
    let mut owned: Vec<Vec<EncodedRequest>> = (0..workers).map(|_| Vec::new()).collect();
    for (index, chunk) in all_series.chunks(per_request).enumerate() {
        owned[index % workers].push(EncodedRequest::encode(chunk.to_vec(), now));
    }

    let start = Instant::now();
    let schedule = Arc::new(Schedule::new(
        start,
        config.samples_per_second,
        per_request as u64,
        config.stop,
    ));
    let mut tasks = JoinSet::new();
    for requests in owned {
        tasks.spawn(work(requests, schedule.clone(), targets.clone()));
    }
    let mut totals: Vec<TargetStats> = vec![TargetStats::default(); targets.len()];
    while let Some(joined) = tasks.join_next().await {
        for (total, stats) in totals.iter_mut().zip(joined??) {
            total.merge(stats);
        }
    }
    Ok(RemoteWriteSummary {
        series,
        workers,
        elapsed: start.elapsed(),
        targets: config.urls.iter().cloned().zip(totals).collect(),
    })
}

/// One worker: sends its own requests in turn, round after round, until the schedule ends.
async fn work(
    mut requests: Vec<EncodedRequest>,
    schedule: Arc<Schedule>,
    targets: Arc<Vec<Target>>,
) -> Result<Vec<TargetStats>, RemoteWriteError> {
    let mut stats = vec![TargetStats::default(); targets.len()];
    let mut encoder = snap::raw::Encoder::new();
    let mut last_timestamp = 0;
    let mut round = 0;
    loop {
        for request in &mut requests {
            let Some(due) = schedule.claim(Instant::now()) else {
                return Ok(stats);
            };
            tokio::time::sleep_until(due.into()).await;
            // Strictly increasing even when two rounds fall in the same millisecond.
            let timestamp = unix_millis_now().max(last_timestamp + 1);
            last_timestamp = timestamp;
            let body = Bytes::from(encoder.compress_vec(request.render(round, timestamp)?)?);
            let samples = request.series_count() as u64;
            let mut sends = JoinSet::new();
            for (index, target) in targets.iter().enumerate() {
                let target = target.clone();
                let body = body.clone();
                sends.spawn(async move { (index, target.send(body).await) });
            }
            while let Some(sent) = sends.join_next().await {
                let (index, outcome) = sent?;
                stats[index].record(samples, outcome);
            }
        }
        round += 1;
    }
}

fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}
