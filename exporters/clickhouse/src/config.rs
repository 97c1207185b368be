//! `clickhouse` exporter settings: contrib clickhouseexporter's keys, plus the shared
//! `timeout`, `retry_on_failure` and `sending_queue`.

use crate::compress::Compression;
use crate::endpoint::{Endpoint, check_setting_name};
use crate::schema::{self, SchemaSettings, TableEngine, TableNames};
use cormorant_core::config::duration;
use cormorant_core::exporterhelper::{
    BatchSetting, QueueSetting, QueuedExporterSettings, RetrySetting, TimeoutSetting,
};
use cormorant_core::tls::TlsClientSetting;
use cormorant_core::{ComponentConfig, ConfigError};
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// ClickHouse's HTTP interface, e.g. `http://localhost:8123` (see [`Endpoint`]).
    #[serde(default)]
    pub endpoint: String,
    #[serde(default = "default_database")]
    pub database: String,
    /// Overrides the user of `endpoint`; empty sends none (ClickHouse's `default` user).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// ClickHouse settings sent with every request (e.g. `max_insert_threads: 4`).
    #[serde(default)]
    pub connection_params: IndexMap<String, String>,
    /// Rows older than this are dropped by ClickHouse; 0 keeps everything.
    #[serde(default, deserialize_with = "duration")]
    pub ttl: Duration,
    /// Create the database and tables and apply pending migrations at start.
    #[serde(default = "enabled")]
    pub create_schema: bool,
    /// Run DDL `ON CLUSTER` and use Replicated tables behind Distributed ones.
    #[serde(default)]
    pub cluster_name: String,
    #[serde(default)]
    pub table_engine: TableEngineSetting,
    /// Let ClickHouse buffer inserts server-side (`async_insert=1`, always waiting for the flush
    /// so an acknowledged insert is stored). Off by default, unlike contrib: the exporter already
    /// sends one large insert per table per batch, which is what async inserts would build, and
    /// synchronous inserts keep the retry deduplication token effective on every table engine.
    #[serde(default)]
    pub async_insert: bool,
    #[serde(default)]
    pub compress: Compression,
    #[serde(default)]
    pub logs_table_name: String,
    #[serde(default)]
    pub traces_table_name: String,
    #[serde(default)]
    pub metrics_tables: MetricsTablesSetting,
    /// Deprecated prefix for the metrics tables (`<prefix>_gauge`, ...); `metrics_tables` wins.
    #[serde(default)]
    pub metrics_table_name: String,
    /// contrib's JSON column mode; refused, the tables use Map columns.
    #[serde(default)]
    pub json: bool,
    #[serde(default)]
    pub tls: TlsClientSetting,
    #[serde(default)]
    pub timeout: TimeoutSetting,
    #[serde(default)]
    pub retry_on_failure: RetrySetting,
    /// The shared queue, batching by default (see [`clickhouse_batch`]).
    #[serde(
        default = "default_sending_queue",
        deserialize_with = "sending_queue_with_default_batch"
    )]
    pub sending_queue: QueueSetting,
}

/// The batching the exporter applies when `sending_queue::batch` is not configured.
///
/// Every insert creates a part that ClickHouse later merges; many small inserts from a busy
/// collector outrun the merges and end in `TOO_MANY_PARTS`. Inserts of tens of thousands of rows
/// keep the part count low, and five seconds bounds how long a quiet pipeline's data waits.
pub fn clickhouse_batch() -> BatchSetting {
    BatchSetting {
        min_size: 50_000,
        max_size: 100_000,
        flush_timeout: Duration::from_secs(5),
        ..BatchSetting::default()
    }
}

/// Adds [`clickhouse_batch`] to a queue without `batch`, unless the queue is off or uses a mode
/// that cannot be combined with batching yet (`wait_for_result`, `block_on_overflow`); an
/// explicit `batch` is kept as written.
fn with_default_batch(mut queue: QueueSetting) -> QueueSetting {
    if queue.batch.is_none() && queue.enabled && !queue.wait_for_result && !queue.block_on_overflow
    {
        queue.batch = Some(clickhouse_batch());
    }
    queue
}

fn default_sending_queue() -> QueueSetting {
    with_default_batch(QueueSetting::default())
}

