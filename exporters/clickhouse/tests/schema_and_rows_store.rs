//! The schema and the RowBinary encoders against a real ClickHouse engine: migrations apply to a
//! fresh database (twice, the second time as a no-op), the extra-columns migration upgrades a
//! table that already holds contrib-shaped rows, and every encoded table inserts with
//! `FORMAT RowBinary` and reads back, column by column, as the values that were encoded.
//!
//! The read-back check is driven by the server: `DESCRIBE TABLE` gives each column's type, the
//! encoded body is decoded with those types, and the result must equal what `SELECT … FORMAT
//! JSONEachRow` returns. The unit tests pin what the encoded values are; this pins that ClickHouse
//! stores exactly them.

// Shared with the unit tests, which use the items this test does not.
#[allow(dead_code)]
#[path = "../src/rows/tests/fixtures.rs"]
mod fixtures;
mod local_store;

use cormorant_core::pdata::Payload;
use cormorant_core::pdata::metrics::{Gauge, Sum, metric::Data};
use cormorant_core::prometheus::SCOPE_NAME;
use cormorant_exporter_clickhouse::rows::{self, EncodedTable, Table};
use cormorant_exporter_clickhouse::schema::{self, SchemaSettings, TableEngine, quote_identifier};
use local_store::Store;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unique_database(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cormorant_{purpose}_{}_{nanos}", std::process::id())
}

fn settings(database: &str) -> SchemaSettings {
    SchemaSettings {
        database: database.to_owned(),
        cluster: None,
        engine: TableEngine {
            name: "MergeTree".to_owned(),
            params: String::new(),
        },
        ttl: None,
        tables: schema::default_table_names(),
    }
}

fn apply_all(store: &Store, settings: &SchemaSettings) {
    for migration in schema::migrations(settings) {
        for statement in &migration.statements {
            store.execute(statement);
        }
    }
}

fn insert(store: &Store, database: &str, table: &str, encoded: &EncodedTable) {
    let query = format!(
        "INSERT INTO {}.{} ({}) FORMAT RowBinary",
        quote_identifier(database),
        quote_identifier(table),
        encoded.columns.join(", ")
    );
    store
        .post(&[("query", &query)], &encoded.row_binary)
        .unwrap_or_else(|error| panic!("insert into {table}: {error}"));
}

fn select_json_rows(store: &Store, query: &str) -> Vec<Value> {
    let answer = store
        .post(
            &[
                ("query", query),
                ("output_format_json_quote_64bit_integers", "0"),
            ],
            b"",
        )
        .unwrap_or_else(|error| panic!("{error}\nquery: {query}"));
    answer
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("JSONEachRow line"))
        .collect()
}

/// `name → type` of every column, as the server describes the table.
fn describe(store: &Store, database: &str, table: &str) -> Vec<(String, String)> {
    let answer = store.execute(&format!(
        "DESCRIBE TABLE {}.{} FORMAT TabSeparated",
        quote_identifier(database),
        quote_identifier(table)
    ));
    answer
        .lines()
        .map(|line| {
            let mut fields = line.split('\t');
            (
                fields.next().unwrap().to_owned(),
                fields.next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Reads RowBinary by ClickHouse type names, into the JSON shape the checks compare.
struct TypedReader<'a> {
    bytes: &'a [u8],
}

impl TypedReader<'_> {
    fn take(&mut self, len: usize) -> &[u8] {
        assert!(len <= self.bytes.len(), "RowBinary body ends early");
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        head
    }

    fn leb128(&mut self) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let byte = self.take(1)[0];
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    fn value(&mut self, ty: &str) -> Value {
        let le = |bytes: &[u8]| {
            let mut buffer = [0u8; 8];
            buffer[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(buffer)
        };
        if let Some(inner) = unwrap_type(ty, "Array(") {
            let len = self.leb128();
            return Value::Array((0..len).map(|_| self.value(inner)).collect());
        }
        if let Some(inner) = unwrap_type(ty, "Map(") {
            let (key_type, value_type) = split_pair(inner);
            let len = self.leb128();
            let mut map = Map::new();
            for _ in 0..len {
                let Value::String(key) = self.value(key_type) else {
                    panic!("map keys are strings")
                };
                map.insert(key, self.value(value_type));
            }
            return Value::Object(map);
        }
        match ty {
            "String" | "LowCardinality(String)" => {
                let len = self.leb128();
                Value::String(String::from_utf8(self.take(len).to_vec()).unwrap())
            }
            "UInt8" => Value::from(self.take(1)[0]),
            "UInt32" => Value::from(le(self.take(4))),
            "UInt64" => Value::from(le(self.take(8))),
            "Int32" => Value::from(le(self.take(4)) as u32 as i32),
            "Int64" | "DateTime64(9)" | "DateTime64(3)" => Value::from(le(self.take(8)) as i64),
            "Float64" => Value::from(f64::from_bits(le(self.take(8)))),
            "Bool" => Value::Bool(self.take(1)[0] != 0),
            other => panic!("no reader for type {other}"),
        }
    }
}

fn unwrap_type<'t>(ty: &'t str, prefix: &str) -> Option<&'t str> {
    ty.strip_prefix(prefix)?.strip_suffix(')')
}

/// `K, V` of a `Map(K, V)`, split at the top-level comma.
fn split_pair(inner: &str) -> (&str, &str) {
    let mut depth = 0;
    for (at, ch) in inner.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return (inner[..at].trim(), inner[at + 1..].trim()),
            _ => {}
        }
    }
    panic!("not a pair: {inner}")
}

