//! The `clickhouse` exporter: stores traces, metrics and logs in ClickHouse tables shaped like the
//! OpenTelemetry Collector contrib clickhouseexporter's (so Grafana's ClickHouse data source reads
//! them unchanged), plus columns for what eBPF capture adds.
//!
//! - [`schema`]: table definitions and the numbered migrations that create and evolve them.
//! - [`rows`]: RowBinary encoding of a payload into one body per table.

pub mod rows;
pub mod schema;
