//! In-pipeline data: the OTLP protobuf model, unchanged from what receivers decode.
//!
//! Every receiver converts into these prost types and every exporter reads them, so nothing is
//! re-encoded between components.

pub use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
pub use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::common::v1 as common;
pub use opentelemetry_proto::tonic::logs::v1 as logs;
pub use opentelemetry_proto::tonic::metrics::v1 as metrics;
pub use opentelemetry_proto::tonic::resource::v1 as resource;
pub use opentelemetry_proto::tonic::trace::v1 as trace;

use logs::ResourceLogs;
use metrics::{ResourceMetrics, metric::Data};
use std::fmt;
use trace::ResourceSpans;

/// The three signals a pipeline can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The word otelcol uses in item-count metric names (`accepted_spans`, `..._metric_points`).
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        match s {
            "traces" => Some(Signal::Traces),
            "metrics" => Some(Signal::Metrics),
            "logs" => Some(Signal::Logs),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One unit of work moving through a pipeline: the resource-level lists of one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Traces(Vec<ResourceSpans>),
    Metrics(Vec<ResourceMetrics>),
    Logs(Vec<ResourceLogs>),
}

impl Payload {
    pub fn empty(signal: Signal) -> Payload {
        match signal {
            Signal::Traces => Payload::Traces(Vec::new()),
            Signal::Metrics => Payload::Metrics(Vec::new()),
            Signal::Logs => Payload::Logs(Vec::new()),
        }
    }

    pub fn signal(&self) -> Signal {
        match self {
            Payload::Traces(_) => Signal::Traces,
            Payload::Metrics(_) => Signal::Metrics,
            Payload::Logs(_) => Signal::Logs,
        }
    }

    /// Spans, metric data points or log records, counted the way otelcol counts them.
    pub fn item_count(&self) -> usize {
        match self {
            Payload::Traces(rs) => rs
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
            Payload::Metrics(rm) => rm
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| data_point_count(m.data.as_ref()))
                .sum(),
            Payload::Logs(rl) => rl
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Payload::Traces(v) => v.is_empty(),
            Payload::Metrics(v) => v.is_empty(),
            Payload::Logs(v) => v.is_empty(),
        }
    }

    /// Appends `other` (same signal) to `self`. Returns `other` back on a signal mismatch.
    pub fn append(&mut self, other: Payload) -> Result<(), Payload> {
        match (self, other) {
            (Payload::Traces(a), Payload::Traces(b)) => a.extend(b),
            (Payload::Metrics(a), Payload::Metrics(b)) => a.extend(b),
            (Payload::Logs(a), Payload::Logs(b)) => a.extend(b),
            (_, other) => return Err(other),
        }
        Ok(())
    }

    /// Removes and returns the first `max_items` items (spans, points, records), keeping their
    /// resource and scope; what is left stays in `self`. Splitting happens at item granularity,
    /// so a resource or scope may appear in both halves.
    pub fn split_front(&mut self, max_items: usize) -> Payload {
        match self {
            Payload::Traces(rs) => Payload::Traces(crate::split::split_spans(rs, max_items)),
            Payload::Metrics(rm) => Payload::Metrics(crate::split::split_metrics(rm, max_items)),
            Payload::Logs(rl) => Payload::Logs(crate::split::split_logs(rl, max_items)),
        }
    }
}

/// A string attribute; receivers that build telemetry (rather than decode it) make many.
pub fn string_attribute(key: &str, value: impl Into<String>) -> common::KeyValue {
    attribute(key, common::any_value::Value::StringValue(value.into()))
}

/// An integer attribute.
pub fn int_attribute(key: &str, value: impl Into<i64>) -> common::KeyValue {
    attribute(key, common::any_value::Value::IntValue(value.into()))
}

fn attribute(key: &str, value: common::any_value::Value) -> common::KeyValue {
    common::KeyValue {
        key: key.to_owned(),
        value: Some(common::AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Number of data points in one metric, as otelcol counts `metric_points`.
pub fn data_point_count(data: Option<&Data>) -> usize {
    match data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

impl From<ExportTraceServiceRequest> for Payload {
    fn from(r: ExportTraceServiceRequest) -> Self {
        Payload::Traces(r.resource_spans)
    }
}

impl From<ExportMetricsServiceRequest> for Payload {
    fn from(r: ExportMetricsServiceRequest) -> Self {
        Payload::Metrics(r.resource_metrics)
    }
}

impl From<ExportLogsServiceRequest> for Payload {
    fn from(r: ExportLogsServiceRequest) -> Self {
        Payload::Logs(r.resource_logs)
    }
}
