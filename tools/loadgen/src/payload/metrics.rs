//! `ExportMetricsServiceRequest` payloads: one resource, one scope, `items` number data
//! points spread over counters and gauges of [`POINTS_PER_METRIC`] points each.

use super::attributes::{HttpCall, item_attributes, resource};
use super::wire::FieldLayout;
use super::{PayloadSpec, instrumentation_scope};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use rand::Rng;

/// `resource_metrics` (1) → `scope_metrics` (2) → `metrics` (2) → `gauge` (5) or `sum` (7)
/// → `data_points` (1); times `start_time_unix_nano` (2), `time_unix_nano` (3).
pub(super) const LAYOUT: FieldLayout<'static> = FieldLayout {
    path: &[&[1], &[2], &[2], &[5, 7], &[1]],
    id_fields: &[],
    fixed64_fields: &[2, 3],
};

/// Data points per metric; real instruments carry one point per attribute combination.
pub(super) const POINTS_PER_METRIC: usize = 10;

/// How long before "now" the cumulative counters started.
const PROCESS_AGE_NANOS: u64 = 3_600_000_000_000;

enum Instrument {
    Counter,
    Gauge,
}

const INSTRUMENTS: [(&str, &str, Instrument); 4] = [
    (
        "http.server.request.count",
        "{request}",
        Instrument::Counter,
    ),
    (
        "http.server.active_requests",
        "{request}",
        Instrument::Gauge,
    ),
    (
        "http.server.response.body.size.total",
        "By",
        Instrument::Counter,
    ),
    ("process.cpu.utilization", "1", Instrument::Gauge),
];

pub(super) fn build(
    spec: &PayloadSpec,
    rng: &mut impl Rng,
    now_nanos: u64,
) -> ExportMetricsServiceRequest {
    let metric_count = spec.items_per_request.div_ceil(POINTS_PER_METRIC);
    let metrics = (0..metric_count)
        .map(|index| {
            let points = POINTS_PER_METRIC.min(spec.items_per_request - index * POINTS_PER_METRIC);
            instrument_metric(index, points, spec, rng, now_nanos)
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(&spec.service_name, rng)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(instrumentation_scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn instrument_metric(
    index: usize,
    points: usize,
    spec: &PayloadSpec,
    rng: &mut impl Rng,
    now_nanos: u64,
) -> Metric {
    let (base_name, unit, instrument) = &INSTRUMENTS[index % INSTRUMENTS.len()];
    let generation = index / INSTRUMENTS.len();
    let name = if generation == 0 {
        (*base_name).to_owned()
    } else {
        format!("{base_name}.{generation}")
    };
    let data_points = (0..points)
        .map(|_| {
            let call = HttpCall::random(rng);
            let value = match instrument {
                Instrument::Counter => {
                    number_data_point::Value::AsInt(rng.random_range(1..1_000_000))
                }
                Instrument::Gauge => {
                    number_data_point::Value::AsDouble(rng.random_range(0.0..100.0))
                }
            };
            NumberDataPoint {
                attributes: item_attributes(
                    &call,
                    spec.attributes_per_item,
                    spec.attribute_value_size,
                    rng,
                ),
                start_time_unix_nano: now_nanos - PROCESS_AGE_NANOS,
                time_unix_nano: now_nanos - rng.random_range(0..1_000_000),
                exemplars: Vec::new(),
                flags: 0,
                value: Some(value),
            }
        })
        .collect();
    let data = match instrument {
        Instrument::Counter => metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        Instrument::Gauge => metric::Data::Gauge(Gauge { data_points }),
    };
    Metric {
        name,
        description: String::new(),
        unit: (*unit).to_owned(),
        metadata: Vec::new(),
        data: Some(data),
    }
}
