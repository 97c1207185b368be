//! The exporter against a real ClickHouse engine: the chdb-backed server of
//! `deploy/clickhouse-local`, one ephemeral store per test.

mod support;

use cormorant_core::{ConsumeError, Signal};
use cormorant_exporter_clickhouse::client::ClickHouseClient;
use cormorant_exporter_clickhouse::migrate::{MigrationError, migrate, record_statement};
use cormorant_exporter_clickhouse::{rows, schema};
use std::time::Duration;
use support::{
    EXP_HISTOGRAM_POINTS, GAUGE_POINTS, HISTOGRAM_POINTS, Proxy, ProxyMode, SUM_POINTS,
    SUMMARY_POINTS, Store, config, count, create_exporter, logs, metrics, metrics_of, query,
    rejected_rows, sql_client, start_exporter, stop, traces,
};

const DRAIN: Duration = Duration::from_secs(60);

fn versions(migrations: &[schema::Migration]) -> String {
    migrations
        .iter()
        .map(|m| m.version.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn applied_versions(client: &ClickHouseClient, database: &str) -> String {
    query(
        client,
        &format!(
            "SELECT DISTINCT version FROM {database}.{} ORDER BY version",
            schema::MIGRATIONS_TABLE
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_race_safely_and_upgrade_a_store_with_data() {
    let Some(store) = Store::start("migrations").await else {
        return;
    };
    let endpoint = store.endpoint();
    let budget = Duration::from_secs(30);

    // An empty store gets every migration, in order, and every table.
    let fresh = config(&format!("endpoint: {endpoint}\ndatabase: fresh"));
    let client = ClickHouseClient::new(&fresh).unwrap();
    let settings = fresh.schema_settings();
    let all = schema::migrations(&settings);
    assert!(
        all.len() >= 2,
        "the schema has an initial and a later migration"
    );
    let applied = migrate(&client, &settings, budget).await.unwrap();
    assert_eq!(applied, all.iter().map(|m| m.version).collect::<Vec<_>>());
    let tables = query(
        &client,
        "SELECT name FROM system.tables WHERE database = 'fresh' ORDER BY name",
    )
    .await;
    let tables: Vec<&str> = tables.lines().collect();
    let names = &settings.tables;
    for table in [
        names.traces.as_str(),
        &names.logs,
        &names.metrics_gauge,
        &names.metrics_sum,
        &names.metrics_histogram,
        &names.metrics_exponential_histogram,
        &names.metrics_summary,
        &names.prometheus_samples,
        schema::MIGRATIONS_TABLE,
    ] {
        assert!(tables.contains(&table), "{table} missing from {tables:?}");
    }

    // Running again changes nothing and records nothing.
    assert_eq!(
        migrate(&client, &settings, budget).await.unwrap(),
        Vec::<u32>::new()
    );
    let records = query(
        &client,
        &format!("SELECT count() FROM fresh.{}", schema::MIGRATIONS_TABLE),
    )
    .await;
    assert_eq!(records, all.len().to_string());

    // Collectors starting together against one empty store all succeed.
    let race = config(&format!("endpoint: {endpoint}\ndatabase: race"));
    let race_settings = race.schema_settings();
    let clients: Vec<ClickHouseClient> = (0..3)
        .map(|_| ClickHouseClient::new(&race).unwrap())
        .collect();
    let results = futures::future::join_all(
        clients
            .iter()
            .map(|client| migrate(client, &race_settings, budget)),
    )
    .await;
    for result in results {
        result.expect("a concurrent start succeeds");
    }
    assert_eq!(applied_versions(&client, "race").await, versions(&all));

    // A store made by an earlier version (only migration 1) and holding data is upgraded in place.
    let upgrade = config(&format!(
        "endpoint: {endpoint}\ndatabase: upgrade\nsending_queue: {{enabled: false}}"
    ));
    let upgrade_settings = upgrade.schema_settings();
    let first = &schema::migrations(&upgrade_settings)[0];
    query(&client, "CREATE DATABASE upgrade").await;
    query(&client, &schema::migrations_table_ddl(&upgrade_settings)).await;
    for statement in &first.statements {
        query(&client, statement).await;
    }
    query(&client, &record_statement("upgrade", first)).await;
    let traces_table = &upgrade_settings.tables.traces;
    query(
        &client,
        &format!(
            "INSERT INTO upgrade.{traces_table} (Timestamp, TraceId, SpanId, ServiceName, SpanName) \
             VALUES (now64(9), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'legacy', 'old span')"
        ),
    )
    .await;
    let exporter = start_exporter(
        "clickhouse/upgrade",
        &format!("endpoint: {endpoint}\ndatabase: upgrade\nsending_queue: {{enabled: false}}"),
        Signal::Traces,
    )
    .await;
    assert_eq!(applied_versions(&client, "upgrade").await, versions(&all));
    let columns = query(
        &client,
        &format!(
            "SELECT name FROM system.columns WHERE database = 'upgrade' AND table = '{traces_table}'"
        ),
    )
    .await;
    let columns: Vec<&str> = columns.lines().collect();
    let encoded = rows::encode(&traces(1, 1));
    for column in encoded[0].columns {
        assert!(
            columns.contains(column),
            "{column} missing after the upgrade"
        );
    }
    exporter.consume(traces(1, 20)).await.unwrap();
    let table = format!("upgrade.{traces_table}");
    let upgrade_client = sql_client(&endpoint, "upgrade");
    assert_eq!(count(&upgrade_client, &table).await, 21);
    assert_eq!(
        query(
            &upgrade_client,
            &format!("SELECT SpanName FROM {table} WHERE ServiceName = 'legacy'")
        )
        .await,
        "old span",
        "the row stored before the upgrade is kept"
    );
    stop(&exporter, DRAIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_clearly_when_the_store_is_away_or_rejects_ddl() {
    let Some(store) = Store::start("start failures").await else {
        return;
    };
    // Nothing listens on a port that was just released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let away = config(&format!("endpoint: http://{closed_addr}"));
    let started = tokio::time::Instant::now();
    let error = migrate(
        &ClickHouseClient::new(&away).unwrap(),
        &away.schema_settings(),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, MigrationError::Unreachable { .. }),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded retries"
    );

    let bad_engine = config(&format!(
        "endpoint: {}\ndatabase: bad\ntable_engine: {{name: NoSuchEngine}}",
        store.endpoint()
    ));
    let error = migrate(
        &ClickHouseClient::new(&bad_engine).unwrap(),
        &bad_engine.schema_settings(),
        Duration::from_secs(30),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, MigrationError::Rejected { .. }), "{text}");
    assert!(text.contains("migration 1"), "names the migration: {text}");
    assert!(text.contains("NoSuchEngine"), "names the statement: {text}");
    assert!(text.contains("DB::Exception"), "quotes ClickHouse: {text}");

    // Through the factory, the same failure fails the exporter's start.
    let exporter = create_exporter(
        "clickhouse/bad",
        &format!(
            "endpoint: {}\ndatabase: bad\ntable_engine: {{name: NoSuchEngine}}",
            store.endpoint()
        ),
        Signal::Logs,
    );
    let error = exporter
        .start(&cormorant_core::Host::default())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot prepare the ClickHouse schema"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_every_signal_with_lz4_zstd_and_no_compression() {
    let Some(store) = Store::start("exports").await else {
        return;
    };
    for compress in ["lz4", "zstd", "none"] {
        let database = format!("export_{compress}");
        let yaml = format!(
            "endpoint: {}\ndatabase: {database}\ncompress: {compress}",
            store.endpoint()
        );
        let id = format!("clickhouse/{compress}");
        let traces_exporter = start_exporter(&id, &yaml, Signal::Traces).await;
        let metrics_exporter = start_exporter(&id, &yaml, Signal::Metrics).await;
        let logs_exporter = start_exporter(&id, &yaml, Signal::Logs).await;
        traces_exporter.consume(traces(0, 250)).await.unwrap();
        traces_exporter.consume(traces(250, 250)).await.unwrap();
        logs_exporter.consume(logs(120)).await.unwrap();
        metrics_exporter.consume(metrics()).await.unwrap();
        metrics_exporter.consume(metrics()).await.unwrap();
        for exporter in [&traces_exporter, &metrics_exporter, &logs_exporter] {
            stop(exporter, DRAIN).await;
        }

        let client = sql_client(&store.endpoint(), &database);
        let names = config(&yaml).table_names();
        let table = |name: &str| format!("{database}.{name}");
        assert_eq!(
            count(&client, &table(&names.traces)).await,
            500,
            "{compress}"
        );
        assert_eq!(
            query(
                &client,
                &format!(
                    "SELECT uniqExact(TraceId) FROM {}",
                    table(&schema::trace_id_ts_name(&names.traces))
                )
            )
            .await,
            "500",
            "{compress}: the trace id lookup table is fed"
        );
        assert_eq!(count(&client, &table(&names.logs)).await, 120, "{compress}");
        for (name, points) in [
            (&names.metrics_gauge, GAUGE_POINTS),
            (&names.metrics_sum, SUM_POINTS),
            (&names.metrics_histogram, HISTOGRAM_POINTS),
            (&names.metrics_exponential_histogram, EXP_HISTOGRAM_POINTS),
            (&names.metrics_summary, SUMMARY_POINTS),
        ] {
            assert_eq!(
                count(&client, &table(name)).await,
                2 * points as u64,
                "{compress}: {name}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_rejects_its_rows_does_not_block_the_others() {
    let Some(store) = Store::start("partial rejection").await else {
        return;
    };
    let yaml = format!(
        "endpoint: {}\ndatabase: partial\nsending_queue: {{enabled: false}}",
        store.endpoint()
    );
    let names = config(&yaml).table_names();
    let exporter = start_exporter("clickhouse/partial", &yaml, Signal::Metrics).await;
    let client = sql_client(&store.endpoint(), "partial");
    query(
        &client,
        &format!(
            "ALTER TABLE partial.{} DROP COLUMN IsMonotonic",
            names.metrics_sum
        ),
    )
    .await;

    exporter
        .consume(metrics())
        .await
        .expect("the other tables accept their rows");
    let table = |name: &str| format!("partial.{name}");
    assert_eq!(count(&client, &table(&names.metrics_sum)).await, 0);
    assert_eq!(
        count(&client, &table(&names.metrics_gauge)).await,
        GAUGE_POINTS as u64
    );
    assert_eq!(
        count(&client, &table(&names.metrics_histogram)).await,
        HISTOGRAM_POINTS as u64
    );
    assert_eq!(
        count(&client, &table(&names.metrics_exponential_histogram)).await,
        EXP_HISTOGRAM_POINTS as u64
    );
    assert_eq!(
        count(&client, &table(&names.metrics_summary)).await,
        SUMMARY_POINTS as u64
    );
    assert_eq!(
        rejected_rows("clickhouse/partial", &names.metrics_sum),
        SUM_POINTS as u64
    );

    // A payload only for the broken table is rejected as a whole, permanently.
    let error = exporter.consume(metrics_of(&["sum"])).await.unwrap_err();
    assert!(
        matches!(error, ConsumeError::Permanent { rejected_items, .. } if rejected_items == SUM_POINTS),
        "{error:?}"
    );
    assert!(error.to_string().contains("IsMonotonic"), "{error}");
    assert_eq!(
        rejected_rows("clickhouse/partial", &names.metrics_sum),
        2 * SUM_POINTS as u64
    );
    stop(&exporter, DRAIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_and_lost_answers_still_store_every_span_exactly_once() {
    let Some(store) = Store::start("outage").await else {
        return;
    };
    let proxy = Proxy::start(store.addr).await;
    let yaml = format!(
        "endpoint: {}\ndatabase: outage\ntimeout: 10s\n\
         retry_on_failure: {{initial_interval: 100ms, max_interval: 400ms, max_elapsed_time: 0}}\n\
         sending_queue: {{batch: {{min_size: 100, max_size: 100}}}}",
        proxy.endpoint()
    );
    let exporter = start_exporter("clickhouse/outage", &yaml, Signal::Traces).await;

    // The store goes away while data keeps coming; the queue holds it and retries.
    proxy.set(ProxyMode::Down);
    for batch in 0..5 {
        exporter.consume(traces(batch * 100, 100)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set(ProxyMode::Forward);

    // Inserts land but their answers are lost, so the exporter retries rows already stored.
    proxy.set(ProxyMode::LoseAnswers);
    for batch in 5..10 {
        exporter.consume(traces(batch * 100, 100)).await.unwrap();
    }
    let waiting = tokio::time::Instant::now();
    while proxy.lost_answers() < 5 {
        assert!(
            waiting.elapsed() < DRAIN,
            "the inserts never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set(ProxyMode::Forward);
    stop(&exporter, DRAIN).await;

    let client = sql_client(&store.endpoint(), "outage");
    let traces_table = config(&yaml).table_names().traces;
    assert_eq!(
        query(
            &client,
            &format!("SELECT count(), uniqExact(SpanId) FROM outage.{traces_table}")
        )
        .await,
        "1000\t1000",
        "every span stored once"
    );
}