/// Brings a JSONEachRow value into the shape [`TypedReader`] produces (numbers as their type).
fn canonical(ty: &str, value: &Value) -> Value {
    if let Some(inner) = unwrap_type(ty, "Array(") {
        let items = value.as_array().expect("array");
        return Value::Array(items.iter().map(|v| canonical(inner, v)).collect());
    }
    if let Some(inner) = unwrap_type(ty, "Map(") {
        let (_, value_type) = split_pair(inner);
        let map = value.as_object().expect("object");
        return Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical(value_type, v)))
                .collect(),
        );
    }
    match ty {
        "Float64" => Value::from(value.as_f64().expect("number")),
        "Int32" | "Int64" | "DateTime64(9)" => Value::from(value.as_i64().expect("integer")),
        "UInt8" | "UInt32" | "UInt64" => Value::from(value.as_u64().expect("integer")),
        _ => value.clone(),
    }
}

/// DateTime64 columns are compared as nanoseconds (or milliseconds) since the epoch.
fn select_expression(column: &str, ty: &str) -> (String, String) {
    let quoted = quote_identifier(column);
    if ty == "DateTime64(9)" {
        (format!("toUnixTimestamp64Nano({quoted})"), "Int64".into())
    } else if ty == "DateTime64(3)" {
        (format!("toUnixTimestamp64Milli({quoted})"), "Int64".into())
    } else if ty == "Array(DateTime64(9))" {
        (
            format!("arrayMap(t -> toUnixTimestamp64Nano(t), {quoted})"),
            "Array(Int64)".into(),
        )
    } else {
        (quoted, ty.to_owned())
    }
}

/// Inserts `encoded` and checks every row and column read back equals what was encoded.
fn assert_round_trip(store: &Store, database: &str, table: &str, encoded: &EncodedTable) {
    insert(store, database, table, encoded);
    let described = describe(store, database, table);
    let types: Vec<String> = encoded
        .columns
        .iter()
        .map(|column| {
            described
                .iter()
                .find(|(name, _)| name == column)
                .unwrap_or_else(|| panic!("{table} has no column {column}"))
                .1
                .clone()
        })
        .collect();

    let mut reader = TypedReader {
        bytes: &encoded.row_binary,
    };
    let mut expected: Vec<String> = (0..encoded.rows)
        .map(|_| {
            let row: Map<String, Value> = encoded
                .columns
                .iter()
                .zip(&types)
                .map(|(column, ty)| {
                    let (_, compared_type) = select_expression(column, ty);
                    let value = reader.value(ty);
                    ((*column).to_owned(), canonical(&compared_type, &value))
                })
                .collect();
            Value::Object(row).to_string()
        })
        .collect();
    assert!(
        reader.bytes.is_empty(),
        "{table}: bytes left after the rows"
    );

    let selected: Vec<String> = encoded
        .columns
        .iter()
        .zip(&types)
        .map(|(column, ty)| {
            format!(
                "{} AS {}",
                select_expression(column, ty).0,
                quote_identifier(column)
            )
        })
        .collect();
    let query = format!(
        "SELECT {} FROM {}.{} FORMAT JSONEachRow",
        selected.join(", "),
        quote_identifier(database),
        quote_identifier(table)
    );
    let mut actual: Vec<String> = select_json_rows(store, &query)
        .into_iter()
        .map(|row| {
            let row: Map<String, Value> = encoded
                .columns
                .iter()
                .zip(&types)
                .map(|(column, ty)| {
                    let compared_type = select_expression(column, ty).1;
                    (
                        (*column).to_owned(),
                        canonical(&compared_type, &row[*column]),
                    )
                })
                .collect();
            Value::Object(row).to_string()
        })
        .collect();
    expected.sort();
    actual.sort();
    assert_eq!(
        actual, expected,
        "{table}: stored rows differ from the encoded ones"
    );
}

