//! Delivery: one payload becomes one RowBinary insert per table it has rows for.
//!
//! The inserts of a payload run concurrently and fail independently. A table that rejects its
//! rows for good (schema or data error) does not hold back the others: its rows are counted as
//! rejected and the payload is reported as partially delivered. A failure that may pass
//! (unreachable, overloaded, 5xx) on any table makes the helper retry the whole payload.
//!
//! Retrying a payload re-sends tables that had already succeeded. Each insert therefore carries
//! `insert_deduplication_token` = a hash of its rows, so ClickHouse drops the repeated block on
//! every table that keeps a deduplication window (Replicated tables by default, plain MergeTree
//! with `non_replicated_deduplication_window`): a retry stores each row exactly once. The flip
//! side is that two inserts with byte-identical rows into one table within the window store
//! them once, which for telemetry (same timestamps, same values) is a duplicate anyway.

use crate::client::{ClickHouseClient, Insert};
use crate::config::ClickHouseConfig;
use crate::error::ClickHouseError;
use crate::migrate::migrate;
use crate::rows::{self, EncodedTable, Table};
use crate::schema::SchemaSettings;
use async_trait::async_trait;
use cormorant_core::exporterhelper::{SendError, SendOutcome, Sender};
use cormorant_core::telemetry::register;
use cormorant_core::{ComponentError, ComponentId, ConfigError, Host, Payload};
use prometheus::{IntCounterVec, Opts};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Start-up budget when `timeout` is 0 (no per-attempt limit): start must still end.
const DEFAULT_STARTUP_BUDGET: Duration = Duration::from_secs(15);

/// Rows ClickHouse refused for good, by exporter, table and exception code.
static REJECTED_ROWS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "cormorant_clickhouse_rejected_rows",
                "Rows ClickHouse rejected permanently (schema or data errors), by table and \
                 exception code",
            ),
            &["exporter", "table", "code"],
        )
        .expect("valid metric"),
    )
});

/// One configured ClickHouse store, shared by the signals of one exporter ID: one connection
/// pool, and the schema migrated once however many pipelines use the exporter.
pub struct Destination {
    config: ClickHouseConfig,
    client: ClickHouseClient,
    schema: SchemaSettings,
    schema_ready: OnceCell<()>,
}

impl Destination {
    pub fn new(config: ClickHouseConfig) -> Result<Self, ConfigError> {
        if !config.metrics_table_name.is_empty() {
            tracing::warn!(
                "metrics_table_name is deprecated; name the tables with metrics_tables::<type>::name"
            );
        }
        Ok(Destination {
            client: ClickHouseClient::new(&config)?,
            schema: config.schema_settings(),
            schema_ready: OnceCell::new(),
            config,
        })
    }

    /// How long start-up may spend reaching the store and running each DDL statement: three
    /// send timeouts, so a store that is restarting gets a chance and a dead one fails start.
    fn startup_budget(&self) -> Duration {
        self.config
            .timeout
            .limit()
            .map_or(DEFAULT_STARTUP_BUDGET, |limit| limit * 3)
    }

    /// Applies pending migrations once (`create_schema`); later calls wait for or reuse the
    /// first one's success, and retry after a failure.
    async fn ensure_schema(&self, id: &ComponentId) -> Result<(), ComponentError> {
        if !self.config.create_schema {
            return Ok(());
        }
        self.schema_ready
            .get_or_try_init(|| async {
                migrate(&self.client, &self.schema, self.startup_budget())
                    .await
                    .map(drop)
                    .map_err(|e| {
                        ComponentError::Failed(format!(
                            "exporter {id}: cannot prepare the ClickHouse schema: {e}"
                        ))
                    })
            })
            .await
            .map(drop)
    }
}

/// The factory's memory of the destinations it made, so the signals of one exporter ID share one.
#[derive(Default)]
pub struct Destinations {
    by_id: Mutex<HashMap<ComponentId, Weak<Destination>>>,
}

