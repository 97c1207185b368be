//! The five metrics tables (`metrics_*_table.sql`): shared resource, scope and metric columns,
//! then each type's own.

use super::ddl::{Column, Index, TableDefinition};

const MAP: &str = "Map(LowCardinality(String), String)";
const EXEMPLARS: &str = "Nested(FilteredAttributes Map(LowCardinality(String), String), \
                         TimeUnix DateTime64(9), Value Float64, SpanId String, TraceId String)";

/// The columns every metrics table starts with.
const COMMON_COLUMNS: [Column; 14] = [
    Column::zstd("ResourceAttributes", MAP),
    Column::zstd("ResourceSchemaUrl", "String"),
    Column::zstd("ScopeName", "String"),
    Column::zstd("ScopeVersion", "String"),
    Column::zstd("ScopeAttributes", MAP),
    Column::zstd("ScopeDroppedAttrCount", "UInt32"),
    Column::zstd("ScopeSchemaUrl", "String"),
    Column::zstd("ServiceName", "LowCardinality(String)"),
    Column::zstd("MetricName", "String"),
    Column::zstd("MetricDescription", "String"),
    Column::zstd("MetricUnit", "String"),
    Column::zstd("Attributes", MAP),
    Column::with_codec("StartTimeUnix", "DateTime64(9)", "Delta, ZSTD(1)"),
    Column::with_codec("TimeUnix", "DateTime64(9)", "Delta, ZSTD(1)"),
];

fn definition(own_columns: &[Column]) -> TableDefinition {
    let mut indexes = Vec::with_capacity(6);
    for (key_index, value_index, keys, values) in [
        (
            "idx_res_attr_key",
            "idx_res_attr_value",
            "mapKeys(ResourceAttributes)",
            "mapValues(ResourceAttributes)",
        ),
        (
            "idx_scope_attr_key",
            "idx_scope_attr_value",
            "mapKeys(ScopeAttributes)",
            "mapValues(ScopeAttributes)",
        ),
        (
            "idx_attr_key",
            "idx_attr_value",
            "mapKeys(Attributes)",
            "mapValues(Attributes)",
        ),
    ] {
        indexes.extend(Index::map_pair(key_index, value_index, keys, values));
    }
    TableDefinition {
        columns: COMMON_COLUMNS.iter().chain(own_columns).copied().collect(),
        indexes,
        partition_by: "toDate(TimeUnix)",
        primary_key: None,
        order_by: "(ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))",
        ttl_from: "toDateTime(TimeUnix)",
    }
}

const FLAGS: Column = Column::zstd("Flags", "UInt32");
const EXEMPLARS_COLUMN: Column = Column::zstd("Exemplars", EXEMPLARS);
const COUNT: Column = Column::with_codec("Count", "UInt64", "Delta, ZSTD(1)");
const SUM: Column = Column::zstd("Sum", "Float64");
const MIN: Column = Column::zstd("Min", "Float64");
const MAX: Column = Column::zstd("Max", "Float64");
const TEMPORALITY: Column = Column::zstd("AggregationTemporality", "Int32");

pub fn gauge() -> TableDefinition {
    definition(&[Column::zstd("Value", "Float64"), FLAGS, EXEMPLARS_COLUMN])
}

pub fn sum() -> TableDefinition {
    definition(&[
        Column::zstd("Value", "Float64"),
        FLAGS,
        EXEMPLARS_COLUMN,
        TEMPORALITY,
        Column::with_codec("IsMonotonic", "Boolean", "Delta, ZSTD(1)"),
    ])
}

pub fn histogram() -> TableDefinition {
    definition(&[
        COUNT,
        SUM,
        Column::zstd("BucketCounts", "Array(UInt64)"),
        Column::zstd("ExplicitBounds", "Array(Float64)"),
        EXEMPLARS_COLUMN,
        FLAGS,
        MIN,
        MAX,
        TEMPORALITY,
    ])
}

pub fn exponential_histogram() -> TableDefinition {
    definition(&[
        COUNT,
        SUM,
        Column::zstd("Scale", "Int32"),
        Column::zstd("ZeroCount", "UInt64"),
        Column::zstd("PositiveOffset", "Int32"),
        Column::zstd("PositiveBucketCounts", "Array(UInt64)"),
        Column::zstd("NegativeOffset", "Int32"),
        Column::zstd("NegativeBucketCounts", "Array(UInt64)"),
        EXEMPLARS_COLUMN,
        FLAGS,
        MIN,
        MAX,
        TEMPORALITY,
    ])
}

pub fn summary() -> TableDefinition {
    definition(&[
        COUNT,
        SUM,
        Column::zstd(
            "ValueAtQuantiles",
            "Nested(Quantile Float64, Value Float64)",
        ),
        FLAGS,
    ])
}
