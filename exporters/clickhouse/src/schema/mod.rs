//! Table definitions and numbered migrations.

use std::time::Duration;

/// Names of the tables the exporter writes, as configured (contrib's defaults otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub traces: String,
    pub logs: String,
    pub metrics_gauge: String,
    pub metrics_sum: String,
    pub metrics_histogram: String,
    pub metrics_exponential_histogram: String,
    pub metrics_summary: String,
}

/// `table_engine{name, params}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEngine {
    pub name: String,
    pub params: String,
}

/// Everything the DDL depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSettings {
    pub database: String,
    /// `cluster_name`: DDL runs `ON CLUSTER`, tables use Replicated engines behind a Distributed table.
    pub cluster: Option<String>,
    pub engine: TableEngine,
    /// `ttl`: rows older than this are dropped (whole parts, `ttl_only_drop_parts=1`); `None` keeps all.
    pub ttl: Option<Duration>,
    pub tables: TableNames,
}

/// One numbered schema change, applied once and recorded in `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    /// Statements run in order; each must be idempotent (`IF NOT EXISTS`), so a migration cut off
    /// half-way, or raced by another collector, can be run again safely.
    pub statements: Vec<String>,
}
