//! Rendering of the DDL shared by every table: quoting, `ON CLUSTER`, engines (plain, Replicated
//! and Distributed), TTL, and the `CREATE TABLE` statement itself.
//!
//! Table shapes are data ([`TableDefinition`]) and rendering is done once here, so the single-node
//! and cluster variants of every table cannot drift apart.

use super::SchemaSettings;
use std::fmt::Write;
use std::time::Duration;

/// How ClickHouse fills a column that an INSERT does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// `DEFAULT expr`: used when the INSERT leaves the column out; rows stored before the
    /// column existed read it too.
    Default(&'static str),
    /// `MATERIALIZED expr`: always computed from the row's other columns and never inserted, so
    /// it cannot disagree with them.
    Materialized(&'static str),
}

/// One column: `name type [DEFAULT expr | MATERIALIZED expr] [CODEC(codec)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: &'static str,
    pub computed: Option<Computed>,
    pub codec: Option<&'static str>,
}

impl Column {
    /// A column compressed with `ZSTD(1)`, the codec contrib gives almost every column.
    pub const fn zstd(name: &'static str, ty: &'static str) -> Self {
        Self {
            name,
            ty,
            computed: None,
            codec: Some("ZSTD(1)"),
        }
    }

    pub const fn with_codec(name: &'static str, ty: &'static str, codec: &'static str) -> Self {
        Self {
            name,
            ty,
            computed: None,
            codec: Some(codec),
        }
    }

    pub const fn plain(name: &'static str, ty: &'static str) -> Self {
        Self {
            name,
            ty,
            computed: None,
            codec: None,
        }
    }

    pub const fn defaulted(self, expression: &'static str) -> Self {
        Self {
            computed: Some(Computed::Default(expression)),
            ..self
        }
    }

    pub const fn materialized(self, expression: &'static str) -> Self {
        Self {
            computed: Some(Computed::Materialized(expression)),
            ..self
        }
    }

    /// The column as it appears in `CREATE TABLE` and `ADD COLUMN`.
    pub fn render(&self) -> String {
        let mut out = format!("{} {}", self.name, self.ty);
        match self.computed {
            Some(Computed::Default(expression)) => {
                let _ = write!(out, " DEFAULT {expression}");
            }
            Some(Computed::Materialized(expression)) => {
                let _ = write!(out, " MATERIALIZED {expression}");
            }
            None => {}
        }
        if let Some(codec) = self.codec {
            let _ = write!(out, " CODEC({codec})");
        }
        out
    }
}

/// A data-skipping index: `INDEX name expression TYPE kind GRANULARITY n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub expression: &'static str,
    pub kind: &'static str,
    pub granularity: u32,
}

impl Index {
    pub const fn new(
        name: &'static str,
        expression: &'static str,
        kind: &'static str,
        granularity: u32,
    ) -> Self {
        Self {
            name,
            expression,
            kind,
            granularity,
        }
    }

    /// Bloom filters on a map's keys and values, the pair contrib puts on every attribute map.
    pub fn map_pair(
        key_index: &'static str,
        value_index: &'static str,
        keys: &'static str,
        values: &'static str,
    ) -> [Index; 2] {
        [
            Index::new(key_index, keys, "bloom_filter(0.01)", 1),
            Index::new(value_index, values, "bloom_filter(0.01)", 1),
        ]
    }

    /// `name expression TYPE kind GRANULARITY n`, as `ADD INDEX` takes it.
    pub fn definition(&self) -> String {
        format!(
            "{} {} TYPE {} GRANULARITY {}",
            self.name, self.expression, self.kind, self.granularity
        )
    }
}

/// A MergeTree-family table: columns, indexes and keys.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
    pub partition_by: &'static str,
    pub primary_key: Option<&'static str>,
    pub order_by: &'static str,
    /// The `DateTime` expression the TTL counts from.
    pub ttl_from: &'static str,
}

/// `` `name` `` with backslashes and backticks escaped, so configured names are safe in SQL.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// `'text'` with backslashes and single quotes escaped.
pub fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The statements for one schema, bound to the settings they depend on.
pub struct Ddl<'a> {
    settings: &'a SchemaSettings,
}

/// How many recent inserts per table a plain MergeTree remembers, so a retried insert (same
/// `insert_deduplication_token`) is stored once. It covers every retry the exporter makes of one
/// payload while other payloads are inserted in between.
pub const DEDUPLICATION_WINDOW_SETTING: &str = "non_replicated_deduplication_window = 1000";

impl<'a> Ddl<'a> {
    pub fn new(settings: &'a SchemaSettings) -> Self {
        Self { settings }
    }

    pub fn settings(&self) -> &SchemaSettings {
        self.settings
    }

    /// `` ON CLUSTER `name` `` in cluster mode, empty otherwise.
    pub fn on_cluster(&self) -> String {
        match &self.settings.cluster {
            Some(cluster) => format!(" ON CLUSTER {}", quote_identifier(cluster)),
            None => String::new(),
        }
    }