fn sending_queue_with_default_batch<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<QueueSetting, D::Error> {
    QueueSetting::deserialize(deserializer).map(with_default_batch)
}

/// `table_engine`: the MergeTree-family engine of the data tables.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEngineSetting {
    #[serde(default = "default_engine")]
    pub name: String,
    /// Engine arguments, written between the parentheses as given.
    #[serde(default)]
    pub params: String,
}

impl Default for TableEngineSetting {
    fn default() -> Self {
        TableEngineSetting {
            name: default_engine(),
            params: String::new(),
        }
    }
}

/// `metrics_tables`: one entry per metric type, plus our `prometheus` (the samples of metrics
/// converted from Prometheus series).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsTablesSetting {
    #[serde(default)]
    pub gauge: TableNameSetting,
    #[serde(default)]
    pub sum: TableNameSetting,
    #[serde(default)]
    pub summary: TableNameSetting,
    #[serde(default)]
    pub histogram: TableNameSetting,
    #[serde(default)]
    pub exponential_histogram: TableNameSetting,
    #[serde(default)]
    pub prometheus: TableNameSetting,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableNameSetting {
    #[serde(default)]
    pub name: String,
}

fn default_database() -> String {
    "default".into()
}

fn default_engine() -> String {
    "MergeTree".into()
}

fn enabled() -> bool {
    true
}

impl ClickHouseConfig {
    pub fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        Endpoint::parse(&self.endpoint).map_err(ConfigError::Invalid)
    }

    /// The tables written: configured names over contrib's defaults.
    pub fn table_names(&self) -> TableNames {
        let defaults = schema::default_table_names();
        let chosen = |configured: &str, default: String| {
            if configured.is_empty() {
                default
            } else {
                configured.to_string()
            }
        };
        let prefix = &self.metrics_table_name;
        let metric = |configured: &TableNameSetting, suffix: &str, default: String| {
            if !configured.name.is_empty() {
                configured.name.clone()
            } else if !prefix.is_empty() {
                format!("{prefix}_{suffix}")
            } else {
                default
            }
        };
        let tables = &self.metrics_tables;
        TableNames {
            traces: chosen(&self.traces_table_name, defaults.traces),
            logs: chosen(&self.logs_table_name, defaults.logs),
            metrics_gauge: metric(&tables.gauge, "gauge", defaults.metrics_gauge),
            metrics_sum: metric(&tables.sum, "sum", defaults.metrics_sum),
            metrics_histogram: metric(&tables.histogram, "histogram", defaults.metrics_histogram),
            metrics_exponential_histogram: metric(
                &tables.exponential_histogram,
                "exponential_histogram",
                defaults.metrics_exponential_histogram,
            ),
            metrics_summary: metric(&tables.summary, "summary", defaults.metrics_summary),
            prometheus_samples: metric(
                &tables.prometheus,
                "prometheus_samples",
                defaults.prometheus_samples,
            ),
        }
    }

    pub fn schema_settings(&self) -> SchemaSettings {
        SchemaSettings {
            database: self.database.clone(),
            cluster: (!self.cluster_name.is_empty()).then(|| self.cluster_name.clone()),
            engine: TableEngine {
                name: self.table_engine.name.clone(),
                params: self.table_engine.params.clone(),
            },
            ttl: (!self.ttl.is_zero()).then_some(self.ttl),
            tables: self.table_names(),
        }
    }

    pub fn helper_settings(&self) -> QueuedExporterSettings {
        QueuedExporterSettings {
            timeout: self.timeout,
            retry_on_failure: self.retry_on_failure.clone(),
            sending_queue: self.sending_queue.clone(),
        }
    }
}

/// The engine name is written into `ENGINE = <name>(<params>)` as is, so it must be a plain
/// identifier; anything else is refused here rather than failing (or worse) as SQL.
fn check_engine_name(name: &str) -> Result<(), ConfigError> {
    let mut bytes = name.bytes();
    let plain = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "table_engine::name: \"{name}\" is not an engine name (letters, digits and _)"
        )))
    }
}

/// Database, table and cluster names are quoted wherever they appear in SQL, so any name works
/// except an empty one.
fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.trim().is_empty() || name.contains('\0') {
        return Err(ConfigError::Invalid(format!(
            "{key}: a name must not be empty or contain NUL"
        )));
    }
    Ok(())
}

