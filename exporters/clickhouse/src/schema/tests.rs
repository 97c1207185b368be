use super::ddl::{TableDefinition, ttl_clause};
use super::*;
use crate::rows::Table;
use std::collections::HashMap;

fn settings() -> SchemaSettings {
    SchemaSettings {
        database: "otel".to_owned(),
        cluster: None,
        engine: TableEngine {
            name: "MergeTree".to_owned(),
            params: String::new(),
        },
        ttl: None,
        tables: default_table_names(),
    }
}

fn clustered() -> SchemaSettings {
    SchemaSettings {
        cluster: Some("prod".to_owned()),
        ..settings()
    }
}

fn all_statements(settings: &SchemaSettings) -> Vec<String> {
    migrations(settings)
        .into_iter()
        .flat_map(|m| m.statements)
        .collect()
}

/// The statement creating `` `otel`.`<table>` ``.
fn create_statement(statements: &[String], table: &str) -> String {
    let prefix = format!("CREATE TABLE IF NOT EXISTS `otel`.`{table}`");
    statements
        .iter()
        .find(|s| s.starts_with(&format!("{prefix} ")) || s.starts_with(&format!("{prefix}\n")))
        .unwrap_or_else(|| panic!("no CREATE for {table}"))
        .clone()
}

/// Splits `a, b(c, d), e` at the commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Column name → type as an INSERT sees it: `Nested(a T)` columns become `Col.a Array(T)`.
fn insertable_types(definition: &TableDefinition) -> HashMap<String, String> {
    let mut types = HashMap::new();
    let extra = if definition.order_by.contains("SpanName") {
        &traces::EXTRA_COLUMNS[..]
    } else {
        &[]
    };
    for column in definition.columns.iter().chain(extra) {
        match column.ty.strip_prefix("Nested(") {
            Some(fields) => {
                for field in split_top_level(&fields[..fields.len() - 1]) {
                    let (name, ty) = field.split_once(' ').unwrap();
                    types.insert(format!("{}.{name}", column.name), format!("Array({ty})"));
                }
            }
            None => {
                types.insert(column.name.to_owned(), column.ty.to_owned());
            }
        }
    }
    types
}

const MAP: &str = "Map(LowCardinality(String), String)";
const LC: &str = "LowCardinality(String)";
const MAPS: &str = "Array(Map(LowCardinality(String), String))";
const METRIC_COMMON: [&str; 14] = [
    MAP,
    "String",
    "String",
    "String",
    MAP,
    "UInt32",
    "String",
    LC,
    "String",
    "String",
    "String",
    MAP,
    "DateTime64(9)",
    "DateTime64(9)",
];
const EXEMPLAR_TYPES: [&str; 5] = [
    MAPS,
    "Array(DateTime64(9))",
    "Array(Float64)",
    "Array(String)",
    "Array(String)",
];

/// Contrib's types of every inserted column, in INSERT order.
fn expected_types(table: Table) -> Vec<&'static str> {
    let metric = |own: &[&'static str]| METRIC_COMMON.iter().chain(own).copied().collect();
    let e = EXEMPLAR_TYPES;
    match table {
        Table::Traces => vec![
            "DateTime64(9)",
            "String",
            "String",
            "String",
            "String",
            LC,
            LC,
            LC,
            MAP,
            "String",
            "String",
            MAP,
            "UInt64",
            LC,
            "String",
            "Array(DateTime64(9))",
            "Array(LowCardinality(String))",
            MAPS,
            "Array(String)",
            "Array(String)",
            "Array(String)",
            MAPS,
            LC,
            "UInt32",
            LC,
            LC,
            "String",
            "UInt32",
            "UInt32",
        ],
        Table::Logs => vec![
            "DateTime64(9)",
            "String",
            "String",
            "UInt8",
            LC,
            "UInt8",
            LC,
            "String",
            LC,
            MAP,
            LC,
            "String",
            LC,
            MAP,
            MAP,
            "String",
        ],
        Table::MetricsGauge => metric(&["Float64", "UInt32", e[0], e[1], e[2], e[3], e[4]]),
        Table::MetricsSum => metric(&[
            "Float64", "UInt32", e[0], e[1], e[2], e[3], e[4], "Int32", "Boolean",
        ]),
        Table::MetricsHistogram => metric(&[
            "UInt64",
            "Float64",
            "Array(UInt64)",
            "Array(Float64)",
            e[0],
            e[1],
            e[2],
            e[3],
            e[4],
            "UInt32",
            "Float64",
            "Float64",
            "Int32",
        ]),
        Table::MetricsExponentialHistogram => metric(&[
            "UInt64",
            "Float64",
            "Int32",
            "UInt64",
            "Int32",
            "Array(UInt64)",
            "Int32",
            "Array(UInt64)",
            e[0],
            e[1],
            e[2],
            e[3],
            e[4],
            "UInt32",
            "Float64",
            "Float64",
            "Int32",
        ]),
        Table::MetricsSummary => metric(&[
            "UInt64",
            "Float64",
            "Array(Float64)",
            "Array(Float64)",
            "UInt32",
        ]),
        Table::PrometheusSamples => vec![LC, MAP, "DateTime64(3)", "Float64"],
    }
}

