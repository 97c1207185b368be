//! The logs table in contrib's shape up to v0.150 (`logs_table.sql`), with `EventName`.
//!
//! Contrib v0.151 dropped `TimestampTime` and re-keyed the table on `Timestamp`. This shape keeps
//! it, because it is the one every version of Grafana's ClickHouse data source reads well: in
//! `auto` mode the plugin looks for `TimestampTime` and, finding it, filters time ranges on it,
//! which is this table's partition and primary key, so a dashboard's time range prunes partitions
//! and granules; plugins pinned to the 1.2.9 schema (and those released before `auto`) require the
//! column outright (contrib#48770, grafana/clickhouse-datasource#1899). `TimestampTime` is filled
//! by its DEFAULT, so inserts never name it.

use super::ddl::{Column, Index, TableDefinition};

const MAP: &str = "Map(LowCardinality(String), String)";
const LOW_CARDINALITY: &str = "LowCardinality(String)";

pub fn table() -> TableDefinition {
    let mut indexes = vec![Index::new(
        "idx_trace_id",
        "TraceId",
        "bloom_filter(0.001)",
        1,
    )];
    for (key_index, value_index, keys, values) in [
        (
            "idx_res_attr_key",
            "idx_res_attr_value",
            "mapKeys(ResourceAttributes)",
            "mapValues(ResourceAttributes)",
        ),
        (
            "idx_scope_attr_key",
            "idx_scope_attr_value",
            "mapKeys(ScopeAttributes)",
            "mapValues(ScopeAttributes)",
        ),
        (
            "idx_log_attr_key",
            "idx_log_attr_value",
            "mapKeys(LogAttributes)",
            "mapValues(LogAttributes)",
        ),
    ] {
        indexes.extend(Index::map_pair(key_index, value_index, keys, values));
    }
    indexes.push(Index::new("idx_body", "Body", "tokenbf_v1(32768, 3, 0)", 8));
    TableDefinition {
        columns: vec![
            Column::with_codec("Timestamp", "DateTime64(9)", "Delta(8), ZSTD(1)"),
            Column::plain("TimestampTime", "DateTime").defaulted("toDateTime(Timestamp)"),
            Column::zstd("TraceId", "String"),
            Column::zstd("SpanId", "String"),
            Column::plain("TraceFlags", "UInt8"),
            Column::zstd("SeverityText", LOW_CARDINALITY),
            Column::plain("SeverityNumber", "UInt8"),
            Column::zstd("ServiceName", LOW_CARDINALITY),
            Column::zstd("Body", "String"),
            Column::zstd("ResourceSchemaUrl", LOW_CARDINALITY),
            Column::zstd("ResourceAttributes", MAP),
            Column::zstd("ScopeSchemaUrl", LOW_CARDINALITY),
            Column::zstd("ScopeName", "String"),
            Column::zstd("ScopeVersion", LOW_CARDINALITY),
            Column::zstd("ScopeAttributes", MAP),
            Column::zstd("LogAttributes", MAP),
            Column::zstd("EventName", "String"),
        ],
        indexes,
        partition_by: "toDate(TimestampTime)",
        primary_key: Some("(ServiceName, TimestampTime)"),
        order_by: "(ServiceName, TimestampTime, Timestamp)",
        ttl_from: "TimestampTime",
    }
}
