//! OTTL paths resolved for a context (`span`, `spanevent`, `log`, `metric`, `datapoint`), and read
//! from the item being judged.
//!
//! A path may carry its context's name as a prefix (`span.name`, the form context-inferred
//! conditions use) or leave it out (`name`). `resource.*` and `instrumentation_scope.*` (or
//! `scope.*`) work in every context; a span event reaches its span with `span.*` and a data point
//! its metric with `metric.*`. A path that does not exist in the context is a config error.

use crate::syntax::PathText;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::logs::LogRecord;
use cormorant_core::pdata::metrics::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
    metric::Data, number_data_point,
};
use cormorant_core::pdata::trace::{Span, span::Event};
use cormorant_core::value_text;
use std::borrow::Cow;

/// The kind of item a condition judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A resource alone: `attributes` are the resource's.
    Resource,
    Span,
    SpanEvent,
    Log,
    Metric,
    DataPoint,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Resource => "resource",
            Context::Span => "span",
            Context::SpanEvent => "spanevent",
            Context::Log => "log",
            Context::Metric => "metric",
            Context::DataPoint => "datapoint",
        }
    }
}

/// One data point of any metric type.
#[derive(Debug, Clone, Copy)]
pub enum Point<'a> {
    Number(&'a NumberDataPoint),
    Histogram(&'a HistogramDataPoint),
    Exponential(&'a ExponentialHistogramDataPoint),
    Summary(&'a SummaryDataPoint),
}

impl<'a> Point<'a> {
    pub fn attributes(self) -> &'a [KeyValue] {
        match self {
            Point::Number(p) => &p.attributes,
            Point::Histogram(p) => &p.attributes,
            Point::Exponential(p) => &p.attributes,
            Point::Summary(p) => &p.attributes,
        }
    }
}

/// The item being judged, with what encloses it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub resource: &'a [KeyValue],
    pub scope: Option<&'a InstrumentationScope>,
    pub kind: ItemKind<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum ItemKind<'a> {
    /// A resource alone ([`Context::Resource`]); its attributes are the item's `resource`.
    Resource,
    Span(&'a Span),
    SpanEvent(&'a Span, &'a Event),
    Log(&'a LogRecord),
    Metric(&'a Metric),
    /// The metric's data has been taken out while its points are filtered, so what the
    /// conditions read of it comes from the [`MetricShape`] taken before.
    DataPoint(&'a Metric, MetricShape, Point<'a>),
}

/// What a metric's data says of the metric: its type as OTTL numbers it (`METRIC_DATA_TYPE_*`),
/// its aggregation temporality and monotonicity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricShape {
    kind: i64,
    temporality: i32,
    monotonic: bool,
}

impl MetricShape {
    pub fn of(data: Option<&Data>) -> MetricShape {
        let (kind, temporality, monotonic) = match data {
            None => (0, 0, false),
            Some(Data::Gauge(_)) => (1, 0, false),
            Some(Data::Sum(sum)) => (2, sum.aggregation_temporality, sum.is_monotonic),
            Some(Data::Histogram(h)) => (3, h.aggregation_temporality, false),
            Some(Data::ExponentialHistogram(h)) => (4, h.aggregation_temporality, false),
            Some(Data::Summary(_)) => (5, 0, false),
        };
        MetricShape {
            kind,
            temporality,
            monotonic,
        }
    }
}

/// A value read from an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Nil,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Bytes, arrays and maps: compared whole.
    Other(&'a AnyValue),
}

impl<'a> Val<'a> {
    pub fn of(value: Option<&'a AnyValue>) -> Val<'a> {
        let Some(any) = value else { return Val::Nil };
        match any.value.as_ref() {
            None | Some(any_value::Value::StringValueStrindex(_)) => Val::Nil,
            Some(any_value::Value::StringValue(text)) => Val::Str(Cow::Borrowed(text)),
            Some(any_value::Value::IntValue(number)) => Val::Int(*number),
            Some(any_value::Value::DoubleValue(number)) => Val::Float(*number),
            Some(any_value::Value::BoolValue(flag)) => Val::Bool(*flag),
            Some(_) => Val::Other(any),
        }
    }
}

/// Where a path reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    ResourceAttribute(String),
    ScopeName,
    ScopeVersion,
    ScopeAttribute(String),
    /// The item's own attributes: span, span event, log record or data point.
    Attribute(String),
    SpanName,
    SpanKind,
    StatusCode,
    StatusMessage,
    TraceId,
    SpanId,
    ParentSpanId,
    TraceState,
    StartTime,
    EndTime,
    EventName,
    EventTime,
    Body,
    SeverityNumber,
    SeverityText,
    LogTime,
    ObservedTime,
    LogEventName,
    LogTraceId,
    LogSpanId,
    MetricName,
    MetricDescription,
    MetricUnit,
    MetricType,
    AggregationTemporality,
    IsMonotonic,
    ValueInt,
    ValueDouble,
    PointTime,
    PointStartTime,
    PointCount,
    PointSum,
}

/// Resolves `path` for `context`, or says why it does not exist there.
pub fn resolve(path: &PathText, context: Context) -> Result<Field, String> {
    let mut names: Vec<&str> = path.names.iter().map(String::as_str).collect();
    if names.len() > 1 && names[0] == context.name() {
        names.remove(0);
    }
    let key = || -> Result<String, String> {
        match path.keys.as_slice() {
            [key] => Ok(key.clone()),
            [] => Err(format!("{path} needs a key, as in {path}[\"name\"]")),
            _ => Err(format!("{path}: nested keys are not supported")),
        }
    };
    let keyless = |field: Field| {
        if path.keys.is_empty() {
            Ok(field)
        } else {
            Err(format!("{path}: {} takes no key", path.names.join(".")))
        }
    };
    let unknown = || format!("{path} is not a path of the {} context", context.name());
    let span_field = |rest: &[&str]| -> Option<Field> {
        Some(match rest {
            ["name"] => Field::SpanName,
            ["kind"] => Field::SpanKind,
            ["status", "code"] => Field::StatusCode,
            ["status", "message"] => Field::StatusMessage,
            ["trace_id", "string"] => Field::TraceId,
            ["span_id", "string"] => Field::SpanId,
            ["parent_span_id", "string"] => Field::ParentSpanId,
            ["trace_state"] => Field::TraceState,
            ["start_time_unix_nano"] => Field::StartTime,
            ["end_time_unix_nano"] => Field::EndTime,
            _ => return None,
        })
    };
    let metric_field = |rest: &[&str]| -> Option<Field> {
        Some(match rest {
            ["name"] => Field::MetricName,
            ["description"] => Field::MetricDescription,
            ["unit"] => Field::MetricUnit,
            ["type"] => Field::MetricType,
            ["aggregation_temporality"] => Field::AggregationTemporality,
            ["is_monotonic"] => Field::IsMonotonic,
            _ => return None,
        })
    };
    match (context, names.as_slice()) {
        (_, ["resource", "attributes"]) | (Context::Resource, ["attributes"]) => {
            return Ok(Field::ResourceAttribute(key()?));
        }
        (_, ["instrumentation_scope" | "scope", "attributes"]) => {
            return Ok(Field::ScopeAttribute(key()?));
        }
        (_, ["instrumentation_scope" | "scope", "name"]) => return keyless(Field::ScopeName),
        (_, ["instrumentation_scope" | "scope", "version"]) => return keyless(Field::ScopeVersion),
        (
            Context::Span | Context::SpanEvent | Context::Log | Context::DataPoint,
            ["attributes"],
        ) => {
            return Ok(Field::Attribute(key()?));
        }
        (Context::SpanEvent, ["span", "attributes"]) => {
            return Err(format!(
                "{path}: a span event's span attributes are not supported"
            ));
        }
        _ => {}
    }
    let field = match (context, names.as_slice()) {
        (Context::Span, rest) => span_field(rest),
        (Context::SpanEvent, ["name"]) => Some(Field::EventName),
        (Context::SpanEvent, ["time_unix_nano"]) => Some(Field::EventTime),
        (Context::SpanEvent, ["span", rest @ ..]) => span_field(rest),
        (Context::Log, rest) => match rest {
            ["body"] => Some(Field::Body),
            ["severity_number"] => Some(Field::SeverityNumber),
            ["severity_text"] => Some(Field::SeverityText),
            ["time_unix_nano"] => Some(Field::LogTime),
            ["observed_time_unix_nano"] => Some(Field::ObservedTime),
            ["event_name"] => Some(Field::LogEventName),
            ["trace_id", "string"] => Some(Field::LogTraceId),
            ["span_id", "string"] => Some(Field::LogSpanId),
            _ => None,
        },
        (Context::Metric, rest) => metric_field(rest),
        (Context::DataPoint, ["metric", rest @ ..]) => metric_field(rest),
        (Context::DataPoint, rest) => match rest {
            ["value_int"] => Some(Field::ValueInt),
            ["value_double"] => Some(Field::ValueDouble),
            ["time_unix_nano"] => Some(Field::PointTime),
            ["start_time_unix_nano"] => Some(Field::PointStartTime),
            ["count"] => Some(Field::PointCount),
            ["sum"] => Some(Field::PointSum),
            _ => None,
        },
        _ => None,
    };
    keyless(field.ok_or_else(unknown)?)
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Val<'a> {
    Val::of(
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()),
    )
}

fn hex(bytes: &[u8]) -> Val<'static> {
    Val::Str(Cow::Owned(value_text::hex(bytes)))
}

fn text(value: &str) -> Val<'_> {
    Val::Str(Cow::Borrowed(value))
}

