use super::*;
use cormorant_core::Payload;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Span;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::collections::HashSet;

const NOW: u64 = 1_760_000_000_000_000_000;

fn spec(items: usize, attributes: usize) -> PayloadSpec {
    PayloadSpec {
        items_per_request: items,
        attributes_per_item: attributes,
        attribute_value_size: 20,
        service_name: "checkout".to_owned(),
    }
}

fn template(signal: Signal, spec: &PayloadSpec) -> RequestTemplate {
    RequestTemplate::build_at(signal, spec, &mut SmallRng::seed_from_u64(7), NOW).unwrap()
}

fn spans(template: &RequestTemplate) -> Vec<Span> {
    let request = ExportTraceServiceRequest::decode(template.encoded()).unwrap();
    assert_eq!(request.resource_spans.len(), 1);
    assert_eq!(request.resource_spans[0].scope_spans.len(), 1);
    request.resource_spans[0].scope_spans[0].spans.clone()
}

fn string_value(attribute: &KeyValue) -> Option<&str> {
    match attribute.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(value) => Some(value),
        _ => None,
    }
}

#[test]
fn traces_have_one_resource_with_six_attributes_and_the_requested_spans() {
    let built = template(Signal::Traces, &spec(100, 3));
    let request = ExportTraceServiceRequest::decode(built.encoded()).unwrap();

    assert_eq!(built.item_count(), 100);
    assert_eq!(Payload::from(request.clone()).item_count(), 100);
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(resource.attributes.len(), 6);
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .unwrap();
    assert_eq!(string_value(service), Some("checkout"));

    for span in spans(&built) {
        assert_eq!(span.trace_id.len(), 16);
        assert_eq!(span.span_id.len(), 8);
        assert_eq!(span.parent_span_id.len(), 8);
        assert!(span.status.is_some());
        assert!(span.start_time_unix_nano < span.end_time_unix_nano);
        assert!(span.end_time_unix_nano <= NOW);
        let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "http.request.method",
                "url.path",
                "http.response.status_code"
            ]
        );
        assert!(
            span.name
                .starts_with(string_value(&span.attributes[0]).unwrap())
        );
    }
}

#[test]
fn small_spans_match_the_size_the_decode_limits_were_measured_with() {
    let built = template(Signal::Traces, &spec(512, 3));
    let per_span = built.encoded().len() / 512;
    assert!((150..=260).contains(&per_span), "{per_span} bytes per span");
}

#[test]
fn attribute_count_and_value_size_are_honoured() {
    for count in [0, 1, 3, 10] {
        let built = template(Signal::Traces, &spec(5, count));
        for span in spans(&built) {
            assert_eq!(span.attributes.len(), count);
            for extra in span.attributes.iter().skip(3) {
                assert!(extra.key.starts_with("loadgen.attribute."));
                assert_eq!(string_value(extra).unwrap().len(), 20);
            }
        }
    }
}

#[test]
fn metrics_count_data_points_across_counters_and_gauges() {
    let built = template(Signal::Metrics, &spec(25, 4));
    let request = ExportMetricsServiceRequest::decode(built.encoded()).unwrap();

    assert_eq!(built.item_count(), 25);
    assert_eq!(Payload::from(request.clone()).item_count(), 25);
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let sizes: Vec<usize> = metrics
        .iter()
        .map(|m| match m.data.as_ref().unwrap() {
            Data::Sum(sum) => {
                assert!(sum.data_points.iter().all(|p| p.attributes.len() == 4));
                sum.data_points.len()
            }
            Data::Gauge(gauge) => {
                assert!(gauge.data_points.iter().all(|p| p.attributes.len() == 4));
                gauge.data_points.len()
            }
            other => panic!("unexpected metric type {other:?}"),
        })
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
    // Two timestamps per data point are patchable.
    assert_eq!(built.timestamps.len(), 50);
}

#[test]
fn logs_carry_the_requested_records_with_ids() {
    let built = template(Signal::Logs, &spec(40, 2));
    let request = ExportLogsServiceRequest::decode(built.encoded()).unwrap();

    assert_eq!(built.item_count(), 40);
    assert_eq!(Payload::from(request.clone()).item_count(), 40);
    let records = &request.resource_logs[0].scope_logs[0].log_records;
    for record in records {
        assert_eq!(record.attributes.len(), 2);
        assert_eq!(record.trace_id.len(), 16);
        assert_eq!(record.span_id.len(), 8);
        assert!(record.time_unix_nano <= record.observed_time_unix_nano);
    }
    assert_eq!(built.ids.len(), 80);
}

#[test]
fn refresh_gives_every_span_new_unique_ids() {
    let mut built = template(Signal::Traces, &spec(100, 3));
    let mut rng = SmallRng::seed_from_u64(99);
    let mut trace_ids = HashSet::new();
    let mut span_ids = HashSet::new();
    for round in 0..5 {
        built.refresh(&mut rng, NOW + round);
        for span in spans(&built) {
            assert!(trace_ids.insert(span.trace_id));
            assert!(span_ids.insert(span.span_id));
        }
    }
    assert_eq!(trace_ids.len(), 500);
    assert_eq!(span_ids.len(), 500);
}

#[test]
fn refresh_moves_timestamps_and_keeps_their_spread() {
    let mut built = template(Signal::Traces, &spec(20, 3));
    let before = spans(&built);
    let later = NOW + 5_000_000_000;
    built.refresh(&mut SmallRng::seed_from_u64(1), later);
    let after = spans(&built);

    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            new.start_time_unix_nano - old.start_time_unix_nano,
            5_000_000_000
        );
        assert_eq!(
            new.end_time_unix_nano - old.end_time_unix_nano,
            5_000_000_000
        );
        assert_eq!(old.attributes, new.attributes);
        assert_eq!(old.name, new.name);
    }
}

#[test]
fn refresh_keeps_metric_and_log_requests_decodable() {
    let mut rng = SmallRng::seed_from_u64(3);
    let mut metrics = template(Signal::Metrics, &spec(30, 3));
    metrics.refresh(&mut rng, NOW + 1);
    let request = ExportMetricsServiceRequest::decode(metrics.encoded()).unwrap();
    assert_eq!(Payload::from(request).item_count(), 30);

    let mut logs = template(Signal::Logs, &spec(30, 3));
    let old_ids = logs
        .ids
        .iter()
        .map(|r| logs.encoded[r.clone()].to_vec())
        .collect::<Vec<_>>();
    logs.refresh(&mut rng, NOW + 1);
    let request = ExportLogsServiceRequest::decode(logs.encoded()).unwrap();
    let records = &request.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(records.len(), 30);
    assert!(records.iter().all(|r| !old_ids.contains(&r.trace_id)));
}