fn definition(table: Table) -> TableDefinition {
    match table {
        Table::Traces => traces::table(),
        Table::Logs => logs::table(),
        Table::MetricsGauge => metrics::gauge(),
        Table::MetricsSum => metrics::sum(),
        Table::MetricsHistogram => metrics::histogram(),
        Table::MetricsExponentialHistogram => metrics::exponential_histogram(),
        Table::MetricsSummary => metrics::summary(),
        Table::PrometheusSamples => prometheus::table(),
    }
}

#[test]
fn every_encoded_column_exists_with_contribs_type() {
    for table in Table::ALL {
        let types = insertable_types(&definition(table));
        let actual: Vec<&str> = table
            .columns()
            .iter()
            .map(|column| {
                types
                    .get(*column)
                    .unwrap_or_else(|| panic!("{table:?} has no column {column}"))
                    .as_str()
            })
            .collect();
        assert_eq!(actual, expected_types(table), "{table:?}");
    }
}

#[test]
fn default_names_are_contribs() {
    let names = default_table_names();
    assert_eq!(
        [
            names.traces.as_str(),
            &names.logs,
            &names.metrics_gauge,
            &names.metrics_sum,
            &names.metrics_histogram,
            &names.metrics_exponential_histogram,
            &names.metrics_summary,
            &names.prometheus_samples,
        ],
        [
            "otel_traces",
            "otel_logs",
            "otel_metrics_gauge",
            "otel_metrics_sum",
            "otel_metrics_histogram",
            "otel_metrics_exp_histogram",
            "otel_metrics_summary",
            "prometheus_samples",
        ]
    );
}

#[test]
fn migrations_are_numbered_in_order_and_every_statement_is_idempotent() {
    for settings in [settings(), clustered()] {
        let migrations = migrations(&settings);
        let versions: Vec<u32> = migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, [1, 2, 3, 4]);
        for statement in migrations.iter().flat_map(|m| &m.statements) {
            if statement.starts_with("ALTER TABLE") {
                let actions = statement.matches("ADD ").count();
                let guarded = statement.matches("IF NOT EXISTS").count();
                assert_eq!(actions, guarded, "every ADD is guarded: {statement}");
            } else {
                assert!(
                    statement.starts_with("CREATE ") && statement.contains(" IF NOT EXISTS "),
                    "{statement}"
                );
            }
        }
    }
}

#[test]
fn plain_merge_tree_tables_get_a_deduplication_window_and_replicated_ones_do_not() {
    let plain = migrations(&settings());
    assert_eq!(plain[2].statements.len(), 7, "{:#?}", plain[2].statements);
    for statement in &plain[2].statements {
        assert!(statement.ends_with("MODIFY SETTING non_replicated_deduplication_window = 1000"));
    }
    let created = &plain[0].statements;
    let with_window = created
        .iter()
        .filter(|s| s.contains("non_replicated_deduplication_window = 1000"))
        .count();
    assert_eq!(
        with_window, 8,
        "7 data tables and the trace-id lookup table"
    );
    assert!(migrations(&clustered())[2].statements.is_empty());
    assert!(
        !migrations(&clustered())[0]
            .statements
            .iter()
            .any(|s| s.contains("non_replicated_deduplication_window"))
    );
}

