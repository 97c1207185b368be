//! RowBinary encoding: one body per table for one payload.
//!
//! Each body is plain RowBinary (no names-and-types header) with the columns in the order of
//! [`EncodedTable::columns`], ready for `INSERT INTO <db>.<table> (<columns>) FORMAT RowBinary`.
//! The encoders write straight from the OTLP structures into one buffer per table, with no row
//! structs in between, and encode what rows share (resource, scope, metric fields) once.
//!
//! Metrics converted from Prometheus series are encoded twice: into the OpenTelemetry-shaped
//! metrics tables like every metric, and as Prometheus samples (see [`prometheus`]).

mod attributes;
mod extras;
mod logs;
mod metrics;
mod prometheus;
mod traces;
mod writer;

#[cfg(test)]
mod tests;

pub use extras::{
    DEFAULT_SPAN_SOURCE, L7_PROTOCOL_ATTRIBUTE, PROCESS_ID_ATTRIBUTE, PROCESS_NAME_ATTRIBUTE,
    REQUEST_ID_ATTRIBUTE, REQUEST_ID_HEADER_ATTRIBUTE, SPAN_SOURCE_ATTRIBUTE,
    TCP_SEQ_REQUEST_ATTRIBUTE, TCP_SEQ_RESPONSE_ATTRIBUTE,
};
pub use prometheus::STALE_NAN_BITS;
pub use writer::RowBinaryWriter;

use cormorant_core::pdata::Payload;

/// The tables a payload's rows go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Traces,
    Logs,
    MetricsGauge,
    MetricsSum,
    MetricsHistogram,
    MetricsExponentialHistogram,
    MetricsSummary,
    PrometheusSamples,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Traces,
        Table::Logs,
        Table::MetricsGauge,
        Table::MetricsSum,
        Table::MetricsHistogram,
        Table::MetricsExponentialHistogram,
        Table::MetricsSummary,
        Table::PrometheusSamples,
    ];

    /// The columns this table's rows are encoded with, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Traces => traces::COLUMNS,
            Table::Logs => logs::COLUMNS,
            Table::MetricsGauge => metrics::GAUGE_COLUMNS,
            Table::MetricsSum => metrics::SUM_COLUMNS,
            Table::MetricsHistogram => metrics::HISTOGRAM_COLUMNS,
            Table::MetricsExponentialHistogram => metrics::EXPONENTIAL_HISTOGRAM_COLUMNS,
            Table::MetricsSummary => metrics::SUMMARY_COLUMNS,
            Table::PrometheusSamples => prometheus::COLUMNS,
        }
    }
}

/// The rows of one payload for one table, ready to send as `INSERT INTO t (columns) FORMAT RowBinary`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTable {
    pub table: Table,
    /// Column names in the order the rows are encoded.
    pub columns: &'static [&'static str],
    pub rows: usize,
    /// The payload items (spans, log records, data points) the rows were made from: the rows
    /// themselves, except for Prometheus samples, several of which come from one histogram or
    /// summary point. A rejected table fails this many items.
    pub items: usize,
    pub row_binary: Vec<u8>,
}

/// Encodes `payload` into one RowBinary body per table that receives rows; tables without rows
/// are left out, so an empty payload gives an empty list.
pub fn encode(payload: &Payload) -> Vec<EncodedTable> {
    match payload {
        Payload::Traces(resource_spans) => traces::encode(resource_spans).into_iter().collect(),
        Payload::Logs(resource_logs) => logs::encode(resource_logs).into_iter().collect(),
        Payload::Metrics(resource_metrics) => {
            let mut tables = metrics::encode(resource_metrics);
            tables.extend(prometheus::encode(resource_metrics));
            tables
        }
    }
}
