//! Prometheus samples against a real ClickHouse engine (the chdb-backed server of
//! `deploy/clickhouse-local`): metrics built by the `cormorant_core::prometheus` convention go
//! through the real exporter and come back from SQL as exactly the samples they stand for, stale
//! markers bit for bit; the migration that adds the table upgrades an existing store.

// Shared with store.rs, which uses the items this test does not.
#[allow(dead_code)]
mod support;

use cormorant_core::Signal;
use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use cormorant_core::pdata::metrics::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile,
};
use cormorant_core::prometheus::{BUCKET_LABELS_KEY, QUANTILE_LABELS_KEY, SCOPE_NAME};
use cormorant_exporter_clickhouse::client::ClickHouseClient;
use cormorant_exporter_clickhouse::migrate::{migrate, record_statement};
use cormorant_exporter_clickhouse::rows::STALE_NAN_BITS;
use cormorant_exporter_clickhouse::schema;
use std::time::Duration;
use support::{Store, config, count, query, rejected_rows, sql_client, start_exporter, stop};

const DRAIN: Duration = Duration::from_secs(60);
/// 2023-11-14T22:13:20.123Z; the second sample of each series is 15 s later.
const T0_MILLIS: u64 = 1_700_000_000_123;
const STEP_MILLIS: u64 = 15_000;

fn label(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    label(key, Value::StringValue(value.to_owned()))
}

fn texts(key: &str, values: &[&str]) -> KeyValue {
    let values = values
        .iter()
        .map(|v| AnyValue {
            value: Some(Value::StringValue((*v).to_owned())),
        })
        .collect();
    label(key, Value::ArrayValue(ArrayValue { values }))
}

fn nanos(step: u64) -> u64 {
    (T0_MILLIS + step * STEP_MILLIS) * 1_000_000
}

fn number(
    step: u64,
    value: number_data_point::Value,
    attributes: Vec<KeyValue>,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: nanos(step),
        value: Some(value),
        ..Default::default()
    }
}

fn metric(name: &str, data: Data, metadata: Vec<KeyValue>) -> Metric {
    Metric {
        name: name.to_owned(),
        metadata,
        data: Some(data),
        ..Default::default()
    }
}

fn scope_metrics(scope: &str, metrics: Vec<Metric>) -> ScopeMetrics {
    ScopeMetrics {
        scope: Some(InstrumentationScope {
            name: scope.to_owned(),
            ..Default::default()
        }),
        metrics,
        ..Default::default()
    }
}

/// What a receiver makes of a remote_write request with a gauge that goes stale, a counter, a
/// histogram and a summary, plus a native histogram and a metric of another scope (neither of
/// which gives samples).
fn prometheus_payload() -> Payload {
    let node = || vec![text("job", "node"), text("instance", "a:9100")];
    let up = Gauge {
        data_points: vec![
            number(0, number_data_point::Value::AsDouble(1.0), node()),
            number(
                1,
                number_data_point::Value::AsDouble(f64::from_bits(STALE_NAN_BITS)),
                node(),
            ),
        ],
    };
    let requests = Sum {
        data_points: vec![number(
            0,
            number_data_point::Value::AsInt(1027),
            vec![text("method", "get"), text("code", "200")],
        )],
        aggregation_temporality: 2,
        is_monotonic: true,
    };
    let durations = Histogram {
        data_points: vec![HistogramDataPoint {
            attributes: vec![text("job", "api")],
            time_unix_nano: nanos(0),
            count: 8,
            sum: Some(2.75),
            bucket_counts: vec![3, 4, 1],
            explicit_bounds: vec![0.05, 0.5],
            ..Default::default()
        }],
        aggregation_temporality: 2,
    };
    let gc = Summary {
        data_points: vec![SummaryDataPoint {
            attributes: vec![text("job", "api")],
            time_unix_nano: nanos(0),
            count: 12,
            sum: 0.5,
            quantile_values: vec![
                ValueAtQuantile {
                    quantile: 0.5,
                    value: 0.01,
                },
                ValueAtQuantile {
                    quantile: 1.0,
                    value: 0.2,
                },
            ],
            ..Default::default()
        }],
    };
    let native = ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            time_unix_nano: nanos(0),
            count: 2,
            scale: 3,
            ..Default::default()
        }],
        aggregation_temporality: 2,
    };
    let sdk_gauge = Gauge {
        data_points: vec![number(0, number_data_point::Value::AsDouble(5.0), vec![])],
    };
    Payload::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![
            scope_metrics(
                SCOPE_NAME,
                vec![
                    metric("up", Data::Gauge(up), vec![]),
                    metric("http_requests_total", Data::Sum(requests), vec![]),
                    metric(
                        "rpc_duration_seconds",
                        Data::Histogram(durations),
                        vec![texts(BUCKET_LABELS_KEY, &["0.050", "0.5", "+Inf"])],
                    ),
                    metric(
                        "go_gc_duration_seconds",
                        Data::Summary(gc),
                        vec![texts(QUANTILE_LABELS_KEY, &["0.5", "1"])],
                    ),
                    metric(
                        "rpc_native_seconds",
                        Data::ExponentialHistogram(native),
                        vec![],
                    ),
                ],
            ),
            scope_metrics(
                "io.opentelemetry.sdk",
                vec![metric("sdk_gauge", Data::Gauge(sdk_gauge), vec![])],
            ),
        ],
        ..Default::default()
    }])
}

