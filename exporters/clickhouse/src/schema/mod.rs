//! Table definitions and numbered migrations.
//!
//! Migration 1 creates the database and every table exactly as the contrib exporter does, so a
//! store created by Cormorant is one Grafana and contrib-era queries know. Later migrations only
//! add (tables, columns with defaults, indexes) and are idempotent, so they upgrade a store that already
//! holds data — including one the contrib exporter created — and can be re-run after a crash or
//! by several collectors starting at once. Migration 4 adds the Prometheus samples table, a
//! second, lossless form of the metrics converted from Prometheus series.

mod ddl;
mod logs;
mod metrics;
mod prometheus;
mod traces;

#[cfg(test)]
mod tests;

pub use ddl::{quote_identifier, quote_string};
pub use prometheus::SERIES_ID_EXPRESSION;
pub use traces::{trace_id_ts_name, trace_id_ts_view_name};

use crate::rows::Table;
use ddl::{DEDUPLICATION_WINDOW_SETTING, Ddl};
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
    /// Our extension: the samples of metrics converted from Prometheus series.
    pub prometheus_samples: String,
}

impl TableNames {
    /// The configured name of the table `table`'s rows go to.
    pub fn of(&self, table: Table) -> &str {
        match table {
            Table::Traces => &self.traces,
            Table::Logs => &self.logs,
            Table::MetricsGauge => &self.metrics_gauge,
            Table::MetricsSum => &self.metrics_sum,
            Table::MetricsHistogram => &self.metrics_histogram,
            Table::MetricsExponentialHistogram => &self.metrics_exponential_histogram,
            Table::MetricsSummary => &self.metrics_summary,
            Table::PrometheusSamples => &self.prometheus_samples,
        }
    }
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

/// The table that records applied migrations, in the configured database.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// The contrib exporter's table names, and ours for the Prometheus samples.
pub fn default_table_names() -> TableNames {
    TableNames {
        traces: "otel_traces".to_owned(),
        logs: "otel_logs".to_owned(),
        metrics_gauge: "otel_metrics_gauge".to_owned(),
        metrics_sum: "otel_metrics_sum".to_owned(),
        metrics_histogram: "otel_metrics_histogram".to_owned(),
        metrics_exponential_histogram: "otel_metrics_exp_histogram".to_owned(),
        metrics_summary: "otel_metrics_summary".to_owned(),
        prometheus_samples: "prometheus_samples".to_owned(),
    }
}

/// `CREATE DATABASE IF NOT EXISTS`, or `None` for `default`, which always exists. Runs before
/// [`migrations_table_ddl`], since the migrations table lives in the database.
pub fn create_database_ddl(settings: &SchemaSettings) -> Option<String> {
    Ddl::new(settings).create_database()
}

/// `CREATE TABLE IF NOT EXISTS <db>.schema_migrations`. A version recorded twice (two collectors
/// racing) is merged away by ReplacingMergeTree and harmless before that.
///
/// In cluster mode the table is replicated to every node of the cluster under one ZooKeeper path
/// (no `{shard}` in it, replica names made unique with the shard), so a collector talking to any
/// node sees what every other collector applied, whereas the data tables are sharded.
pub fn migrations_table_ddl(settings: &SchemaSettings) -> String {
    let ddl = Ddl::new(settings);
    let engine = if settings.cluster.is_some() {
        format!(
            "ReplicatedReplacingMergeTree({}, '{{shard}}-{{replica}}')",
            quote_string(&format!(
                "/clickhouse/tables/{}/{MIGRATIONS_TABLE}",
                settings.database
            ))
        )
    } else {
        "ReplacingMergeTree".to_owned()
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {}{} (version UInt32, description String, \
         applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = {engine} ORDER BY version",
        ddl.qualified(MIGRATIONS_TABLE),
        ddl.on_cluster(),
    )
}

/// Every migration, in version order.
pub fn migrations(settings: &SchemaSettings) -> Vec<Migration> {
    let ddl = Ddl::new(settings);
    vec![
        Migration {
            version: 1,
            description: "contrib clickhouseexporter tables",
            statements: contrib_tables(&ddl),
        },
        Migration {
            version: 2,
            description: "traces: span source, process, L7 protocol, request id and TCP sequence columns",
            statements: traces::add_extra_columns(&ddl),
        },
        Migration {
            version: 3,
            description: "deduplication window for retried inserts on non-replicated tables",
            statements: deduplication_window(&ddl),
        },
        Migration {
            version: 4,
            description: "Prometheus samples table",
            statements: ddl.create_table(
                &ddl.settings().tables.prometheus_samples,
                &prometheus::table(),
            ),
        },
    ]
}

/// Tables created before migration 1 set the window (for example by the contrib exporter, whose
/// tables migration 1 leaves as they are) get it here; setting it again is harmless. Tables of
/// later migrations are created with the window.
fn deduplication_window(ddl: &Ddl<'_>) -> Vec<String> {
    if !ddl.needs_deduplication_window() {
        return Vec::new();
    }
    data_table_names(&ddl.settings().tables)
        .into_iter()
        .map(|table| {
            format!(
                "ALTER TABLE {} MODIFY SETTING {DEDUPLICATION_WINDOW_SETTING}",
                ddl.qualified(table)
            )
        })
        .collect()
}

/// The seven tables of migration 1 the exporter inserts into.
fn data_table_names(names: &TableNames) -> [&str; 7] {
    [
        &names.traces,
        &names.logs,
        &names.metrics_gauge,
        &names.metrics_sum,
        &names.metrics_histogram,
        &names.metrics_exponential_histogram,
        &names.metrics_summary,
    ]
}

/// The database, the seven data tables, the trace-id lookup table and the view that fills it.
/// The lookup table is created before its view, which writes to it.
fn contrib_tables(ddl: &Ddl<'_>) -> Vec<String> {
    let names = &ddl.settings().tables;
    let mut statements: Vec<String> = ddl.create_database().into_iter().collect();
    statements.extend(ddl.create_table(&names.traces, &traces::table()));
    statements.extend(ddl.create_table(
        &trace_id_ts_name(&names.traces),
        &traces::trace_id_ts_table(),
    ));
    statements.push(traces::trace_id_ts_view(ddl));
    statements.extend(ddl.create_table(&names.logs, &logs::table()));
    for (name, definition) in [
        (&names.metrics_gauge, metrics::gauge()),
        (&names.metrics_sum, metrics::sum()),
        (&names.metrics_histogram, metrics::histogram()),
        (
            &names.metrics_exponential_histogram,
            metrics::exponential_histogram(),
        ),
        (&names.metrics_summary, metrics::summary()),
    ] {
        statements.extend(ddl.create_table(name, &definition));
    }
    statements
}
