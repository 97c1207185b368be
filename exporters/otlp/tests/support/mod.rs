//! What both exporter test suites share: sample data, building an exporter from YAML through its
//! factory, and reading self-metrics.

use cormorant_confmap::parse_yaml;
use cormorant_core::pdata::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use cormorant_core::pdata::logs::{LogRecord, ResourceLogs, ScopeLogs};
use cormorant_core::pdata::metrics::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::{ResourceSpans, ScopeSpans, Span};
use cormorant_core::{ComponentId, CreateSettings, Exporter, ExporterFactory, Payload, Signal};
use std::sync::Arc;

/// Retries fast enough for tests; the rest of the helper settings keep their defaults.
pub const FAST_RETRY: &str =
    "retry_on_failure: {initial_interval: 10ms, max_interval: 50ms, randomization_factor: 0}";

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![attribute("service.name", "checkout")],
        ..Resource::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "cormorant-test".into(),
        version: "1.0".into(),
        ..InstrumentationScope::default()
    })
}

/// A payload with ids, attributes, 64-bit timestamps and a few items of `signal`.
pub fn sample(signal: Signal) -> Payload {
    match signal {
        Signal::Traces => Payload::Traces(vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: (0..3u8)
                    .map(|i| Span {
                        trace_id: vec![0x5b; 16],
                        span_id: vec![i + 1; 8],
                        name: format!("GET /cart/{i}"),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(i),
                        end_time_unix_nano: 1_700_000_000_500_000_000,
                        attributes: vec![attribute("http.method", "GET")],
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }]),
        Signal::Metrics => Payload::Metrics(vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    unit: "{items}".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..2)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000 + i,
                                value: Some(number_data_point::Value::AsInt(-42 - i as i64)),
                                attributes: vec![attribute("queue", "orders")],
                                ..NumberDataPoint::default()
                            })
                            .collect(),
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }]),
        Signal::Logs => Payload::Logs(vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("order placed".into())),
                    }),
                    trace_id: vec![0x5b; 16],
                    span_id: vec![0x01; 8],
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }]),
    }
}

/// Creates an exporter the way the service does: decode, validate, create.
pub fn build_exporter(
    factory: &Arc<dyn ExporterFactory>,
    id: &str,
    yaml: &str,
    signal: Signal,
) -> Arc<dyn Exporter> {
    let config = parse_yaml(yaml).expect("test YAML parses");
    factory.validate(&config).expect("test config is valid");
    let settings = CreateSettings {
        id: ComponentId::parse(id).expect("valid id"),
    };
    factory
        .create(settings, &config, signal)
        .expect("exporter is created")
}

/// A self-metric of one exporter, read from the process registry.
pub fn metric(name: &str, exporter: &str) -> f64 {
    cormorant_core::telemetry::registry()
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "exporter" && l.value() == exporter)
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}