impl Destinations {
    /// The live destination of `id` when it was made from the same settings, or a new one.
    pub fn for_id(
        &self,
        id: &ComponentId,
        config: ClickHouseConfig,
    ) -> Result<Arc<Destination>, ConfigError> {
        let mut by_id = self.by_id.lock().expect("clickhouse destinations lock");
        by_id.retain(|_, destination| destination.strong_count() > 0);
        if let Some(destination) = by_id.get(id).and_then(Weak::upgrade)
            && destination.config == config
        {
            return Ok(destination);
        }
        let destination = Arc::new(Destination::new(config)?);
        by_id.insert(id.clone(), Arc::downgrade(&destination));
        Ok(destination)
    }
}

/// The [`Sender`] of one signal of a `clickhouse` exporter.
pub struct ClickHouseSender {
    id: ComponentId,
    destination: Arc<Destination>,
    /// Per table, the exception code of the last permanent rejection logged; a table keeps
    /// failing the same way batch after batch, and one log line per cause is enough (the counter
    /// keeps counting). Cleared when the table accepts rows again.
    logged_rejections: Mutex<HashMap<Table, Option<u32>>>,
}

impl ClickHouseSender {
    pub fn new(id: &ComponentId, destination: Arc<Destination>) -> Self {
        ClickHouseSender {
            id: id.clone(),
            destination,
            logged_rejections: Mutex::new(HashMap::new()),
        }
    }

    async fn insert(&self, encoded: &EncodedTable) -> Result<(), ClickHouseError> {
        let token = format!(
            "{:032x}",
            cityhash_rs::cityhash_102_128(&encoded.row_binary)
        );
        let insert = Insert {
            table: self.destination.schema.tables.of(encoded.table),
            columns: encoded.columns,
            rows: &encoded.row_binary,
            dedup_token: &token,
        };
        self.destination.client.insert(&insert).await
    }

    fn record_rejection(&self, encoded: &EncodedTable, error: &ClickHouseError) {
        let table = self.destination.schema.tables.of(encoded.table);
        let code = error.code();
        let code_label = code.map_or_else(|| "none".to_string(), |c| c.to_string());
        REJECTED_ROWS
            .with_label_values(&[&self.id.to_string(), table, &code_label])
            .inc_by(encoded.rows as u64);
        let mut logged = self.logged_rejections.lock().expect("rejections lock");
        if logged.insert(encoded.table, code) == Some(code) {
            tracing::debug!(exporter = %self.id, table, rows = encoded.rows, error = %error,
                "ClickHouse rejected rows again");
        } else {
            tracing::error!(
                exporter = %self.id,
                table,
                rows = encoded.rows,
                error = %error,
                "ClickHouse rejected the rows for good; they are dropped and counted in \
                 cormorant_clickhouse_rejected_rows (further rejections with this code are \
                 logged at debug level)"
            );
        }
    }

    fn record_success(&self, table: Table) {
        self.logged_rejections
            .lock()
            .expect("rejections lock")
            .remove(&table);
    }
}

#[async_trait]
impl Sender for ClickHouseSender {
    async fn send(&self, payload: &Payload) -> Result<SendOutcome, SendError> {
        let tables = rows::encode(payload);
        let results = futures::future::join_all(tables.iter().map(|t| self.insert(t))).await;
        let mut rejected_items = 0;
        let mut rejected_tables = Vec::new();
        let mut retryable = Vec::new();
        for (encoded, result) in tables.iter().zip(results) {
            let name = self.destination.schema.tables.of(encoded.table);
            match result {
                Ok(()) => self.record_success(encoded.table),
                Err(error) if error.is_permanent() => {
                    self.record_rejection(encoded, &error);
                    rejected_items += encoded.items;
                    rejected_tables.push(format!("{name}: {error}"));
                }
                Err(error) => retryable.push(format!("{name}: {error}")),
            }
        }
        if !retryable.is_empty() {
            return Err(SendError::retryable(retryable.join("; ")));
        }
        if rejected_tables.is_empty() {
            return Ok(SendOutcome::accepted());
        }
        let message = rejected_tables.join("; ");
        if rejected_tables.len() == tables.len() {
            return Err(SendError::permanent(message));
        }
        // A point stored in both its metrics table and the Prometheus samples table is failed
        // once, even when both reject it.
        let rejected_items = rejected_items.min(payload.item_count());
        Ok(SendOutcome::partially_rejected(rejected_items, message))
    }

    async fn start(&self, _host: &Host) -> Result<(), ComponentError> {
        self.destination.ensure_schema(&self.id).await
    }
}
