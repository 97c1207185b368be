//! The Prometheus samples table: every sample of the metrics converted from Prometheus series
//! (scope `cormorant/prometheus`), stored as Prometheus has it — one row per series and
//! timestamp — so a series comes back exactly, stale markers and `le`/`quantile` texts included,
//! which the OpenTelemetry-shaped tables cannot promise.
//!
//! A series is `(MetricName, Labels)`; `SeriesId` names it in one number, computed by ClickHouse
//! from those two columns so it can never disagree with them and queries can compute it too:
//! `cityHash64('up', map('instance', 'a:9100', 'job', 'node'))` with the labels sorted by name,
//! as the exporter writes them. Rows are ordered by series, then time, which is how a series is
//! read back and what makes the delta-coded timestamps and XOR-coded values compress well.

use super::ddl::{Column, Index, TableDefinition};

/// The expression of `SeriesId`. ClickHouse keeps `cityHash64` at one fixed CityHash version, so
/// the value is the same on every server version; hashing the map hashes its keys and values in
/// their stored order, which the exporter makes the sorted one. The Distributed table of cluster
/// mode declares the column MATERIALIZED too (it is created `AS` the local table), so inserts
/// through it leave the column to the shards.
pub const SERIES_ID_EXPRESSION: &str = "cityHash64(MetricName, Labels)";

pub fn table() -> TableDefinition {
    TableDefinition {
        columns: vec![
            Column::zstd("MetricName", "LowCardinality(String)"),
            Column::zstd("Labels", "Map(LowCardinality(String), String)"),
            Column::zstd("SeriesId", "UInt64").materialized(SERIES_ID_EXPRESSION),
            // Scrapes are regular, so consecutive timestamps of a series differ by a near-constant
            // step: DoubleDelta stores that in a few bits.
            Column::with_codec("Timestamp", "DateTime64(3)", "DoubleDelta, ZSTD(1)"),
            // Gorilla is lossless on the bits (a stale marker's NaN payload survives) and small
            // for slowly changing values.
            Column::with_codec("Value", "Float64", "Gorilla, ZSTD(1)"),
        ],
        indexes: Index::map_pair(
            "idx_label_key",
            "idx_label_value",
            "mapKeys(Labels)",
            "mapValues(Labels)",
        )
        .to_vec(),
        partition_by: "toDate(Timestamp)",
        primary_key: None,
        order_by: "(MetricName, SeriesId, Timestamp)",
        ttl_from: "toDateTime(Timestamp)",
    }
}