    /// `` `database`.`table` ``.
    pub fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.settings.database),
            quote_identifier(table)
        )
    }

    /// The table rows are physically stored in: `<table>_local` behind a Distributed table in
    /// cluster mode, the table itself otherwise.
    pub fn storage_table(&self, table: &str) -> String {
        if self.settings.cluster.is_some() {
            format!("{table}_local")
        } else {
            table.to_owned()
        }
    }

    pub fn create_database(&self) -> Option<String> {
        (self.settings.database != "default").then(|| {
            format!(
                "CREATE DATABASE IF NOT EXISTS {}{}",
                quote_identifier(&self.settings.database),
                self.on_cluster()
            )
        })
    }

    /// `CREATE TABLE` for `table`; in cluster mode the Replicated `<table>_local` and the
    /// Distributed `<table>` in front of it.
    pub fn create_table(&self, table: &str, definition: &TableDefinition) -> Vec<String> {
        let storage = self.storage_table(table);
        let mut statements = vec![self.create_storage_table(&storage, definition)];
        if let Some(cluster) = &self.settings.cluster {
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {}{} AS {} ENGINE = Distributed({}, {}, {}, rand())",
                self.qualified(table),
                self.on_cluster(),
                self.qualified(&storage),
                quote_string(cluster),
                quote_string(&self.settings.database),
                quote_string(&storage),
            ));
        }
        statements
    }

    fn create_storage_table(&self, storage: &str, definition: &TableDefinition) -> String {
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {}{} (\n",
            self.qualified(storage),
            self.on_cluster()
        );
        let mut first = true;
        for column in &definition.columns {
            if !first {
                sql.push_str(",\n");
            }
            first = false;
            sql.push_str("    ");
            sql.push_str(&column.render());
        }
        for index in &definition.indexes {
            let _ = write!(sql, ",\n    INDEX {}", index.definition());
        }
        let _ = write!(
            sql,
            "\n) ENGINE = {}\nPARTITION BY {}\n",
            self.engine(storage),
            definition.partition_by
        );
        if let Some(primary_key) = definition.primary_key {
            let _ = writeln!(sql, "PRIMARY KEY {primary_key}");
        }
        let _ = writeln!(sql, "ORDER BY {}", definition.order_by);
        if let Some(ttl) = ttl_clause(self.settings.ttl, definition.ttl_from) {
            let _ = writeln!(sql, "{ttl}");
        }
        sql.push_str("SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1");
        if self.needs_deduplication_window() {
            let _ = write!(sql, ", {DEDUPLICATION_WINDOW_SETTING}");
        }
        sql
    }

    /// Whether the data tables need `non_replicated_deduplication_window` for the exporter's
    /// per-insert `insert_deduplication_token` to work: true for a plain (non-replicated)
    /// MergeTree-family engine. Replicated tables deduplicate by default; other engines (Null,
    /// Memory) do not deduplicate at all.
    pub fn needs_deduplication_window(&self) -> bool {
        let engine = &self.settings.engine.name;
        self.settings.cluster.is_none()
            && engine.ends_with("MergeTree")
            && !engine.starts_with("Replicated")
    }

    /// The configured engine. In cluster mode a MergeTree-family engine becomes its Replicated
    /// variant with a ZooKeeper path per shard and table; an engine already named `Replicated…`
    /// is taken as configured (its params then carry the path), and an engine outside the
    /// MergeTree family cannot replicate and is used unchanged.
    pub fn engine(&self, storage: &str) -> String {
        let engine = &self.settings.engine;
        let replicate = self.settings.cluster.is_some()
            && engine.name.ends_with("MergeTree")
            && !engine.name.starts_with("Replicated");
        if !replicate {
            return format!("{}({})", engine.name, engine.params);
        }
        let path = format!(
            "/clickhouse/tables/{{shard}}/{}/{}",
            self.settings.database, storage
        );
        let mut arguments = format!("{}, '{{replica}}'", quote_string(&path));
        if !engine.params.trim().is_empty() {
            let _ = write!(arguments, ", {}", engine.params);
        }
        format!("Replicated{}({arguments})", engine.name)
    }
}

/// `TTL <from> + toInterval<Unit>(n)` with the largest unit that divides the duration, as contrib
/// picks it. `None` (or zero) keeps rows forever; a duration is counted in whole seconds and at
/// least one, since ClickHouse intervals are integers.
pub fn ttl_clause(ttl: Option<Duration>, from: &str) -> Option<String> {
    let ttl = ttl.filter(|ttl| !ttl.is_zero())?;
    let seconds = ttl.as_secs().max(1);
    let (unit, count) = [("Day", 86_400), ("Hour", 3_600), ("Minute", 60)]
        .into_iter()
        .find(|(_, unit_seconds)| seconds % unit_seconds == 0)
        .map_or(("Second", seconds), |(unit, unit_seconds)| {
            (unit, seconds / unit_seconds)
        });
    Some(format!("TTL {from} + toInterval{unit}({count})"))
}