#[test]
fn migration_one_creates_the_database_and_every_table_with_contribs_keys() {
    let statements = migrations(&settings()).remove(0).statements;
    assert_eq!(statements[0], "CREATE DATABASE IF NOT EXISTS `otel`");
    assert_eq!(
        statements.len(),
        1 + 7 + 2,
        "database, 7 tables, lookup table and view"
    );

    let traces = create_statement(&statements, "otel_traces");
    for fragment in [
        "    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),\n",
        "    TraceId String CODEC(ZSTD(1)),\n",
        "    Duration UInt64 CODEC(ZSTD(1)),\n",
        "    Events Nested(Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),\n",
        "    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,\n",
        "    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,\n",
        "    INDEX idx_duration Duration TYPE minmax GRANULARITY 1\n",
        ") ENGINE = MergeTree()\nPARTITION BY toDate(Timestamp)\nORDER BY (ServiceName, SpanName, toDateTime(Timestamp))\nSETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
    ] {
        assert!(traces.contains(fragment), "{fragment}\nnot in\n{traces}");
    }
    assert!(
        !traces.contains("SpanSource"),
        "extras come with migration 2"
    );
    assert!(!traces.contains("TTL"), "no ttl configured");

    let logs = create_statement(&statements, "otel_logs");
    for fragment in [
        "    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),\n    TimestampTime DateTime DEFAULT toDateTime(Timestamp),\n",
        "    TraceFlags UInt8,\n",
        "    EventName String CODEC(ZSTD(1)),\n",
        "    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8\n",
        "PARTITION BY toDate(TimestampTime)\nPRIMARY KEY (ServiceName, TimestampTime)\nORDER BY (ServiceName, TimestampTime, Timestamp)\n",
    ] {
        assert!(logs.contains(fragment), "{fragment}\nnot in\n{logs}");
    }

    let lookup = create_statement(&statements, "otel_traces_trace_id_ts");
    assert!(lookup.contains("    Start DateTime CODEC(Delta, ZSTD(1)),\n"));
    assert!(lookup.contains("PARTITION BY toDate(Start)\nORDER BY (TraceId, Start)\n"));
    let view_at = statements
        .iter()
        .position(|s| s.starts_with("CREATE MATERIALIZED VIEW"))
        .unwrap();
    assert!(
        view_at > statements.iter().position(|s| *s == lookup).unwrap(),
        "the view's target exists before the view"
    );
    assert_eq!(
        statements[view_at],
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`otel_traces_trace_id_ts_mv` TO \
         `otel`.`otel_traces_trace_id_ts` AS SELECT TraceId, min(Timestamp) AS Start, \
         max(Timestamp) AS End FROM `otel`.`otel_traces` WHERE TraceId != '' GROUP BY TraceId"
    );

    for table in [
        "otel_metrics_gauge",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "otel_metrics_exp_histogram",
        "otel_metrics_summary",
    ] {
        let create = create_statement(&statements, table);
        assert!(create.contains(
            "PARTITION BY toDate(TimeUnix)\nORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))\n"
        ));
        assert_eq!(
            create
                .matches("TYPE bloom_filter(0.01) GRANULARITY 1")
                .count(),
            6
        );
    }
}

#[test]
fn the_default_database_is_not_created() {
    let settings = SchemaSettings {
        database: "default".to_owned(),
        ..settings()
    };
    assert_eq!(create_database_ddl(&settings), None);
    let statements = all_statements(&settings);
    assert!(statements.iter().all(|s| !s.contains("CREATE DATABASE")));
    assert!(statements[0].starts_with("CREATE TABLE IF NOT EXISTS `default`.`otel_traces` ("));
}

#[test]
fn migration_two_adds_the_extra_columns_with_defaults() {
    let statements = migrations(&settings()).remove(1).statements;
    assert_eq!(
        statements,
        ["ALTER TABLE `otel`.`otel_traces` \
          ADD COLUMN IF NOT EXISTS SpanSource LowCardinality(String) DEFAULT 'app' CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS ProcessId UInt32 DEFAULT 0 CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS ProcessName LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS L7Protocol LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS RequestId String DEFAULT '' CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS TcpSeqRequest UInt32 DEFAULT 0 CODEC(ZSTD(1)), \
          ADD COLUMN IF NOT EXISTS TcpSeqResponse UInt32 DEFAULT 0 CODEC(ZSTD(1)), \
          ADD INDEX IF NOT EXISTS idx_request_id RequestId TYPE bloom_filter(0.01) GRANULARITY 1"]
    );
}