/// Nanosecond timestamps are unsigned in OTLP and compared as OTTL's int64.
fn nanos(value: u64) -> Val<'static> {
    Val::Int(value as i64)
}

impl Field {
    /// The value at this field of `item`; `Nil` where the item has none (a missing attribute, a
    /// histogram's `value_int`).
    pub fn read<'a>(&self, item: &Item<'a>) -> Val<'a> {
        let span = match item.kind {
            ItemKind::Span(span) | ItemKind::SpanEvent(span, _) => Some(span),
            _ => None,
        };
        let metric = match item.kind {
            ItemKind::Metric(metric) => Some((metric, MetricShape::of(metric.data.as_ref()))),
            ItemKind::DataPoint(metric, shape, _) => Some((metric, shape)),
            _ => None,
        };
        let point = match item.kind {
            ItemKind::DataPoint(_, _, point) => Some(point),
            _ => None,
        };
        let log = match item.kind {
            ItemKind::Log(record) => Some(record),
            _ => None,
        };
        match self {
            Field::ResourceAttribute(key) => attribute(item.resource, key),
            Field::ScopeName => item.scope.map_or(Val::Nil, |s| text(&s.name)),
            Field::ScopeVersion => item.scope.map_or(Val::Nil, |s| text(&s.version)),
            Field::ScopeAttribute(key) => item
                .scope
                .map_or(Val::Nil, |s| attribute(&s.attributes, key)),
            Field::Attribute(key) => match item.kind {
                ItemKind::Span(span) => attribute(&span.attributes, key),
                ItemKind::SpanEvent(_, event) => attribute(&event.attributes, key),
                ItemKind::Log(record) => attribute(&record.attributes, key),
                ItemKind::DataPoint(_, _, point) => attribute(point.attributes(), key),
                ItemKind::Metric(_) | ItemKind::Resource => Val::Nil,
            },
            Field::EventName | Field::EventTime => match item.kind {
                ItemKind::SpanEvent(_, event) if *self == Field::EventName => text(&event.name),
                ItemKind::SpanEvent(_, event) => nanos(event.time_unix_nano),
                _ => Val::Nil,
            },
            _ => span
                .and_then(|span| self.read_span(span))
                .or_else(|| log.and_then(|log| self.read_log(log)))
                .or_else(|| point.and_then(|point| self.read_point(point)))
                .or_else(|| metric.and_then(|(metric, shape)| self.read_metric(metric, shape)))
                .unwrap_or(Val::Nil),
        }
    }

    /// `None` for a field that is not one of this item part's.
    fn read_span<'a>(&self, span: &'a Span) -> Option<Val<'a>> {
        Some(match self {
            Field::SpanName => text(&span.name),
            Field::SpanKind => Val::Int(i64::from(span.kind)),
            Field::StatusCode => Val::Int(span.status.as_ref().map_or(0, |s| i64::from(s.code))),
            Field::StatusMessage => span.status.as_ref().map_or(text(""), |s| text(&s.message)),
            Field::TraceId => hex(&span.trace_id),
            Field::SpanId => hex(&span.span_id),
            Field::ParentSpanId => hex(&span.parent_span_id),
            Field::TraceState => text(&span.trace_state),
            Field::StartTime => nanos(span.start_time_unix_nano),
            Field::EndTime => nanos(span.end_time_unix_nano),
            _ => return None,
        })
    }

    /// `None` for a field that is not one of this item part's.
    fn read_log<'a>(&self, record: &'a LogRecord) -> Option<Val<'a>> {
        Some(match self {
            Field::Body => Val::of(record.body.as_ref()),
            Field::SeverityNumber => Val::Int(i64::from(record.severity_number)),
            Field::SeverityText => text(&record.severity_text),
            Field::LogTime => nanos(record.time_unix_nano),
            Field::ObservedTime => nanos(record.observed_time_unix_nano),
            Field::LogEventName => text(&record.event_name),
            Field::LogTraceId => hex(&record.trace_id),
            Field::LogSpanId => hex(&record.span_id),
            _ => return None,
        })
    }

    /// `None` for a field that is not one of this item part's.
    fn read_metric<'a>(&self, metric: &'a Metric, shape: MetricShape) -> Option<Val<'a>> {
        Some(match self {
            Field::MetricName => text(&metric.name),
            Field::MetricDescription => text(&metric.description),
            Field::MetricUnit => text(&metric.unit),
            Field::MetricType => Val::Int(shape.kind),
            Field::AggregationTemporality => Val::Int(i64::from(shape.temporality)),
            Field::IsMonotonic => Val::Bool(shape.monotonic),
            _ => return None,
        })
    }

    /// `None` for a field that is not one of this item part's.
    fn read_point<'a>(&self, point: Point<'a>) -> Option<Val<'a>> {
        let number = match point {
            Point::Number(p) => p.value.as_ref(),
            _ => None,
        };
        let (time, start) = match point {
            Point::Number(p) => (p.time_unix_nano, p.start_time_unix_nano),
            Point::Histogram(p) => (p.time_unix_nano, p.start_time_unix_nano),
            Point::Exponential(p) => (p.time_unix_nano, p.start_time_unix_nano),
            Point::Summary(p) => (p.time_unix_nano, p.start_time_unix_nano),
        };
        Some(match self {
            Field::ValueInt => match number {
                Some(number_data_point::Value::AsInt(value)) => Val::Int(*value),
                _ => Val::Nil,
            },
            Field::ValueDouble => match number {
                Some(number_data_point::Value::AsDouble(value)) => Val::Float(*value),
                _ => Val::Nil,
            },
            Field::PointTime => nanos(time),
            Field::PointStartTime => nanos(start),
            Field::PointCount => match point {
                Point::Histogram(p) => nanos(p.count),
                Point::Exponential(p) => nanos(p.count),
                Point::Summary(p) => nanos(p.count),
                Point::Number(_) => Val::Nil,
            },
            Field::PointSum => match point {
                Point::Histogram(p) => p.sum.map_or(Val::Nil, Val::Float),
                Point::Exponential(p) => p.sum.map_or(Val::Nil, Val::Float),
                Point::Summary(p) => Val::Float(p.sum),
                Point::Number(_) => Val::Nil,
            },
            _ => return None,
        })
    }
}
