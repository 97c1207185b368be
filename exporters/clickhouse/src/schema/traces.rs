//! The traces table, its trace-id lookup table and the materialized view that fills it, in
//! contrib's stable form (`traces_table.sql`, `traces_id_ts_lookup_*.sql`), and the columns
//! eBPF and packet capture add.
//!
//! The lookup table keeps contrib's daily-partitioned shape (`Start`/`End` as `DateTime`,
//! `ORDER BY (TraceId, Start)`), which is what Grafana's trace lookup reads (`min(Start)`,
//! `max(End)` for one `TraceId`); contrib's newer weekly, `SimpleAggregateFunction` variant gives
//! the same answers to that query but would be the only table not partitioned by day.

use super::ddl::{Column, Ddl, Index, TableDefinition};

const MAP: &str = "Map(LowCardinality(String), String)";
const LOW_CARDINALITY: &str = "LowCardinality(String)";

pub fn table() -> TableDefinition {
    let mut indexes = vec![Index::new(
        "idx_trace_id",
        "TraceId",
        "bloom_filter(0.001)",
        1,
    )];
    indexes.extend(Index::map_pair(
        "idx_res_attr_key",
        "idx_res_attr_value",
        "mapKeys(ResourceAttributes)",
        "mapValues(ResourceAttributes)",
    ));
    indexes.extend(Index::map_pair(
        "idx_span_attr_key",
        "idx_span_attr_value",
        "mapKeys(SpanAttributes)",
        "mapValues(SpanAttributes)",
    ));
    indexes.push(Index::new("idx_duration", "Duration", "minmax", 1));
    TableDefinition {
        columns: vec![
            Column::with_codec("Timestamp", "DateTime64(9)", "Delta, ZSTD(1)"),
            Column::zstd("TraceId", "String"),
            Column::zstd("SpanId", "String"),
            Column::zstd("ParentSpanId", "String"),
            Column::zstd("TraceState", "String"),
            Column::zstd("SpanName", LOW_CARDINALITY),
            Column::zstd("SpanKind", LOW_CARDINALITY),
            Column::zstd("ServiceName", LOW_CARDINALITY),
            Column::zstd("ResourceAttributes", MAP),
            Column::zstd("ScopeName", "String"),
            Column::zstd("ScopeVersion", "String"),
            Column::zstd("SpanAttributes", MAP),
            Column::zstd("Duration", "UInt64"),
            Column::zstd("StatusCode", LOW_CARDINALITY),
            Column::zstd("StatusMessage", "String"),
            Column::zstd(
                "Events",
                "Nested(Timestamp DateTime64(9), Name LowCardinality(String), \
                 Attributes Map(LowCardinality(String), String))",
            ),
            Column::zstd(
                "Links",
                "Nested(TraceId String, SpanId String, TraceState String, \
                 Attributes Map(LowCardinality(String), String))",
            ),
        ],
        indexes,
        partition_by: "toDate(Timestamp)",
        primary_key: None,
        order_by: "(ServiceName, SpanName, toDateTime(Timestamp))",
        ttl_from: "toDateTime(Timestamp)",
    }
}

pub fn trace_id_ts_table() -> TableDefinition {
    TableDefinition {
        columns: vec![
            Column::zstd("TraceId", "String"),
            Column::with_codec("Start", "DateTime", "Delta, ZSTD(1)"),
            Column::with_codec("End", "DateTime", "Delta, ZSTD(1)"),
        ],
        indexes: vec![Index::new(
            "idx_trace_id",
            "TraceId",
            "bloom_filter(0.01)",
            1,
        )],
        partition_by: "toDate(Start)",
        primary_key: None,
        order_by: "(TraceId, Start)",
        ttl_from: "Start",
    }
}

/// `<traces>_trace_id_ts`: first and last span time of every trace.
pub fn trace_id_ts_name(traces: &str) -> String {
    format!("{traces}_trace_id_ts")
}

/// `<traces>_trace_id_ts_mv`.
pub fn trace_id_ts_view_name(traces: &str) -> String {
    format!("{traces}_trace_id_ts_mv")
}

/// The view that fills the lookup table. It reads the table spans are stored in (in cluster mode
/// each node's local part, so every span is seen exactly once) and writes to the lookup table
/// through its Distributed front in cluster mode.
pub fn trace_id_ts_view(ddl: &Ddl<'_>) -> String {
    let traces = &ddl.settings().tables.traces;
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{} TO {} AS \
         SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End \
         FROM {} WHERE TraceId != '' GROUP BY TraceId",
        ddl.qualified(&trace_id_ts_view_name(traces)),
        ddl.on_cluster(),
        ddl.qualified(&trace_id_ts_name(traces)),
        ddl.qualified(&ddl.storage_table(traces)),
    )
}

/// The eBPF and packet-capture columns (see `rows::extras` for how they are filled). Every one has
/// a default, so contrib-shaped inserts and Grafana's queries keep working.
pub const EXTRA_COLUMNS: [Column; 7] = [
    Column::zstd("SpanSource", LOW_CARDINALITY).defaulted("'app'"),
    Column::zstd("ProcessId", "UInt32").defaulted("0"),
    Column::zstd("ProcessName", LOW_CARDINALITY).defaulted("''"),
    Column::zstd("L7Protocol", LOW_CARDINALITY).defaulted("''"),
    Column::zstd("RequestId", "String").defaulted("''"),
    Column::zstd("TcpSeqRequest", "UInt32").defaulted("0"),
    Column::zstd("TcpSeqResponse", "UInt32").defaulted("0"),
];

/// Finds the spans of one request by its id across app, system and network spans.
const REQUEST_ID_INDEX: Index = Index::new("idx_request_id", "RequestId", "bloom_filter(0.01)", 1);

/// `ALTER TABLE … ADD COLUMN IF NOT EXISTS` for the extra columns: existing rows read the
/// defaults, so this runs on a store full of data without rewriting it. In cluster mode the
/// storage table and the Distributed table both get the columns; only the storage table can hold
/// the index.
pub fn add_extra_columns(ddl: &Ddl<'_>) -> Vec<String> {
    let traces = &ddl.settings().tables.traces;
    let storage = ddl.storage_table(traces);
    let add_columns: Vec<String> = EXTRA_COLUMNS
        .iter()
        .map(|column| format!("ADD COLUMN IF NOT EXISTS {}", column.render()))
        .collect();
    let alter = |table: &str, mut actions: Vec<String>, index: bool| {
        if index {
            actions.push(format!(
                "ADD INDEX IF NOT EXISTS {}",
                REQUEST_ID_INDEX.definition()
            ));
        }
        format!(
            "ALTER TABLE {}{} {}",
            ddl.qualified(table),
            ddl.on_cluster(),
            actions.join(", ")
        )
    };
    let mut statements = vec![alter(&storage, add_columns.clone(), true)];
    if storage != *traces {
        statements.push(alter(traces, add_columns, false));
    }
    statements
}
