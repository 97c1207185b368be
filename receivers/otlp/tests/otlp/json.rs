//! What the OTLP/JSON decoder accepts, checked field by field against the protobuf model.

use crate::common::{SPAN_ID, TRACE_ID};
use cormorant_core::pdata::metrics::{exemplar, metric, number_data_point};
use cormorant_core::pdata::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use cormorant_receiver_otlp::json::{JsonError, decode};

#[test]
fn metrics_with_strings_enum_names_histograms_and_exemplars() {
    let body = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [
      {"name": "requests", "sum": {
        "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
        "isMonotonic": true,
        "dataPoints": [{
          "asInt": "9007199254740993",
          "startTimeUnixNano": "1700000000000000000",
          "time_unix_nano": 1700000001000000000,
          "exemplars": [{
            "timeUnixNano": "1700000000500000000",
            "asDouble": 1.5,
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "EEE19B7EC3C1B174",
            "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}]
          }]
        }]
      }},
      {"name": "latency", "histogram": {
        "aggregation_temporality": 1,
        "data_points": [{
          "count": "3",
          "sum": 7.5,
          "bucketCounts": ["1", 2],
          "explicitBounds": [2.5],
          "min": "0.5",
          "max": 4
        }]
      }},
      {"name": "sizes", "exponentialHistogram": {
        "aggregationTemporality": 2,
        "dataPoints": [{"count": "4", "scale": 3, "zeroCount": "1",
          "positive": {"offset": -2, "bucketCounts": ["1", "2"]}}]
      }},
      {"name": "rtt", "summary": {"dataPoints": [{"count": 2, "sum": 3.0,
        "quantileValues": [{"quantile": 0.5, "value": "1.25"}]}]}}
    ]}]}]}"#;
    let request: ExportMetricsServiceRequest = decode(body.as_bytes()).unwrap();
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let Some(metric::Data::Sum(sum)) = &metrics[0].data else {
        panic!("{:?}", metrics[0])
    };
    assert_eq!(sum.aggregation_temporality, 2);
    assert!(sum.is_monotonic);
    let point = &sum.data_points[0];
    assert_eq!(
        point.value,
        Some(number_data_point::Value::AsInt(9_007_199_254_740_993))
    );
    assert_eq!(point.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(point.time_unix_nano, 1_700_000_001_000_000_000);
    let exemplar = &point.exemplars[0];
    assert_eq!(exemplar.time_unix_nano, 1_700_000_000_500_000_000);
    assert_eq!(exemplar.value, Some(exemplar::Value::AsDouble(1.5)));
    assert_eq!(exemplar.trace_id, TRACE_ID);
    assert_eq!(exemplar.span_id, SPAN_ID);
    assert_eq!(exemplar.filtered_attributes[0].key, "user");

    let Some(metric::Data::Histogram(histogram)) = &metrics[1].data else {
        panic!("{:?}", metrics[1])
    };
    assert_eq!(histogram.aggregation_temporality, 1);
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 3);
    assert_eq!(point.sum, Some(7.5));
    assert_eq!(point.bucket_counts, vec![1, 2]);
    assert_eq!(point.explicit_bounds, vec![2.5]);
    assert_eq!((point.min, point.max), (Some(0.5), Some(4.0)));

    let Some(metric::Data::ExponentialHistogram(exponential)) = &metrics[2].data else {
        panic!("{:?}", metrics[2])
    };
    let point = &exponential.data_points[0];
    assert_eq!((point.count, point.scale, point.zero_count), (4, 3, 1));
    let positive = point.positive.as_ref().unwrap();
    assert_eq!(
        (positive.offset, positive.bucket_counts.clone()),
        (-2, vec![1, 2])
    );

    let Some(metric::Data::Summary(summary)) = &metrics[3].data else {
        panic!("{:?}", metrics[3])
    };
    assert_eq!(summary.data_points[0].quantile_values[0].value, 1.25);
}