#[test]
fn ttl_picks_the_largest_unit_that_divides() {
    let hours = |h: u64| Some(Duration::from_secs(h * 3600));
    let cases = [
        (hours(72), Some("TTL t + toIntervalDay(3)")),
        (hours(36), Some("TTL t + toIntervalHour(36)")),
        (
            Some(Duration::from_secs(90 * 60)),
            Some("TTL t + toIntervalMinute(90)"),
        ),
        (
            Some(Duration::from_secs(61)),
            Some("TTL t + toIntervalSecond(61)"),
        ),
        (
            Some(Duration::from_millis(1500)),
            Some("TTL t + toIntervalSecond(1)"),
        ),
        (
            Some(Duration::from_millis(200)),
            Some("TTL t + toIntervalSecond(1)"),
        ),
        (Some(Duration::ZERO), None),
        (None, None),
    ];
    for (ttl, expected) in cases {
        assert_eq!(ttl_clause(ttl, "t").as_deref(), expected, "{ttl:?}");
    }
}

#[test]
fn ttl_counts_from_each_tables_time_column() {
    let settings = SchemaSettings {
        ttl: Some(Duration::from_secs(7 * 86_400)),
        ..settings()
    };
    let statements = all_statements(&settings);
    let expectations = [
        (
            "otel_traces",
            "TTL toDateTime(Timestamp) + toIntervalDay(7)",
        ),
        ("otel_traces_trace_id_ts", "TTL Start + toIntervalDay(7)"),
        ("otel_logs", "TTL TimestampTime + toIntervalDay(7)"),
        (
            "otel_metrics_sum",
            "TTL toDateTime(TimeUnix) + toIntervalDay(7)",
        ),
    ];
    for (table, ttl) in expectations {
        let create = create_statement(&statements, table);
        assert!(
            create.contains(&format!("\n{ttl}\nSETTINGS")),
            "{table}: {create}"
        );
    }
}

#[test]
fn cluster_mode_replicates_behind_distributed_tables() {
    let statements = all_statements(&clustered());
    for statement in &statements {
        assert!(statement.contains(" ON CLUSTER `prod`"), "{statement}");
    }
    assert_eq!(
        statements[0],
        "CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `prod`"
    );
    let local = create_statement(&statements, "otel_traces_local");
    assert!(local.contains(
        ") ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/otel/otel_traces_local', '{replica}')\n"
    ));
    assert!(statements.contains(
        &"CREATE TABLE IF NOT EXISTS `otel`.`otel_traces` ON CLUSTER `prod` AS \
          `otel`.`otel_traces_local` ENGINE = Distributed('prod', 'otel', 'otel_traces_local', rand())"
            .to_owned()
    ));
    for table in [
        "otel_traces_trace_id_ts",
        "otel_logs",
        "otel_metrics_gauge",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "otel_metrics_exp_histogram",
        "otel_metrics_summary",
    ] {
        let local = create_statement(&statements, &format!("{table}_local"));
        assert!(local.contains(&format!(
            "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/otel/{table}_local', '{{replica}}')"
        )));
        let distributed = create_statement(&statements, table);
        assert!(distributed.ends_with(&format!(
            "ENGINE = Distributed('prod', 'otel', '{table}_local', rand())"
        )));
    }
    let view = statements
        .iter()
        .find(|s| s.starts_with("CREATE MATERIALIZED VIEW"))
        .unwrap();
    assert!(
        view.contains(" TO `otel`.`otel_traces_trace_id_ts` AS SELECT"),
        "{view}"
    );
    assert!(
        view.contains(" FROM `otel`.`otel_traces_local` WHERE"),
        "{view}"
    );

    let migration_two = migrations(&clustered()).remove(1).statements;
    assert_eq!(migration_two.len(), 2);
    assert!(
        migration_two[0]
            .starts_with("ALTER TABLE `otel`.`otel_traces_local` ON CLUSTER `prod` ADD COLUMN")
    );
    assert!(migration_two[0].contains("ADD INDEX IF NOT EXISTS idx_request_id"));
    assert!(
        migration_two[1]
            .starts_with("ALTER TABLE `otel`.`otel_traces` ON CLUSTER `prod` ADD COLUMN")
    );
    assert!(
        !migration_two[1].contains("INDEX"),
        "a Distributed table holds no index"
    );
}

#[test]
fn cluster_mode_keeps_replicated_engines_and_appends_engine_params() {
    let with_engine = |name: &str, params: &str| SchemaSettings {
        engine: TableEngine {
            name: name.to_owned(),
            params: params.to_owned(),
        },
        ..clustered()
    };
    let statements = all_statements(&with_engine("ReplacingMergeTree", "Timestamp"));
    assert!(create_statement(&statements, "otel_logs_local").contains(
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/otel/otel_logs_local', '{replica}', Timestamp)\n"
    ));
    let configured = "'/ch/{shard}/logs', '{replica}'";
    let statements = all_statements(&with_engine("ReplicatedMergeTree", configured));
    assert!(
        create_statement(&statements, "otel_logs_local")
            .contains(&format!("ENGINE = ReplicatedMergeTree({configured})\n"))
    );
}

