//! Applies the numbered schema migrations at start (`create_schema: true`).
//!
//! The database and the `schema_migrations` table are created first; then every migration whose
//! version is not recorded there runs, in version order, and is recorded once all its statements
//! succeeded. This also upgrades a store that already holds data: a later migration only adds
//! what is missing (tables, columns with defaults, indexes), it never rewrites rows.
//!
//! Several collectors may start at the same moment against one store. No lock is taken: every
//! statement is idempotent (`IF NOT EXISTS`), so two collectors applying the same migration both
//! succeed and leave the same schema, and a version recorded twice is read back once
//! (`SELECT DISTINCT`). A migration cut off half-way is simply run again by the next start.
//!
//! A store that cannot be reached is retried with backoff for the start-up budget, then start
//! fails; a statement ClickHouse rejects fails start at once, naming the statement and quoting
//! ClickHouse's message.

use crate::client::ClickHouseClient;
use crate::error::ClickHouseError;
use crate::schema::{self, Migration, SchemaSettings, quote_identifier, quote_string};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// First wait after a failed attempt to reach the store; doubled up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("ClickHouse at {url} could not be reached within {budget:?}: {last}")]
    Unreachable {
        url: String,
        budget: Duration,
        #[source]
        last: ClickHouseError,
    },
    #[error("{step}: ClickHouse rejected `{statement}`: {source}")]
    Rejected {
        /// What was being done, e.g. "migration 2 (eBPF columns)".
        step: String,
        statement: String,
        #[source]
        source: ClickHouseError,
    },
    #[error("cannot read the applied migrations: unexpected line {0:?} in the answer")]
    Versions(String),
}

/// Runs the migrations `settings` call for that are not applied yet; returns the versions applied
/// by this call.
pub async fn migrate(
    client: &ClickHouseClient,
    settings: &SchemaSettings,
    budget: Duration,
) -> Result<Vec<u32>, MigrationError> {
    let runner = Runner { client, budget };
    let database = &settings.database;
    runner.run("connecting", "SELECT 1").await?;
    if let Some(statement) = schema::create_database_ddl(settings) {
        runner.run("creating the database", &statement).await?;
    }
    runner
        .run(
            "creating the migrations table",
            &schema::migrations_table_ddl(settings),
        )
        .await?;
    let applied = runner.applied_versions(database).await?;

    let mut pending: Vec<Migration> = schema::migrations(settings)
        .into_iter()
        .filter(|migration| !applied.contains(&migration.version))
        .collect();
    pending.sort_by_key(|migration| migration.version);
    let mut done = Vec::with_capacity(pending.len());
    for migration in pending {
        let step = format!(
            "migration {} ({})",
            migration.version, migration.description
        );
        for statement in &migration.statements {
            runner.run(&step, statement).await?;
        }
        runner
            .run(&step, &record_statement(database, &migration))
            .await?;
        tracing::info!(
            database = %database,
            version = migration.version,
            description = migration.description,
            "applied ClickHouse schema migration"
        );
        done.push(migration.version);
    }
    if done.is_empty() {
        tracing::debug!(database = %database, "ClickHouse schema is up to date");
    }
    Ok(done)
}

/// The statement that records `migration` as applied in `database`.
pub fn record_statement(database: &str, migration: &Migration) -> String {
    format!(
        "INSERT INTO {}.{} (version, description) VALUES ({}, {})",
        quote_identifier(database),
        quote_identifier(schema::MIGRATIONS_TABLE),
        migration.version,
        quote_string(migration.description)
    )
}

struct Runner<'a> {
    client: &'a ClickHouseClient,
    budget: Duration,
}

impl Runner<'_> {
    /// Runs one statement, retrying failures that may pass until the budget is spent.
    async fn run(&self, step: &str, statement: &str) -> Result<bytes::Bytes, MigrationError> {
        let deadline = Instant::now() + self.budget;
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match self.client.execute(statement, left).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if !error.is_transient() {
                return Err(MigrationError::Rejected {
                    step: step.to_string(),
                    statement: statement.to_string(),
                    source: error,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MigrationError::Unreachable {
                    url: self.client.base().to_string(),
                    budget: self.budget,
                    last: error,
                });
            }
            tracing::debug!(step, error = %error, "ClickHouse not ready yet, retrying");
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn applied_versions(&self, database: &str) -> Result<BTreeSet<u32>, MigrationError> {
        let query = format!(
            "SELECT DISTINCT version FROM {}.{} FORMAT TabSeparated",
            quote_identifier(database),
            quote_identifier(schema::MIGRATIONS_TABLE)
        );
        let answer = self.run("reading the applied migrations", &query).await?;
        String::from_utf8_lossy(&answer)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                line.parse::<u32>()
                    .map_err(|_| MigrationError::Versions(line.to_string()))
            })
            .collect()
    }
}