#[test]
fn migrations_apply_twice_and_every_encoded_table_round_trips() {
    let Some(store) = Store::start() else { return };
    // With a TTL the fixtures' 2023 rows would expire: the TTL DDL gets its own database.
    let expiring = SchemaSettings {
        ttl: Some(Duration::from_secs(36 * 3_600)),
        ..settings(&unique_database("ttl"))
    };
    apply_all(&store, &expiring);
    let create = store.execute(&format!(
        "SHOW CREATE TABLE {}.otel_logs FORMAT TabSeparatedRaw",
        quote_identifier(&expiring.database)
    ));
    assert!(
        create.contains("TTL TimestampTime + toIntervalHour(36)"),
        "{create}"
    );

    let database = unique_database("rows");
    let settings = settings(&database);
    apply_all(&store, &settings);
    apply_all(&store, &settings);
    store.execute(&schema::migrations_table_ddl(&settings));
    store.execute(&schema::migrations_table_ddl(&settings));

    let payloads = [
        Payload::Traces(fixtures::traces()),
        Payload::Logs(fixtures::logs()),
        Payload::Metrics(fixtures::metrics()),
    ];
    let mut seen = Vec::new();
    for payload in &payloads {
        for encoded in rows::encode(payload) {
            let table = settings.tables.of(encoded.table);
            assert_round_trip(&store, &database, table, &encoded);
            seen.push(encoded.table);
        }
    }
    // The same metrics converted from Prometheus give samples (their other tables are filled
    // already). Without the "no recorded value" flag, the values are numbers JSON can compare.
    let mut prometheus = fixtures::metrics();
    for scope_metrics in &mut prometheus[0].scope_metrics {
        scope_metrics.scope.as_mut().unwrap().name = SCOPE_NAME.to_owned();
        for metric in &mut scope_metrics.metrics {
            if let Some(Data::Gauge(Gauge { data_points }) | Data::Sum(Sum { data_points, .. })) =
                &mut metric.data
            {
                data_points.iter_mut().for_each(|point| point.flags = 0);
            }
        }
    }
    let samples = rows::encode(&Payload::Metrics(prometheus))
        .into_iter()
        .find(|encoded| encoded.table == Table::PrometheusSamples)
        .expect("samples encoded");
    assert_round_trip(
        &store,
        &database,
        &settings.tables.prometheus_samples,
        &samples,
    );
    seen.push(samples.table);
    assert_eq!(seen, Table::ALL, "every table was exercised");

    let db = quote_identifier(&database);
    let lookup = select_json_rows(
        &store,
        &format!(
            "SELECT TraceId, toUnixTimestamp(min(Start)) AS first, toUnixTimestamp(max(End)) AS last \
             FROM {db}.otel_traces_trace_id_ts GROUP BY TraceId FORMAT JSONEachRow"
        ),
    );
    let start_second = fixtures::START_NANOS / 1_000_000_000;
    assert_eq!(
        lookup,
        [serde_json::json!({
            "TraceId": "5b8efff798038103d269b633813fc60c",
            "first": start_second,
            "last": start_second,
        })],
        "the view filled the trace-id lookup table"
    );
    let logs = select_json_rows(
        &store,
        &format!(
            "SELECT toUnixTimestamp(TimestampTime) AS t FROM {db}.otel_logs \
             WHERE ServiceName = 'checkout' AND SeverityText = 'ERROR' FORMAT JSONEachRow"
        ),
    );
    assert_eq!(logs, [serde_json::json!({ "t": start_second })]);
}

#[test]
fn the_extra_columns_migration_upgrades_a_table_holding_contrib_rows() {
    let Some(store) = Store::start() else { return };
    let database = unique_database("upgrade");
    let settings = settings(&database);
    let mut migrations = schema::migrations(&settings);
    assert_eq!(migrations[1].version, 2);
    for statement in &migrations[0].statements {
        store.execute(statement);
    }
    let db = quote_identifier(&database);
    store.execute(&format!(
        "INSERT INTO {db}.otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, \
         Duration, StatusCode) VALUES (now64(9), 'aaaa', 'bbbb', 'GET /', 'Server', 'legacy', 5, 'Ok')"
    ));

    for statement in &migrations.remove(1).statements {
        store.execute(statement);
        store.execute(statement);
    }
    let legacy = select_json_rows(
        &store,
        &format!(
            "SELECT SpanSource, ProcessId, ProcessName, L7Protocol, RequestId, TcpSeqRequest, \
             TcpSeqResponse FROM {db}.otel_traces WHERE ServiceName = 'legacy' FORMAT JSONEachRow"
        ),
    );
    assert_eq!(
        legacy,
        [serde_json::json!({
            "SpanSource": "app", "ProcessId": 0, "ProcessName": "", "L7Protocol": "",
            "RequestId": "", "TcpSeqRequest": 0, "TcpSeqResponse": 0,
        })],
        "rows stored before the upgrade read the defaults"
    );

    let encoded = rows::encode(&Payload::Traces(fixtures::traces())).remove(0);
    insert(&store, &database, "otel_traces", &encoded);
    let by_request = select_json_rows(
        &store,
        &format!(
            "SELECT SpanName, SpanSource, ProcessId, TcpSeqRequest FROM {db}.otel_traces \
             WHERE RequestId = 'req-1' FORMAT JSONEachRow"
        ),
    );
    assert_eq!(
        by_request,
        [serde_json::json!({
            "SpanName": "GET /cart", "SpanSource": "system", "ProcessId": 4242,
            "TcpSeqRequest": 3_000_000_000u32,
        })]
    );
}
