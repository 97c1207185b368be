use super::fixtures::{self, START_NANOS};
use super::reader::{Map, Reader, map_of};
use crate::rows::{EncodedTable, Table, encode};
use cormorant_core::pdata::Payload;

fn tables() -> Vec<EncodedTable> {
    encode(&Payload::Metrics(fixtures::metrics()))
}

fn table(table: Table) -> EncodedTable {
    tables()
        .into_iter()
        .find(|t| t.table == table)
        .unwrap_or_else(|| panic!("{table:?} encoded"))
}

/// The resource, scope and metric columns, then `Attributes, StartTimeUnix, TimeUnix`.
fn assert_common(r: &mut Reader, metric_name: &str, point_attributes: &Map, start: i64) {
    assert_eq!(
        r.map(),
        map_of(&[("service.name", "checkout"), ("host.name", "node-1")])
    );
    assert_eq!(r.string(), "https://resource.schema");
    assert_eq!(r.string(), "io.cormorant.test");
    assert_eq!(r.string(), "1.2.3");
    assert_eq!(r.map(), map_of(&[("scope.attr", "7")]));
    assert_eq!(r.u32(), 3, "ScopeDroppedAttrCount");
    assert_eq!(r.string(), "https://scope.schema");
    assert_eq!(r.string(), "checkout", "ServiceName");
    assert_eq!(r.string(), metric_name);
    assert_eq!(r.string(), format!("{metric_name} description"));
    assert_eq!(r.string(), "ms");
    assert_eq!(&r.map(), point_attributes);
    assert_eq!(r.i64(), start, "StartTimeUnix");
    assert_eq!(r.i64(), START_NANOS as i64, "TimeUnix");
}

fn route() -> Map {
    map_of(&[("route", "/cart")])
}

const START: i64 = START_NANOS as i64 - 1_000;

/// `Exemplars.*` of the fixture's exemplars: an int one with ids, a double one without.
fn assert_exemplars(r: &mut Reader) {
    assert_eq!(
        r.array(Reader::map),
        [map_of(&[("user", "u1")]), Map::new()]
    );
    assert_eq!(
        r.array(Reader::i64),
        [START_NANOS as i64 + 1, START_NANOS as i64 + 2]
    );
    assert_eq!(r.array(Reader::f64), [9.0, 0.5]);
    assert_eq!(r.array(Reader::string), ["eee19b7ec3c1b174", ""]);
    assert_eq!(
        r.array(Reader::string),
        ["5b8efff798038103d269b633813fc60c", ""]
    );
}

fn assert_no_exemplars(r: &mut Reader) {
    for _ in 0..5 {
        assert_eq!(r.leb128(), 0);
    }
}

#[test]
fn every_metric_type_gets_its_own_table() {
    let tables: Vec<_> = tables().iter().map(|t| (t.table, t.rows)).collect();
    assert_eq!(
        tables,
        [
            (Table::MetricsGauge, 2),
            (Table::MetricsSum, 1),
            (Table::MetricsHistogram, 2),
            (Table::MetricsExponentialHistogram, 1),
            (Table::MetricsSummary, 1),
        ]
    );
    let mut only_gauge = fixtures::metrics();
    only_gauge[0].scope_metrics[0].metrics.truncate(1);
    let tables = encode(&Payload::Metrics(only_gauge));
    assert_eq!(tables.len(), 1, "tables without rows are left out");
}

#[test]
fn gauge_points_encode_value_flags_and_exemplars() {
    let t = table(Table::MetricsGauge);
    assert_eq!(t.columns.len(), 21);
    let mut r = Reader::new(&t.row_binary);
    assert_common(&mut r, "queue.depth", &route(), START);
    assert_eq!(r.f64(), -3.0, "int value as Float64");
    assert_eq!(r.u32(), 1, "Flags");
    assert_exemplars(&mut r);
    assert_common(&mut r, "queue.depth", &route(), START);
    assert_eq!(r.f64(), 2.5);
    assert_eq!(r.u32(), 1);
    assert_no_exemplars(&mut r);
    assert!(r.at_end());
}

#[test]
fn sum_points_add_temporality_and_monotonicity() {
    let t = table(Table::MetricsSum);
    let mut r = Reader::new(&t.row_binary);
    assert_common(&mut r, "requests", &route(), START);
    assert_eq!(r.f64(), 1e-9);
    assert_eq!(r.u32(), 1);
    assert_no_exemplars(&mut r);
    assert_eq!(r.i32(), 2, "AggregationTemporality cumulative");
    assert!(r.boolean(), "IsMonotonic");
    assert!(r.at_end());
}

#[test]
fn histogram_points_encode_buckets_and_zero_for_absent_fields() {
    let t = table(Table::MetricsHistogram);
    let mut r = Reader::new(&t.row_binary);
    assert_common(&mut r, "latency", &route(), START);
    assert_eq!(r.u64(), 6, "Count");
    assert_eq!(r.f64(), 12.5, "Sum");
    assert_eq!(r.array(Reader::u64), [1, 2, 3]);
    assert_eq!(r.array(Reader::f64), [1.0, 10.0]);
    assert_exemplars(&mut r);
    assert_eq!(r.u32(), 0, "Flags");
    assert_eq!(r.f64(), 0.5, "Min");
    assert_eq!(r.f64(), 9.75, "Max");
    assert_eq!(r.i32(), 1, "AggregationTemporality delta");

    assert_common(&mut r, "latency", &Map::new(), 0);
    assert_eq!(r.u64(), 0);
    assert_eq!(r.f64(), 0.0, "absent sum");
    assert_eq!(r.leb128(), 0);
    assert_eq!(r.leb128(), 0);
    assert_no_exemplars(&mut r);
    assert_eq!(r.u32(), 0);
    assert_eq!(r.f64(), 0.0, "absent min");
    assert_eq!(r.f64(), 0.0, "absent max");
    assert_eq!(r.i32(), 1);
    assert!(r.at_end());
}

#[test]
fn exponential_histogram_points_encode_both_bucket_sides() {
    let t = table(Table::MetricsExponentialHistogram);
    let mut r = Reader::new(&t.row_binary);
    assert_common(&mut r, "latency.exp", &route(), START);
    assert_eq!(r.u64(), 10, "Count");
    assert_eq!(r.f64(), 55.0, "Sum");
    assert_eq!(r.i32(), 3, "Scale");
    assert_eq!(r.u64(), 1, "ZeroCount");
    assert_eq!(r.i32(), -2, "PositiveOffset");
    assert_eq!(r.array(Reader::u64), [4, 5]);
    assert_eq!(r.i32(), 0, "absent negative buckets: offset 0");
    assert_eq!(r.array(Reader::u64), Vec::<u64>::new());
    assert_no_exemplars(&mut r);
    assert_eq!(r.u32(), 0);
    assert_eq!(r.f64(), -1.0, "Min");
    assert_eq!(r.f64(), 0.0, "absent Max");
    assert_eq!(r.i32(), 2);
    assert!(r.at_end());
}

#[test]
fn summary_points_encode_quantiles_as_two_arrays() {
    let t = table(Table::MetricsSummary);
    let mut r = Reader::new(&t.row_binary);
    assert_common(&mut r, "latency.summary", &route(), START);
    assert_eq!(r.u64(), 4);
    assert_eq!(r.f64(), 20.0);
    assert_eq!(r.array(Reader::f64), [0.5, 0.99]);
    assert_eq!(r.array(Reader::f64), [4.0, 9.5]);
    assert_eq!(r.u32(), 0);
    assert!(r.at_end());
}