#[test]
fn configured_names_are_quoted_and_derive_the_lookup_names() {
    let mut tables = default_table_names();
    tables.traces = "spans`x".to_owned();
    let settings = SchemaSettings {
        database: "my db".to_owned(),
        tables,
        ..settings()
    };
    let statements = all_statements(&settings);
    assert_eq!(statements[0], "CREATE DATABASE IF NOT EXISTS `my db`");
    assert!(statements[1].starts_with("CREATE TABLE IF NOT EXISTS `my db`.`spans\\`x` ("));
    assert!(statements.iter().any(|s| s.starts_with(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `my db`.`spans\\`x_trace_id_ts_mv` TO `my db`.`spans\\`x_trace_id_ts`"
    )));
    assert_eq!(trace_id_ts_name("spans"), "spans_trace_id_ts");
    assert_eq!(trace_id_ts_view_name("spans"), "spans_trace_id_ts_mv");
}

#[test]
fn the_migrations_table_is_replacing_and_cluster_wide_in_cluster_mode() {
    assert_eq!(
        migrations_table_ddl(&settings()),
        "CREATE TABLE IF NOT EXISTS `otel`.`schema_migrations` (version UInt32, description String, \
         applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version"
    );
    assert_eq!(
        migrations_table_ddl(&clustered()),
        "CREATE TABLE IF NOT EXISTS `otel`.`schema_migrations` ON CLUSTER `prod` (version UInt32, \
         description String, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = \
         ReplicatedReplacingMergeTree('/clickhouse/tables/otel/schema_migrations', '{shard}-{replica}') \
         ORDER BY version"
    );
}

#[test]
fn migration_four_creates_the_prometheus_samples_table() {
    let statements = migrations(&settings()).remove(3).statements;
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0],
        "CREATE TABLE IF NOT EXISTS `otel`.`prometheus_samples` (\n    \
         MetricName LowCardinality(String) CODEC(ZSTD(1)),\n    \
         Labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),\n    \
         SeriesId UInt64 MATERIALIZED cityHash64(MetricName, Labels) CODEC(ZSTD(1)),\n    \
         Timestamp DateTime64(3) CODEC(DoubleDelta, ZSTD(1)),\n    \
         Value Float64 CODEC(Gorilla, ZSTD(1)),\n    \
         INDEX idx_label_key mapKeys(Labels) TYPE bloom_filter(0.01) GRANULARITY 1,\n    \
         INDEX idx_label_value mapValues(Labels) TYPE bloom_filter(0.01) GRANULARITY 1\n\
         ) ENGINE = MergeTree()\n\
         PARTITION BY toDate(Timestamp)\n\
         ORDER BY (MetricName, SeriesId, Timestamp)\n\
         SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, \
         non_replicated_deduplication_window = 1000"
    );

    let mut tables = default_table_names();
    tables.prometheus_samples = "samples".to_owned();
    let expiring = SchemaSettings {
        ttl: Some(Duration::from_secs(3 * 86_400)),
        tables,
        ..settings()
    };
    let create = create_statement(&all_statements(&expiring), "samples");
    assert!(
        create.contains("\nTTL toDateTime(Timestamp) + toIntervalDay(3)\nSETTINGS"),
        "{create}"
    );

    let clustered = migrations(&clustered()).remove(3).statements;
    assert_eq!(clustered.len(), 2);
    assert!(clustered[0].starts_with(
        "CREATE TABLE IF NOT EXISTS `otel`.`prometheus_samples_local` ON CLUSTER `prod` ("
    ));
    assert!(clustered[0].contains(
        ") ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/otel/prometheus_samples_local', '{replica}')\n"
    ));
    assert!(!clustered[0].contains("non_replicated_deduplication_window"));
    assert_eq!(
        clustered[1],
        "CREATE TABLE IF NOT EXISTS `otel`.`prometheus_samples` ON CLUSTER `prod` AS \
         `otel`.`prometheus_samples_local` ENGINE = Distributed('prod', 'otel', \
         'prometheus_samples_local', rand())"
    );
}
