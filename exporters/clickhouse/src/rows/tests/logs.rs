use super::encode_one;
use super::fixtures::{self, EVERY_VALUE_TYPE_TEXT, START_NANOS};
use super::reader::{Map, Reader, map_of};
use crate::rows::Table;
use cormorant_core::pdata::Payload;

/// `ResourceSchemaUrl … ScopeAttributes`, the same for both fixture records.
fn assert_resource_and_scope(r: &mut Reader) {
    assert_eq!(r.string(), "https://opentelemetry.io/schemas/1.25.0");
    assert_eq!(
        r.map(),
        map_of(&[("service.name", "checkout"), ("host.name", "node-1")])
    );
    assert_eq!(r.string(), "https://opentelemetry.io/schemas/1.26.0");
    assert_eq!(r.string(), "io.cormorant.test");
    assert_eq!(r.string(), "1.2.3");
    assert_eq!(r.map(), map_of(&[("scope.attr", "7")]));
}

#[test]
fn log_records_encode_every_column_in_insert_order() {
    let table = encode_one(&Payload::Logs(fixtures::logs()));
    assert_eq!(table.table, Table::Logs);
    assert_eq!(table.rows, 2);
    assert_eq!(table.columns.first(), Some(&"Timestamp"));
    assert_eq!(table.columns.last(), Some(&"EventName"));
    let mut r = Reader::new(&table.row_binary);

    assert_eq!(r.i64(), START_NANOS as i64);
    assert_eq!(r.string(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(r.string(), "eee19b7ec3c1b174");
    assert_eq!(r.u8(), 1, "TraceFlags is the low byte of flags");
    assert_eq!(r.string(), "ERROR");
    assert_eq!(r.u8(), 17);
    assert_eq!(r.string(), "checkout");
    assert_eq!(r.string(), "payment failed");
    assert_resource_and_scope(&mut r);
    assert_eq!(r.map(), map_of(&EVERY_VALUE_TYPE_TEXT));
    assert_eq!(r.string(), "payment.failure");

    assert_eq!(
        r.i64(),
        START_NANOS as i64 + 2_000,
        "no time: the observed time"
    );
    assert_eq!(r.string(), "", "no trace id");
    assert_eq!(r.string(), "", "no span id");
    assert_eq!(r.u8(), 0);
    assert_eq!(r.string(), "");
    assert_eq!(r.u8(), 0);
    assert_eq!(r.string(), "checkout");
    assert_eq!(
        r.string(),
        r#"{"msg":"hi","n":1e+21}"#,
        "structured body as JSON"
    );
    assert_resource_and_scope(&mut r);
    assert_eq!(r.map(), Map::new());
    assert_eq!(r.string(), "");
    assert!(r.at_end(), "no trailing bytes");
}

#[test]
fn resources_without_service_name_have_an_empty_service() {
    let mut resource_logs = fixtures::logs();
    resource_logs[0].resource = None;
    resource_logs[0].scope_logs[0].log_records.truncate(1);
    let table = encode_one(&Payload::Logs(resource_logs));
    let mut r = Reader::new(&table.row_binary);
    r.i64();
    r.string();
    r.string();
    r.u8();
    r.string();
    r.u8();
    assert_eq!(r.string(), "", "ServiceName");
    assert_eq!(r.string(), "payment failed");
    r.string();
    assert_eq!(r.map(), Map::new(), "ResourceAttributes");
}