#[test]
fn logs_with_severity_names_and_structured_bodies() {
    let body = r#"{"resource_logs": [{"scope_logs": [{"log_records": [{
      "time_unix_nano": "1700000000000000001",
      "observedTimeUnixNano": 1700000000000000002,
      "severity_number": "SEVERITY_NUMBER_WARN",
      "severityText": "WARN",
      "body": {"kvlistValue": {"values": [
        {"key": "order", "value": {"intValue": 17}},
        {"key": "blob", "value": {"bytesValue": "3q2-7w"}}
      ]}},
      "flags": "1",
      "droppedAttributesCount": "4",
      "traceId": "5B8EFFF798038103D269B633813FC60C",
      "spanId": "eee19b7ec3c1b174"
    }]}]}]}"#;
    let request: ExportLogsServiceRequest = decode(body.as_bytes()).unwrap();
    let record = &request.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(record.observed_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!(record.severity_number, 13);
    assert_eq!(record.flags, 1);
    assert_eq!(record.dropped_attributes_count, 4);
    assert_eq!(record.trace_id, TRACE_ID);
    use cormorant_core::pdata::common::any_value::Value;
    let Some(Value::KvlistValue(list)) = record.body.as_ref().unwrap().value.clone() else {
        panic!("{:?}", record.body)
    };
    assert_eq!(
        list.values[0].value.as_ref().unwrap().value,
        Some(Value::IntValue(17))
    );
    assert_eq!(
        list.values[1].value.as_ref().unwrap().value,
        Some(Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef]))
    );
}

#[test]
fn legacy_instrumentation_library_names_map_to_scope() {
    let body = r#"{"resourceSpans": [{"instrumentationLibrarySpans": [{
      "instrumentationLibrary": {"name": "old-sdk"},
      "spans": [{"name": "legacy", "kind": 3, "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}]}]
    }]}]}"#;
    let request: ExportTraceServiceRequest = decode(body.as_bytes()).unwrap();
    let scope_spans = &request.resource_spans[0].scope_spans[0];
    assert_eq!(scope_spans.scope.as_ref().unwrap().name, "old-sdk");
    assert_eq!(scope_spans.spans[0].kind, 3);
    assert_eq!(scope_spans.spans[0].links[0].trace_id, TRACE_ID);
}

#[test]
fn empty_object_is_an_empty_request() {
    let request: ExportTraceServiceRequest = decode(b"{}").unwrap();
    assert!(request.resource_spans.is_empty());
}

fn error_of(body: &str) -> JsonError {
    decode::<ExportTraceServiceRequest>(body.as_bytes()).unwrap_err()
}

#[test]
fn errors_name_the_field() {
    let error =
        error_of(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"eee19b7ec3c1b1"}]}]}]}"#);
    assert_eq!(
        error.to_string(),
        "invalid resourceSpans[0].scopeSpans[0].spans[0].spanId: expected 16 hex digits (8 bytes), got \"eee19b7ec3c1b1\""
    );
    let error = error_of(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz8efff798038103d269b633813fc60c"}]}]}]}"#,
    );
    assert!(error.to_string().contains("traceId"), "{error}");
    let error = error_of(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SIDEWAYS"}]}]}]}"#,
    );
    assert!(error.to_string().contains("SPAN_KIND_SIDEWAYS"), "{error}");
    assert!(error.to_string().contains("spans[0].kind"), "{error}");
    let error = error_of(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
    );
    assert!(error.to_string().contains("startTimeUnixNano"), "{error}");
    let error = error_of(r#"{"resourceSpans": 7}"#);
    assert!(error.to_string().contains("resourceSpans"), "{error}");
    assert!(matches!(error_of("[1, 2"), JsonError::Syntax(_)));
}

#[test]
fn malformed_metric_data_is_an_error_not_a_metric_without_data() {
    let cases = [
        (
            r#"{"gauge": {"dataPoints": [{"asDouble": "abc"}]}}"#,
            "dataPoints[0].asDouble",
        ),
        (
            r#"{"sum": {"dataPoints": [{"asInt": 1.5}]}}"#,
            "dataPoints[0].asInt",
        ),
        (
            r#"{"histogram": {"dataPoints": [{"count": "many"}]}}"#,
            "histogram.dataPoints[0].count",
        ),
        (
            r#"{"summary": {"dataPoints": [{"quantileValues": 3}]}}"#,
            "summary.dataPoints[0].quantileValues",
        ),
        (
            r#"{"gauge": {"dataPoints": [{"asInt": 1, "exemplars": [{"asDouble": true}]}]}}"#,
            "exemplars[0].asDouble",
        ),
    ];
    for (metric, field) in cases {
        let body =
            format!(r#"{{"resourceMetrics": [{{"scopeMetrics": [{{"metrics": [{metric}]}}]}}]}}"#);
        let error = decode::<ExportMetricsServiceRequest>(body.as_bytes()).unwrap_err();
        assert!(error.to_string().contains(field), "{metric}: {error}");
    }
    let error = decode::<ExportTraceServiceRequest>(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"n","value":{"intValue":"x"}}]}]}]}]}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("attributes[0]"), "{error}");
}
