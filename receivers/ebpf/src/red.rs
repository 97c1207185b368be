//! RED metrics (rate, errors, duration) of captured requests, aggregated in the receiver and
//! exported as cumulative OTLP metrics, one `ResourceMetrics` per process.
//!
//! Series are keyed by process, protocol, endpoint, status class and span kind. The endpoint
//! comes from the traffic (URL paths), so the number of series is capped: past the cap, new
//! series are folded into one per process whose endpoint is [`OVERFLOW_ENDPOINT`], keeping
//! the totals right while bounding memory.

use std::collections::{BTreeMap, BTreeSet};

use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::metrics::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::string_attribute;

/// Upper bounds, in seconds, of the `cormorant.ebpf.request.duration` buckets: from half a
/// millisecond (a cache hit on loopback) to ten seconds (a timing-out upstream).
pub const DEFAULT_DURATION_BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Series kept at most before new ones fold into the overflow series.
pub const DEFAULT_MAX_SERIES: usize = 4096;

/// The `cormorant.endpoint` of the overflow series.
pub const OVERFLOW_ENDPOINT: &str = "other";

/// Instrumentation scope of everything the eBPF receiver produces.
pub const SCOPE_NAME: &str = "cormorant/ebpf";

pub const REQUESTS_METRIC: &str = "cormorant.ebpf.requests";
pub const ERRORS_METRIC: &str = "cormorant.ebpf.errors";
pub const DURATION_METRIC: &str = "cormorant.ebpf.request.duration";

/// Which side of the exchange the process was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RedKind {
    /// The process read the request.
    Server,
    /// The process wrote the request.
    Client,
}

impl RedKind {
    /// The `span.kind` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            RedKind::Server => "server",
            RedKind::Client => "client",
        }
    }
}

/// One series: a process and the attributes of its data points. Ordered by pid first, so a
/// process's series are contiguous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RedKey {
    pub pid: u32,
    /// `cormorant.l7.protocol`: `"http"`, `"redis"`, `"dns"`.
    pub protocol: &'static str,
    /// `cormorant.endpoint`: HTTP endpoint (path cut to two segments), Redis command, DNS type.
    pub endpoint: String,
    /// `cormorant.status_class`: `"1xx"`..`"5xx"` for HTTP, `"ok"`/`"error"` otherwise.
    pub status_class: &'static str,
    /// `span.kind`.
    pub kind: RedKind,
}

#[derive(Debug, Clone)]
struct Series {
    /// Holds what did not fit under the series cap.
    overflow: bool,
    /// Start of the cumulative series, set at the first collect that sees it.
    start_unix_ns: Option<u64>,
    requests: u64,
    errors: u64,
    sum_seconds: f64,
    min_seconds: f64,
    max_seconds: f64,
    bucket_counts: Vec<u64>,
}

impl Series {
    fn new(buckets: usize, overflow: bool) -> Self {
        Series {
            overflow,
            start_unix_ns: None,
            requests: 0,
            errors: 0,
            sum_seconds: 0.0,
            min_seconds: f64::INFINITY,
            max_seconds: f64::NEG_INFINITY,
            bucket_counts: vec![0; buckets],
        }
    }
}

/// The RED aggregator; owned by the receiver's event task, so no locking.
#[derive(Debug)]
pub struct RedMetrics {
    bounds: Vec<f64>,
    max_series: usize,
    series: BTreeMap<RedKey, Series>,
    /// Processes whose series go out once more at the next collect, then are dropped.
    forgotten: BTreeSet<u32>,
    /// Series that are not overflow series, the ones the cap applies to.
    regular_series: usize,
    overflowed: u64,
}

impl RedMetrics {
    /// An aggregator with histogram bucket upper bounds `bounds` in seconds (use
    /// [`DEFAULT_DURATION_BOUNDS`]) and [`DEFAULT_MAX_SERIES`]. Non-finite bounds are dropped and
    /// the rest sorted and deduplicated, as OTLP requires strictly increasing bounds.
    pub fn new(bounds: Vec<f64>) -> Self {
        Self::with_max_series(bounds, DEFAULT_MAX_SERIES)
    }

    /// Like [`RedMetrics::new`] with a series cap of its own; overflow series do not count
    /// toward it.
    pub fn with_max_series(mut bounds: Vec<f64>, max_series: usize) -> Self {
        bounds.retain(|bound| bound.is_finite());
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        RedMetrics {
            bounds,
            max_series,
            series: BTreeMap::new(),
            forgotten: BTreeSet::new(),
            regular_series: 0,
            overflowed: 0,
        }
    }