/// The samples `prometheus_payload` stands for, as `SELECT MetricName, Labels,
/// toUnixTimestamp64Milli(Timestamp), reinterpretAsUInt64(Value)` prints them, sorted.
fn expected_samples() -> Vec<String> {
    let t0 = T0_MILLIS;
    let t1 = T0_MILLIS + STEP_MILLIS;
    let bits = |value: f64| value.to_bits();
    let mut lines: Vec<String> = [
        ("up", "{'instance':'a:9100','job':'node'}", t0, bits(1.0)),
        (
            "up",
            "{'instance':'a:9100','job':'node'}",
            t1,
            STALE_NAN_BITS,
        ),
        (
            "http_requests_total",
            "{'code':'200','method':'get'}",
            t0,
            bits(1027.0),
        ),
        (
            "rpc_duration_seconds_bucket",
            "{'job':'api','le':'0.050'}",
            t0,
            bits(3.0),
        ),
        (
            "rpc_duration_seconds_bucket",
            "{'job':'api','le':'0.5'}",
            t0,
            bits(7.0),
        ),
        (
            "rpc_duration_seconds_bucket",
            "{'job':'api','le':'+Inf'}",
            t0,
            bits(8.0),
        ),
        ("rpc_duration_seconds_sum", "{'job':'api'}", t0, bits(2.75)),
        ("rpc_duration_seconds_count", "{'job':'api'}", t0, bits(8.0)),
        (
            "go_gc_duration_seconds",
            "{'job':'api','quantile':'0.5'}",
            t0,
            bits(0.01),
        ),
        (
            "go_gc_duration_seconds",
            "{'job':'api','quantile':'1'}",
            t0,
            bits(0.2),
        ),
        ("go_gc_duration_seconds_sum", "{'job':'api'}", t0, bits(0.5)),
        (
            "go_gc_duration_seconds_count",
            "{'job':'api'}",
            t0,
            bits(12.0),
        ),
    ]
    .iter()
    .map(|(name, labels, millis, value)| format!("{name}\t{labels}\t{millis}\t{value}"))
    .collect();
    lines.sort();
    lines
}

