//! `ExportLogsServiceRequest` payloads: one resource, one scope, `items` access-log records.

use super::attributes::{HttpCall, item_attributes, resource};
use super::wire::FieldLayout;
use super::{PayloadSpec, instrumentation_scope};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use rand::Rng;

/// `resource_logs` (1) → `scope_logs` (2) → `log_records` (2); ids `trace_id` (9),
/// `span_id` (10); times `time_unix_nano` (1), `observed_time_unix_nano` (11).
pub(super) const LAYOUT: FieldLayout<'static> = FieldLayout {
    path: &[&[1], &[2], &[2]],
    id_fields: &[(9, 16), (10, 8)],
    fixed64_fields: &[1, 11],
};

pub(super) fn build(
    spec: &PayloadSpec,
    rng: &mut impl Rng,
    now_nanos: u64,
) -> ExportLogsServiceRequest {
    let log_records = (0..spec.items_per_request)
        .map(|_| access_log(spec, rng, now_nanos))
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(&spec.service_name, rng)),
            scope_logs: vec![ScopeLogs {
                scope: Some(instrumentation_scope()),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn access_log(spec: &PayloadSpec, rng: &mut impl Rng, now_nanos: u64) -> LogRecord {
    let call = HttpCall::random(rng);
    let observed = now_nanos - rng.random_range(0..1_000_000);
    let client = format!(
        "10.0.{}.{}",
        rng.random_range(0..256),
        rng.random_range(1..255)
    );
    let body = format!(
        "{client} - - \"{} {} HTTP/1.1\" {} {} \"-\" \"curl/8.5.0\"",
        call.method,
        call.path,
        call.status_code,
        rng.random_range(64..16_384)
    );
    let (severity, severity_text) = if call.is_server_error() {
        (SeverityNumber::Error, "ERROR")
    } else {
        (SeverityNumber::Info, "INFO")
    };
    LogRecord {
        time_unix_nano: observed - rng.random_range(1_000..500_000),
        observed_time_unix_nano: observed,
        severity_number: severity as i32,
        severity_text: severity_text.to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body)),
        }),
        attributes: item_attributes(
            &call,
            spec.attributes_per_item,
            spec.attribute_value_size,
            rng,
        ),
        dropped_attributes_count: 0,
        flags: 1,
        trace_id: rng.random::<[u8; 16]>().to_vec(),
        span_id: rng.random::<[u8; 8]>().to_vec(),
        event_name: String::new(),
    }
}