    /// Counts one request of `duration_ns`, an error if `error` (5xx, an error reply, a DNS
    /// rcode other than 0, or no response at all).
    pub fn record(&mut self, key: RedKey, duration_ns: u64, error: bool) {
        let overflow = !self.series.contains_key(&key) && self.regular_series >= self.max_series;
        let key = if overflow {
            self.overflowed += 1;
            RedKey {
                endpoint: OVERFLOW_ENDPOINT.to_owned(),
                ..key
            }
        } else {
            key
        };
        let buckets = self.bounds.len() + 1;
        let regular_series = &mut self.regular_series;
        let series = self.series.entry(key).or_insert_with(|| {
            *regular_series += usize::from(!overflow);
            Series::new(buckets, overflow)
        });
        let seconds = duration_ns as f64 / 1e9;
        series.requests += 1;
        series.errors += u64::from(error);
        series.sum_seconds += seconds;
        series.min_seconds = series.min_seconds.min(seconds);
        series.max_seconds = series.max_seconds.max(seconds);
        // OTLP buckets are upper-inclusive: bucket i holds (bounds[i-1], bounds[i]].
        let bucket = self.bounds.partition_point(|bound| *bound < seconds);
        series.bucket_counts[bucket] += 1;
    }

    /// Measurements that went to an overflow series because the series cap was reached.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Number of series held, overflow series included.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Drops the series of an exited process after they are exported once more by the next
    /// [`RedMetrics::collect`], so its last requests are not lost.
    pub fn forget_process(&mut self, pid: u32) {
        self.forgotten.insert(pid);
    }

    /// The cumulative metrics of every series, one `ResourceMetrics` per process with the
    /// attributes `resource_of(pid)` returns. `start_unix_ns` is when the interval being
    /// collected began (the previous collect, or the receiver's start): it becomes the start
    /// time of the series that appeared during it, and stays theirs. `now_unix_ns` is the
    /// data points' time.
    pub fn collect(
        &mut self,
        start_unix_ns: u64,
        now_unix_ns: u64,
        mut resource_of: impl FnMut(u32) -> Vec<KeyValue>,
    ) -> Vec<ResourceMetrics> {
        let mut resource_metrics = Vec::new();
        let mut series = self.series.iter_mut().peekable();
        while let Some((first_key, _)) = series.peek() {
            let pid = first_key.pid;
            let mut metrics = ProcessMetrics::default();
            while let Some((key, data)) = series.next_if(|(key, _)| key.pid == pid) {
                let start = *data.start_unix_ns.get_or_insert(start_unix_ns);
                metrics.push(key, data, &self.bounds, start, now_unix_ns);
            }
            resource_metrics.push(metrics.into_resource_metrics(resource_of(pid)));
        }
        let forgotten = std::mem::take(&mut self.forgotten);
        if !forgotten.is_empty() {
            self.series.retain(|key, _| !forgotten.contains(&key.pid));
            self.regular_series = self.series.values().filter(|data| !data.overflow).count();
        }
        resource_metrics
    }
}

/// The data points of one process, per metric.
#[derive(Default)]
struct ProcessMetrics {
    requests: Vec<NumberDataPoint>,
    errors: Vec<NumberDataPoint>,
    durations: Vec<HistogramDataPoint>,
}

impl ProcessMetrics {
    fn push(&mut self, key: &RedKey, series: &Series, bounds: &[f64], start: u64, now: u64) {
        let attributes = vec![
            string_attribute("cormorant.l7.protocol", key.protocol),
            string_attribute("cormorant.endpoint", &key.endpoint),
            string_attribute("cormorant.status_class", key.status_class),
            string_attribute("span.kind", key.kind.as_str()),
        ];
        let counter = |value: u64| NumberDataPoint {
            attributes: attributes.clone(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(value).unwrap_or(i64::MAX),
            )),
            ..Default::default()
        };
        self.requests.push(counter(series.requests));
        self.errors.push(counter(series.errors));
        self.durations.push(HistogramDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: series.requests,
            sum: Some(series.sum_seconds),
            bucket_counts: series.bucket_counts.clone(),
            explicit_bounds: bounds.to_vec(),
            min: Some(series.min_seconds),
            max: Some(series.max_seconds),
            ..Default::default()
        });
    }

    fn into_resource_metrics(self, resource: Vec<KeyValue>) -> ResourceMetrics {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let counter = |name: &str, description: &str, unit: &str, points| Metric {
            name: name.to_owned(),
            description: description.to_owned(),
            unit: unit.to_owned(),
            data: Some(metric::Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: cumulative,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let metrics = vec![
            counter(
                REQUESTS_METRIC,
                "Requests captured by the eBPF socket tracer.",
                "{request}",
                self.requests,
            ),
            counter(
                ERRORS_METRIC,
                "Captured requests that failed: HTTP 5xx, error replies, DNS errors, no response.",
                "{request}",
                self.errors,
            ),
            Metric {
                name: DURATION_METRIC.to_owned(),
                description: "Time from the first request byte to the last response byte."
                    .to_owned(),
                unit: "s".to_owned(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: self.durations,
                    aggregation_temporality: cumulative,
                })),
                ..Default::default()
            },
        ];
        ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }
}

#[cfg(test)]
#[path = "red_tests.rs"]
mod tests;