async fn stored_samples(client: &ClickHouseClient, table: &str) -> Vec<String> {
    let answer = query(
        client,
        &format!(
            "SELECT MetricName, Labels, toUnixTimestamp64Milli(Timestamp), \
             reinterpretAsUInt64(Value) FROM {table} FORMAT TabSeparated"
        ),
    )
    .await;
    let mut lines: Vec<String> = answer.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_samples_come_back_exactly_and_series_read_in_order() {
    let Some(store) = Store::start("prometheus samples").await else {
        return;
    };
    let yaml = format!(
        "endpoint: {}\ndatabase: prom\nsending_queue: {{enabled: false}}\n\
         metrics_tables: {{prometheus: {{name: samples}}}}",
        store.endpoint()
    );
    let exporter = start_exporter("clickhouse/prometheus", &yaml, Signal::Metrics).await;
    exporter.consume(prometheus_payload()).await.unwrap();
    stop(&exporter, DRAIN).await;

    let client = sql_client(&store.endpoint(), "prom");
    assert_eq!(
        stored_samples(&client, "prom.samples").await,
        expected_samples()
    );
    let names = config(&yaml).table_names();
    assert_eq!(
        count(&client, &format!("prom.{}", names.metrics_gauge)).await,
        3,
        "the OpenTelemetry rows are stored too"
    );

    // SeriesId is one per (MetricName, Labels), and SQL computes it from a series' labels.
    assert_eq!(
        query(
            &client,
            "SELECT uniqExact(SeriesId), uniqExact(MetricName, Labels) FROM prom.samples"
        )
        .await,
        "11\t11"
    );
    let series = query(
        &client,
        "SELECT toUnixTimestamp64Milli(Timestamp), reinterpretAsUInt64(Value) FROM prom.samples \
         WHERE SeriesId = cityHash64('up', map('instance', 'a:9100', 'job', 'node')) \
         ORDER BY Timestamp",
    )
    .await;
    assert_eq!(
        series,
        format!(
            "{T0_MILLIS}\t{}\n{}\t{STALE_NAN_BITS}",
            1.0f64.to_bits(),
            T0_MILLIS + STEP_MILLIS
        ),
        "the series reads back in time order, ending in the stale marker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejecting_samples_table_does_not_block_the_metrics_tables() {
    let Some(store) = Store::start("prometheus rejection").await else {
        return;
    };
    let yaml = format!(
        "endpoint: {}\ndatabase: promreject\nsending_queue: {{enabled: false}}",
        store.endpoint()
    );
    let names = config(&yaml).table_names();
    let exporter = start_exporter("clickhouse/promreject", &yaml, Signal::Metrics).await;
    let client = sql_client(&store.endpoint(), "promreject");
    let samples = format!("promreject.{}", names.prometheus_samples);
    query(&client, &format!("ALTER TABLE {samples} DROP COLUMN Value")).await;

    exporter
        .consume(prometheus_payload())
        .await
        .expect("the metrics tables accept their rows");
    assert_eq!(count(&client, &samples).await, 0);
    assert_eq!(
        count(&client, &format!("promreject.{}", names.metrics_histogram)).await,
        1
    );
    assert_eq!(
        rejected_rows("clickhouse/promreject", &names.prometheus_samples),
        expected_samples().len() as u64
    );
    stop(&exporter, DRAIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_migration_upgrades_a_store_with_the_earlier_migrations() {
    let Some(store) = Store::start("prometheus migration").await else {
        return;
    };
    let earlier = config(&format!(
        "endpoint: {}\ndatabase: earlier",
        store.endpoint()
    ));
    let client = ClickHouseClient::new(&earlier).unwrap();
    let settings = earlier.schema_settings();
    let all = schema::migrations(&settings);
    let (samples_migration, before) = all.split_last().unwrap();
    assert_eq!(samples_migration.version, 4);
    query(&client, "CREATE DATABASE earlier").await;
    query(&client, &schema::migrations_table_ddl(&settings)).await;
    for migration in before {
        for statement in &migration.statements {
            query(&client, statement).await;
        }
        query(&client, &record_statement("earlier", migration)).await;
    }
    let tables = "SELECT count() FROM system.tables WHERE database = 'earlier' \
                  AND name = 'prometheus_samples'";
    assert_eq!(query(&client, tables).await, "0");

    let budget = Duration::from_secs(30);
    assert_eq!(migrate(&client, &settings, budget).await.unwrap(), [4]);
    assert_eq!(query(&client, tables).await, "1");
    assert_eq!(
        migrate(&client, &settings, budget).await.unwrap(),
        Vec::<u32>::new(),
        "a second start has nothing to do"
    );
    // Running the statements again (a migration cut off before it was recorded) is harmless.
    for statement in &samples_migration.statements {
        query(&client, statement).await;
    }
    let create = query(
        &client,
        "SELECT create_table_query FROM system.tables WHERE database = 'earlier' \
         AND name = 'prometheus_samples'",
    )
    .await;
    for fragment in [
        "`SeriesId` UInt64 MATERIALIZED cityHash64(MetricName, Labels)",
        "ORDER BY (MetricName, SeriesId, Timestamp)",
        "non_replicated_deduplication_window = 1000",
    ] {
        assert!(create.contains(fragment), "{fragment} not in {create}");
    }
}