impl ComponentConfig for ClickHouseConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.endpoint()?;
        if self.json {
            return Err(ConfigError::Invalid(
                "json: JSON columns are not supported yet; the tables use Map columns, which \
                 Grafana's ClickHouse data source reads"
                    .into(),
            ));
        }
        check_name("database", &self.database)?;
        check_engine_name(&self.table_engine.name)?;
        let tables = self.table_names();
        for (key, name) in [
            ("traces_table_name", &tables.traces),
            ("logs_table_name", &tables.logs),
            ("metrics_tables::gauge::name", &tables.metrics_gauge),
            ("metrics_tables::sum::name", &tables.metrics_sum),
            ("metrics_tables::summary::name", &tables.metrics_summary),
            ("metrics_tables::histogram::name", &tables.metrics_histogram),
            (
                "metrics_tables::exponential_histogram::name",
                &tables.metrics_exponential_histogram,
            ),
            (
                "metrics_tables::prometheus::name",
                &tables.prometheus_samples,
            ),
        ] {
            check_name(key, name)?;
        }
        if !self.ttl.is_zero() && self.ttl < Duration::from_secs(1) {
            return Err(ConfigError::Invalid(format!(
                "ttl: {:?} is below ClickHouse's one-second TTL resolution; use 0 to keep data",
                self.ttl
            )));
        }
        for key in self.connection_params.keys() {
            check_setting_name(key, "connection_params").map_err(ConfigError::Invalid)?;
        }
        self.tls
            .build_client_config(&[])
            .map_err(|e| ConfigError::Invalid(format!("tls: {e}")))?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cormorant_core::parse_config;

    fn parse(yaml: &str) -> Result<ClickHouseConfig, ConfigError> {
        let raw = cormorant_confmap::parse_yaml(yaml).expect("valid YAML");
        parse_config(&raw)
    }

    #[test]
    fn defaults_follow_contrib_except_async_insert() {
        let config = parse("endpoint: http://localhost:8123").unwrap();
        assert_eq!(config.database, "default");
        assert!(config.create_schema);
        assert!(!config.async_insert);
        assert_eq!(config.compress, Compression::Lz4);
        assert_eq!(config.ttl, Duration::ZERO);
        assert_eq!(config.table_engine, TableEngineSetting::default());
        assert_eq!(config.timeout, TimeoutSetting(Duration::from_secs(5)));
        assert!(config.sending_queue.enabled);
        assert_eq!(config.sending_queue.batch, Some(clickhouse_batch()));
        assert_eq!(config.table_names(), schema::default_table_names());
        let settings = config.schema_settings();
        assert_eq!(settings.cluster, None);
        assert_eq!(settings.ttl, None);
        assert_eq!(settings.engine.name, "MergeTree");
    }

    #[test]
    fn every_contrib_key_is_read() {
        let config = parse(
            r#"
endpoint: https://ch.internal:8443
database: otel
username: ingest
password: secret
connection_params: {max_insert_threads: 4}
ttl: 72h
create_schema: false
cluster_name: main
table_engine: {name: ReplicatedMergeTree, params: "'/ch/{shard}/t', '{replica}'"}
async_insert: true
compress: zstd
logs_table_name: logs
traces_table_name: spans
metrics_tables:
  gauge: {name: m_gauge}
  exponential_histogram: {name: m_exp}
  prometheus: {name: prom}
timeout: 30s
retry_on_failure: {max_elapsed_time: 10m}
sending_queue: {queue_size: 50}
"#,
        )
        .unwrap();
        assert_eq!(config.connection_params["max_insert_threads"], "4");
        assert_eq!(config.compress, Compression::Zstd);
        assert!(config.async_insert && !config.create_schema);
        let settings = config.schema_settings();
        assert_eq!(settings.database, "otel");
        assert_eq!(settings.cluster.as_deref(), Some("main"));
        assert_eq!(settings.ttl, Some(Duration::from_secs(72 * 3600)));
        assert_eq!(settings.engine.params, "'/ch/{shard}/t', '{replica}'");
        let tables = settings.tables;
        assert_eq!(tables.traces, "spans");
        assert_eq!(tables.logs, "logs");
        assert_eq!(tables.metrics_gauge, "m_gauge");
        assert_eq!(tables.metrics_exponential_histogram, "m_exp");
        assert_eq!(tables.prometheus_samples, "prom");
        assert_eq!(
            tables.metrics_sum,
            schema::default_table_names().metrics_sum
        );
        let helper = config.helper_settings();
        assert_eq!(helper.timeout.limit(), Some(Duration::from_secs(30)));
        assert_eq!(helper.sending_queue.queue_size, 50);
    }

    #[test]
    fn deprecated_metrics_prefix_names_the_tables_not_set_explicitly() {
        let config = parse(
            "endpoint: http://h\nmetrics_table_name: old\nmetrics_tables: {sum: {name: sums}}",
        )
        .unwrap();
        let tables = config.table_names();
        assert_eq!(tables.metrics_gauge, "old_gauge");
        assert_eq!(tables.metrics_sum, "sums");
        assert_eq!(
            tables.metrics_exponential_histogram,
            "old_exponential_histogram"
        );
        assert_eq!(tables.prometheus_samples, "old_prometheus_samples");
    }

    #[test]
    fn invalid_configs_are_refused_with_the_key() {
        for (yaml, expected) in [
            ("database: otel", "endpoint must be set"),
            ("endpoint: tcp://ch:9000", "use http://HOST:8123"),
            (
                "endpoint: http://h\njson: true",
                "json: JSON columns are not supported",
            ),
            (
                "endpoint: http://h\ncompress: gzip",
                "\"gzip\" is not supported",
            ),
            (
                "endpoint: http://h\ndatabase: \" \"",
                "database: a name must not be empty",
            ),
            (
                "endpoint: http://h\ntable_engine: {name: \"MergeTree() x\"}",
                "not an engine name",
            ),
            ("endpoint: http://h\nttl: 10ms", "one-second TTL resolution"),
            (
                "endpoint: http://h\nconnection_params: {query: x}",
                "set by the exporter",
            ),
            (
                "endpoint: http://h\nmetrics_tables: {prometheus: {name: \"p\\0\"}}",
                "metrics_tables::prometheus::name: a name must not",
            ),
            ("endpoint: http://h\nttl_days: 3", "ttl_days"),
            ("endpoint: http://h\ntable_engine: {nme: x}", "nme"),
            (
                "endpoint: http://h\nsending_queue: {num_consumers: 0}",
                "num_consumers",
            ),
        ] {
            let error = parse(yaml).unwrap_err().to_string();
            assert!(error.contains(expected), "{yaml}: {error}");
        }
    }

    #[test]
    fn sending_queue_batches_large_inserts_unless_batch_is_configured() {
        let default = clickhouse_batch();
        assert_eq!(default.min_size, 50_000);
        assert_eq!(default.max_size, 100_000);
        assert_eq!(default.flush_timeout, Duration::from_secs(5));

        let config = parse("endpoint: http://h\nsending_queue: {queue_size: 50}").unwrap();
        assert_eq!(config.sending_queue.queue_size, 50);
        assert_eq!(config.sending_queue.batch, Some(clickhouse_batch()));
        assert_eq!(
            config.helper_settings().sending_queue.batch,
            Some(clickhouse_batch())
        );

        let config = parse(
            "endpoint: http://h\nsending_queue: {batch: {min_size: 5000, flush_timeout: 5s}}",
        )
        .unwrap();
        let batch = config.sending_queue.batch.unwrap();
        assert_eq!(batch.min_size, 5000);
        assert_eq!(batch.max_size, 0);
        assert_eq!(batch.flush_timeout, Duration::from_secs(5));

        let config = parse("endpoint: http://h\nsending_queue: {batch: {}}").unwrap();
        assert_eq!(config.sending_queue.batch, Some(BatchSetting::default()));

        for yaml in [
            "sending_queue: {enabled: false}",
            "sending_queue: {wait_for_result: true}",
            "sending_queue: {block_on_overflow: true}",
        ] {
            let config = parse(&format!("endpoint: http://h\n{yaml}")).unwrap();
            assert_eq!(config.sending_queue.batch, None, "{yaml}");
        }

        let error = parse("endpoint: http://h\nsending_queue: {batch: {sizer: requests}}")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sizer: requests is not supported"),
            "{error}"
        );
    }
}
